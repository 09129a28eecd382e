/* SPDX-License-Identifier: Apache-2.0 */
/* The store: blobs verified on the way in, tags, resolution, locking, scratch cleanup, GC. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../layers/layers_int.h"
#include "store_test.h"
#include "tap.h"

static bool exists(const char *rel)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
	struct stat st;
	return stat(p, &st) == 0;
}

/* A one-layer image: layer blob from memory, config with its diff ID. */
static void make_image(struct layer_store *s, const char *content, const char *name,
		       char ret[DIGEST_STR_LEN])
{
	struct molt_error *e = NULL;
	struct image_descriptor layer = {.media_type = (char *)MEDIA_OCI_LAYER,
					 .size = (int64_t)strlen(content)};
	if (layer_store_blob_put_mem(s, content, strlen(content), NULL, layer.digest, &e) < 0)
		goto fail;
	struct image_config c = {0};
	strv_push(&c.diff_ids, layer.digest);
	strv_push(&c.cmd, content);
	char *const names[] = {(char *)name, NULL};
	int r = layer_store_image_commit(s, &c, &layer, 1, name ? names : NULL, ret, &e);
	image_config_done(&c);
	if (r == 0)
		return;
fail:
	molt_error_print(e);
	exit(1);
}

static void layout(void)
{
	struct layer_store *s = open_store();
	tap_ok(exists("oci-layout") && exists("index.json") && exists("blobs/sha256"),
	       "a new store is an OCI image layout (oci-layout, index.json, blobs/sha256)");
	_cleanup_free_ char *p = xasprintf("%s/oci-layout", root);
	_cleanup_free_ char *data = NULL;
	read_file(p, 4096, &data, NULL, NULL);
	tap_str_eq(data, "{\"imageLayoutVersion\":\"1.0.0\"}", "oci-layout says version 1.0.0");
	layer_store_free(s);
}

static void blobs(void)
{
	struct layer_store *s = open_store();
	struct molt_error *e = NULL;
	char d[DIGEST_STR_LEN], want[DIGEST_STR_LEN];
	digest_buffer("hello", 5, want);
	tap_ok(layer_store_blob_put_mem(s, "hello", 5, want, d, &e) == 0 && !strcmp(d, want),
	       "a blob whose digest matches is stored");
	tap_ok(layer_store_blob_exists(s, want), "the stored blob exists under blobs/sha256/<hex>");
	char other[DIGEST_STR_LEN];
	digest_buffer("other", 5, other);
	int r = layer_store_blob_put_mem(s, "hello!", 6, other, NULL, &e);
	tap_ok(r == -EBADMSG && e && strstr(e->msg, "digest mismatch"),
	       "a blob whose content does not match its digest is refused");
	molt_error_free(e);
	e = NULL;
	tap_ok(!layer_store_blob_exists(s, other), "a refused blob is not in the store");

	int pfd[2];
	if (pipe(pfd) < 0)
		abort();
	(void)!write(pfd[1], "streamed", 8);
	close(pfd[1]);
	int64_t size = 0;
	r = layer_store_blob_put_fd(s, pfd[0], other, d, &size, &e);
	close(pfd[0]);
	tap_ok(r == -EBADMSG, "a streamed blob with a wrong digest is refused after the copy");
	molt_error_free(e);
	e = NULL;

	int fd = -1;
	tap_ok(layer_store_blob_open(s, want, true, &fd, &size, &e) == 0 && size == 5,
	       "a stored blob opens verified");
	closep(&fd);
	/* Corrupt it behind the store's back: reads must notice. */
	_cleanup_free_ char *path = NULL;
	layer_store_blob_path(s, want, &path, &e);
	chmod(path, 0644);
	write_file_atomic(path, "HELLO", 5, 0644, &e);
	r = layer_store_blob_open(s, want, true, &fd, &size, &e);
	tap_ok(r == -EBADMSG && e && strstr(e->msg, "corrupt"),
	       "a blob changed on disk is refused when read verified");
	molt_error_free(e);
	e = NULL;
	char *data = NULL;
	r = layer_store_blob_read(s, want, 100, &data, NULL, &e);
	tap_ok(r == -EBADMSG && data == NULL, "blob_read refuses a corrupt blob and leaves ret untouched");
	molt_error_free(e);
	unlink(path);
	layer_store_free(s);
}

