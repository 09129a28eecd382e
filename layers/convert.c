/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/convert.c: a layer's blob in the compression an export or a push asks for.
 *
 * Build steps commit uncompressed layers (runner/executor/step.c), so compressing
 * happens here, once per (diff ID, compression, level): the tar content goes through
 * the same block-parallel sink as a layer written by the tar writer (compress.c), so
 * a gzip export of a built layer is byte for byte the blob molt used to commit. The
 * result is adopted as a blob and remembered in convert/<diff ID hex>/<form>, a one
 * line file "<blob digest> <size>", written after the blob (temp + fsync + rename), so
 * an entry never names a blob that was not stored. Garbage collection keeps the entries
 * (and their blobs) of live diff IDs and removes the others before it sweeps blobs
 * (convert_index_mark), so no entry outlives its blob; an entry whose blob is gone
 * anyway (removed by hand) is a miss, converted again.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "layers_int.h"

#define CONVERT_DIR "convert"
#define ENTRY_MAX 256
#define FEED_CHUNK ((size_t)1 << 20)

static const char *compression_name(enum layer_compression c)
{
	return c == LAYER_ZSTD ? "zstd" : c == LAYER_UNCOMPRESSED ? "uncompressed" : "gzip";
}

static int effective_level(const struct export_compression *ec)
{
	if (ec->c == LAYER_UNCOMPRESSED)
		return 0;
	return ec->level > 0 ? ec->level : ec->c == LAYER_ZSTD ? 3 : 6;
}

int export_compression_parse(const char *name, const char *level, bool force,
			     struct export_compression *ret, struct molt_error **err)
{
	struct export_compression ec = {.c = LAYER_GZIP, .force = force};
	if (name && !strcmp(name, "zstd"))
		ec.c = LAYER_ZSTD;
	else if (name && !strcmp(name, "uncompressed"))
		ec.c = LAYER_UNCOMPRESSED;
	else if (name && strcmp(name, "gzip"))
		return molt_error_setx(err, EINVAL,
				       "compression '%s': not gzip, zstd or uncompressed", name);
	if (level) {
		int max = ec.c == LAYER_ZSTD ? 19 : 9;
		char *end = NULL;
		errno = 0;
		long l = strtol(level, &end, 10);
		if (ec.c == LAYER_UNCOMPRESSED)
			return molt_error_setx(err, EINVAL,
					       "compression level '%s': uncompressed has no level",
					       level);
		if (!*level || *end || errno || l < 1 || l > max)
			return molt_error_setx(err, EINVAL,
					       "compression level '%s' for %s: not a number from 1 to %d",
					       level, compression_name(ec.c), max);
		ec.level = (int)l;
	}
	*ret = ec;
	return 0;
}

/* The compression a layer descriptor says its blob has; false for a type molt does
 * not know (kept as it is: a foreign or non-distributable layer). */
static bool descriptor_compression(const char *media, enum layer_compression *ret)
{
	if (!media)
		return false;
	if (str_endswith(media, "+gzip") || !strcmp(media, MEDIA_DOCKER_LAYER_GZIP))
		*ret = LAYER_GZIP;
	else if (str_endswith(media, "+zstd") || str_endswith(media, ".tar.zstd"))
		*ret = LAYER_ZSTD;
	else if (!strcmp(media, MEDIA_OCI_LAYER) ||
		 !strcmp(media, "application/vnd.docker.image.rootfs.diff.tar"))
		*ret = LAYER_UNCOMPRESSED;
	else
		return false;
	return true;
}

static const char *target_media_type(enum layer_compression c)
{
	return c == LAYER_ZSTD	       ? MEDIA_OCI_LAYER_ZSTD
	       : c == LAYER_UNCOMPRESSED ? MEDIA_OCI_LAYER
					 : MEDIA_OCI_LAYER_GZIP;
}

