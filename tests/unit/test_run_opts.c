/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/test_run_opts.c: `molt build --secret, --ssh, --add-host, --ulimit,
 * --shm-size` and --build-arg SOURCE_DATE_EPOCH parsing (runner/cli/build_run_opts.c,
 * sandbox/rlimits.c).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../runner/executor/run_opts.h"
#include "tap.h"

static char dir[] = "/tmp/molt-test-run-opts-XXXXXX";

static int add(struct build_run_opts *o, const char *name, const char *value, const char *want_err)
{
	struct molt_error *e = NULL;
	int r = build_run_opts_add(o, name, value, &e);
	int good = want_err ? r < 0 && e && strstr(e->msg, want_err) && e->exit_code == MOLT_EXIT_USAGE
			    : r == 0 && !e;
	if (!good)
		tap_diag("--%s %s: r=%d err=%s", name, value, r, e ? e->msg : "(none)");
	molt_error_free(e);
	return good;
}

static char *path(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void write_text(const char *p, const char *text)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	(void)!write(fd, text, strlen(text));
	close(fd);
}

static void test_secrets(void)
{
	struct build_run_opts o = {0};
	_cleanup_free_ char *f = path("s"), *spec = xasprintf("id=a,src=%s", f);
	write_text(f, "file-bytes");
	tap_ok(add(&o, "secret", spec, NULL) && o.n_secrets == 1 && o.secrets[0].len == 10 &&
		       !memcmp(o.secrets[0].value, "file-bytes", 10),
	       "--secret id=ID,src=FILE reads the file");
	setenv("MOLT_T_SECRET", "env-bytes", 1);
	tap_ok(add(&o, "secret", "id=b,env=MOLT_T_SECRET", NULL) &&
		       !strcmp(build_run_secret(&o, "b")->value, "env-bytes"),
	       "--secret id=ID,env=VAR reads the variable");
	tap_ok(add(&o, "secret", "id=c,type=env,src=MOLT_T_SECRET", NULL) &&
		       !strcmp(build_run_secret(&o, "c")->value, "env-bytes"),
	       "type=env takes src= as the variable's name (buildx)");
	tap_ok(add(&o, "secret", "id=MOLT_T_SECRET", NULL) &&
		       !strcmp(build_run_secret(&o, "MOLT_T_SECRET")->value, "env-bytes"),
	       "id=ID alone reads $ID when it is set");
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	(void)!chdir(dir);
	tap_ok(add(&o, "secret", "id=s", NULL) && build_run_secret(&o, "s")->len == 10,
	       "id=ID alone reads the file ID when $ID is not set");
	(void)!chdir(cwd);
	write_text(f, "second");
	tap_ok(add(&o, "secret", spec, NULL) && build_run_secret(&o, "a")->len == 6,
	       "the last --secret of an id wins");
	tap_ok(build_run_secret(&o, "zzz") == NULL, "an id not given is not found");
	tap_ok(add(&o, "secret", "src=/x", "needs id=ID"), "no id is a usage error");
	tap_ok(add(&o, "secret", "id=x,bogus=1", "unexpected 'bogus=1'"), "an unknown key is refused");
	tap_ok(add(&o, "secret", "id=x,src", "is not key=value"), "a bare field is refused");
	tap_ok(add(&o, "secret", "id=x,env=MOLT_T_UNSET", "'MOLT_T_UNSET' is not set"),
	       "an unset variable is refused");
	tap_ok(add(&o, "secret", "id=x,src=/nonexistent/x", "cannot read '/nonexistent/x'"),
	       "a missing file is refused");
	_cleanup_free_ char *dspec = xasprintf("id=x,src=%s", dir);
	tap_ok(add(&o, "secret", dspec, "is not a file"), "a directory is refused");
	_cleanup_free_ char *big = path("big"), *bspec = xasprintf("id=x,src=%s", big);
	char *bytes = xcalloc(1, BUILD_SECRET_MAX + 2);
	memset(bytes, 'x', BUILD_SECRET_MAX + 1);
	write_text(big, bytes);
	tap_ok(add(&o, "secret", bspec, "larger than 500 KiB"), "a file over 500 KiB is refused");
	bytes[BUILD_SECRET_MAX] = '\0';
	write_text(big, bytes);
	tap_ok(add(&o, "secret", bspec, NULL), "a file of exactly 500 KiB is taken");
	free(bytes);
	build_run_opts_done(&o);
	tap_ok(o.n_secrets == 0 && !o.secrets, "done frees everything");
}

