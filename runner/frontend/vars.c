/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "vars.h"

/* FNV-1a: names are short and not chosen to collide by anyone but the Dockerfile's
 * author, who can at worst slow down their own build to a linear scan. */
static size_t hash_name(const char *k)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	return (size_t)h;
}

ssize_t vars_find(const struct vars *v, const char *k)
{
	if (!v->n_slots)
		return -1;
	size_t mask = v->n_slots - 1;
	for (size_t i = hash_name(k) & mask;; i = (i + 1) & mask) {
		size_t e = v->slots[i];
		if (!e)
			return -1;
		if (!strcmp(v->keys[e - 1], k))
			return (ssize_t)(e - 1);
	}
}

static void index_insert(struct vars *v, size_t entry)
{
	size_t mask = v->n_slots - 1;
	size_t i = hash_name(v->keys[entry]) & mask;
	while (v->slots[i])
		i = (i + 1) & mask;
	v->slots[i] = entry + 1;
}

static void index_grow(struct vars *v)
{
	size_t n = v->n_slots ? v->n_slots * 2 : 16;
	free(v->slots);
	v->slots = xcalloc(n, sizeof(*v->slots));
	v->n_slots = n;
	for (size_t e = 0; e < v->n; e++)
		index_insert(v, e);
}

static size_t entry_bytes(const char *k, const char *val)
{
	return val ? strlen(k) + 1 + strlen(val) : 0;
}

void vars_set(struct vars *v, const char *k, const char *val)
{
	v->gen++;
	ssize_t i = vars_find(v, k);
	if (i >= 0) {
		v->bytes -= entry_bytes(k, v->vals[i]);
		v->bytes += entry_bytes(k, val);
		free(v->vals[i]);
		v->vals[i] = val ? xstrdup(val) : NULL;
		return;
	}
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 8;
		v->keys = xrealloc(v->keys, v->cap * sizeof(char *));
		v->vals = xrealloc(v->vals, v->cap * sizeof(char *));
	}
	v->keys[v->n] = xstrdup(k);
	v->vals[v->n] = val ? xstrdup(val) : NULL;
	v->bytes += entry_bytes(k, val);
	v->n++;
	if (v->n * 2 > v->n_slots)
		index_grow(v);
	else
		index_insert(v, v->n - 1);
}

void vars_copy(struct vars *dst, const struct vars *src)
{
	for (size_t i = 0; i < src->n; i++)
		vars_set(dst, src->keys[i], src->vals[i]);
}

void vars_done(struct vars *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->keys[i]);
		free(v->vals[i]);
	}
	free(v->keys);
	free(v->vals);
	free(v->slots);
	memset(v, 0, sizeof(*v));
}

char **vars_strv(const struct vars *v)
{
	char **s = xcalloc(v->n + 1, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < v->n; i++)
		if (v->vals[i])
			s[k++] = xasprintf("%s=%s", v->keys[i], v->vals[i]);
	return s;
}
