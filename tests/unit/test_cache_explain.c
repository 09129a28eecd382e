/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --explain-cache's comparison of two step records (runner/executor/cache_explain.c):
 * the cases an end-to-end build cannot reach (a file's owner or type, a base named
 * differently) and the limits of one line.
 */
#include <string.h>

#include "../../runner/executor/cache_explain.h"
#include "tap.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

/* A record as explain_step_key writes one; fields not given take neutral values. */
static char *rec(const char *parent, const char *base, const char *base_id, const char *platform,
		 const char *instr, const char *parts, const char *env, const char *files)
{
	return xasprintf("{\"v\":1,\"key\":\"" D1 "\",\"parent\":\"%s\",\"base\":\"%s\","
			 "\"base_id\":\"%s\",\"platform\":\"%s\",\"instruction\":\"%s\","
			 "\"parts\":{%s},\"args\":{},\"env\":{%s},\"reads\":{}%s%s}",
			 parent, base, base_id, platform, instr, parts, env, files ? ",\"files\":" : "",
			 files ? files : "");
}

static void check_diff(const char *then, const char *now, bool same_parent, const char *want,
		  const char *name)
{
	_cleanup_free_ char *got = explain_diff(then, now, same_parent);
	tap_str_eq(got, want, name);
}

static void test_files(void)
{
	const char *img = "base image 'b'";
	_cleanup_free_ char *a = rec("P", img, D1, "linux/amd64", "COPY . /",
				     "", "", "[[\"x\",\"100644\",\"0:0\",\"aaaa\"],"
				     "[\"y\",\"100644\",\"\",\"bbbb\"]]");
	_cleanup_free_ char *b = rec("P", img, D1, "linux/amd64", "COPY . /",
				     "", "", "[[\"y\",\"120777\",\"\",\"cccc\"],"
				     "[\"x\",\"100644\",\"1:1\",\"aaaa\"]]");
	check_diff(a, b, true, "file 'x' changed (owner); file 'y' changed (type, mode 644 → 777)",
	      "owner and type changes are named (rows compared by path, not order)");
	_cleanup_free_ char *c = rec("P", img, D1, "linux/amd64", "COPY . /", "", "", "7");
	check_diff(a, c, true, "the files it reads changed (too many to list)",
	      "a step with more files than are listed says so");
}

static void test_below(void)
{
	_cleanup_free_ char *a = rec("P1", "base image 'b'", D1, "linux/amd64", "RUN x", "", "", NULL);
	/* The same step on another parent: what changed below it, named. */
	static const struct {
		const char *base, *base_id, *platform, *want, *name;
	} below[] = {
		{"base image 'b'", D2, "linux/amd64",
		 "base image 'b' changed: sha256:111111111111 → sha256:222222222222",
		 "a base image's digest, old → new, 12 hex digits each"},
		{"base image 'other'", D2, "linux/amd64",
		 "base changed: 'base image 'b'' → 'base image 'other''",
		 "another base image named in FROM"},
		{"base image 'b'", D2, "linux/arm64", "platform changed: linux/amd64 → linux/arm64",
		 "a platform change is named rather than the digest it brings"},
		{"base image 'b'", D1, "linux/amd64", "the layers below it differ from its last build",
		 "same base, other parent: the layers below"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(below); i++) {
		_cleanup_free_ char *b = rec("P2", below[i].base, below[i].base_id,
					     below[i].platform, "RUN x", "", "", NULL);
		check_diff(a, b, false, below[i].want, below[i].name);
	}
	check_diff(a, a, true, "an input --explain-cache does not track changed",
	      "same parent and no part differs: said, never an empty reason");
}

static void test_parts(void)
{
	const char *img = "base image 'b'";
	_cleanup_free_ char *a = rec("P", img, D1, "linux/amd64", "RUN x",
				     "\"USER\":\"app\",\"--chown\":\"" D1 "\"", "\"A\":\"" D1 "\"", NULL);
	_cleanup_free_ char *b = rec("P", img, D1, "linux/amd64", "RUN x",
				     "\"USER\":\"root\",\"--chown\":\"" D2 "\"", "\"B\":\"" D1 "\"", NULL);
	check_diff(a, b, true, "USER changed: 'app' → 'root'; --chown changed; ENV 'B' added; ENV 'A' removed",
	      "settings show values, flags and ENV only names");
	/* A new text explains itself: the flags it changed are not listed again. */
	_cleanup_free_ char *c = rec("P", img, D1, "linux/amd64", "RUN y",
				     "\"USER\":\"app\",\"--chown\":\"" D2 "\"", "\"A\":\"" D1 "\"", NULL);
	check_diff(a, c, true, "instruction changed: 'RUN x' → 'RUN y'",
	      "a changed instruction hides the flag digests it implies");
	char long_text[200];
	memset(long_text, 'a', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	_cleanup_free_ char *d = rec("P", img, D1, "linux/amd64", long_text, "", "", NULL);
	_cleanup_free_ char *got = explain_diff(a, d, true);
	tap_ok(strstr(got, "aaaa…'") != NULL && strlen(got) < 120, "a long instruction is cut (%zu bytes)",
	   strlen(got));
	_cleanup_free_ char *e = rec("P", img, D1, "linux/amd64", "RUN x",
				     "\"USER\":\"u\",\"WORKDIR\":\"/w\",\"SHELL\":\"sh\","
				     "\"SOURCE_DATE_EPOCH\":\"1\",\"--chown\":\"" D2 "\"", "", NULL);
	_cleanup_free_ char *got2 = explain_diff(a, e, true);
	tap_ok(strstr(got2, "; and 2 more changes") != NULL, "at most four reasons, then a count: %s",
	   got2);
	_cleanup_free_ char *got3 = explain_diff("not json", a, true);
	tap_str_eq(got3, "its earlier record is unreadable", "a damaged record is said, not a crash");
}

int main(void)
{
	test_files();
	test_below();
	test_parts();
	return tap_done();
}
