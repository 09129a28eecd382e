/* SPDX-License-Identifier: Apache-2.0 */
/* runner/executor/scheduler.c: stage ordering, parallelism, failure and result passing. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>

#include "../../runner/executor/scheduler.h"
#include "tap.h"

static char dir[64];

/* Stage behaviour chosen by userdata: "ok", "slow", "fail", "deps". */
static int stage_fn(void *ud, unsigned i, char *const *results, const struct progress_out *po,
		    char **ret, struct molt_error **err)
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
	if (!strcmp(k, "deps")) {
		/* Sees the results of the stages it depends on. */
		*ret = xasprintf("after[%s,%s]", results[0] ? results[0] : "-",
				 results[1] ? results[1] : "-");
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

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/molt-sched-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	static const unsigned d01[] = {0, 1};
	struct sched_stage st[3] = {{NULL, 0}, {NULL, 0}, {d01, 2}};
	struct molt_error *err = NULL;
	char **res = NULL;

	const char *ok[] = {"meet0", "meet1", "deps"};
	int r = run(ok, st, 3, 2, &res, &err);
	tap_ok(r == 0, "scheduler: independent stages run at the same time with --jobs 2");
	tap_str_eq(r == 0 ? res[2] : NULL, "after[r0,r1]",
		   "scheduler: a stage sees the results of the stages it depends on");
	if (err)
		tap_diag("%s", err->msg);
	strv_free(res);
	res = NULL;
	molt_error_free(err);
	err = NULL;

	const char *one[] = {"alone", "alone", "alone"};
	r = run(one, st, 3, 1, &res, &err);
	tap_ok(r == 0, "scheduler: --jobs 1 runs one stage at a time");
	strv_free(res);
	res = NULL;
	molt_error_free(err);
	err = NULL;

	const char *bad[] = {"fail", "slow", "deps"};
	r = run(bad, st, 3, 2, &res, &err);
	tap_ok(r < 0 && err && !strcmp(err->msg, "stage 0: RUN failed"),
	       "scheduler: a failing stage's error reaches the main process");
	tap_ok(err && err->detail && !strcmp(err->detail, "last lines"),
	       "scheduler: the failing step's output tail travels with the error");
	_cleanup_free_ char *pidfile = xasprintf("%s/slow.pid", dir);
	_cleanup_free_ char *pid = NULL;
	struct molt_error *e2 = NULL;
	bool gone = read_file(pidfile, 64, &pid, NULL, &e2) == 0 && kill(atoi(pid), 0) < 0 &&
		    errno == ESRCH;
	tap_ok(gone, "scheduler: a failure kills and reaps the other running stages");
	molt_error_free(e2);
	molt_error_free(err);
	rm_rf(dir, NULL);
	return tap_done();
}
