/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/plan.c: Dockerfile tree -> build plan (runner/frontend/plan.h): ARG scopes, variable
 * expansion, stage graph, --target pruning, parallel groups.
 */
#include <ctype.h>
#include <string.h>

#include "expand.h"
#include "plan.h"
#include "vars.h"

/* ---------------------------------------------------------------- planner state */

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
};

static const char *const proxy_args[] = {
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
	"ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy",
};

static bool is_proxy_arg(const char *name)
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
static const char *scope_lookup(void *ud, const char *name)
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

/* An error in the current instruction; the caret goes under `needle` when it is in the line. */
static int instr_error_at(struct planner *p, const char *needle, const char *fmt, ...)
	MOLT_PRINTF(3, 4);
static int instr_error_at(struct planner *p, const char *needle, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return df_error_at(p->df, p->err, p->in->line, needle, "%s: %s",
			   df_kind_name(p->in->kind), msg);
}

#define instr_error(p, ...) instr_error_at(p, NULL, __VA_ARGS__)

static int expand1(struct planner *p, const char *word, char **ret)
{
	struct expand_env env = {scope_lookup, p, p->df->escape};
	_cleanup_error_ struct molt_error *e = NULL;
	int r = expand_word(word, &env, ret, &e);
	if (r < 0)
		return instr_error(p, "%s", e ? e->msg : "bad substitution");
	return 0;
}

static int expandv(struct planner *p, const char *text, char ***ret)
{
	struct expand_env env = {scope_lookup, p, p->df->escape};
	_cleanup_error_ struct molt_error *e = NULL;
	int r = expand_words(text, &env, ret, &e);
	if (r < 0)
		return instr_error(p, "%s", e ? e->msg : "bad substitution");
	return 0;
}

/* A flag value expanded, or NULL when the flag is absent. */
static int expand_flag(struct planner *p, const char *name, char **ret)
{
	const char *v = df_instr_flag(p->in, name);
	*ret = NULL;
	return v ? expand1(p, v, ret) : 0;
}

static char *lower_dup(const char *s)
{
	char *l = xstrdup(s);
	for (char *c = l; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return l;
}

/*
 * The earlier stage `ref` names (by AS name, or by index when allow_index), -1 when it
 * names an image. A stage may only use stages defined before it, so naming itself or
 * a later stage is an error (it would be a cycle or a forward reference).
 */
static int stage_ref(struct planner *p, const char *what, const char *ref, bool allow_index,
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

/* ---------------------------------------------------------------- small helpers */

static void pairs_push(struct build_instr *bi, const char *k, const char *v)
{
	bi->pairs = xrealloc(bi->pairs, (bi->n_pairs + 1) * sizeof(*bi->pairs));
	bi->pairs[bi->n_pairs++] = (struct plan_kv){xstrdup(k), v ? xstrdup(v) : NULL};
}

static void heredocs_copy(struct build_instr *bi, const struct df_instr *in)
{
	if (!in->n_heredocs)
		return;
	bi->heredocs = xcalloc(in->n_heredocs, sizeof(*bi->heredocs));
	for (size_t i = 0; i < in->n_heredocs; i++) {
		bi->heredocs[i] = in->heredocs[i];
		bi->heredocs[i].name = xstrdup(in->heredocs[i].name);
		bi->heredocs[i].content = xstrdup(in->heredocs[i].content);
	}
	bi->n_heredocs = in->n_heredocs;
}

/* Lexical path cleaning (Go's path.Clean) of an absolute path. */
static char *path_clean_abs(const char *path)
{
	_cleanup_strv_ char **parts = xcalloc(1, sizeof(char *));
	size_t n = 0;
	const char *s = path;
	while (*s) {
		while (*s == '/')
			s++;
		const char *e = s;
		while (*e && *e != '/')
			e++;
		size_t len = (size_t)(e - s);
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			if (n) {
				free(parts[--n]);
				parts[n] = NULL;
			}
		} else if (len && !(len == 1 && s[0] == '.')) {
			strv_push_take(&parts, xstrndup(s, len));
			n++;
		}
		s = e;
	}
	struct strbuf b = STRBUF_INIT;
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&b, "/%s", parts[i]);
	if (!b.len)
		strbuf_addc(&b, '/');
	return strbuf_detach(&b);
}

