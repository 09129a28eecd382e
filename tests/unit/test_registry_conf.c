/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registries.conf and certs.d (layers/registry_conf.c, registry_toml.c): the TOML
 * subset, longest-prefix matching, mirrors and prefix rewriting, drop-in precedence,
 * the v1 format, the file search order and one clear error per malformed file.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "../../layers/registry_int.h"
#include "put_test.h"
#include "tap.h"

static char base[] = "/tmp/molt-test-regconf-XXXXXX";
static int n_file;

static void put(const char *path, const char *content)
{
	put_file(path, content, 0644, 0755);
}

/* A new file under base with this content; returns its path. */
static char *conf_file(const char *content)
{
	char *p = xasprintf("%s/f%d.conf", base, ++n_file);
	put(p, content);
	return p;
}

/* Loads the files and resolves host/repo; NULL conf on a load error (then *err set). */
static int resolve(const char *const *texts, const char *host, const char *repo,
		   struct registry_host_conf *hc, struct molt_error **err)
{
	_cleanup_strv_ char **paths = NULL;
	for (size_t i = 0; texts[i]; i++)
		strv_push_take(&paths, conf_file(texts[i]));
	return registry_conf_load_resolve(paths, host, repo, hc, err);
}

static void test_no_match(void)
{
	const char *t[] = {"# only a comment\n", NULL};
	struct registry_host_conf hc = {0};
	_cleanup_error_ struct molt_error *err = NULL;
	int r = resolve(t, "example.com:5000", "a/b", &hc, &err);
	tap_ok(r == 0 && hc.n_endpoints == 1, "no entry: one endpoint, the registry itself");
	if (r == 0) {
		tap_str_eq(hc.endpoints[0].host, "example.com:5000", "no entry: host kept");
		tap_str_eq(hc.endpoints[0].repo, "a/b", "no entry: repository kept");
		tap_ok(!hc.endpoints[0].insecure && !hc.endpoints[0].is_mirror && !hc.blocked,
		       "no entry: secure, not a mirror, not blocked");
	}
	registry_host_conf_done(&hc);
}

