/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seccomp profile, two ways: loaded for real in a child process (native x86_64 and
 * the x32 bit), and exported as BPF and evaluated here for the i386 ABI and foreign
 * architectures, which this machine's kernel may not run at all.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "../../sandbox/sandbox_int.h"
#include "tap.h"

/* ---- a classic BPF evaluator for what libseccomp emits */

struct prog {
	struct sock_filter *insns;
	size_t n;
};

static uint32_t run_bpf(const struct prog *p, const struct seccomp_data *d)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};
	const uint8_t *data = (const uint8_t *)d;
	for (size_t pc = 0; pc < p->n; pc++) {
		const struct sock_filter *f = &p->insns[pc];
		uint32_t k = f->k, src = BPF_SRC(f->code) == BPF_X ? x : k;
		switch (BPF_CLASS(f->code)) {
		case BPF_LD:
			if (BPF_MODE(f->code) == BPF_ABS && k + 4 <= sizeof(*d))
				memcpy(&a, data + k, 4);
			else if (BPF_MODE(f->code) == BPF_MEM)
				a = mem[k % BPF_MEMWORDS];
			else if (BPF_MODE(f->code) == BPF_IMM)
				a = k;
			else
				return 0xdeadbeef;
			break;
		case BPF_LDX:
			x = BPF_MODE(f->code) == BPF_MEM ? mem[k % BPF_MEMWORDS] : k;
			break;
		case BPF_ST:
			mem[k % BPF_MEMWORDS] = a;
			break;
		case BPF_STX:
			mem[k % BPF_MEMWORDS] = x;
			break;
		case BPF_ALU:
			switch (BPF_OP(f->code)) {
			case BPF_AND: a &= src; break;
			case BPF_OR: a |= src; break;
			case BPF_ADD: a += src; break;
			case BPF_SUB: a -= src; break;
			case BPF_LSH: a <<= src; break;
			case BPF_RSH: a >>= src; break;
			case BPF_NEG: a = -a; break;
			default: return 0xdeadbeef;
			}
			break;
		case BPF_JMP:
			if (BPF_OP(f->code) == BPF_JA) {
				pc += k;
				break;
			}
			bool t;
			switch (BPF_OP(f->code)) {
			case BPF_JEQ: t = a == src; break;
			case BPF_JGT: t = a > src; break;
			case BPF_JGE: t = a >= src; break;
			case BPF_JSET: t = (a & src) != 0; break;
			default: return 0xdeadbeef;
			}
			pc += t ? f->jt : f->jf;
			break;
		case BPF_RET:
			return BPF_RVAL(f->code) == BPF_A ? a : k;
		case BPF_MISC:
			if (BPF_MISCOP(f->code) == BPF_TAX)
				x = a;
			else
				a = x;
			break;
		}
	}
	return 0xdeadbeef;
}

static struct prog progs[3];

static int load_progs(void)
{
	for (size_t i = 0; i < 3; i++) {
		int fd = memfd_create("bpf", MFD_CLOEXEC);
		_cleanup_error_ struct molt_error *e = NULL;
		if (fd < 0 || filter_export(i, fd, &e) < 0)
			return -1;
		off_t len = lseek(fd, 0, SEEK_END);
		progs[i].insns = xmalloc((size_t)len);
		progs[i].n = (size_t)len / sizeof(struct sock_filter);
		if (pread(fd, progs[i].insns, (size_t)len, 0) != len)
			return -1;
		close(fd);
	}
	return 0;
}

/* The kernel's combination: the strongest action wins; ties go to the newest filter. */
static uint32_t evaluate(uint32_t arch, int nr, uint64_t a0, uint64_t a1)
{
	struct seccomp_data d = {.nr = nr, .arch = arch, .args = {a0, a1}};
	uint32_t ret = SECCOMP_RET_ALLOW;
	for (int i = 2; i >= 0; i--) {
		uint32_t r = run_bpf(&progs[i], &d);
		if ((int32_t)(r & SECCOMP_RET_ACTION_FULL) < (int32_t)(ret & SECCOMP_RET_ACTION_FULL))
			ret = r;
	}
	return ret;
}

#define ERRNO(e) (SECCOMP_RET_ERRNO | (e))

/* i386 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl). */
enum { I386_GETPID = 20, I386_KEYCTL = 288, I386_UNSHARE = 310, I386_CLONE = 120,
       I386_SOCKET = 359, I386_BPF = 357, I386_MOUNT = 21, I386_IOCTL = 54 };