static bool signal_valid(const char *s)
{
	static const char *const names[] = {
		"HUP",  "INT",  "QUIT", "ILL",  "TRAP", "ABRT", "IOT",    "BUS",  "FPE",
		"KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",   "STKFLT", "CHLD",
		"CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",  "XCPU",   "XFSZ", "VTALRM",
		"PROF", "WINCH", "IO",  "POLL", "PWR",  "SYS",  "RTMIN",  "RTMAX",
	};
	int64_t n;
	if (str_to_int64(s, 1, 64, &n) == 0)
		return true;
	_cleanup_free_ char *up = xstrdup(s);
	for (char *c = up; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	const char *name = str_startswith(up, "SIG") ? up + 3 : up;
	if (str_startswith(name, "RTMIN+") || str_startswith(name, "RTMAX-"))
		return str_to_int64(name + 6, 1, 30, &n) == 0;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/* "80" -> "80/tcp", "53/UDP" -> "53/udp", "8000-8002" -> three ports (as Docker does). */
static int port_push(struct planner *p, char ***ports, const char *word)
{
	const char *slash = strchr(word, '/');
	_cleanup_free_ char *num = slash ? xstrndup(word, (size_t)(slash - word)) : xstrdup(word);
	_cleanup_free_ char *proto = lower_dup(slash ? slash + 1 : "tcp");
	if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp"))
		return instr_error_at(p, word, "invalid protocol in port '%s' (tcp, udp or sctp)", word);
	char *dash = strchr(num, '-');
	if (dash)
		*dash = '\0';
	int64_t lo, hi;
	if (str_to_int64(num, 0, 65535, &lo) < 0 ||
	    (dash && str_to_int64(dash + 1, 0, 65535, &hi) < 0))
		return instr_error_at(p, word,
				      "invalid port '%s' (a number 0-65535 or a range, e.g. 80/tcp)", word);
	if (!dash)
		hi = lo;
	if (hi < lo)
		return instr_error_at(p, word, "invalid port range '%s'", word);
	for (int64_t i = lo; i <= hi; i++)
		strv_push_take(ports, xasprintf("%lld/%s", (long long)i, proto));
	return 0;
}

/* ---------------------------------------------------------------- instructions */

/* ENV and LABEL: every value sees the state from before the instruction. */
static int plan_pairs(struct planner *p, struct stage_state *st, struct build_instr *bi)
{
	const struct df_instr *in = p->in;
	for (size_t i = 0; i < in->n_kvs; i++) {
		_cleanup_free_ char *k = NULL, *v = NULL;
		if (expand1(p, in->kvs[i].key, &k) < 0 || expand1(p, in->kvs[i].value, &v) < 0)
			return -EINVAL;
		if (!*k)
			return instr_error(p, "a name is empty after expansion in '%s'",
					   in->kvs[i].key);
		if (in->kind == DF_LABEL) {
			st->label_bytes += strlen(k) + 1 + strlen(v);
			if (st->label_bytes > PLAN_MAX_LABELS)
				return instr_error(p, "the stage's labels exceed %u MiB",
						   PLAN_MAX_LABELS >> 20);
		}
		pairs_push(bi, k, v);
	}
	if (in->kind == DF_ENV) {
		for (size_t i = 0; i < bi->n_pairs; i++)
			vars_set(&st->env, bi->pairs[i].key, bi->pairs[i].value);
		if (st->env.bytes > PLAN_MAX_ENV)
			return instr_error(p, "the stage's environment exceeds %u MiB",
					   PLAN_MAX_ENV >> 20);
	}
	return 0;
}

/*
 * ARG in a stage: --build-arg wins, then the default, then (for `ARG NAME` alone) the
 * value of the global ARG or automatic platform arg of that name.
 */
static int plan_arg(struct planner *p, struct stage_state *st, struct build_instr *bi)
{
	const struct df_instr *in = p->in;
	for (size_t i = 0; i < in->n_kvs; i++) {
		const char *k = in->kvs[i].key;
		ssize_t j = vars_find(&p->bargs, k);
		_cleanup_free_ char *v = NULL;
		if (j >= 0)
			v = xstrdup(p->bargs.vals[j]);
		else if (in->kvs[i].value && expand1(p, in->kvs[i].value, &v) < 0)
			return -EINVAL;
		else if (!in->kvs[i].value && (j = vars_find(&p->meta, k)) >= 0 && p->meta.vals[j])
			v = xstrdup(p->meta.vals[j]);
		pairs_push(bi, k, v);
	}
	for (size_t i = 0; i < bi->n_pairs; i++)
		vars_set(&st->args, bi->pairs[i].key, bi->pairs[i].value);
	if (st->args.bytes > PLAN_MAX_ENV)
		return instr_error(p, "the stage's build args exceed %u MiB", PLAN_MAX_ENV >> 20);
	return 0;
}

static int plan_expose(struct planner *p, struct build_instr *bi)
{
	bi->ports = xcalloc(1, sizeof(char *));
	for (size_t i = 0; p->in->args[i]; i++) {
		_cleanup_strv_ char **words = NULL;
		if (expandv(p, p->in->args[i], &words) < 0)
			return -EINVAL;
		for (size_t j = 0; words[j]; j++)
			if (port_push(p, &bi->ports, words[j]) < 0)
				return -EINVAL;
	}
	return 0;
}

static int plan_volume(struct planner *p, struct build_instr *bi)
{
	bi->paths = xcalloc(1, sizeof(char *));
	for (size_t i = 0; p->in->args[i]; i++) {
		char *v;
		if (expand1(p, p->in->args[i], &v) < 0)
			return -EINVAL;
		strv_push_take(&bi->paths, v);
		if (!*v)
			return instr_error(p, "a volume path cannot be empty");
	}
	if (!bi->paths[0])
		return instr_error(p, "requires at least one path");
	return 0;
}

/* USER, WORKDIR, STOPSIGNAL: one word, expanded. */
static int plan_single(struct planner *p, struct stage_state *st, struct build_instr *bi)
{
	_cleanup_free_ char *v = NULL;
	if (expand1(p, p->in->args[0], &v) < 0)
		return -EINVAL;
	if (!*v)
		return instr_error(p, "the argument '%s' is empty after expansion", p->in->args[0]);
	if (p->in->kind == DF_USER) {
		free(st->user);
		st->user = xstrdup(v);
	} else if (p->in->kind == DF_WORKDIR) {
		_cleanup_free_ char *joined =
			v[0] == '/' ? xstrdup(v) : xasprintf("%s/%s", st->workdir, v);
		free(v);
		v = path_clean_abs(joined);
		free(st->workdir);
		st->workdir = xstrdup(v);
	} else if (!signal_valid(v)) {
		return instr_error_at(p, v, "invalid signal '%s' (e.g. SIGTERM, TERM or 15)", v);
	}
	bi->value = TAKE_PTR(v);
	return 0;
}

static bool chmod_valid(const char *s)
{
	int64_t n;
	char *end;
	errno = 0;
	n = strtoll(s, &end, 8);
	if (*s && !*end && !errno && n >= 0 && n <= 07777)
		return true;
	/* BuildKit also takes symbolic modes (u+x,g-w) */
	return *s && strspn(s, "ugoa+-=rwxXst,") == strlen(s) && strpbrk(s, "+-=");
}

/* A boolean flag (validated by the parser): bare = true, absent = false. */
static bool flag_bool(const struct df_instr *in, const char *name)
{
	const char *v = df_instr_flag(in, name);
	bool b = false;
	if (v)
		df_parse_bool(*v ? v : NULL, &b);
	return b;
}

static int plan_copy_flags(struct planner *p, struct build_instr *bi)
{
	const struct df_instr *in = p->in;
	if (expand_flag(p, "from", &bi->from) < 0 || expand_flag(p, "chown", &bi->chown) < 0 ||
	    expand_flag(p, "chmod", &bi->chmod) < 0 || expand_flag(p, "checksum", &bi->checksum) < 0)
		return -EINVAL;
	if (bi->from && stage_ref(p, "--from", bi->from, true, &bi->from_stage) < 0)
		return -EINVAL;
	if (bi->chmod && !chmod_valid(bi->chmod))
		return instr_error_at(p, "--chmod", "invalid --chmod '%s' (an octal mode like 0755)",
				      bi->chmod);
	if (bi->checksum && !strchr(bi->checksum, ':'))
		return instr_error(p, "invalid --checksum '%s' (ALGORITHM:HEX, e.g. sha256:...)",
				   bi->checksum);
	bi->link = flag_bool(in, "link");
	bi->parents = flag_bool(in, "parents");
	bi->keep_git_dir = flag_bool(in, "keep-git-dir");
	bi->exclude = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < in->n_flags; i++) {
		if (strcmp(in->flags[i].name, "exclude"))
			continue;
		char *v;
		if (expand1(p, in->flags[i].value, &v) < 0)
			return -EINVAL;
		strv_push_take(&bi->exclude, v);
	}
	return 0;
}

static int plan_copy(struct planner *p, struct build_instr *bi)
{
	const struct df_instr *in = p->in;
	size_t n = strv_len(in->args);
	bi->sources = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i + 1 < n; i++) {
		_cleanup_free_ char *hd = in->json ? NULL : df_heredoc_word_name(in->args[i]);
		bool is_heredoc = false;
		for (size_t k = 0; hd && k < in->n_heredocs; k++)
			is_heredoc |= !strcmp(in->heredocs[k].name, hd);
		if (is_heredoc)
			continue;
		char *v;
		if (expand1(p, in->args[i], &v) < 0)
			return -EINVAL;
		strv_push_take(&bi->sources, v);
		/* BuildKit: "source can't be a URL for COPY", whatever --from says. */
		if (in->kind == DF_COPY && (str_startswith(v, "http://") || str_startswith(v, "https://")))
			return instr_error(p, "source '%s' is a URL: COPY takes no URLs (use ADD to "
					   "download a file)", v);
	}
	if (expand1(p, in->args[n - 1], &bi->dest) < 0)
		return -EINVAL;
	if (n > 2 && !str_endswith(bi->dest, "/"))
		return instr_error(p,
				   "with several sources the destination '%s' must be a directory ending in '/'",
				   bi->dest);
	heredocs_copy(bi, in);
	for (size_t i = 0; i < bi->n_heredocs; i++) {
		struct df_heredoc *h = &bi->heredocs[i];
		if (!h->expand)
			continue;
		struct expand_env env = {scope_lookup, p, p->df->escape};
		struct molt_error *e = NULL;
		char *v = NULL;
		if (expand_heredoc(h->content, &env, &v, &e) < 0) {
			int r = instr_error(p, "heredoc '%s': %s", h->name, e->msg);
			molt_error_free(e);
			return r;
		}
		free(h->content);
		h->content = v;
	}
	return plan_copy_flags(p, bi);
}

