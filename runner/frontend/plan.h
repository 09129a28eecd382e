/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/plan.h: the resolved build plan — what the build executor consumes and what
 * `molt build --print-plan` prints (format: tests/corpus/README.md).
 *
 * build_plan_make() takes the raw tree of runner/frontend/dockerfile.h and applies Docker's
 * semantics: ARG scoping (global ARGs only in FROM lines until redeclared, --build-arg
 * overrides, predefined proxy args, automatic platform args), variable expansion in the
 * instructions that expand (through runner/frontend/expand.h, one snapshot per instruction),
 * ENV inheritance from a stage base, the stage graph (FROM <stage>, COPY --from,
 * RUN --mount from=), --target pruning and the parallel groups.
 *
 * What the plan cannot know without the images: the ENV/WORKDIR/SHELL/USER and the
 * ONBUILD triggers of a base *image*. plan_options.base_config supplies them (the
 * executor's bases, resolved once with the store open, runner/executor/build.h);
 * without it their defaults are empty / "/" / ["/bin/sh", "-c"] / "" / none.
 */
#ifndef MOLT_RUNNER_PLAN_H
#define MOLT_RUNNER_PLAN_H

#include "dockerfile.h"

/* ---- runner/frontend/platform.c */

struct platform {
	char os[16];      /* "linux" */
	char arch[16];    /* GOARCH names: amd64, arm64, arm, 386, ppc64le, s390x, riscv64 */
	char variant[16]; /* "v7" for arm, else "" */
};
/* The host's platform from uname(2), in Go/OCI names. */
int platform_host(struct platform *ret, struct molt_error **err);
/* Maps a uname machine ("x86_64", "aarch64", "armv7l") to the platform; -ENOTSUP if unknown. */
int platform_from_machine(const char *machine, struct platform *ret);
/* "linux/arm/v7", "linux/amd64" (allocated). */
char *platform_format(const struct platform *p);
/* Parses "os/arch[/variant]" (as in FROM --platform); -EINVAL on a malformed string. */
int platform_parse(const char *s, struct platform *ret);
struct build_plan;
/* Refuses a plan whose target platform or a FROM --platform is not this machine's
 * (molt runs steps natively, without emulation). */
int platform_check_native(const struct build_plan *p, struct molt_error **err);

/* ---- the plan */

struct plan_kv {
	char *key;
	char *value; /* NULL: an ARG without a value */
};
/* Frees the n pairs and the array. */
void plan_kv_free(struct plan_kv *kv, size_t n);

enum build_mount_type {
	MOUNT_BIND,
	MOUNT_CACHE,
	MOUNT_TMPFS,
	MOUNT_SECRET,
	MOUNT_SSH,
};

/* One RUN --mount, values after expansion. Unset strings are NULL, unset numbers -1. */
struct build_mount {
	enum build_mount_type type;
	char *target;  /* target|dst|destination (defaults applied for secret and ssh) */
	char *source;  /* source|src */
	char *from;    /* from= as written (after expansion) */
	int from_stage; /* index of the stage `from` names, -1 for an image or none */
	char *id;
	char *sharing; /* shared|private|locked (cache) */
	char *env;     /* secret: also expose as this environment variable */
	bool readonly; /* bind: default true; cache: default false */
	bool required; /* secret, ssh */
	int64_t mode, uid, gid, size;
	struct plan_kv *opts; /* every key as written: value, or NULL for a bare key */
	size_t n_opts;
};

/*
 * Parses one --mount value (in runner/frontend/flags.c). Each value is passed through
 * expand(ud, value, &out) first; errors are usage errors without a line.
 */
int build_mount_parse(const char *spec, int (*expand)(void *ud, const char *in, char **out),
		      void *ud, struct build_mount *ret, struct molt_error **err);
void build_mount_done(struct build_mount *m);

struct build_instr {
	enum df_kind kind;
	int line;
	int end_line; /* the last physical line (continuations, heredocs), for excerpts */
	char *original;

	/* RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK: never expanded by the builder */
	bool exec_form;
	char **command;

	/* RUN */
	struct build_mount *mounts;
	size_t n_mounts;
	char *network;  /* default|none|host, NULL when not given */
	char *security; /* insecure|sandbox, NULL when not given */

	/* ENV, LABEL, ARG (value: --build-arg override, else expanded default, else NULL) */
	struct plan_kv *pairs;
	size_t n_pairs;

	char **ports;     /* EXPOSE: "80/tcp", ranges expanded */
	char **paths;     /* VOLUME */
	char *value;      /* USER user, WORKDIR absolute path, STOPSIGNAL signal,
			   * MAINTAINER name, ONBUILD trigger text */

	/* COPY, ADD */
	char **sources;   /* not the heredocs */
	char *dest;
	char *from;       /* --from after expansion, NULL when not given */
	int from_stage;   /* the earlier stage --from names, -1 for an image or none */
	char *chown, *chmod, *checksum;
	bool link, parents, keep_git_dir;
	char **exclude;

	/* HEALTHCHECK */
	struct df_health health;

	/*
	 * RUN, COPY, ADD (and ONBUILD of those): RUN bodies as written (the shell expands
	 * them); COPY/ADD bodies already expanded when `expand` (unquoted delimiter).
	 */
	struct df_heredoc *heredocs;
	size_t n_heredocs;

	/*
	 * The state in effect when the instruction runs (before its own effect):
	 * env = the stage's ENV ("K=V"), args = the build args in scope ("K=V", those
	 * with a value; RUN sees them as environment variables unless ENV has the
	 * name), shell = SHELL (default ["/bin/sh", "-c"]), workdir, user.
	 */
	char **env;  /* RUN only (NULL for the others), borrowed from build_stage.snapshots */
	char **args; /* likewise */
	char **shell;
	char *workdir;
	char *user;
};

enum build_base { BASE_IMAGE, BASE_SCRATCH, BASE_STAGE };

/* The PATH of BuildKit's empty image (FROM scratch) and of a RUN without one. */
#define PLAN_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Bounds on what a hostile Dockerfile or base image can make the planner hold (one
 * expanded word is at most 1 MiB, runner/frontend/expand.c): a stage's environment (the base
 * image's Env and its ENVs, as "K=V" text), its build args in scope, and what its
 * LABELs set, each at most 4 MiB. A RUN could not start with more environment than
 * that anyway (execve(2) takes about 2 MiB with the usual 8 MiB stack limit).
 */
