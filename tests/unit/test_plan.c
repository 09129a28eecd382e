/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the planner (runner/frontend/plan.c) and its JSON (runner/frontend/plan_json.c): ARG
 * scoping, expansion per instruction, stage graph, --target pruning, parallel groups and
 * the planner's errors. Facts are checked like the corpus does: a path into the plan
 * JSON and the expected value as compact JSON.
 */
#include <jansson.h>
#include <string.h>

#include "../../runner/frontend/plan.h"
#include "tap.h"

static const struct platform amd64 = {"linux", "amd64", ""};
static const struct platform armv7 = {"linux", "arm", "v7"};

static const char *fake_env(const char *name)
{
	return !strcmp(name, "FROMENV") ? "env-value" : NULL;
}

/* "--build-arg" values separated by '|', or NULL. */
static int make_plan(const char *text, const char *target, const char *bargs,
		     struct build_plan **ret, struct molt_error **err)
{
	_cleanup_strv_ char **args = NULL;
	if (bargs) {
		_cleanup_free_ char *copy = xstrdup(bargs);
		char *save = NULL;
		for (char *t = strtok_r(copy, "|", &save); t; t = strtok_r(NULL, "|", &save))
			strv_push(&args, t);
	}
	struct dockerfile *df = NULL;
	int r = dockerfile_parse(text, strlen(text), NULL, &df, err);
	if (r < 0)
		return r;
	struct plan_options o = {.target = target, .build_args = args, .lookup_env = fake_env,
				 .build_platform = &amd64, .target_platform = &armv7};
	r = build_plan_make(df, &o, ret, err);
	dockerfile_free(df);
	return r;
}

/* Follows "a/0/b" through objects and arrays. */
static json_t *path_get(json_t *j, const char *path)
{
	_cleanup_free_ char *copy = xstrdup(path);
	char *save = NULL;
	for (char *t = strtok_r(copy, "/", &save); t && j; t = strtok_r(NULL, "/", &save)) {
		if (json_is_array(j))
			j = json_array_get(j, (size_t)atoi(t));
		else
			j = json_object_get(j, t);
	}
	return j;
}

struct fact {
	const char *name, *text, *target, *bargs, *path, *want;
};

#define S0 "stages/0/instructions/"
#define S1 "stages/1/instructions/"

