/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/stage.h: the executor's private header — the build's shared state,
 * the stage being run, and the functions the executor's files give each other, under
 * the name of the file that defines them.
 */
#ifndef MOLT_RUNNER_STAGE_H
#define MOLT_RUNNER_STAGE_H

#include "../../layers/layers.h"
#include "build.h"
#include "copy.h"
#include "scheduler.h"
#include "stepfs.h"

/* An image the plan names, resolved once (bases.c); img NULL: missing, see missing. */
struct resolved_base {
	char *ref;
	struct image *img;
	struct molt_error *missing;
	bool pull_failed; /* missing is a pull's error, which fails the whole build */
};

/* Shared by every stage of one build; read-only in the workers. */
struct build_ctx {
	struct resolved_base *bases; /* every image the plan names, resolved once */
	size_t n_bases;
	const struct build_plan *plan;
	const struct build_request *o;
	struct layer_store *store;
	const char *tmp;   /* this build's scratch directory in the store's tmp/ */
	int context_fd;    /* the build context, O_PATH directory */
	void *ignore;      /* the context's .dockerignore (runner/frontend/dockerignore.h), or NULL */
	int64_t build_time; /* SOURCE_DATE_EPOCH or now: config created, history */
	struct cache_source **cache_from; /* the --cache-from sources that could be read */
	size_t n_cache_from;
	struct cache_records *inline_cache; /* records for a type=inline push, or NULL */
	struct progress *p;  /* the renderer, from build_open() to build_close() */
	struct progress_out po;
	int64_t bases_ns, pull_ns; /* --debug: base images resolved (and pulled) so far */
	char pushed_digest[DIGEST_STR_LEN]; /* the manifest the last push sent, "" when none */
};

/* Progress ids of the steps outside the stages (stage steps are index << 16 | step):
 * "[internal] load build definition", + 1 .dockerignore, + 2 the context, + 16 + N
 * the N-th base image's "load metadata"; the export. */
#define INTERNAL_STEP_ID 0xffe00000u
#define EXPORT_STEP_ID 0xfff00000u

/* Where a step's time went, for the --debug line after it (runner/executor/timing.c). */
enum step_phase {
	PHASE_WAIT,   /* for the stages it reads */
	PHASE_KEY,    /* the cache key: what it reads hashed (the context for COPY) */
	PHASE_MOUNT,  /* its overlay and read-only views mounted and unmounted */
	PHASE_RUN,    /* the rest: the command, the copy */
	PHASE_DIFF,   /* the change found */
	PHASE_COMMIT, /* the layer written (tar, digests, compression), synced, published */
	PHASE_RECORD, /* the cache entry stored */
	PHASE_N
};

struct step_timing {
	int64_t ns[PHASE_N];
};

