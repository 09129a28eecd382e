/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credentials on the wire (registry_http.h): basic auth, and the bearer token flow —
 * the realm of a 401 challenge asked for a token covering the session's scopes. The
 * password goes only to the registry's own origin and to a realm on its host or parent
 * domain; it is zeroed when freed and never put into a message.
 */
#include <jansson.h>
#include <string.h>

#include "layers_int.h"
#include "registry_http.h"

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

void reg_free_secret(char *s)
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
		return molt_error_setx(err, EPROTO,
				       "registry '%s': the bearer challenge names "
				       "no token realm",
				       s->host);
	_cleanup_free_ char *shown = reg_url_for_msg(s->chal.realm);
	_cleanup_free_ char *origin = reg_url_origin(s->chal.realm);
	if (!origin || strlen(s->chal.realm) > 2048)
		return molt_error_setx(err, EPROTO,
				       "registry '%s': the token realm '%.200s' is "
				       "not an http(s) URL",
				       s->host, shown);
	if (str_startswith(s->base, "https://") && str_startswith(origin, "http://") &&
	    !s->insecure)
		return molt_error_setx(err, EPROTO,
				       "registry '%s': the token realm '%s' is plain "
				       "http while the registry speaks https (credentials "
				       "would travel unencrypted)",
				       s->host, shown);
	return 0;
}

static int token_from_json(const struct reg_session *s, const char *body, size_t len, char **ret,
			   struct molt_error **err)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *t = json_string_value(json_object_get(j, "token"));
	if (!t || !*t)
		t = json_string_value(json_object_get(j, "access_token"));
	int r = 0;
	if (!reg_token_ok(t))
		r = molt_error_setx(err, EPROTO,
				    "registry '%s': the token server's answer holds no "
				    "usable token",
				    s->host);
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
	if (s->cred.identity_token && s->cred.secret &&
	    !reg_realm_trusted(s->host, s->chal.realm)) {
		untrusted = true;
	} else if (s->cred.identity_token && s->cred.secret) {
		/* docker's identity token: an OAuth2 refresh token, POSTed as a form. */
		_cleanup_free_ char *rt = reg_query_escape(s->cred.secret);
		_cleanup_free_ char *svc = reg_query_escape(s->chal.service ? s->chal.service : "");
		form = xasprintf("grant_type=refresh_token&client_id=molt&service=%s&"
				 "refresh_token=%s",
				 svc, rt);
		explicit_bzero(rt, strlen(rt));
		q = (struct reg_req){.method = "POST",
				     .body = form,
				     .body_len = strlen(form),
				     .content_type = "application/x-www-form-urlencoded",
				     .body_fd = -1,
				     .max_body = 1u << 20};
	} else if (reg_realm_trusted(s->host, s->chal.realm)) {
		auth = basic_header(&s->cred);
	} else if (s->cred.secret) {
		/* Anonymously, then: a public image still pulls. */
		molt_debug("registry: '%s': the token realm is on another host, credentials are "
			   "not sent to it",
			   s->host);
		untrusted = true;
	}
	struct reg_resp resp = {0};
	CURLcode cr;
	r = reg_exchange(s, c, url, &q, auth, &resp, NULL, &cr, err);
	reg_free_secret(auth);
	reg_free_secret(form);
	if (r == 0 && (resp.status == 401 || resp.status == 403))
		r = molt_error_setx(err, EACCES,
				    "registry '%s': the token server refused the %s "
				    "(%ld)",
				    s->host, s->cred.secret ? "credentials" : "anonymous request",
				    resp.status);
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
		_cleanup_free_ char *shown = reg_url_for_msg(s->chal.realm);
		molt_error_wrap(err,
				"the token realm '%.200s' is on another host than the "
				"registry, so molt did not send it the credentials",
				shown);
	}
	if (resp.body)
		explicit_bzero(resp.body, resp.body_len);
	reg_resp_done(&resp);
	return r;
}

/* A 401 answered: new challenge parameters (and scope) from it, then new auth. */
int reg_authenticate(struct reg_session *s, CURL *c, unsigned seen_gen, const char *www,
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
		r = molt_error_setx(err, EACCES,
				    "registry '%s': authentication required (log in "
				    "with 'molt login %s')",
				    s->host, s->host);
	else if (s->chal.kind == REG_AUTH_NONE)
		r = molt_error_setx(err, EPROTO,
				    "registry '%s': asks for an authentication scheme "
				    "molt does not speak",
				    s->host);
	if (r == 0) {
		reg_free_secret(s->auth_header);
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
	return reg_authenticate(s, s->main.c, s->auth_gen, NULL, err);
}
