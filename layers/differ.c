/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/differ.c: what both differs share — the change list, the xattr allow
 * list, and turning a change list into a layer (layer_write_changes). The two
 * ways of finding the changes live in differ_overlay.c and differ_walk.c.
 */
#include <string.h>
#include <sys/xattr.h>

#include "layers_int.h"

/*
 * security.capability is how images ship file capabilities (ping), and user.* is
 * the namespace users may set. trusted.* and security.selinux belong to the host;
 * user.overlay.* is overlayfs's own metadata in a user namespace: a layer carrying
 * it could forge whiteouts or redirects in a lowerdir.
 */
bool layer_xattr_allowed(const char *name)
{
	if (!strcmp(name, "security.capability"))
		return true;
	return str_startswith(name, "user.") && !str_startswith(name, "user.overlay.");
}

void layer_xattrs_done(struct layer_xattrs *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->v[i].name);
		free(x->v[i].value);
	}
	free(x->v);
	x->v = NULL;
	x->n = 0;
}

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct layer_xattr *)a)->name, ((const struct layer_xattr *)b)->name);
}

static int read_one_xattr(int fd, const char *name, struct layer_xattr *ret)
{
	ssize_t n = fgetxattr(fd, name, NULL, 0);
	if (n < 0)
		return -errno;
	char *v = xmalloc((size_t)n + 1);
	ssize_t m = fgetxattr(fd, name, v, (size_t)n);
	if (m < 0) {
		int r = -errno;
		free(v);
		return r;
	}
	*ret = (struct layer_xattr){xstrdup(name), v, (size_t)m};
	return 0;
}

int layer_xattrs_read(int fd, struct layer_xattrs *ret, struct molt_error **err)
{
	struct layer_xattrs x = {0};
	/* One call for the usual case (no xattrs, or a short list): the differ and the
	 * layer writer call this for every changed file. */
	char small[1024];
	_cleanup_free_ char *big = NULL;
	char *list = small;
	ssize_t n = flistxattr(fd, small, sizeof(small));
	while (n < 0 && errno == ERANGE) {
		n = flistxattr(fd, NULL, 0);
		if (n < 0)
			break;
		free(big);
		list = big = xmalloc((size_t)n + 1);
		n = flistxattr(fd, big, (size_t)n); /* ERANGE again: the list grew; retry */
	}
	if (n < 0 && (errno == ENOTSUP || errno == EOPNOTSUPP)) {
		*ret = x;
		return 0;
	}
	if (n < 0)
		return molt_error_set(err, errno, "list xattrs");
	for (char *p = list; p < list + n; p += strlen(p) + 1) {
		if (!layer_xattr_allowed(p))
			continue;
		x.v = xrealloc(x.v, (x.n + 1) * sizeof(*x.v));
		int r = read_one_xattr(fd, p, &x.v[x.n]);
		if (r == -ENODATA)
			continue; /* removed between list and get */
		if (r < 0) {
			layer_xattrs_done(&x);
			return molt_error_set(err, -r, "read xattr '%s'", p);
		}
		x.n++;
	}
	if (x.n > 1)
		qsort(x.v, x.n, sizeof(*x.v), cmp_xattr);
	*ret = x;
	return 0;
}

bool layer_xattrs_equal(const struct layer_xattrs *a, const struct layer_xattrs *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i].name, b->v[i].name) || a->v[i].len != b->v[i].len ||
		    memcmp(a->v[i].value, b->v[i].value, a->v[i].len))
			return false;
	}
	return true;
}

void layer_changes_add(struct layer_changes *c, const char *path, enum layer_change_kind kind)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n++] = (struct layer_change){xstrdup(path), kind};
}

void layer_changes_done(struct layer_changes *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].path);
	free(c->v);
	*c = (struct layer_changes){0};
}

char *layer_change_tar_name(const struct layer_change *ch)
{
	if (ch->kind == LAYER_CHANGE_ENTRY)
		return xstrdup(ch->path);
	const char *slash = strrchr(ch->path, '/');
	size_t dirlen = slash ? (size_t)(slash - ch->path) + 1 : 0;
	if (ch->kind == LAYER_CHANGE_OPAQUE)
		return xasprintf("%s/.wh..wh..opq", ch->path);
	return xasprintf("%.*s.wh.%s", (int)dirlen, ch->path, ch->path + dirlen);
}

struct keyed_change {
	char *key;
	struct layer_change ch;
};

static int cmp_keyed(const void *a, const void *b)
{
	return strcmp(((const struct keyed_change *)a)->key, ((const struct keyed_change *)b)->key);
}

/*
 * Bytewise order of the tar names: a parent ("a") is a prefix of its children
 * ("a/b") so it always sorts before them. Duplicates (a differ reporting a path
 * twice) are dropped.
 */
void layer_changes_sort(struct layer_changes *c)
{
	struct keyed_change *k = xcalloc(c->n ? c->n : 1, sizeof(*k));
	for (size_t i = 0; i < c->n; i++)
		k[i] = (struct keyed_change){layer_change_tar_name(&c->v[i]), c->v[i]};
	if (c->n > 1)
		qsort(k, c->n, sizeof(*k), cmp_keyed);
	size_t out = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (out > 0 && !strcmp(k[i].key, k[out - 1].key)) {
			free(k[i].ch.path);
			free(k[i].key);
			continue;
		}
		k[out++] = k[i];
	}
	for (size_t i = 0; i < out; i++) {
		c->v[i] = k[i].ch;
		free(k[i].key);
	}
	c->n = out;
	free(k);
}

int layer_write_changes(int srcfd, struct layer_changes *c, const struct layer_writer_opts *o,
			int outfd, struct layer_digests *ret, struct molt_error **err)
{
	struct layer_writer *w = NULL;
	int r = layer_writer_new(outfd, o, &w, err);
	if (r < 0)
		return r;
	layer_changes_sort(c);
	for (size_t i = 0; i < c->n && r >= 0; i++) {
		const struct layer_change *ch = &c->v[i];
		if (ch->kind == LAYER_CHANGE_ENTRY)
			r = layer_writer_add(w, srcfd, ch->path, err);
		else if (ch->kind == LAYER_CHANGE_WHITEOUT)
			r = layer_writer_add_whiteout(w, ch->path, err);
		else
			r = layer_writer_add_opaque(w, ch->path, err);
	}
	if (r >= 0)
		r = layer_writer_finish(w, ret, err);
	layer_writer_free(w);
	return r;
}
