/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN --mount: cache (a directory beside the store that persists across builds),
 * tmpfs (an empty directory for the step), bind (a path of the context, an earlier
 * stage or an image, read-only), secret (run_secrets.c), ssh (run_ssh.c). The mounts exist only inside the step's sandbox:
 * nothing written to them reaches the layer.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run_mounts.h"

void run_mounts_done(struct run_mounts *m)
{
	ARRAY_FREE(m->relays, m->n_relays, molt_pid_killp);
	for (size_t i = 0; m->relay_sockets && m->relay_sockets[i]; i++)
		(void)unlink(m->relay_sockets[i]);
	strv_free(m->relay_sockets);
	for (size_t i = 0; i < m->n; i++) {
		free(m->sources[i]);
		free(m->targets[i]);
	}
	free(m->sources);
	free(m->targets);
	free(m->v);
	for (size_t i = 0; i < m->n_views; i++)
		stepfs_free(m->views[i]);
	free(m->views);
	strv_free(m->env);
	*m = (struct run_mounts){0};
}

struct sandbox_mount *run_mounts_add(struct run_mounts *m, char *source, char *target,
				     bool readonly)
{
	m->sources = xrealloc(m->sources, (m->n + 1) * sizeof(char *));
	m->targets = xrealloc(m->targets, (m->n + 1) * sizeof(char *));
	m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
	m->sources[m->n] = source;
	m->targets[m->n] = target;
	m->v[m->n] = (struct sandbox_mount){.source = source, .target = target, .readonly = readonly};
	return &m->v[m->n++];
}

char *run_mounts_target(const struct stage_run *sr, const char *t)
{
	if (t[0] == '/')
		return xstrdup(t);
	const char *wd = sr->config.working_dir ? sr->config.working_dir : "/";
	return xasprintf("%s%s%s", wd, str_endswith(wd, "/") ? "" : "/", t);
}

/* A cache directory per id (default: the target), kept beside the store. */
static int add_cache(struct stage_run *sr, const struct build_mount *bm, struct run_mounts *m,
		     struct molt_error **err)
{
	const char *id = bm->id && *bm->id ? bm->id : bm->target;
	char digest[DIGEST_STR_LEN];
	digest_buffer(id, strlen(id), digest);
	_cleanup_free_ char *caches = xasprintf("%s/cache", layer_store_root(sr->b->store));
	_cleanup_free_ char *dir = xasprintf("%s/%s", caches, digest_hex(digest));
	int r = mkdir_p(caches, 0755, err);
	if (r < 0)
		return r;
	if (mkdir(dir, 0755) == 0) {
		/* A new cache gets the mode and owner the mount asks for (default 0755, 0:0). */
		if ((bm->mode >= 0 && chmod(dir, (mode_t)bm->mode) < 0) ||
		    ((bm->uid >= 0 || bm->gid >= 0) &&
		     chown(dir, bm->uid >= 0 ? (uid_t)bm->uid : 0, bm->gid >= 0 ? (gid_t)bm->gid : 0) < 0))
			return molt_error_set(err, errno, "set up cache '%s'", id);
	} else if (errno != EEXIST) {
		return molt_error_set(err, errno, "create cache directory '%s'", dir);
	}
	run_mounts_add(m, TAKE_PTR(dir), run_mounts_target(sr, bm->target), bm->readonly);
	return 0;
}

static int add_tmpfs(struct stage_run *sr, const struct build_mount *bm, struct run_mounts *m,
		     struct molt_error **err)
{
	char *dir = xasprintf("%s/tmpfs-%u-%zu", sr->scratch, sr->step, m->n);
	if (mkdir(dir, 01777) < 0 || chmod(dir, 01777) < 0) {
		int e = errno;
		free(dir);
		return molt_error_set(err, e, "create a tmpfs mount directory");
	}
	run_mounts_add(m, dir, run_mounts_target(sr, bm->target), false);
	return 0;
}

/*
 * The source is resolved inside its root (a symlink in the context or a stage cannot
 * point the bind at a host path), then bound by the resolved path.
 */
static int add_bind(struct stage_run *sr, const struct build_mount *bm, struct run_mounts *m,
		    struct molt_error **err)
{
	if (!bm->readonly)
		return molt_error_setx(err, ENOTSUP, "RUN --mount=type=bind,rw is not supported "
						     "yet: use a read-only bind or a cache mount");
	_cleanup_close_ int root = -1;
	int r = 0;
	if (bm->from) {
		struct stepfs *view = NULL;
		r = stage_mount_from(sr, bm->from, bm->from_stage, "bind", &view, err);
		if (r < 0)
			return r;
		ARRAY_PUSH(m->views, m->n_views, view);
		root = open(view->merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else {
		root = fcntl(sr->b->context_fd, F_DUPFD_CLOEXEC, 3);
	}
	if (root < 0)
		return molt_error_set(err, errno, "open the source of a bind mount");
	const char *src = bm->source && *bm->source ? bm->source : "/";
	_cleanup_close_ int fd = inroot_open(root, src, O_PATH, INROOT_AUTO);
	if (fd < 0)
		return molt_error_set(err, -fd, "RUN --mount=type=bind: source '%s'", src);
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return molt_error_set(err, errno, "resolve bind source '%s'", src);
	path[n] = '\0';
	run_mounts_add(m, xstrdup(path), run_mounts_target(sr, bm->target), true);
	return 0;
}

int run_mounts_prepare(struct stage_run *sr, const struct build_instr *in, struct run_mounts *m,
		       struct molt_error **err)
{
	for (size_t i = 0; i < in->n_mounts; i++) {
		const struct build_mount *bm = &in->mounts[i];
		int r;
		switch (bm->type) {
		case MOUNT_CACHE:
			r = add_cache(sr, bm, m, err);
			break;
		case MOUNT_TMPFS:
			r = add_tmpfs(sr, bm, m, err);
			break;
		case MOUNT_BIND:
			r = add_bind(sr, bm, m, err);
			break;
		case MOUNT_SECRET:
			r = run_mounts_add_secret(sr, bm, m, err);
			break;
		default:
			r = run_mounts_add_ssh(sr, bm, m, err);
		}
		if (r < 0) {
			run_mounts_done(m);
			return r;
		}
	}
	return 0;
}
