/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/cache_explain.c: why a step missed the build cache.
 *
 * A cache key is one hash of all a step's inputs, so a miss alone cannot say what
 * changed. Every recorded entry therefore also stores its inputs part by part
 * (layers/cache_inputs.c: cache/inputs/<key>, local to this store, never in a key):
 *
 *   parent       the state the step was built on (the chain of steps before it)
 *   base         the stage's base: image 'NAME' + manifest digest, stage 'NAME' + its
 *                final state, or scratch; platform: the target platform
 *   instruction  the line as written
 *   parts        each flag and setting the key holds (--chown, --chmod, --link,
 *                --mount, the expanded sources/destination/argument, USER, WORKDIR,
 *                SHELL, the network mode, SOURCE_DATE_EPOCH); expanded values as
 *                digests, since a build arg may hide in them
 *   args, env    RUN's build args and ENV: name -> digest of the value. Values are
 *                never stored nor printed (a token passed as --build-arg).
 *   reads        what a step reads besides the context: --from stage/image, bind
 *                mounts, ADD URLs -> their identity (a state, a manifest digest)
 *   files        COPY/ADD from the context: [path, mode, owner, content digest] of
 *                every entry the key's walk hashed (at most FILES_MAX entries and
 *                FILES_BYTES_MAX of paths; more are summarised), collected in the
 *                same walk, so no file is read twice
 *
 * and two link lists point at it (most recent first): by its parent state and by
 * its position (context directory, Dockerfile name, stage, instruction index).
 * A miss is compared with the nearest earlier build of the step:
 *   1. a step built on the same parent (same position first, else same text): then
 *      exactly the differing parts are the cause (the key holds nothing else);
 *   2. none, and no build at the same position either: "no previous build of this
 *      step";
 *   3. the step before missed too: its new layer is the cause;
 *   4. else the last build at the same position: a changed base image digest, a
 *      changed platform, the layers below, and whatever else differs.
 * A hit moves its key to the front of both lists, so "nearest" means the build this
 * step last came from. The explanation is one line under the step:
 *   #5 cache miss: COPY . /app: file 'src/main.c' changed (content)
 */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cache_explain.h"

#define FILES_MAX 50000u  /* files listed per step; above, only "the files changed" */
#define FILES_BYTES_MAX (8u << 20) /* and their paths' bytes (long names cost memory) */
#define SHOW_MAX 4u       /* reasons per line */
#define FILES_SHOW 3u     /* files per line */
#define TEXT_SHOW 60u     /* characters of an instruction or value shown */

struct explain_files {
	json_t *list; /* [[path, mode, owner, content], …] */
	size_t n, bytes;
	bool over;
};

struct explain_stage {
	char *pos_prefix;   /* context, Dockerfile, stage: hashed with the step's index */
	char *base_what, *base_id, *platform;
	struct explain_files files;
	json_t *reads;
	json_t *rec;        /* the running step's record */
	char parent_link[DIGEST_STR_LEN], pos_link[DIGEST_STR_LEN];
	bool prev_missed;   /* the layer step before this one (in this stage) missed */
	char *prev_text;    /* its instruction */
};

/* ---------------------------------------------------------------- collecting */

static char *short_digest(const char *d)
{
	const char *hex = str_startswith(d, DIGEST_PREFIX) ? d + strlen(DIGEST_PREFIX) : d;
	return xasprintf("%.12s", hex);
}

static void digest_str(const char *s, char ret[DIGEST_STR_LEN])
{
	struct cache_hash *h = cache_hash_new("explain value");
	cache_hash_str(h, "v", s);
	cache_hash_final(h, ret);
}

static void base_of(struct stage_run *sr, struct explain_stage *x)
{
	const struct build_stage *st = sr->st;
	char state[DIGEST_STR_LEN] = "";
	switch (st->base) {
	case BASE_SCRATCH:
		x->base_what = xstrdup("scratch");
		break;
	case BASE_IMAGE: {
		const struct image *img = NULL;
		_cleanup_error_ struct molt_error *e = NULL;
		x->base_what = xasprintf("base image '%s'", st->from);
		if (bases_get(sr->b, st->from, &img, &e) == 0)
			x->base_id = xstrdup(img->manifest_digest);
		break;
	}
	case BASE_STAGE: {
		int pos = plan_stage_pos(sr->b->plan, st->base_stage);
		x->base_what = xasprintf("base stage '%s'", st->from);
		cache_result_state(pos >= 0 ? sr->results[pos] : NULL, state);
		x->base_id = xstrdup(state);
		break;
	}
	}
}