static void tags_and_resolve(void)
{
	struct layer_store *s = open_store();
	struct molt_error *e = NULL;
	char m1[DIGEST_STR_LEN], m2[DIGEST_STR_LEN], got[DIGEST_STR_LEN];
	make_image(s, "layer one", "busybox", m1);
	make_image(s, "layer two", NULL, m2);
	tap_ok(layer_store_tag_get(s, "docker.io/library/busybox:latest", got, &e) == 0 &&
		       !strcmp(got, m1),
	       "commit with a short name tags the normalised full name");
	struct image *img = NULL;
	tap_ok(layer_store_resolve(s, "busybox", &img, &e) == 0 && !strcmp(img->manifest_digest, m1),
	       "resolve by short name");
	char id[DIGEST_STR_LEN];
	memcpy(id, img->id, sizeof(id));
	tap_ok(strv_len(img->names) == 1 && !strcmp(img->names[0], "docker.io/library/busybox:latest"),
	       "an image knows its names");
	image_free(img);
	img = NULL;
	_cleanup_free_ char *prefix = xstrndup(digest_hex(id), 12);
	tap_ok(layer_store_resolve(s, prefix, &img, &e) == 0 && !strcmp(img->manifest_digest, m1),
	       "resolve by a 12-digit image ID prefix");
	image_free(img);
	img = NULL;
	tap_ok(layer_store_resolve(s, id, &img, &e) == 0 && !strcmp(img->manifest_digest, m1),
	       "resolve by full sha256: image ID");
	image_free(img);
	img = NULL;
	tap_ok(layer_store_resolve(s, m2, &img, &e) == 0 && strv_len(img->names) == 0,
	       "an untagged image resolves by its manifest digest and has no names");
	image_free(img);
	img = NULL;
	_cleanup_free_ char *at = xasprintf("busybox@%s", m1);
	tap_ok(layer_store_resolve(s, at, &img, &e) == 0, "resolve name@sha256:digest");
	image_free(img);
	img = NULL;
	int r = layer_store_resolve(s, "nothere", &img, &e);
	tap_ok(r == -ENOENT && img == NULL && strstr(e->msg, "image 'nothere' not found"),
	       "an unknown name gives \"image 'x' not found\"");
	molt_error_free(e);
	e = NULL;
	r = layer_store_resolve(s, "Bad Name", &img, &e);
	tap_ok(r < 0 && e && strstr(e->msg, "invalid image name"),
	       "an invalid name says why it is invalid");
	molt_error_free(e);
	e = NULL;

	tap_ok(layer_store_tag_set(s, "localhost:5000/x:1", m2, &e) == 0 &&
		       layer_store_tag_get(s, "localhost:5000/x:1", got, &e) == 0 && !strcmp(got, m2),
	       "tag_set names an untagged image");
	struct image_entry *v = NULL;
	size_t n = 0;
	layer_store_list(s, &v, &n, &e);
	tap_ok(n == 2 && v[0].name && v[1].name, "a named image loses its untagged index entry");
	image_entries_free(v, n);
	tap_ok(layer_store_tag_set(s, "busybox", m2, &e) == 0, "moving a tag to another image");
	layer_store_list(s, &v, &n, &e);
	bool m1_untagged = false;
	for (size_t i = 0; i < n; i++)
		m1_untagged |= !v[i].name && !strcmp(v[i].manifest_digest, m1);
	tap_ok(n == 3 && m1_untagged, "an image that loses its last name stays, untagged (docker's <none>)");
	image_entries_free(v, n);
	tap_ok(layer_store_tag_remove(s, "busybox", &e) == 0 &&
		       layer_store_tag_get(s, "busybox", got, &e) == -ENOENT,
	       "tag_remove removes the name");
	r = layer_store_tag_remove(s, "busybox", &e);
	tap_ok(r == -ENOENT && e && strstr(e->msg, "not found"), "removing a missing tag is an error");
	molt_error_free(e);
	e = NULL;

	/* skopeo's oci: transport and umoci find images by ref.name. */
	_cleanup_free_ char *ip = xasprintf("%s/index.json", root);
	_cleanup_free_ char *index = NULL;
	read_file(ip, 1 << 20, &index, NULL, &e);
	tap_ok(strstr(index, "\"io.containerd.image.name\":\"localhost:5000/x:1\"") &&
		       strstr(index, "\"org.opencontainers.image.ref.name\":\"localhost:5000/x:1\""),
	       "index.json carries both name annotations with the full name");
	layer_store_free(s);
}

