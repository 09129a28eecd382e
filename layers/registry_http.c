/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One registry endpoint over HTTP (registry_http.h): the scheme, TLS, the auth
 * challenge, retries, redirects and the bounds on what comes back. Credentials live
 * only in this file's session and in Authorization headers to the endpoint's own
 * origin (or the token realm); no message, log line or URL ever carries them.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "registry_http.h"

#ifndef MOLT_VERSION
#define MOLT_VERSION "0.0.0-dev"
#endif

struct reg_conn {
	CURL *c;
};

struct reg_session {
	char *host;    /* endpoint "host[:port]" */
	char *repo;    /* repository path on the endpoint */
	char *base;    /* "https://host" or "http://host" */
	char *origin;  /* reg_url_origin(base) */
	bool insecure; /* TLS not verified */
	char *ca_blob; /* system CAs + certs.d *.crt, NULL: curl's default */
	size_t ca_len;
	char *client_cert, *client_key;
	struct registry_cred cred;
	pthread_mutex_t lock; /* the fields below, shared by the pull's workers */
	struct reg_challenge chal;
	char **scopes;
	char *auth_header; /* "Authorization: …" for the endpoint, NULL: anonymous */
	unsigned auth_gen; /* bumped when auth_header changes */
	bool realm_untrusted; /* a token was asked for without the credentials */
	struct reg_conn main;
};

/* Seconds without a byte before a transfer is dropped (and retried or resumed). */
static long stall_seconds(void)
{
	const char *e = getenv("MOLT_REGISTRY_STALL_TIMEOUT");
	int64_t v;
	if (e && str_to_int64(e, 1, 3600, &v) == 0)
		return (long)v;
	return 30;
}

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

void reg_resp_done(struct reg_resp *r)
{
	free(r->body);
	free(r->content_type);
	free(r->docker_digest);
	free(r->location);
	free(r->content_range);
	*r = (struct reg_resp){0};
}

/* ------------------------------------------------------------------ one transfer */

struct xfer {
	const struct reg_req *q;
	struct reg_resp *resp;
	CURL *c;
	struct strbuf body;
	size_t max_body;
	struct molt_error *sink_err;
	bool too_big;
	char *www_auth, *retry_after;
	int64_t sent; /* request body offset */
};

static void xfer_reset_headers(struct xfer *x)
{
	struct reg_resp *r = x->resp;
	free(r->content_type);
	free(r->docker_digest);
	free(r->location);
	free(r->content_range);
	r->content_type = r->docker_digest = r->location = r->content_range = NULL;
	r->content_length = -1;
	free(x->www_auth);
	free(x->retry_after);
	x->www_auth = x->retry_after = NULL;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
		xfer_reset_headers(x); /* a new response (after a 100 Continue, say) */
		return len;
	}
	const char *colon = memchr(p, ':', len);
	if (!colon || len > 16384)
		return len;
	size_t kn = (size_t)(colon - p);
	const char *v = colon + 1;
	while (v < p + len && (*v == ' ' || *v == '\t'))
		v++;
	const char *e = p + len;
	while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
		e--;
	char *val = xstrndup(v, (size_t)(e - v));
	char **slot = NULL;
#define IS(name) (kn == strlen(name) && !strncasecmp(p, name, kn))
	if (IS("content-type"))
		slot = &x->resp->content_type;
	else if (IS("docker-content-digest"))
		slot = &x->resp->docker_digest;
	else if (IS("location"))
		slot = &x->resp->location;
	else if (IS("content-range"))
		slot = &x->resp->content_range;
	else if (IS("www-authenticate"))
		slot = &x->www_auth;
	else if (IS("retry-after"))
		slot = &x->retry_after;
	else if (IS("content-length"))
		(void)str_to_int64(val, 0, INT64_MAX, &x->resp->content_length);
