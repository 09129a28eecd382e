/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's filesystem: the rootfs (in place, or under a throw-away overlay), the
 * generated /etc files, /proc, /dev, /sys, extra bind mounts, then pivot_root.
 *
 * Paths inside the rootfs are opened with inroot_open (lib/inroot.c) and mounted on
 * through their fds (move_mount onto an O_PATH fd, or mount(2) onto /proc/self/fd/N),
 * so a symlink planted by an earlier step resolves inside the root, never on the host.
 * Everything happens before pivot_root because the kernel allows a new proc or sysfs
 * instance in a user namespace only while a fully visible one is mounted in the same
 * mount namespace (fs/namespace.c mount_too_revealing): the host's, until the old
 * root is detached.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "sandbox_int.h"

int bind_onto(int srcdirfd, const char *src, int targetfd, bool recursive, bool readonly,
	      struct molt_error **err)
{
	unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0) |
			 (*src ? 0 : AT_EMPTY_PATH);
	_cleanup_close_ int tree = open_tree(srcdirfd, src, flags);
	if (tree < 0)
		return molt_error_set(err, errno, "clone the mount of '%s'", *src ? src : "(fd)");
	if (readonly) {
		struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
		if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
			return molt_error_set(err, errno, "make the mount of '%s' read-only",
					      *src ? src : "(fd)");
	}
	if (move_mount(tree, "", targetfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return molt_error_set(err, errno, "bind-mount '%s'", *src ? src : "(fd)");
	return 0;
}

/* Records path, just made in the directory parentfd, whose stat before was `before`. */
static void record(struct mount_points *mp, const char *path, int parentfd,
		   const struct stat *before)
{
	struct stat st;
	if (!mp)
		return;
	mp->v = xrealloc(mp->v, (mp->n + 1) * sizeof(*mp->v));
	struct mount_point *p = &mp->v[mp->n++];
	*p = (struct mount_point){.path = xstrdup(path)};
	p->before[0] = before->st_atim;
	p->before[1] = before->st_mtim;
	/* an unknown time never matches: the parent's times are then left alone */
	p->after = fstat(parentfd, &st) == 0 ? st.st_mtim : (struct timespec){-1, -1};
}

/* The directory must be a real directory (or missing: then created). */
static int need_dir(int rootfd, const char *name, struct mount_points *mp, struct molt_error **err)
{
	struct stat st;
	if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			return molt_error_setx(err, ELOOP,
					       "rootfs: '/%s' is a symlink; refusing it (a symlinked "
					       "/%s could redirect the sandbox's mounts, "
					       "CVE-2025-31133)",
					       name, name);
		if (!S_ISDIR(st.st_mode))
			return molt_error_setx(err, ENOTDIR, "rootfs: '/%s' is not a directory", name);
		return 0;
	}
	if (errno != ENOENT)
		return molt_error_set(err, errno, "rootfs: inspect '/%s'", name);
	struct stat parent;
	if (fstat(rootfd, &parent) < 0)
		return molt_error_set(err, errno, "rootfs: inspect '/'");
	if (mkdirat(rootfd, name, 0755) < 0)
		return molt_error_set(err, errno, "rootfs: create '/%s'", name);
	record(mp, name, rootfd, &parent);
	return 0;
}

/*
 * The path of leaf in parentfd relative to the root, symlinks resolved (from the
 * kernel's names of both directories): a stub made through a symlink a step planted
 * (/run -> /elsewhere) is recorded where it really is, so remove_point, which
 * refuses to follow links, still finds it. NULL when parentfd is not under the root.
 */
