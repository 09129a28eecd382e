/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/import.c: `molt import ROOTFS.tar NAME` — the tar (decompressed when it came
 * compressed) becomes the image's one layer, gzip-compressed; the config records it as
 * "molt import". Also the decompression helpers load and save share.
 *
 * gzip comes from libarchive's "raw" writer with the gzip filter and its timestamp
 * turned off, so the same tar always gives the same layer digest.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "layers_int.h"

static void archive_readp(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}
static void archive_writep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

enum blob_compression blob_compression_detect(const void *head, size_t n)
{
	const unsigned char *h = head;
	if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
		return BLOB_GZIP;
	if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd)
		return BLOB_ZSTD;
	return BLOB_PLAIN;
}

const char *blob_compression_media_type(enum blob_compression c)
{
	switch (c) {
	case BLOB_GZIP:
		return MEDIA_OCI_LAYER_GZIP;
	case BLOB_ZSTD:
		return MEDIA_OCI_LAYER_ZSTD;
	case BLOB_PLAIN:
		break;
	}
	return MEDIA_OCI_LAYER;
}

static int archive_fail(struct archive *a, struct molt_error **err, const char *what)
{
	const char *msg = archive_error_string(a);
	int e = archive_errno(a);
	return molt_error_setx(err, e > 0 ? e : EINVAL, "%s: %s", what, msg ? msg : "unreadable");
}

int blob_decompress(int fd, int (*cb)(const void *buf, size_t n, void *userdata), void *userdata,
		    struct molt_error **err)
{
	_cleanup_(archive_readp) struct archive *a = archive_read_new();
	struct archive_entry *entry;
	if (decompress_refuse_foreign(fd, "layer blob", err) < 0 ||
	    decompress_enable(a, err) < 0)
		return molt_error_pass(err);
	if (archive_read_support_format_raw(a) != ARCHIVE_OK ||
	    archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK)
		return archive_fail(a, err, "decompress");
	int r = archive_read_next_header(a, &entry);
	if (r == ARCHIVE_EOF)
		return 0; /* an empty file */
	if (r != ARCHIVE_OK)
		return archive_fail(a, err, "decompress");
	char buf[65536];
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
		if (n < 0)
			return archive_fail(a, err, "decompress");
		if (n == 0)
			return 0;
		int cr = cb(buf, (size_t)n, userdata);
		if (cr < 0)
			return cr;
	}
}

int tar_validate(int fd, const char *what, struct molt_error **err)
{
	_cleanup_(archive_readp) struct archive *a = archive_read_new();
	struct archive_entry *entry;
	if (decompress_refuse_foreign(fd, what, err) < 0 || decompress_enable(a, err) < 0)
		return molt_error_pass(err);
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK)
		return archive_fail(a, err, what);
	size_t n = 0;
	for (;; n++) {
		int r = archive_read_next_header(a, &entry);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return archive_fail(a, err, what);
		if (archive_read_data_skip(a) != ARCHIVE_OK)
			return archive_fail(a, err, what);
	}
	if (n == 0)
		return molt_error_setx(err, EINVAL, "%s: not a tar archive (no entries)", what);
	return 0;
}

struct gz_out {
	int fd;
	struct digester *digest; /* of the compressed stream */
	int error;
};

static la_ssize_t gz_write(struct archive *a, void *ud, const void *buf, size_t n)
{
	struct gz_out *o = ud;
	int r = write_all(o->fd, buf, n);
	if (r < 0) {
		o->error = -r;
		archive_set_error(a, -r, "write layer");
		return -1;
	}
	digester_update(o->digest, buf, n);
	return (la_ssize_t)n;
}

struct gz_in {
	struct archive *w;
	struct digester *diff; /* of the uncompressed tar */
};

static int gz_feed(const void *buf, size_t n, void *ud)
{
	struct gz_in *in = ud;
	digester_update(in->diff, buf, n);
	if (archive_write_data(in->w, buf, n) != (la_ssize_t)n)
		return -EIO;
	return 0;
}