static int mount_expand(void *ud, const char *in, char **out)
{
	return expand1(ud, in, out);
}

static int plan_run_flags(struct planner *p, struct build_instr *bi)
{
	const struct df_instr *in = p->in;
	for (size_t i = 0; i < in->n_flags; i++) {
		if (strcmp(in->flags[i].name, "mount"))
			continue;
		_cleanup_error_ struct molt_error *e = NULL;
		struct build_mount m;
		if (build_mount_parse(in->flags[i].value, mount_expand, p, &m, &e) < 0)
			return p->err && *p->err ? molt_error_ret(*p->err)
						     : instr_error_at(p, "--mount", "%s", e->msg);
		bi->mounts = xrealloc(bi->mounts, (bi->n_mounts + 1) * sizeof(*bi->mounts));
		bi->mounts[bi->n_mounts++] = m;
		if (m.from && stage_ref(p, "--mount from", m.from, true,
					&bi->mounts[bi->n_mounts - 1].from_stage) < 0)
			return -EINVAL;
	}
	if (expand_flag(p, "network", &bi->network) < 0)
		return -EINVAL;
	if (bi->network && strcmp(bi->network, "default") && strcmp(bi->network, "none") &&
	    strcmp(bi->network, "host"))
		return instr_error_at(p, "--network", "invalid --network '%s' (default, none or host)",
				      bi->network);
	const char *sec = df_instr_flag(in, "security");
	if (sec && strcmp(sec, "insecure") && strcmp(sec, "sandbox"))
		return instr_error_at(p, "--security", "invalid --security '%s' (insecure or sandbox)",
				      sec);
	bi->security = sec ? xstrdup(sec) : NULL;
	return 0;
}

