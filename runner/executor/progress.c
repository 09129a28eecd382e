/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "progress.h"

#define TAIL_LINES 20u      /* kept per step for the error message of a failing RUN */
#define TTY_LIVE_LINES 6u   /* output lines shown under a running step */
#define FRAME_HEADER 9u     /* type, id, length */
#define FRAME_MAX 4096u     /* ≤ PIPE_BUF: frames from parallel workers never interleave */

enum step_state { STEP_RUNNING, STEP_DONE, STEP_CACHED, STEP_FAILED };

struct step {
	unsigned id;
	unsigned seq; /* "#N" in plain output: the order steps started in */
	char *title;
	enum step_state state;
	struct timespec started;
	double seconds;
	char *lines[TAIL_LINES]; /* ring buffer of the last lines */
	unsigned head, count;
	struct progress_line partial;
	bool streaming; /* plain: the partial line is past the cap and being streamed */
};

struct progress {
	enum progress_mode mode;
	int fd;
	struct step *steps;
	size_t n_steps;
	unsigned next_seq;
	unsigned live_lines; /* tty: lines of the live region currently on screen */
	unsigned open_seq;   /* plain: the step (seq) whose streamed long line has no '\n' yet */
	struct strbuf inbuf; /* partial frames read by progress_drain() */
};

int progress_mode_parse(const char *s, enum progress_mode *ret)
{
	static const char *const names[] = {"auto", "plain", "tty", "quiet"};
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
	if (mode == PROGRESS_AUTO)
		mode = isatty(fd) ? PROGRESS_TTY : PROGRESS_PLAIN;
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
		free(p->steps[i].title);
		for (unsigned k = 0; k < TAIL_LINES; k++)
			free(p->steps[i].lines[k]);
		progress_line_done(&p->steps[i].partial);
	}
	free(p->steps);
	strbuf_done(&p->inbuf);
	free(p);
}

static struct step *find_step(struct progress *p, unsigned id)
{
	for (size_t i = 0; i < p->n_steps; i++)
		if (p->steps[i].id == id)
			return &p->steps[i];
	return NULL;
}

static double since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void emit(struct progress *p, const char *s, size_t n)
{
	(void)write_all(p->fd, s, n);
}

static void emitf(struct progress *p, const char *fmt, ...) MOLT_PRINTF(2, 3);
static void emitf(struct progress *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = xvasprintf(fmt, ap);
	va_end(ap);
	emit(p, s, strlen(s));
}

/*
 * Terminal control bytes in a step's output must not move our cursor nor reach the
 * terminal (OSC 52, CSI): shown escaped (lib/termesc.c), then cut to the width,
 * never inside a UTF-8 sequence.
 */
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

