/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/parse.c: Dockerfile lines -> instructions (runner/frontend/dockerfile.h).
 *
 * The line handling follows BuildKit's parser.Parse: the first line of an instruction
 * is left-trimmed, continuation lines are not; a line ending in the escape character
 * (trailing blanks allowed) continues; comment lines and blank lines inside a
 * continuation are skipped; heredoc bodies follow the complete instruction line.
 */
#include <ctype.h>
#include <string.h>

#include "dockerfile.h"

static const char *const kind_names[DF_KIND_COUNT] = {
	"ADD",     "ARG",        "CMD",     "COPY",  "ENTRYPOINT", "ENV",  "EXPOSE",
	"FROM",    "HEALTHCHECK", "LABEL",  "MAINTAINER", "ONBUILD", "RUN", "SHELL",
	"STOPSIGNAL", "USER",    "VOLUME",  "WORKDIR",
};

const char *df_kind_name(enum df_kind k)
{
	return (unsigned)k < DF_KIND_COUNT ? kind_names[k] : "?";
}

int df_kind_from_name(const char *name)
{
	for (int i = 0; i < DF_KIND_COUNT; i++)
		if (str_eq_nocase(kind_names[i], name))
			return i;
	return -1;
}

const char *df_instr_flag(const struct df_instr *in, const char *name)
{
	const char *found = NULL;
	for (size_t i = 0; i < in->n_flags; i++)
		if (!strcmp(in->flags[i].name, name))
			found = in->flags[i].value ? in->flags[i].value : "";
	return found;
}

static char *caret_line(const char *line, int col)
{
	struct strbuf sb = STRBUF_INIT;
	/* Tabs are kept so the caret lines up under the echoed line in a terminal. */
	for (int i = 0; i < col - 1 && line[i]; i++)
		strbuf_addc(&sb, line[i] == '\t' ? '\t' : ' ');
	strbuf_addc(&sb, '^');
	return strbuf_detach(&sb);
}

#define ERROR_LINE_MAX 512u

static int df_verror(const struct dockerfile *df, struct molt_error **err, int line, int col,
		     const char *fmt, va_list ap) MOLT_PRINTF(5, 0);
static int df_verror(const struct dockerfile *df, struct molt_error **err, int line, int col,
		     const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	const char *name = df && df->name ? df->name : "Dockerfile";
	if (line <= 0 || !df || (size_t)line > df->n_lines)
		return molt_error_usage(err, "%s: %s", name, msg);
	int r = molt_error_usage(err, "%s:%d: %s", name, line, msg);
	if (!err || !*err || (*err)->detail)
		return r;
	/* The line is echoed under the message, but not a megabyte of it. */
	const char *line_text = df->lines[line - 1];
	size_t n = strlen(line_text);
	_cleanup_free_ char *src =
		n > ERROR_LINE_MAX ? xasprintf("%.*s… (%zu more bytes)", (int)ERROR_LINE_MAX,
					       line_text, n - ERROR_LINE_MAX)
				   : xstrdup(line_text);
	if (col > (int)ERROR_LINE_MAX)
		col = 0;
	_cleanup_free_ char *detail = NULL;
	if (col > 0) {
		_cleanup_free_ char *caret = caret_line(src, col);
		detail = xasprintf("%s\n%s", src, caret);
	} else {
		detail = xasprintf("%s", src);
	}
	molt_error_set_detail(*err, detail);
	return r;
}

int df_error(const struct dockerfile *df, struct molt_error **err, int line, int col,
	     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = df_verror(df, err, line, col, fmt, ap);
	va_end(ap);
	return r;
}

int df_error_at(const struct dockerfile *df, struct molt_error **err, int line, const char *needle,
		const char *fmt, ...)
{
	int col = 0;
	if (df && needle && *needle && line > 0 && (size_t)line <= df->n_lines) {
		/* look after the keyword, so a short needle cannot match the keyword itself */
		const char *l = df->lines[line - 1], *p = l;
		while (*p == ' ' || *p == '\t')
			p++;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		const char *hit = strstr(p, needle);
		col = hit ? (int)(hit - l) + 1 : 0;
	}
	va_list ap;
	va_start(ap, fmt);
	int r = df_verror(df, err, line, col, fmt, ap);
	va_end(ap);
	return r;
}

/* ---------------------------------------------------------------- freeing */

void df_heredocs_free(struct df_heredoc *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].content);
	}
	free(h);
}

