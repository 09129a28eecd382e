/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resource limits of a step. Inside the build namespace even uid 0 lacks
 * CAP_SYS_RESOURCE over the host, so a limit can only go down: every value is clamped
 * to the caller's hard limit instead of failing with EPERM.
 *
 * Memory. cgroups are not delegated to unprivileged users on every host (a v1/v2
 * hybrid has none to give), so molt bounds memory with rlimits, which are per process,
 * and leaves the rest to the kernel's OOM killer, steered at the step:
 *
 * - RLIMIT_DATA, not RLIMIT_AS, is the knob. RLIMIT_AS counts reserved address
 *   space, and JIT runtimes reserve far more than they use. Measured with node 20 on
 *   Debian 12 (`prlimit --as=N node ...`): a script with 290 MB resident and 4 worker
 *   threads peaks at 3.6 GB of address space (VmPeak) but 340 MB of VmData; with
 *   --as=2G it dies of SIGTRAP, --as=1G aborts, and --as=128M makes even `node -e 1`
 *   hang forever. RLIMIT_DATA (private writable mappings: heap and anonymous mmap,
 *   since Linux 4.7) tracks what is really used: the same script passes with
 *   --data=512M. In a RUN step on debian:bookworm, node 18 runs it with no
 *   limit and under -m 512m (VmData 349 MB, VmPeak 1.7 GB) and aborts in V8
 *   under -m 256m. So `as` stays unlimited unless asked for.
 * - There is no default: a sanitizer build maps its shadow memory as private writable
 *   memory, which RLIMIT_DATA counts. Measured: a clang -fsanitize=address program
 *   has 14 TiB of VmData for 5 MB resident, and under --data=18G (3/4 of this host's
 *   RAM, the default first tried) it cannot start ("ReserveShadowMemoryRange
 *   failed"); molt's own ASan build broke the same way. Any default low enough to
 *   matter breaks a build that runs sanitized tests, so the default protection is
 *   oom_score_adj (below), and `--memory SIZE` sets RLIMIT_DATA for those who want a
 *   hard per-process bound. It is set in the command's process just before exec, not
 *   in pid 1: molt's own reaper must never fail an allocation while it reaps.
 * - What it does not bound: N processes may hold N x the limit (NPROC bounds N), and
 *   shared memory and tmpfs files are not data. For those, and by default, every
 *   process of the sandbox gets oom_score_adj 1000 (raising one's own score needs no
 *   privilege), so when memory runs out the kernel kills a step's process first, not
 *   molt or the host's; /dev/shm and molt run's overlay tmpfs (with --memory) have a
 *   size cap (devices.c, mounts.c).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "sandbox_int.h"

/* Bounds a fork bomb; a build step rarely needs more processes at once. */
#define DEFAULT_NPROC 1024
/* Docker's default (moby sets nofile 1048576:1048576). */
#define DEFAULT_NOFILE 1048576

uint64_t rlimit_effective(uint64_t want, uint64_t deflt, uint64_t hard)
{
	uint64_t v = want ? want : deflt;
	return v > hard ? hard : v;
}

int sandbox_parse_size(const char *text, uint64_t *ret_bytes)
{
	if (!text || *text < '0' || *text > '9')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	if (errno)
		return -ERANGE;
	unsigned shift = 0;
	switch (*end) {
	case 'g':
	case 'G':
		shift += 10;
		/* fallthrough */
	case 'm':
	case 'M':
		shift += 10;
		/* fallthrough */
	case 'k':
	case 'K':
		shift += 10;
		/* fallthrough */
	case 'b':
	case 'B':
		end++;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (*end)
		return -EINVAL;
	if (n > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret_bytes = (uint64_t)n << shift;
	return 0;
}

static int apply(int resource, const char *name, uint64_t want, uint64_t deflt,
		 struct molt_error **err)
{
	struct rlimit rl;
	if (getrlimit(resource, &rl) < 0)
		return molt_error_set(err, errno, "read the %s limit", name);
	uint64_t v = rlimit_effective(want, deflt, rl.rlim_max);
	rl.rlim_cur = rl.rlim_max = v;
	if (setrlimit(resource, &rl) < 0)
		return molt_error_set(err, errno, "set the %s limit to %llu", name,
				      (unsigned long long)v);
	return 0;
}

/* 1000 makes the OOM killer choose a process of ours before anything with a lower
 * score; every process the step starts inherits it. A step may lower it again, but
 * never below the floor the kernel keeps for molt's processes (oom_score_adj_min,
 * usually 0; going lower needs CAP_SYS_RESOURCE over the host). */
static int oom_prefer_sandbox(struct molt_error **err)
{
	_cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write_all(fd, "1000", 4) < 0)
		return molt_error_set(err, errno, "set the sandbox's oom_score_adj");
	return 0;
}

static int rlimits_apply_ulimits(const struct sandbox_rlimits *r, struct molt_error **err);

int rlimits_apply_memory(const struct sandbox_rlimits *r, struct molt_error **err)
{
	return r->data ? apply(RLIMIT_DATA, "memory", r->data, RLIM_INFINITY, err) : 0;
}

int rlimits_apply(const struct sandbox_rlimits *r, struct molt_error **err)
{
	int ret = apply(RLIMIT_NPROC, "process", r->nproc, DEFAULT_NPROC, err);
	if (ret == 0)
		ret = apply(RLIMIT_NOFILE, "open file", r->nofile, DEFAULT_NOFILE, err);
	if (ret == 0)
		ret = apply(RLIMIT_AS, "address space", r->as, RLIM_INFINITY, err);
	if (ret == 0)
		ret = oom_prefer_sandbox(err);
	if (ret == 0)
		ret = rlimits_apply_ulimits(r, err);
	return ret;
}

/*
 * pids cgroups. RLIMIT_NPROC bounds each user id, not the step: the step's root may
 * setuid() to every id of its map. And real root is exempt from it altogether: fork()
 * skips the check for the host's uid 0 (INIT_USER) whatever user namespace it is in,
 * and with molt's identity map a step's root is the host's root. So a step is
 * bounded as a whole by a pids cgroup where one can be made — real root always can
 * (the cgroup v1 pids hierarchy, else the v2 root), a user where a cgroup is
 * delegated to it (pids_cgroup_delegated) — and elsewhere by its pid 1's count
 * (pidwatch.c). RLIMIT_NPROC stays, as the bound the kernel checks at every fork.
 */
uint64_t rlimits_nproc(const struct sandbox_rlimits *r)
{
	return r->nproc ? r->nproc : DEFAULT_NPROC;
}

static int write_cg(const char *dir, const char *file, const char *text, struct molt_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
		return molt_error_set(err, errno, "write '%s' to '%s'", text, path);
	return 0;
}

static unsigned counter;

/* base/molt-PID-N with pids.max = max. */
static int make_child(const char *base, uint64_t max, char **ret_dir, struct molt_error **err)
{
	_cleanup_free_ char *dir = xasprintf("%s/molt-%d-%u", base, (int)getpid(), counter++);
	if (mkdir(dir, 0755) < 0)
		return molt_error_set(err, errno, "create cgroup '%s'", dir);
	_cleanup_free_ char *text = xasprintf("%llu", (unsigned long long)max);
	if (write_cg(dir, "pids.max", text, err) < 0) {
		rmdir(dir);
		return molt_error_pass(err);
	}
	*ret_dir = TAKE_PTR(dir);
	return 0;
}

char *pids_cgroup_delegated_base(const char *proc_self_cgroup, bool v1_pids)
{
	_cleanup_free_ char *text = xstrdup(proc_self_cgroup);
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || c2[1] != '/')
			continue;
		*c1 = '\0';
		*c2 = '\0';
		const char *ctl = c1 + 1, *path = c2 + 1;
		if (v1_pids) {
			_cleanup_free_ char *list = xasprintf(",%s,", ctl);
			if (strstr(list, ",pids,"))
				return xasprintf("/sys/fs/cgroup/pids%s", strcmp(path, "/") ? path : "");
		} else if (!strcmp(line, "0") && !*ctl) {
			const char *slash = strrchr(path, '/');
			if (slash == path && !path[1])
				return NULL; /* the root cgroup has no parent */
			_cleanup_free_ char *parent = xstrndup(path, (size_t)(slash - path));
			return xasprintf("/sys/fs/cgroup%s", parent);
		}
	}
	return NULL;
}

