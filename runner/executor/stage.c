/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One stage in its worker process: the base (scratch, a stored image, or an earlier
 * stage's result), the base image's ONBUILD triggers, then each instruction.
 */
#include <jansson.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "cache.h"
#include "stage.h"

char *stage_result_to_json(const struct image_config *c, const struct image_descriptor *layers,
			   size_t n_layers)
{
	_cleanup_free_ char *cfg = image_config_to_json(c);
	json_t *root = json_object();
	json_object_set_new(root, "config", json_loads(cfg, 0, NULL));
	json_t *arr = json_array();
	for (size_t i = 0; i < n_layers; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "mediaType",
						     layers[i].media_type, "digest",
						     layers[i].digest, "size",
						     (json_int_t)layers[i].size));
	json_object_set_new(root, "layers", arr);
	char *s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

int stage_result_parse(const char *text, struct image_config *ret_config,
		       struct image_descriptor **ret_layers, size_t *ret_n, struct molt_error **err)
{
	json_error_t je;
	json_t *root = json_loads(text, 0, &je);
	if (!root)
		return molt_error_setx(err, EINVAL, "read a stage result: %s", je.text);
	json_t *cfg = json_object_get(root, "config");
	json_t *arr = json_object_get(root, "layers");
	_cleanup_free_ char *cfgs = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
	int r = cfgs ? image_config_parse(cfgs, strlen(cfgs), ret_config, err)
		     : molt_error_setx(err, EINVAL, "a stage result without a config");
	if (r < 0) {
		json_decref(root);
		return r;
	}
	size_t n = json_array_size(arr);
	struct image_descriptor *l = xcalloc(n + 1, sizeof(*l));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		l[i].media_type = xstrdup(json_string_value(json_object_get(e, "mediaType")) ?: "");
		snprintf(l[i].digest, sizeof(l[i].digest), "%s",
			 json_string_value(json_object_get(e, "digest")) ?: "");
		l[i].size = json_integer_value(json_object_get(e, "size"));
	}
	json_decref(root);
	*ret_layers = l;
	*ret_n = n;
	return 0;
}


int stage_mount_from(struct stage_run *sr, const char *from, int from_stage, const char *name,
		     struct stepfs **ret, struct molt_error **err)
{
	struct image_config cfg = {0};
	struct image_descriptor *layers = NULL;
	size_t n = 0;
	int r;
	if (from_stage >= 0) {
		int pos = plan_stage_pos(sr->b->plan, from_stage);
		if (pos < 0 || !sr->results[pos])
			return molt_error_setx(err, EINVAL, "--from: stage %d has no result",
					       from_stage);
		r = stage_result_parse(sr->results[pos], &cfg, &layers, &n, err);
		if (r == 0)
			r = cache_remote_ready(sr->b, &cfg, layers, n, true, err);
	} else {
		const struct image *img = NULL;
		r = bases_get(sr->b, from, &img, err);
		if (r == 0) {
			image_config_copy(&cfg, &img->config);
			n = img->manifest.n_layers;
			layers = xcalloc(n + 1, sizeof(*layers));
			for (size_t i = 0; i < n; i++)
				image_descriptor_copy(&layers[i], &img->manifest.layers[i]);
			r = image_ensure_unpacked(sr->b->store, sr->b->tmp, &cfg, layers, n, err);
		}
	}
	if (r == 0) {
		_cleanup_strv_ char **lowers = layer_store_lowers(sr->b->store, &cfg);
		_cleanup_free_ char *dir = xasprintf("%s/%s-%u", sr->scratch, name, sr->step);
		int64_t t0 = timing_now();
		r = stepfs_mount(dir, lowers, true, ret, err);
		timing_add(sr, PHASE_MOUNT, t0);
	}
	ARRAY_FREE(layers, n, image_descriptor_done);
	image_config_done(&cfg);
	return r;
}

