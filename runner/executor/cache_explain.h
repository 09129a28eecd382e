/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/cache_explain.h: `molt build --explain-cache` — for each layer step
 * that missed the build cache, which of its inputs changed (internal to the
 * executor; the design is at the top of cache_explain.c).
 *
 * cache.c feeds it while it computes a step's key: the files a COPY reads
 * (explain_file, during the same walk that hashes them), what it reads besides
 * (explain_read), then the key's inputs (explain_step_key). A miss is explained
 * against the nearest earlier build of the step; a recorded step stores its inputs.
 */
#ifndef MOLT_RUNNER_CACHE_EXPLAIN_H
#define MOLT_RUNNER_CACHE_EXPLAIN_H

#include <sys/stat.h>

#include "cache.h"

struct explain_stage;
struct explain_files;

/* After the stage's base is known (cache_stage_begin). */
struct explain_stage *explain_stage_new(struct stage_run *sr);
void explain_stage_free(struct explain_stage *x);

/* A layer step begins: forgets what the previous one collected. */
void explain_step_start(struct explain_stage *x);
/* Where the source walk reports the files it hashes (NULL x: nowhere). */
struct explain_files *explain_files_of(struct explain_stage *x);
/* One entry the walk hashed; content: a digest, "link:TARGET", …, NULL for a dir. */
void explain_file(struct explain_files *f, const char *path, const struct stat *st,
		  bool owner, const char *content);
/* Something else the step reads: what ("stage 'builder'", "URL '…'"), its identity. */
void explain_read(struct explain_stage *x, const char *what, const char *id);
/* The step's key and what it was made of: builds the step's record. */
void explain_step_key(struct stage_run *sr, struct explain_stage *x,
		      const struct cache_step_input *in, const char *key);

/*
 * The step missed: with --explain-cache prints why under the step ("cache miss: …").
 * why: a reason known to the caller (--no-cache, …), NULL to compare with the
 * nearest earlier build of the step.
 */
void explain_miss(struct stage_run *sr, struct explain_stage *x, const char *why);
/* The step hit: it becomes the most recent build of its position and parent. */
void explain_hit(struct stage_run *sr, struct explain_stage *x, const char *key);
/* The step ran and its entry was recorded: stores its inputs. */
void explain_record(struct stage_run *sr, struct explain_stage *x);

/* ---- pure parts (unit-tested in tests/unit/test_cache_explain.c) */
/* Why record `now` differs from `then` (JSON texts as explain_step_key makes them),
 * as "; "-joined reasons; same_parent: then was built on the same layers. */
char *explain_diff(const char *then, const char *now, bool same_parent);

#endif
