/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/apply.c: the one place a step's result is written into its stage —
 * whether the instruction ran (runner/executor/instr_*.c) or the build cache
 * replayed it (runner/executor/cache.c).
 */
#include <string.h>

#include "cache.h"
#include "stage.h"

void step_result_done(struct step_result *res)
{
	image_descriptor_done(&res->layer);
	free(res->created_by);
	free(res->comment);
	free(res->created);
	*res = (struct step_result){0};
}

void stage_apply(struct stage_run *sr, const struct build_instr *in, struct step_result *res)
{
	if (res->has_layer) {
		sr->layers = xrealloc(sr->layers, (sr->n_layers + 1) * sizeof(*sr->layers));
		struct image_descriptor *d = &sr->layers[sr->n_layers++];
		*d = (struct image_descriptor){.media_type = xstrdup(res->layer.media_type),
					       .size = res->layer.size};
		memcpy(d->digest, res->layer.digest, DIGEST_STR_LEN);
		strv_push(&sr->config.diff_ids, res->diff_id);
	}
	if (res->created)
		cache_clock_set(sr, res->created);
	if (res->created_by) {
		_cleanup_free_ char *when = cache_stage_time(sr);
		image_config_add_history(&sr->config, when, res->created_by,
					 res->comment ? res->comment : "buildkit.dockerfile.v0",
					 !res->has_layer);
		if (!res->created)
			res->created = xstrdup(when);
	}
	instr_config_apply(sr, in);
}
