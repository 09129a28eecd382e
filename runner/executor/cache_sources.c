/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The source digest of a COPY/ADD cache key (cache.h: cache_sources_digest): the
 * files COPY would read, selected by the same rules as the copy engine, hashed with
 * their metadata in a walk that keeps at most a bounded depth.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cache.h"
#include "cache_explain.h"

#define HASH_MAX_DEPTH 4096

struct seen_inode {
	dev_t dev;
	ino_t ino;
	char *rel;
};

struct src_walk {
	struct cache_hash *h;
	int src_root;
	bool keep_owner;
	bool (*skip)(void *, const char *, bool);
	void *skip_ud;
	bool (*exclude)(void *, const char *, bool);
	void *exclude_ud;
	size_t src_prefix; /* as the copy engine: length of the source's path plus '/' */
	struct seen_inode *seen;
	size_t n_seen;
	struct explain_files *files; /* --explain-cache: what the walk hashed, or NULL */
};

/* The same rule as the copy engine's excluded(). */
static bool walk_excluded(const struct src_walk *w, const char *rel, bool is_dir)
{
	if (w->skip && w->skip(w->skip_ud, rel, is_dir))
		return true;
	if (!w->exclude)
		return false;
	size_t n = strlen(rel);
	const char *below = n >= w->src_prefix ? rel + w->src_prefix : rel;
	return *below && w->exclude(w->exclude_ud, below, is_dir);
}

static int hash_content(struct cache_hash *h, int fd, const char *rel,
			char digest[DIGEST_STR_LEN], struct molt_error **err)
{
	uint64_t size = 0;
	int r = digest_fd(fd, digest, &size, err);
	if (r < 0)
		return molt_error_wrap(err, "hash '%s'", rel);
	cache_hash_str(h, "content", digest);
	return 0;
}

/* Hashes one entry's metadata; regular files also their content (or hardlink). */
static int hash_meta(struct src_walk *w, int dirfd, const char *name, const struct stat *st,
		     const char *rel, struct molt_error **err)
{
	struct cache_hash *h = w->h;
	cache_hash_str(h, "path", rel);
	cache_hash_int(h, "type", (int64_t)(st->st_mode & S_IFMT));
	cache_hash_int(h, "mode", (int64_t)(st->st_mode & 07777));
	if (w->keep_owner) {
		cache_hash_int(h, "uid", (int64_t)st->st_uid);
		cache_hash_int(h, "gid", (int64_t)st->st_gid);
	}
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(dirfd, name, target, PATH_MAX);
		if (n < 0)
			return molt_error_set(err, errno, "read link '%s'", rel);
		target[n] = '\0';
		cache_hash_str(h, "target", target);
		explain_file(w->files, rel, st, w->keep_owner, target);
		return 0;
	}
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		cache_hash_int(h, "rdev", (int64_t)st->st_rdev);
		_cleanup_free_ char *dev = xasprintf("rdev %ju", (uintmax_t)st->st_rdev);
		explain_file(w->files, rel, st, w->keep_owner, dev);
		return 0;
	}
	if (!S_ISREG(st->st_mode)) {
		explain_file(w->files, rel, st, w->keep_owner, NULL);
		return 0;
	}
	/* The copy keeps hardlinks between copied files: their structure is output too. */
	if (st->st_nlink > 1) {
		for (size_t i = 0; i < w->n_seen; i++)
			if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino) {
				cache_hash_str(h, "hardlink", w->seen[i].rel);
				explain_file(w->files, rel, st, w->keep_owner, w->seen[i].rel);
				return 0;
			}
		ARRAY_PUSH(w->seen, w->n_seen,
			   (struct seen_inode){st->st_dev, st->st_ino, xstrdup(rel)});
	}
	/* O_NONBLOCK: a FIFO swapped in since the fstatat must not block the build. */
	_cleanup_close_ int fd =
		openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return molt_error_set(err, errno, "open '%s'", rel);
	char digest[DIGEST_STR_LEN];
	int r = hash_content(h, fd, rel, digest, err);
	if (r == 0)
		explain_file(w->files, rel, st, w->keep_owner, digest);
	return r;
}

static int walk_children(struct src_walk *w, int *dirfd, const char *rel, unsigned depth,
			 struct molt_error **err);