struct explain_stage *explain_stage_new(struct stage_run *sr)
{
	struct explain_stage *x = xcalloc(1, sizeof(*x));
	const struct build_request *o = sr->b->o;
	_cleanup_free_ char *ctx = realpath(o->context_dir, NULL);
	x->pos_prefix = xasprintf("%s\n%s\n%s", ctx ? ctx : o->context_dir,
				  o->dockerfile_name ? o->dockerfile_name : "Dockerfile",
				  sr->st->name ? sr->st->name : "");
	if (!sr->st->name) {
		char *p = xasprintf("%s%d", x->pos_prefix, sr->st->index);
		free(x->pos_prefix);
		x->pos_prefix = p;
	}
	x->platform = platform_format(&sr->b->plan->target_platform);
	base_of(sr, x);
	return x;
}

static void step_clear(struct explain_stage *x)
{
	json_decref(x->files.list);
	json_decref(x->reads);
	json_decref(x->rec);
	x->files = (struct explain_files){0};
	x->reads = NULL;
	x->rec = NULL;
}

void explain_stage_free(struct explain_stage *x)
{
	if (!x)
		return;
	step_clear(x);
	free(x->pos_prefix);
	free(x->base_what);
	free(x->base_id);
	free(x->platform);
	free(x->prev_text);
	free(x);
}

void explain_step_start(struct explain_stage *x)
{
	if (x)
		step_clear(x);
}

struct explain_files *explain_files_of(struct explain_stage *x)
{
	return x ? &x->files : NULL;
}

void explain_file(struct explain_files *f, const char *path, const struct stat *st, bool owner,
		  const char *content)
{
	if (!f)
		return;
	f->bytes += strlen(path);
	if (f->n >= FILES_MAX || f->bytes > FILES_BYTES_MAX) {
		f->over = true;
		return;
	}
	if (!f->list)
		f->list = json_array();
	_cleanup_free_ char *mode = xasprintf("%o", (unsigned)st->st_mode);
	_cleanup_free_ char *own =
		owner ? xasprintf("%u:%u", (unsigned)st->st_uid, (unsigned)st->st_gid) : xstrdup("");
	char d[DIGEST_STR_LEN] = "";
	if (content)
		digest_str(content, d);
	_cleanup_free_ char *c = short_digest(d);
	json_array_append_new(f->list, json_pack("[s,s,s,s]", path, mode, own, c));
	f->n++;
}

void explain_read(struct explain_stage *x, const char *what, const char *id)
{
	if (!x)
		return;
	if (!x->reads)
		x->reads = json_object();
	json_object_set_new(x->reads, what, json_string(id ? id : ""));
}

static void put_hidden(json_t *parts, const char *name, const char *v)
{
	char d[DIGEST_STR_LEN];
	digest_str(v, d);
	json_object_set_new(parts, name, json_string(d));
}

static void put_hidden_v(json_t *parts, const char *name, char *const *v)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; v && v[i]; i++)
		strbuf_addf(&sb, "%zu:%s", strlen(v[i]), v[i]);
	put_hidden(parts, name, v ? strbuf_str(&sb) : NULL);
}

static char *mount_text(const struct build_mount *m)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "type=%d,target=%s,source=%s,from=%s,id=%s,sharing=%s,env=%s,ro=%d,"
		    "required=%d,mode=%lld,uid=%lld,gid=%lld,size=%lld",
		    (int)m->type, m->target ?: "", m->source ?: "", m->from ?: "", m->id ?: "",
		    m->sharing ?: "", m->env ?: "", m->readonly, m->required, (long long)m->mode,
		    (long long)m->uid, (long long)m->gid, (long long)m->size);
	for (size_t k = 0; k < m->n_opts; k++)
		strbuf_addf(&sb, ",%s=%s", m->opts[k].key, m->opts[k].value ?: "");
	return strbuf_detach(&sb);
}

