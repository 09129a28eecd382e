/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/differ_walk.c: the differ for when overlayfs is not there — a metadata
 * snapshot of the tree before a step, a walk after it, compared.
 *
 * Identity is (dev, inode, birth time): an inode number alone can be reused by
 * ext4 the moment a file is deleted, and "rm -rf d; mkdir d" must read as a
 * replaced directory (an opaque one, as overlayfs would record it), not as the old
 * one with a changed mtime. A non-directory is changed when anything stat(2)
 * shows changed, ctime included: ctime also moves on chmod, chown, a new hardlink
 * and any xattr change, so xattrs of files need no reading. A directory is compared
 * the way the overlay differ compares an upperdir with its lower — mode, owner,
 * mtime and (allowed) xattrs — so both differs agree on which directories to carry.
 */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "layers_int.h"

enum seen { SEEN_NO, SEEN_KEPT, SEEN_REPLACED };

struct snap_entry {
	char *path;
	char *link; /* symlinks only */
	struct layer_xattrs xattrs; /* directories only */
	struct statx stx;
	unsigned char seen; /* enum seen, filled by differ_walk (on a private copy) */
};

struct tree_snapshot {
	struct snap_entry *v;
	size_t n, cap;
};

#define STATX_WANT (STATX_BASIC_STATS | STATX_BTIME)

/* The entry name in dfd (path: its name in messages). */
static int stat_at(int dfd, const char *name, const char *path, struct statx *ret,
		   struct molt_error **err)
{
	if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_WANT, ret) < 0)
		return molt_error_set(err, errno, "stat '%s'", path);
	return 0;
}

static bool is_dir(const struct statx *s)
{
	return S_ISDIR(s->stx_mode);
}

/* Reads what stat does not give: a symlink's target, a directory's xattrs. */
static int read_extra(int dfd, const char *name, const char *path, struct snap_entry *e,
		      struct molt_error **err)
{
	if (S_ISLNK(e->stx.stx_mode)) {
		char t[PATH_MAX];
		ssize_t n = readlinkat(dfd, name, t, sizeof(t) - 1);
		if (n < 0)
			return molt_error_set(err, errno, "read symlink '%s'", path);
		e->link = xstrndup(t, (size_t)n);
	} else if (is_dir(&e->stx)) {
		_cleanup_close_ int fd =
			openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return molt_error_set(err, errno, "open '%s'", path);
		int r = layer_xattrs_read(fd, &e->xattrs, err);
		if (r < 0)
			return molt_error_wrap(err, "'%s'", path);
	}
	return 0;
}

static void snap_entry_done(struct snap_entry *e)
{
	free(e->path);
	free(e->link);
	layer_xattrs_done(&e->xattrs);
}

void tree_snapshot_free(struct tree_snapshot *s)
{
	if (!s)
		return;
	ARRAY_FREE(s->v, s->n, snap_entry_done);
	free(s);
}

size_t tree_snapshot_size(const struct tree_snapshot *s)
{
	return s->n;
}

/* Deep down, recurse() parks *dfd while a subdirectory is walked (lib: dir_park), so a
 * dir_child_fn must use *dfd after any recurse(). */
static const struct dir_walk walk_names = {"walk", "directory", true};

static int recurse(int *dfd, const char *name, const char *path, unsigned depth,
		   dir_child_fn fn, void *ctx, struct molt_error **err)
{
	_cleanup_close_ int sub =
		openat(*dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return molt_error_set(err, errno, "open directory '%s'", path);
	struct dir_park park[2];
	int r = dir_park_walk(dfd, NULL, depth, park, path, err);
	if (r < 0 ||
	    (r = dir_for_each_child(&walk_names, &sub, NULL, path, depth + 1, fn, ctx, err)) < 0)
		return r;
	return dir_unpark_walk(dfd, sub, NULL, -1, park, path, err);
}

static int snap_one(void *ctx, int *dfd, int *peer, const char *name, const char *path,
		    unsigned depth, struct molt_error **err)
{
	(void)peer; /* one tree: no second one alongside */
	struct tree_snapshot *s = ctx;
	struct snap_entry e = {0};
	int r = stat_at(*dfd, name, path, &e.stx, err);
	if (r < 0 || (r = read_extra(*dfd, name, path, &e, err)) < 0)
		return r;
	e.path = xstrdup(path);
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = e;
	if (is_dir(&e.stx))
		return recurse(dfd, name, path, depth, snap_one, s, err);
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct snap_entry *)a)->path, ((const struct snap_entry *)b)->path);
}

int tree_snapshot_take(int rootfd, struct tree_snapshot **ret, struct molt_error **err)
{
	struct tree_snapshot *s = xcalloc(1, sizeof(*s));
	int top = rootfd; /* depth 0: never parked */
	int r = dir_for_each_child(&walk_names, &top, NULL, "", 0, snap_one, s, err);
	if (r < 0) {
		tree_snapshot_free(s);
		return molt_error_wrap(err, "snapshot");
	}
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cmp_entry);
	*ret = s;
	return 0;
}

struct walk_diff {
	const struct tree_snapshot *before;
	unsigned char *seen; /* enum seen per before entry */
	struct layer_changes *out;
};

static const struct snap_entry *lookup(const struct tree_snapshot *s, const char *path)
{
	struct snap_entry key = {.path = (char *)path};
	return s->n ? bsearch(&key, s->v, s->n, sizeof(*s->v), cmp_entry) : NULL;
}

