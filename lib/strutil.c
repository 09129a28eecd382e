/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <string.h>

#include "base.h"

void strbuf_grow(struct strbuf *sb, size_t extra)
{
	if (sb->len + extra + 1 <= sb->cap)
		return;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	sb->buf = xrealloc(sb->buf, cap);
	sb->cap = cap;
}

void strbuf_add(struct strbuf *sb, const void *data, size_t n)
{
	strbuf_grow(sb, n);
	if (n)
		memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void strbuf_adds(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addc(struct strbuf *sb, char c)
{
	strbuf_add(sb, &c, 1);
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	strbuf_adds(sb, s);
	free(s);
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

char *strbuf_detach(struct strbuf *sb)
{
	char *p = sb->buf ? sb->buf : xstrdup("");
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	return p;
}

void strbuf_done(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

const char *strbuf_str(const struct strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}

size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void strv_push_take(char ***v, char *s)
{
	size_t n = strv_len(*v);
	*v = xrealloc(*v, (n + 2) * sizeof(char *));
	(*v)[n] = s;
	(*v)[n + 1] = NULL;
}

void strv_push(char ***v, const char *s)
{
	strv_push_take(v, xstrdup(s));
}

char **strv_copy(char *const *v)
{
	char **r = xcalloc(strv_len(v) + 1, sizeof(char *));
	for (size_t i = 0; v && v[i]; i++)
		r[i] = xstrdup(v[i]);
	return r;
}

void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

bool strv_contains(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

bool str_startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_endswith(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool str_eq_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
	return *a == *b;
}

size_t path_last_component(const char *path, size_t *ret_len)
{
	size_t end = strlen(path);
	while (end > 0 && path[end - 1] == '/')
		end--;
	size_t start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	*ret_len = end - start;
	return start;
}

int str_to_int64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	if (!s || !*s)
		return -EINVAL;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end || isspace((unsigned char)*s))
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void strv_sort(char **v)
{
	qsort(v, strv_len(v), sizeof(char *), cmp_strp);
}

static size_t env_key_len(const char *kv)
{
	const char *eq = strchr(kv, '=');
	return eq ? (size_t)(eq - kv) : strlen(kv);
}

static size_t env_key_hash(const char *kv, size_t klen)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < klen; i++)
		h = (h ^ (unsigned char)kv[i]) * 1099511628211ULL;
	return (size_t)h;
}

/* The slot holding key kv[0..klen) in the index of v (entry + 1 per slot), or an empty one. */
static size_t env_slot(char *const *v, const size_t *slots, size_t mask, const char *kv,
		       size_t klen)
{
	size_t i = env_key_hash(kv, klen) & mask;
	for (; slots[i]; i = (i + 1) & mask) {
		const char *e = v[slots[i] - 1];
		if (env_key_len(e) == klen && !memcmp(e, kv, klen))
			break;
	}
	return i;
}

void strv_env_merge(char ***env, char *const *add, bool replace)
{
	size_t n = strv_len(*env), m = strv_len(add), n_slots = 16;
	while (n_slots < 2 * (n + m))
		n_slots *= 2;
	_cleanup_free_ size_t *slots = xcalloc(n_slots, sizeof(size_t));
	char **v = xrealloc(*env, (n + m + 1) * sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		size_t s = env_slot(v, slots, n_slots - 1, v[i], env_key_len(v[i]));
		if (!slots[s])
			slots[s] = i + 1;
	}
	for (size_t i = 0; i < m; i++) {
		size_t klen = env_key_len(add[i]);
		char *e = add[i][klen] ? xstrdup(add[i]) : xasprintf("%s=", add[i]);
		size_t s = env_slot(v, slots, n_slots - 1, add[i], klen);
		if (slots[s] && replace) {
			free(v[slots[s] - 1]);
			v[slots[s] - 1] = e;
		} else if (slots[s]) {
			free(e);
		} else {
			v[n] = e;
			slots[s] = ++n;
		}
	}
	v[n] = NULL;
	*env = v;
}

static void env_index_insert(struct env_index *x, size_t entry)
{
	const char *e = x->v[entry];
	size_t s = env_slot(x->v, x->slots, x->n_slots - 1, e, env_key_len(e));
	if (!x->slots[s])
		x->slots[s] = entry + 1;
}

static void env_index_rebuild(struct env_index *x, char ***env)
{
	size_t n = strv_len(*env);
	x->cap = n < 8 ? 8 : n;
	*env = xrealloc(*env, (x->cap + 1) * sizeof(char *));
	(*env)[n] = NULL;
	x->v = *env;
	x->n = n;
	x->n_slots = 16;
	while (x->n_slots < 2 * x->cap)
		x->n_slots *= 2;
	free(x->slots);
	x->slots = xcalloc(x->n_slots, sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		env_index_insert(x, i);
}

void env_index_set(struct env_index *x, char ***env, const char *key, const char *value)
{
	/* Cheap staleness checks: the same array, NULL-terminated at the known length. */
	if (!*env || x->v != *env || (*env)[x->n] || (x->n && !(*env)[x->n - 1]))
		env_index_rebuild(x, env);
	size_t klen = strlen(key);
	char *entry = xasprintf("%s=%s", key, value);
	size_t s = env_slot(x->v, x->slots, x->n_slots - 1, key, klen);
	if (x->slots[s]) {
		free(x->v[x->slots[s] - 1]);
		x->v[x->slots[s] - 1] = entry;
		return;
	}
	if (x->n == x->cap) {
		x->cap *= 2;
		*env = xrealloc(*env, (x->cap + 1) * sizeof(char *));
		x->v = *env;
	}
	x->v[x->n] = entry;
	x->v[++x->n] = NULL;
	if (2 * x->n > x->n_slots) {
		size_t n = x->n;
		x->cap = n; /* a rebuild keeps the list, grows the index */
		env_index_rebuild(x, env);
	} else {
		x->slots[s] = x->n;
	}
}

void env_index_done(struct env_index *x)
{
	free(x->slots);
	*x = (struct env_index){0};
}

bool mem_is_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	/* The first byte zero and every byte equal to the one before it. */
	return n == 0 || (c[0] == 0 && !memcmp(c, c + 1, n - 1));
}
