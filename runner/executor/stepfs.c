/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "../../layers/layers.h"
#include "stepfs.h"

/* -1: not decided yet; per process (each stage worker decides for itself). */
static int walk_mode = -1;

bool stepfs_walk_mode(void)
{
	if (walk_mode < 0) {
		const char *d = getenv("MOLT_DIFFER");
		walk_mode = d && !strcmp(d, "walk");
	}
	return walk_mode;
}

/* Errors that mean "no overlayfs for us here", not "this mount is wrong". */
static bool overlay_missing(int r)
{
	const char *d = getenv("MOLT_DIFFER");
	if (d && !strcmp(d, "overlay"))
		return false;
	return r == -ENODEV || r == -EPERM || r == -ENOSYS || r == -ENOTSUP;
}

/*
 * Sets a directory option of the overlay through an fd of the directory. Overlayfs
 * keeps the string it was given and shows it in /proc/self/mountinfo, which a step can
 * read (and write into its layer): given the store path, that would be the user's home
 * directory and name. "/proc/self/fd/N" resolves to the same directory here, at
 * fsconfig time, and shows nothing of the host.
 */
static int overlay_set_dir(int fs, const char *key, const char *path)
{
	_cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return fsconfig(fs, FSCONFIG_SET_STRING, key, proc, 0);
}

/*
 * The new mount API adds lower directories one at a time ("lowerdir+", Linux 6.8),
 * so a deep image is not limited by the one-page option string of mount(2), and
 * paths with commas or colons need no escaping.
 */
static int overlay_fsfd(char *const *lowers, const char *empty, const char *upper,
			const char *work, struct molt_error **err)
{
	_cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return molt_error_set(err, errno, "open an overlay filesystem (is overlayfs "
						  "available in user namespaces?)");
	size_t n = strv_len(lowers);
	for (size_t i = 0; i < n; i++) {
		if (overlay_set_dir(fs, "lowerdir+", lowers[i]) == 0)
			continue;
		/* before Linux 6.8 the option does not exist: that is "no overlay for us" */
		if (errno == EINVAL && i == 0)
			return molt_error_setx(err, ENOTSUP, "this kernel's overlayfs has no "
							     "'lowerdir+' option (Linux 6.8)");
		return molt_error_set(err, errno, "add layer '%s' to the overlay", lowers[i]);
	}
	/*
	 * An overlay needs a lower directory (a stage FROM scratch gets an empty one), and
	 * two when it has no upper: the empty one goes at the bottom, where it changes
	 * nothing.
	 */
	if ((n == 0 || !upper) && overlay_set_dir(fs, "lowerdir+", empty) < 0)
		return molt_error_set(err, errno == EINVAL && n == 0 ? ENOTSUP : errno,
				      "add an empty layer to the overlay");
	if (upper) {
		if (overlay_set_dir(fs, "upperdir", upper) < 0 ||
		    overlay_set_dir(fs, "workdir", work) < 0)
			return molt_error_set(err, errno, "set the overlay's upper directory");
		/*
		 * A step's upper directory is scratch until its commit, which reads it into a
		 * blob that is fsynced, and syncs the tree once before publishing it
		 * (stepfs_sync_upper). Without "volatile" every fsync a step makes is a
		 * synchronous write of the upper filesystem: dpkg fsyncs each file it
		 * unpacks, which made an apt-get install 3-5x slower than in a chroot.
		 * Before Linux 5.10 the option does not exist and the step stays durable.
		 */
		if (fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0 && errno != EINVAL)
			return molt_error_set(err, errno, "set the overlay's volatile option");
	}
	/* In a user namespace overlay keeps its whiteout and opaque marks in user.* xattrs. */
	if (fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0 && errno != EINVAL)
		return molt_error_set(err, errno, "set the overlay's userxattr option");
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return molt_error_set(err, errno, "create the overlay mount");
	return TAKE_FD(fs);
}

