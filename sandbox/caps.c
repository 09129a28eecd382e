/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Capabilities: Docker's default 14 in the bounding, permitted and effective sets,
 * everything else dropped. The inheritable and ambient sets are left empty, as moby
 * does since CVE-2022-24769: an inheritable set would let a file's inheritable bits
 * hand capabilities to a non-root USER across exec. A non-root USER ends with empty
 * permitted/effective sets (the kernel clears them on setuid) and the 14 only in the
 * bounding set, exactly like `docker run --user`.
 */
#include <sys/capability.h>
#include <sys/prctl.h>

#include "sandbox_int.h"

static const cap_value_t default_caps[] = {
	CAP_CHOWN,	 CAP_DAC_OVERRIDE, CAP_FSETID,		 CAP_FOWNER,	CAP_MKNOD,
	CAP_NET_RAW,	 CAP_SETGID,	   CAP_SETUID,		 CAP_SETFCAP,	CAP_SETPCAP,
	CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,	 CAP_AUDIT_WRITE,
};

uint64_t sandbox_default_caps(void)
{
	uint64_t m = 0;
	for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
		m |= UINT64_C(1) << default_caps[i];
	return m;
}

int caps_apply_default(struct molt_error **err)
{
	uint64_t keep = sandbox_default_caps();
	/* cap_max_bits() is the running kernel's count, so new capabilities go too. */
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
		if (keep & (UINT64_C(1) << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return molt_error_set(err, errno, "drop capability %d from the bounding set",
					      (int)c);
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return molt_error_set(err, errno, "clear the ambient capabilities");
	cap_t caps = cap_init();
	if (!caps)
		return molt_error_set(err, errno, "allocate a capability set");
	int r = 0;
	if (cap_set_flag(caps, CAP_PERMITTED, ARRAY_SIZE(default_caps), default_caps, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, ARRAY_SIZE(default_caps), default_caps, CAP_SET) < 0 ||
	    cap_set_proc(caps) < 0)
		r = molt_error_set(err, errno, "set the sandbox's capabilities");
	cap_free(caps);
	return r;
}
