/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the sandbox's pure parts: USER resolution, environment, rlimits,
 * capability set, the sync pipe and the PATH search. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>

#include "../../sandbox/sandbox_int.h"
#include "tap.h"

static const char *passwd = "root:x:0:0:root:/root:/bin/sh\n"
			    "# a comment line\n"
			    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
			    "broken line without fields\n"
			    "app:x:1000:1000:App:/home/app:/bin/sh\n"
			    "nohome:x:1001:1001::\n"
			    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
static const char *group = "root:x:0:\n"
			   "wheel:x:10:root,app\n"
			   "staff:x:50:app\n"
			   "app:x:1000:\n"
			   "dup:x:10:app\n";

static void user_case(const char *spec, uid_t uid, gid_t gid, const char *home,
		      const char *groups, const char *name)
{
	struct sandbox_user u = {0};
	_cleanup_error_ struct molt_error *e = NULL;
	int r = sandbox_user_resolve(spec, passwd, group, &u, &e);
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; r == 0 && i < u.n_groups; i++)
		strbuf_addf(&sb, "%s%u", i ? "," : "", (unsigned)u.groups[i]);
	tap_ok(r == 0 && u.uid == uid && u.gid == gid && !strcmp(u.home, home) &&
		       !strcmp(strbuf_str(&sb), groups),
	       "%s", name);
	if (r == 0)
		tap_diag("uid %u gid %u home %s groups %s", (unsigned)u.uid, (unsigned)u.gid,
			 u.home, strbuf_str(&sb));
	else
		tap_diag("error: %s", e ? e->msg : "?");
	strbuf_done(&sb);
	sandbox_user_done(&u);
}

static void user_fails(const char *spec, const char *want_msg, const char *name)
{
	struct sandbox_user u = {.uid = 77};
	_cleanup_error_ struct molt_error *e = NULL;
	int r = sandbox_user_resolve(spec, passwd, group, &u, &e);
	tap_ok(r < 0 && e && strstr(e->msg, want_msg) && u.uid == 77, "%s", name);
	if (e)
		tap_diag("message: %s", e->msg);
}

static void test_users(void)
{
	user_case(NULL, 0, 0, "/root", "0,10", "USER unset is root with root's home and memberships");
	user_case("", 0, 0, "/root", "0,10", "USER '' is root");
	user_case("app", 1000, 1000, "/home/app", "1000,10,50",
		  "USER name: ids and home from /etc/passwd, groups = primary + memberships, deduplicated");
	user_case("1000", 1000, 1000, "/home/app", "1000,10,50", "USER uid with a passwd entry uses the entry");
	user_case("4242", 4242, 0, "/", "0", "USER uid without an entry: gid 0 and home / (runc)");
	user_case("app:staff", 1000, 50, "/home/app", "50",
		  "USER name:group: the explicit group replaces the memberships (runc)");
	user_case("app:77", 1000, 77, "/home/app", "77", "USER name:gid with a numeric gid not in /etc/group");
	user_case("4242:4343", 4242, 4343, "/", "4343", "USER uid:gid, both unknown, is allowed");
	user_case("nohome", 1001, 1001, "/", "1001", "an empty home field gives HOME=/");
	user_fails("ghost", "user 'ghost': no such user", "unknown USER name is an error naming it");
	user_fails("app:ghosts", "group 'ghosts': no such group", "unknown group name is an error naming it");
	user_fails("app:", "empty group", "USER 'name:' with an empty group is an error");
	user_fails("99999999999", "out of range", "a uid above 2^31-1 is refused");
	struct sandbox_user u = {0};
	tap_ok(sandbox_user_resolve("0", NULL, NULL, &u, NULL) == 0 && u.uid == 0 &&
		       !strcmp(u.home, "/"),
	       "a rootfs without /etc/passwd still runs as uid 0 with HOME=/");
	sandbox_user_done(&u);
	tap_ok(sandbox_user_resolve("root", NULL, NULL, &u, NULL) < 0,
	       "a USER name without /etc/passwd is an error (never NSS)");
}

