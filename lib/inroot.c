/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/inroot.c: the one in-root opener of molt — image paths, context paths and
 * mount points are all resolved inside a root directory fd with it.
 *
 * A tar entry "usr/lib/x" where "usr" is a symlink to "/tmp" must land in
 * ROOT/tmp/x, never in the host's /tmp (CVE-2021-29136, CVE-2021-31566 and friends):
 * the root fd acts as "/" for absolute symlink targets and ".." never climbs above
 * it. openat2(RESOLVE_IN_ROOT) gives exactly that in the kernel, race-free; the walk
 * below is the same rule done one component at a time with O_NOFOLLOW opens, for
 * kernels (< 5.6) or seccomp profiles that refuse openat2 (crun's safe_openat does
 * the same two things).
 *
 * The "no links" variants refuse every symlink on the way, for code that deletes:
 * cleanup that follows a link a step planted deletes the host's files
 * (CVE-2024-23652), even when the link is followed "inside the root" by rule.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "base.h"

/* Linux's own limit on symlinks followed in one lookup (MAXSYMLINKS). */
#define INROOT_MAX_LINKS 40

static int openat2_in_root(int rootfd, const char *path, int flags, bool nolinks)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
			   (nolinks ? RESOLVE_NO_SYMLINKS : 0),
	};
	if (*path == '\0')
		path = ".";
	/* The kernel answers EAGAIN when a concurrent rename could have let ".." escape. */
	for (int i = 0; i < 32; i++) {
		int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}

