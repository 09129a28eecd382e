/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_forkbomb MAX HOLD: forks children that sleep, until fork fails or MAX is reached,
 * prints "forked N, stopped by: <error>", holds for HOLD seconds, then exits (the
 * sandbox's pid namespace takes the children with it). Exits 1 if MAX was reached
 * (the bomb was not bounded).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int max = argc > 1 ? atoi(argv[1]) : 5000;
	int hold = argc > 2 ? atoi(argv[2]) : 0;
	int n = 0, err = 0;
	while (n < max) {
		pid_t p = fork();
		if (p < 0) {
			err = errno;
			break;
		}
		if (p == 0) {
			pause();
			_exit(0);
		}
		n++;
	}
	printf("forked %d, stopped by: %s\n", n, err ? strerror(err) : "the maximum");
	fflush(stdout);
	if (hold > 0)
		sleep((unsigned)hold);
	return err ? 0 : 1;
}