static void test_env(void)
{
	char *extra[] = {"FOO=bar", "SP=a b", "FOO=baz", "EMPTY", "=bad", NULL};
	_cleanup_strv_ char **env = sandbox_env_build(extra, "box", "/home/app", false);
	struct strbuf sb = STRBUF_INIT;
	for (char **p = env; *p; p++)
		strbuf_addf(&sb, "%s|", *p);
	tap_str_eq(strbuf_str(&sb),
		   "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|HOSTNAME=box|"
		   "HOME=/home/app|FOO=baz|SP=a b|EMPTY=|",
		   "env from scratch: PATH, HOSTNAME, HOME, then -e values; a later K replaces, "
		   "K alone is K=, '=V' dropped");
	strbuf_done(&sb);
	char *over[] = {"PATH=/x", "HOME=/h", NULL};
	_cleanup_strv_ char **env2 = sandbox_env_build(over, NULL, NULL, true);
	tap_ok(!strcmp(env2[0], "PATH=/x") && !strcmp(env2[1], "HOSTNAME=molt") &&
		       !strcmp(env2[2], "HOME=/h") && !strcmp(env2[3], "TERM=xterm") && !env2[4],
	       "given PATH and HOME replace the defaults in place; TERM=xterm with a tty");
	setenv("MOLT_UNIT_CANARY", "leak", 1);
	_cleanup_strv_ char **env3 = sandbox_env_build(NULL, "h", "/", false);
	bool leak = false;
	for (char **p = env3; *p; p++)
		leak |= strstr(*p, "MOLT_UNIT_CANARY") != NULL;
	tap_ok(!leak && strv_len(env3) == 3, "no variable of the caller's environment leaks in");
}

static void test_limits_caps(void)
{
	tap_ok(rlimit_effective(0, 1024, 4096) == 1024, "rlimit: 0 asks for the default");
	tap_ok(rlimit_effective(0, 1024, 300) == 300,
	       "rlimit: the default is clamped to the caller's hard limit (no CAP_SYS_RESOURCE)");
	tap_ok(rlimit_effective(10000, 1024, 4096) == 4096, "rlimit: a request above the hard limit is clamped");
	tap_ok(rlimit_effective(50, 1024, 4096) == 50, "rlimit: a lower request is kept");
	uint64_t b = 7;
	tap_ok(sandbox_parse_size("64m", &b) == 0 && b == 64ULL << 20 &&
		       sandbox_parse_size("2G", &b) == 0 && b == 2ULL << 30 &&
		       sandbox_parse_size("512k", &b) == 0 && b == 512ULL << 10 &&
		       sandbox_parse_size("100b", &b) == 0 && b == 100 &&
		       sandbox_parse_size("4096", &b) == 0 && b == 4096,
	       "--memory sizes as docker run: b, k, m, g binary units, case-insensitive, none = bytes");
	b = 7;
	tap_ok(sandbox_parse_size("", &b) == -EINVAL && sandbox_parse_size("m", &b) == -EINVAL &&
		       sandbox_parse_size("-1m", &b) == -EINVAL &&
		       sandbox_parse_size("1.5g", &b) == -EINVAL &&
		       sandbox_parse_size("64mb", &b) == -EINVAL &&
		       sandbox_parse_size(" 64m", &b) == -EINVAL && b == 7,
	       "--memory: anything but digits and one unit is refused, ret untouched");
	tap_ok(sandbox_parse_size("17179869184g", &b) == -ERANGE &&
		       sandbox_parse_size("99999999999999999999", &b) == -ERANGE && b == 7,
	       "--memory: a size that overflows 64 bits is -ERANGE, not wrapped");
	tap_ok(sandbox_default_caps() == 0xa80425fbULL,
	       "the default capability set is Docker's 14 (CapEff a80425fb)");
}

static void test_syncpipe(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	syncpipe_sendf(p[1], 127, ENOENT, "run '%s': executable file not found in $PATH", "x");
	close(p[1]);
	_cleanup_error_ struct molt_error *e = NULL;
	int r = syncpipe_receive(p[0], &e);
	close(p[0]);
	tap_ok(r == -ENOENT && e && e->exit_code == 127 &&
		       !strcmp(e->msg, "run 'x': executable file not found in $PATH"),
	       "sync pipe: an error from the child arrives whole with its errno and exit code");
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	close(p[1]);
	_cleanup_error_ struct molt_error *e2 = NULL;
	tap_ok(syncpipe_receive(p[0], &e2) == 0 && !e2, "sync pipe: closed without a word means exec succeeded");
	close(p[0]);
}

