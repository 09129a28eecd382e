/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_escape MODE [ARG]: escape attempts that do not fit one syscall. Prints what it
 * found; exits 1 when the attempt worked (an escape), 0 when it was stopped.
 *   fds              any fd but 0, 1, 2 open (a leak, CVE-2024-21626)
 *   fdwalk           chdir through /proc/self/fd/N/.. for every N < 64
 *   pid1             ptrace, /proc/1/exe, /proc/1/environ, /proc/1/fd/N of pid 1
 *   exe              write to /proc/self/exe and /proc/1/exe (CVE-2019-5736)
 *   kill_all         kill(-1, SIGKILL), then report survivors (we must survive)
 *   signal PID       kill(PID, 0) on a host pid
 *   ptrace_parent    attach to getppid() and to pid 1
 *   proc_write       write /proc/sys/kernel/hostname and /proc/sysrq-trigger
 *   masked           read /proc/keys and /proc/timer_list (must be empty)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

static int fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		perror("opendir /proc/self/fd");
		return 1;
	}
	int leak = 0, own = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd > 2 && fd != own) {
			char link[256] = "", path[64];
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			(void)!readlink(path, link, sizeof(link) - 1);
			printf("leaked fd %d -> %s\n", fd, link);
			leak = 1;
		}
	}
	closedir(d);
	if (!leak)
		printf("fds: only 0 1 2\n");
	return leak;
}

static int fdwalk(void)
{
	int esc = 0;
	for (int fd = 3; fd < 64; fd++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d/..", fd);
		if (chdir(path) == 0) {
			char cwd[4096];
			if (!getcwd(cwd, sizeof(cwd)) || cwd[0] != '/') {
				printf("escaped through fd %d\n", fd);
				esc = 1;
			}
			(void)!chdir("/");
		}
	}
	if (!esc)
		printf("fdwalk: nothing outside the root\n");
	return esc;
}

static int try_open(const char *path, int flags)
{
	int fd = open(path, flags);
	if (fd >= 0) {
		printf("opened %s\n", path);
		close(fd);
		return 1;
	}
	printf("%s: %s\n", path, strerror(errno));
	return 0;
}

static int pid1(void)
{
	int bad = 0;
	if (ptrace(PTRACE_ATTACH, 1, 0, 0) == 0) {
		printf("attached to pid 1\n");
		bad = 1;
	} else {
		printf("ptrace pid 1: %s\n", strerror(errno));
	}
	bad |= try_open("/proc/1/exe", O_RDONLY);
	bad |= try_open("/proc/1/environ", O_RDONLY);
	bad |= try_open("/proc/1/mem", O_RDONLY);
	/* Real root owns a non-dumpable pid 1's /proc entries (the kernel gives them to
	 * uid 0 of the init namespace), so as root the numbers can be listed: that is
	 * only reported (the test decides per mode); reaching a target is an escape. */
	DIR *d = opendir("/proc/1/fd");
	if (d) {
		struct dirent *de;
		int n = 0;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			char path[300], target[256];
			snprintf(path, sizeof(path), "/proc/1/fd/%s", de->d_name);
			n++;
			if (readlink(path, target, sizeof(target)) >= 0) {
				printf("read link %s\n", path);
				bad = 1;
			}
			bad |= try_open(path, O_RDONLY);
		}
		printf("listed /proc/1/fd: %d entries\n", n);
		closedir(d);
	}
	return bad;
}

static int exe(void)
{
	int bad = try_open("/proc/self/exe", O_WRONLY);
	bad |= try_open("/proc/1/exe", O_WRONLY);
	bad |= try_open("/proc/1/exe", O_PATH);
	return bad;
}

static int kill_all(void)
{
	int r = kill(-1, SIGKILL);
	printf("kill -9 -1: %s; still alive\n", r == 0 ? "sent" : strerror(errno));
	return 0;
}

static int ptrace_parent(void)
{
	pid_t pp = getppid();
	int bad = 0;
	if (ptrace(PTRACE_ATTACH, pp, 0, 0) == 0) {
		printf("attached to parent %d\n", pp);
		bad = 1;
	} else {
		printf("ptrace parent %d: %s\n", pp, strerror(errno));
	}
	return bad | pid1();
}

static int proc_write(void)
{
	int bad = try_open("/proc/sys/kernel/hostname", O_WRONLY);
	bad |= try_open("/proc/sysrq-trigger", O_WRONLY);
	return bad;
}

static int masked(void)
{
	const char *paths[] = {"/proc/keys", "/proc/timer_list", "/proc/kcore", "/proc/sched_debug"};
	int bad = 0;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int fd = open(paths[i], O_RDONLY);
		if (fd < 0)
			continue;
		char c;
		if (read(fd, &c, 1) > 0) {
			printf("%s is readable\n", paths[i]);
			bad = 1;
		}
		close(fd);
	}
	if (!bad)
		printf("masked: empty\n");
	return bad;
}

/* The probes that take no argument, by mode name. */
static const struct {
	const char *mode;
	int (*probe)(void);
} probes[] = {
	{"fds", fds},
	{"fdwalk", fdwalk},
	{"pid1", pid1},
	{"exe", exe},
	{"kill_all", kill_all},
	{"ptrace_parent", ptrace_parent},
	{"proc_write", proc_write},
	{"masked", masked},
};

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *m = argv[1];
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		if (!strcmp(m, probes[i].mode))
			return probes[i].probe();
	if (!strcmp(m, "signal") && argc > 2) {
		int r = kill(atoi(argv[2]), 0);
		printf("kill(%s, 0): %s\n", argv[2], r == 0 ? "reached" : strerror(errno));
		return r == 0;
	}
	fprintf(stderr, "probe_escape: unknown mode '%s'\n", m);
	return 2;
}
