/* SPDX-License-Identifier: Apache-2.0 */
/* The registry client's pure parsing (layers/registry_parse.c). */
#include "../../layers/registry_http.h"
#include "tap.h"

/* A challenge that parses, and what it must hold: realm, service, scope, each checked
 * (in a TAP line of its own) where it has a name. */
struct challenge_case {
	const char *in;
	enum reg_auth_kind kind;
	const char *name;
	const char *want[3], *want_name[3];
};

static const struct challenge_case challenge_cases[] = {
	{"Bearer realm=\"https://auth.test/token\",service=\"reg\",scope=\"repository:a/b:pull\"",
	 REG_AUTH_BEARER, "a bearer challenge parses",
	 {"https://auth.test/token", "reg", "repository:a/b:pull"}, {"realm", "service", "scope"}},
	{"Basic realm=\"Registry Realm\"", REG_AUTH_BASIC, "a basic challenge parses",
	 {"Registry Realm"}, {"basic realm with a space"}},
	{"Basic realm=\"x\", Bearer realm=\"https://t/\" , service=s", REG_AUTH_BEARER,
	 "bearer is preferred over basic in one header", {"https://t/", "s"},
	 {"the bearer's realm is taken", "an unquoted token value"}},
	{"bearer realm=\"a\\\"b\"", REG_AUTH_BEARER, "scheme is case-insensitive", {"a\"b"},
	 {"quoted-pair unescaped"}},
};

static void challenges(void)
{
	struct reg_challenge c = {0};
	for (size_t i = 0; i < ARRAY_SIZE(challenge_cases); i++) {
		const struct challenge_case *t = &challenge_cases[i];
		tap_ok(reg_challenge_parse(t->in, &c) == 0 && c.kind == t->kind, "%s", t->name);
		const char *got[3] = {c.realm, c.service, c.scope};
		for (size_t k = 0; k < 3; k++)
			if (t->want_name[k])
				tap_str_eq(got[k], t->want[k], t->want_name[k]);
		reg_challenge_done(&c);
	}

	tap_ok(reg_challenge_parse("Negotiate abc==", &c) < 0 && c.kind == REG_AUTH_NONE,
	       "an unknown scheme is refused");
	reg_challenge_done(&c);
	tap_ok(reg_challenge_parse("Bearer realm=\"unterminated", &c) == 0 && !c.realm,
	       "an unterminated quote is no realm, not a hang");
	reg_challenge_done(&c);
	tap_ok(reg_challenge_parse(",,,=,\"", &c) < 0, "garbage is refused");
	reg_challenge_done(&c);
}

static void retry_after(void)
{
	tap_ok(reg_retry_after("3", 0, 30) == 3, "Retry-After seconds");
	tap_ok(reg_retry_after("86400", 0, 30) == 30, "Retry-After is capped");
	tap_ok(reg_retry_after(NULL, 0, 30) == -1, "no Retry-After");
	tap_ok(reg_retry_after("soon", 0, 30) == -1, "an unreadable Retry-After");
	/* Thu, 01 Jan 1970 00:00:10 GMT is 10 s after the epoch. */
	tap_ok(reg_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 4, 30) == 6, "an HTTP date");
	tap_ok(reg_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 100, 30) == 0,
	       "a date in the past is now");
}

static void urls(void)
{
	char *o = reg_url_origin("https://Reg.Example:5000/v2/x?y");
	tap_str_eq(o, "https://reg.example:5000", "origin of an https URL");
	free(o);
	o = reg_url_origin("http://h/");
	tap_str_eq(o, "http://h", "origin of an http URL");
	free(o);
	tap_ok(reg_url_origin("file:///etc/passwd") == NULL, "file: has no origin");
	tap_ok(reg_url_origin("https://user:pw@h/") == NULL, "userinfo is refused");
	tap_ok(reg_url_origin("https:///x") == NULL, "an empty host is refused");
	char *q = reg_query_escape("repository:a/b:pull,push");
	tap_str_eq(q, "repository%3Aa%2Fb%3Apull%2Cpush", "query escape");
	free(q);
	tap_ok(reg_host_is_loopback("127.0.0.1:5000") && reg_host_is_loopback("localhost") &&
		       reg_host_is_loopback("[::1]:80") && reg_host_is_loopback("127.1.2.3"),
	       "loopback hosts");
	tap_ok(!reg_host_is_loopback("127.example.com") && !reg_host_is_loopback("10.0.0.1") &&
		       !reg_host_is_loopback("localhost.evil") && !reg_host_is_loopback("[::1]x"),
	       "look-alikes are not loopback");
	tap_ok(reg_token_ok("abc.def-ghi_~+/="), "a JWT-like token is fine");
	tap_ok(!reg_token_ok("abc\r\nX-Evil: 1") && !reg_token_ok("") && !reg_token_ok(NULL),
	       "a token with CR/LF (header injection) or nothing is refused");
}

static void realms(void)
{
	tap_ok(reg_realm_trusted("127.0.0.1:5000", "http://127.0.0.1:5001/token"),
	       "the registry's own host, another port");
	tap_ok(reg_realm_trusted("registry-1.example.io", "https://auth.example.io/token"),
	       "a sibling host of the same parent domain");
	tap_ok(reg_realm_trusted("Reg.Example.com:443", "https://reg.example.com/t"),
	       "host names compare without case");
	tap_ok(!reg_realm_trusted("127.0.0.1:5000", "http://localhost:5000/token"),
	       "another name for the same machine is another host");
	tap_ok(!reg_realm_trusted("reg.example.com", "https://example.org/token"),
	       "another domain");
	tap_ok(!reg_realm_trusted("reg.example.com", "https://evil.com/reg.example.com"),
	       "the registry's name in the path does not count");
	tap_ok(!reg_realm_trusted("a.example.com", "https://example.com.evil.net/"),
	       "a look-alike suffix");
	tap_ok(!reg_realm_trusted("10.0.0.1", "https://10.0.0.2/"), "IP addresses match exactly");
	tap_ok(!reg_realm_trusted("localhost:5000", "http://otherhost:1/"), "single labels match "
									    "exactly");
	tap_ok(!reg_realm_trusted("reg.example.com", "file:///etc/passwd"), "not http(s)");
}

static struct image_descriptor entry(const char *os, const char *arch, const char *variant)
{
	return (struct image_descriptor){.platform_os = (char *)os,
					 .platform_arch = (char *)arch,
					 .platform_variant = (char *)variant};
}

static void index_pick(void)
{
	struct image_descriptor m[] = {entry("linux", "arm", "v6"), entry("linux", "arm", "v7"),
				       entry("linux", "amd64", NULL), entry("linux", "arm64", "v8"),
				       entry("unknown", "unknown", NULL)};
	struct image_index idx = {.manifests = m, .n_manifests = ARRAY_SIZE(m)};
	tap_ok(reg_index_pick(&idx, "linux", "amd64", NULL) == 2, "amd64 is found");
	tap_ok(reg_index_pick(&idx, "linux", "arm", "v7") == 1, "an exact variant wins");
	tap_ok(reg_index_pick(&idx, "linux", "arm64", NULL) == 3, "arm64 without a variant "
								  "matches v8");
	tap_ok(reg_index_pick(&idx, "linux", "s390x", NULL) == -1, "a missing platform");
	tap_ok(reg_index_pick(&idx, "windows", "amd64", NULL) == -1, "another os");
}

int main(void)
{
	challenges();
	retry_after();
	urls();
	index_pick();
	realms();
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
