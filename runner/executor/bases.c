/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/bases.c: the images the plan names. Each image a FROM, COPY --from
 * or RUN --mount from= names is pulled when the store lacks it (always with --pull)
 * and resolved once, then kept: a FROM's while the frontend plans (its config gives
 * the stage's expansion environment and ONBUILD triggers, build_base_config), the
 * others before any stage runs (bases_resolve). The expansion environment, the layers
 * and the cache key of every stage all come from that one manifest, whatever
 * `molt tag` or `molt pull` does meanwhile.
 */
#include <string.h>

#include "stage.h"

static void push_instr_images(char ***v, const struct build_instr *in)
{
	if (in->from && in->from_stage < 0 && !strv_contains(*v, in->from))
		strv_push(v, in->from);
	for (size_t m = 0; m < in->n_mounts; m++) {
		const struct build_mount *bm = &in->mounts[m];
		if (bm->from && bm->from_stage < 0 && !strv_contains(*v, bm->from))
			strv_push(v, bm->from);
	}
}

/* Every image (not stage) the plan reads, once each, ONBUILD triggers included. */
static char **plan_images(const struct build_plan *p)
{
	char **v = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < p->n_stages; i++) {
		const struct build_stage *st = &p->stages[i];
		if (st->base == BASE_IMAGE && st->from && !strv_contains(v, st->from))
			strv_push(&v, st->from);
		for (size_t k = 0; st->onbuild && k < st->onbuild->n_instrs; k++)
			push_instr_images(&v, &st->onbuild->instrs[k]);
		for (size_t k = 0; k < st->n_instrs; k++)
			push_instr_images(&v, &st->instrs[k]);
	}
	return v;
}

/* The platform a FROM asks for (--platform on the FROM, else the build's). */
static const char *stage_platform(const struct build_plan *p, const char *image)
{
	for (size_t i = 0; i < p->n_stages; i++)
		if (p->stages[i].base == BASE_IMAGE && p->stages[i].from &&
		    !strcmp(p->stages[i].from, image) && p->stages[i].platform)
			return p->stages[i].platform;
	return NULL;
}

static bool in_store(struct layer_store *s, const char *image)
{
	struct image *img = NULL;
	struct molt_error *e = NULL;
	int r = layer_store_resolve(s, image, &img, &e);
	molt_error_drop(&e, "build: not in the store, pulled");
	image_free(img);
	return r == 0;
}

/* Pulls image when the store lacks it (always with --pull). */
static int base_pull(struct build_ctx *b, const char *image, const char *platform,
		     struct molt_error **err)
{
	const struct build_request *o = b->o;
	/* An ID or a name only the store knows is never looked for elsewhere. */
	if (digest_is_valid(image) || (!o->pull && in_store(b->store, image)))
		return 0;
	struct image_ref ref = {0};
	struct molt_error *e = NULL;
	if (image_ref_parse(image, &ref, &e) < 0) {
		molt_error_drop(&e, "build: the stage reports it as a missing image");
		return 0;
	}
	image_ref_done(&ref);
	struct registry_opts ro =
		o->registry ? *o->registry : (struct registry_opts){.tls_verify = true};
	if (platform)
		ro.platform = platform;
	if (o->progress == PROGRESS_QUIET)
		ro.quiet = true;
	if (!ro.quiet)
		fprintf(stderr, "pulling %s\n", image);
	int r = registry_pull(b->store, image, &ro, NULL, err);
	/* --pull over an image only the store has (loaded, imported, built): say so,
	 * rather than "not in the store" */
	if (r < 0 && o->pull && in_store(b->store, image))
		return molt_error_wrap(err, "--pull: base image '%s' could not be re-resolved "
					    "from its registry (it is only in the local store; "
					    "build without --pull to use it)", image);
	if (r < 0)
		return molt_error_wrap(err, "base image '%s' is not in the store and could "
					    "not be pulled", image);
	return 0;
}

/* The image resolved for ref, pulled and resolved now on its first use. */
static struct resolved_base *base_resolve(struct build_ctx *b, const char *ref,
					  const char *platform)
{
	for (size_t i = 0; i < b->n_bases; i++)
		if (!strcmp(b->bases[i].ref, ref))
			return &b->bases[i];
	b->bases = xrealloc(b->bases, (b->n_bases + 1) * sizeof(*b->bases));
	struct resolved_base *base = &b->bases[b->n_bases++];
	*base = (struct resolved_base){.ref = xstrdup(ref)};
	/* BuildKit's "[internal] load metadata for docker.io/library/debian:12". */
	unsigned id = INTERNAL_STEP_ID + 16 + (unsigned)b->n_bases;
	_cleanup_free_ char *norm = NULL;
	struct molt_error *e = NULL;
	if (image_ref_normalize(ref, &norm, &e) < 0)
		molt_error_drop(&e, "build: the step names the image as given");
	_cleanup_free_ char *title = xasprintf("[internal] load metadata for %s", norm ? norm : ref);
	progress_start(&b->po, id, title);
	int64_t t0 = timing_now();
	if (base_pull(b, ref, platform, &base->missing) < 0)
		base->pull_failed = true;
	int64_t t1 = timing_now();
	/* a missing image fails the stage that reads it, with this error */
	if (!base->pull_failed &&
	    layer_store_resolve(b->store, ref, &base->img, &base->missing) < 0)
		base->img = NULL;
	b->pull_ns += t1 - t0;
	b->bases_ns += timing_now() - t0;
	progress_end(&b->po, id, false, base->pull_failed ? base->missing->msg : NULL);
	return base;
}

void plan_base_from_config(const struct image_config *c, struct plan_base *ret)
{
	ret->env = strv_copy(c->env);
	ret->workdir = c->working_dir ? xstrdup(c->working_dir) : NULL;
	ret->shell = strv_copy(c->shell);
	ret->user = c->user ? xstrdup(c->user) : NULL;
	ret->onbuild = strv_copy(c->onbuild);
}

int build_base_config(void *ud, const char *image, const char *platform, struct plan_base *ret)
{
	const struct resolved_base *base = base_resolve(ud, image, platform);
	if (!base->img)
		return -ENOENT;
	plan_base_from_config(&base->img->config, ret);
	return 0;
}

int bases_resolve(struct build_ctx *b, struct molt_error **err)
{
	_cleanup_strv_ char **images = plan_images(b->plan);
	for (size_t i = 0; images[i]; i++) {
		struct resolved_base *base =
			base_resolve(b, images[i], stage_platform(b->plan, images[i]));
		if (base->pull_failed) {
			int r = molt_error_ret(base->missing);
			*err = TAKE_PTR(base->missing);
			base->pull_failed = false;
			return r;
		}
	}
	return 0;
}

int bases_get(struct build_ctx *b, const char *ref, const struct image **ret,
	      struct molt_error **err)
{
	const struct resolved_base *base = NULL;
	for (size_t i = 0; i < b->n_bases && !base; i++)
		if (!strcmp(b->bases[i].ref, ref))
			base = &b->bases[i];
	if (!base)
		return molt_error_setx(err, ENOENT, "image '%s' was not resolved before the build",
				       ref);
	*ret = base->img;
	if (base->img)
		return 0;
	int code = base->missing ? base->missing->code : ENOENT;
	return molt_error_setx(err, code, "%s", base->missing ? base->missing->msg : ref);
}

void bases_free(struct build_ctx *b)
{
	for (size_t i = 0; i < b->n_bases; i++) {
		free(b->bases[i].ref);
		image_free(b->bases[i].img);
		molt_error_free(b->bases[i].missing);
	}
	free(b->bases);
	b->bases = NULL;
	b->n_bases = 0;
}