static void gc(void)
{
	struct layer_store *s = open_store();
	struct molt_error *e = NULL;
	char m[DIGEST_STR_LEN], junk[DIGEST_STR_LEN];
	make_image(s, "gc layer", "gc:1", m);
	layer_store_blob_put_mem(s, "junk", 4, NULL, junk, &e);
	const char *tmp;
	layer_store_tmpdir(s, &tmp, &e);
	_cleanup_free_ char *unp = xasprintf("%s/unp", tmp);
	mkdir(unp, 0755);
	tap_ok(layer_store_unpacked_publish(s, junk, unp, &e) == 0 &&
		       layer_store_unpacked_exists(s, junk),
	       "an unpacked tree is published by rename under layers/sha256/<hex>");
	mkdir(unp, 0755);
	_cleanup_free_ char *f = xasprintf("%s/file", unp);
	write_file_atomic(f, "x", 1, 0644, &e);
	tap_ok(layer_store_unpacked_publish(s, junk, unp, &e) == 0 && access(unp, F_OK) < 0,
	       "publishing a tree that is already there keeps the first and removes ours");
	size_t removed = 0;
	struct image *img = NULL;
	layer_store_resolve(s, "gc:1", &img, &e);
	tap_ok(layer_store_gc(s, true, &removed, &e) == 0 && removed >= 2 &&
		       !layer_store_blob_exists(s, junk) && !layer_store_unpacked_exists(s, junk) &&
		       layer_store_blob_exists(s, img->id) &&
		       layer_store_blob_exists(s, img->manifest.layers[0].digest),
	       "gc removes unreferenced blobs and unpacked layers and keeps referenced ones");
	image_free(img);
	layer_store_free(s);
}

static size_t count_dir(const char *path)
{
	size_t n = 0;
	DIR *d = opendir(path);
	for (struct dirent *de; d && (de = readdir(d));)
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void writer(void)
{
	struct layer_store *s = open_store();
	struct molt_error *e = NULL;
	struct blob_writer *w = NULL;
	char d[DIGEST_STR_LEN], want[DIGEST_STR_LEN];
	int64_t size = 0;
	digest_buffer("part1part2", 10, want);
	int r = layer_store_blob_writer(s, &w, &e);
	if (r == 0)
		r = blob_writer_write(w, "part1", 5, &e);
	if (r == 0)
		r = blob_writer_write(w, "part2", 5, &e);
	if (r == 0)
		r = blob_writer_commit(w, NULL, d, &size, &e);
	tap_ok(r == 0 && !strcmp(d, want) && size == 10 && layer_store_blob_exists(s, want),
	       "a streamed blob's digest is computed on the way and it lands under its digest");
	const char *tmp;
	layer_store_tmpdir(s, &tmp, &e);
	layer_store_blob_writer(s, &w, &e);
	blob_writer_write(w, "abc", 3, &e);
	r = blob_writer_commit(w, want, d, &size, &e);
	tap_ok(r == -EBADMSG && count_dir(tmp) == 0,
	       "a streamed blob that does not match the expected digest leaves no file behind");
	molt_error_free(e);
	e = NULL;
	layer_store_blob_writer(s, &w, &e);
	blob_writer_write(w, "abc", 3, &e);
	blob_writer_abort(w);
	tap_ok(count_dir(tmp) == 0, "an aborted blob writer removes its scratch file");
	layer_store_free(s);
}

/* The same image ID stored as a second manifest (a docker tar's uncompressed layers). */
static void same_id_replaces(void)
{
	struct layer_store *s = open_store();
	struct molt_error *e = NULL;
	char m1[DIGEST_STR_LEN], m2[DIGEST_STR_LEN];
	make_image(s, "same", "same:1", m1);
	struct image *img = NULL;
	layer_store_resolve(s, "same:1", &img, &e);
	img->manifest.annotations = NULL;
	image_kv_set(&img->manifest.annotations, "x", "y"); /* another manifest, same config */
	_cleanup_free_ char *json = image_manifest_to_json(&img->manifest);
	layer_store_blob_put_mem(s, json, strlen(json), NULL, m2, &e);
	layer_store_tag_set(s, "same:1", m2, &e);
	struct image_entry *v = NULL;
	size_t n = 0;
	layer_store_list(s, &v, &n, &e);
	bool m1_left = false;
	for (size_t i = 0; i < n; i++)
		m1_left |= !strcmp(v[i].manifest_digest, m1);
	tap_ok(strcmp(m1, m2) && !m1_left,
	       "moving a name to another manifest of the same image ID leaves no <none> duplicate");
	image_entries_free(v, n);
	image_free(img);
	layer_store_free(s);
}

static void stale_tmp(void)
{
	struct molt_error *e = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		struct layer_store *s = open_store();
		const char *tmp;
		layer_store_tmpdir(s, &tmp, &e);
		_cleanup_free_ char *f = xasprintf("%s/half-blob", tmp);
		write_file_atomic(f, "partial", 7, 0644, &e);
		_exit(0); /* killed without layer_store_free: its scratch dir stays */
	}
	waitpid(pid, NULL, 0);
	_cleanup_free_ char *mine = xasprintf("tmp/%d.", (int)pid);
	_cleanup_free_ char *tmpdir = xasprintf("%s/tmp", root);
	DIR *d = opendir(tmpdir);
	bool left = false;
	for (struct dirent *de; d && (de = readdir(d));)
		left |= str_startswith(de->d_name, mine + 4);
	closedir(d);
	tap_ok(left, "a process that dies leaves its scratch directory");
	struct layer_store *s = open_store();
	d = opendir(tmpdir);
	left = false;
	for (struct dirent *de; d && (de = readdir(d));)
		left |= str_startswith(de->d_name, mine + 4);
	closedir(d);
	tap_ok(!left, "the next process removes the dead one's scratch directory");
	layer_store_free(s);
}