bool inroot_have_openat2(void)
{
	static int have = -1;
	if (have < 0) {
		int fd = openat2_in_root(AT_FDCWD, "/", O_PATH, false);
		have = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	return have;
}

/* The state of a walk: the directory reached so far and the names that led there. */
struct walk {
	int rootfd;
	int curfd; /* owned, or == rootfd */
	char **stack;
	size_t depth, cap;
};

static void walk_set(struct walk *w, int fd)
{
	if (w->curfd != w->rootfd && w->curfd >= 0)
		close(w->curfd);
	w->curfd = fd;
}

static void walk_reset(struct walk *w)
{
	for (size_t i = 0; i < w->depth; i++)
		free(w->stack[i]);
	w->depth = 0;
	walk_set(w, w->rootfd);
}

static void walk_done(struct walk *w)
{
	walk_reset(w);
	free(w->stack);
}

static void walk_push(struct walk *w, const char *name, int fd)
{
	if (w->depth == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 16;
		w->stack = xrealloc(w->stack, w->cap * sizeof(*w->stack));
	}
	w->stack[w->depth++] = xstrdup(name);
	walk_set(w, fd);
}

/*
 * "..": the parent is re-opened from the root through the recorded names (each one
 * a real directory, opened O_NOFOLLOW), so no fd stack is kept: a 1,000-deep tree
 * must not need 1,000 open fds. At the root, ".." stays at the root.
 */
static int walk_pop(struct walk *w)
{
	if (w->depth == 0)
		return 0;
	free(w->stack[--w->depth]);
	int fd = w->rootfd;
	for (size_t i = 0; i < w->depth; i++) {
		int nfd = openat(fd, w->stack[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int saved = errno;
		if (fd != w->rootfd)
			close(fd);
		if (nfd < 0)
			return -saved;
		fd = nfd;
	}
	walk_set(w, fd);
	return 0;
}

/* Next component of *rest (skipping slashes) into name; false at the end. */
static bool next_component(const char **rest, char *name)
{
	const char *p = *rest;
	while (*p == '/')
		p++;
	if (*p == '\0')
		return false;
	size_t n = strcspn(p, "/");
	memcpy(name, p, n);
	name[n] = '\0';
	p += n;
	while (*p == '/')
		p++;
	*rest = p;
	return true;
}

/* Replaces the remaining path with "target/rest"; an absolute target restarts at the root. */
static void splice_link(struct walk *w, char **buf, const char *target, const char *rest)
{
	char *n = xasprintf("%s/%s", target, rest);
	free(*buf);
	*buf = n;
	if (target[0] == '/')
		walk_reset(w);
}

static int walk_open(int rootfd, const char *path, int flags, bool nolinks)
{
	struct walk w = {.rootfd = rootfd, .curfd = rootfd};
	char *buf = xstrdup(path);
	const char *rest = buf;
	char name[NAME_MAX + 1], target[PATH_MAX];
	int links = 0, r = 0;
	if (strlen(path) >= PATH_MAX) {
		r = -ENAMETOOLONG;
		goto out;
	}
	for (;;) {
		if (!next_component(&rest, name)) {
			/* The path named the directory we stand in. */
			r = openat(w.curfd, ".", (flags & ~O_NOFOLLOW) | O_CLOEXEC);
			r = r < 0 ? -errno : r;
			goto out;
		}
		if (strlen(name) > NAME_MAX) {
			r = -ENAMETOOLONG;
			goto out;
		}
		if (!strcmp(name, "."))
			continue;
		if (!strcmp(name, "..")) {
			if ((r = walk_pop(&w)) < 0)
				goto out;
			continue;
		}
		bool last = *rest == '\0';
		struct stat st;
		if (fstatat(w.curfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			goto out;
		}
		if (S_ISLNK(st.st_mode) && (!last || !(flags & O_NOFOLLOW))) {
			if (nolinks) {
				r = -ELOOP; /* as RESOLVE_NO_SYMLINKS answers */
				goto out;
			}
			if (++links > INROOT_MAX_LINKS) {
				r = -ELOOP;
				goto out;
			}
			ssize_t n = readlinkat(w.curfd, name, target, sizeof(target) - 1);
			if (n < 0) {
				r = -errno;
				goto out;
			}
			target[n] = '\0';
			splice_link(&w, &buf, target, rest);
			rest = buf;
			continue;
		}
		if (last) {
			/* O_NOFOLLOW: a symlink swapped in since the fstatat fails, never follows.
			 */
			r = openat(w.curfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
			r = r < 0 ? -errno : r;
			goto out;
		}
		int nfd = openat(w.curfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			r = -errno;
			goto out;
		}
		walk_push(&w, name, nfd);
	}
out:
	walk_done(&w);
	free(buf);
	return r;
}

static int open_how_mode(int rootfd, const char *path, int flags, enum inroot_mode mode,
			 bool nolinks)
{
	if (mode == INROOT_AUTO)
		mode = inroot_have_openat2() ? INROOT_OPENAT2 : INROOT_WALK;
	if (mode == INROOT_OPENAT2)
		return openat2_in_root(rootfd, path, flags, nolinks);
	return walk_open(rootfd, path, flags, nolinks);
}

int inroot_open(int rootfd, const char *path, int flags, enum inroot_mode mode)
{
	return open_how_mode(rootfd, path, flags, mode, false);
}

int inroot_open_nolinks(int rootfd, const char *path, int flags, enum inroot_mode mode)
{
	return open_how_mode(rootfd, path, flags, mode, true);
}

/* Opens dir (a prefix of an entry path), making missing components when asked. */
static int open_dir_creating(int rootfd, const char *dir, bool create, enum inroot_mode mode)
{
	int fd = inroot_open(rootfd, dir, O_PATH | O_DIRECTORY, mode);
	if (fd >= 0 || fd != -ENOENT || !create)
		return fd;
	/*
	 * Some prefix is missing. Resolve prefix by prefix; where one is missing, make
	 * it with mkdirat() in the already resolved (in-root) parent, so a symlink in
	 * the way can never redirect the mkdir out of the root.
	 */
	_cleanup_free_ char *prefix = xstrdup(dir);
	int parent = inroot_open(rootfd, "", O_PATH | O_DIRECTORY, mode);
	if (parent < 0)
		return parent;
	const char *rest = dir;
	char name[NAME_MAX + 1];
	while (next_component(&rest, name)) {
		size_t end = (size_t)(rest - dir);
		memcpy(prefix, dir, end);
		prefix[end] = '\0';
		int nfd = inroot_open(rootfd, prefix, O_PATH | O_DIRECTORY, mode);
		if (nfd == -ENOENT && strcmp(name, ".") && strcmp(name, "..")) {
			if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST) {
				nfd = -errno;
			} else {
				nfd = inroot_open(rootfd, prefix, O_PATH | O_DIRECTORY, mode);
			}
		}
		close(parent);
		if (nfd < 0)
			return nfd;
		parent = nfd;
	}
	return parent;
}

/* Splits path into its directory and last component; -EINVAL for "." and "..". */
static int split_last(const char *path, char **ret_dir, char **ret_name)
{
	size_t len;
	size_t slash = path_last_component(path, &len);
	_cleanup_free_ char *name = xstrndup(path + slash, len);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	*ret_dir = xstrndup(path, slash);
	*ret_name = TAKE_PTR(name);
	return 0;
}

int inroot_open_parent(int rootfd, const char *path, bool create, enum inroot_mode mode,
		       char **ret_name)
{
	_cleanup_free_ char *dir = NULL, *name = NULL;
	int r = split_last(path, &dir, &name);
	if (r < 0)
		return r;
	int fd = open_dir_creating(rootfd, dir, create, mode);
	if (fd < 0)
		return fd;
	*ret_name = TAKE_PTR(name);
	return fd;
}

int inroot_open_parent_nolinks(int rootfd, const char *path, enum inroot_mode mode, char **ret_name)
{
	_cleanup_free_ char *dir = NULL, *name = NULL;
	int r = split_last(path, &dir, &name);
	if (r < 0)
		return r;
	int fd = inroot_open_nolinks(rootfd, dir, O_PATH | O_DIRECTORY, mode);
	if (fd < 0)
		return fd;
	*ret_name = TAKE_PTR(name);
	return fd;
}

/*
 * O_NONBLOCK: opening a FIFO for reading would wait for a writer that never comes; a
 * non-regular file is refused before any read.
 */
int inroot_read_file(int rootfd, const char *path, size_t max_size, char **ret_data,
		     size_t *ret_len, struct molt_error **err)
{
	_cleanup_close_ int fd =
		inroot_open(rootfd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, INROOT_AUTO);
	if (fd < 0)
		return molt_error_set(err, -fd, "open '%s'", path);
	return read_regular_fd(fd, path, max_size, ret_data, ret_len, err);
}
