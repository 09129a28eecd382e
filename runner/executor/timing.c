/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/timing.c: where each step's time went, one --debug line per step,
 * so that a regression in one phase (a slower commit, a context hashed twice) shows
 * without a profiler. Off the debug level it costs two clock reads per phase.
 */
#include <string.h>
#include <time.h>

#include "stage.h"

int64_t timing_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void timing_add(struct stage_run *sr, enum step_phase ph, int64_t since)
{
	sr->timing.ns[ph] += timing_now() - since;
}

void timing_report(struct stage_run *sr, const char *title, int64_t total_ns, bool cached)
{
	static const char *const names[PHASE_N] = {"wait", "key", "mount", "run",
						   "diff", "commit", "record"};
	int64_t *ns = sr->timing.ns;
	if (molt_log_level >= MOLT_LOG_DEBUG) {
		int64_t rest = total_ns;
		for (int i = 0; i < PHASE_N; i++)
			if (i != PHASE_RUN)
				rest -= ns[i];
		ns[PHASE_RUN] = rest > 0 ? rest : 0;
		struct strbuf sb = STRBUF_INIT;
		for (int i = 0; i < PHASE_N; i++)
			strbuf_addf(&sb, " %s %.3f", names[i], (double)ns[i] / 1e9);
		/* The title's instruction text cut short: one line per step. */
		molt_debug("timing %.60s:%s total %.3f s%s", title, sb.buf,
			   (double)total_ns / 1e9, cached ? " (cached)" : "");
		strbuf_done(&sb);
	}
	memset(&sr->timing, 0, sizeof(sr->timing));
}
