/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The build cache: key computation (runner/executor/cache.c) and the index in the store
 * (layers/cache_index.c), including garbage collection keeping cached layers.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../runner/executor/cache.h"
#include "../../runner/frontend/dockerignore.h"
#include "put_test.h"
#include "tap.h"

static char base[64];

static void put(const char *rel, const char *content, mode_t mode)
{
	_cleanup_free_ char *p = xasprintf("%s/ctx/%s", base, rel);
	put_file(p, content, mode, 0755);
}

static int ctx_fd(void)
{
	_cleanup_free_ char *p = xasprintf("%s/ctx", base);
	return open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* The digest of sources in the context, with an optional .dockerignore text. */
static char *sources(char *const *srcs, const char *ignore, char *const *exclude, bool owner)
{
	struct dockerignore *ig = NULL, *ex = NULL;
	if (ignore)
		dockerignore_parse(ignore, &ig, NULL);
	if (exclude)
		dockerignore_new(exclude, &ex, NULL);
	int fd = ctx_fd();
	char d[DIGEST_STR_LEN] = "";
	struct molt_error *err = NULL;
	int r = cache_sources_digest(fd, srcs, owner, ig ? context_ignored : NULL, ig,
				     ex ? context_ignored : NULL, ex, d, &err);
	if (r < 0)
		tap_diag("sources: %s", err ? err->msg : "?");
	molt_error_free(err);
	close(fd);
	dockerignore_free(ig);
	dockerignore_free(ex);
	return xstrdup(d);
}

static void test_hash_fields(void)
{
	char a[DIGEST_STR_LEN], b[DIGEST_STR_LEN], c[DIGEST_STR_LEN];
	struct cache_hash *h = cache_hash_new("t");
	cache_hash_str(h, "x", "ab");
	cache_hash_str(h, "y", "c");
	cache_hash_final(h, a);
	h = cache_hash_new("t");
	cache_hash_str(h, "x", "a");
	cache_hash_str(h, "y", "bc");
	cache_hash_final(h, b);
	tap_ok(strcmp(a, b) != 0, "fields are length-prefixed: (\"ab\",\"c\") != (\"a\",\"bc\")");
	h = cache_hash_new("t");
	cache_hash_str(h, "x", NULL);
	cache_hash_final(h, a);
	h = cache_hash_new("t");
	cache_hash_str(h, "x", "");
	cache_hash_final(h, b);
	tap_ok(strcmp(a, b) != 0, "an absent value is not the empty string (unset USER vs USER \"\")");
	h = cache_hash_new("t");
	cache_hash_strv(h, "v", (char *[]){"a b", NULL});
	cache_hash_final(h, a);
	h = cache_hash_new("t");
	cache_hash_strv(h, "v", (char *[]){"a", "b", NULL});
	cache_hash_final(h, b);
	h = cache_hash_new("t");
	cache_hash_strv(h, "v", (char *[]){"a", "b", NULL});
	cache_hash_final(h, c);
	tap_ok(strcmp(a, b) != 0 && strcmp(b, c) == 0 && digest_is_valid(a),
	       "vectors keep their element boundaries and hash deterministically");
}

static struct build_instr run_instr(const char *cmd)
{
	static char *command[2];
	command[0] = (char *)cmd;
	return (struct build_instr){.kind = DF_RUN, .original = (char *)cmd, .command = command};
}

static void key_of(const struct cache_step_input *x, char ret[DIGEST_STR_LEN])
{
	cache_step_key(x, ret);
}

static void test_step_keys(void)
{
	char state[DIGEST_STR_LEN], k0[DIGEST_STR_LEN], k[DIGEST_STR_LEN];
	cache_state_base("image", "sha256:" "0000000000000000000000000000000000000000000000000000000000000001", state);
	struct build_instr in = run_instr("make");
	char *env1[] = {"PATH=/bin", "A=1", NULL}, *env2[] = {"PATH=/bin", "A=2", NULL};
	char *args1[] = {"V=1", NULL}, *args2[] = {"V=2", NULL};
	struct cache_step_input x = {.state = state, .in = &in, .env = env1, .network = "host"};
	key_of(&x, k0);
	key_of(&x, k);
	tap_ok(!strcmp(k0, k), "the same step on the same state has the same key");

	struct cache_step_input y = x;
	y.env = env2;
	key_of(&y, k);
	tap_ok(strcmp(k0, k) != 0, "RUN: a changed ENV value changes the key");
	in.args = args1;
	key_of(&x, k0);
	in.args = args2;
	key_of(&x, k);
	tap_ok(strcmp(k0, k) != 0, "RUN: a changed build arg in scope changes the key (BuildKit)");
	in.args = args1;
	/* Each field of the step's input, changed alone, changes the key. */
	const struct {
		struct cache_step_input d;
		const char *name;
	} changes[] = {
		{{.user = "nobody"}, "RUN: USER is part of the key"},
		{{.workdir = "/src"}, "RUN: WORKDIR is part of the key"},
		{{.shell = (char *[]){"/bin/bash", "-c", NULL}}, "RUN: SHELL is part of the key"},
		{{.network = "none"}, "RUN: the network mode is part of the key"},
		{{.source_date_epoch = "1700000000"},
		 "SOURCE_DATE_EPOCH is part of the key (it changes the tar)"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(changes); i++) {
		const struct cache_step_input *d = &changes[i].d;
		y = x;
		y.user = d->user ? d->user : y.user;
		y.workdir = d->workdir ? d->workdir : y.workdir;
		y.shell = d->shell ? d->shell : y.shell;
		y.network = d->network ? d->network : y.network;
		y.source_date_epoch = d->source_date_epoch ? d->source_date_epoch : y.source_date_epoch;
		key_of(&y, k);
		tap_ok(strcmp(k0, k) != 0, "%s", changes[i].name);
	}

	struct build_mount m = {.type = MOUNT_CACHE, .target = "/root/.cache", .from_stage = -1,
				.mode = -1, .uid = -1, .gid = -1, .size = -1};
	in.mounts = &m;
	in.n_mounts = 1;
	key_of(&x, k);
	tap_ok(strcmp(k0, k) != 0, "RUN: a --mount spec is part of the key");
	char k1[DIGEST_STR_LEN];
	m.target = "/other";
	key_of(&x, k1);
	tap_ok(strcmp(k, k1) != 0, "RUN: a different --mount target is another key");
	in.mounts = NULL;
	in.n_mounts = 0;

	char other[DIGEST_STR_LEN];
	cache_state_next(k0, "sha256:" "00000000000000000000000000000000000000000000000000000000000000aa", other);
	y = x;
	y.state = other;
	key_of(&y, k);
	tap_ok(strcmp(k0, k) != 0, "a different previous state (chain) changes the key");
	char s1[DIGEST_STR_LEN], s2[DIGEST_STR_LEN], s3[DIGEST_STR_LEN];
	cache_state_next(k0, "sha256:" "00000000000000000000000000000000000000000000000000000000000000aa", s1);
	cache_state_next(k0, "sha256:" "00000000000000000000000000000000000000000000000000000000000000bb", s2);
	cache_state_next(k0, NULL, s3);
	tap_ok(strcmp(s1, s2) && strcmp(s1, s3) && strcmp(s2, s3),
	       "the state after a step depends on the layer it produced (a re-run that differs invalidates what follows)");

	/* COPY does not see build args: an unrelated --build-arg keeps it cached. */
	char *srcs[] = {"a.txt", NULL};
	struct build_instr cp = {.kind = DF_COPY, .original = "COPY a.txt /", .sources = srcs,
				 .dest = "/", .from_stage = -1, .args = args1};
	struct cache_step_input z = {.state = state, .in = &cp, .sources = "sha256:x"};
	key_of(&z, k0);
	cp.args = args2;
	key_of(&z, k);
	tap_ok(!strcmp(k0, k), "COPY: build args in scope are not part of its key");
	z.sources = "sha256:y";
	key_of(&z, k);
	tap_ok(strcmp(k0, k) != 0, "COPY: the digest of its sources is part of the key");
	cp.chown = "1:1";
	z.sources = "sha256:x";
	key_of(&z, k);
	tap_ok(strcmp(k0, k) != 0, "COPY: --chown is part of the key");
	cache_state_base("scratch", "linux/amd64", s1);
	cache_state_base("scratch", "linux/arm64", s2);
	tap_ok(strcmp(s1, s2) != 0, "FROM scratch: the platform is part of the base state");
}

static void test_sources(void)
{
	put("a.txt", "A\n", 0644);
	put("dir/x.c", "x\n", 0644);
	put("dir/y.h", "y\n", 0644);
	put("dir/sub/z", "z\n", 0644);
	put("logs/debug.log", "1\n", 0644);
	char *a[] = {"a.txt", NULL}, *dir[] = {"dir", NULL}, *all[] = {".", NULL},
	     *wild[] = {"dir/*.c", NULL};
	_cleanup_free_ char *d0 = sources(a, NULL, NULL, false);
	_cleanup_free_ char *d1 = sources(a, NULL, NULL, false);
	tap_ok(digest_is_valid(d0) && !strcmp(d0, d1), "a source digest is deterministic");

	_cleanup_free_ char *p = xasprintf("%s/ctx/a.txt", base);
	struct timespec old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
	utimensat(AT_FDCWD, p, old, 0);
	_cleanup_free_ char *d2 = sources(a, NULL, NULL, false);
	tap_ok(!strcmp(d0, d2), "a new mtime alone does not change the digest (BuildKit content checksum)");
	chmod(p, 0600);
	_cleanup_free_ char *d3 = sources(a, NULL, NULL, false);
	tap_ok(strcmp(d0, d3) != 0, "a changed mode changes the digest");
	chmod(p, 0644);
	put("a.txt", "B\n", 0644);
	_cleanup_free_ char *d4 = sources(a, NULL, NULL, false);
	tap_ok(strcmp(d0, d4) != 0, "changed content changes the digest");

	_cleanup_free_ char *w0 = sources(wild, NULL, NULL, false);
	put("dir/y.h", "y2\n", 0644);
	_cleanup_free_ char *w1 = sources(wild, NULL, NULL, false);
	tap_ok(!strcmp(w0, w1), "a wildcard source: a file it does not match is not part of it");
	put("dir/x.c", "x2\n", 0644);
	_cleanup_free_ char *w2 = sources(wild, NULL, NULL, false);
	tap_ok(strcmp(w0, w2) != 0, "a wildcard source: a file it matches is part of it");

	_cleanup_free_ char *i0 = sources(all, "logs\n*.tmp\n", NULL, false);
	put("logs/debug.log", "2\n", 0644);
	put("junk.tmp", "t\n", 0644);
	_cleanup_free_ char *i1 = sources(all, "logs\n*.tmp\n", NULL, false);
	tap_ok(!strcmp(i0, i1), ".dockerignore: editing or adding ignored files keeps the digest");
	_cleanup_free_ char *i2 = sources(all, NULL, NULL, false);
	tap_ok(strcmp(i0, i2) != 0, "without the .dockerignore the same files are part of it");

	_cleanup_free_ char *e0 = sources(dir, NULL, (char *[]){"sub", NULL}, false);
	put("dir/sub/z", "z2\n", 0644);
	_cleanup_free_ char *e1 = sources(dir, NULL, (char *[]){"sub", NULL}, false);
	tap_ok(!strcmp(e0, e1), "COPY --exclude: an excluded path is not part of the digest");

	_cleanup_free_ char *l = xasprintf("%s/ctx/dir/link", base);
	(void)!symlink("x.c", l);
	_cleanup_free_ char *s0 = sources(dir, NULL, NULL, false);
	unlink(l);
	(void)!symlink("y.h", l);
	_cleanup_free_ char *s1 = sources(dir, NULL, NULL, false);
	tap_ok(strcmp(s0, s1) != 0, "a symlink's target is part of the digest");

	char *missing[] = {"nothere", NULL};
	_cleanup_free_ char *m0 = sources(missing, NULL, NULL, false);
	tap_ok(digest_is_valid(m0), "a missing source hashes as missing (the copy reports it)");
	_cleanup_free_ char *o0 = sources(a, NULL, NULL, true);
	tap_ok(strcmp(o0, d4) != 0, "COPY --from keeps owners: uid/gid are part of its digest");
}

static void test_index(void)
{
	_cleanup_free_ char *root = xasprintf("%s/store", base);
	struct layer_store *s = NULL;
	struct molt_error *err = NULL;
	if (!tap_ok(layer_store_open(root, &s, &err) == 0, "open a store")) {
		molt_error_free(err);
		return;
	}
	char blob[DIGEST_STR_LEN];
	layer_store_blob_put_mem(s, "layer-bytes", 11, NULL, blob, &err);
	struct cache_entry e = {.has_layer = true, .media_type = MEDIA_OCI_LAYER_GZIP, .size = 11,
				.created = "2024-01-02T03:04:05Z", .created_by = "RUN make # buildkit",
				.comment = "buildkit.dockerfile.v0"};
	cache_state_base("t", "1", e.key);
	memcpy(e.digest, blob, DIGEST_STR_LEN);
	digest_buffer("tar", 3, e.diff_id);
	tap_ok(cache_index_put(s, &e, &err) == 0, "record an entry");
	struct cache_entry got = {0};
	int r = cache_index_get(s, e.key, &got, &err);
	tap_ok(r == 0 && got.has_layer && !strcmp(got.digest, blob) && got.size == 11 &&
		       !strcmp(got.diff_id, e.diff_id) && !strcmp(got.created, e.created) &&
		       !strcmp(got.created_by, e.created_by),
	       "a recorded entry is found with its layer and history");
	cache_entry_done(&got);

	struct cache_entry empty = {.created_by = "RUN true # buildkit"};
	cache_state_base("t", "2", empty.key);
	cache_index_put(s, &empty, &err);
	r = cache_index_get(s, empty.key, &got, &err);
	tap_ok(r == 0 && !got.has_layer, "an entry for a step that made no layer is found");
	cache_entry_done(&got);
	char nokey[DIGEST_STR_LEN];
	cache_state_base("t", "3", nokey);
	tap_ok(cache_index_get(s, nokey, &got, &err) == -ENOENT, "an unknown key is a miss");

	/* Garbage collection keeps what the cache references. */
	char other[DIGEST_STR_LEN];
	layer_store_blob_put_mem(s, "garbage", 7, NULL, other, &err);
	size_t removed = 0;
	r = layer_store_gc(s, true, &removed, &err);
	tap_ok(r == 0 && layer_store_blob_exists(s, blob) && !layer_store_blob_exists(s, other),
	       "gc keeps a blob a cache entry references and removes an unreferenced one");

	/* A damaged entry is a miss and is removed. */
	_cleanup_free_ char *path = xasprintf("%s/cache/sha256/%s", root, digest_hex(empty.key));
	write_file_atomic(path, "{not json", 9, 0644, NULL);
	tap_ok(cache_index_get(s, empty.key, &got, &err) == -ENOENT && access(path, F_OK) < 0,
	       "a damaged entry is a miss and is dropped");

	/* A missing blob makes the entry a miss, and it is dropped. */
	_cleanup_free_ char *bp = xasprintf("%s/blobs/sha256/%s", root, digest_hex(blob));
	unlink(bp);
	_cleanup_free_ char *ep = xasprintf("%s/cache/sha256/%s", root, digest_hex(e.key));
	tap_ok(cache_index_get(s, e.key, &got, &err) == -ENOENT && access(ep, F_OK) < 0,
	       "an entry whose blob is missing is a miss and is dropped");
	struct cache_entry bad = {.has_layer = true, .media_type = "x"};
	memcpy(bad.key, e.key, DIGEST_STR_LEN);
	tap_ok(cache_index_put(s, &bad, &err) == -EINVAL, "an entry without valid digests is refused");
	molt_error_free(err);
	layer_store_free(s);
}

static void test_result_state(void)
{
	char k[DIGEST_STR_LEN];
	cache_result_state("{\"config\":{},\"layers\":[],\"cacheKey\":\"sha256:"
			   "00000000000000000000000000000000000000000000000000000000000000cc\"}",
			   k);
	tap_ok(digest_is_valid(k), "a stage result carries its final state");
	cache_result_state("{\"config\":{}}", k);
	tap_ok(k[0] == '\0', "a result without a state gives none (the next stage is not cached)");
	cache_result_state(NULL, k);
	tap_ok(k[0] == '\0', "no result gives no state");
}

int main(void)
{
	snprintf(base, sizeof(base), "/tmp/molt-test-cache.XXXXXX");
	if (!mkdtemp(base))
		return 1;
	test_hash_fields();
	test_step_keys();
	test_sources();
	test_index();
	test_result_state();
	rm_rf(base, NULL);
	return tap_done();
}
