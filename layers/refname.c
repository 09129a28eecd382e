/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/refname.c: image names, normalised the way docker does it
 * (github.com/distribution/reference: ParseNormalizedNamed):
 *
 *   reference := name [":" tag] ["@" digest]
 *   name      := [domain "/"] path-component ("/" path-component)*
 *
 * The first component is a domain only when it holds "." or ":", is "localhost", or
 * has an upper-case letter (docker's quirk: "Foo/bar" is host "Foo"); otherwise the
 * domain is docker.io, and a one-component path there gets "library/". No tag and no
 * digest means ":latest". Pure string code, no I/O.
 */
#include <ctype.h>
#include <string.h>

#include "layers_int.h"

#define DEFAULT_DOMAIN "docker.io"
#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | "__" | "-"+ */
static bool path_component_ok(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && !is_lower_alnum(s[j]))
			j++;
		size_t len = j - i;
		bool dashes = strspn(s + i, "-") >= len;
		if (!(dashes || (len == 1 && (s[i] == '.' || s[i] == '_')) ||
		      (len == 2 && s[i] == '_' && s[i + 1] == '_')))
			return false;
		i = j;
	}
	return true;
}

/* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool domain_component_ok(const char *s, size_t n)
{
	if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool domain_ok(const char *d)
{
	const char *colon = NULL;
	if (d[0] == '[') {
		/* An IPv6 literal: "[" hex and colons "]" then an optional port. */
		const char *close = strchr(d, ']');
		if (!close || close == d + 1 || strspn(d + 1, "0123456789abcdefABCDEF:") !=
							(size_t)(close - d - 1))
			return false;
		colon = close[1] == ':' ? close + 1 : NULL;
		if (!colon && close[1])
			return false;
	} else {
		colon = strchr(d, ':');
		size_t host_len = colon ? (size_t)(colon - d) : strlen(d);
		const char *p = d;
		while (p < d + host_len) {
			const char *dot = memchr(p, '.', (size_t)(d + host_len - p));
			size_t n = dot ? (size_t)(dot - p) : (size_t)(d + host_len - p);
			if (!domain_component_ok(p, n))
				return false;
			p += n + (dot ? 1 : 0);
			if (dot && p == d + host_len)
				return false;
		}
		if (host_len == 0)
			return false;
	}
	if (colon)
		return colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1);
	return true;
}

