/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COPY and ADD: sources from the build context, an earlier stage or an image, into
 * an overlay over the stage's layers; the overlay's upper directory becomes the
 * step's layer. A stage or image source is mounted read-only from its unpacked
 * layers, so only the named paths are ever read from it.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "../frontend/dockerignore.h"
#include "stage.h"
#include "stepfs.h"

struct copy_filter {
	struct dockerignore *exclude; /* --exclude patterns, or NULL */
	bool (*ignored)(void *ignore, const char *rel, bool is_dir);
	void *ignore;
};

static bool filter_skip(void *userdata, const char *rel, bool is_dir)
{
	struct copy_filter *f = userdata;
	return f->ignored && f->ignored(f->ignore, rel, is_dir);
}

/* The destination as an absolute path: relative ones are under WORKDIR. */
static char *absolute_dest(const struct stage_run *sr, const char *dest)
{
	if (dest[0] == '/')
		return xstrdup(dest);
	const char *wd = sr->config.working_dir && *sr->config.working_dir
				 ? sr->config.working_dir
				 : "/";
	if (!strcmp(dest, ".") || !strcmp(dest, "./"))
		return xasprintf("%s/", wd);
	return xasprintf("%s%s%s", wd, str_endswith(wd, "/") ? "" : "/", dest);
}

static int parse_chmod(const char *s, mode_t *ret, struct molt_error **err)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 8);
	if (errno || *end || v < 0 || v > 07777)
		return molt_error_usage(err, "--chmod=%s: expected an octal mode such as 0755", s);
	*ret = (mode_t)v;
	return 0;
}


/* COPY <<EOF /path: the heredoc's body becomes a file. */
static int write_heredocs(const struct build_instr *in, int dst_root, const char *dest,
			  const struct copy_opts *o, struct molt_error **err)
{
	bool is_dir = str_endswith(dest, "/") || in->n_heredocs + strv_len(in->sources) > 1;
	for (size_t i = 0; i < in->n_heredocs; i++) {
		const struct df_heredoc *h = &in->heredocs[i];
		_cleanup_free_ char *path = is_dir ? xasprintf("%s/%s", dest, h->name)
						   : xstrdup(dest);
		_cleanup_free_ char *parent = xstrdup(path);
		char *slash = strrchr(parent, '/');
		*slash = '\0';
		_cleanup_close_ int dir = copy_mkdir_open(dst_root, parent, o->uid, o->gid, err);
		if (dir < 0)
			return dir;
		const char *base = slash + 1;
		(void)unlinkat(dir, base, 0);
		_cleanup_close_ int fd = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
								   O_CLOEXEC, 0644);
		if (fd < 0 || write_all(fd, h->content, strlen(h->content)) < 0 ||
		    fchown(fd, o->chown ? o->uid : 0, o->chown ? o->gid : 0) < 0 ||
		    fchmod(fd, o->chmod ? o->mode : 0644) < 0)
			return molt_error_set(err, errno, "write heredoc '%s' to '%s'", h->name, path);
	}
	return 0;
}

/* users_root: the tree whose /etc/passwd and /etc/group give --chown names. */
static int copy_into(struct stage_run *sr, const struct build_instr *in, int src_root,
		     int dst_root, int users_root, struct molt_error **err)
{
	_cleanup_free_ char *dest = absolute_dest(sr, in->dest);
	struct copy_filter filter = {0};
	int r = 0;
	if (in->exclude && in->exclude[0])
		r = dockerignore_new(in->exclude, &filter.exclude, err);
	if (r < 0)
		return molt_error_wrap(err, "--exclude");
	if (!in->from)
		context_copy_filter(sr->b, &filter.ignored, &filter.ignore);
	struct copy_opts o = {
		.keep_owner = in->from != NULL,
		.parents = in->parents,
		.skip = filter_skip,
		.skip_userdata = &filter,
		.exclude = filter.exclude ? context_ignored : NULL,
		.exclude_userdata = filter.exclude,
	};
	if (in->chown) {
		o.chown = true;
		r = chown_resolve(users_root, in->chown, &o.uid, &o.gid, err);
	}
	if (r == 0 && in->chmod) {
		o.chmod = true;
		r = parse_chmod(in->chmod, &o.mode, err);
	}
	if (r == 0 && in->kind == DF_ADD && !in->from)
		r = add_sources(sr, in, src_root, dst_root, dest, &o, err);
	else if (r == 0 && in->sources && in->sources[0])
		r = copy_paths(src_root, in->sources, dst_root, dest, &o, NULL, err);
	if (r == 0 && in->n_heredocs)
		r = write_heredocs(in, dst_root, dest, &o, err);
	dockerignore_free(filter.exclude);
	return r;
}

