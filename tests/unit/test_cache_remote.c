/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared build cache's pure parts: the records and the cache index
 * (layers/cache_artifact.c), the inline annotation, the --cache-to/--cache-from
 * option (runner/executor/cache_remote.c) and the proxy args kept out of RUN keys.
 */
#include <string.h>

#include "../../runner/executor/cache.h"
#include "tap.h"

static const char *const K1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
static const char *const K2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
static const char *const D1 = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char *const I1 = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static struct cache_records two(void)
{
	struct cache_records r = {0};
	struct cache_entry a = {.has_layer = true, .media_type = MEDIA_OCI_LAYER_GZIP,
				.size = 42, .created = "2026-12-03T10:00:00Z",
				.created_by = "RUN make # buildkit"};
	snprintf(a.key, sizeof(a.key), "%s", K2);
	snprintf(a.digest, sizeof(a.digest), "%s", D1);
	snprintf(a.diff_id, sizeof(a.diff_id), "%s", I1);
	struct cache_entry b = {.created_by = "WORKDIR /src"};
	snprintf(b.key, sizeof(b.key), "%s", K1);
	cache_records_add(&r, &a);
	cache_records_add(&r, &b);
	cache_records_add(&r, &a); /* a key twice is kept once */
	cache_records_sort(&r);
	return r;
}

static void test_records(void)
{
	struct cache_records r = two();
	tap_ok(r.n == 2, "a key added twice is one record");
	tap_str_eq(r.e[0].key, K1, "records are sorted by key");
	const struct cache_entry *f = cache_records_find(&r, K2);
	tap_ok(f && f->has_layer && f->size == 42 && !strcmp(f->digest, D1), "find by key");
	tap_ok(!cache_records_find(&r, D1), "an unknown key is not found");
	_cleanup_free_ char *json = cache_records_to_json(&r);
	struct cache_records back = {0};
	tap_ok(cache_records_parse(json, strlen(json), &back, NULL) == 0 && back.n == 2,
	       "records survive JSON");
	f = cache_records_find(&back, K2);
	tap_ok(f && !strcmp(f->diff_id, I1) && !strcmp(f->created, "2026-12-03T10:00:00Z") &&
		       !strcmp(f->created_by, "RUN make # buildkit"),
	       "layer, diff ID and history come back");
	cache_records_done(&back);

	static const char *const bad[] = {
		"not json",
		"{\"version\":2,\"records\":[]}",
		"{\"version\":1}",
		"{\"version\":1,\"records\":[{\"version\":1,\"key\":\"sha256:xyz\",\"layer\":null,"
		"\"history\":{}}]}",
		"{\"version\":1,\"records\":[{\"version\":1,\"key\":\"sha256:1111111111111111111111"
		"111111111111111111111111111111111111111111\",\"layer\":{\"mediaType\":\"x\","
		"\"digest\":\"sha256:00\",\"size\":1,\"diffID\":\"sha256:00\"},\"history\":{}}]}",
		"{\"version\":1,\"records\":[{\"version\":1,\"key\":\"sha256:1111111111111111111111"
		"111111111111111111111111111111111111111111\",\"layer\":null}]}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct cache_records x = {0};
		_cleanup_error_ struct molt_error *e = NULL;
		int rc = cache_records_parse(bad[i], strlen(bad[i]), &x, &e);
		tap_ok(rc < 0 && e && x.n == 0, "malformed records %zu are refused whole (%s)", i,
		       e ? e->msg : "no error");
		cache_records_done(&x);
	}
	cache_records_done(&r);
}

static void test_index(void)
{
	struct cache_records r = two();
	struct image_descriptor cfg = {.media_type = MEDIA_MOLT_CACHE_CONFIG, .size = 99};
	snprintf(cfg.digest, sizeof(cfg.digest), "%s", K1);
	_cleanup_free_ char *idx = cache_artifact_index(&r, &cfg, "max");
	tap_ok(strstr(idx, MEDIA_OCI_INDEX) && strstr(idx, "\"" MOLT_CACHE_ANNOT_MODE "\":\"max\"") &&
		       strstr(idx, MOLT_CACHE_ANNOT_DIFFID),
	       "the index is an annotated OCI index");
	tap_ok(strstr(idx, D1) && !strstr(idx, "\"created_by\""),
	       "it lists the layer blob, not the records");
	struct image_descriptor got = {0};
	tap_ok(cache_artifact_config(idx, strlen(idx), &got, NULL) == 0 &&
		       !strcmp(got.digest, K1) && got.size == 99,
	       "the records' config descriptor is found in the index");
	image_descriptor_done(&got);
	const char *image = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MEDIA_OCI_MANIFEST
			    "\",\"digest\":\"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			    "aaaaaaaaaaaa\",\"size\":5}]}";
	tap_ok(cache_artifact_config(image, strlen(image), &got, NULL) == -ENOENT,
	       "an image index is not a cache (-ENOENT)");
	const char *lying = "{\"manifests\":[{\"mediaType\":\"" MEDIA_MOLT_CACHE_CONFIG
			    "\",\"digest\":\"sha256:zz\",\"size\":5}]}";
	tap_ok(cache_artifact_config(lying, strlen(lying), &got, NULL) == -EINVAL,
	       "a cache index with a bad config digest is refused");
	cache_records_done(&r);
}