static char *read_boot_id(void)
{
	char *data = NULL;
	size_t len = 0;
	if (read_file("/proc/sys/kernel/random/boot_id", 64, &data, &len, NULL) < 0 || len < 36)
		return NULL;
	data[36] = '\0';
	return data;
}

/*
 * Trees are published unsynced with a marker naming the boot (layers/store_fresh.c);
 * opening the store after a restart removes the trees of the boot that ended. A
 * restart is simulated by a marker directory named by another boot ID.
 */
static void fresh_trees(void)
{
	struct molt_error *e = NULL;
	_cleanup_free_ char *boot = read_boot_id();
	if (!boot) {
		for (int i = 0; i < 6; i++)
			tap_skip("no readable boot ID");
		return;
	}
	struct layer_store *s = open_store();
	char x[DIGEST_STR_LEN], y[DIGEST_STR_LEN], z[DIGEST_STR_LEN];
	layer_store_blob_put_mem(s, "tree x", 6, NULL, x, &e);
	layer_store_blob_put_mem(s, "tree y", 6, NULL, y, &e);
	layer_store_blob_put_mem(s, "tree z", 6, NULL, z, &e);
	const char *tmp;
	layer_store_tmpdir(s, &tmp, &e);
	_cleanup_free_ char *unp = xasprintf("%s/unp", tmp);
	mkdir(unp, 0755);
	_cleanup_free_ char *mark_x = xasprintf("layers/fresh/%s/%s", boot, digest_hex(x));
	tap_ok(layer_store_unpacked_publish(s, x, unp, &e) == 0 && exists(mark_x),
	       "a published tree gets a marker naming this boot");
	/* y: a tree of an ended boot, with a file in it; z: its marker only (tree gone). */
	const char *old = "00000000-0000-4000-8000-000000000000";
	_cleanup_free_ char *odir = xasprintf("%s/layers/fresh/%s", root, old);
	_cleanup_free_ char *ytree = xasprintf("%s/layers/sha256/%s", root, digest_hex(y));
	_cleanup_free_ char *yfile = xasprintf("%s/data", ytree);
	_cleanup_free_ char *ymark = xasprintf("%s/%s", odir, digest_hex(y));
	_cleanup_free_ char *zmark = xasprintf("%s/%s", odir, digest_hex(z));
	_cleanup_free_ char *junk = xasprintf("%s/not-a-digest", odir);
	mkdir(odir, 0755);
	mkdir(ytree, 0755);
	write_file_atomic(yfile, "maybe lost", 10, 0644, &e);
	write_file_atomic(ymark, "", 0, 0644, &e);
	write_file_atomic(zmark, "", 0, 0644, &e);
	write_file_atomic(junk, "", 0, 0644, &e);
	layer_store_free(s);
	s = open_store();
	tap_ok(!layer_store_unpacked_exists(s, y) && access(odir, F_OK) < 0,
	       "opening the store removes the trees of an ended boot and their markers");
	tap_ok(layer_store_unpacked_exists(s, x) && exists(mark_x),
	       "trees of this boot stay, with their markers");
	tap_ok(layer_store_blob_exists(s, y), "the ended boot's blobs stay (trees are re-made)");
	/* A store from before markers: a tree without one was synced, and stays. */
	_cleanup_free_ char *ztree = xasprintf("%s/layers/sha256/%s", root, digest_hex(z));
	mkdir(ztree, 0755);
	layer_store_free(s);
	s = open_store();
	tap_ok(layer_store_unpacked_exists(s, z), "a tree without a marker stays");
	size_t removed = 0;
	tap_ok(layer_store_gc(s, true, &removed, &e) == 0 && !layer_store_unpacked_exists(s, x) &&
		       !exists(mark_x),
	       "gc removes an unreferenced tree and its marker");
	layer_store_free(s);
}

