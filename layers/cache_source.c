/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/cache_source.c: --cache-from. Opening a source fetches its cache index (or an
 * image manifest with inline records) and the records once; a hit only checks that its
 * layer blob is there, and the blob is fetched when the build needs it
 * (cache_source_fetch), into the store, verified against its digest and size
 * (reg_fetch_blob, or a hashed copy from an OCI layout). Whatever is fetched is
 * checked before use: a manifest against the digest the registry names, the records
 * blob against its descriptor, each layer against its digest and then, when unpacked,
 * its diff ID. The build runs stages in forked workers: the registry session used to
 * open the source is closed before they start, and each worker opens its own on its
 * first hit.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "layers_int.h"
#include "registry_http.h"

#define CONFIG_MAX (16u << 20)
#define ACCEPT_CACHE MEDIA_OCI_INDEX ", " MEDIA_OCI_MANIFEST ", " MEDIA_DOCKER_MANIFEST

struct cache_source {
	char *name; /* for messages: the reference or the directory */
	struct cache_records recs;
	/* a registry */
	struct image_ref ref;
	struct registry_host_conf hc;
	const struct registry_endpoint *ep;
	struct registry_opts o;
	struct reg_session *s;
	pid_t s_pid; /* the process that opened s (a forked worker opens its own) */
	/* an OCI layout */
	int dirfd;
};

const char *cache_source_name(const struct cache_source *c)
{
	return c->name;
}

void cache_source_free(struct cache_source *c)
{
	if (!c)
		return;
	if (c->s && c->s_pid == getpid())
		reg_session_free(c->s);
	cache_records_done(&c->recs);
	registry_host_conf_done(&c->hc);
	image_ref_done(&c->ref);
	if (c->dirfd >= 0)
		close(c->dirfd);
	free(c->name);
	free(c);
}

/* ---------------------------------------------------------------- a registry */

static int session(struct cache_source *c, struct molt_error **err)
{
	if (c->s && c->s_pid == getpid())
		return 0;
	c->s = NULL; /* the parent's: its connection is not ours to use */
	int r = reg_session_open(c->ep, c->ep->repo, c->ref.domain, c->ep->certs_dir, false, &c->o,
				 &c->s, err);
	if (r == 0)
		c->s_pid = getpid();
	return r;
}

/* GET the manifest or index REF names, checked against the digest the registry says. */
static int get_manifest(struct cache_source *c, char **ret, size_t *ret_len,
			struct molt_error **err)
{
	const char *reference = c->ref.digest ? c->ref.digest : c->ref.tag;
	struct reg_resp resp = {0};
	int r = reg_get_manifest(c->s, reference, ACCEPT_CACHE, &resp, err);
	if (r == 0 && resp.status != 200)
		r = reg_status_error(c->s, &resp, "the cache manifest", err);
	char digest[DIGEST_STR_LEN] = "";
	if (r == 0)
		digest_buffer(resp.body, resp.body_len, digest);
	const char *want = c->ref.digest ? c->ref.digest : resp.docker_digest;
	if (r == 0 && want && strcmp(want, digest))
		r = molt_error_setx(err, EBADMSG, "the cache manifest has digest %s, not %.80s",
				    digest, want);
	if (r == 0) {
		*ret = TAKE_PTR(resp.body);
		*ret_len = resp.body_len;
	}
	reg_resp_done(&resp);
	return r;
}

static int layout_read(struct cache_source *c, const char *digest, size_t max, char **ret,
		       size_t *ret_len, struct molt_error **err);

/* The step records the cache's index names: from the layout, or the registry by way of
 * the store. */
static int records_from_index(struct cache_source *c, struct layer_store *s, const char *data,
			      size_t len, struct molt_error **err)
{
	struct image_descriptor cd = {0};
	_cleanup_free_ char *recs = NULL;
	size_t rlen = 0;
	bool layout = c->dirfd >= 0;
	int r = cache_artifact_config(data, len, &cd, err);
	if (r == 0 && !layout && !layer_store_blob_exists(s, cd.digest))
		r = reg_fetch_blob(c->s, NULL, s, &cd, err);
	if (r == 0)
		r = layout ? layout_read(c, cd.digest, CONFIG_MAX, &recs, &rlen, err)
			   : layer_store_blob_read(s, cd.digest, CONFIG_MAX, &recs, &rlen, err);
	if (r == 0)
		r = cache_records_parse(recs, rlen, &c->recs, err);
	image_descriptor_done(&cd);
	return r;
}

