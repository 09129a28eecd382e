/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_syscalls NAME...: tries each kernel attack surface SECURITY.md lists and prints
 * "NAME denied <errno>" or "NAME ALLOWED". Exits 1 if anything was allowed. Static:
 * it runs inside sandboxes over any rootfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define X32_BIT 0x40000000L

/* An i386 syscall from a 64-bit process: `int 0x80` switches the kernel to the
 * i386 table and seccomp sees AUDIT_ARCH_I386. */
static long int80_raw(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

/*
 * Kernels without i386 emulation (or booted with ia32_emulation=0) answer `int 0x80`
 * with SIGSEGV: run it in a child and report that as -ENOSYS (the ABI is unavailable,
 * nothing could be reached through it). The result travels back in the exit status.
 */
static long int80(long nr, long a, long b, long c)
{
	pid_t p = fork();
	if (p == 0) {
		long r = int80_raw(nr, a, b, c);
		_exit(r >= 0 ? 0 : (int)(-r > 254 ? 254 : -r));
	}
	int st;
	if (p < 0 || waitpid(p, &st, 0) < 0)
		return -errno;
	if (WIFSIGNALED(st)) {
		printf("(int 0x80 killed by signal %d: no i386 ABI in this kernel)\n", WTERMSIG(st));
		return -ENOSYS;
	}
	return WEXITSTATUS(st) == 0 ? 0 : -WEXITSTATUS(st);
}

static long raw_clone(unsigned long flags)
{
	long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r;
}

/* Returns the syscall's result: >= 0 success, else -errno. */
static long try(const char *name)
{
#define R(x) ((x) < 0 ? -errno : (x))
	if (!strcmp(name, "keyctl"))
		return R(syscall(SYS_keyctl, 1 /* JOIN_SESSION_KEYRING */, 0, 0, 0, 0));
	if (!strcmp(name, "add_key"))
		return R(syscall(SYS_add_key, "user", "molt", "x", 1, -3 /* session */));
	if (!strcmp(name, "request_key"))
		return R(syscall(SYS_request_key, "user", "molt", 0, 0));
	if (!strcmp(name, "bpf")) {
		char attr[128] = {0};
		return R(syscall(SYS_bpf, 0 /* MAP_CREATE */, attr, sizeof(attr)));
	}
	if (!strcmp(name, "perf_event_open")) {
		char attr[128] = {0};
		return R(syscall(SYS_perf_event_open, attr, 0, -1, -1, 0));
	}
	if (!strcmp(name, "userfaultfd"))
		return R(syscall(SYS_userfaultfd, O_CLOEXEC));
	if (!strcmp(name, "io_uring_setup")) {
		char params[120] = {0};
		return R(syscall(SYS_io_uring_setup, 4, params));
	}
	if (!strcmp(name, "kexec_load"))
		return R(syscall(SYS_kexec_load, 0, 0, 0, 0));
	if (!strcmp(name, "init_module"))
		return R(syscall(SYS_init_module, "", 0, ""));
	if (!strcmp(name, "finit_module"))
		return R(syscall(SYS_finit_module, 0, "", 0));
	if (!strcmp(name, "delete_module"))
		return R(syscall(SYS_delete_module, "molt", 0));
	if (!strcmp(name, "open_by_handle_at")) {
		char h[136] = {0};
		return R(syscall(SYS_open_by_handle_at, AT_FDCWD, h, O_RDONLY));
	}
	if (!strcmp(name, "mount"))
		return R(mount("none", "/tmp", "tmpfs", 0, NULL));
	if (!strcmp(name, "remount_proc"))
		return R(mount(NULL, "/proc", NULL, MS_REMOUNT, NULL));
	if (!strcmp(name, "umount_masked"))
		return R(umount2("/proc/keys", MNT_DETACH));
	if (!strcmp(name, "umount_proc_sys"))
		return R(umount2("/proc/sys", MNT_DETACH));
	if (!strcmp(name, "move_mount"))
		return R(syscall(SYS_move_mount, -1, "", -1, "", 0));
	if (!strcmp(name, "fsopen"))
		return R(syscall(SYS_fsopen, "tmpfs", 0));
	if (!strcmp(name, "open_tree"))
		return R(syscall(SYS_open_tree, AT_FDCWD, "/", 1 /* CLONE */));
	if (!strcmp(name, "unshare_user"))
		return R(unshare(CLONE_NEWUSER));
	if (!strcmp(name, "unshare_mount"))
		return R(unshare(CLONE_NEWNS));
	if (!strcmp(name, "setns"))
		return R(syscall(SYS_setns, 0, 0));
	if (!strcmp(name, "pivot_root"))
		return R(syscall(SYS_pivot_root, "/", "/"));
	if (!strcmp(name, "clone_newuser"))
		return R(raw_clone(CLONE_NEWUSER));
	if (!strcmp(name, "clone_newns"))
		return R(raw_clone(CLONE_NEWNS));
	if (!strcmp(name, "clone3")) {
		uint64_t args[11] = {0};
		args[4] = SIGCHLD; /* exit_signal */
		long r = syscall(SYS_clone3, args, sizeof(args));
		if (r == 0)
			_exit(0);
		return R(r);
	}
	if (!strcmp(name, "personality"))
		return R(personality(PER_LINUX | READ_IMPLIES_EXEC));
	if (!strcmp(name, "unknown_syscall"))
		return R(syscall(1000));
	if (!strcmp(name, "vsock"))
		return R(socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
	if (!strcmp(name, "alg"))
		return R(socket(38 /* AF_ALG */, SOCK_SEQPACKET, 0));
	if (!strcmp(name, "vsock_highbits"))
		return R(syscall(SYS_socket, 0x100000000L | 40, SOCK_STREAM, 0));
	if (!strcmp(name, "x32_keyctl"))
		return R(syscall(X32_BIT | 250, 1, 0, 0, 0, 0));
	if (!strcmp(name, "x32_unshare"))
		return R(syscall(X32_BIT | 272, CLONE_NEWUSER));
	if (!strcmp(name, "i386_keyctl"))
		return int80(288, 1, 0, 0);
	if (!strcmp(name, "i386_unshare"))
		return int80(310, CLONE_NEWUSER, 0, 0);
	if (!strcmp(name, "i386_socket_vsock"))
		return int80(359, 40, SOCK_STREAM, 0);
	if (!strcmp(name, "i386_socketcall_vsock")) {
		/* socketcall's arguments are read from memory the i386 ABI can address. */
		uint32_t *args = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
		if (args == MAP_FAILED)
			return -errno;
		args[0] = 40, args[1] = SOCK_STREAM, args[2] = 0;
		return int80(102, 1 /* SYS_SOCKET */, (long)(uintptr_t)args, 0);
	}
	if (!strcmp(name, "getpid")) /* a control: must be allowed */
		return R(getpid());
	fprintf(stderr, "probe_syscalls: unknown probe '%s'\n", name);
	return 0;
#undef R
}

int main(int argc, char **argv)
{
	int allowed = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		long r = try(argv[i]);
		if (r >= 0) {
			printf("%s ALLOWED\n", argv[i]);
			allowed |= strcmp(argv[i], "getpid") != 0; /* the control must work */
		} else {
			printf("%s denied %ld (%s)\n", argv[i], -r, strerror((int)-r));
		}
	}
	return allowed;
}
