/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/expand_pattern.c: the patterns of ${v#p}, ${v%p} and ${v/p/r},
 * matched as BuildKit's regular expressions match them (see expand.c for the rules),
 * with memoised matching so a hostile pattern cannot take exponential time.
 */
#include <string.h>

#include "expand_int.h"

/*
 * A `#`, `%` or `/` pattern: literal runes, `?` (one rune) and `*` (any run of
 * runes), compiled from the raw word the way BuildKit's convertShellPatternToRegex
 * builds its regular expression. Matching is leftmost-first with greedy or lazy stars,
 * which is what Go's regexp does with `.*` / `.*?`.
 */
enum pat_kind { PAT_LIT, PAT_ANY, PAT_STAR };

struct pat_tok {
	enum pat_kind kind;
	char lit[4];
	size_t lit_len;
};

struct pattern {
	struct pat_tok *tok;
	size_t n;
	bool greedy;
};

/* Length of the UTF-8 sequence at s[i]; invalid bytes count as one rune each, as in Go. */
static size_t rune_len(const char *s, size_t i, size_t n)
{
	unsigned char c = (unsigned char)s[i];
	size_t want = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
		      : c >= 0xF0 && c <= 0xF4			      ? 4
									      : 1;
	if (i + want > n)
		return 1;
	for (size_t k = 1; k < want; k++)
		if (((unsigned char)s[i + k] & 0xC0) != 0x80)
			return 1;
	return want;
}

int check_size(struct lexer *lx, size_t len)
{
	if (len > EXPAND_MAX_RESULT)
		return lex_fail(lx, "expansion larger than %u bytes", EXPAND_MAX_RESULT);
	return 0;
}

static void pattern_free(struct pattern *p)
{
	free(p->tok);
	p->tok = NULL;
}

static int pattern_compile(const char *src, bool greedy, struct pattern *ret, struct lexer *lx)
{
	size_t n = strlen(src);
	struct pat_tok *tok = xcalloc(n + 1, sizeof(*tok));
	size_t nt = 0;

	for (size_t i = 0; i < n;) {
		struct pat_tok *t = &tok[nt];
		if (src[i] == '*' || src[i] == '?') {
			t->kind = src[i] == '*' ? PAT_STAR : PAT_ANY;
			i++;
			nt++;
			continue;
		}
		if (src[i] == '\\') {
			/* `\}` and `\/` protect the ${} syntax; the backslash is not pattern */
			if (i + 1 < n && (src[i + 1] == '}' || src[i + 1] == '/')) {
				i++;
				continue;
			}
			if (i + 1 >= n || (src[i + 1] != '*' && src[i + 1] != '?' && src[i + 1] != '\\')) {
				free(tok);
				if (i + 1 >= n)
					return lex_fail(lx, "invalid pattern (%s) in substitution: "
							    "trailing backslash", src);
				return lex_fail(lx, "invalid pattern (%s) in substitution: "
						    "invalid escape '\\%c'", src, src[i + 1]);
			}
			i++;
		}
		size_t rl = rune_len(src, i, n);
		t->kind = PAT_LIT;
		memcpy(t->lit, src + i, rl);
		t->lit_len = rl;
		i += rl;
		nt++;
	}
	/* the matcher recurses once per token */
	if (nt > EXPAND_MAX_PATTERN) {
		free(tok);
		return lex_fail(lx, "substitution pattern longer than %d characters",
				EXPAND_MAX_PATTERN);
	}
	ret->tok = tok;
	ret->n = nt;
	ret->greedy = greedy;
	return 0;
}

/* Reverses the tokens (BuildKit's reversePattern keeps `\x` pairs, i.e. whole tokens). */
static void pattern_reverse(struct pattern *p)
{
	for (size_t i = 0, j = p->n ? p->n - 1 : 0; i < j; i++, j--) {
		struct pat_tok t = p->tok[i];
		p->tok[i] = p->tok[j];
		p->tok[j] = t;
	}
}

struct matcher {
	const struct pattern *p;
	const char *v;
	size_t n;
	ssize_t *memo; /* (n + 1) * pi + si → -2 unknown, -1 no match, else end */
};

static ssize_t match_at(struct matcher *m, size_t pi, size_t si);

static ssize_t match_star(struct matcher *m, size_t pi, size_t si)
{
	/* a star spans runes up to the first newline */
	size_t ends[64];
	size_t *all = ends, cnt = 0, cap = ARRAY_SIZE(ends);
	ssize_t r = -1;

	for (size_t i = si;;) {
		if (cnt == cap) {
			size_t *bigger = xmalloc(2 * cap * sizeof(*bigger));
			memcpy(bigger, all, cnt * sizeof(*bigger));
			if (all != ends)
				free(all);
			all = bigger;
			cap *= 2;
		}
		all[cnt++] = i;
		if (i >= m->n || m->v[i] == '\n')
			break;
		i += rune_len(m->v, i, m->n);
	}
	for (size_t k = 0; k < cnt; k++) {
		size_t end = m->p->greedy ? all[cnt - 1 - k] : all[k];
		r = match_at(m, pi + 1, end);
		if (r >= 0)
			break;
	}
	if (all != ends)
		free(all);
	return r;
}

/* Where the pattern from token pi matched against the value from si ends, or -1. */
static ssize_t match_at(struct matcher *m, size_t pi, size_t si)
{
	if (pi == m->p->n)
		return (ssize_t)si;
	ssize_t *slot = &m->memo[pi * (m->n + 1) + si];
	if (*slot != -2)
		return *slot;

	const struct pat_tok *t = &m->p->tok[pi];
	ssize_t r = -1;
	switch (t->kind) {
	case PAT_STAR:
		r = match_star(m, pi, si);
		break;
	case PAT_ANY:
		if (si < m->n && m->v[si] != '\n')
			r = match_at(m, pi + 1, si + rune_len(m->v, si, m->n));
		break;
	case PAT_LIT:
		if (si + t->lit_len <= m->n && memcmp(m->v + si, t->lit, t->lit_len) == 0)
			r = match_at(m, pi + 1, si + t->lit_len);
		break;
	}
	*slot = r;
	return r;
}

static int matcher_init(struct matcher *m, const struct pattern *p, const char *v, size_t n,
			struct lexer *lx)
{
	size_t cells = (p->n + 1) * (n + 1);
	if (p->n + 1 != 0 && cells / (p->n + 1) != n + 1)
		return lex_fail(lx, "substitution pattern too large");
	if (cells > EXPAND_MAX_MEMO)
		return lex_fail(lx, "substitution pattern too large for a %zu-byte value", n);
	m->p = p;
	m->v = v;
	m->n = n;
	m->memo = xmalloc(cells * sizeof(*m->memo));
	for (size_t i = 0; i < cells; i++)
		m->memo[i] = -2;
	return 0;
}

/* Reverses a string rune by rune (BuildKit's reverseString). */
static char *reverse_runes(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	for (size_t i = 0; i < n;) {
		size_t rl = rune_len(s, i, n);
		memcpy(out + n - i - rl, s + i, rl);
		i += rl;
	}
	out[n] = '\0';
	return out;
}

/* ${v#p} ${v##p} ${v%p} ${v%%p}: the value with the shortest/longest prefix/suffix removed. */
int trim_pattern(struct lexer *lx, const char *value, const char *word, bool suffix,
			bool greedy, char **ret)
{
	struct pattern p = {0};
	int r = pattern_compile(word, greedy, &p, lx);
	if (r < 0)
		return r;

	size_t n = strlen(value);
	/*
	 * A regexp cannot find the shortest rightmost match, so BuildKit reverses both the
	 * value and the pattern and trims a prefix instead; doing the same keeps the
	 * leftmost-first tie-breaking identical.
	 */
	_cleanup_free_ char *v = suffix ? reverse_runes(value, n) : xstrdup(value);
	if (suffix)
		pattern_reverse(&p);

	struct matcher m;
	r = matcher_init(&m, &p, v, n, lx);
	if (r < 0) {
		pattern_free(&p);
		return r;
	}
	ssize_t end = match_at(&m, 0, 0);
	free(m.memo);
	pattern_free(&p);

	const char *rest = end >= 0 ? v + end : v;
	*ret = suffix ? reverse_runes(rest, strlen(rest)) : xstrdup(rest);
	return 0;
}

/* Where the leftmost match at or after `from` starts (*ret_start) and ends, or -1. */
static ssize_t find_leftmost(struct matcher *m, size_t from, size_t *ret_start)
{
	for (size_t si = from;;) {
		ssize_t end = match_at(m, 0, si);
		if (end >= 0) {
			*ret_start = si;
			return end;
		}
		if (si >= m->n)
			return -1;
		si += rune_len(m->v, si, m->n);
	}
}

/*
 * ${v/p/r} and ${v//p/r}: the leftmost match (or all, as Go's ReplaceAllString walks
 * them: an empty match right after a previous match is not replaced) replaced by r.
 */
int replace_pattern(struct lexer *lx, const char *value, const char *pat,
			   const char *replacement, bool all, char **ret)
{
	struct pattern p = {0};
	int r = pattern_compile(pat, true, &p, lx);
	if (r < 0)
		return r;

	size_t n = strlen(value);
	struct matcher m;
	r = matcher_init(&m, &p, value, n, lx);
	if (r < 0) {
		pattern_free(&p);
		return r;
	}

	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	size_t last = 0, search = 0;
	while (search <= n) {
		size_t start;
		ssize_t e = find_leftmost(&m, search, &start);
		if (e < 0)
			break;
		size_t end = (size_t)e;
		strbuf_add(&out, value + last, start - last);
		if (end > last || start == 0)
			strbuf_adds(&out, replacement);
		r = check_size(lx, out.len);
		if (r < 0)
			break;
		last = end;
		if (!all)
			break;
		size_t width = search < n ? rune_len(value, search, n) : 0;
		if (search + width > end)
			search += width;
		else if (search + 1 > end)
			search++;
		else
			search = end;
	}
	free(m.memo);
	pattern_free(&p);
	if (r < 0)
		return r;
	strbuf_add(&out, value + last, n - last);
	*ret = strbuf_detach(&out);
	return 0;
}
