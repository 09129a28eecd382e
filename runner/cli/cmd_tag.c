/* SPDX-License-Identifier: Apache-2.0 */
/* molt tag SRC DST: another name for an image already in the store. */
#include "../../layers/layers.h"
#include "cli.h"

int cmd_tag(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	if (argc != 3)
		return cli_usage_error(err, argv[0], "expected SRC and DST, got %d argument%s",
				       argc - 1, argc == 2 ? "" : "s");
	_cleanup_free_ char *dst = NULL;
	int r = image_ref_normalize(argv[2], &dst, err);
	if (r < 0)
		return r;
	_cleanup_store_ struct layer_store *s = NULL;
	_cleanup_image_ struct image *img = NULL;
	r = cli_store_image(g, false, argv[1], &s, &img, err);
	if (r == 0)
		r = layer_store_tag_set(s, dst, img->manifest_digest, err);
	return r < 0 ? molt_error_wrap(err, "tag") : 0;
}
