/* SPDX-License-Identifier: Apache-2.0 */
/*
 * molt push: an image of the store to a registry. Each blob is first asked for (HEAD)
 * and not sent when the registry has it; a blob pulled from another repository of the
 * same registry is mounted from there (POST ?mount=&from=); the rest go up as one
 * monolithic upload each (POST, then PUT ?digest=). The manifest goes last, so the tag
 * never points at an image whose blobs are missing.
 */
#include <jansson.h>
#include <string.h>

#include "layers_int.h"
#include "registry_http.h"

static void report(const struct registry_opts *o, const struct image_descriptor *d,
		   const char *what)
{
	if (o->quiet || molt_log_level == MOLT_LOG_QUIET)
		return;
	fprintf(stderr, "Copying blob %.19s %s\n", d->digest, what);
}

/* HEAD: 1 when the registry has the blob, 0 when not. */
static int blob_exists(struct reg_session *s, const char *digest, struct molt_error **err)
{
	_cleanup_free_ char *path = xasprintf("/v2/%s/blobs/%s", reg_session_repo(s), digest);
	struct reg_resp r = {0};
	int rc = reg_do(s, NULL, &(struct reg_req){.method = "HEAD", .path = path, .body_fd = -1},
			&r, err);
	if (rc == 0)
		rc = r.status == 200 ? 1 : r.status == 404 ? 0 : reg_status_error(s, &r, path, err);
	reg_resp_done(&r);
	return rc;
}

/* An upload location the registry gave: relative to it, or http(s) without a downgrade. */
static int check_location(struct reg_session *s, const struct reg_resp *r, const char *what,
			  struct molt_error **err)
{
	if (!r->location || !*r->location)
		return molt_error_setx(err, EPROTO, "registry '%s': %s: no upload location",
				       reg_session_host(s), what);
	if (r->location[0] == '/')
		return 0;
	_cleanup_free_ char *origin = reg_url_origin(r->location);
	if (!origin)
		return molt_error_setx(err, EPROTO,
				       "registry '%s': %s: the upload location is "
				       "not an http(s) URL",
				       reg_session_host(s), what);
	if (str_startswith(s->base, "https://") && str_startswith(origin, "http://") &&
	    !s->insecure)
		return molt_error_setx(err, EPROTO,
				       "registry '%s': %s: refused an upload location on plain "
				       "http for an https registry",
				       reg_session_host(s), what);
	return 0;
}

/* POST …/uploads/ (with a mount when from is set): 1 mounted, 0 upload started, 2 the
 * mount was refused for want of rights on the source. */
static int upload_start(struct reg_session *s, const char *digest, const char *from,
			char **ret_location, struct molt_error **err)
{
	_cleanup_free_ char *path = NULL;
	if (from) {
		_cleanup_free_ char *d = reg_query_escape(digest);
		_cleanup_free_ char *f = reg_query_escape(from);
		path = xasprintf("/v2/%s/blobs/uploads/?mount=%s&from=%s", reg_session_repo(s), d,
				 f);
	} else {
		path = xasprintf("/v2/%s/blobs/uploads/", reg_session_repo(s));
	}
	struct reg_resp r = {0};
	int rc = reg_do(s, NULL, &(struct reg_req){.method = "POST", .path = path, .body_fd = -1},
			&r, err);
	_cleanup_free_ char *what = xasprintf("start the upload of %s", digest);
	if (rc == 0 && from && r.status == 201)
		rc = 1;
	else if (rc == 0 && from && (r.status == 401 || r.status == 403))
		rc = 2; /* no read access to the source: upload it instead */
	else if (rc == 0 && r.status != 202)
		rc = reg_status_error(s, &r, what, err);
	else if (rc == 0 && (rc = check_location(s, &r, what, err)) == 0)
		*ret_location = TAKE_PTR(r.location);
	reg_resp_done(&r);
	return rc;
}

