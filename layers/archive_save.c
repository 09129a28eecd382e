/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/archive_save.c: `molt save` — an image as a `docker load` tar (config
 * "<id>.json", uncompressed layers "<diff id>.tar", manifest.json with full names in
 * RepoTags, repositories) or as an OCI archive (a tar of an OCI image layout, named the way BuildKit's oci
 * exporter names it), or as an OCI layout directory (`molt build -o type=oci,dest=DIR`).
 *
 * Entries carry fixed metadata (mtime 0, uid/gid 0, no user names) in a fixed order,
 * so saving the same image twice gives the same bytes. Every blob is verified against
 * its digest while it is copied out; docker's uncompressed layers against their diff
 * IDs. The output appears by rename only when complete.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>

#include "layers_int.h"

/* Where entries go: a tar (a) or, for an OCI layout directory, files under dirfd. */
struct out {
	struct archive *a;
	int dirfd;  /* -1 when writing a tar */
	int cur_fd; /* the file being written in directory mode */
	uint64_t cur_written, cur_kicked; /* its bytes so far; writeback_kick's mark */
	struct layer_store *s;
	const char *path; /* for messages */
};

static int out_fail(struct out *o, struct molt_error **err)
{
	if (!o->a)
		return molt_error_set(err, errno, "write '%s'", o->path);
	const char *msg = archive_error_string(o->a);
	return molt_error_setx(err, EIO, "write '%s': %s", o->path, msg ? msg : "unknown error");
}

