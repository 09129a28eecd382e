/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/stepfs_flatten.c: the copy a step works on when overlayfs cannot be
 * mounted (stepfs.h, walk mode). The stage's unpacked layers are overlay lower
 * directories: a deletion is a 0:0 character device or, on Linux 6.7+, an empty
 * file carrying user.overlay.whiteout; a replaced directory carries
 * user.overlay.opaque=y ("x" only says the directory holds xattr whiteouts). Copying
 * them bottom-up while honouring those marks gives the tree the overlay would show.
 * Everything a layer tar records is kept — owner, mode, setuid bits, mtimes,
 * allowed xattrs and hardlinks within a layer — so the walk differ and the layer
 * writer see the same inputs as on the overlay path.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../layers/layers.h"
#include "stepfs.h"

#define XATTR_WHITEOUT "user.overlay.whiteout"
#define XATTR_OPAQUE "user.overlay.opaque"

/* Hardlinks of one layer: the first copy of each (dev, inode), by path from the root. */
struct link_seen {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct flatten {
	int rootfd; /* the destination's root */
	struct link_seen *links;
	size_t n_links;
};

static void links_reset(struct flatten *f)
{
	for (size_t i = 0; i < f->n_links; i++)
		free(f->links[i].path);
	free(f->links);
	f->links = NULL;
	f->n_links = 0;
}

static const char *link_find(const struct flatten *f, const struct stat *st)
{
	for (size_t i = 0; i < f->n_links; i++)
		if (f->links[i].dev == st->st_dev && f->links[i].ino == st->st_ino)
			return f->links[i].path;
	return NULL;
}

/* An fd's user.overlay.* mark, or "" when it has none. */
static void overlay_mark(int fd, const char *name, char *buf, size_t len)
{
	ssize_t n = fgetxattr(fd, name, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
}

static int copy_xattrs(int src, int dst, const char *path, struct molt_error **err)
{
	char names[65536];
	ssize_t n = flistxattr(src, names, sizeof(names));
	if (n < 0)
		return errno == ENOTSUP ? 0 : molt_error_set(err, errno, "list xattrs of '%s'", path);
	for (char *p = names; p < names + n; p += strlen(p) + 1) {
		if (!layer_xattr_allowed(p))
			continue;
		char val[65536];
		ssize_t vl = fgetxattr(src, p, val, sizeof(val));
		if (vl < 0 || fsetxattr(dst, p, val, (size_t)vl, 0) < 0)
			return molt_error_set(err, errno, "copy xattr '%s' of '%s'", p, path);
	}
	return 0;
}

/* Owner, then mode (chown clears setuid), xattrs and times of an open inode. */
static int copy_meta(int src, int dst, const struct stat *st, const char *path,
		     struct molt_error **err)
{
	if (fchown(dst, st->st_uid, st->st_gid) < 0 || fchmod(dst, st->st_mode & 07777) < 0)
		return molt_error_set(err, errno, "set the owner and mode of '%s'", path);
	int r = copy_xattrs(src, dst, path, err);
	if (r < 0)
		return r;
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	if (futimens(dst, ts) < 0)
		return molt_error_set(err, errno, "set the times of '%s'", path);
	return 0;
}

static int copy_file(int sdir, int ddir, const char *name, const struct stat *st,
		     const char *path, struct molt_error **err)
{
	_cleanup_close_ int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return molt_error_set(err, errno, "open '%s'", path);
	_cleanup_close_ int out =
		openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return molt_error_set(err, errno, "create '%s'", path);
	off_t left = st->st_size;
	while (left > 0) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
			char buf[65536];
			n = read(in, buf, sizeof(buf));
			if (n > 0 && write_all(out, buf, (size_t)n) < 0)
				n = -1;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return molt_error_set(err, errno, "copy '%s'", path);
		if (n == 0)
			break; /* the file shrank: the lower is read-only, so it cannot */
		left -= n;
	}
	return copy_meta(in, out, st, path, err);
}

static int copy_symlink(int sdir, int ddir, const char *name, const struct stat *st,
			const char *path, struct molt_error **err)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(sdir, name, target, sizeof(target) - 1);
	if (n < 0)
		return molt_error_set(err, errno, "read the symlink '%s'", path);
	target[n] = '\0';
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	if (symlinkat(target, ddir, name) < 0 ||
	    fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return molt_error_set(err, errno, "copy the symlink '%s'", path);
	return 0;
}

/* Fifos and sockets; device nodes only where the namespace allows (unpack's rule). */
static int copy_special(int ddir, const char *name, const struct stat *st, const char *path,
			struct molt_error **err)
{
	if (mknodat(ddir, name, st->st_mode, st->st_rdev) < 0) {
		if ((S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) && errno == EPERM)
			return 0;
		return molt_error_set(err, errno, "create '%s'", path);
	}
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	if (fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(ddir, name, st->st_mode & 07777, 0) < 0 ||
	    utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return molt_error_set(err, errno, "set the metadata of '%s'", path);
	return 0;
}

static int apply_dir(struct flatten *f, int *sdir, int *ddir, const char *rel, unsigned depth,
		     struct molt_error **err);

/* A directory of a layer onto the tree; deep down both parents are parked meanwhile
 * (lib: dir_park), so a tree thousands deep keeps a bounded number of fds open. */
static int apply_subdir(struct flatten *f, int *sdirp, int *ddirp, const char *name,
			const struct stat *st, const char *path, unsigned depth,
			struct molt_error **err)
{
	int sdir = *sdirp, ddir = *ddirp;
	_cleanup_close_ int s = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s < 0)
		return molt_error_set(err, errno, "open '%s'", path);
	char mark[8];
	overlay_mark(s, XATTR_OPAQUE, mark, sizeof(mark));
	struct stat dst;
	bool exists = fstatat(ddir, name, &dst, AT_SYMLINK_NOFOLLOW) == 0;
	/* An opaque directory replaces what the layers below had there. */
	if (exists && (!S_ISDIR(dst.st_mode) || !strcmp(mark, "y"))) {
		int r = rm_rf_at(ddir, name, err);
		if (r < 0)
			return r;
		exists = false;
	}
	if (!exists && mkdirat(ddir, name, 0700) < 0)
		return molt_error_set(err, errno, "create '%s'", path);
	_cleanup_close_ int d = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0)
		return molt_error_set(err, errno, "open '%s'", path);
	struct dir_park park[2];
	int r = dir_park_walk(sdirp, ddirp, depth, park, path, err);
	if (r < 0 || (r = apply_dir(f, &s, &d, path, depth + 1, err)) < 0 ||
	    (r = dir_unpark_walk(sdirp, s, ddirp, d, park, path, err)) < 0)
		return r;
	/* after the children: adding them moved the directory's mtime */
	return copy_meta(s, d, st, path, err);
}

