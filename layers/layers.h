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

/* ---------------------------------------------------------------- digests (digest.c) */

/* "sha256:" + 64 lowercase hex digits + NUL. */
#define DIGEST_STR_LEN 72
#define DIGEST_PREFIX "sha256:"

/*
 * Loads libcrypto (lazy_crypto.c) once: 0, or -ELIBACC and "cannot compute sha256
 * digests: …". Every hashing below needs it first; layer_store_open() calls it (the
 * store verifies each blob it reads), so only code hashing without a store does.
 */
int digest_init(struct molt_error **err);
/* A streaming sha256 (OpenSSL EVP); after digest_init() succeeded. */
struct digester;
struct digester *digester_new(void);
void digester_update(struct digester *d, const void *buf, size_t n);
/* Writes "sha256:<hex>" into ret; the digester may not be updated afterwards. */
void digester_final(struct digester *d, char ret[DIGEST_STR_LEN]);
/* Bytes fed so far. */
uint64_t digester_size(const struct digester *d);
void digester_free(struct digester *d);
/* NULL when libcrypto loaded (lazy_crypto.c), else why it could not be loaded. */
const char *lazy_crypto_failure(void);
/* NULL when libcurl loaded (lazy_curl.c, which defines the curl_* functions molt calls),
 * else why it could not be loaded. */
const char *lazy_curl_failure(void);
void digest_buffer(const void *buf, size_t n, char ret[DIGEST_STR_LEN]);
/* Hashes fd from its current offset to EOF. */
int digest_fd(int fd, char ret[DIGEST_STR_LEN], uint64_t *ret_size, struct molt_error **err);
/* True for "sha256:" + exactly 64 lowercase hex digits (the only algorithm molt stores). */
bool digest_is_valid(const char *s);
/* The hex part of a valid digest ("sha256:abc…" → "abc…"). */
const char *digest_hex(const char *digest);

/* ---------------------------------------------------------------- image names (refname.c) */

/*
 * A normalised image reference, the docker way: "busybox" → domain "docker.io",
 * path "library/busybox", tag "latest". tag and digest may both be set; when the
 * input had a digest but no tag, tag stays NULL.
 */
struct image_ref {
	char *domain;
	char *path;
	char *tag;
	char *digest;
};

/* Parses and normalises; invalid names get a usage error naming the rule broken. */
int image_ref_parse(const char *s, struct image_ref *ret, struct molt_error **err);
void image_ref_done(struct image_ref *r);
/* "docker.io/library/busybox" */
char *image_ref_repository(const struct image_ref *r);
/* "docker.io/library/busybox:latest" (or "…@sha256:…", or both). */
char *image_ref_string(const struct image_ref *r);
/* The short docker form: "busybox:latest", "foo/bar:1", "localhost:5000/x:1". */
char *image_ref_familiar(const struct image_ref *r);
/* parse + image_ref_string in one step. */
int image_ref_normalize(const char *s, char **ret, struct molt_error **err);

/* ---------------------------------------------------------------- registries (registry_*.c)
 * The OCI distribution API (v2) over libcurl (loaded lazily). Settings and credentials
 * come from registries.conf, certs.d and the auth files (registry_int.h). Every blob is
 * verified against its digest while it streams into the store. Declarations here are
 * the first cut of the public API; registry_*.c may refine them. */
struct layer_store;
struct image;

struct registry_opts {
	bool tls_verify;      /* false only for --tls-verify=false on this command */
	const char *platform; /* "os/arch[/variant]"; NULL = linux/<host arch> */
	unsigned parallel;    /* blobs transferred at once; 0 = 3 (containerd's default) */
	bool quiet;           /* no progress output */
};

/* Pulls REF into the store and tags it under its normalised name; *ret_digest (may be
 * NULL) gets the manifest digest stored. */
int registry_pull(struct layer_store *s, const char *ref, const struct registry_opts *o,
		  char ret_digest[/* DIGEST_STR_LEN */ 72], struct molt_error **err);
/* Pushes IMG to REF (blobs the registry has are not sent; the manifest goes last). */
int registry_push(struct layer_store *s, const struct image *img, const char *ref,
		  const struct registry_opts *o, char ret_digest[/* DIGEST_STR_LEN */ 72],
		  struct molt_error **err);
