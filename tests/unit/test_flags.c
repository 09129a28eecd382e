/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for instruction flags and the word-level helpers: Go durations, booleans,
 * which instruction takes which flag, RUN --mount parsing, BuildKit's word splitting,
 * flag extraction, heredoc markers and platform names.
 */
#include <string.h>

#include "../../runner/frontend/plan.h"
#include "tap.h"

struct dur_case {
	const char *name, *in;
	int64_t want; /* -1: must fail */
};

static const struct dur_case dur_cases[] = {
	{"duration seconds (Go time.ParseDuration)", "30s", 30000000000LL},
	{"duration minutes and seconds", "1m30s", 90000000000LL},
	{"duration hours", "2h", 7200000000000LL},
	{"duration milliseconds", "500ms", 500000000LL},
	{"duration microseconds us", "10us", 10000LL},
	{"duration microseconds with the micro sign", "10\xc2\xb5s", 10000LL},
	{"duration nanoseconds", "7ns", 7},
	{"duration with a fraction", "1.5s", 1500000000LL},
	{"duration zero without a unit is allowed", "0", 0},
	{"duration with leading +", "+1s", 1000000000LL},
	{"duration without a unit is an error", "30", -1},
	{"duration with an unknown unit is an error", "3d", -1},
	{"negative durations are refused for HEALTHCHECK", "-5s", -1},
	{"empty duration is an error", "", -1},
	{"a bare dot is not a number", ".s", -1},
};

static void test_durations(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(dur_cases); i++) {
		const struct dur_case *c = &dur_cases[i];
		int64_t got = -2;
		int r = df_parse_duration(c->in, &got);
		bool good = c->want < 0 ? r < 0 : (r == 0 && got == c->want);
		if (!tap_ok(good, "%s", c->name))
			tap_diag("'%s' -> r=%d got=%lld want=%lld", c->in, r, (long long)got,
				 (long long)c->want);
	}
}