void df_instr_done(struct df_instr *in)
{
	if (!in)
		return;
	free(in->original);
	free(in->rest);
	for (size_t i = 0; i < in->n_flags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	strv_free(in->args);
	for (size_t i = 0; i < in->n_kvs; i++) {
		free(in->kvs[i].key);
		free(in->kvs[i].value);
	}
	free(in->kvs);
	df_heredocs_free(in->heredocs, in->n_heredocs);
	if (in->trigger) {
		df_instr_done(in->trigger);
		free(in->trigger);
	}
	memset(in, 0, sizeof(*in));
}

void dockerfile_free(struct dockerfile *df)
{
	if (!df)
		return;
	ARRAY_FREE(df->instrs, df->n_instrs, df_instr_done);
	strv_free(df->lines);
	free(df->name);
	free(df->syntax);
	free(df->check);
	free(df);
}

/* ---------------------------------------------------------------- unknown keywords */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 32 || lb > 32)
		return 99;
	size_t d[33][33];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = toupper((unsigned char)a[i - 1]) != b[j - 1];
			size_t m = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < m)
				m = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < m)
				m = d[i - 1][j - 1] + cost;
			d[i][j] = m;
		}
	}
	return d[la][lb];
}

static const char *suggest_keyword(const char *word)
{
	const char *best = NULL;
	size_t best_d = 3;
	for (int i = 0; i < DF_KIND_COUNT; i++) {
		size_t d = edit_distance(word, kind_names[i]);
		if (d < best_d && d < strlen(word)) {
			best_d = d;
			best = kind_names[i];
		}
	}
	return best;
}

static int keyword_column(const struct dockerfile *df, int line)
{
	if (line < 1 || (size_t)line > df->n_lines)
		return 0;
	const char *l = df->lines[line - 1];
	size_t i = 0;
	while (l[i] == ' ' || l[i] == '\t')
		i++;
	return (int)i + 1;
}

static int unknown_instruction(const struct dockerfile *df, int line, const char *word,
			       struct molt_error **err)
{
	const char *near = suggest_keyword(word);
	int col = keyword_column(df, line);
	if (near)
		return df_error(df, err, line, col, "unknown instruction \"%s\" (did you mean \"%s\"?)",
				word, near);
	return df_error(df, err, line, col, "unknown instruction \"%s\"", word);
}

/* ---------------------------------------------------------------- arguments */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Exec form when the text is a JSON array of strings; else one shell-form string, or
 * with split the words separated by white space (COPY, ADD, VOLUME).
 */
static void maybe_json(struct df_instr *in, bool split)
{
	char **v;
	if (df_json_strings(in->rest, &v) == 0) {
		in->args = v;
		in->json = true;
	} else if (split) {
		in->args = df_split_ws(in->rest);
	} else {
		in->args = xcalloc(2, sizeof(char *));
		in->args[0] = xstrdup(in->rest);
	}
}

static void kv_push(struct df_instr *in, char *key, char *value)
{
	ARRAY_PUSH(in->kvs, in->n_kvs, (struct df_kv){key, value});
}

/*
 * BuildKit's parseNameVal: if the first word has no '=', it is the legacy `KEY value
 * with spaces` form, where the value is the rest of the line as written.
 */
static int parse_name_val(const struct dockerfile *df, struct df_instr *in,
			  struct molt_error **err)
{
	const char *kw = df_kind_name(in->kind);
	_cleanup_strv_ char **words = df_words(in->rest, df->escape);
	if (!words[0])
		return df_error(df, err, in->line, 0, "%s requires at least one argument", kw);
	if (!strchr(words[0], '=')) {
		const char *p = in->rest;
		while (*p && !is_blank(*p))
			p++;
		const char *key_end = p;
		while (*p && is_blank(*p))
			p++;
		if (!*p)
			return df_error(df, err, in->line, 0,
					"%s: '%s' has no value (use %s %s=VALUE or %s %s VALUE)", kw,
					words[0], kw, words[0], kw, words[0]);
		kv_push(in, xstrndup(in->rest, (size_t)(key_end - in->rest)), xstrdup(p));
		return 0;
	}
	for (size_t i = 0; words[i]; i++) {
		char *eq = strchr(words[i], '=');
		if (!eq)
			return df_error_at(df, err, in->line, words[i],
					   "%s: '%s' has no '=' (every word must be NAME=VALUE)", kw,
					   words[i]);
		if (eq == words[i])
			return df_error(df, err, in->line, 0, "%s: a name cannot be empty in '%s'",
					kw, words[i]);
		kv_push(in, xstrndup(words[i], (size_t)(eq - words[i])), xstrdup(eq + 1));
	}
	return 0;
}

