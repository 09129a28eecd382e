/* SPDX-License-Identifier: Apache-2.0 */
/*
 * molt pull: manifest (an index resolved to one platform), config and layer blobs
 * from a registry into the store. Every blob streams through sha256 into a scratch
 * file of the store and is renamed into place only when its size and digest match the
 * manifest's descriptor; a dropped connection resumes with a Range request. Layers come
 * in parallel (registry_opts.parallel, default 3 like containerd). The manifest and the
 * tag go in last, so a failed pull leaves at most verified blobs nothing points at.
 */
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "layers_int.h"
#include "registry_http.h"

#define ACCEPT_MANIFESTS                                                                           \
	MEDIA_OCI_MANIFEST ", " MEDIA_OCI_INDEX ", " MEDIA_DOCKER_MANIFEST ", " MEDIA_DOCKER_LIST

struct manifest_body {
	char *data;
	size_t len;
	char digest[DIGEST_STR_LEN];
	char *media_type;
};

static void manifest_body_done(struct manifest_body *m)
{
	free(m->data);
	free(m->media_type);
	*m = (struct manifest_body){0};
}

/* The media type a manifest says it is, else what the server said it is. */
static char *body_media_type(const char *data, size_t len, const char *content_type)
{
	json_t *j = json_loadb(data, len, 0, NULL);
	const char *mt = json_string_value(json_object_get(j, "mediaType"));
	char *out = NULL;
	if (mt)
		out = xstrdup(mt);
	else if (json_is_array(json_object_get(j, "manifests")))
		out = xstrdup(MEDIA_OCI_INDEX);
	else if (content_type)
		out = xstrndup(content_type, strcspn(content_type, ";"));
	else
		out = xstrdup(MEDIA_OCI_MANIFEST);
	json_decref(j);
	return out;
}

/* GET a manifest by tag or digest; want (may be NULL) is the digest it must have. */
static int get_manifest(struct reg_session *s, const char *reference, const char *want,
			const char *name, struct manifest_body *ret, struct molt_error **err)
{
	struct reg_resp r = {0};
	int rc = reg_get_manifest(s, reference, ACCEPT_MANIFESTS, &r, err);
	if (rc < 0)
		return molt_error_wrap(err, "pull '%s': manifest", name);
	_cleanup_free_ char *what = xasprintf("manifest '%s'", reference);
	if (r.status != 200) {
		rc = reg_status_error(s, &r, what, err);
		reg_resp_done(&r);
		return rc;
	}
	struct manifest_body m = {.data = TAKE_PTR(r.body), .len = r.body_len};
	digest_buffer(m.data, m.len, m.digest);
	if (want && strcmp(want, m.digest))
		rc = molt_error_setx(err, EINVAL,
				     "registry '%s': manifest '%s' has digest %s, not "
				     "%s",
				     reg_session_host(s), reference, m.digest, want);
	else if (!want && r.docker_digest && digest_is_valid(r.docker_digest) &&
		 strcmp(r.docker_digest, m.digest))
		rc = molt_error_setx(err, EINVAL,
				     "registry '%s': manifest '%s' has digest %s, but "
				     "the registry says %s",
				     reg_session_host(s), reference, m.digest, r.docker_digest);
	if (rc == 0) {
		m.media_type = body_media_type(m.data, m.len, r.content_type);
		*ret = m;
	} else {
		manifest_body_done(&m);
	}
	reg_resp_done(&r);
	return rc;
}

/* The wanted platform: o->platform ("os/arch[/variant]") or linux/<host arch>. */
struct platform_want {
	char os[32], arch[32], variant[32];
};

static int platform_want_parse(const char *p, struct platform_want *ret,
			       struct molt_error **err)
{
	*ret = (struct platform_want){0};
	if (!p || !*p) {
		snprintf(ret->os, sizeof(ret->os), "linux");
		snprintf(ret->arch, sizeof(ret->arch), "%s", image_host_arch());
		return 0;
	}
	char extra;
	int n = sscanf(p, "%31[^/]/%31[^/]/%31[^/]%c", ret->os, ret->arch, ret->variant, &extra);
	if (n < 2 || n > 3)
		return molt_error_usage(err, "--platform '%s': not os/arch[/variant]", p);
	return 0;
}

