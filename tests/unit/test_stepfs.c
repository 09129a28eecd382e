/* SPDX-License-Identifier: Apache-2.0 */
/* runner/executor/stepfs.c: overlay step filesystems in the build namespace. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "../../runner/executor/stepfs.h"
#include "buildns_test.h"

static void put(const char *path, const char *content)
{
	struct molt_error *err = NULL;
	write_file_atomic(path, content, strlen(content), 0644, &err);
	molt_error_free(err);
}

/*
 * One layer twice with a layer between that deletes a file of it (its whiteout) and
 * changes another: the top copy re-adds the one and restores the other.
 */
static void dup_layers(const char *base, char *l1, const char *l2)
{
	struct molt_error *err = NULL;
	_cleanup_free_ char *wh = xasprintf("%s/gone", l2);
	if (mknod(wh, S_IFCHR | 0000, 0) < 0) {
		tap_skip("stepfs: a layer twice (cannot make a whiteout here: %s)", strerror(errno));
		return;
	}
	char *lowers[] = {l1, (char *)l2, l1, NULL};
	_cleanup_strv_ char **u = stepfs_unique_lowers(lowers);
	tap_ok(strv_len(u) == 2 && !strcmp(u[0], l1) && !strcmp(u[1], l2),
	       "stepfs: a layer twice keeps its top-most place only");
	struct stepfs *fs = NULL;
	_cleanup_free_ char *dir = xasprintf("%s/dup", base);
	int r = stepfs_mount(dir, lowers, true, &fs, &err);
	if (!tap_ok(r == 0, "stepfs: an overlay holding one layer twice mounts (was ELOOP)")) {
		tap_diag("%s", err ? err->msg : "?");
		molt_error_free(err);
		return;
	}
	_cleanup_free_ char *a = xasprintf("%s/a", fs->merged);
	_cleanup_free_ char *gone = xasprintf("%s/gone", fs->merged);
	_cleanup_free_ char *data = NULL;
	read_file(a, 100, &data, NULL, &err);
	tap_str_eq(data, "lower", "stepfs: the repeated layer's file beats the layer between");
	tap_ok(access(gone, F_OK) == 0,
	       "stepfs: a file deleted between the two copies is back (the top copy re-adds it)");
	stepfs_free(fs);
	unlink(wh);
	molt_error_free(err);
}

static void run(const char *base)
{
	struct molt_error *err = NULL;
	_cleanup_free_ char *l1 = xasprintf("%s/l1", base), *l2 = xasprintf("%s/l2", base);
	mkdir_p(l1, 0755, &err);
	mkdir_p(l2, 0755, &err);
	_cleanup_free_ char *f1 = xasprintf("%s/a", l1), *f2 = xasprintf("%s/a", l2);
	_cleanup_free_ char *g1 = xasprintf("%s/gone", l1);
	put(f1, "lower");
	put(f2, "upper layer");
	put(g1, "x");
	char *lowers[] = {l2, l1, NULL}; /* top-most first */
	struct stepfs *fs = NULL;
	_cleanup_free_ char *dir = xasprintf("%s/step", base);
	int r = stepfs_mount(dir, lowers, false, &fs, &err);
	if (!tap_ok(r == 0, "stepfs: an overlay of two layers mounts in the build namespace")) {
		tap_diag("%s", err ? err->msg : "?");
		return;
	}
	_cleanup_free_ char *a = xasprintf("%s/a", fs->merged);
	_cleanup_free_ char *data = NULL;
	read_file(a, 100, &data, NULL, &err);
	tap_str_eq(data, "upper layer", "stepfs: the first lower is the top-most layer");
	_cleanup_free_ char *gone = xasprintf("%s/gone", fs->merged);
	_cleanup_free_ char *newf = xasprintf("%s/new", fs->merged);
	unlink(gone);
	put(newf, "n");
	tap_ok(stepfs_unmount(fs, &err) == 0, "stepfs: unmounts");
	_cleanup_free_ char *uw = xasprintf("%s/gone", fs->upper);
	_cleanup_free_ char *un = xasprintf("%s/new", fs->upper);
	struct stat st;
	tap_ok(lstat(un, &st) == 0 && S_ISREG(st.st_mode), "stepfs: a new file lands in upper/");
	tap_ok(lstat(uw, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0,
	       "stepfs: a deletion is a 0:0 whiteout in upper/ (overlayfs, userxattr)");
	tap_ok(access(g1, F_OK) == 0, "stepfs: lower layers are never written");
	stepfs_free(fs);
	tap_ok(access(dir, F_OK) < 0, "stepfs: free removes the scratch directory");

	char *none[] = {NULL};
	_cleanup_free_ char *dir2 = xasprintf("%s/scratch", base);
	r = stepfs_mount(dir2, none, false, &fs, &err);
	tap_ok(r == 0, "stepfs: a stage FROM scratch gets an overlay over an empty layer");
	if (r == 0)
		stepfs_free(fs);
	_cleanup_free_ char *dir3 = xasprintf("%s/ro", base);
	r = stepfs_mount(dir3, lowers, true, &fs, &err);
	if (r == 0) {
		_cleanup_free_ char *w = xasprintf("%s/w", fs->merged);
		int fd = open(w, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		tap_ok(fd < 0 && errno == EROFS, "stepfs: a read-only view refuses writes");
		if (fd >= 0)
			close(fd);
		stepfs_free(fs);
	} else {
		tap_ok(0, "stepfs: read-only view mounts");
	}
	dup_layers(base, l1, l2);
	molt_error_free(err);
}

int main(void)
{
	tap_fork_into_build_namespace();
	struct molt_error *err = NULL;
	char base[] = "/tmp/molt-stepfs-XXXXXX";
	if (!mkdtemp(base))
		return 1;
	run(base);
	rm_rf(base, &err);
	return tap_done();
}
