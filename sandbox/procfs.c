/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Docker's masked and read-only paths in /proc and /sys (moby oci/defaults.go). A
 * masked file gets the host's /dev/null bound over it, a masked directory an empty
 * read-only tmpfs; the read-only paths are bound onto themselves read-only. Paths the
 * running kernel lacks are skipped. Runs before pivot_root: `root` is the rootfs path.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "sandbox_int.h"

static const char *const masked[] = {
	"proc/asound",	     "proc/acpi",	 "proc/interrupts",  "proc/kcore",
	"proc/keys",	     "proc/latency_stats", "proc/timer_list", "proc/timer_stats",
	"proc/sched_debug",  "proc/scsi",	 "sys/firmware",     "sys/devices/virtual/powercap",
};

static const char *const readonly[] = {
	"proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger",
};

static int mask(const char *root, const char *rel, struct molt_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", root, rel);
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : molt_error_set(err, errno, "inspect '/%s'", rel);
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=0,mode=0555") < 0)
			return molt_error_set(err, errno, "mask '/%s'", rel);
		return 0;
	}
	_cleanup_close_ int tfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		return molt_error_set(err, errno, "open '/%s'", rel);
	if (bind_onto(AT_FDCWD, "/dev/null", tfd, false, false, err) < 0)
		return molt_error_wrap(err, "mask '/%s'", rel);
	return 0;
}

static int make_readonly(const char *root, const char *rel, struct molt_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", root, rel);
	_cleanup_close_ int tfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		return errno == ENOENT ? 0 : molt_error_set(err, errno, "open '/%s'", rel);
	if (bind_onto(AT_FDCWD, path, tfd, true, true, err) < 0)
		return molt_error_wrap(err, "make '/%s' read-only", rel);
	return 0;
}

int procfs_setup(const char *root, struct molt_error **err)
{
	for (size_t i = 0; i < ARRAY_SIZE(readonly); i++)
		if (make_readonly(root, readonly[i], err) < 0)
			return molt_error_pass(err);
	for (size_t i = 0; i < ARRAY_SIZE(masked); i++)
		if (mask(root, masked[i], err) < 0)
			return molt_error_pass(err);
	return 0;
}