/*
 * COPY --link (as BuildKit): the sources go into an empty directory, and that
 * directory is the step's layer, laid over the stage without reading it. So the
 * destination never follows a symlink of the stage: "/app/f" with /app a symlink
 * gives a real directory /app holding f. --chown names still come from the stage.
 */
static int copy_link(struct stage_run *sr, const struct build_instr *in, int src_root,
		     struct step_result *res, struct molt_error **err)
{
	_cleanup_free_ char *dir = xasprintf("%s/link-%u", sr->scratch, sr->step);
	if (mkdir(dir, 0755) < 0)
		return molt_error_set(err, errno, "create '%s'", dir);
	struct stepfs *view = NULL;
	_cleanup_close_ int dst = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC), users = -1;
	int r = dst < 0 ? molt_error_set(err, errno, "open '%s'", dir) : 0;
	if (r == 0 && in->chown && sr->config.diff_ids && sr->config.diff_ids[0]) {
		_cleanup_strv_ char **lowers = layer_store_lowers(sr->b->store, &sr->config);
		_cleanup_free_ char *vdir = xasprintf("%s/users-%u", sr->scratch, sr->step);
		r = stepfs_mount(vdir, lowers, true, &view, err);
		if (r == 0 && (users = open(view->merged, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			r = molt_error_set(err, errno, "open '%s'", view->merged);
	}
	if (r == 0)
		r = copy_into(sr, in, src_root, dst, users >= 0 ? users : dst, err);
	stepfs_free(view);
	res->created_by = xasprintf("%s # buildkit", in->original);
	if (r == 0)
		r = step_commit_upper(sr, dir, res, err);
	/* published trees were renamed away; anything left is ours */
	struct molt_error *e = NULL;
	if (access(dir, F_OK) == 0 && rm_rf(dir, &e) < 0)
		molt_error_drop(&e, "build: the stage's scratch directory goes with it");
	return r;
}

int instr_copy(struct stage_run *sr, const struct build_instr *in, struct step_result *res,
	       struct molt_error **err)
{
	struct stepfs *from = NULL, *fs = NULL;
	_cleanup_close_ int src_root = -1, dst_root = -1;
	int r = 0;
	if (in->from) {
		r = stage_mount_from(sr, in->from, in->from_stage, "from", &from, err);
		if (r == 0 && (src_root = open(from->merged, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			r = molt_error_set(err, errno, "open '%s'", from->merged);
	} else if ((src_root = fcntl(sr->b->context_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		r = molt_error_set(err, errno, "dup the context");
	}
	if (r == 0 && in->link) {
		r = copy_link(sr, in, src_root, res, err);
		stepfs_free(from);
		return r;
	}
	if (r == 0)
		r = step_mount(sr, &fs, err);
	if (r < 0) {
		stepfs_free(from);
		return r;
	}
	if ((dst_root = open(fs->merged, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = molt_error_set(err, errno, "open '%s'", fs->merged);
	if (r == 0)
		r = copy_into(sr, in, src_root, dst_root, dst_root, err);
	_cleanup_free_ char *hist = xasprintf("%s # buildkit", in->original);
	r = step_finish(sr, fs, r, hist, res, err);
	stepfs_free(from);
	return r;
}
