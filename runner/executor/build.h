/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/build.h: the build executor — runs a resolved plan (runner/frontend/plan.h) and
 * produces an image in the store and the requested outputs.
 *
 * Process model: molt enters the build namespace, opens the store and forks one
 * worker per stage (runner/executor/scheduler.h); workers mount their overlays in the build
 * namespace's private mount namespace, which disappears with molt. Each step of a stage is
 * one overlay over the stage's unpacked layers (runner/executor/stepfs.h): RUN executes in
 * the sandbox over it, COPY/ADD write into it, and afterwards the overlay's upper
 * directory is the step's change, which becomes one layer blob (and, renamed, the
 * unpacked tree of that layer). A stage's result is its image config and layer
 * descriptors, passed to the stages after it as JSON; the final stage's result is
 * committed to the store. Scratch files live in the store's per-process tmp/
 * directory, which the store removes when a killed molt left it behind.
 */
#ifndef MOLT_RUNNER_BUILD_H
#define MOLT_RUNNER_BUILD_H

#include "../../lib/base.h"
#include "../../layers/layers.h"
#include "../frontend/plan.h"
#include "progress.h"
#include "run_opts.h"

enum build_output_type { OUTPUT_LOCAL, OUTPUT_TAR, OUTPUT_OCI, OUTPUT_DOCKER };

struct build_output_spec {
	enum build_output_type type;
	const char *dest;
	/* oci, docker: its layers' compression (compression=, compression-level=,
	 * force-compression=; gzip by default for oci; docker without any of them:
	 * uncompressed "<diff ID>.tar" layers) */
	struct export_compression compression;
	bool compression_set;
};

/* --cache-to / --cache-from (runner/executor/cache_remote.c). */
enum build_cache_type { BUILD_CACHE_REGISTRY, BUILD_CACHE_LOCAL, BUILD_CACHE_INLINE };
struct build_cache_spec {
	enum build_cache_type type;
	char *where;       /* the reference (registry) or the directory (local); NULL: inline */
	bool mode_max;     /* export every stage's steps, not only the final image's */
	char *compression; /* "gzip", "zstd" or NULL */
};
/* Parses "type=registry,ref=REF[,mode=min|max][,compression=gzip|zstd]",
 * "type=local,dest=DIR" (src=DIR when importing), "type=inline" (export only) or a bare
 * REF (registry); one usage error for anything else. */
int build_cache_spec_parse(const char *spec, bool export, struct build_cache_spec *ret,
			   struct molt_error **err);
void build_cache_spec_done(struct build_cache_spec *c);

struct build_request {
	const char *store_root;
	const char *context_dir;
	/* The Dockerfile's path (for Dockerfile.dockerignore), NULL when read from stdin. */
	const char *dockerfile_path;
	char *const *tags;
	const char *dockerfile_name; /* what messages call the Dockerfile */
	const struct build_output_spec *outputs;
	size_t n_outputs;
	const char *iidfile;
	const char *network; /* default network of RUN steps: "host" or "none" */
	uint64_t memory;     /* RUN steps' memory limit (RLIMIT_DATA), 0 = the sandbox's default */
	enum progress_mode progress;
	unsigned jobs;
	bool no_cache;
	bool explain_cache; /* --explain-cache: say why each missed step missed */
	/* The parsed Dockerfile, for progress only ("load build definition", the lines
	 * around a failed step); NULL: none shown. */
	const struct dockerfile *df;
	/* Registries: options (NULL: defaults), --pull (re-check every image the plan
	 * names), and where the result is pushed (--push, type=image,push=true). */
	const struct registry_opts *registry;
	bool pull;
	char *const *push_refs;
	const struct build_run_opts *run; /* secrets, ssh, hosts, ulimits (NULL: none) */
	/* docker build parity (runner/cli/cmd_build_extra.c): --label k=v on the config,
	 * --annotation k=v on the manifest, --no-cache-filter stage names or indexes,
	 * --metadata-file written after the outputs (NULL/empty: none). */
	char *const *labels;
	char *const *annotations;
	char *const *no_cache_stages;
	const char *metadata_file;
	/* --cache-from (tried in order after the local cache) and --cache-to. */
	const struct build_cache_spec *cache_from;
	size_t n_cache_from;
	const struct build_cache_spec *cache_to;
	size_t n_cache_to;
	struct export_compression push_compression; /* type=image|registry,compression=… */
};

/* Whether the build cache is off for this stage (--no-cache, --no-cache-filter). */
bool build_stage_no_cache(const struct build_request *o, const struct build_stage *st);

/*
 * One build, in the order the data flows: build_open() enters the build namespace and
 * opens the store and the context; the frontend plans with
 * plan_options.base_config = build_base_config and base_ud = the build, which pulls
 * and resolves each FROM image once (its config gives the stage's expansion
 * environment and ONBUILD triggers); build_run() takes that plan as data.
 */
struct build_ctx;
int build_open(const struct build_request *o, struct build_ctx **ret, struct molt_error **err);
/* A plan_options.base_config (ud: the build_ctx): the image pulled and resolved once. */
int build_base_config(void *ud, const char *image, const char *platform, struct plan_base *ret);
/*
 * Runs the plan. On success the image is in the store (tagged with o->tags), the
 * outputs are written, and "writing image sha256:…" is reported. On failure nothing
 * is tagged and the build's scratch state is gone.
 */
int build_run(struct build_ctx *b, const struct build_plan *plan, struct molt_error **err);
void build_close(struct build_ctx *b);

#endif
