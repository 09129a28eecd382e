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
	/*
	 * The parsed Dockerfile and the options the plan was made with: once the store
	 * is open the executor plans again with the base images' configs (plan_base), so
	 * that expansion sees their Env/WorkingDir as BuildKit's does. NULL: the plan as given.
	 */
	const struct dockerfile *df;
	const struct plan_options *plan_opts;
	/* Registries: options (NULL: defaults), --pull (re-check every image the plan
	 * names), and where the result is pushed (--push, type=image,push=true). */
	const struct registry_opts *registry;
	bool pull;
	char *const *push_refs;
	struct export_compression push_compression; /* type=image|registry,compression=… */
};

/*
 * Runs the plan. On success the image is in the store (tagged with o->tags), the
 * outputs are written, and "writing image sha256:…" is reported. On failure nothing
 * is tagged and the build's scratch state is gone.
 */
int build_execute(const struct build_plan *plan, const struct build_request *o,
		  struct molt_error **err);

#endif
