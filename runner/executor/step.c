/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/step.c: one step's file system and its commit — the overlay a step
 * works on (step_mount), and afterwards its change as a layer blob and the same tree
 * as the layer's unpacked directory (step_finish, step_commit_upper).
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
	_cleanup_strv_ char **lowers = layer_store_lowers(sr->b->store, &sr->config);
	_cleanup_free_ char *dir = xasprintf("%s/lower-%u", sr->scratch, sr->step);
	int r = stepfs_mount(dir, lowers, true, ret, err);
	if (r < 0)
		return r;
	*ret_fd = open((*ret)->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*ret_fd < 0)
		return molt_error_set(err, errno, "open '%s'", (*ret)->merged);
	return 0;
}

/*
 * Writes the changes as an uncompressed layer into a temporary file and adopts it as a
 * blob (its digest is its diff ID, one sha256 pass). Compression waits for an export
 * or a push (layers/convert.c), so layers of stages never exported are never
 * compressed. Measured (2 cores, loaded machine, user CPU of the build, medians of 3):
 * a 142 MiB COPY of /usr files, uncompressed 0.22 s, zstd -1 in parallel blocks 0.89 s
 * (37% of the size), gzip 7.0 s; a RUN writing 1 GiB of random bytes, 0.84 s, 2.15 s,
 * 4.12 s. The price is store space: the blob is as big as the tar (README, Bounds).
 */
static int write_blob(struct stage_run *sr, int upperfd, struct layer_changes *ch,
		      struct layer_digests *ret, struct molt_error **err)
{
	struct layer_writer_opts wo = {.compression = LAYER_UNCOMPRESSED};
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

/* The step's layer, for stage_apply(). */
static void result_layer(struct step_result *res, const struct layer_digests *d)
{
	res->has_layer = true;
	res->layer = (struct image_descriptor){.media_type = xstrdup(MEDIA_OCI_LAYER),
					       .size = (int64_t)d->blob_size};
	snprintf(res->layer.digest, DIGEST_STR_LEN, "%s", d->digest);
	snprintf(res->diff_id, DIGEST_STR_LEN, "%s", d->diff_id);
}

/*
 * Ends the diff phase (begun at t0; r is the differ's result) and, when the step changed
 * anything, writes the layer of the changes from the tree at rootfd, the commit phase
 * beginning at *ret_t0. *ret_wrote is false when there was nothing to write (no change,
 * or the diff failed).
 */
static int diff_to_blob(struct stage_run *sr, int rootfd, struct layer_changes *ch, int r,
			int64_t t0, struct layer_digests *ret, int64_t *ret_t0, bool *ret_wrote,
			struct molt_error **err)
{
	timing_add(sr, PHASE_DIFF, t0);
	*ret_wrote = r == 0 && ch->n > 0;
	if (*ret_wrote) {
		*ret_t0 = timing_now();
		r = write_blob(sr, rootfd, ch, ret, err);
	}
	layer_changes_done(ch);
	return r;
}

int step_commit_upper(struct stage_run *sr, const char *upper, struct step_result *res,
		      struct molt_error **err)
{
	_cleanup_close_ int upperfd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (upperfd < 0)
		return molt_error_set(err, errno, "open '%s'", upper);
	struct stepfs *view = NULL;
	int lowerfd = -1;
	struct layer_changes ch = {0};
	int64_t t0 = timing_now();
	int r = lower_view(sr, &view, &lowerfd, err);
	if (r == 0)
		r = differ_overlay(upperfd, lowerfd, &ch, err);
	if (lowerfd >= 0)
		close(lowerfd);
	stepfs_free(view);
	struct layer_digests d;
	bool wrote;
	r = diff_to_blob(sr, upperfd, &ch, r, t0, &d, &t0, &wrote, err);
	if (!wrote)
		return r;
	/*
	 * The overlay was volatile (stepfs.c): nothing of the upper tree is known to be on
	 * disk, and it is published so. The blob (fsync'ed above) is the durable copy; a
	 * crash of the machine makes the store drop the trees of the boot that ended
	 * (layers/store_fresh.c), which are unpacked again from their blobs. A syncfs here
	 * waited for every dirty page of the filesystem, other processes' too.
	 */
	if (r == 0)
		r = layer_store_unpacked_publish(sr->b->store, d.diff_id, upper, err);
	timing_add(sr, PHASE_COMMIT, t0);
	if (r < 0)
		return r;
	result_layer(res, &d);
	return 0;
}


/*
 * Walk mode (stepfs.h): the step changed the copy in place; the walk differ finds
 * the change against the snapshot taken before it, and the layer is written from
 * the copy. Its unpacked tree (an overlay lower, for later steps and stages) is the
 * blob itself unpacked, so both paths publish the same kind of tree.
 */
static int step_commit_walk(struct stage_run *sr, struct stepfs *fs, struct step_result *res,
			    struct molt_error **err)
{
	_cleanup_close_ int rootfd = open(fs->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return molt_error_set(err, errno, "open '%s'", fs->merged);
	struct layer_changes ch = {0};
	int64_t t0 = timing_now();
	int r = differ_walk(fs->before, rootfd, &ch, err);
	struct layer_digests d;
	bool wrote;
	r = diff_to_blob(sr, rootfd, &ch, r, t0, &d, &t0, &wrote, err);
	if (!wrote)
		return r;
	if (r == 0)
		r = layer_store_unpack(sr->b->store, sr->scratch, d.digest, d.diff_id, true, err);
	timing_add(sr, PHASE_COMMIT, t0);
	if (r == 0)
		result_layer(res, &d);
	return r;
}

int step_mount(struct stage_run *sr, struct stepfs **ret, struct molt_error **err)
{
	_cleanup_strv_ char **lowers = layer_store_lowers(sr->b->store, &sr->config);
	_cleanup_free_ char *dir = xasprintf("%s/step-%u", sr->scratch, sr->step);
	int64_t t0 = timing_now();
	int r = stepfs_mount(dir, lowers, false, ret, err);
	timing_add(sr, PHASE_MOUNT, t0);
	return r;
}

int step_finish(struct stage_run *sr, struct stepfs *fs, int r, const char *created_by,
		struct step_result *res, struct molt_error **err)
{
	res->created_by = xstrdup(created_by);
	int64_t t0 = timing_now();
	if (r == 0)
		r = stepfs_unmount(fs, err);
	timing_add(sr, PHASE_MOUNT, t0);
	if (r == 0 && fs->walk)
		r = step_commit_walk(sr, fs, res, err);
	else if (r == 0)
		r = step_commit_upper(sr, fs->upper, res, err);
	stepfs_free(fs);
	return r;
}


