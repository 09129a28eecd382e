/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/cache_export.c: --cache-to. The records' layer blobs go first, then the
 * records' config blob, and the cache index last: to a registry as a tag (HEAD before
 * each blob, a cross-repository mount when the layer is known in another repository of
 * that registry, an upload otherwise), or into an OCI layout directory (each blob by
 * temp + fsync + rename, then index.json the same way). Two builds exporting to one
 * place at once each write whole blobs before their index, so whichever index lands
 * last wins and names only blobs that are there. Blobs a replaced index named stay (a
 * registry's garbage collection, or removing the directory, drops them).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "layers_int.h"
#include "registry_http.h"

/*
 * A record's layer leaves in the compression the cache export asks for (NULL: gzip, as
 * images leave), converted once and remembered (layers/convert.c), so that it is the
 * very blob a pushed image has and the registry mounts it. A lazy hit's blob the store
 * lacks is exported as recorded (fetched from its source only when the destination
 * does not have it).
 */
int cache_export_layer_blob(struct layer_store *s, const struct cache_entry *e,
			    const struct export_compression *ec, struct image_descriptor *ret,
			    struct molt_error **err)
{
	struct image_descriptor in = {.media_type = (char *)e->media_type, .size = e->size};
	memcpy(in.digest, e->digest, DIGEST_STR_LEN);
	if (!layer_store_blob_exists(s, e->digest)) {
		*ret = (struct image_descriptor){.media_type = xstrdup(e->media_type),
						 .size = e->size};
		memcpy(ret->digest, e->digest, DIGEST_STR_LEN);
		return 0;
	}
	return layer_store_layer_blob(s, &in, e->diff_id, ec, ret, err);
}

/* A lazy hit's blob the store lacks, from the source that named it. */
static int fetch_from(struct layer_store *s, const struct cache_export_from *from,
		      const char *digest, struct molt_error **err)
{
	for (size_t i = 0; from && i < from->n; i++) {
		int r = cache_source_fetch(from->srcs[i], s, digest, err);
		if (r != -ENOENT || (err && *err))
			return r;
	}
	return molt_error_setx(err, ENOENT, "layer %s is neither in the store nor in a cache "
				"source", digest);
}

int cache_records_exported(struct layer_store *s, const struct cache_records *in,
			   const struct export_compression *ec, struct cache_records *ret,
			   struct molt_error **err)
{
	struct cache_records out = {0};
	for (size_t i = 0; i < in->n; i++) {
		struct cache_entry e = in->e[i];
		struct image_descriptor d = {0};
		if (e.has_layer) {
			int r = cache_export_layer_blob(s, &in->e[i], ec, &d, err);
			if (r < 0) {
				cache_records_done(&out);
				return r;
			}
			e.media_type = d.media_type;
			memcpy(e.digest, d.digest, DIGEST_STR_LEN);
			e.size = d.size;
		}
		cache_records_add(&out, &e);
		image_descriptor_done(&d);
	}
	cache_records_sort(&out);
	*ret = out;
	return 0;
}

/* The records' config blob, stored so it can be pushed or copied like any blob. */
static int put_config(struct layer_store *s, const struct cache_records *r,
		      struct image_descriptor *ret, struct molt_error **err)
{
	_cleanup_free_ char *json = cache_records_to_json(r);
	*ret = (struct image_descriptor){.media_type = xstrdup(MEDIA_MOLT_CACHE_CONFIG),
					 .size = (int64_t)strlen(json)};
	return layer_store_blob_put_mem(s, json, strlen(json), NULL, ret->digest, err);
}

/* ---------------------------------------------------------------- a registry */

static int push_all(struct reg_session *rs, struct layer_store *s, const char *tag,
		    const struct cache_records *r, const char *mode,
		    const struct cache_export_from *from, const struct registry_opts *o,
		    struct molt_error **err)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < r->n; i++) {
		const struct cache_entry *e = &r->e[i];
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = r->e[j].has_layer && !strcmp(r->e[j].digest, e->digest);
		if (!e->has_layer || dup)
			continue;
		struct image_descriptor d = {.media_type = e->media_type, .size = e->size};
		memcpy(d.digest, e->digest, DIGEST_STR_LEN);
		if (!layer_store_blob_exists(s, e->digest)) {
			/* A lazy hit: often exported back where it came from. */
			rc = reg_blob_exists(rs, e->digest, err);
			if (rc == 1) {
				rc = 0;
				continue;
			}
			if (rc == 0)
				rc = fetch_from(s, from, e->digest, err);
		}
		if (rc == 0)
			rc = reg_push_blob(rs, s, &d, o, err);
	}
	struct image_descriptor cd = {0};
	if (rc == 0)
		rc = put_config(s, r, &cd, err);
	if (rc == 0)
		rc = reg_push_blob(rs, s, &cd, o, err);
	_cleanup_free_ char *index = rc == 0 ? cache_artifact_index(r, &cd, mode) : NULL;
	/* Last: until now the tag still names the previous, whole cache. */
	if (rc == 0)
		rc = reg_put_manifest(rs, tag, index, strlen(index), MEDIA_OCI_INDEX, err);
	image_descriptor_done(&cd);
	return rc;
}

