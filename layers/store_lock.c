/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/store_lock.c: the store's locks and per-process scratch directories
 * (garbage collection, which relies on them, is in store_gc.c).
 *
 * flock(2) locks belong to the open file description, so they vanish when the
 * process dies however it dies (SIGKILL included) — no stale lock files to break.
 * Scratch directories are named "<pid>.<random>" and their owner holds an exclusive
 * flock on the directory itself; a directory that can be locked by someone else
 * and whose pid is gone belongs to a dead process and is garbage.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "layers_int.h"

int store_lock_file(int dirfd, const char *name, bool exclusive, bool wait, int *ret_fd,
		    struct molt_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return molt_error_set(err, errno, "open lock file '%s'", name);
	int r = store_lock_fd(fd, exclusive, wait, err);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int store_lock_fd(int fd, bool exclusive, bool wait, struct molt_error **err)
{
	int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
	while (flock(fd, op) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return -EWOULDBLOCK; /* not an error for the caller to print */
		return molt_error_set(err, errno, "lock the store");
	}
	return 0;
}

int store_tmp_create(int tmpfd, const char *tmp_path, char **ret_path, int *ret_lockfd,
		     struct molt_error **err)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		unsigned rnd = 0;
		int ufd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (ufd >= 0) {
			(void)!read(ufd, &rnd, sizeof(rnd));
			close(ufd);
		}
		_cleanup_free_ char *name = xasprintf("%d.%08x", (int)getpid(), rnd + (unsigned)attempt);
		if (mkdirat(tmpfd, name, 0700) < 0) {
			if (errno == EEXIST)
				continue;
			return molt_error_set(err, errno, "create directory '%s/%s'", tmp_path, name);
		}
		/*
		 * Between mkdir and flock another process could see the directory
		 * unlocked, but its pid (ours) is alive, so it leaves it alone.
		 */
		_cleanup_close_ int fd =
			openat(tmpfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return molt_error_set(err, errno, "open '%s/%s'", tmp_path, name);
		int r = store_lock_fd(fd, true, false, err);
		if (r < 0)
			return r == -EWOULDBLOCK ? molt_error_setx(err, EBUSY, "lock '%s/%s': busy",
								  tmp_path, name)
						 : r;
		*ret_path = xasprintf("%s/%s", tmp_path, name);
		*ret_lockfd = TAKE_FD(fd);
		return 0;
	}
	return molt_error_setx(err, EEXIST, "create a scratch directory in '%s': too many collisions",
			       tmp_path);
}

/* Whether a scratch directory's owner is gone: its pid is dead and nobody holds it. */
static bool tmp_entry_is_stale(int tmpfd, const char *name)
{
	char *dot;
	long pid = strtol(name, &dot, 10);
	if (pid <= 0 || *dot != '.')
		return true; /* not ours: a leftover of something older */
	if (pid == getpid())
		return false;
	if (kill((pid_t)pid, 0) == 0 || errno == EPERM)
		return false;
	_cleanup_close_ int fd = openat(tmpfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	return flock(fd, LOCK_EX | LOCK_NB) == 0;
}

void store_tmp_clean(int tmpfd)
{
	int dup_fd = fcntl(tmpfd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		return;
	_cleanup_closedir_ DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !tmp_entry_is_stale(tmpfd, de->d_name))
			continue;
		_cleanup_error_ struct molt_error *e = NULL;
		/* Files owned by subuids need the build namespace; a later run retries. */
		if (rm_rf_at(tmpfd, de->d_name, &e) < 0)
			molt_debug("store: cannot remove stale scratch '%s': %s", de->d_name,
				   e ? e->msg : "");
	}
}