static void list_platforms(const struct image_index *idx, struct strbuf *sb)
{
	for (size_t i = 0; i < idx->n_manifests && i < 16; i++) {
		const struct image_descriptor *d = &idx->manifests[i];
		if (!d->platform_os || !d->platform_arch || !strcmp(d->platform_os, "unknown"))
			continue;
		strbuf_addf(sb, "%s%s/%s%s%s", sb->len ? ", " : "", d->platform_os,
			    d->platform_arch, d->platform_variant ? "/" : "",
			    d->platform_variant ? d->platform_variant : "");
	}
}

/* An index or list: the entry for the wanted platform, fetched by its digest. */
static int resolve_index(struct reg_session *s, const char *name, const struct platform_want *pw,
			 struct manifest_body *m, struct molt_error **err)
{
	struct image_index idx = {0};
	int r = image_index_parse(m->data, m->len, &idx, err);
	if (r < 0)
		return molt_error_wrap(err, "pull '%s'", name);
	int i = reg_index_pick(&idx, pw->os, pw->arch, pw->variant);
	if (i < 0) {
		struct strbuf sb = STRBUF_INIT;
		list_platforms(&idx, &sb);
		r = molt_error_setx(err, ENOENT,
				    "pull '%s': the image has no %s/%s%s%s entry (it "
				    "has: %s)",
				    name, pw->os, pw->arch, *pw->variant ? "/" : "", pw->variant,
				    sb.len ? sb.buf : "none");
		strbuf_done(&sb);
	} else {
		struct manifest_body sub = {0};
		char want[DIGEST_STR_LEN];
		memcpy(want, idx.manifests[i].digest, sizeof(want));
		r = get_manifest(s, want, want, name, &sub, err);
		if (r == 0) {
			manifest_body_done(m);
			*m = sub;
		}
	}
	image_index_done(&idx);
	return r;
}

static bool is_index(const char *mt)
{
	return !strcmp(mt, MEDIA_OCI_INDEX) || !strcmp(mt, MEDIA_DOCKER_LIST);
}

static bool layer_type_ok(const char *mt)
{
	return !strcmp(mt, MEDIA_OCI_LAYER) || !strcmp(mt, MEDIA_OCI_LAYER_GZIP) ||
	       !strcmp(mt, MEDIA_OCI_LAYER_ZSTD) || !strcmp(mt, MEDIA_DOCKER_LAYER_GZIP) ||
	       !strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar");
}

/* Bounds a hostile manifest: layer count, media types, sizes. */
static int check_manifest(const char *name, const struct image_manifest *im,
			  struct molt_error **err)
{
	if (im->n_layers > REG_MAX_LAYERS)
		return molt_error_setx(err, E2BIG,
				       "pull '%s': the manifest lists %zu layers (at "
				       "most %u are accepted)",
				       name, im->n_layers, REG_MAX_LAYERS);
	if (im->config.size <= 0 || im->config.size > (int64_t)REG_CONFIG_MAX)
		return molt_error_setx(err, EFBIG,
				       "pull '%s': the image config's size %lld is "
				       "out of bounds (1 to %u bytes)",
				       name, (long long)im->config.size, REG_CONFIG_MAX);
	for (size_t i = 0; i < im->n_layers; i++) {
		const struct image_descriptor *l = &im->layers[i];
		if (!l->media_type || !layer_type_ok(l->media_type))
			return molt_error_setx(err, ENOTSUP,
					       "pull '%s': layer %s has media type "
					       "'%.100s', which molt cannot unpack",
					       name, l->digest, l->media_type ? l->media_type : "");
		if (l->size < 0)
			return molt_error_setx(err, EINVAL,
					       "pull '%s': layer %s has a negative "
					       "size",
					       name, l->digest);
	}
	return 0;
}

/* ------------------------------------------------------------------ blobs */

/* Parallel layer fetch: workers take the next missing blob until none is left. */
struct fetch_pool {
	struct reg_session *s;
	struct layer_store *store;
	const struct registry_opts *o;
	const struct image_descriptor *blobs;
	char *const *diff_ids; /* blobs[i]'s, to unpack it as soon as it is in */
	const char *tmp;       /* the store's scratch directory for unpacking */
	size_t n, next;
	pthread_mutex_t lock;
	struct molt_error *err;
};

