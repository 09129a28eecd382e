/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/stepfs_flatten.c: overlay lower directories copied into the tree an
 * overlay of them would show (the walk-differ fallback of the build executor).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../runner/executor/stepfs.h"
#include "tap.h"

static void put(const char *dir, const char *name, const char *content, mode_t mode)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	struct molt_error *err = NULL;
	write_file_atomic(p, content, strlen(content), mode, &err);
	molt_error_free(err);
}

static char *slurp(const char *dir, const char *name)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	char *data = NULL;
	struct molt_error *err = NULL;
	if (read_file(p, 1000, &data, NULL, &err) < 0)
		molt_error_free(err);
	return data;
}

static bool exists(const char *dir, const char *name)
{
	struct stat st;
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

int main(void)
{
	char base[] = "/tmp/molt-flatten-XXXXXX";
	if (!mkdtemp(base)) {
		tap_ok(0, "create a scratch directory");
		return tap_done();
	}
	struct molt_error *err = NULL;
	_cleanup_free_ char *l1 = xasprintf("%s/l1", base), *l2 = xasprintf("%s/l2", base);
	_cleanup_free_ char *out = xasprintf("%s/out", base);
	mkdir(l1, 0755);
	mkdir(l2, 0755);
	mkdir(out, 0755);
	/* bottom layer */
	_cleanup_free_ char *l1a = xasprintf("%s/a", l1), *l1d = xasprintf("%s/d", l1);
	mkdir(l1a, 0755);
	mkdir(l1d, 0750);
	put(l1a, "kept", "kept", 0644);
	put(l1a, "deleted", "x", 0644);
	put(l1d, "old", "old", 0644);
	put(l1, "suid", "s", 04755);
	put(l1, "h1", "linked", 0600);
	_cleanup_free_ char *h1 = xasprintf("%s/h1", l1), *h2 = xasprintf("%s/h2", l1);
	_cleanup_free_ char *lnk = xasprintf("%s/lnk", l1), *xw = xasprintf("%s/xw", l1);
	int r = link(h1, h2);
	r |= symlink("/a/kept", lnk);
	put(l1, "xw", "gone by an xattr whiteout", 0644);
	/* top layer: a 0:0 whiteout, an xattr whiteout, an opaque dir, a changed file */
	_cleanup_free_ char *l2a = xasprintf("%s/a", l2), *l2d = xasprintf("%s/d", l2);
	mkdir(l2a, 0755);
	mkdir(l2d, 0700);
	_cleanup_free_ char *wh = xasprintf("%s/deleted", l2a);
	r |= mknod(wh, S_IFCHR | 0, makedev(0, 0));
	r |= setxattr(l2d, "user.overlay.opaque", "y", 1, 0);
	put(l2d, "new", "new", 0644);
	put(l2, "xw", "", 0644);
	_cleanup_free_ char *l2xw = xasprintf("%s/xw", l2);
	r |= setxattr(l2xw, "user.overlay.whiteout", "y", 1, 0);
	put(l2a, "kept", "changed", 0640);
	if (!tap_ok(r == 0, "set up two overlay lower directories (needs root for mknod)")) {
		rm_rf(base, NULL);
		return tap_done();
	}

	char *lowers[] = {l2, l1, NULL}; /* top-most first, as stepfs_mount takes them */
	_cleanup_close_ int outfd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = stepfs_flatten(lowers, outfd, &err);
	if (!tap_ok(r == 0, "flatten two layers: %s", err ? err->msg : "ok"))
		molt_error_free(err);

	_cleanup_free_ char *kept = slurp(out, "a/kept");
	tap_str_eq(kept, "changed", "the top-most layer's file wins");
	struct stat st;
	_cleanup_free_ char *keptp = xasprintf("%s/a/kept", out);
	tap_ok(lstat(keptp, &st) == 0 && (st.st_mode & 07777) == 0640,
	       "its mode comes from the top-most layer");
	tap_ok(!exists(out, "a/deleted"), "a 0:0 character device whites out the path below");
	tap_ok(!exists(out, "xw"), "an empty file with user.overlay.whiteout whites out the path");
	tap_ok(exists(out, "d/new") && !exists(out, "d/old"),
	       "an opaque directory (user.overlay.opaque=y) replaces the one below");
	_cleanup_free_ char *dp = xasprintf("%s/d", out);
	char v[8];
	tap_ok(lstat(dp, &st) == 0 && (st.st_mode & 07777) == 0700 &&
		       getxattr(dp, "user.overlay.opaque", v, sizeof(v)) < 0,
	       "the copy has the top directory's mode and no overlay marks");
	_cleanup_free_ char *sp = xasprintf("%s/suid", out);
	tap_ok(lstat(sp, &st) == 0 && (st.st_mode & 07777) == 04755, "setuid bits are kept");
	struct stat s1, s2;
	_cleanup_free_ char *o1 = xasprintf("%s/h1", out), *o2 = xasprintf("%s/h2", out);
	tap_ok(lstat(o1, &s1) == 0 && lstat(o2, &s2) == 0 && s1.st_ino == s2.st_ino &&
		       s1.st_nlink == 2,
	       "hardlinks within a layer stay hardlinks");
	_cleanup_free_ char *lp = xasprintf("%s/lnk", out);
	char target[64] = "";
	ssize_t n = readlink(lp, target, sizeof(target) - 1);
	tap_ok(n > 0 && !strcmp(target, "/a/kept"), "symlinks are copied as symlinks");
	_cleanup_free_ char *lower_kept = slurp(l1, "a/kept");
	tap_str_eq(lower_kept, "kept", "the layers themselves are not written");
	rm_rf(base, NULL);
	return tap_done();
}