/* `molt login`: checks USERNAME/SECRET against HOST's /v2/ (with the token flow), then
 * stores them where pulls look (registry_int.h). `molt logout`: forgets HOST's. */
int registry_login(const char *host, const char *username, const char *secret,
		   const struct registry_opts *o, struct molt_error **err);
int registry_logout(const char *host, struct molt_error **err);

/* ---------------------------------------------------------------- image JSON (image.c) */

#define MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MEDIA_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"

#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"
#define ANNOTATION_CONTAINERD_NAME "io.containerd.image.name"

struct image_history {
	char *created;    /* RFC 3339, may be NULL */
	char *created_by; /* may be NULL */
	char *author;
	char *comment;
	bool empty_layer;
};

struct image_healthcheck {
	char **test; /* NULL: no HEALTHCHECK; {"NONE"} disables an inherited one */
	int64_t interval, timeout, start_period, start_interval; /* nanoseconds, 0 = unset */
	int64_t retries;
};

/*
 * The OCI image config (with Docker's extensions). For string vectors NULL means
 * "not set" (written as absent / null) and an empty vector means "set to empty" —
 * Docker tells `ENTRYPOINT []` from no ENTRYPOINT. Maps are vectors of "key=value"
 * (labels) or plain keys (exposed ports "80/tcp", volumes "/data").
 */
struct image_config {
	char *architecture, *os, *variant, *created, *author;
	char *user, *working_dir, *stop_signal;
	char **env, **entrypoint, **cmd, **shell, **onbuild;
	char **exposed_ports, **volumes, **labels;
	bool args_escaped;
	struct image_healthcheck healthcheck;
	char **diff_ids; /* rootfs.diff_ids */
	struct image_history *history;
	size_t n_history;
};

int image_config_parse(const char *json, size_t len, struct image_config *ret,
		       struct molt_error **err);
/* Deterministic compact JSON: fixed key order (that of the Go structs), sorted maps. */
char *image_config_to_json(const struct image_config *c);
void image_config_done(struct image_config *c);
void image_config_copy(struct image_config *dst, const struct image_config *src);
void image_config_add_history(struct image_config *c, const char *created, const char *created_by,
			      const char *comment, bool empty_layer);
/* Sets (replaces) "key=value" in a vector such as env or labels. */
void image_kv_set(char ***v, const char *key, const char *value);

struct image_descriptor {
	char *media_type;
	char digest[DIGEST_STR_LEN];
	int64_t size;
	char **annotations; /* "key=value", may be NULL */
	char *platform_os, *platform_arch, *platform_variant; /* index entries only */
};

struct image_manifest {
	char *media_type;
	struct image_descriptor config;
	struct image_descriptor *layers;
	size_t n_layers;
	char **annotations;
};

/* Accepts OCI and Docker schema 2 manifests; checks digests and sizes are sane. */
int image_manifest_parse(const char *json, size_t len, struct image_manifest *ret,
			 struct molt_error **err);
char *image_manifest_to_json(const struct image_manifest *m);
void image_manifest_done(struct image_manifest *m);

struct image_index {
	struct image_descriptor *manifests;
	size_t n_manifests;
};

int image_index_parse(const char *json, size_t len, struct image_index *ret,
		      struct molt_error **err);
char *image_index_to_json(const struct image_index *idx);
void image_index_done(struct image_index *idx);
void image_descriptor_done(struct image_descriptor *d);
void image_descriptor_copy(struct image_descriptor *dst, const struct image_descriptor *src);
/* The value of an annotation, or NULL. */
const char *image_descriptor_annotation(const struct image_descriptor *d, const char *key);
/* time → "2006-01-02T15:04:05Z"; honours nothing, the caller picks the time. */
char *image_time_format(int64_t t);
/* SOURCE_DATE_EPOCH when set and valid, else the current time. */
int64_t image_build_time(void);

/* ---------------------------------------------------------------- the store (store.c) */

