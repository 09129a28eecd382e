/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox/sandbox_int.h: the sandbox module's own header — the pieces step.c puts
 * together. Not for other modules (they use sandbox.h); unit tests include it.
 */
#ifndef MOLT_SANDBOX_INT_H
#define MOLT_SANDBOX_INT_H

#include "sandbox.h"

/* ---- syncpipe.c: errors from inside the sandbox back to the caller ---- */

/*
 * Sends an error (its message, errno and exit code) over the sync pipe. Used by the
 * sandbox's pid 1 and by the command child before exec; async-signal-safe enough for a
 * forked child (one write of a stack buffer).
 */
void syncpipe_send(int fd, const struct molt_error *e);
/* As above from a format, for the child's failure paths. */
void syncpipe_sendf(int fd, int exit_code, int errnum, const char *fmt, ...) MOLT_PRINTF(4, 5);
/*
 * Reads the pipe to its end. Returns 0 when it closed without a message (the command
 * was exec'd), or the error that was sent (negative errno, *err filled).
 */
int syncpipe_receive(int fd, struct molt_error **err);

/* ---- mounts.c, devices.c, procfs.c: the sandbox's filesystem ---- */

/* What the sandbox's pid 1 needs to build the filesystem; prepared by the caller. */
struct mount_plan {
	const struct sandbox_config *c;
	char *hosts, *hostname, *resolv; /* contents of the generated /etc files */
};

/*
 * What sandbox_run() created as mount points (paths relative to the rootfs), with
 * their parent directory's times: removing a point puts them back when the step did
 * not touch the parent itself — otherwise every RUN would record /etc as changed
 * (BuildKit's mount stub cleaner does the same).
 */
struct mount_point {
	char *path;
	struct timespec before[2]; /* the parent's atime and mtime before the point */
	struct timespec after;     /* the parent's mtime right after making it */
};
struct mount_points {
	struct mount_point *v; /* in creation order; removed in reverse */
	size_t n;
};

/*
 * Refuses a rootfs whose /proc, /dev, /sys or /dev/null is a symlink
 * (CVE-2025-31133) and creates the mount points it lacks, recording them.
 */
int mounts_make_points(int rootfd, const struct sandbox_config *c, struct mount_points *mp,
		       struct molt_error **err);
/* Removes what mounts_make_points() created (only if still empty), putting the
 * parents' times back when the step left them alone; frees mp's records. */
void mounts_remove_points(int rootfd, struct mount_points *mp);
/* Frees mp's records without removing anything. */
void mounts_points_free(struct mount_points *mp);
/*
 * In the sandbox's pid 1 (fresh mount namespace): builds the whole filesystem and
 * pivots into it. On return "/" is the rootfs and the host's tree is gone.
 */
int mounts_setup(const struct mount_plan *p, struct molt_error **err);
/* Clones the mount tree at `src` onto the O_PATH fd `target` (open_tree + move_mount). */
int bind_onto(int srcdirfd, const char *src, int targetfd, bool recursive, bool readonly,
	      struct molt_error **err);
int devices_setup(const char *devpath, uint64_t shm_size, struct molt_error **err);
int devices_verify(struct molt_error **err);
int procfs_setup(const char *root, struct molt_error **err);

/* ---- caps.c, seccomp.c, rlimits.c ---- */

/* Docker's 14 in the bounding, permitted and effective sets; all else dropped. */
int caps_apply_default(struct molt_error **err);
/* Sets no_new_privs and loads molt's seccomp profile (three stacked filters, compiled
 * at build time; see seccomp.c and seccomp_profile.c). */
int filter_load(struct molt_error **err);
/* The filters, in load order: 0 allow list, 1 argument denials, 2 unknown → ENOSYS. */
#define FILTER_COUNT 3
struct sock_filter;
/* The program compiled into this binary for filter `index`; -ENOENT when the build
 * embedded none (then filter_load builds them with libseccomp). */
int filter_compiled(size_t index, const struct sock_filter **ret_insns, size_t *ret_n);
/* Builds filter `index` with libseccomp and writes it as classic BPF to fd. */
int filter_export(size_t index, int fd, struct molt_error **err);
/* The same, as a malloc'ed array of *ret_n instructions. */
int filter_build_bpf(size_t index, struct sock_filter **ret_insns, size_t *ret_n,
		     struct molt_error **err);
/* The limit applied for a requested value (0 = default), never above hard. */
uint64_t rlimit_effective(uint64_t want, uint64_t deflt, uint64_t hard);
/* Applies the limits but memory, and oom_score_adj 1000, to the calling process (the
 * sandbox's pid 1; its children inherit both). */
