/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/scheduler.h: runs a build's stages, independent ones in parallel.
 *
 * Each stage runs in a forked worker process (inside the build namespace, which
 * children inherit). Lifecycle:
 *   - the main process forks a worker once every stage it depends on has finished,
 *     at most `jobs` at a time; the worker inherits the results of those stages;
 *   - the worker reports progress frames on a shared pipe and, at its end, one
 *     result (success text, or an error) on a pipe of its own, then exits;
 *   - when a worker fails, is killed, or the build is interrupted (SIGINT/SIGTERM),
 *     the main process SIGKILLs every other worker — a worker's sandboxes die with it
 *     (their pid 1 has PR_SET_PDEATHSIG) — reaps them, and returns the first error.
 * No worker outlives scheduler_run().
 */
#ifndef MOLT_RUNNER_SCHEDULER_H
#define MOLT_RUNNER_SCHEDULER_H

#include "../../lib/base.h"
#include "progress.h"

struct sched_stage {
	const unsigned *deps; /* indices into the stages array */
	size_t n_deps;
};

/*
 * Runs in the worker for stage `index`. `results[i]` holds the result text of every
 * finished stage (NULL for the others). Returns 0 and sets *ret_result (owned by the
 * callee's heap; the worker sends it) or a negative errno with *err set.
 */
typedef int (*sched_stage_fn)(void *userdata, unsigned index, char *const *results,
			      const struct progress_out *po, char **ret_result,
			      struct molt_error **err);

/*
 * Runs all stages. On success ret_results (n strings, owned by the caller, free with
 * strv_free) holds every stage's result. With interrupted set on SIGINT/SIGTERM the
 * error says "interrupted" and exit code 130.
 */
int scheduler_run(const struct sched_stage *stages, size_t n, unsigned jobs, sched_stage_fn fn,
		  void *userdata, struct progress *p, char ***ret_results, struct molt_error **err);

#endif
