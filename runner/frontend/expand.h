/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/expand.h: Dockerfile variable expansion with BuildKit's shell-lexer
 * semantics ($v, ${v}, ${v:-w}, ${v-w}, ${v:+w}, ${v+w}, ${v:?msg}, ${v?msg},
 * escapes with the Dockerfile's escape character, single and double quotes).
 * Pure logic: no I/O, unit-tested in tests/unit/test_expand.c.
 */
#ifndef MOLT_RUNNER_EXPAND_H
#define MOLT_RUNNER_EXPAND_H

#include "../../lib/base.h"

/*
 * Looks a variable up. Returns NULL when it is not set (an empty string is "set").
 * Every reference in one instruction sees the values from before that instruction,
 * so the caller passes one snapshot per instruction.
 */
typedef const char *(*expand_lookup_fn)(void *userdata, const char *name);

struct expand_env {
	expand_lookup_fn lookup;
	void *userdata;
	char escape; /* '\\' or '`' (the `# escape=` directive) */
};

/*
 * Expands one word, removing quotes and escapes (BuildKit's ProcessWord): the result
 * is a single string even when it contains spaces. Errors (a bad substitution, an
 * unterminated quote or brace, `${v:?msg}` with v unset) fill *err with a message
 * that names the variable; the caller adds the Dockerfile line.
 */
int expand_word(const char *word, const struct expand_env *env, char **ret,
		struct molt_error **err);

/*
 * Expands and splits into words on unquoted whitespace (BuildKit's ProcessWords),
 * for EXPOSE, VOLUME and the like. Quotes keep a space inside one word.
 */
int expand_words(const char *text, const struct expand_env *env, char ***ret,
		 struct molt_error **err);

/*
 * Expands the body of a COPY/ADD here-document whose delimiter was not quoted, as
 * BuildKit's ExpandRaw does: variables expand and backslash escapes are processed
 * (always `\\`, whatever `# escape=` says), but quotes are kept as ordinary
 * characters and nothing is split. RUN heredocs are never expanded by the builder.
 */
int expand_heredoc(const char *body, const struct expand_env *env, char **ret,
		   struct molt_error **err);

/*
 * The names of the variables a word refers to, in order, each once (for cache keys
 * and for warnings about undefined build args). Never fails on odd input: what does
 * not parse is skipped.
 */
char **expand_referenced_names(const char *word, char escape);

#endif