/*
 * $MOLT_ROOT: an OCI image layout (oci-layout, index.json, blobs/sha256/) that skopeo
 * and umoci read directly, plus molt's own entries beside it:
 *   layers/sha256/<hex>/   unpacked layer trees keyed by diff ID (published by rename,
 *                          not synced: caches of their blobs, which are)
 *   layers/fresh/<boot ID>/<hex>  a tree published in that boot; at open, the trees of
 *                          boots that ended are removed (store_fresh.c)
 *   lock, gc.lock          flock(2) files (index writers / blob garbage collection)
 *   tmp/<pid>.<rand>/      per-process scratch, flock'ed while its process lives;
 *                          removed by the next molt when its owner is gone
 * Tags are index.json entries annotated with both org.opencontainers.image.ref.name
 * and io.containerd.image.name = the full normalised name. Untagged images keep an
 * entry without the annotations so they are not garbage.
 */
struct layer_store;

/* Opens (creating when missing) the store; cleans up tmp/ left by dead processes and
 * the layer trees of boots that ended (see layers/fresh above). */
int layer_store_open(const char *root, struct layer_store **ret, struct molt_error **err);
void layer_store_free(struct layer_store *s);
const char *layer_store_root(const struct layer_store *s);
/* This process's scratch directory inside the store (same filesystem: rename works). */
int layer_store_tmpdir(struct layer_store *s, const char **ret_path, struct molt_error **err);

/* Blobs. Every put streams into tmp/, hashes on the way, fsyncs, verifies, renames. */
int layer_store_blob_put_mem(struct layer_store *s, const void *data, size_t len,
			     const char *want_digest, char ret_digest[DIGEST_STR_LEN],
			     struct molt_error **err);
/* Copies fd (from its offset to EOF); want_digest (may be NULL) must match. */
int layer_store_blob_put_fd(struct layer_store *s, int fd, const char *want_digest,
			    char ret_digest[DIGEST_STR_LEN], int64_t *ret_size,
			    struct molt_error **err);
/*
 * A blob written as a stream (e.g. a layer tar as it is compressed): data goes to a
 * scratch file and through sha256; commit fsyncs, checks want_digest (may be NULL)
 * and renames it into place. commit and abort both free the writer; abort removes
 * the scratch file.
 */
struct blob_writer;
int layer_store_blob_writer(struct layer_store *s, struct blob_writer **ret,
			    struct molt_error **err);
int blob_writer_write(struct blob_writer *w, const void *buf, size_t n, struct molt_error **err);
int blob_writer_commit(struct blob_writer *w, const char *want_digest,
		       char ret_digest[DIGEST_STR_LEN], int64_t *ret_size, struct molt_error **err);
void blob_writer_abort(struct blob_writer *w);
/*
 * Moves a finished temporary file (in this store's filesystem) in as a blob whose
 * digest the caller computed while writing it; the name is gone on return either way.
 */
int layer_store_blob_adopt(struct layer_store *s, const char *tmp_path, const char *digest,
			   struct molt_error **err);
bool layer_store_blob_exists(struct layer_store *s, const char *digest);
int layer_store_blob_path(struct layer_store *s, const char *digest, char **ret_path,
			  struct molt_error **err);
/* Opens a blob read-only. verify=true hashes it completely first (then rewinds). */
int layer_store_blob_open(struct layer_store *s, const char *digest, bool verify, int *ret_fd,
			  int64_t *ret_size, struct molt_error **err);
/* Reads a small blob (JSON) into memory, verified against its digest. */
int layer_store_blob_read(struct layer_store *s, const char *digest, size_t max, char **ret_data,
			  size_t *ret_len, struct molt_error **err);

/* Unpacked layers. */
char *layer_store_unpacked_path(struct layer_store *s, const char *diff_id);
bool layer_store_unpacked_exists(struct layer_store *s, const char *diff_id);
/*
 * Unpacks the layer blob digest into the tree of diff_id (through a directory under
 * tmp, a layer_store_tmpdir() path, published by rename). The blob's content must be
 * diff_id: trees are shared by diff ID across images, so a hostile config cannot plant
 * its own tree under a popular layer's name. verify hashes the blob first (false only
 * for a blob this process just verified). Nothing to do when the tree is there; one
 * caller at a time per layer across processes (the others wait, then find it). Safe to
 * call from several threads.
 */
int layer_store_unpack(struct layer_store *s, const char *tmp, const char *digest,
		       const char *diff_id, bool verify, struct molt_error **err);
/*
 * Publishes a finished unpack (a directory under layer_store_tmpdir()) as the tree of
 * diff_id by rename(2). When another process published it first, ours is removed and
 * 0 is returned: both trees are the same content.
 */
