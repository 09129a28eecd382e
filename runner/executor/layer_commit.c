/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layers of a build: a step's upper directory → a layer blob (and the same tree as
 * the layer's unpacked directory); base image layers → unpacked directories; the
 * final tree → one rootfs tar (-o type=tar).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "stage.h"
#include "stepfs.h"

/* A read-only view of the tree a step started from, for the differ to compare with. */
static int lower_view(struct stage_run *sr, struct stepfs **ret, int *ret_fd,
		      struct molt_error **err)
{
	*ret = NULL;
	*ret_fd = -1;
	if (!sr->config.diff_ids || !sr->config.diff_ids[0])
		return 0;
	_cleanup_strv_ char **lowers = stage_lowers(sr);
	_cleanup_free_ char *dir = xasprintf("%s/lower-%u", sr->scratch, sr->step);
	int r = stepfs_mount(dir, lowers, true, ret, err);
	if (r < 0)
		return r;
	*ret_fd = open((*ret)->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*ret_fd < 0)
		return molt_error_set(err, errno, "open '%s'", (*ret)->merged);
	return 0;
}

/* Writes the changes as a gzip layer into a temporary file and adopts it as a blob. */
static int write_blob(struct stage_run *sr, int upperfd, struct layer_changes *ch,
		      struct layer_digests *ret, struct molt_error **err)
{
	struct layer_writer_opts wo = {.compression = LAYER_GZIP};
	int r = layer_writer_opts_from_env(&wo, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *tmp = xasprintf("%s/layer-XXXXXX", sr->scratch);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return molt_error_set(err, errno, "create a layer file in '%s'", sr->scratch);
	r = layer_write_changes(upperfd, ch, &wo, fd, ret, err);
	if (r == 0 && fsync(fd) < 0)
		r = molt_error_set(err, errno, "sync '%s'", tmp);
	if (r == 0)
		return layer_store_blob_adopt(sr->b->store, tmp, ret->digest, err);
	unlink(tmp);
	return r;
}

static void stage_add_layer(struct stage_run *sr, const struct layer_digests *d,
			    const char *created_by);

int stage_commit_upper(struct stage_run *sr, const char *upper, const char *created_by,
		       bool *ret_changed, struct molt_error **err)
{
	_cleanup_close_ int upperfd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (upperfd < 0)
		return molt_error_set(err, errno, "open '%s'", upper);
	struct stepfs *view = NULL;
	int lowerfd = -1;
	struct layer_changes ch = {0};
	int r = lower_view(sr, &view, &lowerfd, err);
	if (r == 0)
		r = differ_overlay(upperfd, lowerfd, &ch, err);
	if (lowerfd >= 0)
		close(lowerfd);
	stepfs_free(view);
	*ret_changed = r == 0 && ch.n > 0;
	if (r < 0 || ch.n == 0) {
		layer_changes_done(&ch);
		return r;
	}
	struct layer_digests d;
	r = write_blob(sr, upperfd, &ch, &d, err);
	layer_changes_done(&ch);
	/*
	 * The overlay was volatile (stepfs.c): nothing of the upper tree is known to be on
	 * disk. One syncfs before it becomes the store's unpacked tree of this diff ID, so
	 * a crash cannot leave a published tree with lost content.
	 */
	if (r == 0 && syncfs(upperfd) < 0)
		r = molt_error_set(err, errno, "sync the step's upper directory '%s'", upper);
	if (r == 0)
		r = layer_store_unpacked_publish(sr->b->store, d.diff_id, upper, err);
	if (r < 0)
		return r;
	stage_add_layer(sr, &d, created_by);
	return 0;
}

static void stage_add_layer(struct stage_run *sr, const struct layer_digests *d,
			    const char *created_by)
{
	sr->layers = xrealloc(sr->layers, (sr->n_layers + 1) * sizeof(*sr->layers));
	sr->layers[sr->n_layers++] = (struct image_descriptor){
		.media_type = xstrdup(MEDIA_OCI_LAYER_GZIP), .size = (int64_t)d->blob_size};
	snprintf(sr->layers[sr->n_layers - 1].digest, DIGEST_STR_LEN, "%s", d->digest);
	strv_push(&sr->config.diff_ids, d->diff_id);
	stage_history(sr, created_by, false);
}

/*
 * Walk mode (stepfs.h): the step changed the copy in place; the walk differ finds
 * the change against the snapshot taken before it, and the layer is written from
 * the copy. Its unpacked tree (an overlay lower, for later steps and stages) is the
 * blob itself unpacked, so both paths publish the same kind of tree.
 */
static int stage_commit_walk(struct stage_run *sr, struct stepfs *fs, const char *created_by,
			     bool *ret_changed, struct molt_error **err)
{
	_cleanup_close_ int rootfd = open(fs->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return molt_error_set(err, errno, "open '%s'", fs->merged);
	struct layer_changes ch = {0};
	int r = differ_walk(fs->before, rootfd, &ch, err);
	*ret_changed = r == 0 && ch.n > 0;
	if (r < 0 || ch.n == 0) {
		layer_changes_done(&ch);
		return r;
	}
	struct layer_digests d;
	r = write_blob(sr, rootfd, &ch, &d, err);
	layer_changes_done(&ch);
	if (r == 0 && !layer_store_unpacked_exists(sr->b->store, d.diff_id))
		r = layer_store_unpack(sr->b->store, sr->scratch, d.digest, d.diff_id, true, err);
	if (r == 0)
		stage_add_layer(sr, &d, created_by);
	return r;
}

int stage_step_mount(struct stage_run *sr, struct stepfs **ret, struct molt_error **err)
{
	_cleanup_strv_ char **lowers = stage_lowers(sr);
	_cleanup_free_ char *dir = xasprintf("%s/step-%u", sr->scratch, sr->step);
	return stepfs_mount(dir, lowers, false, ret, err);
}

int stage_step_finish(struct stage_run *sr, struct stepfs *fs, int r, const char *created_by,
		      struct molt_error **err)
{
	bool changed = false;
	if (r == 0)
		r = stepfs_unmount(fs, err);
	if (r == 0 && fs->walk)
		r = stage_commit_walk(sr, fs, created_by, &changed, err);
	else if (r == 0)
		r = stage_commit_upper(sr, fs->upper, created_by, &changed, err);
	if (r == 0 && !changed)
		stage_history(sr, created_by, true);
	stepfs_free(fs);
	return r;
}

int image_ensure_unpacked(struct layer_store *s, const char *tmp, const struct image_config *c,
			  const struct image_descriptor *layers, size_t n_layers,
			  struct molt_error **err)
{
	if (strv_len(c->diff_ids) != n_layers)
		return molt_error_setx(err, EINVAL, "image has %zu layers but %zu diff IDs", n_layers,
				       strv_len(c->diff_ids));
	for (size_t i = 0; i < n_layers; i++) {
		const char *diff_id = c->diff_ids[i];
		if (layer_store_unpacked_exists(s, diff_id))
			continue;
		int r = layer_store_unpack(s, tmp, layers[i].digest, diff_id, true, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* -o type=tar: the final tree as one uncompressed tar, written like a layer. */
int output_rootfs_tar(struct build_ctx *b, const struct image *img, const char *dest,
		      struct molt_error **err)
{
	struct stage_run view = {.b = b};
	image_config_copy(&view.config, &img->config);
	_cleanup_strv_ char **lowers = stage_lowers(&view);
	image_config_done(&view.config);
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