static int plan_command(struct planner *p, struct stage_state *st, struct build_instr *bi)
{
	const struct df_instr *in = p->in;
	bi->command = strv_copy(in->args);
	bi->exec_form = in->json;
	switch (in->kind) {
	case DF_RUN:
		heredocs_copy(bi, in);
		return plan_run_flags(p, bi);
	case DF_SHELL:
		strv_free(st->shell);
		st->shell = strv_copy(in->args);
		return 0;
	case DF_HEALTHCHECK:
		bi->health = in->health;
		return 0;
	default:
		return 0;
	}
}

/*
 * A RUN's view of ENV and the ARGs in scope. Only RUN needs them, and RUNs in a row
 * with no ENV or ARG between them share one copy (owned by the stage), so a long
 * Dockerfile with a large environment costs memory per change, not per instruction.
 */
static char **snapshot(struct build_stage *bs, const struct vars *v, char **last,
		       uint64_t *last_gen)
{
	if (last && *last_gen == v->gen)
		return last;
	bs->snapshots = xrealloc(bs->snapshots, (bs->n_snapshots + 1) * sizeof(char **));
	bs->snapshots[bs->n_snapshots++] = vars_strv(v);
	*last_gen = v->gen;
	return bs->snapshots[bs->n_snapshots - 1];
}

