/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The build namespace: molt itself moves into a new user + mount namespace.
 *
 * Lifecycle: the process forks a helper while it is still in the host's user
 * namespace, then unshares. The helper waits on a pipe until the unshare is done,
 * writes the id maps of its parent (through newuidmap/newgidmap for a subuid range,
 * or directly as real root), and exits; the parent reaps it and becomes 0:0 inside.
 * No process is left behind and nothing needs cleaning up: the namespaces die with
 * the process.
 */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "sandbox.h"

#define SUBID_MAX 65536u

static struct sandbox_idmap current;

const struct sandbox_idmap *sandbox_current_idmap(void)
{
	return &current;
}

int sandbox_find_subid_range(const char *text, const char *user, uid_t uid, uint32_t *ret_start,
			     uint32_t *ret_count)
{
	char uidstr[32];
	snprintf(uidstr, sizeof(uidstr), "%u", (unsigned)uid);
	const char *line = text;
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		_cleanup_free_ char *copy = xstrndup(line, len);
		char *c1 = strchr(copy, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c1 && c2 && copy[0] != '#') {
			*c1 = *c2 = '\0';
			int64_t start, count;
			if ((!strcmp(copy, uidstr) || (user && !strcmp(copy, user))) &&
			    str_to_int64(c1 + 1, 1, UINT32_MAX, &start) == 0 &&
			    str_to_int64(c2 + 1, 1, UINT32_MAX, &count) == 0) {
				*ret_start = (uint32_t)start;
				*ret_count = (uint32_t)count;
				return 0;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

static int lookup_subid(const char *file, const char *user, uid_t uid, uint32_t *ret_start,
			uint32_t *ret_count)
{
	_cleanup_free_ char *text = NULL;
	if (read_file(file, 16 << 20, &text, NULL, NULL) < 0)
		return -ENOENT;
	return sandbox_find_subid_range(text, user, uid, ret_start, ret_count);
}

static int write_proc_file(pid_t pid, const char *name, const char *text)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return write_all(fd, text, strlen(text));
}

/* Runs argv (newuidmap/newgidmap) and waits; 0 on exit status 0. */
static int run_helper(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "molt: run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOENT : -EPERM;
}

/* In the helper child: writes the maps of `target`. Returns an exit status. */
static int write_maps(pid_t target, const struct sandbox_idmap *m)
{
	char pid[16], uid[16], gid[16], us[16], uc[16], gs[16], gc[16];
	snprintf(pid, sizeof(pid), "%d", (int)target);
	snprintf(uid, sizeof(uid), "%u", (unsigned)m->outer_uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)m->outer_gid);
	if (m->kind == SANDBOX_IDMAP_IDENTITY) {
		/* Real root may write any map of a child namespace directly. */
		if (write_proc_file(target, "uid_map", "0 0 4294967295\n") < 0 ||
		    write_proc_file(target, "gid_map", "0 0 4294967295\n") < 0)
			return 1;
		return 0;
	}
	snprintf(us, sizeof(us), "%u", m->subuid_start);
	snprintf(uc, sizeof(uc), "%u", m->subuid_count);
	snprintf(gs, sizeof(gs), "%u", m->subgid_start);
	snprintf(gc, sizeof(gc), "%u", m->subgid_count);
	char *uargv[] = {"newuidmap", pid, "0", uid, "1", "1", us, uc, NULL};
	char *gargv[] = {"newgidmap", pid, "0", gid, "1", "1", gs, gc, NULL};
	int r = run_helper(uargv);
	if (r == 0)
		r = run_helper(gargv);
	return r == 0 ? 0 : (r == -ENOENT ? 3 : 2);
}

/* Without a subuid range the process may map only its own ids, and only after
 * denying setgroups (a kernel rule since 3.19, CVE-2014-8989). */
static int write_single_map(const struct sandbox_idmap *m, struct molt_error **err)
{
	char map[64];
	pid_t self = getpid();
	if (write_proc_file(self, "setgroups", "deny\n") < 0)
		return molt_error_set(err, errno, "deny setgroups in the build namespace");
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)m->outer_uid);
	int r = write_proc_file(self, "uid_map", map);
	if (r < 0)
		return molt_error_set(err, -r, "write the uid map of the build namespace");
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)m->outer_gid);
	r = write_proc_file(self, "gid_map", map);
	if (r < 0)
		return molt_error_set(err, -r, "write the gid map of the build namespace");
	return 0;
}

