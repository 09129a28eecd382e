/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN --mount=type=ssh: the socket of an SSH agent (--ssh) bound into this step only,
 * at the target (default /run/buildkit/ssh_agent.N, N counting the step's ssh
 * mounts), with SSH_AUTH_SOCK naming the first one, as BuildKit does. The agent
 * signs for the step; no key ever enters it. The socket's stub goes with the step.
 *
 * BuildKit serves the agent through a socket of its own whose owner and mode the
 * mount chooses; molt binds the agent's socket itself, which the step's root (the
 * user who ran molt) can use, so an owner or mode other than BuildKit's defaults
 * (0:0, 0600) is refused rather than silently not applied.
 */
#include <string.h>

#include "run_mounts.h"

static bool has_key(const struct build_mount *bm, const char *const *keys)
{
	for (size_t i = 0; i < bm->n_opts; i++)
		for (size_t k = 0; keys[k]; k++)
			if (!strcmp(bm->opts[i].key, keys[k]))
				return true;
	return false;
}

int run_mounts_add_ssh(struct stage_run *sr, const struct build_mount *bm, struct run_mounts *m,
		       struct molt_error **err)
{
	static const char *const target_keys[] = {"target", "dst", "destination", NULL};
	unsigned n = m->n_ssh++;
	if ((bm->uid > 0) || (bm->gid > 0) || (bm->mode >= 0 && bm->mode != 0600))
		return molt_error_setx(err, ENOTSUP, "RUN --mount=type=ssh: uid, gid and mode other "
					"than 0, 0 and 0600 are not supported (molt binds the "
					"agent's socket itself; the step's root user can use it)");
	const struct build_ssh *s = build_run_ssh(sr->b->o->run, bm->id);
	if (!s) {
		if (!bm->required)
			return 0;
		return molt_error_setx(err, ENOENT, "RUN --mount=type=ssh: the SSH agent '%s' is "
					"required but was not given (pass --ssh %s or --ssh "
					"%s=SOCKET)", bm->id, bm->id, bm->id);
	}
	_cleanup_free_ char *dflt = xasprintf("/run/buildkit/ssh_agent.%u", n);
	const char *target = has_key(bm, target_keys) ? bm->target : dflt;
	char *abs = run_mounts_target(sr, target);
	bool sock_set = false;
	for (size_t i = 0; m->env && m->env[i]; i++)
		sock_set |= str_startswith(m->env[i], "SSH_AUTH_SOCK=");
	if (!sock_set)
		strv_push_take(&m->env, xasprintf("SSH_AUTH_SOCK=%s", abs));
	run_mounts_add(m, xstrdup(s->socket), abs, false);
	return 0;
}
