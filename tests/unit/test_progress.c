/* SPDX-License-Identifier: Apache-2.0 */
/* runner/executor/progress.c: plain output, the worker frame transport, failure tails. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "../../runner/executor/progress.h"
#include "tap.h"

#include <jansson.h>

/* Drops BuildKit's per-line times ("#3 0.512 text" → "#3 text"): they vary from run to run. */
static char *strip_times(char *s)
{
	char *w = s;
	for (const char *r = s; *r;) {
		bool line_start = r == s || r[-1] == '\n';
		*w++ = *r++;
		if (!line_start || r[-1] != '#')
			continue;
		while (*r >= '0' && *r <= '9')
			*w++ = *r++;
		if (*r != ' ')
			continue;
		*w++ = *r++;
		const char *t = r;
		while (*t >= '0' && *t <= '9')
			t++;
		if (t > r && *t == '.') {
			t++;
			while (*t >= '0' && *t <= '9')
				t++;
			if (*t == ' ' && t[-1] != '.')
				r = t + 1;
		}
	}
	*w = '\0';
	return s;
}

/* Runs the renderer into a pipe and returns what it wrote. */
static char *capture(enum progress_mode mode, void (*fn)(struct progress *p))
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return xstrdup("");
	struct progress *p = progress_new(mode, fds[1]);
	fn(p);
	progress_free(p);
	close(fds[1]);
	char buf[65536];
	ssize_t n = read_full(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	return strip_times(xstrndup(buf, n > 0 ? (size_t)n : 0));
}

static void plain_steps(struct progress *p)
{
	struct progress_out o = {.direct = p, .fd = -1};
	progress_start(&o, 7, "[builder 1/2] RUN make");
	progress_output(&o, 7, "cc -c a.c\npartial", 17);
	progress_output(&o, 7, " line\n", 6);
	progress_end(&o, 7, false, NULL);
	progress_start(&o, 8, "[builder 2/2] COPY . .");
	progress_end(&o, 8, true, NULL);
	progress_start(&o, 9, "[final 1/1] RUN false");
	progress_end(&o, 9, false, "exit status 1");
}

static void test_plain(void)
{
	_cleanup_free_ char *out = capture(PROGRESS_PLAIN, plain_steps);
	tap_ok(strstr(out, "#1 [builder 1/2] RUN make\n") != NULL,
	       "plain: a step starts with '#N [stage i/n] INSTRUCTION'");
	tap_ok(strstr(out, "#1 cc -c a.c\n#1 partial line\n") != NULL,
	       "plain: output lines are prefixed with the step, partial lines joined");
	tap_ok(strstr(out, "#1 DONE ") != NULL, "plain: a finished step says DONE with its time");
	tap_ok(strstr(out, "#2 CACHED\n") != NULL, "plain: a cached step says CACHED");
	tap_ok(strstr(out, "#3 ERROR: exit status 1\n") != NULL,
	       "plain: a failing step says ERROR with the reason");
	_cleanup_free_ char *quiet = capture(PROGRESS_QUIET, plain_steps);
	tap_str_eq(quiet, "", "quiet: prints nothing");
}

static void frames(struct progress *p)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	struct progress_out w = {.direct = NULL, .fd = fds[1]};
	progress_start(&w, 1, "[a 1/1] RUN x");
	char big[10000]; /* ten lines of 1,000 bytes: more than one frame, under the line cap */
	memset(big, 'x', sizeof(big));
	for (size_t i = 999; i < sizeof(big); i += 1000)
		big[i] = '\n';
	progress_output(&w, 1, big, sizeof(big));
	progress_note(&w, "a note");
	progress_end(&w, 1, false, "exit status 3");
	close(fds[1]);
	int r;
	while ((r = progress_drain(p, fds[0])) == 0)
		;
	close(fds[0]);
	_cleanup_free_ char *tail = progress_tail(p, 1, 10);
	tap_ok(strlen(tail) == sizeof(big), "frames: output larger than one frame arrives whole");
}

static void test_frames(void)
{
	_cleanup_free_ char *out = capture(PROGRESS_PLAIN, frames);
	tap_ok(strstr(out, "#1 [a 1/1] RUN x\n") && strstr(out, "a note\n") &&
		       strstr(out, "#1 ERROR: exit status 3\n"),
	       "frames: a worker's events are rendered by the main process");
}