/* The instruction's own fields, each as a digest (expanded values may hold args). */
static json_t *instr_parts(const struct build_instr *in)
{
	json_t *p = json_object();
	put_hidden(p, "--chown", in->chown);
	put_hidden(p, "--chmod", in->chmod);
	put_hidden(p, "--checksum", in->checksum);
	put_hidden(p, "--link", in->link ? "1" : NULL);
	put_hidden(p, "--parents", in->parents ? "1" : NULL);
	put_hidden(p, "--keep-git-dir", in->keep_git_dir ? "1" : NULL);
	put_hidden_v(p, "--exclude", in->exclude);
	put_hidden(p, "--from", in->from);
	put_hidden(p, "--network", in->network);
	put_hidden(p, "--security", in->security);
	_cleanup_strv_ char **mounts = xcalloc(in->n_mounts + 1, sizeof(char *));
	for (size_t i = 0; i < in->n_mounts; i++)
		mounts[i] = mount_text(&in->mounts[i]);
	put_hidden_v(p, "--mount", in->n_mounts ? mounts : NULL);
	put_hidden_v(p, "the command", in->command);
	put_hidden(p, "the form (exec or shell)", in->exec_form ? "exec" : "shell");
	put_hidden_v(p, "the sources", in->sources);
	put_hidden(p, "the destination", in->dest);
	put_hidden(p, "the argument", in->value);
	_cleanup_strv_ char **docs = xcalloc(2 * in->n_heredocs + 1, sizeof(char *));
	for (size_t i = 0; i < in->n_heredocs; i++) {
		const struct df_heredoc *d = &in->heredocs[i];
		docs[2 * i] = xasprintf("%s %d %d", d->name, d->expand, d->chomp);
		docs[2 * i + 1] = xstrdup(d->content ? d->content : "");
	}
	put_hidden_v(p, "a heredoc", in->n_heredocs ? docs : NULL);
	if (in->kind == DF_RUN)
		put_hidden_v(p, "the SHELL in effect", in->shell);
	return p;
}

/* "K=V" entries as name -> digest of the value. */
static json_t *named_digests(char *const *kv)
{
	json_t *o = json_object();
	for (size_t i = 0; kv && kv[i]; i++) {
		const char *eq = strchr(kv[i], '=');
		_cleanup_free_ char *name = eq ? xstrndup(kv[i], (size_t)(eq - kv[i])) : xstrdup(kv[i]);
		char d[DIGEST_STR_LEN];
		digest_str(eq ? eq + 1 : NULL, d);
		json_object_set_new(o, name, json_string(d));
	}
	return o;
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static char *join_words(char *const *v)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; v && v[i]; i++)
		strbuf_addf(&sb, "%s%s", i ? " " : "", v[i]);
	return v ? strbuf_detach(&sb) : NULL;
}

static void link_id(const char *what, const char *a, const char *b, char ret[DIGEST_STR_LEN])
{
	struct cache_hash *h = cache_hash_new("explain link");
	cache_hash_str(h, "what", what);
	cache_hash_str(h, "a", a);
	cache_hash_str(h, "b", b);
	cache_hash_final(h, ret);
}

void explain_step_key(struct stage_run *sr, struct explain_stage *x,
		      const struct cache_step_input *in, const char *key)
{
	if (!x)
		return;
	_cleanup_free_ char *index = xasprintf("%u", sr->step_id & 0xffffu);
	link_id("parent", in->state, NULL, x->parent_link);
	link_id("position", x->pos_prefix, index, x->pos_link);
	json_t *parts = instr_parts(in->in);
	_cleanup_free_ char *shell = join_words(in->shell);
	json_object_set_new(parts, "USER", jstr_or_null(in->user));
	json_object_set_new(parts, "WORKDIR", jstr_or_null(in->workdir));
	json_object_set_new(parts, "SHELL", jstr_or_null(shell));
	json_object_set_new(parts, "the network mode", jstr_or_null(in->network));
	json_object_set_new(parts, "SOURCE_DATE_EPOCH", jstr_or_null(in->source_date_epoch));
	json_t *rec = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:s, s:o}", "v", 1, "key", key,
				"parent", in->state ? in->state : "", "base", x->base_what,
				"platform", x->platform ? x->platform : "", "base_id",
				jstr_or_null(x->base_id), "instruction",
				in->in->original ? in->in->original : "", "parts", parts);
	json_object_set_new(rec, "args", named_digests(in->in->kind == DF_RUN ? in->in->args : NULL));
	json_object_set_new(rec, "env", named_digests(in->env));
	json_object_set_new(rec, "reads", x->reads ? json_incref(x->reads) : json_object());
	if (x->files.list || x->files.over)
		json_object_set_new(rec, "files",
				    x->files.over ? json_integer((json_int_t)x->files.n)
						  : json_incref(x->files.list));
	json_decref(x->rec);
	x->rec = rec;
}

/* ---------------------------------------------------------------- comparing */

struct reasons {
	char **v;
	size_t files, files_more;
};

