/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/unpack.c: unpacking a layer tar into a directory, safely.
 *
 * libarchive only READS the tar (and undoes gzip/zstd); every file is written by
 * the code below, relative to the root fd: parents are resolved in the root
 * (resolve.c), the last component is never followed, so an entry can only ever
 * land inside. What this refuses or bounds, and why:
 *  - ".." in a name: "../x" or "a/../../x" is the classic tar escape; a layer never
 *    needs it, so it is an error rather than something to clamp;
 *  - symlinks are created as they are (absolute targets included) but anything
 *    resolved through them later stays in the root: "lib -> /usr/lib" followed by
 *    "lib/x" writes ROOT/usr/lib/x; a directory replaced by a symlink and then a
 *    file through it (CVE-2021-31566/23177) is the same case;
 *  - a hardlink must name a regular file inside the root: a hardlink to a
 *    directory or to a host file (via a symlinked parent) would expose the host;
 *  - device nodes are never created: stored trees live on a host filesystem that
 *    is not nodev, where a mode 0666 block device would open the host's disks;
 *  - ids are taken as numbers, never looked up (CVE-2019-14271: no NSS code from
 *    the image runs), xattrs only from layer_xattr_allowed();
 *  - limits on entries, bytes (the uncompressed stream and the sum of file sizes,
 *    so a gzip/zstd bomb or a sparse file claiming terabytes stops early), name
 *    length and depth.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "layers_int.h"

#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_MARKER ".wh..wh..opq"

/* A set of paths this layer wrote: an opaque marker must not delete them. */
struct pathset {
	char **slot;
	size_t n, cap;
};

struct dirtime {
	char *path;
	struct timespec mtime;
};

struct unpacker {
	int rootfd;
	struct unpack_opts o; /* with defaults filled in */
	const char *layer;
	struct archive *a;
	struct archive_entry *e;
	const char *raw;     /* the entry's name as in the tar */
	char *path;          /* cleaned: relative, no ".", no "..", no empty components */
	uint64_t file_bytes; /* sum of the sizes of the files so far */
	struct unpack_stats st;
	struct pathset written;
	struct dirtime *dirs;
	size_t ndirs, dircap;
	char *buf;
	bool warned_devices;
	char *what;                /* "layer sha256:…", for the budget's messages */
	struct write_budget budget; /* --max-unpack and the free-space reserve */
};

static size_t path_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool pathset_find(const struct pathset *ps, const char *s, size_t *ret_slot)
{
	if (ps->cap == 0)
		return false;
	size_t i = path_hash(s) & (ps->cap - 1);
	while (ps->slot[i] && strcmp(ps->slot[i], s))
		i = (i + 1) & (ps->cap - 1);
	if (ret_slot)
		*ret_slot = i;
	return ps->slot[i] != NULL;
}

static void pathset_add(struct pathset *ps, const char *s)
{
	if ((ps->n + 1) * 2 > ps->cap) {
		struct pathset big = {xcalloc(ps->cap ? 2 * ps->cap : 256, sizeof(char *)), 0,
				      ps->cap ? 2 * ps->cap : 256};
		for (size_t i = 0; i < ps->cap; i++) {
			size_t j;
			if (ps->slot[i] && !pathset_find(&big, ps->slot[i], &j)) {
				big.slot[j] = ps->slot[i];
				big.n++;
			}
		}
		free(ps->slot);
		*ps = big;
	}
	size_t j;
	if (!pathset_find(ps, s, &j)) {
		ps->slot[j] = xstrdup(s);
		ps->n++;
	}
}

static void pathset_done(struct pathset *ps)
{
	for (size_t i = 0; i < ps->cap; i++)
		free(ps->slot[i]);
	free(ps->slot);
}

/* The name as shown in messages: control characters masked, at most 200 bytes. */
static char *printable(const char *s)
{
	size_t n = strlen(s);
	char *out = xasprintf("%.200s%s", s, n > 200 ? "…" : "");
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return out;
}

