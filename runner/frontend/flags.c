/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/flags.c: which instruction takes which `--flag`, and the syntax of the flag
 * values that need no variable scope (booleans, HEALTHCHECK durations and retries).
 * Flags that are expanded first (--mount, --from, --chown, ...) are typed by the
 * planner after expansion.
 */
#include <ctype.h>
#include <limits.h>
#include <string.h>

#include "dockerfile.h"

struct flag_spec {
	enum df_kind kind;
	const char *name;
	enum df_flag_type type;
};

/* BuildKit's per-instruction BFlags (dockerfile/instructions/parse.go). */
static const struct flag_spec flag_table[] = {
	{DF_ADD, "chown", DF_FLAG_STRING},
	{DF_ADD, "chmod", DF_FLAG_STRING},
	{DF_ADD, "link", DF_FLAG_BOOL},
	{DF_ADD, "exclude", DF_FLAG_LIST},
	{DF_ADD, "checksum", DF_FLAG_STRING},
	{DF_ADD, "keep-git-dir", DF_FLAG_BOOL},
	{DF_COPY, "from", DF_FLAG_STRING},
	{DF_COPY, "chown", DF_FLAG_STRING},
	{DF_COPY, "chmod", DF_FLAG_STRING},
	{DF_COPY, "link", DF_FLAG_BOOL},
	{DF_COPY, "exclude", DF_FLAG_LIST},
	{DF_COPY, "parents", DF_FLAG_BOOL},
	{DF_FROM, "platform", DF_FLAG_STRING},
	{DF_RUN, "mount", DF_FLAG_LIST},
	{DF_RUN, "network", DF_FLAG_STRING},
	{DF_RUN, "security", DF_FLAG_STRING},
	{DF_HEALTHCHECK, "interval", DF_FLAG_DURATION},
	{DF_HEALTHCHECK, "timeout", DF_FLAG_DURATION},
	{DF_HEALTHCHECK, "start-period", DF_FLAG_DURATION},
	{DF_HEALTHCHECK, "start-interval", DF_FLAG_DURATION},
	{DF_HEALTHCHECK, "retries", DF_FLAG_INT},
};

int df_flag_type(enum df_kind kind, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(flag_table); i++)
		if (flag_table[i].kind == kind && !strcmp(flag_table[i].name, name))
			return (int)flag_table[i].type;
	return -1;
}

int df_parse_bool(const char *value, bool *ret)
{
	if (!value || str_eq_nocase(value, "true")) {
		*ret = true;
		return 0;
	}
	if (str_eq_nocase(value, "false")) {
		*ret = false;
		return 0;
	}
	return -EINVAL;
}

/* Nanoseconds per unit, Go's time.ParseDuration table. */
static int64_t duration_unit(const char **p)
{
	static const struct {
		const char *name;
		int64_t ns;
	} units[] = {
		{"ns", 1},
		{"us", 1000},
		{"\xc2\xb5s", 1000},
		{"\xce\xbcs", 1000},
		{"ms", 1000000},
		{"s", 1000000000LL},
		{"m", 60000000000LL},
		{"h", 3600000000000LL},
	};
	size_t len = 0;
	while ((*p)[len] && !isdigit((unsigned char)(*p)[len]) && (*p)[len] != '.')
		len++;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strlen(units[i].name) == len && !strncmp(*p, units[i].name, len)) {
			*p += len;
			return units[i].ns;
		}
	}
	return -1;
}

int df_parse_duration(const char *s, int64_t *ret_ns)
{
	const char *p = s;
	if (*p == '+')
		p++;
	if (!strcmp(p, "0")) {
		*ret_ns = 0;
		return 0;
	}
	if (!*p)
		return -EINVAL;
	long double total = 0;
	while (*p) {
		const char *start = p;
		long double v = 0, scale = 1;
		while (isdigit((unsigned char)*p))
			v = v * 10 + (*p++ - '0');
		bool digits = p > start;
		if (*p == '.') {
			p++;
			while (isdigit((unsigned char)*p)) {
				scale /= 10;
				v += (*p++ - '0') * scale;
				digits = true;
			}
		}
		if (!digits)
			return -EINVAL;
		int64_t unit = duration_unit(&p);
		if (unit < 0)
			return -EINVAL;
		total += v * (long double)unit;
		if (total > (long double)INT64_MAX)
			return -ERANGE;
	}
	*ret_ns = (int64_t)total;
	return 0;
}