static void many_lines(struct progress *p)
{
	struct progress_out o = {.direct = p, .fd = -1};
	progress_start(&o, 1, "[s 1/1] RUN seq 25");
	for (int i = 1; i <= 25; i++) {
		char l[16];
		int n = snprintf(l, sizeof(l), "%d\n", i);
		progress_output(&o, 1, l, (size_t)n);
	}
	progress_end(&o, 1, false, "exit status 1");
	_cleanup_free_ char *tail = progress_tail(p, 1, 20);
	tap_ok(str_startswith(tail, "6\n7\n") && str_endswith(tail, "24\n25\n"),
	       "tail: the last 20 lines of a failing step are kept for its error");
}

static void tty_steps(struct progress *p)
{
	struct progress_out o = {.direct = p, .fd = -1};
	progress_start(&o, 1, "[s 1/1] RUN evil");
	progress_output(&o, 1, "\033]0;pwned\007ok\n", 13);
	progress_tick(p);
	progress_end(&o, 1, false, NULL);
}

static void test_misc(void)
{
	_cleanup_free_ char *x = capture(PROGRESS_PLAIN, many_lines);
	_cleanup_free_ char *t = capture(PROGRESS_TTY, tty_steps);
	tap_ok(strstr(t, "]0;pwned") && !strstr(t, "\033]0;pwned"),
	       "tty: escape sequences from a step's output are neutralised");
	enum progress_mode m;
	tap_ok(progress_mode_parse("tty", &m) == 0 && m == PROGRESS_TTY &&
		       progress_mode_parse("fancy", &m) == -EINVAL,
	       "--progress accepts auto, plain, tty, quiet only");
}

/* lib/termesc.c: what reaches the terminal from untrusted text. */
static void test_term_escape(void)
{
	struct {
		const char *in, *want, *what;
	} cases[] = {
		{"\033]52;c;aGk=\a", "^[]52;c;aGk=^G", "OSC 52 (clipboard write): ESC and BEL"},
		{"\033[2J\033[H", "^[[2J^[[H", "CSI clear screen and cursor home"},
		{"a\tb\nc", "a\tb\nc", "tab and newline stay"},
		{"\r\b\x7f\x01", "^M^H^?^A", "other C0 controls and DEL in caret notation"},
		{"\x9b" "2J \x9d" "52", "\\x9b2J \\x9d52", "C1 CSI/OSC bytes outside UTF-8"},
		{"\xc2\x9b" "2J", "\\xc2\\x9b2J", "C1 CSI encoded in UTF-8 (U+009B)"},
		{"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x90\xb3", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x90\xb3",
		 "valid UTF-8 text stays (é ✓ 🐳)"},
		{"\xe2\x80", "\xe2\\x80", "a truncated sequence: its C1 continuation byte escaped"},
		{"\xc0\x9b", "\xc0\\x9b", "an overlong encoding is not UTF-8: 0x9b escaped"},
		{"plain text", "plain text", "plain ASCII is unchanged"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *got = term_escape(cases[i].in);
		_cleanup_free_ char *name = xasprintf("term_escape: %s", cases[i].what);
		tap_str_eq(got, cases[i].want, name);
	}
}

static bool has_raw_control(const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c == 0x1b || *c == 0x07 || (*c >= 0x80 && *c <= 0x9f))
			return true;
	return false;
}

static void hostile_steps(struct progress *p)
{
	struct progress_out o = {.direct = p, .fd = -1};
	progress_start(&o, 1, "[s 1/1] RUN printf \033[2J");
	const char out[] = "\033]52;c;aGk=\aclip\n\033[2Jcls\n\x9b" "31mred\n";
	progress_output(&o, 1, out, sizeof(out) - 1);
	progress_note(&o, "note \033[H");
	progress_end(&o, 1, false, "exit status 1 \033[2J");
}

static void hostile_tty(struct progress *p)
{
	struct progress_out o = {.direct = p, .fd = -1};
	progress_start(&o, 1, "[s 1/1] RUN evil");
	const char out[] = "\033]52;c;aGk=\aclip\n\x9b" "31mred\n";
	progress_output(&o, 1, out, sizeof(out) - 1);
	progress_tick(p);
	progress_end(&o, 1, false, NULL);
}

