/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/heredoc.c: recognising here-document markers (`<<EOF`, `<<-EOF`, `<<"EOF"`,
 * `<<'EOF'`) in RUN, COPY and ADD lines. The bodies are read by the parser, which owns
 * the line cursor.
 */
#include <ctype.h>
#include <string.h>

#include "dockerfile.h"

/*
 * BuildKit's `^(\d*)<<(-?)([^<]*)$` on a word with its quotes kept: any quote in the
 * delimiter turns expansion off (a backslash does not), and the quotes are not part of
 * the name.
 */
static bool marker_parse(const char *word, struct df_heredoc_marker *ret)
{
	const char *p = word;
	while (isdigit((unsigned char)*p))
		p++;
	if (p[0] != '<' || p[1] != '<')
		return false;
	p += 2;
	bool chomp = *p == '-';
	if (chomp)
		p++;
	if (!*p || strchr(p, '<'))
		return false;
	struct strbuf name = STRBUF_INIT;
	bool quoted = false;
	for (; *p; p++) {
		if (*p == '"' || *p == '\'') {
			quoted = true;
			continue;
		}
		/* BuildKit counts only quotes: `<<\EOF` still expands */
		if (*p == '\\' && p[1])
			p++;
		strbuf_addc(&name, *p);
	}
	if (!name.len) {
		strbuf_done(&name);
		return false;
	}
	ret->name = strbuf_detach(&name);
	ret->expand = !quoted;
	ret->chomp = chomp;
	return true;
}

size_t df_heredoc_markers(const char *line, struct df_heredoc_marker **ret)
{
	_cleanup_strv_ char **words = df_words(line, '\\');
	struct df_heredoc_marker *v = NULL;
	size_t n = 0;
	for (size_t i = 0; words[i]; i++) {
		struct df_heredoc_marker m;
		if (!marker_parse(words[i], &m))
			continue;
		ARRAY_PUSH(v, n, m);
	}
	*ret = v;
	return n;
}

char *df_heredoc_word_name(const char *word)
{
	struct df_heredoc_marker m;
	if (!marker_parse(word, &m))
		return NULL;
	return m.name;
}
