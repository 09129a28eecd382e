/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading the seccomp profile (seccomp_profile.c says what it allows and why).
 *
 * The three filters do not depend on anything known only at run time, yet building
 * them with libseccomp cost ~40 ms per sandbox (every syscall name of three ABIs is
 * resolved). So the build compiles them once: sandbox/gen/seccomp_gen.c writes the
 * classic BPF programs to the header named by MOLT_SECCOMP_BPF_H, and loading is
 * three seccomp(2) calls. tests/unit/test_seccomp.c checks those programs are
 * byte-identical to what libseccomp builds now, so a stale header fails the tests.
 * A compile without that header (the fuzz targets, built outside the Makefile) falls
 * back to building the programs with libseccomp here: same filters, slower.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_int.h"

struct filter_prog {
	const struct sock_filter *insns;
	size_t n;
};

#ifdef MOLT_SECCOMP_BPF_H
/* Defines `static const struct filter_prog filter_progs[FILTER_COUNT]`. */
#include MOLT_SECCOMP_BPF_H
_Static_assert(ARRAY_SIZE(filter_progs) == FILTER_COUNT, "the generated seccomp header is stale");
#endif

int filter_compiled(size_t index, const struct sock_filter **ret_insns, size_t *ret_n)
{
#ifdef MOLT_SECCOMP_BPF_H
	if (index >= FILTER_COUNT)
		return -EINVAL;
	*ret_insns = filter_progs[index].insns;
	*ret_n = filter_progs[index].n;
	return 0;
#else
	(void)index, (void)ret_insns, (void)ret_n;
	return -ENOENT;
#endif
}

/* The compiled program, or one built now (then *ret_owned holds it for the caller to free). */
static int program(size_t index, struct sock_fprog *ret, struct sock_filter **ret_owned,
		   struct molt_error **err)
{
	const struct sock_filter *insns = NULL;
	struct sock_filter *built = NULL;
	size_t n = 0;
	if (filter_compiled(index, &insns, &n) < 0) {
		int r = filter_build_bpf(index, &built, &n, err);
		if (r < 0)
			return r;
		insns = built;
	}
	/* The kernel refuses longer programs (and sock_fprog.len is 16 bits). */
	if (n == 0 || n > BPF_MAXINSNS) {
		free(built);
		return molt_error_setx(err, E2BIG, "seccomp filter %zu has %zu instructions", index,
				       n);
	}
	/* The kernel copies the program and never writes to it. */
	*ret = (struct sock_fprog){.len = (unsigned short)n, .filter = (struct sock_filter *)insns};
	*ret_owned = built;
	return 0;
}

int filter_load(struct molt_error **err)
{
	/* All three first: once A is loaded, building one may need syscalls A denies. */
	struct sock_fprog prog[FILTER_COUNT];
	struct sock_filter *owned[FILTER_COUNT] = {NULL};
	int r = 0;
	for (size_t i = 0; i < FILTER_COUNT && r == 0; i++)
		r = program(i, &prog[i], &owned[i], err);
	/*
	 * Without no_new_privs an unprivileged caller may not load a filter, and a setuid
	 * binary could then run with it; libseccomp's seccomp_load() set it too.
	 */
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = molt_error_set(err, errno, "set no_new_privs");
	/* In load order: of two ERRNO answers the newest filter wins (seccomp_profile.c). */
	for (size_t i = 0; i < FILTER_COUNT && r == 0; i++)
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog[i]) < 0)
			r = molt_error_set(err, errno, "load the seccomp filter");
	for (size_t i = 0; i < FILTER_COUNT; i++)
		free(owned[i]);
	return r;
}
