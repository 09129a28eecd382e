/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's pid 1. It builds the sandbox (hostname, loopback, mounts, limits,
 * capabilities, no_new_privs, seccomp), forks the command and then only reaps:
 * it forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the command, collects
 * every orphan re-parented to it, and exits with the command's status the moment the
 * command ends. The kernel then kills whatever else is left in the pid namespace
 * (zap_pid_ns_processes) before our parent sees us exit, so a daemon started by a
 * step never outlives it.
 *
 * pid 1 is made non-dumpable: the command (same uid, without CAP_SYS_PTRACE) can then
 * neither ptrace it nor open its /proc/1/fd, /proc/1/mem or /proc/1/exe.
 */
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sandbox_int.h"

/* The sync pipe's fd number inside the sandbox (0-2 are the command's stdio). */
#define SYNC_FD 3
/* The report pipe's (pid 1 only; closed on exec). */
#define REPORT_FD 4

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

MOLT_NORETURN static void fail(struct molt_error *e)
{
	syncpipe_send(SYNC_FD, e);
	_exit(e && e->exit_code > 0 ? e->exit_code : MOLT_EXIT_FAILURE);
}

/* Puts the command's stdio on 0-2 and the sync pipe on 3, and closes every other fd
 * molt had open: nothing of the caller's reaches the sandbox. */
static void arrange_fds(const struct reaper_args *a)
{
	int want[5] = {a->stdio[0], a->stdio[1], a->stdio[2], a->sync_fd, a->report_fd};
	int tmp[5];
	/* Move them above every target first, so dup2 never clobbers a source. */
	for (int i = 0; i < 5; i++) {
		tmp[i] = fcntl(want[i], F_DUPFD_CLOEXEC, 10);
		if (tmp[i] < 0)
			_exit(MOLT_EXIT_FAILURE);
	}
	for (int i = 0; i < 5; i++)
		if (dup2(tmp[i], i) < 0)
			_exit(MOLT_EXIT_FAILURE);
	/* dup2 clears O_CLOEXEC: stdio must survive exec, the pipes must not. */
	fcntl(SYNC_FD, F_SETFD, FD_CLOEXEC);
	fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC);
	if (syscall(SYS_close_range, 5, ~0U, 0) < 0)
		for (int fd = 5; fd < 65536; fd++)
			close(fd);
}

static void setup_sandbox(const struct reaper_args *a)
{
	_cleanup_error_ struct molt_error *e = NULL;
	const struct sandbox_config *c = a->plan->c;
	const char *host = c->hostname && *c->hostname ? c->hostname : "molt";
	if (sethostname(host, strlen(host)) < 0 || setdomainname("", 0) < 0) {
		molt_error_set(&e, errno, "set the sandbox's hostname");
		fail(e);
	}
	if (c->network == SANDBOX_NET_NONE && net_loopback_up(&e) < 0)
		fail(e);
	if (mounts_setup(a->plan, &e) < 0 || rlimits_apply(&c->rlimits, &e) < 0)
		fail(e);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		molt_error_set(&e, errno, "set no_new_privs");
		fail(e);
	}
	if (caps_apply_default(&e) < 0 || filter_load(&e) < 0)
		fail(e);
}

/* mkdir -p of the working directory inside the root, never through a magic link. */
static int make_workdir(int rootfd, const char *dir, struct molt_error **err)
{
	_cleanup_free_ char *copy = xstrdup(dir);
	for (char *s = copy + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char save = *s;
		*s = '\0';
		_cleanup_close_ int fd =
			inroot_open(rootfd, copy, O_PATH | O_DIRECTORY, INROOT_AUTO);
		int r = fd < 0 ? fd : 0;
		if (r == -ENOENT) {
			char *slash = strrchr(copy, '/');
			*slash = '\0';
			_cleanup_close_ int parent =
				inroot_open(rootfd, copy, O_PATH | O_DIRECTORY, INROOT_AUTO);
			r = parent < 0 ? parent : 0;
			*slash = '/';
			if (r == 0 && mkdirat(parent, slash + 1, 0755) < 0 && errno != EEXIST)
				r = -errno;
		}
		if (r < 0)
			return molt_error_set(err, -r, "working directory '%s'", copy);
		*s = save;
		if (!save)
			break;
	}
	return 0;
}

/* Docker creates a missing working directory as root, before switching to USER. */
static void create_workdir(const char *dir)
{
	_cleanup_error_ struct molt_error *e = NULL;
	if (dir[0] != '/') {
		molt_error_setx(&e, EINVAL, "working directory '%s' is not absolute", dir);
		fail(e);
	}
	_cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 || make_workdir(rootfd, dir, &e) < 0)
		fail(e);
}

static void enter_workdir(const char *dir)
{
	_cleanup_error_ struct molt_error *e = NULL;
	_cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd =
		rootfd < 0 ? -errno : inroot_open(rootfd, dir, O_PATH | O_DIRECTORY, INROOT_AUTO);
	int r = fd < 0 ? fd : 0;
	/* fchdir on an O_PATH fd skips the search permission check chdir makes. */
	if (r < 0 || chdir(dir) < 0) {
		molt_error_set(&e, r < 0 ? -r : errno, "enter working directory '%s'", dir);
		fail(e);
	}
	/* CVE-2024-21626: a cwd reached through a leaked fd lies outside the root, and
	 * getcwd() then fails (or starts with "(unreachable)"). */
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)) || cwd[0] != '/') {
		molt_error_setx(&e, EPERM, "working directory '%s' is outside the rootfs", dir);
		fail(e);
	}
}