static const struct fact facts[] = {
	/* ARG scoping */
	{"global ARG is visible in FROM (ref: Understand how ARG and FROM interact)",
	 "ARG V=3.19\nFROM alpine:$V\n", NULL, NULL, "stages/0/from", "\"alpine:3.19\""},
	{"global ARG is not visible inside a stage without redeclaring it",
	 "ARG V=1\nFROM a\nENV X=$V\n", NULL, NULL, S0 "0/pairs", "[[\"X\",\"\"]]"},
	{"ARG NAME in a stage takes the global value (ref: ARG and FROM)",
	 "ARG V=1\nFROM a\nARG V\nENV X=$V\n", NULL, NULL, S0 "1/pairs", "[[\"X\",\"1\"]]"},
	{"--build-arg overrides a global ARG default", "ARG V=1\nFROM a:$V\n", NULL, "V=2",
	 "stages/0/from", "\"a:2\""},
	{"--build-arg overrides a stage ARG default (ref: ARG default values)",
	 "FROM a\nARG A=1\n", NULL, "A=9", S0 "0/pairs", "[[\"A\",\"9\"]]"},
	{"an ARG without default or --build-arg has no value (null)", "FROM a\nARG A\n", NULL, NULL,
	 S0 "0/pairs", "[[\"A\",null]]"},
	{"an ARG with an empty default is the empty string", "FROM a\nARG A=\n", NULL, NULL,
	 S0 "0/pairs", "[[\"A\",\"\"]]"},
	{"--build-arg K takes K from molt's environment", "FROM a\nARG FROMENV\n", NULL, "FROMENV",
	 S0 "0/pairs", "[[\"FROMENV\",\"env-value\"]]"},
	{"--build-arg K unset in the environment is ignored", "FROM a\nARG NOPE=d\n", NULL, "NOPE",
	 S0 "0/pairs", "[[\"NOPE\",\"d\"]]"},
	{"predefined proxy args work without ARG (ref: Predefined ARGs)",
	 "FROM a\nENV X=$HTTP_PROXY\n", NULL, "HTTP_PROXY=http://p:3128", S0 "0/pairs",
	 "[[\"X\",\"http://p:3128\"]]"},
	{"lower-case proxy args are predefined too", "FROM a\nENV X=$no_proxy\n", NULL,
	 "no_proxy=localhost", S0 "0/pairs", "[[\"X\",\"localhost\"]]"},
	{"other --build-args need an ARG to be visible", "FROM a\nENV X=$FOO\n", NULL, "FOO=1",
	 S0 "0/pairs", "[[\"X\",\"\"]]"},
	{"TARGETARCH is usable in FROM (ref: Automatic platform ARGs)", "FROM a:$TARGETARCH\n", NULL,
	 NULL, "stages/0/from", "\"a:arm\""},
	{"TARGETVARIANT and TARGETOS in the global scope",
	 "FROM a:$TARGETOS-$TARGETVARIANT\n", NULL, NULL, "stages/0/from", "\"a:linux-v7\""},
	{"TARGETPLATFORM in the global scope", "FROM --platform=$TARGETPLATFORM a\n", NULL, NULL,
	 "stages/0/platform", "\"linux/arm/v7\""},
	{"BUILDPLATFORM in FROM --platform (ref: FROM --platform=$BUILDPLATFORM)",
	 "FROM --platform=$BUILDPLATFORM a\n", NULL, NULL, "stages/0/platform", "\"linux/amd64\""},
	{"platform args are not visible in a stage without ARG", "FROM a\nENV X=$TARGETARCH\n",
	 NULL, NULL, S0 "0/pairs", "[[\"X\",\"\"]]"},
	{"ARG TARGETARCH in a stage gets the automatic value", "FROM a\nARG TARGETARCH\nENV X=$TARGETARCH\n",
	 NULL, NULL, S0 "1/pairs", "[[\"X\",\"arm\"]]"},
	{"ARG BUILDARCH in a stage gets the build platform", "FROM a\nARG BUILDARCH\n", NULL, NULL,
	 S0 "0/pairs", "[[\"BUILDARCH\",\"amd64\"]]"},
	{"a bare global ARG TARGETARCH keeps the automatic value",
	 "ARG TARGETARCH\nFROM a:$TARGETARCH\n", NULL, NULL, "stages/0/from", "\"a:arm\""},
	{"ENV beats ARG of the same name (ref: Using ARG variables)",
	 "FROM a\nARG A=1\nENV A=2\nENV B=$A\n", NULL, NULL, S0 "2/pairs", "[[\"B\",\"2\"]]"},
	{"ENV beats an ARG declared after it", "FROM a\nENV A=2\nARG A=1\nENV B=$A\n", NULL, "A=7",
	 S0 "2/pairs", "[[\"B\",\"2\"]]"},
	{"ENV A=1 B=$A uses the value from before the instruction (ref: Environment replacement)",
	 "FROM a\nENV A=0\nENV A=1 B=$A\n", NULL, NULL, S0 "1/pairs", "[[\"A\",\"1\"],[\"B\",\"0\"]]"},
	{"ARG A=1 B=$A also sees the old A", "FROM a\nARG A=0\nARG A=1 B=$A\n", NULL, NULL,
	 S0 "1/pairs", "[[\"A\",\"1\"],[\"B\",\"0\"]]"},
	{"a global ARG default expands an earlier global ARG", "ARG A=1\nARG B=$A-2\nFROM x:$B\n",
	 NULL, NULL, "stages/0/from", "\"x:1-2\""},
	{"a stage ARG default is expanded", "FROM a\nARG A=1\nARG B=${A}0\n", NULL, NULL,
	 S0 "1/pairs", "[[\"B\",\"10\"]]"},
	{"ENV set in stage A is visible in FROM A AS b (ref: multi-stage, base stage config)",
	 "FROM a AS x\nENV P=1\nFROM x\nENV Q=$P\n", NULL, NULL, S1 "0/pairs", "[[\"Q\",\"1\"]]"},
	{"ARGs do not carry over to a stage built on another", "FROM a AS x\nARG Z=1\nFROM x\nENV Q=$Z\n",
	 NULL, NULL, S1 "0/pairs", "[[\"Q\",\"\"]]"},
	{"FROM sees only global ARGs, not an earlier stage's ENV", "FROM a\nENV T=x\nFROM b$T\n", NULL,
	 NULL, "stages/0/from", "\"b\""},
	{"FROM uses the --build-arg value of a global ARG", "ARG IMG=a\nFROM $IMG\n", NULL,
	 "IMG=busybox", "stages/0/base", "{\"type\":\"image\",\"ref\":\"busybox\"}"},
	/* expansion per instruction */
	{"COPY sources and dest are expanded (ref: Environment replacement)",
	 "FROM a\nENV D=/app\nCOPY $D/x ${D}/\n", NULL, NULL, S0 "1/sources", "[\"/app/x\"]"},
	{"COPY dest is expanded", "FROM a\nENV D=/app\nCOPY x ${D}/\n", NULL, NULL, S0 "1/dest",
	 "\"/app/\""},
	{"COPY --chown is expanded", "FROM a\nARG U=1000\nCOPY --chown=$U:$U a /b\n", NULL, NULL,
	 S0 "1/chown", "\"1000:1000\""},
	{"COPY --chmod is kept", "FROM a\nCOPY --chmod=0644 a /b\n", NULL, NULL, S0 "0/chmod",
	 "\"0644\""},
	{"COPY --link and --parents are booleans in the plan",
	 "FROM a\nCOPY --link --parents a /b/\n", NULL, NULL, S0 "0/link", "true"},
	{"COPY --link=false is false", "FROM a\nCOPY --link=false a /b\n", NULL, NULL, S0 "0/link",
	 "false"},
	{"COPY --exclude values are expanded and kept in order",
	 "FROM a\nARG E=md\nCOPY --exclude=*.$E --exclude=tmp . /b/\n", NULL, NULL, S0 "1/exclude",
	 "[\"*.md\",\"tmp\"]"},
	{"COPY without flags has null/false/empty defaults", "FROM a\nCOPY a /b\n", NULL, NULL,
	 S0 "0", "{\"line\":2,\"instruction\":\"COPY\",\"original\":\"COPY a /b\",\"sources\":[\"a\"],"
	 "\"dest\":\"/b\",\"from\":null,\"chown\":null,\"chmod\":null,\"link\":false,\"exclude\":[],"
	 "\"parents\":false,\"heredocs\":[]}"},
	{"ADD has checksum and keep_git_dir", "FROM a\nADD --checksum=sha256:ab --keep-git-dir u /d\n",
	 NULL, NULL, S0 "0/checksum", "\"sha256:ab\""},
	{"ADD has from null (ADD takes no --from)", "FROM a\nADD u /d\n", NULL, NULL, S0 "0/from",
	 "null"},
	{"ADD --keep-git-dir is a bool", "FROM a\nADD --keep-git-dir u /d\n", NULL, NULL,
	 S0 "0/keep_git_dir", "true"},
	{"COPY <<EOF is a heredoc, not a source (ref: Here-Documents)",
	 "FROM a\nCOPY <<EOF /etc/x\nhi $A\nEOF\n", NULL, NULL, S0 "0/sources", "[]"},
	{"COPY heredoc object in the plan",
	 "FROM a\nCOPY <<-\"EOF\" /etc/x\n\thi\n\tEOF\n", NULL, NULL, S0 "0/heredocs",
	 "[{\"name\":\"EOF\",\"content\":\"hi\\n\",\"expand\":false,\"chomp\":true}]"},
	{"COPY with a file and a heredoc to a directory", "FROM a\nCOPY f <<EOF /d/\nx\nEOF\n", NULL,
	 NULL, S0 "0/sources", "[\"f\"]"},
	{"RUN heredoc is recorded with the command", "FROM a\nRUN <<EOF\necho $A\nEOF\n", NULL, NULL,
	 S0 "0/heredocs", "[{\"name\":\"EOF\",\"content\":\"echo $A\\n\",\"expand\":true,\"chomp\":false}]"},
	{"EXPOSE expands to words (ref: EXPOSE, Environment replacement)",
	 "FROM a\nENV P=\"80 443\"\nEXPOSE $P\n", NULL, NULL, S0 "1/ports", "[\"80/tcp\",\"443/tcp\"]"},
	{"EXPOSE defaults to tcp and lowercases the protocol (ref: EXPOSE)",
	 "FROM a\nEXPOSE 80 53/UDP 9/sctp\n", NULL, NULL, S0 "0/ports",
	 "[\"80/tcp\",\"53/udp\",\"9/sctp\"]"},
	{"EXPOSE port ranges become single ports (docker nat.ParsePortSpecs)",
	 "FROM a\nEXPOSE 7000-7002/udp\n", NULL, NULL, S0 "0/ports",
	 "[\"7000/udp\",\"7001/udp\",\"7002/udp\"]"},
	{"VOLUME paths are expanded (ref: VOLUME)", "FROM a\nENV V=/data\nVOLUME $V /logs\n", NULL,
	 NULL, S0 "1/paths", "[\"/data\",\"/logs\"]"},
	{"VOLUME JSON form", "FROM a\nVOLUME [\"/a\", \"/b c\"]\n", NULL, NULL, S0 "0/paths",
	 "[\"/a\",\"/b c\"]"},
	{"USER is expanded (ref: USER)", "FROM a\nARG U=app\nUSER ${U}:${U}\n", NULL, NULL,
	 S0 "1/user", "\"app:app\""},
	{"WORKDIR relative paths resolve against the previous WORKDIR (ref: WORKDIR)",
	 "FROM a\nWORKDIR /a\nWORKDIR b\nWORKDIR ../c\n", NULL, NULL, S0 "2/path", "\"/a/c\""},
	{"WORKDIR relative to the default / ", "FROM a\nWORKDIR rel/./x//y/\n", NULL, NULL,
	 S0 "0/path", "\"/rel/x/y\""},
	{"WORKDIR is expanded with ENV (ref: WORKDIR)", "FROM a\nENV DIRPATH=/path\nWORKDIR $DIRPATH/bin\n",
	 NULL, NULL, S0 "1/path", "\"/path/bin\""},
	{"WORKDIR .. cannot climb above /", "FROM a\nWORKDIR /../../x\n", NULL, NULL, S0 "0/path",
	 "\"/x\""},
	{"WORKDIR is inherited from a base stage", "FROM a AS x\nWORKDIR /w\nFROM x\nWORKDIR sub\n",
	 NULL, NULL, S1 "0/path", "\"/w/sub\""},
	{"STOPSIGNAL is expanded (ref: STOPSIGNAL)", "FROM a\nARG S=SIGINT\nSTOPSIGNAL $S\n", NULL,
	 NULL, S0 "1/signal", "\"SIGINT\""},
	{"STOPSIGNAL accepts a number", "FROM a\nSTOPSIGNAL 9\n", NULL, NULL, S0 "0/signal", "\"9\""},
	{"LABEL keys and values are expanded (ref: LABEL)",
	 "FROM a\nARG V=1.0\nLABEL \"v-$V\"=\"ver $V\" b=c\n", NULL, NULL, S0 "1/pairs",
	 "[[\"v-1.0\",\"ver 1.0\"],[\"b\",\"c\"]]"},
	{"ENV legacy form value keeps its spaces (ref: ENV alternative syntax)",
	 "FROM a\nENV MSG hello  big world\n", NULL, NULL, S0 "0/pairs",
	 "[[\"MSG\",\"hello  big world\"]]"},
	{"ENV quoted values lose their quotes", "FROM a\nENV A=\"x y\" B='$z' C=a\\ b\n", NULL, NULL,
	 S0 "0/pairs", "[[\"A\",\"x y\"],[\"B\",\"$z\"],[\"C\",\"a b\"]]"},
	{"RUN commands are not expanded by the builder (ref: Environment replacement)",
	 "FROM a\nENV A=1\nRUN echo $A\n", NULL, NULL, S0 "1/command", "[\"echo $A\"]"},
	{"RUN exec form", "FROM a\nRUN [\"echo\", \"$A\"]\n", NULL, NULL, S0 "0/form", "\"exec\""},
	{"CMD shell form is one string", "FROM a\nCMD echo $HOME\n", NULL, NULL, S0 "0",
	 "{\"line\":2,\"instruction\":\"CMD\",\"original\":\"CMD echo $HOME\",\"form\":\"shell\","
	 "\"command\":[\"echo $HOME\"]}"},
	{"ENTRYPOINT exec form", "FROM a\nENTRYPOINT [\"/bin/app\", \"-x\"]\n", NULL, NULL,
	 S0 "0/command", "[\"/bin/app\",\"-x\"]"},
	{"SHELL has a command but no form", "FROM a\nSHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]\n",
	 NULL, NULL, S0 "0", "{\"line\":2,\"instruction\":\"SHELL\",\"original\":\"SHELL [\\\"/bin/bash\\\", "
	 "\\\"-eo\\\", \\\"pipefail\\\", \\\"-c\\\"]\",\"command\":[\"/bin/bash\",\"-eo\",\"pipefail\",\"-c\"]}"},
	{"RUN --mount values are expanded (ref: RUN --mount)",
	 "FROM a\nARG C=/cache\nRUN --mount=type=cache,target=$C make\n", NULL, NULL, S0 "1/mounts",
	 "[{\"type\":\"cache\",\"target\":\"/cache\"}]"},
	{"RUN --mount bare keys are true", "FROM a\nRUN --mount=type=bind,target=/x,rw true\n", NULL,
	 NULL, S0 "0/mounts", "[{\"type\":\"bind\",\"target\":\"/x\",\"rw\":true}]"},
	{"RUN --network is expanded (ref: RUN --network)", "FROM a\nARG N=none\nRUN --network=$N x\n",
	 NULL, NULL, S0 "1/network", "\"none\""},
	{"RUN --security", "FROM a\nRUN --security=insecure x\n", NULL, NULL, S0 "0/security",
	 "\"insecure\""},
	{"RUN without flags", "FROM a\nRUN x\n", NULL, NULL, S0 "0",
	 "{\"line\":2,\"instruction\":\"RUN\",\"original\":\"RUN x\",\"form\":\"shell\",\"command\":[\"x\"],"
	 "\"mounts\":[],\"network\":null,\"security\":null,\"heredocs\":[]}"},
	{"ONBUILD is not expanded (ref: ONBUILD)", "FROM a\nONBUILD RUN echo $A\n", NULL, NULL,
	 S0 "0/trigger", "\"RUN echo $A\""},
	{"MAINTAINER", "FROM a\nMAINTAINER Jo Doe\n", NULL, NULL, S0 "0/maintainer", "\"Jo Doe\""},
	{"HEALTHCHECK fields in nanoseconds (ref: HEALTHCHECK)",
	 "FROM a\nHEALTHCHECK --interval=5s --retries=2 CMD [\"/ok\"]\n", NULL, NULL, S0 "0",
	 "{\"line\":2,\"instruction\":\"HEALTHCHECK\",\"original\":\"HEALTHCHECK --interval=5s --retries=2 "
	 "CMD [\\\"/ok\\\"]\",\"none\":false,\"form\":\"exec\",\"command\":[\"/ok\"],\"interval\":5000000000,"
	 "\"timeout\":0,\"start_period\":0,\"start_interval\":0,\"retries\":2}"},
	{"HEALTHCHECK NONE", "FROM a\nHEALTHCHECK NONE\n", NULL, NULL, S0 "0/none", "true"},
	{"original joins continuation lines", "FROM a\nRUN a \\\n  b\n", NULL, NULL, S0 "0/original",
	 "\"RUN a   b\""},
	/* stages */
	{"FROM <stage> has a stage base (ref: multi-stage builds)", "FROM a AS b\nFROM b\n", NULL, NULL,
	 "stages/1/base", "{\"type\":\"stage\",\"stage\":0}"},
	{"stage names match case-insensitively and are stored lowercased",
	 "FROM a AS Build\nFROM BUILD AS Final\n", NULL, NULL, "stages/1", "NAME-AND-BASE"},
	{"FROM scratch has a scratch base (ref: scratch)", "FROM scratch\n", NULL, NULL,
	 "stages/0/base", "{\"type\":\"scratch\"}"},
	{"an unnamed stage has name null", "FROM a\n", NULL, NULL, "stages/0/name", "null"},
	{"stage line is the FROM's line", "# c\n\nFROM a\n", NULL, NULL, "stages/0/line", "3"},
	{"COPY --from=<index> depends on that stage (ref: COPY --from)",
	 "FROM a\nFROM b\nCOPY --from=0 /x /y\n", NULL, NULL, "stages/1/depends_on", "[0]"},
	{"COPY --from=<image> is not a stage dependency", "FROM a\nCOPY --from=nginx:1 /x /y\n", NULL,
	 NULL, "stages/0/depends_on", "[]"},
	{"COPY --from keeps the text after expansion", "ARG X\nFROM a\nARG S=nginx\nCOPY --from=$S /x /y\n",
	 NULL, NULL, S0 "1/from", "\"nginx\""},
	{"COPY --from=<name> is expanded and resolved", "FROM a AS b\nFROM c\nARG S=b\nCOPY --from=$S /x /y\n",
	 NULL, NULL, "stages/1/depends_on", "[0]"},
	{"RUN --mount from=<stage> is a dependency (ref: RUN --mount=type=bind,from)",
	 "FROM a AS b\nFROM c\nRUN --mount=from=b,target=/m x\n", NULL, NULL, "stages/1/depends_on",
	 "[0]"},
	{"depends_on is sorted and unique",
	 "FROM a AS x\nFROM a AS y\nFROM y\nCOPY --from=y a b\nCOPY --from=x a b\nCOPY --from=1 a b\n",
	 NULL, NULL, "stages/2/depends_on", "[0,1]"},
	{"the default target is the last stage, named by its index", "FROM a\nFROM b\n", NULL, NULL,
	 "target", "\"1\""},
	{"the target is named by its AS name", "FROM a\nFROM b AS Fin\n", NULL, NULL, "target",
	 "\"fin\""},
	{"--target prunes the stages it does not need (ref: --target)",
	 "FROM a AS one\nFROM b AS two\nFROM c AS three\nCOPY --from=one a b\n", "three", NULL,
	 "STAGES", "[0,2]"},
	{"--target stops at the named stage", "FROM a AS one\nFROM b AS two\nFROM c\n", "TWO", NULL,
	 "STAGES", "[1]"},
	{"stages not needed by the default target are dropped",
	 "FROM a AS dev\nFROM b AS unused\nFROM c\nCOPY --from=dev a b\n", NULL, NULL, "STAGES",
	 "[0,2]"},
	{"a transitive dependency is kept", "FROM a AS x\nFROM x AS y\nFROM c\nCOPY --from=y a b\n",
	 NULL, NULL, "STAGES", "[0,1,2]"},
	{"independent stages share parallel group 0",
	 "FROM a AS x\nFROM b AS y\nFROM c\nCOPY --from=x a b\nCOPY --from=y a b\n", NULL, NULL,
	 "groups", "[[0,1],[2]]"},
	{"a chain of stages has one group each", "FROM a AS x\nFROM x AS y\nFROM y\n", NULL, NULL,
	 "groups", "[[0],[1],[2]]"},
	{"group is 1 + the max over the dependencies",
	 "FROM a AS x\nFROM x AS y\nFROM c\nCOPY --from=x a b\nCOPY --from=y a b\n", NULL, NULL,
	 "stages/2/group", "2"},
	{"a single stage plan has version 1", "FROM a\n", NULL, NULL, "version", "1"},
};

