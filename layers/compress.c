/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/compress.c: the byte stream under the layer tar writer. Every tar byte is
 * hashed (diff ID), compressed in parallel blocks by libdeflate (gzip) or libzstd
 * (compress_blocks.c), and the compressed bytes are hashed (blob digest) as they go to
 * the fd in order: one pass, no temporary copy. Uncompressed (how a build step commits,
 * and what convert.c writes for compression=uncompressed), the tar is hashed once.
 */
#include <openssl/evp.h>
#include <string.h>

#include "compress_blocks.h"
#include "layers_int.h"

struct layer_sink {
	int fd;
	EVP_MD_CTX *tar_md, *blob_md;
	struct block_pool *pool; /* NULL when uncompressed */
	uint64_t tar_size, blob_size;
	uint64_t kicked; /* writeback started up to here (writeback_kick) */
};

static int sink_out(struct layer_sink *s, const void *buf, size_t len)
{
	/* uncompressed, the blob is the tar: one sha256 pass gives both digests */
	if (s->pool && EVP_DigestUpdate(s->blob_md, buf, len) != 1)
		return -EIO;
	int r = write_all(s->fd, buf, len);
	if (r < 0)
		return r;
	s->blob_size += len;
	/* blobs are fsync'ed when adopted into the store: start that early */
	writeback_kick(s->fd, &s->kicked, s->blob_size);
	return 0;
}

static int sink_emit(const void *buf, size_t len, void *ud, struct molt_error **err)
{
	int r = sink_out(ud, buf, len);
	return r < 0 ? molt_error_set(err, -r, "write layer blob") : 0;
}

void layer_sink_free(struct layer_sink *s)
{
	if (!s)
		return;
	block_pool_free(s->pool);
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
		size_t bs = c == LAYER_ZSTD ? BLOCK_SIZE_ZSTD : BLOCK_SIZE_GZIP;
		int r = block_pool_new(c, level, bs, block_pool_default_workers(), sink_emit, s,
				       &s->pool, err);
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
	if (!s->pool)
		return sink_emit(buf, len, s, err);
	return block_pool_write(s->pool, buf, len, err);
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
	if (s->pool) {
		int r = block_pool_finish(s->pool, err);
		if (r < 0)
			return r;
	}
	struct layer_digests d = {.tar_size = s->tar_size};
	if (md_hex(s->tar_md, d.diff_id, sizeof(d.diff_id)) < 0 ||
	    (s->pool && md_hex(s->blob_md, d.digest, sizeof(d.digest)) < 0))
		return molt_error_setx(err, EIO, "sha256: libcrypto failed");
	if (!s->pool)
		memcpy(d.digest, d.diff_id, sizeof(d.digest));
	d.blob_size = s->blob_size;
	*ret = d;
	return 0;
}
