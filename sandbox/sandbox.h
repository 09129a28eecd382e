/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox/sandbox.h: the one public header of the sandbox module — the build user
 * namespace, the per-step sandbox, and `molt run`'s engine.
 */
#ifndef MOLT_SANDBOX_H
#define MOLT_SANDBOX_H

#include <sys/types.h>

#include "../lib/base.h"

/* ================================================================================
 * The build namespace (userns.c)
 * ================================================================================ */

enum sandbox_idmap_kind {
	SANDBOX_IDMAP_NONE,     /* not entered yet */
	SANDBOX_IDMAP_SUBID,    /* 0 → caller, 1..N → the caller's /etc/subuid range */
	SANDBOX_IDMAP_SINGLE,   /* only 0 → caller: no subuid range (a warning says so) */
	SANDBOX_IDMAP_IDENTITY, /* molt runs as real root: every id maps to itself */
};

struct sandbox_idmap {
	enum sandbox_idmap_kind kind;
	uid_t outer_uid; /* the caller's ids outside the namespace */
	gid_t outer_gid;
	uint32_t subuid_start, subuid_count; /* SUBID only; count capped at 65536 */
	uint32_t subgid_start, subgid_count;
};

/*
 * Moves the calling process into molt's build namespace: a new user namespace in
 * which it is uid 0 / gid 0 (the caller mapped to 0, the subuid range to 1..N), and
 * a new mount namespace whose mounts never propagate back to the host. Everything
 * molt does with stored trees (unpack, overlay, diff, tar) happens in there; when
 * the process exits the namespaces are gone with it.
 *
 * Must be called while the process is single-threaded (a kernel rule for
 * CLONE_NEWUSER). Calling it again is a no-op. ret_map (may be NULL) receives the map.
 * MOLT_IDMAP=single forces the one-id map (for tests of the fallback).
 */
int sandbox_enter_build_namespace(struct sandbox_idmap *ret_map, struct molt_error **err);

/* The map in force (kind NONE before sandbox_enter_build_namespace()). */
const struct sandbox_idmap *sandbox_current_idmap(void);

/*
 * Looks up the caller's subordinate id range in a subuid/subgid file (lines
 * "name:start:count" or "uid:start:count"); pure, for tests. Returns 0 and fills
 * start/count, or -ENOENT when there is none.
 */
int sandbox_find_subid_range(const char *file_text, const char *user, uid_t uid,
			     uint32_t *ret_start, uint32_t *ret_count);

/* ================================================================================
 * The step sandbox (step.c and its helpers) — RUN steps and `molt run`
 * ================================================================================
 *
 * Process tree of one sandbox_run():
 *
 *   caller (molt, in the build namespace)
 *    └─ pid 1 of a new pid namespace: molt's reaper (reaper.c). It is cloned into new
 *       mount, pid, ipc and uts namespaces (+ a network namespace for
 *       SANDBOX_NET_NONE), sets up the mounts, pivots into the rootfs, drops to
 *       Docker's 14 capabilities, sets no_new_privs and loads the seccomp filter, then
 *        └─ forks the command: it switches to USER, enters WORKDIR and execs argv.
 *
 * Lifecycle and ownership:
 * - The caller owns the rootfs directory; it must exist and stay in place for the call.
 *   With `overlay` set, the sandbox reads it as the lower layer of an overlay whose
 *   upper directory is a tmpfs inside the sandbox's own mount namespace: nothing is
 *   written to the rootfs and every change is gone when the call returns (molt run).
 *   Without it the step writes to the rootfs in place (a RUN step over a stepfs).
 * - Mount points the rootfs lacks (/proc, /dev, /sys, /etc, /etc/hosts, /etc/hostname,
 *   /etc/resolv.conf, the targets of extra mounts) are created by sandbox_run()
 *   before the clone and removed again after the step — also when it fails — so the
 *   differ never sees them. Everything mounted lives in the sandbox's mount namespace
 *   and disappears with its pid 1; no host mount is ever created.
 * - Every process of the step is gone when sandbox_run() returns: the command's exit
 *   makes pid 1 exit, and the kernel kills the rest of a pid namespace when its pid 1
 *   dies. pid 1 has PR_SET_PDEATHSIG(SIGKILL), so a killed molt takes the step with it;
 *   SIGINT/SIGTERM/SIGHUP sent to molt during the call are forwarded to the command.
 * - Errors in the sandbox (a failed mount, an unknown user, a missing executable)
 *   come back over a close-on-exec pipe and are returned in *err like any other;
 *   err->exit_code is 127 (not found), 126 (not executable) or 1.
 * - No fd of the caller but the three given (stdin/stdout/stderr) reaches the command.
 * - Limits (rlimits.c): pid 1 sets the rlimits of `rlimits` and oom_score_adj 1000
 *   before the command starts (the memory limit only in the command's process).
 *   RLIMIT_NPROC is per user id, and the step's root may setuid() to many, so the
 *   step's tasks are bounded as a whole too: as real root (whom RLIMIT_NPROC does not
 *   bind at all) the caller puts pid 1 in a pids cgroup of its own (removed
 *   afterwards); elsewhere pid 1 counts its pid namespace and ends the step over the
 *   limit (pidwatch.c), which sandbox_run() reports as an error. A
 *   SIGKILL'd command while the kernel's OOM killer ran is reported with molt_warn().
 */

enum sandbox_network {
	SANDBOX_NET_HOST, /* the caller's network (default, as `docker build`) */
	SANDBOX_NET_NONE, /* a new network namespace with only `lo`, up */
};

