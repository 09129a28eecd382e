/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/plan_json.c: the plan as JSON for `molt build --print-plan`. The format is a
 * contract with tests/corpus (tests/corpus/README.md, version 1): change both together.
 */
#include <jansson.h>
#include <string.h>

#include "plan.h"

/* Dockerfiles need not be UTF-8 but JSON strings must: bad bytes become U+FFFD. */
static json_t *jstr(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	struct strbuf b = STRBUF_INIT;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
		bool good = n > 0;
		for (size_t i = 1; good && i < n; i++)
			good = (p[i] & 0xc0) == 0x80;
		if (good && n > 1) {
			_cleanup_free_ char *one = xstrndup((const char *)p, n);
			json_t *t = json_string(one);
			good = t != NULL;
			json_decref(t);
		}
		if (good) {
			strbuf_add(&b, p, n);
			p += n;
		} else {
			strbuf_adds(&b, "\xef\xbf\xbd");
			p++;
		}
	}
	j = json_string(strbuf_str(&b));
	strbuf_done(&b);
	return j ? j : json_string("");
}

static json_t *jstrv(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, jstr(v[i]));
	return a;
}

static json_t *jpairs(const struct plan_kv *kv, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("[oo]", jstr(kv[i].key), jstr(kv[i].value)));
	return a;
}

static json_t *jheredocs(const struct df_heredoc *h, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:o, s:o, s:b, s:b}", "name", jstr(h[i].name),
						   "content", jstr(h[i].content), "expand",
						   h[i].expand, "chomp", h[i].chomp));
	return a;
}

static json_t *jmounts(const struct build_mount *m, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		for (size_t k = 0; k < m[i].n_opts; k++) {
			const struct plan_kv *kv = &m[i].opts[k];
			json_t *key = jstr(kv->key); /* keys must be UTF-8 too */
			json_object_set_new(o, json_string_value(key),
					    kv->value ? jstr(kv->value) : json_true());
			json_decref(key);
		}
		json_array_append_new(a, o);
	}
	return a;
}

static void set(json_t *o, const char *k, json_t *v)
{
	json_object_set_new(o, k, v);
}

static void pj_command(json_t *o, const struct build_instr *bi, bool with_form)
{
	if (with_form)
		set(o, "form", json_string(bi->exec_form ? "exec" : "shell"));
	set(o, "command", jstrv(bi->command));
}

static void pj_copy(json_t *o, const struct build_instr *bi)
{
	set(o, "sources", jstrv(bi->sources));
	set(o, "dest", jstr(bi->dest));
	set(o, "from", jstr(bi->from)); /* always null for ADD, which has no --from */
	set(o, "chown", jstr(bi->chown));
	set(o, "chmod", jstr(bi->chmod));
	set(o, "link", json_boolean(bi->link));
	set(o, "exclude", jstrv(bi->exclude));
	set(o, "parents", json_boolean(bi->parents));
	set(o, "heredocs", jheredocs(bi->heredocs, bi->n_heredocs));
	if (bi->kind == DF_ADD) {
		set(o, "checksum", jstr(bi->checksum));
		set(o, "keep_git_dir", json_boolean(bi->keep_git_dir));
	}
}

static void pj_health(json_t *o, const struct build_instr *bi)
{
	set(o, "none", json_boolean(bi->health.none));
	pj_command(o, bi, true);
	set(o, "interval", json_integer(bi->health.interval));
	set(o, "timeout", json_integer(bi->health.timeout));
	set(o, "start_period", json_integer(bi->health.start_period));
	set(o, "start_interval", json_integer(bi->health.start_interval));
	set(o, "retries", json_integer(bi->health.retries));
}

/* The key of the one value of the instructions that have one. */
static const char *const value_key[] = {
	[DF_USER] = "user",
	[DF_WORKDIR] = "path",
	[DF_STOPSIGNAL] = "signal",
	[DF_MAINTAINER] = "maintainer",
	[DF_ONBUILD] = "trigger",
};

