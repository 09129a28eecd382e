/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/cache_inputs.c: what each build cache entry was built from, for
 * `molt build --explain-cache` (the records' content is runner/executor/cache_explain.c's),
 * and the entries' last use, for `molt prune --keep-storage` / `--filter until=`.
 *
 *   cache/inputs/<hex of key>  one JSON record per entry, opaque here
 *   cache/links/<hex of link>  the keys recorded under a link (a parent state, a step's
 *                              position), most recent first, at most LINK_KEEP
 *
 * These files are hints: a lost or stale one makes an explanation vaguer, never a
 * build wrong, so link lists are rewritten without a lock (temp + rename: a reader
 * sees a whole list; two builds recording at once may drop one key, nothing more).
 * Records never enter a cache key and stay on this machine.
 *
 * Last use is the entry file's mtime: set when the entry is written, touched on every
 * hit. One utimensat(2) per hit costs less than a lookup's own open and read.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "layers_int.h"

#define INPUTS_DIR "cache/inputs"
#define LINKS_DIR "cache/links"
#define INPUTS_MAX (64u << 20)
#define LINK_KEEP 8

static int ensure_dir(struct layer_store *s, const char *rel, struct molt_error **err)
{
	int root = layer_store_rootfd(s);
	if ((mkdirat(root, "cache", 0755) < 0 && errno != EEXIST) ||
	    (mkdirat(root, rel, 0755) < 0 && errno != EEXIST))
		return molt_error_set(err, errno, "create '%s/%s'", layer_store_root(s), rel);
	return 0;
}

/* Writes rel (below the store root) atomically from this process's scratch directory. */
static int put_file(struct layer_store *s, const char *rel, const char *data,
		    struct molt_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	int r = layer_store_tmpfile(s, "cache-inputs", &tmp, &fd, err);
	if (r < 0)
		return r;
	if (write_all(fd, data, strlen(data)) < 0 || fchmod(fd, 0644) < 0 ||
	    renameat(AT_FDCWD, tmp, layer_store_rootfd(s), rel) < 0) {
		r = molt_error_set(err, errno, "write '%s/%s'", layer_store_root(s), rel);
		unlink(tmp);
		return r;
	}
	return 0;
}

char **cache_inputs_linked(struct layer_store *s, const char *link)
{
	char **keys = xcalloc(1, sizeof(char *));
	if (!digest_is_valid(link))
		return keys;
	_cleanup_free_ char *rel = xasprintf(LINKS_DIR "/%s", digest_hex(link));
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	_cleanup_error_ struct molt_error *e = NULL;
	if (read_file_at(layer_store_rootfd(s), rel, 64u << 10, &data, &len, &e) < 0)
		return keys;
	char *save = NULL;
	for (char *k = strtok_r(data, "\n", &save); k; k = strtok_r(NULL, "\n", &save))
		if (digest_is_valid(k) && strv_len(keys) < LINK_KEEP && !strv_contains(keys, k))
			strv_push(&keys, k);
	return keys;
}

static int link_add(struct layer_store *s, const char *link, const char *key,
		    struct molt_error **err)
{
	_cleanup_strv_ char **old = cache_inputs_linked(s, link);
	if (old[0] && !strcmp(old[0], key))
		return 0; /* a hit on the step last built: nothing to move, nothing to write */
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "%s\n", key);
	for (size_t i = 0, n = 1; old[i] && n < LINK_KEEP; i++)
		if (strcmp(old[i], key)) {
			strbuf_addf(&sb, "%s\n", old[i]);
			n++;
		}
	_cleanup_free_ char *rel = xasprintf(LINKS_DIR "/%s", digest_hex(link));
	return put_file(s, rel, strbuf_str(&sb), err);
}

int cache_inputs_put(struct layer_store *s, const char *key, const char *json,
		     char *const *links, struct molt_error **err)
{
	if (!digest_is_valid(key))
		return molt_error_setx(err, EINVAL, "cache key '%s' is not a sha256 digest", key);
	int r = ensure_dir(s, INPUTS_DIR, err);
	if (r == 0)
		r = ensure_dir(s, LINKS_DIR, err);
	_cleanup_free_ char *rel = xasprintf(INPUTS_DIR "/%s", digest_hex(key));
	if (r == 0 && json)
		r = put_file(s, rel, json, err);
	for (size_t i = 0; r == 0 && links && links[i]; i++)
		if (digest_is_valid(links[i]))
			r = link_add(s, links[i], key, err);
	return r;
}

int cache_inputs_get(struct layer_store *s, const char *key, char **ret_json,
		     struct molt_error **err)
{
	if (!digest_is_valid(key))
		return -ENOENT;
	_cleanup_free_ char *rel = xasprintf(INPUTS_DIR "/%s", digest_hex(key));
	size_t len = 0;
	return read_file_at(layer_store_rootfd(s), rel, INPUTS_MAX, ret_json, &len, err);
}

void cache_inputs_drop(struct layer_store *s, const char *key)
{
	if (!digest_is_valid(key))
		return;
	_cleanup_free_ char *rel = xasprintf(INPUTS_DIR "/%s", digest_hex(key));
	(void)unlinkat(layer_store_rootfd(s), rel, 0);
}

void cache_index_touch(struct layer_store *s, const char *key)
{
	if (!digest_is_valid(key))
		return;
	_cleanup_free_ char *rel = xasprintf("cache/sha256/%s", digest_hex(key));
	if (utimensat(layer_store_rootfd(s), rel, NULL, AT_SYMLINK_NOFOLLOW) < 0)
		molt_debug("cache: cannot mark %s used: %s", key, strerror(errno));
}

/* Whether the entry of key (hex) is still there. */
static bool entry_exists(int root, const char *hex)
{
	_cleanup_free_ char *rel = xasprintf("cache/sha256/%s", hex);
	struct stat st;
	return fstatat(root, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

void cache_inputs_sweep(struct layer_store *s)
{
	int root = layer_store_rootfd(s);
	_cleanup_close_ int ifd = openat(root, INPUTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_strv_ char **names = NULL;
	if (ifd >= 0 && dir_list_sorted(ifd, &names) == 0)
		for (size_t i = 0; names[i]; i++)
			if (!entry_exists(root, names[i]))
				(void)unlinkat(ifd, names[i], 0);
	strv_free(names);
	names = NULL;
	_cleanup_close_ int lfd = openat(root, LINKS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lfd < 0 || dir_list_sorted(lfd, &names) < 0)
		return;
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *link = xasprintf(DIGEST_PREFIX "%s", names[i]);
		_cleanup_strv_ char **keys = cache_inputs_linked(s, link);
		bool live = false;
		for (size_t k = 0; keys[k] && !live; k++)
			live = entry_exists(root, digest_hex(keys[k]));
		if (!live)
			(void)unlinkat(lfd, names[i], 0);
	}
}
