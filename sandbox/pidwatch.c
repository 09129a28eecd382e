/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process bound of a whole step, where no pids cgroup is at hand.
 *
 * RLIMIT_NPROC counts per user id, and the sandbox's root may setuid() to every id of
 * the subuid range: N ids give N times the limit. A pids cgroup bounds the step as a
 * whole, but only real root can make one here: cgroup v2 lets a process put its
 * children in a pids-limited child cgroup only once no process (not even itself)
 * is left in its own cgroup (the "no internal processes" rule), which an unprivileged
 * caller inside a systemd scope cannot arrange without asking systemd over D-Bus.
 *
 * So the sandbox's pid 1 counts instead. Its /proc is the procfs of the step's pid
 * namespace, which lists exactly the step's processes; their threads are field 20 of
 * /proc/PID/stat, which every process may read. It counts tasks as pids.max does
 * (threads too) and ends the step when the count goes over the limit: pid 1 exits
 * and the kernel kills the rest of the namespace. The count is taken every 20 ms, and
 * no more often than 1/20 of the time, so a step of many processes pays at most 5% of
 * a core for it, and a step of few nearly nothing (one getdents and a few reads).
 * Between two counts a fork bomb may run ahead of the limit; RLIMIT_NPROC still
 * bounds each user id meanwhile.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "sandbox_int.h"

#define WATCH_MIN_NS (20 * 1000 * 1000LL)
#define WATCH_COST_FACTOR 20

uint64_t pidwatch_stat_threads(const char *text)
{
	/* comm (field 2) may hold spaces and parentheses: fields start after the last ')'. */
	const char *p = strrchr(text, ')');
	if (!p)
		return 1;
	p++;
	for (int field = 3; field < 20; field++) {
		while (*p == ' ')
			p++;
		p = strchr(p, ' ');
		if (!p)
			return 1;
	}
	char *end;
	unsigned long long n = strtoull(p, &end, 10);
	return end == p || n == 0 ? 1 : (uint64_t)n;
}

static uint64_t process_threads(int procfd, const char *pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "%s/stat", pid);
	int fd = openat(procfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0; /* gone since the listing */
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return pidwatch_stat_threads(buf);
}

uint64_t pidwatch_count(DIR *proc, uint64_t stop_above)
{
	uint64_t total = 0;
	rewinddir(proc);
	struct dirent *de;
	while ((de = readdir(proc)) && total <= stop_above) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		total += process_threads(dirfd(proc), de->d_name);
	}
	return total;
}

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void pidwatch_start(struct pidwatch *w, DIR *proc, uint64_t max)
{
	*w = (struct pidwatch){.proc = proc, .max = max, .next_ns = now_ns() + WATCH_MIN_NS};
}

struct timespec pidwatch_timeout(const struct pidwatch *w)
{
	int64_t left = w->next_ns - now_ns();
	if (left < 0)
		left = 0;
	return (struct timespec){left / 1000000000LL, left % 1000000000LL};
}

bool pidwatch_over(struct pidwatch *w)
{
	int64_t start = now_ns();
	if (start < w->next_ns)
		return false;
	uint64_t n = pidwatch_count(w->proc, w->max);
	int64_t cost = now_ns() - start;
	int64_t wait = cost * WATCH_COST_FACTOR;
	w->next_ns = now_ns() + (wait > WATCH_MIN_NS ? wait : WATCH_MIN_NS);
	return n > w->max;
}