static void report(const struct registry_opts *o, const struct image_descriptor *d,
		   const char *what)
{
	if (o->quiet || molt_log_level == MOLT_LOG_QUIET)
		return;
	double mib = (double)d->size / (1024.0 * 1024.0);
	fprintf(stderr, "Copying blob %.19s %s (%.1f MiB)\n", d->digest, what, mib);
}

/*
 * 1 when the store has the blob (with the size the manifest says: a manifest that lies
 * about a blob molt already has is refused too), 0 when it must be fetched.
 */
static int stored_size_ok(struct reg_session *s, struct layer_store *store,
			  const struct image_descriptor *d, struct molt_error **err)
{
	if (!layer_store_blob_exists(store, d->digest))
		return 0;
	_cleanup_free_ char *path = NULL;
	struct stat st;
	if (layer_store_blob_path(store, d->digest, &path, err) < 0)
		return molt_error_pass(err);
	if (stat(path, &st) < 0)
		return molt_error_set(err, errno, "stat '%s'", path);
	if (st.st_size != d->size)
		return molt_error_setx(err, EPROTO,
				       "registry '%s': the manifest says blob %s has "
				       "%lld bytes, but it has %lld",
				       reg_session_host(s), d->digest, (long long)d->size,
				       (long long)st.st_size);
	return 1;
}

static void *fetch_worker(void *ud)
{
	struct fetch_pool *p = ud;
	struct molt_error *e = NULL;
	struct reg_conn *c = reg_conn_new(&e);
	for (;;) {
		pthread_mutex_lock(&p->lock);
		bool stop = p->err || p->next >= p->n || e;
		const struct image_descriptor *d = stop ? NULL : &p->blobs[p->next++];
		pthread_mutex_unlock(&p->lock);
		if (!d)
			break;
		int have = stored_size_ok(p->s, p->store, d, &e);
		if (have < 0)
			break;
		if (have)
			report(p->o, d, "already exists");
		else if (reg_fetch_blob(p->s, c, p->store, d, &e) < 0)
			break;
		else
			report(p->o, d, "done");
		/*
		 * Unpacked now, while the other workers download: a build or `molt run`
		 * after the pull finds the tree ready. A blob just fetched was verified on
		 * the way in; one that was there already is hashed again first.
		 */
		const char *diff_id = p->diff_ids[d - p->blobs];
		if (layer_store_unpack(p->store, p->tmp, d->digest, diff_id, have, &e) < 0)
			break;
	}
	reg_conn_free(c);
	if (e) {
		pthread_mutex_lock(&p->lock);
		if (!p->err)
			p->err = TAKE_PTR(e);
		pthread_mutex_unlock(&p->lock);
		molt_error_free(e);
	}
	return NULL;
}

static int fetch_all(struct reg_session *s, struct layer_store *store,
		     const struct registry_opts *o, const struct image_manifest *im,
		     const struct image_config *cfg, struct molt_error **err)
{
	const char *tmp = NULL;
	int r = layer_store_tmpdir(store, &tmp, err);
	if (r < 0)
		return r;
	size_t n = im->n_layers;
	struct fetch_pool p = {.s = s, .store = store, .o = o, .blobs = im->layers,
			       .diff_ids = cfg->diff_ids, .tmp = tmp, .n = n};
	pthread_mutex_init(&p.lock, NULL);
	unsigned want = o->parallel ? o->parallel : 3;
	if (want > 16)
		want = 16;
	if (want > n)
		want = (unsigned)n;
	pthread_t th[16];
	unsigned started = 0;
	for (; started < want; started++)
		if (pthread_create(&th[started], NULL, fetch_worker, &p) != 0)
			break;
	if (started == 0 && n > 0)
		fetch_worker(&p);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&p.lock);
	if (p.err) {
		r = molt_error_ret(p.err);
		if (err && !*err)
			*err = TAKE_PTR(p.err);
		molt_error_free(p.err);
		return r;
	}
	return 0;
}

/* ------------------------------------------------------------------ blob sources */

