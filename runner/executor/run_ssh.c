/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN --mount=type=ssh: an SSH agent (--ssh) reachable from this step only, at the
 * target (default /run/buildkit/ssh_agent.N, N counting the step's ssh mounts), with
 * SSH_AUTH_SOCK naming the first one, as BuildKit does. The agent signs for the
 * step; no key ever enters it.
 *
 * As in BuildKit the step does not get the agent's own socket but one made for the
 * mount, with the owner and mode it asks for (default 0:0, 0600): a small relay
 * process, started for the step and killed after it, passes each connection to the
 * agent byte for byte. Its socket lives in the stage's scratch directory and is bound
 * into the step like any other mount; its stub goes with the step.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_mounts.h"

/* Connections a step may hold open at once (a hostile step gets no more). */
#define RELAY_MAX 16

/* sun_path holds 108 bytes; a store path may be longer: go through the directory's fd. */
static int unix_addr(int dirfd, const char *name, struct sockaddr_un *a)
{
	*a = (struct sockaddr_un){.sun_family = AF_UNIX};
	int n = snprintf(a->sun_path, sizeof(a->sun_path), "/proc/self/fd/%d/%s", dirfd, name);
	return n > 0 && (size_t)n < sizeof(a->sun_path) ? 0 : -ENAMETOOLONG;
}

static int agent_connect(int agent_dir, const char *agent_name)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (unix_addr(agent_dir, agent_name, &a) < 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Copies what is ready from one side to the other; false at EOF or an error. */
static bool pump(int from, int to)
{
	char buf[65536];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n < 0 && errno == EINTR)
		return true;
	return n > 0 && write_all(to, buf, (size_t)n) == 0;
}

static MOLT_NORETURN void relay_main(int lfd, int agent_dir, const char *agent_name)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	/* Only its two fds: an inherited end of the step's output pipe would keep the
	 * progress tee waiting, and the relay needs nothing else of the worker's. */
	int hi_l = fcntl(lfd, F_DUPFD, 1000), hi_a = fcntl(agent_dir, F_DUPFD, 1000);
	if (hi_l < 0 || hi_a < 0 || dup2(hi_l, 3) < 0 || dup2(hi_a, 4) < 0 ||
	    close_range(5, ~0U, 0) < 0)
		_exit(1);
	lfd = 3;
	agent_dir = 4;
	int step[RELAY_MAX], agent[RELAY_MAX];
	size_t n = 0;
	for (;;) {
		struct pollfd p[1 + 2 * RELAY_MAX];
		p[0] = (struct pollfd){.fd = n < RELAY_MAX ? lfd : -1, .events = POLLIN};
		for (size_t i = 0; i < n; i++) {
			p[1 + 2 * i] = (struct pollfd){.fd = step[i], .events = POLLIN};
			p[2 + 2 * i] = (struct pollfd){.fd = agent[i], .events = POLLIN};
		}
		if (poll(p, 1 + 2 * n, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		for (size_t i = n; i-- > 0;) {
			bool ok = true;
			if (p[1 + 2 * i].revents)
				ok = pump(step[i], agent[i]);
			if (ok && p[2 + 2 * i].revents)
				ok = pump(agent[i], step[i]);
			if (!ok) {
				close(step[i]);
				close(agent[i]);
				step[i] = step[--n];
				agent[i] = agent[n];
			}
		}
		if (p[0].revents & POLLIN) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			int g = c < 0 ? -1 : agent_connect(agent_dir, agent_name);
			if (g < 0) {
				if (c >= 0)
					close(c);
				continue;
			}
			step[n] = c;
			agent[n++] = g;
		}
	}
}

/* The step's socket at scratch/ssh-STEP-N.sock, owned and moded as the mount asks. */
static int relay_socket(struct stage_run *sr, const struct build_mount *bm, unsigned n,
			char **ret_path, int *ret_fd, struct molt_error **err)
{
	_cleanup_free_ char *name = xasprintf("ssh-%u-%u.sock", sr->step, n);
	_cleanup_close_ int dir = open(sr->scratch, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a;
	if (dir < 0 || fd < 0 || unix_addr(dir, name, &a) < 0)
		return molt_error_set(err, errno, "RUN --mount=type=ssh: create a socket");
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, RELAY_MAX) < 0)
		return molt_error_set(err, errno, "RUN --mount=type=ssh: listen on '%s/%s'",
				      sr->scratch, name);
	uid_t uid = bm->uid >= 0 ? (uid_t)bm->uid : 0;
	gid_t gid = bm->gid >= 0 ? (gid_t)bm->gid : 0;
	if (fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(dir, name, bm->mode >= 0 ? (mode_t)bm->mode & 07777 : 0600, 0) < 0)
		return molt_error_set(err, errno, "RUN --mount=type=ssh: give the socket the "
					"owner %u:%u and its mode", (unsigned)uid, (unsigned)gid);
	*ret_path = xasprintf("%s/%s", sr->scratch, name);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int start_relay(struct stage_run *sr, const struct build_mount *bm, const char *agent,
		       unsigned n, struct run_mounts *m, char **ret_path, struct molt_error **err)
{
	const char *slash = strrchr(agent, '/');
	_cleanup_free_ char *dname = slash ? xstrndup(agent, (size_t)(slash - agent)) : xstrdup(".");
	_cleanup_close_ int adir = open(*dname ? dname : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (adir < 0)
		return molt_error_set(err, errno, "RUN --mount=type=ssh: the agent's socket '%s'",
				      agent);
	_cleanup_close_ int lfd = -1;
	_cleanup_free_ char *path = NULL;
	int r = relay_socket(sr, bm, n, &path, &lfd, err);
	if (r < 0)
		return r;
	pid_t pid = fork();
	if (pid < 0)
		return molt_error_set(err, errno, "RUN --mount=type=ssh: fork");
	if (pid == 0)
		relay_main(lfd, adir, slash ? slash + 1 : agent);
	ARRAY_PUSH(m->relays, m->n_relays, pid);
	strv_push(&m->relay_sockets, path);
	*ret_path = TAKE_PTR(path);
	return 0;
}

int run_mounts_add_ssh(struct stage_run *sr, const struct build_mount *bm, struct run_mounts *m,
		       struct molt_error **err)
{
	unsigned n = m->n_ssh++;
	const struct build_ssh *s = build_run_ssh(sr->b->o->run, bm->id);
	if (!s) {
		if (!bm->required)
			return 0;
		return molt_error_setx(err, ENOENT, "RUN --mount=type=ssh: the SSH agent '%s' is "
					"required but was not given (pass --ssh %s or --ssh "
					"%s=SOCKET)", bm->id, bm->id, bm->id);
	}
	char *sock = NULL;
	int r = start_relay(sr, bm, s->socket, n, m, &sock, err);
	if (r < 0)
		return r;
	/* the planner numbered the default targets (/run/buildkit/ssh_agent.N) */
	char *abs = run_mounts_target(sr, bm->target);
	bool sock_set = false;
	for (size_t i = 0; m->env && m->env[i]; i++)
		sock_set |= str_startswith(m->env[i], "SSH_AUTH_SOCK=");
	if (!sock_set)
		strv_push_take(&m->env, xasprintf("SSH_AUTH_SOCK=%s", abs));
	run_mounts_add(m, sock, abs, false);
	return 0;
}
