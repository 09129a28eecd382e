/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/registry_conf.c: registries.conf (mirrors, insecure and blocked registries)
 * and the certs.d directories, read the way containers/image (podman, buildah, skopeo)
 * reads them, so a machine set up for podman works for molt unchanged.
 */
#include <jansson.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

#include "registry_int.h"
#include "registry_toml.h"

#define CONF_MAX_SIZE (1024 * 1024)

struct conf_mirror {
	char *location;
	bool insecure;
	bool digest_only, tag_only;
};

struct conf_registry {
	char *prefix;	/* what a reference must start with ("*.example.com" for a wildcard) */
	char *location; /* where it goes ("" for a wildcard without one: the host itself) */
	bool insecure, blocked;
	struct conf_mirror *mirrors;
	size_t n_mirrors;
};

struct registry_conf {
	struct conf_registry *regs;
	size_t n;
};

/* ---------------------------------------------------------------- value checks */

static bool is_string_array(const json_t *v)
{
	if (!json_is_array(v))
		return false;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e))
			return false;
	}
	return true;
}

/* location / prefix: host[:port][/path], no scheme, no spaces; trailing slashes are
 * dropped later, as containers/image does. */
static const char *location_problem(const char *s, bool is_prefix)
{
	if (!*s)
		return is_prefix ? NULL : "must not be empty";
	if (strstr(s, "://"))
		return "must be host[:port][/path] without a scheme such as https://";
	for (const char *q = s; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == '\\' || *q == '"')
			return "contains a space, control character, quote or backslash";
	if (s[0] == '/')
		return "must not start with '/'";
	if (is_prefix && strchr(s, '*') &&
	    !(str_startswith(s, "*.") && !strchr(s + 1, '*') && !strchr(s, '/') && s[2]))
		return "a wildcard must be the whole first label of a host ('*.example.com')";
	if (!is_prefix && strchr(s, '*'))
		return "must not contain a wildcard";
	return NULL;
}

static const char *check_mirror_key(const char *key, const json_t *v)
{
	if (strcmp(key, "location") == 0)
		return json_is_string(v) ? location_problem(json_string_value(v), false)
					 : "must be a string";
	if (strcmp(key, "insecure") == 0)
		return json_is_boolean(v) ? NULL : "must be true or false";
	if (strcmp(key, "pull-from-mirror") == 0) {
		const char *s = json_string_value(v);
		if (!s || !(strcmp(s, "all") == 0 || strcmp(s, "digest-only") == 0 ||
			    strcmp(s, "tag-only") == 0))
			return "must be \"all\", \"digest-only\" or \"tag-only\"";
	}
	return NULL; /* other keys are ignored, as containers/image only warns about them */
}

static const char *check_key(const char *table, const char *key, const json_t *v)
{
	if (strcmp(table, "") == 0) {
		if (strcmp(key, "unqualified-search-registries") == 0 ||
		    strcmp(key, "credential-helpers") == 0)
			return is_string_array(v) ? NULL : "must be an array of strings";
		return NULL;
	}
	if (strcmp(table, "registry.mirror") == 0)
		return check_mirror_key(key, v);
	if (strcmp(table, "registry") == 0) {
		if (strcmp(key, "location") == 0 || strcmp(key, "prefix") == 0)
			return json_is_string(v)
				       ? location_problem(json_string_value(v), key[0] == 'p')
				       : "must be a string";
		if (strcmp(key, "insecure") == 0 || strcmp(key, "blocked") == 0 ||
		    strcmp(key, "mirror-by-digest-only") == 0)
			return json_is_boolean(v) ? NULL : "must be true or false";
		if (strcmp(key, "mirror") == 0) {
			size_t i;
			json_t *m;
			if (!json_is_array(v))
				return "must be an array of tables";
			json_array_foreach(v, i, m)
			{
				if (!json_is_object(m))
					return "must be an array of tables";
				const char *k;
				json_t *mv;
				json_object_foreach(m, k, mv)
				{
					const char *why = check_mirror_key(k, mv);
					if (why) {
						static __thread char buf[160];
						snprintf(buf, sizeof(buf), "mirror key '%.40s' %s",
							 k, why);
						return buf;
					}
				}
			}
		}
		return NULL;
	}
	if (str_startswith(table, "registries.") && strcmp(key, "registries") == 0)
		return is_string_array(v) ? NULL : "must be an array of strings";
	return NULL;
}

