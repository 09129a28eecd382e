/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/progress.h: build progress output (`--progress auto|plain|tty|quiet`).
 *
 * One renderer lives in molt's main process. Stages may run in worker processes;
 * they report through a `struct progress_out` that either calls the renderer
 * directly or writes frames to a pipe that the main process drains with
 * progress_drain(), so output of parallel stages never interleaves mid-line.
 *
 * plain: "#3 [builder 2/5] RUN make" when a step starts, its output lines as
 *        "#3 <line>", then "#3 DONE 1.2s" (or "#3 ERROR: exit status 2").
 * tty:   one live line per running step with its elapsed time and the last lines of
 *        its output beneath it, folded to one line when the step ends.
 * quiet: nothing but errors.
 */
#ifndef MOLT_RUNNER_PROGRESS_H
#define MOLT_RUNNER_PROGRESS_H

#include "../../lib/base.h"

enum progress_mode { PROGRESS_AUTO, PROGRESS_PLAIN, PROGRESS_TTY, PROGRESS_QUIET };

/* "auto", "plain", "tty", "quiet" → mode; -EINVAL for anything else. */
int progress_mode_parse(const char *s, enum progress_mode *ret);

struct progress;

/* A renderer writing to fd (normally stderr). AUTO picks TTY when fd is a terminal. */
struct progress *progress_new(enum progress_mode mode, int fd);
void progress_free(struct progress *p);
enum progress_mode progress_get_mode(const struct progress *p);

/* Where a step reports: the renderer itself, or a pipe to it. */
struct progress_out {
	struct progress *direct; /* in the main process */
	int fd;                  /* in a worker: the write end of the frame pipe, else -1 */
};

/* Step ids are chosen by the caller and unique within a build. */
void progress_start(const struct progress_out *o, unsigned id, const char *title);
/* Output of a running step; may hold partial lines and any bytes. */
void progress_output(const struct progress_out *o, unsigned id, const char *data, size_t len);
/* A step ended: status 0 = success, cached = taken from the build cache, else the
 * failure text ("exit status 2"). */
void progress_end(const struct progress_out *o, unsigned id, bool cached, const char *failure);
/* A line that belongs to no step (warnings, "writing image sha256:..."). */
void progress_note(const struct progress_out *o, const char *text);
/* A line about a step from molt itself (--explain-cache): "#N text" in plain mode, a
 * line of its own in tty mode; shown in quiet mode too, since it was asked for. */
void progress_explain(const struct progress_out *o, unsigned id, const char *text);

/*
 * Reads the frames available on fd (non-blocking or after poll) and renders them.
 * Returns 0 when more may come, 1 at end of file, -errno on a read error or a
 * malformed frame.
 */
int progress_drain(struct progress *p, int fd);

/* Redraws the live tty view (call a few times a second); no-op in other modes. */
void progress_tick(struct progress *p);

/* The last `lines` lines of a step's output, for the error message of a failing RUN. */
char *progress_tail(struct progress *p, unsigned id, unsigned lines);

/*
 * One line of a step's output as molt keeps it (tty view, failure tails): its first
 * PROGRESS_LINE_MAX bytes, the rest counted and dropped, so a step printing hundreds of
 * MiB without a newline cannot grow molt. Plain progress still streams the whole line.
 */
#define PROGRESS_LINE_MAX 4096u

struct progress_line {
	struct strbuf buf;
	size_t cut; /* bytes dropped past PROGRESS_LINE_MAX */
};

/* Appends data (no newline in it; '\r' is dropped). Returns how many of its bytes went
 * into the kept part; the rest, data[ret..n), were counted as cut. */
size_t progress_line_add(struct progress_line *l, const char *data, size_t n);
/* The line so far, with "… (N bytes cut)" when it was capped; l is reset. */
char *progress_line_take(struct progress_line *l);
void progress_line_done(struct progress_line *l);

#endif
