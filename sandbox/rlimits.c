/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resource limits of a step. Inside the build namespace even uid 0 lacks
 * CAP_SYS_RESOURCE over the host, so a limit can only go down: every value is clamped
 * to the caller's hard limit instead of failing with EPERM.
 */
#include <sys/resource.h>

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

int rlimits_apply(const struct sandbox_rlimits *r, struct molt_error **err)
{
	int ret = apply(RLIMIT_NPROC, "process", r->nproc, DEFAULT_NPROC, err);
	if (ret == 0)
		ret = apply(RLIMIT_NOFILE, "open file", r->nofile, DEFAULT_NOFILE, err);
	if (ret == 0)
		ret = apply(RLIMIT_AS, "address space", r->as, RLIM_INFINITY, err);
	return ret;
}