static const char *check_table(const char *table, bool is_array)
{
	bool want_array = strcmp(table, "registry") == 0 || strcmp(table, "registry.mirror") == 0;
	if (want_array && !is_array)
		return "must be an array of tables: write it with double brackets";
	if (!want_array && is_array &&
	    (str_startswith(table, "registries") || strcmp(table, "aliases") == 0))
		return "must be a table: write it with single brackets";
	return NULL;
}

/* ---------------------------------------------------------------- building the conf */

static void conf_registry_done(struct conf_registry *r)
{
	free(r->prefix);
	free(r->location);
	for (size_t i = 0; i < r->n_mirrors; i++)
		free(r->mirrors[i].location);
	free(r->mirrors);
	*r = (struct conf_registry){0};
}

void registry_conf_free(struct registry_conf *conf)
{
	if (!conf)
		return;
	ARRAY_FREE(conf->regs, conf->n, conf_registry_done);
	free(conf);
}

static char *trimmed(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	while (n && s[n - 1] == '/')
		n--;
	return xstrndup(s ? s : "", n);
}

static bool get_bool(const json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

static void add_mirror(struct conf_registry *r, const json_t *m, bool digest_only)
{
	const char *pull = json_string_value(json_object_get(m, "pull-from-mirror"));
	ARRAY_PUSH(r->mirrors, r->n_mirrors, (struct conf_mirror){
		.location = trimmed(json_string_value(json_object_get(m, "location"))),
		.insecure = get_bool(m, "insecure"),
		.digest_only = digest_only || (pull && strcmp(pull, "digest-only") == 0),
		.tag_only = !digest_only && pull && strcmp(pull, "tag-only") == 0,
	});
}

static int registry_from_json(const char *path, size_t idx, const json_t *o,
			      struct conf_registry *ret, struct molt_error **err)
{
	_cleanup_free_ char *loc = trimmed(json_string_value(json_object_get(o, "location")));
	_cleanup_free_ char *prefix = trimmed(json_string_value(json_object_get(o, "prefix")));
	if (!*prefix && !*loc)
		return molt_error_setx(
			err, EINVAL, "%s: [[registry]] number %zu has neither location nor prefix",
			path, idx + 1);
	if (!*prefix)
		free(prefix), prefix = xstrdup(loc);
	if (!*loc && !str_startswith(prefix, "*."))
		return molt_error_setx(err, EINVAL,
				       "%s: registry '%s' has no location (only a "
				       "'*.example.com' prefix may go without one)",
				       path, prefix);
	if (json_object_get(o, "pull-from-mirror"))
		return molt_error_setx(err, EINVAL,
				       "%s: registry '%s': pull-from-mirror belongs "
				       "in a [[registry.mirror]], not the registry",
				       path, prefix);
	bool digest_only = get_bool(o, "mirror-by-digest-only");
	const json_t *mirrors = json_object_get(o, "mirror");
	size_t i;
	json_t *m;
	json_array_foreach(mirrors, i, m)
	{
		const char *mloc = json_string_value(json_object_get(m, "location"));
		if (!mloc || !*mloc)
			return molt_error_setx(err, EINVAL,
					       "%s: registry '%s': mirror number %zu "
					       "has no location",
					       path, prefix, i + 1);
		if (digest_only && json_object_get(m, "pull-from-mirror"))
			return molt_error_setx(
				err, EINVAL,
				"%s: registry '%s': "
				"mirror-by-digest-only and a mirror's pull-from-mirror "
				"cannot both be set",
				path, prefix);
	}
	struct conf_registry r = {
		.prefix = TAKE_PTR(prefix),
		.location = TAKE_PTR(loc),
		.insecure = get_bool(o, "insecure"),
		.blocked = get_bool(o, "blocked"),
	};
	json_array_foreach(mirrors, i, m) add_mirror(&r, m, digest_only);
	*ret = r;
	return 0;
}

/* The v1 format: [registries.insecure] / [registries.block] registries = ["host", ...];
 * a host in both lists is one registry with both flags. */
static void v1_registries(const json_t *root, struct conf_registry **regs, size_t *n)
{
	static const char *const kinds[] = {"insecure", "block"};
	const json_t *v1 = json_object_get(root, "registries");
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		const json_t *list = json_object_get(json_object_get(v1, kinds[k]), "registries");
		size_t i;
		json_t *h;
		json_array_foreach(list, i, h)
		{
			_cleanup_free_ char *loc = trimmed(json_string_value(h));
			size_t j = 0;
			while (j < *n && strcmp((*regs)[j].location, loc) != 0)
				j++;
			if (j == *n) {
				*regs = xrealloc(*regs, (*n + 1) * sizeof(**regs));
				(*regs)[(*n)++] = (struct conf_registry){.prefix = xstrdup(loc),
									 .location = xstrdup(loc)};
			}
			if (k == 0)
				(*regs)[j].insecure = true;
			else
				(*regs)[j].blocked = true;
		}
	}
}

