/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/test_compress_blocks.c: parallel block compression (layers/
 * compress_blocks.c) — the bytes do not depend on the number of workers, a stream
 * shorter than a block is byte-identical to one single-stream member (libdeflate's
 * for gzip, libarchive's filter's for zstd), the standard gzip and zstd tools and
 * libarchive read every member back to the input, and the gzip bytes are pinned.
 */
#include <archive.h>
#include <archive_entry.h>
#include <libdeflate.h>

#include "../../layers/compress_blocks.h"
#include "layers_test.h"

static int collect(const void *buf, size_t len, void *ud, struct molt_error **err)
{
	(void)err;
	strbuf_add(ud, buf, len);
	return 0;
}

/* Compresses IN with W workers and a block size of BS into OUT. */
static int run_pool(enum layer_compression c, size_t bs, unsigned w, const unsigned char *in,
		    size_t n, struct strbuf *out)
{
	struct molt_error *e = NULL;
	struct block_pool *p = NULL;
	int r = block_pool_new(c, 0, bs, w, collect, out, &p, &e);
	/* fed in odd-sized pieces so that blocks are cut across write calls */
	for (size_t off = 0; r == 0 && off < n; off += 77777)
		r = block_pool_write(p, in + off, n - off < 77777 ? n - off : 77777, &e);
	if (r == 0)
		r = block_pool_finish(p, &e);
	if (e)
		tap_diag("pool: %s", e->msg);
	molt_error_free(e);
	block_pool_free(p);
	return r;
}

static la_ssize_t mem_write(struct archive *a, void *data, const void *buf, size_t len)
{
	(void)a;
	strbuf_add(data, buf, len);
	return (la_ssize_t)len;
}

/* One libdeflate gzip member of all of IN at LEVEL. */
static void gzip_member(int level, const unsigned char *in, size_t n, struct strbuf *out)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
	size_t bound = libdeflate_gzip_compress_bound(c, n);
	unsigned char *buf = xmalloc(bound);
	size_t got = libdeflate_gzip_compress(c, in, n, buf, bound);
	strbuf_add(out, buf, got);
	free(buf);
	libdeflate_free_compressor(c);
}

/* What one single-stream writer makes of all of IN: the format before blocks. */
static void single_stream_level(enum layer_compression c, const char *level,
				const unsigned char *in, size_t n, struct strbuf *out)
{
	if (c == LAYER_GZIP) {
		gzip_member(atoi(level), in, n, out);
		return;
	}
	struct archive *a = archive_write_new();
	const char *f = c == LAYER_ZSTD ? "zstd" : "gzip";
	c == LAYER_ZSTD ? archive_write_add_filter_zstd(a) : archive_write_add_filter_gzip(a);
	archive_write_set_filter_option(a, f, "compression-level", level);
	if (c == LAYER_GZIP)
		archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
	archive_write_set_format_raw(a);
	archive_write_set_bytes_per_block(a, 0);
	archive_write_open2(a, out, NULL, mem_write, NULL, NULL);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "layer.tar");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_write_header(a, e);
	if (n)
		archive_write_data(a, in, n);
	archive_write_close(a);
	archive_entry_free(e);
	archive_write_free(a);
}

static void single_stream(enum layer_compression c, const unsigned char *in, size_t n,
			  struct strbuf *out)
{
	single_stream_level(c, c == LAYER_ZSTD ? "3" : "6", in, n, out);
}

/* Decompresses BLOB with the standard tool and compares with IN. */
static bool tool_reads_back(const char *dir, enum layer_compression c, const struct strbuf *blob,
			    const unsigned char *in, size_t n)
{
	_cleanup_free_ char *zp = xasprintf("%s/blob", dir);
	_cleanup_free_ char *rp = xasprintf("%s/raw", dir);
	int fd = open(zp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, blob->buf ? blob->buf : "", blob->len) < 0)
		return false;
	close(fd);
	if (lt_sh(dir, "%s -dc <blob >raw", c == LAYER_ZSTD ? "zstd -q" : "gzip") != 0)
		return false;
	struct stat st;
	if (stat(rp, &st) < 0 || (size_t)st.st_size != n)
		return false;
	unsigned char *got = xmalloc(n + 1);
	fd = open(rp, O_RDONLY | O_CLOEXEC);
	bool same = read(fd, got, n + 1) == (ssize_t)n && memcmp(got, in, n) == 0;
	close(fd);
	free(got);
	return same;
}

/* Reads BLOB with libarchive (its gzip/zstd filter, the raw format) and compares with IN:
 * a reader that stopped after the first member would come back short. */
static bool libarchive_reads_back(const struct strbuf *blob, const unsigned char *in, size_t n)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e = NULL;
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_raw(a);
	bool ok = archive_read_open_memory(a, blob->buf, blob->len) == ARCHIVE_OK &&
		  archive_read_next_header(a, &e) == ARCHIVE_OK;
	size_t off = 0;
	unsigned char buf[65536];
	la_ssize_t got;
	while (ok && (got = archive_read_data(a, buf, sizeof(buf))) > 0) {
		ok = off + (size_t)got <= n && memcmp(buf, in + off, (size_t)got) == 0;
		off += (size_t)got;
	}
	archive_read_free(a);
	return ok && off == n;
}

