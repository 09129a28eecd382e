/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/cache_artifact.c: the remote build cache's format (see layers.h): the records
 * (a config blob), the OCI image index naming them and the layer blobs, and the inline
 * form as a manifest annotation. Pure: no I/O (unit-tested in tests/unit/test_cache_remote.c).
 *
 * Shaped after BuildKit's registry cache (an index whose descriptors are the layer blobs
 * plus one application/vnd.buildkit.cacheconfig.v0 config), not byte compatible with it:
 * molt's records are its own step keys.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "layers_int.h"

void cache_records_done(struct cache_records *r)
{
	for (size_t i = 0; r && i < r->n; i++)
		cache_entry_done(&r->e[i]);
	if (r) {
		free(r->e);
		*r = (struct cache_records){0};
	}
}

static void entry_copy(struct cache_entry *dst, const struct cache_entry *src)
{
	*dst = *src;
	dst->media_type = src->media_type ? xstrdup(src->media_type) : NULL;
	dst->created = src->created ? xstrdup(src->created) : NULL;
	dst->created_by = src->created_by ? xstrdup(src->created_by) : NULL;
	dst->comment = src->comment ? xstrdup(src->comment) : NULL;
}

void cache_records_add(struct cache_records *r, const struct cache_entry *e)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->e[i].key, e->key))
			return;
	r->e = xrealloc(r->e, (r->n + 1) * sizeof(*r->e));
	entry_copy(&r->e[r->n++], e);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct cache_entry *)a)->key, ((const struct cache_entry *)b)->key);
}

void cache_records_sort(struct cache_records *r)
{
	if (r->n)
		qsort(r->e, r->n, sizeof(*r->e), cmp_entry);
}

const struct cache_entry *cache_records_find(const struct cache_records *r, const char *key)
{
	if (!r->n)
		return NULL;
	struct cache_entry k = {0};
	snprintf(k.key, sizeof(k.key), "%s", key);
	return bsearch(&k, r->e, r->n, sizeof(*r->e), cmp_entry);
}

char *cache_records_to_json(const struct cache_records *r)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < r->n; i++) {
		_cleanup_free_ char *s = cache_entry_to_json(&r->e[i]);
		json_array_append_new(arr, json_loads(s, 0, NULL));
	}
	json_t *root = json_pack("{s:i, s:o}", "version", 1, "records", arr);
	char *out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	return out;
}

static int records_from(json_t *root, struct cache_records *ret, struct molt_error **err)
{
	json_t *arr = json_object_get(root, "records");
	if (json_integer_value(json_object_get(root, "version")) != 1 || !json_is_array(arr))
		return molt_error_setx(err, EINVAL, "build cache records: not version 1 records");
	if (json_array_size(arr) > MOLT_CACHE_MAX_RECORDS)
		return molt_error_setx(err, EFBIG, "build cache records: more than %u",
				       MOLT_CACHE_MAX_RECORDS);
	struct cache_records r = {0};
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		_cleanup_free_ char *s = json_dumps(v, JSON_COMPACT);
		struct cache_entry e = {0};
		if (!s || cache_entry_from_json(s, strlen(s), &e) < 0) {
			cache_records_done(&r);
			return molt_error_setx(err, EINVAL, "build cache records: record %zu is "
						"malformed", i);
		}
		cache_records_add(&r, &e);
		cache_entry_done(&e);
	}
	cache_records_sort(&r);
	*ret = r;
	return 0;
}

int cache_records_parse(const char *data, size_t len, struct cache_records *ret,
			struct molt_error **err)
{
	json_t *root = json_loadb(data, len, 0, NULL);
	int r = root ? records_from(root, ret, err)
		     : molt_error_setx(err, EINVAL, "build cache records: not JSON");
	json_decref(root);
	return r;
}

