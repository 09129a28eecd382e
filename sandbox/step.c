/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox_run(): the caller's side of a step sandbox. See sandbox.h for the process
 * tree and who owns what; reaper.c for the inside.
 */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sandbox_int.h"

void sandbox_config_init(struct sandbox_config *c)
{
	*c = (struct sandbox_config){
		.network = SANDBOX_NET_HOST,
		.stdin_fd = -1,
		.stdout_fd = -1,
		.stderr_fd = -1,
	};
}

/*
 * BuildKit's /etc/hosts for a step: the hostname resolves to loopback; then the
 * --add-host entries ("NAME IP") as docker appends them.
 */
static char *make_hosts(const char *hostname, char *const *extra)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		    hostname);
	for (size_t i = 0; extra && extra[i]; i++) {
		const char *sp = strchr(extra[i], ' ');
		if (sp)
			strbuf_addf(&sb, "%s\t%.*s\n", sp + 1, (int)(sp - extra[i]), extra[i]);
	}
	return strbuf_detach(&sb);
}

/*
 * With the host's network the host's resolver configuration is copied (its loopback
 * resolvers are reachable, the network is shared); without a network nothing: a
 * search domain or resolver address of the host would only leak.
 */
static char *make_resolv(enum sandbox_network net)
{
	char *text = NULL;
	if (net == SANDBOX_NET_HOST && read_file("/etc/resolv.conf", 1 << 20, &text, NULL, NULL) == 0)
		return text;
	return xstrdup("");
}


static const int handled[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGWINCH};

struct run_state {
	pid_t pid;
	int sfd;
	struct tty_relay tty;
	int interrupts;
};

/* Returns true once pid 1 has exited (*status filled). */
static bool handle_signals(struct run_state *s, int *status)
{
	struct signalfd_siginfo si;
	bool done = false;
	while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig == SIGCHLD) {
			if (waitpid(s->pid, status, WNOHANG) == s->pid)
				done = true;
		} else if (sig == SIGWINCH) {
			tty_resize(&s->tty);
		} else {
			/* pid 1 forwards to the command; a second interrupt does not wait. */
			if ((sig == SIGINT || sig == SIGTERM) && ++s->interrupts > 1)
				sig = SIGKILL;
			kill(s->pid, sig);
		}
	}
	return done;
}

static int wait_sandbox(struct run_state *s)
{
	int status = 0;
	bool done = false;
	while (!done) {
		struct pollfd p[3] = {{s->sfd, POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}};
		if (s->tty.master >= 0) {
			p[1].fd = s->tty.master;
			if (s->tty.in_tty)
				p[2].fd = 0;
		}
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents || p[2].revents)
			tty_pump(&s->tty, p[2].revents != 0, p[1].revents != 0);
		if (p[0].revents)
			done = handle_signals(s, &status);
	}
	if (!done) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	/* The whole pid namespace is gone now: drain what the command left in the pty. */
	while (s->tty.master >= 0 && tty_pump(&s->tty, false, true)) {
		struct pollfd p = {s->tty.master, POLLIN, 0};
		if (poll(&p, 1, 100) <= 0)
			break;
	}
	return sandbox_status_code(status);
}

static int clone_sandbox(const struct sandbox_config *c, const struct reaper_args *a,
			 pid_t *ret_pid, struct molt_error **err)
{
	unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
	if (c->network == SANDBOX_NET_NONE)
		flags |= CLONE_NEWNET;
	/* The raw syscall behaves like fork(): the child runs on a copy of our stack. */
	pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		return molt_error_set(err, errno, "create the sandbox's namespaces");
	if (pid == 0)
		reaper_main(a);
	*ret_pid = pid;
	return 0;
}

/* After pid 1 is gone: did it end the step over the process limit? */
static int check_report(int fd, uint64_t pids_max, struct molt_error **err)
{
	char c = 0;
	if (read(fd, &c, 1) == 1 && c == REPORT_PIDS)
		return molt_error_setx(err, EAGAIN, "step exceeded the process limit of %llu "
					"(--pids-limit): it was ended",
				       (unsigned long long)pids_max);
	return 0;
}