int layer_store_unpacked_publish(struct layer_store *s, const char *diff_id,
				 const char *tmp_dir, struct molt_error **err);
/*
 * Makes sure every layer of an image is unpacked in the store (in tmp, then
 * published), after checking that each blob's content is the diff ID its config
 * claims: unpacked trees are shared by diff ID across images. Used by build and run.
 */
int image_ensure_unpacked(struct layer_store *s, const char *tmp, const struct image_config *c,
			  const struct image_descriptor *layers, size_t n_layers,
			  struct molt_error **err);
/* The unpacked trees of an image's layers (c->diff_ids), top-most first: overlay lowers. */
char **layer_store_lowers(struct layer_store *s, const struct image_config *c);

static inline void layer_store_freep(struct layer_store **s)
{
	layer_store_free(*s);
}
#define _cleanup_store_ _cleanup_(layer_store_freep)

/* Images. */
struct image {
	char manifest_digest[DIGEST_STR_LEN];
	int64_t manifest_size;
	char id[DIGEST_STR_LEN]; /* the config digest, as docker's image ID */
	struct image_manifest manifest;
	struct image_config config;
	char **names; /* full normalised names pointing at it (sorted), may be NULL */
};
void image_free(struct image *img);
static inline void image_freep(struct image **img)
{
	image_free(*img);
}
#define _cleanup_image_ _cleanup_(image_freep)

/* One index.json entry, for listing. */
struct image_entry {
	char *name; /* NULL when untagged */
	char manifest_digest[DIGEST_STR_LEN];
};
void image_entries_free(struct image_entry *v, size_t n);
int layer_store_list(struct layer_store *s, struct image_entry **ret, size_t *ret_n,
		     struct molt_error **err);
/* Loads the image of a manifest in the store (manifest, config, names). */
int layer_store_image_get(struct layer_store *s, const char *manifest_digest,
			  struct image **ret, struct molt_error **err);
/*
 * Finds an image by what a user typed: a name ("busybox", "x:1", "name@sha256:…"),
 * an image ID or manifest digest ("sha256:…"), or an ID prefix (≥ 4 hex digits,
 * unambiguous). -ENOENT with "image 'x' not found" when nothing matches.
 */
int layer_store_resolve(struct layer_store *s, const char *what, struct image **ret,
			struct molt_error **err);
/*
 * Writes config (and manifest) blobs for an image whose layer blobs are already in
 * the store, records it in the index (untagged when names is NULL), and returns the
 * manifest digest.
 */
int layer_store_image_commit(struct layer_store *s, const struct image_config *config,
			     const struct image_descriptor *layers, size_t n_layers,
			     char *const *names, char ret_manifest[DIGEST_STR_LEN],
			     struct molt_error **err);
/* The same with manifest annotations ("key=value", may be NULL; build --annotation). */
int layer_store_image_commit_annotated(struct layer_store *s, const struct image_config *config,
				       const struct image_descriptor *layers, size_t n_layers,
				       char *const *annotations, char *const *names,
				       char ret_manifest[DIGEST_STR_LEN], struct molt_error **err);
/* Records an existing manifest blob in the index (names may be NULL: untagged). */
int layer_store_index_add(struct layer_store *s, const char *manifest_digest, char *const *names,
			  struct molt_error **err);

/* Tags. Names are normalised first; setting moves the name from any other image. */
int layer_store_tag_set(struct layer_store *s, const char *name, const char *manifest_digest,
			struct molt_error **err);
/* The manifest a name points at; -ENOENT when none. */
int layer_store_tag_get(struct layer_store *s, const char *name,
			char ret_manifest[DIGEST_STR_LEN], struct molt_error **err);
int layer_store_tag_remove(struct layer_store *s, const char *name, struct molt_error **err);
/* Removes every index entry of a manifest. */
int layer_store_image_remove(struct layer_store *s, const char *manifest_digest,
			     struct molt_error **err);

/*
 * Removes blobs and unpacked layers that no index entry reaches. wait=false gives up
 * (returning 0, *ret_removed = 0) when another molt process is using the store.
 */
int layer_store_gc(struct layer_store *s, bool wait, size_t *ret_removed,
		   struct molt_error **err);
/* Removes everything under root (the caller enters the build namespace first). */
int layer_store_destroy(const char *root, struct molt_error **err);