static int mount_overlay(struct stepfs *fs, char *const *lowers, bool readonly,
			 struct molt_error **err)
{
	_cleanup_free_ char *empty = xasprintf("%s/empty", fs->dir);
	_cleanup_free_ char *work = xasprintf("%s/work", fs->dir);
	if (mkdir(empty, 0755) < 0 && errno != EEXIST)
		return molt_error_set(err, errno, "create '%s'", empty);
	if (!readonly && mkdir(work, 0700) < 0)
		return molt_error_set(err, errno, "create '%s'", work);
	_cleanup_close_ int fsfd = overlay_fsfd(lowers, empty, readonly ? NULL : fs->upper, work, err);
	if (fsfd < 0)
		return fsfd;
	unsigned attrs = MOUNT_ATTR_NODEV | (readonly ? MOUNT_ATTR_RDONLY : 0);
	_cleanup_close_ int mnt = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		return molt_error_set(err, errno, "mount the overlay");
	if (move_mount(mnt, "", AT_FDCWD, fs->merged, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return molt_error_set(err, errno, "attach the overlay at '%s'", fs->merged);
	fs->mounted = true;
	return 0;
}

/* Walk mode: merged becomes a copy of the layers; a writable one is snapshotted. */
static int mount_walk(struct stepfs *fs, char *const *lowers, bool readonly,
		      struct molt_error **err)
{
	fs->walk = true;
	/* the step's change is found in merged itself: no upper directory */
	if (fs->upper) {
		(void)rmdir(fs->upper);
		free(fs->upper);
		fs->upper = NULL;
	}
	_cleanup_close_ int root = open(fs->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return molt_error_set(err, errno, "open '%s'", fs->merged);
	int r = stepfs_flatten(lowers, root, err);
	if (r == 0 && !readonly)
		r = tree_snapshot_take(root, &fs->before, err);
	return r;
}

char **stepfs_unique_lowers(char *const *lowers)
{
	char **v = xcalloc(1, sizeof(char *));
	size_t n = 0;
	for (size_t i = 0; lowers && lowers[i]; i++) {
		bool seen = false;
		for (size_t k = 0; k < n && !seen; k++)
			seen = !strcmp(v[k], lowers[i]);
		if (!seen) {
			strv_push(&v, lowers[i]);
			n++;
		}
	}
	return v;
}

int stepfs_mount(const char *dir, char *const *all_lowers, bool readonly, struct stepfs **ret,
		 struct molt_error **err)
{
	/* overlayfs refuses a directory that is two of its layers (ELOOP). */
	_cleanup_strv_ char **lowers = stepfs_unique_lowers(all_lowers);
	struct stepfs *fs = xcalloc(1, sizeof(*fs));
	fs->dir = xstrdup(dir);
	fs->merged = xasprintf("%s/merged", dir);
	if (!readonly)
		fs->upper = xasprintf("%s/upper", dir);
	int r = 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		r = molt_error_set(err, errno, "create '%s'", dir);
	else if (mkdir(fs->merged, 0755) < 0)
		r = molt_error_set(err, errno, "create '%s'", fs->merged);
	else if (fs->upper && mkdir(fs->upper, 0755) < 0)
		r = molt_error_set(err, errno, "create '%s'", fs->upper);
	if (r == 0 && !stepfs_walk_mode()) {
		struct molt_error *e = NULL;
		r = mount_overlay(fs, lowers, readonly, &e);
		if (r < 0 && overlay_missing(r)) {
			molt_error_drop(&e, "overlayfs unavailable, steps work on copies and the "
					    "walk differ finds their changes");
			walk_mode = 1;
			r = 0;
		} else if (r < 0) {
			*err = e;
		}
	}
	if (r == 0 && stepfs_walk_mode())
		r = mount_walk(fs, lowers, readonly, err);
	if (r < 0) {
		stepfs_free(fs);
		return r;
	}
	*ret = fs;
	return 0;
}

int stepfs_unmount(struct stepfs *fs, struct molt_error **err)
{
	if (!fs->mounted)
		return 0;
	if (umount2(fs->merged, MNT_DETACH) < 0)
		return molt_error_set(err, errno, "unmount '%s'", fs->merged);
	fs->mounted = false;
	return 0;
}

char *stepfs_take_upper(struct stepfs *fs)
{
	return TAKE_PTR(fs->upper);
}

void stepfs_free(struct stepfs *fs)
{
	if (!fs)
		return;
	if (fs->mounted)
		(void)umount2(fs->merged, MNT_DETACH);
	/* Only our own names: a taken upper directory has been renamed away already. */
	struct molt_error *err = NULL;
	if (rm_rf(fs->dir, &err) < 0)
		molt_error_drop(&err, "stepfs: the stage's scratch directory goes with it");
	free(fs->dir);
	free(fs->upper);
	free(fs->merged);
	tree_snapshot_free(fs->before);
	free(fs);
}
