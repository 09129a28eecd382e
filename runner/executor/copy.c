/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The COPY/ADD file engine (see copy.h). Runs inside the build namespace as its
 * uid 0, so ownership can be set to any mapped id.
 *
 * Safety: the source and destination trees are only ever reached through
 * in-root lookups (inroot_open, lib/inroot.c) from their root fds, and below a resolved directory
 * through *at() calls with O_NOFOLLOW on single names; no string path is handed to
 * the kernel that could walk out of a root. All processes of the step are gone
 * before COPY runs, so nothing races the walk (CVE-2018-15664).
 */
#include <fcntl.h>
#include <fnmatch.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "copy.h"

#define COPY_MAX_DEPTH 4096

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *dst_path; /* inside dst_root */
};

struct copy_state {
	const struct copy_opts *o;
	int src_root, dst_root;
	struct copy_stats stats;
	struct hardlink *links;
	size_t n_links;
	size_t src_prefix; /* length of the current source's path plus its '/' */
	/* copy_file_range said the two filesystems cannot share it (EXDEV, ...): the rest
	 * of this copy goes straight to read/write instead of failing the call per file. */
	bool no_cfr;
};

static bool excluded(const struct copy_state *s, const char *relpath, bool is_dir)
{
	if (s->o->skip && s->o->skip(s->o->skip_userdata, relpath, is_dir))
		return true;
	if (!s->o->exclude)
		return false;
	size_t n = strlen(relpath);
	const char *below = n >= s->src_prefix ? relpath + s->src_prefix : relpath;
	return *below && s->o->exclude(s->o->exclude_userdata, below, is_dir);
}

char **copy_path_split(const char *path)
{
	char **v = xcalloc(1, sizeof(char *));
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* skip */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			/* Lexical cleaning as filepath.Clean: ".." at the root stays at the root. */
			size_t n = strv_len(v);
			if (n > 0) {
				free(v[n - 1]);
				v[n - 1] = NULL;
			}
		} else {
			strv_push_take(&v, xstrndup(p, len));
		}
		p = end;
	}
	return v;
}

bool copy_has_wildcard(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static char *join_comps(char *const *c, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addc(&sb, '/');
		strbuf_adds(&sb, c[i]);
	}
	return strbuf_detach(&sb);
}

