/* SPDX-License-Identifier: Apache-2.0 */
/* runner/executor/run_mounts.h: RUN --mount, turned into the sandbox's bind mounts. */
#ifndef MOLT_RUNNER_RUN_MOUNTS_H
#define MOLT_RUNNER_RUN_MOUNTS_H

#include "../../sandbox/sandbox.h"
#include "stage.h"

struct run_mounts {
	struct sandbox_mount *v; /* for sandbox_config.mounts */
	size_t n;
	char **sources, **targets;  /* owned strings behind v */
	struct stepfs **views;      /* read-only stage views that bind sources live in */
	size_t n_views;
};

int run_mounts_prepare(struct stage_run *sr, const struct build_instr *in, struct run_mounts *m,
		       struct molt_error **err);
void run_mounts_done(struct run_mounts *m);

#endif