/* Runs exec_search in a child; returns the exit code it chose (or 0 if exec worked). */
static int exec_code(char **argv, char **env)
{
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		int code = 0;
		exec_search(argv, env, &code);
		_exit(code);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_exec(void)
{
	char *path_env[] = {"PATH=/nonexistent:/bin:/usr/bin", NULL};
	char *a1[] = {"true", NULL};
	tap_ok(exec_code(a1, path_env) == 0, "exec: argv[0] is searched in the sandbox's PATH");
	char *a2[] = {"molt-no-such-command", NULL};
	tap_ok(exec_code(a2, path_env) == 127, "exec: a command not found in PATH gives 127");
	char *a3[] = {"/etc/hostname", NULL};
	tap_ok(exec_code(a3, path_env) == 126, "exec: a file that is not executable gives 126");
	char *a4[] = {"/no/such/file", NULL};
	tap_ok(exec_code(a4, path_env) == 127, "exec: a missing absolute path gives 127");
	char *nopath[] = {"PATH=/nonexistent", NULL};
	tap_ok(exec_code(a1, nopath) == 127,
	       "exec: molt's own PATH is never used for the search (glibc execvpe would)");
}

static void *idle_thread(void *arg)
{
	int *fd = arg;
	char c;
	(void)!read(*fd, &c, 1);
	return NULL;
}

/* pidwatch.c: num_threads out of /proc/PID/stat, and the count over a procfs. */
static void test_pidwatch(void)
{
	tap_ok(pidwatch_stat_threads("42 (sh) S 1 42 42 0 -1 4194560 10 0 0 0 0 0 0 0 20 0 "
				     "7 0 100 1000 10 ") == 7,
	       "pidwatch: num_threads is field 20 of /proc/PID/stat");
	tap_ok(pidwatch_stat_threads("42 (a) b (c) ) S 1 42 42 0 -1 4194560 10 0 0 0 0 0 0 0 "
				     "20 0 3 0 100") == 3,
	       "pidwatch: a comm with spaces and parentheses does not shift the fields");
	tap_ok(pidwatch_stat_threads("42 (sh) S 1 2") == 1 && pidwatch_stat_threads("garbage") == 1,
	       "pidwatch: a short or unreadable stat counts as one task");
	int p[2];
	if (pipe(p) < 0) {
		tap_ok(0, "pidwatch: pipe");
		return;
	}
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, idle_thread, &p[0]);
	DIR *proc = opendir("/proc");
	uint64_t all = proc ? pidwatch_count(proc, UINT64_MAX) : 0;
	uint64_t stopped = proc ? pidwatch_count(proc, 0) : 0;
	tap_ok(all >= 4, "pidwatch: the count holds this process's 4 tasks at least (%llu)",
	       (unsigned long long)all);
	tap_ok(stopped >= 1 && stopped < all, "pidwatch: counting stops once above the bound");
	if (proc)
		closedir(proc);
	(void)!write(p[1], "xxx", 3);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	close(p[0]);
	close(p[1]);
}

static void cgroup_case(const char *text, bool v1, const char *want, const char *name)
{
	_cleanup_free_ char *got = pids_cgroup_delegated_base(text, v1);
	tap_str_eq(got, want, name);
}

/* rlimits.c: where a user's step may get a pids cgroup, from /proc/self/cgroup. */
static void test_delegated_base(void)
{
	const char *hybrid = "9:name=systemd:/user.slice\n8:pids:/user.slice/u/job\n"
			     "4:memory:/x\n1:cpu,cpuacct:/\n0::/user.slice/u/job\n";
	cgroup_case(hybrid, true, "/sys/fs/cgroup/pids/user.slice/u/job",
		    "cgroup v1: the caller's own pids cgroup (v1 allows children next to processes)");
	cgroup_case("3:cpu,pids,memory:/a\n0::/b\n", true, "/sys/fs/cgroup/pids/a",
		    "cgroup v1: pids among several controllers of one hierarchy");
	cgroup_case("5:pids:/\n", true, "/sys/fs/cgroup/pids", "cgroup v1: the root pids cgroup");
	cgroup_case("0::/user.slice/user-1000.slice/user@1000.service/app.slice/molt/leaf\n", false,
		    "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/molt",
		    "cgroup v2: the parent of the caller's cgroup (no internal processes rule)");
	cgroup_case("0::/\n", false, NULL, "cgroup v2: the root cgroup has no parent to use");
	cgroup_case("0::/top\n", false, "/sys/fs/cgroup", "cgroup v2: a top-level cgroup's parent is the root");
	cgroup_case("4:memory:/x\n", true, NULL, "no pids line: nowhere");
	cgroup_case("garbage\n1:pids\n", true, NULL, "malformed lines are skipped");
}

int main(void)
{
	test_pidwatch();
	test_delegated_base();
	test_users();
	test_env();
	test_limits_caps();
	test_syncpipe();
	test_exec();
	return tap_done();
}
