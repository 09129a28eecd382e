/* SPDX-License-Identifier: Apache-2.0 */
/* molt import ROOTFS.tar [NAME[:TAG]]: a one-layer image from a rootfs tar. */
#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
#include "cli.h"

int cmd_import(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	if (argc < 2 || argc > 3)
		return cli_usage_error(err, argv[0], "expected ROOTFS.tar and NAME[:TAG]");
	const char *name = argc == 3 ? argv[2] : NULL;
	_cleanup_free_ char *norm = NULL;
	int r = name ? image_ref_normalize(name, &norm, err) : 0;
	if (r < 0)
		return r;
	_cleanup_store_ struct layer_store *s = NULL;
	char manifest[DIGEST_STR_LEN];
	r = cli_store_open(g, true, &s, err);
	if (r == 0)
		r = layer_store_import(s, argv[1], norm, manifest, err);
	if (r < 0)
		return r;
	_cleanup_image_ struct image *img = NULL;
	r = layer_store_image_get(s, manifest, &img, err);
	if (r < 0)
		return r;
	printf("%s\n", img->id);
	return 0;
}
