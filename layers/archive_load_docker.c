/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/archive_load_docker.c: the docker save format of `molt load` (manifest.json,
 * a config and layer tars per image) read into a load plan (archive_load.h). Docker
 * tars carry no layer digests of their own, so every layer is checked against the
 * diff ID its config claims.
 */
#include <jansson.h>
#include <string.h>

#include "archive_load.h"

static int hash_cb(const void *buf, size_t n, void *ud)
{
	digester_update(ud, buf, n);
	return 0;
}

/* A docker layer file must hash (uncompressed) to the diff ID its config names. */
static int check_docker_layer(struct source *src, const char *name, const char *blob_digest,
			      const char *diff_id, enum blob_compression *ret_c,
			      struct molt_error **err)
{
	_cleanup_close_ int fd = -1;
	int r = src_open(src, name, &fd, err);
	if (r < 0)
		return r;
	unsigned char head[4] = {0};
	ssize_t n = read_full(fd, head, sizeof(head));
	if (n < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return molt_error_set(err, errno, "'%s': read '%s'", src->input, name);
	*ret_c = blob_compression_detect(head, (size_t)n);
	char got[DIGEST_STR_LEN];
	if (*ret_c == BLOB_PLAIN) {
		memcpy(got, blob_digest, DIGEST_STR_LEN);
	} else {
		struct digester *d = digester_new();
		r = blob_decompress(fd, hash_cb, d, err);
		digester_final(d, got);
		digester_free(d);
		if (r < 0)
			return molt_error_wrap(err, "'%s': layer '%s'", src->input, name);
	}
	if (strcmp(got, diff_id) != 0)
		return molt_error_setx(err, EBADMSG,
				       "'%s': layer '%s' does not match diff ID %s (its content is %s)",
				       src->input, name, diff_id, got);
	return 0;
}

static int docker_names(json_t *tags, char ***ret, const char *input, struct molt_error **err)
{
	_cleanup_strv_ char **names = xcalloc(1, sizeof(char *));
	size_t i;
	json_t *t;
	if (tags && !json_is_null(tags) && !json_is_array(tags))
		return molt_error_setx(err, EINVAL, "'%s': manifest.json: RepoTags is not a list", input);
	json_array_foreach(tags, i, t)
	{
		char *n = NULL;
		int r = json_is_string(t) ? image_ref_normalize(json_string_value(t), &n, err)
					  : molt_error_setx(err, EINVAL, "RepoTags holds a non-string");
		if (r < 0)
			return molt_error_wrap(err, "'%s': manifest.json", input);
		strv_push_take(&names, n);
	}
	*ret = TAKE_PTR(names);
	return 0;
}

static int docker_layers(struct source *src, json_t *layers, const struct image_config *cfg,
			 struct image_manifest *m, struct plan *p, struct molt_error **err)
{
	size_t n = json_array_size(layers);
	if (!json_is_array(layers) || n != strv_len(cfg->diff_ids))
		return molt_error_setx(err, EINVAL,
				       "'%s': manifest.json lists %zu layers, the config %zu diff IDs",
				       src->input, n, strv_len(cfg->diff_ids));
	m->layers = xcalloc(n + 1, sizeof(*m->layers));
	for (size_t i = 0; i < n; i++) {
		json_t *l = json_array_get(layers, i);
		if (!json_is_string(l))
			return molt_error_setx(err, EINVAL, "'%s': manifest.json: a layer is not a path",
					       src->input);
		const char *name = json_string_value(l);
		struct image_descriptor *d = &m->layers[m->n_layers++];
		enum blob_compression c = BLOB_PLAIN;
		int r = src_digest(src, name, d->digest, &d->size, err);
		if (r == 0)
			r = check_docker_layer(src, name, d->digest, cfg->diff_ids[i], &c, err);
		if (r < 0)
			return r;
		d->media_type = xstrdup(blob_compression_media_type(c));
		plan_add_member(p, name, d->digest);
	}
	return 0;
}

static int docker_image(struct source *src, json_t *item, struct plan *p, struct molt_error **err)
{
	json_t *cfg_name = json_object_get(item, "Config");
	if (!json_is_string(cfg_name))
		return molt_error_setx(err, EINVAL, "'%s': manifest.json: an entry has no Config",
				       src->input);
	_cleanup_free_ char *cfg_data = NULL;
	size_t cfg_len = 0;
	struct image_config cfg = {0};
	struct image_manifest m = {.media_type = xstrdup(MEDIA_OCI_MANIFEST)};
	char **names = NULL;
	int r = src_read(src, json_string_value(cfg_name), &cfg_data, &cfg_len, err);
	if (r == 0)
		r = image_config_parse(cfg_data, cfg_len, &cfg, err);
	if (r == 0) {
		m.config.media_type = xstrdup(MEDIA_OCI_CONFIG);
		m.config.size = (int64_t)cfg_len;
		digest_buffer(cfg_data, cfg_len, m.config.digest);
		plan_add_member(p, json_string_value(cfg_name), m.config.digest);
		r = docker_layers(src, json_object_get(item, "Layers"), &cfg, &m, p, err);
	}
	if (r == 0)
		r = docker_names(json_object_get(item, "RepoTags"), &names, src->input, err);
	if (r == 0) {
		char digest[DIGEST_STR_LEN];
		char *json = image_manifest_to_json(&m);
		plan_add_data(p, json, strlen(json), digest);
		plan_add_image(p, digest, m.config.digest, names);
	}
	image_config_done(&cfg);
	image_manifest_done(&m);
	return r;
}

int load_docker(struct source *src, struct plan *p, struct molt_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = src_read(src, "manifest.json", &data, &len, err);
	if (r < 0)
		return r;
	json_error_t je;
	_cleanup_(json_decrefp) json_t *arr = json_loadb(data, len, 0, &je);
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return molt_error_setx(err, EINVAL, "'%s': manifest.json is not a list of images%s%s",
				       src->input, arr ? "" : ": ", arr ? "" : je.text);
	size_t i;
	json_t *item;
	json_array_foreach(arr, i, item)
	{
		r = json_is_object(item) ? docker_image(src, item, p, err)
					 : molt_error_setx(err, EINVAL,
							   "'%s': manifest.json: an entry is not an object",
							   src->input);
		if (r < 0)
			return r;
	}
	return 0;
}
