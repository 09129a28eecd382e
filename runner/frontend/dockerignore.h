/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/dockerignore.h: .dockerignore files and COPY --exclude patterns, with the
 * semantics of moby/patternmatcher as BuildKit uses it: Go filepath.Match syntax
 * (`*`, `?`, `[a-z]`, `[^a]`, `\` escapes) plus `**` for any number of directories;
 * a pattern that matches a directory excludes everything below it; the last pattern
 * that matches decides; `!pattern` is an exception that re-includes.
 * Pure logic: no I/O, unit-tested in tests/unit/test_dockerignore.c.
 */
#ifndef MOLT_RUNNER_DOCKERIGNORE_H
#define MOLT_RUNNER_DOCKERIGNORE_H

#include "../../lib/base.h"

struct dockerignore;

/*
 * Parses the text of a .dockerignore (or Dockerfile.dockerignore): one pattern per
 * line; a line whose first character is `#` is a comment; blank lines are skipped;
 * surrounding whitespace is trimmed; each pattern is cleaned like a path (`./a//b/`
 * is `a/b`) and a leading `/` is dropped. A lone `!` or a malformed pattern (`[`,
 * a trailing `\`) is a usage error naming the line. text may be NULL (no patterns).
 */
int dockerignore_parse(const char *text, struct dockerignore **ret, struct molt_error **err);

/* The same from a list of patterns as given (COPY --exclude): no comment handling. */
int dockerignore_new(char *const *patterns, struct dockerignore **ret, struct molt_error **err);

/*
 * Whether relpath (relative to the context root, `/`-separated; a leading `/` or
 * `./` is ignored) is excluded. "." (the root itself) is never excluded. is_dir is
 * accepted for callers' convenience: patterns match files and directories alike.
 */
bool dockerignore_excluded(const struct dockerignore *d, const char *relpath, bool is_dir);

/*
 * For an excluded directory: whether some exception pattern could re-include a path
 * below it, so a walk must still descend into it. Conservative: true when unsure.
 */
bool dockerignore_may_include_below(const struct dockerignore *d, const char *reldir);

/* Whether there is any `!` exception (without one, an excluded directory is skipped). */
bool dockerignore_has_exceptions(const struct dockerignore *d);

/* The number of patterns kept (comments and blank lines are not patterns). */
size_t dockerignore_count(const struct dockerignore *d);

void dockerignore_free(struct dockerignore *d);

#endif
