/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/error_codec.c: one wire format for an error that crosses a process boundary —
 * the sandbox's sync pipe (sandbox/syncpipe.c) and a stage worker's result pipe
 * (runner/executor/scheduler.c):
 *
 *   "E" <exit code> " " <errno> "\t" <message> "\0" <detail>
 *
 * The encoder allocates nothing: a child forked from a threaded process calls it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

#define HEADER_MAX 32 /* "E" + two ints + separators */

size_t molt_error_encoded_size(const struct molt_error *e)
{
	return HEADER_MAX + (e->msg ? strlen(e->msg) : 0) + 1 + (e->detail ? strlen(e->detail) : 0);
}

size_t molt_error_encode(const struct molt_error *e, char *buf, size_t cap)
{
	if (cap < HEADER_MAX + 1)
		return 0;
	int h = snprintf(buf, cap, "E%d %d\t", e->exit_code, e->code);
	size_t n = h > 0 ? (size_t)h : 0;
	const char *msg = e->msg ? e->msg : "";
	size_t m = strlen(msg);
	if (m > cap - n - 1)
		m = cap - n - 1; /* cut to fit, the NUL after it kept */
	memcpy(buf + n, msg, m);
	n += m;
	buf[n++] = '\0';
	size_t d = e->detail ? strlen(e->detail) : 0;
	if (d > cap - n)
		d = cap - n;
	if (d)
		memcpy(buf + n, e->detail, d);
	return n + d;
}

int molt_error_decode(const char *buf, size_t len, struct molt_error **err)
{
	/* The message ends at the NUL, so the numbers below are read within the record. */
	const char *nul = len ? memchr(buf, '\0', len) : NULL;
	char *end = NULL;
	long exit_code = 0, code = 0;
	if (nul && buf[0] == 'E') {
		exit_code = strtol(buf + 1, &end, 10);
		if (*end == ' ')
			code = strtol(end + 1, &end, 10);
		else
			end = NULL;
	}
	if (!end || *end != '\t')
		return molt_error_setx(err, EIO, "a malformed error record from another process");
	int r = molt_error_setx(err, code > 0 && code < 4096 ? (int)code : EIO, "%s", end + 1);
	if (err && *err) {
		(*err)->exit_code = exit_code > 0 && exit_code < 256 ? (int)exit_code
								    : MOLT_EXIT_FAILURE;
		size_t rest = len - (size_t)(nul + 1 - buf);
		if (rest) {
			_cleanup_free_ char *detail = xstrndup(nul + 1, rest);
			molt_error_set_detail(*err, detail);
		}
	}
	return r;
}
