/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/progress.h: build progress output (`--progress auto|plain|tty|quiet|rawjson`),
 * in BuildKit's formats (its progressui), so that logs and scripts read the same.
 *
 * One renderer lives in molt's main process. Stages may run in worker processes;
 * they report through a `struct progress_out` that either calls the renderer
 * directly or writes frames to a pipe that the main process drains with
 * progress_drain(), so output of parallel stages never interleaves mid-line.
 *
 * plain:   "#3 [builder 2/5] RUN make" when a step starts (again, after "#2 ...", when
 *          another step's lines came between), its output lines as "#3 0.512 <line>"
 *          (seconds since the step started), "#3 <status>" lines, then "#3 DONE 1.2s",
 *          "#3 CACHED" or "#3 ERROR: <why>"; a blank line between steps' blocks.
 * tty:     "[+] Building 7.3s (9/9) FINISHED" and one " => <step>   1.2s" line per step,
 *          redrawn, with the last lines of a running step's output as " => => # <line>".
 * rawjson: one JSON object per event, BuildKit's SolveStatus ({"vertexes": [...]},
 *          {"statuses": [...]}, {"logs": [...]} with the bytes in base64).
 * quiet:   nothing but errors (and the image ID on stdout, build.c).
 * After the build progress_finish() prints a failed step's last output lines, the
 * Dockerfile lines around it ("Dockerfile:12" then ">>>" at the step's lines) and
 * "ERROR: failed to solve: <why>", as `docker build` does.
 */
#ifndef MOLT_RUNNER_PROGRESS_H
#define MOLT_RUNNER_PROGRESS_H

#include "../../lib/base.h"

enum progress_mode { PROGRESS_AUTO, PROGRESS_PLAIN, PROGRESS_TTY, PROGRESS_QUIET, PROGRESS_RAWJSON };

/* "auto", "plain", "tty", "quiet", "rawjson" → mode; -EINVAL for anything else. */
int progress_mode_parse(const char *s, enum progress_mode *ret);

struct progress;

/* A renderer writing to fd (normally stderr). AUTO picks TTY when fd is a terminal and
 * $TERM is not "dumb", else PLAIN. */
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
/* The same for a step written at Dockerfile lines line..end_line (1-based), which a
 * failure then shows. */
void progress_start_at(const struct progress_out *o, unsigned id, const char *title, int line,
		       int end_line);
/* A status line of a running step ("transferring context: 2B done", "naming to …"). */
void progress_status(const struct progress_out *o, unsigned id, const char *text);
/* Output of a running step; may hold partial lines and any bytes. */
void progress_output(const struct progress_out *o, unsigned id, const char *data, size_t len);
/* A step ended: status 0 = success, cached = taken from the build cache, else the
 * failure text ("exit status 2"). */
void progress_end(const struct progress_out *o, unsigned id, bool cached, const char *failure);
/*
 * A step waits for something before it starts (`what`: "stage builder"): shown as
 * waiting (plain: "#7 [final 3/5] COPY --from=builder … waiting for stage builder") until
 * progress_start() with the same id starts it.
 */
void progress_wait(const struct progress_out *o, unsigned id, const char *title,
		   const char *what);
/* The build failed: steps still running or waiting are shown as canceled. */
void progress_cancel_running(struct progress *p);
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

/* The Dockerfile's name and physical lines (borrowed until progress_free), for the
 * excerpt shown when a step fails. */
void progress_set_source(struct progress *p, const char *name, char *const *lines, size_t n);
/*
 * The build is over: the tty view is drawn a last time; when error is not NULL (the
 * build's failure), the failed steps' last output lines, the Dockerfile excerpt of the
 * first one and "ERROR: failed to solve: <error>" follow (plain and tty).
 */
void progress_finish(struct progress *p, const char *error);

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
