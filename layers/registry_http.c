/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One registry endpoint over HTTP (registry_http.h): the scheme, TLS, the auth
 * challenge, retries, redirects and the bounds on what comes back. Credentials live
 * only in this file's session and in Authorization headers to the endpoint's own
 * origin (or the token realm); no message, log line or URL ever carries them.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "layers_int.h"
#include "registry_http.h"

#ifndef MOLT_VERSION
#define MOLT_VERSION "0.0.0-dev"
#endif

static long stall_seconds(void)
{
	const char *e = getenv("MOLT_REGISTRY_STALL_TIMEOUT");
	int64_t v;
	if (e && str_to_int64(e, 1, 3600, &v) == 0)
		return (long)v;
	return 30;
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
		struct curl_blob b = {
			.data = s->ca_blob, .len = s->ca_len, .flags = CURL_BLOB_NOCOPY};
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
		curl_easy_setopt(
			c, CURLOPT_INFILESIZE_LARGE,
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
char *reg_url_for_msg(const char *url)
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
	*x = (struct xfer){.q = q,
			   .resp = ret,
			   .c = c,
			   .max_body = q->max_body ? q->max_body : REG_ERROR_BODY_MAX};
	ret->content_length = -1;
	set_common(s, c, x, errbuf);
	set_method(c, q, x);
	curl_easy_setopt(c, CURLOPT_URL, url);
	struct curl_slist *h = curl_slist_append(NULL, "Expect:");
	_cleanup_free_ char *accept = q->accept ? xasprintf("Accept: %s", q->accept) : NULL;
	_cleanup_free_ char *ctype =
		q->content_type ? xasprintf("Content-Type: %s", q->content_type) : NULL;
	_cleanup_free_ char *range =
		q->range_from > 0 ? xasprintf("Range: bytes=%lld-", (long long)q->range_from)
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
	_cleanup_free_ char *where = reg_url_for_msg(url);
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
		return molt_error_setx(err, EFBIG,
				       "registry '%s': %s %s: the response is larger "
				       "than %zu bytes",
				       s->host, q->method, where,
				       ret->status >= 200 && ret->status < 300
					       ? x->max_body
					       : (size_t)REG_ERROR_BODY_MAX);
	return molt_error_setx(err, EIO, "registry '%s': %s %s: %s", s->host, q->method, where,
			       *errbuf ? errbuf : curl_easy_strerror(cr));
}

int reg_exchange(struct reg_session *s, CURL *c, const char *url, const struct reg_req *q,
		 const char *auth, struct reg_resp *ret, char **ret_www, CURLcode *ret_curl,
		 struct molt_error **err)
{
	struct xfer x;
	int r = exchange(s, c, url, q, auth, ret, &x, ret_curl, err);
	if (ret_www)
		*ret_www = TAKE_PTR(x.www_auth);
	free(x.www_auth);
	free(x.retry_after);
	return r;
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
	_cleanup_free_ char *shown = reg_url_for_msg(from);
	if (!loc)
		return molt_error_setx(err, EPROTO,
				       "registry '%s': %s %s: a redirect without a "
				       "location",
				       s->host, q->method, shown);
	_cleanup_free_ char *origin = reg_url_origin(loc);
	_cleanup_free_ char *to = reg_url_for_msg(loc);
	if (!origin)
		return molt_error_setx(err, EPROTO,
				       "registry '%s': %s %s: refused a redirect to "
				       "'%.200s' (only http and https are followed)",
				       s->host, q->method, shown, to);
	if (str_startswith(from, "https://") && str_startswith(origin, "http://") && !s->insecure)
		return molt_error_setx(err, EPROTO,
				       "registry '%s': %s %s: refused a redirect from "
				       "https to plain http ('%.200s')",
				       s->host, q->method, shown, to);
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
	_cleanup_free_ char *url =
		q->path[0] == '/' ? xasprintf("%s%s", s->base, q->path) : xstrdup(q->path);
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
		reg_free_secret(auth);
		_cleanup_free_ char *www = TAKE_PTR(x.www_auth);
		_cleanup_free_ char *retry_after = TAKE_PTR(x.retry_after);
		if (rc < 0) {
			/* A stalled server tends to stay stalled: one more try only. */
			unsigned max = cr == CURLE_OPERATION_TIMEDOUT ? 2 : REG_MAX_ATTEMPTS;
			bool again = retryable_curl(cr) && r.sunk == 0 && ++attempt < max;
			if (again) {
				molt_error_drop(&e, "registry: retrying");
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
			int ar = reg_authenticate(s, c, gen, www, err);
			if (ar < 0)
				return ar;
			continue;
		}
		if (is_redirect(r.status)) {
			reg_resp_done(&r);
			if (++redirects > REG_MAX_REDIRECTS)
				return molt_error_setx(err, ELOOP,
						       "registry '%s': %s: more than %d "
						       "redirects",
						       s->host, q->method, REG_MAX_REDIRECTS);
			int fr = follow(s, c, url, &cur, &url, err);
			if (fr < 0)
				return fr;
			if (r.status == 303)
				cur = (struct reg_req){.method = "GET",
						       .body_fd = -1,
						       .max_body = q->max_body,
						       .sink = q->sink,
						       .sink_ud = q->sink_ud,
						       .accept = q->accept,
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

int reg_get_manifest(struct reg_session *s, const char *reference, const char *accept,
		     struct reg_resp *ret, struct molt_error **err)
{
	_cleanup_free_ char *path =
		xasprintf("/v2/%s/manifests/%s", reg_session_repo(s), reference);
	struct reg_req q = {.method = "GET",
			    .path = path,
			    .accept = accept,
			    .body_fd = -1,
			    .max_body = REG_MANIFEST_MAX};
	return reg_do(s, NULL, &q, ret, err);
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
	_cleanup_free_ char *msg = sanitize(json_string_value(json_object_get(e0, "message")), 200);
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
		     : r->status == 404			  ? ENOENT
							  : EPROTO;
	if (*code || *msg)
		return molt_error_setx(err, errnum, "registry '%s': %s: %ld %s%s%s%s", s->host,
				       what, r->status, code, *code && *msg ? ": " : "", msg, hint);
	return molt_error_setx(err, errnum, "registry '%s': %s: HTTP status %ld%s", s->host, what,
			       r->status, hint);
}