#undef IS
	if (slot && !*slot)
		*slot = TAKE_PTR(val);
	free(val);
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	long status = 0;
	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &status);
	if (x->q->sink && status >= 200 && status < 300) {
		if (x->q->sink(x->q->sink_ud, status, p, len, &x->sink_err) < 0)
			return 0;
		x->resp->sunk += len;
		return len;
	}
	size_t max = status >= 200 && status < 300 ? x->max_body : REG_ERROR_BODY_MAX;
	if (x->body.len + len > max) {
		x->too_big = true;
		return 0; /* an endless or huge body stops here */
	}
	strbuf_add(&x->body, p, len);
	return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t want = size * n;
	if (x->q->body_fd >= 0) {
		int64_t left = x->q->body_size - x->sent;
		if (left <= 0)
			return 0;
		if ((int64_t)want > left)
			want = (size_t)left;
		ssize_t got = pread(x->q->body_fd, p, want, x->sent);
		if (got <= 0)
			return CURL_READFUNC_ABORT; /* a short file: never send a truncated blob */
		x->sent += got;
		return (size_t)got;
	}
	size_t left = x->q->body_len - (size_t)x->sent;
	if (want > left)
		want = left;
	memcpy(p, (const char *)x->q->body + x->sent, want);
	x->sent += (int64_t)want;
	return want;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
	struct xfer *x = ud;
	if (origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	x->sent = off;
	return CURL_SEEKFUNC_OK;
}

static void set_tls(const struct reg_session *s, CURL *c)
{
	if (s->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (s->ca_blob) {
		struct curl_blob b = {.data = s->ca_blob, .len = s->ca_len, .flags = CURL_BLOB_NOCOPY};
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
	}
	if (s->client_cert && s->client_key) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, s->client_cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, s->client_key);
	}
}

/* The options of every request: protocols, timeouts, no proxies of curl's own choosing. */
static void set_common(const struct reg_session *s, CURL *c, struct xfer *x, char *errbuf)
{
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* redirects are checked by hand */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, stall_seconds());
	curl_easy_setopt(c, CURLOPT_USERAGENT, "molt/" MOLT_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL); /* blobs are hashed as sent */
	set_tls(s, c);
}

