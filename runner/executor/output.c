/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Build outputs (-o): the final rootfs as a directory (local) or one tar (tar), an
 * OCI image layout (oci: a directory, or an OCI archive when dest ends in .tar), or
 * a `docker load` tar (docker). Image outputs and pushes convert the store's
 * uncompressed layers to the compression asked for (layers/convert.c, gzip by default).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "stage.h"
#include "stepfs.h"

#include <jansson.h>

/* The final image's tree, mounted read-only from its unpacked layers. */
static int mount_image(struct build_ctx *b, const struct image *img, const char *name,
		       struct stepfs **ret, struct molt_error **err)
{
	/* Lazy cache hits and a base never unpacked (runner/executor/cache_remote.c). */
	int r = cache_remote_ready(b, &img->config, img->manifest.layers, img->manifest.n_layers,
				   true, err);
	if (r < 0)
		return r;
	_cleanup_strv_ char **lowers = layer_store_lowers(b->store, &img->config);
	_cleanup_free_ char *dir = xasprintf("%s/%s", b->tmp, name);
	return stepfs_mount(dir, lowers, true, ret, err);
}

/* -o type=tar: the final tree as one uncompressed tar, written like a layer. */
static int output_rootfs_tar(struct build_ctx *b, const struct image *img, const char *dest,
		      struct molt_error **err)
{
	int r0 = cache_remote_ready(b, &img->config, img->manifest.layers, img->manifest.n_layers,
				    true, err);
	if (r0 < 0)
		return r0;
	_cleanup_strv_ char **lowers = layer_store_lowers(b->store, &img->config);
	_cleanup_free_ char *dir = xasprintf("%s/output-tar", b->tmp);
	_cleanup_free_ char *empty = xasprintf("%s/output-empty", b->tmp);
	struct stepfs *fs = NULL;
	int r = stepfs_mount(dir, lowers, true, &fs, err);
	if (r < 0)
		return r;
	struct tree_snapshot *none = NULL;
	struct layer_changes ch = {0};
	_cleanup_close_ int rootfd = open(fs->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-XXXXXX", dest);
	_cleanup_close_ int out = -1;
	if (mkdir(empty, 0755) < 0 && errno != EEXIST)
		r = molt_error_set(err, errno, "create '%s'", empty);
	_cleanup_close_ int emptyfd = open(empty, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* Everything differs from an empty tree: the walk lists the whole rootfs. */
	if (r == 0)
		r = tree_snapshot_take(emptyfd, &none, err);
	if (r == 0)
		r = differ_walk(none, rootfd, &ch, err);
	if (r == 0 && (out = mkostemp(tmp, O_CLOEXEC)) < 0)
		r = molt_error_set(err, errno, "create '%s'", tmp);
	struct layer_writer_opts wo = {.compression = LAYER_UNCOMPRESSED};
	struct layer_digests d;
	if (r == 0)
		r = layer_writer_opts_from_env(&wo, err);
	if (r == 0)
		r = layer_write_changes(rootfd, &ch, &wo, out, &d, err);
	if (r == 0 && (fchmod(out, 0644) < 0 || fsync(out) < 0 || rename(tmp, dest) < 0))
		r = molt_error_set(err, errno, "write '%s'", dest);
	if (r < 0 && out >= 0)
		unlink(tmp);
	layer_changes_done(&ch);
	tree_snapshot_free(none);
	stepfs_free(fs);
	return r;
}

/*
 * local: the files as the caller's own (the build namespace's 0 is the caller), so
 * they can be read and removed without molt, as BuildKit's rootless local exporter.
 * Set-uid and set-gid bits are dropped: kept, the image's `chmod u+s` would hand out
 * a set-uid program owned by the caller (BuildKit's local exporter runs as the user
 * too, and the kernel would clear them on its chown).
 */
static int output_local(struct build_ctx *b, const struct image *img, const char *dest,
			struct molt_error **err)
{
	int r = mkdir_p(dest, 0755, err);
	if (r < 0)
		return r;
	struct stepfs *fs = NULL;
	r = mount_image(b, img, "output-local", &fs, err);
	if (r < 0)
		return r;
	_cleanup_close_ int src = open(fs->merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int dst = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (src < 0 || dst < 0) {
		r = molt_error_set(err, errno, "open the output directory '%s'", dest);
	} else {
		struct copy_opts o = {.no_setid = true};
		r = copy_paths(src, (char *[]){".", NULL}, dst, "/", &o, NULL, err);
	}
	stepfs_free(fs);
	if (r < 0)
		molt_error_wrap(err, "output type=local,dest=%s", dest);
	return r;
}

static int output_image(struct build_ctx *b, const struct image *img,
			const struct build_output_spec *out, struct molt_error **err)
{
	enum image_save_format fmt = out->type == OUTPUT_DOCKER ? IMAGE_SAVE_DOCKER
				     : str_endswith(out->dest, ".tar") ? IMAGE_SAVE_OCI
								       : IMAGE_SAVE_OCI_LAYOUT;
	if (fmt == IMAGE_SAVE_DOCKER && !out->compression_set)
		return layer_store_save(b->store, img, b->o->tags, fmt, out->dest, err);
	if (fmt == IMAGE_SAVE_DOCKER)
		fmt = IMAGE_SAVE_DOCKER_BLOBS;
	/* Local layers are uncompressed: the exported ones take the output's compression. */
	_cleanup_image_ struct image *exp = NULL;
	int r = layer_store_image_export(b->store, img, &out->compression, &exp, err);
	if (r < 0)
		return r;
	return layer_store_save(b->store, exp, b->o->tags, fmt, out->dest, err);
}

/* dest=- (docker's `-o -`): written to a scratch file, then copied to stdout, since
 * the writers rename a finished file into place. */
static int output_stdout(struct build_ctx *b, const struct build_output_spec *out,
			 const struct image *img, struct molt_error **err)
{
	_cleanup_free_ char *tmp = xasprintf("%s/output-stdout.tar", b->tmp);
	struct build_output_spec file = {.type = out->type, .dest = tmp};
	int r = output_write(b, &file, img, err);
	if (r == 0)
		r = stream_file_to_stdout(tmp, err);
	unlink(tmp);
	return r < 0 ? molt_error_wrap(err, "output to stdout") : 0;
}

int output_write(struct build_ctx *b, const struct build_output_spec *out, const struct image *img,
		 struct molt_error **err)
{
	if (!strcmp(out->dest, "-") && out->type != OUTPUT_LOCAL)
		return output_stdout(b, out, img, err);
	switch (out->type) {
	case OUTPUT_LOCAL:
		return output_local(b, img, out->dest, err);
	case OUTPUT_TAR:
		return output_rootfs_tar(b, img, out->dest, err);
	case OUTPUT_OCI:
	case OUTPUT_DOCKER:
		return output_image(b, img, out, err);
	}
	return molt_error_setx(err, EINVAL, "unknown output type");
}

int output_push(struct build_ctx *b, const struct image *img, struct molt_error **err)
{
	const struct build_request *o = b->o;
	struct registry_opts ro =
		o->registry ? *o->registry : (struct registry_opts){.tls_verify = true};
	ro.platform = NULL;
	if (o->progress == PROGRESS_QUIET)
		ro.quiet = true;
	_cleanup_image_ struct image *exp = NULL;
	if (o->push_refs && o->push_refs[0]) {
		int r = layer_store_image_export(b->store, img, &o->push_compression, &exp, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; o->push_refs && o->push_refs[i]; i++) {
		if (!ro.quiet)
			fprintf(stderr, "pushing %s\n", o->push_refs[i]);
		int r = b->inline_cache
				? cache_remote_push_inline(b, exp, o->push_refs[i], &ro, b->pushed_digest,
							   err)
				: registry_push(b->store, exp, o->push_refs[i], &ro, b->pushed_digest,
						err);
		if (r < 0)
			return r;
	}
	return 0;
}

int output_metadata_file(struct build_ctx *b, const struct image *img, struct molt_error **err)
{
	/* The manifest a registry has when the build pushed (its layers compressed as they
	 * left), else the store's (uncompressed layers: what `molt save --compression
	 * uncompressed` writes). Either is a blob of the store. */
	const char *digest = b->pushed_digest[0] ? b->pushed_digest : img->manifest_digest;
	int64_t size = img->manifest_size;
	if (b->pushed_digest[0]) {
		_cleanup_free_ char *m = NULL;
		size_t len = 0;
		int r = layer_store_blob_read(b->store, digest, 4u << 20, &m, &len, err);
		if (r < 0)
			return molt_error_wrap(err, "write the metadata file '%s'", b->o->metadata_file);
		size = (int64_t)len;
	}
	json_t *o = json_object();
	json_t *desc = json_object();
	json_object_set_new(desc, "mediaType", json_string(img->manifest.media_type
							    ? img->manifest.media_type
							    : "application/vnd.oci.image.manifest.v1+json"));
	json_object_set_new(desc, "digest", json_string(digest));
	json_object_set_new(desc, "size", json_integer(size));
	json_object_set_new(o, "containerimage.config.digest", json_string(img->id));
	json_object_set_new(o, "containerimage.descriptor", desc);
	json_object_set_new(o, "containerimage.digest", json_string(digest));
	/* buildx: the names, normalised, joined by commas; absent without -t */
	_cleanup_strbuf_ struct strbuf names = STRBUF_INIT;
	for (size_t i = 0; b->o->tags && b->o->tags[i]; i++) {
		_cleanup_free_ char *norm = NULL;
		_cleanup_error_ struct molt_error *e = NULL;
		(void)image_ref_normalize(b->o->tags[i], &norm, &e);
		strbuf_addf(&names, "%s%s", i ? "," : "", norm ? norm : b->o->tags[i]);
	}
	if (names.len)
		json_object_set_new(o, "image.name", json_string(names.buf));
	_cleanup_free_ char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		return molt_error_setx(err, ENOMEM, "write the metadata file '%s'", b->o->metadata_file);
	return write_file_atomic(b->o->metadata_file, text, strlen(text), 0644, err);
}
