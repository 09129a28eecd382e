/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/layers.h: the one public header of the layers module — filesystems as data.
 *
 * Two halves, kept in their own sections so they can grow side by side:
 *   A. the store and image formats (store.c, digest.c, image.c, refname.c, archive
 *      import/export);
 *   B. trees and layer tars (unpack.c, differ_*.c, tarwriter.c).
 */
#ifndef MOLT_LAYERS_H
#define MOLT_LAYERS_H

#include "../lib/base.h"

/* ================================================================================
 * A. Store and image formats
 * ================================================================================ */

/* (section A declarations go here) */

/* end of section A */


/* ================================================================================
 * B. Trees and layer tars: secure unpack, snapshot differ, deterministic layer writer
 * ================================================================================ */

/*
 * In-root path resolution (resolve.c). Every path molt takes from an image (a tar
 * entry, a symlink target, a hardlink target, a COPY source inside a stage) is
 * resolved relative to a directory fd as if that directory were "/": absolute
 * symlinks and ".." stop at the root instead of reaching the host. openat2(2) with
 * RESOLVE_IN_ROOT does this in the kernel (5.6+); the walk is the same rule done one
 * component at a time for kernels or seccomp profiles without openat2.
 */
enum inroot_mode {
	INROOT_AUTO,    /* openat2 when the kernel has it, else the walk */
	INROOT_OPENAT2, /* openat2 only (fails with ENOSYS where missing) */
	INROOT_WALK,    /* the fd-relative component walk only */
};

/*
 * Opens `path` (absolute or relative; "" and "/" mean the root) inside rootfd,
 * following symlinks as if rootfd were "/". flags are openat(2) flags (O_CLOEXEC is
 * added; O_CREAT is not supported: create with *at() on inroot_open_parent()).
 * Returns the new fd or a negative errno (-ELOOP after 40 symlinks, -ENOENT, ...).
 */
int inroot_open(int rootfd, const char *path, int flags, enum inroot_mode mode);

/*
 * Opens (O_PATH | O_DIRECTORY) the directory that holds the last component of
 * `path` inside rootfd and returns that component in *ret_name (malloc'ed; ""
 * when path names the root itself). The last component is NOT followed, so the
 * caller acts on it with *at(..., AT_SYMLINK_NOFOLLOW) / O_NOFOLLOW. With
 * `create`, missing parent directories are made (mode 0755, owned by the caller).
 * Returns the fd or a negative errno; *ret_name untouched on failure.
 */
int inroot_open_parent(int rootfd, const char *path, bool create, enum inroot_mode mode,
		       char **ret_name);

/* True when openat2(RESOLVE_IN_ROOT) works here (probed once). */
bool inroot_have_openat2(void);

/*
 * Secure layer unpack (unpack.c). Reads a layer tar (plain, gzip or zstd, found by
 * its magic) with libarchive and writes the tree with molt's own code: no path
 * leaves rootfd, ids are numeric, xattrs come from an allow list, limits bound the
 * work. On failure the partial tree is left in place: THE CALLER REMOVES IT (the
 * store unpacks into a temporary directory and renames it only on success; a caller
 * applying onto a flattened rootfs throws the whole rootfs away).
 */
enum unpack_whiteouts {
	UNPACK_APPLY,   /* flattened rootfs: `.wh.X` deletes X, `.wh..wh..opq` empties the dir */
	UNPACK_OVERLAY, /* overlay lowerdir: whiteouts become overlay whiteouts */
};

struct unpack_opts {
	const char *layer; /* for messages, e.g. "sha256:abc…" (NULL: "layer") */
	enum unpack_whiteouts whiteouts;
	enum inroot_mode resolve;
	uint64_t max_bytes;   /* uncompressed tar bytes and file sizes; 0: 64 GiB */
	uint64_t max_entries; /* 0: 10,000,000 */
	unsigned max_depth;   /* path components; 0: 1024 */
	unsigned max_path;    /* bytes of an entry name; 0: PATH_MAX - 1 */
	/*
	 * UNPACK_OVERLAY writes a deletion as a char 0:0 device (allowed in a user
	 * namespace since Linux 5.8). When mknod is refused anyway, or with this set, it
	 * writes the xattr form of Linux 6.7+: an empty file with user.overlay.whiteout
	 * in a directory marked user.overlay.opaque=x (overlay mounted with userxattr).
	 */
	bool xattr_whiteouts;
};

struct unpack_stats {
	uint64_t entries;         /* tar entries read */
	uint64_t bytes;           /* file data bytes written */
	uint64_t whiteouts;       /* `.wh.` entries handled */
	uint64_t skipped_devices; /* device nodes that could not be created */
	uint64_t skipped_xattrs;  /* xattrs outside the allow list, dropped */
};

/* ret_stats may be NULL. */
int layer_unpack(int rootfd, int tarfd, const struct unpack_opts *o,
		 struct unpack_stats *ret_stats, struct molt_error **err);

/*
 * The xattr allow list shared by unpack, the differ and the writer:
 * security.capability and user.* except user.overlay.* (overlay's own metadata).
 */
bool layer_xattr_allowed(const char *name);

/*
 * A change list (differ.c): what a layer must hold to turn the old tree into the
 * new one. Paths are relative ("etc/passwd"), without "./" or a trailing slash.
 */
enum layer_change_kind {
	LAYER_CHANGE_ENTRY,    /* the path as it is in the new tree (added or modified) */
	LAYER_CHANGE_WHITEOUT, /* the path was deleted: tar entry "dir/.wh.NAME" */
	LAYER_CHANGE_OPAQUE,   /* the dir was replaced: "dir/.wh..wh..opq" (+ its ENTRYs) */
};