static char *stage_indices(json_t *root)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *stages = json_object_get(root, "stages");
	size_t i;
	json_t *s;
	strbuf_addc(&sb, '[');
	json_array_foreach(stages, i, s)
	{
		strbuf_addf(&sb, "%s%lld", i ? "," : "",
			    (long long)json_integer_value(json_object_get(s, "index")));
	}
	strbuf_addc(&sb, ']');
	return strbuf_detach(&sb);
}

static char *fact_value(const struct fact *f, json_t *root)
{
	if (!strcmp(f->path, "STAGES"))
		return stage_indices(root);
	json_t *j = path_get(root, f->path);
	if (!strcmp(f->want, "NAME-AND-BASE")) {
		json_t *b = json_object_get(j, "base");
		return xasprintf("%s/%lld", json_string_value(json_object_get(j, "name")),
				 (long long)json_integer_value(json_object_get(b, "stage")));
	}
	return j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;
}

static void run_facts(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(facts); i++) {
		const struct fact *f = &facts[i];
		struct molt_error *err = NULL;
		struct build_plan *plan = NULL;
		char *got = NULL;
		if (make_plan(f->text, f->target, f->bargs, &plan, &err) == 0) {
			_cleanup_free_ char *js = NULL;
			build_plan_to_json(plan, &js, &err);
			json_t *root = js ? json_loads(js, 0, NULL) : NULL;
			got = root ? fact_value(f, root) : NULL;
			json_decref(root);
		} else {
			tap_diag("error: %s", err ? err->msg : "?");
		}
		const char *want = strcmp(f->want, "NAME-AND-BASE") ? f->want : "final/0";
		tap_str_eq(got, want, f->name);
		free(got);
		build_plan_free(plan);
		molt_error_free(err);
	}
}