static int base_image(struct stage_run *sr, struct molt_error **err)
{
	const struct image *img = NULL;
	int r = bases_get(sr->b, sr->st->from, &img, err);
	if (r == -ENOENT) {
		molt_error_free(*err);
		*err = NULL;
		return molt_error_setx(err, ENOENT,
				       "base image '%s' is not in the store (load it with 'molt "
				       "load' or 'molt pull' first)",
				       sr->st->from);
	}
	if (r < 0)
		return r;
	image_config_copy(&sr->config, &img->config);
	sr->n_layers = img->manifest.n_layers;
	sr->layers = xcalloc(sr->n_layers + 1, sizeof(*sr->layers));
	for (size_t i = 0; i < sr->n_layers; i++)
		image_descriptor_copy(&sr->layers[i], &img->manifest.layers[i]);
	if (strv_len(sr->config.diff_ids) != sr->n_layers)
		return molt_error_setx(err, EINVAL, "base image '%s': %zu layers but %zu diff IDs",
				       sr->st->from, sr->n_layers, strv_len(sr->config.diff_ids));
	/* With a shared cache, a CI runner's empty store may never need the base's tree
	 * (every step hits): it is unpacked before the first step that runs. */
	if (sr->b->n_cache_from)
		return 0;
	int64_t t0 = timing_now();
	r = image_ensure_unpacked(sr->b->store, sr->b->tmp, &sr->config, sr->layers,
				  sr->n_layers, err);
	molt_debug("timing stage %d: base '%s' unpacked in %.3f s", sr->st->index, sr->st->from,
		   (double)(timing_now() - t0) / 1e9);
	return r;
}

static int stage_base(struct stage_run *sr, struct molt_error **err)
{
	const struct build_plan *p = sr->b->plan;
	switch (sr->st->base) {
	case BASE_SCRATCH:
		sr->config.architecture = xstrdup(p->target_platform.arch);
		sr->config.os = xstrdup(p->target_platform.os);
		if (p->target_platform.variant[0])
			sr->config.variant = xstrdup(p->target_platform.variant);
		/* BuildKit's empty image (dockerfile2llb emptyImage) has both. */
		strv_push(&sr->config.env, "PATH=" PLAN_DEFAULT_PATH);
		sr->config.working_dir = xstrdup("/");
		return 0;
	case BASE_IMAGE:
		return base_image(sr, err);
	case BASE_STAGE: {
		int pos = plan_stage_pos(p, sr->st->base_stage);
		if (pos < 0 || !sr->results[pos])
			return molt_error_setx(err, EINVAL, "stage %d has no result",
					       sr->st->base_stage);
		return stage_result_parse(sr->results[pos], &sr->config, &sr->layers,
					  &sr->n_layers, err);
	}
	}
	return molt_error_setx(err, EINVAL, "unknown base kind");
}

static int run_instr(struct stage_run *sr, const struct build_instr *in, struct step_result *res,
		     struct molt_error **err)
{
	switch (in->kind) {
	case DF_RUN:
		return instr_run(sr, in, res, err);
	case DF_COPY:
	case DF_ADD:
		return instr_copy(sr, in, res, err);
	case DF_WORKDIR:
		return instr_workdir(sr, in, res, err);
	default:
		return instr_metadata(sr, in, res, err);
	}
}

static bool is_layer_step(const struct build_instr *in)
{
	return in->kind == DF_RUN || in->kind == DF_COPY || in->kind == DF_ADD ||
	       in->kind == DF_WORKDIR;
}

/*
 * One step: a layer step's result comes from the build cache when it holds it, else
 * from running the instruction (a metadata instruction's always does); either way
 * stage_apply() writes it into the stage, and a layer step's result that ran is
 * recorded.
 */
static int run_layer_step(struct stage_run *sr, const struct build_instr *in, bool *ret_cached,
			  struct molt_error **err)
{
	*ret_cached = false;
	bool layer = is_layer_step(in);
	struct step_result res = {0};
	int64_t t0 = timing_now();
	int r = layer ? cache_step_lookup(sr, in, &res, ret_cached, err) : 0;
	timing_add(sr, PHASE_KEY, t0);
	if (r == 0 && !*ret_cached)
		r = cache_remote_ready(sr->b, &sr->config, sr->layers, sr->n_layers, true, err);
	if (r == 0 && !*ret_cached)
		r = run_instr(sr, in, &res, err);
	if (r == 0)
		stage_apply(sr, in, &res);
	t0 = timing_now();
	if (r == 0 && layer && !*ret_cached)
		r = cache_step_record(sr, &res, err);
	timing_add(sr, PHASE_RECORD, t0);
	step_result_done(&res);
	return r;
}

static int run_step(struct stage_run *sr, const struct build_instr *in, const char *title,
		    bool *ret_cached, struct molt_error **err)
{
	*ret_cached = false;
	if (!is_layer_step(in))
		return run_layer_step(sr, in, ret_cached, err);
	int64_t t0 = timing_now();
	int r = run_layer_step(sr, in, ret_cached, err);
	if (r == 0)
		timing_report(sr, title, timing_now() - t0 + sr->timing.ns[PHASE_WAIT], *ret_cached);
	memset(&sr->timing, 0, sizeof(sr->timing));
	return r;
}