/* ---------------------------------------------------------------- formats in and out */

/*
 * Streams the uncompressed content of fd (gzip, bzip2, xz, zstd or plain, detected by
 * libarchive)
 * to cb in chunks; cb returns a negative errno to stop. Used to compute and verify
 * diff IDs and to write uncompressed layers for docker save.
 */
int blob_decompress(int fd, int (*cb)(const void *buf, size_t n, void *userdata), void *userdata,
		    struct molt_error **err);
/* The name of a compression molt refuses ("lzop", "lrzip", "compress (.Z)", ...) that
 * the first bytes of a file show, or NULL. Pure. */
const char *decompress_foreign_name(const void *head, size_t n);
/* A tar, plain or compressed with gzip, bzip2, xz or zstd (ADD's "recognized"
 * archives); reads fd from its current offset. */
bool decompress_is_tar(int fd);
/*
 * For a tar compressed with bzip2 or xz (which the unpacker does not read): *ret_fd
 * a plain copy in scratch (unlinked), at most 64 GiB; for a plain, gzip or zstd tar
 * *ret_fd = -1 (unpack fd itself).
 */
int decompress_to_plain_tar(int fd, const char *scratch, const char *src, int *ret_fd,
			    struct molt_error **err);
/* Checks fd holds a complete, readable tar (gzip, bzip2, xz, zstd or none); reads it
 * to the end. */
int tar_validate(int fd, const char *what, struct molt_error **err);

/* import.c: a one-layer image from a rootfs tar (the tar, gzip-compressed, is the layer). */
int layer_store_import(struct layer_store *s, const char *tar_path, const char *name,
		       char ret_manifest[DIGEST_STR_LEN], struct molt_error **err);

/*
 * archive_load.c: loads a docker save tar, an OCI archive (tar) or an OCI layout
 * directory, detected by content. Every blob is verified before it is stored; the
 * index is changed only after every image was read completely. ret_names (may be
 * NULL) receives the names (or IDs for unnamed images) that were loaded.
 */
int layer_store_load(struct layer_store *s, const char *path, char ***ret_names,
		     struct molt_error **err);

enum image_save_format {
	IMAGE_SAVE_DOCKER,
	IMAGE_SAVE_OCI,
	IMAGE_SAVE_OCI_LAYOUT,
	/* a docker tar whose layers are img's blobs as they are (blobs/sha256/<hex>, as
	 * docker 25 names them): an image from layer_store_image_export() */
	IMAGE_SAVE_DOCKER_BLOBS,
};
/*
 * archive_save.c: writes img as a `docker load`-able tar (uncompressed layers,
 * manifest.json with RepoTags = names) or an OCI archive tar (its index naming the
 * image like BuildKit: io.containerd.image.name = full name, ref.name = tag), or an
 * OCI layout directory (IMAGE_SAVE_OCI_LAYOUT; out_path must not exist or be empty).
 * The output appears atomically (temp + rename).
 */
int layer_store_save(struct layer_store *s, const struct image *img, char *const *names,
		     enum image_save_format fmt, const char *out_path, struct molt_error **err);

/* ---------------------------------------------------------------- build cache index (cache_index.c) */

/*
 * What one cached build step produced: a layer (has_layer) or none (an empty_layer
 * history entry), and its history entry. Keys are computed by runner/executor/cache.c.
 * Stored as $MOLT_ROOT/cache/sha256/<hex of key>; see cache_index.c for the rules.
 */
struct cache_entry {
	char key[DIGEST_STR_LEN];
	bool has_layer;
	char *media_type;
	char digest[DIGEST_STR_LEN];  /* the layer blob */
	char diff_id[DIGEST_STR_LEN];
	int64_t size;
	char *created, *created_by, *comment; /* the history entry (may be NULL) */
};
void cache_entry_done(struct cache_entry *e);
/*
 * Looks up key: 0 and *ret filled on a hit; -ENOENT on a miss. An entry that is
 * damaged or whose blob is missing (or has another size) is a miss and is removed.
 */
int cache_index_get(struct layer_store *s, const char *key, struct cache_entry *ret,
		    struct molt_error **err);
/* Records an entry (temp + fsync + rename); its blob must already be in the store. */
int cache_index_put(struct layer_store *s, const struct cache_entry *e, struct molt_error **err);
/*
 * For garbage collection: appends the hex names of the blobs and diff IDs cache
 * entries reference to *blobs and *diffs; *ret_n = number of entries.
 */
