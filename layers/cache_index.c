/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/cache_index.c: the build cache index, beside the OCI layout in the store.
 *
 * One small JSON file per cache key, cache/sha256/<hex of the key>, saying which
 * layer blob (or no layer) and which history entry the step produced. A file per
 * key keeps lookups O(1) and lets two builds record at once without a shared index
 * to merge: each entry is written to this process's scratch directory, fsync'ed and
 * renamed into place, so a reader sees a whole entry or none.
 *
 * Order of writes: a step's blob is adopted (fsync + rename) before its entry is
 * written, so a killed build never leaves an entry whose blob was not yet stored.
 * Every process that has the store open holds gc.lock shared, and garbage
 * collection marks what cache entries reference (cache_index_mark) while holding
 * it exclusive, so no entry loses its blob to `molt prune` or `molt rmi`; only
 * `molt prune --all` (which removes the whole store) drops the cache. An entry whose
 * blob went missing anyway (removed by hand, a damaged disk) is a miss and is
 * removed when looked up.
 */
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#include "layers_int.h"

#define CACHE_DIR "cache/sha256"
#define ENTRY_MAX (1u << 20)

void cache_entry_done(struct cache_entry *e)
{
	if (!e)
		return;
	free(e->media_type);
	free(e->created);
	free(e->created_by);
	free(e->comment);
	*e = (struct cache_entry){0};
}

static char *entry_rel(const char *key)
{
	return xasprintf(CACHE_DIR "/%s", digest_hex(key));
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Parses an entry; anything malformed is -EINVAL (the caller treats it as a miss). */
static int entry_parse(const char *text, size_t len, const char *key, struct cache_entry *ret)
{
	json_t *root = json_loadb(text, len, 0, NULL);
	if (!root)
		return -EINVAL;
	struct cache_entry e = {0};
	int r = -EINVAL;
	json_t *layer = json_object_get(root, "layer");
	const char *k = jstr(root, "key");
	if (!k || strcmp(k, key) || json_integer_value(json_object_get(root, "version")) != 1)
		goto out;
	snprintf(e.key, sizeof(e.key), "%s", key);
	if (json_is_object(layer)) {
		const char *mt = jstr(layer, "mediaType"), *dg = jstr(layer, "digest");
		const char *di = jstr(layer, "diffID");
		json_t *sz = json_object_get(layer, "size");
		if (!mt || !dg || !di || !digest_is_valid(dg) || !digest_is_valid(di) ||
		    !json_is_integer(sz) || json_integer_value(sz) < 0)
			goto out;
		e.has_layer = true;
		e.media_type = xstrdup(mt);
		snprintf(e.digest, sizeof(e.digest), "%s", dg);
		snprintf(e.diff_id, sizeof(e.diff_id), "%s", di);
		e.size = json_integer_value(sz);
	} else if (!json_is_null(layer)) {
		goto out;
	}
	json_t *h = json_object_get(root, "history");
	if (!json_is_object(h))
		goto out;
	e.created = jstr(h, "created") ? xstrdup(jstr(h, "created")) : NULL;
	e.created_by = jstr(h, "created_by") ? xstrdup(jstr(h, "created_by")) : NULL;
	e.comment = jstr(h, "comment") ? xstrdup(jstr(h, "comment")) : NULL;
	*ret = e;
	e = (struct cache_entry){0};
	r = 0;
out:
	cache_entry_done(&e);
	json_decref(root);
	return r;
}

static char *entry_to_json(const struct cache_entry *e)
{
	json_t *root = json_object();
	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "key", json_string(e->key));
	if (e->has_layer)
		json_object_set_new(root, "layer",
				    json_pack("{s:s, s:s, s:I, s:s}", "mediaType", e->media_type,
					      "digest", e->digest, "size", (json_int_t)e->size,
					      "diffID", e->diff_id));
	else
		json_object_set_new(root, "layer", json_null());
	json_t *h = json_object();
	if (e->created)
		json_object_set_new(h, "created", json_string(e->created));
	if (e->created_by)
		json_object_set_new(h, "created_by", json_string(e->created_by));
	if (e->comment)
		json_object_set_new(h, "comment", json_string(e->comment));
	json_object_set_new(root, "history", h);
	char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	return s;
}

/*
 * The blob must be there with the size recorded. Its content is not re-hashed on
 * every hit (blobs only enter the store through verified writes); when the layer's
 * unpacked tree must be rebuilt, unpacking checks the content against the diff ID.
 */
static bool entry_blob_ok(struct layer_store *s, const struct cache_entry *e)
{
	if (!e->has_layer)
		return true;
	_cleanup_free_ char *rel = xasprintf("blobs/sha256/%s", digest_hex(e->digest));
	struct stat st;
	return fstatat(layer_store_rootfd(s), rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode) && st.st_size == e->size;
}