static int run_plan(const struct sandbox_config *c, const struct mount_plan *plan,
		    const char *cgroup, int *ret_status, struct molt_error **err)
{
	struct run_state s = {.pid = -1, .sfd = -1, .tty = {.master = -1, .slave = -1}};
	int sync[2] = {-1, -1}, go[2] = {-1, -1}, report[2] = {-1, -1};
	/* declared before the first goto: clang refuses a jump over a cleanup variable */
	_cleanup_error_ struct molt_error *cg_err = NULL;
	sigset_t set, old;
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(handled); i++)
		sigaddset(&set, handled[i]);
	int r = c->tty ? tty_open(&s.tty, err) : 0;
	if (r < 0)
		return r;
	struct reaper_args a = {.plan = plan, .tty = s.tty.master >= 0,
				.pids_max = rlimits_nproc(&c->rlimits)};
	int given[3] = {c->stdin_fd, c->stdout_fd, c->stderr_fd};
	for (int i = 0; i < 3; i++) {
		a.stdio[i] = given[i] >= 0 ? given[i] : i;
		if (s.tty.master >= 0 && given[i] < 0 && isatty(i))
			a.stdio[i] = s.tty.slave;
	}
	if (pipe2(sync, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 ||
	    pipe2(report, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = molt_error_set(err, errno, "create the sandbox's pipes");
		goto out;
	}
	a.sync_fd = sync[1];
	a.go_fd = go[0];
	a.report_fd = report[1];
	sigprocmask(SIG_BLOCK, &set, &old);
	s.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s.sfd < 0) {
		r = molt_error_set(err, errno, "create a signalfd");
		goto out_mask;
	}
	r = clone_sandbox(c, &a, &s.pid, err);
	if (r < 0)
		goto out_mask;
	/* pid 1 waits for the go byte, so everything it starts is born in the cgroup. A
	 * pids cgroup bounds the step exactly; without one (or where moving pid 1 into
	 * it is refused) pid 1 counts its processes itself (pidwatch.c). */
	bool in_cgroup = cgroup && pids_cgroup_enter(cgroup, s.pid, &cg_err) == 0;
	if (cgroup && !in_cgroup)
		molt_debug("%s: pid 1 counts the step's processes", cg_err->msg);
	close(TAKE_FD(go[0]));
	close(TAKE_FD(sync[1]));
	close(TAKE_FD(report[1]));
	if (s.tty.slave >= 0)
		close(TAKE_FD(s.tty.slave));
	(void)!write(go[1], in_cgroup ? GO_CGROUP : GO_WATCH, 1);
	close(TAKE_FD(go[1]));
	r = syncpipe_receive(sync[0], err);
	if (r < 0) {
		int status;
		while (waitpid(s.pid, &status, 0) < 0 && errno == EINTR)
			;
		goto out_mask;
	}
	tty_resize(&s.tty);
	tty_raw(&s.tty);
	*ret_status = wait_sandbox(&s);
	r = check_report(report[0], a.pids_max, err);
out_mask:
	if (s.sfd >= 0)
		close(s.sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
out:
	tty_close(&s.tty);
	for (int i = 0; i < 2; i++) {
		if (sync[i] >= 0)
			close(sync[i]);
		if (go[i] >= 0)
			close(go[i]);
		if (report[i] >= 0)
			close(report[i]);
	}
	return r;
}

/* The kernel's count of OOM kills since boot (-1 when unknown). */
static long long oom_kills(void)
{
	_cleanup_free_ char *text = NULL;
	if (read_file("/proc/vmstat", 1 << 20, &text, NULL, NULL) < 0)
		return -1;
	const char *p = strstr(text, "\noom_kill ");
	return p ? strtoll(p + strlen("\noom_kill "), NULL, 10) : -1;
}

int sandbox_run(const struct sandbox_config *c, int *ret_status, struct molt_error **err)
{
	if (!c->rootfs || !*c->rootfs)
		return molt_error_setx(err, EINVAL, "sandbox: no rootfs given");
	if (sandbox_current_idmap()->kind == SANDBOX_IDMAP_NONE)
		return molt_error_setx(err, EINVAL, "sandbox: not in the build namespace");
	_cleanup_close_ int rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return molt_error_set(err, errno, "open rootfs '%s'", c->rootfs);
	for (size_t i = 0; i < c->n_mounts; i++)
		if (!c->mounts[i].target || c->mounts[i].target[0] != '/')
			return molt_error_setx(err, EINVAL, "volume target '%s' is not absolute",
					       c->mounts[i].target ? c->mounts[i].target : "");
	const char *hostname = c->hostname && *c->hostname ? c->hostname : "molt";
	struct mount_plan plan = {
		.c = c,
		.hosts = make_hosts(hostname, c->extra_hosts),
		.hostname = xasprintf("%s\n", hostname),
		.resolv = make_resolv(c->network),
	};
	struct mount_points mp = {0};
	int status = 0;
	long long kills = oom_kills();
	char *cgroup = NULL;
	int r = 0;
	/* A pids cgroup where one can be made: real root always can, a user where a
	 * cgroup is delegated to it. Elsewhere (most users; a container without
	 * cgroupfs) the step's pid 1 counts its processes (pidwatch.c). */
	_cleanup_error_ struct molt_error *cg_err = NULL;
	uint64_t nproc = rlimits_nproc(&c->rlimits);
	if ((sandbox_current_idmap()->kind == SANDBOX_IDMAP_IDENTITY
		     ? pids_cgroup_create(nproc, &cgroup, &cg_err)
		     : pids_cgroup_delegated(nproc, &cgroup, &cg_err)) < 0)
		molt_debug("no pids cgroup for the step (%s): its pid 1 counts its processes",
			   cg_err ? cg_err->msg : "?");
	if (r == 0 && !c->overlay)
		r = mounts_make_points(rootfd, c, &mp, err);
	if (r == 0)
		r = run_plan(c, &plan, cgroup, &status, err);
	pids_cgroup_remove(cgroup);
	/* A SIGKILL nobody asked for is most often the OOM killer, which prefers the
	 * sandbox's processes (oom_score_adj 1000). The counter is system-wide, hence
	 * "most likely". */
	if (r == 0 && status == 128 + SIGKILL && kills >= 0 && oom_kills() > kills)
		molt_warn("the command was killed by SIGKILL while the kernel's OOM killer was "
			  "at work: it most likely ran out of memory (memory limits are per "
			  "process; a step's processes are the first the OOM killer picks)");
	/* Also after a failure: the differ must never see a mount point of ours. */
	mounts_remove_points(rootfd, &mp);
	free(plan.hosts);
	free(plan.hostname);
	free(plan.resolv);
	if (r < 0)
		return r;
	*ret_status = status;
	return 0;
}
