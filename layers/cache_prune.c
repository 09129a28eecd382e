/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/cache_prune.c: `molt prune --keep-storage SIZE` and `--filter until=DURATION`
 * (docker builder prune's names; BuildKit's GC policy calls them keepBytes and
 * keepDuration) for long-lived CI machines.
 *
 * Under gc.lock held exclusive (no build is between writing a blob and recording it):
 *   0. untagged images leave the index: every build's result is stored untagged until
 *      named, so a CI machine's index fills with results nobody named (docker image
 *      prune's dangling images); their layers stay while cache entries use them;
 *   1. what the tagged images reach is kept whatever the limits;
 *   2. the cache entries are ordered by last use (the entry file's mtime, touched on
 *      every hit: cache_inputs.c), oldest first;
 *   3. entries are removed in that order while they match (--filter: unused that long;
 *      --keep-storage: the store still takes more than SIZE), each entry's blob and
 *      unpacked layer counting as freed once no image and no kept entry needs them;
 *   4. the entry files go first, then garbage collection removes what nothing
 *      references any more, so an entry never points at a missing blob and a killed
 *      prune leaves at worst unreferenced blobs for the next one.
 * Sizes are disk usage (st_blocks): blobs/sha256 files and the trees under
 * layers/sha256, the store's two big parts.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "layers_int.h"

#define WALK_MAX_DEPTH 12000

struct sized {
	char *hex;
	uint64_t bytes;
	unsigned refs;  /* kept cache entries that use it */
	bool image;     /* an image reaches it: never freed */
};

struct pentry {
	char key[DIGEST_STR_LEN];
	struct timespec used;
	struct sized *blob, *tree; /* NULL: no layer (or its file is gone) */
};

static int cmp_sized(const void *a, const void *b)
{
	return strcmp(((const struct sized *)a)->hex, ((const struct sized *)b)->hex);
}

static int cmp_used(const void *a, const void *b)
{
	const struct pentry *x = a, *y = b;
	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	if (x->used.tv_nsec != y->used.tv_nsec)
		return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
	return strcmp(x->key, y->key);
}

static struct sized *find(struct sized *v, size_t n, const char *hex)
{
	struct sized k = {.hex = (char *)hex};
	return n ? bsearch(&k, v, n, sizeof(*v), cmp_sized) : NULL;
}

static uint64_t usage(const struct stat *st)
{
	return (uint64_t)st->st_blocks * 512u;
}

/* Disk usage of a tree; *dirfd may be parked deep down (lib: dir_park). */
static uint64_t tree_usage(int *dirfd, const char *name, unsigned depth)
{
	struct stat st;
	if (fstatat(*dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	uint64_t total = usage(&st);
	if (!S_ISDIR(st.st_mode) || depth > WALK_MAX_DEPTH)
		return total;
	int sub = openat(*dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return total;
	_cleanup_strv_ char **names = NULL;
	struct dir_park park;
	if (dir_list_sorted(sub, &names) < 0 || dir_park(dirfd, depth, &park) < 0) {
		close(sub);
		return total;
	}
	for (size_t i = 0; names[i]; i++)
		total += tree_usage(&sub, names[i], depth + 1);
	if (dir_unpark(dirfd, sub, &park) < 0)
		*dirfd = -1; /* moved meanwhile: the caller's listing stops counting */
	close(sub);
	return total;
}

/* Every entry of a store directory with its size, sorted by name. */
static void list_sized(struct layer_store *s, const char *dir, bool trees, struct sized **ret,
		       size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	_cleanup_close_ int dfd = openat(layer_store_rootfd(s), dir,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_strv_ char **names = NULL;
	if (dfd < 0 || dir_list_sorted(dfd, &names) < 0)
		return;
	size_t n = strv_len(names);
	struct sized *v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		int fd = dfd;
		v[i].hex = xstrdup(names[i]);
		if (trees)
			v[i].bytes = tree_usage(&fd, names[i], 0);
		else if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			v[i].bytes = usage(&st);
	}
	*ret = v;
	*ret_n = n;
}

static void mark_images(struct sized *v, size_t n, char **hexes)
{
	for (size_t i = 0; hexes && hexes[i]; i++) {
		struct sized *x = find(v, n, hexes[i]);
		if (x)
			x->image = true;
	}
}

struct prune_state {
	struct sized *blobs, *trees;
	size_t n_blobs, n_trees;
	struct pentry *v;
	size_t n;
	uint64_t used;
};

/* The cache entries, each with its last use and the blob and tree it holds. */
static void list_entries(struct layer_store *s, struct prune_state *p)
{
	_cleanup_close_ int dfd = openat(layer_store_rootfd(s), "cache/sha256",
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_strv_ char **names = NULL;
	if (dfd < 0 || dir_list_sorted(dfd, &names) < 0)
		return;
	p->v = xcalloc(strv_len(names) + 1, sizeof(*p->v));
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *key = xasprintf(DIGEST_PREFIX "%s", names[i]);
		struct cache_entry e = {0};
		_cleanup_error_ struct molt_error *e2 = NULL;
		struct stat st;
		/* A damaged entry or one without its blob: cache_index_get removes it. */
		if (!digest_is_valid(key) || cache_index_get(s, key, &e, &e2) < 0 ||
		    fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			cache_entry_done(&e);
			continue;
		}
		struct pentry *pe = &p->v[p->n++];
		snprintf(pe->key, sizeof(pe->key), "%s", key);
		pe->used = st.st_mtim;
		if (e.has_layer) {
			pe->blob = find(p->blobs, p->n_blobs, digest_hex(e.digest));
			pe->tree = find(p->trees, p->n_trees, digest_hex(e.diff_id));
		}
		cache_entry_done(&e);
	}
}

/* What the store takes once garbage collection removed what nothing uses. */
static uint64_t used_bytes(struct prune_state *p, uint64_t *ret_image, uint64_t *ret_all)
{
	uint64_t all = 0;
	for (size_t i = 0; i < p->n_blobs; i++)
		all += p->blobs[i].bytes;
	for (size_t i = 0; i < p->n_trees; i++)
		all += p->trees[i].bytes;
	*ret_all = all;
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].blob)
			p->v[i].blob->refs++;
		if (p->v[i].tree)
			p->v[i].tree->refs++;
	}
	uint64_t total = 0, image = 0;
	for (size_t i = 0; i < p->n_blobs; i++) {
		if (p->blobs[i].image)
			image += p->blobs[i].bytes;
		if (p->blobs[i].image || p->blobs[i].refs)
			total += p->blobs[i].bytes;
	}
	for (size_t i = 0; i < p->n_trees; i++) {
		if (p->trees[i].image)
			image += p->trees[i].bytes;
		if (p->trees[i].image || p->trees[i].refs)
			total += p->trees[i].bytes;
	}
	*ret_image = image;
	return total;
}

