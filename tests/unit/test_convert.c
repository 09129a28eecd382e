/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/test_convert.c: layers/convert.c — export compression options, a layer's
 * blob converted once and remembered, bytes independent of the thread count and equal
 * to what the layer writer's sink makes, layers already compressed left alone unless
 * forced, the diff ID checked, and gc dropping a conversion with its layer only.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "../../layers/layers_int.h"
#include "store_test.h"
#include "tap.h"

static void parse(void)
{
	struct export_compression ec = {.c = LAYER_ZSTD, .level = 9};
	struct molt_error *e = NULL;
	tap_ok(export_compression_parse(NULL, NULL, false, &ec, &e) == 0 && ec.c == LAYER_GZIP &&
		       ec.level == 0 && !ec.force,
	       "no option: gzip at its default level");
	tap_ok(export_compression_parse("zstd", "19", true, &ec, &e) == 0 && ec.c == LAYER_ZSTD &&
		       ec.level == 19 && ec.force,
	       "zstd level 19, forced");
	tap_ok(export_compression_parse("uncompressed", NULL, false, &ec, &e) == 0 &&
		       ec.c == LAYER_UNCOMPRESSED,
	       "uncompressed");
	static const struct {
		const char *name, *level, *msg;
	} bad[] = {
		{"lz4", NULL, "compression 'lz4': not gzip, zstd or uncompressed"},
		{"gzip", "10", "compression level '10' for gzip: not a number from 1 to 9"},
		{"gzip", "0", "compression level '0' for gzip: not a number from 1 to 9"},
		{"zstd", "20", "compression level '20' for zstd: not a number from 1 to 19"},
		{"zstd", "3x", "compression level '3x' for zstd: not a number from 1 to 19"},
		{"gzip", "", "compression level '' for gzip: not a number from 1 to 9"},
		{"uncompressed", "1", "compression level '1': uncompressed has no level"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct export_compression keep = {.c = LAYER_ZSTD, .level = 7};
		int r = export_compression_parse(bad[i].name, bad[i].level, false, &keep, &e);
		tap_ok(r == -EINVAL && keep.c == LAYER_ZSTD && keep.level == 7,
		       "refused: %s level %s (ret untouched)", bad[i].name,
		       bad[i].level ? bad[i].level : "-");
		tap_str_eq(e ? e->msg : "", bad[i].msg, "  with the reason");
		molt_error_free(e);
		e = NULL;
	}
}

/* 3 MiB of text-like bytes: several blocks, compressible. */
static struct strbuf layer_bytes(void)
{
	struct strbuf b = {0};
	for (unsigned i = 0; b.len < (3u << 20); i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "line %u of a layer %u\n", i, i * 2654435761u);
		strbuf_add(&b, line, (size_t)n);
	}
	return b;
}

/* What the layer writer's sink (a step commit before layers were stored plain) makes. */
static void sink_digest(const struct strbuf *b, enum layer_compression c,
			struct layer_digests *ret)
{
	struct molt_error *e = NULL;
	struct layer_sink *sink = NULL;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (layer_sink_new(fd, c, 0, &sink, &e) < 0 || layer_sink_write(sink, b->buf, b->len, &e) < 0 ||
	    layer_sink_finish(sink, ret, &e) < 0) {
		molt_error_print(e);
		exit(1);
	}
	layer_sink_free(sink);
	close(fd);
}

static bool entry_exists(const char *diff_id, const char *form)
{
	_cleanup_free_ char *p = xasprintf("%s/convert/%s/%s", root, digest_hex(diff_id), form);
	return access(p, F_OK) == 0;
}

