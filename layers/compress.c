/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/compress.c: the byte stream under the layer tar writer. Every tar byte is
 * hashed (diff ID), compressed with libarchive's gzip or zstd filter (driven through
 * its "raw" format, which passes one entry's data straight to the filters), and the
 * compressed bytes are hashed (blob digest) as they go to the fd: one pass, no
 * temporary copy.
 */
#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <string.h>

#include "layers.h"

struct layer_sink {
	int fd;
	EVP_MD_CTX *tar_md, *blob_md;
	struct archive *a; /* NULL when uncompressed */
	uint64_t tar_size, blob_size;
	int write_errno; /* a failed write(2) seen by the libarchive callback */
};

static int sink_out(struct layer_sink *s, const void *buf, size_t len)
{
	if (EVP_DigestUpdate(s->blob_md, buf, len) != 1)
		return -EIO;
	int r = write_all(s->fd, buf, len);
	if (r < 0)
		return r;
	s->blob_size += len;
	return 0;
}

static la_ssize_t sink_archive_write(struct archive *a, void *data, const void *buf, size_t len)
{
	struct layer_sink *s = data;
	int r = sink_out(s, buf, len);
	if (r < 0) {
		s->write_errno = -r;
		archive_set_error(a, -r, "write: %s", strerror(-r));
		return -1;
	}
	return (la_ssize_t)len;
}

static int sink_archive_error(struct layer_sink *s, const char *what, struct molt_error **err)
{
	if (s->write_errno)
		return molt_error_set(err, s->write_errno, "write layer blob");
	const char *m = s->a ? archive_error_string(s->a) : NULL;
	return molt_error_setx(err, EIO, "%s: %s", what, m ? m : "libarchive failed");
}

/* Sets up libarchive: raw format, one filter, no blocking, no gzip timestamp. */
static int sink_open_archive(struct layer_sink *s, enum layer_compression c, int level,
			     struct molt_error **err)
{
	s->a = archive_write_new();
	if (!s->a)
		return molt_error_setx(err, ENOMEM, "set up layer compression: out of memory");
	const char *filter = c == LAYER_ZSTD ? "zstd" : "gzip";
	int r = c == LAYER_ZSTD ? archive_write_add_filter_zstd(s->a)
				: archive_write_add_filter_gzip(s->a);
	/* ARCHIVE_WARN here means "an external program would be used": not acceptable. */
	if (r != ARCHIVE_OK)
		return sink_archive_error(s, "set up layer compression", err);
	char lvl[16];
	snprintf(lvl, sizeof(lvl), "%d", level > 0 ? level : (c == LAYER_ZSTD ? 3 : 6));
	if (archive_write_set_filter_option(s->a, filter, "compression-level", lvl) != ARCHIVE_OK)
		return sink_archive_error(s, "set compression level", err);
	/* A gzip header with the time of writing would make every build's digest differ. */
	if (c == LAYER_GZIP &&
	    archive_write_set_filter_option(s->a, "gzip", "timestamp", NULL) != ARCHIVE_OK)
		return sink_archive_error(s, "turn off the gzip timestamp", err);
	if (archive_write_set_format_raw(s->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(s->a, 0) != ARCHIVE_OK ||
	    archive_write_open2(s->a, s, NULL, sink_archive_write, NULL, NULL) != ARCHIVE_OK)
		return sink_archive_error(s, "set up layer compression", err);
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return molt_error_setx(err, ENOMEM, "set up layer compression: out of memory");
	archive_entry_set_pathname(e, "layer.tar");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	r = archive_write_header(s->a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return sink_archive_error(s, "set up layer compression", err);
	return 0;
}

void layer_sink_free(struct layer_sink *s)
{
	if (!s)
		return;
	if (s->a)
		archive_write_free(s->a);
	EVP_MD_CTX_free(s->tar_md);
	EVP_MD_CTX_free(s->blob_md);
	free(s);
}

int layer_sink_new(int outfd, enum layer_compression c, int level, struct layer_sink **ret,
		   struct molt_error **err)
{
	struct layer_sink *s = xcalloc(1, sizeof(*s));
	s->fd = outfd;
	s->tar_md = EVP_MD_CTX_new();
	s->blob_md = EVP_MD_CTX_new();
	if (!s->tar_md || !s->blob_md || EVP_DigestInit_ex(s->tar_md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(s->blob_md, EVP_sha256(), NULL) != 1) {
		layer_sink_free(s);
		return molt_error_setx(err, EIO, "set up sha256: libcrypto failed");
	}
	if (c != LAYER_UNCOMPRESSED) {
		int r = sink_open_archive(s, c, level, err);
		if (r < 0) {
			layer_sink_free(s);
			return r;
		}
	}
	*ret = s;
	return 0;
}

int layer_sink_write(struct layer_sink *s, const void *buf, size_t len, struct molt_error **err)
{
	if (len == 0)
		return 0;
	if (EVP_DigestUpdate(s->tar_md, buf, len) != 1)
		return molt_error_setx(err, EIO, "sha256: libcrypto failed");
	s->tar_size += len;
	if (!s->a) {
		int r = sink_out(s, buf, len);
		return r < 0 ? molt_error_set(err, -r, "write layer blob") : 0;
	}
	la_ssize_t n = archive_write_data(s->a, buf, len);
	if (n < 0 || (size_t)n != len)
		return sink_archive_error(s, "compress layer", err);
	return 0;
}

static int md_hex(EVP_MD_CTX *md, char *out, size_t outlen)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (EVP_DigestFinal_ex(md, d, &n) != 1 || n != 32 || outlen < 7 + 64 + 1)
		return -EIO;
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
	return 0;
}

int layer_sink_finish(struct layer_sink *s, struct layer_digests *ret, struct molt_error **err)
{
	if (s->a && archive_write_close(s->a) != ARCHIVE_OK)
		return sink_archive_error(s, "finish layer compression", err);
	struct layer_digests d = {.tar_size = s->tar_size};
	if (md_hex(s->tar_md, d.diff_id, sizeof(d.diff_id)) < 0 ||
	    md_hex(s->blob_md, d.digest, sizeof(d.digest)) < 0)
		return molt_error_setx(err, EIO, "sha256: libcrypto failed");
	d.blob_size = s->blob_size;
	*ret = d;
	return 0;
}