int cache_index_mark(struct layer_store *s, char ***blobs, char ***diffs, size_t *ret_n,
		     struct molt_error **err);

/* ---- the cache's inputs and last use (cache_inputs.c), pruning it (cache_prune.c) */
/*
 * Records what the entry `key` was built from (JSON, runner/executor/cache_explain.c;
 * NULL: keeps the record) and puts key first in each of links' lists (a few most
 * recent keys per link).
 */
int cache_inputs_put(struct layer_store *s, const char *key, const char *json,
		     char *const *links, struct molt_error **err);
/* The record of key (-ENOENT when there is none). */
int cache_inputs_get(struct layer_store *s, const char *key, char **ret_json,
		     struct molt_error **err);
/* The keys recorded under link, most recent first (an empty list when none). */
char **cache_inputs_linked(struct layer_store *s, const char *link);
/* Marks an entry used now (the prune's LRU order and age). */
void cache_index_touch(struct layer_store *s, const char *key);

struct cache_prune_opts {
	int64_t keep_bytes;   /* remove until the store takes at most this; < 0: no limit */
	int64_t unused_for;   /* only entries unused for this many seconds; < 0: any */
};
struct cache_prune_report {
	size_t removed, kept;          /* cache entries */
	size_t untagged;               /* untagged images removed from the index */
	size_t files_removed;          /* blobs and unpacked layers */
	uint64_t bytes_before, bytes_after, image_bytes; /* image_bytes: held by images */
};
/*
 * Removes cache entries, least recently used first: with unused_for, those unused
 * that long; with keep_bytes, until the store's blobs and unpacked layers take at
 * most keep_bytes (both: the first kind, until the second holds, as BuildKit's GC
 * policies). Untagged images leave the index first; tagged images and what they
 * reference are never removed. Waits for other molt processes (gc.lock), then
 * collects garbage as layer_store_gc().
 */
int cache_prune(struct layer_store *s, const struct cache_prune_opts *o,
		struct cache_prune_report *ret, struct molt_error **err);

/* ---------------------------------------------------------------- remote build cache
 * (cache_artifact.c: the format; cache_source.c: --cache-from; cache_export.c: --cache-to)
 *
 * The cache travels as an OCI image index (tag or OCI layout): one descriptor per layer
 * blob (annotated with its diff ID) and one for a config blob of media type
 * MEDIA_MOLT_CACHE_CONFIG holding the records: {"version":1,"records":[entry...]}, each
 * entry in the local index's form (cache_entry_to_json). A pushed image can carry the
 * same records inline, as the manifest annotation MOLT_CACHE_ANNOT_INLINE. Keys hold no
 * path, user, time or secret of the machine that made them (runner/executor/cache.h).
 */
#define MEDIA_MOLT_CACHE_CONFIG "application/vnd.molt.cache.config.v1+json"
#define MOLT_CACHE_ANNOT_INLINE "dev.molt.cache.inline.v1"
#define MOLT_CACHE_ANNOT_MODE "dev.molt.cache.mode"
#define MOLT_CACHE_ANNOT_DIFFID "dev.molt.cache.diffid"

/* Records sorted by key, unique. */
struct cache_records {
	struct cache_entry *e;
	size_t n;
};
void cache_records_done(struct cache_records *r);
/* Adds a copy of e (a key already there is kept); call cache_records_sort after. */
void cache_records_add(struct cache_records *r, const struct cache_entry *e);
void cache_records_sort(struct cache_records *r);
const struct cache_entry *cache_records_find(const struct cache_records *r, const char *key);
char *cache_records_to_json(const struct cache_records *r);
/* Every record checked; one bad record makes the whole set bad (-EINVAL). */
int cache_records_parse(const char *data, size_t len, struct cache_records *ret,
			struct molt_error **err);
/* The cache index JSON: the records' layer blobs, then their config blob. */
char *cache_artifact_index(const struct cache_records *r, const struct image_descriptor *config,
			   const char *mode);
/* Finds the records' config descriptor in a cache index; -EINVAL when it is none. */
int cache_artifact_config(const char *data, size_t len, struct image_descriptor *ret,
			  struct molt_error **err);