/* Within one file the first entry for a prefix wins and the same location may not be
 * both secure and insecure (or blocked and not); a later file's entry replaces the one
 * with the same prefix. All as containers/image does. */
static int conf_merge(struct registry_conf *conf, const char *path, struct conf_registry *regs,
		      size_t n, struct molt_error **err)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++) {
			const struct conf_registry *a = &regs[i], *b = &regs[j];
			if (!*a->location || strcmp(a->location, b->location) != 0)
				continue;
			if (a->insecure != b->insecure || a->blocked != b->blocked)
				return molt_error_setx(err, EINVAL,
						       "%s: registry '%s' is defined "
						       "more than once with conflicting '%s'",
						       path, a->location,
						       a->insecure != b->insecure ? "insecure"
										  : "blocked");
		}
	/* Later duplicates of a prefix go first, while every entry still has its prefix. */
	for (size_t i = n; i-- > 0;)
		for (size_t j = 0; j < i; j++)
			if (strcmp(regs[i].prefix, regs[j].prefix) == 0) {
				conf_registry_done(&regs[i]);
				break;
			}
	for (size_t i = 0; i < n; i++) {
		if (!regs[i].prefix)
			continue;
		size_t j = 0;
		while (j < conf->n && strcmp(conf->regs[j].prefix, regs[i].prefix) != 0)
			j++;
		if (j == conf->n)
			conf->regs = xrealloc(conf->regs, ++conf->n * sizeof(*conf->regs));
		else
			conf_registry_done(&conf->regs[j]);
		conf->regs[j] = regs[i];
		regs[i] = (struct conf_registry){0};
	}
	return 0;
}

static int conf_add_file(struct registry_conf *conf, const char *path, const json_t *root,
			 struct molt_error **err)
{
	const json_t *v2 = json_object_get(root, "registry");
	const json_t *v1 = json_object_get(root, "registries");
	if (v1 && v2)
		return molt_error_setx(err, EINVAL,
				       "%s: mixes the v1 [registries.*] tables with "
				       "v2 [[registry]] tables; use one format",
				       path);
	struct conf_registry *regs = NULL;
	size_t n = 0, i;
	int r = 0;
	json_t *o;
	if (v2 && !json_is_array(v2))
		r = molt_error_setx(err, EINVAL, "%s: 'registry' must be an array of tables", path);
	json_array_foreach(v2, i, o)
	{
		if (r < 0)
			break;
		regs = xrealloc(regs, (n + 1) * sizeof(*regs));
		r = registry_from_json(path, i, o, &regs[n], err);
		if (r == 0)
			n++;
	}
	if (r == 0) {
		v1_registries(root, &regs, &n);
		r = conf_merge(conf, path, regs, n, err);
	}
	for (i = 0; i < n; i++)
		conf_registry_done(&regs[i]);
	free(regs);
	return r;
}

int registry_conf_load(char *const *paths, struct registry_conf **ret, struct molt_error **err)
{
	struct registry_conf *conf = xcalloc(1, sizeof(*conf));
	for (size_t i = 0; paths && paths[i]; i++) {
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		_cleanup_error_ struct molt_error *rerr = NULL;
		int r = read_file(paths[i], CONF_MAX_SIZE, &data, &len, &rerr);
		if (r == -ENOENT)
			continue;
		if (r == -EFBIG)
			r = molt_error_setx(err, EFBIG,
					    "registries configuration '%s' is larger "
					    "than %d bytes",
					    paths[i], CONF_MAX_SIZE);
		else if (r < 0)
			r = molt_error_set(err, -r, "read registries configuration '%s'", paths[i]);
		json_auto_t *root = NULL;
		if (r == 0)
			r = registry_toml_parse(paths[i], data, len, check_key, check_table, &root,
						err);
		if (r == 0)
			r = conf_add_file(conf, paths[i], root, err);
		if (r < 0) {
			registry_conf_free(conf);
			return r;
		}
	}
	*ret = conf;
	return 0;
}