/* "layer sha256:…: entry 'NAME': what[: strerror]" */
MOLT_PRINTF(4, 5)
static int entry_error(struct unpacker *u, struct molt_error **err, int errnum, const char *fmt,
		       ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *what = xvasprintf(fmt, ap);
	va_end(ap);
	_cleanup_free_ char *name = printable(u->raw ? u->raw : "");
	if (errnum > 0)
		return molt_error_set(err, errnum, "layer %s: entry '%s': %s", u->layer, name, what);
	return molt_error_setx(err, -errnum, "layer %s: entry '%s': %s", u->layer, name, what);
}

/*
 * Cleans an entry name into a relative path: "/a//./b/" → "a/b". A ".." anywhere is
 * an error (returns -EXDEV), as are names over the length or depth limits.
 */
static int clean_path(const struct unpacker *u, const char *raw, char **ret)
{
	if (strlen(raw) > u->o.max_path)
		return -ENAMETOOLONG;
	struct strbuf sb = STRBUF_INIT;
	unsigned depth = 0;
	for (const char *p = raw; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && !strncmp(p, "..", 2)) {
			strbuf_done(&sb);
			return -EXDEV;
		}
		if (n > NAME_MAX) {
			strbuf_done(&sb);
			return -ENAMETOOLONG;
		}
		if (n > 0 && !(n == 1 && *p == '.')) {
			if (++depth > u->o.max_depth) {
				strbuf_done(&sb);
				return -EMLINK;
			}
			if (sb.len)
				strbuf_addc(&sb, '/');
			strbuf_add(&sb, p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	*ret = strbuf_detach(&sb);
	return 0;
}

static int clean_error(struct unpacker *u, int r, const char *what, struct molt_error **err)
{
	if (r == -EXDEV)
		return entry_error(u, err, -EPERM, "%s escapes the root", what);
	if (r == -ENAMETOOLONG)
		return entry_error(u, err, -ENAMETOOLONG, "%s too long (limit %u bytes)", what,
				   u->o.max_path);
	return entry_error(u, err, -ELOOP, "%s too deep (limit %u directories)", what,
			   u->o.max_depth);
}

/* Opens the parent of u->path (made when missing) and gives the last component. */
static int open_parent(struct unpacker *u, const char *path, bool create, char **ret_name,
		       struct molt_error **err)
{
	int fd = inroot_open_parent(u->rootfd, path, create, u->o.resolve, ret_name);
	if (fd < 0)
		return entry_error(u, err, -fd, "resolve the parent directory in the root");
	return fd;
}

/*
 * Clears the way for a new entry at pfd/name. An existing directory is kept when
 * the new entry is a directory too (its children stay, as in docker); anything else
 * goes. Returns 1 when a directory was kept.
 */
static int remove_existing(struct unpacker *u, int pfd, const char *name, bool keep_dir,
			   struct molt_error **err)
{
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return entry_error(u, err, errno, "stat the existing entry");
	}
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir)
			return 1;
		int r = rm_rf_at(pfd, name, err);
		return r < 0 ? molt_error_wrap(err, "layer %s: replace '%s'", u->layer, u->path) : 0;
	}
	if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT)
		return entry_error(u, err, errno, "remove the existing entry");
	return 0;
}

static int set_xattrs(struct unpacker *u, int fd, struct molt_error **err)
{
	const char *name;
	const void *value;
	size_t size;
	archive_entry_xattr_reset(u->e);
	while (archive_entry_xattr_next(u->e, &name, &value, &size) == ARCHIVE_OK) {
		if (!layer_xattr_allowed(name)) {
			u->st.skipped_xattrs++;
			molt_debug("layer %s: entry '%s': xattr '%s' dropped (not allowed)",
				   u->layer, u->path, name);
			continue;
		}
		if (fsetxattr(fd, name, value, size, 0) < 0)
			return entry_error(u, err, errno, "set xattr '%s'", name);
	}
	return 0;
}

