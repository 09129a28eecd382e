/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/registry_cred.c: registry credentials from the files podman and docker keep
 * them in (containers auth.json, docker's config.json with its credential helpers),
 * and writing them for `molt login` / `molt logout`.
 *
 * These files hold passwords: a message names the file and the host, never a value
 * from the file (jansson's parse errors quote the input, so only line and column are
 * passed on), and buffers that held a secret are zeroed before they are freed.
 */
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "registry_int.h"

#define AUTH_MAX_SIZE (4 * 1024 * 1024)
#define DOCKER_HUB_URL "https://index.docker.io/v1/"

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void registry_cred_done(struct registry_cred *c)
{
	if (!c)
		return;
	free(c->username);
	free_secret(c->secret);
	*c = (struct registry_cred){0};
}

/* ---------------------------------------------------------------- file locations */

static char *docker_config_path(void)
{
	const char *dir = getenv("DOCKER_CONFIG");
	if (dir && *dir)
		return xasprintf("%s/config.json", dir);
	return registry_home_path(".docker/config.json");
}

/* ${XDG_RUNTIME_DIR}/containers/auth.json, when XDG_RUNTIME_DIR names a directory. */
static char *runtime_auth_path(void)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	if (!dir || dir[0] != '/' || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return NULL;
	return xasprintf("%s/containers/auth.json", dir);
}

static const char *auth_file_env(void)
{
	const char *env = getenv("REGISTRY_AUTH_FILE");
	return env && *env ? env : NULL;
}

/* ---------------------------------------------------------------- reading files */

/* The file's JSON object; -ENOENT (no message) when it does not exist. */
static int load_json(const char *path, json_t **ret, struct molt_error **err)
{
	char *data = NULL;
	size_t len = 0;
	_cleanup_error_ struct molt_error *rerr = NULL;
	int r = read_file(path, AUTH_MAX_SIZE, &data, &len, &rerr);
	if (r == -ENOENT)
		return r;
	if (r == -EFBIG)
		return molt_error_setx(err, EFBIG, "credentials file '%s' is larger than %d bytes",
				       path, AUTH_MAX_SIZE);
	if (r < 0)
		return molt_error_set(err, -r, "read credentials file '%s'", path);
	json_error_t je;
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	explicit_bzero(data, len);
	free(data);
	int line = je.line, column = je.column;
	explicit_bzero(&je, sizeof(je)); /* its text quotes the input */
	if (!root)
		return molt_error_setx(err, EINVAL,
				       "credentials file '%s' is not valid JSON "
				       "(line %d, column %d)",
				       path, line, column);
	const char *bad = NULL;
	if (!json_is_object(root))
		bad = "is not a JSON object";
	else if (json_object_get(root, "auths") && !json_is_object(json_object_get(root, "auths")))
		bad = "has an 'auths' that is not an object";
	else if (json_object_get(root, "credHelpers") &&
		 !json_is_object(json_object_get(root, "credHelpers")))
		bad = "has a 'credHelpers' that is not an object";
	else if (json_object_get(root, "credsStore") &&
		 !json_is_string(json_object_get(root, "credsStore")))
		bad = "has a 'credsStore' that is not a string";
	if (bad) {
		json_decref(root);
		return molt_error_setx(err, EINVAL, "credentials file '%s' %s", path, bad);
	}
	*ret = root;
	return 0;
}

/* Whether an "auths" / "credHelpers" key is for HOST. Exact keys first; then the legacy
 * forms docker writes ("https://HOST", "https://HOST/v1/"); Docker Hub has aliases. */
static bool key_matches(const char *key, const char *host, bool exact)
{
	if (exact)
		return strcmp(key, host) == 0;
	const char *k = key;
	bool scheme = false;
	if (str_startswith(k, "https://") || str_startswith(k, "http://")) {
		k = strstr(k, "://") + 3;
		scheme = true;
	}
	size_t n = strcspn(k, "/");
	if (k[n] && !scheme)
		return false; /* "host/repo" keys are per repository (containers/image) */
	if (strlen(host) == n && strncmp(k, host, n) == 0)
		return true;
	if (strcmp(host, "docker.io") != 0)
		return false;
	static const char *const hub[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};
	for (size_t i = 0; i < ARRAY_SIZE(hub); i++)
		if (strlen(hub[i]) == n && strncmp(k, hub[i], n) == 0)
			return true;
	return false;
}

static json_t *find_key(json_t *obj, const char *host)
{
	for (int exact = 1; exact >= 0; exact--) {
		const char *k;
		json_t *v;
		json_object_foreach(obj, k, v)
		{
			if (key_matches(k, host, exact))
				return v;
		}
	}
	return NULL;
}

/* An "auths" entry: 1 with *ret filled, 0 when it holds nothing (docker leaves empty
 * entries when a helper keeps the secret). */
static int cred_from_entry(const char *path, const char *host, const json_t *entry,
			   struct registry_cred *ret, struct molt_error **err)
{
	const char *auth = json_string_value(json_object_get(entry, "auth"));
	const char *token = json_string_value(json_object_get(entry, "identitytoken"));
	if ((!auth || !*auth) && (!token || !*token))
		return 0;
	char *user = NULL;
	if (auth && *auth) {
		size_t len;
		if (base64_decode(auth, strlen(auth), &user, &len) < 0)
			return molt_error_setx(err, EINVAL,
					       "credentials for '%s' in '%s' are not "
					       "valid base64",
					       host, path);
		char *colon = strchr(user, ':');
		if (!colon || colon == user || strlen(user) != len) {
			free_secret(user);
			return molt_error_setx(err, EINVAL,
					       "credentials for '%s' in '%s' are not "
					       "'user:password' in base64",
					       host, path);
		}
		*colon = '\0';
		if (!token || !*token)
			ret->secret = xstrdup(colon + 1);
		explicit_bzero(colon + 1, strlen(colon + 1));
	}
	ret->username = user;
	if (token && *token) {
		ret->secret = xstrdup(token);
		ret->identity_token = true;
	}
	return 1;
}

/* ---------------------------------------------------------------- helpers */

/* The server URLs a helper may know HOST by: docker stores Docker Hub under its v1 URL,
 * podman under "docker.io". */
static const char *helper_urls(const char *host, size_t i)
{
	if (strcmp(host, "docker.io") == 0)
		return i == 0 ? DOCKER_HUB_URL : i == 1 ? host : NULL;
	return i == 0 ? host : NULL;
}

static bool says_not_found(const char *out)
{
	return strstr(out, "credentials not found") != NULL;
}

/*
 * Runs `docker-credential-<helper> <verb>` for url (`what` names it in an error):
 * 1 with its output in *ret_out, 0 when the helper says it has no credentials for url,
 * an error when it fails otherwise.
 */
static int helper_verb(const char *helper, const char *verb, const char *what,
		       const char *host, const char *url, char **ret_out, struct molt_error **err)
{
	char *out = NULL;
	int status;
	int r = registry_credhelper_run(helper, verb, url, &out, &status, err);
	if (r < 0)
		return molt_error_wrap(err, "%s for '%s'", what, host);
	if (status == 0) {
		*ret_out = out;
		return 1;
	}
	bool not_found = says_not_found(out);
	free_secret(out);
	if (not_found)
		return 0;
	return molt_error_setx(err, EIO,
			       "credential helper 'docker-credential-%s' "
			       "%s for '%s' failed (exit status %d)",
			       helper, verb, host, status);
}

static int helper_get(const char *helper, const char *host, struct registry_cred *ret,
		      struct molt_error **err)
{
	const char *url;
	for (size_t i = 0; (url = helper_urls(host, i)); i++) {
		char *out = NULL;
		int r = helper_verb(helper, "get", "credentials", host, url, &out, err);
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		json_t *j = json_loads(out, 0, NULL);
		free_secret(out);
		const char *u = json_string_value(json_object_get(j, "Username"));
		const char *s = json_string_value(json_object_get(j, "Secret"));
		if (!u || !s) {
			json_decref(j);
			return molt_error_setx(
				err, EINVAL,
				"credential helper "
				"'docker-credential-%s' get for '%s' printed something "
				"that is not credentials JSON",
				helper, host);
		}
		bool found = *s != '\0';
		if (found) {
			ret->identity_token = strcmp(u, "<token>") == 0;
			ret->username = xstrdup(u);
			ret->secret = xstrdup(s);
		}
		json_decref(j);
		if (found)
			return 1;
	}
	return 0;
}

/* The helper a docker-style config names for HOST (credHelpers, then credsStore). */
static const char *helper_for(json_t *root, const char *host)
{
	const char *h = json_string_value(find_key(json_object_get(root, "credHelpers"), host));
	if (h && *h)
		return h;
	h = json_string_value(json_object_get(root, "credsStore"));
	return h && *h ? h : NULL;
}

/* 1 found, 0 not in this file, <0 error. */
static int lookup_in_file(const char *path, const char *host, struct registry_cred *ret,
			  struct molt_error **err)
{
	json_auto_t *root = NULL;
	int r = load_json(path, &root, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	const char *helper = helper_for(root, host);
	if (helper) {
		r = helper_get(helper, host, ret, err);
		if (r != 0)
			return r;
	}
	json_t *entry = find_key(json_object_get(root, "auths"), host);
	return entry ? cred_from_entry(path, host, entry, ret, err) : 0;
}

int registry_cred_lookup(const char *host, struct registry_cred *ret, struct molt_error **err)
{
	_cleanup_strv_ char **files = NULL;
	if (auth_file_env()) {
		strv_push(&files, auth_file_env());
	} else {
		char *p = runtime_auth_path();
		if (p)
			strv_push_take(&files, p);
		if ((p = registry_home_path(".config/containers/auth.json")))
			strv_push_take(&files, p);
		if ((p = docker_config_path()))
			strv_push_take(&files, p);
	}
	struct registry_cred c = {0};
	for (size_t i = 0; files && files[i]; i++) {
		int r = lookup_in_file(files[i], host, &c, err);
		if (r < 0) {
			registry_cred_done(&c);
			return r;
		}
		if (r > 0)
			break;
	}
	*ret = c;
	return 0;
}

/* ---------------------------------------------------------------- writing files */

/* Writes root to path (0600 unless keep_mode, then the file's present mode), its
 * directory created 0700. The serialised buffer holds secrets: zeroed after. */
static int save_json(const char *path, json_t *root, bool keep_mode, struct molt_error **err)
{
	mode_t mode = 0600;
	struct stat st;
	if (keep_mode && stat(path, &st) == 0)
		mode = st.st_mode & 07777;
	_cleanup_free_ char *dir_copy = xstrdup(path);
	int r = mkdir_p(dirname(dir_copy), 0700, err);
	if (r < 0)
		return r;
	char *data = json_dumps(root, JSON_INDENT(2));
	if (!data)
		return molt_error_setx(err, ENOMEM, "serialise credentials for '%s'", path);
	size_t len = strlen(data);
	data = xrealloc(data, len + 2);
	data[len++] = '\n';
	r = write_file_atomic(path, data, len, mode, err);
	explicit_bzero(data, len);
	free(data);
	return r;
}

/*
 * Two `molt login`s at once (parallel CI jobs) would each read the file, add their host
 * and rename: one host lost. An exclusive flock on the file's directory (the file itself
 * is replaced by rename, so it cannot carry the lock) serialises them; waiting is
 * bounded. -ENOENT without a message when the directory is missing and !create.
 */
static int lock_auth_dir(const char *path, bool create, int *ret_fd, struct molt_error **err)
{
	_cleanup_free_ char *dir_copy = xstrdup(path);
	const char *dir = dirname(dir_copy);
	if (create) {
		int r = mkdir_p(dir, 0700, err);
		if (r < 0)
			return r;
	}
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !create)
		return -ENOENT;
	if (fd < 0)
		return molt_error_set(err, errno, "open credentials directory '%s'", dir);
	for (int i = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; i++) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return molt_error_set(err, errno, "lock credentials directory '%s'", dir);
		if (i == 1000)
			return molt_error_setx(err, EWOULDBLOCK,
					       "credentials directory '%s' stayed "
					       "locked by another login for 10 s",
					       dir);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int store_in_file(const char *path, const char *host, const char *username,
			 const char *secret, struct molt_error **err)
{
	_cleanup_close_ int lock = -1;
	int r = lock_auth_dir(path, true, &lock, err);
	if (r < 0)
		return r;
	json_auto_t *root = NULL;
	r = load_json(path, &root, err);
	if (r == -ENOENT)
		root = json_object();
	else if (r < 0)
		return r;
	json_t *auths = json_object_get(root, "auths");
	if (!auths) {
		auths = json_object();
		json_object_set_new(root, "auths", auths);
	}
	_cleanup_free_ char *plain = xasprintf("%s:%s", username, secret);
	char *b64 = base64_encode(plain, strlen(plain));
	explicit_bzero(plain, strlen(plain));
	json_t *entry = json_object_get(auths, host);
	if (!json_is_object(entry)) {
		entry = json_object();
		json_object_set_new(auths, host, entry);
	}
	json_object_set_new(entry, "auth", json_string(b64));
	json_object_del(entry, "identitytoken");
	free_secret(b64);
	return save_json(path, root, false, err);
}

static int helper_store(const char *helper, const char *host, const char *username,
			const char *secret, struct molt_error **err)
{
	json_auto_t *j = json_pack("{s:s, s:s, s:s}", "ServerURL", helper_urls(host, 0), "Username",
				   username, "Secret", secret);
	char *input = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (!input)
		return molt_error_setx(err, EINVAL, "credentials for '%s' are not valid UTF-8",
				       host);
	char *out = NULL;
	int status;
	int r = registry_credhelper_run(helper, "store", input, &out, &status, err);
	free_secret(input);
	free_secret(out);
	if (r < 0)
		return molt_error_wrap(err, "store credentials for '%s'", host);
	if (status != 0)
		return molt_error_setx(err, EIO,
				       "credential helper 'docker-credential-%s' store "
				       "for '%s' failed (exit status %d)",
				       helper, host, status);
	return 0;
}

int registry_cred_store(const char *host, const char *username, const char *secret,
			struct molt_error **err)
{
	if (!username || !*username || strchr(username, ':'))
		return molt_error_setx(err, EINVAL,
				       "login to '%s': the user name must be "
				       "non-empty and must not contain ':'",
				       host);
	if (!secret || !*secret)
		return molt_error_setx(err, EINVAL, "login to '%s': the password is empty", host);
	if (auth_file_env())
		return store_in_file(auth_file_env(), host, username, secret, err);

	_cleanup_free_ char *docker = docker_config_path();
	json_auto_t *root = NULL;
	int r = docker ? load_json(docker, &root, err) : -ENOENT;
	if (r < 0 && r != -ENOENT)
		return r;
	const char *helper = root ? helper_for(root, host) : NULL;
	if (helper)
		return helper_store(helper, host, username, secret, err);

	_cleanup_free_ char *path = runtime_auth_path();
	if (!path)
		path = registry_home_path(".config/containers/auth.json");
	if (!path)
		return molt_error_setx(err, ENOENT,
				       "login to '%s': neither XDG_RUNTIME_DIR nor "
				       "a home directory to keep credentials in",
				       host);
	return store_in_file(path, host, username, secret, err);
}

/* Removes every "auths" key for HOST from the file; *found set when one was there. */
static int erase_in_file(const char *path, const char *host, bool *found, struct molt_error **err)
{
	_cleanup_close_ int lock = -1;
	int r = lock_auth_dir(path, false, &lock, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	json_auto_t *root = NULL;
	r = load_json(path, &root, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	json_t *auths = json_object_get(root, "auths");
	bool removed = false;
	const char *k;
	void *tmp;
	json_t *v;
	json_object_foreach_safe(auths, tmp, k, v)
	{
		if (key_matches(k, host, true) || key_matches(k, host, false)) {
			json_object_del(auths, k);
			removed = true;
		}
	}
	if (!removed)
		return 0;
	*found = true;
	return save_json(path, root, true, err);
}

static int helper_erase(const char *helper, const char *host, bool *found, struct molt_error **err)
{
	const char *url;
	for (size_t i = 0; (url = helper_urls(host, i)); i++) {
		char *out = NULL;
		int r = helper_verb(helper, "erase", "erase credentials", host, url, &out, err);
		if (r < 0)
			return r;
		free_secret(out);
		if (r > 0)
			*found = true;
	}
	return 0;
}

int registry_cred_erase(const char *host, struct molt_error **err)
{
	bool found = false;
	int r;
	if (auth_file_env()) {
		r = erase_in_file(auth_file_env(), host, &found, err);
		if (r == 0 && !found)
			r = molt_error_setx(err, ENOENT, "not logged in to '%s' (no entry in '%s')",
					    host, auth_file_env());
		return r;
	}
	_cleanup_free_ char *runtime = runtime_auth_path();
	_cleanup_free_ char *user = registry_home_path(".config/containers/auth.json");
	_cleanup_free_ char *docker = docker_config_path();
	const char *files[] = {runtime, user, docker};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (!files[i])
			continue;
		json_auto_t *root = NULL;
		r = load_json(files[i], &root, err);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		const char *helper = helper_for(root, host);
		if (helper && (r = helper_erase(helper, host, &found, err)) < 0)
			return r;
		if ((r = erase_in_file(files[i], host, &found, err)) < 0)
			return r;
	}
	if (!found)
		return molt_error_setx(err, ENOENT, "not logged in to '%s'", host);
	return 0;
}
