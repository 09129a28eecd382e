/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/tarwriter.c: the deterministic layer tar. The same tree gives the same
 * bytes on any machine, as any user, on any day:
 *  - ustar headers with PAX 'x' records only where ustar cannot hold a value (long
 *    names, big ids or sizes) and for xattrs (SCHILY.xattr.*, what GNU tar, Go's
 *    archive/tar and BuildKit write);
 *  - numeric ids only, empty uname/gname (an NSS lookup would leak the host's
 *    user names and differ between hosts), no atime/ctime, whole-second mtimes
 *    clamped to SOURCE_DATE_EPOCH when asked;
 *  - entries in caller-checked bytewise order; the second and later paths of an
 *    inode become hardlink entries to the first;
 *  - the PAX header's own name is derived from the entry name (no pid, unlike
 *    POSIX's suggested "%d/PaxHeaders.%p/%f").
 */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "layers_int.h"

#define TAR_BLOCK 512
#define WRITER_BUF (1 << 17)

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *name;
};

struct layer_writer {
	struct layer_sink *sink;
	struct layer_writer_opts o;
	char *last_key; /* the previous entry's sort key, for the order check */
	struct hardlink *links;
	size_t nlinks, linkcap; /* open addressing, linkcap a power of two */
	char *buf; /* file data, WRITER_BUF bytes */
	bool failed;
	/* The directory of the previous entry, kept open (O_PATH): entries come sorted, so
	 * most share it, and resolving it in the root again cost an openat2 and a close per
	 * file. Valid for (pdir_src, pdir); pdirfd -1 when nothing is kept. Keyed by the fd
	 * number: a writer's srcfd must name one tree for the writer's life (every caller
	 * passes one open tree). */
	int pdir_src, pdirfd;
	char *pdir, *pname; /* pdir NULL: the fd is not reused */
};

/* What one tar entry needs; the ustar header and the PAX records are made from it. */
struct tar_entry {
	const char *name; /* tar name, dirs with a trailing "/" */
	char type;
	mode_t perm; /* 07777 bits */
	uint64_t uid, gid, size;
	int64_t mtime;
	const char *linkname;
	unsigned devmajor, devminor;
	const struct layer_xattrs *xattrs;
};

static void octal(char *field, size_t width, uint64_t v)
{
	/* width - 1 zero-padded digits and the NUL terminator ustar wants */
	field[width - 1] = '\0';
	for (size_t i = width - 1; i-- > 0; v >>= 3)
		field[i] = (char)('0' + (v & 7));
}

static void pax_record(struct strbuf *sb, const char *key, const char *val, size_t vlen)
{
	/* "LEN key=value\n" where LEN counts its own digits too. */
	size_t body = 1 + strlen(key) + 1 + vlen + 1;
	size_t len = body + 1;
	while (len != body + (size_t)snprintf(NULL, 0, "%zu", len))
		len = body + (size_t)snprintf(NULL, 0, "%zu", len);
	strbuf_addf(sb, "%zu %s=", len, key);
	strbuf_add(sb, val, vlen);
	strbuf_addc(sb, '\n');
}

static void pax_number(struct strbuf *sb, const char *key, long long v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld", v);
	pax_record(sb, key, buf, (size_t)n);
}

/* Fits v in an ustar numeric field of `digits` octal digits? */
static bool fits(uint64_t v, unsigned digits)
{
	return v < (1ULL << (3 * digits));
}

static void fill_header(char *h, const char *name, const struct tar_entry *e, uint64_t size,
			char type)
{
	memset(h, 0, TAR_BLOCK);
	strncpy(h, name, 100); /* longer names are in the PAX "path" record */
	octal(h + 100, 8, e->perm & 07777);
	octal(h + 108, 8, fits(e->uid, 7) ? e->uid : 0);
	octal(h + 116, 8, fits(e->gid, 7) ? e->gid : 0);
	octal(h + 124, 12, fits(size, 11) ? size : 0);
	uint64_t mt = e->mtime < 0 ? 0 : (uint64_t)e->mtime;
	octal(h + 136, 12, fits(mt, 11) ? mt : 0);
	h[156] = type;
	if (e->linkname)
		strncpy(h + 157, e->linkname, 100);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	if (type == '3' || type == '4') {
		octal(h + 329, 8, e->devmajor);
		octal(h + 337, 8, e->devminor);
	}
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += (unsigned char)h[i];
	octal(h + 148, 7, sum);
	h[155] = ' ';
}

