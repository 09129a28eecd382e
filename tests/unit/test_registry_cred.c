/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry credentials (layers/registry_cred.c, registry_credhelper.c, lib/base64.c):
 * the auth file search order, key forms, identity tokens, docker credential helpers
 * (fake ones written here: a working one, a hanging one, one printing garbage, one
 * printing forever, a failing one), writing and erasing with file modes, and that no
 * secret ever reaches an error message.
 */
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "../../layers/registry_int.h"
#include "put_test.h"
#include "tap.h"

static char base[] = "/tmp/molt-test-regcred-XXXXXX";
static char *home, *bin, *log_path;

#define SECRET "s3cr3t-Pa55"
#define SECRET_B64 "dXNlcjpzM2NyM3QtUGE1NQ==" /* user:s3cr3t-Pa55 */

static void put(const char *path, const char *content, mode_t mode)
{
	put_file(path, content, mode, 0700);
}

static char *slurp(const char *path)
{
	char *data = NULL;
	size_t len;
	if (read_file(path, 1 << 20, &data, &len, NULL) < 0)
		return xstrdup("");
	return data;
}

/* Every error message is checked for the secrets used here. */
static bool leaks(const struct molt_error *err)
{
	return err && (strstr(err->msg, SECRET) || strstr(err->msg, SECRET_B64) ||
		       strstr(err->msg, "helpersecret") || strstr(err->msg, "garbage-token"));
}

static void reset_env(void)
{
	unsetenv("REGISTRY_AUTH_FILE");
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("DOCKER_CONFIG");
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s/.config' '%s/.docker' '%s/run' '%s'", home,
					     home, base, log_path);
	(void)!system(cmd);
}

static void helper(const char *name, const char *body)
{
	_cleanup_free_ char *p = xasprintf("%s/docker-credential-%s", bin, name);
	_cleanup_free_ char *text = xasprintf("#!/bin/sh\n%s\n", body);
	put(p, text, 0755);
}

static void make_helpers(void)
{
	_cleanup_free_ char *test = xasprintf(
		"input=$(cat)\n"
		"echo \"$1 $input\" >>'%s'\n"
		"case \"$1\" in\n"
		"get) case \"$input\" in\n"
		"  h.example:5000) printf '{\"ServerURL\":\"%%s\",\"Username\":\"helperuser\","
		"\"Secret\":\"helpersecret\"}' \"$input\" ;;\n"
		"  tok.example) printf '{\"ServerURL\":\"x\",\"Username\":\"<token>\","
		"\"Secret\":\"refresh\"}' ;;\n"
		"  https://index.docker.io/v1/) printf '{\"ServerURL\":\"x\",\"Username\":\"hub\","
		"\"Secret\":\"hubpass\"}' ;;\n"
		"  *) echo 'credentials not found in native keychain'; exit 1 ;;\n"
		"  esac ;;\n"
		"store) exit 0 ;;\n"
		"erase) [ \"$input\" = h.example:5000 ] && exit 0\n"
		"  echo 'credentials not found in native keychain'; exit 1 ;;\n"
		"esac\n",
		log_path);
	helper("test", test);
	_cleanup_free_ char *hang = xasprintf("sleep 100 &\necho $! >'%s/hang.pid'\nwait", base);
	helper("hang", hang);
	helper("garbage", "cat >/dev/null\necho 'garbage-token is not json'");
	helper("endless", "cat >/dev/null\nexec yes garbage-token");
	helper("fail", "cat >/dev/null\necho 'something broke'\nexit 3");
	helper("noread", "printf '{\"Username\":\"u\",\"Secret\":\"x\"}'");
}