static int add_header(struct out *o, const char *name, mode_t type, int64_t size,
		      struct molt_error **err)
{
	if (o->dirfd >= 0) {
		if (type == AE_IFDIR)
			return mkdirat(o->dirfd, name, 0755) < 0 && errno != EEXIST
				       ? molt_error_set(err, errno, "create '%s/%s'", o->path, name)
				       : 0;
		o->cur_written = o->cur_kicked = 0;
		o->cur_fd = openat(o->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		return o->cur_fd < 0 ? molt_error_set(err, errno, "create '%s/%s'", o->path, name) : 0;
	}
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_size(e, type == AE_IFDIR ? 0 : size);
	archive_entry_set_mtime(e, 0, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	int r = archive_write_header(o->a, e);
	archive_entry_free(e);
	return r == ARCHIVE_OK ? 0 : out_fail(o, err);
}

static int add_data(struct out *o, const void *buf, size_t n, struct molt_error **err)
{
	if (o->dirfd >= 0) {
		int r = write_all(o->cur_fd, buf, n);
		if (r < 0)
			return molt_error_set(err, -r, "write into '%s'", o->path);
		/* each file is fsync'ed at its end (end_file): start that early */
		o->cur_written += n;
		writeback_kick(o->cur_fd, &o->cur_kicked, o->cur_written);
		return 0;
	}
	return archive_write_data(o->a, buf, n) == (la_ssize_t)n ? 0 : out_fail(o, err);
}

/* Ends a file: in directory mode it is made durable before the layout is renamed. */
static int end_file(struct out *o, int r, struct molt_error **err)
{
	if (o->dirfd < 0 || o->cur_fd < 0)
		return r;
	if (r == 0 && fsync(o->cur_fd) < 0)
		r = molt_error_set(err, errno, "sync a file in '%s'", o->path);
	closep(&o->cur_fd);
	o->cur_fd = -1;
	return r;
}

static int add_mem(struct out *o, const char *name, const void *data, size_t len,
		   struct molt_error **err)
{
	int r = add_header(o, name, AE_IFREG, (int64_t)len, err);
	if (r == 0 && len)
		r = add_data(o, data, len, err);
	return end_file(o, r, err);
}

/* Streams fd (size bytes) into the output; want (may be NULL) must be its digest. */
static int add_fd(struct out *o, const char *name, int fd, int64_t size, const char *want,
		  struct molt_error **err)
{
	int r = add_header(o, name, AE_IFREG, size, err);
	if (r < 0)
		return r;
	struct digester *d = digester_new();
	char buf[65536], got[DIGEST_STR_LEN];
	while (r == 0) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = molt_error_set(err, errno, "read '%s'", name);
		if (n <= 0)
			break;
		digester_update(d, buf, (size_t)n);
		r = add_data(o, buf, (size_t)n, err);
	}
	bool short_read = r == 0 && (int64_t)digester_size(d) != size;
	digester_final(d, got);
	digester_free(d);
	if (r == 0 && (short_read || (want && strcmp(got, want) != 0)))
		r = molt_error_setx(err, EBADMSG, "'%s' changed or is corrupt: expected %s, got %s",
				    name, want ? want : "its size", got);
	return end_file(o, r, err);
}

static int add_blob(struct out *o, const char *name, const char *digest, struct molt_error **err)
{
	_cleanup_close_ int fd = -1;
	int64_t size = 0;
	int r = layer_store_blob_open(o->s, digest, false, &fd, &size, err);
	if (r == 0)
		r = add_fd(o, name, fd, size, digest, err);
	return r;
}

/* ---------------------------------------------------------------- docker */

struct unz {
	int fd;
	struct digester *d;
};

static int unz_cb(const void *buf, size_t n, void *ud)
{
	struct unz *u = ud;
	digester_update(u->d, buf, n);
	return write_all(u->fd, buf, n);
}

/* An uncompressed copy of a layer in scratch space, checked against its diff ID. */
static int uncompressed_layer(struct layer_store *s, const char *blob, const char *diff_id,
			      int *ret_fd, int64_t *ret_size, struct molt_error **err)
{
	const char *tmp;
	_cleanup_close_ int in = -1;
	int r = layer_store_tmpdir(s, &tmp, err);
	if (r == 0)
		r = layer_store_blob_open(s, blob, true, &in, NULL, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(tmp, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
	if (fd < 0)
		return molt_error_set(err, errno, "create a temporary file in '%s'", tmp);
	struct unz u = {.fd = fd, .d = digester_new()};
	char got[DIGEST_STR_LEN];
	r = blob_decompress(in, unz_cb, &u, err);
	if (r < 0 && !*err)
		r = molt_error_set(err, -r, "write uncompressed layer %s", diff_id);
	*ret_size = (int64_t)digester_size(u.d);
	digester_final(u.d, got);
	digester_free(u.d);
	if (r == 0 && strcmp(got, diff_id) != 0)
		r = molt_error_setx(err, EBADMSG, "layer %s does not match its diff ID %s (content %s)",
				    blob, diff_id, got);
	if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
		r = molt_error_set(err, errno, "seek");
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* IMAGE_SAVE_DOCKER_BLOBS: the layer blobs as they are (docker load and podman
 * decompress what they find and check the diff IDs). */
static int docker_blob_layers(struct out *o, const struct image *img, json_t *layers,
			      struct molt_error **err)
{
	int r = add_header(o, "blobs/", AE_IFDIR, 0, err);
	if (r == 0)
		r = add_header(o, "blobs/sha256/", AE_IFDIR, 0, err);
	for (size_t i = 0; r == 0 && i < img->manifest.n_layers; i++) {
		const char *d = img->manifest.layers[i].digest;
		_cleanup_free_ char *name = xasprintf("blobs/sha256/%s", digest_hex(d));
		json_array_append_new(layers, json_string(name));
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen |= !strcmp(img->manifest.layers[j].digest, d);
		if (!seen)
			r = add_blob(o, name, d, err);
	}
	return r;
}

static int docker_layers(struct out *o, const struct image *img, json_t *layers, bool blobs,
			 struct molt_error **err)
{
	char *const *diff_ids = img->config.diff_ids;
	if (strv_len(diff_ids) != img->manifest.n_layers)
		return molt_error_setx(err, EINVAL, "image %s: %zu layers but %zu diff IDs", img->id,
				       img->manifest.n_layers, strv_len(diff_ids));
	if (blobs)
		return docker_blob_layers(o, img, layers, err);
	for (size_t i = 0; diff_ids[i]; i++) {
		_cleanup_free_ char *name = xasprintf("%s.tar", digest_hex(diff_ids[i]));
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen |= !strcmp(diff_ids[j], diff_ids[i]);
		json_array_append_new(layers, json_string(name));
		if (seen)
			continue; /* the same layer twice is written once */
		/* A layer stored uncompressed (what build steps commit) is copied as it is. */
		if (!strcmp(img->manifest.layers[i].digest, diff_ids[i])) {
			int r = add_blob(o, name, diff_ids[i], err);
			if (r < 0)
				return r;
			continue;
		}
		_cleanup_close_ int fd = -1;
		int64_t size = 0;
		int r = uncompressed_layer(o->s, img->manifest.layers[i].digest, diff_ids[i], &fd,
					   &size, err);
		if (r == 0)
			r = add_fd(o, name, fd, size, diff_ids[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int save_docker(struct out *o, const struct image *img, char *const *names, bool blobs,
		       struct molt_error **err)
{
	_cleanup_free_ char *cfg_name = xasprintf("%s.json", digest_hex(img->id));
	_cleanup_(json_decrefp) json_t *manifest = json_array();
	_cleanup_(json_decrefp) json_t *repos = json_object();
	json_t *item = json_object(), *tags = json_array(), *layers = json_array();
	json_object_set_new(item, "Config", json_string(cfg_name));
	json_object_set_new(item, "RepoTags", tags);
	json_object_set_new(item, "Layers", layers);
	json_array_append_new(manifest, item);
	size_t n_diff = strv_len(img->config.diff_ids);
	for (size_t i = 0; names && names[i]; i++) {
		struct image_ref ref;
		if (image_ref_parse(names[i], &ref, err) < 0)
			return molt_error_pass(err);
		/*
		 * Full names: docker load normalises them back, and podman would put a
		 * short name under localhost/.
		 */
		_cleanup_free_ char *fam = image_ref_string(&ref);
		if (ref.tag && !ref.digest) {
			json_array_append_new(tags, json_string(fam));
			*strrchr(fam, ':') = '\0';
			json_t *r = json_object_get(repos, fam);
			if (!r)
				json_object_set_new(repos, fam, r = json_object());
			if (n_diff)
				json_object_set_new(r, ref.tag,
						    json_string(digest_hex(img->config.diff_ids[n_diff - 1])));
		}
		image_ref_done(&ref);
	}
	int r = add_blob(o, cfg_name, img->id, err);
	if (r == 0)
		r = docker_layers(o, img, layers, blobs, err);
	_cleanup_free_ char *mj = json_dumps(manifest, JSON_COMPACT);
	_cleanup_free_ char *rj = json_dumps(repos, JSON_COMPACT | JSON_SORT_KEYS);
	if (r == 0)
		r = add_mem(o, "manifest.json", mj, strlen(mj), err);
	if (r == 0 && json_object_size(repos))
		r = add_mem(o, "repositories", rj, strlen(rj), err);
	return r;
}

/* ---------------------------------------------------------------- OCI */

static char *oci_index(const struct image *img, char *const *names)
{
	struct image_index idx = {.manifests = xcalloc(strv_len(names) + 2, sizeof(struct image_descriptor))};
	for (size_t i = 0; i == 0 || (names && names[i]); i++) {
		struct image_descriptor *d = &idx.manifests[idx.n_manifests++];
		d->media_type = xstrdup(img->manifest.media_type ? img->manifest.media_type
								 : MEDIA_OCI_MANIFEST);
		memcpy(d->digest, img->manifest_digest, DIGEST_STR_LEN);
		d->size = img->manifest_size;
		struct image_ref ref;
		if (!names || !names[i] || image_ref_parse(names[i], &ref, NULL) < 0)
			continue;
		/* BuildKit's oci exporter: the full name for containerd, the tag as ref.name. */
		_cleanup_free_ char *full = image_ref_string(&ref);
		image_kv_set(&d->annotations, ANNOTATION_CONTAINERD_NAME, full);
		if (ref.tag)
			image_kv_set(&d->annotations, ANNOTATION_REF_NAME, ref.tag);
		image_ref_done(&ref);
	}
	char *json = image_index_to_json(&idx);
	image_index_done(&idx);
	return json;
}

static int save_oci(struct out *o, const struct image *img, char *const *names,
		    struct molt_error **err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	_cleanup_free_ char *index = oci_index(img, names);
	_cleanup_strv_ char **blobs = NULL;
	strv_push(&blobs, img->manifest_digest);
	strv_push(&blobs, img->id);
	for (size_t i = 0; i < img->manifest.n_layers; i++)
		if (!strv_contains(blobs, img->manifest.layers[i].digest))
			strv_push(&blobs, img->manifest.layers[i].digest);
	strv_sort(blobs);
	int r = add_mem(o, "oci-layout", layout, strlen(layout), err);
	if (r == 0)
		r = add_mem(o, "index.json", index, strlen(index), err);
	if (r == 0)
		r = add_header(o, "blobs/", AE_IFDIR, 0, err);
	if (r == 0)
		r = add_header(o, "blobs/sha256/", AE_IFDIR, 0, err);
	for (size_t i = 0; r == 0 && blobs[i]; i++) {
		_cleanup_free_ char *name = xasprintf("blobs/sha256/%s", digest_hex(blobs[i]));
		r = add_blob(o, name, blobs[i], err);
	}
	return r;
}

/* ---------------------------------------------------------------- entry point */

/* An OCI layout directory: built beside out_path, renamed into place when complete. */
static int save_layout_dir(struct layer_store *s, const struct image *img, char *const *names,
			   const char *out_arg, struct molt_error **err)
{
	_cleanup_free_ char *out_path = xstrdup(out_arg);
	for (size_t n = strlen(out_path); n > 1 && out_path[n - 1] == '/'; n--)
		out_path[n - 1] = '\0';
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-XXXXXX", out_path);
	if (!mkdtemp(tmp))
		return molt_error_set(err, errno, "save: create '%s'", tmp);
	struct out o = {.dirfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC), .cur_fd = -1,
			.s = s, .path = out_path};
	int r = o.dirfd < 0 ? molt_error_set(err, errno, "save: open '%s'", tmp) : 0;
	if (r == 0)
		r = save_oci(&o, img, names, err);
	if (r == 0 && (fchmod(o.dirfd, 0755) < 0 || fsync(o.dirfd) < 0))
		r = molt_error_set(err, errno, "save: sync '%s'", tmp);
	closep(&o.dirfd);
	/* rename(2) replaces an empty directory and refuses a non-empty one. */
	if (r == 0 && rename(tmp, out_path) < 0)
		r = errno == ENOTEMPTY || errno == EEXIST
			    ? molt_error_setx(err, ENOTEMPTY, "'%s' exists and is not an empty directory",
					      out_path)
			    : molt_error_set(err, errno, "rename '%s' to '%s'", tmp, out_path);
	if (r < 0) {
		struct molt_error *e = NULL;
		if (rm_rf(tmp, &e) < 0)
			molt_error_drop(&e, "save: a partial .tmp- directory stays beside the "
					    "destination");
		return molt_error_wrap(err, "save %s", img->id);
	}
	return 0;
}

int layer_store_save(struct layer_store *s, const struct image *img, char *const *names,
		     enum image_save_format fmt, const char *out_path, struct molt_error **err)
{
	if (fmt == IMAGE_SAVE_OCI_LAYOUT)
		return save_layout_dir(s, img, names, out_path, err);
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-XXXXXX", out_path);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return molt_error_set(err, errno, "save: create '%s'", tmp);
	struct out o = {.a = archive_write_new(), .dirfd = -1, .cur_fd = -1, .s = s, .path = out_path};
	int r = 0;
	if (archive_write_set_format_pax_restricted(o.a) != ARCHIVE_OK ||
	    archive_write_open_fd(o.a, fd) != ARCHIVE_OK)
		r = out_fail(&o, err);
	if (r == 0)
		r = fmt == IMAGE_SAVE_OCI ? save_oci(&o, img, names, err)
					  : save_docker(&o, img, names, fmt == IMAGE_SAVE_DOCKER_BLOBS, err);
	if (r == 0 && archive_write_close(o.a) != ARCHIVE_OK)
		r = out_fail(&o, err);
	archive_write_free(o.a);
	if (r == 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
		r = molt_error_set(err, errno, "save: sync '%s'", tmp);
	if (r == 0 && rename(tmp, out_path) < 0)
		r = molt_error_set(err, errno, "save: rename '%s' to '%s'", tmp, out_path);
	if (r < 0) {
		unlink(tmp);
		return molt_error_wrap(err, "save %s", img->id);
	}
	return 0;
}