static int flag_column(const struct dockerfile *df, const struct df_instr *in, const char *name)
{
	if (in->line < 1 || (size_t)in->line > df->n_lines)
		return 0;
	const char *l = df->lines[in->line - 1];
	_cleanup_free_ char *needle = xasprintf("--%s", name);
	const char *hit = strstr(l, needle);
	return hit ? (int)(hit - l) + 1 : 0;
}

static void flag_list(enum df_kind kind, struct strbuf *sb)
{
	for (size_t i = 0; i < ARRAY_SIZE(flag_table); i++) {
		if (flag_table[i].kind != kind)
			continue;
		strbuf_addf(sb, "%s--%s", sb->len ? ", " : "", flag_table[i].name);
	}
}

static int flag_check_one(const struct dockerfile *df, const struct df_instr *in, size_t idx,
			  struct molt_error **err)
{
	const struct df_flag *f = &in->flags[idx];
	const char *kw = df_kind_name(in->kind);
	int col = flag_column(df, in, f->name);
	int type = df_flag_type(in->kind, f->name);
	if (type < 0) {
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
		flag_list(in->kind, &sb);
		if (!sb.len)
			return df_error(df, err, in->line, col, "%s: unknown flag '--%s' (%s takes no flags)",
					kw, f->name, kw);
		return df_error(df, err, in->line, col, "%s: unknown flag '--%s' (%s takes %s)", kw,
				f->name, kw, sb.buf);
	}
	for (size_t j = 0; j < idx && type != DF_FLAG_LIST; j++)
		if (!strcmp(in->flags[j].name, f->name))
			return df_error(df, err, in->line, col, "%s: flag '--%s' is given twice", kw,
					f->name);
	bool b;
	if (type == DF_FLAG_BOOL && df_parse_bool(f->value, &b) < 0)
		return df_error(df, err, in->line, col,
				"%s: flag '--%s' expects true or false, not '%s'", kw, f->name,
				f->value);
	if (type != DF_FLAG_BOOL && (!f->value || !*f->value))
		return df_error(df, err, in->line, col, "%s: flag '--%s' needs a value (--%s=VALUE)",
				kw, f->name, f->name);
	return 0;
}