int cache_export_registry(struct layer_store *s, const char *refstr, const struct cache_records *r,
			  const char *mode, const char *compression,
			  const struct cache_export_from *from, const struct registry_opts *o,
			  struct molt_error **err)
{
	struct image_ref ref = {0};
	struct registry_host_conf hc = {0};
	struct cache_records out = {0};
	struct reg_session *rs = NULL;
	struct export_compression ec;
	int rc = image_ref_parse(refstr, &ref, err);
	if (rc == 0 && ref.digest)
		rc = molt_error_setx(err, EINVAL, "a cache is exported to a tag, not a digest");
	if (rc == 0)
		rc = registry_conf_lookup(ref.domain, ref.path, &hc, err);
	if (rc == 0 && (hc.blocked || !hc.n_endpoints))
		rc = molt_error_setx(err, EACCES, "registry '%s' is blocked in registries.conf",
				     ref.domain);
	const struct registry_endpoint *ep = rc == 0 ? &hc.endpoints[hc.n_endpoints - 1] : NULL;
	if (rc == 0)
		rc = export_compression_parse(compression, NULL, false, &ec, err) < 0
			     ? molt_error_wrap(err, "--cache-to")
			     : cache_records_exported(s, r, &ec, &out, err);
	if (rc == 0)
		rc = reg_session_open(ep, ep->repo, ref.domain, ep->certs_dir, true, o, &rs, err);
	if (rc == 0)
		rc = push_all(rs, s, ref.tag ? ref.tag : "latest", &out, mode, from, o, err);
	reg_session_free(rs);
	cache_records_done(&out);
	registry_host_conf_done(&hc);
	image_ref_done(&ref);
	if (rc < 0)
		return molt_error_wrap(err, "export the build cache to '%s'", refstr);
	return 0;
}

/* ---------------------------------------------------------------- an OCI layout */

/* Writes data (or the store's blob digest when data is NULL) as DIR/blobs/sha256/HEX. */
static int layout_blob(struct layer_store *s, int dirfd, const char *digest, const char *data,
		       size_t len, struct molt_error **err)
{
	_cleanup_free_ char *rel = xasprintf("blobs/sha256/%s", digest_hex(digest));
	struct stat st;
	if (fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		return 0; /* content-addressed: the same bytes (checked by readers) */
	_cleanup_free_ char *tmp = xasprintf("blobs/sha256/.tmp-%s-%d", digest_hex(digest),
					     (int)getpid());
	_cleanup_close_ int out = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
					 0644);
	if (out < 0)
		return molt_error_set(err, errno, "create '%s'", tmp);
	int r = 0;
	if (data) {
		if (write_all(out, data, len) < 0)
			r = molt_error_set(err, errno, "write '%s'", tmp);
	} else {
		_cleanup_close_ int in = -1;
		int64_t size = 0;
		r = layer_store_blob_open(s, digest, false, &in, &size, err);
		char buf[1 << 16];
		for (ssize_t n; r == 0 && (n = read_full(in, buf, sizeof(buf))) != 0;)
			if (n < 0 || write_all(out, buf, (size_t)n) < 0)
				r = molt_error_set(err, n < 0 ? (int)-n : errno, "copy blob %s",
						   digest);
	}
	if (r == 0 && fsync(out) < 0)
		r = molt_error_set(err, errno, "sync '%s'", tmp);
	if (r == 0 && renameat(dirfd, tmp, dirfd, rel) < 0)
		r = molt_error_set(err, errno, "rename '%s'", tmp);
	if (r < 0)
		(void)unlinkat(dirfd, tmp, 0);
	return r;
}

