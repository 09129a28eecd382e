/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/plan_onbuild.c: the ONBUILD triggers a stage runs right after its
 * FROM, as if written there (Dockerfile reference: ONBUILD): those of its base
 * image's config (known from plan_options.base_config), or the ONBUILD instructions
 * of the earlier stage it is built on. They are planned with the rest of the plan
 * (plan.c), so the executor runs them as data like any other instruction.
 */
#include <string.h>

#include "plan_int.h"

/* The stand-in base the triggers are planned on: the stage's state after FROM. */
static int trigger_base(void *ud, const char *image, const char *platform,
			struct plan_base *ret)
{
	const struct stage_state *st = ud;
	(void)image;
	(void)platform;
	ret->env = vars_strv(&st->env);
	ret->workdir = xstrdup(st->workdir);
	ret->shell = strv_copy(st->shell);
	ret->user = xstrdup(st->user);
	return 0;
}

/* The ONBUILD instructions of an earlier stage, the triggers of a stage built on it. */
static char **stage_triggers(const struct build_stage *base)
{
	char **v = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < base->n_instrs; i++)
		if (base->instrs[i].kind == DF_ONBUILD)
			strv_push(&v, base->instrs[i].value);
	return v;
}

/*
 * Triggers expand with the base's Env and WorkingDir like the stage's own
 * instructions, but see none of the build's ARGs: they are a Dockerfile of their
 * own, "FROM <the stage's state>" and the trigger lines.
 */
char *onbuild_dockerfile(struct planner *p, size_t s, char *const *image_triggers,
			 struct plan_options *ret_opts)
{
	const struct build_stage *bs = &p->stages[s];
	_cleanup_strv_ char **own = bs->base == BASE_STAGE
					    ? stage_triggers(&p->stages[bs->base_stage])
					    : NULL;
	char *const *triggers = own ? own : image_triggers;
	if (!triggers || !triggers[0])
		return NULL;
	struct strbuf sb = STRBUF_INIT;
	strbuf_adds(&sb, "FROM onbuild-base\n");
	for (size_t i = 0; triggers[i]; i++)
		strbuf_addf(&sb, "%s\n", triggers[i]);
	*ret_opts = (struct plan_options){.base_config = trigger_base, .base_ud = &p->states[s],
					  .build_platform = p->opts->build_platform,
					  .target_platform = p->opts->target_platform};
	return strbuf_detach(&sb);
}
