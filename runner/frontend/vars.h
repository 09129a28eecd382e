/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/vars.h: the planner's variable tables (a stage's ENV, the ARGs in scope,
 * --build-arg values): names in first-set order, each found through a hash index, so
 * a base image with 200,000 Env entries plans in linear time. Pure logic.
 */
#ifndef MOLT_RUNNER_VARS_H
#define MOLT_RUNNER_VARS_H

#include "../../lib/base.h"

struct vars {
	char **keys;
	char **vals;     /* an entry may be NULL: declared without a value */
	size_t n, cap;
	size_t *slots;   /* open addressing: entry index + 1, 0 = empty */
	size_t n_slots;  /* a power of two, at least twice n */
	size_t bytes;    /* "K=V" bytes of the entries with a value, as vars_strv() makes */
	uint64_t gen;    /* changes with every vars_set(), so a snapshot can be reused */
};

ssize_t vars_find(const struct vars *v, const char *k);
/* Sets k (a copy of val, NULL for "declared, no value"); a new name goes last. */
void vars_set(struct vars *v, const char *k, const char *val);
void vars_copy(struct vars *dst, const struct vars *src);
void vars_done(struct vars *v);
/* "K=V" for every entry with a value, in order. */
char **vars_strv(const struct vars *v);

#endif
