/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/store_gc.c: garbage collection of the store (layer_store_gc) and removing a
 * whole store (layer_store_destroy). Safe only because of the locks of store_lock.c:
 * every process holds gc.lock shared while it has the store open; the collector needs
 * it exclusive, so nobody can be between writing a blob and referencing it.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "layers_int.h"

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Hex names of every blob and diff ID the index reaches, sorted for bsearch. */
/*
 * Marks what one index entry reaches. Never deletes on doubt: an unreadable
 * manifest stops the collection (its layers are unknown); an unreadable config only
 * keeps every unpacked layer (its diff IDs are unknown).
 */
static int mark_image(struct layer_store *s, const char *manifest_digest, char ***blobs,
		      char ***diffs, bool *keep_all_unpacked, struct molt_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	struct image_manifest m;
	int r = layer_store_blob_read(s, manifest_digest, 16u << 20, &data, &len, err);
	if (r == 0)
		r = image_manifest_parse(data, len, &m, err);
	if (r < 0)
		return molt_error_wrap(err, "image %s", manifest_digest);
	strv_push(blobs, digest_hex(manifest_digest));
	strv_push(blobs, digest_hex(m.config.digest));
	for (size_t l = 0; l < m.n_layers; l++)
		strv_push(blobs, digest_hex(m.layers[l].digest));
	free(data);
	data = NULL;
	struct image_config c;
	_cleanup_error_ struct molt_error *e = NULL;
	if (layer_store_blob_read(s, m.config.digest, 16u << 20, &data, &len, &e) == 0 &&
	    image_config_parse(data, len, &c, &e) == 0) {
		for (size_t d = 0; c.diff_ids[d]; d++)
			strv_push(diffs, digest_hex(c.diff_ids[d]));
		image_config_done(&c);
	} else {
		molt_warn("image %s: %s; keeping all unpacked layers", manifest_digest, e->msg);
		*keep_all_unpacked = true;
	}
	image_manifest_done(&m);
	return 0;
}

int store_gc_image_set(struct layer_store *s, char ***blobs, char ***diffs,
		       bool *keep_all_unpacked, struct molt_error **err)
{
	struct image_entry *v = NULL;
	size_t n = 0;
	int r = layer_store_list(s, &v, &n, err);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = mark_image(s, v[i].manifest_digest, blobs, diffs, keep_all_unpacked, err);
	image_entries_free(v, n);
	return r;
}

/* Hex names of every blob and diff ID the index reaches, sorted for bsearch. */
static int reachable_set(struct layer_store *s, char ***ret_blobs, char ***ret_diffs,
			 bool *keep_all_unpacked, struct molt_error **err)
{
	_cleanup_strv_ char **blobs = xcalloc(1, sizeof(char *));
	_cleanup_strv_ char **diffs = xcalloc(1, sizeof(char *));
	int r = store_gc_image_set(s, &blobs, &diffs, keep_all_unpacked, err);
	/* The build cache's layers live as long as its entries (layers/cache_index.c). */
	size_t n_cached = 0;
	if (r == 0)
		r = cache_index_mark(s, &blobs, &diffs, &n_cached, err);
	if (r < 0)
		return molt_error_wrap(err, "garbage collection stopped, nothing removed");
	qsort(diffs, strv_len(diffs), sizeof(char *), cmp_strp);
	/* Exported forms of live layers (layers/convert.c) stay with them. */
	r = convert_index_mark(s, diffs, *keep_all_unpacked, &blobs, err);
	if (r < 0)
		return molt_error_wrap(err, "garbage collection stopped");
	qsort(blobs, strv_len(blobs), sizeof(char *), cmp_strp);
	*ret_blobs = TAKE_PTR(blobs);
	*ret_diffs = TAKE_PTR(diffs);
	return 0;
}

/* Removes the entries of dir (below the root) whose names are not in keep. */
static int sweep(struct layer_store *s, const char *dir, char **keep, size_t *removed,
		 struct molt_error **err)
{
	_cleanup_close_ int dfd = openat(layer_store_rootfd(s), dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : molt_error_set(err, errno, "open '%s/%s'", layer_store_root(s), dir);
	int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		return molt_error_set(err, errno, "dup");
	_cleanup_closedir_ DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return molt_error_set(err, errno, "open '%s/%s'", layer_store_root(s), dir);
	}
	size_t nkeep = strv_len(keep);
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (nkeep && bsearch(&name, keep, nkeep, sizeof(char *), cmp_strp))
			continue;
		int r = rm_rf_at(dfd, name, err);
		if (r < 0)
			return molt_error_wrap(err, "remove unused '%s/%s'", dir, name);
		(*removed)++;
	}
	return 0;
}

