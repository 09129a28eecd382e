/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plain progress, as BuildKit's text printer (progressui/printer.go): a block per step
 * headed "#N <title>", its lines "#N <seconds> <text>", a blank line between blocks;
 * when another step's event comes first, the open block ends with "#N ..." and is
 * headed again when it goes on. Every untrusted byte is escaped (lib/termesc.c).
 */
#include <string.h>

#include "progress_int.h"

/* Ends a stream line left open (a step's output without its newline yet). */
static void close_line(struct progress *p)
{
	if (p->open_seq) {
		progress_emit(p, "\n", 1);
		p->open_seq = 0;
	}
}

/* Starts a new block: closes the open line, ends the current step's block with "#N ..."
 * and leaves a blank line after whatever came before. */
static void new_block(struct progress *p)
{
	close_line(p);
	if (p->cur_seq) {
		progress_emitf(p, "#%u ...\n", p->cur_seq);
		p->cur_seq = 0;
	}
	if (p->printed_any)
		progress_emit(p, "\n", 1);
	p->printed_any = true;
}

/* Makes s the step being printed: ends another step's open block, heads s's. */
static void enter(struct progress *p, struct step *s)
{
	if (p->cur_seq == s->seq)
		return;
	new_block(p);
	_cleanup_free_ char *safe = term_escape(s->title);
	progress_emitf(p, "#%u %s\n", s->seq, safe);
	p->cur_seq = s->seq;
}

/* BuildKit's log timestamp: 3 decimals under 10 s, 2 under 100 s, else 1. */
static void emit_prefix(struct progress *p, const struct step *s, double at)
{
	int prec = at < 10 ? 3 : at < 100 ? 2 : 1;
	progress_emitf(p, "#%u %.*f ", s->seq, prec, at);
}

void plain_start(struct progress *p, struct step *s)
{
	enter(p, s);
}

void plain_line(struct progress *p, struct step *s, const char *line, double at)
{
	if (p->open_seq && p->open_seq != s->seq) {
		progress_emit(p, "\n", 1);
		p->open_seq = 0;
	}
	enter(p, s);
	emit_prefix(p, s, at);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	term_escape_to(&sb, line, strlen(line));
	strbuf_addc(&sb, '\n');
	progress_emit(p, strbuf_str(&sb), sb.len);
}

void plain_stream(struct progress *p, struct step *s, const char *data, size_t n)
{
	if (p->open_seq != s->seq || p->cur_seq != s->seq) {
		enter(p, s);
		emit_prefix(p, s, s->partial_at);
		/* The first time: the kept part; after an interruption, only new bytes. */
		if (!s->streaming) {
			_cleanup_strbuf_ struct strbuf kept = STRBUF_INIT;
			term_escape_to(&kept, s->partial.buf.buf ? s->partial.buf.buf : "",
				       s->partial.buf.len);
			progress_emit(p, strbuf_str(&kept), kept.len);
		}
		p->open_seq = s->seq;
	}
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	term_escape_to(&sb, data, n);
	progress_emit(p, strbuf_str(&sb), sb.len);
}

void plain_line_end(struct progress *p, struct step *s)
{
	if (p->open_seq == s->seq) {
		progress_emit(p, "\n", 1);
		p->open_seq = 0;
	}
}

void plain_status(struct progress *p, struct step *s, const char *text)
{
	close_line(p);
	enter(p, s);
	_cleanup_free_ char *safe = term_escape(text);
	progress_emitf(p, "#%u %s\n", s->seq, safe);
}

void plain_end(struct progress *p, struct step *s)
{
	close_line(p);
	enter(p, s);
	if (s->state == STEP_FAILED) {
		_cleanup_free_ char *safe = term_escape(s->failure);
		progress_emitf(p, "#%u ERROR: %s\n", s->seq, safe);
	} else if (s->state == STEP_CANCELED) {
		progress_emitf(p, "#%u CANCELED\n", s->seq);
	} else if (s->state == STEP_CACHED) {
		progress_emitf(p, "#%u CACHED\n", s->seq);
	} else {
		progress_emitf(p, "#%u DONE %.1fs\n", s->seq, s->seconds);
	}
	p->cur_seq = 0;
}

void plain_note(struct progress *p, const char *text)
{
	new_block(p);
	_cleanup_free_ char *safe = term_escape(text);
	progress_emitf(p, "%s\n", safe);
}

void progress_print_error_logs(struct progress *p)
{
	for (size_t i = 0; i < p->n_steps; i++) {
		const struct step *s = &p->steps[i];
		if (s->state != STEP_FAILED)
			continue;
		_cleanup_free_ char *title = term_escape(s->title);
		progress_emitf(p, "------\n > %s:\n", title);
		/* BuildKit keeps the last 10 lines for this block. */
		unsigned show = s->count < 10 ? s->count : 10;
		for (unsigned k = s->count - show; k < s->count; k++) {
			_cleanup_free_ char *l = term_escape(progress_step_line(s, k));
			progress_emitf(p, "%s\n", l);
		}
		progress_emit(p, "------\n", 7);
	}
}

void plain_wait(struct progress *p, struct step *s)
{
	new_block(p);
	_cleanup_free_ char *t = term_escape(s->title);
	_cleanup_free_ char *w = term_escape(s->wait_for ? s->wait_for : "");
	progress_emitf(p, "#%u %s waiting for %s\n", s->seq, t, w);
}
