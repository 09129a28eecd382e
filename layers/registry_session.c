/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opening a session with one registry endpoint (registry_http.h): the TLS files of
 * certs.d, the credentials, and the scheme — https, or plain http where the user allowed
 * it or the registry is on this machine and does not speak TLS at all.
 */
#include <dirent.h>
#include <string.h>

#include "layers_int.h"
#include "registry_http.h"

struct reg_conn *reg_conn_new(struct molt_error **err)
{
	CURL *c = curl_easy_init();
	if (!c) {
		molt_error_setx(err, ELIBACC, "%s", lazy_curl_failure() ?: "cannot start libcurl");
		return NULL;
	}
	struct reg_conn *rc = xcalloc(1, sizeof(*rc));
	rc->c = c;
	return rc;
}

void reg_conn_free(struct reg_conn *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->c);
	free(c);
}

const char *reg_session_host(const struct reg_session *s)
{
	return s->host;
}

const char *reg_session_repo(const struct reg_session *s)
{
	return s->repo;
}

/*
 * certs.d: *.crt files are CAs added to the system's (curl's default bundle), *.cert +
 * *.key a client certificate. curl takes one CA bundle, so both go into one blob.
 */
static int load_certs(struct reg_session *s, const char *dir, struct molt_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d)
		return molt_error_set(err, errno, "open the certificate directory '%s'", dir);
	struct strbuf ca = STRBUF_INIT;
	char *sys = NULL;
	curl_easy_getinfo(s->main.c, CURLINFO_CAINFO, &sys);
	char *data = NULL;
	size_t len = 0;
	if (sys && read_file(sys, 64u << 20, &data, &len, NULL) == 0) {
		strbuf_add(&ca, data, len);
		strbuf_addc(&ca, '\n');
		free(data);
	}
	_cleanup_strv_ char **names = NULL;
	int r = dir_list_sorted(dirfd(d), &names);
	if (r < 0) {
		strbuf_done(&ca);
		return molt_error_set(err, -r, "read the certificate directory '%s'", dir);
	}
	for (size_t i = 0; r == 0 && names[i]; i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, names[i]);
		if (str_endswith(names[i], ".crt")) {
			r = read_file(path, 1u << 20, &data, &len, err);
			if (r == 0) {
				strbuf_add(&ca, data, len);
				strbuf_addc(&ca, '\n');
				free(data);
			}
		} else if (str_endswith(names[i], ".cert") && !s->client_cert) {
			size_t n = strlen(path) - strlen(".cert");
			_cleanup_free_ char *key = xasprintf("%.*s.key", (int)n, path);
			if (access(key, R_OK) < 0) {
				r = molt_error_setx(err, ENOENT, "certificate '%s' has no key '%s'",
						    path, key);
			} else {
				s->client_cert = TAKE_PTR(path);
				s->client_key = TAKE_PTR(key);
			}
		}
	}
	s->ca_len = ca.len;
	s->ca_blob = strbuf_detach(&ca);
	return r;
}

/* GET /v2/: is it a registry, does it want auth? *ret_curl for the scheme fallback. */
static int ping(struct reg_session *s, CURLcode *ret_curl, struct molt_error **err)
{
	_cleanup_free_ char *url = xasprintf("%s/v2/", s->base);
	struct reg_req q = {.method = "GET", .body_fd = -1};
	struct reg_resp r = {0};
	_cleanup_free_ char *www = NULL;
	int rc = reg_exchange(s, s->main.c, url, &q, NULL, &r, &www, ret_curl, err);
	if (rc == 0 && r.status == 401) {
		if (reg_challenge_parse(www, &s->chal) < 0)
			rc = molt_error_setx(err, EPROTO,
					     "registry '%s': asks for an "
					     "authentication scheme molt does not "
					     "speak",
					     s->host);
	} else if (rc == 0 && r.status != 200) {
		rc = molt_error_setx(err, EPROTO,
				     "'%s' does not answer as an OCI registry (GET "
				     "%s gave HTTP status %ld)",
				     s->host, url, r.status);
	}
	reg_resp_done(&r);
	return rc;
}

/*
 * https first. Plain http only where allowed: --tls-verify=false, an insecure
 * registries.conf entry, or (as docker does) a loopback host — and only when the
 * server does not speak TLS at all: a certificate that fails verification is an
 * error, never a reason to drop encryption.
 */