/*
 * A tree's lock is unlinked by its holder on unlock; a process that waited on the old
 * file must not think it holds the lock beside the next one who creates a new file.
 */
static void tree_lock_retries(void)
{
	const char *hex = "1111111111111111111111111111111111111111111111111111111111111111";
	int p[2];
	if (pipe(p) < 0)
		exit(1);
	pid_t pid = fork();
	if (pid == 0) {
		struct layer_store *s = open_store();
		struct molt_error *e = NULL;
		int fd = -1;
		if (store_tree_lock(s, hex, &fd, &e) < 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		usleep(300 * 1000); /* the parent is waiting on this file meanwhile */
		store_tree_unlock(s, hex, fd);
		layer_store_free(s);
		_exit(0);
	}
	char c;
	if (read(p[0], &c, 1) != 1)
		exit(1);
	close(p[0]);
	close(p[1]);
	struct layer_store *s = open_store();
	struct molt_error *e = NULL;
	int fd = -1;
	int r = store_tree_lock(s, hex, &fd, &e);
	_cleanup_free_ char *name = xasprintf("%s/layers/unpack-%s.lock", root, hex);
	struct stat held, now;
	tap_ok(r == 0 && fstat(fd, &held) == 0 && stat(name, &now) == 0 &&
		       held.st_ino == now.st_ino,
	       "a tree lock taken after its holder unlinked the file is the file's new lock");
	if (r == 0)
		store_tree_unlock(s, hex, fd);
	tap_ok(access(name, F_OK) < 0, "unlocking removes the lock file");
	waitpid(pid, NULL, 0);
	layer_store_free(s);
}

/* Many processes tag at once: no update may be lost (index writes are serialised). */
static void concurrent_writers(void)
{
	enum { PROCS = 6, EACH = 5 };
	pid_t pids[PROCS];
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			struct layer_store *s = open_store();
			for (int i = 0; i < EACH; i++) {
				char m[DIGEST_STR_LEN];
				_cleanup_free_ char *content = xasprintf("p%d-i%d", p, i);
				_cleanup_free_ char *name = xasprintf("conc/p%d:i%d", p, i);
				make_image(s, content, name, m);
			}
			layer_store_free(s);
			_exit(0);
		}
	}
	bool all_ok = true;
	for (int p = 0; p < PROCS; p++) {
		int st;
		waitpid(pids[p], &st, 0);
		all_ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	tap_ok(all_ok, "%d processes writing images at once all succeed", PROCS);
	struct layer_store *s = open_store();
	struct molt_error *e = NULL;
	int found = 0;
	for (int p = 0; p < PROCS; p++)
		for (int i = 0; i < EACH; i++) {
			char m[DIGEST_STR_LEN];
			_cleanup_free_ char *name = xasprintf("conc/p%d:i%d", p, i);
			found += layer_store_tag_get(s, name, m, &e) == 0;
		}
	tap_ok(found == PROCS * EACH, "no tag written concurrently is lost (%d of %d)", found,
	       PROCS * EACH);
	layer_store_free(s);
}

int main(void)
{
	char tmpl[] = "/tmp/molt-test-store.XXXXXX";
	if (!mkdtemp(tmpl))
		return 1;
	root = xasprintf("%s/store", tmpl);
	layout();
	blobs();
	tags_and_resolve();
	gc();
	writer();
	same_id_replaces();
	stale_tmp();
	fresh_trees();
	tree_lock_retries();
	concurrent_writers();
	struct molt_error *e = NULL;
	tap_ok(layer_store_destroy(root, &e) == 0 && access(root, F_OK) < 0,
	       "destroy empties and removes the store");
	rm_rf(tmpl, &e);
	free(root);
	return tap_done();
}
