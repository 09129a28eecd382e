/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox_run() through the library, as whatever user runs `make check` (root in CI:
 * the identity map; the e2e suite covers the subuid and one-id maps as a normal user).
 * The rootfs is made here from the host's static busybox and used in place, as the
 * build executor will, so this also checks what the step leaves in it.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../sandbox/sandbox_int.h"
#include "tap.h"

static char root[] = "/tmp/molt-sbx-root.XXXXXX";

static int make_rootfs(void)
{
	if (!mkdtemp(root))
		return -1;
	chmod(root, 0755);
	_cleanup_free_ char *bin = xasprintf("%s/bin", root);
	_cleanup_free_ char *etc = xasprintf("%s/etc", root);
	_cleanup_free_ char *bb = xasprintf("%s/bin/busybox", root);
	if (mkdir(bin, 0755) < 0 || mkdir(etc, 0755) < 0)
		return -1;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (read_file("/bin/busybox", 64 << 20, &data, &len, NULL) < 0)
		return -1;
	_cleanup_close_ int fd = open(bb, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
	if (fd < 0 || write_all(fd, data, len) < 0)
		return -1;
	const char *applets[] = {"sh", "id", "cat", "ls", "touch", "sleep", "echo", "true"};
	for (size_t i = 0; i < ARRAY_SIZE(applets); i++) {
		_cleanup_free_ char *l = xasprintf("%s/bin/%s", root, applets[i]);
		if (symlink("busybox", l) < 0)
			return -1;
	}
	_cleanup_free_ char *pw = xasprintf("%s/etc/passwd", root);
	const char *text = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n";
	return write_file_atomic(pw, text, strlen(text), 0644, NULL);
}

/* Runs one sandbox in the (already entered) build namespace and captures stdout. */
static int run(struct sandbox_config *c, char *const *argv, char **ret_out, int *ret_status,
	       struct molt_error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	c->rootfs = root;
	c->argv = argv;
	c->stdout_fd = p[1];
	c->stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int r = sandbox_run(c, ret_status, err);
	close(p[1]);
	close(c->stdin_fd);
	char buf[4096];
	ssize_t n = read_full(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	buf[n > 0 ? n : 0] = '\0';
	*ret_out = xstrdup(buf);
	return r;
}

static bool exists(const char *rel)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
	struct stat st;
	return lstat(p, &st) == 0;
}

static void cases(void)
{
	struct sandbox_config c;
	int status = -1;
	char *out = NULL;
	_cleanup_error_ struct molt_error *e = NULL;

	sandbox_config_init(&c);
	char *exit3[] = {"sh", "-c", "exit 3", NULL};
	int r = run(&c, exit3, &out, &status, &e);
	tap_ok(r == 0 && status == 3, "sandbox_run returns the command's own status");
	free(out);
	tap_ok(!exists("proc") && !exists("dev") && !exists("sys") && !exists("etc/hosts") &&
		       !exists("etc/hostname") && !exists("etc/resolv.conf"),
	       "in place: mount points the rootfs lacked are removed after the step (the differ "
	       "never sees them)");

	sandbox_config_init(&c);
	char *ids[] = {"sh", "-c", "id -u; grep CapEff /proc/self/status; cat /etc/hostname", NULL};
	c.hostname = "stepbox";
	r = run(&c, ids, &out, &status, &e);
	tap_str_eq(r == 0 ? out : NULL, "0\nCapEff:\t00000000a80425fb\nstepbox\n",
		   "root step: uid 0, Docker's capabilities, the configured hostname; stdout_fd "
		   "captures output");
	free(out);

	sandbox_config_init(&c);
	char *nob[] = {"id", "-u", NULL};
	c.user = "nobody";
	r = run(&c, nob, &out, &status, &e);
	tap_str_eq(r == 0 ? out : NULL, "65534\n", "USER nobody switches to uid 65534");
	free(out);

	sandbox_config_init(&c);
	char *mk[] = {"touch", "/made-by-step", NULL};
	r = run(&c, mk, &out, &status, &e);
	tap_ok(r == 0 && status == 0 && exists("made-by-step"), "in place: the step's writes land in the rootfs");
	free(out);

	sandbox_config_init(&c);
	char *mk2[] = {"touch", "/overlay-only", NULL};
	c.overlay = true;
	r = run(&c, mk2, &out, &status, &e);
	tap_ok(r == 0 && status == 0 && !exists("overlay-only"),
	       "overlay: the step's writes are discarded, the rootfs is untouched");
	free(out);

	sandbox_config_init(&c);
	char *net[] = {"ls", "/sys/class/net", NULL};
	c.network = SANDBOX_NET_NONE;
	r = run(&c, net, &out, &status, &e);
	tap_str_eq(r == 0 ? out : NULL, "lo\n", "network none: only lo");
	free(out);

	sandbox_config_init(&c);
	char *fds[] = {"ls", "/proc/self/fd", NULL};
	int leak = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
	r = run(&c, fds, &out, &status, &e);
	close(leak);
	tap_str_eq(r == 0 ? out : NULL, "0\n1\n2\n3\n",
		   "a non-CLOEXEC fd of the caller does not reach the command (3 is ls's own)");
	free(out);

	sandbox_config_init(&c);
	char *daemon[] = {"sh", "-c", "sleep 4711 & echo started", NULL};
	r = run(&c, daemon, &out, &status, &e);
	bool alive = false;
	_cleanup_closedir_ DIR *d = opendir("/proc");
	for (struct dirent *de; d && (de = readdir(d));) {
		_cleanup_free_ char *p = xasprintf("/proc/%s/cmdline", de->d_name);
		_cleanup_free_ char *cmd = NULL;
		size_t n = 0;
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
		    read_file(p, 4096, &cmd, &n, NULL) == 0 && n > 10 && !strcmp(cmd, "sleep") &&
		    !strcmp(cmd + 6, "4711"))
			alive = true;
	}
	tap_ok(r == 0 && status == 0 && !alive, "a daemon started by the step is gone when sandbox_run returns");
	free(out);

	sandbox_config_init(&c);
	char *missing[] = {"no-such-tool", NULL};
	status = -1;
	molt_error_free(e);
	e = NULL;
	r = run(&c, missing, &out, &status, &e);
	tap_ok(r == -ENOENT && e && e->exit_code == 127 && status == -1 &&
		       strstr(e->msg, "run 'no-such-tool': executable file not found"),
	       "a missing command is an error with exit code 127; ret_status untouched");
	free(out);
	molt_error_free(e);
	e = NULL;

	sandbox_config_init(&c);
	char *u[] = {"true", NULL};
	c.user = "ghost";
	r = run(&c, u, &out, &status, &e);
	tap_ok(r < 0 && e && strstr(e->msg, "user 'ghost'") && !exists("proc"),
	       "an unknown USER fails cleanly and still removes the mount points");
	free(out);

	/* RLIMIT_NPROC does not bind the host's root: as real root a pids cgroup does. */
	if (sandbox_current_idmap()->kind != SANDBOX_IDMAP_IDENTITY)
		return;
	sandbox_config_init(&c);
	char *cg[] = {"sh", "-c", "cat /proc/self/cgroup", NULL};
	c.rlimits.nproc = 64;
	r = run(&c, cg, &out, &status, &e);
	_cleanup_free_ char *want = xasprintf("/molt-%d-", (int)getpid());
	tap_ok(r == 0 && status == 0 && strstr(out, want) && strstr(out, "pids"),
	       "as real root the step runs in a pids cgroup of its own (RLIMIT_NPROC exempts root)");
	free(out);
	bool left = false;
	const char *bases[] = {"/sys/fs/cgroup/pids", "/sys/fs/cgroup"};
	for (size_t i = 0; i < 2; i++) {
		_cleanup_closedir_ DIR *cd = opendir(bases[i]);
		for (struct dirent *de; cd && (de = readdir(cd));)
			left |= strncmp(de->d_name, want + 1, strlen(want) - 1) == 0;
	}
	tap_ok(!left, "the step's pids cgroup is removed when the step is over");
}

int main(void)
{
	if (make_rootfs() < 0) {
		tap_ok(0, "make a busybox rootfs from /bin/busybox (busybox-static)");
		return tap_done();
	}
	tap_diag("running as uid %u", (unsigned)getuid());
	/* The build namespace is per process: enter it in a child, keep TAP in order. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		_cleanup_error_ struct molt_error *e = NULL;
		if (sandbox_enter_build_namespace(NULL, &e) < 0) {
			tap_ok(0, "enter the build namespace: %s", e->msg);
			_exit(tap_done());
		}
		cases();
		_exit(tap_done());
	}
	int st;
	waitpid(pid, &st, 0);
	rm_rf(root, NULL);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