/*
 * Where a blob came from ("host/repo" lines in $MOLT_ROOT/registry/sources/<hex>), so
 * a push to another repository of the same registry can mount it instead of sending
 * it. Best effort: a lost record only costs an upload.
 */
static char *source_path(struct layer_store *s, const char *digest)
{
	return xasprintf("%s/registry/sources/%s", layer_store_root(s), digest_hex(digest));
}

char **reg_sources_get(struct layer_store *s, const char *digest)
{
	_cleanup_free_ char *path = source_path(s, digest);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	char **v = xcalloc(1, sizeof(char *));
	if (read_file(path, 64u << 10, &data, &len, NULL) < 0)
		return v;
	for (char *save = NULL, *l = strtok_r(data, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		if (*l && strv_len(v) < 32)
			strv_push(&v, l);
	return v;
}

void reg_sources_add(struct layer_store *s, const char *digest, const char *host, const char *repo)
{
	_cleanup_free_ char *src = xasprintf("%s/%s", host, repo);
	_cleanup_strv_ char **v = reg_sources_get(s, digest);
	if (strv_contains(v, src))
		return;
	_cleanup_free_ char *dir = xasprintf("%s/registry/sources", layer_store_root(s));
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "%s\n", src);
	for (size_t i = 0; v[i] && i < 15; i++)
		strbuf_addf(&sb, "%s\n", v[i]);
	_cleanup_free_ char *path = source_path(s, digest);
	struct molt_error *e = NULL;
	if (mkdir_p(dir, 0755, &e) < 0 || write_file_atomic(path, sb.buf, sb.len, 0644, &e) < 0)
		molt_error_drop(&e, "registry: cannot record where a blob came from");
	strbuf_done(&sb);
}

/* ------------------------------------------------------------------ the pull */

static int get_config(struct reg_session *s, struct layer_store *store, const char *name,
		      const struct image_manifest *im, struct image_config *ret,
		      struct molt_error **err)
{
	int r = stored_size_ok(s, store, &im->config, err);
	if (r == 0)
		r = reg_fetch_blob(s, NULL, store, &im->config, err);
	else if (r == 1)
		r = 0;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (r == 0)
		r = layer_store_blob_read(store, im->config.digest, REG_CONFIG_MAX, &data, &len,
					  err);
	if (r == 0)
		r = image_config_parse(data, len, ret, err);
	if (r < 0)
		return molt_error_wrap(err, "pull '%s': image config", name);
	if (strv_len(ret->diff_ids) != im->n_layers) {
		r = molt_error_setx(err, EINVAL,
				    "pull '%s': the manifest has %zu layers but the "
				    "config %zu diff IDs",
				    name, im->n_layers, strv_len(ret->diff_ids));
		image_config_done(ret);
	}
	return r;
}

static void warn_foreign(const char *name, const struct image_config *c)
{
	const char *arch = c->architecture ? c->architecture : "";
	if (!*arch || !strcmp(arch, image_host_arch()))
		return;
	molt_warn("image '%s' is for %s/%s: running it (RUN steps, molt run) on this %s "
		  "machine needs emulation, which molt does not have",
		  name, c->os ? c->os : "linux", arch, image_host_arch());
}

struct pull_target {
	const struct image_ref *ref;
	const char *name;      /* normalised, for messages */
	const char *cred_host; /* the reference's registry */
	struct platform_want pw;
};

static int store_image(struct layer_store *store, const struct pull_target *t,
		       const struct manifest_body *m, char ret[DIGEST_STR_LEN],
		       struct molt_error **err)
{
	int r = layer_store_blob_put_mem(store, m->data, m->len, m->digest, NULL, err);
	_cleanup_free_ char *tagged = NULL;
	if (t->ref->tag) {
		struct image_ref tr = *t->ref;
		tr.digest = NULL;
		tagged = image_ref_string(&tr);
	}
	if (r == 0)
		r = layer_store_index_add(store, m->digest,
					  tagged ? (char *[]){tagged, NULL} : NULL, err);
	if (r == 0 && tagged)
		r = layer_store_tag_set(store, tagged, m->digest, err);
	if (r == 0 && ret)
		memcpy(ret, m->digest, DIGEST_STR_LEN);
	return r;
}

static int pull_endpoint(struct layer_store *store, const struct pull_target *t,
			 const struct registry_endpoint *ep, const struct registry_opts *o,
			 char ret[DIGEST_STR_LEN], struct molt_error **err)
{
	_cleanup_(reg_session_freep) struct reg_session *s = NULL;
	int r = reg_session_open(ep, ep->repo, t->cred_host, ep->certs_dir, false, o, &s, err);
	if (r < 0)
		return molt_error_wrap(err, "pull '%s'", t->name);
	struct manifest_body m = {0};
	const char *reference = t->ref->digest ? t->ref->digest : t->ref->tag;
	r = get_manifest(s, reference, t->ref->digest, t->name, &m, err);
	if (r == 0 && is_index(m.media_type))
		r = resolve_index(s, t->name, &t->pw, &m, err);
	struct image_manifest im = {0};
	struct image_config cfg = {0};
	if (r == 0 && (r = image_manifest_parse(m.data, m.len, &im, err)) < 0)
		molt_error_wrap(err, "pull '%s'", t->name);
	if (r == 0)
		r = check_manifest(t->name, &im, err);
	if (r == 0)
		r = get_config(s, store, t->name, &im, &cfg, err);
	if (r == 0 && o->platform && cfg.architecture && strcmp(cfg.architecture, t->pw.arch))
		r = molt_error_setx(err, ENOENT,
				    "pull '%s': the image is for %s/%s, not the %s/%s "
				    "asked for",
				    t->name, cfg.os ? cfg.os : "linux", cfg.architecture, t->pw.os,
				    t->pw.arch);
	if (r == 0) {
		warn_foreign(t->name, &cfg);
		r = fetch_all(s, store, o, &im, &cfg, err);
		if (r < 0)
			molt_error_wrap(err, "pull '%s'", t->name);
	}
	for (size_t i = 0; r == 0 && i < im.n_layers; i++)
		reg_sources_add(store, im.layers[i].digest, ep->host, ep->repo);
	if (r == 0)
		r = store_image(store, t, &m, ret, err);
	image_config_done(&cfg);
	image_manifest_done(&im);
	manifest_body_done(&m);
	return r;
}

/* Which endpoints serve this pull: a mirror may be for digests or tags only. */
static bool endpoint_serves(const struct registry_endpoint *ep, const struct image_ref *ref)
{
	if (!ep->is_mirror)
		return true;
	return ref->digest ? !ep->tag_only : !ep->digest_only;
}

int registry_pull(struct layer_store *store, const char *refstr, const struct registry_opts *o,
		  char ret_digest[DIGEST_STR_LEN], struct molt_error **err)
{
	struct image_ref ref = {0};
	int r = image_ref_parse(refstr, &ref, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *name = image_ref_string(&ref);
	struct pull_target t = {.ref = &ref, .name = name, .cred_host = ref.domain};
	struct registry_host_conf hc = {0};
	r = platform_want_parse(o->platform, &t.pw, err);
	if (r == 0)
		r = registry_conf_lookup(ref.domain, ref.path, &hc, err);
	if (r == 0 && hc.blocked)
		r = molt_error_setx(err, EACCES,
				    "pull '%s': registry '%s' is blocked in "
				    "registries.conf",
				    name, ref.domain);
	struct molt_error *last = NULL;
	bool done = false;
	for (size_t i = 0; r == 0 && !done && i < hc.n_endpoints; i++) {
		const struct registry_endpoint *ep = &hc.endpoints[i];
		if (!endpoint_serves(ep, &ref))
			continue;
		molt_error_drop(&last, "registry: the next endpoint is tried");
		if (pull_endpoint(store, &t, ep, o, ret_digest, &last) == 0)
			done = true;
		else if (ep->is_mirror)
			molt_debug("registry: mirror '%s' failed: %s", ep->host, last->msg);
	}
	if (r == 0 && !done) {
		r = last ? molt_error_ret(last)
			 : molt_error_setx(err, ENOENT, "pull '%s': no registry endpoint to try",
					   name);
		if (last && err && !*err)
			*err = TAKE_PTR(last);
	}
	molt_error_free(last);
	registry_host_conf_done(&hc);
	image_ref_done(&ref);
	return r;
}