static void test_inline(void)
{
	struct cache_records r = two();
	const char *m = "{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_OCI_MANIFEST "\",\"layers\":[]}";
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	tap_ok(cache_inline_manifest(m, strlen(m), &r, &out, &len, NULL) == 0 &&
		       str_startswith(out, "{\"schemaVersion\":2,\"mediaType\""),
	       "the inline annotation keeps the manifest's fields and order");
	struct cache_records back = {0};
	tap_ok(cache_inline_records(out, len, &back, NULL) == 0 && back.n == 2,
	       "the inline records read back");
	cache_records_done(&back);
	tap_ok(cache_inline_records(m, strlen(m), &back, NULL) == -ENOENT,
	       "an image without inline records is -ENOENT");
	cache_records_done(&r);
}

static void test_spec(void)
{
	struct build_cache_spec c = {0};
	tap_ok(build_cache_spec_parse("type=registry,ref=r.test/a/b:c,mode=max,compression=zstd",
				      true, &c, NULL) == 0 &&
		       c.type == BUILD_CACHE_REGISTRY && c.mode_max &&
		       !strcmp(c.where, "r.test/a/b:c") && !strcmp(c.compression, "zstd"),
	       "--cache-to type=registry with mode and compression");
	build_cache_spec_done(&c);
	tap_ok(build_cache_spec_parse("type=local,dest=/x", true, &c, NULL) == 0 &&
		       c.type == BUILD_CACHE_LOCAL && !c.mode_max && !strcmp(c.where, "/x"),
	       "--cache-to type=local,dest= (mode=min by default)");
	build_cache_spec_done(&c);
	tap_ok(build_cache_spec_parse("type=local,src=/x", false, &c, NULL) == 0 &&
		       !strcmp(c.where, "/x"),
	       "--cache-from type=local,src=");
	build_cache_spec_done(&c);
	tap_ok(build_cache_spec_parse("r.test/img:1", false, &c, NULL) == 0 &&
		       c.type == BUILD_CACHE_REGISTRY && !strcmp(c.where, "r.test/img:1"),
	       "--cache-from REF alone is a registry");
	build_cache_spec_done(&c);
	tap_ok(build_cache_spec_parse("type=inline", true, &c, NULL) == 0 &&
		       c.type == BUILD_CACHE_INLINE,
	       "--cache-to type=inline");
	build_cache_spec_done(&c);
	static const struct {
		const char *spec;
		bool export;
	} bad[] = {
		{"", true},
		{"type=s3,ref=x", true},
		{"type=inline", false},
		{"type=inline,mode=max", true},
		{"type=registry", true},
		{"type=registry,ref=UPPER/Case", true},
		{"type=registry,ref=r.test/x,mode=all", true},
		{"type=registry,ref=r.test/x,compression=lz4", true},
		{"type=registry,ref=r.test/x,mode=max", false},
		{"type=local", false},
		{"type=local,dest=/x", false},
		{"ref=r.test/x", true},
		{"type=registry,ref=r.test/x,colour=blue", true},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_error_ struct molt_error *e = NULL;
		int rc = build_cache_spec_parse(bad[i].spec, bad[i].export, &c, &e);
		tap_ok(rc < 0 && e && e->exit_code == MOLT_EXIT_USAGE, "'%s' (%s) is a usage error: %s",
		       bad[i].spec, bad[i].export ? "to" : "from", e ? e->msg : "none");
	}
}

static void test_key_args(void)
{
	char *args[] = {"HTTP_PROXY=http://u:secret@p:3128", "VERSION=1", "no_proxy=.local",
			"https_proxy=x", NULL};
	_cleanup_strv_ char **k = cache_key_args(args);
	tap_ok(strv_len(k) == 1 && !strcmp(k[0], "VERSION=1"),
	       "proxy args are left out of a RUN's key, other args stay");
	char key1[DIGEST_STR_LEN], key2[DIGEST_STR_LEN];
	char *a1[] = {"HTTP_PROXY=http://alice:pw@a:1", "V=1", NULL};
	char *a2[] = {"HTTP_PROXY=http://bob:pw@b:2", "V=1", NULL};
	char *a3[] = {"HTTP_PROXY=http://bob:pw@b:2", "V=2", NULL};
	char *cmd[] = {"true", NULL};
	struct build_instr in = {.kind = DF_RUN, .original = "RUN true", .command = cmd};
	struct cache_step_input x = {.state = K1, .in = &in};
	in.args = a1;
	cache_step_key(&x, key1);
	in.args = a2;
	cache_step_key(&x, key2);
	tap_str_eq(key2, key1, "two runners behind other proxies compute the same key");
	in.args = a3;
	cache_step_key(&x, key2);
	tap_ok(strcmp(key1, key2) != 0, "another build arg value is another key");
}

int main(void)
{
	test_records();
	test_index();
	test_inline();
	test_spec();
	test_key_args();
	return tap_done();
}