static void test_bpf(void)
{
	if (load_progs() < 0) {
		tap_ok(0, "export the seccomp filters as BPF");
		return;
	}
	const uint32_t i386 = AUDIT_ARCH_I386, x86_64 = AUDIT_ARCH_X86_64;
	tap_ok(evaluate(i386, I386_GETPID, 0, 0) == SECCOMP_RET_ALLOW, "i386 ABI: getpid is allowed");
	tap_ok(evaluate(i386, I386_KEYCTL, 0, 0) == ERRNO(EPERM), "i386 ABI: keyctl is EPERM");
	tap_ok(evaluate(i386, I386_BPF, 0, 0) == ERRNO(EPERM), "i386 ABI: bpf is EPERM");
	tap_ok(evaluate(i386, I386_MOUNT, 0, 0) == ERRNO(EPERM), "i386 ABI: mount is EPERM");
	tap_ok(evaluate(i386, I386_UNSHARE, CLONE_NEWUSER, 0) == ERRNO(EPERM), "i386 ABI: unshare is EPERM");
	tap_ok(evaluate(i386, I386_CLONE, CLONE_NEWUSER, 0) == ERRNO(EPERM),
	       "i386 ABI: clone with CLONE_NEWUSER is EPERM");
	tap_ok(evaluate(i386, I386_CLONE, SIGCHLD, 0) == SECCOMP_RET_ALLOW, "i386 ABI: a plain clone is allowed");
	tap_ok(evaluate(i386, I386_SOCKET, 40, 0) == ERRNO(EPERM), "i386 ABI: socket(AF_VSOCK) is EPERM");
	tap_ok(evaluate(i386, I386_IOCTL, 0, TIOCSTI) == ERRNO(EPERM), "i386 ABI: ioctl TIOCSTI is EPERM");
	tap_ok(evaluate(i386, 1000, 0, 0) == ERRNO(ENOSYS), "i386 ABI: an unknown syscall is ENOSYS");
	tap_ok(evaluate(x86_64, SYS_keyctl, 0, 0) == ERRNO(EPERM), "x86_64: keyctl is EPERM (BPF view)");
	tap_ok(evaluate(x86_64, 0x40000000 | 250, 0, 0) == ERRNO(EPERM), "x32 ABI: keyctl is EPERM (BPF view)");
	tap_ok(evaluate(x86_64, SYS_ioctl, 0, 0xffffffff00000000ULL | TIOCSTI) == ERRNO(EPERM),
	       "TIOCSTI with the high 32 bits set is still EPERM (CVE-2019-10063)");
	tap_ok(evaluate(x86_64, SYS_ioctl, 0, TCGETS) == SECCOMP_RET_ALLOW, "an ordinary ioctl is allowed");
	uint32_t foreign = evaluate(AUDIT_ARCH_AARCH64, 172, 0, 0);
	tap_ok((foreign & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_KILL_PROCESS,
	       "a foreign architecture (aarch64 through binfmt) is killed");
}

/* ---- the filter loaded for real */

static long try_in_child(int which);

static void test_live(void)
{
	struct {
		const char *name;
		long want;
	} cases[] = {
		{"getpid is allowed", 0},
		{"keyctl is EPERM (Docker default)", -EPERM},
		{"an unknown syscall number is ENOSYS so libcs fall back", -ENOSYS},
		{"clone3 is ENOSYS: its flags cannot be inspected", -ENOSYS},
		{"unshare(CLONE_NEWUSER) is EPERM", -EPERM},
		{"clone(CLONE_NEWUSER) is EPERM", -EPERM},
		{"socket(AF_VSOCK) is EPERM", -EPERM},
		{"socket(AF_ALG) is EPERM", -EPERM},
		{"socket(AF_VSOCK) with high bits set is EPERM", -EPERM},
		{"socket(AF_INET) is allowed", 0},
		{"ioctl TIOCSTI with high bits set is EPERM (not ENOTTY: the filter answered)", -EPERM},
		{"personality(READ_IMPLIES_EXEC) is EPERM", -EPERM},
		{"personality(0xffffffff) (the query) is allowed", 0},
		{"x32 keyctl is EPERM", -EPERM},
		{"mount is EPERM", -EPERM},
		{"bpf is EPERM", -EPERM},
		{"io_uring_setup is EPERM (removed from Docker's profile)", -EPERM},
		{"a plain fork is allowed", 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		long got = try_in_child((int)i);
		tap_ok(got == cases[i].want, "live filter: %s", cases[i].name);
		if (got != cases[i].want)
			tap_diag("got %ld", got);
	}
}

static long attempt(int which)
{
#define R(x) ((x) < 0 ? -errno : 0)
	int p[2];
	switch (which) {
	case 0: return R(syscall(SYS_getpid));
	case 1: return R(syscall(SYS_keyctl, 1, 0, 0, 0, 0));
	case 2: return R(syscall(1000));
	case 3: {
		uint64_t args[11] = {0};
		args[4] = SIGCHLD;
		long r = syscall(SYS_clone3, args, sizeof(args));
		if (r == 0)
			_exit(0);
		return R(r);
	}
	case 4: return R(unshare(CLONE_NEWUSER));
	case 5: {
		long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
		if (r == 0)
			_exit(0);
		return R(r);
	}
	case 6: return R(socket(40, SOCK_STREAM, 0));
	case 7: return R(socket(38, SOCK_SEQPACKET, 0));
	case 8: return R(syscall(SYS_socket, 0x100000000L | 40, SOCK_STREAM, 0));
	case 9: return R(socket(AF_INET, SOCK_STREAM, 0));
	case 10:
		if (pipe(p) < 0)
			return -999;
		return R(syscall(SYS_ioctl, p[0], 0x100000000UL | TIOCSTI, "x"));
	case 11: return R(personality(PER_LINUX | READ_IMPLIES_EXEC));
	case 12: return R(personality(0xffffffff));
	case 13: return R(syscall(0x40000000L | 250, 1, 0, 0, 0, 0));
	case 14: return R(syscall(SYS_mount, "none", "/", "tmpfs", 0, 0));
	case 15: return R(syscall(SYS_bpf, 0, 0, 0));
	case 16: return R(syscall(SYS_io_uring_setup, 1, 0));
	case 17: {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		return R(pid);
	}
	}
	return -999;
#undef R
}

static long try_in_child(int which)
{
	int p[2];
	if (pipe(p) < 0)
		return -998;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		long r = -997;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && filter_load(NULL) == 0)
			r = attempt(which);
		(void)!write(p[1], &r, sizeof(r));
		_exit(0);
	}
	close(p[1]);
	long r = -996;
	(void)!read(p[0], &r, sizeof(r));
	close(p[0]);
	waitpid(pid, NULL, 0);
	return r;
}

int main(void)
{
	test_bpf();
	test_live();
	return tap_done();
}