/* Compresses the (decompressed) content of `in` into out_fd; both digests on the way. */
static int gzip_layer(int in, int out_fd, char diff_id[DIGEST_STR_LEN],
		      struct image_descriptor *ret_layer, struct molt_error **err)
{
	struct gz_out o = {.fd = out_fd, .digest = digester_new()};
	struct gz_in gi = {.diff = digester_new()};
	_cleanup_(archive_writep) struct archive *w = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "layer");
	archive_entry_set_filetype(e, AE_IFREG);
	int r = 0;
	gi.w = w;
	/* Padding the last block would put zeros after the gzip stream. */
	if (archive_write_add_filter_gzip(w) != ARCHIVE_OK ||
	    archive_write_set_filter_option(w, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
	    archive_write_set_format_raw(w) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w, 1) != ARCHIVE_OK ||
	    archive_write_open2(w, &o, NULL, gz_write, NULL, NULL) != ARCHIVE_OK ||
	    archive_write_header(w, e) != ARCHIVE_OK)
		r = archive_fail(w, err, "compress layer");
	if (r == 0 && (r = blob_decompress(in, gz_feed, &gi, err)) == -EIO)
		r = archive_fail(w, err, "compress layer");
	if (r == 0 && archive_write_close(w) != ARCHIVE_OK)
		r = archive_fail(w, err, "compress layer");
	archive_entry_free(e);
	if (r == 0) {
		digester_final(gi.diff, diff_id);
		ret_layer->size = (int64_t)digester_size(o.digest);
		digester_final(o.digest, ret_layer->digest);
		ret_layer->media_type = xstrdup(MEDIA_OCI_LAYER_GZIP);
	}
	digester_free(o.digest);
	digester_free(gi.diff);
	return r;
}

static void import_config(struct image_config *c, const char *diff_id)
{
	int64_t now = image_build_time();
	_cleanup_free_ char *created = image_time_format(now);
	c->architecture = xstrdup(image_host_arch());
	c->os = xstrdup("linux");
	c->created = xstrdup(created);
	strv_push(&c->diff_ids, diff_id);
	image_config_add_history(c, created, "molt import", "imported from a rootfs tar", false);
}

int layer_store_import(struct layer_store *s, const char *tar_path, const char *name,
		       char ret_manifest[DIGEST_STR_LEN], struct molt_error **err)
{
	_cleanup_free_ char *norm = NULL;
	int r = name ? image_ref_normalize(name, &norm, err) : 0;
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(tar_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return molt_error_set(err, errno, "import: open '%s'", tar_path);
	_cleanup_free_ char *what = xasprintf("import: '%s'", tar_path);
	r = tar_validate(fd, what, err);
	if (r < 0)
		return r;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return molt_error_set(err, errno, "import: seek '%s'", tar_path);
	_cleanup_free_ char *tmp_path = NULL;
	_cleanup_close_ int out = -1;
	r = layer_store_tmpfile(s, "import", &tmp_path, &out, err);
	if (r < 0)
		return molt_error_wrap(err, "import '%s'", tar_path);
	char diff_id[DIGEST_STR_LEN];
	struct image_descriptor layer = {0};
	r = gzip_layer(fd, out, diff_id, &layer, err);
	if (r == 0 && fsync(out) < 0)
		r = molt_error_set(err, errno, "import: sync '%s'", tmp_path);
	if (r < 0) {
		unlink(tmp_path);
		image_descriptor_done(&layer);
		return molt_error_wrap(err, "import '%s'", tar_path);
	}
	r = layer_store_blob_adopt(s, tmp_path, layer.digest, err);
	struct image_config c = {0};
	import_config(&c, diff_id);
	char *const names[] = {norm, NULL};
	if (r == 0)
		r = layer_store_image_commit(s, &c, &layer, 1, norm ? names : NULL, ret_manifest, err);
	image_config_done(&c);
	image_descriptor_done(&layer);
	return r;
}
