/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/directives.c: parser directives (`# syntax=`, `# escape=`, `# check=`).
 *
 * As in BuildKit, they are only recognised in an unbroken run of directive lines at
 * the very top: the first blank line, instruction, ordinary comment or unknown
 * directive ends the run, and later lines that look like directives are comments.
 */
#include <ctype.h>
#include <string.h>

#include "dockerfile.h"

static const char *skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Matches `^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$`. */
static bool directive_split(const char *line, char **ret_key, char **ret_value)
{
	const char *p = skip_blanks(line);
	if (*p++ != '#')
		return false;
	p = skip_blanks(p);
	const char *k = p;
	if (!isalpha((unsigned char)*p))
		return false;
	while (isalnum((unsigned char)*p))
		p++;
	size_t klen = (size_t)(p - k);
	p = skip_blanks(p);
	if (*p++ != '=')
		return false;
	p = skip_blanks(p);
	size_t vlen = strlen(p);
	while (vlen && (p[vlen - 1] == ' ' || p[vlen - 1] == '\t'))
		vlen--;
	if (!vlen)
		return false;
	*ret_key = xstrndup(k, klen);
	for (char *c = *ret_key; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	*ret_value = xstrndup(p, vlen);
	return true;
}

static int directive_apply(struct dockerfile *df, int line, char *key, char *value, bool *seen,
			   struct molt_error **err)
{
	static const char *const known[] = {"syntax", "escape", "check"};
	size_t i = 0;
	while (i < ARRAY_SIZE(known) && strcmp(known[i], key))
		i++;
	if (seen[i])
		return df_error(df, err, line, 0, "only one '%s' parser directive can be used",
				key);
	seen[i] = true;
	if (i == 1) {
		if (strcmp(value, "\\") && strcmp(value, "`"))
			return df_error(df, err, line, 0,
					"invalid escape character '%s': it must be '\\' or '`'",
					value);
		df->escape = value[0];
	} else {
		char **slot = i == 0 ? &df->syntax : &df->check;
		*slot = xstrdup(value);
	}
	return 0;
}

int df_parse_directives(struct dockerfile *df, size_t *ret_first_line, struct molt_error **err)
{
	bool seen[3] = {false, false, false};
	size_t i = 0;
	for (; i < df->n_lines; i++) {
		_cleanup_free_ char *key = NULL, *value = NULL;
		if (!directive_split(df->lines[i], &key, &value))
			break;
		if (strcmp(key, "syntax") && strcmp(key, "escape") && strcmp(key, "check"))
			break; /* an unknown directive is a comment, and ends the directives */
		int r = directive_apply(df, (int)i + 1, key, value, seen, err);
		if (r < 0)
			return r;
	}
	*ret_first_line = i;
	return 0;
}
