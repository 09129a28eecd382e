/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/differ_overlay.c: the differ for a step run on overlayfs — the upperdir
 * IS the change, so only changed entries are read.
 *
 * What overlayfs leaves in an upperdir (Documentation/filesystems/overlayfs.rst):
 *  - a deletion is a char 0:0 device ("whiteout"); since 6.7 a lower layer may
 *    also use an empty file with overlay.whiteout, accepted here too;
 *  - a directory made where one was deleted carries overlay.opaque=y: nothing of
 *    the lower shows through, so the layer gets ".wh..wh..opq" plus its contents;
 *  - a directory whose child changed is copied up with the lower's metadata: it
 *    goes into the layer only when its own metadata (mode, owner, mtime, xattrs)
 *    differs from the lower's, which is also what the walk differ reports;
 *  - in a user namespace the xattrs are user.overlay.* (mount option userxattr),
 *    with real root trusted.overlay.*: both are read.
 * redirect_dir and metacopy would make an upper entry stand for lower data the
 * upperdir does not hold; they must be off (userxattr implies redirect_dir=nofollow
 * and no metacopy; the kernel even refuses "userxattr,redirect_dir=off") and an
 * entry carrying them is an error rather than a silently wrong layer.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "layers_int.h"

struct ovl_diff {
	struct layer_changes *out;
};

static bool ovl_xattr_is(int fd, const char *suffix, const char *want)
{
	const char *prefixes[] = {"user.overlay.", "trusted.overlay."};
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		char key[64], v[8];
		snprintf(key, sizeof(key), "%s%s", prefixes[i], suffix);
		ssize_t n = fgetxattr(fd, key, v, sizeof(v) - 1);
		if (n < 0)
			continue;
		v[n] = '\0';
		if (!want || !strcmp(v, want))
			return true;
	}
	return false;
}

static int open_child(int dfd, const char *name, bool dir)
{
	return openat(dfd, name,
		      O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (dir ? O_DIRECTORY : 0));
}

/*
 * Opens an entry of the upper directory. Two overlay features keep part of a change
 * outside the upper tree, where no diff of it can see: a directory renamed with
 * redirect_dir, a file whose data stayed below with metacopy.
 */
static int open_upper(int dfd, const char *name, const char *path, bool dir,
		      struct molt_error **err)
{
	int fd = open_child(dfd, name, dir);
	if (fd < 0)
		return molt_error_set(err, errno, "open '%s'", path);
	if (!ovl_xattr_is(fd, dir ? "redirect" : "metacopy", NULL))
		return fd;
	close(fd);
	if (dir)
		return molt_error_setx(err, ENOTSUP,
				       "upper directory '%s' is a redirect: mount the overlay with "
				       "userxattr or redirect_dir=off", path);
	return molt_error_setx(err, ENOTSUP,
			       "upper file '%s' is a metacopy without data: mount the overlay "
			       "with metacopy=off", path);
}

/* Same metadata as the layer would carry? (mtime to the nanosecond, as the walk.) */
static int dir_meta_equal(int ufd, int lfd, const char *path, struct molt_error **err)
{
	struct stat u, l;
	if (fstat(ufd, &u) < 0 || fstat(lfd, &l) < 0)
		return molt_error_set(err, errno, "stat '%s'", path);
	if (u.st_mode != l.st_mode || u.st_uid != l.st_uid || u.st_gid != l.st_gid ||
	    u.st_mtim.tv_sec != l.st_mtim.tv_sec || u.st_mtim.tv_nsec != l.st_mtim.tv_nsec)
		return 0;
	struct layer_xattrs xu = {0}, xl = {0};
	int r = layer_xattrs_read(ufd, &xu, err);
	if (r >= 0)
		r = layer_xattrs_read(lfd, &xl, err);
	if (r >= 0)
		r = layer_xattrs_equal(&xu, &xl);
	layer_xattrs_done(&xu);
	layer_xattrs_done(&xl);
	return r < 0 ? molt_error_wrap(err, "'%s'", path) : r;
}

static int scan(struct ovl_diff *od, int *ufd, int *lfd, const char *prefix, unsigned depth,
		struct molt_error **err);

