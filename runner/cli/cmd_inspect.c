/* SPDX-License-Identifier: Apache-2.0 */
/*
 * molt inspect IMAGE...: a JSON array with one object per image, in the shape of
 * `docker image inspect` (Id, RepoTags, RepoDigests, Created, Architecture, Os,
 * Config, RootFS, History, Size) plus the manifest digest and the manifest itself.
 */
#include <jansson.h>
#include <string.h>

#include "../../layers/layers.h"
#include "cli.h"

static json_t *load_blob_json(struct layer_store *s, const char *digest, struct molt_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (layer_store_blob_read(s, digest, 16u << 20, &data, &len, err) < 0)
		return NULL;
	json_t *j = json_loadb(data, len, 0, NULL);
	if (!j)
		molt_error_setx(err, EINVAL, "blob %s: invalid JSON", digest);
	return j;
}

static void copy_field(json_t *to, const char *to_key, json_t *from, const char *from_key)
{
	json_t *v = json_object_get(from, from_key);
	json_object_set(to, to_key, v ? v : json_null());
}

static int inspect_one(struct layer_store *s, const char *what, json_t *out,
		       struct molt_error **err)
{
	_cleanup_image_ struct image *img = NULL;
	int r = layer_store_resolve(s, what, &img, err);
	if (r < 0)
		return r;
	json_t *cfg = load_blob_json(s, img->id, err);
	json_t *man = cfg ? load_blob_json(s, img->manifest_digest, err) : NULL;
	if (!cfg || !man) {
		json_decref(cfg);
		return molt_error_ret(*err);
	}
	json_t *o = json_object();
	json_object_set_new(o, "Id", json_string(img->id));
	json_t *tags = json_array(), *digests = json_array();
	for (size_t i = 0; img->names && img->names[i]; i++) {
		json_array_append_new(tags, json_string(img->names[i]));
		struct image_ref ref;
		if (image_ref_parse(img->names[i], &ref, NULL) == 0) {
			_cleanup_free_ char *repo = image_ref_repository(&ref);
			_cleanup_free_ char *rd = xasprintf("%s@%s", repo, img->manifest_digest);
			json_array_append_new(digests, json_string(rd));
			image_ref_done(&ref);
		}
	}
	json_object_set_new(o, "RepoTags", tags);
	json_object_set_new(o, "RepoDigests", digests);
	json_object_set_new(o, "ManifestDigest", json_string(img->manifest_digest));
	copy_field(o, "Created", cfg, "created");
	copy_field(o, "Author", cfg, "author");
	copy_field(o, "Architecture", cfg, "architecture");
	copy_field(o, "Variant", cfg, "variant");
	copy_field(o, "Os", cfg, "os");
	copy_field(o, "Config", cfg, "config");
	json_t *rootfs = json_object();
	json_object_set_new(rootfs, "Type", json_string("layers"));
	json_t *layers = json_array();
	for (size_t i = 0; img->config.diff_ids[i]; i++)
		json_array_append_new(layers, json_string(img->config.diff_ids[i]));
	json_object_set_new(rootfs, "Layers", layers);
	json_object_set_new(o, "RootFS", rootfs);
	copy_field(o, "History", cfg, "history");
	int64_t size = img->manifest.config.size;
	for (size_t i = 0; i < img->manifest.n_layers; i++)
		size += img->manifest.layers[i].size;
	json_object_set_new(o, "Size", json_integer(size));
	json_object_set_new(o, "Manifest", man);
	json_array_append_new(out, o);
	json_decref(cfg);
	return 0;
}

int cmd_inspect(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	_cleanup_store_ struct layer_store *s = NULL;
	int r = cli_store_for_images(argc, argv, g, false, &s, err);
	if (r < 0)
		return r;
	json_t *out = json_array();
	for (int i = 1; i < argc && r == 0; i++)
		r = inspect_one(s, argv[i], out, err);
	if (r == 0) {
		json_dumpf(out, stdout, JSON_INDENT(4));
		putchar('\n');
	}
	json_decref(out);
	return r;
}