static int write_padded(struct layer_writer *w, const void *data, size_t len,
			struct molt_error **err)
{
	static const char zero[TAR_BLOCK];
	int r = layer_sink_write(w->sink, data, len, err);
	if (r < 0 || len % TAR_BLOCK == 0)
		return r;
	return layer_sink_write(w->sink, zero, TAR_BLOCK - len % TAR_BLOCK, err);
}

static void pax_records(const struct tar_entry *e, struct strbuf *sb)
{
	if (strlen(e->name) > 100)
		pax_record(sb, "path", e->name, strlen(e->name));
	if (e->linkname && strlen(e->linkname) > 100)
		pax_record(sb, "linkpath", e->linkname, strlen(e->linkname));
	if (!fits(e->uid, 7))
		pax_number(sb, "uid", (long long)e->uid);
	if (!fits(e->gid, 7))
		pax_number(sb, "gid", (long long)e->gid);
	if (!fits(e->size, 11))
		pax_number(sb, "size", (long long)e->size);
	if (e->mtime < 0 || !fits((uint64_t)e->mtime, 11))
		pax_number(sb, "mtime", (long long)e->mtime);
	for (size_t i = 0; e->xattrs && i < e->xattrs->n; i++) {
		_cleanup_free_ char *key = xasprintf("SCHILY.xattr.%s", e->xattrs->v[i].name);
		pax_record(sb, key, e->xattrs->v[i].value, e->xattrs->v[i].len);
	}
}

/* Writes the header(s) of one entry; its data (if any) follows from the caller. */
static int write_header(struct layer_writer *w, const struct tar_entry *e, struct molt_error **err)
{
	char h[TAR_BLOCK];
	_cleanup_strbuf_ struct strbuf pax = STRBUF_INIT;
	pax_records(e, &pax);
	if (pax.len > 0) {
		size_t n;
		size_t b = path_last_component(e->name, &n);
		_cleanup_free_ char *pname =
			xasprintf("PaxHeaders/%.*s", (int)(n > 88 ? 88 : n), e->name + b);
		struct tar_entry px = *e;
		px.perm = 0644;
		px.uid = px.gid = 0;
		px.linkname = NULL;
		fill_header(h, pname, &px, pax.len, 'x');
		int r = layer_sink_write(w->sink, h, TAR_BLOCK, err);
		if (r < 0 || (r = write_padded(w, pax.buf, pax.len, err)) < 0)
			return r;
	}
	fill_header(h, e->name, e, e->size, e->type);
	return layer_sink_write(w->sink, h, TAR_BLOCK, err);
}

static size_t link_slot(const struct layer_writer *w, dev_t dev, ino_t ino)
{
	uint64_t k = ((uint64_t)dev * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)ino * 0xff51afd7ed558ccdULL);
	size_t i = (size_t)(k ^ (k >> 29)) & (w->linkcap - 1);
	while (w->links[i].name && (w->links[i].dev != dev || w->links[i].ino != ino))
		i = (i + 1) & (w->linkcap - 1);
	return i;
}

static void link_grow(struct layer_writer *w)
{
	struct hardlink *old = w->links;
	size_t oldcap = w->linkcap;
	w->linkcap = oldcap ? 2 * oldcap : 64;
	w->links = xcalloc(w->linkcap, sizeof(*w->links));
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].name)
			w->links[link_slot(w, old[i].dev, old[i].ino)] = old[i];
	free(old);
}

/* The first name of an inode already written, or NULL (and then remembers this one). */
static const char *link_lookup_or_add(struct layer_writer *w, const struct stat *st,
				      const char *name)
{
	if ((w->nlinks + 1) * 2 > w->linkcap)
		link_grow(w);
	size_t i = link_slot(w, st->st_dev, st->st_ino);
	if (w->links[i].name)
		return w->links[i].name;
	w->links[i] = (struct hardlink){st->st_dev, st->st_ino, xstrdup(name)};
	w->nlinks++;
	return NULL;
}

void layer_writer_free(struct layer_writer *w)
{
	if (!w)
		return;
	layer_sink_free(w->sink);
	for (size_t i = 0; i < w->linkcap; i++)
		free(w->links[i].name);
	free(w->links);
	free(w->last_key);
	free(w->buf);
	if (w->pdirfd >= 0)
		close(w->pdirfd);
	free(w->pdir);
	free(w->pname);
	free(w);
}

int layer_writer_new(int outfd, const struct layer_writer_opts *o, struct layer_writer **ret,
		     struct molt_error **err)
{
	struct layer_writer *w = xcalloc(1, sizeof(*w));
	w->pdirfd = -1;
	if (o)
		w->o = *o;
	int r = layer_sink_new(outfd, w->o.compression, w->o.level, &w->sink, err);
	if (r < 0) {
		free(w);
		return r;
	}
	*ret = w;
	return 0;
}