/*
 * Scans the child directory ufd (and its lower lsub, or -1) with the parent's dfd and
 * lfd parked meanwhile (lib: dir_park), so a tree thousands deep keeps a bounded
 * number of fds open. The lower is parked only when the walk comes back through lsub.
 */
static int scan_below(struct ovl_diff *od, int *dfd, int *lfd, int *ufd, int *lsub,
		      const char *path, unsigned depth, struct molt_error **err)
{
	int *lower = *lsub >= 0 && *lfd >= 0 ? lfd : NULL;
	struct dir_park park[2];
	int r = dir_park_walk(dfd, lower, depth, park, path, err);
	if (r < 0 || (r = scan(od, ufd, lsub, path, depth + 1, err)) < 0)
		return r;
	return dir_unpark_walk(dfd, *ufd, lower, *lsub, park, path, err);
}

static int scan_dir(struct ovl_diff *od, int *dfd, int *lfd, const char *name, const char *path,
		    unsigned depth, struct molt_error **err)
{
	_cleanup_close_ int ufd = open_upper(*dfd, name, path, true, err);
	if (ufd < 0)
		return ufd;
	int none = -1;
	if (ovl_xattr_is(ufd, "opaque", "y")) {
		layer_changes_add(od->out, path, LAYER_CHANGE_OPAQUE);
		layer_changes_add(od->out, path, LAYER_CHANGE_ENTRY);
		return scan_below(od, dfd, lfd, &ufd, &none, path, depth, err);
	}
	_cleanup_close_ int lsub = *lfd >= 0 ? open_child(*lfd, name, true) : -1;
	if (lsub < 0) {
		/* New here: the lower has nothing (or a non-directory, then it is opaque). */
		layer_changes_add(od->out, path, LAYER_CHANGE_ENTRY);
		return scan_below(od, dfd, lfd, &ufd, &none, path, depth, err);
	}
	int r = dir_meta_equal(ufd, lsub, path, err);
	if (r < 0)
		return r;
	if (r == 0)
		layer_changes_add(od->out, path, LAYER_CHANGE_ENTRY);
	return scan_below(od, dfd, lfd, &ufd, &lsub, path, depth, err);
}

static int scan_entry(void *ctx, int *dfd, int *lfd, const char *name, const char *path,
		      unsigned depth, struct molt_error **err)
{
	struct ovl_diff *od = ctx;
	struct stat st;
	if (fstatat(*dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return molt_error_set(err, errno, "stat '%s'", path);
	if (S_ISDIR(st.st_mode))
		return scan_dir(od, dfd, lfd, name, path, depth, err);
	if (S_ISCHR(st.st_mode) && st.st_rdev == 0) {
		/* a whiteout below an opaque or new directory hides nothing */
		if (*lfd >= 0)
			layer_changes_add(od->out, path, LAYER_CHANGE_WHITEOUT);
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int fd = open_upper(*dfd, name, path, false, err);
		if (fd < 0)
			return fd;
		if (st.st_size == 0 && ovl_xattr_is(fd, "whiteout", NULL)) {
			if (*lfd >= 0)
				layer_changes_add(od->out, path, LAYER_CHANGE_WHITEOUT);
			return 0;
		}
	}
	layer_changes_add(od->out, path, LAYER_CHANGE_ENTRY);
	return 0;
}

static int scan(struct ovl_diff *od, int *ufd, int *lfd, const char *prefix, unsigned depth,
		struct molt_error **err)
{
	static const struct dir_walk names = {"scan", "upper directory", false};
	return dir_for_each_child(&names, ufd, lfd, prefix, depth, scan_entry, od, err);
}

int differ_overlay(int upperfd, int lowerfd, struct layer_changes *ret, struct molt_error **err)
{
	struct layer_changes out = {0};
	struct ovl_diff od = {&out};
	int ufd = upperfd, lfd = lowerfd; /* never parked: that starts DIR_KEEP_FDS down */
	int r = scan(&od, &ufd, &lfd, "", 0, err);
	if (r < 0) {
		layer_changes_done(&out);
		return molt_error_wrap(err, "read overlay upper directory");
	}
	*ret = out;
	return 0;
}
