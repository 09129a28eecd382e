/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/lexer.c: the word-level helpers of the Dockerfile parser. They follow
 * BuildKit's frontend/dockerfile/parser, because Dockerfiles in the wild depend on its
 * exact quirks (e.g. COPY's words are split on blanks with no regard for quotes).
 */
#include <jansson.h>
#include <string.h>

#include "dockerfile.h"

static bool is_blank(char c)
{
	/* Go's unicode.IsSpace for the ASCII range. */
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

char **df_split_ws(const char *s)
{
	char **v = xcalloc(1, sizeof(char *));
	while (*s) {
		while (*s && is_blank(*s))
			s++;
		if (!*s)
			break;
		const char *start = s;
		while (*s && !is_blank(*s))
			s++;
		strv_push_take(&v, xstrndup(start, (size_t)(s - start)));
	}
	return v;
}

/*
 * BuildKit's parseWords: quotes group blanks into one word but stay in the word; the
 * escape character is kept together with the character it escapes (the expander
 * removes both later). Single quotes cannot escape anything.
 */
char **df_words(const char *s, char escape)
{
	char **v = xcalloc(1, sizeof(char *));
	_cleanup_strbuf_ struct strbuf w = STRBUF_INIT;
	bool in_word = false, blank_ok = false;
	char quote = 0;

	for (size_t i = 0;; i++) {
		char c = s[i];
		if (!in_word && !quote) {
			if (!c)
				break;
			if (is_blank(c))
				continue;
			in_word = true;
		}
		if (!c) {
			if (blank_ok || w.len)
				strv_push(&v, strbuf_str(&w));
			break;
		}
		if (!quote) {
			if (is_blank(c)) {
				if (blank_ok || w.len)
					strv_push(&v, strbuf_str(&w));
				strbuf_reset(&w);
				in_word = blank_ok = false;
				continue;
			}
			if (c == '\'' || c == '"') {
				quote = c;
				blank_ok = true;
			} else if (c == escape) {
				if (!s[i + 1])
					continue; /* an escape at the very end is dropped */
				strbuf_addc(&w, c);
				c = s[++i];
			}
			strbuf_addc(&w, c);
			continue;
		}
		if (c == quote) {
			quote = 0;
		} else if (c == escape && quote != '\'') {
			if (!s[i + 1]) {
				quote = 0;
				continue;
			}
			strbuf_addc(&w, c);
			c = s[++i];
		}
		strbuf_addc(&w, c);
	}
	return v;
}

int df_json_strings(const char *s, char ***ret)
{
	while (is_blank(*s))
		s++;
	if (*s != '[')
		return -EINVAL;
	json_error_t jerr;
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return -EINVAL;
	if (!json_is_array(j)) {
		json_decref(j);
		return -EINVAL;
	}
	char **v = xcalloc(1, sizeof(char *));
	size_t i;
	json_t *e;
	json_array_foreach(j, i, e)
	{
		if (!json_is_string(e)) {
			strv_free(v);
			json_decref(j);
			return -EINVAL;
		}
		strv_push(&v, json_string_value(e));
	}
	json_decref(j);
	*ret = v;
	return 0;
}

/*
 * BuildKit's extractBuilderFlags: leading words starting with "--" are flags; quotes
 * are removed and a backslash escapes the next character (always a backslash, not the
 * `# escape=` character, and also inside single quotes). A lone "--" ends the flags.
 */
char **df_extract_flags(const char *line, const char **ret_rest)
{
	char **v = xcalloc(1, sizeof(char *));
	const char *p = line;
	for (;;) {
		while (*p && is_blank(*p))
			p++;
		if (p[0] != '-' || p[1] != '-')
			break;
		_cleanup_strbuf_ struct strbuf w = STRBUF_INIT;
		char quote = 0;
		const char *q = p;
		for (; *q && (quote || !is_blank(*q)); q++) {
			if (quote && *q == quote) {
				quote = 0;
			} else if (!quote && (*q == '"' || *q == '\'')) {
				quote = *q;
			} else if (*q == '\\') {
				if (!q[1])
					break;
				strbuf_addc(&w, *++q);
			} else {
				strbuf_addc(&w, *q);
			}
		}
		if (*q == '\\' && !q[1])
			q++; /* a trailing backslash is dropped */
		p = q;
		if (!strcmp(strbuf_str(&w), "--"))
			break;
		strv_push(&v, strbuf_str(&w));
	}
	while (*p && is_blank(*p))
		p++;
	*ret_rest = p;
	return v;
}