int layer_writer_opts_from_env(struct layer_writer_opts *o, struct molt_error **err)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	if (!s || !*s) {
		o->clamp_mtime = false;
		return 0;
	}
	int64_t v;
	if (str_to_int64(s, 0, INT64_MAX / 2, &v) < 0)
		return molt_error_usage(err, "SOURCE_DATE_EPOCH '%s': not a number of seconds", s);
	o->clamp_mtime = true;
	o->source_date_epoch = v;
	return 0;
}

/* Enforces the sorted order every reader of our layers relies on. */
static int check_order(struct layer_writer *w, const char *key, struct molt_error **err)
{
	if (w->failed)
		return molt_error_setx(err, EINVAL, "layer writer: used after a failure");
	if (w->last_key && strcmp(w->last_key, key) >= 0) {
		w->failed = true;
		return molt_error_setx(err, EINVAL, "layer entry '%s': out of order after '%s'", key,
				       w->last_key);
	}
	free(w->last_key);
	w->last_key = xstrdup(key);
	return 0;
}

static int write_marker(struct layer_writer *w, const char *name, struct molt_error **err)
{
	int r = check_order(w, name, err);
	if (r < 0)
		return r;
	/* Mode 0, ids 0, mtime 0: a marker carries no metadata, so none can differ. */
	struct tar_entry e = {.name = name, .type = '0'};
	r = write_header(w, &e, err);
	w->failed = r < 0;
	return r;
}

int layer_writer_add_whiteout(struct layer_writer *w, const char *path, struct molt_error **err)
{
	struct layer_change ch = {(char *)path, LAYER_CHANGE_WHITEOUT};
	_cleanup_free_ char *name = layer_change_tar_name(&ch);
	return write_marker(w, name, err);
}

int layer_writer_add_opaque(struct layer_writer *w, const char *dirpath, struct molt_error **err)
{
	struct layer_change ch = {(char *)dirpath, LAYER_CHANGE_OPAQUE};
	_cleanup_free_ char *name = layer_change_tar_name(&ch);
	return write_marker(w, name, err);
}

/* Streams size bytes of a regular file; a file that changed size is an error. */
static int write_file_data(struct layer_writer *w, int fd, uint64_t size, const char *path,
			   struct molt_error **err)
{
	if (!w->buf)
		w->buf = xmalloc(WRITER_BUF);
	char *buf = w->buf;
	uint64_t done = 0;
	while (done < size) {
		size_t want = size - done < WRITER_BUF ? (size_t)(size - done) : WRITER_BUF;
		ssize_t n = read_full(fd, buf, want);
		if (n < 0)
			return molt_error_set(err, (int)-n, "read '%s'", path);
		if (n == 0)
			return molt_error_setx(err, EIO, "read '%s': file shrank while being written",
					       path);
		int r = layer_sink_write(w->sink, buf, (size_t)n, err);
		if (r < 0)
			return r;
		done += (uint64_t)n;
	}
	if (size % TAR_BLOCK) {
		static const char zero[TAR_BLOCK];
		return layer_sink_write(w->sink, zero, TAR_BLOCK - size % TAR_BLOCK, err);
	}
	return 0;
}

static char tar_type(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return '0';
	case S_IFLNK: return '2';
	case S_IFCHR: return '3';
	case S_IFBLK: return '4';
	case S_IFDIR: return '5';
	case S_IFIFO: return '6';
	default: return 0; /* sockets: nothing a layer can carry (Docker skips them too) */
	}
}

/* Reads what the entry needs from the tree: link target, xattrs, an fd for the data. */
static int entry_from_tree(int pfd, const char *name, const struct stat *st, const char *path,
			   char *target, struct layer_xattrs *xattrs, int *ret_fd,
			   struct molt_error **err)
{
	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlinkat(pfd, name, target, PATH_MAX - 1);
		if (n < 0)
			return molt_error_set(err, errno, "read symlink '%s'", path);
		target[n] = '\0';
		return 0;
	}
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return 0; /* devices and fifos carry no data and no allowed xattrs here */
	int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st->st_mode) ? O_DIRECTORY : 0);
	_cleanup_close_ int fd = openat(pfd, name, flags);
	if (fd < 0)
		return molt_error_set(err, errno, "open '%s'", path);
	struct stat again;
	if (fstat(fd, &again) < 0)
		return molt_error_set(err, errno, "stat '%s'", path);
	if (again.st_ino != st->st_ino || again.st_dev != st->st_dev)
		return molt_error_setx(err, EAGAIN, "open '%s': replaced while being read", path);
	int r = layer_xattrs_read(fd, xattrs, err);
	if (r < 0)
		return molt_error_wrap(err, "'%s'", path);
	if (S_ISREG(st->st_mode))
		*ret_fd = TAKE_FD(fd);
	return 0;
}