/* The archive's owner of the entry, or the one ADD --chown gives every entry. */
static int entry_owner(struct unpacker *u, uid_t *ret_uid, gid_t *ret_gid,
		       struct molt_error **err)
{
	if (u->o.chown) {
		*ret_uid = u->o.uid;
		*ret_gid = u->o.gid;
		return 0;
	}
	if (archive_entry_uid(u->e) < 0 || archive_entry_uid(u->e) > UINT32_MAX - 1 ||
	    archive_entry_gid(u->e) < 0 || archive_entry_gid(u->e) > UINT32_MAX - 1)
		return entry_error(u, err, -EINVAL, "owner %lld:%lld out of range",
				   (long long)archive_entry_uid(u->e),
				   (long long)archive_entry_gid(u->e));
	*ret_uid = (uid_t)archive_entry_uid(u->e);
	*ret_gid = (gid_t)archive_entry_gid(u->e);
	return 0;
}

/* Owner, then mode (chown clears setuid/setgid, so the order matters), then xattrs. */
static int set_meta_fd(struct unpacker *u, int fd, struct molt_error **err)
{
	uid_t uid;
	gid_t gid;
	int r = entry_owner(u, &uid, &gid, err);
	if (r < 0)
		return r;
	if (fchown(fd, uid, gid) < 0)
		return entry_error(u, err, errno, "set owner %u:%u", (unsigned)uid, (unsigned)gid);
	if (fchmod(fd, archive_entry_perm(u->e) & 07777) < 0)
		return entry_error(u, err, errno, "set mode");
	return set_xattrs(u, fd, err);
}

static struct timespec entry_mtime(const struct unpacker *u)
{
	struct timespec t = {archive_entry_mtime(u->e), archive_entry_mtime_nsec(u->e)};
	if (!archive_entry_mtime_is_set(u->e))
		t = (struct timespec){0, 0};
	return t;
}

/* For symlinks and fifos: no fd to hold, so by name, never following. */
static int set_meta_at(struct unpacker *u, int pfd, const char *name, bool chmod_too,
		       struct molt_error **err)
{
	uid_t uid;
	gid_t gid;
	int r = entry_owner(u, &uid, &gid, err);
	if (r < 0)
		return r;
	if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return entry_error(u, err, errno, "set owner");
	if (chmod_too && fchmodat(pfd, name, archive_entry_perm(u->e) & 07777, 0) < 0)
		return entry_error(u, err, errno, "set mode");
	struct timespec ts[2] = {entry_mtime(u), entry_mtime(u)};
	if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return entry_error(u, err, errno, "set mtime");
	return 0;
}

