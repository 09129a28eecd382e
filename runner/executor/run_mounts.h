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
	char **env;                 /* "K=V" the mounts add to the step (secret env=, SSH_AUTH_SOCK) */
	unsigned n_ssh;             /* ssh mounts so far: the next default target's number */
	pid_t *relays;              /* ssh relays (run_ssh.c), killed by run_mounts_done() */
	size_t n_relays;
	char **relay_sockets;       /* their sockets, removed by run_mounts_done() */
};

/* Appends a mount of its own to m (takes source and target; source may be NULL). */
struct sandbox_mount *run_mounts_add(struct run_mounts *m, char *source, char *target,
				     bool readonly);
/* The target as an absolute path (relative ones are under WORKDIR). */
char *run_mounts_target(const struct stage_run *sr, const char *t);
/* type=secret (run_secrets.c): a file on the step's tmpfs and/or an env variable. */
int run_mounts_add_secret(struct stage_run *sr, const struct build_mount *bm,
			  struct run_mounts *m, struct molt_error **err);
/* type=ssh (run_ssh.c): the agent's socket bound into the step, SSH_AUTH_SOCK. */
int run_mounts_add_ssh(struct stage_run *sr, const struct build_mount *bm, struct run_mounts *m,
		       struct molt_error **err);

int run_mounts_prepare(struct stage_run *sr, const struct build_instr *in, struct run_mounts *m,
		       struct molt_error **err);
void run_mounts_done(struct run_mounts *m);

#endif