static bool ts_eq(struct statx_timestamp a, struct statx_timestamp b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static bool replaced(const struct statx *a, const struct statx *b)
{
	if ((a->stx_mode & S_IFMT) != (b->stx_mode & S_IFMT) || a->stx_ino != b->stx_ino ||
	    a->stx_dev_major != b->stx_dev_major || a->stx_dev_minor != b->stx_dev_minor)
		return true;
	return (a->stx_mask & b->stx_mask & STATX_BTIME) && !ts_eq(a->stx_btime, b->stx_btime);
}

static bool meta_differs(const struct statx *a, const struct statx *b)
{
	return a->stx_mode != b->stx_mode || a->stx_uid != b->stx_uid || a->stx_gid != b->stx_gid ||
	       !ts_eq(a->stx_mtime, b->stx_mtime);
}

static int dir_changed(const struct snap_entry *old, const struct statx *now, int dfd,
		       const char *name, const char *path, struct molt_error **err)
{
	if (meta_differs(&old->stx, now))
		return 1;
	if (ts_eq(old->stx.stx_ctime, now->stx_ctime))
		return 0; /* an xattr change would have moved ctime */
	struct snap_entry e = {.stx = *now};
	int r = read_extra(dfd, name, path, &e, err);
	if (r >= 0)
		r = !layer_xattrs_equal(&old->xattrs, &e.xattrs);
	snap_entry_done(&e);
	return r;
}

static int file_changed(const struct snap_entry *old, const struct statx *now, int dfd,
			const char *name, const char *path, struct molt_error **err)
{
	if (meta_differs(&old->stx, now) || old->stx.stx_size != now->stx_size ||
	    !ts_eq(old->stx.stx_ctime, now->stx_ctime))
		return 1;
	if (!S_ISLNK(now->stx_mode))
		return 0;
	struct snap_entry e = {.stx = *now};
	int r = read_extra(dfd, name, path, &e, err);
	if (r >= 0)
		r = strcmp(old->link, e.link) != 0;
	snap_entry_done(&e);
	return r;
}

static int diff_all(void *ctx, int *dfd, int *peer, const char *name, const char *path,
		    unsigned depth, struct molt_error **err);

/* A new entry (now: its stat): below a new or replaced directory everything is new. */
static int add_new(struct walk_diff *wd, int *dfd, const char *name, const char *path,
		   unsigned depth, const struct statx *now, struct molt_error **err)
{
	layer_changes_add(wd->out, path, LAYER_CHANGE_ENTRY);
	return is_dir(now) ? recurse(dfd, name, path, depth, diff_all, wd, err) : 0;
}

static int diff_all(void *ctx, int *dfd, int *peer, const char *name, const char *path,
		    unsigned depth, struct molt_error **err)
{
	(void)peer; /* one tree: no second one alongside */
	struct statx now;
	int r = stat_at(*dfd, name, path, &now, err);
	return r < 0 ? r : add_new(ctx, dfd, name, path, depth, &now, err);
}

static int diff_one(void *ctx, int *dfd, int *peer, const char *name, const char *path,
		    unsigned depth, struct molt_error **err)
{
	(void)peer; /* one tree: no second one alongside */
	struct walk_diff *wd = ctx;
	struct statx now;
	int r = stat_at(*dfd, name, path, &now, err);
	if (r < 0)
		return r;
	const struct snap_entry *old = lookup(wd->before, path);
	if (!old)
		return add_new(wd, dfd, name, path, depth, &now, err);
	size_t idx = (size_t)(old - wd->before->v);
	if (replaced(&old->stx, &now)) {
		wd->seen[idx] = SEEN_REPLACED;
		/* overlayfs marks a directory made where something was deleted opaque */
		if (is_dir(&now))
			layer_changes_add(wd->out, path, LAYER_CHANGE_OPAQUE);
		return add_new(wd, dfd, name, path, depth, &now, err);
	}
	wd->seen[idx] = SEEN_KEPT;
	if (!is_dir(&now)) {
		r = file_changed(old, &now, *dfd, name, path, err);
		if (r > 0)
			layer_changes_add(wd->out, path, LAYER_CHANGE_ENTRY);
		return r < 0 ? r : 0;
	}
	if ((r = dir_changed(old, &now, *dfd, name, path, err)) < 0)
		return r;
	if (r > 0)
		layer_changes_add(wd->out, path, LAYER_CHANGE_ENTRY);
	return recurse(dfd, name, path, depth, diff_one, wd, err);
}

/*
 * A path gone from the tree is a whiteout when its parent is still the same
 * directory; below a deleted or replaced directory one whiteout (or the opaque
 * marker) already says it all.
 */
static void add_deletions(struct walk_diff *wd)
{
	const struct tree_snapshot *s = wd->before;
	for (size_t i = 0; i < s->n; i++) {
		if (wd->seen[i] != SEEN_NO)
			continue;
		const char *slash = strrchr(s->v[i].path, '/');
		if (slash) {
			_cleanup_free_ char *parent =
				xstrndup(s->v[i].path, (size_t)(slash - s->v[i].path));
			const struct snap_entry *p = lookup(s, parent);
			if (!p || wd->seen[p - s->v] != SEEN_KEPT)
				continue;
		}
		layer_changes_add(wd->out, s->v[i].path, LAYER_CHANGE_WHITEOUT);
	}
}

int differ_walk(const struct tree_snapshot *before, int rootfd, struct layer_changes *ret,
		struct molt_error **err)
{
	struct layer_changes out = {0};
	struct walk_diff wd = {before, xcalloc(before->n ? before->n : 1, 1), &out};
	int top = rootfd; /* depth 0: never parked */
	int r = dir_for_each_child(&walk_names, &top, NULL, "", 0, diff_one, &wd, err);
	if (r >= 0)
		add_deletions(&wd);
	free(wd.seen);
	if (r < 0) {
		layer_changes_done(&out);
		return molt_error_wrap(err, "compare with the snapshot");
	}
	*ret = out;
	return 0;
}