/* gzip entries name their encoder: those of molt before libdeflate ("gzip-6", zlib's
 * bytes) are not reused, so a store converted then gives the same digests as a new one. */
static char *entry_rel(const char *diff_id, const struct export_compression *ec)
{
	return xasprintf(CONVERT_DIR "/%s/%s-%d%s", digest_hex(diff_id), compression_name(ec->c),
			 effective_level(ec), ec->c == LAYER_GZIP ? "-libdeflate" : "");
}

/* A remembered conversion whose blob is still there with its size: 0, else -ENOENT. */
static int entry_get(struct layer_store *s, const char *diff_id,
		     const struct export_compression *ec, struct image_descriptor *ret)
{
	_cleanup_free_ char *rel = entry_rel(diff_id, ec);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (read_file_at(s->rootfd, rel, ENTRY_MAX, &text, &len, NULL) < 0)
		return -ENOENT;
	char digest[DIGEST_STR_LEN + 1];
	long long size = -1;
	struct stat st;
	_cleanup_free_ char *blob = NULL;
	if (sscanf(text, "%72s %lld", digest, &size) != 2 || !digest_is_valid(digest) ||
	    size < 0 || layer_store_blob_path(s, digest, &blob, NULL) < 0 ||
	    stat(blob, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != size)
		return -ENOENT;
	*ret = (struct image_descriptor){.media_type = xstrdup(target_media_type(ec->c)),
					 .size = size};
	memcpy(ret->digest, digest, DIGEST_STR_LEN);
	return 0;
}

static int entry_put(struct layer_store *s, const char *diff_id,
		     const struct export_compression *ec, const struct layer_digests *d,
		     struct molt_error **err)
{
	_cleanup_free_ char *dir = xasprintf("%s/" CONVERT_DIR "/%s", s->root, digest_hex(diff_id));
	int r = mkdir_p(dir, 0755, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *rel = entry_rel(diff_id, ec);
	_cleanup_free_ char *path = xasprintf("%s/%s", s->root, rel);
	_cleanup_free_ char *text = xasprintf("%s %llu\n", d->digest,
					      (unsigned long long)d->blob_size);
	return write_file_atomic(path, text, strlen(text), 0644, err);
}

struct feed {
	struct layer_sink *sink;
	struct molt_error *err;
};

static int feed_cb(const void *buf, size_t n, void *ud)
{
	struct feed *f = ud;
	return layer_sink_write(f->sink, buf, n, &f->err);
}

/* Reads the layer's content (decompressing it) into the sink. */
static int feed_layer(int in, struct layer_sink *sink, struct molt_error **err)
{
	unsigned char head[4];
	ssize_t n = pread(in, head, sizeof(head), 0);
	if (n < 0)
		return molt_error_set(err, errno, "read layer blob");
	if (blob_compression_detect(head, (size_t)n) != BLOB_PLAIN) {
		struct feed f = {.sink = sink};
		int r = blob_decompress(in, feed_cb, &f, err);
		if (f.err) {
			molt_error_free(*err);
			*err = f.err;
		}
		return r;
	}
	_cleanup_free_ char *buf = xmalloc(FEED_CHUNK);
	for (;;) {
		ssize_t got = read(in, buf, FEED_CHUNK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return molt_error_set(err, errno, "read layer blob");
		if (got == 0)
			return 0;
		int r = layer_sink_write(sink, buf, (size_t)got, err);
		if (r < 0)
			return r;
	}
}

/* Converts the blob of layer into ec's form in a temporary file, adopted as a blob. */
static int convert(struct layer_store *s, const struct image_descriptor *layer,
		   const char *diff_id, const struct export_compression *ec,
		   struct layer_digests *ret, struct molt_error **err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int in = -1, out = -1;
	int r = layer_store_blob_open(s, layer->digest, false, &in, NULL, err);
	if (r == 0)
		r = layer_store_tmpfile(s, "convert", &path, &out, err);
	if (r < 0)
		return r;
	struct layer_sink *sink = NULL;
	struct layer_digests d;
	r = layer_sink_new(out, ec->c, ec->level, &sink, err);
	if (r == 0)
		r = feed_layer(in, sink, err);
	if (r == 0)
		r = layer_sink_finish(sink, &d, err);
	layer_sink_free(sink);
	if (r == 0 && strcmp(d.diff_id, diff_id) != 0)
		r = molt_error_setx(err, EBADMSG,
				    "layer %s does not match its diff ID %s (content %s)",
				    layer->digest, diff_id, d.diff_id);
	if (r == 0 && fsync(out) < 0)
		r = molt_error_set(err, errno, "sync '%s'", path);
	if (r < 0) {
		unlink(path);
		return r;
	}
	r = layer_store_blob_adopt(s, path, d.digest, err);
	if (r == 0)
		*ret = d;
	return r;
}

int layer_store_layer_blob(struct layer_store *s, const struct image_descriptor *layer,
			   const char *diff_id, const struct export_compression *ec,
			   struct image_descriptor *ret, struct molt_error **err)
{
	enum layer_compression have;
	bool known = descriptor_compression(layer->media_type, &have);
	/* As BuildKit: a layer that is already compressed (a pulled base) is sent as it
	 * is, whatever the compression asked for, unless forced. */
	if (!known || (!ec->force && (have != LAYER_UNCOMPRESSED || have == ec->c))) {
		image_descriptor_copy(ret, layer);
		return 0;
	}
	if (!digest_is_valid(diff_id))
		return molt_error_setx(err, EINVAL, "layer %s: no valid diff ID", layer->digest);
	if (entry_get(s, diff_id, ec, ret) == 0) {
		molt_debug("convert: %s as %s-%d: cached, %s", diff_id, compression_name(ec->c),
			   effective_level(ec), ret->digest);
		return 0;
	}
	struct layer_digests d;
	int r = convert(s, layer, diff_id, ec, &d, err);
	if (r == 0)
		r = entry_put(s, diff_id, ec, &d, err);
	if (r < 0)
		return molt_error_wrap(err, "convert layer %s to %s", layer->digest,
				       compression_name(ec->c));
	molt_debug("convert: %s as %s-%d: converted, %s", diff_id, compression_name(ec->c),
		   effective_level(ec), d.digest);
	*ret = (struct image_descriptor){.media_type = xstrdup(target_media_type(ec->c)),
					 .size = (int64_t)d.blob_size};
	memcpy(ret->digest, d.digest, DIGEST_STR_LEN);
	return 0;
}

/* ---------------------------------------------------------------- whole images */

static bool descriptor_same(const struct image_descriptor *a, const struct image_descriptor *b)
{
	return !strcmp(a->digest, b->digest) && a->size == b->size &&
	       !strcmp(a->media_type ? a->media_type : "", b->media_type ? b->media_type : "");
}

/* The exported manifest: OCI (a docker schema 2 manifest cannot name zstd or OCI layer
 * types), the config and annotations as they were. */
static int export_manifest(struct layer_store *s, const struct image *img,
			   struct image_descriptor *layers, struct image **ret,
			   struct molt_error **err)
{
	struct image_manifest m = {.media_type = (char *)MEDIA_OCI_MANIFEST,
				   .config = img->manifest.config,
				   .layers = layers,
				   .n_layers = img->manifest.n_layers,
				   .annotations = img->manifest.annotations};
	if (m.config.media_type && !strcmp(m.config.media_type, MEDIA_DOCKER_CONFIG))
		m.config.media_type = (char *)MEDIA_OCI_CONFIG;
	for (size_t i = 0; i < m.n_layers; i++)
		if (layers[i].media_type && !strcmp(layers[i].media_type, MEDIA_DOCKER_LAYER_GZIP)) {
			free(layers[i].media_type);
			layers[i].media_type = xstrdup(MEDIA_OCI_LAYER_GZIP);
		}
	_cleanup_free_ char *json = image_manifest_to_json(&m);
	char digest[DIGEST_STR_LEN];
	int r = layer_store_blob_put_mem(s, json, strlen(json), NULL, digest, err);
	if (r < 0)
		return r;
	struct image *out = xcalloc(1, sizeof(*out));
	memcpy(out->manifest_digest, digest, DIGEST_STR_LEN);
	out->manifest_size = (int64_t)strlen(json);
	memcpy(out->id, img->id, DIGEST_STR_LEN);
	r = image_manifest_parse(json, strlen(json), &out->manifest, err);
	if (r < 0) {
		free(out);
		return r;
	}
	image_config_copy(&out->config, &img->config);
	out->names = strv_copy(img->names);
	*ret = out;
	return 0;
}

int layer_store_image_export(struct layer_store *s, const struct image *img,
			     const struct export_compression *ec, struct image **ret,
			     struct molt_error **err)
{
	size_t n = img->manifest.n_layers;
	if (strv_len(img->config.diff_ids) != n)
		return molt_error_setx(err, EINVAL, "image %s: %zu layers but %zu diff IDs",
				       img->id, n, strv_len(img->config.diff_ids));
	struct image_descriptor *layers = xcalloc(n + 1, sizeof(*layers));
	bool changed = false;
	int r = 0;
	size_t done = 0;
	for (; r == 0 && done < n; done++) {
		r = layer_store_layer_blob(s, &img->manifest.layers[done],
					   img->config.diff_ids[done], ec, &layers[done], err);
		changed |= r == 0 && !descriptor_same(&layers[done], &img->manifest.layers[done]);
	}
	if (r == 0 && changed)
		r = export_manifest(s, img, layers, ret, err);
	ARRAY_FREE(layers, done, image_descriptor_done);
	if (r < 0)
		return molt_error_wrap(err, "image %s", img->id);
	if (changed)
		return 0;
	/* Nothing to convert: the image as it is, its manifest bytes untouched. */
	return layer_store_image_get(s, img->manifest_digest, ret, err);
}

/* ---------------------------------------------------------------- garbage collection */

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The blobs of one live diff ID's entries, pushed onto *blobs. */
static void mark_entries(int dirfd, const char *diff_hex, char ***blobs)
{
	_cleanup_strv_ char **names = NULL;
	_cleanup_close_ int fd = openat(dirfd, diff_hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || dir_list_sorted(fd, &names) < 0)
		return;
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		char digest[DIGEST_STR_LEN + 1];
		if (read_file_at(fd, names[i], ENTRY_MAX, &text, &len, NULL) == 0 &&
		    sscanf(text, "%72s", digest) == 1 && digest_is_valid(digest))
			strv_push(blobs, digest_hex(digest));
	}
}

int convert_index_mark(struct layer_store *s, char *const *diffs, bool keep_all, char ***blobs,
		       struct molt_error **err)
{
	_cleanup_close_ int dfd = openat(s->rootfd, CONVERT_DIR,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : molt_error_set(err, errno, "open '%s/" CONVERT_DIR "'", s->root);
	_cleanup_strv_ char **names = NULL;
	int r = dir_list_sorted(dfd, &names);
	if (r < 0)
		return molt_error_set(err, -r, "read '%s/" CONVERT_DIR "'", s->root);
	size_t nd = strv_len(diffs);
	for (size_t i = 0; names[i]; i++) {
		const char *name = names[i];
		if (keep_all || (nd && bsearch(&name, diffs, nd, sizeof(char *), cmp_strp))) {
			mark_entries(dfd, name, blobs);
			continue;
		}
		/* The layer is gone: the entries go now, their blobs with the sweep after. */
		r = rm_rf_at(dfd, name, err);
		if (r < 0)
			return molt_error_wrap(err, "remove '%s/" CONVERT_DIR "/%s'", s->root, name);
	}
	return 0;
}
