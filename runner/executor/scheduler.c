/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "scheduler.h"

enum stage_state { ST_WAITING, ST_RUNNING, ST_DONE };

struct worker {
	pid_t pid;
	int pidfd;
	int result_fd;
	struct strbuf result;
};

struct sched {
	const struct sched_stage *stages;
	size_t n;
	enum stage_state *state;
	struct worker *w;
	char **results;
	unsigned running;
	int progress_rd, progress_wr;
	struct progress *p;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static bool ready(const struct sched *s, size_t i)
{
	if (s->state[i] != ST_WAITING)
		return false;
	for (size_t k = 0; k < s->stages[i].n_deps; k++)
		if (s->state[s->stages[i].deps[k]] != ST_DONE)
			return false;
	return true;
}

/* In the worker: run the stage and send "R<result>", or its error (lib/error_codec.c). */
static MOLT_NORETURN void worker_main(struct sched *s, unsigned i, int result_fd,
				      sched_stage_fn fn, void *ud)
{
	/* The worker must not outlive molt even if molt is SIGKILLed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	close(s->progress_rd);
	struct progress_out po = {.direct = NULL, .fd = s->progress_wr};
	struct molt_error *err = NULL;
	char *result = NULL;
	int r = fn(ud, i, s->results, &po, &result, &err);
	struct strbuf sb = STRBUF_INIT;
	if (r < 0 || err) {
		if (!err)
			molt_error_setx(&err, EIO, "stage failed");
		size_t cap = molt_error_encoded_size(err);
		char *buf = xmalloc(cap);
		strbuf_add(&sb, buf, molt_error_encode(err, buf, cap));
		free(buf);
	} else {
		strbuf_addf(&sb, "R%s", result ? result : "");
	}
	(void)write_all(result_fd, sb.buf, sb.len);
	_exit(r < 0 || err ? 1 : 0);
}

static int start_worker(struct sched *s, unsigned i, sched_stage_fn fn, void *ud,
			struct molt_error **err)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return molt_error_set(err, errno, "create a pipe for stage %u", i);
	/* Only the main process's end is non-blocking. */
	fcntl(fds[1], F_SETFL, 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		return molt_error_set(err, e, "fork the worker of stage %u", i);
	}
	if (pid == 0) {
		close(fds[0]);
		worker_main(s, i, fds[1], fn, ud);
	}
	close(fds[1]);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		/* Without a pidfd the worker's end could not be seen: never wait on it. */
		int e = errno;
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(fds[0]);
		return molt_error_set(err, e, "watch the worker of stage %u", i);
	}
	s->w[i] = (struct worker){.pid = pid, .pidfd = pidfd, .result_fd = fds[0]};
	s->state[i] = ST_RUNNING;
	s->running++;
	return 0;
}

static void kill_all(struct sched *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->state[i] != ST_RUNNING)
			continue;
		kill(s->w[i].pid, SIGKILL);
		while (waitpid(s->w[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(s->w[i].pidfd);
		close(s->w[i].result_fd);
		strbuf_done(&s->w[i].result);
		s->state[i] = ST_WAITING;
	}
	s->running = 0;
}

static void read_results(struct worker *w)
{
	char buf[4096];
	ssize_t n;
	while ((n = read(w->result_fd, buf, sizeof(buf))) > 0)
		strbuf_add(&w->result, buf, (size_t)n);
}

/* Turns a worker's error record back into a molt_error. */
static int worker_error(struct worker *w, unsigned i, int status, struct molt_error **err)
{
	const char *m = strbuf_str(&w->result);
	if (m[0] != 'E') {
		if (WIFSIGNALED(status))
			return molt_error_setx(err, EINTR, "stage %u: worker killed by signal %d", i,
					       WTERMSIG(status));
		return molt_error_setx(err, EIO, "stage %u: worker exited without a result", i);
	}
	return molt_error_decode(w->result.buf, w->result.len, err);
}

/* A worker's pidfd became readable: it exited. */
static int reap_worker(struct sched *s, unsigned i, struct molt_error **err)
{
	struct worker *w = &s->w[i];
	int status = 0;
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	read_results(w); /* the worker is gone: all it wrote is in the pipe */
	close(w->pidfd);
	close(w->result_fd);
	s->running--;
	s->state[i] = ST_DONE;
	int r = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && w->result.len && w->result.buf[0] == 'R')
		s->results[i] = xstrdup(w->result.buf + 1);
	else
		r = worker_error(w, i, status, err);
	strbuf_done(&w->result);
	return r;
}

