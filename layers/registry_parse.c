/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registry client's pure parsing: auth challenges, Retry-After, URL origins, and
 * picking a platform from an index. No I/O, so tests/unit/test_registry.c covers it.
 */
#include <ctype.h>
#include <string.h>
#include <time.h>

#include "layers_int.h"
#include "registry_http.h"

void reg_challenge_done(struct reg_challenge *c)
{
	free(c->realm);
	free(c->service);
	free(c->scope);
	*c = (struct reg_challenge){0};
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* token68 / token characters of RFC 7230 (enough for scheme and parameter names). */
static bool is_tchar(char c)
{
	/* strchr finds the terminator too: NUL must not count as a token character. */
	return c && (isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~/=", c));
}

/*
 * One auth-param value at p: a token or a quoted-string (backslash escapes). Returns
 * the position after it, or NULL when malformed.
 */
static const char *param_value(const char *p, char **ret)
{
	struct strbuf sb = STRBUF_INIT;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			strbuf_addc(&sb, *p);
		}
		if (*p != '"') {
			strbuf_done(&sb);
			return NULL;
		}
		p++;
	} else {
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			strbuf_addc(&sb, *p++);
	}
	*ret = strbuf_detach(&sb);
	return p;
}

/* Parses "Scheme k=v, k=v" from p into c; returns the position of the next challenge. */
static const char *one_challenge(const char *p, struct reg_challenge *c)
{
	const char *s = p;
	while (is_tchar(*p) && *p != '=')
		p++;
	size_t n = (size_t)(p - s);
	c->kind = n == 6 && !strncasecmp(s, "bearer", 6)  ? REG_AUTH_BEARER
		  : n == 5 && !strncasecmp(s, "basic", 5) ? REG_AUTH_BASIC
							  : REG_AUTH_NONE;
	for (;;) {
		p = skip_ws(p);
		while (*p == ',')
			p = skip_ws(p + 1);
		const char *k = p;
		while (is_tchar(*p) && *p != '=')
			p++;
		size_t kn = (size_t)(p - k);
		const char *q = skip_ws(p);
		if (kn == 0 || *q != '=')
			return k; /* the next scheme, or the end */
		char *v = NULL;
		p = param_value(skip_ws(q + 1), &v);
		if (!p)
			return k + strlen(k);
		char **slot = kn == 5 && !strncasecmp(k, "realm", 5)	 ? &c->realm
			      : kn == 7 && !strncasecmp(k, "service", 7) ? &c->service
			      : kn == 5 && !strncasecmp(k, "scope", 5)	 ? &c->scope
									 : NULL;
		if (slot && !*slot)
			*slot = v;
		else
			free(v);
	}
}

int reg_challenge_parse(const char *header, struct reg_challenge *ret)
{
	struct reg_challenge best = {0};
	const char *p = header ? header : "";
	while (*(p = skip_ws(p))) {
		struct reg_challenge c = {0};
		const char *next = one_challenge(p, &c);
		if (c.kind > best.kind) {
			reg_challenge_done(&best);
			best = c;
		} else {
			reg_challenge_done(&c);
		}
		if (next == p)
			p++; /* a stray character: never loop on it */
		else
			p = next;
	}
	*ret = best;
	return best.kind == REG_AUTH_NONE ? -EINVAL : 0;
}

int reg_retry_after(const char *value, int64_t now, int max)
{
	if (!value || !*value)
		return -1;
	int64_t secs;
	if (str_to_int64(value, 0, INT64_MAX, &secs) == 0)
		return secs > max ? max : (int)secs;
	struct tm tm = {0};
	const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return -1;
	int64_t when = (int64_t)timegm(&tm);
	int64_t d = when - now;
	return d < 0 ? 0 : d > max ? max : (int)d;
}

char *reg_url_origin(const char *url)
{
	const char *p = str_startswith(url, "https://")	 ? url + 8
			: str_startswith(url, "http://") ? url + 7
							 : NULL;
	if (!p)
		return NULL;
	size_t n = strcspn(p, "/?#");
	if (n == 0 || memchr(p, '@', n)) /* userinfo in a URL is never taken from a registry */
		return NULL;
	_cleanup_free_ char *o = xstrndup(url, (size_t)(p - url) + n);
	for (char *c = o; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return TAKE_PTR(o);
}

bool reg_token_ok(const char *t)
{
	size_t n = 0;
	for (; t && t[n]; n++)
		if (t[n] < 0x21 || t[n] > 0x7e)
			return false;
	return n > 0 && n <= 8192;
}

bool reg_host_is_loopback(const char *host)
{
	if (!strncmp(host, "[::1]", 5))
		return host[5] == '\0' || host[5] == ':';
	size_t n = strcspn(host, ":");
	if (n == 9 && !strncasecmp(host, "localhost", 9))
		return true;
	if (n < 4 || strncmp(host, "127.", 4))
		return false;
	for (size_t i = 4; i < n; i++)
		if (!isdigit((unsigned char)host[i]) && host[i] != '.')
			return false;
	return true;
}

char *reg_query_escape(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || strchr("-._~", c))
			strbuf_addc(&sb, (char)c);
		else
			strbuf_addf(&sb, "%%%02X", c);
	}
	return strbuf_detach(&sb);
}

static bool variant_matches(const char *a, const char *b)
{
	if (!a || !*a || !b || !*b)
		return true;
	return !strcmp(a, b);
}

int reg_index_pick(const struct image_index *idx, const char *os, const char *arch,
		   const char *variant)
{
	int loose = -1;
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct image_descriptor *d = &idx->manifests[i];
		if (!d->platform_os || !d->platform_arch || strcmp(d->platform_os, os) ||
		    strcmp(d->platform_arch, arch))
			continue;
		/* An exact variant beats an entry that leaves it out. */
		if (variant && *variant && d->platform_variant &&
		    !strcmp(d->platform_variant, variant))
			return (int)i;
		if (loose < 0 && variant_matches(d->platform_variant, variant))
			loose = (int)i;
	}
	return loose;
}

/* The host of "host[:port]" or of an origin's authority, without the port. */
static char *host_only(const char *hostport)
{
	if (hostport[0] == '[')
		return xstrndup(hostport, strcspn(hostport, "]") + 1);
	return xstrndup(hostport, strcspn(hostport, ":/"));
}

static bool is_ip(const char *h)
{
	return h[0] == '[' || strspn(h, "0123456789.") == strlen(h);
}

/* The last two labels ("example.com" of "auth.example.com"), or NULL for fewer. */
static const char *parent_domain(const char *h)
{
	const char *last = strrchr(h, '.');
	if (!last || last == h)
		return NULL;
	const char *p = last;
	while (p > h && p[-1] != '.')
		p--;
	return p == h && !strchr(h, '.') ? NULL : p;
}

bool reg_realm_trusted(const char *reg_host, const char *realm_url)
{
	_cleanup_free_ char *origin = realm_url ? reg_url_origin(realm_url) : NULL;
	if (!origin)
		return false;
	_cleanup_free_ char *a = host_only(reg_host);
	_cleanup_free_ char *b = host_only(strstr(origin, "://") + 3);
	for (char *c = a; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (!strcmp(a, b))
		return true;
	if (is_ip(a) || is_ip(b))
		return false;
	const char *pa = parent_domain(a), *pb = parent_domain(b);
	return pa && pb && strchr(pa, '.') && !strcmp(pa, pb);
}