static void test_bools_and_table(void)
{
	bool b = false;
	tap_ok(df_parse_bool(NULL, &b) == 0 && b, "a bare bool flag means true (--link)");
	tap_ok(df_parse_bool("false", &b) == 0 && !b, "--link=false is false");
	tap_ok(df_parse_bool("TRUE", &b) == 0 && b, "bool flag values are case-insensitive");
	tap_ok(df_parse_bool("1", &b) < 0, "a bool flag rejects 1 (BuildKit: true or false only)");
	/* Two lookups a row, both as wanted (-1: not a flag of that instruction). */
	static const struct {
		int kind1;
		const char *flag1;
		int want1, kind2;
		const char *flag2;
		int want2;
		const char *name;
	} types[] = {
		{DF_COPY, "from", DF_FLAG_STRING, DF_ADD, "from", -1,
		 "COPY takes --from, ADD does not (ref: ADD)"},
		{DF_COPY, "parents", DF_FLAG_BOOL, DF_COPY, "link", DF_FLAG_BOOL,
		 "COPY --parents and --link are bools"},
		{DF_ADD, "checksum", DF_FLAG_STRING, DF_ADD, "keep-git-dir", DF_FLAG_BOOL,
		 "ADD takes --checksum and --keep-git-dir (ref: ADD)"},
		{DF_RUN, "mount", DF_FLAG_LIST, DF_COPY, "exclude", DF_FLAG_LIST,
		 "--mount and --exclude are repeatable"},
		{DF_FROM, "platform", DF_FLAG_STRING, DF_RUN, "platform", -1,
		 "--platform belongs to FROM only"},
		{DF_HEALTHCHECK, "start-interval", DF_FLAG_DURATION, DF_HEALTHCHECK, "retries",
		 DF_FLAG_INT, "HEALTHCHECK durations and --retries are typed"},
		{DF_ENV, "from", -1, DF_WORKDIR, "chown", -1, "ENV and WORKDIR take no flags"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		int t1 = (int)df_flag_type(types[i].kind1, types[i].flag1);
		int t2 = (int)df_flag_type(types[i].kind2, types[i].flag2);
		bool ok1 = types[i].want1 < 0 ? t1 < 0 : t1 == types[i].want1;
		bool ok2 = types[i].want2 < 0 ? t2 < 0 : t2 == types[i].want2;
		tap_ok(ok1 && ok2, "%s", types[i].name);
	}
}

static int identity(void *ud, const char *in, char **out)
{
	(void)ud;
	*out = xstrdup(in);
	return 0;
}

static int upcase(void *ud, const char *in, char **out)
{
	(void)ud;
	*out = !strcmp(in, "$T") ? xstrdup("/expanded") : xstrdup(in);
	return 0;
}

static void test_mounts(void)
{
	struct build_mount m;
	struct molt_error *err = NULL;
	int r = build_mount_parse("type=cache,target=/root/.cache,sharing=locked,id=go", identity,
				  NULL, &m, &err);
	tap_ok(r == 0 && m.type == MOUNT_CACHE && !strcmp(m.target, "/root/.cache") &&
		       !strcmp(m.sharing, "locked") && !strcmp(m.id, "go") && !m.readonly,
	       "--mount type=cache with target, sharing, id (ref: RUN --mount=type=cache)");
	if (r == 0)
		build_mount_done(&m);
	r = build_mount_parse("target=/src,from=builder,source=/out", identity, NULL, &m, &err);
	tap_ok(r == 0 && m.type == MOUNT_BIND && m.readonly && !strcmp(m.from, "builder") &&
		       !strcmp(m.source, "/out") && m.from_stage == -1,
	       "--mount defaults to type=bind, read-only (ref: RUN --mount=type=bind)");
	if (r == 0)
		build_mount_done(&m);
	r = build_mount_parse("type=bind,dst=/x,rw", identity, NULL, &m, &err);
	tap_ok(r == 0 && !m.readonly && !strcmp(m.target, "/x") && m.n_opts == 3 &&
		       m.opts[2].value == NULL,
	       "--mount dst alias and bare rw make a writable bind");
	if (r == 0)
		build_mount_done(&m);
	r = build_mount_parse("type=secret,id=npmrc", identity, NULL, &m, &err);
	tap_ok(r == 0 && !strcmp(m.target, "/run/secrets/npmrc"),
	       "--mount type=secret defaults target to /run/secrets/ID (ref: RUN --mount=type=secret)");
	if (r == 0)
		build_mount_done(&m);
	r = build_mount_parse("type=secret,id=tok,env=TOKEN,required", identity, NULL, &m, &err);
	tap_ok(r == 0 && m.required && !strcmp(m.env, "TOKEN") && !m.target,
	       "--mount type=secret with env= needs no target");
	if (r == 0)
		build_mount_done(&m);
	r = build_mount_parse("type=ssh", identity, NULL, &m, &err);
	tap_ok(r == 0 && !strcmp(m.id, "default") && !strcmp(m.target, "/run/buildkit/ssh_agent.0"),
	       "--mount type=ssh defaults id and target (ref: RUN --mount=type=ssh)");
	if (r == 0)
		build_mount_done(&m);
	r = build_mount_parse("type=tmpfs,target=/t,size=64m", identity, NULL, &m, &err);
	tap_ok(r == 0 && m.type == MOUNT_TMPFS && m.size == 64 * 1024 * 1024,
	       "--mount type=tmpfs size with a unit suffix");
	if (r == 0)
		build_mount_done(&m);
	r = build_mount_parse("type=cache,target=/c,mode=0700,uid=1000,gid=1000", identity, NULL, &m,
			      &err);
	tap_ok(r == 0 && m.mode == 0700 && m.uid == 1000 && m.gid == 1000,
	       "--mount mode is octal, uid/gid decimal");
	if (r == 0)
		build_mount_done(&m);
	r = build_mount_parse("type=bind,target=$T", upcase, NULL, &m, &err);
	tap_ok(r == 0 && !strcmp(m.target, "/expanded") && !strcmp(m.opts[1].value, "/expanded"),
	       "--mount values go through the expander");
	if (r == 0)
		build_mount_done(&m);
	r = build_mount_parse("type=bind,\"target=/a,b\"", identity, NULL, &m, &err);
	tap_ok(r == 0 && !strcmp(m.target, "/a,b"), "--mount fields are CSV: quotes keep a comma");
	if (r == 0)
		build_mount_done(&m);

	static const struct {
		const char *name, *spec, *want;
	} bad[] = {
		{"--mount unknown type", "type=nfs,target=/x", "unknown type 'nfs'"},
		{"--mount unknown key", "type=bind,target=/x,colour=red", "unknown key 'colour'"},
		{"--mount bind without target", "type=bind,source=/x", "type=bind needs a target"},
		{"--mount cache without target", "type=cache", "type=cache needs a target"},
		{"--mount from= not allowed with tmpfs", "type=tmpfs,target=/t,from=x",
		 "'from' is not allowed with type=tmpfs"},
		{"--mount bad sharing", "type=cache,target=/c,sharing=all", "invalid sharing 'all'"},
		{"--mount sharing only for cache", "type=bind,target=/c,sharing=shared",
		 "'sharing' is only for type=cache"},
		{"--mount bad mode", "type=cache,target=/c,mode=999", "invalid mode '999'"},
		{"--mount bad uid", "type=cache,target=/c,uid=-1", "invalid uid '-1'"},
		{"--mount ro takes a bool", "type=bind,target=/c,ro=maybe", "ro expects true or false"},
		{"--mount a key needing a value", "type=bind,target", "'target' needs a value"},
		{"--mount empty field", "type=bind,,target=/x", "empty field"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err = NULL;
		r = build_mount_parse(bad[i].spec, identity, NULL, &m, &err);
		bool good = r < 0 && err && strstr(err->msg, bad[i].want) &&
			    err->exit_code == MOLT_EXIT_USAGE;
		if (!tap_ok(good, "error: %s", bad[i].name))
			tap_diag("got: %s", err ? err->msg : "(none)");
		molt_error_free(err);
	}
}

static char *joined(char **v)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; v && v[i]; i++)
		strbuf_addf(&sb, "[%s]", v[i]);
	strv_free(v);
	return strbuf_detach(&sb);
}

