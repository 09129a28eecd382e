/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN --mount=type=secret: the bytes of a --secret, as a read-only file on a tmpfs
 * that only this step's mount namespace has (sandbox/mounts.c), and/or as an
 * environment variable of the step (env=). Nothing of the value reaches the stepfs,
 * the layer, the config, the history or the cache key (which hashes the mount's
 * options as written, never the value); the stub of the mount point is removed
 * with the step. Messages name the id only.
 */
#include <string.h>

#include "run_mounts.h"

int run_mounts_add_secret(struct stage_run *sr, const struct build_mount *bm,
			  struct run_mounts *m, struct molt_error **err)
{
	const struct build_secret *s = build_run_secret(sr->b->o->run, bm->id);
	if (!s) {
		if (!bm->required)
			return 0; /* BuildKit: an optional secret that was not given is no file */
		return molt_error_setx(err, ENOENT, "RUN --mount=type=secret: the secret '%s' is "
					"required but was not given (pass --secret id=%s,src=FILE "
					"or --secret id=%s,env=VAR)", bm->id, bm->id, bm->id);
	}
	if (bm->env) {
		if (memchr(s->value, '\0', s->len))
			return molt_error_setx(err, EINVAL, "RUN --mount=type=secret: the secret '%s' "
						"holds a NUL byte and cannot be the variable '%s'",
						bm->id, bm->env);
		_cleanup_free_ char *k = xasprintf("%s=", bm->env);
		struct strbuf sb = STRBUF_INIT;
		strbuf_adds(&sb, k);
		strbuf_add(&sb, s->value, s->len);
		strv_push_take(&m->env, strbuf_detach(&sb));
	}
	if (!bm->target)
		return 0;
	/* BuildKit's defaults: 0400, owned by 0:0 */
	struct sandbox_mount *sm = run_mounts_add(m, NULL, run_mounts_target(sr, bm->target), true);
	sm->data = s->value;
	sm->data_len = s->len;
	sm->data_mode = bm->mode >= 0 ? (uint32_t)bm->mode : 0400;
	sm->data_uid = bm->uid >= 0 ? (uid_t)bm->uid : 0;
	sm->data_gid = bm->gid >= 0 ? (gid_t)bm->gid : 0;
	return 0;
}