struct err_fact {
	const char *name, *text, *target, *bargs;
	int line; /* 0: the message has no line */
	const char *want;
};

static const struct err_fact err_facts[] = {
	{"no FROM at all", "ARG A=1\n", NULL, NULL, 0, "no FROM instruction"},
	{"an empty Dockerfile has no FROM", "", NULL, NULL, 0, "no FROM instruction"},
	{"an instruction before FROM other than ARG (ref: FROM)", "ARG A\nRUN x\nFROM a\n", NULL,
	 NULL, 2, "RUN before the first FROM (only ARG may come before FROM)"},
	{"ENV before FROM", "ENV A=1\nFROM a\n", NULL, NULL, 1, "ENV before the first FROM"},
	{"duplicate stage name (BuildKit: duplicate stage name)", "FROM a AS x\nFROM b AS X\n",
	 NULL, NULL, 2, "FROM: duplicate stage name 'X' (first used on line 1)"},
	{"--target naming no stage", "FROM a AS x\n", "nope", NULL, 0,
	 "--target: no stage named 'nope' in Dockerfile (named stages: 'x')"},
	{"COPY --from a later stage is a forward reference", "FROM a\nCOPY --from=later a b\nFROM c AS later\n",
	 NULL, NULL, 2, "COPY: --from 'later' refers to stage 1, which comes later"},
	{"COPY --from its own stage is a cycle", "FROM a AS me\nCOPY --from=me a b\n", NULL, NULL, 2,
	 "COPY: --from 'me' refers to its own stage"},
	{"COPY --from a later index", "FROM a\nCOPY --from=1 a b\nFROM c\n", NULL, NULL, 2,
	 "refers to stage 1, which comes later"},
	{"COPY --from an index past the last stage (BuildKit: invalid stage index)",
	 "FROM a\nCOPY --from=3 a b\nFROM c\n", NULL, NULL, 2,
	 "COPY: --from '3': invalid stage index (the Dockerfile has 2 stages, numbered from 0)"},
	{"RUN --mount from an index past the last stage", "FROM a\nRUN --mount=from=1,target=/z x\n",
	 NULL, NULL, 2, "RUN: --mount from '1': invalid stage index (the Dockerfile has 1 stage"},
	{"COPY of an https URL (BuildKit: source can't be a URL for COPY)",
	 "FROM a\nCOPY https://example.invalid/x.tgz /x\n", NULL, NULL, 2,
	 "COPY: source 'https://example.invalid/x.tgz' is a URL: COPY takes no URLs (use ADD"},
	{"COPY --from of an http URL", "FROM a AS s\nFROM b\nCOPY --from=s http://h/x /x\n", NULL,
	 NULL, 3, "COPY: source 'http://h/x' is a URL"},
	{"FROM its own name is a cycle", "FROM x AS x\n", NULL, NULL, 1,
	 "FROM: image 'x' refers to its own stage"},
	{"FROM a later stage is a forward reference", "FROM y AS x\nFROM a AS y\n", NULL, NULL, 1,
	 "FROM: image 'y' refers to stage 1, which comes later"},
	{"RUN --mount from a later stage", "FROM a\nRUN --mount=from=z,target=/z x\nFROM b AS z\n",
	 NULL, NULL, 2, "RUN: --mount from 'z' refers to stage 1"},
	{"several COPY sources need a destination ending in / (ref: COPY)",
	 "FROM a\nCOPY a b /dst\n", NULL, NULL, 2,
	 "COPY: with several sources the destination '/dst' must be a directory ending in '/'"},
	{"several ADD sources need a directory destination", "FROM a\nADD a b c\n", NULL, NULL, 2,
	 "ADD: with several sources"},
	{"EXPOSE with a non-numeric port", "FROM a\nEXPOSE abc\n", NULL, NULL, 2,
	 "EXPOSE: invalid port 'abc'"},
	{"EXPOSE with a port above 65535", "FROM a\nEXPOSE 70000\n", NULL, NULL, 2,
	 "EXPOSE: invalid port '70000'"},
	{"EXPOSE with an unknown protocol", "FROM a\nEXPOSE 80/xyz\n", NULL, NULL, 2,
	 "EXPOSE: invalid protocol in port '80/xyz'"},
	{"EXPOSE with a host mapping", "FROM a\nEXPOSE 80:80\n", NULL, NULL, 2, "invalid port '80:80'"},
	{"EXPOSE with a reversed range", "FROM a\nEXPOSE 90-80\n", NULL, NULL, 2,
	 "invalid port range '90-80'"},
	{"STOPSIGNAL with an unknown signal", "FROM a\nSTOPSIGNAL SIGBOGUS\n", NULL, NULL, 2,
	 "STOPSIGNAL: invalid signal 'SIGBOGUS'"},
	{"an expansion error names the line and variable", "FROM a\nENV X=${NEED:?required}\n",
	 NULL, NULL, 2, "NEED: required"},
	{"COPY --chmod must be a mode", "FROM a\nCOPY --chmod=rwx a b\n", NULL, NULL, 2,
	 "COPY: invalid --chmod 'rwx'"},
	{"RUN --network must be default, none or host", "FROM a\nRUN --network=bridge x\n", NULL,
	 NULL, 2, "RUN: invalid --network 'bridge'"},
	{"RUN --security must be insecure or sandbox", "FROM a\nRUN --security=root x\n", NULL, NULL,
	 2, "RUN: invalid --security 'root'"},
	{"a RUN --mount error carries the line", "FROM a\nRUN --mount=type=nfs,target=/x x\n", NULL,
	 NULL, 2, "RUN: --mount: unknown type 'nfs'"},
	{"FROM --platform must be os/arch", "FROM --platform=amd64 a\n", NULL, NULL, 1,
	 "FROM: invalid --platform 'amd64'"},
	{"FROM with an empty image after expansion", "ARG IMG\nFROM $IMG\n", NULL, NULL, 2,
	 "FROM: the image name '$IMG' is empty after expansion"},
	{"WORKDIR empty after expansion", "FROM a\nWORKDIR $NOPE\n", NULL, NULL, 2,
	 "WORKDIR: the argument '$NOPE' is empty after expansion"},
	{"a VOLUME path empty after expansion", "FROM a\nVOLUME [\"\"]\n", NULL, NULL, 2,
	 "VOLUME: a volume path cannot be empty"},
	{"--build-arg with an empty name", "FROM a\n", NULL, "=x", 0, "--build-arg '=x'"},
	{"ADD --checksum needs an algorithm", "FROM a\nADD --checksum=abc u /d\n", NULL, NULL, 2,
	 "ADD: invalid --checksum 'abc'"},
	{"an error in an unneeded stage still fails the plan", "FROM a\nEXPOSE x\nFROM b AS t\n", "t",
	 NULL, 2, "EXPOSE: invalid port 'x'"},
};