static int pwrite_all(int fd, const char *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* Copies the entry's data; holes of sparse entries stay holes. */
static int copy_data(struct unpacker *u, int fd, struct molt_error **err)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int64_t declared = archive_entry_size(u->e);
	for (;;) {
		int r = archive_read_data_block(u->a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return entry_error(u, err, -EIO, "read data: %s", archive_error_string(u->a));
		if (off < 0 || off + (int64_t)size > declared)
			return entry_error(u, err, -EIO, "data beyond the entry's size");
		if (archive_filter_bytes(u->a, 0) > (la_int64_t)u->o.max_bytes)
			return entry_error(u, err, -EFBIG, "layer larger than the limit of %llu bytes",
					   (unsigned long long)u->o.max_bytes);
		/* Zeros stay a hole (the ftruncate below gives the size): a layer of gzipped
		 * zeros, the cheapest bomb there is, costs no disk. */
		if (mem_is_zero(buf, size)) {
			u->st.bytes += size;
			continue;
		}
		if ((r = write_budget_write(&u->budget, fd, size, err)) < 0)
			return r;
		if ((r = pwrite_all(fd, buf, size, off)) < 0)
			return entry_error(u, err, -r, "write");
		u->st.bytes += size;
	}
	if (ftruncate(fd, declared) < 0)
		return entry_error(u, err, errno, "set size");
	return 0;
}

static int make_file(struct unpacker *u, int pfd, const char *name, struct molt_error **err)
{
	int r = remove_existing(u, pfd, name, false, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd =
		openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return entry_error(u, err, errno, "create file");
	if ((r = copy_data(u, fd, err)) < 0 || (r = set_meta_fd(u, fd, err)) < 0)
		return r;
	struct timespec ts[2] = {entry_mtime(u), entry_mtime(u)};
	if (futimens(fd, ts) < 0)
		return entry_error(u, err, errno, "set mtime");
	return 0;
}

static int make_dir(struct unpacker *u, int pfd, const char *name, struct molt_error **err)
{
	int r = remove_existing(u, pfd, name, true, err);
	if (r < 0)
		return r;
	if (r == 0 && mkdirat(pfd, name, 0700) < 0)
		return entry_error(u, err, errno, "create directory");
	_cleanup_close_ int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return entry_error(u, err, errno, "open directory");
	if ((r = set_meta_fd(u, fd, err)) < 0)
		return r;
	/* Its mtime is set at the end: creating its children would change it again. */
	if (u->ndirs == u->dircap) {
		u->dircap = u->dircap ? 2 * u->dircap : 64;
		u->dirs = xrealloc(u->dirs, u->dircap * sizeof(*u->dirs));
	}
	u->dirs[u->ndirs++] = (struct dirtime){xstrdup(u->path), entry_mtime(u)};
	return 0;
}

static int make_symlink(struct unpacker *u, int pfd, const char *name, struct molt_error **err)
{
	const char *target = archive_entry_symlink(u->e);
	if (!target || !*target)
		return entry_error(u, err, -EINVAL, "symlink without a target");
	if (strlen(target) >= PATH_MAX)
		return entry_error(u, err, -ENAMETOOLONG, "symlink target too long");
	int r = remove_existing(u, pfd, name, false, err);
	if (r < 0)
		return r;
	/* Stored as written; whoever follows it later resolves it in the root. */
	if (symlinkat(target, pfd, name) < 0)
		return entry_error(u, err, errno, "create symlink");
	return set_meta_at(u, pfd, name, false, err);
}

static int make_hardlink(struct unpacker *u, int pfd, const char *name, struct molt_error **err)
{
	_cleanup_free_ char *tpath = NULL, *tname = NULL;
	int r = clean_path(u, archive_entry_hardlink(u->e), &tpath);
	if (r < 0)
		return clean_error(u, r, "hardlink target", err);
	if (!*tpath)
		return entry_error(u, err, -EPERM, "hardlink to the root directory");
	_cleanup_close_ int tfd = open_parent(u, tpath, false, &tname, err);
	if (tfd < 0)
		return tfd;
	struct stat tst, st;
	if (fstatat(tfd, tname, &tst, AT_SYMLINK_NOFOLLOW) < 0)
		return entry_error(u, err, errno, "hardlink target '%s'", tpath);
	if (!S_ISREG(tst.st_mode))
		return entry_error(u, err, -EPERM, "hardlink target '%s' is not a regular file",
				   tpath);
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == tst.st_ino &&
	    st.st_dev == tst.st_dev)
		return 0; /* already that file: removing it would remove the target */
	if ((r = remove_existing(u, pfd, name, false, err)) < 0)
		return r;
	if (linkat(tfd, tname, pfd, name, 0) < 0)
		return entry_error(u, err, errno, "create hardlink to '%s'", tpath);
	return 0;
}

static int make_fifo(struct unpacker *u, int pfd, const char *name, struct molt_error **err)
{
	int r = remove_existing(u, pfd, name, false, err);
	if (r < 0)
		return r;
	if (mkfifoat(pfd, name, 0600) < 0)
		return entry_error(u, err, errno, "create fifo");
	return set_meta_at(u, pfd, name, true, err);
}

/* Opaque markers in UNPACK_APPLY: every child not written by this layer goes. */
static int apply_opaque(struct unpacker *u, int dirfd, const char *dirpath,
			struct molt_error **err)
{
	int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return entry_error(u, err, errno, "open directory");
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return entry_error(u, err, errno, "open directory");
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *child =
			*dirpath ? xasprintf("%s/%s", dirpath, de->d_name) : xstrdup(de->d_name);
		if (pathset_find(&u->written, child, NULL))
			continue;
		if (rm_rf_at(dirfd, de->d_name, err) < 0)
			return molt_error_wrap(err, "layer %s: opaque directory '%s'", u->layer,
					       dirpath);
	}
	if (errno)
		return entry_error(u, err, errno, "read directory");
	return 0;
}