/* ---------------------------------------------------------------- matching */

/* How much of `ref` ("host/path") the prefix matches: 0 for no match. A wildcard counts
 * for less than the host it matches, so an exact entry for that host wins. */
static size_t prefix_match(const char *prefix, const char *ref, size_t host_len)
{
	if (str_startswith(prefix, "*.")) {
		/* The host name without its port: "*.example.com" matches a.example.com:5000
		 * too, as in containers/image. */
		size_t name_len = ref[0] == '[' ? 0 : strcspn(ref, ":/");
		size_t suffix = strlen(prefix) - 1; /* ".example.com" */
		if (name_len > suffix && name_len <= host_len &&
		    strncmp(ref + name_len - suffix, prefix + 1, suffix) == 0)
			return suffix;
		return 0;
	}
	size_t n = strlen(prefix);
	if (strncmp(ref, prefix, n) == 0 && (ref[n] == '\0' || ref[n] == '/'))
		return n;
	return 0;
}

static void split_location(const char *loc, char **host, char **path)
{
	const char *slash = strchr(loc, '/');
	*host = slash ? xstrndup(loc, (size_t)(slash - loc)) : xstrdup(loc);
	*path = xstrdup(slash ? slash + 1 : "");
}

static char *join_repo(const char *a, const char *b)
{
	if (!*a)
		return xstrdup(b);
	if (!*b)
		return xstrdup(a);
	return xasprintf("%s/%s", a, b);
}

static int add_endpoint(struct registry_host_conf *hc, const char *location, const char *rest,
			const struct conf_mirror *m, bool insecure, struct molt_error **err)
{
	struct registry_endpoint e = {.insecure = insecure, .is_mirror = m != NULL};
	split_location(location, &e.host, &e.prefix);
	e.repo = join_repo(e.prefix, rest);
	if (m) {
		e.digest_only = m->digest_only;
		e.tag_only = m->tag_only;
	}
	int r = registry_certs_dir(e.host, &e.certs_dir, err);
	hc->endpoints = xrealloc(hc->endpoints, (hc->n_endpoints + 1) * sizeof(e));
	hc->endpoints[hc->n_endpoints++] = e;
	return r;
}

int registry_conf_resolve(const struct registry_conf *conf, const char *host, const char *repo_path,
			  struct registry_host_conf *ret, struct molt_error **err)
{
	if (!repo_path)
		repo_path = "";
	_cleanup_free_ char *ref = join_repo(host, repo_path);
	const struct conf_registry *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; conf && i < conf->n; i++) {
		size_t n = prefix_match(conf->regs[i].prefix, ref, strlen(host));
		if (n > best_len) {
			best = &conf->regs[i];
			best_len = n;
		}
	}
	struct registry_host_conf hc = {0};
	int r = 0;
	if (!best || !*best->location) {
		/* No entry, or a wildcard entry that only sets flags: the host itself. */
		for (size_t i = 0; best && r == 0 && i < best->n_mirrors; i++)
			r = add_endpoint(&hc, best->mirrors[i].location, repo_path,
					 &best->mirrors[i], best->mirrors[i].insecure, err);
		if (r == 0)
			r = add_endpoint(&hc, host, repo_path, NULL, best && best->insecure, err);
	} else {
		const char *rest = str_startswith(best->prefix, "*.") ? repo_path : ref + best_len;
		while (*rest == '/')
			rest++;
		for (size_t i = 0; r == 0 && i < best->n_mirrors; i++)
			r = add_endpoint(&hc, best->mirrors[i].location, rest, &best->mirrors[i],
					 best->mirrors[i].insecure, err);
		if (r == 0)
			r = add_endpoint(&hc, best->location, rest, NULL, best->insecure, err);
	}
	if (r < 0) {
		registry_host_conf_done(&hc);
		return r;
	}
	hc.blocked = best && best->blocked;
	const char *own = hc.endpoints[hc.n_endpoints - 1].certs_dir;
	hc.certs_dir = own ? xstrdup(own) : NULL;
	*ret = hc;
	return 0;
}

