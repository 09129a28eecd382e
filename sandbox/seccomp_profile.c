/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seccomp profile as libseccomp filters: Docker's default profile semantics, as three
 * stacked filters.
 *
 *   A. the allow list: everything not listed fails with EPERM; clone without
 *      namespace flags, personality with Docker's values only, clone3 → ENOSYS
 *      (so libcs fall back to clone, whose flags a filter can see);
 *   B. argument denials (default allow): TIOCSTI/TIOCLINUX ioctls and AF_VSOCK/AF_ALG
 *      sockets fail with EPERM. The comparisons mask the argument to 32 bits because
 *      the kernel truncates `cmd` and `domain` to int: a filter comparing all 64 bits
 *      is bypassed by setting high bits (CVE-2019-10063, bubblewrap's TIOCSTI);
 *   C. unknown syscalls (default ENOSYS): every syscall libseccomp knows is allowed
 *      here, so a syscall newer than this build's libseccomp answers ENOSYS and a new
 *      libc falls back instead of failing with EPERM.
 *
 * The kernel runs every filter and keeps the most restrictive action; between two
 * ERRNO answers it keeps the one of the filter installed last (kernel/seccomp.c walks
 * from the newest and replaces only on a strictly stronger action), which is why C
 * is loaded last. Each filter covers x86_64, i386 and x32; any other architecture
 * (a foreign binary through binfmt) is killed.
 *
 * Building these costs tens of milliseconds (libseccomp resolves every syscall name of
 * three ABIs), so the build compiles them once: sandbox/gen/seccomp_gen.c exports them to
 * build/gen/seccomp_bpf.h, which seccomp.c loads as plain BPF. libseccomp is needed at
 * run time only for filter_export (tests) and builds made without that header.
 */
#include <linux/filter.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox_int.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif

static const char *const allowed[] = {
	"accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk",
	"cachestat", "capget", "capset", "chdir", "chmod", "chown", "chown32", "chroot",
	"clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
	"clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
	"close", "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
	"epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
	"execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
	"fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
	"fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
	"fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
	"fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64",
	"futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake",
	"futimesat", "get_mempolicy", "get_robust_list", "get_thread_area", "getcpu",
	"getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32",
	"getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername",
	"getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
	"getresgid32", "getresuid", "getresuid32", "getrlimit", "getrusage", "getsid",
	"getsockname", "getsockopt", "gettid", "gettimeofday", "getuid", "getuid32",
	"getxattr", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
	"io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
	"io_setup", "io_submit", "ioctl", "ioprio_get", "ioprio_set", "ipc", "kcmp", "kill",
	"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
	"lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
	"_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise",
	"map_shadow_stack", "mbind", "membarrier", "memfd_create", "memfd_secret", "mincore",
	"mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
	"mmap2", "modify_ldt", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
	"mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
	"mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
	"munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect",
	"open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe",
	"pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64",
	"prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
	"process_vm_readv", "process_vm_writev", "pselect6", "pselect6_time64", "ptrace",
	"pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat",
	"readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
	"remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
	"restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
	"rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
	"sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity",
	"sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
	"sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
	"sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl",
	"semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
	"sendfile64", "sendmmsg", "sendmsg", "sendto", "set_mempolicy", "set_robust_list",
	"set_thread_area", "set_tid_address", "setfsgid", "setfsgid32", "setfsuid",
	"setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
	"setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
	"setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "setsid",
	"setsockopt", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
	"shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
	"socket", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
	"statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
	"sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
	"timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
	"timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
	"timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
	"ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
	"utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid",
	"write", "writev",
};

/* Docker allows personality() only with these values (and the query 0xffffffff). */
static const uint64_t personalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

#define CLONE_NS_FLAGS                                                                             \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |                \
	 CLONE_NEWNET | CLONE_NEWCGROUP)

static void ctx_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static int new_ctx(uint32_t deflt, scmp_filter_ctx *ret, struct molt_error **err)
{
	scmp_filter_ctx ctx = seccomp_init(deflt);
	if (!ctx)
		return molt_error_setx(err, ENOMEM, "create a seccomp filter");
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
	if (r == 0 || r == -EEXIST)
		r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
	if (r == -EEXIST)
		r = 0;
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0) {
		seccomp_release(ctx);
		return molt_error_set(err, -r, "configure a seccomp filter");
	}
	*ret = ctx;
	return 0;
}

/* A name this libseccomp does not know is simply absent from every arch: skip it. */
static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
		const struct scmp_arg_cmp *cmp, struct molt_error **err)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0;
	int r = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	if (r < 0)
		return molt_error_set(err, -r, "add the seccomp rule for '%s'", name);
	return 0;
}