static void set_method(CURL *c, const struct reg_req *q, struct xfer *x)
{
	bool has_body = q->body_fd >= 0 || q->body;
	if (!strcmp(q->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(q->method, "PUT") || (!strcmp(q->method, "POST") && has_body)) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, x);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, x);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)(q->body_fd >= 0 ? q->body_size : (int64_t)q->body_len));
		if (strcmp(q->method, "PUT"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	} else if (!strcmp(q->method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	} else if (strcmp(q->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	}
}

/* A URL for messages: no query (upload state, tokens) and nothing after it. */
static char *url_for_msg(const char *url)
{
	return xstrndup(url, strcspn(url, "?#"));
}

/*
 * One HTTP exchange, no retries or redirects: ret gets the status and headers.
 * Returns 0, or a negative errno for a transport failure (*ret_curl says which).
 */
static int exchange(struct reg_session *s, CURL *c, const char *url, const struct reg_req *q,
		    const char *auth, struct reg_resp *ret, struct xfer *x, CURLcode *ret_curl,
		    struct molt_error **err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_reset(c);
	*x = (struct xfer){.q = q, .resp = ret, .c = c,
			   .max_body = q->max_body ? q->max_body : REG_ERROR_BODY_MAX};
	ret->content_length = -1;
	set_common(s, c, x, errbuf);
	set_method(c, q, x);
	curl_easy_setopt(c, CURLOPT_URL, url);
	struct curl_slist *h = curl_slist_append(NULL, "Expect:");
	_cleanup_free_ char *accept = q->accept ? xasprintf("Accept: %s", q->accept) : NULL;
	_cleanup_free_ char *ctype = q->content_type ? xasprintf("Content-Type: %s",
								 q->content_type)
						     : NULL;
	_cleanup_free_ char *range = q->range_from > 0 ? xasprintf("Range: bytes=%lld-",
								   (long long)q->range_from)
						       : NULL;
	const char *extra[] = {accept, ctype, range, auth};
	for (size_t i = 0; i < ARRAY_SIZE(extra); i++)
		if (extra[i])
			h = curl_slist_append(h, extra[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	CURLcode cr = curl_easy_perform(c);
	curl_slist_free_all(h);
	*ret_curl = cr;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
	ret->body = strbuf_detach(&x->body);
	ret->body_len = strlen(ret->body);
	_cleanup_free_ char *where = url_for_msg(url);
	molt_debug("registry: %s %s: %ld (%s)", q->method, where, ret->status,
		   cr == CURLE_OK ? "ok" : curl_easy_strerror(cr));
	if (cr == CURLE_OK)
		return 0;
	if (x->sink_err) {
		int r = molt_error_ret(x->sink_err);
		if (err && !*err)
			*err = TAKE_PTR(x->sink_err);
		molt_error_free(x->sink_err);
		return r;
	}
	if (x->too_big)
		return molt_error_setx(err, EFBIG, "registry '%s': %s %s: the response is larger "
					      "than %zu bytes", s->host, q->method, where,
				       ret->status >= 200 && ret->status < 300 ? x->max_body
										: (size_t)REG_ERROR_BODY_MAX);
	return molt_error_setx(err, EIO, "registry '%s': %s %s: %s", s->host, q->method, where,
			       *errbuf ? errbuf : curl_easy_strerror(cr));
}

/* ------------------------------------------------------------------ auth */

static char *basic_header(const struct registry_cred *c)
{
	if (!c->username || !c->secret || c->identity_token)
		return NULL;
	_cleanup_free_ char *up = xasprintf("%s:%s", c->username, c->secret);
	_cleanup_free_ char *b = base64_encode(up, strlen(up));
	explicit_bzero(up, strlen(up));
	char *h = xasprintf("Authorization: Basic %s", b);
	explicit_bzero(b, strlen(b));
	return h;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* The token request's URL: realm ? service & scope…, each value escaped. */
static char *token_url(const struct reg_session *s)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_adds(&sb, s->chal.realm);
	char sep = strchr(s->chal.realm, '?') ? '&' : '?';
	if (s->chal.service) {
		_cleanup_free_ char *v = reg_query_escape(s->chal.service);
		strbuf_addf(&sb, "%cservice=%s", sep, v);
		sep = '&';
	}
	for (size_t i = 0; s->scopes && s->scopes[i]; i++) {
		_cleanup_free_ char *v = reg_query_escape(s->scopes[i]);
		strbuf_addf(&sb, "%cscope=%s", sep, v);
		sep = '&';
	}
	return strbuf_detach(&sb);
}

/* The realm is where credentials go: only http(s), and never plain http for an https
 * registry (docker would send the password in clear to wherever the challenge says). */
static int check_realm(const struct reg_session *s, struct molt_error **err)
{
	if (!s->chal.realm)
		return molt_error_setx(err, EPROTO, "registry '%s': the bearer challenge names "
					      "no token realm", s->host);
	_cleanup_free_ char *shown = url_for_msg(s->chal.realm);
	_cleanup_free_ char *origin = reg_url_origin(s->chal.realm);
	if (!origin || strlen(s->chal.realm) > 2048)
		return molt_error_setx(err, EPROTO, "registry '%s': the token realm '%.200s' is "
					      "not an http(s) URL", s->host, shown);
	if (str_startswith(s->base, "https://") && str_startswith(origin, "http://") &&
	    !s->insecure)
		return molt_error_setx(err, EPROTO, "registry '%s': the token realm '%s' is plain "
					      "http while the registry speaks https (credentials "
					      "would travel unencrypted)", s->host, shown);
	return 0;
}

static int token_from_json(const struct reg_session *s, const char *body, size_t len,
			   char **ret, struct molt_error **err)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *t = json_string_value(json_object_get(j, "token"));
	if (!t || !*t)
		t = json_string_value(json_object_get(j, "access_token"));
	int r = 0;
	if (!reg_token_ok(t))
		r = molt_error_setx(err, EPROTO, "registry '%s': the token server's answer holds no "
					 "usable token", s->host);
	else
		*ret = xasprintf("Authorization: Bearer %s", t);
	json_decref(j);
	return r;
}

static int fetch_token(struct reg_session *s, CURL *c, char **ret, struct molt_error **err)
{
	int r = check_realm(s, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *url = token_url(s);
	char *auth = NULL, *form = NULL;
	bool untrusted = false;
	struct reg_req q = {.method = "GET", .body_fd = -1, .max_body = 1u << 20};
	if (s->cred.identity_token && s->cred.secret && !reg_realm_trusted(s->host, s->chal.realm)) {
		untrusted = true;
	} else if (s->cred.identity_token && s->cred.secret) {
		/* docker's identity token: an OAuth2 refresh token, POSTed as a form. */
		_cleanup_free_ char *rt = reg_query_escape(s->cred.secret);
		_cleanup_free_ char *svc = reg_query_escape(s->chal.service ? s->chal.service : "");
		form = xasprintf("grant_type=refresh_token&client_id=molt&service=%s&"
				 "refresh_token=%s", svc, rt);
		explicit_bzero(rt, strlen(rt));
		q = (struct reg_req){.method = "POST", .body = form, .body_len = strlen(form),
				     .content_type = "application/x-www-form-urlencoded",
				     .body_fd = -1, .max_body = 1u << 20};
	} else if (reg_realm_trusted(s->host, s->chal.realm)) {
		auth = basic_header(&s->cred);
	} else if (s->cred.secret) {
		/* Anonymously, then: a public image still pulls. */
		molt_debug("registry: '%s': the token realm is on another host, credentials are "
			   "not sent to it", s->host);
		untrusted = true;
	}
	struct reg_resp resp = {0};
	struct xfer x;
	CURLcode cr;
	r = exchange(s, c, url, &q, auth, &resp, &x, &cr, err);
	free_secret(auth);
	free_secret(form);
	free(x.www_auth);
	free(x.retry_after);
	if (r == 0 && (resp.status == 401 || resp.status == 403))
		r = molt_error_setx(err, EACCES, "registry '%s': the token server refused the %s "
					 "(%ld)", s->host,
				    s->cred.secret ? "credentials" : "anonymous request", resp.status);
	else if (r == 0 && resp.status != 200)
		r = molt_error_setx(err, EPROTO, "registry '%s': the token server answered %ld%s",
				    s->host, resp.status,
				    resp.status >= 300 && resp.status < 400 ? " (a redirect, not "
									      "followed)"
									    : "");
	if (r == 0)
		r = token_from_json(s, resp.body, resp.body_len, ret, err);
	if (untrusted)
		s->realm_untrusted = true;
	if (r < 0 && untrusted) {
		_cleanup_free_ char *shown = url_for_msg(s->chal.realm);
		molt_error_wrap(err, "the token realm '%.200s' is on another host than the "
				     "registry, so molt did not send it the credentials", shown);
	}
	if (resp.body)
		explicit_bzero(resp.body, resp.body_len);
	reg_resp_done(&resp);
	return r;
}

/* A 401 answered: new challenge parameters (and scope) from it, then new auth. */
static int authenticate(struct reg_session *s, CURL *c, unsigned seen_gen, const char *www,
			struct molt_error **err)
{
	pthread_mutex_lock(&s->lock);
	int r = 0;
	if (s->auth_gen != seen_gen)
		goto out; /* another worker refreshed it meanwhile */
	struct reg_challenge ch = {0};
	if (www && reg_challenge_parse(www, &ch) == 0) {
		if (ch.scope && !strv_contains(s->scopes, ch.scope))
			strv_push(&s->scopes, ch.scope);
		reg_challenge_done(&s->chal);
		s->chal = ch;
	} else {
		reg_challenge_done(&ch);
	}
	char *h = NULL;
	if (s->chal.kind == REG_AUTH_BEARER)
		r = fetch_token(s, c, &h, err);
	else if (s->chal.kind == REG_AUTH_BASIC && !(h = basic_header(&s->cred)))
		r = molt_error_setx(err, EACCES, "registry '%s': authentication required (log in "
					 "with 'molt login %s')", s->host, s->host);
	else if (s->chal.kind == REG_AUTH_NONE)
		r = molt_error_setx(err, EPROTO, "registry '%s': asks for an authentication scheme "
					 "molt does not speak", s->host);
	if (r == 0) {
		free_secret(s->auth_header);
		s->auth_header = h;
		s->auth_gen++;
	}
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

void reg_session_add_scope(struct reg_session *s, const char *scope)
{
	pthread_mutex_lock(&s->lock);
	if (!strv_contains(s->scopes, scope))
		strv_push(&s->scopes, scope);
	pthread_mutex_unlock(&s->lock);
}

int reg_session_authenticate(struct reg_session *s, struct molt_error **err)
{
	if (s->chal.kind == REG_AUTH_NONE)
		return 0;
	return authenticate(s, s->main.c, s->auth_gen, NULL, err);
}

/* ------------------------------------------------------------------ requests */

static bool retryable_curl(CURLcode cr)
{
	switch (cr) {
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static bool retryable_status(long st)
{
	return st == 429 || st == 500 || st == 502 || st == 503 || st == 504;
}

static void backoff(unsigned attempt, int retry_after)
{
	long ms = retry_after >= 0 ? retry_after * 1000L : 250L << (attempt < 5 ? attempt : 5);
	if (retry_after < 0 && ms > 4000)
		ms = 4000;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool is_redirect(long st)
{
	return st == 301 || st == 302 || st == 303 || st == 307 || st == 308;
}

/* Where a redirect may go: http(s) only, never from https down to http. */
static int follow(struct reg_session *s, CURL *c, const char *from, const struct reg_req *q,
		  char **url, struct molt_error **err)
{
	char *loc = NULL;
	curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
	_cleanup_free_ char *shown = url_for_msg(from);
	if (!loc)
		return molt_error_setx(err, EPROTO, "registry '%s': %s %s: a redirect without a "
					      "location", s->host, q->method, shown);
	_cleanup_free_ char *origin = reg_url_origin(loc);
	_cleanup_free_ char *to = url_for_msg(loc);
	if (!origin)
		return molt_error_setx(err, EPROTO, "registry '%s': %s %s: refused a redirect to "
					      "'%.200s' (only http and https are followed)", s->host,
				       q->method, shown, to);
	if (str_startswith(from, "https://") && str_startswith(origin, "http://") && !s->insecure)
		return molt_error_setx(err, EPROTO, "registry '%s': %s %s: refused a redirect from "
					      "https to plain http ('%.200s')", s->host, q->method,
				       shown, to);
	free(*url);
	*url = xstrdup(loc);
	return 0;
}

/* The Authorization header for url: only to the endpoint's own origin. */
static char *auth_for(struct reg_session *s, const char *url, unsigned *ret_gen)
{
	_cleanup_free_ char *origin = reg_url_origin(url);
	pthread_mutex_lock(&s->lock);
	*ret_gen = s->auth_gen;
	char *h = origin && !strcmp(origin, s->origin) && s->auth_header ? xstrdup(s->auth_header)
									: NULL;
	pthread_mutex_unlock(&s->lock);
	return h;
}

int reg_do(struct reg_session *s, struct reg_conn *conn, const struct reg_req *q,
	   struct reg_resp *ret, struct molt_error **err)
{
	CURL *c = conn ? conn->c : s->main.c;
	_cleanup_free_ char *url = q->path[0] == '/' ? xasprintf("%s%s", s->base, q->path)
						     : xstrdup(q->path);
	struct reg_req cur = *q;
	bool authed = false;
	unsigned redirects = 0, attempt = 0;
	for (;;) {
		unsigned gen;
		char *auth = auth_for(s, url, &gen);
		struct reg_resp r = {0};
		struct xfer x;
		CURLcode cr;
		struct molt_error *e = NULL;
		int rc = exchange(s, c, url, &cur, auth, &r, &x, &cr, &e);
		free_secret(auth);
		_cleanup_free_ char *www = TAKE_PTR(x.www_auth);
		_cleanup_free_ char *retry_after = TAKE_PTR(x.retry_after);
		if (rc < 0) {
			/* A stalled server tends to stay stalled: one more try only. */
			unsigned max = cr == CURLE_OPERATION_TIMEDOUT ? 2 : REG_MAX_ATTEMPTS;
			bool again = retryable_curl(cr) && r.sunk == 0 && ++attempt < max;
			if (again) {
				molt_debug("registry: %s, retrying", e ? e->msg : "");
				molt_error_free(e);
				reg_resp_done(&r);
				backoff(attempt, -1);
				continue;
			}
			if (err && !*err)
				*err = e;
			else
				molt_error_free(e);
			bool resumable = retryable_curl(cr) && r.sunk > 0;
			reg_resp_done(&r);
			return resumable ? -EPIPE : rc;
		}
		if (r.status == 401 && !authed && www) {
			authed = true;
			reg_resp_done(&r);
			int ar = authenticate(s, c, gen, www, err);
			if (ar < 0)
				return ar;
			continue;
		}
		if (is_redirect(r.status)) {
			reg_resp_done(&r);
			if (++redirects > REG_MAX_REDIRECTS)
				return molt_error_setx(err, ELOOP, "registry '%s': %s: more than %d "
								   "redirects", s->host, q->method,
						       REG_MAX_REDIRECTS);
			int fr = follow(s, c, url, &cur, &url, err);
			if (fr < 0)
				return fr;
			if (r.status == 303)
				cur = (struct reg_req){.method = "GET", .body_fd = -1,
						       .max_body = q->max_body, .sink = q->sink,
						       .sink_ud = q->sink_ud, .accept = q->accept,
						       .range_from = q->range_from};
			continue;
		}
		if (retryable_status(r.status) && ++attempt < REG_MAX_ATTEMPTS) {
			molt_debug("registry: '%s' answered %ld, retrying", s->host, r.status);
			reg_resp_done(&r);
			backoff(attempt, reg_retry_after(retry_after, (int64_t)time(NULL),
							 REG_RETRY_AFTER_MAX));
			continue;
		}
		*ret = r;
		return 0;
	}
}

/* Printable ASCII of at most n bytes: a registry's words go into our messages. */
static char *sanitize(const char *s, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; s && s[i] && i < n; i++)
		strbuf_addc(&sb, s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
	return strbuf_detach(&sb);
}

int reg_status_error(const struct reg_session *s, const struct reg_resp *r, const char *what,
		     struct molt_error **err)
{
	json_t *j = r->body ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
	json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
	_cleanup_free_ char *code = sanitize(json_string_value(json_object_get(e0, "code")), 64);
	_cleanup_free_ char *msg = sanitize(json_string_value(json_object_get(e0, "message")),
					    200);
	json_decref(j);
	const char *hint = r->status == 401 && s->realm_untrusted
				   ? " (the token realm is on another host than the registry: "
				     "molt did not send it the credentials)"
			   : r->status == 401 ? " (authentication required or refused; "
						"log in with 'molt login')"
			   : r->status == 403 ? " (access denied)"
			   : r->status == 404 ? " (not found)"
					      : "";
	int errnum = r->status == 401 || r->status == 403 ? EACCES
		     : r->status == 404			 ? ENOENT
							 : EPROTO;
	if (*code || *msg)
		return molt_error_setx(err, errnum, "registry '%s': %s: %ld %s%s%s%s", s->host,
				       what, r->status, code, *code && *msg ? ": " : "", msg, hint);
	return molt_error_setx(err, errnum, "registry '%s': %s: HTTP status %ld%s", s->host, what,
			       r->status, hint);
}

/* ------------------------------------------------------------------ the session */

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
	struct xfer x;
	int rc = exchange(s, s->main.c, url, &q, NULL, &r, &x, ret_curl, err);
	_cleanup_free_ char *www = TAKE_PTR(x.www_auth);
	free(x.retry_after);
	if (rc == 0 && r.status == 401) {
		if (reg_challenge_parse(www, &s->chal) < 0)
			rc = molt_error_setx(err, EPROTO, "registry '%s': asks for an "
							  "authentication scheme molt does not "
							  "speak", s->host);
	} else if (rc == 0 && r.status != 200) {
		rc = molt_error_setx(err, EPROTO, "'%s' does not answer as an OCI registry (GET "
						  "%s gave HTTP status %ld)", s->host, url, r.status);
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
		      cr == CURLE_GOT_NOTHING || (s->insecure && cr != CURLE_OK &&
						  cr != CURLE_COULDNT_CONNECT &&
						  cr != CURLE_COULDNT_RESOLVE_HOST);
	if (r < 0 && http_ok && no_tls) {
		molt_debug("registry: '%s' does not speak TLS, trying plain http", s->host);
		molt_error_free(e);
		e = NULL;
		free(s->base);
		free(s->origin);
		s->base = xasprintf("http://%s", ep->host);
		s->origin = reg_url_origin(s->base);
		r = ping(s, &cr, &e);
	} else if (r < 0 && cr == CURLE_SSL_CONNECT_ERROR && !http_ok) {
		molt_error_free(e);
		e = NULL;
		r = molt_error_setx(&e, EPROTO, "registry '%s': the TLS handshake failed (a plain "
						"http registry needs --tls-verify=false or "
						"insecure = true in registries.conf)", s->host);
	}
	if (r < 0 && err && !*err)
		*err = TAKE_PTR(e);
	molt_error_free(e);
	return r;
}

static int session_new(const struct registry_endpoint *ep, const char *repo,
		       const char *certs_dir, const struct registry_opts *o,
		       struct reg_session **ret, struct molt_error **err)
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
	strv_push_take(&s->scopes, xasprintf("repository:%s:%s", repo, push ? "pull,push" : "pull"));
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
	free_secret(s->auth_header);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