/* A bind mount of a host path (seen from the build namespace) into the sandbox. */
struct sandbox_mount {
	const char *source; /* host path: directory or file */
	const char *target; /* absolute path inside the rootfs; created when missing */
	bool readonly;      /* recursively read-only */
	/*
	 * With data set, source is ignored: the target is a file holding these bytes
	 * (mode, owner) on a tmpfs of the sandbox's own, bound read-only. It is written
	 * inside the sandbox's mount namespace and never reaches the rootfs (secrets).
	 */
	const char *data;
	size_t data_len;
	uint32_t data_mode;
	uid_t data_uid;
	gid_t data_gid;
};

/*
 * Resource limits; 0 means molt's default. Never above the caller's hard limits (no
 * CAP_SYS_RESOURCE over the host, even for root in the build namespace). Every
 * limit is per process (rlimits are; cgroups are not delegated to molt), so a step of
 * N processes may hold up to N x data bytes: the kernel's OOM killer is the backstop,
 * and every process of a sandbox has oom_score_adj 1000, so it picks a step's process
 * before molt or anything of the host's.
 */
struct sandbox_rlimits {
	uint64_t nproc;  /* default 1024 */
	uint64_t nofile; /* default 1048576 (Docker's) */
	uint64_t as;     /* address space in bytes; default unlimited (see rlimits.c) */
	uint64_t data;   /* RLIMIT_DATA in bytes (heap, anonymous memory); default none */
	/* --ulimit: applied after the defaults above (both limits as given) */
	const struct sandbox_ulimit *ulimits;
	size_t n_ulimits;
};

/* One `--ulimit name=soft[:hard]` (docker's names and syntax; -1 is unlimited). */
struct sandbox_ulimit {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard; /* RLIM_INFINITY for unlimited */
};

/*
 * Parses `name=soft[:hard]` (core, cpu, data, fsize, locks, memlock, msgqueue, nice,
 * nofile, nproc, rss, rtprio, rttime, sigpending, stack). Checks soft <= hard and
 * that hard is within the caller's hard limit (a limit can only go down). Pure but
 * for getrlimit.
 */
int sandbox_parse_ulimit(const char *text, struct sandbox_ulimit *ret, struct molt_error **err);

struct sandbox_config {
	const char *rootfs; /* directory in the build namespace */
	bool overlay;       /* read rootfs through a throw-away tmpfs overlay (see above) */
	char *const *argv;  /* argv[0] is looked up in the sandbox's PATH when it has no '/' */
	char *const *env;   /* "K=V" set after the defaults (PATH, HOSTNAME, HOME) */
	const char *user;   /* USER: name, uid, uid:gid, name:group; NULL/"" = root */
	const char *workdir;  /* absolute; created when missing; NULL = "/" */
	enum sandbox_network network;
	const char *hostname; /* NULL = "molt" */
	const struct sandbox_mount *mounts;
	size_t n_mounts;
	/* The command's stdin/stdout/stderr; -1 = the caller's 0, 1, 2. */
	int stdin_fd, stdout_fd, stderr_fd;
	/*
	 * A new pseudo-terminal for the command when the caller's stdin or stdout is a
	 * terminal: the caller's terminal is never handed to the sandbox (TIOCSTI).
	 */
	bool tty;
	struct sandbox_rlimits rlimits;
	char *const *extra_hosts; /* "NAME IP" entries appended to /etc/hosts (--add-host) */
	uint64_t shm_size;        /* size of /dev/shm in bytes; 0 = 64 MiB (Docker's) */
};

/* A config with the defaults: fds -1, network host. */
void sandbox_config_init(struct sandbox_config *c);

/*
 * Runs c->argv in a new sandbox over c->rootfs and waits for it. Must be called in the
 * build namespace (sandbox_enter_build_namespace()) by a single-threaded process.
 * Returns 0 with *ret_status = the command's exit code (128+N when killed by signal N),
 * or a negative errno with *err set when the sandbox or the exec failed.
 */
int sandbox_run(const struct sandbox_config *c, int *ret_status, struct molt_error **err);

/* ---- USER resolution from a rootfs's /etc/passwd and /etc/group (user.c) ---- */

struct sandbox_user {
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* supplementary groups, from /etc/group memberships */
	size_t n_groups;
	char *home; /* from passwd; "/" when the user has no entry */
	char *name; /* NULL when the user has no entry */
};

/*
 * Resolves a USER spec the way runc does (Docker's semantics): "name", "uid",
 * "uid:gid", "name:group", "uid:group", "name:gid". passwd and group are the file
 * texts (NULL when the file is missing). A name that is not found is an error; a
 * numeric uid without an entry gets gid 0 and home "/". Pure: for tests.
 */
int sandbox_user_resolve(const char *spec, const char *passwd, const char *group,
			 struct sandbox_user *ret, struct molt_error **err);
void sandbox_user_done(struct sandbox_user *u);

/*
 * Builds the command's environment from scratch: PATH (Docker's default), HOSTNAME,
 * HOME (from the user), TERM when tty, then `extra` ("K=V"; a later K replaces an
 * earlier one). No variable of the caller leaks in. Pure: for tests.
 */
char **sandbox_env_build(char *const *extra, const char *hostname, const char *home, bool tty);

/*
 * Parses a memory size as `docker run --memory` does: a number with an optional unit
 * b, k, m or g (binary, case-insensitive). Returns 0, -EINVAL (not a size) or -ERANGE.
 */
int sandbox_parse_size(const char *text, uint64_t *ret_bytes);

/* The smallest memory limit accepted (Docker's minimum, 6 MiB). */
#define SANDBOX_MEMORY_MIN (6ULL << 20)

/* Docker's default capability set as a bit mask (CapEff of a root step: a80425fb). */
uint64_t sandbox_default_caps(void);

#endif