static int build_allow_list(scmp_filter_ctx ctx, struct molt_error **err)
{
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
		if (rule(ctx, SCMP_ACT_ALLOW, allowed[i], 0, NULL, err) < 0)
			return molt_error_pass(err);
	struct scmp_arg_cmp no_ns = SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_NS_FLAGS, 0);
	if (rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &no_ns, err) < 0)
		return molt_error_pass(err);
	for (size_t i = 0; i < ARRAY_SIZE(personalities); i++) {
		struct scmp_arg_cmp p = SCMP_A0_64(SCMP_CMP_EQ, personalities[i]);
		if (rule(ctx, SCMP_ACT_ALLOW, "personality", 1, &p, err) < 0)
			return molt_error_pass(err);
	}
	return rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, err);
}

static int build_arg_denials(scmp_filter_ctx ctx, struct molt_error **err)
{
	static const uint64_t ioctls[] = {TIOCSTI, TIOCLINUX};
	static const uint64_t families[] = {AF_VSOCK, AF_ALG};
	for (size_t i = 0; i < ARRAY_SIZE(ioctls); i++) {
		struct scmp_arg_cmp c = SCMP_A1_64(SCMP_CMP_MASKED_EQ, 0xffffffffu, ioctls[i]);
		if (rule(ctx, SCMP_ACT_ERRNO(EPERM), "ioctl", 1, &c, err) < 0)
			return molt_error_pass(err);
	}
	for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
		struct scmp_arg_cmp c = SCMP_A0_64(SCMP_CMP_MASKED_EQ, 0xffffffffu, families[i]);
		if (rule(ctx, SCMP_ACT_ERRNO(EPERM), "socket", 1, &c, err) < 0 ||
		    rule(ctx, SCMP_ACT_ERRNO(EPERM), "socketpair", 1, &c, err) < 0)
			return molt_error_pass(err);
	}
	return 0;
}

/* Highest syscall number probed per ABI; libseccomp 2.5 knows up to ~460. */
#define PROBE_MAX 1024

static int build_known(scmp_filter_ctx ctx, struct molt_error **err)
{
	static const uint32_t arches[] = {SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32};
	char **seen = NULL;
	int r = 0;
	for (size_t a = 0; a < ARRAY_SIZE(arches) && r == 0; a++) {
		for (int nr = 0; nr < PROBE_MAX && r == 0; nr++) {
			char *name = seccomp_syscall_resolve_num_arch(arches[a], nr);
			if (!name)
				continue;
			if (!strv_contains(seen, name)) {
				r = rule(ctx, SCMP_ACT_ALLOW, name, 0, NULL, err);
				strv_push(&seen, name);
			}
			free(name);
		}
	}
	strv_free(seen);
	return r;
}

static int build(size_t i, scmp_filter_ctx *ret, struct molt_error **err)
{
	int (*const builders[FILTER_COUNT])(scmp_filter_ctx, struct molt_error **) = {
		build_allow_list, build_arg_denials, build_known};
	const uint32_t defaults[FILTER_COUNT] = {SCMP_ACT_ERRNO(EPERM), SCMP_ACT_ALLOW,
					      SCMP_ACT_ERRNO(ENOSYS)};
	scmp_filter_ctx ctx = NULL;
	int r = new_ctx(defaults[i], &ctx, err);
	if (r == 0)
		r = builders[i](ctx, err);
	if (r < 0) {
		ctx_releasep(&ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

int filter_export(size_t index, int fd, struct molt_error **err)
{
	if (index >= FILTER_COUNT)
		return molt_error_setx(err, EINVAL, "no seccomp filter %zu", index);
	scmp_filter_ctx ctx = NULL;
	int r = build(index, &ctx, err);
	if (r < 0)
		return r;
	r = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (r < 0)
		return molt_error_set(err, -r, "export the seccomp filter");
	return 0;
}

int filter_build_bpf(size_t index, struct sock_filter **ret_insns, size_t *ret_n,
		     struct molt_error **err)
{
	_cleanup_close_ int fd = memfd_create("molt-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return molt_error_set(err, errno, "create a memfd for the seccomp filter");
	int r = filter_export(index, fd, err);
	if (r < 0)
		return r;
	off_t len = lseek(fd, 0, SEEK_END);
	if (len < 0)
		return molt_error_set(err, errno, "size the exported seccomp filter");
	if (len == 0 || len % (off_t)sizeof(struct sock_filter) != 0)
		return molt_error_setx(err, EINVAL,
				       "export the seccomp filter: %lld bytes is not a BPF program",
				       (long long)len);
	_cleanup_free_ struct sock_filter *insns = xmalloc((size_t)len);
	ssize_t n = pread(fd, insns, (size_t)len, 0);
	if (n != len)
		return molt_error_set(err, n < 0 ? errno : EIO, "read the exported seccomp filter");
	*ret_insns = TAKE_PTR(insns);
	*ret_n = (size_t)len / sizeof(struct sock_filter);
	return 0;
}