static void test_ssh(void)
{
	struct build_run_opts o = {0};
	unsetenv("SSH_AUTH_SOCK");
	tap_ok(add(&o, "ssh", "default", "SSH_AUTH_SOCK is not set"),
	       "--ssh default without $SSH_AUTH_SOCK is refused");
	setenv("SSH_AUTH_SOCK", "/run/agent.sock", 1);
	tap_ok(add(&o, "ssh", "default", NULL) && !strcmp(build_run_ssh(&o, "default")->socket,
							     "/run/agent.sock"),
	       "--ssh default is $SSH_AUTH_SOCK");
	tap_ok(add(&o, "ssh", "other", NULL) && !strcmp(build_run_ssh(&o, "other")->socket,
							   "/run/agent.sock"),
	       "--ssh ID alone is $SSH_AUTH_SOCK too (buildx)");
	_cleanup_free_ char *sock = path("agent"), *spec = xasprintf("s=%s", sock);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	(void)!bind(fd, (struct sockaddr *)&a, sizeof(a));
	tap_ok(add(&o, "ssh", spec, NULL) && !strcmp(build_run_ssh(&o, "s")->socket, sock) &&
		       !build_run_ssh(&o, "s")->keys,
	       "--ssh ID=SOCKET forwards that socket");
	close(fd);
	_cleanup_free_ char *k1 = path("k1"), *k2 = path("k2");
	write_text(k1, "key");
	write_text(k2, "key");
	_cleanup_free_ char *kspec = xasprintf("k=%s,%s", k1, k2);
	tap_ok(add(&o, "ssh", kspec, NULL) && strv_len(build_run_ssh(&o, "k")->keys) == 2 &&
		       !build_run_ssh(&o, "k")->socket,
	       "--ssh ID=KEY,KEY takes key files for an agent of molt's own");
	_cleanup_free_ char *mixed = xasprintf("m=%s,%s", sock, k1);
	tap_ok(add(&o, "ssh", mixed, "neither an agent's socket"),
	       "a socket among key files is refused");
	tap_ok(add(&o, "ssh", "x=/nonexistent/key", "No such file"), "a missing key file is refused");
	tap_ok(add(&o, "ssh", "=/x", "needs an id"), "an empty id is refused");
	build_run_opts_done(&o);
}

static void test_hosts_shm(void)
{
	struct build_run_opts o = {0};
	tap_ok(add(&o, "add-host", "db:10.0.0.5", NULL) && add(&o, "add-host", "v6=::1", NULL) &&
		       add(&o, "add-host", "b6:[fe80::1]", NULL) &&
		       add(&o, "add-host", "gw:host-gateway", NULL),
	       "--add-host NAME:IP, NAME=IP, [IPv6], host-gateway");
	tap_ok(o.extra_hosts && !strcmp(o.extra_hosts[0], "db 10.0.0.5") &&
		       !strcmp(o.extra_hosts[1], "v6 ::1") && !strcmp(o.extra_hosts[2], "b6 fe80::1") &&
		       !strcmp(o.extra_hosts[3], "gw 127.0.0.1"),
	       "--add-host entries are kept as NAME IP (host-gateway: the host, 127.0.0.1)");
	tap_ok(add(&o, "add-host", "db:300.1.1.1", "not an IP address") &&
		       add(&o, "add-host", ":1.2.3.4", "expected NAME:IP") &&
		       add(&o, "add-host", "db", "expected NAME:IP") &&
		       add(&o, "add-host", "a b:1.2.3.4", "expected NAME:IP"),
	       "--add-host with a bad address or name is refused");
	tap_ok(add(&o, "shm-size", "3m", NULL) && o.shm_size == 3u << 20, "--shm-size 3m");
	tap_ok(add(&o, "shm-size", "0", "at least 4k") && add(&o, "shm-size", "big", "at least 4k"),
	       "--shm-size 0 or a non-size is refused");
	build_run_opts_done(&o);
}