static char *real_in_root(int rootfd, int parentfd, const char *leaf)
{
	char link[64], root[PATH_MAX], dir[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", rootfd);
	ssize_t nr = readlink(link, root, sizeof(root) - 1);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", parentfd);
	ssize_t nd = readlink(link, dir, sizeof(dir) - 1);
	if (nr <= 0 || nd <= 0)
		return NULL;
	root[nr] = dir[nd] = '\0';
	size_t rl = strcmp(root, "/") ? (size_t)nr : 0;
	if (strncmp(dir, root, rl) || (dir[rl] != '/' && dir[rl]))
		return NULL;
	const char *rel = dir + rl;
	while (*rel == '/')
		rel++;
	return *rel ? xasprintf("%s/%s", rel, leaf) : xstrdup(leaf);
}

/* Creates each missing component of an in-root path; the last one as a file or dir. */
static int make_path(int rootfd, const char *path, bool dir, struct mount_points *mp,
		     struct molt_error **err)
{
	_cleanup_free_ char *copy = xstrdup(path);
	char *p = copy;
	while (*p == '/')
		p++;
	if (!*p)
		return 0;
	for (char *s = p;; s++) {
		if (*s != '/' && *s)
			continue;
		bool last = !*s || !s[strspn(s, "/")];
		char save = *s;
		*s = '\0';
		_cleanup_close_ int fd = inroot_open(rootfd, p, O_PATH, INROOT_AUTO);
		int r = fd < 0 ? fd : 0;
		if (r == -ENOENT) {
			_cleanup_free_ char *leaf = NULL;
			_cleanup_close_ int parent =
				inroot_open_parent(rootfd, p, false, INROOT_AUTO, &leaf);
			struct stat before;
			r = parent < 0 ? parent : fstat(parent, &before) < 0 ? -errno : 0;
			if (r >= 0) {
				if (last && !dir) {
					int f = openat(parent, leaf,
						       O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC |
							       O_NOFOLLOW,
						       0644);
					r = f < 0 ? -errno : 0;
					if (f >= 0)
						close(f);
				} else {
					r = mkdirat(parent, leaf, 0755) < 0 ? -errno : 0;
				}
			}
			if (r < 0)
				return molt_error_set(err, -r, "rootfs: create mount point '/%s'", p);
			_cleanup_free_ char *real = real_in_root(rootfd, parent, leaf);
			record(mp, real ? real : p, parent, &before);
		} else if (r < 0) {
			return molt_error_set(err, -r, "rootfs: resolve '/%s'", p);
		}
		*s = save;
		if (last)
			break;
	}
	return 0;
}

int mounts_make_points(int rootfd, const struct sandbox_config *c, struct mount_points *mp,
		       struct molt_error **err)
{
	static const char *const dirs[] = {"proc", "dev", "sys"};
	static const char *const files[] = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (need_dir(rootfd, dirs[i], mp, err) < 0)
			return molt_error_pass(err);
	struct stat st;
	if (fstatat(rootfd, "dev/null", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return molt_error_setx(err, ELOOP,
				       "rootfs: '/dev/null' is a symlink; refusing it "
				       "(CVE-2025-31133)");
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (make_path(rootfd, files[i], false, mp, err) < 0)
			return molt_error_pass(err);
	for (size_t i = 0; i < c->n_mounts; i++) {
		struct stat sst = {.st_mode = S_IFREG};
		if (!c->mounts[i].data && stat(c->mounts[i].source, &sst) < 0)
			return molt_error_set(err, errno, "volume source '%s'", c->mounts[i].source);
		if (make_path(rootfd, c->mounts[i].target, S_ISDIR(sst.st_mode), mp, err) < 0)
			return molt_error_pass(err);
	}
	return 0;
}

/*
 * The step may have replaced a parent of a stub with a symlink (to "/", to a host
 * directory): a lookup that follows it, even "inside the root" by rule, would then
 * delete the empty files and directories it finds there (CVE-2024-23652). So every
 * directory on the way must be a real one, and the stub itself is never followed.
 */
static void remove_point(int rootfd, const struct mount_point *mpt)
{
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int pfd = inroot_open_parent_nolinks(rootfd, mpt->path, INROOT_AUTO, &name);
	struct stat st, parent;
	if (pfd < 0 || fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || fstat(pfd, &parent) < 0)
		return;
	bool untouched = parent.st_mtim.tv_sec == mpt->after.tv_sec &&
			 parent.st_mtim.tv_nsec == mpt->after.tv_nsec;
	/* Only what is still an empty stub: the step may have filled it. */
	int r = -1;
	if (S_ISDIR(st.st_mode))
		r = unlinkat(pfd, name, AT_REMOVEDIR);
	else if (S_ISREG(st.st_mode) && st.st_size == 0)
		r = unlinkat(pfd, name, 0);
	if (r < 0 || !untouched)
		return;
	_cleanup_close_ int dir = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir >= 0)
		(void)futimens(dir, mpt->before); /* best effort: only a timestamp */
}

void mounts_remove_points(int rootfd, struct mount_points *mp)
{
	/* In reverse: /etc/hosts before /etc, each parent's times back as they were. */
	for (size_t i = mp->n; i-- > 0;)
		remove_point(rootfd, &mp->v[i]);
	mounts_points_free(mp);
}

void mounts_points_free(struct mount_points *mp)
{
	for (size_t i = 0; i < mp->n; i++)
		free(mp->v[i].path);
	free(mp->v);
	mp->v = NULL;
	mp->n = 0;
}

static int mount_fd(const char *fstype, int targetfd, unsigned long flags, const char *opts,
		    const char *what, struct molt_error **err)
{
	char target[64];
	snprintf(target, sizeof(target), "/proc/self/fd/%d", targetfd);
	if (mount(fstype, target, fstype, flags, opts) < 0)
		return molt_error_set(err, errno, "mount %s on '%s'", fstype, what);
	return 0;
}

/*
 * With `overlay`, the caller's rootfs becomes the lower layer of an overlay whose upper
 * directory lives on a tmpfs mounted over the rootfs path itself: the path is a
 * ready-made mount point, and this mount namespace is the only one that sees it.
 */
static int overlay_root(const char *rootfs, const struct sandbox_rlimits *rl, char **ret_root,
			struct molt_error **err)
{
	_cleanup_close_ int lower = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (lower < 0)
		return molt_error_set(err, errno, "open rootfs '%s'", rootfs);
	/* Files written here are memory that no rlimit counts and the OOM killer cannot
	 * free: an explicit memory limit caps them too; without one the kernel's default
	 * tmpfs size (half of RAM) does. */
	_cleanup_free_ char *tmpfs_opts =
		rl->data ? xasprintf("mode=0755,size=%llu", (unsigned long long)rl->data)
			 : xstrdup("mode=0755");
	if (mount("tmpfs", rootfs, "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_opts) < 0)
		return molt_error_set(err, errno, "mount the overlay's tmpfs");
	_cleanup_free_ char *merged = xasprintf("%s/merged", rootfs);
	/* Relative upper/work paths: the overlay's options, visible in the sandbox's
	 * /proc/self/mountinfo, then name no host path. */
	if (chdir(rootfs) < 0)
		return molt_error_set(err, errno, "enter the overlay's tmpfs");
	if (mkdir("upper", 0755) < 0 || mkdir("work", 0755) < 0 || mkdir("merged", 0755) < 0)
		return molt_error_set(err, errno, "create the overlay's directories");
	_cleanup_free_ char *opts = xasprintf("lowerdir=/proc/self/fd/%d,upperdir=upper,"
					      "workdir=work,userxattr",
					      lower);
	if (mount("overlay", "merged", "overlay", 0, opts) < 0)
		return molt_error_set(err, errno, "mount an overlay over rootfs '%s'", rootfs);
	*ret_root = TAKE_PTR(merged);
	return 0;
}

static int write_at(int dirfd, const char *name, const char *text, struct molt_error **err)
{
	_cleanup_close_ int fd =
		openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
		return molt_error_set(err, errno, "write the sandbox's /etc/%s", name);
	return 0;
}

/*
 * /etc/hosts, /etc/hostname and /etc/resolv.conf are bind-mounted from a tmpfs that is
 * mounted on the rootfs's /proc for the moment and detached right after: the files
 * stay reachable through their bind mounts, the rootfs never holds them.
 */
static int etc_files(const struct mount_plan *p, const char *root, int rootfd,
		     struct molt_error **err)
{
	static const char *const names[] = {"hosts", "hostname", "resolv.conf"};
	const char *texts[] = {p->hosts, p->hostname, p->resolv};
	_cleanup_free_ char *procpath = xasprintf("%s/proc", root);
	_cleanup_close_ int procfd =
		inroot_open_nolinks(rootfd, "proc", O_PATH | O_DIRECTORY, INROOT_AUTO);
	if (procfd < 0)
		return molt_error_set(err, -procfd, "rootfs: open '/proc'");
	int r = mount_fd("tmpfs", procfd, MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=1m",
		     "/proc", err);
	if (r < 0)
		return r;
	_cleanup_close_ int tmpfd = open(procpath, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (tmpfd < 0)
		return molt_error_set(err, errno, "open '%s'", procpath);
	for (size_t i = 0; i < ARRAY_SIZE(names) && r == 0; i++) {
		_cleanup_free_ char *target = xasprintf("etc/%s", names[i]);
		_cleanup_close_ int tfd = -1;
		r = write_at(tmpfd, names[i], texts[i], err);
		if (r == 0 && (tfd = inroot_open(rootfd, target, O_PATH, INROOT_AUTO)) < 0)
			r = molt_error_set(err, -tfd, "rootfs: open '/%s'", target);
		if (r == 0)
			r = bind_onto(tmpfd, names[i], tfd, false, false, err);
	}
	if (umount2(procpath, MNT_DETACH) < 0 && r == 0)
		r = molt_error_set(err, errno, "detach the temporary tmpfs");
	return r;
}

/*
 * Files of bytes (secrets) on a tmpfs of their own, mounted for the moment on the
 * rootfs's /proc like the /etc files' (before proc is) and detached right after: each
 * file stays reachable through its read-only bind mount only, in this mount
 * namespace's memory, and goes with it; the rootfs holds only the empty stub, removed
 * after the step. Messages name the target, never the bytes.
 */
static int data_files(const struct sandbox_config *c, const char *root, int rootfd,
		      struct molt_error **err)
{
	size_t total = 4096;
	for (size_t i = 0; i < c->n_mounts; i++)
		if (c->mounts[i].data)
			total += c->mounts[i].data_len + 4096;
	if (total == 4096)
		return 0;
	_cleanup_free_ char *procpath = xasprintf("%s/proc", root);
	_cleanup_close_ int procfd =
		inroot_open_nolinks(rootfd, "proc", O_PATH | O_DIRECTORY, INROOT_AUTO);
	if (procfd < 0)
		return molt_error_set(err, -procfd, "rootfs: open '/proc'");
	_cleanup_free_ char *opts = xasprintf("mode=0755,size=%zu", total);
	int r = mount_fd("tmpfs", procfd, MS_NOSUID | MS_NODEV | MS_NOEXEC, opts, "/proc", err);
	if (r < 0)
		return r;
	_cleanup_close_ int tmpfd = open(procpath, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (tmpfd < 0)
		r = molt_error_set(err, errno, "open '%s'", procpath);
	for (size_t i = 0; i < c->n_mounts && r == 0; i++) {
		const struct sandbox_mount *m = &c->mounts[i];
		if (!m->data)
			continue;
		char name[32];
		snprintf(name, sizeof(name), "data-%zu", i);
		_cleanup_close_ int fd =
			openat(tmpfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		_cleanup_close_ int tgt = -1;
		if (fd < 0 || write_all(fd, m->data, m->data_len) < 0)
			r = molt_error_set(err, errno, "write the file for '%s'", m->target);
		else if (fchown(fd, m->data_uid, m->data_gid) < 0)
			r = molt_error_set(err, errno, "give '%s' the owner %u:%u", m->target,
					   (unsigned)m->data_uid, (unsigned)m->data_gid);
		else if (fchmod(fd, m->data_mode & 07777) < 0)
			r = molt_error_set(err, errno, "give '%s' the mode %o", m->target,
					   (unsigned)m->data_mode);
		else if ((tgt = inroot_open(rootfd, m->target, O_PATH, INROOT_AUTO)) < 0)
			r = molt_error_set(err, -tgt, "mount target '%s'", m->target);
		else
			r = bind_onto(tmpfd, name, tgt, false, true, err);
	}
	if (umount2(procpath, MNT_DETACH) < 0 && r == 0)
		r = molt_error_set(err, errno, "detach the temporary tmpfs");
	return r;
}

static int volumes(const struct sandbox_config *c, int rootfd, struct molt_error **err)
{
	for (size_t i = 0; i < c->n_mounts; i++) {
		const struct sandbox_mount *m = &c->mounts[i];
		if (m->data)
			continue; /* data_files() */
		_cleanup_close_ int src = open(m->source, O_PATH | O_CLOEXEC);
		if (src < 0)
			return molt_error_set(err, errno, "volume source '%s'", m->source);
		_cleanup_close_ int tgt = inroot_open(rootfd, m->target, O_PATH, INROOT_AUTO);
		if (tgt < 0)
			return molt_error_set(err, -tgt, "volume target '%s'", m->target);
		if (bind_onto(src, "", tgt, true, m->readonly, err) < 0)
			return molt_error_wrap(err, "volume '%s:%s'", m->source, m->target);
	}
	return 0;
}

static int pivot(int rootfd, struct molt_error **err)
{
	/* pivot_root(".", ".") stacks the old root under the new one; detaching "." then
	 * removes it without needing a directory for it inside the rootfs (runc's way). */
	if (fchdir(rootfd) < 0)
		return molt_error_set(err, errno, "enter the rootfs");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return molt_error_set(err, errno, "pivot_root into the rootfs");
	if (umount2(".", MNT_DETACH) < 0)
		return molt_error_set(err, errno, "detach the host's root");
	if (chdir("/") < 0)
		return molt_error_set(err, errno, "chdir to the new root");
	return 0;
}

static int mount_sys(const struct sandbox_config *c, int rootfd, struct molt_error **err)
{
	_cleanup_close_ int sysfd =
		inroot_open_nolinks(rootfd, "sys", O_PATH | O_DIRECTORY, INROOT_AUTO);
	if (sysfd < 0)
		return molt_error_set(err, -sysfd, "rootfs: open '/sys'");
	/* A fresh sysfs needs a network namespace owned by our user namespace; with the
	 * host's network the host's /sys is bound instead, read-only throughout. */
	if (c->network == SANDBOX_NET_NONE)
		return mount_fd("sysfs", sysfd, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
				"/sys", err);
	return bind_onto(AT_FDCWD, "/sys", sysfd, true, true, err);
}

int mounts_setup(const struct mount_plan *p, struct molt_error **err)
{
	const struct sandbox_config *c = p->c;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return molt_error_set(err, errno, "make the sandbox's mounts private");
	_cleanup_free_ char *root = xstrdup(c->rootfs);
	if (c->overlay) {
		char *merged = NULL;
		if (overlay_root(c->rootfs, &c->rlimits, &merged, err) < 0)
			return molt_error_pass(err);
		free(root);
		root = merged;
		_cleanup_close_ int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct mount_points mp = {0};
		int r = fd < 0 ? molt_error_set(err, errno, "open '%s'", root)
			       : mounts_make_points(fd, c, &mp, err);
		mounts_points_free(&mp);
		if (r < 0)
			return r;
	}
	/* pivot_root needs the new root to be a mount point. */
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return molt_error_set(err, errno, "bind-mount rootfs '%s'", root);
	_cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return molt_error_set(err, errno, "open rootfs '%s'", root);
	if (etc_files(p, root, rootfd, err) < 0 || data_files(c, root, rootfd, err) < 0)
		return molt_error_pass(err);
	_cleanup_close_ int procfd =
		inroot_open_nolinks(rootfd, "proc", O_PATH | O_DIRECTORY, INROOT_AUTO);
	_cleanup_close_ int devfd =
		procfd < 0 ? procfd
			   : inroot_open_nolinks(rootfd, "dev", O_PATH | O_DIRECTORY, INROOT_AUTO);
	if (devfd < 0)
		return molt_error_set(err, -devfd, "rootfs: open '/proc' and '/dev'");
	if (mount_fd("proc", procfd, MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, "/proc", err) < 0)
		return molt_error_pass(err);
	if (mount_sys(c, rootfd, err) < 0)
		return molt_error_pass(err);
	_cleanup_free_ char *devpath = xasprintf("%s/dev", root);
	if (mount_fd("tmpfs", devfd, MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", "/dev",
		     err) < 0)
		return molt_error_pass(err);
	if (devices_setup(devpath, c->shm_size, err) < 0 || procfs_setup(root, err) < 0 ||
	    volumes(c, rootfd, err) < 0 || pivot(rootfd, err) < 0)
		return molt_error_pass(err);
	return devices_verify(err);
}
