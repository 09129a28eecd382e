/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/stream.c: `-` as a file name — tars written to stdout (build -o -, save) and
 * read from stdin (load, build -), which go through a file first because the store's
 * readers and writers seek.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "base.h"

int stream_copy(int in, int out, uint64_t max, const char *what, struct molt_error **err)
{
	char buf[1 << 16];
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return molt_error_set(err, errno, "read %s", what);
		if (n == 0)
			return 0;
		total += (uint64_t)n;
		if (max && total > max)
			return molt_error_setx(err, EFBIG, "%s is larger than %" PRIu64 " bytes",
					       what, max);
		int r = write_all(out, buf, (size_t)n);
		if (r < 0)
			return molt_error_set(err, -r, "write %s", what);
	}
}

int stream_file_to_stdout(const char *path, struct molt_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return molt_error_set(err, errno, "open '%s'", path);
	return stream_copy(fd, STDOUT_FILENO, 0, "to stdout", err);
}

int stream_refuse_tty(int fd, const char *what, struct molt_error **err)
{
	if (!isatty(fd))
		return 0;
	return molt_error_setx(err, ENOTTY,
			       "refusing to %s a terminal: %s (redirect it to a file or a pipe)",
			       what, fd == STDIN_FILENO ? "stdin is" : "stdout is");
}

int stream_stdin_to_file(const char *dir, uint64_t max, int *ret_fd, struct molt_error **err)
{
	int r = stream_refuse_tty(STDIN_FILENO, "read a tar from", err);
	if (r < 0)
		return r;
	/* Unnamed: nothing is left behind whatever happens to molt. A filesystem
	 * without O_TMPFILE gets a named file, unlinked at once. */
	_cleanup_close_ int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		_cleanup_free_ char *path = xasprintf("%s/stdin-XXXXXX", dir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0)
		return molt_error_set(err, errno, "create a temporary file in '%s'", dir);
	r = stream_copy(STDIN_FILENO, fd, max, "stdin", err);
	if (r < 0)
		return r;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return molt_error_set(err, errno, "seek the copy of stdin");
	*ret_fd = TAKE_FD(fd);
	return 0;
}