static json_t *pj_instr(const struct build_instr *bi)
{
	json_t *o = json_pack("{s:i, s:s, s:o}", "line", bi->line, "instruction",
			      df_kind_name(bi->kind), "original", jstr(bi->original));
	switch (bi->kind) {
	case DF_RUN:
		pj_command(o, bi, true);
		set(o, "mounts", jmounts(bi->mounts, bi->n_mounts));
		set(o, "network", jstr(bi->network));
		set(o, "security", jstr(bi->security));
		set(o, "heredocs", jheredocs(bi->heredocs, bi->n_heredocs));
		break;
	case DF_CMD:
	case DF_ENTRYPOINT:
		pj_command(o, bi, true);
		break;
	case DF_SHELL:
		pj_command(o, bi, false);
		break;
	case DF_ENV:
	case DF_LABEL:
	case DF_ARG:
		set(o, "pairs", jpairs(bi->pairs, bi->n_pairs));
		break;
	case DF_EXPOSE:
		set(o, "ports", jstrv(bi->ports));
		break;
	case DF_VOLUME:
		set(o, "paths", jstrv(bi->paths));
		break;
	case DF_USER:
	case DF_WORKDIR:
	case DF_STOPSIGNAL:
	case DF_MAINTAINER:
	case DF_ONBUILD:
		set(o, value_key[bi->kind], jstr(bi->value));
		break;
	case DF_COPY:
	case DF_ADD:
		pj_copy(o, bi);
		break;
	case DF_HEALTHCHECK:
		pj_health(o, bi);
		break;
	default:
		break;
	}
	return o;
}

static json_t *pj_base(const struct build_stage *s)
{
	switch (s->base) {
	case BASE_SCRATCH:
		return json_pack("{s:s}", "type", "scratch");
	case BASE_STAGE:
		return json_pack("{s:s, s:i}", "type", "stage", "stage", s->base_stage);
	default:
		return json_pack("{s:s, s:o}", "type", "image", "ref", jstr(s->from));
	}
}

static json_t *pj_stage(const struct build_stage *s)
{
	json_t *o = json_object();
	set(o, "index", json_integer(s->index));
	set(o, "name", jstr(s->name));
	set(o, "line", json_integer(s->line));
	set(o, "from", jstr(s->from));
	set(o, "base", pj_base(s));
	set(o, "platform", jstr(s->platform));
	json_t *deps = json_array();
	for (size_t i = 0; i < s->n_depends; i++)
		json_array_append_new(deps, json_integer(s->depends_on[i]));
	set(o, "depends_on", deps);
	set(o, "group", json_integer(s->group));
	json_t *ins = json_array();
	for (size_t i = 0; i < s->n_instrs; i++)
		json_array_append_new(ins, pj_instr(&s->instrs[i]));
	set(o, "instructions", ins);
	return o;
}

static json_t *pj_groups(const struct build_plan *p)
{
	json_t *groups = json_array();
	for (int g = 0;; g++) {
		json_t *one = json_array();
		for (size_t i = 0; i < p->n_stages; i++)
			if (p->stages[i].group == g)
				json_array_append_new(one, json_integer(p->stages[i].index));
		if (!json_array_size(one)) {
			json_decref(one);
			break;
		}
		json_array_append_new(groups, one);
	}
	return groups;
}

int build_plan_to_json(const struct build_plan *p, char **ret, struct molt_error **err)
{
	json_t *root = json_object();
	set(root, "version", json_integer(1));
	set(root, "target", jstr(p->target));
	json_t *stages = json_array();
	for (size_t i = 0; i < p->n_stages; i++)
		json_array_append_new(stages, pj_stage(&p->stages[i]));
	set(root, "stages", stages);
	set(root, "groups", pj_groups(p));
	char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!s)
		return molt_error_setx(err, ENOMEM, "rendering the plan as JSON failed");
	*ret = xasprintf("%s\n", s);
	free(s);
	return 0;
}
