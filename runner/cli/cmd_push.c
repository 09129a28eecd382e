/* SPDX-License-Identifier: Apache-2.0 */
/* molt push [--tls-verify=false] [-q] IMAGE [REF] */
#include <string.h>

#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
#include "cli.h"

const struct cli_option cmd_push_options[] = {
	CLI_OPT_TLS_VERIFY,
	CLI_OPT_QUIET,
	{0, NULL, NULL, false, NULL},
};

int cmd_push(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	struct cli_registry_args a;
	int r = cli_registry_parse(cmd_push_options, 2, argc, argv, &a, err);
	if (r < 0)
		return r;
	struct registry_opts o = a.o;
	const char *image = a.args[0], *ref = a.args[1];
	if (!image)
		return cli_usage_error(err, argv[0], "an image is required");
	_cleanup_store_ struct layer_store *s = NULL;
	_cleanup_image_ struct image *img = NULL;
	r = cli_store_image(g, true, image, &s, &img, err);
	if (r < 0)
		return r;
	/* Without REF the image goes where its name says (an ID has no such place). */
	if (!ref && digest_is_valid(image))
		return cli_usage_error(err, argv[0], "pushing an image ID needs a REF");
	char digest[DIGEST_STR_LEN];
	r = registry_push(s, img, ref ? ref : image, &o, digest, err);
	if (r < 0)
		return r;
	if (!o.quiet)
		fprintf(stderr, "Writing manifest to image destination\n");
	printf("%s\n", digest);
	return 0;
}