static void run_err_facts(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(err_facts); i++) {
		const struct err_fact *f = &err_facts[i];
		struct molt_error *err = NULL;
		struct build_plan *plan = NULL;
		int r = make_plan(f->text, f->target, f->bargs, &plan, &err);
		_cleanup_free_ char *prefix =
			f->line ? xasprintf("Dockerfile:%d: ", f->line) : xstrdup("");
		bool good = r < 0 && !plan && err && err->exit_code == MOLT_EXIT_USAGE &&
			    str_startswith(err->msg, prefix) && strstr(err->msg, f->want);
		if (!tap_ok(good, "error: %s", f->name))
			tap_diag("got: %s\n# want: %s...%s", err ? err->msg : "(no error)", prefix,
				 f->want);
		build_plan_free(plan);
		molt_error_free(err);
	}
}

/* The executor reads state the JSON does not show: check it on the structs. */
static void run_struct_cases(void)
{
	struct molt_error *err = NULL;
	struct build_plan *plan = NULL;
	const char *t = "FROM a AS base\nENV P=/bin\nSHELL [\"/bin/bash\", \"-c\"]\nWORKDIR /w\n"
			"USER app\nFROM base\nARG V=1\nRUN echo\n";
	if (make_plan(t, NULL, "HTTP_PROXY=h", &plan, &err) < 0) {
		tap_ok(0, "state plan: %s", err ? err->msg : "?");
		molt_error_free(err);
		return;
	}
	const struct build_stage *s = build_plan_stage(plan, 1);
	const struct build_instr *run = s ? &s->instrs[1] : NULL;
	tap_ok(run && strv_contains(run->env, "P=/bin"),
	       "a RUN sees the ENV inherited from its base stage");
	tap_ok(run && strv_contains(run->args, "V=1"), "a RUN sees the ARGs in scope");
	tap_ok(run && run->shell && !strcmp(run->shell[0], "/bin/bash"),
	       "SHELL carries over to a stage built on it");
	tap_ok(run && !strcmp(run->workdir, "/w") && !strcmp(run->user, "app"),
	       "WORKDIR and USER carry over to a stage built on it");
	const struct build_stage *s0 = build_plan_stage(plan, 0);
	tap_ok(s0 && s0->instrs[0].shell && !strcmp(s0->instrs[0].shell[0], "/bin/sh") &&
		       !strcmp(s0->instrs[0].shell[1], "-c"),
	       "the default SHELL is [\"/bin/sh\", \"-c\"] (ref: SHELL)");
	tap_ok(plan->target_index == 1 && !strcmp(plan->target, "1"), "target index and name");
	tap_ok(plan->unused_build_args && !plan->unused_build_args[0],
	       "a proxy --build-arg without ARG is not reported unused");
	build_plan_free(plan);
	plan = NULL;
	make_plan("ARG G\nFROM a\nARG S\n", NULL, "G=1|S=2|X=3|Y", &plan, &err);
	tap_ok(plan && strv_len(plan->unused_build_args) == 1 &&
		       !strcmp(plan->unused_build_args[0], "X"),
	       "a --build-arg no ARG declares is reported (BuildKit: build-args not consumed)");
	build_plan_free(plan);
	plan = NULL;
	struct dockerfile *df = NULL;
	t = "FROM a\n";
	dockerfile_parse(t, strlen(t), NULL, &df, &err);
	struct plan_options o = {0};
	tap_ok(df && build_plan_make(df, &o, &plan, &err) == 0 && plan->build_platform.arch[0] &&
		       !strcmp(plan->build_platform.os, "linux"),
	       "without overrides the platforms come from the host");
	build_plan_free(plan);
	dockerfile_free(df);
	molt_error_free(err);
}

