/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/expand_int.h: the expansion lexer's state, shared by expand.c (the
 * lexer) and expand_pattern.c (the #, % and / patterns). Internal to the frontend.
 */
#ifndef MOLT_FRONTEND_EXPAND_INT_H
#define MOLT_FRONTEND_EXPAND_INT_H

#include "expand.h"

#define EXPAND_MAX_DEPTH 128
#define EXPAND_MAX_PATTERN 4096
/* `${v//p/${v//p/...}}` multiplies lengths: a hostile word must not eat the memory */
#define EXPAND_MAX_RESULT (1u << 20)
/* The pattern matcher memoises (pattern position, value position) pairs. */
#define EXPAND_MAX_MEMO (4u * 1024 * 1024)

struct lexer {
	const char *s;
	size_t len;
	size_t pos;
	char esc;
	bool raw_escapes;
	bool skip_quotes; /* heredoc bodies: quotes are ordinary characters */
	unsigned depth;
	const struct expand_env *env;
	char *errmsg; /* first error only */
};

/* Records the first error of the expansion; returns -EINVAL. */
int lex_fail(struct lexer *lx, const char *fmt, ...) MOLT_PRINTF(2, 3);
/* An error when a result would be larger than EXPAND_MAX_RESULT. */
int check_size(struct lexer *lx, size_t len);
/* ${v#p} ${v##p} ${v%p} ${v%%p}: the value with the shortest/longest prefix/suffix removed. */
int trim_pattern(struct lexer *lx, const char *value, const char *word, bool suffix,
		 bool greedy, char **ret);
/* ${v/p/r} ${v//p/r}: the first (all) leftmost match(es) of p in the value replaced by r. */
int replace_pattern(struct lexer *lx, const char *value, const char *pat,
		    const char *replacement, bool all, char **ret);

#endif
