/* SPDX-License-Identifier: Apache-2.0 */
/* runner/executor/scheduler.c: stage ordering, overlap, waits, failure and result passing. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>

#include "../../runner/executor/scheduler.h"
#include "tap.h"

static char dir[64];

/* Waits up to 5 s for a marker file; false when it never came. */
static bool wait_marker(const char *name)
{
	_cleanup_free_ char *f = xasprintf("%s/%s", dir, name);
	for (int tries = 0; tries < 100; tries++) {
		if (access(f, F_OK) == 0)
			return true;
		usleep(50000);
	}
	return false;
}

static void put_marker(const char *name, pid_t pid)
{
	_cleanup_free_ char *f = xasprintf("%s/%s", dir, name);
	char s[16];
	int n = snprintf(s, sizeof(s), "%d", (int)pid);
	struct molt_error *e = NULL;
	write_file_atomic(f, s, (size_t)n, 0644, &e);
	molt_error_free(e);
}

/* "after[r0,r1]": the results of stages 0 and 1, waited for. */
static int await_both(struct sched_link *link, char **ret, struct molt_error **err)
{
	int r = sched_await(link, 0, err);
	if (r == 0)
		r = sched_await(link, 1, err);
	if (r == 0)
		*ret = xasprintf("after[%s,%s]", link->results[0], link->results[1]);
	return r;
}

/*
 * Stage behaviour chosen by userdata: "ok", "slow", "fail", "deps", "meet0/1",
 * "alone", "gate" (finishes only once stage 2 started), "late" (starts, then waits
 * for 0 and 1), "await0" (waits for stage 0), "later" (asks for a later stage).
 */
