/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/registry_credhelper.c: runs docker credential helpers
 * (`docker-credential-NAME get|store|erase`, the protocol of
 * docker/docker-credential-helpers) for registry_cred.c.
 *
 * A helper is another program, found through PATH and named by a config file, so it is
 * treated as untrusted: it gets only fds 0-2 (stdin a socket so a helper that exits
 * without reading cannot SIGPIPE molt; stderr /dev/null, since helpers have been known to
 * echo what they were given), runs in a process group of its own so a hang is ended with
 * its children, and is bounded in time and in how much it may print.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "registry_int.h"

extern char **environ;

static unsigned helper_timeout_ms = 30 * 1000;
static size_t helper_max_output = 64 * 1024;

void registry_credhelper_set_limits(unsigned timeout_ms, size_t max_output)
{
	helper_timeout_ms = timeout_ms;
	helper_max_output = max_output;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool registry_credhelper_name_ok(const char *name)
{
	if (!*name || name[0] == '.' || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

/* The program's path, looked up before spawning so "not installed" is its own error. */
static char *find_in_path(const char *prog)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	char *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		if (dir[0] != '/')
			continue; /* a relative PATH entry would run whatever is in the cwd */
		_cleanup_free_ char *cand = xasprintf("%s/%s", dir, prog);
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return TAKE_PTR(cand);
	}
	return NULL;
}

static int spawn_helper(const char *path, const char *prog, const char *action, int in_fd,
			int out_fd, pid_t *ret_pid)
{
	_cleanup_close_ int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0)
		return -errno;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, null_fd, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	static const int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGALRM};
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaddset(&dfl, sigs[i]);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETPGROUP);
	char *const argv[] = {(char *)prog, (char *)action, NULL};
	int r = posix_spawn(ret_pid, path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return -r;
}

static void kill_helper(pid_t pid)
{
	kill(-pid, SIGKILL); /* its own process group: children it started go too */
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Feeds the input and collects the output until EOF, the deadline or the size bound. */
static int exchange(int in_fd, int out_fd, const char *input, int64_t deadline, struct strbuf *out,
		    const char *prog, struct molt_error **err)
{
	size_t in_len = strlen(input), in_off = 0;
	if (in_len == 0)
		shutdown(in_fd, SHUT_WR);
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return molt_error_setx(err, ETIMEDOUT,
					       "credential helper '%s' did not "
					       "finish within %u s",
					       prog, helper_timeout_ms / 1000);
		struct pollfd pfd[2] = {{.fd = out_fd, .events = POLLIN},
					{.fd = in_off < in_len ? in_fd : -1, .events = POLLOUT}};
		int n = poll(pfd, 2, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno != EINTR)
			return molt_error_set(err, errno, "credential helper '%s'", prog);
		if (n <= 0)
			continue;
		if (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
			ssize_t w = send(in_fd, input + in_off, in_len - in_off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				in_off = in_len; /* it stopped reading; its answer decides */
			else if (w > 0)
				in_off += (size_t)w;
			if (in_off == in_len)
				shutdown(in_fd, SHUT_WR);
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		char buf[4096];
		ssize_t r = read(out_fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return molt_error_set(err, errno, "read from credential helper '%s'", prog);
		if (r == 0)
			return 0;
		if (out->len + (size_t)r > helper_max_output)
			return molt_error_setx(err, EFBIG,
					       "credential helper '%s' printed more "
					       "than %zu bytes",
					       prog, helper_max_output);
		strbuf_add(out, buf, (size_t)r);
	}
}

/* Waits for the exit status until the deadline (a helper may close stdout and hang). */
static int reap(pid_t pid, int64_t deadline, int *status)
{
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int registry_credhelper_run(const char *name, const char *action, const char *input, char **ret_out,
			    int *ret_status, struct molt_error **err)
{
	_cleanup_free_ char *prog = xasprintf("docker-credential-%s", name);
	if (!registry_credhelper_name_ok(name))
		return molt_error_setx(err, EINVAL,
				       "credential helper name '%s' is not valid "
				       "(letters, digits, '-', '_' and '.' only)",
				       name);
	_cleanup_free_ char *path = find_in_path(prog);
	if (!path)
		return molt_error_setx(err, ENOENT, "credential helper '%s' not found in PATH",
				       prog);
	int sv[2], pp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return molt_error_set(err, errno, "credential helper '%s': socketpair", prog);
	_cleanup_close_ int in_fd = sv[0], child_in = sv[1];
	if (pipe2(pp, O_CLOEXEC) < 0)
		return molt_error_set(err, errno, "credential helper '%s': pipe", prog);
	_cleanup_close_ int out_fd = pp[0], child_out = pp[1];
	pid_t pid;
	int r = spawn_helper(path, prog, action, child_in, child_out, &pid);
	if (r < 0)
		return molt_error_set(err, -r, "run credential helper '%s'", path);
	closep(&child_in);
	child_in = -1;
	closep(&child_out);
	child_out = -1;

	int64_t deadline = now_ms() + helper_timeout_ms;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	r = exchange(in_fd, out_fd, input, deadline, &out, prog, err);
	int status = 0;
	if (r == 0 && reap(pid, deadline, &status) < 0)
		r = molt_error_setx(err, ETIMEDOUT,
				    "credential helper '%s' did not finish "
				    "within %u s",
				    prog, helper_timeout_ms / 1000);
	else if (r == 0 && !WIFEXITED(status))
		return molt_error_setx(err, EIO,
				       "credential helper '%s' %s was killed by "
				       "signal %d",
				       prog, action, WTERMSIG(status));
	if (r < 0) {
		kill_helper(pid); /* not reaped yet, so the pid is still ours */
		return r;
	}
	*ret_status = WEXITSTATUS(status);
	*ret_out = strbuf_detach(&out);
	return 0;
}
