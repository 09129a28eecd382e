/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/plan_int.h: the planner's state, shared by plan.c (stages, scopes,
 * the graph), plan_scope.c (expansion in the current scope) and plan_instr.c (one
 * instruction at a time). Internal to the frontend.
 */
#ifndef MOLT_FRONTEND_PLAN_INT_H
#define MOLT_FRONTEND_PLAN_INT_H

#include "plan.h"
#include "vars.h"

struct stage_state {
	struct vars env, args;
	char **shell;
	char *workdir;
	char *user;
	size_t label_bytes; /* what the stage's LABELs set, for PLAN_MAX_LABELS */
	/* The last snapshots handed to a RUN, reused while the tables are unchanged. */
	char **env_snap, **args_snap;
	uint64_t env_gen, args_gen;
};

struct planner {
	const struct dockerfile *df;
	const struct plan_options *opts;
	struct molt_error **err;
	struct vars bargs; /* --build-arg values */
	struct vars meta;  /* the global scope: platform args and ARGs before the first FROM */
	struct build_stage *stages;
	struct stage_state *states;
	size_t n_stages;
	char **names; /* lowercased AS name per stage, "" for unnamed */
	size_t *first; /* index in df->instrs of each FROM */
	/* the instruction being planned */
	const struct df_instr *in;
	int stage;
	const struct vars *scope_env, *scope_args;
	/* by stage index: the target needs it (only their base images are asked for);
	 * NULL: every stage */
	const bool *needed;
};

/* ---- plan_scope.c */
/* Docker's lookup inside a stage (ENV, then ARG, then proxy build-args): an expand_env. */
const char *scope_lookup(void *ud, const char *name);
/* An error in the current instruction; the caret goes under `needle` when it is in the line. */
int instr_error_at(struct planner *p, const char *needle, const char *fmt, ...) MOLT_PRINTF(3, 4);
#define instr_error(p, ...) instr_error_at(p, NULL, __VA_ARGS__)
/* A word, or a list of words, expanded in the current scope. */
int expand1(struct planner *p, const char *word, char **ret);
int expandv(struct planner *p, const char *text, char ***ret);
/* A flag value expanded, or NULL when the flag is absent. */
int expand_flag(struct planner *p, const char *name, char **ret);
char *lower_dup(const char *s);
/* The predefined proxy ARGs (HTTP_PROXY …), visible with --build-arg alone. */
bool is_proxy_arg(const char *name);
/*
 * The earlier stage `ref` names (by AS name, or by index when allow_index), -1 when it
 * names an image; naming itself or a later stage is an error.
 */
int stage_ref(struct planner *p, const char *what, const char *ref, bool allow_index, int *ret);
/* Replaces *ref by the image of a --build-context of that name (plan_options), if any. */
bool named_context(struct planner *p, char **ref);

/* ---- plan_onbuild.c */
/*
 * The ONBUILD triggers stage s runs after FROM — image_triggers (its base image's) or
 * its base stage's ONBUILD instructions — as a Dockerfile of their own (allocated)
 * and the options to plan it with; NULL when there are none.
 */
char *onbuild_dockerfile(struct planner *p, size_t s, char *const *image_triggers,
			 struct plan_options *ret_opts);

/* ---- plan_instr.c */
/* Plans the current instruction p->in of stage st into bi. */
int plan_instr(struct planner *p, struct stage_state *st, struct build_instr *bi);
/* Lexical path cleaning (Go's path.Clean) of an absolute path, allocated. */
char *path_clean_abs(const char *path);

#endif