static int stage_fn(void *ud, unsigned i, struct sched_link *link,
		    const struct progress_out *po, char **ret, struct molt_error **err)
{
	const char *const *kinds = ud;
	const char *k = kinds[i];
	progress_start(po, i, "[s] step");
	progress_output(po, i, "hello\n", 6);
	if (!strcmp(k, "slow")) {
		char pid[16];
		int n = snprintf(pid, sizeof(pid), "%d", (int)getpid());
		struct molt_error *e = NULL;
		_cleanup_free_ char *f = xasprintf("%s/slow.pid", dir);
		write_file_atomic(f, pid, (size_t)n, 0644, &e);
		sleep(30);
	}
	if (!strcmp(k, "meet0") || !strcmp(k, "meet1")) {
		/* Each waits for the other's marker: both finish only when run together. */
		_cleanup_free_ char *mine = xasprintf("%s/%s", dir, k);
		_cleanup_free_ char *other = xasprintf("%s/meet%c", dir, k[4] == '0' ? '1' : '0');
		close(open(mine, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
		int tries = 0;
		while (access(other, F_OK) < 0 && ++tries < 100)
			usleep(50000);
		if (tries >= 100)
			return molt_error_setx(err, ETIMEDOUT, "stage %u ran alone", i);
	}
	if (!strcmp(k, "alone")) {
		/* Fails if another stage is running at the same time. */
		_cleanup_free_ char *f = xasprintf("%s/running", dir);
		int fd = open(f, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return molt_error_setx(err, EBUSY, "stage %u overlapped another", i);
		close(fd);
		usleep(100000);
		unlink(f);
	}
	if (!strcmp(k, "fail")) {
		/* Fail only once the slow stage is surely running. */
		_cleanup_free_ char *f = xasprintf("%s/slow.pid", dir);
		for (int tries = 0; access(f, F_OK) < 0 && tries < 100; tries++)
			usleep(50000);
		progress_end(po, i, false, "exit status 1");
		int r = molt_error_setx(err, EIO, "stage %u: RUN failed", i);
		molt_error_set_detail(*err, "last lines");
		(*err)->exit_code = 1;
		return r;
	}
	if (!strcmp(k, "gate") && !wait_marker("late"))
		return molt_error_setx(err, ETIMEDOUT, "stage %u: stage 2 did not start", i);
	if (!strcmp(k, "late")) {
		put_marker("late", getpid());
		int r = await_both(link, ret, err);
		progress_end(po, i, false, NULL);
		return r;
	}
	if (!strcmp(k, "await0")) {
		put_marker("waiter.pid", getpid());
		int r = sched_await(link, 0, err);
		*ret = r == 0 ? xasprintf("saw[%s]", link->results[0]) : NULL;
		return r;
	}
	if (!strcmp(k, "meetlate") && !wait_marker("meet-late"))
		return molt_error_setx(err, ETIMEDOUT, "stage %u: stage 2 never ran", i);
	if (!strcmp(k, "meet-late"))
		put_marker("meet-late", getpid());
	if (!strcmp(k, "later"))
		return sched_await(link, i + 1, err);
	if (!strcmp(k, "deps")) {
		/* Sees the results of the stages it depends on (started after them). */
		bool known = sched_known(link, 0) && sched_known(link, 1);
		int r = await_both(link, ret, err);
		if (r == 0 && !known)
			return molt_error_setx(err, EINVAL, "stage %u started before its deps", i);
		if (r < 0)
			return r;
	} else {
		*ret = xasprintf("r%u", i);
	}
	progress_end(po, i, false, NULL);
	return 0;
}

static int run(const char **kinds, const struct sched_stage *st, size_t n, unsigned jobs,
	       char ***res, struct molt_error **err)
{
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct progress *p = progress_new(PROGRESS_PLAIN, devnull);
	int r = scheduler_run(st, n, jobs, stage_fn, (void *)kinds, p, res, err);
	progress_free(p);
	close(devnull);
	return r;
}

/* Runs the stages, which must all succeed, and checks stage `at`'s result against
 * `want` (in the same TAP line when there is no `res_name`). */
static void run_ok(const char **kinds, const struct sched_stage *st, size_t n, unsigned jobs,
		   size_t at, const char *want, const char *name, const char *res_name)
{
	struct molt_error *err = NULL;
	char **res = NULL;
	int r = run(kinds, st, n, jobs, &res, &err);
	const char *got = r == 0 && want ? res[at] : NULL;
	if (res_name) {
		tap_ok(r == 0, "%s", name);
		tap_str_eq(got, want, res_name);
	} else {
		tap_ok(r == 0 && (!want || (got && !strcmp(got, want))), "%s", name);
	}
	if (err)
		tap_diag("%s", err->msg);
	strv_free(res);
	molt_error_free(err);
}

/* Runs the stages, of which stage 0 fails: its error must be the one returned (with the
 * step's output tail when `tail_name` is set), and the process that wrote `pidname` must
 * be gone (killed and reaped) afterwards. */
static void run_fails(const char **kinds, const struct sched_stage *st, size_t n,
		      const char *name, const char *tail_name, const char *pidname,
		      const char *gone_name)
{
	struct molt_error *err = NULL, *e2 = NULL;
	char **res = NULL;
	int r = run(kinds, st, n, 2, &res, &err);
	tap_ok(r < 0 && err && !strcmp(err->msg, "stage 0: RUN failed"), "%s", name);
	if (tail_name)
		tap_ok(err && err->detail && !strcmp(err->detail, "last lines"), "%s", tail_name);
	_cleanup_free_ char *pidfile = xasprintf("%s/%s", dir, pidname);
	_cleanup_free_ char *pid = NULL;
	bool gone = read_file(pidfile, 64, &pid, NULL, &e2) == 0 && kill(atoi(pid), 0) < 0 &&
		    errno == ESRCH;
	tap_ok(gone, "%s", gone_name);
	molt_error_free(e2);
	molt_error_free(err);
	strv_free(res);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/molt-sched-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	static const unsigned d01[] = {0, 1};
	struct sched_stage st[3] = {{NULL, 0}, {NULL, 0}, {d01, 2}};

	const char *ok[] = {"meet0", "meet1", "deps"};
	run_ok(ok, st, 3, 2, 2, "after[r0,r1]",
	       "scheduler: independent stages run at the same time with --jobs 2",
	       "scheduler: a stage sees the results of the stages it depends on");
	const char *one[] = {"alone", "alone", "alone"};
	run_ok(one, st, 3, 1, 0, NULL, "scheduler: --jobs 1 runs one stage at a time", NULL);

	const char *bad[] = {"fail", "slow", "deps"};
	run_fails(bad, st, 3, "scheduler: a failing stage's error reaches the main process",
		  "scheduler: the failing step's output tail travels with the error", "slow.pid",
		  "scheduler: a failure kills and reaps the other running stages");
	_cleanup_free_ char *pidfile = xasprintf("%s/slow.pid", dir);
	unlink(pidfile);

	/* Overlap: stage 2 has no start dependency; 0 and 1 end only once it started. */
	struct sched_stage free3[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
	const char *overlap[] = {"gate", "gate", "late"};
	run_ok(overlap, free3, 3, 3, 2, "after[r0,r1]",
	       "scheduler: a stage starts before the stages it reads finished",
	       "scheduler: sched_await hands over the results of the stages waited for");

	/* A waiting stage gives its job slot away: with --jobs 2, stage 0 ends only once
	 * stage 2 ran, which needs the slot stage 1 holds until it waits for stage 0. */
	const char *slot[] = {"meetlate", "await0", "meet-late"};
	run_ok(slot, free3, 3, 2, 1, "saw[r0]", "scheduler: a waiting stage holds no job slot",
	       "scheduler: the waiter gets the result");

	/* --jobs 1: in plan order, one at a time, so nothing ever waits. */
	const char *seq[] = {"alone", "alone", "deps"};
	run_ok(seq, free3, 3, 1, 2, "after[r0,r1]",
	       "scheduler: --jobs 1 runs the stages in plan order, one at a time", NULL);

	/* A failure ends a stage that is waiting for it. */
	const char *failwait[] = {"fail", "await0"};
	put_marker("slow.pid", 0); /* lets "fail" fail at once */
	run_fails(failwait, free3, 2,
		  "scheduler: the failing stage's error, not the waiter's, is returned", NULL,
		  "waiter.pid", "scheduler: a stage waiting for a failed one is killed and reaped");

	/* Asking for a later stage (a cycle) is refused, not waited on forever. */
	const char *later[] = {"later", "ok"};
	struct molt_error *err = NULL;
	char **res = NULL;
	int r = run(later, free3, 2, 2, &res, &err);
	tap_ok(r < 0 && err && strstr(err->msg, "not earlier"),
	       "scheduler: a stage cannot wait for a later one");
	strv_free(res);
	molt_error_free(err);
	rm_rf(dir, NULL);
	return tap_done();
}
