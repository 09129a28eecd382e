/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/store_index.c: the store's index.json — which names point at which
 * manifests. It is replaced by rename under `lock` held exclusive; readers take it
 * shared (see store.c for the store's concurrency and durability rules).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "layers_int.h"

#define INDEX_MAX (64u << 20)


/* Locks index.json (exclusive: to write it back; the lock is *ret_fd) and reads it. */
static int index_open(struct layer_store *s, bool exclusive, int *ret_fd,
		      struct image_index *ret, struct molt_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = store_lock_file(s->rootfd, "lock", exclusive, true, ret_fd, err);
	if (r == 0)
		r = read_file_at(s->rootfd, "index.json", INDEX_MAX, &data, &len, err);
	if (r == 0)
		r = image_index_parse(data, len, ret, err);
	if (r < 0)
		return molt_error_wrap(err, "store '%s'", s->root);
	return 0;
}

static const char *entry_name(const struct image_descriptor *d)
{
	const char *n = image_descriptor_annotation(d, ANNOTATION_CONTAINERD_NAME);
	return n ? n : image_descriptor_annotation(d, ANNOTATION_REF_NAME);
}

static int entry_cmp(const void *a, const void *b)
{
	const char *na = entry_name(a), *nb = entry_name(b);
	if (na && nb)
		return strcmp(na, nb);
	if (na || nb)
		return na ? -1 : 1;
	return strcmp(((const struct image_descriptor *)a)->digest,
		      ((const struct image_descriptor *)b)->digest);
}

static int index_write(struct layer_store *s, struct image_index *idx, struct molt_error **err)
{
	qsort(idx->manifests, idx->n_manifests, sizeof(*idx->manifests), entry_cmp);
	_cleanup_free_ char *json = image_index_to_json(idx);
	_cleanup_free_ char *p = xasprintf("%s/index.json", s->root);
	return write_file_atomic(p, json, strlen(json), 0644, err);
}

static void index_remove_at(struct image_index *idx, size_t i)
{
	image_descriptor_done(&idx->manifests[i]);
	memmove(&idx->manifests[i], &idx->manifests[i + 1],
		(idx->n_manifests - i - 1) * sizeof(*idx->manifests));
	idx->n_manifests--;
}

static void index_append(struct image_index *idx, const char *media_type, const char *digest,
			 int64_t size, const char *name)
{
	idx->manifests = xrealloc(idx->manifests, (idx->n_manifests + 1) * sizeof(*idx->manifests));
	struct image_descriptor *d = &idx->manifests[idx->n_manifests++];
	*d = (struct image_descriptor){.media_type = xstrdup(media_type), .size = size};
	snprintf(d->digest, sizeof(d->digest), "%s", digest);
	if (name) {
		image_kv_set(&d->annotations, ANNOTATION_CONTAINERD_NAME, name);
		image_kv_set(&d->annotations, ANNOTATION_REF_NAME, name);
	}
}

/* Removes the entries named `name` (all untagged ones of `digest` when name is NULL). */
static size_t index_drop(struct image_index *idx, const char *name, const char *digest)
{
	size_t dropped = 0;
	for (size_t i = 0; i < idx->n_manifests;) {
		const char *n = entry_name(&idx->manifests[i]);
		bool match = name ? (n && !strcmp(n, name))
				  : (!n && !strcmp(idx->manifests[i].digest, digest));
		if (match) {
			index_remove_at(idx, i);
			dropped++;
		} else {
			i++;
		}
	}
	return dropped;
}

static bool index_has_digest(const struct image_index *idx, const char *digest)
{
	for (size_t i = 0; i < idx->n_manifests; i++)
		if (!strcmp(idx->manifests[i].digest, digest))
			return true;
	return false;
}

static int manifest_config(struct layer_store *s, const char *digest, char ret[DIGEST_STR_LEN]);

/* Whether two manifests describe the same image ID (e.g. docker and OCI forms). */
static bool same_config(struct layer_store *s, const char *a, const char *b)
{
	char ca[DIGEST_STR_LEN], cb[DIGEST_STR_LEN];
	return manifest_config(s, a, ca) == 0 && manifest_config(s, b, cb) == 0 && !strcmp(ca, cb);
}

/*
 * Points name at digest. An image that loses its last name this way stays in the
 * store untagged, listed by its ID, as docker leaves a "<none>" image behind —
 * unless the new manifest has the same image ID (the same image stored again with
 * other layer compression, as a docker save tar's load does): then it is replaced.
 */
static void index_retag(struct layer_store *s, struct image_index *idx, const char *name,
			const char *media, const char *digest, int64_t size)
{
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const char *n = entry_name(&idx->manifests[i]);
		if (!n || strcmp(n, name) != 0)
			continue;
		struct image_descriptor old;
		image_descriptor_copy(&old, &idx->manifests[i]);
		index_remove_at(idx, i);
		if (strcmp(old.digest, digest) != 0 && !index_has_digest(idx, old.digest) &&
		    !same_config(s, old.digest, digest))
			index_append(idx, old.media_type ? old.media_type : MEDIA_OCI_MANIFEST,
				     old.digest, old.size, NULL);
		image_descriptor_done(&old);
		break;
	}
	index_append(idx, media, digest, size, name);
}

/* The manifest's media type and size, read from (and verified against) its blob. */
static int manifest_info(struct layer_store *s, const char *digest, char **ret_media,
			 int64_t *ret_size, struct molt_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = layer_store_blob_read(s, digest, JSON_BLOB_MAX, &data, &len, err);
	if (r < 0)
		return r;
	struct image_manifest m;
	r = image_manifest_parse(data, len, &m, err);
	if (r < 0)
		return molt_error_wrap(err, "manifest %s", digest);
	*ret_media = xstrdup(m.media_type ? m.media_type : MEDIA_OCI_MANIFEST);
	*ret_size = (int64_t)len;
	image_manifest_done(&m);
	return 0;
}

