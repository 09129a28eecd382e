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
	char boot[40];           /* the kernel's boot ID, "" when unreadable (store_fresh.c) */
	_Atomic bool fresh_made; /* layers/fresh/<boot> made and synced by this handle */
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
/*
 * The lock of one layer's tree (layers/unpack-<hex>.lock, store_unpack.c), held
 * exclusive while the tree is unpacked or removed; unlocking unlinks the file, and
 * locking retries when it got the lock of a file unlinked meanwhile, so two holders
 * never overlap.
 */
int store_tree_lock(struct layer_store *s, const char *hex, int *ret_fd, struct molt_error **err);
void store_tree_unlock(struct layer_store *s, const char *hex, int fd);
/* fsync(2) of the directory dirfd/name, best effort (what rename and unlink changed). */
void store_fsync_dir(int dirfd, const char *name);
/*
 * store_fresh.c: trees are published without waiting for their data to reach the disk.
 * store_fresh_purge(), at open, reads the boot ID and removes the trees of boots that
 * ended, to be unpacked again; store_fresh_mark() records, durably, that the tree about
 * to be published as <hex> was written in this boot (or syncs it where the boot ID is
 * unknown).
 */
int store_fresh_mark(struct layer_store *s, const char *hex, const char *tree,
		     struct molt_error **err);
int store_fresh_purge(struct layer_store *s, struct molt_error **err);
/* With gc.lock held exclusive: drops this boot's markers of trees that are gone. */
void store_fresh_forget(struct layer_store *s);
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


/* Docker's schema 2 media types (read from registries, archives and cache sources; a
 * Docker image converted at export keeps its types), the build cache's layout name and
 * record bound. */
#define MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MEDIA_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MOLT_CACHE_REF_NAME "molt-cache" /* its ref name in an OCI layout's index.json */
#define MOLT_CACHE_MAX_RECORDS 100000
/* Compression of a layer blob, from its first bytes. */
enum blob_compression { BLOB_PLAIN, BLOB_GZIP, BLOB_ZSTD };

/*
 * Declared for layers/ alone (moved out of layers.h: nothing outside layers/ calls them;
 * unit tests of layers/ include this header).
 */
enum blob_compression blob_compression_detect(const void *head, size_t n);
/* The OCI layer media type for a compression. */
const char *blob_compression_media_type(enum blob_compression c);
/* -EINVAL when malformed (the key is the entry's own). */
int cache_entry_from_json(const char *text, size_t len, struct cache_entry *ret);
char *cache_entry_to_json(const struct cache_entry *e);
/* The layer blob an entry's layer is exported as, in compression ec. A
 * lazy hit's blob the store lacks is exported as recorded (fetched from the sources
 * only when the destination does not have it). */
int cache_export_layer_blob(struct layer_store *s, const struct cache_entry *e,
			    const struct export_compression *ec, struct image_descriptor *ret,
			    struct molt_error **err);
void cache_inputs_drop(struct layer_store *s, const char *key);
/* Removes records and link lists no entry needs any more (garbage collection). */
void cache_inputs_sweep(struct layer_store *s);
const char *cache_source_name(const struct cache_source *c);
/* A clear error ("WHAT: compressed with lzop: molt reads gzip, ...") when the file at
 * fd (read with pread at offset 0) is in such a format; 0 otherwise. */
int decompress_refuse_foreign(int fd, const char *what, struct molt_error **err);
/* The GOARCH name of this machine ("amd64", "arm64", …). */
const char *image_host_arch(void);
/* The tar entry name of a change ("a/.wh.b", "a/.wh..wh..opq", "a/b"); malloc'ed. */
char *layer_change_tar_name(const struct layer_change *ch);
/* Sorts by tar entry name (bytewise), which puts parents before their children. */
void layer_changes_sort(struct layer_changes *c);
/*
 * Re-locks this process's hold on gc.lock: exclusive to collect garbage (every other
 * process must have closed the store), shared again after.
 */
int layer_store_gc_lock(struct layer_store *s, bool exclusive, bool wait, struct molt_error **err);
/* The store's root directory fd (valid while s is open). */
int layer_store_rootfd(const struct layer_store *s);
/* Number of entries recorded (the root not counted). */
size_t tree_snapshot_size(const struct tree_snapshot *s);
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

#endif