static void run_snapshots(struct planner *p, struct stage_state *st, struct build_instr *bi)
{
	struct build_stage *bs = &p->stages[p->stage];
	st->env_snap = bi->env = snapshot(bs, &st->env, st->env_snap, &st->env_gen);
	st->args_snap = bi->args = snapshot(bs, &st->args, st->args_snap, &st->args_gen);
}

static int plan_instr(struct planner *p, struct stage_state *st, struct build_instr *bi)
{
	const struct df_instr *in = p->in;
	bi->kind = in->kind;
	bi->line = in->line;
	bi->original = xstrdup(in->original);
	bi->from_stage = -1;
	if (in->kind == DF_RUN)
		run_snapshots(p, st, bi);
	bi->shell = strv_copy(st->shell);
	bi->workdir = xstrdup(st->workdir);
	bi->user = xstrdup(st->user);
	p->scope_env = &st->env;
	p->scope_args = &st->args;
	switch (in->kind) {
	case DF_ENV:
	case DF_LABEL:
		return plan_pairs(p, st, bi);
	case DF_ARG:
		return plan_arg(p, st, bi);
	case DF_EXPOSE:
		return plan_expose(p, bi);
	case DF_VOLUME:
		return plan_volume(p, bi);
	case DF_USER:
	case DF_WORKDIR:
	case DF_STOPSIGNAL:
		return plan_single(p, st, bi);
	case DF_COPY:
	case DF_ADD:
		return plan_copy(p, bi);
	case DF_ONBUILD:
		heredocs_copy(bi, in); /* the trigger's, for `ONBUILD RUN <<EOF` */
		bi->value = xstrdup(in->args[0]);
		return 0;
	case DF_MAINTAINER:
		bi->value = xstrdup(in->args[0]);
		return 0;
	case DF_FROM:
		return instr_error(p, "internal: FROM inside a stage");
	default:
		return plan_command(p, st, bi);
	}
}

