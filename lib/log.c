/* SPDX-License-Identifier: Apache-2.0 */
#include "base.h"

enum molt_log_level molt_log_level = MOLT_LOG_WARN;

static void vlog(enum molt_log_level level, const char *prefix, const char *fmt, va_list ap)
	MOLT_PRINTF(3, 0);

static void vlog(enum molt_log_level level, const char *prefix, const char *fmt, va_list ap)
{
	if (molt_log_level < level)
		return;
	/* One write per message so lines from parallel stages do not interleave. */
	char *msg = xvasprintf(fmt, ap);
	/* Messages quote image, context and Dockerfile text: no control sequences. */
	char *safe = term_escape(msg);
	char *line = xasprintf("molt: %s%s\n", prefix, safe);
	free(safe);
	fputs(line, stderr);
	free(line);
	free(msg);
}

/* The va_list that each level's front end hands to vlog(). */
#define LOG_VARGS(level, prefix, fmt)                                                              \
	do {                                                                                       \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		vlog(level, prefix, fmt, ap);                                                      \
		va_end(ap);                                                                        \
	} while (0)

void molt_warn(const char *fmt, ...)
{
	LOG_VARGS(MOLT_LOG_WARN, "warning: ", fmt);
}

void molt_info(const char *fmt, ...)
{
	LOG_VARGS(MOLT_LOG_INFO, "", fmt);
}

void molt_debug(const char *fmt, ...)
{
	LOG_VARGS(MOLT_LOG_DEBUG, "debug: ", fmt);
}
