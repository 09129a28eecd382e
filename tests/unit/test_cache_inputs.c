/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The build cache's input records and link lists (layers/cache_inputs.c), their
 * garbage collection, and pruning by last use (layers/cache_prune.c) on entries
 * without layers (the layered cases run end to end: tests/e2e/test_prune_cache.sh).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../layers/layers.h"
#include "tap.h"

static char root[64];

static void key_n(int n, char ret[DIGEST_STR_LEN])
{
	snprintf(ret, DIGEST_STR_LEN, DIGEST_PREFIX "%064x", n);
}

/* An entry without a layer (an empty_layer step), as the executor records one. */
static void put_entry(struct layer_store *s, int n)
{
	struct cache_entry e = {.created_by = (char *)"RUN true"};
	key_n(n, e.key);
	_cleanup_error_ struct molt_error *err = NULL;
	if (cache_index_put(s, &e, &err) < 0)
		tap_diag("put entry %d: %s", n, err->msg);
}

/* An entry whose layer is a 64 KiB blob of its own (no unpacked tree). */
static void put_layer_entry(struct layer_store *s, int n)
{
	static char buf[65536];
	memset(buf, n, sizeof(buf));
	struct cache_entry e = {.has_layer = true,
				.media_type = (char *)"application/vnd.oci.image.layer.v1.tar",
				.size = sizeof(buf), .created_by = (char *)"RUN make"};
	key_n(n, e.key);
	key_n(n + 5000, e.diff_id);
	_cleanup_error_ struct molt_error *err = NULL;
	if (layer_store_blob_put_mem(s, buf, sizeof(buf), NULL, e.digest, &err) < 0 ||
	    cache_index_put(s, &e, &err) < 0)
		tap_diag("put layer entry %d: %s", n, err->msg);
}

static void set_age(int n, int seconds_ago)
{
	char k[DIGEST_STR_LEN];
	key_n(n, k);
	_cleanup_free_ char *p = xasprintf("%s/cache/sha256/%s", root, digest_hex(k));
	struct timespec t[2];
	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= seconds_ago;
	t[1] = t[0];
	if (utimensat(AT_FDCWD, p, t, 0) < 0)
		tap_diag("utimensat %s failed", p);
}

static bool has_entry(int n)
{
	char k[DIGEST_STR_LEN];
	key_n(n, k);
	_cleanup_free_ char *p = xasprintf("%s/cache/sha256/%s", root, digest_hex(k));
	return access(p, F_OK) == 0;
}

static void test_links(struct layer_store *s)
{
	char link[DIGEST_STR_LEN], k[DIGEST_STR_LEN];
	key_n(1000, link);
	char *links[] = {link, NULL};
	_cleanup_error_ struct molt_error *err = NULL;
	for (int i = 1; i <= 10; i++) {
		put_entry(s, i);
		key_n(i, k);
		_cleanup_free_ char *json = xasprintf("{\"n\":%d}", i);
		cache_inputs_put(s, k, json, links, &err);
	}
	_cleanup_strv_ char **keys = cache_inputs_linked(s, link);
	key_n(10, k);
	tap_ok(strv_len(keys) == 8 && !strcmp(keys[0], k), "a link keeps the 8 most recent keys, "
	       "newest first (%zu)", strv_len(keys));
	key_n(5, k);
	cache_inputs_put(s, k, NULL, links, &err);
	_cleanup_strv_ char **again = cache_inputs_linked(s, link);
	tap_ok(!strcmp(again[0], k) && strv_len(again) == 8, "a hit moves its key to the front");
	_cleanup_free_ char *json = NULL;
	tap_ok(cache_inputs_get(s, k, &json, &err) == 0 && json && !strcmp(json, "{\"n\":5}"),
	       "a link-only update keeps the record");
	_cleanup_strv_ char **none = cache_inputs_linked(s, "sha256:nothex");
	tap_ok(none && !none[0], "a malformed link is an empty list");
}

