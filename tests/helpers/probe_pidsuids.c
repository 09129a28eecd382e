/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_pidsuids IDS PER HOLD: for each uid 1..IDS forks a child that switches to
 * that uid and gid (the sandbox's root may: every id of the subuid range is mapped)
 * and forks PER sleeping children. Each uid stays far below RLIMIT_NPROC, the step
 * as a whole does not. Prints "spawned N" (N processes besides the probe) or
 * "stopped by: <error>", holds HOLD seconds and exits 0; 1 when setuid failed (the
 * probe proves nothing then).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int spawn_as(unsigned uid, int per)
{
	int ready[2];
	if (pipe(ready) < 0)
		return -errno;
	pid_t p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		close(ready[0]);
		char ok = 'y';
		if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0)
			ok = 'u';
		for (int i = 0; ok == 'y' && i < per; i++) {
			pid_t c = fork();
			if (c < 0)
				ok = 'f';
			if (c == 0) {
				pause();
				_exit(0);
			}
		}
		(void)!write(ready[1], &ok, 1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	char ok = 0;
	if (read(ready[0], &ok, 1) != 1)
		ok = 'x';
	close(ready[0]);
	return ok == 'y' ? 0 : ok == 'u' ? -EPERM : -EAGAIN;
}

int main(int argc, char **argv)
{
	int ids = argc > 1 ? atoi(argv[1]) : 8;
	int per = argc > 2 ? atoi(argv[2]) : 20;
	int hold = argc > 3 ? atoi(argv[3]) : 2;
	int n = 0, r = 0;
	for (int u = 1; u <= ids && r == 0; u++) {
		r = spawn_as((unsigned)u, per);
		if (r == 0)
			n += per + 1;
	}
	if (r == -EPERM) {
		printf("setuid failed: the probe cannot spread over ids here\n");
		return 1;
	}
	if (r < 0)
		printf("stopped by: %s after %d\n", strerror(-r), n);
	else
		printf("spawned %d\n", n);
	fflush(stdout);
	if (hold > 0)
		sleep((unsigned)hold);
	return 0;
}
