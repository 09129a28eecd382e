/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/context_stdin.c: `molt build -`. docker reads stdin as a context
 * tar, or, when it is not an archive, as a Dockerfile with an empty context; molt
 * does the same. The tar is untrusted like any layer: it is copied to an unnamed file
 * (bounded), then extracted by the secure unpacker (layers/unpack.c, as ADD does) in
 * the build namespace: no entry leaves the context, device nodes are not made,
 * set-id bits belong to ids of the build namespace only.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
#include "context_src.h"

#define CONTEXT_STDIN_DEFAULT_MAX (8ull << 30)
#define DOCKERFILE_STDIN_MAX (16u << 20)

static int stdin_limit(uint64_t *ret, struct molt_error **err)
{
	const char *v = getenv(CONTEXT_STDIN_MAX_ENV);
	*ret = CONTEXT_STDIN_DEFAULT_MAX;
	if (v && *v && sandbox_parse_size(v, ret) < 0)
		return molt_error_setx(err, EINVAL, "%s='%s' is not a size (b, k, m, g)",
				       CONTEXT_STDIN_MAX_ENV, v);
	return 0;
}

int context_source_scratch(struct context_source *s, struct molt_error **err)
{
	const char *t = getenv("TMPDIR");
	s->scratch = xasprintf("%s/molt-context-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(s->scratch)) {
		int e = errno;
		free(s->scratch);
		s->scratch = NULL;
		return molt_error_set(err, e, "create a directory for the build context");
	}
	s->dir = xasprintf("%s/context", s->scratch);
	if (mkdir(s->dir, 0755) < 0)
		return molt_error_set(err, errno, "create '%s'", s->dir);
	return 0;
}

static int extract_tar(struct context_source *s, int fd, uint64_t max, struct molt_error **err)
{
	_cleanup_close_ int dir = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return molt_error_set(err, errno, "open '%s'", s->dir);
	_cleanup_close_ int plain = -1;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return molt_error_set(err, errno, "seek the context tar");
	int r = decompress_to_plain_tar(fd, s->scratch, "stdin", &plain, err);
	if (r < 0)
		return r;
	int tar = plain >= 0 ? plain : fd;
	if (lseek(tar, 0, SEEK_SET) < 0)
		return molt_error_set(err, errno, "seek the context tar");
	struct unpack_opts uo = {.layer = "the context tar on stdin", .whiteouts = UNPACK_APPLY,
				 .max_bytes = max};
	return layer_unpack(dir, tar, &uo, NULL, err);
}

static int take_dockerfile(struct context_source *s, int fd, struct molt_error **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return molt_error_set(err, errno, "stat the copy of stdin");
	if (st.st_size > (off_t)DOCKERFILE_STDIN_MAX)
		return molt_error_setx(err, EFBIG, "stdin is neither a tar nor a Dockerfile (not an "
						   "archive, and larger than 16 MiB)");
	return read_regular_fd(fd, "stdin", DOCKERFILE_STDIN_MAX, &s->dockerfile,
			       &s->dockerfile_len, err);
}

int context_source_stdin(struct context_source *ret, struct molt_error **err)
{
	struct context_source s = {0};
	uint64_t max = 0;
	int r = stdin_limit(&max, err);
	if (r == 0)
		r = context_source_scratch(&s, err);
	_cleanup_close_ int fd = -1;
	if (r == 0)
		r = stream_stdin_to_file(s.scratch, max, &fd, err);
	if (r == 0) {
		bool tar = decompress_is_tar(fd);
		if (lseek(fd, 0, SEEK_SET) < 0)
			r = molt_error_set(err, errno, "seek the copy of stdin");
		else
			r = tar ? extract_tar(&s, fd, max, err) : take_dockerfile(&s, fd, err);
	}
	if (r < 0) {
		context_source_done(&s);
		return molt_error_wrap(err, "build context from stdin");
	}
	*ret = s;
	return 0;
}

void context_source_done(struct context_source *s)
{
	if (s->scratch) {
		_cleanup_error_ struct molt_error *e = NULL;
		if (rm_rf(s->scratch, &e) < 0)
			molt_warn("cannot remove the build context copy '%s': %s", s->scratch,
				  e ? e->msg : "");
	}
	free(s->scratch);
	free(s->dir);
	free(s->dockerfile);
	*s = (struct context_source){0};
}
