/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The progress renderer's state and its transport: every event, direct or framed from
 * a worker, lands here and is kept per step (last lines, statuses, times), then handed
 * to the printer of the mode (progress_plain.c, progress_tty.c, progress_json.c).
 */
#include <string.h>

#include "progress_int.h"

#define FRAME_HEADER 9u     /* type, id, length */
#define FRAME_MAX 4096u     /* ≤ PIPE_BUF: frames from parallel workers never interleave */

int progress_mode_parse(const char *s, enum progress_mode *ret)
{
	static const char *const names[] = {"auto", "plain", "tty", "quiet", "rawjson"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i])) {
			*ret = (enum progress_mode)i;
			return 0;
		}
	return -EINVAL;
}

struct progress *progress_new(enum progress_mode mode, int fd)
{
	struct progress *p = xcalloc(1, sizeof(*p));
	if (mode == PROGRESS_AUTO) {
		/* BuildKit's console needs cursor movement: a dumb terminal gets plain. */
		const char *term = getenv("TERM");
		bool dumb = term && !strcmp(term, "dumb");
		mode = isatty(fd) && !dumb ? PROGRESS_TTY : PROGRESS_PLAIN;
	}
	p->mode = mode;
	p->fd = fd;
	return p;
}

enum progress_mode progress_get_mode(const struct progress *p)
{
	return p->mode;
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_steps; i++) {
		struct step *s = &p->steps[i];
		free(s->title);
		free(s->failure);
		free(s->wait_for);
		for (unsigned k = 0; k < PROGRESS_TAIL_LINES; k++)
			free(s->lines[k]);
		for (size_t k = 0; k < s->n_statuses; k++)
			free(s->statuses[k].text);
		free(s->statuses);
		progress_line_done(&s->partial);
	}
	free(p->steps);
	strbuf_done(&p->inbuf);
	free(p);
}

void progress_set_source(struct progress *p, const char *name, char *const *lines, size_t n)
{
	p->src_name = name;
	p->src_lines = lines;
	p->n_src_lines = n;
}

static struct step *find_step(struct progress *p, unsigned id)
{
	for (size_t i = 0; i < p->n_steps; i++)
		if (p->steps[i].id == id)
			return &p->steps[i];
	return NULL;
}

double progress_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

void progress_emit(struct progress *p, const char *s, size_t n)
{
	(void)write_all(p->fd, s, n);
}

void progress_emitf(struct progress *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = xvasprintf(fmt, ap);
	va_end(ap);
	progress_emit(p, s, strlen(s));
}

const char *progress_step_line(const struct step *s, unsigned i)
{
	return s->lines[(s->head + PROGRESS_TAIL_LINES - s->count + i) % PROGRESS_TAIL_LINES];
}

size_t progress_line_add(struct progress_line *l, const char *data, size_t n)
{
	size_t i = 0;
	for (; i < n && l->buf.len < PROGRESS_LINE_MAX; i++)
		if (data[i] != '\r')
			strbuf_addc(&l->buf, data[i]);
	l->cut += n - i;
	return i;
}

char *progress_line_take(struct progress_line *l)
{
	if (l->cut)
		strbuf_addf(&l->buf, "… (%zu bytes cut)", l->cut);
	l->cut = 0;
	return strbuf_detach(&l->buf);
}

void progress_line_done(struct progress_line *l)
{
	strbuf_done(&l->buf);
	l->cut = 0;
}

/* The step's partial line is complete: keep it (capped) and print it. */
static void add_line(struct progress *p, struct step *s)
{
	bool streamed = s->streaming;
	free(s->lines[s->head]);
	s->lines[s->head] = progress_line_take(&s->partial);
	s->streaming = false;
	if (p->mode == PROGRESS_PLAIN) {
		if (streamed)
			plain_line_end(p, s);
		else
			plain_line(p, s, s->lines[s->head], s->partial_at);
	}
	s->head = (s->head + 1) % PROGRESS_TAIL_LINES;
	if (s->count < PROGRESS_TAIL_LINES)
		s->count++;
}

/* A new step at the end of the list, numbered next. */
static struct step *add_step(struct progress *p, unsigned id, const char *title)
{
	p->steps = xrealloc(p->steps, (p->n_steps + 1) * sizeof(*p->steps));
	struct step *s = &p->steps[p->n_steps++];
	*s = (struct step){.id = id, .seq = ++p->next_seq, .title = xstrdup(title)};
	return s;
}

/* The step's time counts from now; the first step's start is the build's. */
static void start_clock(struct progress *p, struct step *s)
{
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	if (!p->started_set) {
		p->started = s->started;
		p->started_set = true;
	}
}