static int open_registry(struct cache_source *c, struct layer_store *s, const char *where,
			 struct molt_error **err)
{
	int r = image_ref_parse(where, &c->ref, err);
	if (r == 0)
		r = registry_conf_lookup(c->ref.domain, c->ref.path, &c->hc, err);
	if (r == 0 && (c->hc.blocked || !c->hc.n_endpoints))
		r = molt_error_setx(err, EACCES, "registry '%s' is blocked in registries.conf",
				    c->ref.domain);
	if (r < 0)
		return r;
	c->ep = &c->hc.endpoints[c->hc.n_endpoints - 1];
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	r = session(c, err);
	if (r == 0)
		r = get_manifest(c, &data, &len, err);
	if (r < 0)
		return r;
	struct image_descriptor probe = {0};
	r = cache_artifact_config(data, len, &probe, NULL);
	image_descriptor_done(&probe);
	if (r == -ENOENT)
		return cache_inline_records(data, len, &c->recs, err);
	return records_from_index(c, s, data, len, err);
}

static int fetch_registry(struct cache_source *c, struct layer_store *s,
			  const struct cache_entry *e, struct molt_error **err)
{
	struct image_descriptor d = {.media_type = e->media_type, .size = e->size};
	memcpy(d.digest, e->digest, DIGEST_STR_LEN);
	int r = session(c, err);
	if (r == 0)
		r = reg_fetch_blob(c->s, NULL, s, &d, err);
	if (r == 0)
		reg_sources_add(s, e->digest, c->ep->host, c->ep->repo);
	return r;
}

