/* SPDX-License-Identifier: Apache-2.0 */
/* molt push [--tls-verify=false] [-q] IMAGE [REF] */
#include <string.h>

#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
#include "cli.h"

int cmd_push(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	struct registry_opts o = {.tls_verify = true};
	const char *image = NULL, *ref = NULL;
	for (int i = 1; i < argc; i++) {
		int m = cli_registry_opt(argv[0], argc, argv, &i, &o, err);
		if (m < 0)
			return m;
		if (m)
			continue;
		if (argv[i][0] == '-' || ref)
			return cli_usage_error(err, argv[0], "unexpected argument '%s'", argv[i]);
		if (image)
			ref = argv[i];
		else
			image = argv[i];
	}
	if (!image)
		return cli_usage_error(err, argv[0], "an image is required");
	if (o.platform)
		return cli_usage_error(err, argv[0], "--platform is for pull and build");
	if (molt_log_level == MOLT_LOG_QUIET)
		o.quiet = true;
	int r = sandbox_enter_build_namespace(NULL, err);
	if (r < 0)
		return r;
	_cleanup_store_ struct layer_store *s = NULL;
	_cleanup_image_ struct image *img = NULL;
	r = layer_store_open(cli_store_root(g), &s, err);
	if (r == 0)
		r = layer_store_resolve(s, image, &img, err);
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
