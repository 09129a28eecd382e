/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/progress_int.h: the progress renderer's own header — the state that
 * progress.c keeps for every step and the three printers (progress_plain.c,
 * progress_tty.c, progress_json.c) that turn its events into text.
 */
#ifndef MOLT_RUNNER_PROGRESS_INT_H
#define MOLT_RUNNER_PROGRESS_INT_H

#include <time.h>

#include "progress.h"

#define PROGRESS_TAIL_LINES 20u /* kept per step for the failure's output excerpt */

/* STEP_WAITING: shown before it starts, waiting for another stage (scheduler.c). */
enum step_state { STEP_RUNNING, STEP_DONE, STEP_CACHED, STEP_FAILED, STEP_CANCELED, STEP_WAITING };

struct step_status {
	char *text;
	double at; /* seconds since the step started, when it was reported */
};

struct step {
	unsigned id;
	unsigned seq; /* "#N": the order steps started in */
	char *title;
	char *failure;
	enum step_state state;
	struct timespec started;   /* monotonic */
	struct timespec started_wall; /* rawjson's "started" */
	double seconds;
	int line, end_line; /* Dockerfile lines, 0 when not from one */
	char *lines[PROGRESS_TAIL_LINES]; /* ring buffer of the last lines */
	unsigned head, count;
	struct progress_line partial;
	double partial_at; /* seconds since start when the partial line began */
	bool streaming; /* plain: the partial line is past the cap and being streamed */
	struct step_status *statuses;
	size_t n_statuses;
	char *wait_for; /* STEP_WAITING: what for ("stage builder") */
};

struct progress {
	enum progress_mode mode;
	int fd;
	struct step *steps;
	size_t n_steps;
	unsigned next_seq;
	struct timespec started; /* the first event: tty's "Building 7.3s" */
	bool started_set;
	struct strbuf inbuf; /* partial frames read by progress_drain() */
	/* plain */
	unsigned cur_seq;  /* the step whose block is being printed, 0: none */
	unsigned open_seq; /* the step whose streamed long line has no '\n' yet */
	bool printed_any;
	/* tty */
	unsigned live_lines;
	bool finished;
	struct timespec last_draw; /* output redraws at most every 100 ms (BuildKit's rate) */
	/* the Dockerfile, for the failure excerpt */
	const char *src_name;
	char *const *src_lines;
	size_t n_src_lines;
};

/* Seconds since t (monotonic). */
double progress_since(const struct timespec *t);
void progress_emit(struct progress *p, const char *s, size_t n);
void progress_emitf(struct progress *p, const char *fmt, ...) MOLT_PRINTF(2, 3);
/* The i-th of the last `count` kept lines of s, oldest first. */
const char *progress_step_line(const struct step *s, unsigned i);

/* progress_plain.c. Untrusted text (titles, output, failures) is escaped here. */
void plain_start(struct progress *p, struct step *s);
void plain_line(struct progress *p, struct step *s, const char *line, double at);
/* Bytes of a line past the cap: printed as they come, never kept. */
void plain_stream(struct progress *p, struct step *s, const char *data, size_t n);
void plain_line_end(struct progress *p, struct step *s);
void plain_status(struct progress *p, struct step *s, const char *text);
void plain_end(struct progress *p, struct step *s);
void plain_note(struct progress *p, const char *text);
/* "#N <title> waiting for stage builder": a step that has not started yet. */
void plain_wait(struct progress *p, struct step *s);
/* The failed steps' last lines (`------` blocks), as BuildKit's printErrorLogs. */
void progress_print_error_logs(struct progress *p);

/* progress_tty.c */
void tty_redraw(struct progress *p);
void tty_note(struct progress *p, const char *text);

/* progress_json.c */
void json_vertex(struct progress *p, const struct step *s);
void json_status(struct progress *p, const struct step *s, const char *text);
void json_log(struct progress *p, const struct step *s, const char *data, size_t n);

#endif