/* --build-context NAME=IMAGE: the name reads the image wherever a stage could be named. */
static void run_named_context_cases(void)
{
	const char *t = "FROM busybox AS assets\nRUN x\nFROM assets\nCOPY --from=assets /a /a\n"
			"COPY --from=tools /t /t\nRUN --mount=from=tools,target=/m true\n";
	char *named[] = {"assets=sha256:1111111111111111111111111111111111111111111111111111111111111111",
			 "tools=docker-image-ref:1", NULL};
	struct dockerfile *df = NULL;
	struct build_plan *plan = NULL;
	struct molt_error *err = NULL;
	int r = dockerfile_parse(t, strlen(t), NULL, &df, &err);
	struct plan_options o = {.build_platform = &amd64, .target_platform = &amd64,
				 .named_contexts = named};
	if (r == 0)
		r = build_plan_make(df, &o, &plan, &err);
	if (!tap_ok(r == 0, "a plan with named contexts: %s", err ? err->msg : "ok")) {
		molt_error_free(err);
		dockerfile_free(df);
		return;
	}
	const struct build_stage *s = build_plan_stage(plan, 1);
	tap_ok(s && s->base == BASE_IMAGE && !strcmp(s->from, named[0] + strlen("assets=")),
	       "FROM NAME reads the named context's image, not the stage of that name");
	tap_ok(s && s->instrs[0].from_stage == -1 && !strcmp(s->instrs[0].from, named[0] + 7),
	       "COPY --from=NAME reads the named context, not the stage");
	tap_str_eq(s ? s->instrs[1].from : NULL, "docker-image-ref:1", "COPY --from names an image context");
	tap_ok(s && s->instrs[2].n_mounts == 1 && s->instrs[2].mounts[0].from_stage == -1 &&
		       !strcmp(s->instrs[2].mounts[0].from, "docker-image-ref:1"),
	       "RUN --mount from=NAME reads the named context");
	tap_ok(build_plan_stage(plan, 0) == NULL, "the overridden stage is not built");
	build_plan_free(plan);
	dockerfile_free(df);
}