/* One stage being built. */
struct stage_run {
	struct build_ctx *b;
	const struct build_stage *st;
	char *const *results; /* results of the finished stages, by plan position */
	struct sched_link *link; /* fills results: stage_await() */
	struct step_timing timing; /* the running step's */
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

struct step_result; /* below, with step.c */

/* ---- runner/executor/bases.c: the images the plan names */
/* Pulls (what the store lacks; every image with --pull) and resolves every image the
 * plan names not resolved while planning; a pull's failure fails the build, a missing
 * image only the stage that reads it. */
int bases_resolve(struct build_ctx *b, struct molt_error **err);
/* The image resolved for ref (owned by b), or its resolution's error. */
int bases_get(struct build_ctx *b, const char *ref, const struct image **ret,
	      struct molt_error **err);
void bases_free(struct build_ctx *b);
/* Fills ret (allocated) from an image config, for plan_options.base_config. */
void plan_base_from_config(const struct image_config *c, struct plan_base *ret);

/* ---- runner/executor/stage.c: one stage in its worker process */
/* The worker entry (a sched_stage_fn). */
int stage_worker(void *userdata, unsigned index, struct sched_link *link,
		 const struct progress_out *po, char **ret_result, struct molt_error **err);
/* A stage result: the stage's image as JSON {"config": {...}, "layers": [...]}. */
char *stage_result_to_json(const struct image_config *c, const struct image_descriptor *layers,
			   size_t n_layers);
int stage_result_parse(const char *json, struct image_config *ret_config,
		       struct image_descriptor **ret_layers, size_t *ret_n,
		       struct molt_error **err);
/* Mounts an earlier stage's result or a stored image read-only (COPY --from, RUN
 * --mount from=) under the stage's scratch directory as NAME-STEP. */
int stage_mount_from(struct stage_run *sr, const char *from, int from_stage, const char *name,
		     struct stepfs **ret, struct molt_error **err);

/*
 * What one step did: at most one layer and one history entry; its config change is
 * the instruction's own (instr_config_apply). The instruction fills it, stage_apply()
 * is the one place that writes it into the stage, and the build cache stores and
 * replays it (layer steps: RUN, COPY, ADD, WORKDIR).
 */
struct step_result {
	bool has_layer;
	struct image_descriptor layer;
	char diff_id[DIGEST_STR_LEN];
	char *created_by;
	char *comment; /* the history comment, NULL: BuildKit's "buildkit.dockerfile.v0" */
	char *created; /* the history time: a replayed step's, else set by stage_apply */
};

/* ---- runner/executor/apply.c: a step's result into its stage */
void step_result_done(struct step_result *res);
/* Writes the result of step `in` into the stage: its layer, its history entry (none
 * when created_by is NULL; res->created is filled when NULL) and its config change. */
void stage_apply(struct stage_run *sr, const struct build_instr *in, struct step_result *res);

/* ---- runner/executor/step.c: a step's overlay and its commit as a layer */
/* Mounts the overlay a step works on (its scratch directory is step-N). */
int step_mount(struct stage_run *sr, struct stepfs **ret, struct molt_error **err);
/*
 * Ends a step: when r is 0, unmounts the overlay and commits its upper directory as
 * the layer of res (none when nothing changed); res gets created_by. Frees fs in
 * every case and returns r or the first error.
 */
int step_finish(struct stage_run *sr, struct stepfs *fs, int r, const char *created_by,
		struct step_result *res, struct molt_error **err);
/*
 * Turns a step's upper directory into res's layer: writes the blob and publishes the
 * tree as the layer's unpacked directory; no layer when the step changed nothing.
 */
int step_commit_upper(struct stage_run *sr, const char *upper, struct step_result *res,
		      struct molt_error **err);

/* ---- runner/executor/instr_*.c: the instructions */
/* A metadata instruction's result: its history entry (ARG: none). */
int instr_metadata(struct stage_run *sr, const struct build_instr *in, struct step_result *res,
		   struct molt_error **err);
/* The config change of instruction `in` (none for RUN, COPY, ADD, ARG). */
void instr_config_apply(struct stage_run *sr, const struct build_instr *in);
/* The layer steps: each fills a step_result and leaves the stage to stage_apply(). */
int instr_workdir(struct stage_run *sr, const struct build_instr *in, struct step_result *res,
		  struct molt_error **err);
int instr_run(struct stage_run *sr, const struct build_instr *in, struct step_result *res,
	      struct molt_error **err);
int instr_copy(struct stage_run *sr, const struct build_instr *in, struct step_result *res,
	       struct molt_error **err);

/* ---- runner/executor/timing.c: phase timings (--debug) */
/* CLOCK_MONOTONIC in nanoseconds. */
int64_t timing_now(void);
/* Adds the time since `since` (a timing_now()) to the running step's phase. */
void timing_add(struct stage_run *sr, enum step_phase ph, int64_t since);
/* With --debug: one line with the step's phases (the rest of `total_ns` is "run"). */
void timing_report(struct stage_run *sr, const char *title, int64_t total_ns, bool cached);

/* ---- runner/executor/chown.c */
/* Resolves --chown "user[:group]" against the rootfs at rootfd (/etc/passwd, /etc/group). */
int chown_resolve(int rootfd, const char *spec, uid_t *ret_uid, gid_t *ret_gid,
		  struct molt_error **err);

/* ---- runner/executor/cache_remote.c: --cache-from and --cache-to */
/* Reads every --cache-from source once; one that cannot be read is a warning. */
void cache_remote_open(struct build_ctx *b);
/* A record of key in the sources: 0, or -ENOENT (a layer blob the source lacks is a
 * warning and a miss). The layer is not fetched: see cache_remote_ready. */
int cache_remote_get(struct build_ctx *b, const char *key, struct cache_entry *ret);
/* Before a tree is used (a step runs on it, COPY --from reads it): fetches the blobs of
 * lazy hits the store lacks and unpacks what is not unpacked, checking each against its
 * diff ID. trees=false (the final image's commit): only the blobs, each fetched one
 * unpacked to check it. Nothing to do costs a stat a layer. */
int cache_remote_ready(struct build_ctx *b, const struct image_config *c,
		       const struct image_descriptor *layers, size_t n, bool trees,
		       struct molt_error **err);
/* Before the outputs: the records a type=inline push carries (b->inline_cache). */
int cache_remote_prepare(struct build_ctx *b, char *const *results, struct molt_error **err);
/* After the outputs: every --cache-to but inline. */
int cache_remote_export(struct build_ctx *b, char *const *results, struct molt_error **err);
/* Pushes img to ref with the inline records in its manifest's annotations; the pushed
 * manifest's digest in ret_digest (may be NULL). */
int cache_remote_push_inline(struct build_ctx *b, const struct image *img, const char *ref,
			     const struct registry_opts *ro, char *ret_digest,
			     struct molt_error **err);
void cache_remote_close(struct build_ctx *b);

/* ---- runner/executor/context.c: the build context's .dockerignore */
/* The build context's .dockerignore (or Dockerfile.dockerignore), loaded once. */
int context_filter_load(struct build_ctx *b, struct molt_error **err);
void context_filter_free(struct build_ctx *b);
/* A dockerignore matcher (may be NULL) as a COPY skip function. */
bool context_ignored(void *ignore, const char *rel, bool is_dir);
/* The filter COPY applies to context sources (fn NULL: nothing is ignored). */
void context_copy_filter(struct build_ctx *b, bool (**ret_fn)(void *, const char *, bool),
			 void **ret_userdata);

/* ---- runner/executor/add.c */
/* ADD's sources: URLs are downloaded, local tar archives extracted, the rest copied. */
int add_sources(struct stage_run *sr, const struct build_instr *in, int src_root, int dst_root,
		const char *dest, const struct copy_opts *o, struct molt_error **err);
/*
 * Downloads a URL of the running ADD step ahead of it (the build cache hashes what
 * an ADD without --checksum would add; the step then uses this download):
 * *ret = "<content digest> <mtime>".
 */
int add_url_prefetch(struct stage_run *sr, const char *url, char **ret, struct molt_error **err);

/* ---- runner/executor/output.c: the outputs of a finished build */
/* Writes the final image to one output. */
int output_write(struct build_ctx *b, const struct build_output_spec *out, const struct image *img,
		 struct molt_error **err);
/* Pushes the final image to the --push / type=image,push=true destinations. */
int output_push(struct build_ctx *b, const struct image *img, struct molt_error **err);
/* --metadata-file: the result's digests and names as buildx writes them. */
int output_metadata_file(struct build_ctx *b, const struct image *img, struct molt_error **err);

#endif
