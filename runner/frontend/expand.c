/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/expand.c: Dockerfile variable expansion.
 *
 * This follows BuildKit's shell lexer (frontend/dockerfile/shell/lex.go) rule for
 * rule, because a Dockerfile that builds with `docker build` must expand to the same
 * strings here; bash is NOT the reference. The quirks kept on purpose:
 *  - `$1`, `$@`, `$#`, `$$`... are looked up like names and expand to "" (nobody
 *    sets them); `${#v}` (length) is "unsupported modifier".
 *  - `${v:#p}` / `${v:%p}` behave like `${v#p}` / `${v%p}` (BuildKit falls through).
 *  - In `${v#p}`, `${v%p}` and `${v/p/r}` the pattern and the replacement keep their
 *    escape characters (raw escapes), so `\*` is a literal star in the pattern and
 *    `${v//\//\/}` inserts a backslash, exactly like BuildKit.
 *  - Pattern `*` and `?` never match a newline (Go regexp `.` semantics).
 *  - ProcessWords drops words that are empty even when quoted (`""` yields nothing).
 * Unlike BuildKit we cap nesting depth so a hostile Dockerfile cannot exhaust the
 * stack, and an unterminated `${name` says "missing '}'" instead of Go's
 * "unsupported modifier (\uFFFD)".
 * Names are ASCII (BuildKit also accepts Unicode letters in names).
 */
#include <string.h>

#include "expand_int.h"

/* BuildKit's wordsStruct: how ProcessWords splits on unquoted whitespace. */
struct words {
	struct strbuf word;
	bool in_word;
	char **list; /* NULL-terminated once non-empty */
	size_t n, cap;
};

static int peek(const struct lexer *lx)
{
	return lx->pos < lx->len ? (unsigned char)lx->s[lx->pos] : -1;
}

static int next(struct lexer *lx)
{
	return lx->pos < lx->len ? (unsigned char)lx->s[lx->pos++] : -1;
}

