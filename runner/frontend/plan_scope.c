/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/plan_scope.c: the planner's view of the current scope — variable
 * lookup with Docker's precedence, expansion of words and flags, errors pointing into
 * the instruction, and references to earlier stages.
 */
#include <ctype.h>
#include <string.h>

#include "expand.h"
#include "plan_int.h"


static const char *const proxy_args[] = {
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
	"ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy",
};

bool is_proxy_arg(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(proxy_args); i++)
		if (!strcmp(proxy_args[i], name))
			return true;
	return false;
}

/*
 * Docker's precedence inside a stage: ENV beats ARG of the same name; the predefined
 * proxy args are visible without an ARG when given with --build-arg.
 */
const char *scope_lookup(void *ud, const char *name)
{
	struct planner *p = ud;
	ssize_t i;
	if (p->scope_env && (i = vars_find(p->scope_env, name)) >= 0)
		return p->scope_env->vals[i];
	if (p->scope_args && (i = vars_find(p->scope_args, name)) >= 0)
		return p->scope_args->vals[i];
	if (p->scope_env && is_proxy_arg(name) && (i = vars_find(&p->bargs, name)) >= 0)
		return p->bargs.vals[i];
	return NULL;
}

int instr_error_at(struct planner *p, const char *needle, const char *fmt, ...)
	MOLT_PRINTF(3, 4);
int instr_error_at(struct planner *p, const char *needle, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return df_error_at(p->df, p->err, p->in->line, needle, "%s: %s",
			   df_kind_name(p->in->kind), msg);
}


/* One word (into *ret1) or a list of words (into *retv), as the instruction's error. */
static int expand_as(struct planner *p, const char *text, char **ret1, char ***retv)
{
	struct expand_env env = {scope_lookup, p, p->df->escape};
	_cleanup_error_ struct molt_error *e = NULL;
	int r = ret1 ? expand_word(text, &env, ret1, &e) : expand_words(text, &env, retv, &e);
	if (r < 0)
		return instr_error(p, "%s", e ? e->msg : "bad substitution");
	return 0;
}

int expand1(struct planner *p, const char *word, char **ret)
{
	return expand_as(p, word, ret, NULL);
}

int expandv(struct planner *p, const char *text, char ***ret)
{
	return expand_as(p, text, NULL, ret);
}

/* A flag value expanded, or NULL when the flag is absent. */
int expand_flag(struct planner *p, const char *name, char **ret)
{
	const char *v = df_instr_flag(p->in, name);
	*ret = NULL;
	return v ? expand1(p, v, ret) : 0;
}

char *lower_dup(const char *s)
{
	char *l = xstrdup(s);
	for (char *c = l; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return l;
}

bool named_context(struct planner *p, char **ref)
{
	char *const *v = p->opts->named_contexts;
	size_t n = strlen(*ref);
	for (size_t i = 0; v && v[i]; i++) {
		if (!strncmp(v[i], *ref, n) && v[i][n] == '=') {
			free(*ref);
			*ref = xstrdup(v[i] + n + 1);
			return true;
		}
	}
	return false;
}

/*
 * The earlier stage `ref` names (by AS name, or by index when allow_index), -1 when it
 * names an image. A stage may only use stages defined before it, so naming itself or
 * a later stage is an error (it would be a cycle or a forward reference).
 */
int stage_ref(struct planner *p, const char *what, const char *ref, bool allow_index,
		     int *ret)
{
	_cleanup_free_ char *low = lower_dup(ref);
	int cur = p->stage;
	int found = -1;
	for (size_t i = 0; i < p->n_stages && found < 0; i++)
		if (*p->names[i] && !strcmp(p->names[i], low))
			found = (int)i;
	int64_t n;
	const char *needle = what[0] == '-' ? (what[2] == 'f' ? "--from" : "--mount") : NULL;
	/* A number is a stage index, never an image name (BuildKit: "invalid stage index"). */
	if (found < 0 && allow_index && str_to_int64(ref, 0, INT64_MAX, &n) == 0) {
		if ((uint64_t)n >= p->n_stages)
			return instr_error_at(p, needle,
					      "%s '%s': invalid stage index (the Dockerfile has %zu "
					      "stage%s, numbered from 0)",
					      what, ref, p->n_stages, p->n_stages == 1 ? "" : "s");
		found = (int)n;
	}
	if (found < 0) {
		*ret = -1;
		return 0;
	}
	if (found == cur)
		return instr_error_at(p, needle, "%s '%s' refers to its own stage (a stage cannot use itself)",
				   what, ref);
	if (found > cur)
		return instr_error_at(p, needle,
				   "%s '%s' refers to stage %d, which comes later (a stage can only use earlier stages)",
				   what, ref, found);
	*ret = found;
	return 0;
}