int main(void)
{
	_cleanup_free_ char *dir = lt_mkdtemp();
	/* compressible but not trivial: text-like with a slowly changing pattern */
	size_t max = 3 * 1024 * 1024 + 12345;
	unsigned char *in = xmalloc(max);
	uint32_t x = 1;
	for (size_t i = 0; i < max; i++) {
		x = x * 1103515245 + 12345;
		in[i] = (unsigned char)("abcdefgh \n"[(x >> 16) % 10] + (i / 65536) % 3);
	}
	const size_t sizes[] = {0, 1000, 256 * 1024, 256 * 1024 + 1, 700 * 1024, max};
	const size_t bs = 256 * 1024; /* small blocks: several per case, tests stay quick */
	for (int ci = 0; ci < 2; ci++) {
		enum layer_compression c = ci ? LAYER_ZSTD : LAYER_GZIP;
		const char *cn = ci ? "zstd" : "gzip";
		for (size_t si = 0; si < sizeof(sizes) / sizeof(*sizes); si++) {
			size_t n = sizes[si];
			_cleanup_strbuf_ struct strbuf one = STRBUF_INIT, four = STRBUF_INIT,
						       ref = STRBUF_INIT;
			tap_ok(run_pool(c, bs, 1, in, n, &one) == 0 &&
				       run_pool(c, bs, 4, in, n, &four) == 0,
			       "%s, %zu bytes: compresses with 1 and with 4 workers", cn, n);
			tap_ok(one.len == four.len && memcmp(one.buf, four.buf, one.len) == 0,
			       "%s, %zu bytes: the same bytes with 1 and with 4 workers", cn, n);
			/* the format: the members each block alone would be, in order */
			for (size_t off = 0; off < n || (n == 0 && off == 0); off += bs) {
				size_t len = n - off < bs ? n - off : bs;
				single_stream(c, in + off, len, &ref);
				if (n == 0)
					break;
			}
			tap_ok(ref.len == one.len && memcmp(ref.buf, one.buf, one.len) == 0,
			       "%s, %zu bytes: one member per block, each what a single stream "
			       "of that block is%s",
			       cn, n, n <= bs ? " (here the whole stream)" : "");
			tap_ok(tool_reads_back(dir, c, &one, in, n),
			       "%s, %zu bytes: %s -dc reads all members back to the input", cn, n,
			       cn);
		}
	}
	/* the real block sizes: a 3 MiB gzip stream is 4 members, smaller than the input */
	_cleanup_strbuf_ struct strbuf big = STRBUF_INIT;
	int r = run_pool(LAYER_GZIP, BLOCK_SIZE_GZIP, 2, in, max, &big);
	tap_ok(r == 0 && big.len < max / 2,
	       "gzip with the default 1 MiB blocks compresses (%zu -> %zu bytes)", max, big.len);
	tap_ok(tool_reads_back(dir, LAYER_GZIP, &big, in, max), "and gzip reads it back");
	tap_ok(libarchive_reads_back(&big, in, max), "and libarchive reads all 4 members back");
	/* The bytes are a function of (content, level, block size) — and the encoder's
	 * version: a libdeflate that compresses differently changes every exported gzip
	 * digest, which this makes visible (and README's note on reproducibility true). */
	char dg[DIGEST_STR_LEN + 1] = "";
	digest_buffer(big.buf, big.len, dg);
	tap_str_eq(dg,
		   "sha256:662cd13c3e4d195ec0f413b64ba9c51195251c79c3f3d61610b9390692e9578f",
		   "gzip blob of the fixed input is the pinned one (libdeflate " LIBDEFLATE_VERSION_STRING ")");
	/* incompressible blocks (random bytes) become stored members: barely larger than
	 * the input, read back by gzip, the same with any number of workers; a text block
	 * beside them is still compressed */
	size_t rn = 3 * BLOCK_SIZE_GZIP;
	unsigned char *rnd = xmalloc(rn);
	for (size_t i = 0; i < rn; i++) {
		x = x * 1103515245 + 12345;
		rnd[i] = i < 2 * BLOCK_SIZE_GZIP ? (unsigned char)(x >> 16) : in[i % max];
	}
	_cleanup_strbuf_ struct strbuf r1 = STRBUF_INIT, r3 = STRBUF_INIT;
	r = run_pool(LAYER_GZIP, BLOCK_SIZE_GZIP, 1, rnd, rn, &r1);
	r |= run_pool(LAYER_GZIP, BLOCK_SIZE_GZIP, 3, rnd, rn, &r3);
	tap_ok(r == 0 && r1.len == r3.len && memcmp(r1.buf, r3.buf, r1.len) == 0,
	       "random blocks: the same bytes with 1 and 3 workers");
	size_t text_part = big.len / 3 + 1; /* roughly what 1 MiB of the text compresses to */
	tap_ok(r1.len > 2 * BLOCK_SIZE_GZIP && r1.len < 2 * BLOCK_SIZE_GZIP + 1024 + text_part,
	       "two random blocks are stored (%zu bytes for 2 MiB random + 1 MiB text)", r1.len);
	tap_ok(tool_reads_back(dir, LAYER_GZIP, &r1, rnd, rn), "gzip reads stored members back");
	_cleanup_strbuf_ struct strbuf st = STRBUF_INIT, text = STRBUF_INIT;
	single_stream_level(LAYER_GZIP, "0", rnd, BLOCK_SIZE_GZIP, &st);
	single_stream(LAYER_GZIP, rnd + 2 * BLOCK_SIZE_GZIP, BLOCK_SIZE_GZIP, &text);
	tap_ok(r1.len == 2 * st.len + text.len && memcmp(r1.buf, st.buf, st.len) == 0,
	       "a random block is a level-0 (stored) member, a text block a level-6 one");
	free(rnd);
	free(in);
	lt_rm(dir);
	return tap_done();
}