int pids_cgroup_delegated(uint64_t max, char **ret_dir, struct molt_error **err)
{
	bool v1 = access("/sys/fs/cgroup/pids/cgroup.procs", F_OK) == 0;
	if (!v1 && access("/sys/fs/cgroup/cgroup.controllers", F_OK) < 0)
		return molt_error_setx(err, ENOTSUP, "no pids cgroup hierarchy in /sys/fs/cgroup");
	_cleanup_free_ char *text = NULL, *base = NULL;
	if (read_file("/proc/self/cgroup", 1 << 16, &text, NULL, err) < 0)
		return molt_error_pass(err);
	base = pids_cgroup_delegated_base(text, v1);
	if (!base)
		return molt_error_setx(err, ENOTSUP, "no cgroup of ours to make a pids cgroup in");
	if (!v1) {
		_cleanup_free_ char *ctl = NULL;
		_cleanup_free_ char *path = xasprintf("%s/cgroup.subtree_control", base);
		if (read_file(path, 4096, &ctl, NULL, NULL) < 0 || !strstr(ctl, "pids"))
			return molt_error_setx(err, ENOTSUP, "'%s' does not give its children the "
						"pids controller", base);
	}
	if (access(base, W_OK) < 0)
		return molt_error_set(err, errno, "cgroup '%s' is not delegated to us", base);
	return make_child(base, max, ret_dir, err);
}