static bool is_whiteout(int sdir, const char *name, const struct stat *st)
{
	if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0)
		return true;
	if (!S_ISREG(st->st_mode) || st->st_size != 0)
		return false;
	_cleanup_close_ int fd = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd >= 0 && fgetxattr(fd, XATTR_WHITEOUT, NULL, 0) >= 0;
}

static int apply_entry(void *ctx, int *sdirp, int *ddirp, const char *name, const char *path,
		       unsigned depth, struct molt_error **err)
{
	struct flatten *f = ctx;
	int sdir = *sdirp, ddir = *ddirp;
	struct stat st, dst;
	if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return molt_error_set(err, errno, "stat '%s'", path);
	bool whiteout = is_whiteout(sdir, name, &st);
	bool exists = fstatat(ddir, name, &dst, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && (whiteout || !S_ISDIR(st.st_mode))) {
		int r = rm_rf_at(ddir, name, err);
		if (r < 0)
			return r;
	}
	if (whiteout)
		return 0;
	if (S_ISDIR(st.st_mode))
		return apply_subdir(f, sdirp, ddirp, name, &st, path, depth, err);
	if (S_ISLNK(st.st_mode))
		return copy_symlink(sdir, ddir, name, &st, path, err);
	if (!S_ISREG(st.st_mode))
		return copy_special(ddir, name, &st, path, err);
	const char *first = st.st_nlink > 1 ? link_find(f, &st) : NULL;
	if (first && linkat(f->rootfd, first, ddir, name, 0) == 0)
		return 0;
	int r = copy_file(sdir, ddir, name, &st, path, err);
	if (r == 0 && st.st_nlink > 1) {
		ARRAY_PUSH(f->links, f->n_links,
			   (struct link_seen){st.st_dev, st.st_ino, xstrdup(path)});
	}
	return r;
}

static int apply_dir(struct flatten *f, int *sdir, int *ddir, const char *rel, unsigned depth,
		     struct molt_error **err)
{
	static const struct dir_walk names = {"flatten", "the directory", true};
	return dir_for_each_child(&names, sdir, ddir, rel, depth, apply_entry, f, err);
}

int stepfs_flatten(char *const *lowers, int dstfd, struct molt_error **err)
{
	struct flatten f = {.rootfd = dstfd};
	int r = 0;
	/* lowers come top-most first: apply from the bottom up */
	for (size_t i = strv_len(lowers); r == 0 && i-- > 0;) {
		_cleanup_close_ int src = open(lowers[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (src < 0) {
			r = molt_error_set(err, errno, "open the layer tree '%s'", lowers[i]);
			break;
		}
		struct stat st;
		if (fstat(src, &st) < 0)
			r = molt_error_set(err, errno, "stat '%s'", lowers[i]);
		int top = dstfd; /* depth 0: never parked */
		if (r == 0)
			r = apply_dir(&f, &src, &top, "", 0, err);
		/* the root's own metadata comes from the top-most layer that has it */
		if (r == 0)
			r = copy_meta(src, dstfd, &st, "/", err);
		links_reset(&f);
	}
	return r;
}
