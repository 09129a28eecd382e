/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/plan_instr.c: one Dockerfile instruction -> one planned instruction
 * (expanded arguments, checked flags, the ENV/ARG snapshot a RUN sees).
 */
#include <ctype.h>
#include <string.h>

#include "expand.h"
#include "plan_int.h"

/* ---------------------------------------------------------------- small helpers */

static void pairs_push(struct build_instr *bi, const char *k, const char *v)
{
	ARRAY_PUSH(bi->pairs, bi->n_pairs, (struct plan_kv){xstrdup(k), v ? xstrdup(v) : NULL});
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
char *path_clean_abs(const char *path)
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
			return molt_error_pass(p->err);
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
			return molt_error_pass(p->err);
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
			return molt_error_pass(p->err);
		for (size_t j = 0; words[j]; j++)
			if (port_push(p, &bi->ports, words[j]) < 0)
				return molt_error_pass(p->err);
	}
	return 0;
}

static int plan_volume(struct planner *p, struct build_instr *bi)
{
	bi->paths = xcalloc(1, sizeof(char *));
	for (size_t i = 0; p->in->args[i]; i++) {
		char *v;
		if (expand1(p, p->in->args[i], &v) < 0)
			return molt_error_pass(p->err);
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
		return molt_error_pass(p->err);
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
		return molt_error_pass(p->err);
	if (bi->from && named_context(p, &bi->from))
		bi->from_stage = -1;
	else if (bi->from && stage_ref(p, "--from", bi->from, true, &bi->from_stage) < 0)
		return molt_error_pass(p->err);
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
			return molt_error_pass(p->err);
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
			return molt_error_pass(p->err);
		strv_push_take(&bi->sources, v);
		/* BuildKit: "source can't be a URL for COPY", whatever --from says. */
		if (in->kind == DF_COPY && (str_startswith(v, "http://") || str_startswith(v, "https://")))
			return instr_error(p, "source '%s' is a URL: COPY takes no URLs (use ADD to "
					   "download a file)", v);
	}
	if (expand1(p, in->args[n - 1], &bi->dest) < 0)
		return molt_error_pass(p->err);
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

static bool mount_has_target(const struct build_mount *m)
{
	for (size_t i = 0; i < m->n_opts; i++)
		if (!strcmp(m->opts[i].key, "target") || !strcmp(m->opts[i].key, "dst") ||
		    !strcmp(m->opts[i].key, "destination"))
			return true;
	return false;
}

static int plan_run_flags(struct planner *p, struct build_instr *bi)
{
	const struct df_instr *in = p->in;
	unsigned n_ssh = 0;
	for (size_t i = 0; i < in->n_flags; i++) {
		if (strcmp(in->flags[i].name, "mount"))
			continue;
		_cleanup_error_ struct molt_error *e = NULL;
		struct build_mount m;
		if (build_mount_parse(in->flags[i].value, mount_expand, p, &m, &e) < 0)
			return p->err && *p->err ? molt_error_ret(*p->err)
						     : instr_error_at(p, "--mount", "%s", e->msg);
		if (m.type == MOUNT_SSH && n_ssh++ && !mount_has_target(&m)) {
			free(m.target); /* BuildKit numbers a RUN's ssh sockets */
			m.target = xasprintf("/run/buildkit/ssh_agent.%u", n_ssh - 1);
		}
		ARRAY_PUSH(bi->mounts, bi->n_mounts, m);
		struct build_mount *bm = &bi->mounts[bi->n_mounts - 1];
		if (bm->from && named_context(p, &bm->from))
			bm->from_stage = -1;
		else if (bm->from && stage_ref(p, "--mount from", bm->from, true, &bm->from_stage) < 0)
			return molt_error_pass(p->err);
	}
	if (expand_flag(p, "network", &bi->network) < 0)
		return molt_error_pass(p->err);
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

int plan_instr(struct planner *p, struct stage_state *st, struct build_instr *bi)
{
	const struct df_instr *in = p->in;
	bi->kind = in->kind;
	bi->line = in->line;
	bi->end_line = in->end_line;
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
