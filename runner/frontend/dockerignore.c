/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/dockerignore.c: .dockerignore parsing and matching.
 *
 * BuildKit hands the patterns to moby/patternmatcher, which does not implement
 * filepath.Match directly: it classifies each pattern as an exact string, a prefix
 * (`dir/` then `**`), a suffix (`**` + literal text, matched with a plain HasSuffix), or a
 * regular expression built from the pattern. The classes behave differently at the
 * edges (`**.go` matches `a/b.go` AND `xb.go` because it is a suffix test), so this
 * file keeps the same classes and emulates the regular expressions with a small
 * memoised matcher rather than "fixing" them. Known, deliberate deviations: inside a
 * regular-expression pattern, `\d`-style escapes are the literal letter (Go's regexp
 * would read a class) and `^` is a literal character (Go's regexp would read an
 * anchor that cannot match); classes containing `*` or `?` take them literally.
 */
#include <string.h>

#include "dockerignore.h"

enum pat_type { PAT_EXACT, PAT_PREFIX, PAT_SUFFIX, PAT_REGEXP };

enum tok_kind {
	TOK_LIT,      /* one byte */
	TOK_ONE,      /* `?`: one rune but not '/' */
	TOK_STAR,     /* `*`: runes but not '/' */
	TOK_ANY,      /* trailing `**`: anything but a newline (Go's `.*`) */
	TOK_DIRS,     /* `**` then a slash: nothing, or anything up to and including a slash */
	TOK_CLASS,    /* `[...]` */
};

struct range {
	uint32_t lo, hi;
};

struct tok {
	enum tok_kind kind;
	unsigned char c;
	bool negate;
	struct range *ranges;
	size_t nranges;
};

struct pattern {
	char *text; /* cleaned, without the leading '!' */
	bool exception;
	enum pat_type type;
	struct tok *tok;
	size_t ntok;
};

struct dockerignore {
	struct pattern *pat;
	size_t n;
	bool exceptions;
};

/* ------------------------------------------------------------ helpers */

