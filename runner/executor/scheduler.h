/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/scheduler.h: runs a build's stages, overlapped.
 *
 * Each stage runs in a forked worker process (inside the build namespace, which
 * children inherit). Every stage starts once a job slot is free and the stage its
 * FROM names has finished; a step that reads another stage waits for it there
 * (sched_await). Progress frames go over a shared pipe, waits and the result over a
 * socket of the worker's own. A failing stage ends the others. The lifecycle is at
 * the top of scheduler.c. No worker outlives scheduler_run().
 */
#ifndef MOLT_RUNNER_SCHEDULER_H
#define MOLT_RUNNER_SCHEDULER_H

#include "../../lib/base.h"
#include "progress.h"

struct sched_stage {
	/* The stages (indices into the stages array) that must have finished before this
	 * one starts: its FROM stage. Other reads wait in the worker (sched_await). */
	const unsigned *deps;
	size_t n_deps;
};

/* A worker's link to the scheduler. */
struct sched_link {
	int fd;
	/* results[i]: the result text of stage i once known to this worker, else NULL */
	char **results;
	size_t n;
	unsigned self;
};

/*
 * Blocks until the earlier stage `pos` has finished and its result is in
 * l->results[pos] (at once when it is known). The worker holds no job slot while it
 * waits. A failing stage ends the build, and with it this worker.
 */
int sched_await(struct sched_link *l, unsigned pos, struct molt_error **err);
/* Whether stage pos's result is known here (sched_await would not block). */
bool sched_known(const struct sched_link *l, unsigned pos);

/*
 * Runs in the worker for stage `index`. Returns 0 and sets *ret_result (owned by the
 * callee's heap; the worker sends it) or a negative errno with *err set.
 */
typedef int (*sched_stage_fn)(void *userdata, unsigned index, struct sched_link *link,
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
