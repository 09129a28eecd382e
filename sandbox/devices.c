/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /dev: a tmpfs with the host's device nodes bind-mounted in (mknod is not allowed in
 * a user namespace, and a tmpfs mounted there is nodev anyway), a private devpts
 * instance, /dev/shm and the usual links. The host's nodes are the sources, never the
 * image's: a /dev/null planted in an image cannot be used to mask /proc paths with
 * something else (CVE-2025-31133).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "sandbox_int.h"

struct devnode {
	const char *name;
	unsigned major, minor;
};

static const struct devnode nodes[] = {
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9},
	{"tty", 5, 0},
};

static const char *const links[][2] = {
	{"ptmx", "pts/ptmx"},	      {"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
};

static bool is_node(const struct stat *st, const struct devnode *n)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == n->major &&
	       minor(st->st_rdev) == n->minor;
}

static int bind_node(int devfd, const struct devnode *n, struct molt_error **err)
{
	_cleanup_free_ char *src = xasprintf("/dev/%s", n->name);
	_cleanup_close_ int sfd = open(src, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (sfd < 0 || fstat(sfd, &st) < 0)
		return molt_error_set(err, errno, "open the host's '%s'", src);
	if (!is_node(&st, n))
		return molt_error_setx(err, ENODEV, "the host's '%s' is not the %u:%u device", src,
				       n->major, n->minor);
	int f = openat(devfd, n->name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (f < 0)
		return molt_error_set(err, errno, "create the mount point '/dev/%s'", n->name);
	close(f);
	_cleanup_close_ int tfd = openat(devfd, n->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		return molt_error_set(err, errno, "open '/dev/%s'", n->name);
	return bind_onto(sfd, "", tfd, false, false, err);
}

int devices_setup(const char *devpath, uint64_t shm_size, struct molt_error **err)
{
	_cleanup_close_ int devfd = open(devpath, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (devfd < 0)
		return molt_error_set(err, errno, "open the sandbox's /dev");
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++)
		if (bind_node(devfd, &nodes[i], err) < 0)
			return molt_error_pass(err);
	if (mkdirat(devfd, "pts", 0755) < 0 || mkdirat(devfd, "shm", 01777) < 0)
		return molt_error_set(err, errno, "create /dev/pts and /dev/shm");
	_cleanup_free_ char *pts = xasprintf("%s/pts", devpath);
	_cleanup_free_ char *shm = xasprintf("%s/shm", devpath);
	/* newinstance: the sandbox's ptys are its own, the host's are not listed. No gid=5:
	 * with a one-id map the tty group does not exist in here and the mount would fail. */
	if (mount("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
		return molt_error_set(err, errno, "mount devpts on /dev/pts");
	/* Docker's default 64 MiB unless --shm-size */
	_cleanup_free_ char *shm_opts = xasprintf("mode=1777,size=%llu", shm_size ?
						  (unsigned long long)shm_size : 65536ULL << 10);
	if (mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm_opts) < 0)
		return molt_error_set(err, errno, "mount tmpfs on /dev/shm");
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		if (symlinkat(links[i][1], devfd, links[i][0]) < 0)
			return molt_error_set(err, errno, "create /dev/%s", links[i][0]);
	return 0;
}

/* After pivot_root: each node must be the real device, seen through the new root. */
int devices_verify(struct molt_error **err)
{
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
		char path[32];
		struct stat st;
		snprintf(path, sizeof(path), "/dev/%s", nodes[i].name);
		if (lstat(path, &st) < 0)
			return molt_error_set(err, errno, "check the sandbox's '%s'", path);
		if (!is_node(&st, &nodes[i]))
			return molt_error_setx(err, ENODEV, "the sandbox's '%s' is not the %u:%u device",
					       path, nodes[i].major, nodes[i].minor);
	}
	return 0;
}
