/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/buildns_test.h: the unit tests that work as molt's build does (COPY,
 * step filesystems) run in a child inside the build namespace, so that ownership
 * and overlays behave as for an unprivileged user.
 */
#ifndef MOLT_BUILDNS_TEST_H
#define MOLT_BUILDNS_TEST_H

#include <sys/wait.h>

#include "../../sandbox/sandbox.h"
#include "tap.h"

/* Returns in a child inside the build namespace; the parent exits with its status. */
static inline void tap_fork_into_build_namespace(void)
{
	pid_t pid = fork();
	if (pid != 0) {
		int status = 1;
		waitpid(pid, &status, 0);
		exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
	}
	struct molt_error *err = NULL;
	if (sandbox_enter_build_namespace(NULL, &err) < 0) {
		printf("Bail out! %s\n", err->msg);
		exit(1);
	}
}

#endif