static int fake_base(void *ud, const char *image, const char *platform, struct plan_base *ret)
{
	(void)ud;
	(void)platform;
	if (!strcmp(image, "triggers")) {
		strv_push(&ret->env, "V=from-image");
		ret->workdir = xstrdup("/w");
		strv_push(&ret->onbuild, "ENV T=$V");
		strv_push(&ret->onbuild, "RUN echo $V");
		return 0;
	}
	if (strcmp(image, "withenv"))
		return -ENOENT;
	strv_push(&ret->env, "PATH=/opt/bin:/bin");
	strv_push(&ret->env, "V=from-image");
	ret->workdir = xstrdup("/srv/");
	strv_push(&ret->shell, "/bin/bash");
	strv_push(&ret->shell, "-eu");
	ret->user = xstrdup("app");
	return 0;
}

/* plan_options.base_config: what a base image's config gives the stage (as BuildKit). */
static void run_base_config_cases(void)
{
	const char *t = "FROM other AS o\nENV O=${PATH:-none}\n"
			"FROM withenv AS a\nARG V=from-arg\nENV PATH=/x:$PATH SEEN=$V\n"
			"WORKDIR sub\nRUN echo\nFROM a\nENV B=$SEEN\nCOPY --from=o /x /y\n";
	struct dockerfile *df = NULL;
	struct build_plan *plan = NULL;
	struct molt_error *err = NULL;
	int r = dockerfile_parse(t, strlen(t), NULL, &df, &err);
	struct plan_options o = {.base_config = fake_base, .build_platform = &amd64,
				 .target_platform = &amd64};
	if (r == 0)
		r = build_plan_make(df, &o, &plan, &err);
	if (!tap_ok(r == 0 && plan->n_stages == 3, "a plan with base image configs: %s",
		    err ? err->msg : "ok")) {
		build_plan_free(plan);
		molt_error_free(err);
		dockerfile_free(df);
		return;
	}
	const struct build_stage *s0 = build_plan_stage(plan, 1);
	const struct build_instr *env = &s0->instrs[1], *run = &s0->instrs[3];
	tap_str_eq(env->pairs[0].value, "/x:/opt/bin:/bin",
		   "$PATH in ENV expands from the base image's Env (as BuildKit)");
	tap_str_eq(env->pairs[1].value, "from-image",
		   "the base image's Env beats an ARG of the same name (as BuildKit)");
	tap_str_eq(run->workdir, "/srv/sub", "a relative WORKDIR joins the base image's WorkingDir");
	tap_ok(run->shell && !strcmp(run->shell[0], "/bin/bash") && !strcmp(run->shell[1], "-eu"),
	       "the base image's Shell is the stage's SHELL");
	tap_str_eq(run->user, "app", "the base image's User is the stage's USER");
	const struct build_stage *s1 = build_plan_stage(plan, 2);
	tap_str_eq(s1->instrs[0].pairs[0].value, "from-image",
		   "a stage FROM a stage inherits the base image's Env through it");
	const struct build_stage *s2 = build_plan_stage(plan, 0);
	tap_str_eq(s2->instrs[0].pairs[0].value, "none",
		   "an image the callback does not know starts from the defaults");
	tap_str_eq(s2->instrs[0].workdir, "/", "an unknown image's WORKDIR is /");
	build_plan_free(plan);
	dockerfile_free(df);
}

