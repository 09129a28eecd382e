/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stored layer blob → its unpacked tree under layers/sha256/<diff ID> (layers.h:
 * layer_store_unpack), for builds, `molt run` and a pull that unpacks while it downloads.
 */
#include <archive.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers_int.h"

/*
 * One pass over the blob: a thread reads it (hashing the compressed bytes when asked),
 * decompresses it (hashing the tar: the diff ID) and feeds the tar through a pipe to
 * the unpacker, so the blob is read and decompressed once, and decompression runs
 * beside the file writing. The diff ID a config claims must be the layer's content:
 * unpacked trees are shared by diff ID across images, so a hostile image claiming a
 * popular layer's diff ID must not plant its own tree under that name — the tree is
 * published only after both digests matched.
 */
struct feeder {
	int blobfd, pipefd;
	bool verify;
	struct digester *compressed, *tar;
	char buf[65536];
	_Atomic bool stop; /* the unpacker gave up: stop decompressing */
	char *error;       /* why decompression failed, or NULL */
};

static la_ssize_t feeder_read(struct archive *a, void *ud, const void **ret)
{
	(void)a;
	struct feeder *f = ud;
	ssize_t n = read_full(f->blobfd, f->buf, sizeof(f->buf));
	if (n < 0)
		return -1;
	if (f->verify)
		digester_update(f->compressed, f->buf, (size_t)n);
	*ret = f->buf;
	return n;
}