int lex_fail(struct lexer *lx, const char *fmt, ...)
{
	if (!lx->errmsg) {
		va_list ap;
		va_start(ap, fmt);
		lx->errmsg = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Replaces the current error (BuildKit reports "missing '}'" for anything ending at EOF). */
static int lex_refail(struct lexer *lx, const char *msg)
{
	free(lx->errmsg);
	lx->errmsg = xstrdup(msg);
	return -EINVAL;
}

/* Go's unicode.IsSpace restricted to ASCII. */
static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_name_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(int c)
{
	return is_name_start(c) || is_digit(c);
}

/* POSIX special parameters; BuildKit takes them as one-character names. */
static bool is_special_param(int c)
{
	return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' ||
	       c == '0';
}

static void words_push(struct words *w)
{
	if (w->n + 2 > w->cap) {
		w->cap = w->cap ? 2 * w->cap : 8;
		w->list = xrealloc(w->list, w->cap * sizeof(*w->list));
	}
	w->list[w->n++] = xstrdup(strbuf_str(&w->word));
	w->list[w->n] = NULL;
	strbuf_reset(&w->word);
	w->in_word = false;
}

static void words_add_raw_char(struct words *w, char c)
{
	strbuf_addc(&w->word, c);
	w->in_word = true;
}

static void words_add_char(struct words *w, char c)
{
	if (is_space((unsigned char)c)) {
		if (w->in_word && w->word.len > 0)
			words_push(w);
		return;
	}
	words_add_raw_char(w, c);
}

static void words_add_string(struct words *w, const char *s)
{
	for (; *s; s++)
		words_add_char(w, *s);
}

static void words_add_raw_string(struct words *w, const char *s)
{
	strbuf_adds(&w->word, s);
	w->in_word = true;
}

static void words_finish(struct words *w)
{
	if (w->word.len > 0)
		words_push(w);
}

/* ------------------------------------------------------------ the lexer */

static int process_stop_on(struct lexer *lx, int stop, bool raw, struct strbuf *result,
			   struct words *w);

static const char *lookup(const struct lexer *lx, const char *name)
{
	return lx->env->lookup ? lx->env->lookup(lx->env->userdata, name) : NULL;
}

/* BuildKit's processName: a name, a run of digits, or one special parameter character. */
static char *process_name(struct lexer *lx)
{
	struct strbuf name = STRBUF_INIT;
	int c = peek(lx);

	if (is_digit(c)) {
		while (is_digit(peek(lx)))
			strbuf_addc(&name, (char)next(lx));
		return strbuf_detach(&name);
	}
	if (c >= 0 && is_special_param(c)) {
		strbuf_addc(&name, (char)next(lx));
		return strbuf_detach(&name);
	}
	while (peek(lx) >= 0 && is_name_char(peek(lx)))
		strbuf_addc(&name, (char)next(lx));
	return strbuf_detach(&name);
}

static int process_single_quote(struct lexer *lx, struct strbuf *out)
{
	next(lx);
	for (;;) {
		int c = next(lx);
		if (c < 0)
			return lex_fail(lx, "unexpected end of statement while looking for "
					    "matching single-quote");
		if (c == '\'')
			return 0;
		strbuf_addc(out, (char)c);
	}
}

static int process_dollar(struct lexer *lx, struct strbuf *out);

static int process_double_quote(struct lexer *lx, struct strbuf *out)
{
	next(lx);
	for (;;) {
		int c = peek(lx);
		if (c < 0)
			return lex_fail(lx, "unexpected end of statement while looking for "
					    "matching double-quote");
		if (c == '"') {
			next(lx);
			return 0;
		}
		if (c == '$') {
			int r = process_dollar(lx, out);
			if (r < 0)
				return r;
			r = check_size(lx, out->len);
			if (r < 0)
				return r;
			continue;
		}
		c = next(lx);
		if (c == lx->esc) {
			if (lx->raw_escapes)
				strbuf_addc(out, (char)c);
			int p = peek(lx);
			if (p < 0)
				continue; /* the missing quote is reported next round */
			/* only these are escapable inside double quotes; else the escape stays */
			if (p == '"' || p == '$' || p == lx->esc)
				c = next(lx);
		}
		strbuf_addc(out, (char)c);
	}
}

/* Reads the word of a ${name<op>word} up to the closing brace (or a '/' for patterns). */
static int read_word(struct lexer *lx, int stop, bool raw, char **ret)
{
	_cleanup_strbuf_ struct strbuf word = STRBUF_INIT;
	int r = process_stop_on(lx, stop, raw, &word, NULL);
	if (r < 0) {
		if (peek(lx) < 0)
			return lex_refail(lx, stop == '}' ? "syntax error: missing '}'"
							  : "syntax error: missing '/' in ${}");
		return r;
	}
	*ret = strbuf_detach(&word);
	return 0;
}

static int apply_modifier(struct lexer *lx, const char *name, int op, bool null_is_unset,
			  char *word, struct strbuf *out)
{
	const char *value = lookup(lx, name);
	bool unset = value == NULL || (null_is_unset && value[0] == '\0');
	_cleanup_free_ char *trimmed = NULL;
	int r;

	switch (op) {
	case '-':
		strbuf_adds(out, unset ? word : value);
		return 0;
	case '+':
		strbuf_adds(out, unset ? "" : word);
		return 0;
	case '?':
		if (unset)
			return lex_fail(lx, "%s: %s", name,
					word[0] ? word
					: value ? "is not allowed to be empty"
						: "is not allowed to be unset");
		strbuf_adds(out, value);
		return 0;
	case '#':
	case '%': {
		bool greedy = word[0] == op;
		r = trim_pattern(lx, value ? value : "", word + (greedy ? 1 : 0), op == '%', greedy,
				 &trimmed);
		if (r < 0)
			return r;
		strbuf_adds(out, trimmed);
		return 0;
	}
	}
	return -EINVAL; /* not reached: the caller only passes the operators above */
}

/* ${...} after the '{' */
static int process_braced(struct lexer *lx, struct strbuf *out)
{
	int c = peek(lx);
	if (c < 0)
		return lex_fail(lx, "syntax error: missing '}'");
	if (c == '{' || c == '}' || c == ':')
		return lex_fail(lx, "syntax error: bad substitution");

	_cleanup_free_ char *name = process_name(lx);
	_cleanup_free_ char *word = NULL;
	c = next(lx);
	if (c < 0)
		return lex_fail(lx, "syntax error: missing '}'");
	if (c == '}') {
		const char *value = lookup(lx, name);
		strbuf_adds(out, value ? value : "");
		return 0;
	}

	if (c == '/') {
		bool all = peek(lx) == '/';
		_cleanup_free_ char *pat = NULL, *repl = NULL, *replaced = NULL;
		if (all)
			next(lx);
		int r = read_word(lx, '/', true, &pat);
		if (r < 0)
			return r;
		r = read_word(lx, '}', true, &repl);
		if (r < 0)
			return r;
		const char *value = lookup(lx, name);
		r = replace_pattern(lx, value ? value : "", pat, repl, all, &replaced);
		if (r < 0)
			return r;
		strbuf_adds(out, replaced);
		return 0;
	}

	bool null_is_unset = false;
	char op[3] = {(char)c, 0, 0};
	if (c == ':') {
		null_is_unset = true;
		c = next(lx);
		if (c < 0)
			return lex_fail(lx, "syntax error: missing '}'");
		op[1] = (char)c;
	} else if (c != '+' && c != '-' && c != '?' && c != '#' && c != '%') {
		return lex_fail(lx, "unsupported modifier (%s) in substitution", op);
	}
	/* BuildKit reads the word even for a bad operator after ':' and then refuses it */
	int r = read_word(lx, '}', c == '#' || c == '%', &word);
	if (r < 0)
		return r;
	if (c != '+' && c != '-' && c != '?' && c != '#' && c != '%')
		return lex_fail(lx, "unsupported modifier (%s) in substitution", op);
	return apply_modifier(lx, name, c, null_is_unset, word, out);
}

static int process_dollar(struct lexer *lx, struct strbuf *out)
{
	next(lx);
	if (peek(lx) != '{') {
		_cleanup_free_ char *name = process_name(lx);
		if (!name[0]) {
			strbuf_addc(out, '$'); /* `$` before a non-name character is literal */
			return 0;
		}
		const char *value = lookup(lx, name);
		strbuf_adds(out, value ? value : "");
		return 0;
	}
	next(lx);
	if (++lx->depth > EXPAND_MAX_DEPTH)
		return lex_fail(lx, "substitutions nested deeper than %d", EXPAND_MAX_DEPTH);
	int r = process_braced(lx, out);
	lx->depth--;
	return r;
}

/*
 * BuildKit's processStopOn: expands up to `stop` (-1: the end), appending to result;
 * at the top level also feeds the word splitter w.
 */
static int process_stop_on(struct lexer *lx, int stop, bool raw, struct strbuf *result,
			   struct words *w)
{
	bool saved_raw = lx->raw_escapes;
	int r = 0;

	lx->raw_escapes = raw;
	while (peek(lx) >= 0) {
		int c = peek(lx);
		if (stop >= 0 && c == stop) {
			next(lx);
			goto out;
		}
		if (c == '$' || (!lx->skip_quotes && (c == '\'' || c == '"'))) {
			_cleanup_strbuf_ struct strbuf tmp = STRBUF_INIT;
			r = c == '$'	? process_dollar(lx, &tmp)
			    : c == '\'' ? process_single_quote(lx, &tmp)
					: process_double_quote(lx, &tmp);
			if (r < 0)
				goto out;
			strbuf_add(result, strbuf_str(&tmp), tmp.len);
			r = check_size(lx, result->len);
			if (r < 0)
				goto out;
			if (w && c == '$')
				words_add_string(w, strbuf_str(&tmp)); /* expansions split */
			else if (w)
				words_add_raw_string(w, strbuf_str(&tmp)); /* quotes do not */
			continue;
		}
		c = next(lx);
		if (c == lx->esc) {
			if (lx->raw_escapes) {
				if (w)
					words_add_raw_char(w, (char)c);
				strbuf_addc(result, (char)c);
			}
			c = next(lx);
			if (c < 0)
				break; /* an escape at the very end is dropped */
			if (w)
				words_add_raw_char(w, (char)c);
		} else if (w) {
			words_add_char(w, (char)c);
		}
		strbuf_addc(result, (char)c);
	}
	if (stop >= 0)
		r = lex_fail(lx, "unexpected end of statement while looking for matching %c",
			     stop);
out:
	lx->raw_escapes = saved_raw;
	return r;
}

static int expand_run(const char *text, const struct expand_env *env, bool heredoc,
		      char **ret_word, char ***ret_words, struct molt_error **err)
{
	struct lexer lx = {
		.s = text,
		.len = strlen(text),
		/* BuildKit expands heredoc bodies with a fresh backslash lexer whatever the
		 * `# escape=` directive says, and leaves quotes alone (SkipProcessQuotes). */
		.esc = heredoc ? '\\' : env->escape ? env->escape : '\\',
		.skip_quotes = heredoc,
		.env = env,
	};
	_cleanup_strbuf_ struct strbuf result = STRBUF_INIT;
	struct words w = {STRBUF_INIT, false, NULL, 0, 0};

	int r = process_stop_on(&lx, -1, false, &result, ret_words ? &w : NULL);
	if (r < 0) {
		r = molt_error_usage(err, "failed to process '%s': %s", text,
				     lx.errmsg ? lx.errmsg : "invalid substitution");
		free(lx.errmsg);
		strbuf_done(&w.word);
		strv_free(w.list);
		return r;
	}
	if (ret_word)
		*ret_word = strbuf_detach(&result);
	if (ret_words) {
		words_finish(&w);
		*ret_words = w.list ? w.list : xcalloc(1, sizeof(char *));
	}
	strbuf_done(&w.word);
	return 0;
}

int expand_word(const char *word, const struct expand_env *env, char **ret,
		struct molt_error **err)
{
	return expand_run(word, env, false, ret, NULL, err);
}

int expand_words(const char *text, const struct expand_env *env, char ***ret,
		 struct molt_error **err)
{
	return expand_run(text, env, false, NULL, ret, err);
}

int expand_heredoc(const char *body, const struct expand_env *env, char **ret,
		   struct molt_error **err)
{
	return expand_run(body, env, true, ret, NULL, err);
}

/* ------------------------------------------------------------ referenced names */

enum scan_ctx { SCAN_TOP, SCAN_BRACE, SCAN_DQUOTE };

/*
 * A forgiving walk that mirrors the lexer's contexts (a `${` opens a context where
 * quotes count again, as BuildKit's nested processStopOn does) but never fails.
 */
char **expand_referenced_names(const char *word, char escape)
{
	char **names = xcalloc(1, sizeof(char *));
	enum scan_ctx *stack = NULL;
	size_t depth = 0, cap = 0;
	char esc = escape ? escape : '\\';
	size_t n = word ? strlen(word) : 0;

	for (size_t i = 0; i < n;) {
		enum scan_ctx ctx = depth ? stack[depth - 1] : SCAN_TOP;
		char c = word[i];
		enum scan_ctx push;

		if (c == esc) {
			/* inside double quotes only a few characters are escapable */
			bool skip_next = i + 1 < n && (ctx != SCAN_DQUOTE || word[i + 1] == '"' ||
						       word[i + 1] == '$' || word[i + 1] == esc);
			i += skip_next ? 2 : 1;
			continue;
		}
		if (ctx == SCAN_DQUOTE && c == '"') {
			depth--;
			i++;
			continue;
		}
		if (ctx == SCAN_BRACE && c == '}') {
			depth--;
			i++;
			continue;
		}
		if (ctx != SCAN_DQUOTE && c == '\'') {
			const char *close = strchr(word + i + 1, '\'');
			if (!close)
				break; /* the rest is an unterminated literal */
			i = (size_t)(close - word) + 1;
			continue;
		}
		if (ctx != SCAN_DQUOTE && c == '"') {
			push = SCAN_DQUOTE;
			i++;
			goto push;
		}
		if (c != '$') {
			i++;
			continue;
		}
		i++;
		bool braced = i < n && word[i] == '{';
		if (braced)
			i++;
		if (i < n && is_name_start((unsigned char)word[i])) {
			size_t start = i;
			while (i < n && is_name_char((unsigned char)word[i]))
				i++;
			_cleanup_free_ char *name = xstrndup(word + start, i - start);
			if (!strv_contains(names, name))
				strv_push(&names, name);
		}
		if (!braced)
			continue;
		push = SCAN_BRACE;
push:
		if (depth == cap) {
			cap = cap ? 2 * cap : 8;
			stack = xrealloc(stack, cap * sizeof(*stack));
		}
		stack[depth++] = push;
	}
	free(stack);
	return names;
}