static int wait_events(struct sched *s, struct molt_error **err)
{
	struct pollfd pfd[2 * s->n + 1];
	unsigned idx[2 * s->n + 1];
	nfds_t k = 0;
	pfd[k++] = (struct pollfd){.fd = s->progress_rd, .events = POLLIN};
	for (size_t i = 0; i < s->n; i++)
		if (s->state[i] == ST_RUNNING) {
			/* The result pipe too, so a large result cannot block its writer. */
			idx[k] = (unsigned)i;
			pfd[k++] = (struct pollfd){.fd = s->w[i].result_fd, .events = POLLIN};
			idx[k] = (unsigned)i;
			pfd[k++] = (struct pollfd){.fd = s->w[i].pidfd, .events = POLLIN};
		}
	int n = poll(pfd, k, 200);
	if (n < 0 && errno != EINTR)
		return molt_error_set(err, errno, "wait for the build's stages");
	if (interrupted)
		return molt_error_setx(err, EINTR, "build interrupted");
	if (n <= 0) {
		progress_tick(s->p);
		return 0;
	}
	if (pfd[0].revents & POLLIN)
		(void)progress_drain(s->p, s->progress_rd);
	for (nfds_t j = 1; j < k; j += 2)
		if (pfd[j].revents & (POLLIN | POLLHUP))
			read_results(&s->w[idx[j]]);
	for (nfds_t j = 2; j < k; j += 2) {
		if (!(pfd[j].revents & POLLIN))
			continue;
		/* Render what the worker said before its end. */
		while (progress_drain(s->p, s->progress_rd) == 0) {
			struct pollfd q = {.fd = s->progress_rd, .events = POLLIN};
			if (poll(&q, 1, 0) <= 0)
				break;
		}
		int r = reap_worker(s, idx[j], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int run_loop(struct sched *s, unsigned jobs, sched_stage_fn fn, void *ud,
		    struct molt_error **err)
{
	for (;;) {
		bool all_done = true;
		for (size_t i = 0; i < s->n; i++) {
			if (s->state[i] != ST_DONE)
				all_done = false;
			if (s->running < jobs && ready(s, i)) {
				int r = start_worker(s, (unsigned)i, fn, ud, err);
				if (r < 0)
					return r;
			}
		}
		if (all_done)
			return 0;
		if (s->running == 0)
			return molt_error_setx(err, EDEADLK, "stages wait on each other");
		int r = wait_events(s, err);
		if (r < 0)
			return r;
	}
}

int scheduler_run(const struct sched_stage *stages, size_t n, unsigned jobs, sched_stage_fn fn,
		  void *userdata, struct progress *p, char ***ret_results, struct molt_error **err)
{
	int pfds[2];
	if (pipe2(pfds, O_CLOEXEC | O_NONBLOCK) < 0)
		return molt_error_set(err, errno, "create the progress pipe");
	/* Workers block when the pipe is full rather than lose frames. */
	fcntl(pfds[1], F_SETFL, 0);
	struct sched s = {
		.stages = stages,
		.n = n,
		.state = xcalloc(n + 1, sizeof(enum stage_state)),
		.w = xcalloc(n + 1, sizeof(struct worker)),
		.results = xcalloc(n + 1, sizeof(char *)),
		.progress_rd = pfds[0],
		.progress_wr = pfds[1],
		.p = p,
	};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	interrupted = 0;
	int r = run_loop(&s, jobs ? jobs : 1, fn, userdata, err);
	if (r < 0) {
		kill_all(&s);
		if (interrupted && err && *err)
			(*err)->exit_code = 128 + interrupted;
	}
	while (progress_drain(p, s.progress_rd) == 0) {
		struct pollfd q = {.fd = s.progress_rd, .events = POLLIN};
		if (poll(&q, 1, 0) <= 0)
			break;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	close(pfds[0]);
	close(pfds[1]);
	free(s.state);
	free(s.w);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(s.results[i]);
		free(s.results);
		return r;
	}
	*ret_results = s.results;
	return 0;
}
