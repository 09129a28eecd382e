/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/stepfs.h: the filesystem a build step works on — an overlay of the stage's
 * unpacked layers (read-only lowers) with a fresh upper directory that collects the
 * step's change, mounted in the build namespace.
 *
 * Without overlayfs (walk mode, below) the same calls give a plain copy instead.
 *
 * Lifecycle: stepfs_mount() creates DIR/upper, DIR/work and DIR/merged under a
 * scratch directory of the store's tmp/ and mounts the overlay; stepfs_unmount()
 * detaches it (after the step's processes are gone), leaving upper/ for the
 * differ; the upper directory can then be taken over (published as the new
 * layer's unpacked tree); stepfs_free() unmounts if still mounted and removes
 * whatever is left. Mounts live in the stage worker's private mount namespace,
 * so a killed worker leaves none behind; tmp/ is cleaned by the store.
 */
#ifndef MOLT_RUNNER_STEPFS_H
#define MOLT_RUNNER_STEPFS_H

#include "../../lib/base.h"

struct tree_snapshot;

struct stepfs {
	char *dir;    /* the step's scratch directory */
	char *upper;  /* NULL for a read-only view, or once taken; NULL in walk mode */
	char *merged; /* where the tree is mounted (walk mode: the copy) */
	bool mounted;
	/*
	 * Walk mode: overlayfs could not be mounted here (an older kernel, a
	 * filesystem overlay refuses) or MOLT_DIFFER=walk asked for it. merged is then
	 * a plain copy of the layers (stepfs_flatten), and for a writable step
	 * `before` is the walk differ's snapshot of it, taken before the step ran.
	 */
	bool walk;
	struct tree_snapshot *before;
};

/*
 * True when steps use the walk fallback: MOLT_DIFFER=walk, or an overlay mount
 * already failed in this process for want of overlayfs (MOLT_DIFFER=overlay turns
 * that fallback off).
 */
bool stepfs_walk_mode(void);

/*
 * Copies overlay lower directories (top-most first) into the empty directory
 * dstfd as the tree an overlay of them would show: whiteouts delete, opaque
 * directories replace, owners, modes, times, allowed xattrs and hardlinks are kept.
 */
int stepfs_flatten(char *const *lowers, int dstfd, struct molt_error **err);

/*
 * The lowers (top-most first) with each directory kept at its top-most place only.
 * An image may hold one layer twice (two steps with byte-identical output), and an
 * overlay refuses a directory that is two of its layers. Dropping the lower copies
 * changes nothing: for every path the top-most copy decides as the lower one would
 * have (the same entries, whiteouts and opaque marks), whatever the layers between
 * did; it is the upper copy that must stay (a file deleted in between is back).
 */
char **stepfs_unique_lowers(char *const *lowers);

/*
 * Mounts lowers (top-most first; may be empty) at DIR/merged. With readonly there is
 * no upper directory and the mount is read-only (a COPY --from source, an export).
 */
int stepfs_mount(const char *dir, char *const *lowers, bool readonly, struct stepfs **ret,
		 struct molt_error **err);
int stepfs_unmount(struct stepfs *fs, struct molt_error **err);
/* Hands the upper directory to the caller (after stepfs_unmount). */
char *stepfs_take_upper(struct stepfs *fs);
void stepfs_free(struct stepfs *fs);

#endif
