/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/tap.h: a tiny TAP producer for molt's C unit tests.
 * Each test program prints "ok N - name" / "not ok N - name" lines and a plan at the
 * end; tests/run-tests.sh counts them.
 */
#ifndef MOLT_TAP_H
#define MOLT_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3))) static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

__attribute__((format(printf, 1, 2))) static inline void tap_skip(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("ok %d # SKIP ", ++tap_n);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

__attribute__((format(printf, 1, 2))) static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

/* Compares two strings (either may be NULL) and reports both on failure. */
static inline int tap_str_eq(const char *got, const char *want, const char *name)
{
	int same = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);
	if (!tap_ok(same, "%s", name)) {
		printf("#   got:  '%s'\n#   want: '%s'\n", got ? got : "(null)",
		       want ? want : "(null)");
	}
	return same;
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
