/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The build's registry traffic: before any stage runs, every image a FROM, COPY --from
 * or RUN --mount from= names that the store lacks (all of them with --pull) is pulled
 * once, so every stage then resolves the same manifest; after the build, the image goes
 * to the --push / type=image,push=true destinations.
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

int build_pull_bases(struct build_ctx *b, struct molt_error **err)
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
		if (r < 0)
			return molt_error_wrap(err, "base image '%s' is not in the store and could "
						    "not be pulled", images[i]);
	}
	return 0;
}

int build_push(struct build_ctx *b, const struct image *img, struct molt_error **err)
{
	const struct build_request *o = b->o;
	struct registry_opts ro =
		o->registry ? *o->registry : (struct registry_opts){.tls_verify = true};
	ro.platform = NULL;
	if (o->progress == PROGRESS_QUIET)
		ro.quiet = true;
	for (size_t i = 0; o->push_refs && o->push_refs[i]; i++) {
		if (!ro.quiet)
			fprintf(stderr, "pushing %s\n", o->push_refs[i]);
		int r = registry_push(b->store, img, o->push_refs[i], &ro, NULL, err);
		if (r < 0)
			return r;
	}
	return 0;
}