/* Deep down, *dirfd is parked while a subdirectory is walked (lib: dir_park). */
static int walk_entry(struct src_walk *w, int *dirfd, const char *name, const char *rel,
		      unsigned depth, struct molt_error **err)
{
	struct stat st;
	if (fstatat(*dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return molt_error_set(err, errno, "stat '%s'", rel);
	if (walk_excluded(w, rel, S_ISDIR(st.st_mode)))
		return 0;
	int r = hash_meta(w, *dirfd, name, &st, rel, err);
	if (r < 0 || !S_ISDIR(st.st_mode))
		return r;
	if (depth > HASH_MAX_DEPTH)
		return molt_error_setx(err, ELOOP, "hash '%s': directory tree too deep", rel);
	_cleanup_close_ int sub =
		openat(*dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return molt_error_set(err, errno, "open directory '%s'", rel);
	struct dir_park park;
	if ((r = dir_park(dirfd, depth, &park)) < 0)
		return molt_error_set(err, -r, "stat the parent of '%s'", rel);
	if ((r = walk_children(w, &sub, rel, depth + 1, err)) < 0)
		return r;
	if ((r = dir_unpark(dirfd, sub, &park)) < 0)
		return molt_error_set(err, -r, "reopen the parent of '%s'", rel);
	return 0;
}

static int walk_children(struct src_walk *w, int *dirfd, const char *rel, unsigned depth,
			 struct molt_error **err)
{
	_cleanup_strv_ char **names = NULL;
	int r = dir_list_sorted(*dirfd, &names);
	if (r < 0)
		return molt_error_set(err, -r, "read directory '%s'", *rel ? rel : ".");
	for (size_t i = 0; names[i] && r == 0; i++) {
		_cleanup_free_ char *sub = *rel ? xasprintf("%s/%s", rel, names[i])
						: xstrdup(names[i]);
		r = walk_entry(w, dirfd, names[i], sub, depth, err);
	}
	cache_hash_str(w->h, "end", rel);
	return r;
}

static int walk_source(struct src_walk *w, const char *src, struct molt_error **err)
{
	_cleanup_strv_ char **comps = copy_path_split(src);
	cache_hash_str(w->h, "source", src);
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer forever; its
	 * content is never hashed (only regular files' is). */
	_cleanup_close_ int fd =
		inroot_open(w->src_root, src, O_RDONLY | O_NOCTTY | O_NONBLOCK, INROOT_AUTO);
	if (fd == -EISDIR || fd == -ENXIO || fd == -EACCES)
		fd = inroot_open(w->src_root, src, O_PATH, INROOT_AUTO);
	if (fd < 0) {
		cache_hash_int(w->h, "missing", -fd);
		return 0;
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return molt_error_set(err, errno, "stat '%s'", src);
	const char *rel = strcmp(src, ".") ? src : "";
	w->src_prefix = *rel ? strlen(rel) + 1 : 0;
	size_t sn = strv_len(comps);
	if (S_ISDIR(st.st_mode)) {
		cache_hash_int(w->h, "dir", (int64_t)(st.st_mode & 07777));
		explain_file(w->files, src, &st, w->keep_owner, NULL);
		if (w->keep_owner) {
			cache_hash_int(w->h, "uid", (int64_t)st.st_uid);
			cache_hash_int(w->h, "gid", (int64_t)st.st_gid);
		}
		_cleanup_close_ int dfd =
			inroot_open(w->src_root, src, O_RDONLY | O_DIRECTORY, INROOT_AUTO);
		if (dfd < 0)
			return molt_error_set(err, -dfd, "open '%s'", src);
		return walk_children(w, &dfd, rel, 1, err);
	}
	if (w->exclude && sn && w->exclude(w->exclude_ud, comps[sn - 1], false)) {
		cache_hash_str(w->h, "excluded", src);
		return 0;
	}
	cache_hash_int(w->h, "type", (int64_t)(st.st_mode & S_IFMT));
	cache_hash_int(w->h, "mode", (int64_t)(st.st_mode & 07777));
	if (w->keep_owner) {
		cache_hash_int(w->h, "uid", (int64_t)st.st_uid);
		cache_hash_int(w->h, "gid", (int64_t)st.st_gid);
	}
	if (!S_ISREG(st.st_mode)) {
		explain_file(w->files, src, &st, w->keep_owner, NULL);
		return 0;
	}
	char digest[DIGEST_STR_LEN];
	int r = hash_content(w->h, fd, src, digest, err);
	if (r == 0)
		explain_file(w->files, src, &st, w->keep_owner, digest);
	return r;
}

int cache_sources_digest_explain(int src_root, char *const *sources, bool keep_owner,
				 bool (*skip)(void *, const char *, bool), void *skip_userdata,
				 bool (*exclude)(void *, const char *, bool),
				 void *exclude_userdata, struct explain_files *files,
				 char ret[DIGEST_STR_LEN], struct molt_error **err)
{
	struct src_walk w = {
		.h = cache_hash_new("sources"),
		.src_root = src_root,
		.keep_owner = keep_owner,
		.skip = skip,
		.skip_ud = skip_userdata,
		.exclude = exclude,
		.exclude_ud = exclude_userdata,
		.files = files,
	};
	int r = 0;
	for (size_t i = 0; sources && sources[i] && r == 0; i++) {
		_cleanup_strv_ char **matches = NULL;
		cache_hash_str(w.h, "arg", sources[i]);
		r = copy_sources_select(src_root, sources[i], skip, skip_userdata, &matches, err);
		for (size_t k = 0; r == 0 && matches[k]; k++)
			r = walk_source(&w, matches[k], err);
	}
	for (size_t i = 0; i < w.n_seen; i++)
		free(w.seen[i].rel);
	free(w.seen);
	char d[DIGEST_STR_LEN];
	cache_hash_final(w.h, d);
	if (r == 0)
		memcpy(ret, d, DIGEST_STR_LEN);
	return r;
}

int cache_sources_digest(int src_root, char *const *sources, bool keep_owner,
			 bool (*skip)(void *, const char *, bool), void *skip_userdata,
			 bool (*exclude)(void *, const char *, bool), void *exclude_userdata,
			 char ret[DIGEST_STR_LEN], struct molt_error **err)
{
	return cache_sources_digest_explain(src_root, sources, keep_owner, skip, skip_userdata, exclude,
			      exclude_userdata, NULL, ret, err);
}