struct layer_change {
	char *path;
	enum layer_change_kind kind;
};

struct layer_changes {
	struct layer_change *v;
	size_t n, cap;
};

void layer_changes_add(struct layer_changes *c, const char *path, enum layer_change_kind kind);
/* Sorts by tar entry name (bytewise), which puts parents before their children. */
void layer_changes_sort(struct layer_changes *c);
void layer_changes_done(struct layer_changes *c);
/* The tar entry name of a change ("a/.wh.b", "a/.wh..wh..opq", "a/b"); malloc'ed. */
char *layer_change_tar_name(const struct layer_change *ch);

/*
 * The overlay differ (differ_overlay.c): reads the step's upperdir in O(changed
 * entries). lowerfd is a directory showing the tree the step started from (the
 * single lowerdir, or a read-only overlay of all of them); -1 when there is none.
 * Upper dirs whose metadata equals the lower's (a mere copy-up) are left out.
 * The overlay must be mounted with redirect_dir=off and metacopy=off (userxattr
 * implies both): an upper entry with a redirect or metacopy xattr is an error.
 * The layer is then written from upperfd.
 */
int differ_overlay(int upperfd, int lowerfd, struct layer_changes *ret,
		   struct molt_error **err);

/* The walk differ (differ_walk.c): a metadata snapshot before, a walk after. */
struct tree_snapshot;
int tree_snapshot_take(int rootfd, struct tree_snapshot **ret, struct molt_error **err);
void tree_snapshot_free(struct tree_snapshot *s);
/* Number of entries recorded (the root not counted). */
size_t tree_snapshot_size(const struct tree_snapshot *s);
/* The layer is then written from rootfd. */
int differ_walk(const struct tree_snapshot *before, int rootfd, struct layer_changes *ret,
		struct molt_error **err);

/*
 * The deterministic layer writer (tarwriter.c, compress.c): a PAX tar streamed into
 * gzip (no name, no timestamp in the header) or zstd on outfd, hashing the tar
 * (diff ID) and the compressed bytes (blob digest) in the same pass.
 */
enum layer_compression {
	LAYER_GZIP, /* default */
	LAYER_ZSTD,
	LAYER_UNCOMPRESSED, /* digest == diff ID */
};

struct layer_writer_opts {
	enum layer_compression compression;
	int level;                 /* 0: the format's default (gzip 6, zstd 3) */
	bool clamp_mtime;          /* mtimes > source_date_epoch become source_date_epoch */
	int64_t source_date_epoch; /* see layer_writer_opts_from_env() */
};

/* Fills clamp_mtime/source_date_epoch from $SOURCE_DATE_EPOCH (-EINVAL if malformed). */
int layer_writer_opts_from_env(struct layer_writer_opts *o, struct molt_error **err);

struct layer_digests {
	char diff_id[72]; /* "sha256:<64 hex>" of the uncompressed tar */
	char digest[72];  /* "sha256:<64 hex>" of the blob as written */
	uint64_t tar_size;
	uint64_t blob_size;
};

struct layer_writer;
int layer_writer_new(int outfd, const struct layer_writer_opts *o, struct layer_writer **ret,
		     struct molt_error **err);
/*
 * Adds `path` of the tree under srcfd (resolved in root, last component not
 * followed). Entries must come in layer_changes_sort() order (-EINVAL otherwise).
 * A regular file whose inode was already written becomes a hardlink entry to it.
 */
int layer_writer_add(struct layer_writer *w, int srcfd, const char *path,
		     struct molt_error **err);
int layer_writer_add_whiteout(struct layer_writer *w, const char *path, struct molt_error **err);
int layer_writer_add_opaque(struct layer_writer *w, const char *dirpath,
			    struct molt_error **err);
/* Ends the tar, flushes the compressor; ret gets the digests. */
int layer_writer_finish(struct layer_writer *w, struct layer_digests *ret,
			struct molt_error **err);
void layer_writer_free(struct layer_writer *w);

/* Sorts c and writes all of it (ENTRYs read from srcfd) as one layer on outfd. */
int layer_write_changes(int srcfd, struct layer_changes *c, const struct layer_writer_opts *o,
			int outfd, struct layer_digests *ret, struct molt_error **err);

/*
 * Internal to layers/ (section B files share these; other modules use the API above).
 */
/* Allowed xattrs of one inode, sorted by name (differ.c). */
struct layer_xattr {
	char *name;
	char *value;
	size_t len;
};
struct layer_xattrs {
	struct layer_xattr *v;
	size_t n;
};
/* Reads the allowed xattrs of fd (an fs without xattrs gives none). */
int layer_xattrs_read(int fd, struct layer_xattrs *ret, struct molt_error **err);
bool layer_xattrs_equal(const struct layer_xattrs *a, const struct layer_xattrs *b);
void layer_xattrs_done(struct layer_xattrs *x);

/* Hash + compress + write: the byte stream under the tar writer (compress.c). */
struct layer_sink;
int layer_sink_new(int outfd, enum layer_compression c, int level, struct layer_sink **ret,
		   struct molt_error **err);
int layer_sink_write(struct layer_sink *s, const void *buf, size_t len, struct molt_error **err);
int layer_sink_finish(struct layer_sink *s, struct layer_digests *ret, struct molt_error **err);
void layer_sink_free(struct layer_sink *s);

/* end of section B */

#endif
