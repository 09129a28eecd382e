/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/plan.c: Dockerfile tree -> build plan (runner/frontend/plan.h): ARG scopes, variable
 * expansion, stage graph, --target pruning, parallel groups.
 */
#include <ctype.h>
#include <string.h>

#include "expand.h"
#include "plan_int.h"


/* ---------------------------------------------------------------- freeing */

void plan_kv_free(struct plan_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static void build_instr_done(struct build_instr *bi)
{
	free(bi->original);
	strv_free(bi->command);
	ARRAY_FREE(bi->mounts, bi->n_mounts, build_mount_done);
	free(bi->network);
	free(bi->security);
	plan_kv_free(bi->pairs, bi->n_pairs);
	strv_free(bi->ports);
	strv_free(bi->paths);
	free(bi->value);
	strv_free(bi->sources);
	free(bi->dest);
	free(bi->from);
	free(bi->chown);
	free(bi->chmod);
	free(bi->checksum);
	strv_free(bi->exclude);
	df_heredocs_free(bi->heredocs, bi->n_heredocs);
	strv_free(bi->shell);
	free(bi->workdir);
	free(bi->user);
}

static void build_stage_done(struct build_stage *s)
{
	free(s->name);
	free(s->from);
	free(s->platform);
	free(s->depends_on);
	ARRAY_FREE(s->instrs, s->n_instrs, build_instr_done);
	for (size_t i = 0; i < s->n_snapshots; i++)
		strv_free(s->snapshots[i]);
	free(s->snapshots);
	strv_free(s->env);
	strv_free(s->shell);
	free(s->workdir);
	free(s->user);
	if (s->onbuild)
		build_stage_done(s->onbuild);
	free(s->onbuild);
}

void build_plan_free(struct build_plan *p)
{
	if (!p)
		return;
	ARRAY_FREE(p->stages, p->n_stages, build_stage_done);
	free(p->target);
	strv_free(p->unused_build_args);
	strv_free(p->proxy_env);
	free(p->syntax);
	free(p->check);
	free(p);
}

const struct build_stage *build_plan_stage(const struct build_plan *p, int index)
{
	for (size_t i = 0; i < p->n_stages; i++)
		if (p->stages[i].index == index)
			return &p->stages[i];
	return NULL;
}

static void planner_done(struct planner *p)
{
	vars_done(&p->bargs);
	vars_done(&p->meta);
	for (size_t i = 0; i < p->n_stages; i++) {
		if (p->stages)
			build_stage_done(&p->stages[i]);
		if (p->states) {
			vars_done(&p->states[i].env);
			vars_done(&p->states[i].args);
			strv_free(p->states[i].shell);
			free(p->states[i].workdir);
			free(p->states[i].user);
		}
	}
	free(p->stages);
	free(p->states);
	strv_free(p->names);
	free(p->first);
}

/* ---------------------------------------------------------------- scopes */

static void platform_args(struct vars *v, const char *prefix, const struct platform *pl)
{
	_cleanup_free_ char *k1 = xasprintf("%sPLATFORM", prefix);
	_cleanup_free_ char *k2 = xasprintf("%sOS", prefix);
	_cleanup_free_ char *k3 = xasprintf("%sARCH", prefix);
	_cleanup_free_ char *k4 = xasprintf("%sVARIANT", prefix);
	_cleanup_free_ char *f = platform_format(pl);
	vars_set(v, k1, f);
	vars_set(v, k2, pl->os);
	vars_set(v, k3, pl->arch);
	vars_set(v, k4, pl->variant);
}

static int build_args_load(struct planner *p)
{
	for (size_t i = 0; p->opts->build_args && p->opts->build_args[i]; i++) {
		const char *a = p->opts->build_args[i];
		const char *eq = strchr(a, '=');
		if (eq == a || !*a)
			return molt_error_usage(p->err, "--build-arg '%s': the name is empty", a);
		if (eq) {
			_cleanup_free_ char *k = xstrndup(a, (size_t)(eq - a));
			vars_set(&p->bargs, k, eq + 1);
			continue;
		}
		/* `--build-arg K` takes K from molt's environment, and is dropped if unset */
		const char *v = p->opts->lookup_env ? p->opts->lookup_env(a) : getenv(a);
		if (v)
			vars_set(&p->bargs, a, v);
	}
	return 0;
}

/* Global ARGs (before the first FROM): visible in FROM lines and to `ARG NAME` in stages. */
static int plan_globals(struct planner *p, size_t end)
{
	p->scope_env = NULL;
	p->scope_args = &p->meta;
	for (size_t i = 0; i < end; i++) {
		const struct df_instr *in = &p->df->instrs[i];
		p->in = in;
		if (in->kind != DF_ARG)
			return df_error(p->df, p->err, in->line, 0,
					"%s before the first FROM (only ARG may come before FROM)",
					df_kind_name(in->kind));
		char **vals = xcalloc(in->n_kvs + 1, sizeof(char *));
		int r = 0;
		for (size_t k = 0; k < in->n_kvs && r == 0; k++) {
			ssize_t j = vars_find(&p->bargs, in->kvs[k].key);
			if (j >= 0)
				vals[k] = xstrdup(p->bargs.vals[j]);
			else if (in->kvs[k].value)
				r = expand1(p, in->kvs[k].value, &vals[k]);
		}
		for (size_t k = 0; k < in->n_kvs; k++) {
			const char *key = in->kvs[k].key;
			/* `ARG TARGETARCH` alone keeps the automatic value */
			if (r == 0 && (vals[k] || vars_find(&p->meta, key) < 0))
				vars_set(&p->meta, key, vals[k]);
			free(vals[k]);
		}
		free(vals);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------- stages */

static int plan_from(struct planner *p, size_t s)
{
	const struct df_instr *in = &p->df->instrs[p->first[s]];
	struct build_stage *st = &p->stages[s];
	p->in = in;
	p->stage = (int)s;
	p->scope_env = NULL;
	p->scope_args = &p->meta;
	st->index = (int)s;
	st->line = in->line;
	st->name = *p->names[s] ? xstrdup(p->names[s]) : NULL;
	st->base_stage = -1;
	if (expand1(p, in->args[0], &st->from) < 0 || expand_flag(p, "platform", &st->platform) < 0)
		return molt_error_pass(p->err);
	if (!*st->from)
		return instr_error(p, "the image name '%s' is empty after expansion", in->args[0]);
	struct platform pl;
	if (st->platform && platform_parse(st->platform, &pl) < 0)
		return instr_error(p, "invalid --platform '%s' (OS/ARCH[/VARIANT], e.g. linux/amd64)",
				   st->platform);
	bool named = named_context(p, &st->from);
	if (!strcmp(st->from, "scratch")) {
		st->base = BASE_SCRATCH;
		return 0;
	}
	if (named)
		st->base_stage = -1; /* a named context's image, never a stage */
	else if (stage_ref(p, "image", st->from, false, &st->base_stage) < 0)
		return molt_error_pass(p->err);
	st->base = st->base_stage >= 0 ? BASE_STAGE : BASE_IMAGE;
	return 0;
}

/* The stage's state after FROM; *ret_triggers: the base image's ONBUILD triggers. */
static int state_init(struct planner *p, size_t s, char ***ret_triggers)
{
	struct stage_state *st = &p->states[s];
	const struct build_stage *bs = &p->stages[s];
	if (bs->base == BASE_STAGE) {
		/* a stage built on an earlier one starts from that stage's image config */
		const struct stage_state *base = &p->states[bs->base_stage];
		vars_copy(&st->env, &base->env);
		st->shell = strv_copy(base->shell);
		st->workdir = xstrdup(base->workdir);
		st->user = xstrdup(base->user);
		return 0;
	}
	struct plan_base img = {0};
	/* Expansion in a scratch stage sees the PATH its image config gets (stage.c). */
	if (bs->base == BASE_SCRATCH)
		vars_set(&st->env, "PATH", PLAN_DEFAULT_PATH);
	if (bs->base != BASE_IMAGE || !p->opts->base_config || (p->needed && !p->needed[s]) ||
	    p->opts->base_config(p->opts->base_ud, bs->from, bs->platform, &img) < 0)
		memset(&img, 0, sizeof(img));
	/* The image's Env is the stage's starting ENV: it beats a same-named ARG too. */
	for (size_t i = 0; img.env && img.env[i]; i++) {
		const char *eq = strchr(img.env[i], '=');
		if (!eq || eq == img.env[i])
			continue;
		_cleanup_free_ char *k = xstrndup(img.env[i], (size_t)(eq - img.env[i]));
		vars_set(&st->env, k, eq + 1);
	}
	if (img.shell && img.shell[0]) {
		st->shell = strv_copy(img.shell);
	} else {
		st->shell = xcalloc(3, sizeof(char *));
		st->shell[0] = xstrdup("/bin/sh");
		st->shell[1] = xstrdup("-c");
	}
	st->workdir = path_clean_abs(img.workdir && *img.workdir ? img.workdir : "/");
	st->user = xstrdup(img.user ? img.user : "");
	*ret_triggers = img.onbuild;
	img.onbuild = NULL;
	plan_base_done(&img);
	if (st->env.bytes > PLAN_MAX_ENV)
		return instr_error(p, "the base image's environment exceeds %u MiB",
				   PLAN_MAX_ENV >> 20);
	return 0;
}

void plan_base_done(struct plan_base *b)
{
	strv_free(b->env);
	free(b->workdir);
	strv_free(b->shell);
	free(b->user);
	strv_free(b->onbuild);
	memset(b, 0, sizeof(*b));
}

/* Plans the ONBUILD triggers of stage s (plan_onbuild.c) into its onbuild stage. */
static int plan_onbuild(struct planner *p, size_t s, char *const *image_triggers)
{
	struct build_stage *bs = &p->stages[s];
	struct plan_options po;
	_cleanup_free_ char *text = onbuild_dockerfile(p, s, image_triggers, &po);
	if (!text)
		return 0;
	struct dockerfile *df = NULL;
	struct build_plan *tp = NULL;
	int r = dockerfile_parse(text, strlen(text), "ONBUILD", &df, p->err);
	if (r == 0)
		r = build_plan_make(df, &po, &tp, p->err);
	if (r == 0) {
		bs->onbuild = xmalloc(sizeof(*bs->onbuild));
		*bs->onbuild = tp->stages[0];
		tp->n_stages = 0;
	}
	build_plan_free(tp);
	dockerfile_free(df);
	if (r < 0)
		molt_error_wrap(p->err, "ONBUILD trigger of '%s'", bs->from);
	return r;
}

static int plan_stage(struct planner *p, size_t s)
{
	int r = plan_from(p, s);
	if (r < 0)
		return r;
	_cleanup_strv_ char **triggers = NULL;
	r = state_init(p, s, &triggers);
	if (r == 0)
		r = plan_onbuild(p, s, triggers);
	if (r < 0)
		return r;
	struct build_stage *bs = &p->stages[s];
	struct stage_state *st = &p->states[s];
	size_t end = s + 1 < p->n_stages ? p->first[s + 1] : p->df->n_instrs;
	for (size_t i = p->first[s] + 1; i < end; i++) {
		p->in = &p->df->instrs[i];
		bs->instrs = xrealloc(bs->instrs, (bs->n_instrs + 1) * sizeof(*bs->instrs));
		struct build_instr *bi = &bs->instrs[bs->n_instrs++];
		memset(bi, 0, sizeof(*bi));
		r = plan_instr(p, st, bi);
		if (r < 0)
			return r;
	}
	bs->env = vars_strv(&st->env);
	bs->shell = strv_copy(st->shell);
	bs->workdir = xstrdup(st->workdir);
	bs->user = xstrdup(st->user);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void deps_add(struct build_stage *s, int d)
{
	if (d < 0)
		return;
	for (size_t i = 0; i < s->n_depends; i++)
		if (s->depends_on[i] == d)
			return;
	s->depends_on = xrealloc(s->depends_on, (s->n_depends + 1) * sizeof(int));
	s->depends_on[s->n_depends++] = d;
}

static void stage_deps(struct build_stage *s)
{
	deps_add(s, s->base_stage);
	for (size_t i = 0; i < s->n_instrs; i++) {
		deps_add(s, s->instrs[i].from_stage);
		for (size_t m = 0; m < s->instrs[i].n_mounts; m++)
			deps_add(s, s->instrs[i].mounts[m].from_stage);
	}
	if (s->n_depends)
		qsort(s->depends_on, s->n_depends, sizeof(int), cmp_int);
}

static int find_target(struct planner *p, int *ret)
{
	const char *t = p->opts->target;
	if (!t) {
		*ret = (int)p->n_stages - 1;
		return 0;
	}
	_cleanup_free_ char *low = lower_dup(t);
	for (size_t i = 0; i < p->n_stages; i++) {
		if (*p->names[i] && !strcmp(p->names[i], low)) {
			*ret = (int)i;
			return 0;
		}
	}
	int64_t n;
	if (str_to_int64(t, 0, INT32_MAX, &n) == 0 && (size_t)n < p->n_stages) {
		*ret = (int)n;
		return 0;
	}
	_cleanup_strbuf_ struct strbuf names = STRBUF_INIT;
	for (size_t i = 0; i < p->n_stages; i++)
		if (*p->names[i])
			strbuf_addf(&names, "%s'%s'", names.len ? ", " : "", p->names[i]);
	return molt_error_usage(p->err, "--target: no stage named '%s' in %s (named stages: %s)",
				t, p->df->name, names.len ? names.buf : "none");
}

static bool arg_declared(const struct dockerfile *df, const char *name)
{
	for (size_t i = 0; i < df->n_instrs; i++)
		for (size_t k = 0; df->instrs[i].kind == DF_ARG && k < df->instrs[i].n_kvs; k++)
			if (!strcmp(df->instrs[i].kvs[k].key, name))
				return true;
	return false;
}

/*
 * BuildKit warns about build args no ARG consumes; the proxy args never need one,
 * nor does SOURCE_DATE_EPOCH (it sets the build's timestamps).
 */
static char **unused_build_args(const struct planner *p)
{
	char **v = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < p->bargs.n; i++)
		if (!is_proxy_arg(p->bargs.keys[i]) && strcmp(p->bargs.keys[i], "SOURCE_DATE_EPOCH") &&
		    !arg_declared(p->df, p->bargs.keys[i]))
			strv_push(&v, p->bargs.keys[i]);
	return v;
}

static char **proxy_env(const struct planner *p)
{
	char **v = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < p->bargs.n; i++)
		if (is_proxy_arg(p->bargs.keys[i]) && p->bargs.vals[i])
			strv_push_take(&v, xasprintf("%s=%s", p->bargs.keys[i], p->bargs.vals[i]));
	return v;
}

/* Keeps the stages the target needs (deps always point back, so one pass down). */
static void prune(struct planner *p, struct build_plan *plan, int target)
{
	_cleanup_free_ bool *need = xcalloc(p->n_stages, sizeof(bool));
	need[target] = true;
	for (int s = target; s >= 0; s--)
		for (size_t i = 0; need[s] && i < p->stages[s].n_depends; i++)
			need[p->stages[s].depends_on[i]] = true;
	plan->stages = xcalloc(p->n_stages, sizeof(*plan->stages));
	for (size_t s = 0; s < p->n_stages; s++) {
		struct build_stage *st = &p->stages[s];
		st->group = 0;
		for (size_t i = 0; i < st->n_depends; i++)
			if (p->stages[st->depends_on[i]].group + 1 > st->group)
				st->group = p->stages[st->depends_on[i]].group + 1;
		if (!need[s])
			continue;
		plan->stages[plan->n_stages++] = *st;
		memset(st, 0, sizeof(*st));
		st->group = plan->stages[plan->n_stages - 1].group;
	}
}

/* Splits the instruction list at the FROMs and collects the stage names. */
static int collect_stages(struct planner *p)
{
	const struct dockerfile *df = p->df;
	p->names = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < df->n_instrs; i++) {
		const struct df_instr *in = &df->instrs[i];
		if (in->kind != DF_FROM)
			continue;
		char *name = in->args[1] ? lower_dup(in->args[2]) : xstrdup("");
		for (size_t s = 0; *name && s < p->n_stages; s++) {
			if (!strcmp(p->names[s], name)) {
				int line = df->instrs[p->first[s]].line;
				free(name);
				return df_error(df, p->err, in->line, 0,
						"FROM: duplicate stage name '%s' (first used on line %d)",
						in->args[2], line);
			}
		}
		strv_push_take(&p->names, name);
		p->first = xrealloc(p->first, (p->n_stages + 1) * sizeof(size_t));
		p->first[p->n_stages++] = i;
	}
	if (!p->n_stages)
		return df_error(df, p->err, 0, 0,
				"no FROM instruction: a Dockerfile needs at least one build stage");
	p->stages = xcalloc(p->n_stages, sizeof(*p->stages));
	p->states = xcalloc(p->n_stages, sizeof(*p->states));
	return 0;
}

static int plan_platforms(const struct plan_options *opts, struct build_plan *plan,
			  struct molt_error **err)
{
	struct platform host;
	if ((!opts->build_platform || !opts->target_platform) && platform_host(&host, err) < 0)
		return molt_error_pass(err);
	plan->build_platform = opts->build_platform ? *opts->build_platform : host;
	plan->target_platform = opts->target_platform ? *opts->target_platform : host;
	return 0;
}

static int plan_all(struct planner *p, struct build_plan *plan)
{
	int r = collect_stages(p);
	if (r < 0)
		return r;
	platform_args(&p->meta, "BUILD", &plan->build_platform);
	platform_args(&p->meta, "TARGET", &plan->target_platform);
	if ((r = build_args_load(p)) < 0 || (r = plan_globals(p, p->first[0])) < 0)
		return r;
	int target = 0;
	if ((r = find_target(p, &target)) < 0)
		return r;
	for (size_t s = 0; s < p->n_stages; s++) {
		if ((r = plan_stage(p, s)) < 0)
			return r;
		stage_deps(&p->stages[s]);
	}
	prune(p, plan, target);
	plan->unused_build_args = unused_build_args(p);
	plan->proxy_env = proxy_env(p);
	plan->target_index = target;
	plan->target = p->names[target][0] ? xstrdup(p->names[target]) : xasprintf("%d", target);
	return 0;
}

/*
 * The stages the target needs, by index, from the stage graph alone (a plan without
 * the base images): only their images are asked for, and so pulled, as BuildKit
 * resolves only the stages the target reaches.
 */
static int needed_stages(const struct dockerfile *df, const struct plan_options *opts,
			 bool **ret, struct molt_error **err)
{
	struct plan_options graph = *opts;
	graph.base_config = NULL;
	struct build_plan *p = NULL;
	int r = build_plan_make(df, &graph, &p, err);
	if (r < 0)
		return r;
	bool *need = xcalloc(df->n_instrs + 1, sizeof(bool));
	for (size_t i = 0; i < p->n_stages; i++)
		need[p->stages[i].index] = true;
	build_plan_free(p);
	*ret = need;
	return 0;
}

int build_plan_make(const struct dockerfile *df, const struct plan_options *opts,
		    struct build_plan **ret, struct molt_error **err)
{
	static const struct plan_options no_opts;
	struct planner p = {.df = df, .opts = opts ? opts : &no_opts, .err = err};
	_cleanup_free_ bool *needed = NULL;
	if (p.opts->base_config) {
		int r = needed_stages(df, p.opts, &needed, err);
		if (r < 0)
			return r;
		p.needed = needed;
	}
	struct build_plan *plan = xcalloc(1, sizeof(*plan));
	plan->escape = df->escape;
	plan->syntax = df->syntax ? xstrdup(df->syntax) : NULL;
	plan->check = df->check ? xstrdup(df->check) : NULL;
	int r = plan_platforms(p.opts, plan, err);
	if (r == 0)
		r = plan_all(&p, plan);
	planner_done(&p);
	if (r < 0) {
		build_plan_free(plan);
		return r;
	}
	*ret = plan;
	return 0;
}

int plan_stage_pos(const struct build_plan *p, int index)
{
	for (size_t i = 0; i < p->n_stages; i++)
		if (p->stages[i].index == index)
			return (int)i;
	return -1;
}