static int choose_scheme(struct reg_session *s, const struct registry_endpoint *ep,
			 struct molt_error **err)
{
	s->base = xasprintf("https://%s", ep->host);
	s->origin = reg_url_origin(s->base);
	if (!s->origin)
		return molt_error_setx(err, EINVAL, "registry '%s': not a host name", ep->host);
	CURLcode cr = CURLE_OK;
	struct molt_error *e = NULL;
	int r = ping(s, &cr, &e);
	bool http_ok = s->insecure || reg_host_is_loopback(ep->host);
	bool no_tls = cr == CURLE_SSL_CONNECT_ERROR || cr == CURLE_RECV_ERROR ||
		      cr == CURLE_GOT_NOTHING ||
		      (s->insecure && cr != CURLE_OK && cr != CURLE_COULDNT_CONNECT &&
		       cr != CURLE_COULDNT_RESOLVE_HOST);
	if (r < 0 && http_ok && no_tls) {
		molt_debug("registry: '%s' does not speak TLS, trying plain http", s->host);
		molt_error_drop(&e, "registry: the TLS attempt");
		e = NULL;
		free(s->base);
		free(s->origin);
		s->base = xasprintf("http://%s", ep->host);
		s->origin = reg_url_origin(s->base);
		r = ping(s, &cr, &e);
	} else if (r < 0 && cr == CURLE_SSL_CONNECT_ERROR && !http_ok) {
		molt_error_drop(&e, "registry: the handshake's error, replaced by the advice");
		r = molt_error_setx(&e, EPROTO,
				    "registry '%s': the TLS handshake failed (a plain "
				    "http registry needs --tls-verify=false or "
				    "insecure = true in registries.conf)",
				    s->host);
	}
	if (r < 0 && err && !*err)
		*err = TAKE_PTR(e);
	molt_error_free(e);
	return r;
}

static int session_new(const struct registry_endpoint *ep, const char *repo, const char *certs_dir,
		       const struct registry_opts *o, struct reg_session **ret,
		       struct molt_error **err)
{
	_cleanup_(reg_session_freep) struct reg_session *s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->host = xstrdup(ep->host);
	s->repo = xstrdup(repo ? repo : "");
	s->insecure = !o->tls_verify || ep->insecure;
	s->main.c = curl_easy_init();
	if (!s->main.c)
		return molt_error_setx(err, ELIBACC, "registry '%s': %s", ep->host,
				       lazy_curl_failure() ?: "cannot start libcurl");
	int r = certs_dir ? load_certs(s, certs_dir, err) : 0;
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

int reg_session_open(const struct registry_endpoint *ep, const char *repo, const char *cred_host,
		     const char *certs_dir, bool push, const struct registry_opts *o,
		     struct reg_session **ret, struct molt_error **err)
{
	_cleanup_(reg_session_freep) struct reg_session *s = NULL;
	int r = session_new(ep, repo, certs_dir, o, &s, err);
	if (r == 0)
		r = registry_cred_lookup(cred_host, &s->cred, err);
	if (r < 0)
		return r;
	strv_push_take(&s->scopes,
		       xasprintf("repository:%s:%s", repo, push ? "pull,push" : "pull"));
	r = choose_scheme(s, ep, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

int reg_session_open_with(const struct registry_endpoint *ep, const char *cred_host,
			  const char *certs_dir, const struct registry_cred *cred,
			  const struct registry_opts *o, struct reg_session **ret,
			  struct molt_error **err)
{
	(void)cred_host;
	_cleanup_(reg_session_freep) struct reg_session *s = NULL;
	int r = session_new(ep, NULL, certs_dir, o, &s, err);
	if (r < 0)
		return r;
	s->cred.username = cred->username ? xstrdup(cred->username) : NULL;
	s->cred.secret = cred->secret ? xstrdup(cred->secret) : NULL;
	s->cred.identity_token = cred->identity_token;
	r = choose_scheme(s, ep, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

void reg_session_free(struct reg_session *s)
{
	if (!s)
		return;
	curl_easy_cleanup(s->main.c);
	free(s->host);
	free(s->repo);
	free(s->base);
	free(s->origin);
	free(s->ca_blob);
	free(s->client_cert);
	free(s->client_key);
	registry_cred_done(&s->cred);
	reg_challenge_done(&s->chal);
	strv_free(s->scopes);
	reg_free_secret(s->auth_header);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
