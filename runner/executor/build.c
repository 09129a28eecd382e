/* SPDX-License-Identifier: Apache-2.0 */
/* The build executor's top level (see build.h for the process model). */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "../../sandbox/sandbox.h"
#include "scheduler.h"
#include "stage.h"


/*
 * What each stage waits for before it starts, as plan positions: the stage its FROM
 * names. Its other reads of stages wait in the worker, at the step (scheduler.c).
 */
static struct sched_stage *sched_graph(const struct build_plan *p, unsigned **ret_storage)
{
	unsigned *deps = xcalloc(p->n_stages + 1, sizeof(unsigned));
	struct sched_stage *g = xcalloc(p->n_stages + 1, sizeof(*g));
	for (size_t i = 0; i < p->n_stages; i++) {
		int pos = p->stages[i].base == BASE_STAGE
				  ? plan_stage_pos(p, p->stages[i].base_stage)
				  : -1;
		g[i].deps = deps + i;
		if (pos >= 0) {
			deps[i] = (unsigned)pos;
			g[i].n_deps = 1;
		}
	}
	*ret_storage = deps;
	return g;
}

/* Progress ids of the steps outside the stages (stage steps are index << 16 | step). */

bool build_stage_no_cache(const struct build_request *o, const struct build_stage *st)
{
	if (o->no_cache)
		return true;
	for (size_t i = 0; o->no_cache_stages && o->no_cache_stages[i]; i++) {
		const char *f = o->no_cache_stages[i];
		int64_t n;
		if ((st->name && str_eq_nocase(st->name, f)) ||
		    (str_to_int64(f, 0, INT32_MAX, &n) == 0 && n == st->index))
			return true;
	}
	return false;
}

static int commit_final(struct build_ctx *b, const char *result, struct image **ret_img,
			struct molt_error **err)
{
	struct image_config cfg = {0};
	struct image_descriptor *layers = NULL;
	size_t n = 0;
	int r = stage_result_parse(result, &cfg, &layers, &n, err);
	/* The image's blobs must be in the store: lazy cache hits are fetched now. */
	if (r == 0)
		r = cache_remote_ready(b, &cfg, layers, n, false, err);
	char manifest[DIGEST_STR_LEN];
	/* --label: on the final image only, over the Dockerfile's LABELs (as BuildKit) */
	for (size_t i = 0; r == 0 && b->o->labels && b->o->labels[i]; i++) {
		const char *kv = b->o->labels[i], *eq = strchr(kv, '=');
		_cleanup_free_ char *k = xstrndup(kv, (size_t)(eq - kv));
		image_kv_set(&cfg.labels, k, eq + 1);
	}
	/* Untagged for now: the names move only once every output was written (finish). */
	if (r == 0)
		r = layer_store_image_commit_annotated(b->store, &cfg, layers, n,
						       b->o->annotations, NULL, manifest, err);
	if (r == 0)
		r = layer_store_image_get(b->store, manifest, ret_img, err);
	ARRAY_FREE(layers, n, image_descriptor_done);
	image_config_done(&cfg);
	return r;
}