static int64_t entry_mtime(const struct layer_writer *w, const struct stat *st)
{
	int64_t t = st->st_mtim.tv_sec;
	if (w->o.clamp_mtime && t > w->o.source_date_epoch)
		t = w->o.source_date_epoch;
	return t;
}

static int add_entry(struct layer_writer *w, int pfd, const char *name, const char *path,
		     const struct stat *st, struct molt_error **err)
{
	char type = tar_type(st->st_mode);
	if (!type)
		return 0;
	_cleanup_free_ char *target = xmalloc(PATH_MAX);
	struct layer_xattrs xattrs = {0};
	_cleanup_close_ int fd = -1;
	int r = entry_from_tree(pfd, name, st, path, target, &xattrs, &fd, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *tname = S_ISDIR(st->st_mode) ? xasprintf("%s/", path) : xstrdup(path);
	struct tar_entry e = {
		.name = tname, .type = type, .perm = st->st_mode & 07777,
		.uid = st->st_uid, .gid = st->st_gid,
		.size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0,
		.mtime = entry_mtime(w, st),
		.linkname = S_ISLNK(st->st_mode) ? target : NULL,
		.devmajor = major(st->st_rdev), .devminor = minor(st->st_rdev),
		.xattrs = &xattrs,
	};
	const char *first = NULL;
	if (S_ISREG(st->st_mode) && st->st_nlink > 1)
		first = link_lookup_or_add(w, st, path);
	if (first) {
		e.type = '1';
		e.linkname = first;
		e.size = 0;
	}
	r = write_header(w, &e, err);
	if (r >= 0 && e.type == '0')
		r = write_file_data(w, fd, e.size, path, err);
	layer_xattrs_done(&xattrs);
	return r;
}

/*
 * The directory holding path's last component, resolved inside srcfd's tree (no
 * symlink followed out of it), and that component in *ret_name. The fd and the name
 * belong to the writer (its one-entry cache): the caller closes and frees nothing. A
 * path inroot_open_parent() would normalise (change lists hold clean relative paths, so
 * none comes) is resolved each time and never kept.
 */
static int parent_of(struct layer_writer *w, int srcfd, const char *path, const char **ret_name)
{
	const char *slash = strrchr(path, '/');
	size_t plen = slash ? (size_t)(slash - path) : 0;
	const char *last = slash ? slash + 1 : path;
	if (w->pdirfd >= 0 && w->pdir && w->pdir_src == srcfd && strlen(w->pdir) == plen &&
	    !strncmp(w->pdir, path, plen)) {
		*ret_name = last;
		return w->pdirfd;
	}
	char *name = NULL;
	int pfd = inroot_open_parent(srcfd, path, false, INROOT_AUTO, &name);
	if (pfd < 0)
		return pfd;
	if (w->pdirfd >= 0)
		close(w->pdirfd);
	free(w->pdir);
	free(w->pname);
	w->pdirfd = pfd;
	w->pdir_src = srcfd;
	w->pname = name;
	w->pdir = strcmp(name, last) ? NULL : xstrndup(path, plen);
	*ret_name = name;
	return pfd;
}

int layer_writer_add(struct layer_writer *w, int srcfd, const char *path,
		     struct molt_error **err)
{
	int r = check_order(w, path, err);
	if (r < 0)
		return r;
	const char *name = NULL;
	int pfd = parent_of(w, srcfd, path, &name);
	if (pfd < 0) {
		w->failed = true;
		return molt_error_set(err, -pfd, "open the directory of '%s'", path);
	}
	struct stat st;
	if (*name == '\0' || fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		w->failed = true;
		return molt_error_set(err, *name ? errno : EINVAL, "stat '%s'", path);
	}
	r = add_entry(w, pfd, name, path, &st, err);
	w->failed = r < 0;
	return r;
}

int layer_writer_finish(struct layer_writer *w, struct layer_digests *ret,
			struct molt_error **err)
{
	static const char end[2 * TAR_BLOCK];
	if (w->failed)
		return molt_error_setx(err, EINVAL, "layer writer: finished after a failure");
	int r = layer_sink_write(w->sink, end, sizeof(end), err);
	if (r < 0)
		return r;
	return layer_sink_finish(w->sink, ret, err);
}