static int upload_put(struct reg_session *s, struct layer_store *store, const char *location,
		      const struct image_descriptor *d, struct molt_error **err)
{
	_cleanup_close_ int fd = -1;
	int64_t size = 0;
	int rc = layer_store_blob_open(store, d->digest, false, &fd, &size, err);
	if (rc < 0)
		return rc;
	_cleanup_free_ char *dig = reg_query_escape(d->digest);
	_cleanup_free_ char *url =
		xasprintf("%s%cdigest=%s", location, strchr(location, '?') ? '&' : '?', dig);
	struct reg_req q = {.method = "PUT",
			    .path = url,
			    .body_fd = fd,
			    .body_size = size,
			    .content_type = "application/octet-stream"};
	struct reg_resp r = {0};
	rc = reg_do(s, NULL, &q, &r, err);
	_cleanup_free_ char *what = xasprintf("upload %s", d->digest);
	if (rc == 0 && r.status != 201 && r.status != 204)
		rc = reg_status_error(s, &r, what, err);
	reg_resp_done(&r);
	return rc;
}

/* A source repository on this registry the blob can be mounted from, or NULL. */
static char *mount_source(struct reg_session *s, struct layer_store *store, const char *digest)
{
	_cleanup_strv_ char **v = reg_sources_get(store, digest);
	size_t hl = strlen(reg_session_host(s));
	for (size_t i = 0; v[i]; i++)
		if (!strncmp(v[i], reg_session_host(s), hl) && v[i][hl] == '/' &&
		    strcmp(v[i] + hl + 1, reg_session_repo(s)))
			return xstrdup(v[i] + hl + 1);
	return NULL;
}

static int push_blob(struct reg_session *s, struct layer_store *store,
		     const struct image_descriptor *d, const struct registry_opts *o,
		     struct molt_error **err)
{
	int rc = blob_exists(s, d->digest, err);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		report(o, d, "skipped: already exists");
		return 0;
	}
	_cleanup_free_ char *from = mount_source(s, store, d->digest);
	_cleanup_free_ char *location = NULL;
	if (from) {
		_cleanup_free_ char *scope = xasprintf("repository:%s:pull", from);
		reg_session_add_scope(s, scope);
	}
	rc = upload_start(s, d->digest, from, &location, err);
	if (rc == 2) {
		molt_debug("registry: cannot mount %s from %s, uploading it", d->digest, from);
		rc = upload_start(s, d->digest, NULL, &location, err);
	}
	if (rc == 1) {
		_cleanup_free_ char *what = xasprintf("mounted from %s", from);
		report(o, d, what);
		return 0;
	}
	if (rc == 0)
		rc = upload_put(s, store, location, d, err);
	if (rc == 0)
		report(o, d, "done");
	return rc;
}

static int put_manifest(struct reg_session *s, const char *reference, const char *data, size_t len,
			const char *media_type, const char *digest, struct molt_error **err)
{
	_cleanup_free_ char *path =
		xasprintf("/v2/%s/manifests/%s", reg_session_repo(s), reference);
	struct reg_req q = {.method = "PUT",
			    .path = path,
			    .body = data,
			    .body_len = len,
			    .body_fd = -1,
			    .content_type = media_type};
	struct reg_resp r = {0};
	int rc = reg_do(s, NULL, &q, &r, err);
	if (rc == 0 && r.status != 201 && r.status != 200)
		rc = reg_status_error(s, &r, "put the manifest", err);
	else if (rc == 0 && r.docker_digest && strcmp(r.docker_digest, digest))
		rc = molt_error_setx(err, EPROTO,
				     "registry '%s': stored the manifest as %.80s, "
				     "not %s",
				     reg_session_host(s), r.docker_digest, digest);
	reg_resp_done(&r);
	return rc;
}

/* As push_blob, and remembers that the repository has it: a later push of the same
 * layer elsewhere on this registry (the build cache, another image) mounts it. */