/* A manifest (JSON) with the records added as the inline annotation. */
int cache_inline_manifest(const char *manifest, size_t len, const struct cache_records *r,
			  char **ret, size_t *ret_len, struct molt_error **err);
/* The records of an image manifest's inline annotation; -ENOENT when it has none. */
int cache_inline_records(const char *manifest, size_t len, struct cache_records *ret,
			 struct molt_error **err);

/* --cache-from: the records of a cache (fetched once), its layers fetched on a hit. */
struct cache_source;
/* where: a registry reference (a cache index or an image with inline records), or
 * with local_dir an OCI layout directory. */
int cache_source_open(struct layer_store *s, const char *where, bool local_dir,
		      const struct registry_opts *o, struct cache_source **ret,
		      struct molt_error **err);
/* -ENOENT: no record. A record whose layer blob the store lacks is checked to be in the
 * source (HEAD, or the layout's file), not fetched: an error then means a miss. */
int cache_source_get(struct cache_source *c, struct layer_store *s, const char *key,
		     struct cache_entry *ret, struct molt_error **err);
/* Fetches the layer blob digest (named by one of its records) into the store, verified
 * against digest and size, and adds the records with that layer to the local cache.
 * -ENOENT (no error set) when no record names it. */
int cache_source_fetch(struct cache_source *c, struct layer_store *s, const char *digest,
		       struct molt_error **err);
/* The record of key, or NULL (no I/O). */
const struct cache_entry *cache_source_record(const struct cache_source *c, const char *key);
void cache_source_free(struct cache_source *c);

/* --cache-to: blobs first, the index last (a reader never sees an index whose blobs are
 * not there; concurrent exporters: the last index written wins). compression: NULL,
 * "gzip" or "zstd". */
struct export_compression;
struct cache_export_from { /* where blobs the store lacks come from (lazy hits) */
	struct cache_source *const *srcs;
	size_t n;
};
int cache_export_registry(struct layer_store *s, const char *ref, const struct cache_records *r,
			  const char *mode, const char *compression,
			  const struct cache_export_from *from, const struct registry_opts *o,
			  struct molt_error **err);
int cache_export_local(struct layer_store *s, const char *dir, const struct cache_records *r,
		       const char *mode, const char *compression,
		       const struct cache_export_from *from, struct molt_error **err);
/* The records as exported: their layers' descriptors from cache_export_layer_blob(). */
int cache_records_exported(struct layer_store *s, const struct cache_records *in,
			   const struct export_compression *ec, struct cache_records *ret,
			   struct molt_error **err);

/* end of section A */

/* ================================================================================
 * B. Trees and layer tars: secure unpack, snapshot differ, deterministic layer writer
 * ================================================================================ */

/* In-root path resolution: inroot_open() and friends, lib/base.h. */

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
	/* Every entry gets owner uid:gid instead of the archive's (ADD --chown). */
	bool chown;
	uid_t uid;
	gid_t gid;
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
 * What unpacking may write to the store's filesystem (write_budget.c), for layer
 * trees and the members of a tar given to `molt load`:
 *  - a hard cap per unpack or load, in bytes as the files claim them (holes of sparse
 *    files count, so a claimed 20 GiB stops at its header): MOLT_MAX_UNPACK (set by
 *    --max-unpack of load, build, run and pull), no cap by default;
 *  - a reserve: writing stops before the filesystem holding the store has less than
 *    5% of its size and 1 GiB free (checked with fstatvfs every 64 MiB written);
 *    MOLT_UNPACK_RESERVE=SIZE replaces it by a fixed amount.
 * What was written is removed by the caller, as for any unpack error.
 */
#define UNPACK_MAX_ENV "MOLT_MAX_UNPACK"
#define UNPACK_RESERVE_ENV "MOLT_UNPACK_RESERVE"

/* "123", "50M", "2g", "1.5GiB"... (binary units) → bytes; -EINVAL otherwise. */
int unpack_size_parse(const char *text, uint64_t *ret_bytes);
/* MOLT_MAX_UNPACK in bytes, 0 when unset (a bad value was refused by the CLI). */
uint64_t unpack_max_bytes(void);

struct write_budget {
	const char *what;     /* "layer sha256:…", "'image.tar'": for messages */
	uint64_t max;         /* unpack_max_bytes() at init, 0: none */
	uint64_t claimed;     /* bytes as files claim them, holes included */
	uint64_t unchecked;   /* bytes written since the last fstatvfs */
	bool checked_once;
};