char *cache_artifact_index(const struct cache_records *r, const struct image_descriptor *config,
			   const char *mode)
{
	json_t *m = json_array();
	for (size_t i = 0; i < r->n; i++) {
		const struct cache_entry *e = &r->e[i];
		if (!e->has_layer)
			continue;
		/* Two steps may have made the same blob: list it once. */
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = r->e[j].has_layer && !strcmp(r->e[j].digest, e->digest);
		if (dup)
			continue;
		json_t *d = json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", e->media_type,
				      "digest", e->digest, "size", (json_int_t)e->size,
				      "annotations", MOLT_CACHE_ANNOT_DIFFID, e->diff_id);
		json_array_append_new(m, d);
	}
	json_array_append_new(m, json_pack("{s:s, s:s, s:I}", "mediaType", config->media_type,
					   "digest", config->digest, "size",
					   (json_int_t)config->size));
	json_t *root = json_pack("{s:i, s:s, s:o, s:{s:s, s:s}}", "schemaVersion", 2, "mediaType",
				 MEDIA_OCI_INDEX, "manifests", m, "annotations",
				 MOLT_CACHE_ANNOT_MODE, mode ? mode : "min",
				 "org.opencontainers.image.description", "molt build cache");
	char *out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return out;
}

int cache_artifact_config(const char *data, size_t len, struct image_descriptor *ret,
			  struct molt_error **err)
{
	json_t *root = json_loadb(data, len, 0, NULL);
	json_t *m = json_object_get(root, "manifests");
	int r = -ENOENT;
	size_t i;
	json_t *v;
	json_array_foreach(m, i, v) {
		const char *mt = json_string_value(json_object_get(v, "mediaType"));
		const char *dg = json_string_value(json_object_get(v, "digest"));
		json_t *sz = json_object_get(v, "size");
		if (!mt || strcmp(mt, MEDIA_MOLT_CACHE_CONFIG))
			continue;
		if (!dg || !digest_is_valid(dg) || !json_is_integer(sz) ||
		    json_integer_value(sz) < 0 || json_integer_value(sz) > (16 << 20)) {
			r = -EINVAL;
			break;
		}
		*ret = (struct image_descriptor){.media_type = xstrdup(mt),
						 .size = json_integer_value(sz)};
		snprintf(ret->digest, sizeof(ret->digest), "%s", dg);
		r = 0;
		break;
	}
	json_decref(root);
	if (r == -ENOENT)
		return molt_error_setx(err, ENOENT, "not a molt build cache (no %s in the index)",
				       MEDIA_MOLT_CACHE_CONFIG);
	if (r < 0)
		return molt_error_setx(err, EINVAL, "the build cache index is malformed");
	return 0;
}

int cache_inline_manifest(const char *manifest, size_t len, const struct cache_records *r,
			  char **ret, size_t *ret_len, struct molt_error **err)
{
	json_t *root = json_loadb(manifest, len, JSON_PRESERVE_ORDER, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return molt_error_setx(err, EINVAL, "inline cache: the image manifest is not JSON");
	}
	json_t *a = json_object_get(root, "annotations");
	if (!json_is_object(a)) {
		a = json_object();
		json_object_set_new(root, "annotations", a);
	}
	_cleanup_free_ char *recs = cache_records_to_json(r);
	json_object_set_new(a, MOLT_CACHE_ANNOT_INLINE, json_string(recs));
	char *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	*ret = out;
	*ret_len = strlen(out);
	return 0;
}

int cache_inline_records(const char *manifest, size_t len, struct cache_records *ret,
			 struct molt_error **err)
{
	json_t *root = json_loadb(manifest, len, 0, NULL);
	const char *s = json_string_value(
		json_object_get(json_object_get(root, "annotations"), MOLT_CACHE_ANNOT_INLINE));
	int r = s ? cache_records_parse(s, strlen(s), ret, err) : -ENOENT;
	json_decref(root);
	if (r == -ENOENT)
		return molt_error_setx(err, ENOENT, "not a molt build cache (neither a cache "
					"index nor an image with inline cache records)");
	return r;
}