static int manifest_config(struct layer_store *s, const char *digest, char ret[DIGEST_STR_LEN])
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	struct image_manifest m;
	if (layer_store_blob_read(s, digest, JSON_BLOB_MAX, &data, &len, NULL) < 0 ||
	    image_manifest_parse(data, len, &m, NULL) < 0)
		return -EINVAL;
	memcpy(ret, m.config.digest, DIGEST_STR_LEN);
	image_manifest_done(&m);
	return 0;
}

/* Normalises every name first, so a bad one changes nothing. */
int store_normalize_names(char *const *names, char ***ret, struct molt_error **err)
{
	_cleanup_strv_ char **out = xcalloc(1, sizeof(char *));
	for (size_t i = 0; names && names[i]; i++) {
		char *n;
		int r = image_ref_normalize(names[i], &n, err);
		if (r < 0)
			return r;
		strv_push_take(&out, n);
	}
	*ret = TAKE_PTR(out);
	return 0;
}

int layer_store_index_add(struct layer_store *s, const char *manifest_digest, char *const *names,
			  struct molt_error **err)
{
	_cleanup_strv_ char **norm = NULL;
	_cleanup_free_ char *media = NULL;
	int64_t size = 0;
	int r = store_normalize_names(names, &norm, err);
	if (r == 0)
		r = manifest_info(s, manifest_digest, &media, &size, err);
	if (r < 0)
		return r;
	_cleanup_close_ int lfd = -1;
	struct image_index idx = {0};
	r = index_open(s, true, &lfd, &idx, err);
	if (r < 0)
		return r;
	for (size_t i = 0; norm[i]; i++)
		index_retag(s, &idx, norm[i], media, manifest_digest, size);
	if (norm[0])
		index_drop(&idx, NULL, manifest_digest);
	else if (!index_has_digest(&idx, manifest_digest))
		index_append(&idx, media, manifest_digest, size, NULL);
	r = index_write(s, &idx, err);
	image_index_done(&idx);
	return r;
}

int layer_store_tag_set(struct layer_store *s, const char *name, const char *manifest_digest,
			struct molt_error **err)
{
	char *const names[] = {(char *)name, NULL};
	return layer_store_index_add(s, manifest_digest, names, err);
}

int layer_store_tag_get(struct layer_store *s, const char *name,
			char ret_manifest[DIGEST_STR_LEN], struct molt_error **err)
{
	_cleanup_free_ char *norm = NULL;
	int r = image_ref_normalize(name, &norm, err);
	if (r < 0)
		return r;
	_cleanup_close_ int lfd = -1;
	struct image_index idx = {0};
	r = index_open(s, false, &lfd, &idx, err);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < idx.n_manifests && r < 0; i++) {
		const char *n = entry_name(&idx.manifests[i]);
		if (n && !strcmp(n, norm)) {
			memcpy(ret_manifest, idx.manifests[i].digest, DIGEST_STR_LEN);
			r = 0;
		}
	}
	image_index_done(&idx);
	return r;
}

/* Removes entries by name, or every entry of a digest (name NULL). */
static int index_remove(struct layer_store *s, const char *name, const char *digest,
			struct molt_error **err)
{
	_cleanup_close_ int lfd = -1;
	struct image_index idx = {0};
	int r = index_open(s, true, &lfd, &idx, err);
	if (r < 0)
		return r;
	size_t dropped = 0;
	for (size_t i = 0; i < idx.n_manifests;) {
		const char *n = entry_name(&idx.manifests[i]);
		if (name ? (n && !strcmp(n, name)) : !strcmp(idx.manifests[i].digest, digest)) {
			index_remove_at(&idx, i);
			dropped++;
		} else {
			i++;
		}
	}
	if (dropped)
		r = index_write(s, &idx, err);
	else
		r = molt_error_setx(err, ENOENT, "image '%s' not found", name ? name : digest);
	image_index_done(&idx);
	return r;
}

int layer_store_tag_remove(struct layer_store *s, const char *name, struct molt_error **err)
{
	_cleanup_free_ char *norm = NULL;
	int r = image_ref_normalize(name, &norm, err);
	if (r < 0)
		return r;
	return index_remove(s, norm, NULL, err);
}

int layer_store_image_remove(struct layer_store *s, const char *manifest_digest,
			     struct molt_error **err)
{
	return index_remove(s, NULL, manifest_digest, err);
}

void image_entries_free(struct image_entry *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].name);
	free(v);
}

int layer_store_list(struct layer_store *s, struct image_entry **ret, size_t *ret_n,
		     struct molt_error **err)
{
	_cleanup_close_ int lfd = -1;
	struct image_index idx = {0};
	int r = index_open(s, false, &lfd, &idx, err);
	if (r < 0)
		return r;
	struct image_entry *v = xcalloc(idx.n_manifests + 1, sizeof(*v));
	for (size_t i = 0; i < idx.n_manifests; i++) {
		const char *n = entry_name(&idx.manifests[i]);
		v[i].name = n ? xstrdup(n) : NULL;
		memcpy(v[i].manifest_digest, idx.manifests[i].digest, DIGEST_STR_LEN);
	}
	*ret = v;
	*ret_n = idx.n_manifests;
	image_index_done(&idx);
	return 0;
}
