/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The build context's ignore file: `<Dockerfile>.dockerignore` beside the Dockerfile
 * wins over CONTEXT/.dockerignore (BuildKit). Ignored paths do not exist for COPY
 * and ADD from the context.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "../frontend/dockerignore.h"
#include "stage.h"

#define IGNORE_MAX (4u << 20)

/*
 * Reads NAME inside the directory dirfd (a symlink resolves inside it, as BuildKit
 * reads a context), leaving *ret NULL when it does not exist.
 */
static int read_optional(int dirfd, const char *name, char **ret, struct molt_error **err)
{
	_cleanup_error_ struct molt_error *e = NULL;
	int r = inroot_read_file(dirfd, name, IGNORE_MAX, ret, NULL, &e);
	if (r == -ENOENT)
		return 0;
	if (r < 0 && err && !*err)
		*err = TAKE_PTR(e);
	return r;
}

static int read_ignore_file(const struct build_ctx *b, char **ret, struct molt_error **err)
{
	*ret = NULL;
	if (b->o->dockerfile_path) {
		/* Resolved inside the Dockerfile's directory (the context itself without -f):
		 * a Dockerfile.dockerignore symlink of a hostile context cannot read a host
		 * file. */
		const char *path = b->o->dockerfile_path;
		const char *slash = strrchr(path, '/');
		_cleanup_free_ char *dir = slash ? xstrndup(path, (size_t)(slash - path + 1))
						 : xstrdup(".");
		_cleanup_free_ char *name = xasprintf("%s.dockerignore", slash ? slash + 1 : path);
		_cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0)
			return molt_error_set(err, errno, "open the Dockerfile's directory '%s'", dir);
		int r = read_optional(dirfd, name, ret, err);
		if (r < 0 || *ret)
			return r < 0 ? molt_error_wrap(err, "the Dockerfile's ignore file") : 0;
	}
	/* In-root, so a .dockerignore symlink cannot read a host file. */
	int r = read_optional(b->context_fd, ".dockerignore", ret, err);
	return r < 0 ? molt_error_wrap(err, "the build context's .dockerignore") : 0;
}

int context_filter_load(struct build_ctx *b, struct molt_error **err)
{
	_cleanup_free_ char *text = NULL;
	int r = read_ignore_file(b, &text, err);
	if (r < 0 || !text)
		return r;
	struct dockerignore *d = NULL;
	r = dockerignore_parse(text, &d, err);
	if (r < 0)
		return molt_error_wrap(err, ".dockerignore");
	b->ignore = d;
	return 0;
}

void context_filter_free(struct build_ctx *b)
{
	dockerignore_free(b->ignore);
	b->ignore = NULL;
}

/* A directory that is excluded is still entered when an exception may re-include
 * something below it. */
bool context_ignored(void *ignore, const char *rel, bool is_dir)
{
	const struct dockerignore *d = ignore;
	if (!d || !dockerignore_excluded(d, rel, is_dir))
		return false;
	return !(is_dir && dockerignore_may_include_below(d, rel));
}

void context_copy_filter(struct build_ctx *b, bool (**ret_fn)(void *, const char *, bool),
			 void **ret_userdata)
{
	*ret_fn = b->ignore ? context_ignored : NULL;
	*ret_userdata = b->ignore;
}
