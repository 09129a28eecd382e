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

/* The final image's tree, mounted read-only from its unpacked layers. */
static int mount_image(struct build_ctx *b, const struct image *img, const char *name,
		       struct stepfs **ret, struct molt_error **err)
{
	_cleanup_strv_ char **lowers = layer_store_lowers(b->store, &img->config);
	_cleanup_free_ char *dir = xasprintf("%s/%s", b->tmp, name);
	return stepfs_mount(dir, lowers, true, ret, err);
}

/* -o type=tar: the final tree as one uncompressed tar, written like a layer. */
static int output_rootfs_tar(struct build_ctx *b, const struct image *img, const char *dest,
		      struct molt_error **err)
{
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

int output_write(struct build_ctx *b, const struct build_output_spec *out, const struct image *img,
		 struct molt_error **err)
{
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
		int r = registry_push(b->store, exp, o->push_refs[i], &ro, NULL, err);
		if (r < 0)
			return r;
	}
	return 0;
}
