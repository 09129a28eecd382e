/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One blob from a registry into the store (registry_http.h: reg_fetch_blob). The
 * partial file lives beside the store's blobs, not in a process's tmp/ (which dies with
 * its process), so a pull killed half way resumes where it stopped: its bytes are hashed
 * again, the rest asked for with Range. Only a whole blob whose size and sha256 match the
 * descriptor is renamed into blobs/; a partial file that turns out wrong is dropped and
 * the blob fetched once more from its first byte.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "layers_int.h"
#include "registry_http.h"

struct blob_dl {
	const struct image_descriptor *d;
	const char *host;
	int fd; /* the partial file */
	struct digester *dg;
	int64_t got;
	bool first; /* the next chunk is a response's first */
};

static int restart(struct blob_dl *b, struct molt_error **err)
{
	if (ftruncate(b->fd, 0) < 0 || lseek(b->fd, 0, SEEK_SET) < 0)
		return molt_error_set(err, errno, "truncate the partial blob %s", b->d->digest);
	digester_free(b->dg);
	b->dg = digester_new();
	b->got = 0;
	return 0;
}

static int blob_sink(void *ud, long status, const void *buf, size_t n, struct molt_error **err)
{
	struct blob_dl *b = ud;
	bool first = b->first;
	b->first = false;
	/* The server ignored our Range and sends everything: start over from byte 0. */
	if (first && status == 200 && b->got > 0 && restart(b, err) < 0)
		return molt_error_pass(err);
	if (b->got + (int64_t)n > b->d->size)
		return molt_error_setx(err, EFBIG,
				       "registry '%s': blob %s is larger than the %lld "
				       "bytes its descriptor says",
				       b->host, b->d->digest, (long long)b->d->size);
	if (write_all(b->fd, buf, n) < 0)
		return molt_error_set(err, errno, "write the blob %s", b->d->digest);
	digester_update(b->dg, buf, n);
	b->got += (int64_t)n;
	return 0;
}

/*
 * Opens (locked) the partial file of d and hashes what it holds: 1 when, after waiting
 * for the lock, the store has the blob already (another pull fetched it).
 */
static int partial_open(struct layer_store *store, struct blob_dl *b, char **ret_path,
			struct molt_error **err)
{
	_cleanup_free_ char *dir = xasprintf("%s/registry/partial", layer_store_root(store));
	int r = mkdir_p(dir, 0755, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, digest_hex(b->d->digest));
	b->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (b->fd < 0)
		return molt_error_set(err, errno, "open '%s'", path);
	if (flock(b->fd, LOCK_EX) < 0)
		return molt_error_set(err, errno, "lock '%s'", path);
	if (layer_store_blob_exists(store, b->d->digest)) {
		struct stat st;
		if (fstat(b->fd, &st) == 0 && st.st_size == 0)
			(void)unlink(path); /* ours, made just now: nothing to resume */
		return 1;
	}
	b->dg = digester_new();
	struct stat st;
	if (fstat(b->fd, &st) < 0)
		return molt_error_set(err, errno, "stat '%s'", path);
	if (st.st_size > b->d->size && restart(b, err) < 0)
		return molt_error_pass(err);
	char buf[65536];
	ssize_t n;
	while ((n = read_full(b->fd, buf, sizeof(buf))) > 0) {
		digester_update(b->dg, buf, (size_t)n);
		b->got += n;
	}
	if (n < 0)
		return molt_error_set(err, (int)-n, "read '%s'", path);
	if (b->got > 0)
		molt_debug("registry: blob %s: resuming after %lld bytes", b->d->digest,
			   (long long)b->got);
	*ret_path = TAKE_PTR(path);
	return 0;
}

/* GETs the rest of the blob, resuming a dropped transfer with Range. */
static int transfer(struct reg_session *s, struct reg_conn *c, struct blob_dl *b,
		    struct molt_error **err)
{
	_cleanup_free_ char *path = xasprintf("/v2/%s/blobs/%s", reg_session_repo(s), b->d->digest);
	for (unsigned attempt = 0;; attempt++) {
		if (b->got == b->d->size && b->got > 0)
			return 0; /* a partial file that is complete already */
		struct reg_req q = {.method = "GET",
				    .path = path,
				    .body_fd = -1,
				    .sink = blob_sink,
				    .sink_ud = b,
				    .range_from = b->got};
		struct reg_resp resp = {0};
		struct molt_error *e = NULL;
		b->first = true;
		int r = reg_do(s, c, &q, &resp, &e);
		if (r == -EPIPE && attempt + 1 < REG_MAX_ATTEMPTS) {
			molt_debug("registry: blob %s broke off at %lld bytes; resuming",
				   b->d->digest, (long long)b->got);
			molt_error_drop(&e, "registry: resuming after");
			continue;
		}
		if (r < 0) {
			if (err && !*err)
				*err = TAKE_PTR(e);
			molt_error_free(e);
		} else if (resp.status == 416 && b->got > 0) {
			/* Our partial bytes are no prefix of this blob: start again. */
			reg_resp_done(&resp);
			if (restart(b, err) < 0)
				return molt_error_pass(err);
			continue;
		} else if (resp.status != 200 && resp.status != 206) {
			_cleanup_free_ char *what = xasprintf("blob %s", b->d->digest);
			r = reg_status_error(s, &resp, what, err);
		}
		reg_resp_done(&resp);
		return r;
	}
}

/* Size and digest as the descriptor says; -EBADMSG for a wrong digest. */
static int verify(struct blob_dl *b, struct molt_error **err)
{
	if (b->got != b->d->size)
		return molt_error_setx(err, EPROTO,
				       "registry '%s': blob %s has %lld bytes, its "
				       "descriptor says %lld",
				       b->host, b->d->digest, (long long)b->got,
				       (long long)b->d->size);
	char got[DIGEST_STR_LEN];
	digester_final(b->dg, got);
	digester_free(b->dg);
	b->dg = NULL;
	if (strcmp(got, b->d->digest))
		return molt_error_setx(err, EBADMSG,
				       "registry '%s': blob %s: blob digest "
				       "mismatch: expected %s, the content is %s",
				       b->host, b->d->digest, b->d->digest, got);
	if (fsync(b->fd) < 0)
		return molt_error_set(err, errno, "sync the blob %s", b->d->digest);
	return 0;
}

int reg_fetch_blob(struct reg_session *s, struct reg_conn *c, struct layer_store *store,
		   const struct image_descriptor *d, struct molt_error **err)
{
	struct blob_dl b = {.d = d, .host = reg_session_host(s), .fd = -1};
	_cleanup_free_ char *path = NULL;
	int r = partial_open(store, &b, &path, err);
	bool resumed = b.got > 0;
	if (r == 0)
		r = transfer(s, c, &b, err);
	if (r == 0)
		r = verify(&b, err);
	if (r == -EBADMSG && resumed) {
		/* The bytes of an earlier, killed pull were not this blob's: once more, whole. */
		molt_debug("registry: blob %s: the partial file was wrong, fetching it again",
			   d->digest);
		if (err) {
			molt_error_free(*err);
			*err = NULL;
		}
		r = restart(&b, err);
		if (r == 0)
			r = transfer(s, c, &b, err);
		if (r == 0)
			r = verify(&b, err);
	}
	if (r == 0)
		r = layer_store_blob_adopt(store, path, d->digest, err);
	else if (r == -EBADMSG && path)
		unlink(path); /* verified wrong: never resumed from */
	digester_free(b.dg);
	if (b.fd >= 0)
		close(b.fd); /* the lock goes with it */
	return r == 1 ? 0 : r;
}
