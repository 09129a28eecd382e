/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/store_fresh.c: unpacked trees are published without waiting for the disk.
 *
 * A tree under layers/sha256 is a cache of a blob that is on disk (blobs are fsync'ed
 * when stored): a step's overlay upper directory or an unpacked base layer. Making its
 * data durable before publishing it took a syncfs(2), which waits for every dirty page
 * of the whole filesystem — on a shared host or CI runner that is everybody's writes,
 * not the step's (a 15 MB yarn layer committed in 0.09 s on a quiet filesystem and in
 * 2.3 s with another process's 530 MB copy not yet written back). Page-cache contents
 * outlive any process; only a kernel crash or a power loss loses them, and either gives
 * the machine a new boot ID. So each tree is published with a marker,
 * layers/fresh/<boot ID>/<hex>, made durable before the rename that publishes the tree
 * (so a published tree whose marker was lost cannot exist), and every process opening
 * the store first removes the trees whose marker names another boot: they are unpacked
 * again from their blobs when next needed (every user of a tree ensures it first,
 * layers.h: image_ensure_unpacked). A tree without a marker was synced before
 * publishing (a store written before markers, or a machine without a readable boot ID,
 * where publishing falls back to syncfs).
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers_int.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

/* The kernel's boot ID (a UUID) into out, or "" when it cannot be read as one. */
static void read_boot_id(char out[40])
{
	out[0] = '\0';
	_cleanup_close_ int fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
	char buf[40];
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 36)
		return;
	buf[36] = '\0';
	if (strspn(buf, "0123456789abcdef-") == 36)
		memcpy(out, buf, 37);
}

static bool is_hex64(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");
	return n == 64 && s[n] == '\0';
}

/* mkdir, then an fsync of the parent even when the directory was there: another
 * process may have made it a moment ago and not yet synced it. */
static int mkdir_synced(int dirfd, const char *parent, const char *name,
			struct molt_error **err)
{
	_cleanup_free_ char *rel = xasprintf("%s/%s", parent, name);
	if (mkdirat(dirfd, rel, 0755) < 0 && errno != EEXIST)
		return molt_error_set(err, errno, "create '%s' in the store", rel);
	store_fsync_dir(dirfd, parent);
	return 0;
}

int store_fresh_mark(struct layer_store *s, const char *hex, const char *tree,
		     struct molt_error **err)
{
	if (!s->boot[0]) {
		/* No boot ID to tell a crash by: make the tree durable before publishing it. */
		_cleanup_close_ int fd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || syncfs(fd) < 0)
			return molt_error_set(err, errno, "sync the layer tree '%s'", tree);
		return 0;
	}
	_cleanup_free_ char *dir = xasprintf("layers/fresh/%s", s->boot);
	if (!s->fresh_made) { /* once per store handle; threads racing here do it twice */
		int r = mkdir_synced(s->rootfd, "layers", "fresh", err);
		if (r == 0)
			r = mkdir_synced(s->rootfd, "layers/fresh", s->boot, err);
		if (r < 0)
			return r;
		s->fresh_made = true;
	}
	_cleanup_free_ char *rel = xasprintf("%s/%s", dir, hex);
	_cleanup_close_ int fd =
		openat(s->rootfd, rel, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return molt_error_set(err, errno, "create the marker '%s' in the store", rel);
	/* The marker's name must be on disk before the tree's: one journal commit. */
	store_fsync_dir(s->rootfd, dir);
	return 0;
}

/*
 * One tree of an ended boot, under its layer's tree lock (store_tree_lock) so no other
 * process unpacks or removes it meanwhile: renamed into our scratch directory (the name
 * is gone at once), its marker removed, then the tree deleted. *removed counts trees
 * actually found. A tree that cannot be deleted stays in our scratch directory, which
 * layer_store_free() or the next molt removes.
 */
static int drop_stale(struct layer_store *s, const char *dir, const char *hex, const char *trash,
		      size_t *removed, struct molt_error **err)
{
	int lfd = -1;
	int r = store_tree_lock(s, hex, &lfd, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *marker = xasprintf("%s/%s", dir, hex);
	_cleanup_free_ char *tree = xasprintf("layers/sha256/%s", hex);
	_cleanup_free_ char *dest = xasprintf("%s/stale-%s", trash, hex);
	bool moved = false;
	struct stat st;
	if (fstatat(s->rootfd, marker, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		moved = renameat(s->rootfd, tree, AT_FDCWD, dest) == 0;
		if (!moved && errno != ENOENT)
			r = molt_error_set(err, errno, "move aside the layer tree '%s/%s'", s->root,
					   tree);
		else {
			/* The tree's name must be gone from the disk before its marker is. */
			store_fsync_dir(s->rootfd, "layers/sha256");
			(void)unlinkat(s->rootfd, marker, 0);
		}
	}
	store_tree_unlock(s, hex, lfd);
	if (moved) {
		(*removed)++;
		_cleanup_error_ struct molt_error *e = NULL;
		if (rm_rf(dest, &e) < 0)
			molt_debug("store: cannot remove '%s' yet: %s", dest, e->msg);
	}
	return r;
}

/* Every marker of one ended boot: its tree goes, then the boot's directory. */
static int drop_boot(struct layer_store *s, const char *boot, size_t *n, struct molt_error **err)
{
	_cleanup_free_ char *dir = xasprintf("layers/fresh/%s", boot);
	int dfd = openat(s->rootfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : molt_error_set(err, errno, "open '%s/%s'", s->root, dir);
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return molt_error_set(err, errno, "read '%s/%s'", s->root, dir);
	}
	const char *trash = NULL;
	int r = layer_store_tmpdir(s, &trash, err);
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!is_hex64(de->d_name)) {
			(void)unlinkat(dfd, de->d_name, 0);
			continue;
		}
		r = drop_stale(s, dir, de->d_name, trash, n, err);
	}
	closedir(d);
	if (r == 0)
		(void)unlinkat(s->rootfd, dir, AT_REMOVEDIR); /* ENOTEMPTY: another is at it */
	return r;
}

int store_fresh_purge(struct layer_store *s, struct molt_error **err)
{
	read_boot_id(s->boot);
	int dfd = openat(s->rootfd, "layers/fresh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : molt_error_set(err, errno, "open '%s/layers/fresh'",
							       s->root);
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return molt_error_set(err, errno, "read '%s/layers/fresh'", s->root);
	}
	_cleanup_strv_ char **ended = NULL;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strcmp(de->d_name, s->boot))
			strv_push(&ended, de->d_name);
	closedir(d);
	int r = 0;
	size_t n = 0;
	for (size_t i = 0; ended && ended[i] && r == 0; i++)
		r = drop_boot(s, ended[i], &n, err);
	if (n)
		molt_debug("store: %zu layer trees written before the machine last started were not "
			   "known to be on disk; removed, to be unpacked again from their blobs", n);
	return r < 0 ? molt_error_wrap(err, "store '%s'", s->root) : 0;
}

void store_fresh_forget(struct layer_store *s)
{
	if (!s->boot[0])
		return;
	_cleanup_free_ char *dir = xasprintf("layers/fresh/%s", s->boot);
	int dfd = openat(s->rootfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		closep(&dfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *tree = xasprintf("layers/sha256/%s", de->d_name);
		struct stat st;
		if (fstatat(s->rootfd, tree, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
			(void)unlinkat(dfd, de->d_name, 0);
	}
	closedir(d);
}