static int finish(struct build_ctx *b, char *const *results, struct progress *p,
		  struct molt_error **err)
{
	int pos = plan_stage_pos(b->plan, b->plan->target_index);
	if (pos < 0 || !results[pos])
		return molt_error_setx(err, EINVAL, "the target stage produced no result");
	struct image *img = NULL;
	struct progress_out po = {.direct = p, .fd = -1};
	progress_start(&po, EXPORT_STEP_ID, "exporting to image");
	int r = commit_final(b, results[pos], &img, err);
	if (r == 0)
		r = cache_remote_prepare(b, results, err);
	if (r < 0) {
		progress_end(&po, EXPORT_STEP_ID, false, (*err)->msg);
		image_free(img);
		return r;
	}
	progress_status(&po, EXPORT_STEP_ID, "exporting layers done");
	_cleanup_free_ char *note = xasprintf("writing image %s done", img->id);
	progress_status(&po, EXPORT_STEP_ID, note);
	/* The name as the store keeps it ("docker.io/library/foo:latest"), as BuildKit prints. */
	for (size_t i = 0; b->o->tags && b->o->tags[i]; i++) {
		_cleanup_free_ char *norm = NULL;
		struct molt_error *e = NULL;
		if (image_ref_normalize(b->o->tags[i], &norm, &e) < 0)
			molt_error_drop(&e, "build: the tag is reported as given");
		_cleanup_free_ char *t = xasprintf("naming to %s done", norm ? norm : b->o->tags[i]);
		progress_status(&po, EXPORT_STEP_ID, t);
	}
	for (size_t i = 0; r == 0 && i < b->o->n_outputs; i++)
		r = output_write(b, &b->o->outputs[i], img, err);
	if (r == 0 && b->o->push_refs)
		r = output_push(b, img, err);
	if (r == 0)
		r = cache_remote_export(b, results, err);
	if (r == 0 && b->o->iidfile)
		r = write_file_atomic(b->o->iidfile, img->id, strlen(img->id), 0644, err);
	if (r == 0 && b->o->metadata_file)
		r = output_metadata_file(b, img, err);
	/* A build whose export failed must not have moved a tag (as BuildKit). */
	if (r == 0 && b->o->tags && b->o->tags[0])
		r = layer_store_index_add(b->store, img->manifest_digest, b->o->tags, err);
	progress_end(&po, EXPORT_STEP_ID, false, r < 0 ? (*err)->msg : NULL);
	bool to_stdout = false; /* -o -: stdout holds the tar, not the ID */
	for (size_t i = 0; i < b->o->n_outputs; i++)
		to_stdout |= !strcmp(b->o->outputs[i].dest, "-");
	if (r == 0 && progress_get_mode(p) == PROGRESS_QUIET && !to_stdout)
		printf("%s\n", img->id);
	image_free(img);
	return r;
}

static int run_build(struct build_ctx *b, struct progress *p, struct molt_error **err)
{
	_cleanup_free_ unsigned *storage = NULL;
	_cleanup_free_ struct sched_stage *g = sched_graph(b->plan, &storage);
	char **results = NULL;
	unsigned jobs = b->o->jobs ? b->o->jobs : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	int r = scheduler_run(g, b->plan->n_stages, jobs, stage_worker, b, p, &results, err);
	int64_t t0 = timing_now();
	if (r == 0)
		r = finish(b, results, p, err);
	if (r == 0)
		molt_debug("timing build: exported in %.3f s", (double)(timing_now() - t0) / 1e9);
	for (size_t i = 0; results && i < b->plan->n_stages; i++)
		free(results[i]);
	free(results);
	return r;
}


/* BuildKit's first step: "[internal] load build definition from Dockerfile". */
static void load_definition(const struct progress_out *po, const struct build_request *o)
{
	_cleanup_free_ char *title = xasprintf("[internal] load build definition from %s",
					       o->dockerfile_name ? o->dockerfile_name : "Dockerfile");
	progress_start(po, INTERNAL_STEP_ID, title);
	if (o->df) {
		size_t n = 0;
		for (size_t i = 0; i < o->df->n_lines; i++)
			n += strlen(o->df->lines[i]) + 1;
		_cleanup_free_ char *st = xasprintf("transferring dockerfile: %zuB done", n);
		progress_status(po, INTERNAL_STEP_ID, st);
	}
	progress_end(po, INTERNAL_STEP_ID, false, NULL);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *mountinfo_unescape(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

static int cmp_len_desc(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
	return la < lb ? 1 : la > lb ? -1 : 0;
}

/*
 * A stage worker killed mid-step (SIGINT, a failing sibling stage) cannot unmount
 * its overlays: they live in the build namespace's mount namespace, which is ours,
 * and would keep the scratch directory from being removed. Detach whatever is still
 * mounted below it, deepest first.
 */
static void unmount_below(const char *dir)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	_cleanup_free_ char *prefix = xasprintf("%s/", dir);
	_cleanup_strv_ char **points = xcalloc(1, sizeof(char *));
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		char point[4096];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1)
			continue;
		char *p = mountinfo_unescape(point);
		if (str_startswith(p, prefix))
			strv_push_take(&points, p);
		else
			free(p);
	}
	free(line);
	qsort(points, strv_len(points), sizeof(char *), cmp_len_desc);
	for (size_t i = 0; points[i]; i++)
		if (umount2(points[i], MNT_DETACH) < 0)
			molt_debug("build: cannot unmount '%s': %s", points[i], strerror(errno));
}

