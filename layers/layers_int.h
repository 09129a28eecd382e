/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/layers_int.h: private to layers/ — what its files share beyond the public
 * API of layers.h (which other modules use): store locks and scratch directories,
 * xattrs of the differs and the layer writer, the compressing sink under the writer.
 */
#ifndef MOLT_LAYERS_INT_H
#define MOLT_LAYERS_INT_H

#include "layers.h"

/* The largest manifest or config blob the store reads into memory. */
#define JSON_BLOB_MAX (16u << 20)

/* An open store (store.c). */
struct layer_store {
	char *root;
	int rootfd;
	int gc_fd;  /* gc.lock, held shared while open */
	int tmpfd;  /* tmp/ */
	char *tmp;  /* our scratch directory, made on first use */
	int tmp_lock_fd;
};

/*
 * Store internals shared by store*.c and cache_index.c: flock(2) helpers and
 * scratch directories.
 * Locks return -EWOULDBLOCK, without touching *err, when wait is false and the
 * lock is taken.
 */
int store_lock_file(int dirfd, const char *name, bool exclusive, bool wait, int *ret_fd,
		    struct molt_error **err);
int store_lock_fd(int fd, bool exclusive, bool wait, struct molt_error **err);
/* store_gc.c, with gc.lock held exclusive: appends the hex names of the blobs and diff
 * IDs the index's images reach (unsorted); collects garbage (layer_store_gc's work). */
int store_gc_image_set(struct layer_store *s, char ***blobs, char ***diffs,
		       bool *keep_all_unpacked, struct molt_error **err);
int store_gc_collect(struct layer_store *s, size_t *ret_removed, struct molt_error **err);
/* A new file <prefix>-XXXXXX in this process's scratch directory (layer_store_tmpdir),
 * open for writing: its path (to free) and fd. */
int layer_store_tmpfile(struct layer_store *s, const char *prefix, char **ret_path, int *ret_fd,
			struct molt_error **err);
/* Makes tmp/<pid>.<rand>/ and returns it flock'ed (the lock lives as long as the fd). */
int store_tmp_create(int tmpfd, const char *tmp_path, char **ret_path, int *ret_lockfd,
		     struct molt_error **err);
/* Removes scratch directories whose processes are gone (best effort). */
void store_tmp_clean(int tmpfd);

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

/* Image names normalized ("docker.io/library/x:latest"), for the index (store_index.c). */
int store_normalize_names(char *const *names, char ***ret, struct molt_error **err);

/*
 * convert.c, for garbage collection: keeps the conversions of the diff IDs in diffs
 * (sorted hex names; every one when keep_all) by pushing their blobs' hex names onto
 * *blobs, and removes the others' entries (before the blobs are swept).
 */
int convert_index_mark(struct layer_store *s, char *const *diffs, bool keep_all, char ***blobs,
		       struct molt_error **err);

struct archive;
/*
 * decompress.c: the one way molt sets up libarchive's decompressors. Enables none,
 * gzip, bzip2, xz and zstd — in-process only: never archive_read_support_filter_all(),
 * which runs external programs (lzop, lrzip, ...) on untrusted bytes. 0, or -ENOTSUP
 * when a filter is missing or would need an external program.
 */
int decompress_enable(struct archive *a, struct molt_error **err);

#endif
