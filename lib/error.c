/* SPDX-License-Identifier: Apache-2.0 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "base.h"

static int error_vset(struct molt_error **err, int errnum, int exit_code, bool with_strerror,
		      const char *fmt, va_list ap) MOLT_PRINTF(5, 0);

static int error_vset(struct molt_error **err, int errnum, int exit_code, bool with_strerror,
		      const char *fmt, va_list ap)
{
	int code = errnum > 0 ? errnum : (errnum < 0 ? -errnum : EINVAL);

	if (!err || *err)
		return -code;

	struct molt_error *e = xcalloc(1, sizeof(*e));
	char *msg = xvasprintf(fmt, ap);
	if (with_strerror && errnum != 0) {
		e->msg = xasprintf("%s: %s", msg, strerror(code));
		free(msg);
	} else {
		e->msg = msg;
	}
	e->code = code;
	e->exit_code = exit_code;
	*err = e;
	return -code;
}

/* The va_list that each variadic setter hands to error_vset(), and its result. */
#define ERROR_VARGS(err, errnum, exit_code, with_strerror, fmt)                                    \
	({                                                                                         \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		int r_ = error_vset(err, errnum, exit_code, with_strerror, fmt, ap);               \
		va_end(ap);                                                                        \
		r_;                                                                                \
	})

int molt_error_set(struct molt_error **err, int errnum, const char *fmt, ...)
{
	return ERROR_VARGS(err, errnum, MOLT_EXIT_FAILURE, true, fmt);
}

int molt_error_setx(struct molt_error **err, int errnum, const char *fmt, ...)
{
	return ERROR_VARGS(err, errnum, MOLT_EXIT_FAILURE, false, fmt);
}

int molt_error_usage(struct molt_error **err, const char *fmt, ...)
{
	return ERROR_VARGS(err, EINVAL, MOLT_EXIT_USAGE, false, fmt);
}

int molt_error_wrap(struct molt_error **err, const char *fmt, ...)
{
	if (!err || !*err)
		return -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	char *ctx = xvasprintf(fmt, ap);
	va_end(ap);
	char *msg = xasprintf("%s: %s", ctx, (*err)->msg);
	free(ctx);
	free((*err)->msg);
	(*err)->msg = msg;
	return molt_error_ret(*err);
}

void molt_error_set_detail(struct molt_error *e, const char *detail)
{
	if (!e)
		return;
	free(e->detail);
	e->detail = detail ? xstrdup(detail) : NULL;
}

int molt_error_ret(const struct molt_error *e)
{
	return e && e->code > 0 ? -e->code : -EINVAL;
}

int molt_error_pass(struct molt_error **err)
{
	return molt_error_ret(err ? *err : NULL);
}

void molt_error_free(struct molt_error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e->detail);
	free(e);
}

void molt_error_drop(struct molt_error **e, const char *why)
{
	if (!e || !*e)
		return;
	molt_debug("%s: %s", why, (*e)->msg);
	molt_error_free(*e);
	*e = NULL;
}

void molt_error_print(const struct molt_error *e)
{
	if (!e)
		return;
	/* The message quotes untrusted names and the detail holds a step's last output
	 * lines: terminal control sequences in them (OSC 52 writing the clipboard, CSI
	 * clearing the screen) are shown escaped, never sent to the terminal. */
	_cleanup_free_ char *msg = term_escape(e->msg);
	fprintf(stderr, "molt: %s\n", msg);
	if (e->detail && *e->detail) {
		_cleanup_free_ char *detail = term_escape(e->detail);
		size_t n = strlen(detail);
		fputs(detail, stderr);
		if (detail[n - 1] != '\n')
			fputc('\n', stderr);
	}
}

void molt_pid_killp(pid_t *pid)
{
	if (*pid <= 0)
		return;
	int saved = errno;
	kill(*pid, SIGKILL);
	while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
		;
	errno = saved;
}