/* HEAD: 0 when the registry has the blob with the size recorded. */
static int have_registry(struct cache_source *c, const struct cache_entry *e,
			 struct molt_error **err)
{
	int r = session(c, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = xasprintf("/v2/%s/blobs/%s", reg_session_repo(c->s), e->digest);
	struct reg_resp resp = {0};
	r = reg_do(c->s, NULL, &(struct reg_req){.method = "HEAD", .path = path, .body_fd = -1},
		   &resp, err);
	if (r == 0 && resp.status != 200)
		r = molt_error_setx(err, ENOENT, "the registry does not have blob %s (%ld)",
				    e->digest, resp.status);
	reg_resp_done(&resp);
	return r;
}

/* ---------------------------------------------------------------- an OCI layout */

static char *blob_rel(const char *digest)
{
	return xasprintf("blobs/sha256/%s", digest_hex(digest));
}

/* A blob of the layout read whole and checked against its digest. */
static int layout_read(struct cache_source *c, const char *digest, size_t max, char **ret,
		       size_t *ret_len, struct molt_error **err)
{
	_cleanup_free_ char *rel = blob_rel(digest);
	int r = read_file_at(c->dirfd, rel, max, ret, ret_len, err);
	if (r < 0)
		return r;
	char got[DIGEST_STR_LEN];
	digest_buffer(*ret, *ret_len, got);
	if (strcmp(got, digest)) {
		free(*ret);
		*ret = NULL;
		return molt_error_setx(err, EBADMSG, "blob %s has digest %s", digest, got);
	}
	return 0;
}

/* The cache index index.json names (by its ref name, else the only entry). */
static int layout_index_digest(struct cache_source *c, char ret[DIGEST_STR_LEN],
			       struct molt_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = read_file_at(c->dirfd, "index.json", REG_MANIFEST_MAX, &data, &len, err);
	if (r < 0)
		return r;
	struct image_index idx = {0};
	r = image_index_parse(data, len, &idx, err);
	if (r < 0)
		return r;
	ret[0] = '\0';
	for (size_t i = 0; i < idx.n_manifests; i++) {
		const struct image_descriptor *d = &idx.manifests[i];
		bool named = false;
		for (size_t k = 0; d->annotations && d->annotations[k]; k++)
			named |= !strcmp(d->annotations[k], "org.opencontainers.image.ref.name="
							    MOLT_CACHE_REF_NAME);
		if (named || idx.n_manifests == 1)
			memcpy(ret, d->digest, DIGEST_STR_LEN);
	}
	image_index_done(&idx);
	if (!ret[0])
		return molt_error_setx(err, ENOENT, "index.json names no build cache ('%s')",
				       MOLT_CACHE_REF_NAME);
	return 0;
}

static int open_layout(struct cache_source *c, struct layer_store *s, const char *dir,
		       struct molt_error **err)
{
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return molt_error_set(err, errno, "open '%s'", dir);
	char digest[DIGEST_STR_LEN];
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = layout_index_digest(c, digest, err);
	if (r == 0)
		r = layout_read(c, digest, REG_MANIFEST_MAX, &data, &len, err);
	if (r == 0)
		r = records_from_index(c, s, data, len, err);
	return r;
}

static int fetch_layout(struct cache_source *c, struct layer_store *s, const struct cache_entry *e,
			struct molt_error **err)
{
	_cleanup_free_ char *rel = blob_rel(e->digest);
	_cleanup_close_ int fd = openat(c->dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return molt_error_set(err, errno, "open blob %s", e->digest);
	int64_t size = 0;
	int r = layer_store_blob_put_fd(s, fd, e->digest, NULL, &size, err);
	if (r == 0 && size != e->size)
		r = molt_error_setx(err, EBADMSG, "blob %s has %lld bytes, not %lld", e->digest,
				    (long long)size, (long long)e->size);
	return r;
}

static int have_layout(struct cache_source *c, const struct cache_entry *e,
		       struct molt_error **err)
{
	_cleanup_free_ char *rel = blob_rel(e->digest);
	struct stat st;
	if (fstatat(c->dirfd, rel, &st, 0) < 0)
		return molt_error_set(err, errno, "blob %s", e->digest);
	if (!S_ISREG(st.st_mode) || st.st_size != e->size)
		return molt_error_setx(err, EBADMSG, "blob %s has %lld bytes, not %lld", e->digest,
				       (long long)st.st_size, (long long)e->size);
	return 0;
}

/* ---------------------------------------------------------------- the API */

int cache_source_open(struct layer_store *s, const char *where, bool local_dir,
		      const struct registry_opts *o, struct cache_source **ret,
		      struct molt_error **err)
{
	struct cache_source *c = xcalloc(1, sizeof(*c));
	c->name = xstrdup(where);
	c->dirfd = -1;
	if (o)
		c->o = *o;
	c->o.platform = NULL;
	c->o.quiet = true;
	int r = local_dir ? open_layout(c, s, where, err) : open_registry(c, s, where, err);
	/* Workers open their own sessions (see the top). */
	if (c->s) {
		reg_session_free(c->s);
		c->s = NULL;
	}
	if (r < 0) {
		cache_source_free(c);
		return molt_error_wrap(err, "build cache '%s'", where);
	}
	*ret = c;
	return 0;
}

int cache_source_get(struct cache_source *c, struct layer_store *s, const char *key,
		     struct cache_entry *ret, struct molt_error **err)
{
	const struct cache_entry *e = cache_records_find(&c->recs, key);
	if (!e)
		return -ENOENT;
	int r = 0;
	/* Fetched only when its tree or blob is needed (cache_source_fetch); that it is
	 * there is checked now, so a record whose blob is gone is a miss. */
	if (e->has_layer && !layer_store_blob_exists(s, e->digest))
		r = c->dirfd >= 0 ? have_layout(c, e, err) : have_registry(c, e, err);
	if (r < 0)
		return molt_error_wrap(err, "build cache '%s': layer %.19s", c->name, e->digest);
	struct cache_records one = {0};
	cache_records_add(&one, e);
	*ret = one.e[0];
	free(one.e);
	return 0;
}

int cache_source_fetch(struct cache_source *c, struct layer_store *s, const char *digest,
		       struct molt_error **err)
{
	const struct cache_entry *e = NULL;
	for (size_t i = 0; i < c->recs.n && !e; i++)
		if (c->recs.e[i].has_layer && !strcmp(c->recs.e[i].digest, digest))
			e = &c->recs.e[i];
	if (!e)
		return -ENOENT;
	int r = c->dirfd >= 0 ? fetch_layout(c, s, e, err) : fetch_registry(c, s, e, err);
	if (r < 0)
		return molt_error_wrap(err, "build cache '%s': layer %.19s", c->name, digest);
	/* Now in the store: its records go in the local cache, for the next build. */
	for (size_t i = 0; i < c->recs.n; i++) {
		_cleanup_error_ struct molt_error *e2 = NULL;
		if (c->recs.e[i].has_layer && !strcmp(c->recs.e[i].digest, digest) &&
		    cache_index_put(s, &c->recs.e[i], &e2) < 0)
			molt_debug("build cache: %s", e2 ? e2->msg : "cannot record a step");
	}
	return 0;
}

const struct cache_entry *cache_source_record(const struct cache_source *c, const char *key)
{
	return cache_records_find(&c->recs, key);
}
