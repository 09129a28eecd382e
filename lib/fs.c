/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>

#include "base.h"

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void writeback_kick(int fd, uint64_t *kicked, uint64_t written)
{
	const uint64_t chunk = (uint64_t)8 << 20;
	if (written < *kicked || written - *kicked < chunk)
		return;
	(void)sync_file_range(fd, (off_t)*kicked, (off_t)(written - *kicked),
			      SYNC_FILE_RANGE_WRITE);
	*kicked = written;
}

ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int read_fd_bounded(int fd, size_t max_size, char **ret_data, size_t *ret_len)
{
	struct strbuf sb = STRBUF_INIT;
	char chunk[65536];
	for (;;) {
		ssize_t n = read_full(fd, chunk, sizeof(chunk));
		if (n < 0) {
			strbuf_done(&sb);
			return (int)n;
		}
		if (n == 0)
			break;
		if (sb.len + (size_t)n > max_size) {
			strbuf_done(&sb);
			return -EFBIG;
		}
		strbuf_add(&sb, chunk, (size_t)n);
	}
	if (ret_len)
		*ret_len = sb.len;
	*ret_data = strbuf_detach(&sb);
	return 0;
}

int read_regular_fd(int fd, const char *path, size_t max_size, char **ret_data, size_t *ret_len,
		    struct molt_error **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return molt_error_set(err, errno, "stat '%s'", path);
	if (!S_ISREG(st.st_mode))
		return molt_error_setx(err, EINVAL, "'%s' is not a regular file", path);
	/* Checked here and while reading: the file may grow after fstat. */
	int r = (size_t)st.st_size > max_size ? -EFBIG
					       : read_fd_bounded(fd, max_size, ret_data, ret_len);
	if (r == -EFBIG)
		return molt_error_setx(err, EFBIG, "read '%s': larger than %zu bytes", path,
				       max_size);
	if (r < 0)
		return molt_error_set(err, -r, "read '%s'", path);
	return 0;
}

int read_file_at(int dirfd, const char *path, size_t max_size, char **ret_data, size_t *ret_len,
		 struct molt_error **err)
{
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer forever. */
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return molt_error_set(err, errno, "open '%s'", path);
	return read_regular_fd(fd, path, max_size, ret_data, ret_len, err);
}

int read_file(const char *path, size_t max_size, char **ret_data, size_t *ret_len,
	      struct molt_error **err)
{
	return read_file_at(AT_FDCWD, path, max_size, ret_data, ret_len, err);
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      struct molt_error **err)
{
	_cleanup_free_ char *dir_copy = xstrdup(path);
	const char *dir = dirname(dir_copy);
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-XXXXXX", path);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return molt_error_set(err, errno, "create temporary file for '%s'", path);
	int r = write_all(fd, data, len);
	if (r < 0) {
		unlink(tmp);
		return molt_error_set(err, -r, "write '%s'", tmp);
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		int e = errno;
		unlink(tmp);
		return molt_error_set(err, e, "sync '%s'", tmp);
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return molt_error_set(err, e, "rename '%s' to '%s'", tmp, path);
	}
	/* The rename is durable only once the directory entry is. */
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		(void)fsync(dfd);
	return 0;
}

int mkdir_p(const char *path, mode_t mode, struct molt_error **err)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return molt_error_set(err, errno, "create directory '%s'", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return molt_error_set(err, errno, "create directory '%s'", p);
	return 0;
}

static int rm_children(int *dfd, const char *what, unsigned depth, struct molt_error **err);

/* Removes `name` below *dirfd; *dirfd is already open, so nothing is followed. Deep
 * down, *dirfd is parked while the directory's children go (dir_park()). */