static unsigned tty_width(struct progress *p)
{
	struct winsize ws;
	if (ioctl(p->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

static void tty_clear_live(struct progress *p)
{
	if (p->live_lines)
		emitf(p, "\r\033[%uA\033[J", p->live_lines);
	p->live_lines = 0;
}

static void tty_draw_live(struct progress *p)
{
	unsigned width = tty_width(p);
	struct strbuf sb = STRBUF_INIT;
	unsigned lines = 0;
	for (size_t i = 0; i < p->n_steps; i++) {
		struct step *s = &p->steps[i];
		if (s->state != STEP_RUNNING)
			continue;
		_cleanup_free_ char *t = sanitize(s->title, width - 12);
		strbuf_addf(&sb, "\033[1m=> %s\033[0m %.1fs\n", t, since(&s->started));
		lines++;
		unsigned show = s->count < TTY_LIVE_LINES ? s->count : TTY_LIVE_LINES;
		for (unsigned k = s->count - show; k < s->count; k++) {
			unsigned idx = (s->head + TAIL_LINES - s->count + k) % TAIL_LINES;
			_cleanup_free_ char *l = sanitize(s->lines[idx], width - 5);
			strbuf_addf(&sb, "\033[2m   %s\033[0m\n", l);
			lines++;
		}
	}
	emit(p, strbuf_str(&sb), sb.len);
	strbuf_done(&sb);
	p->live_lines = lines;
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

/* plain: another step's text is due while a streamed long line is unfinished. */
static void close_open_line(struct progress *p)
{
	if (!p->open_seq)
		return;
	emit(p, "\n", 1);
	p->open_seq = 0;
}

/* The step's partial line is complete: keep it (capped) and print it in plain mode. */
static void add_line(struct progress *p, struct step *s)
{
	bool streamed = s->streaming;
	free(s->lines[s->head]);
	s->lines[s->head] = progress_line_take(&s->partial);
	s->streaming = false;
	if (p->mode == PROGRESS_PLAIN) {
		if (streamed && p->open_seq == s->seq) {
			emit(p, "\n", 1);
			p->open_seq = 0;
		} else if (!streamed) {
			close_open_line(p);
			_cleanup_free_ char *safe = term_escape(s->lines[s->head]);
			emitf(p, "#%u %s\n", s->seq, safe);
		}
	}
	s->head = (s->head + 1) % TAIL_LINES;
	if (s->count < TAIL_LINES)
		s->count++;
}

/* Writes untrusted step text to the terminal with its control bytes escaped. */
static void emit_escaped(struct progress *p, const char *data, size_t n)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	term_escape_to(&sb, data, n);
	emit(p, strbuf_str(&sb), sb.len);
}

/* plain: bytes past the cap are not kept but still printed, as they come. */
static void stream_cut(struct progress *p, struct step *s, const char *data, size_t n)
{
	if (p->mode != PROGRESS_PLAIN || !n)
		return;
	if (p->open_seq != s->seq) {
		close_open_line(p);
		/* The first time: the kept part; after an interruption: a fresh prefix. */
		emitf(p, "#%u ", s->seq);
		if (!s->streaming)
			emit_escaped(p, s->partial.buf.buf ? s->partial.buf.buf : "",
				     s->partial.buf.len);
		p->open_seq = s->seq;
	}
	s->streaming = true;
	emit_escaped(p, data, n);
}

static void render_start(struct progress *p, unsigned id, const char *title)
{
	p->steps = xrealloc(p->steps, (p->n_steps + 1) * sizeof(*p->steps));
	struct step *s = &p->steps[p->n_steps++];
	*s = (struct step){.id = id, .seq = ++p->next_seq, .title = xstrdup(title)};
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	if (p->mode == PROGRESS_PLAIN) {
		close_open_line(p);
		_cleanup_free_ char *safe = term_escape(title);
		emitf(p, "#%u %s\n", s->seq, safe);
	} else if (p->mode == PROGRESS_TTY)
		progress_tick(p);
}

static void render_output(struct progress *p, unsigned id, const char *data, size_t len)
{
	struct step *s = find_step(p, id);
	if (!s)
		return;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		size_t kept = progress_line_add(&s->partial, data, n);
		stream_cut(p, s, data + kept, n - kept);
		if (nl) {
			add_line(p, s);
			n++;
		}
		data += n;
		len -= n;
	}
}

static void render_end(struct progress *p, unsigned id, bool cached, const char *failure)
{
	struct step *s = find_step(p, id);
	if (!s)
		return;
	if (s->partial.buf.len || s->partial.cut)
		add_line(p, s);
	if (p->mode == PROGRESS_PLAIN)
		close_open_line(p);
	s->seconds = since(&s->started);
	s->state = failure ? STEP_FAILED : (cached ? STEP_CACHED : STEP_DONE);
	if (p->mode == PROGRESS_PLAIN) {
		if (failure) {
			_cleanup_free_ char *safe = term_escape(failure);
			emitf(p, "#%u ERROR: %s\n", s->seq, safe);
		}
		else if (cached)
			emitf(p, "#%u CACHED\n", s->seq);
		else
			emitf(p, "#%u DONE %.1fs\n", s->seq, s->seconds);
	} else if (p->mode == PROGRESS_TTY) {
		tty_clear_live(p);
		_cleanup_free_ char *t = sanitize(s->title, tty_width(p) - 16);
		_cleanup_free_ char *when = cached ? xstrdup("CACHED") : xasprintf("%.1fs", s->seconds);
		emitf(p, "%s %s %s\n", failure ? "\033[31m✗\033[0m" : "\033[32m✓\033[0m", t, when);
		tty_draw_live(p);
	}
}

static void render_note(struct progress *p, const char *text)
{
	if (p->mode == PROGRESS_QUIET)
		return;
	if (p->mode == PROGRESS_TTY)
		tty_clear_live(p);
	close_open_line(p);
	_cleanup_free_ char *safe = term_escape(text);
	emitf(p, "%s\n", safe);
	if (p->mode == PROGRESS_TTY)
		tty_draw_live(p);
}

static void render_explain(struct progress *p, unsigned id, const char *text)
{
	struct step *s = find_step(p, id);
	if (p->mode == PROGRESS_TTY)
		tty_clear_live(p);
	close_open_line(p);
	_cleanup_free_ char *safe = term_escape(text);
	if (p->mode == PROGRESS_PLAIN && s)
		emitf(p, "#%u %s\n", s->seq, safe);
	else
		emitf(p, "%s\n", safe);
	if (p->mode == PROGRESS_TTY)
		tty_draw_live(p);
}

void progress_tick(struct progress *p)
{
	if (p->mode != PROGRESS_TTY)
		return;
	tty_clear_live(p);
	tty_draw_live(p);
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

void progress_start(const struct progress_out *o, unsigned id, const char *title)
{
	if (o->direct)
		render_start(o->direct, id, title);
	else if (o->fd >= 0)
		send_frame(o->fd, 'S', id, title, strlen(title));
}

void progress_output(const struct progress_out *o, unsigned id, const char *data, size_t len)
{
	if (o->direct)
		render_output(o->direct, id, data, len);
	else if (o->fd >= 0 && len)
		send_frame(o->fd, 'O', id, data, len);
}

void progress_end(const struct progress_out *o, unsigned id, bool cached, const char *failure)
{
	if (o->direct) {
		render_end(o->direct, id, cached, failure);
	} else if (o->fd >= 0) {
		_cleanup_free_ char *payload =
			xasprintf("%c%s", failure ? 'F' : (cached ? 'C' : 'D'), failure ? failure : "");
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
		send_frame(o->fd, 'N', 0, text, strlen(text));
}

static int dispatch_frame(struct progress *p, char type, unsigned id, const char *d, size_t n)
{
	_cleanup_free_ char *s = xstrndup(d, n);
	switch (type) {
	case 'S':
		render_start(p, id, s);
		return 0;
	case 'O':
		render_output(p, id, d, n);
		return 0;
	case 'E':
		if (n < 1)
			return -EBADMSG;
		render_end(p, id, s[0] == 'C', s[0] == 'F' ? s + 1 : NULL);
		return 0;
	case 'N':
		render_note(p, s);
		return 0;
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
	for (unsigned k = s->count - show; k < s->count; k++) {
		unsigned idx = (s->head + TAIL_LINES - s->count + k) % TAIL_LINES;
		strbuf_addf(&sb, "%s\n", s->lines[idx]);
	}
	if (s->partial.buf.len || s->partial.cut) {
		struct progress_line copy = {STRBUF_INIT, s->partial.cut};
		strbuf_add(&copy.buf, s->partial.buf.buf, s->partial.buf.len);
		_cleanup_free_ char *l = progress_line_take(&copy);
		strbuf_addf(&sb, "%s\n", l);
	}
	return strbuf_detach(&sb);
}