static void test_hostile_output(void)
{
	_cleanup_free_ char *plain = capture(PROGRESS_PLAIN, hostile_steps);
	tap_ok(!has_raw_control(plain), "plain: no raw ESC, BEL or C1 byte reaches the terminal");
	tap_ok(strstr(plain, "#1 ^[]52;c;aGk=^Gclip\n") && strstr(plain, "#1 ^[[2Jcls\n") &&
		       strstr(plain, "#1 \\x9b31mred\n"),
	       "plain: OSC 52, CSI and a C1 byte are shown escaped");
	tap_ok(strstr(plain, "note ^[[H\n") && strstr(plain, "ERROR: exit status 1 ^[[2J"),
	       "plain: notes and the failure line are escaped too");
	_cleanup_free_ char *tty = capture(PROGRESS_TTY, hostile_tty);
	/* molt's own styling is ESC [ ... m; nothing else may hold an ESC. */
	tap_ok(!strstr(tty, "\033]") && !strstr(tty, "\x9b") && strstr(tty, "^[]52;c;aGk=^Gclip"),
	       "tty: OSC 52 and a C1 byte are shown escaped in the live view");
}

/* Like capture(), into a file: the long-line cases write more than a pipe holds. */
static char *capture_file(enum progress_mode mode, void (*fn)(struct progress *p))
{
	int fd = memfd_create("progress", MFD_CLOEXEC);
	if (fd < 0)
		return xstrdup("");
	struct progress *p = progress_new(mode, fd);
	fn(p);
	progress_free(p);
	struct strbuf sb = STRBUF_INIT;
	char buf[65536];
	ssize_t n;
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		strbuf_add(&sb, buf, (size_t)n);
	close(fd);
	return strip_times(strbuf_detach(&sb));
}

static char *repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static char *long_tail;

/* 100,000 bytes without a newline, in pieces, then a short line. */
static void long_line(struct progress *p)
{
	struct progress_out o = {.direct = p, .fd = -1};
	_cleanup_free_ char *b = repeat('b', 7000);
	progress_start(&o, 1, "[s 1/1] RUN spew");
	size_t left = 100000;
	while (left) {
		size_t n = left < 7000 ? left : 7000;
		progress_output(&o, 1, b, n);
		left -= n;
	}
	progress_output(&o, 1, "\nnext\n", 6);
	progress_end(&o, 1, false, "exit status 1");
	long_tail = progress_tail(p, 1, 5);
}

/* A long line of step 1 is cut short by step 2 starting, then finished. */
static void interleaved(struct progress *p)
{
	struct progress_out o = {.direct = p, .fd = -1};
	_cleanup_free_ char *b = repeat('b', 5000);
	progress_start(&o, 1, "[a 1/1] RUN spew");
	progress_output(&o, 1, b, 5000);
	progress_start(&o, 2, "[b 1/1] RUN x");
	progress_output(&o, 1, "bb\n", 3);
	progress_end(&o, 1, false, NULL);
	progress_end(&o, 2, false, NULL);
}

static void test_long_lines(void)
{
	_cleanup_free_ char *out = capture_file(PROGRESS_PLAIN, long_line);
	_cleanup_free_ char *b100k = repeat('b', 100000), *b4k = repeat('b', PROGRESS_LINE_MAX);
	_cleanup_free_ char *want = xasprintf("#1 %s\n#1 next\n", b100k);
	tap_ok(strstr(out, want) != NULL, "long line: plain progress prints all of it, once");
	_cleanup_free_ char *want_tail = xasprintf("%s… (95904 bytes cut)\nnext\n", b4k);
	tap_str_eq(long_tail ? long_tail : "", want_tail,
		   "long line: the failure tail keeps 4 KiB of it and says how much was cut");
	free(long_tail);
	_cleanup_free_ char *il = capture_file(PROGRESS_PLAIN, interleaved);
	_cleanup_free_ char *b5k = repeat('b', 5000);
	_cleanup_free_ char *want_il = xasprintf("#1 %s\n#1 ...\n\n#2 [b 1/1] RUN x\n#2 ...\n\n"
						 "#1 [a 1/1] RUN spew\n#1 bb\n#1 DONE",
						 b5k);
	tap_ok(strstr(il, want_il) != NULL,
	       "long line: another step's line ends a streamed line, which then goes on");

	struct progress_line l = {STRBUF_INIT, 0};
	_cleanup_free_ char *d = repeat('c', PROGRESS_LINE_MAX + 10);
	d[1] = '\r';
	tap_ok(progress_line_add(&l, d, PROGRESS_LINE_MAX + 10) == PROGRESS_LINE_MAX + 1 &&
		       l.buf.len == PROGRESS_LINE_MAX && l.cut == 9,
	       "progress_line: keeps PROGRESS_LINE_MAX bytes ('\\r' dropped), counts the rest");
	_cleanup_free_ char *t = progress_line_take(&l);
	tap_ok(str_endswith(t, "c… (9 bytes cut)") && l.buf.len == 0 && l.cut == 0,
	       "progress_line: take appends the cut marker and resets");
}