static void switch_user(const struct sandbox_user *u)
{
	_cleanup_error_ struct molt_error *e = NULL;
	bool single = sandbox_current_idmap()->kind == SANDBOX_IDMAP_SINGLE;
	/* With a one-id map the kernel forbids setgroups() (CVE-2014-8989 rule). */
	if (!single && setgroups(u->n_groups, u->groups) < 0) {
		molt_error_set(&e, errno, "set the supplementary groups of the user");
		fail(e);
	}
	if (setresgid(u->gid, u->gid, u->gid) < 0) {
		molt_error_set(&e, errno, "switch to gid %u%s", (unsigned)u->gid,
			       single ? " (only uid/gid 0 exist with a one-id map)" : "");
		fail(e);
	}
	if (setresuid(u->uid, u->uid, u->uid) < 0) {
		molt_error_set(&e, errno, "switch to uid %u%s", (unsigned)u->uid,
			       single ? " (only uid/gid 0 exist with a one-id map)" : "");
		fail(e);
	}
}

/* The raw syscall: glibc refuses its two reserved real-time signals (32, 33), which
 * a caller may still have ignored. */
static void reset_signal(int sig)
{
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} ksa = {.handler = SIG_DFL};
	syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask));
}

MOLT_NORETURN static void run_command(const struct reaper_args *a)
{
	_cleanup_error_ struct molt_error *e = NULL;
	const struct sandbox_config *c = a->plan->c;
	/* Ignored signals stay ignored across exec: reset every disposition molt's caller
	 * may have left (a SIGPIPE ignored by a CI runner would break pipelines). */
	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			reset_signal(sig);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Its own session: no controlling terminal of the caller's (TIOCSTI). */
	if (setsid() < 0 || (a->tty && ioctl(0, TIOCSCTTY, 0) < 0)) {
		molt_error_set(&e, errno, "start a session for the command");
		fail(e);
	}
	_cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	struct sandbox_user u = {0};
	if (rootfd < 0 || user_read_db(rootfd, &passwd, &group, &e) < 0 ||
	    sandbox_user_resolve(c->user, passwd, group, &u, &e) < 0)
		fail(e);
	char **env = sandbox_env_build(c->env, c->hostname ? c->hostname : "molt", u.home, a->tty);
	const char *dir = c->workdir && *c->workdir ? c->workdir : "/";
	create_workdir(dir);
	switch_user(&u);
	enter_workdir(dir);
	/* Last before exec: molt's own code must not run under the step's memory limit. */
	if (rlimits_apply_memory(&c->rlimits, &e) < 0)
		fail(e);
	int code = 127;
	char *const default_argv[] = {"/bin/sh", NULL};
	char *const *argv = c->argv && c->argv[0] ? c->argv : default_argv;
	int r = exec_search(argv, env, &code);
	syncpipe_sendf(SYNC_FD, code, -r, "run '%s': %s", argv[0],
		       code == 127 ? (strchr(argv[0], '/') ? "no such file or directory"
							 : "executable file not found in $PATH")
				   : strerror(-r));
	_exit(code);
}

/* Exit code of a finished process, SPEC.md §2. */
int sandbox_status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return MOLT_EXIT_FAILURE;
}

/* Over the step's process limit: tell the caller, then end the whole namespace (our
 * exit makes the kernel kill every process left in it). */
MOLT_NORETURN static void end_over_limit(void)
{
	char c = REPORT_PIDS;
	(void)!write(REPORT_FD, &c, 1);
	_exit(128 + SIGKILL);
}

/* proc: the namespace's /proc when the step's task count is watched, else NULL. */
MOLT_NORETURN static void reap(pid_t cmd, DIR *proc, uint64_t pids_max)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	struct pidwatch w;
	if (proc)
		pidwatch_start(&w, proc, pids_max);
	for (;;) {
		siginfo_t si;
		int sig;
		if (proc) {
			/* Also checked between signals: a fork bomb's SIGCHLDs never time out. */
			struct timespec ts = pidwatch_timeout(&w);
			sig = sigtimedwait(&set, &si, &ts);
			if (pidwatch_over(&w))
				end_over_limit();
		} else {
			sig = sigwaitinfo(&set, &si);
		}
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(cmd, sig);
			continue;
		}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			if (pid == cmd)
				_exit(sandbox_status_code(status));
		if (pid < 0 && errno == ECHILD)
			_exit(MOLT_EXIT_FAILURE);
	}
}

void reaper_main(const struct reaper_args *a)
{
	/* If molt dies, the sandbox dies: pid 1's death takes the namespace with it. The
	 * go pipe closes the race with a molt that died before the prctl. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	char go;
	if (read_full(a->go_fd, &go, 1) != 1)
		_exit(MOLT_EXIT_FAILURE);
	uint64_t watch = go == GO_WATCH[0] ? a->pids_max : 0;
	arrange_fds(a);
	if (setsid() < 0)
		_exit(MOLT_EXIT_FAILURE);
	/* As runc and docker build: a step's files never take the caller's umask. */
	umask(022);
	setup_sandbox(a);
	/* Opened before the command exists: the namespace's procfs, as mounted by us. */
	int procfd = watch ? open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	DIR *proc = procfd >= 0 ? fdopendir(procfd) : NULL;
	if (watch && !proc) {
		_cleanup_error_ struct molt_error *e = NULL;
		molt_error_set(&e, errno, "open the sandbox's /proc to watch its process count");
		fail(e);
	}
	/* Signals stay blocked (as the caller left them) so none is lost before sigwait. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pid_t cmd = fork();
	if (cmd < 0) {
		_cleanup_error_ struct molt_error *e = NULL;
		molt_error_set(&e, errno, "fork the command");
		fail(e);
	}
	if (cmd == 0)
		run_command(a);
	close(SYNC_FD);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3; fd++)
		null >= 0 ? dup2(null, fd) : close(fd);
	if (null > 2)
		close(null);
	reap(cmd, proc, watch);
}