/* The name progress gives a stage. */
static char *stage_label(const struct build_stage *st)
{
	return st->name ? xstrdup(st->name) : xasprintf("stage-%d", st->index);
}

/*
 * A step reading a stage (Dockerfile index) whose result this worker does not know
 * yet waits for it here, shown as waiting meanwhile. Its job slot goes to another
 * stage while it waits (scheduler.c).
 */
static int await_stage(struct stage_run *sr, int index, const char *title,
		       struct molt_error **err)
{
	int pos = index >= 0 ? plan_stage_pos(sr->b->plan, index) : -1;
	if (pos < 0 || !sr->link || sched_known(sr->link, (unsigned)pos))
		return 0;
	_cleanup_free_ char *label = stage_label(&sr->b->plan->stages[pos]);
	_cleanup_free_ char *what = xasprintf("stage %s", label);
	progress_wait(sr->po, sr->step_id, title, what);
	int64_t t0 = timing_now();
	int r = sched_await(sr->link, (unsigned)pos, err);
	timing_add(sr, PHASE_WAIT, t0);
	return r;
}

/* Waits for the stages a step reads: COPY/ADD --from, RUN --mount from=. */
static int await_reads(struct stage_run *sr, const struct build_instr *in, const char *title,
		       struct molt_error **err)
{
	int r = 0;
	if ((in->kind == DF_COPY || in->kind == DF_ADD) && in->from)
		r = await_stage(sr, in->from_stage, title, err);
	for (size_t i = 0; r == 0 && in->kind == DF_RUN && i < in->n_mounts; i++)
		if (in->mounts[i].from)
			r = await_stage(sr, in->mounts[i].from_stage, title, err);
	return r;
}

/* BuildKit's count: FROM (unless scratch), then RUN, COPY, ADD and WORKDIR; the
 * metadata instructions (ENV, LABEL, …) are no steps of their own. */
static unsigned step_total(const struct build_stage *st)
{
	unsigned n = st->base == BASE_SCRATCH ? 0 : 1;
	for (size_t i = 0; i < st->n_instrs; i++)
		n += is_layer_step(&st->instrs[i]);
	return n;
}

/* "[builder 2/5] RUN make", "[ 3/12] COPY . ." (BuildKit pads to the total's width; a
 * Dockerfile of one stage names none, an unnamed one of several is "stage-N"). */
static char *step_title(const struct stage_run *sr, unsigned step, const char *text)
{
	unsigned n = step_total(sr->st), width = 1;
	for (unsigned t = n; t >= 10; t /= 10)
		width++;
	if (sr->b->plan->n_stages == 1)
		return xasprintf("[%*u/%u] %s", (int)width, step, n, text);
	_cleanup_free_ char *name = stage_label(sr->st);
	return xasprintf("[%s %*u/%u] %s", name, (int)width, step, n, text);
}

/* The FROM step of an image base: "FROM docker.io/library/busybox:latest@sha256:…". */
static int from_step(struct stage_run *sr, struct molt_error **err)
{
	const struct build_stage *st = sr->st;
	const struct image *img = NULL;
	struct molt_error *e = NULL;
	_cleanup_free_ char *ref = NULL;
	if (image_ref_normalize(st->from, &ref, &e) < 0) {
		molt_error_free(e);
		ref = xstrdup(st->from);
	}
	_cleanup_free_ char *text = NULL;
	if (bases_get(sr->b, st->from, &img, &e) == 0 && !strchr(ref, '@'))
		text = xasprintf("FROM %s@%s", ref, img->manifest_digest);
	else
		text = xasprintf("FROM %s", ref);
	molt_error_free(e);
	_cleanup_free_ char *title = step_title(sr, 1, text);
	unsigned id = (unsigned)(st->index << 16);
	progress_start_at(sr->po, id, title, st->line, st->line);
	int r = stage_base(sr, err);
	progress_end(sr->po, id, false, r < 0 ? (*err)->msg : NULL);
	return r;
}

/*
 * The ONBUILD triggers the plan gives the stage (its base image's, or its base
 * stage's ONBUILD instructions) run right after FROM, as if they were written there,
 * and are not inherited further (Dockerfile reference: ONBUILD).
 */