static char *const src[] = {"FROM busybox", "ENV A=1", "RUN one", "RUN two \\", "  three",
			     "LABEL x=1", "CMD x", "USER y"};

/* A failing step at lines 4-5, started through a worker's frames. */
static void failing(struct progress *p)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	progress_set_source(p, "Dockerfile.x", src, ARRAY_SIZE(src));
	struct progress_out w = {.direct = NULL, .fd = fds[1]};
	progress_start_at(&w, 1, "[2/2] RUN two   three", 4, 5);
	progress_output(&w, 1, "out1\nout2\n", 10);
	progress_status(&w, 1, "a status");
	progress_end(&w, 1, false, "process \"x\" did not complete successfully: exit code: 2");
	close(fds[1]);
	while (progress_drain(p, fds[0]) == 0)
		;
	close(fds[0]);
	progress_finish(p, "Dockerfile.x:4: RUN: what molt says");
}

static void test_failure(void)
{
	_cleanup_free_ char *out = capture(PROGRESS_PLAIN, failing);
	tap_ok(strstr(out, "#1 [2/2] RUN two   three\n#1 out1\n#1 out2\n#1 a status\n#1 ERROR: "
			   "process \"x\" did not complete successfully: exit code: 2\n") != NULL,
	       "failure: the step's block, its status line, '#N ERROR: …' (through frames)");
	const char *want = "------\n > [2/2] RUN two   three:\nout1\nout2\n------\n"
			   "Dockerfile.x:4\n--------------------\n"
			   "   3 |     RUN one\n   4 | >>> RUN two \\\n   5 | >>>   three\n"
			   "   6 |     LABEL x=1\n--------------------\n"
			   "ERROR: failed to solve: process \"x\" did not complete successfully: "
			   "exit code: 2\n";
	tap_ok(str_endswith(out, want), "failure: error logs, the >>> excerpt (two lines around a "
					"range), the step's own error as 'failed to solve'");
	if (!str_endswith(out, want))
		printf("# got: %s\n", out);
}

static void one_line(struct progress *p)
{
	progress_set_source(p, "Dockerfile", src, 2);
	struct progress_out o = {.direct = p, .fd = -1};
	progress_start_at(&o, 1, "[1/1] RUN x", 2, 2);
	progress_end(&o, 1, false, "bad");
	progress_finish(p, "molt's");
}

static void cut_short(struct progress *p)
{
	struct progress_out o = {.direct = p, .fd = -1};
	progress_start(&o, 1, "[a 1/1] RUN sleep 9");
	progress_start(&o, 2, "[b 1/1] RUN false");
	progress_end(&o, 2, false, "bad");
	progress_finish(p, "molt's");
}

static void json_steps(struct progress *p)
{
	struct progress_out o = {.direct = p, .fd = -1};
	progress_start(&o, 1, "[1/1] RUN \xff");
	progress_output(&o, 1, "hi\n", 3);
	progress_status(&o, 1, "st");
	progress_end(&o, 1, true, NULL);
}