int build_open(const struct build_request *o, struct build_ctx **ret, struct molt_error **err)
{
	int r = sandbox_enter_build_namespace(NULL, err);
	if (r < 0)
		return r;
	/* docker build's umask: the directories COPY, ADD, WORKDIR and overlay make, and
	 * what steps create, must not depend on the caller's (077 would give 0700 trees,
	 * another image digest for another user). Files molt keeps private get explicit
	 * modes (the store is 0700). */
	umask(022);
	struct build_ctx *b = xcalloc(1, sizeof(*b));
	*b = (struct build_ctx){.o = o, .context_fd = -1};
	/* The renderer lives from here: the planner's base images show as "load metadata"
	 * steps (bases.c) before any stage runs. */
	b->p = progress_new(o->progress, STDERR_FILENO);
	b->po = (struct progress_out){.direct = b->p, .fd = -1};
	if (o->df)
		progress_set_source(b->p, o->dockerfile_name, o->df->lines, o->df->n_lines);
	load_definition(&b->po, o);
	b->context_fd = open(o->context_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (b->context_fd < 0)
		r = molt_error_set(err, errno, "open the build context '%s'", o->context_dir);
	if (r == 0)
		r = layer_store_open(o->store_root, &b->store, err);
	const char *tmp = NULL;
	if (r == 0)
		r = layer_store_tmpdir(b->store, &tmp, err);
	b->tmp = tmp;
	if (r < 0) {
		build_close(b);
		return r;
	}
	*ret = b;
	return 0;
}

int build_run(struct build_ctx *b, const struct build_plan *plan, struct molt_error **err)
{
	b->plan = plan;
	int r = bases_resolve(b, err);
	if (r == 0)
		molt_debug("timing build: bases resolved in %.3f s (pull %.3f s)",
			   (double)b->bases_ns / 1e9, (double)b->pull_ns / 1e9);
	if (r == 0) {
		progress_start(&b->po, INTERNAL_STEP_ID + 1, "[internal] load .dockerignore");
		r = context_filter_load(b, err);
		progress_end(&b->po, INTERNAL_STEP_ID + 1, false, r < 0 ? (*err)->msg : NULL);
	}
	if (r == 0) {
		/* molt reads the context where it is: nothing to transfer, as a step all the same. */
		progress_start(&b->po, INTERNAL_STEP_ID + 2, "[internal] load build context");
		progress_end(&b->po, INTERNAL_STEP_ID + 2, false, NULL);
	}
	if (r == 0)
		cache_remote_open(b);
	b->build_time = image_build_time();
	if (r == 0)
		r = run_build(b, b->p, err);
	progress_finish(b->p, r < 0 && *err ? (*err)->msg : NULL);
	if (r < 0 && b->tmp)
		unmount_below(b->tmp);
	return r;
}

void build_close(struct build_ctx *b)
{
	if (!b)
		return;
	context_filter_free(b);
	cache_remote_close(b);
	bases_free(b);
	progress_free(b->p);
	layer_store_free(b->store);
	if (b->context_fd >= 0)
		close(b->context_fd);
	free(b);
}
