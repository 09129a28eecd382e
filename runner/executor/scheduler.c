/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/scheduler.c: the stages of one build, overlapped.
 *
 * Lifecycle of a stage (its worker is a forked process, see scheduler.h):
 *
 *   PENDING --fork--> RUNNING --asks for a stage not yet known--> WAITING
 *                        ^  |                                        |
 *                        |  +--result or error, exit--> DONE         |
 *                        +------ the stage it asked for is DONE -----+
 *                                and a job slot is free: its result is sent
 *
 * - Every stage of the plan is started as soon as a job slot is free and the stage
 *   its FROM names (if any) is DONE: a stage built on another one has nothing to do
 *   before that one's last step. Stages are started and resumed in plan order (an
 *   earlier stage first), so with --jobs 1 the build is the sequential one: a stage
 *   then never starts before every earlier stage finished, and never waits.
 * - A step that reads another stage (COPY --from, RUN --mount from=, the same in an
 *   ONBUILD trigger) asks the scheduler for that stage's result through its worker's
 *   socket ("W pos") and blocks reading the answer ("A result"). While it waits it
 *   holds no job slot; it gets one back before the answer is sent. A stage may only
 *   ask for an earlier stage (the planner refuses later ones), so waits cannot form
 *   a cycle.
 * - Nothing about the order in which stages run reaches an image: a stage's steps
 *   run in their order, and what a step reads from another stage is that stage's
 *   final result — the same text whenever it arrives. Build times come from the
 *   build (SOURCE_DATE_EPOCH or one clock read before the first stage).
 * - At its end a worker sends its result ("R text") or its error ("E code\tmsg\0
 *   detail") and exits; the main process reaps it through its pidfd.
 * - When a worker fails, dies, breaks the protocol, or the build is interrupted
 *   (SIGINT/SIGTERM), the main process SIGKILLs every other worker, running or
 *   waiting — their sandboxes die with them (the sandbox's pid 1 has
 *   PR_SET_PDEATHSIG), flocks are released with their files — reaps them, marks their
 *   steps canceled in the progress view and returns the first error, so it is printed
 *   once. build_execute() then detaches the overlays they left mounted and the store
 *   removes the build's tmp/ directory.
 * No worker outlives scheduler_run().
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "scheduler.h"

enum stage_state { ST_PENDING, ST_RUNNING, ST_WAITING, ST_DONE };

#define MSG_HEADER 5u /* type, length (host order: both ends are this process's image) */

struct worker {
	pid_t pid;
	int pidfd;
	int fd;             /* the main process's end of the worker's socket (non-blocking) */
	struct strbuf in;   /* bytes read from it, not yet a whole message */
	char *final;        /* the "R…" or "E…" message, with its type */
	size_t final_len;
	unsigned wait_on;   /* ST_WAITING: the stage asked for */
};

struct sched {
	const struct sched_stage *stages;
	size_t n;
	unsigned jobs;
	enum stage_state *state;
	struct worker *w;
	char **results;
	unsigned running; /* workers holding a job slot: RUNNING, not WAITING */
	int progress_rd, progress_wr;
	struct progress *p;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static bool startable(const struct sched *s, size_t i)
{
	if (s->state[i] != ST_PENDING)
		return false;
	for (size_t k = 0; k < s->stages[i].n_deps; k++)
		if (s->state[s->stages[i].deps[k]] != ST_DONE)
			return false;
	return true;
}

static int send_msg(int fd, char type, const char *data, size_t len)
{
	char h[MSG_HEADER];
	uint32_t n = (uint32_t)len;
	h[0] = type;
	memcpy(h + 1, &n, 4);
	int r = write_all(fd, h, sizeof(h));
	return r < 0 ? r : write_all(fd, data, len);
}

/* ---- the worker's side */

int sched_await(struct sched_link *l, unsigned pos, struct molt_error **err)
{
	if (pos >= l->self)
		return molt_error_setx(err, EINVAL, "stage %u cannot wait for stage %u (not earlier)",
				       l->self, pos);
	if (l->results[pos])
		return 0;
	uint32_t p32 = pos;
	char h[MSG_HEADER];
	int r = send_msg(l->fd, 'W', (const char *)&p32, sizeof(p32));
	ssize_t n = r < 0 ? r : read_full(l->fd, h, sizeof(h));
	if (n != (ssize_t)sizeof(h) || h[0] != 'A')
		return molt_error_setx(err, EIO, "stage %u: no answer while waiting for stage %u",
				       l->self, pos);
	uint32_t len;
	memcpy(&len, h + 1, 4);
	char *text = xmalloc((size_t)len + 1);
	n = read_full(l->fd, text, len);
	if (n != (ssize_t)len) {
		free(text);
		return molt_error_setx(err, EIO, "stage %u: a short answer for stage %u", l->self,
				       pos);
	}
	text[len] = '\0';
	l->results[pos] = text;
	return 0;
}

bool sched_known(const struct sched_link *l, unsigned pos)
{
	return pos < l->n && l->results[pos];
}

/* In the worker: run the stage, send "R<result>" or "E" and its error (lib/error_codec.c). */
static MOLT_NORETURN void worker_main(struct sched *s, unsigned i, int fd, sched_stage_fn fn,
				      void *ud)
{
	/* The worker must not outlive molt even if molt is SIGKILLed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	close(s->progress_rd);
	for (size_t k = 0; k < s->n; k++)
		if (s->state[k] == ST_RUNNING || s->state[k] == ST_WAITING) {
			close(s->w[k].fd); /* the siblings' sockets are not ours */
			close(s->w[k].pidfd);
		}
	struct progress_out po = {.direct = NULL, .fd = s->progress_wr};
	struct sched_link link = {.fd = fd, .results = s->results, .n = s->n, .self = i};
	struct molt_error *err = NULL;
	char *result = NULL;
	int r = fn(ud, i, &link, &po, &result, &err);
	struct strbuf sb = STRBUF_INIT;
	char type = 'R';
	if (r < 0 || err) {
		type = 'E';
		if (!err)
			molt_error_setx(&err, EIO, "stage failed");
		size_t cap = molt_error_encoded_size(err);
		char *buf = xmalloc(cap);
		strbuf_add(&sb, buf, molt_error_encode(err, buf, cap));
		free(buf);
	} else {
		strbuf_adds(&sb, result ? result : "");
	}
	(void)send_msg(fd, type, sb.buf ? sb.buf : "", sb.len);
	_exit(r < 0 || err ? 1 : 0);
}

/* ---- the main process's side */

static int start_worker(struct sched *s, unsigned i, sched_stage_fn fn, void *ud,
			struct molt_error **err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return molt_error_set(err, errno, "create a socket for stage %u", i);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return molt_error_set(err, e, "fork the worker of stage %u", i);
	}
	if (pid == 0) {
		close(sv[0]);
		worker_main(s, i, sv[1], fn, ud);
	}
	close(sv[1]);
	/* Only the main process's end is non-blocking. */
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		/* Without a pidfd the worker's end could not be seen: never wait on it. */
		int e = errno;
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(sv[0]);
		return molt_error_set(err, e, "watch the worker of stage %u", i);
	}
	s->w[i] = (struct worker){.pid = pid, .pidfd = pidfd, .fd = sv[0]};
	s->state[i] = ST_RUNNING;
	s->running++;
	return 0;
}