static void convert_layer(void)
{
	struct layer_store *s = open_store();
	struct molt_error *e = NULL;
	struct strbuf b = layer_bytes();
	struct layer_digests plain, gz;
	sink_digest(&b, LAYER_UNCOMPRESSED, &plain);
	sink_digest(&b, LAYER_GZIP, &gz);
	tap_str_eq(plain.digest, plain.diff_id, "uncompressed, the sink's blob digest is the diff ID");

	struct image_descriptor layer = {.media_type = (char *)MEDIA_OCI_LAYER,
					 .size = (int64_t)b.len};
	layer_store_blob_put_mem(s, b.buf, b.len, NULL, layer.digest, &e);
	struct export_compression ec = {0};
	struct image_descriptor out = {0};
	int r = layer_store_layer_blob(s, &layer, plain.diff_id, &ec, &out, &e);
	tap_ok(r == 0 && !strcmp(out.digest, gz.digest) && out.size == (int64_t)gz.blob_size &&
		       !strcmp(out.media_type, MEDIA_OCI_LAYER_GZIP) &&
		       layer_store_blob_exists(s, out.digest),
	       "gzip export of a plain layer = the blob a gzip commit wrote, stored");
	tap_ok(entry_exists(plain.diff_id, "gzip-6-libdeflate"),
	       "the conversion is remembered (convert/<diff>/gzip-6-libdeflate)");
	image_descriptor_done(&out);

	/* a conversion rewrites its entry (temp + rename: a new inode); a hit does not */
	_cleanup_free_ char *ent =
		xasprintf("%s/convert/%s/gzip-6-libdeflate", root, digest_hex(plain.diff_id));
	struct stat st1, st2;
	stat(ent, &st1);
	tap_ok(layer_store_layer_blob(s, &layer, plain.diff_id, &ec, &out, &e) == 0 &&
		       !strcmp(out.digest, gz.digest) && stat(ent, &st2) == 0 &&
		       st1.st_ino == st2.st_ino,
	       "a second call gives the remembered blob without converting");
	image_descriptor_done(&out);

	setenv("MOLT_COMPRESS_THREADS", "1", 1);
	struct image_descriptor one = {0}, four = {0};
	struct export_compression z = {.c = LAYER_ZSTD, .level = 1};
	layer_store_layer_blob(s, &layer, plain.diff_id, &z, &one, &e);
	_cleanup_free_ char *zdir = xasprintf("%s/convert", root);
	rm_rf(zdir, &e);
	setenv("MOLT_COMPRESS_THREADS", "4", 1);
	layer_store_layer_blob(s, &layer, plain.diff_id, &z, &four, &e);
	unsetenv("MOLT_COMPRESS_THREADS");
	tap_ok(one.digest[0] && !strcmp(one.digest, four.digest) &&
		       !strcmp(one.media_type, MEDIA_OCI_LAYER_ZSTD),
	       "zstd -1 with 1 and 4 threads: the same blob");

	/* a layer already gzip: as it is, unless forced (then from its content) */
	struct image_descriptor gzl = {.media_type = (char *)MEDIA_OCI_LAYER_GZIP,
				       .size = (int64_t)gz.blob_size};
	memcpy(gzl.digest, gz.digest, DIGEST_STR_LEN);
	struct export_compression g9 = {.c = LAYER_GZIP, .level = 9};
	layer_store_layer_blob(s, &gzl, plain.diff_id, &g9, &out, &e);
	tap_str_eq(out.digest, gz.digest, "a gzip layer exported as gzip (other level) stays as it is");
	image_descriptor_done(&out);
	g9.force = true;
	r = layer_store_layer_blob(s, &gzl, plain.diff_id, &g9, &out, &e);
	struct image_descriptor g9plain = {0};
	struct export_compression g9p = {.c = LAYER_GZIP, .level = 9};
	layer_store_layer_blob(s, &layer, plain.diff_id, &g9p, &g9plain, &e);
	tap_ok(r == 0 && strcmp(out.digest, gz.digest) && !strcmp(out.digest, g9plain.digest),
	       "forced, it is recompressed from its content (= gzip -9 of the plain layer)");
	image_descriptor_done(&out);
	image_descriptor_done(&g9plain);
	struct export_compression zs = {.c = LAYER_ZSTD};
	layer_store_layer_blob(s, &gzl, plain.diff_id, &zs, &out, &e);
	tap_str_eq(out.digest, gz.digest, "a gzip layer exported as zstd stays gzip (as BuildKit, unforced)");
	image_descriptor_done(&out);
	struct export_compression un = {.c = LAYER_UNCOMPRESSED, .force = true};
	layer_store_layer_blob(s, &gzl, plain.diff_id, &un, &out, &e);
	tap_ok(!strcmp(out.digest, plain.diff_id) && !strcmp(out.media_type, MEDIA_OCI_LAYER),
	       "a gzip layer exported uncompressed, forced, is its tar (digest = diff ID)");
	image_descriptor_done(&out);

	/* the content is checked against the diff ID */
	char wrong[DIGEST_STR_LEN];
	digest_buffer("other", 5, wrong);
	struct export_compression z9 = {.c = LAYER_ZSTD, .level = 9};
	r = layer_store_layer_blob(s, &layer, wrong, &z9, &out, &e);
	tap_ok(r == -EBADMSG && e && strstr(e->msg, "does not match its diff ID") &&
		       !entry_exists(wrong, "zstd-9"),
	       "a layer whose content is not its diff ID is refused, nothing remembered");
	molt_error_free(e);
	e = NULL;

	/* the remembered blob removed by hand: a miss, converted again */
	_cleanup_free_ char *p = NULL;
	layer_store_blob_path(s, one.digest, &p, &e);
	unlink(p);
	r = layer_store_layer_blob(s, &layer, plain.diff_id, &z, &out, &e);
	tap_ok(r == 0 && !strcmp(out.digest, one.digest) && layer_store_blob_exists(s, one.digest),
	       "an entry whose blob is gone is a miss: converted again");
	image_descriptor_done(&out);
	image_descriptor_done(&one);
	image_descriptor_done(&four);

	/* gc: kept while an image has the diff ID, dropped with it (the threads case
	 * above removed convert/: remember the gzip form again first) */
	layer_store_layer_blob(s, &layer, plain.diff_id, &ec, &out, &e);
	image_descriptor_done(&out);
	struct image_config c = {0};
	strv_push(&c.diff_ids, plain.diff_id);
	char m[DIGEST_STR_LEN];
	char *const names[] = {"conv:1", NULL};
	if (layer_store_image_commit(s, &c, &layer, 1, names, m, &e) < 0)
		tap_diag("commit: %s", e->msg);
	image_config_done(&c);
	size_t removed = 0;
	r = layer_store_gc(s, true, &removed, &e);
	if (r < 0)
		tap_diag("gc: %s", e->msg);
	tap_ok(r == 0 && layer_store_blob_exists(s, gz.digest) &&
		       entry_exists(plain.diff_id, "gzip-6-libdeflate"),
	       "gc keeps the conversions of a live layer");
	layer_store_tag_remove(s, "conv:1", &e);
	r = layer_store_gc(s, true, &removed, &e);
	tap_ok(r == 0 && !layer_store_blob_exists(s, gz.digest) &&
		       !entry_exists(plain.diff_id, "gzip-6-libdeflate"),
	       "gc drops the entry and the blob together once the layer is gone");
	strbuf_done(&b);
	layer_store_free(s);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	root = xasprintf("%s/molt-convert-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(root))
		return 2;
	parse();
	convert_layer();
	struct molt_error *e = NULL;
	rm_rf(root, &e);
	free(root);
	return tap_done();
}
