/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sync pipe: a close-on-exec pipe from the sandbox to the caller. A successful
 * exec closes the command's end without a word; a failure writes one record
 * (exit code, errno, message) and exits. Records are written with one write() of at
 * most PIPE_BUF bytes, so they arrive whole even if pid 1 and the command both fail.
 */
#include <limits.h>
#include <string.h>

#include "sandbox_int.h"

struct sync_record {
	int32_t exit_code;
	int32_t errnum;
	char msg[PIPE_BUF - 2 * sizeof(int32_t)];
};

static void send_record(int fd, int exit_code, int errnum, const char *msg)
{
	struct sync_record r = {.exit_code = exit_code, .errnum = errnum};
	size_t n = strlen(msg);
	if (n >= sizeof(r.msg))
		n = sizeof(r.msg) - 1;
	memcpy(r.msg, msg, n);
	(void)!write(fd, &r, offsetof(struct sync_record, msg) + n);
}

void syncpipe_send(int fd, const struct molt_error *e)
{
	if (!e) {
		send_record(fd, MOLT_EXIT_FAILURE, EIO, "sandbox setup failed");
		return;
	}
	send_record(fd, e->exit_code, e->code, e->msg ? e->msg : "sandbox setup failed");
}

void syncpipe_sendf(int fd, int exit_code, int errnum, const char *fmt, ...)
{
	char msg[sizeof(((struct sync_record *)0)->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_record(fd, exit_code, errnum, msg);
}

int syncpipe_receive(int fd, struct molt_error **err)
{
	struct sync_record r;
	ssize_t n = read_full(fd, &r, sizeof(r) - 1);
	if (n < 0)
		return molt_error_set(err, (int)-n, "read the sandbox's status");
	if (n == 0)
		return 0;
	if ((size_t)n < offsetof(struct sync_record, msg))
		return molt_error_setx(err, EIO, "the sandbox sent a truncated status");
	r.msg[n - offsetof(struct sync_record, msg)] = '\0';
	int code = r.errnum > 0 ? r.errnum : EIO;
	int ret = molt_error_setx(err, code, "%s", r.msg);
	if (err && *err)
		(*err)->exit_code = r.exit_code > 0 ? r.exit_code : MOLT_EXIT_FAILURE;
	return ret;
}
