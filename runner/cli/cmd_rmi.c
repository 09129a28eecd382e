/* SPDX-License-Identifier: Apache-2.0 */
/*
 * molt rmi IMAGE...: a name removes that name (the image goes when it was the last);
 * an ID or digest removes the image with all its names. Then blobs nothing uses any
 * more are removed, unless another molt process is using the store (prune does it
 * later). Every argument is tried; the first error is returned.
 */
#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
#include "cli.h"

static int remove_one(struct layer_store *s, const char *what, struct molt_error **err)
{
	struct image_ref ref;
	char digest[DIGEST_STR_LEN];
	if (image_ref_parse(what, &ref, NULL) == 0) {
		bool plain_name = ref.digest == NULL;
		image_ref_done(&ref);
		if (plain_name && layer_store_tag_get(s, what, digest, NULL) == 0) {
			_cleanup_free_ char *norm = NULL;
			int r = image_ref_normalize(what, &norm, err);
			if (r == 0)
				r = layer_store_tag_remove(s, what, err);
			if (r == 0)
				printf("Untagged: %s\n", norm);
			return r;
		}
	}
	_cleanup_image_ struct image *img = NULL;
	int r = layer_store_resolve(s, what, &img, err);
	if (r == 0)
		r = layer_store_image_remove(s, img->manifest_digest, err);
	if (r < 0)
		return r;
	for (size_t i = 0; img->names && img->names[i]; i++)
		printf("Untagged: %s\n", img->names[i]);
	printf("Deleted: %s\n", img->id);
	return 0;
}

int cmd_rmi(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	_cleanup_store_ struct layer_store *s = NULL;
	int r = cli_store_for_images(argc, argv, g, true, &s, err);
	if (r < 0)
		return r;
	int first = 0;
	for (int i = 1; i < argc; i++) {
		struct molt_error *e = NULL;
		r = remove_one(s, argv[i], &e);
		if (r < 0 && first == 0) {
			first = r;
			*err = e;
		} else if (r < 0) {
			molt_warn("%s", e->msg);
			molt_error_free(e);
		}
	}
	size_t removed = 0;
	_cleanup_error_ struct molt_error *gc_err = NULL;
	if (layer_store_gc(s, false, &removed, &gc_err) < 0)
		molt_warn("rmi: removing unused blobs failed (run 'molt prune'): %s", gc_err->msg);
	return first;
}