int df_check_flags(const struct dockerfile *df, const struct df_instr *in,
		   struct molt_error **err)
{
	for (size_t i = 0; i < in->n_flags; i++) {
		int r = flag_check_one(df, in, i, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Docker refuses health-check durations between 0 and 1ms (container.MinimumDuration). */
#define HEALTH_MIN_DURATION 1000000LL

int df_parse_health_flags(const struct dockerfile *df, struct df_instr *in,
			  struct molt_error **err)
{
	for (size_t i = 0; i < in->n_flags; i++) {
		const struct df_flag *f = &in->flags[i];
		int col = flag_column(df, in, f->name);
		if (!strcmp(f->name, "retries")) {
			int64_t n;
			if (str_to_int64(f->value, 0, INT_MAX, &n) < 0)
				return df_error(df, err, in->line, col,
						"HEALTHCHECK: --retries must be a whole number >= 0, not '%s'",
						f->value);
			in->health.retries = (int)n;
			continue;
		}
		int64_t ns;
		if (df_parse_duration(f->value, &ns) < 0)
			return df_error(df, err, in->line, col,
					"HEALTHCHECK: malformed duration '%s' for --%s (use e.g. 30s, 1m30s, 500ms)",
					f->value, f->name);
		if (ns != 0 && ns < HEALTH_MIN_DURATION)
			return df_error(df, err, in->line, col,
					"HEALTHCHECK: --%s cannot be less than 1ms", f->name);
		if (!strcmp(f->name, "interval"))
			in->health.interval = ns;
		else if (!strcmp(f->name, "timeout"))
			in->health.timeout = ns;
		else if (!strcmp(f->name, "start-period"))
			in->health.start_period = ns;
		else
			in->health.start_interval = ns;
	}
	return 0;
}

/* ---------------------------------------------------------------- RUN --mount */

#include "plan.h"

/* Splits a --mount value on commas outside double quotes (BuildKit reads it as CSV). */
static char **mount_fields(const char *s)
{
	char **v = xcalloc(1, sizeof(char *));
	_cleanup_strbuf_ struct strbuf f = STRBUF_INIT;
	bool q = false;
	for (const char *p = s;; p++) {
		if (*p == '"') {
			if (q && p[1] == '"') {
				strbuf_addc(&f, '"');
				p++;
			} else {
				q = !q;
			}
			continue;
		}
		if (!*p || (*p == ',' && !q)) {
			strv_push(&v, strbuf_str(&f));
			strbuf_reset(&f);
			if (!*p)
				break;
			continue;
		}
		strbuf_addc(&f, *p);
	}
	return v;
}

static int mount_type(const char *s, enum build_mount_type *ret)
{
	static const char *const names[] = {"bind", "cache", "tmpfs", "secret", "ssh"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i])) {
			*ret = (enum build_mount_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (errno || end == s || n < 0)
		return -1;
	int64_t mul = 1;
	switch (tolower((unsigned char)*end)) {
	case 'k':
		mul = 1024;
		break;
	case 'm':
		mul = 1024 * 1024;
		break;
	case 'g':
		mul = 1024LL * 1024 * 1024;
		break;
	case '\0':
		return n;
	default:
		return -1;
	}
	end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || n > INT64_MAX / mul)
		return -1;
	return n * mul;
}

static int mount_number(const char *key, const char *v, int base, int64_t *ret,
			struct molt_error **err)
{
	char *end;
	errno = 0;
	long long n = v ? strtoll(v, &end, base) : 0;
	if (!v || !*v || errno || *end || n < 0 || n > UINT32_MAX)
		return molt_error_usage(err, "--mount: invalid %s '%s'", key, v ? v : "");
	*ret = n;
	return 0;
}

static void mount_opt_push(struct build_mount *m, const char *key, const char *value)
{
	m->opts = xrealloc(m->opts, (m->n_opts + 1) * sizeof(*m->opts));
	m->opts[m->n_opts++] =
		(struct plan_kv){xstrdup(key), value ? xstrdup(value) : NULL};
}

static int mount_bool(const char *key, const char *v, bool *ret, struct molt_error **err)
{
	if (df_parse_bool(v, ret) < 0)
		return molt_error_usage(err, "--mount: %s expects true or false, not '%s'", key, v);
	return 0;
}

static int mount_key(struct build_mount *m, const char *k, char *v, struct molt_error **err)
{
	bool b = false;
	if (!strcmp(k, "type"))
		return 0;
	if (!strcmp(k, "readonly") || !strcmp(k, "ro") || !strcmp(k, "readwrite") ||
	    !strcmp(k, "rw")) {
		if (mount_bool(k, v, &b, err) < 0)
			return molt_error_pass(err);
		m->readonly = (k[0] == 'r' && k[1] == 'o') || !strcmp(k, "readonly") ? b : !b;
		return 0;
	}
	if (!strcmp(k, "required"))
		return mount_bool(k, v, &m->required, err);
	if (!v)
		return molt_error_usage(err, "--mount: '%s' needs a value (%s=VALUE)", k, k);
	char **slot = !strcmp(k, "target") || !strcmp(k, "dst") || !strcmp(k, "destination")
			      ? &m->target
		      : !strcmp(k, "source") || !strcmp(k, "src") ? &m->source
		      : !strcmp(k, "from")                        ? &m->from
		      : !strcmp(k, "id")                          ? &m->id
		      : !strcmp(k, "sharing")                     ? &m->sharing
		      : !strcmp(k, "env")                         ? &m->env
								  : NULL;
	if (slot) {
		free(*slot);
		*slot = xstrdup(v);
		return 0;
	}
	if (!strcmp(k, "mode"))
		return mount_number(k, v, 8, &m->mode, err);
	if (!strcmp(k, "uid"))
		return mount_number(k, v, 10, &m->uid, err);
	if (!strcmp(k, "gid"))
		return mount_number(k, v, 10, &m->gid, err);
	if (!strcmp(k, "size")) {
		m->size = parse_size(v);
		return m->size < 0 ? molt_error_usage(err, "--mount: invalid size '%s'", v) : 0;
	}
	return molt_error_usage(err, "--mount: unknown key '%s'", k);
}

static int mount_validate(struct build_mount *m, struct molt_error **err)
{
	static const char *const tnames[] = {"bind", "cache", "tmpfs", "secret", "ssh"};
	const char *t = tnames[m->type];
	if (m->from && (m->type == MOUNT_TMPFS || m->type == MOUNT_SECRET || m->type == MOUNT_SSH))
		return molt_error_usage(err, "--mount: 'from' is not allowed with type=%s", t);
	if (m->sharing && m->type != MOUNT_CACHE)
		return molt_error_usage(err, "--mount: 'sharing' is only for type=cache");
	if (m->sharing && strcmp(m->sharing, "shared") && strcmp(m->sharing, "private") &&
	    strcmp(m->sharing, "locked"))
		return molt_error_usage(err,
					"--mount: invalid sharing '%s' (shared, private or locked)",
					m->sharing);
	if (m->type == MOUNT_SECRET && !m->id && !m->target && !m->source && !m->env)
		return molt_error_usage(err, "--mount: type=secret needs an id or a target");
	if (m->type == MOUNT_SECRET && !m->id) {
		const char *base = m->target ? m->target : m->source;
		if (base) {
			const char *slash = strrchr(base, '/');
			m->id = xstrdup(slash ? slash + 1 : base);
		}
	}
	if (m->type == MOUNT_SECRET && !m->target && !m->env && m->id)
		m->target = xasprintf("/run/secrets/%s", m->id);
	if (m->type == MOUNT_SSH) {
		if (!m->id)
			m->id = xstrdup("default");
		if (!m->target)
			m->target = xstrdup("/run/buildkit/ssh_agent.0");
	}
	if (!m->target && m->type != MOUNT_SECRET)
		return molt_error_usage(err, "--mount: type=%s needs a target", t);
	return 0;
}

void build_mount_done(struct build_mount *m)
{
	free(m->target);
	free(m->source);
	free(m->from);
	free(m->id);
	free(m->sharing);
	free(m->env);
	plan_kv_free(m->opts, m->n_opts);
	memset(m, 0, sizeof(*m));
}

int build_mount_parse(const char *spec, int (*expand)(void *ud, const char *in, char **out),
		      void *ud, struct build_mount *ret, struct molt_error **err)
{
	_cleanup_strv_ char **fields = mount_fields(spec);
	struct build_mount m = {.type = MOUNT_BIND, .from_stage = -1, .mode = -1, .uid = -1,
				.gid = -1, .size = -1};
	int r = 0;
	bool readonly_set = false;
	for (size_t i = 0; fields[i] && r == 0; i++) {
		char *eq = strchr(fields[i], '=');
		_cleanup_free_ char *k = eq ? xstrndup(fields[i], (size_t)(eq - fields[i]))
					    : xstrdup(fields[i]);
		for (char *c = k; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		_cleanup_free_ char *v = NULL;
		if (eq && (r = expand(ud, eq + 1, &v)) < 0)
			break;
		if (!*k) {
			r = molt_error_usage(err, "--mount: empty field in '%s'", spec);
			break;
		}
		if (!strcmp(k, "type") && (!v || mount_type(v, &m.type) < 0)) {
			r = molt_error_usage(err,
					     "--mount: unknown type '%s' (bind, cache, tmpfs, secret or ssh)",
					     v ? v : "");
			break;
		}
		readonly_set |= !strcmp(k, "ro") || !strcmp(k, "readonly") || !strcmp(k, "rw") ||
				!strcmp(k, "readwrite");
		mount_opt_push(&m, k, v);
	}
	if (!readonly_set)
		m.readonly = m.type == MOUNT_BIND;
	for (size_t i = 0; i < m.n_opts && r == 0; i++)
		r = mount_key(&m, m.opts[i].key, m.opts[i].value, err);
	if (r == 0)
		r = mount_validate(&m, err);
	if (r < 0) {
		build_mount_done(&m);
		return r;
	}
	*ret = m;
	return 0;
}