/* Shows a step's new state: `plain` prints it, tty redraws, rawjson sends the vertex. */
static void show_step(struct progress *p, struct step *s,
		      void (*plain)(struct progress *, struct step *))
{
	if (p->mode == PROGRESS_PLAIN)
		plain(p, s);
	else if (p->mode == PROGRESS_TTY)
		tty_redraw(p);
	else if (p->mode == PROGRESS_RAWJSON)
		json_vertex(p, s);
}

/* A step is shown before it starts: it waits for another stage (scheduler.c). */
static void render_wait(struct progress *p, unsigned id, const char *title, const char *what)
{
	struct step *s = add_step(p, id, title);
	s->state = STEP_WAITING;
	s->wait_for = xstrdup(what);
	start_clock(p, s);
	if (p->mode == PROGRESS_PLAIN)
		plain_wait(p, s);
	else if (p->mode == PROGRESS_TTY)
		tty_redraw(p);
}

static void render_start(struct progress *p, unsigned id, const char *title, int line,
			 int end_line)
{
	struct step *s = find_step(p, id);
	if (s && s->state == STEP_WAITING)
		s->state = STEP_RUNNING; /* same number, its time counted from now */
	else
		s = add_step(p, id, title);
	s->line = line;
	s->end_line = end_line >= line ? end_line : line;
	start_clock(p, s);
	clock_gettime(CLOCK_REALTIME, &s->started_wall);
	show_step(p, s, plain_start);
}

static void render_output(struct progress *p, unsigned id, const char *data, size_t len)
{
	struct step *s = find_step(p, id);
	if (!s)
		return;
	if (p->mode == PROGRESS_RAWJSON)
		json_log(p, s, data, len);
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		if (!s->partial.buf.len && !s->partial.cut)
			s->partial_at = progress_since(&s->started);
		size_t kept = progress_line_add(&s->partial, data, n);
		if (n > kept && p->mode == PROGRESS_PLAIN) {
			plain_stream(p, s, data + kept, n - kept);
			s->streaming = true;
		}
		if (nl) {
			add_line(p, s);
			n++;
		}
		data += n;
		len -= n;
	}
	if (p->mode == PROGRESS_TTY && progress_since(&p->last_draw) >= 0.1)
		tty_redraw(p);
}

static void render_status(struct progress *p, unsigned id, const char *text)
{
	struct step *s = find_step(p, id);
	if (!s)
		return;
	s->statuses = xrealloc(s->statuses, (s->n_statuses + 1) * sizeof(*s->statuses));
	struct step_status *st = &s->statuses[s->n_statuses++];
	st->text = xstrdup(text);
	st->at = progress_since(&s->started);
	if (p->mode == PROGRESS_PLAIN)
		plain_status(p, s, text);
	else if (p->mode == PROGRESS_TTY)
		tty_redraw(p);
	else if (p->mode == PROGRESS_RAWJSON)
		json_status(p, s, text);
}

static void render_end(struct progress *p, unsigned id, bool cached, const char *failure)
{
	struct step *s = find_step(p, id);
	if (!s || s->state != STEP_RUNNING)
		return;
	if (s->partial.buf.len || s->partial.cut)
		add_line(p, s);
	s->seconds = progress_since(&s->started);
	s->state = failure ? STEP_FAILED : (cached ? STEP_CACHED : STEP_DONE);
	s->failure = failure ? xstrdup(failure) : NULL;
	show_step(p, s, plain_end);
}

static void render_note(struct progress *p, const char *text)
{
	if (p->mode == PROGRESS_PLAIN)
		plain_note(p, text);
	else if (p->mode == PROGRESS_TTY)
		tty_note(p, text);
	/* rawjson carries BuildKit's objects only; a note is a warning molt also logs. */
}

/* --explain-cache: a line under the step (quiet: still printed, without a number). */
static void render_explain(struct progress *p, unsigned id, const char *text)
{
	struct step *s = find_step(p, id);
	if (p->mode == PROGRESS_PLAIN && s) {
		plain_status(p, s, text);
	} else if (p->mode == PROGRESS_PLAIN) {
		plain_note(p, text);
	} else if (p->mode == PROGRESS_TTY) {
		tty_note(p, text);
	} else if (p->mode == PROGRESS_RAWJSON && s) {
		_cleanup_free_ char *line = xasprintf("%s\n", text);
		json_log(p, s, line, strlen(line));
	} else if (p->mode == PROGRESS_QUIET) {
		_cleanup_free_ char *safe = term_escape(text);
		progress_emitf(p, "%s\n", safe);
	}
}

void progress_tick(struct progress *p)
{
	if (p->mode == PROGRESS_TTY)
		tty_redraw(p);
}