static bool arg_name_valid(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (s++; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static int parse_arg(const struct dockerfile *df, struct df_instr *in, struct molt_error **err)
{
	_cleanup_strv_ char **words = df_words(in->rest, df->escape);
	if (!words[0])
		return df_error(df, err, in->line, 0, "ARG requires at least one argument");
	for (size_t i = 0; words[i]; i++) {
		char *eq = strchr(words[i], '=');
		_cleanup_free_ char *name =
			eq ? xstrndup(words[i], (size_t)(eq - words[i])) : xstrdup(words[i]);
		if (!arg_name_valid(name))
			return df_error_at(df, err, in->line, name,
					   "ARG: invalid name '%s' (letters, digits and '_', not starting with a digit)",
					   name);
		kv_push(in, TAKE_PTR(name), eq ? xstrdup(eq + 1) : NULL);
	}
	return 0;
}

static bool stage_name_valid(const char *s)
{
	if (!isalpha((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	return true;
}

static int parse_from(const struct dockerfile *df, struct df_instr *in, struct molt_error **err)
{
	in->args = df_split_ws(in->rest);
	size_t n = strv_len(in->args);
	if (n != 1 && n != 3)
		return df_error(df, err, in->line, 0,
				"FROM requires one or three arguments: FROM [--platform=P] IMAGE [AS NAME]");
	if (n == 3 && !str_eq_nocase(in->args[1], "AS"))
		return df_error_at(df, err, in->line, in->args[1],
				   "FROM: expected 'AS' before the stage name, got '%s'", in->args[1]);
	if (n == 3 && !stage_name_valid(in->args[2]))
		return df_error_at(df, err, in->line, in->args[2],
				   "FROM: invalid stage name '%s' (a letter, then letters, digits, '-', '_' or '.')",
				   in->args[2]);
	return 0;
}

static int parse_healthcheck(const struct dockerfile *df, struct df_instr *in,
			     struct molt_error **err)
{
	const char *p = in->rest;
	const char *w = p;
	while (*p && !is_blank(*p))
		p++;
	_cleanup_free_ char *type = xstrndup(w, (size_t)(p - w));
	while (*p && is_blank(*p))
		p++;
	if (!*type)
		return df_error(df, err, in->line, 0,
				"HEALTHCHECK requires an argument: NONE or CMD COMMAND");
	if (str_eq_nocase(type, "NONE")) {
		if (*p || in->n_flags)
			return df_error(df, err, in->line, 0,
					"HEALTHCHECK NONE takes no arguments and no flags");
		in->health.none = true;
		in->args = xcalloc(1, sizeof(char *));
		return 0;
	}
	if (!str_eq_nocase(type, "CMD"))
		return df_error_at(df, err, in->line, type,
				   "HEALTHCHECK: unknown type '%s' (use CMD or NONE)", type);
	if (!*p)
		return df_error(df, err, in->line, 0, "HEALTHCHECK CMD requires a command");
	char *cmd = xstrdup(p);
	free(in->rest);
	in->rest = cmd;
	maybe_json(in, false);
	return df_parse_health_flags(df, in, err);
}

static int parse_instr_text(const struct dockerfile *df, const char *text, int line,
			    struct df_instr *in, struct molt_error **err);

static int parse_onbuild(const struct dockerfile *df, struct df_instr *in, struct molt_error **err)
{
	if (!*in->rest)
		return df_error(df, err, in->line, 0, "ONBUILD requires an instruction to register");
	struct df_instr *t = xcalloc(1, sizeof(*t));
	int r = parse_instr_text(df, in->rest, in->line, t, err);
	in->trigger = t;
	if (r < 0)
		return r;
	if (t->kind == DF_ONBUILD || t->kind == DF_FROM || t->kind == DF_MAINTAINER)
		return df_error(df, err, in->line, 0, "ONBUILD: %s is not allowed as a trigger",
				df_kind_name(t->kind));
	in->args = xcalloc(2, sizeof(char *));
	in->args[0] = xstrdup(in->rest);
	return 0;
}

static int parse_args(const struct dockerfile *df, struct df_instr *in, struct molt_error **err)
{
	const char *kw = df_kind_name(in->kind);
	switch (in->kind) {
	case DF_ENV:
	case DF_LABEL:
		return parse_name_val(df, in, err);
	case DF_ARG:
		return parse_arg(df, in, err);
	case DF_FROM:
		return parse_from(df, in, err);
	case DF_HEALTHCHECK:
		return parse_healthcheck(df, in, err);
	case DF_ONBUILD:
		return parse_onbuild(df, in, err);
	default:
		break;
	}
	if (!*in->rest)
		return df_error(df, err, in->line, 0, "%s requires at least one argument", kw);
	switch (in->kind) {
	case DF_RUN:
	case DF_CMD:
	case DF_ENTRYPOINT:
		maybe_json(in, false);
		return 0;
	case DF_SHELL:
		maybe_json(in, false);
		if (!in->json)
			return df_error(df, err, in->line, 0,
					"SHELL requires the arguments in JSON form, e.g. SHELL [\"/bin/sh\", \"-c\"]");
		if (!in->args[0])
			return df_error(df, err, in->line, 0, "SHELL requires at least one argument");
		return 0;
	case DF_COPY:
	case DF_ADD:
		maybe_json(in, true);
		if (strv_len(in->args) < 2)
			return df_error(df, err, in->line, 0,
					"%s requires at least two arguments: one or more sources and a destination",
					kw);
		return 0;
	case DF_VOLUME:
		maybe_json(in, true);
		return 0;
	case DF_EXPOSE:
		in->args = df_split_ws(in->rest);
		return 0;
	default: /* USER, WORKDIR, STOPSIGNAL, MAINTAINER: the whole text is one argument */
		in->args = xcalloc(2, sizeof(char *));
		in->args[0] = xstrdup(in->rest);
		return 0;
	}
}

static void flags_from_words(struct df_instr *in, char **words)
{
	size_t n = strv_len(words);
	in->flags = n ? xcalloc(n, sizeof(*in->flags)) : NULL;
	for (size_t i = 0; i < n; i++) {
		const char *w = words[i] + 2;
		const char *eq = strchr(w, '=');
		in->flags[i].name = eq ? xstrndup(w, (size_t)(eq - w)) : xstrdup(w);
		in->flags[i].value = eq ? xstrdup(eq + 1) : NULL;
	}
	in->n_flags = n;
}

static char *trim_right(const char *s)
{
	size_t n = strlen(s);
	while (n && is_blank(s[n - 1]))
		n--;
	return xstrndup(s, n);
}

/* One instruction from its joined text (also used for ONBUILD's trigger). */
static int parse_instr_text(const struct dockerfile *df, const char *text, int line,
			    struct df_instr *in, struct molt_error **err)
{
	const char *p = text;
	while (*p && is_blank(*p))
		p++;
	const char *kw = p;
	while (*p && !is_blank(*p))
		p++;
	_cleanup_free_ char *word = xstrndup(kw, (size_t)(p - kw));
	in->line = line;
	in->original = trim_right(text);
	int kind = df_kind_from_name(word);
	if (kind < 0)
		return unknown_instruction(df, line, word, err);
	in->kind = (enum df_kind)kind;
	const char *rest;
	_cleanup_strv_ char **flagw = df_extract_flags(p, &rest);
	flags_from_words(in, flagw);
	in->rest = trim_right(rest);
	int r = df_check_flags(df, in, err);
	if (r < 0)
		return r;
	return parse_args(df, in, err);
}

/* ---------------------------------------------------------------- lines */

static bool line_is_blank(const char *l)
{
	while (*l && is_blank(*l))
		l++;
	return !*l;
}

static bool line_is_comment(const char *l)
{
	while (*l && is_blank(*l))
		l++;
	return *l == '#';
}

/* Appends l to sb without a trailing escape (and blanks after it); true if it was there. */
static bool add_segment(struct strbuf *sb, const char *l, char escape)
{
	size_t n = strlen(l);
	size_t e = n;
	while (e && (l[e - 1] == ' ' || l[e - 1] == '\t'))
		e--;
	/*
	 * BuildKit's `([^\\])\\[ \t]*$|^\\[ \t]*$`: an escape preceded by another escape
	 * does not continue the line (`RUN echo \\` ends with a literal backslash).
	 */
	if (e && l[e - 1] == escape && (e == 1 || l[e - 2] != escape)) {
		strbuf_add(sb, l, e - 1);
		return true;
	}
	strbuf_add(sb, l, n);
	return false;
}

static void heredoc_push(struct df_instr *in, struct df_heredoc_marker *m, char *content)
{
	ARRAY_PUSH(in->heredocs, in->n_heredocs, (struct df_heredoc){
		.name = m->name, .content = content, .expand = m->expand, .chomp = m->chomp});
	m->name = NULL;
}

/* Reads the bodies of the heredocs named in the instruction line, from line *pos on. */
static int read_heredocs(const struct dockerfile *df, struct df_instr *in, size_t *pos,
			 struct molt_error **err)
{
	struct df_heredoc_marker *m = NULL;
	size_t n = df_heredoc_markers(in->original, &m);
	int r = 0;
	for (size_t k = 0; k < n && r == 0; k++) {
		struct strbuf body = STRBUF_INIT;
		bool done = false;
		while (*pos < df->n_lines) {
			const char *l = df->lines[(*pos)++];
			if (m[k].chomp)
				while (*l == '\t')
					l++;
			if (!strcmp(l, m[k].name)) {
				done = true;
				break;
			}
			strbuf_adds(&body, l);
			strbuf_addc(&body, '\n');
		}
		if (!done) {
			strbuf_done(&body);
			r = df_error_at(df, err, in->line, "<<",
					"unterminated heredoc '%s': no line '%s' ends it", m[k].name,
					m[k].name);
			break;
		}
		heredoc_push(in, &m[k], strbuf_detach(&body));
	}
	for (size_t k = 0; k < n; k++)
		free(m[k].name);
	free(m);
	in->end_line = (int)*pos;
	return r;
}

/* RUN, COPY and ADD in shell form, also as an ONBUILD trigger (BuildKit canContainHeredoc). */
static bool may_have_heredocs(const struct df_instr *in)
{
	const struct df_instr *t = in->kind == DF_ONBUILD && in->trigger ? in->trigger : in;
	return (t->kind == DF_RUN || t->kind == DF_COPY || t->kind == DF_ADD) && !t->json &&
	       strstr(in->original, "<<");
}

static void instr_push(struct dockerfile *df, struct df_instr *in)
{
	ARRAY_PUSH(df->instrs, df->n_instrs, *in);
	memset(in, 0, sizeof(*in));
}

/* Joins one instruction's physical lines starting at *pos; false at end of input. */
static bool join_instruction(const struct dockerfile *df, size_t *pos, struct strbuf *sb,
			     int *ret_line)
{
	for (;;) {
		while (*pos < df->n_lines &&
		       (line_is_blank(df->lines[*pos]) || line_is_comment(df->lines[*pos])))
			(*pos)++;
		if (*pos >= df->n_lines)
			return false;
		*ret_line = (int)*pos + 1;
		const char *l = df->lines[(*pos)++];
		while (is_blank(*l))
			l++;
		strbuf_reset(sb);
		bool cont = add_segment(sb, l, df->escape);
		while (cont && *pos < df->n_lines) {
			const char *c = df->lines[(*pos)++];
			if (line_is_comment(c) || line_is_blank(c))
				continue;
			cont = add_segment(sb, c, df->escape);
		}
		if (!line_is_blank(strbuf_str(sb)))
			return true;
	}
}

static int parse_body(struct dockerfile *df, size_t pos, struct molt_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int line;
	while (join_instruction(df, &pos, &sb, &line)) {
		struct df_instr in = {0};
		int r = parse_instr_text(df, sb.buf, line, &in, err);
		in.end_line = (int)pos;
		if (r == 0 && may_have_heredocs(&in))
			r = read_heredocs(df, &in, &pos, err);
		if (r < 0) {
			df_instr_done(&in);
			return r;
		}
		instr_push(df, &in);
	}
	return 0;
}

static int split_lines(struct dockerfile *df, const char *text, size_t len,
		       struct molt_error **err)
{
	/* A UTF-8 byte order mark is not part of the first instruction. */
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		text += 3;
		len -= 3;
	}
	df->lines = xcalloc(1, sizeof(char *));
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] == '\0')
			return molt_error_usage(err, "%s:%zu: the file contains a NUL byte (is it a text file?)",
						df->name, df->n_lines + 1);
		if (i < len && text[i] != '\n')
			continue;
		if (i == len && start == len)
			break;
		size_t end = i;
		if (end > start && text[end - 1] == '\r')
			end--;
		strv_push_take(&df->lines, xstrndup(text + start, end - start));
		df->n_lines++;
		start = i + 1;
	}
	return 0;
}

int dockerfile_parse(const char *text, size_t len, const char *name, struct dockerfile **ret,
		     struct molt_error **err)
{
	struct dockerfile *df = xcalloc(1, sizeof(*df));
	df->name = xstrdup(name ? name : "Dockerfile");
	df->escape = '\\';
	size_t first = 0;
	int r = split_lines(df, text, len, err);
	if (r == 0)
		r = df_parse_directives(df, &first, err);
	if (r == 0)
		r = parse_body(df, first, err);
	if (r < 0) {
		dockerfile_free(df);
		return r;
	}
	*ret = df;
	return 0;
}