static void test_insecure_and_prefix(void)
{
	const char *t[] = {"unqualified-search-registries = [\n"
			   "  \"docker.io\", # comment inside an array\n"
			   "  'quay.io',\n"
			   "]\n"
			   "short-name-mode = \"enforcing\"\n"
			   "\n"
			   "[[registry]]\n"
			   "location = \"127.0.0.1:5000\"\n"
			   "insecure = true # trailing comment\n"
			   "\n"
			   "[[registry]]\n"
			   "prefix = \"example.com\"\n"
			   "location = \"example.com\"\n"
			   "insecure = true\n"
			   "[[registry]]\n"
			   "\"prefix\" = \"example.com/team\"\n"
			   "location = 'example.com/team'\n"
			   "blocked = true\n"
			   "[aliases]\n"
			   "\"busybox\" = \"docker.io/library/busybox\"\n",
			   NULL};
	struct {
		const char *host, *repo;
		bool insecure, blocked;
		const char *rule;
	} cases[] = {
		{"127.0.0.1:5000", "busybox", true, false, "location alone is the prefix"},
		{"127.0.0.1:5001", "busybox", false, false, "another port is another registry"},
		{"example.com", "team/app", false, true, "the longest prefix wins"},
		{"example.com", "team", false, true, "a prefix matches the whole reference"},
		{"example.com", "teamx/app", true, false, "a prefix matches whole path components"},
		{"example.com", "other", true, false, "the shorter prefix for other paths"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct registry_host_conf hc = {0};
		_cleanup_error_ struct molt_error *err = NULL;
		int r = resolve(t, cases[i].host, cases[i].repo, &hc, &err);
		if (!tap_ok(r == 0 && hc.n_endpoints == 1 &&
				    hc.endpoints[0].insecure == cases[i].insecure &&
				    hc.blocked == cases[i].blocked,
			    "%s (%s/%s)", cases[i].rule, cases[i].host, cases[i].repo) &&
		    err)
			tap_diag("%s", err->msg);
		registry_host_conf_done(&hc);
	}
}

static void test_mirrors(void)
{
	const char *t[] = {"[[registry]]\n"
			   "prefix = \"docker.io/library\"\n"
			   "location = \"docker.io/library\"\n"
			   "[[registry.mirror]]\n"
			   "location = \"mirror.local:5000/hub\"\n"
			   "insecure = true\n"
			   "[[registry.mirror]]\n"
			   "location = \"second.local\"\n"
			   "pull-from-mirror = \"digest-only\"\n"
			   "[[registry]]\n"
			   "location = \"quay.io/old\"\n"
			   "mirror = [ { location = \"m.local/q\" }, {location='m2.local', "
			   "insecure=true} ]\n"
			   "mirror-by-digest-only = true\n"
			   "[[registry]]\n"
			   "prefix = \"old.example/team\"\n"
			   "location = \"new.example:5000/moved/here\"\n",
			   NULL};
	struct registry_host_conf hc = {0};
	_cleanup_error_ struct molt_error *err = NULL;
	int r = resolve(t, "docker.io", "library/busybox", &hc, &err);
	if (tap_ok(r == 0 && hc.n_endpoints == 3, "two mirrors then the registry")) {
		struct registry_endpoint *e = hc.endpoints;
		tap_str_eq(e[0].host, "mirror.local:5000", "mirror 1: host");
		tap_str_eq(e[0].repo, "hub/busybox", "mirror 1: the prefix is replaced");
		tap_str_eq(e[0].prefix, "hub", "mirror 1: its location's path is the prefix");
		tap_ok(e[0].insecure && e[0].is_mirror && !e[0].digest_only,
		       "mirror 1: insecure, a mirror, for all pulls");
		tap_str_eq(e[1].repo, "busybox", "mirror 2: a host-only location");
		tap_ok(e[1].digest_only && !e[1].insecure, "mirror 2: digest-only, secure");
		tap_ok(!e[2].is_mirror && strcmp(e[2].host, "docker.io") == 0 &&
			       strcmp(e[2].repo, "library/busybox") == 0,
		       "the registry itself is last, unchanged");
	}
	registry_host_conf_done(&hc);

	r = resolve(t, "quay.io", "old/app", &hc, &err);
	if (tap_ok(r == 0 && hc.n_endpoints == 3, "inline-table mirrors are read")) {
		tap_str_eq(hc.endpoints[0].repo, "q/app", "inline mirror: prefix rewritten");
		tap_ok(hc.endpoints[0].digest_only && hc.endpoints[1].digest_only &&
			       hc.endpoints[1].insecure,
		       "mirror-by-digest-only applies to every mirror");
	}
	registry_host_conf_done(&hc);

	r = resolve(t, "old.example", "team/app/x", &hc, &err);
	if (tap_ok(r == 0 && hc.n_endpoints == 1, "a location different from its prefix")) {
		tap_str_eq(hc.endpoints[0].host, "new.example:5000", "rewrite: the new host");
		tap_str_eq(hc.endpoints[0].repo, "moved/here/app/x", "rewrite: the new path");
	}
	registry_host_conf_done(&hc);
}

static void test_wildcard(void)
{
	const char *t[] = {"[[registry]]\nprefix = \"*.corp.example\"\ninsecure = true\n"
			   "[[registry]]\nlocation = \"strict.corp.example\"\n",
			   NULL};
	struct {
		const char *host;
		bool insecure;
		const char *rule;
	} cases[] = {
		{"a.corp.example", true, "a wildcard matches a subdomain"},
		{"x.y.corp.example", true, "a wildcard matches deeper subdomains"},
		{"corp.example", false, "a wildcard does not match the domain itself"},
		{"strict.corp.example", false, "an exact entry beats a wildcard"},
		{"evilcorp.example", false, "a wildcard matches at a dot only"},
		{"a.corp.example:5000", true, "a wildcard matches a host with a port"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct registry_host_conf hc = {0};
		_cleanup_error_ struct molt_error *err = NULL;
		int r = resolve(t, cases[i].host, "app", &hc, &err);
		tap_ok(r == 0 && hc.endpoints[hc.n_endpoints - 1].insecure == cases[i].insecure &&
			       strcmp(hc.endpoints[hc.n_endpoints - 1].host, cases[i].host) == 0,
		       "%s (%s)", cases[i].rule, cases[i].host);
		registry_host_conf_done(&hc);
	}
}

static void test_dropins_and_v1(void)
{
	const char *t[] = {"[[registry]]\nlocation = \"r.example\"\ninsecure = true\n",
			   "[[registry]]\nlocation = \"r.example\"\nblocked = true\n", NULL};
	struct registry_host_conf hc = {0};
	_cleanup_error_ struct molt_error *err = NULL;
	int r = resolve(t, "r.example", "x", &hc, &err);
	tap_ok(r == 0 && hc.blocked && !hc.endpoints[0].insecure,
	       "a later file's registry replaces the earlier one with the same prefix");
	registry_host_conf_done(&hc);

	const char *v1[] = {"[registries.search]\nregistries = ['docker.io']\n"
			    "[registries.insecure]\nregistries = ['old.local:5000']\n"
			    "[registries.block]\nregistries = [\"bad.example\"]\n",
			    NULL};
	r = resolve(v1, "old.local:5000", "x", &hc, &err);
	tap_ok(r == 0 && hc.endpoints[0].insecure && !hc.blocked, "v1 format: insecure list");
	registry_host_conf_done(&hc);
	r = resolve(v1, "bad.example", "x", &hc, &err);
	tap_ok(r == 0 && hc.blocked, "v1 format: block list");
	registry_host_conf_done(&hc);

	const char *dup[] = {
		"[[registry]]\nprefix = \"p.example\"\nlocation = \"first.example\"\n"
		"[[registry]]\nprefix = \"p.example\"\nlocation = \"second.example\"\n",
		NULL};
	r = resolve(dup, "p.example", "x", &hc, &err);
	tap_ok(r == 0 && strcmp(hc.endpoints[0].host, "first.example") == 0,
	       "the same prefix twice in one file: the first wins");
	registry_host_conf_done(&hc);

	const char *slash[] = {"[[registry]]\nprefix = \"s.example/ns/\"\n"
			       "location = \"s.example/ns/\"\n[[registry.mirror]]\n"
			       "location = \"m.example/x//\"\n",
			       NULL};
	r = resolve(slash, "s.example", "ns/app", &hc, &err);
	tap_ok(r == 0 && hc.n_endpoints == 2 && strcmp(hc.endpoints[0].repo, "x/app") == 0 &&
		       strcmp(hc.endpoints[1].repo, "ns/app") == 0,
	       "trailing slashes in location and prefix are dropped");
	registry_host_conf_done(&hc);

	const char *both[] = {"[registries.insecure]\nregistries = ['two.example']\n"
			      "[registries.block]\nregistries = ['two.example']\n",
			      NULL};
	r = resolve(both, "two.example", "x", &hc, &err);
	tap_ok(r == 0 && hc.blocked && hc.endpoints[0].insecure,
	       "v1 format: a host in both lists gets both flags");
	registry_host_conf_done(&hc);

	struct registry_conf *conf = NULL;
	char *missing[] = {(char *)"/nonexistent/registries.conf", NULL};
	r = registry_conf_load(missing, &conf, &err);
	tap_ok(r == 0 && conf, "a missing file is not an error");
	registry_conf_free(conf);
}

/* Each malformed file gives an error naming file:line and the reason. */
static void test_malformed(void)
{
	struct {
		const char *text;
		int line;
		const char *want, *rule;
	} cases[] = {
		{"[[registry]]\nlocation = \"a\"\ninsecure = \"yes\"\n", 3, "must be true or false",
		 "a string where a boolean belongs"},
		{"[[registry]]\nlocation = \"a\n", 2, "unterminated string",
		 "an unterminated string"},
		{"[registry]\nlocation = \"a\"\n", 1, "double brackets",
		 "[registry] instead of [[registry]]"},
		{"[[registry]]\nlocation = \"https://a\"\n", 2, "without a scheme",
		 "a scheme in location"},
		{"[[registry]]\nlocation = a.example\n", 2, "strings need quotes",
		 "an unquoted string"},
		{"[[registry]]\nlocation = \"a\"\nlocation = \"b\"\n", 3, "duplicate key",
		 "a duplicate key"},
		{"[[registry]]\nlocation \"a\"\n", 2, "expected '='", "a missing '='"},
		{"x = \"\"\"multi\nline\"\"\"\n", 1, "multi-line strings are not supported",
		 "a multi-line string"},
		{"x = 1.5\n", 1, "floats", "a float"},
		{"[[registry]]\nlocation = \"a\" insecure = true\n", 2, "one key = value per line",
		 "two keys on a line"},
		{"[[registry]]\nlocation = \"a\"\n[[registry.mirror]]\ninsecure = 1\n", 4,
		 "must be true or false", "a number where a boolean belongs in a mirror"},
		{"[[registry]]\nlocation = \"a\"\nmirror = [{location = \"m\", pull-from-mirror = "
		 "\"sometimes\"}]\n",
		 3, "digest-only", "a bad pull-from-mirror in an inline mirror"},
		{"[[registry]]\nprefix = \"*.a.*\"\n", 2, "wildcard", "a wildcard in the middle"},
		{"\n\nx = \"a\\qb\"\n", 3, "unknown escape", "an unknown escape"},
		{"unqualified-search-registries = \"docker.io\"\n", 1, "array of strings",
		 "a string where an array belongs"},
		{"x = [1, 2\n", 2, "expected ',' or ']'", "an unterminated array"},
		{"[[registry]]\nlocation = \"a\"\nx = { y = 1\n", 3, "inline table",
		 "an inline table over several lines"},
		{"a\n", 1, "expected '='", "a bare word"},
		{"x = 1\n\n\x01", 3, "unexpected", "a control character"},
		{"x = \"\\ud800\"\n", 1, "Unicode scalar", "a surrogate escape"},
		{"x = 99999999999999999999\n", 1, "out of range", "an integer out of range"},
		{"x = 1\nx.y = 2\n", 2, "already a value", "a dotted key through a value"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len = strlen(cases[i].text);
		char *path = xasprintf("%s/bad%zu.conf", base, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		(void)!write(fd, cases[i].text, len);
		close(fd);
		char *paths[] = {path, NULL};
		struct registry_conf *conf = NULL;
		_cleanup_error_ struct molt_error *err = NULL;
		int r = registry_conf_load(paths, &conf, &err);
		_cleanup_free_ char *where = xasprintf("%s:%d: ", path, cases[i].line);
		bool ok = r == -EINVAL && err && str_startswith(err->msg, where) &&
			  strstr(err->msg, cases[i].want);
		tap_ok(ok, "malformed: %s", cases[i].rule);
		tap_diag("%s", err ? err->msg : "(no error)");
		registry_conf_free(conf);
		free(path);
	}

	static const char nul_text[] = "a = 1\nb = 2\n\n\nc = \"x\0y\"\n";
	_cleanup_free_ char *np = conf_file("");
	int fd = open(np, O_WRONLY | O_TRUNC | O_CLOEXEC);
	(void)!write(fd, nul_text, sizeof(nul_text) - 1);
	close(fd);
	char *npaths[] = {np, NULL};
	struct registry_conf *nconf = NULL;
	_cleanup_error_ struct molt_error *nerr = NULL;
	_cleanup_free_ char *nwhere = xasprintf("%s:5: NUL byte", np);
	tap_ok(registry_conf_load(npaths, &nconf, &nerr) < 0 && nerr &&
		       str_startswith(nerr->msg, nwhere),
	       "malformed: a NUL byte, reported on its line");

	/* Bounded nesting: a hostile file cannot recurse the parser off the stack. */
	_cleanup_strbuf_ struct strbuf deep = STRBUF_INIT;
	strbuf_adds(&deep, "x = ");
	for (int i = 0; i < 100000; i++)
		strbuf_addc(&deep, '[');
	_cleanup_free_ char *dp = conf_file(deep.buf);
	char *paths[] = {dp, NULL};
	struct registry_conf *conf = NULL;
	_cleanup_error_ struct molt_error *err = NULL;
	int r = registry_conf_load(paths, &conf, &err);
	tap_ok(r < 0 && err && strstr(err->msg, "nested more than"),
	       "100000 nested arrays: a bounded error");
}

static void test_semantic_errors(void)
{
	struct {
		const char *text, *want, *rule;
	} cases[] = {
		{"[[registry]]\ninsecure = true\n", "neither location nor prefix",
		 "a registry with neither location nor prefix"},
		{"[[registry]]\nlocation = \"a\"\n[[registry]]\nprefix = \"b\"\nlocation = \"a\"\n"
		 "insecure = true\n",
		 "defined more than once with conflicting 'insecure'",
		 "one location both secure and insecure"},
		{"[[registry]]\nprefix = \"a.example\"\n", "has no location",
		 "a prefix without a location (not a wildcard)"},
		{"[[registry]]\nlocation = \"a\"\npull-from-mirror = \"all\"\n", "belongs in a",
		 "pull-from-mirror on the registry itself"},
		{"[[registry]]\nlocation = \"a\"\nmirror-by-digest-only = true\n"
		 "[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"all\"\n",
		 "cannot both be set", "mirror-by-digest-only with a mirror's pull-from-mirror"},
		{"[registries.insecure]\nregistries = ['a']\n[[registry]]\nlocation = \"b\"\n",
		 "use one format", "v1 and v2 mixed"},
		{"[[registry]]\nlocation = \"a\"\n[[registry.mirror]]\ninsecure = true\n",
		 "has no location", "a mirror without a location"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *p = conf_file(cases[i].text);
		char *paths[] = {p, NULL};
		struct registry_conf *conf = NULL;
		_cleanup_error_ struct molt_error *err = NULL;
		int r = registry_conf_load(paths, &conf, &err);
		bool ok = r < 0 && err && str_startswith(err->msg, p) &&
			  strstr(err->msg, cases[i].want);
		if (!tap_ok(ok, "%s", cases[i].rule))
			tap_diag("got: %s", err ? err->msg : "(no error)");
		registry_conf_free(conf);
	}
}

static void test_search_order(void)
{
	_cleanup_free_ char *home = xasprintf("%s/home", base);
	setenv("HOME", home, 1);
	unsetenv("CONTAINERS_REGISTRIES_CONF");
	_cleanup_free_ char *user = xasprintf("%s/.config/containers/registries.conf", home);
	_cleanup_free_ char *d1 =
		xasprintf("%s/.config/containers/registries.conf.d/10-a.conf", home);
	_cleanup_free_ char *d2 =
		xasprintf("%s/.config/containers/registries.conf.d/20-b.conf", home);
	_cleanup_free_ char *skip =
		xasprintf("%s/.config/containers/registries.conf.d/30.conf.bak", home);
	put(user, "[[registry]]\nlocation = \"u.example\"\ninsecure = true\n");
	put(d1, "[[registry]]\nlocation = \"d.example\"\ninsecure = true\n");
	put(d2, "[[registry]]\nlocation = \"d.example\"\nblocked = true\n");
	put(skip, "this is not toml");

	struct registry_host_conf hc = {0};
	_cleanup_error_ struct molt_error *err = NULL;
	int r = registry_conf_lookup("u.example", "x", &hc, &err);
	tap_ok(r == 0 && hc.endpoints[0].insecure, "~/.config/containers/registries.conf is read");
	registry_host_conf_done(&hc);
	r = registry_conf_lookup("d.example", "x", &hc, &err);
	tap_ok(r == 0 && hc.blocked && !hc.endpoints[0].insecure,
	       "registries.conf.d: files in name order, later wins, non-.conf ignored");
	registry_host_conf_done(&hc);

	_cleanup_free_ char *env =
		conf_file("[[registry]]\nlocation = \"e.example\"\ninsecure = true\n");
	setenv("CONTAINERS_REGISTRIES_CONF", env, 1);
	r = registry_conf_lookup("u.example", "x", &hc, &err);
	tap_ok(r == 0 && !hc.endpoints[0].insecure, "CONTAINERS_REGISTRIES_CONF: only that file");
	registry_host_conf_done(&hc);
	r = registry_conf_lookup("e.example", "x", &hc, &err);
	tap_ok(r == 0 && hc.endpoints[0].insecure, "CONTAINERS_REGISTRIES_CONF is read");
	registry_host_conf_done(&hc);

	setenv("CONTAINERS_REGISTRIES_CONF", "/nonexistent/registries.conf", 1);
	_cleanup_error_ struct molt_error *merr = NULL;
	r = registry_conf_lookup("e.example", "x", &hc, &merr);
	tap_ok(r == -ENOENT && merr && strstr(merr->msg, "(from CONTAINERS_REGISTRIES_CONF)"),
	       "CONTAINERS_REGISTRIES_CONF naming a missing file is an error");

	_cleanup_free_ char *bad = conf_file("[[registry]]\nlocation = 5\n");
	setenv("CONTAINERS_REGISTRIES_CONF", bad, 1);
	r = registry_conf_lookup("e.example", "x", &hc, &err);
	tap_ok(r < 0 && err && strstr(err->msg, ":2: 'registry.location': must be a string"),
	       "lookup reports a malformed file with its line");
	unsetenv("CONTAINERS_REGISTRIES_CONF");
}

static void test_certs_dir(void)
{
	_cleanup_free_ char *env_root = xasprintf("%s/certs", base);
	_cleanup_free_ char *home = xasprintf("%s/home", base);
	setenv("HOME", home, 1);
	_cleanup_free_ char *a = xasprintf("%s/127.0.0.1:5000/ca.crt", env_root);
	_cleanup_free_ char *b =
		xasprintf("%s/.config/containers/certs.d/127.0.0.1:5000/ca.crt", home);
	_cleanup_free_ char *c =
		xasprintf("%s/.config/containers/certs.d/only.home:1/ca.crt", home);
	_cleanup_free_ char *f = xasprintf("%s/.config/containers/certs.d/file.host", home);
	put(a, "x");
	put(b, "x");
	put(c, "x");
	put(f, "x");
	setenv("MOLT_CERTS_DIR", env_root, 1);

	char *dir = NULL;
	_cleanup_error_ struct molt_error *err = NULL;
	int r = registry_certs_dir("127.0.0.1:5000", &dir, &err);
	_cleanup_free_ char *want = xasprintf("%s/127.0.0.1:5000", env_root);
	tap_ok(r == 0 && dir && strcmp(dir, want) == 0, "MOLT_CERTS_DIR is searched first");
	free(dir);
	r = registry_certs_dir("only.home:1", &dir, &err);
	_cleanup_free_ char *want2 = xasprintf("%s/.config/containers/certs.d/only.home:1", home);
	tap_ok(r == 0 && dir && strcmp(dir, want2) == 0,
	       "~/.config/containers/certs.d is searched next");
	free(dir);
	r = registry_certs_dir("none.example", &dir, &err);
	tap_ok(r == 0 && !dir, "no certs.d directory: NULL");
	r = registry_certs_dir("..", &dir, &err);
	tap_ok(r == 0 && !dir, "a host of '..' never names a directory");
	r = registry_certs_dir("file.host", &dir, &err);
	tap_ok(r < 0 && err && strstr(err->msg, "is not a directory"),
	       "a certs.d entry that is a file is an error");

	struct registry_host_conf hc = {0};
	_cleanup_error_ struct molt_error *err2 = NULL;
	_cleanup_free_ char *empty = conf_file("");
	setenv("CONTAINERS_REGISTRIES_CONF", empty, 1);
	r = registry_conf_lookup("127.0.0.1:5000", "busybox", &hc, &err2);
	tap_ok(r == 0 && hc.certs_dir && strcmp(hc.certs_dir, want) == 0 &&
		       hc.endpoints[0].certs_dir && strcmp(hc.endpoints[0].certs_dir, want) == 0,
	       "lookup fills certs_dir for the registry and its endpoint");
	registry_host_conf_done(&hc);
	unsetenv("CONTAINERS_REGISTRIES_CONF");
	unsetenv("MOLT_CERTS_DIR");
}

/* The files containers-common ships, where installed, parse: real-world input. (No
 * skip when absent: MOLT_MUST_WORK would turn it into a failure on a machine without
 * podman, and the cases above do not depend on it.) */
static void test_system_files(void)
{
	static const char *const files[] = {"/etc/containers/registries.conf",
					    "/etc/containers/registries.conf.d/shortnames.conf",
					    "/etc/containers/registries.conf.d/00-shortnames.conf"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (access(files[i], R_OK) != 0)
			continue;
		char *paths[] = {(char *)files[i], NULL};
		struct registry_conf *conf = NULL;
		_cleanup_error_ struct molt_error *err = NULL;
		int r = registry_conf_load(paths, &conf, &err);
		if (!tap_ok(r == 0, "the system's %s parses", files[i]))
			tap_diag("%s", err->msg);
		registry_conf_free(conf);
	}
}

int main(void)
{
	if (!mkdtemp(base)) {
		tap_ok(0, "mkdtemp");
		return tap_done();
	}
	test_no_match();
	test_insecure_and_prefix();
	test_mirrors();
	test_wildcard();
	test_dropins_and_v1();
	test_malformed();
	test_semantic_errors();
	test_search_order();
	test_certs_dir();
	test_system_files();
	rm_rf(base, NULL);
	return tap_done();
}