static void test_ulimits(void)
{
	struct sandbox_ulimit u;
	struct molt_error *e = NULL;
	tap_ok(sandbox_parse_ulimit("nofile=512:1024", &u, &e) == 0 && u.resource == RLIMIT_NOFILE &&
		       u.soft == 512 && u.hard == 1024,
	       "--ulimit nofile=512:1024");
	tap_ok(sandbox_parse_ulimit("core=0", &u, &e) == 0 && u.soft == 0 && u.hard == 0,
	       "--ulimit NAME=N sets both limits");
	struct rlimit rl;
	getrlimit(RLIMIT_CORE, &rl);
	if (rl.rlim_max == RLIM_INFINITY)
		tap_ok(sandbox_parse_ulimit("core=-1", &u, &e) == 0 && u.soft == RLIM_INFINITY,
		       "-1 is unlimited");
	else
		tap_ok(sandbox_parse_ulimit("core=-1", &u, &e) < 0, "-1 above a finite hard limit is refused");
	molt_error_free(e);
	e = NULL;
	static const struct {
		const char *spec, *want;
	} bad[] = {
		{"nofile", "expected name=soft[:hard]"},
		{"bogus=1", "unknown limit 'bogus'"},
		{"nofile=x", "whole numbers or -1"},
		{"nofile=1:", "whole numbers or -1"},
		{"nofile=-2", "whole numbers or -1"},
		{"nofile=20:10", "soft limit is above the hard limit"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = sandbox_parse_ulimit(bad[i].spec, &u, &e);
		tap_ok(r < 0 && e && strstr(e->msg, bad[i].want), "--ulimit %s is refused", bad[i].spec);
		molt_error_free(e);
		e = NULL;
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	_cleanup_free_ char *over = xasprintf("nofile=1:%llu", (unsigned long long)rl.rlim_max + 1);
	tap_ok(rl.rlim_max == RLIM_INFINITY ||
		       (sandbox_parse_ulimit(over, &u, &e) < 0 && strstr(e->msg, "above your own hard")),
	       "--ulimit above the caller's hard limit is refused");
	molt_error_free(e);
}

static void test_epoch(void)
{
	struct molt_error *e = NULL;
	unsetenv("SOURCE_DATE_EPOCH");
	char *none[] = {"A=1", NULL};
	tap_ok(build_args_apply_epoch(none, &e) == 0 && !getenv("SOURCE_DATE_EPOCH"),
	       "no SOURCE_DATE_EPOCH build arg: nothing set");
	char *args[] = {"SOURCE_DATE_EPOCH=1000", NULL};
	tap_ok(build_args_apply_epoch(args, &e) == 0 && !strcmp(getenv("SOURCE_DATE_EPOCH"), "1000"),
	       "--build-arg SOURCE_DATE_EPOCH=N sets $SOURCE_DATE_EPOCH");
	char *bad[] = {"SOURCE_DATE_EPOCH=soon", NULL};
	tap_ok(build_args_apply_epoch(bad, &e) < 0 && e->exit_code == MOLT_EXIT_USAGE,
	       "a malformed one is a usage error");
	molt_error_free(e);
	unsetenv("SOURCE_DATE_EPOCH");
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_secrets();
	test_ssh();
	test_hosts_shm();
	test_ulimits();
	test_epoch();
	(void)rm_rf(dir, NULL);
	return tap_done();
}
