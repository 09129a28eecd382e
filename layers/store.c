/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/store.c: the content-addressed store, an OCI image layout with molt's
 * entries beside it (see layers.h for the layout).
 *
 * Concurrency: every process that opens the store holds gc.lock shared for as long
 * as it has it open, so garbage collection (which needs it exclusive) never deletes
 * a blob another process has just written but not yet referenced. index.json is
 * replaced by rename under `lock` held exclusive; readers take it shared.
 * Durability: blobs and index.json are written to a temporary file, fsync'ed and
 * renamed; a process killed mid-write leaves only a scratch directory that the next
 * molt removes.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "layers_int.h"



static const char oci_layout_json[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

static int ensure_dir(int dirfd, const char *name, const char *root, struct molt_error **err)
{
	if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
		return molt_error_set(err, errno, "create directory '%s/%s'", root, name);
	return 0;
}

static int ensure_layout(struct layer_store *s, struct molt_error **err)
{
	static const char *const dirs[] = {"blobs", "blobs/sha256", "layers", "layers/sha256", "tmp"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		int r = ensure_dir(s->rootfd, dirs[i], s->root, err);
		if (r < 0)
			return r;
	}
	struct stat st;
	if (fstatat(s->rootfd, "oci-layout", &st, 0) < 0) {
		_cleanup_free_ char *p = xasprintf("%s/oci-layout", s->root);
		int r = write_file_atomic(p, oci_layout_json, strlen(oci_layout_json), 0644, err);
		if (r < 0)
			return r;
	}
	if (fstatat(s->rootfd, "index.json", &st, 0) < 0) {
		/* Created under the index lock so a concurrent writer's index is not lost. */
		_cleanup_close_ int lfd = -1;
		int r = store_lock_file(s->rootfd, "lock", true, true, &lfd, err);
		if (r < 0)
			return r;
		if (fstatat(s->rootfd, "index.json", &st, 0) < 0) {
			struct image_index empty = {0};
			_cleanup_free_ char *json = image_index_to_json(&empty);
			_cleanup_free_ char *p = xasprintf("%s/index.json", s->root);
			r = write_file_atomic(p, json, strlen(json), 0644, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int layer_store_open(const char *root, struct layer_store **ret, struct molt_error **err)
{
	/* Every blob the store reads or writes is checked against its sha256. */
	int r = digest_init(err);
	if (r < 0)
		return r;
	r = mkdir_p(root, 0700, err);
	if (r < 0)
		return molt_error_wrap(err, "store");
	struct layer_store *s = xcalloc(1, sizeof(*s));
	s->root = xstrdup(root);
	s->gc_fd = s->tmpfd = s->tmp_lock_fd = -1;
	s->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0)
		r = molt_error_set(err, errno, "open store '%s'", root);
	if (r == 0)
		r = store_lock_file(s->rootfd, "gc.lock", false, true, &s->gc_fd, err);
	if (r == 0)
		r = ensure_layout(s, err);
	if (r == 0) {
		s->tmpfd = openat(s->rootfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s->tmpfd < 0)
			r = molt_error_set(err, errno, "open '%s/tmp'", root);
	}
	if (r == 0)
		store_tmp_clean(s->tmpfd);
	/* Before any tree is used: those of a boot that ended may have lost data. */
	if (r == 0)
		r = store_fresh_purge(s, err);
	if (r < 0) {
		layer_store_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void layer_store_free(struct layer_store *s)
{
	if (!s)
		return;
	if (s->tmp) {
		_cleanup_error_ struct molt_error *e = NULL;
		if (rm_rf(s->tmp, &e) < 0)
			molt_debug("store: cannot remove '%s': %s", s->tmp, e->msg);
	}
	closep(&s->tmp_lock_fd);
	closep(&s->tmpfd);
	closep(&s->gc_fd);
	closep(&s->rootfd);
	free(s->tmp);
	free(s->root);
	free(s);
}

const char *layer_store_root(const struct layer_store *s)
{
	return s->root;
}

int layer_store_rootfd(const struct layer_store *s)
{
	return s->rootfd;
}

int layer_store_gc_lock(struct layer_store *s, bool exclusive, bool wait, struct molt_error **err)
{
	return store_lock_fd(s->gc_fd, exclusive, wait, err);
}

int layer_store_tmpdir(struct layer_store *s, const char **ret_path, struct molt_error **err)
{
	if (!s->tmp) {
		_cleanup_free_ char *tmp_path = xasprintf("%s/tmp", s->root);
		int r = store_tmp_create(s->tmpfd, tmp_path, &s->tmp, &s->tmp_lock_fd, err);
		if (r < 0)
			return r;
	}
	*ret_path = s->tmp;
	return 0;
}

/* ---------------------------------------------------------------- blobs */

static char *blob_rel(const char *digest)
{
	return xasprintf("blobs/sha256/%s", digest_hex(digest));
}

static int check_digest_arg(const char *digest, struct molt_error **err)
{
	if (!digest_is_valid(digest))
		return molt_error_setx(err, EINVAL, "'%s' is not a sha256 digest",
				       digest ? digest : "");
	return 0;
}

bool layer_store_blob_exists(struct layer_store *s, const char *digest)
{
	if (!digest_is_valid(digest))
		return false;
	_cleanup_free_ char *rel = blob_rel(digest);
	struct stat st;
	return fstatat(s->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int layer_store_blob_path(struct layer_store *s, const char *digest, char **ret_path,
			  struct molt_error **err)
{
	int r = check_digest_arg(digest, err);
	if (r < 0)
		return r;
	*ret_path = xasprintf("%s/blobs/sha256/%s", s->root, digest_hex(digest));
	return 0;
}

void store_fsync_dir(int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		(void)fsync(fd);
}

int layer_store_blob_adopt(struct layer_store *s, const char *tmp_path, const char *digest,
			   struct molt_error **err)
{
	int r = check_digest_arg(digest, err);
	if (r < 0) {
		unlink(tmp_path);
		return r;
	}
	_cleanup_free_ char *rel = blob_rel(digest);
	if (layer_store_blob_exists(s, digest)) {
		unlink(tmp_path);
		return 0;
	}
	(void)chmod(tmp_path, 0644);
	if (renameat(AT_FDCWD, tmp_path, s->rootfd, rel) < 0) {
		int e = errno;
		unlink(tmp_path);
		return molt_error_set(err, e, "store blob %s", digest);
	}
	store_fsync_dir(s->rootfd, "blobs/sha256");
	return 0;
}

int layer_store_tmpfile(struct layer_store *s, const char *prefix, char **ret_path, int *ret_fd,
			struct molt_error **err)
{
	const char *tmp;
	int r = layer_store_tmpdir(s, &tmp, err);
	if (r < 0)
		return r;
	char *path = xasprintf("%s/%s-XXXXXX", tmp, prefix);
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		r = molt_error_set(err, errno, "create a temporary file in '%s'", tmp);
		free(path);
		return r;
	}
	*ret_path = path;
	*ret_fd = fd;
	return 0;
}

/* fsync, compare with want (may be NULL), then move into place. */
static int blob_finish(struct layer_store *s, char *tmp_path, int fd, const char *got,
		       const char *want, struct molt_error **err)
{
	if (fsync(fd) < 0) {
		int e = errno;
		unlink(tmp_path);
		return molt_error_set(err, e, "sync blob %s", got);
	}
	if (want && strcmp(got, want) != 0) {
		unlink(tmp_path);
		return molt_error_setx(err, EBADMSG,
				       "blob digest mismatch: expected %s, the content is %s", want,
				       got);
	}
	return layer_store_blob_adopt(s, tmp_path, got, err);
}

int layer_store_blob_put_mem(struct layer_store *s, const void *data, size_t len,
			     const char *want_digest, char ret_digest[DIGEST_STR_LEN],
			     struct molt_error **err)
{
	char got[DIGEST_STR_LEN];
	digest_buffer(data, len, got);
	if (want_digest && strcmp(got, want_digest) != 0)
		return molt_error_setx(err, EBADMSG,
				       "blob digest mismatch: expected %s, the content is %s",
				       want_digest, got);
	if (!layer_store_blob_exists(s, got)) {
		_cleanup_free_ char *tmp = NULL;
		_cleanup_close_ int fd = -1;
		int r = layer_store_tmpfile(s, "blob", &tmp, &fd, err);
		if (r < 0)
			return r;
		r = write_all(fd, data, len);
		if (r < 0) {
			unlink(tmp);
			return molt_error_set(err, -r, "write blob %s", got);
		}
		r = blob_finish(s, tmp, fd, got, NULL, err);
		if (r < 0)
			return r;
	}
	if (ret_digest)
		memcpy(ret_digest, got, DIGEST_STR_LEN);
	return 0;
}

struct blob_writer {
	struct layer_store *s;
	char *tmp_path;
	int fd;
	struct digester *d;
};

int layer_store_blob_writer(struct layer_store *s, struct blob_writer **ret,
			    struct molt_error **err)
{
	char *path = NULL;
	int fd = -1;
	int r = layer_store_tmpfile(s, "blob", &path, &fd, err);
	if (r < 0)
		return r;
	struct blob_writer *w = xcalloc(1, sizeof(*w));
	*w = (struct blob_writer){.s = s, .tmp_path = path, .fd = fd, .d = digester_new()};
	*ret = w;
	return 0;
}

int blob_writer_write(struct blob_writer *w, const void *buf, size_t n, struct molt_error **err)
{
	int r = write_all(w->fd, buf, n);
	if (r < 0)
		return molt_error_set(err, -r, "write '%s'", w->tmp_path);
	digester_update(w->d, buf, n);
	return 0;
}

void blob_writer_abort(struct blob_writer *w)
{
	if (!w)
		return;
	if (w->tmp_path)
		unlink(w->tmp_path);
	closep(&w->fd);
	digester_free(w->d);
	free(w->tmp_path);
	free(w);
}

int blob_writer_commit(struct blob_writer *w, const char *want_digest,
		       char ret_digest[DIGEST_STR_LEN], int64_t *ret_size, struct molt_error **err)
{
	char got[DIGEST_STR_LEN];
	int64_t size = (int64_t)digester_size(w->d);
	digester_final(w->d, got);
	int r = blob_finish(w->s, w->tmp_path, w->fd, got, want_digest, err);
	free(TAKE_PTR(w->tmp_path)); /* moved in or unlinked by blob_finish */
	blob_writer_abort(w);
	if (r < 0)
		return r;
	if (ret_digest)
		memcpy(ret_digest, got, DIGEST_STR_LEN);
	if (ret_size)
		*ret_size = size;
	return 0;
}

int layer_store_blob_put_fd(struct layer_store *s, int in, const char *want_digest,
			    char ret_digest[DIGEST_STR_LEN], int64_t *ret_size,
			    struct molt_error **err)
{
	struct blob_writer *w = NULL;
	int r = layer_store_blob_writer(s, &w, err);
	if (r < 0)
		return r;
	char buf[65536];
	for (;;) {
		ssize_t n = read_full(in, buf, sizeof(buf));
		if (n < 0)
			r = molt_error_set(err, (int)-n, "read blob data");
		else if (n > 0)
			r = blob_writer_write(w, buf, (size_t)n, err);
		if (n <= 0 || r < 0)
			break;
	}
	if (r < 0) {
		blob_writer_abort(w);
		return r;
	}
	return blob_writer_commit(w, want_digest, ret_digest, ret_size, err);
}

int layer_store_blob_open(struct layer_store *s, const char *digest, bool verify, int *ret_fd,
			  int64_t *ret_size, struct molt_error **err)
{
	int r = check_digest_arg(digest, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *rel = blob_rel(digest);
	_cleanup_close_ int fd = openat(s->rootfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return molt_error_set(err, errno, "blob %s", digest);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return molt_error_set(err, errno, "blob %s", digest);
	if (verify) {
		char got[DIGEST_STR_LEN];
		r = digest_fd(fd, got, NULL, err);
		if (r < 0)
			return molt_error_wrap(err, "blob %s", digest);
		if (strcmp(got, digest) != 0)
			return molt_error_setx(err, EBADMSG,
					       "blob %s is corrupt: its content hashes to %s",
					       digest, got);
		if (lseek(fd, 0, SEEK_SET) < 0)
			return molt_error_set(err, errno, "blob %s", digest);
	}
	if (ret_size)
		*ret_size = st.st_size;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int layer_store_blob_read(struct layer_store *s, const char *digest, size_t max, char **ret_data,
			  size_t *ret_len, struct molt_error **err)
{
	int r = check_digest_arg(digest, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *rel = blob_rel(digest);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	r = read_file_at(s->rootfd, rel, max, &data, &len, err);
	if (r < 0)
		return molt_error_wrap(err, "blob %s", digest);
	char got[DIGEST_STR_LEN];
	digest_buffer(data, len, got);
	if (strcmp(got, digest) != 0)
		return molt_error_setx(err, EBADMSG, "blob %s is corrupt: its content hashes to %s",
				       digest, got);
	*ret_data = TAKE_PTR(data);
	if (ret_len)
		*ret_len = len;
	return 0;
}

/* ---------------------------------------------------------------- unpacked layers */

char *layer_store_unpacked_path(struct layer_store *s, const char *diff_id)
{
	return xasprintf("%s/layers/sha256/%s", s->root, digest_hex(diff_id));
}

bool layer_store_unpacked_exists(struct layer_store *s, const char *diff_id)
{
	if (!digest_is_valid(diff_id))
		return false;
	_cleanup_free_ char *rel = xasprintf("layers/sha256/%s", digest_hex(diff_id));
	struct stat st;
	return fstatat(s->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

int layer_store_unpacked_publish(struct layer_store *s, const char *diff_id,
				 const char *tmp_dir, struct molt_error **err)
{
	int r = check_digest_arg(diff_id, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *rel = xasprintf("layers/sha256/%s", digest_hex(diff_id));
	r = store_fresh_mark(s, digest_hex(diff_id), tmp_dir, err);
	if (r < 0)
		return r;
	/* rename(2) onto an existing non-empty directory fails: the first one wins. */
	if (renameat(AT_FDCWD, tmp_dir, s->rootfd, rel) < 0) {
		int e = errno;
		if ((e == EEXIST || e == ENOTEMPTY) && layer_store_unpacked_exists(s, diff_id))
			return rm_rf(tmp_dir, err);
		return molt_error_set(err, e, "publish unpacked layer %s", diff_id);
	}
	store_fsync_dir(s->rootfd, "layers/sha256");
	return 0;
}

/* ---------------------------------------------------------------- images */

void image_free(struct image *img)
{
	if (!img)
		return;
	image_manifest_done(&img->manifest);
	image_config_done(&img->config);
	strv_free(img->names);
	free(img);
}

static int read_manifest(struct layer_store *s, const char *digest, struct image_manifest *ret,
			 int64_t *ret_size, struct molt_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = layer_store_blob_read(s, digest, JSON_BLOB_MAX, &data, &len, err);
	if (r == 0)
		r = image_manifest_parse(data, len, ret, err);
	if (r < 0)
		return molt_error_wrap(err, "manifest %s", digest);
	if (ret_size)
		*ret_size = (int64_t)len;
	return 0;
}

int layer_store_image_get(struct layer_store *s, const char *manifest_digest,
			  struct image **ret, struct molt_error **err)
{
	struct image *img = xcalloc(1, sizeof(*img));
	snprintf(img->manifest_digest, sizeof(img->manifest_digest), "%s", manifest_digest);
	int r = read_manifest(s, manifest_digest, &img->manifest, &img->manifest_size, err);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (r == 0) {
		memcpy(img->id, img->manifest.config.digest, DIGEST_STR_LEN);
		r = layer_store_blob_read(s, img->id, JSON_BLOB_MAX, &data, &len, err);
	}
	if (r == 0)
		r = image_config_parse(data, len, &img->config, err);
	struct image_entry *v = NULL;
	size_t n = 0;
	if (r == 0)
		r = layer_store_list(s, &v, &n, err);
	if (r < 0) {
		image_free(img);
		return molt_error_wrap(err, "image %s", manifest_digest);
	}
	img->names = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		if (v[i].name && !strcmp(v[i].manifest_digest, manifest_digest))
			strv_push(&img->names, v[i].name);
	image_entries_free(v, n);
	*ret = img;
	return 0;
}

static bool is_id_prefix(const char *what)
{
	const char *h = digest_hex(what);
	size_t n = strlen(h);
	return n >= 4 && n <= 64 && strspn(h, "0123456789abcdef") == n;
}

/* Looks what up as an image ID (config digest) or a manifest digest, or a prefix of either. */
static int resolve_by_id(struct layer_store *s, const char *what, char ret[DIGEST_STR_LEN],
			 struct molt_error **err)
{
	struct image_entry *v = NULL;
	size_t n = 0, found = 0;
	int r = layer_store_list(s, &v, &n, err);
	if (r < 0)
		return r;
	const char *h = digest_hex(what);
	size_t hl = strlen(h);
	char match[DIGEST_STR_LEN] = "", match_id[DIGEST_STR_LEN] = "";
	for (size_t i = 0; i < n; i++) {
		struct image_manifest m;
		if (!strcmp(v[i].manifest_digest, match))
			continue;
		if (read_manifest(s, v[i].manifest_digest, &m, NULL, NULL) < 0)
			continue; /* a broken image is reported when it is used, not here */
		bool hit = !strncmp(digest_hex(m.config.digest), h, hl) ||
			   !strncmp(digest_hex(v[i].manifest_digest), h, hl);
		if (hit && strcmp(m.config.digest, match_id) != 0) {
			found++;
			memcpy(match, v[i].manifest_digest, DIGEST_STR_LEN);
			memcpy(match_id, m.config.digest, DIGEST_STR_LEN);
		}
		image_manifest_done(&m);
	}
	image_entries_free(v, n);
	if (found > 1)
		return molt_error_setx(err, EINVAL, "image ID prefix '%s' is ambiguous (%zu images)",
				       what, found);
	if (!found)
		return -ENOENT;
	memcpy(ret, match, DIGEST_STR_LEN);
	return 0;
}

static int resolve_by_name(struct layer_store *s, const struct image_ref *ref,
			   char ret[DIGEST_STR_LEN], struct molt_error **err)
{
	if (ref->digest && !ref->tag) {
		/* name@sha256:…: the manifest itself, when the store has it. */
		struct image_entry *v = NULL;
		size_t n = 0;
		int r = layer_store_list(s, &v, &n, err);
		if (r < 0)
			return r;
		r = -ENOENT;
		for (size_t i = 0; i < n && r < 0; i++)
			if (!strcmp(v[i].manifest_digest, ref->digest)) {
				memcpy(ret, ref->digest, DIGEST_STR_LEN);
				r = 0;
			}
		image_entries_free(v, n);
		return r;
	}
	_cleanup_free_ char *name = xasprintf("%s/%s:%s", ref->domain, ref->path, ref->tag);
	int r = layer_store_tag_get(s, name, ret, err);
	if (r == 0 && ref->digest && strcmp(ret, ref->digest) != 0)
		return -ENOENT;
	return r;
}

int layer_store_resolve(struct layer_store *s, const char *what, struct image **ret,
			struct molt_error **err)
{
	char digest[DIGEST_STR_LEN];
	struct image_ref ref = {0};
	_cleanup_error_ struct molt_error *parse_err = NULL;
	int r = -ENOENT;
	bool id_like = is_id_prefix(what) && (str_startswith(what, DIGEST_PREFIX) ||
					      strspn(what, "0123456789abcdef") == strlen(what));
	int pr = str_startswith(what, DIGEST_PREFIX) ? -EINVAL : image_ref_parse(what, &ref, &parse_err);
	if (pr == 0) {
		r = resolve_by_name(s, &ref, digest, err);
		image_ref_done(&ref);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	if (r == -ENOENT && id_like) {
		r = resolve_by_id(s, what, digest, err);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	if (r == -ENOENT && pr < 0 && !id_like && parse_err) {
		/* Neither a name nor an ID: say why it is not a name. */
		*err = TAKE_PTR(parse_err);
		return molt_error_ret(*err);
	}
	if (r == -ENOENT)
		return molt_error_setx(err, ENOENT, "image '%s' not found", what);
	return layer_store_image_get(s, digest, ret, err);
}

int layer_store_image_commit(struct layer_store *s, const struct image_config *config,
			     const struct image_descriptor *layers, size_t n_layers,
			     char *const *names, char ret_manifest[DIGEST_STR_LEN],
			     struct molt_error **err)
{
	return layer_store_image_commit_annotated(s, config, layers, n_layers, NULL, names,
						  ret_manifest, err);
}

int layer_store_image_commit_annotated(struct layer_store *s, const struct image_config *config,
				       const struct image_descriptor *layers, size_t n_layers,
				       char *const *annotations, char *const *names,
				       char ret_manifest[DIGEST_STR_LEN], struct molt_error **err)
{
	_cleanup_strv_ char **norm = NULL;
	int r = store_normalize_names(names, &norm, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_layers; i++)
		if (!layer_store_blob_exists(s, layers[i].digest))
			return molt_error_setx(err, ENOENT, "commit image: layer blob %s is missing",
					       layers[i].digest);
	_cleanup_free_ char *cfg = image_config_to_json(config);
	struct image_manifest m = {.media_type = (char *)MEDIA_OCI_MANIFEST,
				   .config = {.media_type = (char *)MEDIA_OCI_CONFIG,
					      .size = (int64_t)strlen(cfg)},
				   .layers = (struct image_descriptor *)layers,
				   .n_layers = n_layers,
				   .annotations = (char **)annotations};
	r = layer_store_blob_put_mem(s, cfg, strlen(cfg), NULL, m.config.digest, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *man = image_manifest_to_json(&m);
	char digest[DIGEST_STR_LEN];
	r = layer_store_blob_put_mem(s, man, strlen(man), NULL, digest, err);
	if (r == 0)
		r = layer_store_index_add(s, digest, norm, err);
	if (r < 0)
		return r;
	memcpy(ret_manifest, digest, DIGEST_STR_LEN);
	return 0;
}