static int set_xattr_at(int pfd, const char *name, const char *key, const char *value)
{
	_cleanup_close_ int fd = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char old[4] = "";
	/* "y" (fully opaque) must never be weakened to "x" (holds xattr whiteouts). */
	if (!strcmp(value, "x") && fgetxattr(fd, key, old, sizeof(old) - 1) > 0 && old[0] == 'y')
		return 0;
	return fsetxattr(fd, key, value, strlen(value), 0) < 0 ? -errno : 0;
}

/*
 * A deletion for an overlay lowerdir. The classic form is a char 0:0 device, which
 * the kernel lets a user namespace create (Linux 5.8+). The xattr form (Linux 6.7+:
 * an empty regular file with overlay.whiteout, its directory marked
 * overlay.opaque=x so overlayfs knows to look) needs no mknod at all.
 */
static int overlay_whiteout(struct unpacker *u, int pfd, const char *name,
			    struct molt_error **err)
{
	int r = remove_existing(u, pfd, name, false, err);
	if (r < 0)
		return r;
	if (!u->o.xattr_whiteouts) {
		if (mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) == 0)
			return 0;
		if (errno != EPERM)
			return entry_error(u, err, errno, "create overlay whiteout");
	}
	_cleanup_close_ int fd =
		openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return entry_error(u, err, errno, "create overlay whiteout");
	if (fsetxattr(fd, "user.overlay.whiteout", "y", 1, 0) < 0 ||
	    (r = set_xattr_at(pfd, ".", "user.overlay.opaque", "x")) < 0)
		return entry_error(u, err, r < 0 ? -r : errno, "mark overlay whiteout");
	return 0;
}

static int whiteout(struct unpacker *u, int pfd, const char *base, struct molt_error **err)
{
	const char *victim = base + strlen(WHITEOUT_PREFIX);
	if (archive_entry_filetype(u->e) != AE_IFREG)
		return entry_error(u, err, -EINVAL, "whiteout is not a regular file");
	if (!strcmp(base, OPAQUE_MARKER)) {
		if (archive_entry_size(u->e) != 0)
			return entry_error(u, err, -EINVAL, "opaque marker with content");
		_cleanup_free_ char *dirpath = xstrndup(u->path, (size_t)(strrchr(u->path, '/') ?
			strrchr(u->path, '/') - u->path : 0));
		if (u->o.whiteouts == UNPACK_APPLY)
			return apply_opaque(u, pfd, dirpath, err);
		int r = set_xattr_at(pfd, ".", "user.overlay.opaque", "y");
		return r < 0 ? entry_error(u, err, -r, "mark directory opaque") : 0;
	}
	/* ".wh." alone, ".wh..", ".wh..wh.x": no file can be named like the victim. */
	if (!*victim || !strcmp(victim, ".") || !strcmp(victim, "..") ||
	    str_startswith(victim, WHITEOUT_PREFIX))
		return entry_error(u, err, -EINVAL, "malformed whiteout");
	if (u->o.whiteouts == UNPACK_OVERLAY)
		return overlay_whiteout(u, pfd, victim, err);
	int r = rm_rf_at(pfd, victim, err);
	return r < 0 ? molt_error_wrap(err, "layer %s: whiteout '%s'", u->layer, u->path) : 0;
}

