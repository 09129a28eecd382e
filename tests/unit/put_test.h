/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/put_test.h: a file written for a test, its missing parents made first
 * (lib/base.h must come before).
 */
#ifndef MOLT_PUT_TEST_H
#define MOLT_PUT_TEST_H

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* path with content and exactly mode (umask aside), parents made with dir_mode. */
static inline void put_file(const char *path, const char *content, mode_t mode, mode_t dir_mode)
{
	_cleanup_free_ char *dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	mkdir_p(dir, dir_mode, NULL);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd >= 0) {
		(void)!write(fd, content, strlen(content));
		fchmod(fd, mode);
		close(fd);
	}
}

#endif