int pids_cgroup_create(uint64_t max, char **ret_dir, struct molt_error **err)
{
	const char *base = "/sys/fs/cgroup/pids";
	if (access("/sys/fs/cgroup/pids/cgroup.procs", F_OK) < 0) {
		_cleanup_free_ char *ctl = NULL;
		base = "/sys/fs/cgroup";
		if (read_file("/sys/fs/cgroup/cgroup.controllers", 4096, &ctl, NULL, NULL) < 0 ||
		    !strstr(ctl, "pids"))
			return molt_error_setx(err, ENOTSUP, "no pids cgroup controller in "
						"/sys/fs/cgroup");
		/* v2: the controller must be enabled for the root's children. */
		if (write_cg(base, "cgroup.subtree_control", "+pids", err) < 0)
			return molt_error_pass(err);
	}
	return make_child(base, max, ret_dir, err);
}

int pids_cgroup_enter(const char *dir, pid_t pid, struct molt_error **err)
{
	char text[32];
	snprintf(text, sizeof(text), "%d", (int)pid);
	return write_cg(dir, "cgroup.procs", text, err);
}

void pids_cgroup_remove(char *dir)
{
	if (!dir)
		return;
	/* Every task is reaped once pid 1 is; the kernel may take a moment to drop the
	 * last one from the cgroup's count. */
	for (int i = 0; i < 50 && rmdir(dir) < 0 && errno == EBUSY; i++)
		usleep(10000);
	free(dir);
}

/* ---- --ulimit */

static const struct {
	const char *name;
	int resource;
} ulimit_names[] = {
	{"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},
	{"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},
	{"locks", RLIMIT_LOCKS},     {"memlock", RLIMIT_MEMLOCK},
	{"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
	{"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},
	{"rss", RLIMIT_RSS},         {"rtprio", RLIMIT_RTPRIO},
	{"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING},
	{"stack", RLIMIT_STACK},
};

/* A limit value: a whole number, or -1 for unlimited (docker's convention). */
static int ulimit_value(const char *s, uint64_t *ret)
{
	if (!strcmp(s, "-1")) {
		*ret = RLIM_INFINITY;
		return 0;
	}
	int64_t n;
	if (str_to_int64(s, 0, INT64_MAX, &n) < 0)
		return -EINVAL;
	*ret = (uint64_t)n;
	return 0;
}

static char *limit_str(uint64_t v)
{
	return v == RLIM_INFINITY ? xstrdup("unlimited") : xasprintf("%llu", (unsigned long long)v);
}

int sandbox_parse_ulimit(const char *text, struct sandbox_ulimit *ret, struct molt_error **err)
{
	const char *eq = strchr(text, '=');
	if (!eq)
		return molt_error_usage(err, "--ulimit '%s': expected name=soft[:hard]", text);
	_cleanup_free_ char *name = xstrndup(text, (size_t)(eq - text));
	int resource = -1;
	for (size_t i = 0; i < ARRAY_SIZE(ulimit_names); i++)
		if (!strcmp(ulimit_names[i].name, name))
			resource = ulimit_names[i].resource;
	if (resource < 0)
		return molt_error_usage(err, "--ulimit '%s': unknown limit '%s' (core, cpu, data, "
					"fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, "
					"rtprio, rttime, sigpending or stack)", text, name);
	_cleanup_free_ char *soft_s = xstrdup(eq + 1);
	char *colon = strchr(soft_s, ':');
	if (colon)
		*colon = '\0';
	uint64_t soft, hard;
	if (ulimit_value(soft_s, &soft) < 0 || (colon && ulimit_value(colon + 1, &hard) < 0))
		return molt_error_usage(err, "--ulimit '%s': limits must be whole numbers or -1 "
					"(unlimited)", text);
	if (!colon)
		hard = soft;
	if (soft > hard)
		return molt_error_usage(err, "--ulimit '%s': the soft limit is above the hard limit",
					text);
	struct rlimit rl;
	if (getrlimit(resource, &rl) < 0)
		return molt_error_set(err, errno, "read the %s limit", name);
	if (rl.rlim_max != RLIM_INFINITY && hard > rl.rlim_max) {
		_cleanup_free_ char *want = limit_str(hard), *have = limit_str(rl.rlim_max);
		return molt_error_usage(err, "--ulimit '%s': %s is above your own hard limit of "
					"%s (molt cannot raise a limit; lower it or raise yours "
					"first)", text, want, have);
	}
	*ret = (struct sandbox_ulimit){resource, soft, hard};
	return 0;
}

static int rlimits_apply_ulimits(const struct sandbox_rlimits *r, struct molt_error **err)
{
	for (size_t i = 0; i < r->n_ulimits; i++) {
		struct rlimit rl = {r->ulimits[i].soft, r->ulimits[i].hard};
		if (setrlimit(r->ulimits[i].resource, &rl) < 0) {
			const char *name = "?";
			for (size_t k = 0; k < ARRAY_SIZE(ulimit_names); k++)
				if (ulimit_names[k].resource == r->ulimits[i].resource)
					name = ulimit_names[k].name;
			return molt_error_set(err, errno, "set --ulimit %s", name);
		}
	}
	return 0;
}