static void plan_map(struct sandbox_idmap *m)
{
	m->outer_uid = getuid();
	m->outer_gid = getgid();
	if (m->outer_uid == 0) {
		m->kind = SANDBOX_IDMAP_IDENTITY;
		return;
	}
	const char *force = getenv("MOLT_IDMAP");
	struct passwd *pw = getpwuid(m->outer_uid);
	const char *name = pw ? pw->pw_name : NULL;
	if ((force && !strcmp(force, "single")) ||
	    lookup_subid("/etc/subuid", name, m->outer_uid, &m->subuid_start, &m->subuid_count) < 0 ||
	    lookup_subid("/etc/subgid", name, m->outer_uid, &m->subgid_start, &m->subgid_count) < 0) {
		m->kind = SANDBOX_IDMAP_SINGLE;
		if (!force)
			molt_warn("no subordinate id range for user '%s' in /etc/subuid and "
				  "/etc/subgid: using a one-id map, so steps cannot own files as "
				  "other users (chown, apt's privilege drop fail); to fix: sudo "
				  "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s",
				  name ? name : "?", name ? name : "USER");
		return;
	}
	m->kind = SANDBOX_IDMAP_SUBID;
	if (m->subuid_count > SUBID_MAX)
		m->subuid_count = SUBID_MAX;
	if (m->subgid_count > SUBID_MAX)
		m->subgid_count = SUBID_MAX;
}

static int become_root(const struct sandbox_idmap *m, struct molt_error **err)
{
	if (setresgid(0, 0, 0) < 0)
		return molt_error_set(err, errno, "become gid 0 in the build namespace");
	if (m->kind != SANDBOX_IDMAP_SINGLE && setgroups(0, NULL) < 0)
		return molt_error_set(err, errno, "drop supplementary groups");
	if (setresuid(0, 0, 0) < 0)
		return molt_error_set(err, errno, "become uid 0 in the build namespace");
	/* Mounts made in here (overlays, sandboxes) must never reach the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return molt_error_set(err, errno, "make the build namespace's mounts private");
	return 0;
}

static int unshare_with_helper(struct sandbox_idmap *m, struct molt_error **err)
{
	int go[2], done[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return molt_error_set(err, errno, "create pipe");
	if (pipe2(done, O_CLOEXEC) < 0) {
		int e = errno;
		close(go[0]);
		close(go[1]);
		return molt_error_set(err, e, "create pipe");
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(go[0]), close(go[1]), close(done[0]), close(done[1]);
		return molt_error_set(err, e, "fork the id-map helper");
	}
	if (pid == 0) {
		close(go[1]);
		close(done[0]);
		/* If molt dies before saying go, the helper must not linger. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		char c;
		if (read_full(go[0], &c, 1) != 1)
			_exit(1);
		_exit(write_maps(parent, m));
	}
	close(go[0]);
	close(done[0]);
	close(done[1]);
	int r = 0;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		r = molt_error_set(err, errno, "create the build user namespace (are unprivileged "
					       "user namespaces enabled? see "
					       "/proc/sys/kernel/unprivileged_userns_clone)");
	char c = r < 0 ? 'x' : 'g';
	if (r < 0) {
		close(go[1]);
	} else {
		(void)!write(go[1], &c, 1);
		close(go[1]);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		return r;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (code == 3)
			return molt_error_setx(err, ENOENT,
					       "set up the build namespace's id map: newuidmap is "
					       "not installed (apt-get install uidmap)");
		return molt_error_setx(err, EPERM,
				       "set up the build namespace's id map with newuidmap/"
				       "newgidmap failed (check /etc/subuid and /etc/subgid for user "
				       "%u)",
				       (unsigned)m->outer_uid);
	}
	return 0;
}

int sandbox_enter_build_namespace(struct sandbox_idmap *ret_map, struct molt_error **err)
{
	if (current.kind != SANDBOX_IDMAP_NONE) {
		if (ret_map)
			*ret_map = current;
		return 0;
	}
	struct sandbox_idmap m = {0};
	plan_map(&m);
	int r;
	if (m.kind == SANDBOX_IDMAP_SINGLE) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
			return molt_error_set(err, errno, "create the build user namespace");
		r = write_single_map(&m, err);
	} else {
		r = unshare_with_helper(&m, err);
	}
	if (r < 0)
		return r;
	r = become_root(&m, err);
	if (r < 0)
		return r;
	current = m;
	if (ret_map)
		*ret_map = m;
	return 0;
}