#define PLAN_MAX_ENV (4u << 20)
#define PLAN_MAX_LABELS (4u << 20)

struct build_stage {
	int index;      /* position among the FROMs, 0-based */
	char *name;     /* lowercased AS name or NULL */
	int line;
	char *from;     /* the FROM argument after expansion with the global ARGs */
	enum build_base base;
	int base_stage; /* BASE_STAGE: its index */
	char *platform; /* --platform after expansion, or NULL */
	int *depends_on; /* sorted, unique stage indices */
	size_t n_depends;
	int group;       /* 0 without deps, else 1 + max over deps */
	struct build_instr *instrs;
	size_t n_instrs;
	char ***snapshots; /* the env and args lists its RUNs share */
	size_t n_snapshots;
	/* The stage's state after its last instruction (a later `FROM this` starts here). */
	char **env;
	char **shell;
	char *workdir;
	char *user;
	/*
	 * The ONBUILD triggers run right after FROM (its base image's, or the ONBUILD
	 * instructions of the stage it is built on), planned as one stage of their own
	 * whose instrs are the triggers; NULL when there are none. Not in the JSON.
	 */
	struct build_stage *onbuild;
};

struct build_plan {
	char *target;     /* the target stage's name, else its index as a string */
	int target_index;
	struct build_stage *stages; /* only the stages the target needs, by index */
	size_t n_stages;
	struct platform build_platform, target_platform;
	char *syntax, *check; /* the parser directives, or NULL */
	char escape;
	/* --build-arg names no ARG declares (proxy args excepted), for docker's warning */
	char **unused_build_args;
	/* "K=V" of the predefined proxy args given with --build-arg: every RUN's
	 * environment has them, declared or not, and no history, config or cache key
	 * does (docker's rule for HTTP_PROXY and the like) */
	char **proxy_env;
};

/*
 * What the plan takes from a base image's config: BuildKit expands a stage's
 * instructions with the environment the base image declares, resolves a relative
 * WORKDIR against its WorkingDir and runs shell forms through its Shell.
 */
struct plan_base {
	char **env;    /* "K=V" (Config.Env), may be NULL */
	char *workdir; /* Config.WorkingDir, NULL or "" for "/" */
	char **shell;  /* Config.Shell, NULL or empty for ["/bin/sh", "-c"] */
	char *user;    /* Config.User, may be NULL */
	char **onbuild; /* Config.OnBuild, the triggers the stage runs after FROM, may be NULL */
};
void plan_base_done(struct plan_base *b);

struct plan_options {
	const char *target; /* --target, NULL for the last stage */
	/*
	 * The config of the image a FROM names (after expansion; platform: the FROM's
	 * --platform, or NULL), asked only for the stages the target needs (their graph
	 * is found first without it), once per stage, in stage order. Returns 0 and fills
	 * *ret (allocated, freed by the planner), or a negative errno when the image is
	 * unknown: the stage then starts from the defaults (the executor reports a
	 * missing image). NULL: every image starts from the defaults.
	 */
	int (*base_config)(void *ud, const char *image, const char *platform,
			   struct plan_base *ret);
	void *base_ud;
	/*
	 * --build-arg values: "K=V", or "K" which takes K from lookup_env (getenv when
	 * NULL) and is ignored when unset there (as docker's CLI does).
	 */
	char *const *build_args;
	const char *(*lookup_env)(const char *name);
	/* Overrides of the host platform (tests); NULL = platform_host(). */
	const struct platform *build_platform;
	const struct platform *target_platform;
	/* --build-context: "NAME=IMAGE"; FROM NAME, COPY --from=NAME and RUN --mount
	 * from=NAME read IMAGE, even where a stage is named NAME (as BuildKit). */
	char *const *named_contexts;
};

/* Resolves df into a plan. Errors are usage errors naming the Dockerfile line. */
int build_plan_make(const struct dockerfile *df, const struct plan_options *opts,
		    struct build_plan **ret, struct molt_error **err);
void build_plan_free(struct build_plan *p);
/* The position of the stage with Dockerfile index `index` in p->stages, or -1. */
int plan_stage_pos(const struct build_plan *p, int index);
/* The stage with index `index`, or NULL when the target does not need it. */
const struct build_stage *build_plan_stage(const struct build_plan *p, int index);

/* ---- runner/frontend/plan_json.c */

/* The plan as JSON (tests/corpus/README.md, version 1), pretty-printed, ending in "\n". */
int build_plan_to_json(const struct build_plan *p, char **ret, struct molt_error **err);

#endif