static void test_base64(void)
{
	_cleanup_free_ char *e = base64_encode("user:" SECRET, strlen("user:" SECRET));
	tap_str_eq(e, SECRET_B64, "base64: encode");
	_cleanup_free_ char *e1 = base64_encode("a", 1);
	_cleanup_free_ char *e2 = base64_encode("ab", 2);
	_cleanup_free_ char *e0 = base64_encode("", 0);
	tap_ok(strcmp(e1, "YQ==") == 0 && strcmp(e2, "YWI=") == 0 && strcmp(e0, "") == 0,
	       "base64: padding");
	char *d = NULL;
	size_t n;
	tap_ok(base64_decode("YWI", 3, &d, &n) == 0 && n == 2 && strcmp(d, "ab") == 0,
	       "base64: decode without padding");
	free(d);
	d = NULL;
	tap_ok(base64_decode("YW*=", 4, &d, &n) == -EINVAL && !d, "base64: bad character refused");
	tap_ok(base64_decode("YQ=a", 4, &d, &n) == -EINVAL && !d, "base64: '=' inside refused");
	tap_ok(base64_decode("Y", 1, &d, &n) == -EINVAL && !d, "base64: a lone character refused");
}

static int lookup(const char *host, struct registry_cred *c, struct molt_error **err)
{
	*c = (struct registry_cred){0};
	return registry_cred_lookup(host, c, err);
}

/* user_is: HOST's credentials name USER (one assertion, NAME), freed again. */
static void user_is(const char *host, const char *user, const char *name)
{
	struct registry_cred c;
	_cleanup_error_ struct molt_error *err = NULL;
	int r = lookup(host, &c, &err);
	tap_ok(r == 0 && c.username && strcmp(c.username, user) == 0, "%s", name);
	registry_cred_done(&c);
}

static void test_files(void)
{
	reset_env();
	struct registry_cred c;
	_cleanup_error_ struct molt_error *err = NULL;
	int r = lookup("a.example", &c, &err);
	tap_ok(r == 0 && !c.username && !c.secret, "no files: anonymous");

	_cleanup_free_ char *user_file = xasprintf("%s/.config/containers/auth.json", home);
	_cleanup_free_ char *docker_file = xasprintf("%s/.docker/config.json", home);
	put(docker_file,
	    "{\"auths\":{\"https://a.example/v1/\":{\"auth\":\"ZG9ja2VyOmRw\"},"
	    "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmhw\"},"
	    "\"b.example\":{\"auth\":\"ZG9ja2VyOmRw\"}}}",
	    0600);
	r = lookup("a.example", &c, &err);
	tap_ok(r == 0 && c.username && strcmp(c.username, "docker") == 0 &&
		       strcmp(c.secret, "dp") == 0 && !c.identity_token,
	       "docker config.json: a 'https://HOST/v1/' key matches HOST");
	registry_cred_done(&c);
	user_is("docker.io", "hub", "docker.io matches docker's 'https://index.docker.io/v1/' key");

	put(user_file, "{\"auths\":{\"a.example\":{\"auth\":\"" SECRET_B64 "\"}}}", 0600);
	r = lookup("a.example", &c, &err);
	tap_ok(r == 0 && c.username && strcmp(c.username, "user") == 0 &&
		       strcmp(c.secret, SECRET) == 0,
	       "~/.config/containers/auth.json comes before docker's config");
	registry_cred_done(&c);
	user_is("b.example", "docker",
		"a host missing from the first file is looked up in the next");

	_cleanup_free_ char *run = xasprintf("%s/run", base);
	mkdir(run, 0700);
	setenv("XDG_RUNTIME_DIR", run, 1);
	_cleanup_free_ char *run_file = xasprintf("%s/containers/auth.json", run);
	put(run_file,
	    "{\"auths\":{\"a.example\":{\"auth\":\"cnVuOnJw\",\"identitytoken\":\"idtok\"}}}",
	    0600);
	r = lookup("a.example", &c, &err);
	tap_ok(r == 0 && c.secret && strcmp(c.secret, "idtok") == 0 && c.identity_token &&
		       strcmp(c.username, "run") == 0,
	       "${XDG_RUNTIME_DIR}/containers/auth.json comes first; identitytoken is read");
	registry_cred_done(&c);

	_cleanup_free_ char *env_file = xasprintf("%s/env-auth.json", base);
	put(env_file, "{\"auths\":{\"c.example\":{\"auth\":\"ZW52OmVw\"}}}", 0600);
	setenv("REGISTRY_AUTH_FILE", env_file, 1);
	user_is("c.example", "env", "REGISTRY_AUTH_FILE is read");
	r = lookup("a.example", &c, &err);
	tap_ok(r == 0 && !c.username, "REGISTRY_AUTH_FILE set: no other file is read");
	registry_cred_done(&c);

	_cleanup_free_ char *dcfg = xasprintf("%s/dockercfg", base);
	_cleanup_free_ char *dfile = xasprintf("%s/config.json", dcfg);
	put(dfile, "{\"auths\":{\"d.example\":{\"auth\":\"ZGM6ZGM=\"}}}", 0600);
	unsetenv("REGISTRY_AUTH_FILE");
	setenv("DOCKER_CONFIG", dcfg, 1);
	user_is("d.example", "dc", "DOCKER_CONFIG names docker's config directory");
}