static void release(struct prune_state *p, struct sized *x)
{
	if (x && --x->refs == 0 && !x->image)
		p->used -= x->bytes;
}

/* Picks and removes entries (step 3 of the comment at the top). */
static size_t remove_entries(struct layer_store *s, struct prune_state *p,
			     const struct cache_prune_opts *o)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	qsort(p->v, p->n, sizeof(*p->v), cmp_used);
	size_t removed = 0;
	for (size_t i = 0; i < p->n; i++) {
		struct pentry *pe = &p->v[i];
		if (o->unused_for >= 0 && pe->used.tv_sec > now.tv_sec - o->unused_for)
			break; /* ordered by last use: every later one is newer */
		if (o->keep_bytes >= 0 && p->used <= (uint64_t)o->keep_bytes)
			break;
		_cleanup_free_ char *rel = xasprintf("cache/sha256/%s", digest_hex(pe->key));
		if (unlinkat(layer_store_rootfd(s), rel, 0) < 0 && errno != ENOENT) {
			molt_warn("prune: cannot remove cache entry %s: %s", pe->key,
				  strerror(errno));
			continue;
		}
		cache_inputs_drop(s, pe->key);
		release(p, pe->blob);
		release(p, pe->tree);
		removed++;
	}
	return removed;
}

static void prune_state_done(struct prune_state *p)
{
	for (size_t i = 0; i < p->n_blobs; i++)
		free(p->blobs[i].hex);
	for (size_t i = 0; i < p->n_trees; i++)
		free(p->trees[i].hex);
	free(p->blobs);
	free(p->trees);
	free(p->v);
}

/* Step 0: removes the index entries without a name (unless the same image has one). */
static int drop_untagged(struct layer_store *s, size_t *ret_n, struct molt_error **err)
{
	struct image_entry *v = NULL;
	size_t n = 0, dropped = 0;
	int r = layer_store_list(s, &v, &n, err);
	for (size_t i = 0; r == 0 && i < n; i++) {
		bool named = v[i].name != NULL;
		for (size_t k = 0; k < n && !named; k++)
			named = v[k].name && !strcmp(v[k].manifest_digest, v[i].manifest_digest);
		if (named)
			continue;
		r = layer_store_image_remove(s, v[i].manifest_digest, err);
		dropped += r == 0;
	}
	image_entries_free(v, n);
	*ret_n = dropped;
	return r;
}

static int prune_locked(struct layer_store *s, const struct cache_prune_opts *o,
			struct cache_prune_report *ret, struct molt_error **err)
{
	_cleanup_strv_ char **iblobs = xcalloc(1, sizeof(char *));
	_cleanup_strv_ char **idiffs = xcalloc(1, sizeof(char *));
	bool keep_all_unpacked = false;
	size_t untagged = 0;
	int r = drop_untagged(s, &untagged, err);
	if (r == 0)
		r = store_gc_image_set(s, &iblobs, &idiffs, &keep_all_unpacked, err);
	if (r < 0)
		return molt_error_wrap(err, "prune stopped, nothing removed");
	struct prune_state p = {0};
	list_sized(s, "blobs/sha256", false, &p.blobs, &p.n_blobs);
	list_sized(s, "layers/sha256", true, &p.trees, &p.n_trees);
	mark_images(p.blobs, p.n_blobs, iblobs);
	mark_images(p.trees, p.n_trees, idiffs);
	for (size_t i = 0; keep_all_unpacked && i < p.n_trees; i++)
		p.trees[i].image = true;
	list_entries(s, &p);
	struct cache_prune_report rep = {0};
	p.used = used_bytes(&p, &rep.image_bytes, &rep.bytes_before);
	rep.removed = remove_entries(s, &p, o);
	rep.kept = p.n - rep.removed;
	rep.bytes_after = p.used;
	rep.untagged = untagged;
	prune_state_done(&p);
	r = store_gc_collect(s, &rep.files_removed, err);
	if (r < 0)
		return r;
	*ret = rep;
	return 0;
}

int cache_prune(struct layer_store *s, const struct cache_prune_opts *o,
		struct cache_prune_report *ret, struct molt_error **err)
{
	int r = layer_store_gc_lock(s, true, false, err);
	if (r == -EWOULDBLOCK) {
		molt_info("waiting for other molt processes to finish with the store");
		r = layer_store_gc_lock(s, true, true, err);
	}
	if (r < 0)
		return r;
	r = prune_locked(s, o, ret, err);
	/* Back to shared: this process still has the store open. */
	(void)layer_store_gc_lock(s, false, true, NULL);
	return r;
}
