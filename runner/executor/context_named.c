/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/context_named.c: --build-context NAME=SOURCE (BuildKit's named
 * contexts). The planner reads NAME as an image wherever FROM, COPY --from or RUN
 * --mount from= names it (over a stage of that name); each SOURCE becomes such an
 * image first: docker-image://REF is REF; a directory is made a one-layer image (its
 * tree as it is, symlinks as symlinks); oci-layout://DIR[:TAG|@DIGEST] is loaded.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "../../layers/layers.h"
#include "context_src.h"

/* The directory's tree as one tar in tmp (every entry differs from an empty tree). */
static int dir_to_tar(const char *dir, const char *tmp, const char *tar, struct molt_error **err)
{
	_cleanup_close_ int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return molt_error_set(err, errno, "open '%s'", dir);
	_cleanup_free_ char *empty = xasprintf("%s/named-empty", tmp);
	if (mkdir(empty, 0755) < 0 && errno != EEXIST)
		return molt_error_set(err, errno, "create '%s'", empty);
	_cleanup_close_ int emptyfd = open(empty, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int out = open(tar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (emptyfd < 0 || out < 0)
		return molt_error_set(err, errno, "create '%s'", out < 0 ? tar : empty);
	struct tree_snapshot *none = NULL;
	struct layer_changes ch = {0};
	struct layer_writer_opts wo = {.compression = LAYER_UNCOMPRESSED};
	struct layer_digests d;
	int r = tree_snapshot_take(emptyfd, &none, err);
	if (r == 0)
		r = differ_walk(none, rootfd, &ch, err);
	if (r == 0)
		r = layer_writer_opts_from_env(&wo, err);
	if (r == 0)
		r = layer_write_changes(rootfd, &ch, &wo, out, &d, err);
	layer_changes_done(&ch);
	tree_snapshot_free(none);
	return r;
}

static int from_dir(struct layer_store *s, const char *dir, char **ret, struct molt_error **err)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return molt_error_set(err, errno, "'%s'", dir);
	if (!S_ISDIR(st.st_mode))
		return molt_error_setx(err, ENOTDIR, "'%s' is not a directory", dir);
	const char *tmp = NULL;
	int r = layer_store_tmpdir(s, &tmp, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *tar = xasprintf("%s/named-context.tar", tmp);
	char manifest[DIGEST_STR_LEN];
	r = dir_to_tar(dir, tmp, tar, err);
	if (r == 0)
		r = layer_store_import(s, tar, NULL, manifest, err);
	unlink(tar);
	_cleanup_image_ struct image *img = NULL;
	if (r == 0)
		r = layer_store_image_get(s, manifest, &img, err);
	if (r == 0)
		*ret = xstrdup(img->id);
	return r;
}

/* oci-layout://DIR, DIR:TAG or DIR@sha256:…: the layout is loaded, the image picked. */
static int from_layout(struct layer_store *s, const char *spec, char **ret, struct molt_error **err)
{
	_cleanup_free_ char *dir = xstrdup(spec);
	const char *want_tag = NULL, *want_digest = NULL;
	char *at = strchr(dir, '@');
	char *slash = strrchr(dir, '/');
	char *colon = strrchr(slash ? slash : dir, ':');
	if (at) {
		*at = '\0';
		want_digest = at + 1;
	} else if (colon) {
		*colon = '\0';
		want_tag = colon + 1;
	}
	_cleanup_strv_ char **names = NULL;
	int r = layer_store_load(s, dir, &names, err);
	if (r < 0)
		return r;
	if (want_digest) {
		_cleanup_image_ struct image *img = NULL;
		if (layer_store_resolve(s, want_digest, &img, err) < 0)
			return molt_error_wrap(err, "'%s' in the layout", want_digest);
		*ret = xstrdup(img->id);
		return 0;
	}
	const char *pick = NULL;
	size_t n = strv_len(names);
	for (size_t i = 0; i < n; i++) {
		const char *c = strrchr(names[i], ':');
		if (want_tag ? c && !strcmp(c + 1, want_tag) : n == 1)
			pick = names[i];
	}
	if (!pick)
		return molt_error_setx(err, ENOENT, "the layout '%s' holds %zu image%s and none is %s",
				       dir, n, n == 1 ? "" : "s", want_tag ? want_tag : "the only one");
	*ret = xstrdup(pick);
	return 0;
}

static int resolve_one(struct layer_store *s, const char *src, char **ret, struct molt_error **err)
{
	if (str_startswith(src, "docker-image://")) {
		const char *ref = src + strlen("docker-image://");
		_cleanup_free_ char *norm = NULL;
		if (image_ref_normalize(ref, &norm, err) < 0)
			return -EINVAL;
		*ret = xstrdup(ref);
		return 0;
	}
	if (str_startswith(src, "oci-layout://"))
		return from_layout(s, src + strlen("oci-layout://"), ret, err);
	if (strstr(src, "://") || context_is_git_url(src))
		return molt_error_setx(err, ENOTSUP,
				       "a git or URL source is not supported as a named context "
				       "(use a directory, docker-image://REF or oci-layout://DIR)");
	return from_dir(s, src, ret, err);
}

int named_contexts_resolve(struct layer_store *s, char *const *specs, char ***ret_aliases,
			   struct molt_error **err)
{
	_cleanup_strv_ char **out = xcalloc(1, sizeof(char *));
	for (size_t i = 0; specs && specs[i]; i++) {
		const char *eq = strchr(specs[i], '=');
		_cleanup_free_ char *name = xstrndup(specs[i], (size_t)(eq - specs[i]));
		_cleanup_free_ char *image = NULL;
		if (resolve_one(s, eq + 1, &image, err) < 0)
			return molt_error_wrap(err, "--build-context %s", specs[i]);
		strv_push_take(&out, xasprintf("%s=%s", name, image));
	}
	*ret_aliases = TAKE_PTR(out);
	return 0;
}