static int run_onbuild(struct stage_run *sr, struct molt_error **err)
{
	strv_free(sr->config.onbuild);
	sr->config.onbuild = NULL;
	const struct build_stage *ob = sr->st->onbuild;
	int r = 0;
	for (size_t i = 0; ob && r == 0 && i < ob->n_instrs; i++) {
		const struct build_instr *in = &ob->instrs[i];
		unsigned id = (unsigned)(sr->st->index << 16) | 0x8000u | (unsigned)i;
		_cleanup_free_ char *title = xasprintf("[%s ONBUILD] %s",
						       sr->st->name ? sr->st->name : "stage",
						       in->original);
		progress_start(sr->po, id, title);
		sr->step_id = id;
		bool cached = false;
		r = run_step(sr, in, title, &cached, err);
		progress_end(sr->po, id, cached, r < 0 ? "failed" : NULL);
	}
	if (r < 0)
		molt_error_wrap(err, "ONBUILD trigger of '%s'", sr->st->from);
	return r;
}

static int run_stage(struct stage_run *sr, struct molt_error **err)
{
	const struct build_stage *st = sr->st;
	int r = st->base == BASE_IMAGE ? from_step(sr, err) : stage_base(sr, err);
	if (r < 0)
		return molt_error_wrap(err, "%s:%d: FROM %s", sr->b->o->dockerfile_name, st->line,
				       st->from);
	r = cache_stage_begin(sr, err);
	if (r == 0)
		r = run_onbuild(sr, err);
	if (r < 0)
		return r;
	unsigned shown = st->base == BASE_SCRATCH ? 0 : 1;
	for (size_t i = 0; i < st->n_instrs; i++) {
		const struct build_instr *in = &st->instrs[i];
		bool listed = is_layer_step(in);
		sr->step = (unsigned)i + 1;
		sr->step_id = (unsigned)(st->index << 16) | sr->step;
		_cleanup_free_ char *title = listed ? step_title(sr, ++shown, in->original)
						    : xstrdup(in->original);
		if (listed) {
			r = await_reads(sr, in, title, err);
			if (r < 0)
				return molt_error_wrap(err, "%s:%d: %s", sr->b->o->dockerfile_name,
						       in->line, df_kind_name(in->kind));
			progress_start_at(sr->po, sr->step_id, title, in->line, in->end_line);
		}
		bool cached = false;
		r = run_step(sr, in, title, &cached, err);
		if (r < 0) {
			if (listed)
				progress_end(sr->po, sr->step_id, false, (*err)->msg);
			return molt_error_wrap(err, "%s:%d: %s", sr->b->o->dockerfile_name,
					       in->line, df_kind_name(in->kind));
		}
		if (listed)
			progress_end(sr->po, sr->step_id, cached, NULL);
	}
	return 0;
}

int stage_worker(void *userdata, unsigned index, struct sched_link *link,
		 const struct progress_out *po, char **ret_result, struct molt_error **err)
{
	struct build_ctx *b = userdata;
	struct stage_run sr = {.b = b,
			       .st = &b->plan->stages[index],
			       .results = link->results,
			       .link = link,
			       .po = po};
	/*
	 * The worker stays in the build namespace's mount namespace: the store's fds were
	 * opened there, and rename(2) between a path seen through another mount namespace
	 * and such an fd fails with EXDEV. Overlays a killed worker leaves mounted die with
	 * the build namespace when molt exits.
	 */
	sr.scratch = xasprintf("%s/stage-%d", b->tmp, sr.st->index);
	int r = 0;
	if (mkdir(sr.scratch, 0700) < 0)
		r = molt_error_set(err, errno, "create '%s'", sr.scratch);
	if (r == 0)
		r = run_stage(&sr, err);
	if (r == 0) {
		free(sr.config.created);
		sr.config.created = cache_stage_time(&sr);
		*ret_result = stage_result_to_json(&sr.config, sr.layers, sr.n_layers);
		cache_stage_result(&sr, ret_result);
	}
	struct molt_error *e2 = NULL;
	if (rm_rf(sr.scratch, &e2) < 0)
		molt_error_drop(&e2, "build: the store's tmp/ sweep removes it later");
	free(sr.scratch);
	ARRAY_FREE(sr.layers, sr.n_layers, image_descriptor_done);
	env_index_done(&sr.env_idx);
	env_index_done(&sr.label_idx);
	image_config_done(&sr.config);
	cache_stage_free(&sr);
	return r;
}