static void *feeder_run(void *ud)
{
	struct feeder *f = ud;
	struct archive *a = archive_read_new();
	struct molt_error *e_filter = NULL;
	/* In-process decompressors only (decompress.c): never an external program. */
	if (decompress_enable(a, &e_filter) < 0) {
		f->error = xstrdup(e_filter ? e_filter->msg : "set up decompression");
		molt_error_free(e_filter);
		archive_read_free(a);
		close(f->pipefd);
		return NULL;
	}
	archive_read_support_format_raw(a);
	struct archive_entry *e;
	if (archive_read_open(a, f, NULL, feeder_read, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		f->error = xasprintf("read layer: %s", archive_error_string(a));
	} else {
		char buf[65536];
		la_ssize_t n = 0;
		while (!f->stop && (n = archive_read_data(a, buf, sizeof(buf))) > 0) {
			digester_update(f->tar, buf, (size_t)n);
			if (write_all(f->pipefd, buf, (size_t)n) < 0)
				break; /* the unpacker closed its end */
		}
		if (!f->stop && n < 0)
			f->error = xasprintf("decompress layer: %s", archive_error_string(a));
	}
	archive_read_free(a);
	close(f->pipefd); /* EOF for the unpacker */
	return NULL;
}

/* Reads the pipe to its end, so the feeder hashes the whole stream and exits. */
static void drain(int fd)
{
	char buf[65536];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static int unpack_verified(int root, int blobfd, bool verify, const char *digest,
			   const char *diff_id, struct molt_error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return molt_error_set(err, errno, "unpack layer %s: pipe", digest);
	struct feeder f = {.blobfd = blobfd, .pipefd = p[1], .verify = verify,
			   .compressed = digester_new(), .tar = digester_new()};
	pthread_t th;
	if (pthread_create(&th, NULL, feeder_run, &f) != 0) {
		close(p[0]);
		close(p[1]);
		digester_free(f.compressed);
		digester_free(f.tar);
		return molt_error_setx(err, EAGAIN, "unpack layer %s: cannot start a thread", digest);
	}
	struct unpack_opts uo = {.layer = digest, .whiteouts = UNPACK_OVERLAY};
	int r = layer_unpack(root, p[0], &uo, NULL, err);
	if (r < 0)
		f.stop = true;
	drain(p[0]);
	pthread_join(th, NULL);
	close(p[0]);
	/* Bytes after the compressed stream (or after a failure) count for the blob too. */
	char buf[65536];
	ssize_t n;
	while (verify && (n = read_full(blobfd, buf, sizeof(buf))) > 0)
		digester_update(f.compressed, buf, (size_t)n);
	char got_tar[DIGEST_STR_LEN], got_blob[DIGEST_STR_LEN];
	digester_final(f.tar, got_tar);
	digester_final(f.compressed, got_blob);
	if (r < 0 && verify && strcmp(got_blob, digest) && err) {
		/* A blob damaged on disk: say that, not what its damage did to the unpacker. */
		molt_error_free(*err);
		*err = NULL;
		r = molt_error_setx(err, EBADMSG, "blob digest mismatch: expected %s, the content "
						  "is %s", digest, got_blob);
	} else if (r == 0 && f.error)
		r = molt_error_setx(err, EINVAL, "layer %s: %s", digest, f.error);
	else if (r == 0 && verify && strcmp(got_blob, digest))
		r = molt_error_setx(err, EBADMSG, "blob digest mismatch: expected %s, the content "
						  "is %s", digest, got_blob);
	else if (r == 0 && strcmp(got_tar, diff_id))
		r = molt_error_setx(err, EINVAL, "layer %s: its content is %s, not the diff ID %s "
						 "its image config claims",
				    digest, got_tar, diff_id);
	free(f.error);
	digester_free(f.compressed);
	digester_free(f.tar);
	return r;
}

static int unpack_blob(struct layer_store *s, const char *tmp, const char *digest,
		       const char *diff_id, bool verify, struct molt_error **err)
{
	int fd = -1;
	int64_t size;
	int r = layer_store_blob_open(s, digest, false, &fd, &size, err);
	if (r < 0)
		return r;
	/* lzop, lrzip, ...: refused by name before libarchive would look for a program. */
	if ((r = decompress_refuse_foreign(fd, "read layer", err)) < 0) {
		close(fd);
		return r;
	}
	_cleanup_free_ char *dir = xasprintf("%s/unpack-XXXXXX", tmp);
	if (!mkdtemp(dir))
		r = molt_error_set(err, errno, "create '%s'", dir);
	/* The layer's root is "/" of the image when no tar entry says otherwise. */
	if (r == 0 && chmod(dir, 0755) < 0)
		r = molt_error_set(err, errno, "chmod '%s'", dir);
	_cleanup_close_ int root = r == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (r == 0 && root < 0)
		r = molt_error_set(err, errno, "open '%s'", dir);
	if (r == 0)
		r = unpack_verified(root, fd, verify, digest, diff_id, err);
	if (r == 0)
		r = layer_store_unpacked_publish(s, diff_id, dir, err);
	if (r == 0) /* tests count these: a layer two stages need is unpacked once */
		molt_debug("store: unpacked layer %s", diff_id);
	else if (root >= 0)
		rm_rf(dir, NULL); /* a partial or unverified tree is never published */
	close(fd);
	return r;
}

/*
 * Two stages of one build (they start at once), two pull workers or two builds that
 * need the same layer: without a lock each unpacked it beside the other — twice the CPU
 * and disk writes on the critical path of both, then an rm -rf of the loser's tree.
 * With it the first unpacks, the others wait for its lock and find the tree published.
 * The lock file (layers/unpack-<hex>.lock, flock'ed: it dies with its process) is
 * unlinked while held (store_tree_lock); the store's open removes trees of an ended boot
 * under the same lock (store_fresh.c).
 */
int layer_store_unpack(struct layer_store *s, const char *tmp, const char *digest,
		       const char *diff_id, bool verify, struct molt_error **err)
{
	if (layer_store_unpacked_exists(s, diff_id))
		return 0;
	if (!digest_is_valid(diff_id)) /* it names a file below */
		return molt_error_setx(err, EINVAL, "invalid diff ID '%s'", diff_id);
	int lfd = -1;
	int r = store_tree_lock(s, digest_hex(diff_id), &lfd, err);
	if (r < 0)
		return r;
	if (!layer_store_unpacked_exists(s, diff_id))
		r = unpack_blob(s, tmp, digest, diff_id, verify, err);
	store_tree_unlock(s, digest_hex(diff_id), lfd);
	return r;
}

int store_tree_lock(struct layer_store *s, const char *hex, int *ret_fd, struct molt_error **err)
{
	_cleanup_free_ char *name = xasprintf("layers/unpack-%s.lock", hex);
	for (;;) {
		int fd = -1;
		int r = store_lock_file(s->rootfd, name, true, true, &fd, err);
		if (r < 0)
			return r;
		struct stat held, now;
		int e = fstat(fd, &held) < 0 ? errno
			: fstatat(s->rootfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
		if (e == 0 && held.st_ino == now.st_ino && held.st_dev == now.st_dev) {
			*ret_fd = fd;
			return 0;
		}
		if (e && e != ENOENT) {
			close(fd);
			return molt_error_set(err, e, "lock file '%s/%s'", s->root, name);
		}
		close(fd); /* its holder unlinked it while we waited: lock the new one */
	}
}

void store_tree_unlock(struct layer_store *s, const char *hex, int fd)
{
	_cleanup_free_ char *name = xasprintf("layers/unpack-%s.lock", hex);
	(void)unlinkat(s->rootfd, name, 0);
	close(fd);
}

int image_ensure_unpacked(struct layer_store *s, const char *tmp, const struct image_config *c,
			  const struct image_descriptor *layers, size_t n_layers,
			  struct molt_error **err)
{
	if (strv_len(c->diff_ids) != n_layers)
		return molt_error_setx(err, EINVAL, "image has %zu layers but %zu diff IDs", n_layers,
				       strv_len(c->diff_ids));
	for (size_t i = 0; i < n_layers; i++) {
		int r = layer_store_unpack(s, tmp, layers[i].digest, c->diff_ids[i], true, err);
		if (r < 0)
			return r;
	}
	return 0;
}

char **layer_store_lowers(struct layer_store *s, const struct image_config *c)
{
	char **v = xcalloc(1, sizeof(char *));
	size_t n = strv_len(c->diff_ids);
	for (size_t i = n; i > 0; i--)
		strv_push_take(&v, layer_store_unpacked_path(s, c->diff_ids[i - 1]));
	return v;
}