void write_budget_init(struct write_budget *b, const char *what);
/* Counts n more bytes claimed (against the cap) before they are written. */
int write_budget_claim(struct write_budget *b, uint64_t n, struct molt_error **err);
/* Counts n bytes about to be written to fd (a file on the store's filesystem) and
 * checks the reserve when due. */
int write_budget_write(struct write_budget *b, int fd, uint64_t n, struct molt_error **err);

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
void layer_changes_done(struct layer_changes *c);

/*
 * The overlay differ (differ_overlay.c): reads the step's upperdir in O(changed
 * entries). lowerfd is a directory showing the tree the step started from (the
 * single lowerdir, or a read-only overlay of all of them); -1 when there is none.
 * Upper dirs whose metadata equals the lower's (a mere copy-up) are left out.
 * The overlay must not create redirects or metacopy files: mount it with
 * "userxattr" (which implies redirect_dir=nofollow; adding redirect_dir=off is
 * refused by the kernel as conflicting) or, outside a user namespace, with
 * redirect_dir=off,metacopy=off. An upper entry with a redirect or metacopy xattr
 * is an error.
 * The layer is then written from upperfd.
 */
int differ_overlay(int upperfd, int lowerfd, struct layer_changes *ret,
		   struct molt_error **err);

/* The walk differ (differ_walk.c): a metadata snapshot before, a walk after. */
struct tree_snapshot;
int tree_snapshot_take(int rootfd, struct tree_snapshot **ret, struct molt_error **err);
void tree_snapshot_free(struct tree_snapshot *s);
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

/* Sorts c and writes all of it (ENTRYs read from srcfd) as one layer on outfd. */
int layer_write_changes(int srcfd, struct layer_changes *c, const struct layer_writer_opts *o,
			int outfd, struct layer_digests *ret, struct molt_error **err);

/* ---------------------------------------------------------------- export compression (convert.c) */

/*
 * A build step commits its layer uncompressed (blob digest == diff ID): compression is
 * chosen when an image leaves the machine (-o type=oci|registry, `molt save --format
 * oci`, `molt push`), gzip unless asked otherwise. The zero value is that default.
 */
struct export_compression {
	enum layer_compression c; /* LAYER_GZIP, LAYER_ZSTD or LAYER_UNCOMPRESSED */
	int level;                /* 0: the format's default (gzip 6, zstd 3) */
	bool force;               /* recompress layers already compressed as well */
};

/*
 * Fills *ret from BuildKit's option values: name "gzip", "zstd" or "uncompressed"
 * (NULL: gzip), level (NULL: the default; gzip 1-9, zstd 1-19), force. Pure; an
 * unknown name or a level out of range is -EINVAL with the reason in *err.
 */
int export_compression_parse(const char *name, const char *level, bool force,
			     struct export_compression *ret, struct molt_error **err);

/*
 * The blob of one layer in compression ec: *ret (image_descriptor_done() it) is a
 * copy of layer when the layer is already compressed (gzip or zstd, e.g. pulled) or
 * already in that form, unless ec->force; else the descriptor of a blob converted
 * from it. A conversion is block-parallel
 * (compress_blocks.c: its bytes do not depend on the core count), checked against
 * diff_id (the layer's, from the image config), stored as a blob and remembered in
 * the store (convert/<diff ID hex>/<compression>-<level>), so the next export, push
 * or cache export of the same layer converts nothing; the remembered blob lives as
 * long as an image or cache entry has that diff ID (layer_store_gc).
 */
int layer_store_layer_blob(struct layer_store *s, const struct image_descriptor *layer,
			   const char *diff_id, const struct export_compression *ec,
			   struct image_descriptor *ret, struct molt_error **err);

/*
 * img with every layer in compression ec (layer_store_layer_blob): same config, same
 * image ID; when a layer changed, a new manifest (stored as a blob, which no index
 * entry names: the next gc removes it) and its digest in (*ret)->manifest_digest.
 * When none changed, a copy of img with its own manifest.
 */
int layer_store_image_export(struct layer_store *s, const struct image *img,
			     const struct export_compression *ec, struct image **ret,
			     struct molt_error **err);

#endif