/* ---------------------------------------------------------------- freeing */

static void kv_free(struct plan_kv *kv, size_t n)
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
	for (size_t i = 0; i < bi->n_mounts; i++)
		build_mount_done(&bi->mounts[i]);
	free(bi->mounts);
	free(bi->network);
	free(bi->security);
	kv_free(bi->pairs, bi->n_pairs);
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
	for (size_t i = 0; i < bi->n_heredocs; i++) {
		free(bi->heredocs[i].name);
		free(bi->heredocs[i].content);
	}
	free(bi->heredocs);
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
	for (size_t i = 0; i < s->n_instrs; i++)
		build_instr_done(&s->instrs[i]);
	free(s->instrs);
	for (size_t i = 0; i < s->n_snapshots; i++)
		strv_free(s->snapshots[i]);
	free(s->snapshots);
	strv_free(s->env);
	strv_free(s->shell);
	free(s->workdir);
	free(s->user);
}

void build_plan_free(struct build_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_stages; i++)
		build_stage_done(&p->stages[i]);
	free(p->stages);
	free(p->target);
	strv_free(p->unused_build_args);
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
		return -EINVAL;
	if (!*st->from)
		return instr_error(p, "the image name '%s' is empty after expansion", in->args[0]);
	struct platform pl;
	if (st->platform && platform_parse(st->platform, &pl) < 0)
		return instr_error(p, "invalid --platform '%s' (OS/ARCH[/VARIANT], e.g. linux/amd64)",
				   st->platform);
	if (!strcmp(st->from, "scratch")) {
		st->base = BASE_SCRATCH;
		return 0;
	}
	if (stage_ref(p, "image", st->from, false, &st->base_stage) < 0)
		return -EINVAL;
	st->base = st->base_stage >= 0 ? BASE_STAGE : BASE_IMAGE;
	return 0;
}

static int state_init(struct planner *p, size_t s)
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
	if (bs->base != BASE_IMAGE || !p->opts->base_config ||
	    p->opts->base_config(p->opts->base_ud, bs->from, &img) < 0)
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
	memset(b, 0, sizeof(*b));
}

static int plan_stage(struct planner *p, size_t s)
{
	int r = plan_from(p, s);
	if (r < 0)
		return r;
	r = state_init(p, s);
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

/* BuildKit warns about build args no ARG consumes; the proxy args never need one. */
static char **unused_build_args(const struct planner *p)
{
	char **v = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < p->bargs.n; i++)
		if (!is_proxy_arg(p->bargs.keys[i]) && !arg_declared(p->df, p->bargs.keys[i]))
			strv_push(&v, p->bargs.keys[i]);
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
		return -ENOTSUP;
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
	plan->target_index = target;
	plan->target = p->names[target][0] ? xstrdup(p->names[target]) : xasprintf("%d", target);
	return 0;
}

int build_plan_make(const struct dockerfile *df, const struct plan_options *opts,
		    struct build_plan **ret, struct molt_error **err)
{
	static const struct plan_options no_opts;
	struct planner p = {.df = df, .opts = opts ? opts : &no_opts, .err = err};
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
