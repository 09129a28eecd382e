/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/stage.h: running one stage of a build inside its worker process (internal
 * to the executor: build.c, stage.c, instr_*.c, layer_commit.c, output.c).
 */
#ifndef MOLT_RUNNER_STAGE_H
#define MOLT_RUNNER_STAGE_H

#include "../../layers/layers.h"
#include "build.h"
#include "copy.h"
#include "stepfs.h"

/* Shared by every stage of one build; read-only in the workers. */
struct build_ctx {
	const struct build_plan *plan;
	const struct build_request *o;
	struct layer_store *store;
	const char *tmp;   /* this build's scratch directory in the store's tmp/ */
	int context_fd;    /* the build context, O_PATH directory */
	void *ignore;      /* the context's .dockerignore (runner/frontend/dockerignore.h), or NULL */
	int64_t build_time; /* SOURCE_DATE_EPOCH or now: config created, history */
};

/* runner/executor/build_registry.c: pull what the plan needs and the store lacks; push the result. */
int build_pull_bases(struct build_ctx *b, struct molt_error **err);
int build_push(struct build_ctx *b, const struct image *img, struct molt_error **err);

/* One stage being built. */
struct stage_run {
	struct build_ctx *b;
	const struct build_stage *st;
	char *const *results; /* results of the finished stages, by plan position */
	const struct progress_out *po;
	struct image_config config;
	struct image_descriptor *layers; /* layer blobs, bottom first */
	size_t n_layers;
	bool cmd_set;      /* CMD given in this stage (an ENTRYPOINT then keeps it) */
	unsigned step;     /* the instruction being run, 1-based */
	unsigned step_id;  /* its progress id */
	char *scratch;     /* this stage's scratch directory */
	struct stage_cache *cache; /* the build cache's state (runner/executor/cache.h), or NULL */
	/* config.env and config.labels indexed, so 5,000 ENVs on a base image with
	 * 200,000 Env entries cost no scan each (runner/executor/instr_meta.c) */
	struct env_index env_idx, label_idx;
};

/* Fills ret (allocated) from an image config, for plan_options.base_config. */
void plan_base_from_config(const struct image_config *c, struct plan_base *ret);

/* The worker entry (a sched_stage_fn). */
int stage_worker(void *userdata, unsigned index, char *const *results,
		 const struct progress_out *po, char **ret_result, struct molt_error **err);

/* A stage result: the stage's image as JSON {"config": {...}, "layers": [...]}. */
char *stage_result_to_json(const struct image_config *c, const struct image_descriptor *layers,
			   size_t n_layers);
int stage_result_parse(const char *json, struct image_config *ret_config,
		       struct image_descriptor **ret_layers, size_t *ret_n,
		       struct molt_error **err);

/* The unpacked trees of the stage's layers, top-most first (for stepfs_mount). */
char **stage_lowers(struct stage_run *sr);

/*
 * Makes sure every layer of an image is unpacked in the store (in tmp, then
 * published), after checking that each blob's content is the diff ID its config
 * claims: unpacked trees are shared by diff ID across images. Used by build and run.
 */
int image_ensure_unpacked(struct layer_store *s, const char *tmp, const struct image_config *c,
			  const struct image_descriptor *layers, size_t n_layers,
			  struct molt_error **err);

/*
 * Turns a step's upper directory into a layer: writes the blob, publishes the tree
 * as the layer's unpacked directory and appends it to the stage. *ret_changed is
 * false (and nothing is added) when the step changed nothing.
 */
int stage_commit_upper(struct stage_run *sr, const char *upper, const char *created_by,
		       bool *ret_changed, struct molt_error **err);
/* Mounts the overlay a step works on (its scratch directory is step-N). */
int stage_step_mount(struct stage_run *sr, struct stepfs **ret, struct molt_error **err);
/*
 * Ends a step: when r is 0, unmounts the overlay and commits its upper directory as
 * a layer (or an empty_layer history entry when nothing changed); frees fs in every
 * case and returns r or the first error.
 */
int stage_step_finish(struct stage_run *sr, struct stepfs *fs, int r, const char *created_by,
		      struct molt_error **err);
/* Records a history entry without a layer (metadata instructions). */
void stage_history(struct stage_run *sr, const char *created_by, bool empty_layer);

/* Mounts an earlier stage's result or a stored image read-only (COPY --from, RUN
 * --mount from=) under the stage's scratch directory as NAME-STEP. */
int stage_mount_from(struct stage_run *sr, const char *from, int from_stage, const char *name,
		     struct stepfs **ret, struct molt_error **err);

int instr_metadata(struct stage_run *sr, const struct build_instr *in, struct molt_error **err);
int instr_workdir(struct stage_run *sr, const struct build_instr *in, struct molt_error **err);
int instr_run(struct stage_run *sr, const struct build_instr *in, struct molt_error **err);
int instr_copy(struct stage_run *sr, const struct build_instr *in, struct molt_error **err);

/* Resolves --chown "user[:group]" against the rootfs at rootfd (/etc/passwd, /etc/group). */
int chown_resolve(int rootfd, const char *spec, uid_t *ret_uid, gid_t *ret_gid,
		  struct molt_error **err);

/* The position of the stage with Dockerfile index `index` in the plan, or -1. */
int stage_plan_pos(const struct build_plan *p, int index);

/* The build context's .dockerignore (or Dockerfile.dockerignore), loaded once. */
int context_filter_load(struct build_ctx *b, struct molt_error **err);
void context_filter_free(struct build_ctx *b);
/* A dockerignore matcher (may be NULL) as a COPY skip function. */
bool context_ignored(void *ignore, const char *rel, bool is_dir);
/* The filter COPY applies to context sources (fn NULL: nothing is ignored). */
void copy_context_filter(struct build_ctx *b, bool (**ret_fn)(void *, const char *, bool),
			 void **ret_userdata);

/* ADD's sources: URLs are downloaded, local tar archives extracted, the rest copied. */
int add_sources(struct stage_run *sr, const struct build_instr *in, int src_root, int dst_root,
		const char *dest, const struct copy_opts *o, struct molt_error **err);

/*
 * Downloads a URL of the running ADD step ahead of it (the build cache hashes what
 * an ADD without --checksum would add; the step then uses this download):
 * *ret = "<content digest> <mtime>".
 */
int add_url_prefetch(struct stage_run *sr, const char *url, char **ret, struct molt_error **err);

/* -o type=tar: the final tree as one tar. */
int output_rootfs_tar(struct build_ctx *b, const struct image *img, const char *dest,
		      struct molt_error **err);

/* Writes the final image to one output. */
int output_write(struct build_ctx *b, const struct build_output_spec *out, const struct image *img,
		 struct molt_error **err);

#endif