static int rm_entry(int *dirfd, const char *name, const char *what, unsigned depth,
		    struct molt_error **err)
{
	struct stat st;
	if (fstatat(*dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return molt_error_set(err, errno, "stat '%s/%s'", what, name);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(*dirfd, name, 0) < 0 && errno != ENOENT)
			return molt_error_set(err, errno, "remove '%s/%s'", what, name);
		return 0;
	}
	/* Each level is a C stack frame of a few hundred bytes: 12,000 fit in 8 MiB. */
	if (depth > 12000)
		return molt_error_setx(err, ELOOP, "remove '%s': directory tree too deep", what);
	/* Image trees may hold directories without write or search bits for us. */
	if ((st.st_mode & 0700) != 0700)
		(void)!fchmodat(*dirfd, name, (st.st_mode & 07777) | 0700, 0);
	_cleanup_close_ int fd =
		openat(*dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return molt_error_set(err, errno, "open '%s/%s'", what, name);
	struct dir_park park;
	int r = dir_park(dirfd, depth, &park);
	if (r < 0)
		return molt_error_set(err, -r, "stat '%s'", what);
	r = rm_children(&fd, what, depth + 1, err);
	if (r < 0)
		return r;
	r = dir_unpark(dirfd, fd, &park);
	if (r < 0)
		return molt_error_set(err, -r, "remove '%s': reopen a parent directory", what);
	if (unlinkat(*dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return molt_error_set(err, errno, "remove directory '%s/%s'", what, name);
	return 0;
}

static int rm_children(int *dfd, const char *what, unsigned depth, struct molt_error **err)
{
	/* Listed first: a parked directory keeps no readdir stream. */
	_cleanup_strv_ char **names = NULL;
	int r = dir_list_sorted(*dfd, &names);
	if (r < 0)
		return molt_error_set(err, -r, "read directory '%s'", what);
	for (size_t i = 0; names[i]; i++) {
		r = rm_entry(dfd, names[i], what, depth, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int rm_rf_at(int dirfd, const char *name, struct molt_error **err)
{
	int fd = dirfd; /* never parked: that starts DIR_KEEP_FDS levels down */
	return rm_entry(&fd, name, name, 0, err);
}

int rm_rf(const char *path, struct molt_error **err)
{
	return rm_rf_at(AT_FDCWD, path, err);
}

int dir_park(int *fd, unsigned depth, struct dir_park *p)
{
	*p = (struct dir_park){0};
	if (depth < DIR_KEEP_FDS)
		return 0;
	struct stat st;
	if (fstat(*fd, &st) < 0)
		return -errno;
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	p->parked = true;
	close(*fd);
	*fd = -1;
	return 0;
}

int dir_unpark(int *fd, int childfd, struct dir_park *p)
{
	if (!p->parked)
		return 0;
	p->parked = false;
	int pfd = openat(childfd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	struct stat st;
	if (fstat(pfd, &st) < 0 || st.st_dev != p->dev || st.st_ino != p->ino) {
		/* Moved while we were below it: never continue in another directory. */
		close(pfd);
		return -ESTALE;
	}
	*fd = pfd;
	return 0;
}

int dir_park_walk(int *fd, int *peer, unsigned depth, struct dir_park ret[2], const char *path,
		  struct molt_error **err)
{
	ret[1] = (struct dir_park){0};
	int r = dir_park(fd, depth, &ret[0]);
	if (r == 0 && peer)
		r = dir_park(peer, depth, &ret[1]);
	return r < 0 ? molt_error_set(err, -r, "stat the parent of '%s'", path) : 0;
}

int dir_unpark_walk(int *fd, int childfd, int *peer, int peer_childfd, struct dir_park p[2],
		    const char *path, struct molt_error **err)
{
	int r = dir_unpark(fd, childfd, &p[0]);
	if (r == 0 && peer)
		r = dir_unpark(peer, peer_childfd, &p[1]);
	return r < 0 ? molt_error_set(err, -r, "reopen the parent of '%s'", path) : 0;
}

int dir_list_sorted(int dirfd, char ***ret)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return -e;
	}
	/* Grown by doubling: strv_push() per name is quadratic in a huge directory. */
	size_t n = 0, cap = 16;
	char **names = xcalloc(cap + 1, sizeof(char *));
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap *= 2;
			names = xrealloc(names, (cap + 1) * sizeof(char *));
		}
		names[n++] = xstrdup(de->d_name);
		names[n] = NULL;
	}
	int e = errno;
	closedir(d);
	if (e) {
		strv_free(names);
		return -e;
	}
	strv_sort(names);
	*ret = names;
	return 0;
}

int dir_for_each_child(const struct dir_walk *w, int *dfd, int *peer, const char *prefix,
		       unsigned depth, dir_child_fn fn, void *ctx, struct molt_error **err)
{
	if (depth > DIR_WALK_MAX_DEPTH)
		return molt_error_setx(err, ELOOP, "%s '%s': directory tree too deep", w->verb,
				       prefix);
	/* Listed first: a parked directory keeps no readdir stream. */
	_cleanup_strv_ char **names = NULL;
	int r = dir_list_sorted(*dfd, &names);
	if (r < 0)
		return molt_error_set(err, -r, "read %s '%s'", w->noun,
				      !*prefix && w->top_as_slash ? "/" : prefix);
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *path =
			*prefix ? xasprintf("%s/%s", prefix, names[i]) : xstrdup(names[i]);
		r = fn(ctx, dfd, peer, names[i], path, depth, err);
		if (r < 0)
			return r;
	}
	return 0;
}