static void test_malformed_files(void)
{
	struct {
		const char *content, *want, *rule;
	} cases[] = {
		{"{\"auths\":{\"a.example\":{\"auth\":\"" SECRET_B64 "\"}}", "is not valid JSON",
		 "truncated JSON"},
		{"{\"auths\": " SECRET "}", "is not valid JSON (line 1",
		 "JSON with a bare secret: named by line, not quoted"},
		{"[\"" SECRET "\"]", "is not a JSON object", "an array"},
		{"{\"auths\":[\"" SECRET "\"]}", "'auths' that is not an object", "auths an array"},
		{"{\"auths\":{\"a.example\":{\"auth\":\"" SECRET "!!\"}}}", "not valid base64",
		 "auth not base64"},
		{"{\"auths\":{\"a.example\":{\"auth\":\"czNjcjN0LVBhNTU=\"}}}", "'user:password'",
		 "auth without a ':'"},
		{"{\"credsStore\":5}", "'credsStore' that is not a string", "credsStore a number"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		reset_env();
		_cleanup_free_ char *f = xasprintf("%s/.config/containers/auth.json", home);
		put(f, cases[i].content, 0600);
		struct registry_cred c;
		_cleanup_error_ struct molt_error *err = NULL;
		int r = lookup("a.example", &c, &err);
		bool ok = r < 0 && err && strstr(err->msg, f) && strstr(err->msg, cases[i].want) &&
			  !leaks(err) && !c.secret;
		tap_ok(ok, "malformed auth file, %s: error names the file, not the secret",
		       cases[i].rule);
		tap_diag("%s", err ? err->msg : "(no error)");
	}
	reset_env();
	_cleanup_free_ char *f = xasprintf("%s/.config/containers/auth.json", home);
	put(f, "{\"auths\":{\"a.example\":{\"auth\":\"" SECRET_B64 "\"}}}", 0000);
	if (geteuid() != 0) {
		struct registry_cred c;
		_cleanup_error_ struct molt_error *err = NULL;
		int r = lookup("a.example", &c, &err);
		tap_ok(r == -EACCES && err && strstr(err->msg, f),
		       "an unreadable file is an error");
	}
}

/* Gone, or a zombie waiting for whoever adopted it (its parent was killed). */
static bool dead(pid_t pid)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid);
	_cleanup_free_ char *stat = NULL;
	size_t len;
	if (read_file(path, 4096, &stat, &len, NULL) < 0)
		return true;
	const char *close = strrchr(stat, ')');
	return close && close[1] == ' ' && close[2] == 'Z';
}