/* Decodes one UTF-8 rune; invalid bytes decode as themselves, one byte long, as in Go. */
static uint32_t utf8_decode(const char *s, size_t n, size_t *ret_len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t want = u[0] < 0x80 ? 1 : u[0] >= 0xC2 && u[0] <= 0xDF ? 2 : u[0] >= 0xE0 && u[0] <= 0xEF ? 3
					 : u[0] >= 0xF0 && u[0] <= 0xF4			     ? 4
												     : 1;
	if (want > n)
		want = 1;
	for (size_t k = 1; k < want; k++)
		if ((u[k] & 0xC0) != 0x80)
			want = 1;
	*ret_len = want;
	switch (want) {
	case 2:
		return ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
	case 3:
		return ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
	case 4:
		return ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
		       ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
	default:
		return u[0];
	}
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Go's strings.TrimSpace (ASCII whitespace). */
static char *trim_space(const char *s, size_t n)
{
	while (n && is_space(*s))
		s++, n--;
	while (n && is_space(s[n - 1]))
		n--;
	return xstrndup(s, n);
}

/* Go's path.Clean: lexical, `.` and `..` resolved, no trailing slash, "" is ".". */
static char *path_clean(const char *p)
{
	size_t n = strlen(p);
	if (n == 0)
		return xstrdup(".");
	bool rooted = p[0] == '/';
	char *out = xmalloc(n + 2);
	size_t w = 0, dotdot = 0; /* dotdot: where `..` may no longer backtrack */
	size_t r = 0;
	if (rooted) {
		out[w++] = '/';
		r = 1;
		dotdot = 1;
	}
	while (r < n) {
		if (p[r] == '/') {
			r++;
		} else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
			r++;
		} else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			while (r < n && p[r] != '/')
				out[w++] = p[r++];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	return out;
}

/* ------------------------------------------------------------ compiling */

static void pattern_done(struct pattern *p)
{
	for (size_t i = 0; i < p->ntok; i++)
		free(p->tok[i].ranges);
	free(p->tok);
	free(p->text);
}

/* One class member for filepath.Match: a rune other than `-` and `]`, or `\` + rune. */
static int class_char(const char *s, size_t n, size_t *i, uint32_t *ret)
{
	size_t len;
	if (*i >= n || s[*i] == '-' || s[*i] == ']')
		return -EINVAL;
	if (s[*i] == '\\') {
		(*i)++;
		if (*i >= n)
			return -EINVAL;
	}
	*ret = utf8_decode(s + *i, n - *i, &len);
	*i += len;
	return 0;
}

/* Parses `[...]` starting after the '['; filepath.Match's rules decide what is malformed. */
static int compile_class(const char *s, size_t n, size_t *i, struct tok *t)
{
	t->kind = TOK_CLASS;
	if (*i < n && s[*i] == '^') {
		t->negate = true;
		(*i)++;
	}
	for (;;) {
		if (*i < n && s[*i] == ']' && t->nranges > 0) {
			(*i)++;
			return 0;
		}
		struct range rg;
		if (class_char(s, n, i, &rg.lo) < 0)
			return -EINVAL;
		rg.hi = rg.lo;
		if (*i < n && s[*i] == '-') {
			(*i)++;
			if (class_char(s, n, i, &rg.hi) < 0)
				return -EINVAL;
		}
		ARRAY_PUSH(t->ranges, t->nranges, rg);
	}
}

static struct tok *push_tok(struct pattern *p, enum tok_kind kind)
{
	p->tok = xrealloc(p->tok, (p->ntok + 1) * sizeof(*p->tok));
	struct tok *t = &p->tok[p->ntok++];
	*t = (struct tok){.kind = kind};
	return t;
}

/* patternmatcher's compile(): the match type and, for regexps, the token program. */
static int pattern_compile(struct pattern *p)
{
	const char *s = p->text;
	size_t n = strlen(s);
	enum pat_type type = PAT_EXACT;

	for (size_t i = 0, step = 0; i < n; step++) {
		char c = s[i++];
		if (c == '*' && i < n && s[i] == '*') {
			i++;
			if (i < n && s[i] == '/')
				i++; /* a slash after `**` belongs to it */
			if (i >= n) {
				if (type == PAT_EXACT) {
					type = PAT_PREFIX;
				} else {
					push_tok(p, TOK_ANY);
					type = PAT_REGEXP;
				}
			} else {
				push_tok(p, TOK_DIRS);
				type = PAT_REGEXP;
			}
			if (step == 0)
				type = PAT_SUFFIX;
		} else if (c == '*') {
			push_tok(p, TOK_STAR);
			type = PAT_REGEXP;
		} else if (c == '?') {
			push_tok(p, TOK_ONE);
			type = PAT_REGEXP;
		} else if (c == '\\') {
			if (i >= n)
				return -EINVAL; /* filepath.Match refuses a trailing backslash */
			push_tok(p, TOK_LIT)->c = (unsigned char)s[i++];
			type = PAT_REGEXP;
		} else if (c == '[') {
			if (compile_class(s, n, &i, push_tok(p, TOK_CLASS)) < 0)
				return -EINVAL;
			type = PAT_REGEXP;
		} else if (c == ']') {
			push_tok(p, TOK_LIT)->c = ']';
			type = PAT_REGEXP;
		} else {
			push_tok(p, TOK_LIT)->c = (unsigned char)c;
		}
	}
	p->type = type;
	return 0;
}

/* ------------------------------------------------------------ matching */

struct matcher {
	const struct pattern *p;
	const char *s;
	size_t n;
	bool partial;	       /* success once the input is used up (a prefix could match) */
	unsigned char *memo;   /* 0 unknown, 1 no, 2 yes */
};

static bool match_at(struct matcher *m, size_t pi, size_t si);

static bool class_matches(const struct tok *t, uint32_t r)
{
	bool in = false;
	for (size_t k = 0; k < t->nranges && !in; k++)
		in = r >= t->ranges[k].lo && r <= t->ranges[k].hi;
	return in != t->negate;
}

static bool match_tok(struct matcher *m, size_t pi, size_t si)
{
	const struct tok *t = &m->p->tok[pi];
	size_t len;

	switch (t->kind) {
	case TOK_LIT:
		return si < m->n && (unsigned char)m->s[si] == t->c && match_at(m, pi + 1, si + 1);
	case TOK_ONE:
		if (si >= m->n || m->s[si] == '/')
			return false;
		utf8_decode(m->s + si, m->n - si, &len);
		return match_at(m, pi + 1, si + len);
	case TOK_CLASS:
		if (si >= m->n)
			return false;
		if (!class_matches(t, utf8_decode(m->s + si, m->n - si, &len)))
			return false;
		return match_at(m, pi + 1, si + len);
	case TOK_STAR:
		for (size_t j = si;; j += len) {
			if (match_at(m, pi + 1, j))
				return true;
			if (j >= m->n || m->s[j] == '/')
				return false;
			utf8_decode(m->s + j, m->n - j, &len);
		}
	case TOK_ANY:
		for (size_t j = si;; j++) {
			if (match_at(m, pi + 1, j))
				return true;
			if (j >= m->n || m->s[j] == '\n')
				return false;
		}
	case TOK_DIRS:
		if (match_at(m, pi + 1, si))
			return true;
		for (size_t j = si; j < m->n && m->s[j] != '\n'; j++)
			if (m->s[j] == '/' && match_at(m, pi + 1, j + 1))
				return true;
		return false;
	}
	return false;
}

static bool match_at(struct matcher *m, size_t pi, size_t si)
{
	if (m->partial && si == m->n)
		return true; /* whatever remains of the pattern can match some longer path */
	if (pi == m->p->ntok)
		return si == m->n;
	unsigned char *slot = m->memo ? &m->memo[pi * (m->n + 1) + si] : NULL;
	if (slot && *slot)
		return *slot == 2;
	bool r = match_tok(m, pi, si);
	if (slot)
		*slot = r ? 2 : 1;
	return r;
}

static bool regexp_match(const struct pattern *p, const char *s, bool partial)
{
	size_t n = strlen(s);
	struct matcher m = {p, s, n, partial, NULL};
	size_t cells = (p->ntok + 1) * (n + 1);
	/* without the memo a pattern of many stars is exponential; huge inputs go without */
	if (cells / (n + 1) == p->ntok + 1 && cells <= 64u * 1024 * 1024)
		m.memo = xcalloc(cells, 1);
	bool r = match_at(&m, 0, 0);
	free(m.memo);
	return r;
}

/* patternmatcher's Pattern.match on one path. */
static bool pattern_match(const struct pattern *p, const char *path)
{
	size_t n = strlen(p->text);
	switch (p->type) {
	case PAT_EXACT:
		return strcmp(path, p->text) == 0;
	case PAT_PREFIX:
		return strncmp(path, p->text, n - 2) == 0;
	case PAT_SUFFIX: {
		const char *suffix = p->text + 2;
		if (str_endswith(path, suffix))
			return true;
		return suffix[0] == '/' && strcmp(path, suffix + 1) == 0; /* `**` + "/foo" also matches "foo" */
	}
	case PAT_REGEXP:
		return regexp_match(p, path, false);
	}
	return false;
}

/* The pattern matches the path or one of its parent directories. */
static bool pattern_match_or_parent(const struct pattern *p, const char *path)
{
	if (pattern_match(p, path))
		return true;
	_cleanup_free_ char *dir = xstrdup(path);
	for (char *slash = strchr(dir, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		bool r = pattern_match(p, dir);
		*slash = '/';
		if (r)
			return true;
	}
	return false;
}

/* Strips `/` and `./` and cleans, so callers may pass either form. */
static char *normalize(const char *relpath)
{
	_cleanup_free_ char *c = path_clean(relpath ? relpath : ".");
	const char *s = c;
	while (*s == '/')
		s++;
	return xstrdup(*s ? s : ".");
}

bool dockerignore_excluded(const struct dockerignore *d, const char *relpath, bool is_dir)
{
	(void)is_dir;
	if (!d)
		return false;
	_cleanup_free_ char *path = normalize(relpath);
	if (strcmp(path, ".") == 0)
		return false; /* the context root itself is never excluded */

	bool excluded = false;
	for (size_t i = 0; i < d->n; i++) {
		const struct pattern *p = &d->pat[i];
		/* a pattern can only change the verdict: skip it when it would not */
		if (p->exception != excluded)
			continue;
		if (pattern_match_or_parent(p, path))
			excluded = !p->exception;
	}
	return excluded;
}

/* Whether pattern p could match some path strictly below dir. */
static bool pattern_may_match_below(const struct pattern *p, const char *dir)
{
	_cleanup_free_ char *dirslash = xasprintf("%s/", dir);
	size_t n = strlen(p->text);
	switch (p->type) {
	case PAT_EXACT:
		return str_startswith(p->text, dirslash);
	case PAT_PREFIX: {
		size_t k = n - 2, dl = strlen(dirslash);
		return strncmp(p->text, dirslash, k < dl ? k : dl) == 0;
	}
	case PAT_SUFFIX:
		return true; /* `**` + text: some deeper path ends with the text */
	case PAT_REGEXP:
		return regexp_match(p, dirslash, true);
	}
	return true;
}

bool dockerignore_may_include_below(const struct dockerignore *d, const char *reldir)
{
	if (!d || !d->exceptions)
		return false;
	_cleanup_free_ char *dir = normalize(reldir);
	if (strcmp(dir, ".") == 0)
		return true;
	for (size_t i = 0; i < d->n; i++)
		if (d->pat[i].exception && pattern_may_match_below(&d->pat[i], dir))
			return true;
	return false;
}

bool dockerignore_has_exceptions(const struct dockerignore *d)
{
	return d && d->exceptions;
}

size_t dockerignore_count(const struct dockerignore *d)
{
	return d ? d->n : 0;
}

void dockerignore_free(struct dockerignore *d)
{
	if (!d)
		return;
	ARRAY_FREE(d->pat, d->n, pattern_done);
	free(d);
}

/* ------------------------------------------------------------ parsing */

/* patternmatcher.New for one pattern; line is 0 when the pattern is not from a file. */
static int add_pattern(struct dockerignore *d, const char *raw, bool strip_root, unsigned line,
		       struct molt_error **err)
{
	_cleanup_free_ char *trimmed = trim_space(raw, strlen(raw));
	_cleanup_free_ char *where = line ? xasprintf("line %u: ", line) : xstrdup("");
	if (!trimmed[0])
		return 0;

	const char *body = trimmed;
	bool exception = body[0] == '!';
	if (exception) {
		_cleanup_free_ char *rest = trim_space(body + 1, strlen(body + 1));
		if (!rest[0])
			return molt_error_usage(err, "%sinvalid exclusion pattern '!': "
						     "an exception needs a pattern", where);
		free(trimmed);
		trimmed = TAKE_PTR(rest);
		body = trimmed;
	}
	char *text = path_clean(body);
	/* a leading '/' means the context root, which is where every pattern starts */
	if (strip_root && text[0] == '/' && text[1]) {
		char *t = xstrdup(text + 1);
		free(text);
		text = t;
	}

	struct pattern p = {.text = text, .exception = exception};
	if (pattern_compile(&p) < 0) {
		int r = molt_error_usage(err, "%sinvalid pattern '%s%s': syntax error in pattern",
					 where, exception ? "!" : "", text);
		pattern_done(&p);
		return r;
	}
	ARRAY_PUSH(d->pat, d->n, p);
	d->exceptions |= exception;
	return 0;
}

int dockerignore_parse(const char *text, struct dockerignore **ret, struct molt_error **err)
{
	struct dockerignore *d = xcalloc(1, sizeof(*d));
	const char *s = text ? text : "";
	unsigned line = 0;

	/* a UTF-8 byte order mark, as editors on Windows write it */
	if (str_startswith(s, "\xef\xbb\xbf"))
		s += 3;
	while (*s) {
		const char *eol = strchr(s, '\n');
		size_t len = eol ? (size_t)(eol - s) : strlen(s);
		_cleanup_free_ char *l = xstrndup(s, len);
		line++;
		s += len + (eol ? 1 : 0);
		if (l[0] == '#')
			continue; /* only at column 0: "  #x" is a pattern, as in BuildKit */
		int r = add_pattern(d, l, true, line, err);
		if (r < 0) {
			dockerignore_free(d);
			return r;
		}
	}
	*ret = d;
	return 0;
}

int dockerignore_new(char *const *patterns, struct dockerignore **ret, struct molt_error **err)
{
	struct dockerignore *d = xcalloc(1, sizeof(*d));
	for (size_t i = 0; patterns && patterns[i]; i++) {
		int r = add_pattern(d, patterns[i], false, 0, err);
		if (r < 0) {
			dockerignore_free(d);
			return r;
		}
	}
	*ret = d;
	return 0;
}