static int layout_file(int dirfd, const char *name, const char *data, struct molt_error **err)
{
	_cleanup_free_ char *tmp = xasprintf(".tmp-%s-%d", name, (int)getpid());
	_cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return molt_error_set(err, errno, "create '%s'", tmp);
	int r = 0;
	if (write_all(fd, data, strlen(data)) < 0 || fsync(fd) < 0 ||
	    renameat(dirfd, tmp, dirfd, name) < 0) {
		r = molt_error_set(err, errno, "write '%s'", name);
		(void)unlinkat(dirfd, tmp, 0);
	}
	return r;
}

static int layout_write(struct layer_store *s, int dirfd, const struct cache_records *r,
			const char *mode, const struct cache_export_from *from,
			struct molt_error **err)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < r->n; i++) {
		const char *d = r->e[i].digest;
		if (!r->e[i].has_layer)
			continue;
		_cleanup_free_ char *rel = xasprintf("blobs/sha256/%s", digest_hex(d));
		if (!layer_store_blob_exists(s, d) && faccessat(dirfd, rel, F_OK, 0) < 0)
			rc = fetch_from(s, from, d, err);
		if (rc == 0)
			rc = layout_blob(s, dirfd, d, NULL, 0, err);
	}
	struct image_descriptor cd = {0};
	_cleanup_free_ char *recs = cache_records_to_json(r);
	if (rc == 0) {
		cd = (struct image_descriptor){.media_type = xstrdup(MEDIA_MOLT_CACHE_CONFIG),
					       .size = (int64_t)strlen(recs)};
		digest_buffer(recs, strlen(recs), cd.digest);
		rc = layout_blob(s, dirfd, cd.digest, recs, strlen(recs), err);
	}
	_cleanup_free_ char *index = rc == 0 ? cache_artifact_index(r, &cd, mode) : NULL;
	char idx_digest[DIGEST_STR_LEN] = "";
	if (rc == 0) {
		digest_buffer(index, strlen(index), idx_digest);
		rc = layout_blob(s, dirfd, idx_digest, index, strlen(index), err);
	}
	image_descriptor_done(&cd);
	if (rc < 0)
		return rc;
	_cleanup_free_ char *top = xasprintf(
		"{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_OCI_INDEX "\",\"manifests\":[{"
		"\"mediaType\":\"" MEDIA_OCI_INDEX "\",\"digest\":\"%s\",\"size\":%zu,"
		"\"annotations\":{\"org.opencontainers.image.ref.name\":\"" MOLT_CACHE_REF_NAME
		"\"}}]}\n",
		idx_digest, strlen(index));
	rc = layout_file(dirfd, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}\n", err);
	/* Last: index.json names the new cache only once all of it is there. */
	if (rc == 0)
		rc = layout_file(dirfd, "index.json", top, err);
	return rc;
}

int cache_export_local(struct layer_store *s, const char *dir, const struct cache_records *r,
		       const char *mode, const char *compression,
		       const struct cache_export_from *from, struct molt_error **err)
{
	struct cache_records out = {0};
	_cleanup_free_ char *blobs = xasprintf("%s/blobs/sha256", dir);
	struct export_compression ec;
	int rc = mkdir_p(blobs, 0755, err);
	if (rc == 0)
		rc = export_compression_parse(compression, NULL, false, &ec, err) < 0
			     ? molt_error_wrap(err, "--cache-to")
			     : cache_records_exported(s, r, &ec, &out, err);
	_cleanup_close_ int dirfd = rc == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (rc == 0 && dirfd < 0)
		rc = molt_error_set(err, errno, "open '%s'", dir);
	if (rc == 0)
		rc = layout_write(s, dirfd, &out, mode, from, err);
	cache_records_done(&out);
	if (rc < 0)
		return molt_error_wrap(err, "export the build cache to '%s'", dir);
	return 0;
}
