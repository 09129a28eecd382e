/* SPDX-License-Identifier: Apache-2.0 */
/* The build executor's top level (see build.h for the process model). */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "../../sandbox/sandbox.h"
#include "scheduler.h"
#include "stage.h"


/* The stages' dependencies as plan positions, for the scheduler. */
static struct sched_stage *sched_graph(const struct build_plan *p, unsigned **ret_storage)
{
	size_t total = 0;
	for (size_t i = 0; i < p->n_stages; i++)
		total += p->stages[i].n_depends;
	unsigned *deps = xcalloc(total + 1, sizeof(unsigned));
	struct sched_stage *g = xcalloc(p->n_stages + 1, sizeof(*g));
	size_t k = 0;
	for (size_t i = 0; i < p->n_stages; i++) {
		g[i].deps = deps + k;
		for (size_t d = 0; d < p->stages[i].n_depends; d++) {
			int pos = plan_stage_pos(p, p->stages[i].depends_on[d]);
			if (pos >= 0)
				deps[k + g[i].n_deps++] = (unsigned)pos;
		}
		k += g[i].n_deps;
	}
	*ret_storage = deps;
	return g;
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
	/* Untagged for now: the names move only once every output was written (finish). */
	if (r == 0)
		r = layer_store_image_commit(b->store, &cfg, layers, n, NULL, manifest, err);
	if (r == 0)
		r = layer_store_image_get(b->store, manifest, ret_img, err);
	for (size_t i = 0; i < n; i++)
		image_descriptor_done(&layers[i]);
	free(layers);
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
	int r = commit_final(b, results[pos], &img, err);
	if (r == 0)
		r = cache_remote_prepare(b, results, err);
	if (r < 0) {
		image_free(img);
		return r;
	}
	struct progress_out po = {.direct = p, .fd = -1};
	_cleanup_free_ char *note = xasprintf("writing image %s", img->id);
	progress_note(&po, note);
	/* The name as the store keeps it ("docker.io/library/foo:latest"), as BuildKit prints. */
	for (size_t i = 0; b->o->tags && b->o->tags[i]; i++) {
		_cleanup_free_ char *norm = NULL;
		struct molt_error *e = NULL;
		if (image_ref_normalize(b->o->tags[i], &norm, &e) < 0)
			molt_error_free(e);
		_cleanup_free_ char *t = xasprintf("naming to %s", norm ? norm : b->o->tags[i]);
		progress_note(&po, t);
	}
	for (size_t i = 0; r == 0 && i < b->o->n_outputs; i++)
		r = output_write(b, &b->o->outputs[i], img, err);
	if (r == 0 && b->o->push_refs)
		r = output_push(b, img, err);
	if (r == 0)
		r = cache_remote_export(b, results, err);
	if (r == 0 && b->o->iidfile)
		r = write_file_atomic(b->o->iidfile, img->id, strlen(img->id), 0644, err);
	/* A build whose export failed must not have moved a tag (as BuildKit). */
	if (r == 0 && b->o->tags && b->o->tags[0])
		r = layer_store_index_add(b->store, img->manifest_digest, b->o->tags, err);
	if (r == 0 && progress_get_mode(p) == PROGRESS_QUIET)
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
	if (r == 0)
		r = finish(b, results, p, err);
	for (size_t i = 0; results && i < b->plan->n_stages; i++)
		free(results[i]);
	free(results);
	return r;
}


static int resolved_base_config(void *ud, const char *image, struct plan_base *ret)
{
	const struct image *img = NULL;
	_cleanup_error_ struct molt_error *e = NULL;
	int r = bases_get(ud, image, &img, &e);
	if (r < 0)
		return r;
	plan_base_from_config(&img->config, ret);
	return 0;
}

/* Plans again with the resolved base images' configs (build.h: df). */
static int replan(struct build_ctx *b, struct build_plan **ret, struct molt_error **err)
{
	struct plan_options po = *b->o->plan_opts;
	po.base_config = resolved_base_config;
	po.base_ud = b;
	return build_plan_make(b->o->df, &po, ret, err);
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

int build_execute(const struct build_plan *plan, const struct build_request *o,
		  struct molt_error **err)
{
	int r = sandbox_enter_build_namespace(NULL, err);
	if (r < 0)
		return r;
	/* docker build's umask: the directories COPY, ADD, WORKDIR and overlay make, and
	 * what steps create, must not depend on the caller's (077 would give 0700 trees,
	 * another image digest for another user). Files molt keeps private get explicit
	 * modes (the store is 0700). */
	umask(022);
	struct build_ctx b = {.plan = plan, .o = o, .context_fd = -1};
	b.context_fd = open(o->context_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (b.context_fd < 0)
		return molt_error_set(err, errno, "open the build context '%s'", o->context_dir);
	r = layer_store_open(o->store_root, &b.store, err);
	const char *tmp = NULL;
	if (r == 0)
		r = layer_store_tmpdir(b.store, &tmp, err);
	b.tmp = tmp;
	struct build_plan *own_plan = NULL;
	if (r == 0)
		r = bases_pull(&b, err);
	if (r == 0)
		r = bases_resolve(&b, err);
	if (r == 0 && o->df && o->plan_opts && (r = replan(&b, &own_plan, err)) == 0)
		b.plan = own_plan;
	if (r == 0)
		r = context_filter_load(&b, err);
	if (r == 0)
		cache_remote_open(&b);
	b.build_time = image_build_time();
	struct progress *p = r == 0 ? progress_new(o->progress, STDERR_FILENO) : NULL;
	if (r == 0)
		r = run_build(&b, p, err);
	progress_free(p);
	if (r < 0 && b.tmp)
		unmount_below(b.tmp);
	context_filter_free(&b);
	cache_remote_close(&b);
	bases_free(&b);
	layer_store_free(b.store);
	build_plan_free(own_plan);
	close(b.context_fd);
	return r;
}