static void test_helpers(void)
{
	reset_env();
	_cleanup_free_ char *docker_file = xasprintf("%s/.docker/config.json", home);
	put(docker_file,
	    "{\"credHelpers\":{\"h.example:5000\":\"test\",\"tok.example\":\"test\","
	    "\"hang.example\":\"hang\",\"garbage.example\":\"garbage\","
	    "\"endless.example\":\"endless\",\"fail.example\":\"fail\","
	    "\"missing.example\":\"missing\",\"evil.example\":\"../../bin/sh\","
	    "\"noread.example\":\"noread\",\"nf.example\":\"test\"},"
	    "\"auths\":{\"nf.example\":{\"auth\":\"ZmI6ZmI=\"}}}",
	    0600);
	struct registry_cred c;
	_cleanup_error_ struct molt_error *err = NULL;
	int r = lookup("h.example:5000", &c, &err);
	tap_ok(r == 0 && c.username && strcmp(c.username, "helperuser") == 0 &&
		       strcmp(c.secret, "helpersecret") == 0,
	       "credHelpers: docker-credential-test get");
	registry_cred_done(&c);
	_cleanup_free_ char *log = slurp(log_path);
	tap_ok(strstr(log, "get h.example:5000\n") != NULL, "the helper got HOST on stdin");

	r = lookup("tok.example", &c, &err);
	tap_ok(r == 0 && c.identity_token && strcmp(c.secret, "refresh") == 0,
	       "a helper's '<token>' user name marks an identity token");
	registry_cred_done(&c);

	user_is("nf.example", "fb",
		"'credentials not found' from a helper: the file's auths are read next");

	user_is("noread.example", "u",
		"a helper that never reads its stdin does not kill molt with SIGPIPE");

	registry_credhelper_set_limits(700, 64 * 1024);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	_cleanup_error_ struct molt_error *e1 = NULL;
	r = lookup("hang.example", &c, &e1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	tap_ok(r == -ETIMEDOUT && e1 && strstr(e1->msg, "did not finish") && secs < 5,
	       "a hanging helper is stopped at the time bound (%.1f s)", secs);
	_cleanup_free_ char *pidfile = xasprintf("%s/hang.pid", base);
	_cleanup_free_ char *pidtxt = slurp(pidfile);
	pid_t child = (pid_t)atoi(pidtxt);
	struct timespec ts = {0, 100 * 1000 * 1000};
	nanosleep(&ts, NULL);
	tap_ok(child > 0 && dead(child), "the hanging helper's own child was killed with it");
	registry_credhelper_set_limits(30 * 1000, 64 * 1024);

	struct {
		const char *host, *want, *rule;
	} bad[] = {
		{"garbage.example", "not credentials JSON", "a helper printing garbage"},
		{"endless.example", "printed more than 65536 bytes", "a helper printing forever"},
		{"fail.example", "failed (exit status 3)", "a failing helper"},
		{"missing.example", "'docker-credential-missing' not found in PATH",
		 "a helper not installed"},
		{"evil.example", "is not valid", "a helper name with a path"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_error_ struct molt_error *e = NULL;
		r = lookup(bad[i].host, &c, &e);
		tap_ok(r < 0 && e && strstr(e->msg, bad[i].want) && strstr(e->msg, bad[i].host) &&
			       !leaks(e) && !c.secret,
		       "%s: one clear error, no secret", bad[i].rule);
		tap_diag("%s", e ? e->msg : "(no error)");
	}

	/* credsStore for every host without a credHelpers entry. */
	put(docker_file, "{\"credsStore\":\"test\",\"auths\":{\"h.example:5000\":{}}}", 0600);
	user_is("h.example:5000", "helperuser", "credsStore is used");
	user_is("docker.io", "hub", "docker.io is asked of a helper as docker's v1 URL");
	r = lookup("other.example", &c, &err);
	tap_ok(r == 0 && !c.username, "credsStore without the host: anonymous");
}

static bool mode_is(const char *path, mode_t want)
{
	struct stat st;
	return stat(path, &st) == 0 && (st.st_mode & 07777) == want;
}

static void test_store_erase(void)
{
	reset_env();
	_cleanup_error_ struct molt_error *err = NULL;
	int r = registry_cred_store("s.example", "user", SECRET, &err);
	_cleanup_free_ char *user_file = xasprintf("%s/.config/containers/auth.json", home);
	_cleanup_free_ char *user_dir = xasprintf("%s/.config/containers", home);
	tap_ok(r == 0 && mode_is(user_file, 0600) && mode_is(user_dir, 0700),
	       "store without XDG_RUNTIME_DIR: ~/.config/containers/auth.json, 0600 in 0700");
	_cleanup_free_ char *content = slurp(user_file);
	tap_ok(strstr(content, SECRET_B64) != NULL, "store writes base64(user:password)");

	_cleanup_free_ char *run = xasprintf("%s/run", base);
	mkdir(run, 0700);
	setenv("XDG_RUNTIME_DIR", run, 1);
	_cleanup_free_ char *run_file = xasprintf("%s/containers/auth.json", run);
	put(run_file,
	    "{\"auths\":{\"keep.example\":{\"auth\":\"a2VlcDprcA==\",\"email\":\"x\"}},"
	    "\"credHelpers\":{},\"unknownKey\":{\"nested\":[1,2]}}",
	    0644);
	r = registry_cred_store("s.example", "user", SECRET, &err);
	json_auto_t *j = json_load_file(run_file, 0, NULL);
	json_t *auths = json_object_get(j, "auths");
	tap_ok(r == 0 && mode_is(run_file, 0600), "store into XDG_RUNTIME_DIR's file, now 0600");
	tap_ok(json_object_get(json_object_get(auths, "keep.example"), "email") &&
		       json_is_array(json_object_get(json_object_get(j, "unknownKey"), "nested")),
	       "store keeps other hosts' entries and unknown keys");
	tap_str_eq(json_string_value(json_object_get(json_object_get(auths, "s.example"), "auth")),
		   SECRET_B64, "store adds the host's entry");
	_cleanup_free_ char *ls = xasprintf("ls -a '%s/containers' | grep -c tmp", run);
	FILE *p = popen(ls, "r");
	char buf[16] = "";
	(void)!fgets(buf, sizeof(buf), p);
	pclose(p);
	tap_ok(atoi(buf) == 0, "no temporary file is left behind");

	struct registry_cred c;
	r = lookup("s.example", &c, &err);
	tap_ok(r == 0 && c.secret && strcmp(c.secret, SECRET) == 0, "lookup finds what was stored");
	registry_cred_done(&c);

	_cleanup_error_ struct molt_error *e1 = NULL, *e2 = NULL, *e3 = NULL;
	r = registry_cred_store("s.example", "us:er", SECRET, &e1);
	tap_ok(r < 0 && e1 && strstr(e1->msg, "must not contain ':'") && !leaks(e1),
	       "a user name with ':' is refused");
	r = registry_cred_store("s.example", "user", "", &e2);
	tap_ok(r < 0 && e2 && strstr(e2->msg, "password is empty"), "an empty password is refused");

	r = registry_cred_erase("s.example", &err);
	r = r == 0 ? lookup("s.example", &c, &err) : r;
	tap_ok(r == 0 && !c.username, "erase removes the host from every auth file");
	json_decref(j);
	j = json_load_file(run_file, 0, NULL);
	tap_ok(json_object_get(json_object_get(j, "auths"), "keep.example") != NULL,
	       "erase keeps other hosts");
	r = registry_cred_erase("s.example", &e3);
	tap_ok(r == -ENOENT && e3 && strstr(e3->msg, "not logged in to 's.example'"),
	       "erase of a host without credentials: -ENOENT, a clear message");

	/* REGISTRY_AUTH_FILE: the only file written. */
	_cleanup_free_ char *env_file = xasprintf("%s/sub/env-auth.json", base);
	setenv("REGISTRY_AUTH_FILE", env_file, 1);
	r = registry_cred_store("e.example", "user", SECRET, &err);
	_cleanup_free_ char *env_content = slurp(env_file);
	tap_ok(r == 0 && strstr(env_content, "e.example") && mode_is(env_file, 0600),
	       "store honours REGISTRY_AUTH_FILE");
	unsetenv("REGISTRY_AUTH_FILE");

	/* A malformed file is not overwritten. */
	put(run_file, "{not json " SECRET, 0600);
	_cleanup_error_ struct molt_error *e4 = NULL;
	r = registry_cred_store("s.example", "user", "other", &e4);
	_cleanup_free_ char *after = slurp(run_file);
	tap_ok(r < 0 && e4 && !leaks(e4) && strcmp(after, "{not json " SECRET) == 0,
	       "store refuses to replace a malformed file, and says so without its content");

	/* Docker's config naming a helper: store and erase go to it. */
	reset_env();
	_cleanup_free_ char *docker_file = xasprintf("%s/.docker/config.json", home);
	put(docker_file, "{\"credHelpers\":{\"h.example:5000\":\"test\"}}", 0600);
	r = registry_cred_store("h.example:5000", "user", SECRET, &err);
	_cleanup_free_ char *log = slurp(log_path);
	tap_ok(r == 0 &&
		       strstr(log,
			      "store {\"ServerURL\":\"h.example:5000\",\"Username\":\"user\"") &&
		       access(user_file, F_OK) != 0,
	       "store goes to the helper docker's credHelpers names, no file written");
	r = registry_cred_erase("h.example:5000", &err);
	free(log);
	log = slurp(log_path);
	tap_ok(r == 0 && strstr(log, "erase h.example:5000"), "erase goes to the helper");
	_cleanup_error_ struct molt_error *e5 = NULL;
	put(docker_file, "{\"credHelpers\":{\"x.example\":\"test\"}}", 0600);
	r = registry_cred_erase("x.example", &e5);
	tap_ok(r == -ENOENT && e5, "erase: the helper's 'credentials not found' is -ENOENT");
}

/* Parallel logins (CI jobs) to different hosts: none is lost. */
static void test_parallel_store(void)
{
	reset_env();
	enum { N = 16 };
	pid_t pids[N];
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			_cleanup_free_ char *host = xasprintf("p%d.example", i);
			struct molt_error *err = NULL;
			_exit(registry_cred_store(host, "user", SECRET, &err) == 0 ? 0 : 1);
		}
	}
	int failed = 0;
	for (int i = 0; i < N; i++) {
		int st;
		waitpid(pids[i], &st, 0);
		failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	_cleanup_free_ char *f = xasprintf("%s/.config/containers/auth.json", home);
	json_auto_t *j = json_load_file(f, 0, NULL);
	tap_ok(failed == 0 && json_object_size(json_object_get(j, "auths")) == N,
	       "%d logins at once: all %d hosts are in the file", N, N);
}

int main(void)
{
	if (!mkdtemp(base)) {
		tap_ok(0, "mkdtemp");
		return tap_done();
	}
	home = xasprintf("%s/home", base);
	bin = xasprintf("%s/bin", base);
	log_path = xasprintf("%s/helper.log", base);
	mkdir_p(home, 0700, NULL);
	setenv("HOME", home, 1);
	_cleanup_free_ char *path = xasprintf("%s:/usr/bin:/bin", bin);
	setenv("PATH", path, 1);
	make_helpers();
	test_base64();
	test_files();
	test_malformed_files();
	test_helpers();
	test_store_erase();
	test_parallel_store();
	rm_rf(base, NULL);
	free(home);
	free(bin);
	free(log_path);
	return tap_done();
}
