/* SPDX-License-Identifier: Apache-2.0 */
/*
 * molt save [-o FILE|-] [--format docker|oci] IMAGE: saved under the name given (when
 * IMAGE is a name), else under all the image's names (an ID given: as docker does,
 * the names are kept so `load` restores them). With --format oci, an -o that is an
 * existing (empty) directory or ends in '/' gets an OCI layout directory, not a tar.
 * Without -o, or with -o -, the tar goes to stdout (as docker save), never a terminal.
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

const struct cli_option cmd_save_options[] = {
	{'o', "output", "FILE|-", false, "where to write (default, and -: stdout, not a terminal)"},
	{0, "format", "FMT", false, "docker (default) or oci"},
	{0, "compression", "C", false,
	 "layers as gzip (oci's default), zstd or uncompressed\n"
	 "(docker: uncompressed unless given)"},
	{0, "compression-level", "N", false, "gzip 1-9 (6), zstd 1-19 (3)"},
	{0, NULL, NULL, false, NULL},
};

/* The writer renames a finished file into place: it writes into the store's scratch
 * directory, and the file is copied to stdout. */
static int save_to_stdout(struct layer_store *s, const struct image *img, char *const *names,
			  enum image_save_format fmt, struct molt_error **err)
{
	const char *tmp = NULL;
	int r = layer_store_tmpdir(s, &tmp, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = xasprintf("%s/save-stdout.tar", tmp);
	r = layer_store_save(s, img, names, fmt, path, err);
	if (r == 0)
		r = stream_file_to_stdout(path, err);
	unlink(path);
	return r;
}

int cmd_save(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	enum image_save_format fmt = IMAGE_SAVE_DOCKER;
	struct cli_args a;
	if (cli_parse_args(argv[0], cmd_save_options, argc, argv, NULL, &a, err) < 0)
		return molt_error_pass(err);
	const char *out = cli_args_get(&a, "output", NULL);
	const char *f = cli_args_get(&a, "format", NULL);
	const char *comp = cli_args_get(&a, "compression", NULL);
	const char *level = cli_args_get(&a, "compression-level", NULL);
	const char *what = a.n_operands ? a.operands[0] : NULL;
	size_t n_operands = a.n_operands;
	cli_args_done(&a);
	if (f && !strcmp(f, "oci"))
		fmt = IMAGE_SAVE_OCI;
	else if (f && strcmp(f, "docker"))
		return cli_usage_error(err, argv[0], "unknown format '%s' (docker or oci)", f);
	if (n_operands > 1)
		return cli_usage_error(err, argv[0], "only one IMAGE can be saved");
	if (!what)
		return cli_usage_error(err, argv[0], "an IMAGE is required");
	bool to_stdout = !out || !strcmp(out, "-");
	if (to_stdout && stream_refuse_tty(STDOUT_FILENO, "write an image tar to", err) < 0)
		return molt_error_wrap(err, "save: use -o FILE or redirect stdout");
	struct export_compression ec;
	_cleanup_error_ struct molt_error *ce = NULL;
	if (export_compression_parse(comp, level, false, &ec, &ce) < 0)
		return cli_usage_error(err, argv[0], "%s", ce->msg);
	/* docker: uncompressed "<diff ID>.tar" layers unless a compression is asked for */
	if ((comp || level) && fmt == IMAGE_SAVE_DOCKER)
		fmt = IMAGE_SAVE_DOCKER_BLOBS;
	_cleanup_store_ struct layer_store *s = NULL;
	_cleanup_image_ struct image *img = NULL;
	int r = cli_store_image(g, false, what, &s, &img, err);
	if (r < 0)
		return r;
	_cleanup_strv_ char **names = save_names(s, what, img);
	struct stat st;
	if (!to_stdout && fmt == IMAGE_SAVE_OCI &&
	    (str_endswith(out, "/") || (stat(out, &st) == 0 && S_ISDIR(st.st_mode))))
		fmt = IMAGE_SAVE_OCI_LAYOUT;
	/* A docker tar keeps the store's uncompressed layers; the others leave as ec says. */
	_cleanup_image_ struct image *exp = NULL;
	if (fmt != IMAGE_SAVE_DOCKER && (r = layer_store_image_export(s, img, &ec, &exp, err)) < 0)
		return r;
	const struct image *save = exp ? exp : img;
	if (to_stdout)
		return save_to_stdout(s, save, names, fmt, err);
	return layer_store_save(s, save, names, fmt, out, err);
}