/* BuildKit's Source.Print: two lines of context around a range, four around one line. */
static void print_excerpt(struct progress *p, const struct step *s)
{
	/* BuildKit splits the file at '\n': the newline ending the last line gives one
	 * more, empty, line that the excerpt may show. */
	int n = (int)p->n_src_lines + 1;
	if (!p->src_lines || s->line < 1 || s->line >= n)
		return;
	int start = s->line, end = s->end_line > n ? n : s->end_line;
	int pad = end == start ? 4 : 2;
	for (int k = 0; k < pad; k++) {
		if (start > 1) {
			start--;
			k++;
		}
		if (end != n) {
			end++;
			k++;
		}
	}
	progress_emitf(p, "%s:%d\n--------------------\n", p->src_name ? p->src_name : "Dockerfile",
		       s->line);
	for (int i = start; i <= end; i++) {
		bool hit = i >= s->line && i <= s->end_line;
		_cleanup_free_ char *safe = term_escape(i < n ? p->src_lines[i - 1] : "");
		progress_emitf(p, " %3d | %s %s\n", i, hit ? ">>>" : "   ", safe);
	}
	progress_emit(p, "--------------------\n", 21);
}

void progress_cancel_running(struct progress *p)
{
	/* Steps a failing sibling stage cut short never ended: BuildKit's CANCELED. */
	for (size_t i = 0; p && i < p->n_steps; i++) {
		struct step *s = &p->steps[i];
		if (s->state != STEP_RUNNING && s->state != STEP_WAITING)
			continue;
		s->state = STEP_CANCELED;
		s->seconds = progress_since(&s->started);
		if (p->mode == PROGRESS_PLAIN)
			plain_end(p, s);
		else if (p->mode == PROGRESS_RAWJSON)
			json_vertex(p, s);
	}
	if (p && p->mode == PROGRESS_TTY)
		tty_redraw(p);
}

void progress_finish(struct progress *p, const char *error)
{
	progress_cancel_running(p);
	if (p->mode == PROGRESS_TTY) {
		p->finished = true;
		tty_redraw(p);
	}
	if (!error || (p->mode != PROGRESS_PLAIN && p->mode != PROGRESS_TTY))
		return;
	if (p->mode == PROGRESS_PLAIN && p->open_seq)
		progress_emit(p, "\n", 1);
	p->open_seq = 0;
	progress_print_error_logs(p);
	/* The first failed step's own error, as BuildKit's (molt's message adds where). */
	const char *why = error;
	for (size_t i = 0; i < p->n_steps; i++)
		if (p->steps[i].state == STEP_FAILED) {
			print_excerpt(p, &p->steps[i]);
			why = p->steps[i].failure ? p->steps[i].failure : error;
			break;
		}
	_cleanup_free_ char *safe = term_escape(why);
	progress_emitf(p, "ERROR: failed to solve: %s\n", safe);
}

/* --- the frame transport for worker processes ------------------------------------ */

static void send_frame(int fd, char type, unsigned id, const char *data, size_t len)
{
	while (true) {
		size_t n = len > FRAME_MAX - FRAME_HEADER ? FRAME_MAX - FRAME_HEADER : len;
		char frame[FRAME_MAX];
		uint32_t id32 = id, n32 = (uint32_t)n;
		frame[0] = type;
		memcpy(frame + 1, &id32, 4);
		memcpy(frame + 5, &n32, 4);
		if (n)
			memcpy(frame + FRAME_HEADER, data, n);
		/* One write(2) of at most PIPE_BUF bytes is atomic on a pipe. */
		(void)write_all(fd, frame, FRAME_HEADER + n);
		data += n;
		len -= n;
		if (len == 0)
			return;
	}
}

void progress_start_at(const struct progress_out *o, unsigned id, const char *title, int line,
		       int end_line)
{
	if (o->direct) {
		render_start(o->direct, id, title, line, end_line);
	} else if (o->fd >= 0) {
		/* "LINE END TITLE": the title is cut to fit one frame. */
		_cleanup_free_ char *payload = xasprintf("%d %d %.3800s", line, end_line, title);
		send_frame(o->fd, 'S', id, payload, strlen(payload));
	}
}

void progress_wait(const struct progress_out *o, unsigned id, const char *title,
		   const char *what)
{
	if (o->direct) {
		render_wait(o->direct, id, title, what);
	} else if (o->fd >= 0) {
		/* "TITLE\0WHAT": both cut to fit one frame. */
		_cleanup_free_ char *t = xstrndup(title, 3000), *w = xstrndup(what, 800);
		_cleanup_free_ char *payload = xasprintf("%s%c%s", t, '\0', w);
		send_frame(o->fd, 'W', id, payload, strlen(t) + 1 + strlen(w));
	}
}

void progress_start(const struct progress_out *o, unsigned id, const char *title)
{
	progress_start_at(o, id, title, 0, 0);
}