/* ONBUILD triggers are planned with the rest: the base image's, or the base stage's. */
static void run_onbuild_cases(void)
{
	const char *t = "ARG V=from-arg\nFROM triggers AS a\nONBUILD COPY x /$V/\n"
			"FROM a AS b\nFROM b\nFROM withenv\n";
	struct dockerfile *df = NULL;
	struct build_plan *plan = NULL;
	struct molt_error *err = NULL;
	int r = dockerfile_parse(t, strlen(t), NULL, &df, &err);
	struct plan_options o = {.base_config = fake_base, .build_platform = &amd64,
				 .target_platform = &amd64, .target = "b"};
	if (r == 0)
		r = build_plan_make(df, &o, &plan, &err);
	if (!tap_ok(r == 0 && plan->n_stages == 2, "a plan with ONBUILD triggers: %s",
		    err ? err->msg : "ok")) {
		build_plan_free(plan);
		molt_error_free(err);
		dockerfile_free(df);
		return;
	}
	const struct build_stage *a = build_plan_stage(plan, 0), *b = build_plan_stage(plan, 1);
	const struct build_stage *ob = a->onbuild;
	tap_ok(ob && ob->n_instrs == 2 && ob->instrs[0].kind == DF_ENV &&
		       ob->instrs[1].kind == DF_RUN,
	       "the base image's ONBUILD triggers are planned as the stage's first steps");
	tap_str_eq(ob && ob->n_instrs ? ob->instrs[0].pairs[0].value : NULL, "from-image",
		   "a trigger expands with the base image's Env, not the build's ARGs");
	tap_str_eq(ob && ob->n_instrs > 1 ? ob->instrs[1].workdir : NULL, "/w",
		   "a trigger runs in the base image's WorkingDir");
	tap_ok(b->onbuild && b->onbuild->n_instrs == 1 && b->onbuild->instrs[0].kind == DF_COPY,
	       "a stage built on a stage runs that stage's ONBUILD instructions");
	tap_str_eq(b->onbuild && b->onbuild->n_instrs ? b->onbuild->instrs[0].dest : NULL,
		   "/from-image/", "a stage's trigger expands with its base stage's Env");
	build_plan_free(plan);
	dockerfile_free(df);
	o.target = NULL;
	const char *bad = "FROM a\nONBUILD RUN x\nFROM a AS b\nFROM b\n";
	r = dockerfile_parse(bad, strlen(bad), NULL, &df, &err);
	if (r == 0)
		r = build_plan_make(df, &o, &plan, &err);
	tap_ok(r == 0 && !build_plan_stage(plan, 2)->onbuild,
	       "triggers run once: a stage two FROMs down does not run them");
	build_plan_free(plan);
	dockerfile_free(df);
	molt_error_free(err);
}

static int record_base(void *ud, const char *image, const char *platform, struct plan_base *ret)
{
	strv_push(ud, image);
	return fake_base(NULL, image, platform, ret);
}

/* Only the images of the stages the target needs are asked for (and so pulled). */
static void run_needed_bases_cases(void)
{
	const char *t = "FROM unused-image AS other\nRUN x\nFROM withenv AS dep\n"
			"FROM triggers AS t\nCOPY --from=dep /a /b\nFROM also-unused\n";
	struct dockerfile *df = NULL;
	struct build_plan *plan = NULL;
	struct molt_error *err = NULL;
	_cleanup_strv_ char **asked = xcalloc(1, sizeof(char *));
	int r = dockerfile_parse(t, strlen(t), NULL, &df, &err);
	struct plan_options o = {.base_config = record_base, .base_ud = &asked,
				 .build_platform = &amd64, .target_platform = &amd64,
				 .target = "t"};
	if (r == 0)
		r = build_plan_make(df, &o, &plan, &err);
	_cleanup_strbuf_ struct strbuf got = STRBUF_INIT;
	for (size_t i = 0; asked[i]; i++)
		strbuf_addf(&got, "%s%s", i ? "," : "", asked[i]);
	tap_ok(r == 0 && plan->n_stages == 2, "a plan for --target t: %s", err ? err->msg : "ok");
	tap_str_eq(got.buf ? got.buf : "", "withenv,triggers",
		   "base configs are asked only for the stages the target needs, once each");
	tap_ok(r == 0 && build_plan_stage(plan, 2)->onbuild,
	       "the needed stage still gets its base image's ONBUILD triggers");
	build_plan_free(plan);
	dockerfile_free(df);
	molt_error_free(err);
}

static void caret_case(const char *name, const char *text, const char *want_detail)
{
	struct molt_error *err = NULL;
	struct build_plan *plan = NULL;
	make_plan(text, NULL, NULL, &plan, &err);
	tap_str_eq(err ? err->detail : NULL, want_detail, name);
	build_plan_free(plan);
	molt_error_free(err);
}

static void run_caret_cases(void)
{
	caret_case("a bad EXPOSE port gets a caret under the port", "FROM a\nEXPOSE 80 9x\n",
		   "EXPOSE 80 9x\n          ^");
	caret_case("a forward --from gets a caret under --from",
		   "FROM a\nCOPY --link --from=1 a b\nFROM b\n",
		   "COPY --link --from=1 a b\n            ^");
	caret_case("a bad --mount gets a caret under --mount", "FROM a\nRUN --mount=type=x,target=/ y\n",
		   "RUN --mount=type=x,target=/ y\n    ^");
	caret_case("a short needle is searched after the keyword", "FROM a\nexpose x\n",
		   "expose x\n       ^");
	caret_case("an instruction before FROM echoes the line without caret", "RUN x\nFROM a\n",
		   "RUN x");
}

int main(void)
{
	run_facts();
	run_caret_cases();
	run_err_facts();
	run_struct_cases();
	run_base_config_cases();
	run_named_context_cases();
	run_onbuild_cases();
	run_needed_bases_cases();
	return tap_done();
}
