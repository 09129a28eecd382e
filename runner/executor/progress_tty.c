/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tty progress, as BuildKit's console display: "[+] Building 7.3s (9/9) FINISHED" and a
 * line per step (" => CACHED [2/3] RUN …   0.0s") with its statuses (" => => …") and a
 * running step's last output lines (" => => # …", faint), redrawn in place a few times
 * a second. Only as many lines as the terminal holds are drawn: the cursor cannot go
 * up past its top, and a taller view would leave copies behind on every redraw.
 */
#include <string.h>
#include <sys/ioctl.h>

#include "progress_int.h"

#define LIVE_LINES 6u /* output lines shown under a running step (BuildKit: 6) */
#define COLOR_DONE "\033[34m"
#define COLOR_ERROR "\033[31m"
#define COLOR_CANCEL "\033[33m"
#define FAINT "\033[2m"
#define RESET "\033[0m"

static void term_size(struct progress *p, unsigned *ret_w, unsigned *ret_h)
{
	struct winsize ws;
	*ret_w = 80;
	*ret_h = 25;
	if (ioctl(p->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 && ws.ws_row > 4) {
		*ret_w = ws.ws_col;
		*ret_h = ws.ws_row;
	}
}

/* Escaped (lib/termesc.c), tabs as spaces, cut to max bytes outside a UTF-8 sequence. */
static char *sanitize(const char *s, size_t max)
{
	char *r = term_escape(s);
	size_t n = strlen(r);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)r[n] & 0xc0) == 0x80)
			n--;
		r[n] = '\0';
	}
	for (char *c = r; *c; c++)
		if (*c == '\t')
			*c = ' ';
	return r;
}

struct view {
	char **lines;
	size_t n;
	unsigned width;
};

static void view_add(struct view *v, const char *color, const char *name, const char *timer)
{
	size_t tlen = timer ? strlen(timer) : 0;
	size_t room = v->width > tlen + 2 ? v->width - tlen - 2 : 1;
	_cleanup_free_ char *safe = sanitize(name, room);
	char *l = timer ? xasprintf("%s%-*s %s%s", color ? color : "", (int)room, safe, timer,
				    color ? RESET : "")
			: xasprintf(FAINT "%s" RESET, safe);
	v->lines = xrealloc(v->lines, (v->n + 1) * sizeof(char *));
	v->lines[v->n++] = l;
}

static void view_step(struct view *v, const struct step *s)
{
	double t = s->state == STEP_RUNNING || s->state == STEP_WAITING
			   ? progress_since(&s->started)
			   : s->seconds;
	_cleanup_free_ char *timer = xasprintf("%3.1fs", t < 0.05 ? 0.0 : t);
	const char *tag = s->state == STEP_CACHED     ? "CACHED "
			  : s->state == STEP_FAILED   ? "ERROR "
			  : s->state == STEP_CANCELED ? "CANCELED "
						      : "";
	_cleanup_free_ char *name = s->state == STEP_WAITING
					    ? xasprintf(" => %s waiting for %s", s->title, s->wait_for)
					    : xasprintf(" => %s%s", tag, s->title);
	const char *color = s->state == STEP_FAILED     ? COLOR_ERROR
			    : s->state == STEP_CANCELED ? COLOR_CANCEL
			    : s->state == STEP_RUNNING || s->state == STEP_WAITING ? NULL
							: COLOR_DONE;
	view_add(v, color, name, timer);
	/* A status takes the time from the one before it (or the step's start). */
	for (size_t k = 0; k < s->n_statuses; k++) {
		_cleanup_free_ char *st = xasprintf(" => => %s", s->statuses[k].text);
		double d = s->statuses[k].at - (k ? s->statuses[k - 1].at : 0);
		_cleanup_free_ char *tm = xasprintf("%3.1fs", d < 0.05 ? 0.0 : d);
		view_add(v, color, st, tm);
	}
	if (s->state != STEP_RUNNING)
		return;
	unsigned show = s->count < LIVE_LINES ? s->count : LIVE_LINES;
	for (unsigned k = s->count - show; k < s->count; k++) {
		_cleanup_free_ char *l = xasprintf(" => => # %s", progress_step_line(s, k));
		view_add(v, NULL, l, NULL);
	}
}

void tty_redraw(struct progress *p)
{
	unsigned width, height;
	term_size(p, &width, &height);
	clock_gettime(CLOCK_MONOTONIC, &p->last_draw);
	struct view v = {.width = width};
	unsigned done = 0;
	for (size_t i = 0; i < p->n_steps; i++) {
		view_step(&v, &p->steps[i]);
		done += p->steps[i].state != STEP_RUNNING && p->steps[i].state != STEP_WAITING;
	}
	struct strbuf sb = STRBUF_INIT;
	if (p->live_lines)
		strbuf_addf(&sb, "\r\033[%uA\033[J", p->live_lines);
	double total = p->started_set ? progress_since(&p->started) : 0;
	bool finished = p->finished && done == p->n_steps;
	strbuf_addf(&sb, "[+] Building %.1fs (%u/%zu)%s\n", total, done, p->n_steps,
		    finished ? " FINISHED" : "");
	/* The last lines fit; the final view is printed whole, it is not redrawn. */
	size_t first = !p->finished && v.n > height - 2 ? v.n - (height - 2) : 0;
	for (size_t i = 0; i < v.n; i++) {
		if (i >= first)
			strbuf_addf(&sb, "%s\n", v.lines[i]);
		free(v.lines[i]);
	}
	free(v.lines);
	progress_emit(p, strbuf_str(&sb), sb.len);
	strbuf_done(&sb);
	p->live_lines = p->finished ? 0 : (unsigned)(v.n - first + 1);
}

void tty_note(struct progress *p, const char *text)
{
	if (p->live_lines)
		progress_emitf(p, "\r\033[%uA\033[J", p->live_lines);
	p->live_lines = 0;
	_cleanup_free_ char *safe = term_escape(text);
	progress_emitf(p, "%s\n", safe);
	tty_redraw(p);
}
