/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_memhog MAX_MIB [brk|mmap] [HOLD]: allocates memory 1 MiB at a time and touches every
 * page (so it is really used, not only reserved) until an allocation fails or MAX_MIB
 * is reached. Prints "allocated N MiB, stopped by: <error>" and exits 0 when it was
 * stopped, 1 when MAX_MIB was reached (the hog was not bounded), after holding what it
 * got for HOLD seconds (so the host can be checked while it does). Killed by the OOM
 * killer it prints nothing more than its progress lines.
 *
 * `brk` grows the heap with sbrk (what malloc does for small blocks), `mmap` maps
 * private anonymous memory (what malloc does for large blocks and JITs do): both count
 * against RLIMIT_DATA.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1UL << 20)

int main(int argc, char **argv)
{
	long max = argc > 1 ? atol(argv[1]) : 1024;
	int use_brk = argc > 2 && !strcmp(argv[2], "brk");
	int hold = argc > 3 ? atoi(argv[3]) : 0;
	long n = 0;
	int err = 0;
	while (n < max) {
		char *p;
		if (use_brk) {
			p = sbrk((intptr_t)MIB);
			if (p == (void *)-1) {
				err = errno;
				break;
			}
		} else {
			p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
				 0);
			if (p == MAP_FAILED) {
				err = errno;
				break;
			}
		}
		for (size_t i = 0; i < MIB; i += 4096)
			p[i] = (char)i;
		n++;
		if (n % 16 == 0) {
			printf("progress %ld MiB\n", n);
			fflush(stdout);
		}
	}
	printf("allocated %ld MiB, stopped by: %s\n", n, err ? strerror(err) : "the maximum");
	fflush(stdout);
	if (hold > 0)
		sleep((unsigned)hold);
	return err ? 0 : 1;
}
