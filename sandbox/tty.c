/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pseudo-terminal of an interactive `molt run`. The command gets the slave side of
 * a new pty instead of the caller's terminal, and molt copies bytes between the two:
 * whatever the command does to its terminal (TIOCSTI, TIOCLINUX, CVE-2017-5226) it
 * does to its own pty, never to the caller's shell.
 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "sandbox_int.h"

_Static_assert(sizeof(struct termios) <= sizeof(((struct tty_relay *)0)->saved_termios),
	       "saved_termios too small");

int tty_open(struct tty_relay *t, struct molt_error **err)
{
	t->master = t->slave = -1;
	t->in_tty = isatty(0);
	t->raw_set = false;
	if (!t->in_tty && !isatty(1) && !isatty(2))
		return 0;
	t->out_fd = isatty(1) || !isatty(2) ? 1 : 2;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return molt_error_set(err, errno, "open a pseudo-terminal");
	/* TIOCGPTPEER opens the slave through the master, without a path lookup. */
	int s = unlockpt(m) < 0 ? -1 : ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0) {
		int e = errno;
		close(m);
		return molt_error_set(err, e, "open the pseudo-terminal's slave");
	}
	fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
	t->master = m;
	t->slave = s;
	return 0;
}

void tty_resize(struct tty_relay *t)
{
	struct winsize ws;
	if (t->master < 0)
		return;
	if (ioctl(t->in_tty ? 0 : t->out_fd, TIOCGWINSZ, &ws) == 0)
		ioctl(t->master, TIOCSWINSZ, &ws);
}

void tty_raw(struct tty_relay *t)
{
	struct termios tio;
	if (t->master < 0 || !t->in_tty || tcgetattr(0, &tio) < 0)
		return;
	memcpy(t->saved_termios, &tio, sizeof(tio));
	cfmakeraw(&tio);
	if (tcsetattr(0, TCSANOW, &tio) == 0)
		t->raw_set = true;
}

void tty_close(struct tty_relay *t)
{
	if (t->raw_set) {
		struct termios tio;
		memcpy(&tio, t->saved_termios, sizeof(tio));
		tcsetattr(0, TCSANOW, &tio);
		t->raw_set = false;
	}
	if (t->master >= 0)
		close(t->master);
	if (t->slave >= 0)
		close(t->slave);
	t->master = t->slave = -1;
}

bool tty_pump(struct tty_relay *t, bool stdin_ready, bool master_ready)
{
	char buf[4096];
	if (stdin_ready) {
		ssize_t n = read(0, buf, sizeof(buf));
		if (n > 0)
			(void)write_all(t->master, buf, (size_t)n);
		else if (n == 0)
			t->in_tty = false; /* stop polling a closed stdin */
	}
	if (master_ready) {
		ssize_t n = read(t->master, buf, sizeof(buf));
		if (n > 0) {
			(void)write_all(t->out_fd, buf, (size_t)n);
			return true;
		}
		/* EIO: every slave fd is closed, the sandbox is gone. */
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return false;
	}
	return true;
}