int reg_push_blob(struct reg_session *s, struct layer_store *store,
		  const struct image_descriptor *d, const struct registry_opts *o,
		  struct molt_error **err)
{
	int r = push_blob(s, store, d, o, err);
	if (r == 0)
		reg_sources_add(store, d->digest, reg_session_host(s), reg_session_repo(s));
	return r;
}

int reg_blob_exists(struct reg_session *s, const char *digest, struct molt_error **err)
{
	return blob_exists(s, digest, err);
}

int reg_put_manifest(struct reg_session *s, const char *reference, const char *data, size_t len,
		     const char *media_type, struct molt_error **err)
{
	char digest[DIGEST_STR_LEN];
	digest_buffer(data, len, digest);
	return put_manifest(s, reference, data, len, media_type, digest, err);
}

static char *manifest_media_type(const struct image *img, const char *data, size_t len)
{
	if (img->manifest.media_type && *img->manifest.media_type)
		return xstrdup(img->manifest.media_type);
	json_t *j = json_loadb(data, len, 0, NULL);
	const char *mt = json_string_value(json_object_get(j, "mediaType"));
	char *out = xstrdup(mt ? mt : MEDIA_OCI_MANIFEST);
	json_decref(j);
	return out;
}

static int push_to(struct layer_store *store, const struct image *img, const struct image_ref *ref,
		   const char *name, const struct registry_endpoint *ep,
		   const struct registry_opts *o, char ret_digest[DIGEST_STR_LEN],
		   struct molt_error **err)
{
	_cleanup_(reg_session_freep) struct reg_session *s = NULL;
	int r = reg_session_open(ep, ep->repo, ref->domain, ep->certs_dir, true, o, &s, err);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (r == 0)
		r = layer_store_blob_read(store, img->manifest_digest, REG_MANIFEST_MAX, &data,
					  &len, err);
	for (size_t i = 0; r == 0 && i < img->manifest.n_layers; i++)
		r = reg_push_blob(s, store, &img->manifest.layers[i], o, err);
	if (r == 0)
		r = push_blob(s, store, &img->manifest.config, o, err);
	_cleanup_free_ char *mt = r == 0 ? manifest_media_type(img, data, len) : NULL;
	if (r == 0)
		r = put_manifest(s, ref->tag ? ref->tag : img->manifest_digest, data, len, mt,
				 img->manifest_digest, err);
	if (r < 0)
		return molt_error_wrap(err, "push '%s'", name);
	if (ret_digest)
		memcpy(ret_digest, img->manifest_digest, DIGEST_STR_LEN);
	return 0;
}

int registry_push(struct layer_store *store, const struct image *img, const char *refstr,
		  const struct registry_opts *o, char ret_digest[DIGEST_STR_LEN],
		  struct molt_error **err)
{
	struct image_ref ref = {0};
	int r = image_ref_parse(refstr, &ref, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *name = image_ref_string(&ref);
	if (ref.digest && strcmp(ref.digest, img->manifest_digest))
		r = molt_error_setx(err, EINVAL,
				    "push '%s': the image's manifest is %s, not the "
				    "digest named",
				    name, img->manifest_digest);
	struct registry_host_conf hc = {0};
	if (r == 0)
		r = registry_conf_lookup(ref.domain, ref.path, &hc, err);
	if (r == 0 && (hc.blocked || hc.n_endpoints == 0))
		r = molt_error_setx(err, EACCES,
				    "push '%s': registry '%s' is blocked in "
				    "registries.conf",
				    name, ref.domain);
	/* Never to a mirror: they serve pulls. The registry itself is the last endpoint. */
	if (r == 0)
		r = push_to(store, img, &ref, name, &hc.endpoints[hc.n_endpoints - 1], o,
			    ret_digest, err);
	registry_host_conf_done(&hc);
	image_ref_done(&ref);
	return r;
}