/* s cut to TEXT_SHOW bytes (never inside a UTF-8 sequence), "…" when cut. */
static char *clip(const char *s)
{
	size_t n = strlen(s);
	if (n <= TEXT_SHOW)
		return xstrdup(s);
	size_t k = TEXT_SHOW;
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	return xasprintf("%.*s…", (int)k, s);
}

static char *shown(const char *s)
{
	if (!s)
		return xstrdup("(none)");
	_cleanup_free_ char *c = clip(s);
	return xasprintf("'%s'", c);
}

static const char *jget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Settings printed with their values: they are in the image config anyway. */
static bool part_is_shown(const char *name)
{
	static const char *const names[] = {"USER", "WORKDIR", "SHELL", "the network mode",
					    "SOURCE_DATE_EPOCH", NULL};
	for (size_t i = 0; names[i]; i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

static void diff_parts(struct reasons *r, json_t *then, json_t *now, bool text_changed)
{
	const char *name;
	json_t *v;
	json_object_foreach(now, name, v) {
		const char *a = jget(then, name), *b = json_string_value(v);
		if (same(a, b) || (text_changed && !part_is_shown(name)))
			continue;
		if (part_is_shown(name)) {
			_cleanup_free_ char *sa = shown(a), *sb = shown(b);
			strv_push_take(&r->v, xasprintf("%s changed: %s → %s", name, sa, sb));
		} else {
			strv_push_take(&r->v, xasprintf("%s changed", name));
		}
	}
}

/* Names only: the values may be secrets (a token passed with --build-arg). */
static void diff_named(struct reasons *r, const char *what, json_t *then, json_t *now)
{
	const char *name;
	json_t *v;
	json_object_foreach(now, name, v) {
		const char *a = jget(then, name);
		if (!a)
			strv_push_take(&r->v, xasprintf("%s '%s' added", what, name));
		else if (!same(a, json_string_value(v)))
			strv_push_take(&r->v, xasprintf("%s '%s' changed", what, name));
	}
	json_object_foreach(then, name, v)
		if (!json_object_get(now, name))
			strv_push_take(&r->v, xasprintf("%s '%s' removed", what, name));
}

static void diff_reads(struct reasons *r, json_t *then, json_t *now)
{
	const char *name;
	json_t *v;
	json_object_foreach(now, name, v) {
		const char *a = jget(then, name), *b = json_string_value(v);
		if (same(a, b))
			continue;
		/* an image's identity is its manifest digest: worth showing */
		if (a && b && str_startswith(name, "image ") && str_startswith(a, DIGEST_PREFIX)) {
			_cleanup_free_ char *sa = short_digest(a), *sb = short_digest(b);
			strv_push_take(&r->v, xasprintf("%s changed: %s → %s", name, sa, sb));
		} else {
			strv_push_take(&r->v, xasprintf("%s changed", name));
		}
	}
}

static int cmp_file_rows(const void *a, const void *b)
{
	const char *x = json_string_value(json_array_get(*(json_t *const *)a, 0));
	const char *y = json_string_value(json_array_get(*(json_t *const *)b, 0));
	return strcmp(x ? x : "", y ? y : "");
}

static json_t **sorted_rows(json_t *list, size_t *ret_n)
{
	size_t n = json_array_size(list);
	json_t **v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(list, i);
	qsort(v, n, sizeof(*v), cmp_file_rows);
	*ret_n = n;
	return v;
}

static void file_reason(struct reasons *r, const char *path, const char *what)
{
	if (r->files++ >= FILES_SHOW) {
		r->files_more++;
		return;
	}
	_cleanup_free_ char *p = shown(path);
	strv_push_take(&r->v, xasprintf("file %s %s", p, what));
}

static void file_changed(struct reasons *r, json_t *a, json_t *b)
{
	const char *ma = json_string_value(json_array_get(a, 1));
	const char *mb = json_string_value(json_array_get(b, 1));
	unsigned long ta = strtoul(ma ? ma : "0", NULL, 8), tb = strtoul(mb ? mb : "0", NULL, 8);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	if ((ta & S_IFMT) != (tb & S_IFMT))
		strbuf_adds(&sb, "type, ");
	else if (!same(json_string_value(json_array_get(a, 3)), json_string_value(json_array_get(b, 3))))
		strbuf_adds(&sb, "content, ");
	if ((ta & 07777) != (tb & 07777))
		strbuf_addf(&sb, "mode %lo → %lo, ", ta & 07777, tb & 07777);
	if (!same(json_string_value(json_array_get(a, 2)), json_string_value(json_array_get(b, 2))))
		strbuf_adds(&sb, "owner, ");
	if (!sb.len)
		return;
	sb.buf[sb.len - 2] = '\0';
	_cleanup_free_ char *what = xasprintf("changed (%s)", sb.buf);
	file_reason(r, json_string_value(json_array_get(b, 0)), what);
}

static void diff_files(struct reasons *r, json_t *then, json_t *now)
{
	if (!then && !now)
		return;
	if (!json_is_array(then) || !json_is_array(now)) {
		strv_push(&r->v, "the files it reads changed (too many to list)");
		return;
	}
	size_t na, nb, i = 0, k = 0;
	_cleanup_free_ json_t **a = sorted_rows(then, &na);
	_cleanup_free_ json_t **b = sorted_rows(now, &nb);
	while (i < na || k < nb) {
		int c = i == na ? 1 : k == nb ? -1 : cmp_file_rows(&a[i], &b[k]);
		if (c < 0)
			file_reason(r, json_string_value(json_array_get(a[i++], 0)), "removed");
		else if (c > 0)
			file_reason(r, json_string_value(json_array_get(b[k++], 0)), "added");
		else
			file_changed(r, a[i++], b[k++]);
	}
	if (r->files_more)
		strv_push_take(&r->v, xasprintf("and %zu more file%s", r->files_more,
						r->files_more == 1 ? "" : "s"));
}

/* Another parent: what below the step changed (base, platform, earlier steps). */
static void diff_below(struct reasons *r, json_t *then, json_t *now)
{
	const char *pa = jget(then, "platform"), *pb = jget(now, "platform");
	const char *wa = jget(then, "base"), *wb = jget(now, "base");
	const char *ia = jget(then, "base_id"), *ib = jget(now, "base_id");
	if (!same(pa, pb)) {
		strv_push_take(&r->v, xasprintf("platform changed: %s → %s", pa ? pa : "?",
						pb ? pb : "?"));
	} else if (!same(wa, wb)) {
		_cleanup_free_ char *sa = shown(wa), *sb = shown(wb);
		strv_push_take(&r->v, xasprintf("base changed: %s → %s", sa, sb));
	} else if (!same(ia, ib) && wb && str_startswith(wb, "base image")) {
		_cleanup_free_ char *sa = short_digest(ia ? ia : "?"), *sb = short_digest(ib ? ib : "?");
		strv_push_take(&r->v, xasprintf("%s changed: sha256:%s → sha256:%s", wb, sa, sb));
	} else if (!same(ia, ib)) {
		strv_push_take(&r->v, xasprintf("%s changed", wb ? wb : "the base"));
	} else if (!same(jget(then, "parent"), jget(now, "parent"))) {
		strv_push(&r->v, "the layers below it differ from its last build");
	}
}

char *explain_diff(const char *then_text, const char *now_text, bool same_parent)
{
	json_t *then = json_loads(then_text, 0, NULL), *now = json_loads(now_text, 0, NULL);
	struct reasons r = {.v = xcalloc(1, sizeof(char *))};
	if (!json_is_object(then) || !json_is_object(now)) {
		json_decref(then);
		json_decref(now);
		strv_free(r.v);
		return xstrdup("its earlier record is unreadable");
	}
	if (!same_parent)
		diff_below(&r, then, now);
	const char *ta = jget(then, "instruction"), *tb = jget(now, "instruction");
	bool text_changed = !same(ta, tb);
	if (text_changed) {
		_cleanup_free_ char *sa = shown(ta), *sb = shown(tb);
		strv_push_take(&r.v, xasprintf("instruction changed: %s → %s", sa, sb));
	}
	diff_parts(&r, json_object_get(then, "parts"), json_object_get(now, "parts"), text_changed);
	diff_named(&r, "build arg", json_object_get(then, "args"), json_object_get(now, "args"));
	diff_named(&r, "ENV", json_object_get(then, "env"), json_object_get(now, "env"));
	diff_reads(&r, json_object_get(then, "reads"), json_object_get(now, "reads"));
	diff_files(&r, json_object_get(then, "files"), json_object_get(now, "files"));
	json_decref(then);
	json_decref(now);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	size_t n = strv_len(r.v);
	for (size_t i = 0; i < n && i < SHOW_MAX; i++)
		strbuf_addf(&sb, "%s%s", i ? "; " : "", r.v[i]);
	if (n > SHOW_MAX)
		strbuf_addf(&sb, "; and %zu more change%s", n - SHOW_MAX, n - SHOW_MAX == 1 ? "" : "s");
	strv_free(r.v);
	if (!n)
		return xstrdup(same_parent ? "an input --explain-cache does not track changed"
					   : "no previous build of this step on these layers");
	return strbuf_detach(&sb);
}

/* ---------------------------------------------------------------- the hooks */

/* The record of the most fitting key of a link list (same position, else same text). */
static char *nearest(struct layer_store *s, const char *link, json_t *now)
{
	_cleanup_strv_ char **keys = cache_inputs_linked(s, link);
	char *first = NULL, *best = NULL;
	for (size_t i = 0; keys[i] && !best; i++) {
		_cleanup_error_ struct molt_error *e = NULL;
		char *text = NULL;
		if (cache_inputs_get(s, keys[i], &text, &e) < 0)
			continue;
		json_t *then = json_loads(text, 0, NULL);
		bool fits = same(jget(then, "instruction"), jget(now, "instruction"));
		json_decref(then);
		if (fits) {
			best = text;
		} else if (!first) {
			first = text;
		} else {
			free(text);
		}
	}
	if (best) {
		free(first);
		return best;
	}
	return first;
}

static char *why_missed(struct stage_run *sr, struct explain_stage *x)
{
	struct layer_store *s = sr->b->store;
	const char *key = jget(x->rec, "key");
	_cleanup_error_ struct molt_error *e = NULL;
	_cleanup_free_ char *self = NULL;
	if (key && cache_inputs_get(s, key, &self, &e) == 0)
		return xstrdup("its cache entry was dropped (the layer was missing or damaged)");
	_cleanup_free_ char *now = json_dumps(x->rec, JSON_COMPACT);
	_cleanup_free_ char *then = nearest(s, x->parent_link, x->rec);
	if (then)
		return explain_diff(then, now, true);
	then = nearest(s, x->pos_link, x->rec);
	if (!then)
		return xstrdup("no previous build of this step");
	if (x->prev_missed && x->prev_text) {
		_cleanup_free_ char *t = shown(x->prev_text);
		return xasprintf("the step before (%s) made a new layer", t);
	}
	if (x->prev_missed)
		return xstrdup("the step before made a new layer");
	return explain_diff(then, now, false);
}

void explain_miss(struct stage_run *sr, struct explain_stage *x, const char *why)
{
	if (!sr->b->o->explain_cache) {
		if (x)
			x->prev_missed = true;
		return;
	}
	_cleanup_free_ char *reason = why ? xstrdup(why)
				    : x && x->rec ? why_missed(sr, x)
						  : xstrdup("the step cannot be cached");
	/* The instruction again, so that the line reads alone (a log grepped for misses). */
	const struct build_stage *st = sr->st;
	unsigned i = sr->step_id & 0xffffu;
	const char *text = x && x->rec ? jget(x->rec, "instruction")
			 : !(i & 0x8000u) && i >= 1 && i <= st->n_instrs ? st->instrs[i - 1].original
									  : NULL;
	_cleanup_free_ char *t = clip(text ? text : "");
	_cleanup_free_ char *line = xasprintf("cache miss: %s: %s", t, reason);
	progress_explain(sr->po, sr->step_id, line);
	if (x) {
		x->prev_missed = true;
		free(x->prev_text);
		x->prev_text = xstrdup(text ? text : "");
	}
}

void explain_hit(struct stage_run *sr, struct explain_stage *x, const char *key)
{
	if (!x)
		return;
	x->prev_missed = false;
	char *links[] = {x->parent_link, x->pos_link, NULL};
	_cleanup_error_ struct molt_error *e = NULL;
	if (cache_inputs_put(sr->b->store, key, NULL, links, &e) < 0)
		molt_debug("build cache: %s", e ? e->msg : "cannot link a step's inputs");
}

void explain_record(struct stage_run *sr, struct explain_stage *x)
{
	if (!x || !x->rec)
		return;
	_cleanup_free_ char *json = json_dumps(x->rec, JSON_COMPACT);
	char *links[] = {x->parent_link, x->pos_link, NULL};
	_cleanup_error_ struct molt_error *e = NULL;
	if (!json || cache_inputs_put(sr->b->store, jget(x->rec, "key"), json, links, &e) < 0)
		molt_debug("build cache: %s", e ? e->msg : "cannot record a step's inputs");
}
