/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/run_opts.h: what `molt build` hands to every RUN step besides the
 * Dockerfile — secrets (--secret), SSH agent sockets (--ssh), /etc/hosts entries
 * (--add-host), rlimits (--ulimit) and the size of /dev/shm (--shm-size). Filled by
 * runner/cli/build_run_opts.c before the build starts, read-only afterwards.
 *
 * Secret values are read by molt itself before any sandbox exists and stay in its
 * memory: they reach a step only as a file on a tmpfs of its mount namespace or as an
 * environment variable of its process, never a layer, the config, the history, the
 * cache key, the progress output or an error message.
 */
#ifndef MOLT_RUNNER_RUN_OPTS_H
#define MOLT_RUNNER_RUN_OPTS_H

#include "../../sandbox/sandbox.h"

/* BuildKit's bound on a secret (session/secrets: MaxSecretSize, 500 KiB). */
#define BUILD_SECRET_MAX (500u * 1024)

struct build_secret {
	char *id;
	char *value; /* the bytes (not NUL-terminated for a file's binary content) */
	size_t len;
};

struct build_ssh {
	char *id;
	char *socket; /* the agent's socket: given, $SSH_AUTH_SOCK, or molt's own agent */
	char **keys;  /* key files (--ssh ID=KEY[,KEY]) loaded into molt's own agent */
	pid_t agent;  /* that ssh-agent, 0 when none; killed by build_run_opts_done() */
	char *agent_dir;
};

struct build_run_opts {
	struct build_secret *secrets;
	size_t n_secrets;
	struct build_ssh *ssh;
	size_t n_ssh;
	char **extra_hosts; /* "NAME IP" */
	struct sandbox_ulimit *ulimits;
	size_t n_ulimits;
	uint64_t shm_size; /* 0: the sandbox's default */
};

/* Looks a secret or an ssh socket up by id (NULL: not given). */
const struct build_secret *build_run_secret(const struct build_run_opts *o, const char *id);
const struct build_ssh *build_run_ssh(const struct build_run_opts *o, const char *id);

/* ---- runner/cli/build_run_opts.c: the options that fill it */

/* Is --NAME one of these options? */
bool build_run_opts_handles(const char *name);
/* Takes one --secret, --ssh, --add-host, --ulimit or --shm-size (usage errors). */
int build_run_opts_add(struct build_run_opts *o, const char *name, const char *value,
		       struct molt_error **err);
/* Starts an ssh-agent for each --ssh ID=KEYFILE and loads the keys (before a build). */
int build_run_opts_start(struct build_run_opts *o, struct molt_error **err);
/*
 * --build-arg SOURCE_DATE_EPOCH=N means what $SOURCE_DATE_EPOCH does (BuildKit's
 * build arg): it is exported for the build's timestamps; a malformed N is an error.
 */
int build_args_apply_epoch(char *const *build_args, struct molt_error **err);
/* Stops the agents, removes their sockets, wipes and frees the secrets. */
void build_run_opts_done(struct build_run_opts *o);

#endif