/*
 * index.json is written as index.json.tmp-XXXXXX and renamed; a process killed in
 * between leaves the temporary file. Only here, with every other process gone, is
 * it certain that nobody is still writing one.
 */
static void sweep_index_temps(struct layer_store *s)
{
	int dup_fd = fcntl(layer_store_rootfd(s), F_DUPFD_CLOEXEC, 3);
	_cleanup_closedir_ DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d) {
		closep(&dup_fd);
		return;
	}
	for (struct dirent *de; (de = readdir(d));)
		if (str_startswith(de->d_name, "index.json.tmp-"))
			(void)unlinkat(layer_store_rootfd(s), de->d_name, 0);
}

int layer_store_gc(struct layer_store *s, bool wait, size_t *ret_removed,
		   struct molt_error **err)
{
	size_t removed = 0;
	int r = layer_store_gc_lock(s, true, false, err);
	if (r == -EWOULDBLOCK && wait) {
		molt_info("waiting for other molt processes to finish with the store");
		r = layer_store_gc_lock(s, true, true, err);
	}
	if (r == -EWOULDBLOCK) {
		molt_debug("store: in use by another process, blobs are left for 'molt prune'");
		*ret_removed = 0;
		return 0;
	}
	if (r < 0)
		return r;
	r = store_gc_collect(s, &removed, err);
	/* Back to shared: this process still has the store open. */
	(void)layer_store_gc_lock(s, false, true, NULL);
	if (r < 0)
		return r;
	*ret_removed = removed;
	return 0;
}

int store_gc_collect(struct layer_store *s, size_t *ret_removed, struct molt_error **err)
{
	size_t removed = 0;
	_cleanup_strv_ char **blobs = NULL;
	_cleanup_strv_ char **diffs = NULL;
	bool keep_all_unpacked = false;
	int r = reachable_set(s, &blobs, &diffs, &keep_all_unpacked, err);
	if (r == 0)
		r = sweep(s, "blobs/sha256", blobs, &removed, err);
	if (r == 0 && !keep_all_unpacked)
		r = sweep(s, "layers/sha256", diffs, &removed, err);
	if (r == 0)
		store_fresh_forget(s);
	if (r == 0)
		sweep_index_temps(s);
	if (r == 0)
		cache_inputs_sweep(s);
	/*
	 * The registry client's records (registry_pull.c, registry_blob.c): where a blob
	 * came from is kept only while the blob is; a partial download belongs to a pull
	 * that was killed, since every other process is gone now.
	 */
	size_t reg_removed = 0;
	if (r == 0)
		r = sweep(s, "registry/sources", blobs, &reg_removed, err);
	if (r == 0)
		r = sweep(s, "registry/partial", NULL, &reg_removed, err);
	if (r < 0)
		return r;
	*ret_removed = removed;
	return 0;
}

/* Empties a store: waits for every other process that has it open (gc.lock). */
int layer_store_destroy(const char *root, struct molt_error **err)
{
	_cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return errno == ENOENT ? 0 : molt_error_set(err, errno, "open store '%s'", root);
	_cleanup_close_ int gc_fd = -1;
	int r = store_lock_file(rootfd, "gc.lock", true, false, &gc_fd, err);
	if (r == -EWOULDBLOCK) {
		molt_info("waiting for other molt processes to finish with the store");
		r = store_lock_file(rootfd, "gc.lock", true, true, &gc_fd, err);
	}
	if (r < 0)
		return r;
	/* The layout files go last, so a half-emptied store is still a store. */
	static const char *const order[] = {"tmp", "layers", "blobs", "index.json", "oci-layout",
					    "lock", NULL};
	int dup_fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	_cleanup_closedir_ DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		bool later = !strcmp(de->d_name, "gc.lock");
		for (size_t i = 0; order[i]; i++)
			later |= !strcmp(de->d_name, order[i]);
		if (later || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((r = rm_rf_at(rootfd, de->d_name, err)) < 0)
			return r;
	}
	for (size_t i = 0; order[i]; i++)
		if ((r = rm_rf_at(rootfd, order[i], err)) < 0)
			return r;
	unlinkat(rootfd, "gc.lock", 0);
	if (rmdir(root) < 0 && errno != ENOENT)
		molt_debug("store: keeping '%s': %s", root, strerror(errno));
	return 0;
}