static void test_sweep(struct layer_store *s)
{
	char k[DIGEST_STR_LEN];
	key_n(3, k);
	_cleanup_free_ char *entry = xasprintf("%s/cache/sha256/%s", root, digest_hex(k));
	unlink(entry);
	size_t removed = 0;
	_cleanup_error_ struct molt_error *err = NULL;
	tap_ok(layer_store_gc(s, true, &removed, &err) == 0, "garbage collection runs");
	_cleanup_free_ char *json = NULL;
	tap_ok(cache_inputs_get(s, k, &json, &err) == -ENOENT,
	       "the record of an entry that is gone is collected");
	key_n(4, k);
	free(json);
	json = NULL;
	tap_ok(cache_inputs_get(s, k, &json, &err) == 0, "a live entry's record stays");
}

static void test_prune_age(struct layer_store *s)
{
	for (int i = 20; i < 24; i++)
		put_entry(s, i);
	set_age(20, 3 * 86400);
	set_age(21, 2 * 3600);
	struct cache_prune_opts o = {.keep_bytes = -1, .unused_for = 86400};
	struct cache_prune_report rep = {0};
	_cleanup_error_ struct molt_error *err = NULL;
	tap_ok(cache_prune(s, &o, &rep, &err) == 0, "prune by age runs");
	tap_ok(!has_entry(20) && has_entry(21) && has_entry(22), "only the entry unused for "
	       "3 days goes (%zu removed)", rep.removed);
	o = (struct cache_prune_opts){.keep_bytes = 0, .unused_for = -1};
	tap_ok(cache_prune(s, &o, &rep, &err) == 0 && rep.removed == 0 && has_entry(21),
	       "a store already within --keep-storage loses nothing (BuildKit's keepBytes)");
}

static void test_prune_size(struct layer_store *s)
{
	for (int i = 30; i < 34; i++)
		put_layer_entry(s, i);
	set_age(30, 400);
	set_age(31, 100); /* used recently (a hit) */
	set_age(32, 300);
	set_age(33, 200);
	struct cache_prune_opts o = {.keep_bytes = -1, .unused_for = -1};
	struct cache_prune_report rep = {0};
	_cleanup_error_ struct molt_error *err = NULL;
	/* Sizes as the prune measures them: room for two blobs and a half. */
	o.keep_bytes = 0;
	o.unused_for = 1000000; /* nothing that old: a dry measurement */
	cache_prune(s, &o, &rep, &err);
	uint64_t blob = (rep.bytes_before) / 4;
	o = (struct cache_prune_opts){.keep_bytes = (int64_t)(2 * blob + blob / 2),
				      .unused_for = -1};
	int pr = cache_prune(s, &o, &rep, &err);
	/* Entry 21 (no layer, unused for 2 hours) is older still: it goes first, freeing
	 * nothing. */
	tap_ok(pr == 0 && rep.removed == 3 && !has_entry(21), "--keep-storage removes as many "
	       "entries as it needs, oldest first (%zu)", rep.removed);
	tap_ok(!has_entry(30) && !has_entry(32) && has_entry(31) && has_entry(33),
	       "the least recently used go first");
	tap_ok(rep.bytes_after <= (uint64_t)o.keep_bytes && rep.files_removed == 2,
	       "their blobs went with them (%zu files)", rep.files_removed);
	/* A size and an age: only entries older than the age, even above the size. */
	o = (struct cache_prune_opts){.keep_bytes = 0, .unused_for = 150};
	tap_ok(cache_prune(s, &o, &rep, &err) == 0 && !has_entry(33) && has_entry(31),
	       "with a size and an age, only entries older than the age go");
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/molt-test-inputs-XXXXXX");
	if (!mkdtemp(root))
		return 1;
	struct layer_store *s = NULL;
	struct molt_error *err = NULL;
	if (!tap_ok(layer_store_open(root, &s, &err) == 0, "open a store")) {
		molt_error_print(err);
		return tap_done();
	}
	test_links(s);
	test_sweep(s);
	test_prune_age(s);
	test_prune_size(s);
	layer_store_free(s);
	rm_rf(root, NULL);
	return tap_done();
}
