/* SPDX-License-Identifier: Apache-2.0 */
/*
 * molt save -o FILE [--format docker|oci] IMAGE: saved under the name given (when
 * IMAGE is a name), else under all the image's names (an ID given: as docker does,
 * the names are kept so `load` restores them). With --format oci, an -o that is an
 * existing (empty) directory or ends in '/' gets an OCI layout directory, not a tar.
 * OCI layers leave compressed as --compression gzip|zstd|uncompressed [--compression-level
 * N] says (gzip by default; layers/convert.c converts and remembers); a docker tar's
 * are uncompressed unless --compression is given.
 */
#include <string.h>
#include <sys/stat.h>

#include "../../layers/layers.h"
#include "cli.h"

static char **save_names(struct layer_store *s, const char *what, const struct image *img)
{
	struct image_ref ref;
	char digest[DIGEST_STR_LEN];
	char **names = xcalloc(1, sizeof(char *));
	if (image_ref_parse(what, &ref, NULL) == 0) {
		_cleanup_free_ char *full = image_ref_string(&ref);
		if (!ref.digest && layer_store_tag_get(s, full, digest, NULL) == 0 &&
		    !strcmp(digest, img->manifest_digest))
			strv_push(&names, full);
		image_ref_done(&ref);
		if (names[0])
			return names;
	}
	strv_free(names);
	return strv_copy(img->names);
}

int cmd_save(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	const char *out = NULL, *what = NULL, *comp = NULL, *level = NULL;
	enum image_save_format fmt = IMAGE_SAVE_DOCKER;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(a, "--compression") && i + 1 < argc) {
			comp = argv[++i];
		} else if (!strcmp(a, "--compression-level") && i + 1 < argc) {
			level = argv[++i];
		} else if (!strcmp(a, "--format") && i + 1 < argc) {
			const char *f = argv[++i];
			if (!strcmp(f, "docker"))
				fmt = IMAGE_SAVE_DOCKER;
			else if (!strcmp(f, "oci"))
				fmt = IMAGE_SAVE_OCI;
			else
				return cli_usage_error(err, argv[0], "unknown format '%s' (docker or oci)", f);
		} else if (a[0] == '-') {
			return cli_usage_error(err, argv[0], "unknown option '%s'", a);
		} else if (!what) {
			what = a;
		} else {
			return cli_usage_error(err, argv[0], "only one IMAGE can be saved");
		}
	}
	if (!out || !what)
		return cli_usage_error(err, argv[0], "-o FILE and IMAGE are required");
	struct export_compression ec;
	_cleanup_error_ struct molt_error *ce = NULL;
	if (export_compression_parse(comp, level, false, &ec, &ce) < 0)
		return cli_usage_error(err, argv[0], "%s", ce->msg);
	/* docker: uncompressed "<diff ID>.tar" layers unless a compression is asked for */
	if ((comp || level) && fmt == IMAGE_SAVE_DOCKER)
		fmt = IMAGE_SAVE_DOCKER_BLOBS;
	_cleanup_store_ struct layer_store *s = NULL;
	_cleanup_image_ struct image *img = NULL;
	int r = layer_store_open(cli_store_root(g), &s, err);
	if (r == 0)
		r = layer_store_resolve(s, what, &img, err);
	if (r < 0)
		return r;
	_cleanup_strv_ char **names = save_names(s, what, img);
	struct stat st;
	if (fmt == IMAGE_SAVE_OCI && (str_endswith(out, "/") || (stat(out, &st) == 0 && S_ISDIR(st.st_mode))))
		fmt = IMAGE_SAVE_OCI_LAYOUT;
	if (fmt == IMAGE_SAVE_DOCKER)
		return layer_store_save(s, img, names, fmt, out, err);
	_cleanup_image_ struct image *exp = NULL;
	r = layer_store_image_export(s, img, &ec, &exp, err);
	if (r < 0)
		return r;
	return layer_store_save(s, exp, names, fmt, out, err);
}