static void test_excerpt_json_tty(void)
{
	_cleanup_free_ char *out = capture(PROGRESS_PLAIN, one_line);
	tap_ok(str_endswith(out, "Dockerfile:2\n--------------------\n   1 |     FROM busybox\n"
				 "   2 | >>> ENV A=1\n   3 |     \n--------------------\n"
				 "ERROR: failed to solve: bad\n"),
	       "excerpt: one line gets four around it, with the empty line after the last");
	_cleanup_free_ char *cut = capture(PROGRESS_PLAIN, cut_short);
	tap_ok(strstr(cut, "\n\n#1 [a 1/1] RUN sleep 9\n#1 CANCELED\n") &&
		       str_endswith(cut, "ERROR: failed to solve: bad\n"),
	       "finish: a step a failing sibling cut short is CANCELED, as BuildKit's");
	_cleanup_free_ char *js = capture(PROGRESS_RAWJSON, json_steps);
	char *save = NULL;
	unsigned n = 0, good = 0;
	for (char *l = strtok_r(js, "\n", &save); l; l = strtok_r(NULL, "\n", &save), n++) {
		json_t *o = json_loads(l, 0, NULL);
		json_t *v = json_array_get(json_object_get(o, "vertexes"), 0);
		json_t *g = json_array_get(json_object_get(o, "logs"), 0);
		json_t *st = json_array_get(json_object_get(o, "statuses"), 0);
		if (n == 0 && v && !strcmp(json_string_value(json_object_get(v, "name")), "[1/1] RUN \xef\xbf\xbd") &&
		    str_startswith(json_string_value(json_object_get(v, "digest")), "sha256:") &&
		    !json_object_get(v, "completed"))
			good++;
		if (n == 1 && g && !strcmp(json_string_value(json_object_get(g, "data")), "aGkK"))
			good++;
		if (n == 2 && st && !strcmp(json_string_value(json_object_get(st, "id")), "st"))
			good++;
		if (n == 3 && v && json_is_true(json_object_get(v, "cached")) &&
		    json_object_get(v, "completed"))
			good++;
		json_decref(o);
	}
	tap_ok(n == 4 && good == 4, "rawjson: vertex started, log (base64), status, vertex cached "
				    "and completed: one object per line, invalid UTF-8 as U+FFFD");
	_cleanup_free_ char *tty = capture(PROGRESS_TTY, json_steps);
	tap_ok(strstr(tty, " => CACHED [1/1] RUN ") && strstr(tty, " => => st ") &&
		       strstr(tty, "[+] Building ") && !strstr(tty, "FINISHED"),
	       "tty: the header, 'CACHED' before the step, its status; no FINISHED before the end");
}

/* A step waiting for another stage, over the worker frame transport; one canceled. */
static void waiting_steps(struct progress *p)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	struct progress_out w = {.direct = NULL, .fd = fds[1]};
	progress_wait(&w, 4, "[final 2/3] COPY --from=builder /a /a", "stage builder");
	progress_start(&w, 5, "[builder 1/1] RUN make");
	progress_end(&w, 5, false, NULL);
	progress_start(&w, 4, "[final 2/3] COPY --from=builder /a /a");
	progress_end(&w, 4, false, NULL);
	progress_wait(&w, 6, "[final 3/3] COPY --from=other /b /b", "stage \033[2Jother");
	progress_start(&w, 7, "[other 1/1] RUN sleep 9");
	close(fds[1]);
	while (progress_drain(p, fds[0]) == 0)
		;
	close(fds[0]);
	progress_tick(p);
	progress_cancel_running(p);
}

static void test_waiting(void)
{
	_cleanup_free_ char *out = capture(PROGRESS_PLAIN, waiting_steps);
	tap_ok(strstr(out, "#1 [final 2/3] COPY --from=builder /a /a waiting for stage builder\n\n"
			   "#2 [builder 1/1] RUN make\n") != NULL,
	       "plain: a waiting step is shown with what it waits for (through a frame)");
	tap_ok(strstr(out, "#2 DONE ") && strstr(out, "\n#1 [final 2/3] COPY --from=builder /a /a\n#1 DONE"),
	       "plain: the waiting step starts under its number once the wait is over");
	tap_ok(strstr(out, "#3 CANCELED\n") && strstr(out, "#4 CANCELED\n") &&
		       !strstr(out, "#1 CANCELED") && !strstr(out, "#2 CANCELED"),
	       "plain: a failed build shows the steps still running or waiting as canceled");
	tap_ok(!strstr(out, "\033[2J"), "plain: what a step waits for is shown escaped");
	_cleanup_free_ char *tty = capture(PROGRESS_TTY, waiting_steps);
	tap_ok(strstr(tty, "COPY --from=other /b /b waiting for stage ^[[2Jother") != NULL,
	       "tty: a waiting step's line says what it waits for");
	tap_ok(strstr(tty, "CANCELED [final 3/3] COPY --from=other /b /b") != NULL,
	       "tty: a canceled waiting step is shown CANCELED");
}

int main(void)
{
	test_waiting();
	test_failure();
	test_excerpt_json_tty();
	test_term_escape();
	test_hostile_output();
	test_long_lines();
	test_plain();
	test_frames();
	test_misc();
	return tap_done();
}
