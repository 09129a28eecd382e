/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The build context's ignore file: `<Dockerfile>.dockerignore` beside the Dockerfile
 * wins over CONTEXT/.dockerignore (BuildKit). Ignored paths do not exist for COPY
 * and ADD from the context.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "dockerignore.h"
#include "stage.h"

#define IGNORE_MAX (4u << 20)

static int read_ignore_file(const struct build_ctx *b, char **ret, struct molt_error **err)
{
	*ret = NULL;
	if (b->o->dockerfile_path) {
		_cleanup_free_ char *beside = xasprintf("%s.dockerignore", b->o->dockerfile_path);
		_cleanup_error_ struct molt_error *e = NULL;
		int r = read_file(beside, IGNORE_MAX, ret, NULL, &e);
		if (r == 0)
			return 0;
		if (r != -ENOENT) {
			*err = TAKE_PTR(e);
			return r;
		}
	}
	/* In-root, so a .dockerignore symlink cannot read a host file. */
	_cleanup_close_ int fd = copy_open_in_root(b->context_fd, ".dockerignore", O_PATH, true);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return molt_error_set(err, -fd, "open the build context's .dockerignore");
	/* A FIFO would block the read (read_file refuses it too; this says it clearly). */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return molt_error_set(err, errno, "stat the build context's .dockerignore");
	if (!S_ISREG(st.st_mode))
		return molt_error_setx(err, EINVAL,
				       "the build context's .dockerignore is not a regular file");
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int r = read_file(path, IGNORE_MAX, ret, NULL, err);
	if (r < 0)
		molt_error_wrap(err, "read the build context's .dockerignore");
	return r;
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

void copy_context_filter(struct build_ctx *b, bool (**ret_fn)(void *, const char *, bool),
			 void **ret_userdata)
{
	*ret_fn = b->ignore ? context_ignored : NULL;
	*ret_userdata = b->ignore;
}