int rlimits_apply(const struct sandbox_rlimits *r, struct molt_error **err);
/* Applies r->data (RLIMIT_DATA; none when 0): in the command's process, before exec. */
int rlimits_apply_memory(const struct sandbox_rlimits *r, struct molt_error **err);
/* The process limit a sandbox gets (r->nproc or the default). */
uint64_t rlimits_nproc(const struct sandbox_rlimits *r);
/*
 * As real root RLIMIT_NPROC does not apply, so the caller puts the sandbox's pid 1 in a
 * new pids cgroup with pids.max = max before it may start (see rlimits.c):
 * create, enter (the clone's pid, before the go byte), remove (after it was reaped).
 */
int pids_cgroup_create(uint64_t max, char **ret_dir, struct molt_error **err);
/*
 * Where a caller who is not root may make the step's pids cgroup, from the text of
 * /proc/self/cgroup (NULL: nowhere). With a cgroup v1 pids hierarchy (v1_pids): its
 * own pids cgroup, which may hold processes and children alike. With cgroup v2: the
 * parent of its own, since a v2 cgroup that holds a process (ours holds molt) cannot
 * give its children a controller (the "no internal processes" rule); a delegated
 * parent with pids in its subtree_control can.
 */
char *pids_cgroup_delegated_base(const char *proc_self_cgroup, bool v1_pids);
/* A pids cgroup in the caller's delegated cgroup (above); fails where none is. */
int pids_cgroup_delegated(uint64_t max, char **ret_dir, struct molt_error **err);
int pids_cgroup_enter(const char *dir, pid_t pid, struct molt_error **err);
void pids_cgroup_remove(char *dir);

/* ---- pidwatch.c: the step's task count, where no pids cgroup bounds it ---- */

#include <dirent.h>
#include <time.h>

/* num_threads (field 20) of a /proc/PID/stat text; 1 when it cannot be read. */
uint64_t pidwatch_stat_threads(const char *text);
/* Tasks (threads included) of every process listed in the procfs `proc`; stops
 * counting once the total is above stop_above. */
uint64_t pidwatch_count(DIR *proc, uint64_t stop_above);
struct pidwatch {
	DIR *proc;
	uint64_t max;
	int64_t next_ns; /* CLOCK_MONOTONIC time of the next count */
};
void pidwatch_start(struct pidwatch *w, DIR *proc, uint64_t max);
/* How long the caller may sleep before the next count is due. */
struct timespec pidwatch_timeout(const struct pidwatch *w);
/* Counts when a count is due: true when the step has more than max tasks. */
bool pidwatch_over(struct pidwatch *w);

/* ---- net.c ---- */

/* Brings `lo` up in the current network namespace over rtnetlink. */
int net_loopback_up(struct molt_error **err);

/* ---- user.c ---- */

/* Reads /etc/passwd and /etc/group of the root rootfd (NULL when missing). */
int user_read_db(int rootfd, char **ret_passwd, char **ret_group, struct molt_error **err);

/* ---- exec.c ---- */

/*
 * execve()s argv[0], searched in the PATH of env when it has no '/'. Returns only on
 * failure: a negative errno, *exit_code set to 127 (not found) or 126 (not executable).
 */
int exec_search(char *const *argv, char *const *env, int *exit_code);

/* ---- tty.c: the pseudo-terminal between the caller's terminal and the command ---- */

struct tty_relay {
	int master;        /* -1 when no pty */
	int slave;         /* handed to the sandbox, closed by the caller after clone */
	bool in_tty;       /* the caller's stdin is a terminal: relay it, raw mode */
	int out_fd;        /* where the master's output goes */
	bool raw_set;
	char saved_termios[64]; /* struct termios, opaque here */
};
int tty_open(struct tty_relay *t, struct molt_error **err);
void tty_close(struct tty_relay *t);
/* Copies the caller's window size to the pty. */
void tty_resize(struct tty_relay *t);
/* Puts the caller's terminal in raw mode (restored by tty_close). */
void tty_raw(struct tty_relay *t);
/* Moves what is ready between the terminals; returns false once the master is closed. */
bool tty_pump(struct tty_relay *t, bool stdin_ready, bool master_ready);

/* ---- reaper.c ---- */
/* The exit code of a finished process (SPEC.md §2): its own, or 128 + the signal. */
int sandbox_status_code(int status);

struct reaper_args {
	const struct mount_plan *plan;
	int sync_fd;  /* write end of the error pipe */
	int go_fd;    /* read end: the caller writes GO_CGROUP or GO_WATCH once we may start */
	int stdio[3]; /* the command's stdin, stdout, stderr */
	bool tty;     /* stdio is a pty slave: make it the controlling terminal */
	int report_fd;     /* write end: one byte REPORT_PIDS when pid 1 ended the step */
	uint64_t pids_max; /* the step's task bound, watched by pid 1 after GO_WATCH */
};
/* What pid 1 writes to report_fd before it ends a step over its process limit. */
#define REPORT_PIDS 'P'
/* The go byte: pid 1 is in a pids cgroup (GO_CGROUP), or is to count (GO_WATCH). */
#define GO_CGROUP "c"
#define GO_WATCH "w"
MOLT_NORETURN void reaper_main(const struct reaper_args *a);

#endif