void registry_host_conf_done(struct registry_host_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_endpoints; i++) {
		free(c->endpoints[i].host);
		free(c->endpoints[i].prefix);
		free(c->endpoints[i].repo);
		free(c->endpoints[i].certs_dir);
	}
	free(c->endpoints);
	free(c->certs_dir);
	*c = (struct registry_host_conf){0};
}

/* ---------------------------------------------------------------- files */

char *registry_home_path(const char *rel)
{
	const char *home = getenv("HOME");
	if (!home || home[0] != '/') {
		struct passwd pw, *res = NULL;
		char buf[4096];
		if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) != 0 || !res || !pw.pw_dir ||
		    pw.pw_dir[0] != '/')
			return NULL;
		return xasprintf("%s/%s", pw.pw_dir, rel);
	}
	return xasprintf("%s/%s", home, rel);
}

/* Appends DIR/ *.conf in name order; a missing directory adds nothing. */
static void add_dropins(char ***paths, const char *dir)
{
	_cleanup_closedir_ DIR *d = dir ? opendir(dir) : NULL;
	if (!d)
		return;
	_cleanup_strv_ char **names = NULL;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && str_endswith(de->d_name, ".conf"))
			strv_push(&names, de->d_name);
	strv_sort(names);
	for (size_t i = 0; names && names[i]; i++)
		strv_push_take(paths, xasprintf("%s/%s", dir, names[i]));
}

static char **conf_paths(void)
{
	char **paths = NULL;
	const char *env = getenv("CONTAINERS_REGISTRIES_CONF");
	if (env && *env) {
		strv_push(&paths, env);
		return paths;
	}
	_cleanup_free_ char *user = registry_home_path(".config/containers/registries.conf");
	_cleanup_free_ char *user_d = registry_home_path(".config/containers/registries.conf.d");
	struct stat st;
	if (user && stat(user, &st) == 0) {
		strv_push(&paths, user);
	} else {
		strv_push(&paths, "/etc/containers/registries.conf");
		add_dropins(&paths, "/etc/containers/registries.conf.d");
	}
	add_dropins(&paths, user_d);
	return paths;
}

int registry_conf_lookup(const char *host, const char *repo_path, struct registry_host_conf *ret,
			 struct molt_error **err)
{
	/* A file named explicitly must exist: a typo would otherwise silently drop the
	 * user's mirrors and insecure registries. */
	const char *env = getenv("CONTAINERS_REGISTRIES_CONF");
	if (env && *env && access(env, F_OK) < 0)
		return molt_error_set(err, errno,
				      "registries configuration '%s' (from "
				      "CONTAINERS_REGISTRIES_CONF)",
				      env);
	_cleanup_strv_ char **paths = conf_paths();
	return registry_conf_load_resolve(paths, host, repo_path, ret, err);
}

int registry_conf_load_resolve(char *const *paths, const char *host, const char *repo_path,
			       struct registry_host_conf *ret, struct molt_error **err)
{
	struct registry_conf *conf = NULL;
	int r = registry_conf_load(paths, &conf, err);
	if (r < 0)
		return r;
	r = registry_conf_resolve(conf, host, repo_path, ret, err);
	registry_conf_free(conf);
	return r;
}

int registry_certs_dir(const char *host, char **ret, struct molt_error **err)
{
	*ret = NULL;
	/* HOST comes from an image reference; never let it name another directory. */
	if (!*host || strchr(host, '/') || strcmp(host, ".") == 0 || strcmp(host, "..") == 0)
		return 0;
	const char *env = getenv("MOLT_CERTS_DIR");
	_cleanup_free_ char *user = registry_home_path(".config/containers/certs.d");
	const char *roots[] = {env && *env ? env : NULL, user, "/etc/containers/certs.d",
			       "/etc/docker/certs.d"};
	for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
		if (!roots[i])
			continue;
		_cleanup_free_ char *dir = xasprintf("%s/%s", roots[i], host);
		struct stat st;
		if (stat(dir, &st) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			return molt_error_set(err, errno, "certificates directory '%s'", dir);
		}
		if (!S_ISDIR(st.st_mode))
			return molt_error_setx(err, ENOTDIR,
					       "certificates directory '%s' is not "
					       "a directory",
					       dir);
		*ret = TAKE_PTR(dir);
		return 0;
	}
	return 0;
}