/* tag := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool tag_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > TAG_MAX_LEN || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && !strchr("_.-", t[i]))
			return false;
	return true;
}

static bool is_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static int split_domain(const char *name, char **ret_domain, char **ret_rest)
{
	const char *slash = strchr(name, '/');
	bool has_domain = false;
	if (slash) {
		size_t n = (size_t)(slash - name);
		bool upper = false;
		for (size_t i = 0; i < n; i++)
			upper |= isupper((unsigned char)name[i]) != 0;
		has_domain = memchr(name, '.', n) || memchr(name, ':', n) ||
			     (n == 9 && !strncmp(name, "localhost", 9)) || upper;
	}
	if (has_domain) {
		*ret_domain = xstrndup(name, (size_t)(slash - name));
		*ret_rest = xstrdup(slash + 1);
	} else {
		*ret_domain = xstrdup(DEFAULT_DOMAIN);
		*ret_rest = xstrdup(name);
	}
	if (!strcmp(*ret_domain, "index.docker.io")) {
		free(*ret_domain);
		*ret_domain = xstrdup(DEFAULT_DOMAIN);
	}
	if (!strcmp(*ret_domain, DEFAULT_DOMAIN) && !strchr(*ret_rest, '/')) {
		char *r = xasprintf("library/%s", *ret_rest);
		free(*ret_rest);
		*ret_rest = r;
	}
	return 0;
}

static int check_path(const char *s, const char *path, struct molt_error **err)
{
	for (const char *p = path; *p; p++)
		if (isupper((unsigned char)*p))
			return molt_error_usage(err,
						"invalid image name '%s': repository name must be "
						"lowercase",
						s);
	const char *p = path;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (!path_component_ok(p, n))
			return molt_error_usage(err,
						"invalid image name '%s': '%.*s' is not a valid "
						"name component (lowercase letters, digits and "
						"single separators . _ __ -)",
						s, (int)n, p);
		if (!slash)
			return 0;
		p = slash + 1;
	}
}

static int parse_digest_part(const char *s, const char *digest, struct image_ref *r,
			     struct molt_error **err)
{
	if (!digest_is_valid(digest))
		return molt_error_usage(err,
					"invalid image name '%s': '%s' is not a sha256 digest "
					"(sha256: and 64 lowercase hex digits)",
					s, digest);
	r->digest = xstrdup(digest);
	return 0;
}

static int parse_name_part(const char *s, const char *name, struct image_ref *r,
			   struct molt_error **err)
{
	_cleanup_free_ char *rest = NULL;
	split_domain(name, &r->domain, &rest);
	if (!domain_ok(r->domain))
		return molt_error_usage(err, "invalid image name '%s': bad registry host '%s'", s,
					r->domain);
	char *slash = strrchr(rest, '/');
	char *colon = strchr(slash ? slash : rest, ':');
	if (colon) {
		*colon = '\0';
		if (!tag_ok(colon + 1))
			return molt_error_usage(err,
						"invalid image name '%s': bad tag '%s' (letters, "
						"digits, _ . -, at most 128, not starting with . or "
						"-)",
						s, colon + 1);
		r->tag = xstrdup(colon + 1);
	}
	int ret = check_path(s, rest, err);
	if (ret < 0)
		return ret;
	if (strlen(r->domain) + 1 + strlen(rest) > NAME_MAX_LEN)
		return molt_error_usage(err, "invalid image name '%s': longer than %d characters",
					s, NAME_MAX_LEN);
	r->path = TAKE_PTR(rest);
	return 0;
}

int image_ref_parse(const char *s, struct image_ref *ret, struct molt_error **err)
{
	struct image_ref r = {0};
	if (!s || !*s)
		return molt_error_usage(err, "invalid image name '': the name is empty");
	if (is_hex64(s))
		return molt_error_usage(err,
					"invalid image name '%s': a 64-digit hex string is an "
					"image ID, not a name",
					s);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return molt_error_usage(err,
						"invalid image name '%s': it contains a space or "
						"control character",
						s);
	_cleanup_free_ char *name = xstrdup(s);
	char *at = strchr(name, '@');
	int r_ = 0;
	if (at) {
		*at = '\0';
		r_ = parse_digest_part(s, at + 1, &r, err);
	}
	if (r_ == 0)
		r_ = parse_name_part(s, name, &r, err);
	if (r_ < 0) {
		image_ref_done(&r);
		return r_;
	}
	if (!r.tag && !r.digest)
		r.tag = xstrdup("latest");
	*ret = r;
	return 0;
}

void image_ref_done(struct image_ref *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	*r = (struct image_ref){0};
}

char *image_ref_repository(const struct image_ref *r)
{
	return xasprintf("%s/%s", r->domain, r->path);
}

static char *with_suffixes(char *repo, const struct image_ref *r)
{
	char *s = xasprintf("%s%s%s%s%s", repo, r->tag ? ":" : "", r->tag ? r->tag : "",
			    r->digest ? "@" : "", r->digest ? r->digest : "");
	free(repo);
	return s;
}

char *image_ref_string(const struct image_ref *r)
{
	return with_suffixes(image_ref_repository(r), r);
}

char *image_ref_familiar(const struct image_ref *r)
{
	if (strcmp(r->domain, DEFAULT_DOMAIN) != 0)
		return image_ref_string(r);
	const char *path = r->path;
	if (str_startswith(path, "library/") && !strchr(path + 8, '/'))
		path += 8;
	return with_suffixes(xstrdup(path), r);
}

int image_ref_normalize(const char *s, char **ret, struct molt_error **err)
{
	struct image_ref r;
	int ret_ = image_ref_parse(s, &r, err);
	if (ret_ < 0)
		return ret_;
	*ret = image_ref_string(&r);
	image_ref_done(&r);
	return 0;
}
