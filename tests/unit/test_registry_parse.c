/* SPDX-License-Identifier: Apache-2.0 */
/* The registry client's pure parsing (layers/registry_parse.c). */
#include "../../layers/registry_http.h"
#include "tap.h"

static void challenges(void)
{
	struct reg_challenge c = {0};
	tap_ok(reg_challenge_parse("Bearer realm=\"https://auth.test/token\",service=\"reg\","
				   "scope=\"repository:a/b:pull\"",
				   &c) == 0 &&
		       c.kind == REG_AUTH_BEARER,
	       "a bearer challenge parses");
	tap_str_eq(c.realm, "https://auth.test/token", "realm");
	tap_str_eq(c.service, "reg", "service");
	tap_str_eq(c.scope, "repository:a/b:pull", "scope");
	reg_challenge_done(&c);

	tap_ok(reg_challenge_parse("Basic realm=\"Registry Realm\"", &c) == 0 &&
		       c.kind == REG_AUTH_BASIC,
	       "a basic challenge parses");
	tap_str_eq(c.realm, "Registry Realm", "basic realm with a space");
	reg_challenge_done(&c);

	tap_ok(reg_challenge_parse("Basic realm=\"x\", Bearer realm=\"https://t/\" , "
				   "service=s",
				   &c) == 0 &&
		       c.kind == REG_AUTH_BEARER,
	       "bearer is preferred over basic in one header");
	tap_str_eq(c.realm, "https://t/", "the bearer's realm is taken");
	tap_str_eq(c.service, "s", "an unquoted token value");
	reg_challenge_done(&c);

	tap_ok(reg_challenge_parse("bearer realm=\"a\\\"b\"", &c) == 0, "scheme is "
									"case-insensitive");
	tap_str_eq(c.realm, "a\"b", "quoted-pair unescaped");
	reg_challenge_done(&c);

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