static int skip_device(struct unpacker *u)
{
	u->st.skipped_devices++;
	if (!u->warned_devices)
		molt_warn("layer %s: device node '%s' skipped (molt never creates devices in "
			  "image trees; the sandbox provides /dev)",
			  u->layer, u->path);
	u->warned_devices = true;
	return 0;
}

static int make_entry(struct unpacker *u, int pfd, const char *name, struct molt_error **err)
{
	if (archive_entry_hardlink(u->e))
		return make_hardlink(u, pfd, name, err);
	switch (archive_entry_filetype(u->e)) {
	case AE_IFREG: return make_file(u, pfd, name, err);
	case AE_IFDIR: return make_dir(u, pfd, name, err);
	case AE_IFLNK: return make_symlink(u, pfd, name, err);
	case AE_IFIFO: return make_fifo(u, pfd, name, err);
	case AE_IFCHR:
	case AE_IFBLK: return skip_device(u);
	default: return 0; /* sockets: nothing to create */
	}
}

static int check_limits(struct unpacker *u, struct molt_error **err)
{
	if (++u->st.entries > u->o.max_entries)
		return entry_error(u, err, -EFBIG, "more than %llu entries in the layer",
				   (unsigned long long)u->o.max_entries);
	int64_t size = archive_entry_size_is_set(u->e) ? archive_entry_size(u->e) : 0;
	if (size < 0)
		return entry_error(u, err, -EINVAL, "negative size");
	u->file_bytes += (uint64_t)size;
	int r = write_budget_claim(&u->budget, (uint64_t)size, err);
	if (r < 0)
		return r;
	/* Checked before any data is read: a sparse or compressed bomb stops here. */
	if (u->file_bytes > u->o.max_bytes ||
	    archive_filter_bytes(u->a, 0) > (la_int64_t)u->o.max_bytes)
		return entry_error(u, err, -EFBIG, "layer larger than the limit of %llu bytes",
				   (unsigned long long)u->o.max_bytes);
	return 0;
}

static int unpack_entry(struct unpacker *u, struct molt_error **err)
{
	int r = check_limits(u, err);
	if (r < 0)
		return r;
	free(u->path);
	u->path = NULL;
	if ((r = clean_path(u, u->raw, &u->path)) < 0)
		return clean_error(u, r, "path", err);
	if (!*u->path) {
		/* "./" or "/": the root itself; a non-directory there (umoci CVE-2021-29136) no. */
		if (archive_entry_filetype(u->e) == AE_IFDIR && !archive_entry_hardlink(u->e))
			return 0;
		return entry_error(u, err, -EPERM, "cannot replace the root directory");
	}
	const char *base = strrchr(u->path, '/');
	base = base ? base + 1 : u->path;
	bool is_whiteout = str_startswith(base, WHITEOUT_PREFIX);
	bool create = !is_whiteout || u->o.whiteouts == UNPACK_OVERLAY ||
		      !strcmp(base, OPAQUE_MARKER);
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int pfd = inroot_open_parent(u->rootfd, u->path, create, u->o.resolve, &name);
	if (is_whiteout)
		u->st.whiteouts++;
	if (pfd == -ENOENT && is_whiteout)
		return 0; /* nothing there to delete */
	if (pfd < 0)
		return entry_error(u, err, -pfd, "resolve the parent directory in the root");
	if (is_whiteout)
		return whiteout(u, pfd, base, err);
	if ((r = make_entry(u, pfd, name, err)) < 0)
		return r;
	if (u->o.whiteouts == UNPACK_APPLY)
		pathset_add(&u->written, u->path);
	return 0;
}

static int cmp_dirtime_desc(const void *a, const void *b)
{
	return strcmp(((const struct dirtime *)b)->path, ((const struct dirtime *)a)->path);
}

