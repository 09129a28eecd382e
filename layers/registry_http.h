/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/registry_http.h: private to layers/ — one registry endpoint spoken to over
 * the distribution API (v2), shared by registry_pull.c, registry_push.c and
 * registry_login.c. registry_http.c owns the HTTP session: scheme choice, TLS files,
 * the auth challenge (basic and bearer tokens), retries, redirects and every bound on
 * what a registry may send. registry_parse.c holds the pure parsing the session needs
 * (unit-tested in tests/unit/test_registry.c).
 */
#ifndef MOLT_REGISTRY_HTTP_H
#define MOLT_REGISTRY_HTTP_H

#include "layers.h"
#include "registry_int.h"

/* Bounds on what a registry sends (a hostile one is input like a hostile tar). */
#define REG_MANIFEST_MAX (4u << 20)    /* containerd's limit for a manifest or index */
#define REG_CONFIG_MAX (16u << 20)     /* an image config blob */
#define REG_ERROR_BODY_MAX (64u << 10) /* an error or token response */
#define REG_MAX_LAYERS 1000u	       /* more is a lie or a bomb; docker caps at 128 */
#define REG_MAX_REDIRECTS 5
#define REG_MAX_ATTEMPTS 5     /* one try and four retries on 429/5xx/resets */
#define REG_RETRY_AFTER_MAX 30 /* seconds honoured of a Retry-After */

struct reg_session;
struct reg_conn; /* one connection cache (a curl handle): one per thread */

/*
 * Opens a session with one endpoint (a mirror or the registry) for repository repo on
 * it: checks GET /v2/ (choosing https, or plain http where allowed), learns the auth
 * challenge and loads credentials for cred_host (the registry host of the reference).
 * push asks for push rights in token scopes.
 */
int reg_session_open(const struct registry_endpoint *ep, const char *repo, const char *cred_host,
		     const char *certs_dir, bool push, const struct registry_opts *o,
		     struct reg_session **ret, struct molt_error **err);
/* Uses username/secret instead of stored credentials (molt login's check). */
int reg_session_open_with(const struct registry_endpoint *ep, const char *cred_host,
			  const char *certs_dir, const struct registry_cred *cred,
			  const struct registry_opts *o, struct reg_session **ret,
			  struct molt_error **err);
void reg_session_free(struct reg_session *s);
static inline void reg_session_freep(struct reg_session **s)
{
	reg_session_free(*s);
}
/* "host[:port]" of the endpoint, for messages. */
const char *reg_session_host(const struct reg_session *s);
const char *reg_session_repo(const struct reg_session *s);
/* Asks for one more token scope ("repository:other/repo:pull"): cross-repo mounts. */
void reg_session_add_scope(struct reg_session *s, const char *scope);
/* Fetches a token now when the registry wants one (molt login checks the password). */
int reg_session_authenticate(struct reg_session *s, struct molt_error **err);

struct reg_conn *reg_conn_new(struct molt_error **err);
void reg_conn_free(struct reg_conn *c);

struct reg_req {
	const char *method; /* GET, HEAD, PUT, POST, DELETE */
	const char *path;   /* "/v2/…" on the endpoint, or an absolute URL it gave (Location) */
	const char *accept;
	const char *content_type;
	const void *body; /* a request body in memory … */
	size_t body_len;
	int body_fd; /* … or a file (>= 0), sent from offset 0, body_size bytes */
	int64_t body_size;
	size_t max_body; /* bound of a 2xx body kept in memory (0: REG_ERROR_BODY_MAX) */
	/*
	 * A 2xx body streamed instead of kept: status is the response's (206 for a Range
	 * answer, 200 when the server sent everything). Returns 0 or a negative errno, with
	 * *err set, to stop the transfer.
	 */
	int (*sink)(void *ud, long status, const void *buf, size_t n, struct molt_error **err);
	void *sink_ud;
	int64_t range_from; /* > 0: ask for the bytes from there on (Range) */
};

struct reg_resp {
	long status;
	char *body; /* 2xx without a sink, or any error body (bounded); NUL-terminated */
	size_t body_len;
	char *content_type, *docker_digest, *location, *content_range;
	int64_t content_length; /* -1 when not sent */
	uint64_t sunk;		/* bytes given to the sink */
};
void reg_resp_done(struct reg_resp *r);

/*
 * One request with everything the protocol needs around it: credentials or a token
 * (fetched on a 401 challenge and tried once more), redirects (only http(s), never
 * https → http, credentials only to the endpoint's own origin), retries with backoff on
 * 429/5xx and dropped connections honouring Retry-After. A dropped connection after
 * body bytes went to the sink is not retried here (-EPIPE): the caller resumes with
 * range_from. Returns 0 with any final status in ret; c may be NULL (the session's
 * own connection, single-threaded callers only).
 */
int reg_do(struct reg_session *s, struct reg_conn *c, const struct reg_req *q, struct reg_resp *ret,
	   struct molt_error **err);
/* reg_do of GET /v2/REPO/manifests/REFERENCE asking for ACCEPT, the body bounded by
 * REG_MANIFEST_MAX: what a pull and a cache import fetch first. */