int copy_mkdir_in_root(int rootfd, const char *path, uid_t uid, gid_t gid)
{
	_cleanup_strv_ char **c = copy_path_split(path);
	size_t n = strv_len(c);
	int fd = inroot_open(rootfd, ".", O_DIRECTORY | O_PATH, INROOT_AUTO);
	for (size_t i = 0; i < n && fd >= 0; i++) {
		_cleanup_free_ char *prefix = join_comps(c, i + 1);
		int next = inroot_open(rootfd, prefix, O_DIRECTORY | O_PATH, INROOT_AUTO);
		if (next == -ENOENT) {
			if (mkdirat(fd, c[i], 0755) < 0)
				next = errno == EEXIST ? -ENOTDIR : -errno; /* a dangling symlink */
			else if (fchownat(fd, c[i], uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
				next = -errno;
			else
				next = inroot_open(rootfd, prefix, O_DIRECTORY | O_PATH,
						   INROOT_AUTO);
		}
		close(fd);
		fd = next;
	}
	return fd;
}

int copy_mkdir_open(int rootfd, const char *path, uid_t uid, gid_t gid, struct molt_error **err)
{
	_cleanup_close_ int d = copy_mkdir_in_root(rootfd, path, uid, gid);
	if (d < 0)
		return molt_error_set(err, -d, "create '%s'", path);
	int fd = openat(d, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return molt_error_set(err, errno, "open '%s'", path);
	return fd;
}

static int copy_xattrs(int src, int dst)
{
	char names[4096];
	ssize_t n = flistxattr(src, names, sizeof(names));
	if (n <= 0)
		return 0;
	for (char *k = names; k < names + n; k += strlen(k) + 1) {
		/* Only what an image may carry: user.* and file capabilities. */
		if (!str_startswith(k, "user.") && strcmp(k, "security.capability") != 0)
			continue;
		char val[4096];
		ssize_t vn = fgetxattr(src, k, val, sizeof(val));
		if (vn >= 0 && fsetxattr(dst, k, val, (size_t)vn, 0) < 0 && errno != ENOTSUP)
			return -errno;
	}
	return 0;
}

static void entry_owner(const struct copy_state *s, const struct stat *st, uid_t *uid, gid_t *gid)
{
	if (s->o->chown) {
		*uid = s->o->uid;
		*gid = s->o->gid;
	} else if (s->o->keep_owner) {
		*uid = st->st_uid;
		*gid = st->st_gid;
	} else {
		*uid = 0;
		*gid = 0;
	}
}

static mode_t entry_mode(const struct copy_state *s, const struct stat *st)
{
	mode_t m = s->o->chmod ? s->o->mode : (st->st_mode & 07777);
	return s->o->no_setid ? m & ~(mode_t)(S_ISUID | S_ISGID) : m;
}

/* Removes a non-directory at dst_dirfd/name so a new entry can take its place. */
static int clear_target(int dst_dirfd, const char *name, bool want_dir, bool *ret_is_dir)
{
	struct stat st;
	*ret_is_dir = false;
	if (fstatat(dst_dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode)) {
		if (!want_dir)
			return -EISDIR;
		*ret_is_dir = true;
		return 0;
	}
	return unlinkat(dst_dirfd, name, 0) < 0 ? -errno : 0;
}

static int copy_file_data_dense(struct copy_state *s, int in, int out, uint64_t *bytes);

/*
 * Copies the data ranges of in and leaves its holes holes (SEEK_DATA/SEEK_HOLE): a
 * base image file claiming 20 GiB of sparse data must not become 20 GiB of zeros on
 * disk when COPY --from takes it. Falls back to a plain copy where the filesystem
 * does not say where its holes are. `seen` is the walk's stat of the file: it only
 * picks the path; a sparse file is stat'ed again through in for its size.
 */
static int copy_file_data(struct copy_state *s, int in, const struct stat *seen, int out,
			  uint64_t *bytes)
{
	/* Dense files (blocks for every byte) take the plain path: no lseek dance. */
	if ((uint64_t)seen->st_blocks * 512 >= (uint64_t)seen->st_size)
		return copy_file_data_dense(s, in, out, bytes);
	struct stat st;
	if (fstat(in, &st) < 0)
		return -errno;
	off_t pos = 0;
	while (pos < st.st_size) {
		off_t data = lseek(in, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* only a hole is left */
		if (data < 0)
			return lseek(in, 0, SEEK_SET) < 0 ? -errno
							 : copy_file_data_dense(s, in, out, bytes);
		off_t hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if (lseek(in, data, SEEK_SET) < 0 || lseek(out, data, SEEK_SET) < 0)
			return -errno;
		char buf[65536];
		for (off_t left = hole - data; left > 0;) {
			ssize_t n = read(in, buf, left < (off_t)sizeof(buf) ? (size_t)left : sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			int r = write_all(out, buf, (size_t)n);
			if (r < 0)
				return r;
			*bytes += (uint64_t)n;
			left -= n;
		}
		pos = hole;
	}
	return ftruncate(out, st.st_size) < 0 ? -errno : 0;
}

static int copy_file_data_dense(struct copy_state *s, int in, int out, uint64_t *bytes)
{
	while (!s->no_cfr) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n > 0) {
			*bytes += (uint64_t)n;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
			return -errno;
		s->no_cfr = true; /* read/write goes on from where copy_file_range stopped */
	}
	char buf[65536];
	for (;;) {
		ssize_t n = read_full(in, buf, sizeof(buf));
		if (n <= 0)
			return (int)n;
		int r = write_all(out, buf, (size_t)n);
		if (r < 0)
			return r;
		*bytes += (uint64_t)n;
		/* read_full stops short only at the end: no extra read() per small file. */
		if ((size_t)n < sizeof(buf))
			return 0;
	}
}

static int find_hardlink(struct copy_state *s, const struct stat *st, int dst_dirfd,
			 const char *name, const char *dst_path, bool *ret_done)
{
	*ret_done = false;
	if (st->st_nlink < 2)
		return 0;
	for (size_t i = 0; i < s->n_links; i++) {
		struct hardlink *h = &s->links[i];
		if (h->dev != st->st_dev || h->ino != st->st_ino)
			continue;
		_cleanup_strv_ char **c = copy_path_split(h->dst_path);
		size_t n = strv_len(c);
		_cleanup_free_ char *parent = join_comps(c, n - 1);
		_cleanup_close_ int pfd =
			inroot_open(s->dst_root, parent, O_DIRECTORY | O_PATH, INROOT_AUTO);
		if (pfd < 0)
			return pfd;
		if (linkat(pfd, c[n - 1], dst_dirfd, name, 0) < 0)
			return -errno;
		s->stats.links++;
		*ret_done = true;
		return 0;
	}
	ARRAY_PUSH(s->links, s->n_links,
		   (struct hardlink){st->st_dev, st->st_ino, xstrdup(dst_path)});
	return 0;
}

/*
 * A new file dst_dirfd/name. Created first and cleared only when something is in the
 * way (EEXIST, a symlink too: O_NOFOLLOW|O_EXCL): in a fresh directory, the common
 * case, that saves a negative lookup per file, which through the step's overlay asks
 * every lower layer.
 */
static int create_file(int dst_dirfd, const char *name)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dst_dirfd, name, flags, 0600);
	if (fd >= 0 || errno != EEXIST)
		return fd >= 0 ? fd : -errno;
	bool is_dir;
	int r = clear_target(dst_dirfd, name, false, &is_dir);
	if (r < 0)
		return r;
	fd = openat(dst_dirfd, name, flags, 0600);
	return fd >= 0 ? fd : -errno;
}

static int copy_regular(struct copy_state *s, int src_fd, const struct stat *st, int dst_dirfd,
			const char *name, const char *dst_path)
{
	bool done, is_dir;
	int r;
	if (st->st_nlink >= 2) {
		/* A later link of a copied file: linkat needs the name free. */
		if ((r = clear_target(dst_dirfd, name, false, &is_dir)) < 0)
			return r;
		r = find_hardlink(s, st, dst_dirfd, name, dst_path, &done);
		if (r < 0 || done)
			return r;
	}
	_cleanup_close_ int out = create_file(dst_dirfd, name);
	if (out < 0)
		return out;
	r = copy_file_data(s, src_fd, st, out, &s->stats.bytes);
	if (r < 0)
		return r;
	uid_t uid;
	gid_t gid;
	entry_owner(s, st, &uid, &gid);
	/* chown first: it clears set-id bits and file capabilities. */
	if (fchown(out, uid, gid) < 0 || fchmod(out, entry_mode(s, st)) < 0)
		return -errno;
	r = copy_xattrs(src_fd, out);
	if (r < 0)
		return r;
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	if (futimens(out, ts) < 0)
		return -errno;
	s->stats.files++;
	return 0;
}

static int copy_special(struct copy_state *s, int src_dirfd, const char *src_name,
			const struct stat *st, int dst_dirfd, const char *name, const char *relpath)
{
	bool is_dir;
	int r = clear_target(dst_dirfd, name, false, &is_dir);
	if (r < 0)
		return r;
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(src_dirfd, src_name, target, PATH_MAX);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		if (symlinkat(target, dst_dirfd, name) < 0)
			return -errno;
	} else if (S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		if (mknodat(dst_dirfd, name, st->st_mode & (S_IFMT | 07777), st->st_rdev) < 0) {
			if (errno != EPERM)
				return -errno;
			/* Device nodes cannot be made in a user namespace. */
			molt_warn("COPY: skipping device '%s' (devices cannot be created "
				  "without root)",
				  relpath);
			return 0;
		}
	} else {
		return 0; /* sockets are not copied */
	}
	uid_t uid;
	gid_t gid;
	entry_owner(s, st, &uid, &gid);
	if (fchownat(dst_dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISLNK(st->st_mode) && fchmodat(dst_dirfd, name, entry_mode(s, st), 0) < 0)
		return -errno;
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	if (utimensat(dst_dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	s->stats.files++;
	return 0;
}

static int copy_dir_children(struct copy_state *s, int *src_dirfd, int *dst_dirfd,
			     const char *relpath, const char *dst_path, unsigned depth,
			     struct molt_error **err);

/* The copy engine's result for src copied to dst_path, as the error a user reads. */
static int copy_result(int r, const char *src, const char *dst_path, struct molt_error **err)
{
	if (r == -EISDIR)
		return molt_error_setx(err, EISDIR, "cannot copy file '%s' over directory '%s'",
				       src, dst_path);
	if (r < 0)
		return molt_error_set(err, -r, "copy '%s' to '%s'", src, dst_path);
	return 0;
}

/* A subdirectory's children, with both parents parked deep down (lib: dir_park). */
static int copy_below(struct copy_state *s, int *src_dirfd, int *dst_dirfd, int *sfd, int *dfd,
		      const char *relpath, const char *dst_path, unsigned depth,
		      struct molt_error **err)
{
	struct dir_park park[2];
	int r = dir_park_walk(src_dirfd, dst_dirfd, depth, park, relpath, err);
	if (r < 0 || (r = copy_dir_children(s, sfd, dfd, relpath, dst_path, depth + 1, err)) < 0)
		return r;
	return dir_unpark_walk(src_dirfd, *sfd, dst_dirfd, *dfd, park, relpath, err);
}

static int copy_entry(struct copy_state *s, int *src_dirfdp, const char *src_name,
		      int *dst_dirfdp, const char *name, const char *relpath, const char *dst_path,
		      unsigned depth, struct molt_error **err)
{
	int src_dirfd = *src_dirfdp, dst_dirfd = *dst_dirfdp;
	struct stat st;
	if (fstatat(src_dirfd, src_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return molt_error_set(err, errno, "stat '%s'", relpath);
	if (excluded(s, relpath, S_ISDIR(st.st_mode)))
		return 0;
	int r;
	if (S_ISDIR(st.st_mode)) {
		if (depth > COPY_MAX_DEPTH)
			return molt_error_setx(err, ELOOP, "copy '%s': directory tree too deep",
					       relpath);
		/* mkdir first, as create_file: a lookup only when the name is taken. */
		r = mkdirat(dst_dirfd, name, 0700) < 0 ? -errno : 0;
		if (r == -EEXIST) {
			bool exists; /* an existing directory is kept, anything else replaced */
			r = clear_target(dst_dirfd, name, true, &exists);
			if (r == 0 && !exists && mkdirat(dst_dirfd, name, 0700) < 0)
				r = -errno;
		}
		if (r < 0)
			return molt_error_set(err, -r, "create directory '%s'", dst_path);
		_cleanup_close_ int sfd =
			openat(src_dirfd, src_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int dfd =
			openat(dst_dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0 || dfd < 0)
			return molt_error_set(err, errno, "open directory '%s'", relpath);
		r = copy_below(s, src_dirfdp, dst_dirfdp, &sfd, &dfd, relpath, dst_path, depth,
			       err);
		if (r < 0)
			return r;
		uid_t uid;
		gid_t gid;
		entry_owner(s, &st, &uid, &gid);
		struct timespec ts[2] = {st.st_atim, st.st_mtim};
		if (fchown(dfd, uid, gid) < 0 || fchmod(dfd, entry_mode(s, &st)) < 0 ||
		    copy_xattrs(sfd, dfd) < 0 || futimens(dfd, ts) < 0)
			return molt_error_set(err, errno, "set metadata of '%s'", dst_path);
		s->stats.dirs++;
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		/* O_NONBLOCK: a FIFO swapped in since the fstatat must not block the build. */
		_cleanup_close_ int in = openat(src_dirfd, src_name,
						O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (in < 0)
			return molt_error_set(err, errno, "open '%s'", relpath);
		r = copy_regular(s, in, &st, dst_dirfd, name, dst_path);
	} else {
		r = copy_special(s, src_dirfd, src_name, &st, dst_dirfd, name, relpath);
	}
	return copy_result(r, relpath, dst_path, err);
}

static int copy_dir_children(struct copy_state *s, int *src_dirfd, int *dst_dirfd,
			     const char *relpath, const char *dst_path, unsigned depth,
			     struct molt_error **err)
{
	_cleanup_strv_ char **names = NULL;
	int r = dir_list_sorted(*src_dirfd, &names);
	if (r < 0)
		return molt_error_set(err, -r, "read directory '%s'", relpath);
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *rel =
			*relpath ? xasprintf("%s/%s", relpath, names[i]) : xstrdup(names[i]);
		_cleanup_free_ char *dst = xasprintf("%s/%s", strcmp(dst_path, "/") ? dst_path : "",
						     names[i]);
		r = copy_entry(s, src_dirfd, names[i], dst_dirfd, names[i], rel, dst, depth, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Expands one source pattern component by component inside src_root. */
static int glob_walk(int src_root, char **comps, size_t i, const char *prefix, char ***out)
{
	if (!comps[i]) {
		strv_push(out, prefix);
		return 0;
	}
	if (!copy_has_wildcard(comps[i])) {
		_cleanup_free_ char *p =
			*prefix ? xasprintf("%s/%s", prefix, comps[i]) : xstrdup(comps[i]);
		_cleanup_close_ int fd = inroot_open(
			src_root, p, O_PATH | (comps[i + 1] ? O_NOFOLLOW : 0), INROOT_AUTO);
		if (fd < 0)
			return fd == -ENOENT || fd == -ENOTDIR ? 0 : fd;
		return glob_walk(src_root, comps, i + 1, p, out);
	}
	_cleanup_close_ int dfd = inroot_open(src_root, *prefix ? prefix : ".",
					      O_RDONLY | O_DIRECTORY, INROOT_AUTO);
	if (dfd < 0)
		return dfd == -ENOENT || dfd == -ENOTDIR ? 0 : dfd;
	_cleanup_strv_ char **names = NULL;
	int r = dir_list_sorted(dfd, &names);
	if (r < 0)
		return r;
	for (size_t k = 0; names[k]; k++) {
		if (fnmatch(comps[i], names[k], 0) != 0)
			continue;
		_cleanup_free_ char *p = *prefix ? xasprintf("%s/%s", prefix, names[k])
						 : xstrdup(names[k]);
		r = glob_walk(src_root, comps, i + 1, p, out);
		if (r < 0)
			return r;
	}
	return 0;
}

int copy_sources_select(int src_root, const char *src,
			bool (*skip)(void *userdata, const char *relpath, bool is_dir),
			void *skip_userdata, char ***ret, struct molt_error **err)
{
	_cleanup_strv_ char **comps = copy_path_split(src);
	_cleanup_strv_ char **out = xcalloc(1, sizeof(char *));
	if (!copy_has_wildcard(src)) {
		_cleanup_free_ char *p = join_comps(comps, strv_len(comps));
		strv_push(&out, *p ? p : ".");
	} else {
		int r = glob_walk(src_root, comps, 0, "", &out);
		if (r < 0)
			return molt_error_set(err, -r, "expand source '%s'", src);
		strv_sort(out);
	}
	/* An excluded path is not part of the source tree at all. */
	size_t k = 0;
	for (size_t i = 0; out[i]; i++) {
		if (skip && strcmp(out[i], ".") && skip(skip_userdata, out[i], false)) {
			free(out[i]);
			continue;
		}
		out[k++] = out[i];
	}
	out[k] = NULL;
	*ret = TAKE_PTR(out);
	return 0;
}

/*
 * A source that is no directory: a regular file is read through its O_PATH fd, a FIFO
 * or device is made anew (BuildKit copies a FIFO as a FIFO), never opened for reading,
 * which would wait for a writer forever.
 */
static int copy_top_file(struct copy_state *s, int pathfd, const struct stat *st, int dfd,
			 const char *name, const char *dst_path, const char *src)
{
	if (S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		return copy_special(s, -1, NULL, st, dfd, name, src);
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pathfd);
	/* O_NONBLOCK: should the file be swapped for a FIFO since the fstat, no wait. */
	_cleanup_close_ int in = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	struct stat now;
	if (in < 0 || fstat(in, &now) < 0)
		return -errno;
	if (!S_ISREG(now.st_mode) || now.st_ino != st->st_ino || now.st_dev != st->st_dev)
		return -EINVAL;
	return copy_regular(s, in, st, dfd, name, dst_path);
}

static int copy_one_source(struct copy_state *s, const char *src, const char *dest,
			   bool dest_is_dir, struct molt_error **err)
{
	_cleanup_close_ int fd = inroot_open(s->src_root, src, O_PATH, INROOT_AUTO);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return molt_error_setx(err, ENOENT, "source '%s' not found", src);
	if (fd < 0)
		return molt_error_set(err, -fd, "source '%s'", src);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return molt_error_set(err, errno, "stat '%s'", src);
	_cleanup_strv_ char **sc = copy_path_split(src);
	size_t sn = strv_len(sc);
	const char *rel = strcmp(src, ".") ? src : "";
	s->src_prefix = *rel ? strlen(rel) + 1 : 0;
	uid_t uid = s->o->chown ? s->o->uid : 0;
	gid_t gid = s->o->chown ? s->o->gid : 0;
	if (S_ISDIR(st.st_mode)) {
		/* A directory copies its contents, not itself (--parents keeps its path). */
		_cleanup_free_ char *target = s->o->parents && sn ? xasprintf("%s/%s", dest, rel)
								  : xstrdup(dest);
		_cleanup_close_ int d = copy_mkdir_in_root(s->dst_root, target, uid, gid);
		if (d < 0)
			return molt_error_set(err, -d, "create destination '%s'", target);
		_cleanup_close_ int sfd =
			inroot_open(s->src_root, src, O_RDONLY | O_DIRECTORY, INROOT_AUTO);
		_cleanup_close_ int dfd =
			inroot_open(s->dst_root, target, O_RDONLY | O_DIRECTORY, INROOT_AUTO);
		if (sfd < 0 || dfd < 0)
			return molt_error_set(err, -(sfd < 0 ? sfd : dfd), "open '%s'", src);
		return copy_dir_children(s, &sfd, &dfd, rel, target, 1, err);
	}
	/* A file: into dest/ when dest is a directory, else as dest itself. */
	if (s->o->exclude && sn && s->o->exclude(s->o->exclude_userdata, sc[sn - 1], false))
		return 0;
	_cleanup_free_ char *dir = NULL, *name = NULL;
	if (dest_is_dir) {
		_cleanup_free_ char *parents = s->o->parents && sn > 1 ? join_comps(sc, sn - 1) : NULL;
		dir = parents ? xasprintf("%s/%s", dest, parents) : xstrdup(dest);
		name = xstrdup(sn ? sc[sn - 1] : "");
	} else {
		_cleanup_strv_ char **dc = copy_path_split(dest);
		size_t dn = strv_len(dc);
		if (dn == 0)
			return molt_error_setx(err, EISDIR, "cannot copy file '%s' over '/'", src);
		dir = join_comps(dc, dn - 1);
		name = xstrdup(dc[dn - 1]);
	}
	_cleanup_close_ int d = copy_mkdir_in_root(s->dst_root, dir, uid, gid);
	if (d < 0)
		return molt_error_set(err, -d, "create destination directory '/%s'", dir);
	_cleanup_close_ int dfd = openat(d, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return molt_error_set(err, errno, "open '/%s'", dir);
	_cleanup_free_ char *dst_path = xasprintf("/%s%s%s", dir, *dir ? "/" : "", name);
	int r = copy_top_file(s, fd, &st, dfd, name, dst_path, src);
	if (r == -EINVAL)
		return molt_error_setx(err, EINVAL, "source '%s' is not a regular file or directory",
				       src);
	return copy_result(r, src, dst_path, err);
}

/* docker build: a destination is a directory when it ends with '/', when several
 * sources are copied, or when it already is a directory. */
static bool dest_is_directory(int dst_root, const char *dest, size_t n_sources)
{
	if (str_endswith(dest, "/") || n_sources > 1)
		return true;
	int fd = inroot_open(dst_root, dest, O_DIRECTORY | O_PATH, INROOT_AUTO);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* The path of fd inside the root at root_path ("" for the root itself). */
static int path_in_root(int fd, const char *root_path, char **ret)
{
	char proc[64], buf[PATH_MAX];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	size_t rl = strcmp(root_path, "/") ? strlen(root_path) : 0;
	if (strncmp(buf, root_path, rl) || (buf[rl] && buf[rl] != '/'))
		return -EXDEV;
	*ret = xstrdup(buf + rl);
	return 0;
}

/*
 * BuildKit resolves a file destination in the root, its last component too
 * (continuity's RootPath): `COPY a.txt /link` with /link a symlink writes through
 * the link to its target, even a missing one, instead of replacing the link.
 * Each hop is read with readlinkat in the parent resolved in-root, so the result
 * names a path inside the root; *ret is dest itself when it is no symlink.
 */
static int dest_follow_links(int dst_root, const char *dest, char **ret)
{
	_cleanup_free_ char *root_path = NULL, *cur = xstrdup(dest);
	int r = path_in_root(dst_root, "", &root_path);
	for (int hops = 0; r == 0 && hops < 40; hops++) {
		_cleanup_strv_ char **c = copy_path_split(cur);
		size_t n = strv_len(c);
		if (n == 0)
			break;
		_cleanup_free_ char *dir = join_comps(c, n - 1);
		_cleanup_close_ int dfd = inroot_open(dst_root, dir, O_PATH | O_DIRECTORY, INROOT_AUTO);
		char target[PATH_MAX];
		ssize_t len = dfd < 0 ? -1 : readlinkat(dfd, c[n - 1], target, sizeof(target) - 1);
		if (len <= 0) {
			*ret = TAKE_PTR(cur);
			return 0;
		}
		target[len] = '\0';
		_cleanup_free_ char *parent = NULL;
		if (target[0] != '/' && (r = path_in_root(dfd, root_path, &parent)) < 0)
			break;
		free(cur);
		cur = target[0] == '/' ? xstrdup(target) : xasprintf("%s/%s", parent, target);
	}
	return r < 0 ? r : -ELOOP;
}

int copy_paths(int src_root, char *const *sources, int dst_root, const char *dest,
	       const struct copy_opts *o, struct copy_stats *ret_stats, struct molt_error **err)
{
	struct copy_state s = {.o = o, .src_root = src_root, .dst_root = dst_root};
	_cleanup_strv_ char **all = NULL;
	int r = 0;
	for (size_t i = 0; sources[i] && r == 0; i++) {
		_cleanup_strv_ char **m = NULL;
		r = copy_sources_select(src_root, sources[i], o->skip, o->skip_userdata, &m, err);
		if (r < 0)
			break;
		if (!copy_has_wildcard(sources[i]) && !m[0]) {
			r = molt_error_setx(err, ENOENT, "source '%s' not found", sources[i]);
			break;
		}
		for (size_t k = 0; m[k]; k++)
			strv_push(&all, m[k]);
	}
	bool is_dir = r == 0 && dest_is_directory(dst_root, dest, strv_len(all));
	_cleanup_free_ char *followed = NULL;
	if (r == 0 && !is_dir && (r = dest_follow_links(dst_root, dest, &followed)) < 0)
		r = molt_error_set(err, -r, "resolve the destination '%s'", dest);
	for (size_t i = 0; r == 0 && all && all[i]; i++)
		r = copy_one_source(&s, all[i], followed ? followed : dest, is_dir, err);
	for (size_t i = 0; i < s.n_links; i++)
		free(s.links[i].dst_path);
	free(s.links);
	if (r == 0 && ret_stats)
		*ret_stats = s.stats;
	return r;
}