static void test_words(void)
{
	_cleanup_free_ char *a = joined(df_words("a  \"b c\" 'd e'", '\\'));
	tap_str_eq(a, "[a][\"b c\"]['d e']", "parseWords keeps quotes and groups blanks inside them");
	_cleanup_free_ char *b = joined(df_words("a\\ b c", '\\'));
	tap_str_eq(b, "[a\\ b][c]", "parseWords: an escaped blank joins the word");
	_cleanup_free_ char *c = joined(df_words("a`  b", '`'));
	tap_str_eq(c, "[a` ][b]", "parseWords uses the escape directive's character");
	_cleanup_free_ char *d = joined(df_words("x=\"\"", '\\'));
	tap_str_eq(d, "[x=\"\"]", "parseWords keeps an empty quoted value");
	_cleanup_free_ char *e = joined(df_split_ws(" \"a b\"\tc "));
	tap_str_eq(e, "[\"a][b\"][c]", "whitespace splitting ignores quotes (COPY words, BuildKit)");
	const char *rest;
	_cleanup_free_ char *f = joined(df_extract_flags("--a=1 --b=\"x y\" --c cmd --d", &rest));
	tap_str_eq(f, "[--a=1][--b=x y][--c]", "flag extraction stops at the first non-flag word");
	tap_str_eq(rest, "cmd --d", "the rest after the flags is kept verbatim");
	_cleanup_free_ char *g = joined(df_extract_flags("--x=a\\ b -- --y", &rest));
	tap_str_eq(g, "[--x=a b]", "a backslash escapes in flags; -- ends them");
	tap_str_eq(rest, "--y", "after -- the words are arguments");
	char **v = NULL;
	tap_ok(df_json_strings(" [\"a\", \"b\"] ", &v) == 0 && strv_len(v) == 2,
	       "a JSON array of strings is exec form");
	strv_free(v);
	v = NULL;
	tap_ok(df_json_strings("[\"a\"] x", &v) < 0, "JSON followed by junk is shell form");
	tap_ok(df_json_strings("[\"a\", null]", &v) < 0, "JSON with a non-string is shell form");
	tap_ok(df_json_strings("{\"a\": 1}", &v) < 0, "a JSON object is shell form");
}

static void test_heredoc_markers(void)
{
	struct df_heredoc_marker *m = NULL;
	size_t n = df_heredoc_markers("RUN <<A <<-\"B\" cat <<'C' x<<y 2<<D", &m);
	bool good = n == 4 && !strcmp(m[0].name, "A") && m[0].expand && !m[0].chomp &&
		    !strcmp(m[1].name, "B") && !m[1].expand && m[1].chomp &&
		    !strcmp(m[2].name, "C") && !m[2].expand && !strcmp(m[3].name, "D");
	tap_ok(good, "heredoc markers: plain, <<- quoted, single-quoted, fd-prefixed, not mid-word");
	for (size_t i = 0; i < n; i++)
		free(m[i].name);
	free(m);
	_cleanup_free_ char *w = df_heredoc_word_name("<<-EOF");
	tap_str_eq(w, "EOF", "a COPY source word <<-EOF names heredoc EOF");
	tap_ok(df_heredoc_word_name("<<") == NULL && df_heredoc_word_name("file") == NULL,
	       "<< alone or a plain word is not a heredoc");
}

