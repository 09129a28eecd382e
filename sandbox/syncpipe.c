/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sync pipe: a close-on-exec pipe from the sandbox to the caller. A successful
 * exec closes the command's end without a word; a failure writes one record
 * (exit code, errno, message: lib/error_codec.c) and exits. Records are written with
 * one write() of at most PIPE_BUF bytes, so they arrive whole even if pid 1 and the
 * command both fail.
 */
#include <limits.h>
#include <string.h>

#include "sandbox_int.h"

/* One record: an error in lib/error_codec.c's format, one write() of at most PIPE_BUF. */
static void send_error(int fd, const struct molt_error *e)
{
	char buf[PIPE_BUF];
	size_t n = molt_error_encode(e, buf, sizeof(buf));
	(void)!write(fd, buf, n);
}

void syncpipe_send(int fd, const struct molt_error *e)
{
	static const struct molt_error none = {.code = EIO, .exit_code = MOLT_EXIT_FAILURE,
					       .msg = (char *)"sandbox setup failed"};
	if (!e || !e->msg)
		e = &none;
	send_error(fd, e);
}

void syncpipe_sendf(int fd, int exit_code, int errnum, const char *fmt, ...)
{
	char msg[PIPE_BUF];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_error(fd, &(struct molt_error){.code = errnum, .exit_code = exit_code, .msg = msg});
}

int syncpipe_receive(int fd, struct molt_error **err)
{
	char buf[PIPE_BUF];
	ssize_t n = read_full(fd, buf, sizeof(buf));
	if (n < 0)
		return molt_error_set(err, (int)-n, "read the sandbox's status");
	if (n == 0)
		return 0;
	/* The first record only: pid 1 and the command may both have failed. */
	const char *end = memchr(buf, '\0', (size_t)n);
	return molt_error_decode(buf, end ? (size_t)(end + 1 - buf) : (size_t)n, err);
}