void progress_output(const struct progress_out *o, unsigned id, const char *data, size_t len)
{
	if (o->direct)
		render_output(o->direct, id, data, len);
	else if (o->fd >= 0 && len)
		send_frame(o->fd, 'O', id, data, len);
}

void progress_status(const struct progress_out *o, unsigned id, const char *text)
{
	if (o->direct)
		render_status(o->direct, id, text);
	else if (o->fd >= 0)
		send_frame(o->fd, 'T', id, text, strnlen(text, FRAME_MAX - FRAME_HEADER));
}

void progress_end(const struct progress_out *o, unsigned id, bool cached, const char *failure)
{
	if (o->direct) {
		render_end(o->direct, id, cached, failure);
	} else if (o->fd >= 0) {
		_cleanup_free_ char *payload = xasprintf(
			"%c%.4000s", failure ? 'F' : (cached ? 'C' : 'D'), failure ? failure : "");
		send_frame(o->fd, 'E', id, payload, strlen(payload));
	}
}

void progress_explain(const struct progress_out *o, unsigned id, const char *text)
{
	if (o->direct)
		render_explain(o->direct, id, text);
	else if (o->fd >= 0)
		send_frame(o->fd, 'X', id, text, strlen(text));
}

void progress_note(const struct progress_out *o, const char *text)
{
	if (o->direct)
		render_note(o->direct, text);
	else if (o->fd >= 0)
		send_frame(o->fd, 'N', 0, text, strnlen(text, FRAME_MAX - FRAME_HEADER));
}

static int dispatch_start(struct progress *p, unsigned id, const char *s)
{
	int line = 0, end_line = 0, used = 0;
	if (sscanf(s, "%d %d %n", &line, &end_line, &used) < 2 || used <= 0)
		return -EBADMSG;
	render_start(p, id, s + used, line, end_line);
	return 0;
}

static int dispatch_frame(struct progress *p, char type, unsigned id, const char *d, size_t n)
{
	_cleanup_free_ char *s = xstrndup(d, n);
	switch (type) {
	case 'S':
		return dispatch_start(p, id, s);
	case 'O':
		render_output(p, id, d, n);
		return 0;
	case 'T':
		render_status(p, id, s);
		return 0;
	case 'E':
		if (n < 1)
			return -EBADMSG;
		render_end(p, id, s[0] == 'C', s[0] == 'F' ? s + 1 : NULL);
		return 0;
	case 'N':
		render_note(p, s);
		return 0;
	case 'W': {
		const char *nul = memchr(d, '\0', n);
		if (!nul)
			return -EBADMSG;
		_cleanup_free_ char *what = xstrndup(nul + 1, n - (size_t)(nul + 1 - d));
		render_wait(p, id, s, what);
		return 0;
	}
	case 'X':
		render_explain(p, id, s);
		return 0;
	default:
		return -EBADMSG;
	}
}

int progress_drain(struct progress *p, int fd)
{
	char buf[16384];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return 1;
	strbuf_add(&p->inbuf, buf, (size_t)n);
	size_t off = 0;
	while (p->inbuf.len - off >= FRAME_HEADER) {
		const char *f = p->inbuf.buf + off;
		uint32_t id, len;
		memcpy(&id, f + 1, 4);
		memcpy(&len, f + 5, 4);
		if (len > FRAME_MAX - FRAME_HEADER)
			return -EBADMSG;
		if (p->inbuf.len - off < FRAME_HEADER + len)
			break;
		int r = dispatch_frame(p, f[0], id, f + FRAME_HEADER, len);
		if (r < 0)
			return r;
		off += FRAME_HEADER + len;
	}
	memmove(p->inbuf.buf, p->inbuf.buf + off, p->inbuf.len - off);
	p->inbuf.len -= off;
	p->inbuf.buf[p->inbuf.len] = '\0';
	return 0;
}

char *progress_tail(struct progress *p, unsigned id, unsigned lines)
{
	struct step *s = find_step(p, id);
	struct strbuf sb = STRBUF_INIT;
	if (!s)
		return strbuf_detach(&sb);
	unsigned show = s->count < lines ? s->count : lines;
	for (unsigned k = s->count - show; k < s->count; k++)
		strbuf_addf(&sb, "%s\n", progress_step_line(s, k));
	if (s->partial.buf.len || s->partial.cut) {
		struct progress_line copy = {STRBUF_INIT, s->partial.cut};
		strbuf_add(&copy.buf, s->partial.buf.buf, s->partial.buf.len);
		_cleanup_free_ char *l = progress_line_take(&copy);
		strbuf_addf(&sb, "%s\n", l);
	}
	return strbuf_detach(&sb);
}