static void test_platform(void)
{
	struct platform p;
	tap_ok(platform_from_machine("x86_64", &p) == 0 && !strcmp(p.arch, "amd64") &&
		       !strcmp(p.os, "linux") && !p.variant[0],
	       "uname x86_64 is linux/amd64 (BUILDPLATFORM)");
	tap_ok(platform_from_machine("aarch64", &p) == 0 && !strcmp(p.arch, "arm64"),
	       "uname aarch64 is linux/arm64");
	_cleanup_free_ char *s = NULL;
	if (platform_from_machine("armv7l", &p) == 0)
		s = platform_format(&p);
	tap_str_eq(s, "linux/arm/v7", "uname armv7l is linux/arm/v7 with a variant");
	tap_ok(platform_from_machine("pdp11", &p) == -ENOTSUP, "an unknown machine is refused");
	tap_ok(platform_parse("linux/arm64/v8", &p) == 0 && !strcmp(p.variant, "v8"),
	       "--platform os/arch/variant parses");
	tap_ok(platform_parse("linux", &p) < 0 && platform_parse("linux/", &p) < 0 &&
		       platform_parse("a/b/c/d", &p) < 0,
	       "malformed --platform values are refused");
}

/* platform_check_native: a RUN on a foreign platform is refused (no emulation); copying is not. */
static int native(struct build_plan *plan, const char *from_platform, bool run, bool final,
		  struct molt_error **err)
{
	struct build_instr in = {.kind = run ? DF_RUN : DF_COPY};
	struct build_stage st = {.platform = (char *)from_platform, .instrs = &in, .n_instrs = 1,
				 .line = 3, .index = 0, .base = BASE_IMAGE};
	plan->stages = &st;
	plan->n_stages = 1;
	plan->target_index = final ? 0 : 1;
	int r = platform_check_native(plan, err);
	plan->stages = NULL;
	plan->n_stages = 0;
	return r;
}

static void test_platform_native(void)
{
	struct build_plan plan = {0};
	struct platform host;
	struct molt_error *err = NULL;
	if (platform_host(&host, NULL) < 0) {
		tap_skip("unknown machine: native platform checks");
		return;
	}
	_cleanup_free_ char *h = platform_format(&host);
	struct platform foreign = host;
	snprintf(foreign.arch, sizeof(foreign.arch), "%s", strcmp(host.arch, "arm64") ? "arm64" : "amd64");
	foreign.variant[0] = '\0';
	_cleanup_free_ char *f = platform_format(&foreign);
	plan.target_platform = host;
	tap_ok(native(&plan, NULL, true, true, &err) == 0, "a RUN on the host's platform (%s) is native", h);
	plan.target_platform = foreign;
	int r = native(&plan, NULL, true, true, &err);
	_cleanup_free_ char *want = xasprintf("--platform=%s: molt runs steps natively; building for "
					      "%s on %s needs binfmt emulation, which molt does not do",
					      f, f, h);
	tap_ok(r == -ENOTSUP && err && str_startswith(err->msg, want), "a RUN under a foreign "
	       "--platform is refused: %s", err ? err->msg : "(none)");
	molt_error_free(err);
	err = NULL;
	tap_ok(native(&plan, NULL, false, true, &err) == 0,
	       "a stage that only copies builds for a foreign --platform (cross-compiling)");
	plan.target_platform = host;
	r = native(&plan, f, true, false, &err);
	tap_ok(r == -ENOTSUP && err && str_startswith(err->msg, "FROM --platform=") &&
		       strstr(err->msg, "binfmt emulation"),
	       "a RUN after a foreign FROM --platform is refused, named as such");
	molt_error_free(err);
	err = NULL;
	r = native(&plan, f, false, true, &err);
	tap_ok(r == -ENOTSUP && err && strstr(err->msg, "differs from the target"),
	       "a final stage FROM --platform other than the target is refused (its label): %s",
	       err ? err->msg : "(none)");
	molt_error_free(err);
	err = NULL;
	tap_ok(native(&plan, f, false, false, &err) == 0,
	       "an intermediate stage that only copies may have a foreign FROM --platform");
	if (!strcmp(host.arch, "amd64")) {
		tap_ok(native(&plan, "linux/amd64/v3", true, false, &err) == 0,
		       "FROM --platform=linux/amd64/v3 is amd64 (a feature level)");
		molt_error_free(err);
	}
}

int main(void)
{
	test_durations();
	test_bools_and_table();
	test_mounts();
	test_words();
	test_heredoc_markers();
	test_platform();
	test_platform_native();
	return tap_done();
}
