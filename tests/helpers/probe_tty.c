/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_tty: tries to push characters into the input of the terminal on fd 0 with
 * TIOCSTI (also with high bits set in the request, CVE-2019-10063) and TIOCLINUX.
 * Prints each result; exits 1 if an injection succeeded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	const char *cmd = "echo INJECTED\n";
	int bad = 0;
	printf("stdin is %sa terminal\n", isatty(0) ? "" : "not ");
	for (const char *p = cmd; *p; p++) {
		if (ioctl(0, TIOCSTI, p) == 0) {
			bad = 1;
		} else if (p == cmd) {
			printf("TIOCSTI: %s\n", strerror(errno));
			break;
		}
	}
	char c = 'x';
	if (syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, &c) == 0)
		bad = 1;
	else
		printf("TIOCSTI high bits: %s\n", strerror(errno));
	char sel[2] = {2, 0}; /* TIOCL_SETSEL-ish subcode; any success is a failure here */
	if (ioctl(0, TIOCLINUX, sel) == 0)
		bad = 1;
	else
		printf("TIOCLINUX: %s\n", strerror(errno));
	if (bad)
		printf("an injection succeeded\n");
	return bad;
}