static void worker_release(struct worker *w)
{
	close(w->pidfd);
	close(w->fd);
	strbuf_done(&w->in);
	free(w->final);
	w->final = NULL;
}

static void kill_all(struct sched *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->state[i] != ST_RUNNING && s->state[i] != ST_WAITING)
			continue;
		kill(s->w[i].pid, SIGKILL);
		while (waitpid(s->w[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
		worker_release(&s->w[i]);
		s->state[i] = ST_PENDING;
	}
	s->running = 0;
}

/* One whole message from worker i: a wait ('W') or its end ('R', 'E'). */
static int on_message(struct sched *s, unsigned i, char type, const char *d, uint32_t len,
		      struct molt_error **err)
{
	struct worker *w = &s->w[i];
	if (w->final)
		return molt_error_setx(err, EPROTO, "stage %u: a message after its result", i);
	if (type == 'R' || type == 'E') {
		w->final = xmalloc((size_t)len + 2);
		w->final[0] = type;
		memcpy(w->final + 1, d, len);
		w->final[len + 1] = '\0';
		w->final_len = (size_t)len + 1;
		return 0;
	}
	uint32_t pos;
	if (type != 'W' || len != sizeof(pos) || s->state[i] != ST_RUNNING)
		return molt_error_setx(err, EPROTO, "stage %u: an unexpected message", i);
	memcpy(&pos, d, sizeof(pos));
	if (pos >= i)
		return molt_error_setx(err, EPROTO, "stage %u waits for stage %u, not an earlier one",
				       i, pos);
	w->wait_on = pos;
	s->state[i] = ST_WAITING;
	s->running--;
	return 0;
}

/* Reads what worker i sent and handles its whole messages. */
static int read_worker(struct sched *s, unsigned i, struct molt_error **err)
{
	struct worker *w = &s->w[i];
	char buf[16384];
	ssize_t n;
	while ((n = read(w->fd, buf, sizeof(buf))) > 0)
		strbuf_add(&w->in, buf, (size_t)n);
	size_t off = 0;
	int r = 0;
	while (r == 0 && w->in.len - off >= MSG_HEADER) {
		uint32_t len;
		memcpy(&len, w->in.buf + off + 1, 4);
		if (w->in.len - off - MSG_HEADER < len)
			break;
		r = on_message(s, i, w->in.buf[off], w->in.buf + off + MSG_HEADER, len, err);
		off += MSG_HEADER + len;
	}
	if (off) {
		memmove(w->in.buf, w->in.buf + off, w->in.len - off);
		w->in.len -= off;
		w->in.buf[w->in.len] = '\0';
	}
	return r;
}

/* Turns a worker's error record back into a molt_error. */
static int worker_error(struct worker *w, unsigned i, int status, struct molt_error **err)
{
	const char *m = w->final ? w->final : "";
	if (m[0] != 'E') {
		if (WIFSIGNALED(status))
			return molt_error_setx(err, EINTR, "stage %u: worker killed by signal %d", i,
					       WTERMSIG(status));
		return molt_error_setx(err, EIO, "stage %u: worker exited without a result", i);
	}
	return molt_error_decode(m + 1, w->final_len - 1, err);
}

/* A worker's pidfd became readable: it exited. */
static int reap_worker(struct sched *s, unsigned i, struct molt_error **err)
{
	struct worker *w = &s->w[i];
	int status = 0;
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	/* The worker is gone: all it wrote is in the socket. */
	int r = read_worker(s, i, err);
	if (s->state[i] == ST_RUNNING)
		s->running--;
	s->state[i] = ST_DONE;
	if (r == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && w->final &&
	    w->final[0] == 'R')
		s->results[i] = xstrdup(w->final + 1);
	else if (r == 0)
		r = worker_error(w, i, status, err);
	worker_release(w);
	return r;
}

/* Sends the result a waiting worker asked for; the worker reads while we write. */
static int answer(struct sched *s, unsigned i, struct molt_error **err)
{
	struct worker *w = &s->w[i];
	const char *text = s->results[w->wait_on];
	size_t len = strlen(text);
	uint32_t n32 = (uint32_t)len;
	char h[MSG_HEADER] = {'A'};
	memcpy(h + 1, &n32, 4);
	struct strbuf msg = STRBUF_INIT;
	strbuf_add(&msg, h, sizeof(h));
	strbuf_add(&msg, text, len);
	size_t off = 0;
	int r = 0;
	while (off < msg.len && r == 0) {
		ssize_t k = send(w->fd, msg.buf + off, msg.len - off, MSG_NOSIGNAL);
		if (k > 0) {
			off += (size_t)k;
		} else if (errno == EAGAIN || errno == EINTR) {
			struct pollfd q = {.fd = w->fd, .events = POLLOUT};
			(void)poll(&q, 1, 200);
			if (interrupted)
				r = molt_error_setx(err, EINTR, "build interrupted");
		} else {
			break; /* it died: its pidfd says so, and reap_worker reports it */
		}
	}
	strbuf_done(&msg);
	s->state[i] = ST_RUNNING;
	s->running++;
	return r;
}

/* Starts and resumes stages, in plan order, while job slots are free. */
static int schedule(struct sched *s, sched_stage_fn fn, void *ud, struct molt_error **err)
{
	for (size_t i = 0; i < s->n && s->running < s->jobs; i++) {
		int r = 0;
		if (s->state[i] == ST_WAITING && s->state[s->w[i].wait_on] == ST_DONE)
			r = answer(s, (unsigned)i, err);
		else if (startable(s, i))
			r = start_worker(s, (unsigned)i, fn, ud, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static void drain_progress(struct sched *s)
{
	while (progress_drain(s->p, s->progress_rd) == 0) {
		struct pollfd q = {.fd = s->progress_rd, .events = POLLIN};
		if (poll(&q, 1, 0) <= 0)
			break;
	}
}

static int wait_events(struct sched *s, struct molt_error **err)
{
	struct pollfd pfd[2 * s->n + 1];
	unsigned idx[2 * s->n + 1];
	nfds_t k = 0;
	pfd[k++] = (struct pollfd){.fd = s->progress_rd, .events = POLLIN};
	for (size_t i = 0; i < s->n; i++)
		if (s->state[i] == ST_RUNNING || s->state[i] == ST_WAITING) {
			/* The socket too, so a large result cannot block its writer. */
			idx[k] = (unsigned)i;
			pfd[k++] = (struct pollfd){.fd = s->w[i].fd, .events = POLLIN};
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
	/* Progress first: a step's "waiting" line comes before its wait is handled. */
	if (pfd[0].revents & POLLIN)
		(void)progress_drain(s->p, s->progress_rd);
	for (nfds_t j = 1; j < k; j += 2)
		if (pfd[j].revents & (POLLIN | POLLHUP)) {
			int r = read_worker(s, idx[j], err);
			if (r < 0)
				return r;
		}
	for (nfds_t j = 2; j < k; j += 2) {
		if (!(pfd[j].revents & POLLIN))
			continue;
		/* Render what the worker said before its end. */
		drain_progress(s);
		int r = reap_worker(s, idx[j], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int run_loop(struct sched *s, sched_stage_fn fn, void *ud, struct molt_error **err)
{
	for (;;) {
		int r = schedule(s, fn, ud, err);
		if (r < 0)
			return r;
		bool all_done = true, alive = false;
		for (size_t i = 0; i < s->n; i++) {
			all_done = all_done && s->state[i] == ST_DONE;
			alive = alive || s->state[i] == ST_RUNNING;
		}
		if (all_done)
			return 0;
		if (!alive)
			return molt_error_setx(err, EDEADLK, "stages wait on each other");
		r = wait_events(s, err);
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
		.jobs = jobs ? jobs : 1,
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
	int r = run_loop(&s, fn, userdata, err);
	if (r < 0) {
		kill_all(&s);
		if (interrupted && err && *err)
			(*err)->exit_code = 128 + interrupted;
	}
	drain_progress(&s);
	if (r < 0)
		progress_cancel_running(p);
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