int reg_get_manifest(struct reg_session *s, const char *reference, const char *accept,
		     struct reg_resp *ret, struct molt_error **err);
/*
 * The error for an unexpected status: "registry 'HOST': WHAT: 404 Not Found (MANIFEST_
 * UNKNOWN: manifest unknown)", with the registry's own error code and message when its
 * body is the distribution API's JSON error (bounded, control characters dropped).
 */
int reg_status_error(const struct reg_session *s, const struct reg_resp *r, const char *what,
		     struct molt_error **err);

/*
 * registry_blob.c: streams blob d into the store, verified against its size and digest.
 * The bytes go to $MOLT_ROOT/registry/partial/<hex> first (flock'ed): a transfer that
 * breaks resumes with a Range request, in this process or — after a kill — the next
 * pull; a blob only enters blobs/ whole and verified.
 */
int reg_fetch_blob(struct reg_session *s, struct reg_conn *c, struct layer_store *store,
		   const struct image_descriptor *d, struct molt_error **err);

/* Where a layer blob was pulled from ("host/repo", newest first; never NULL), for
 * cross-repository mounts on push (registry_pull.c keeps the record). */
char **reg_sources_get(struct layer_store *s, const char *digest);
void reg_sources_add(struct layer_store *s, const char *digest, const char *host, const char *repo);

/* registry_push.c, for the build cache's export: one blob of the store (HEAD first,
 * then a cross-repository mount or an upload), and a manifest or index by tag. */
int reg_push_blob(struct reg_session *s, struct layer_store *store,
		  const struct image_descriptor *d, const struct registry_opts *o,
		  struct molt_error **err);
int reg_put_manifest(struct reg_session *s, const char *reference, const char *data, size_t len,
		     const char *media_type, struct molt_error **err);
/* HEAD: 1 when the repository has the blob, 0 when not. */
int reg_blob_exists(struct reg_session *s, const char *digest, struct molt_error **err);

/* ---------------------------------------------------------------- registry_parse.c */

enum reg_auth_kind { REG_AUTH_NONE, REG_AUTH_BASIC, REG_AUTH_BEARER };
struct reg_challenge {
	enum reg_auth_kind kind;
	char *realm, *service, *scope; /* NULL when absent */
};
/* Parses a WWW-Authenticate value (RFC 7235; Bearer preferred over Basic when several). */
int reg_challenge_parse(const char *header, struct reg_challenge *ret);
void reg_challenge_done(struct reg_challenge *c);
/* Seconds a Retry-After asks for (delta seconds or an HTTP date), clamped to [0, max];
 * -1 when absent or unreadable. */
int reg_retry_after(const char *value, int64_t now, int max);
/* "scheme://host[:port]" of an absolute http(s) URL, NULL otherwise. */
char *reg_url_origin(const char *url);
/* True when a token may go into a header: printable ASCII only, 1..8192 bytes. */
bool reg_token_ok(const char *t);
/* True for localhost and 127.0.0.0/8 and [::1], with or without a port. */
bool reg_host_is_loopback(const char *host);
/*
 * True when credentials may go to a token realm: one on the registry's own host (any
 * port), or on a host of the same parent domain (auth.example.com for
 * registry.example.com, as Docker Hub splits them); never an IP address or name elsewhere.
 */
bool reg_realm_trusted(const char *reg_host, const char *realm_url);
/* Percent-encodes a query value (RFC 3986 unreserved kept). */
char *reg_query_escape(const char *s);
/* Picks the manifest of an index for os/arch[/variant]; -1 when none matches. A missing
 * variant on either side matches (arm64's "v8" is the same as none). */
int reg_index_pick(const struct image_index *idx, const char *os, const char *arch,
		   const char *variant);

/* ---------------------------------------------------------------- internals
 * Shared by registry_http.c (transfers), registry_auth.c (credentials and tokens) and
 * registry_session.c (opening a session); the rest of layers/ uses the API above. */
#include <curl/curl.h>
#include <pthread.h>

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
	char *auth_header;    /* "Authorization: …" for the endpoint, NULL: anonymous */
	unsigned auth_gen;    /* bumped when auth_header changes */
	bool realm_untrusted; /* a token was asked for without the credentials */
	struct reg_conn main;
};

/* Seconds without a byte before a transfer is dropped (and retried or resumed). */

/* One HTTP exchange, no retries, redirects or auth handling: ret gets the status, the
 * headers and a bounded body; *ret_www (may be NULL) the WWW-Authenticate value. A
 * negative errno for a transport failure, *ret_curl saying which. */
int reg_exchange(struct reg_session *s, CURL *c, const char *url, const struct reg_req *q,
		 const char *auth, struct reg_resp *ret, char **ret_www, CURLcode *ret_curl,
		 struct molt_error **err);
/* A URL for messages: without its query (upload state, tokens). */
char *reg_url_for_msg(const char *url);
/* Frees a string after zeroing it. */
void reg_free_secret(char *s);
/* After a 401 with challenge www: fresh credentials or token for the session (unless
 * another thread renewed them since seen_gen). */
int reg_authenticate(struct reg_session *s, CURL *c, unsigned seen_gen, const char *www,
		     struct molt_error **err);

#endif
