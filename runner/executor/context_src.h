/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/context_src.h: build contexts that are not a directory of the
 * caller's — `-` (a tar or a Dockerfile alone on stdin, context_stdin.c) and git URLs
 * (context_git.c) — made into a scratch directory that the build reads as a context.
 */
#ifndef MOLT_RUNNER_CONTEXT_SRC_H
#define MOLT_RUNNER_CONTEXT_SRC_H

#include "../../lib/base.h"

struct context_source {
	char *dir;        /* the context directory to build */
	char *scratch;    /* what context_source_done removes (holds dir) */
	char *dockerfile; /* stdin held a Dockerfile, not a tar: its text (dir is empty) */
	size_t dockerfile_len;
};

/* The size limit of a context read from stdin (MOLT_MAX_CONTEXT=SIZE, default 8 GiB). */
#define CONTEXT_STDIN_MAX_ENV "MOLT_MAX_CONTEXT"

/*
 * `molt build -`: stdin is a tar (plain, gzip, bzip2, xz or zstd; extracted with the
 * unpacker's rules: nothing outside the context, no device nodes, bounded) or, like
 * docker, a Dockerfile alone (an empty context). Call in the build namespace (the
 * extracted ids are the build's, never the caller's).
 */
int context_source_stdin(struct context_source *ret, struct molt_error **err);

/* A git URL as docker build takes it: http(s)://….git[#…], git://…, git@…, github.com/… */
bool context_is_git_url(const char *s);
/*
 * Clones URL[#REF[:SUBDIR]] shallowly with git (no hooks, no submodules, no prompts,
 * MOLT_GIT_TIMEOUT seconds at most, default 600); the context is SUBDIR of the
 * checkout, without .git.
 */
int context_source_git(const char *url, struct context_source *ret, struct molt_error **err);

/* A fresh scratch directory with an empty dir "context" in it ($TMPDIR or /tmp). */
int context_source_scratch(struct context_source *s, struct molt_error **err);
/*
 * --build-context NAME=SOURCE, SOURCE a directory, docker-image://REF or
 * oci-layout://DIR[:TAG|@DIGEST]: *ret_aliases "NAME=IMAGE" for plan_options'
 * named_contexts, IMAGE a name or ID the store resolves (a directory is imported,
 * a layout loaded). Call in the build namespace with the store open.
 */
struct layer_store;
int named_contexts_resolve(struct layer_store *s, char *const *specs, char ***ret_aliases,
			   struct molt_error **err);

/* Removes the scratch directory; safe on a zeroed or half-made source. */
void context_source_done(struct context_source *s);

#endif
