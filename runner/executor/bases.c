/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/bases.c: the images the plan names. Before any stage runs, every
 * image a FROM, COPY --from or RUN --mount from= names that the store lacks (all of
 * them with --pull) is pulled, then each is resolved once and kept (bases_resolve):
 * the expansion environment, the layers and the cache key of every stage all come
 * from that one manifest, whatever `molt tag` or `molt pull` does meanwhile.
 */
#include <string.h>

#include "stage.h"

/* Every image (not stage) the plan reads, once each. */
static char **plan_images(const struct build_plan *p)
{
	char **v = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < p->n_stages; i++) {
		const struct build_stage *st = &p->stages[i];
		if (st->base == BASE_IMAGE && st->from && !strv_contains(v, st->from))
			strv_push(&v, st->from);
		for (size_t k = 0; k < st->n_instrs; k++) {
			const struct build_instr *in = &st->instrs[k];
			if (in->from && in->from_stage < 0 && !strv_contains(v, in->from))
				strv_push(&v, in->from);
			for (size_t m = 0; m < in->n_mounts; m++) {
				const struct build_mount *bm = &in->mounts[m];
				if (bm->from && bm->from_stage < 0 && !strv_contains(v, bm->from))
					strv_push(&v, bm->from);
			}
		}
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
	molt_error_free(e);
	image_free(img);
	return r == 0;
}

int bases_pull(struct build_ctx *b, struct molt_error **err)
{
	const struct build_request *o = b->o;
	_cleanup_strv_ char **images = plan_images(b->plan);
	for (size_t i = 0; images[i]; i++) {
		/* An ID or a name only the store knows is never looked for elsewhere. */
		if (digest_is_valid(images[i]) || (!o->pull && in_store(b->store, images[i])))
			continue;
		struct image_ref ref = {0};
		struct molt_error *e = NULL;
		if (image_ref_parse(images[i], &ref, &e) < 0) {
			molt_error_free(e);
			continue; /* the stage reports it as a missing image */
		}
		image_ref_done(&ref);
		struct registry_opts ro =
			o->registry ? *o->registry : (struct registry_opts){.tls_verify = true};
		const char *plat = stage_platform(b->plan, images[i]);
		if (plat)
			ro.platform = plat;
		if (o->progress == PROGRESS_QUIET)
			ro.quiet = true;
		if (!ro.quiet)
			fprintf(stderr, "pulling %s\n", images[i]);
		int r = registry_pull(b->store, images[i], &ro, NULL, err);
		/* --pull over an image only the store has (loaded, imported, built): say
		 * so, rather than "not in the store" */
		if (r < 0 && o->pull && in_store(b->store, images[i]))
			return molt_error_wrap(err, "--pull: base image '%s' could not be "
						    "re-resolved from its registry (it is only in the "
						    "local store; build without --pull to use it)",
					       images[i]);
		if (r < 0)
			return molt_error_wrap(err, "base image '%s' is not in the store and could "
						    "not be pulled", images[i]);
	}
	return 0;
}


void plan_base_from_config(const struct image_config *c, struct plan_base *ret)
{
	ret->env = strv_copy(c->env);
	ret->workdir = c->working_dir ? xstrdup(c->working_dir) : NULL;
	ret->shell = strv_copy(c->shell);
	ret->user = c->user ? xstrdup(c->user) : NULL;
}

int bases_resolve(struct build_ctx *b, struct molt_error **err)
{
	(void)err;
	_cleanup_strv_ char **images = plan_images(b->plan);
	size_t n = strv_len(images);
	b->bases = xcalloc(n + 1, sizeof(*b->bases));
	for (size_t i = 0; i < n; i++) {
		struct resolved_base *base = &b->bases[b->n_bases++];
		base->ref = xstrdup(images[i]);
		/* a missing image fails the stage that reads it, with this error */
		if (layer_store_resolve(b->store, images[i], &base->img, &base->missing) < 0)
			base->img = NULL;
	}
	return 0;
}

int bases_get(struct build_ctx *b, const char *ref, const struct image **ret,
	      struct molt_error **err)
{
	struct resolved_base *base = NULL;
	for (size_t i = 0; i < b->n_bases && !base; i++)
		if (!strcmp(b->bases[i].ref, ref))
			base = &b->bases[i];
	if (!base) {
		/* named by an ONBUILD trigger, known only once its base image was read:
		 * resolved on first use in this worker, then kept like the others */
		b->bases = xrealloc(b->bases, (b->n_bases + 1) * sizeof(*b->bases));
		base = &b->bases[b->n_bases++];
		*base = (struct resolved_base){.ref = xstrdup(ref)};
		if (layer_store_resolve(b->store, ref, &base->img, &base->missing) < 0)
			base->img = NULL;
	}
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