/* Directory mtimes last, deepest first, so no later change moves them again. */
static int apply_dir_times(struct unpacker *u, struct molt_error **err)
{
	if (u->ndirs > 1)
		qsort(u->dirs, u->ndirs, sizeof(*u->dirs), cmp_dirtime_desc);
	for (size_t i = 0; i < u->ndirs; i++) {
		_cleanup_free_ char *name = NULL;
		_cleanup_close_ int pfd =
			inroot_open_parent(u->rootfd, u->dirs[i].path, false, u->o.resolve, &name);
		struct timespec ts[2] = {u->dirs[i].mtime, u->dirs[i].mtime};
		if (pfd == -ENOENT)
			continue; /* removed by a later whiteout */
		if (pfd < 0 || utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return molt_error_set(err, pfd < 0 ? -pfd : errno,
					      "layer %s: set mtime of '%s'", u->layer,
					      u->dirs[i].path);
	}
	return 0;
}

static int open_reader(struct unpacker *u, int tarfd, struct molt_error **err)
{
	u->a = archive_read_new();
	if (!u->a)
		return molt_error_setx(err, ENOMEM, "layer %s: out of memory", u->layer);
	/*
	 * Only these three; support_filter_all() would accept formats libarchive
	 * handles by running an external program (lrzip, lzop...). ARCHIVE_WARN from
	 * gzip/zstd means exactly that, and is refused too.
	 */
	if (archive_read_support_filter_gzip(u->a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(u->a) != ARCHIVE_OK ||
	    archive_read_support_filter_none(u->a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(u->a) != ARCHIVE_OK)
		return molt_error_setx(err, ENOTSUP, "layer %s: set up reader: %s", u->layer,
				       archive_error_string(u->a));
	if (archive_read_open_fd(u->a, tarfd, 1 << 16) != ARCHIVE_OK)
		return molt_error_setx(err, EIO, "layer %s: not a tar (plain, gzip or zstd): %s",
				       u->layer, archive_error_string(u->a));
	return 0;
}

static void unpacker_done(struct unpacker *u)
{
	if (u->a)
		archive_read_free(u->a);
	for (size_t i = 0; i < u->ndirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
	pathset_done(&u->written);
	free(u->path);
	free(u->what);
}

static void fill_defaults(struct unpack_opts *o)
{
	if (!o->max_bytes)
		o->max_bytes = 64ULL << 30;
	if (!o->max_entries)
		o->max_entries = 10000000;
	if (!o->max_depth)
		o->max_depth = 1024;
	if (!o->max_path || o->max_path > PATH_MAX - 1)
		o->max_path = PATH_MAX - 1;
}

int layer_unpack(int rootfd, int tarfd, const struct unpack_opts *o,
		 struct unpack_stats *ret_stats, struct molt_error **err)
{
	struct unpacker u = {.rootfd = rootfd};
	if (o)
		u.o = *o;
	fill_defaults(&u.o);
	u.layer = u.o.layer ? u.o.layer : "(unnamed)";
	u.what = xasprintf("layer %s", u.layer);
	write_budget_init(&u.budget, u.what);
	int r = open_reader(&u, tarfd, err);
	while (r >= 0) {
		r = archive_read_next_header(u.a, &u.e);
		if (r == ARCHIVE_EOF) {
			r = 0;
			break;
		}
		if (r != ARCHIVE_OK) {
			/* Not even a WARN passes: a half-understood header could be anything. */
			r = molt_error_setx(err, EIO, "layer %s: corrupt tar after %llu entries: %s",
					    u.layer, (unsigned long long)u.st.entries,
					    archive_error_string(u.a));
			break;
		}
		u.raw = archive_entry_pathname(u.e);
		if (!u.raw)
			r = molt_error_setx(err, EILSEQ, "layer %s: entry without a readable name",
					    u.layer);
		else
			r = unpack_entry(&u, err);
	}
	if (r >= 0)
		r = apply_dir_times(&u, err);
	if (r >= 0 && ret_stats)
		*ret_stats = u.st;
	unpacker_done(&u);
	return r;
}