int cache_index_get(struct layer_store *s, const char *key, struct cache_entry *ret,
		    struct molt_error **err)
{
	if (!digest_is_valid(key))
		return molt_error_setx(err, EINVAL, "cache key '%s' is not a sha256 digest", key);
	_cleanup_free_ char *rel = entry_rel(key);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	_cleanup_error_ struct molt_error *e2 = NULL;
	int r = read_file_at(layer_store_rootfd(s), rel, ENTRY_MAX, &data, &len, &e2);
	if (r == -ENOENT)
		return -ENOENT;
	struct cache_entry e = {0};
	if (r == 0)
		r = entry_parse(data, len, key, &e);
	if (r == 0 && !entry_blob_ok(s, &e))
		r = -ENOENT;
	if (r < 0) {
		/* Unreadable, damaged or pointing at a missing blob: a miss, and gone. */
		molt_debug("cache: dropping entry %s", key);
		(void)unlinkat(layer_store_rootfd(s), rel, 0);
		cache_entry_done(&e);
		return -ENOENT;
	}
	*ret = e;
	return 0;
}

static int ensure_cache_dir(struct layer_store *s, struct molt_error **err)
{
	int root = layer_store_rootfd(s);
	if ((mkdirat(root, "cache", 0755) < 0 && errno != EEXIST) ||
	    (mkdirat(root, CACHE_DIR, 0755) < 0 && errno != EEXIST))
		return molt_error_set(err, errno, "create '%s/" CACHE_DIR "'", layer_store_root(s));
	return 0;
}

int cache_index_put(struct layer_store *s, const struct cache_entry *e, struct molt_error **err)
{
	if (!digest_is_valid(e->key) || (e->has_layer && (!digest_is_valid(e->digest) ||
							  !digest_is_valid(e->diff_id))))
		return molt_error_setx(err, EINVAL, "cache entry '%s': malformed", e->key);
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	int r = ensure_cache_dir(s, err);
	if (r == 0)
		r = layer_store_tmpfile(s, "cache-entry", &tmp, &fd, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *json = entry_to_json(e);
	if (write_all(fd, json, strlen(json)) < 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		r = molt_error_set(err, errno, "write cache entry '%s'", tmp);
		unlink(tmp);
		return r;
	}
	_cleanup_free_ char *rel = entry_rel(e->key);
	if (renameat(AT_FDCWD, tmp, layer_store_rootfd(s), rel) < 0) {
		r = molt_error_set(err, errno, "store cache entry %s", e->key);
		unlink(tmp);
		return r;
	}
	_cleanup_close_ int dfd =
		openat(layer_store_rootfd(s), CACHE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		(void)fsync(dfd);
	return 0;
}

int cache_index_mark(struct layer_store *s, char ***blobs, char ***diffs, size_t *ret_n,
		     struct molt_error **err)
{
	size_t n = 0;
	_cleanup_close_ int dfd = openat(layer_store_rootfd(s), CACHE_DIR,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		if (errno != ENOENT)
			return molt_error_set(err, errno, "open '%s/" CACHE_DIR "'",
					      layer_store_root(s));
		*ret_n = 0;
		return 0;
	}
	int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	_cleanup_closedir_ DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d) {
		closep(&dup_fd);
		return molt_error_set(err, errno, "read '%s/" CACHE_DIR "'", layer_store_root(s));
	}
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *key = xasprintf(DIGEST_PREFIX "%s", de->d_name);
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		_cleanup_error_ struct molt_error *e2 = NULL;
		struct cache_entry e = {0};
		/* A damaged entry keeps nothing alive: it is a miss when looked up. */
		if (!digest_is_valid(key) ||
		    read_file_at(dfd, de->d_name, ENTRY_MAX, &data, &len, &e2) < 0 ||
		    entry_parse(data, len, key, &e) < 0)
			continue;
		if (e.has_layer) {
			strv_push(blobs, digest_hex(e.digest));
			strv_push(diffs, digest_hex(e.diff_id));
		}
		cache_entry_done(&e);
		n++;
	}
	*ret_n = n;
	return 0;
}

/* The remote cache (cache_artifact.c) carries entries in this same form. */
char *cache_entry_to_json(const struct cache_entry *e)
{
	return entry_to_json(e);
}

int cache_entry_from_json(const char *text, size_t len, struct cache_entry *ret)
{
	json_t *root = json_loadb(text, len, 0, NULL);
	const char *k = jstr(root, "key");
	char key[DIGEST_STR_LEN] = "";
	if (k && digest_is_valid(k))
		snprintf(key, sizeof(key), "%s", k);
	json_decref(root);
	return key[0] ? entry_parse(text, len, key, ret) : -EINVAL;
}
