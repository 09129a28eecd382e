/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared libraries opened on first use (see lazylib_open in base.h): libarchive,
 * libcurl and libcrypto, whose loading and relocation would otherwise cost every molt
 * start (`molt run`, `molt --version`) tens of milliseconds for code it may never call.
 */
#include <dlfcn.h>
#include <stdio.h>

#include "base.h"

int lazylib_open(const char *soname, const char *const *names, void **fns, size_t n, char *why,
		 size_t why_len)
{
	/* RTLD_LOCAL: neither it nor its dependencies interpose on anyone's symbols. */
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(why, why_len, "load the shared library '%s': %s", soname,
			 e ? e : "cannot open it");
		return -ELIBACC;
	}
	for (size_t i = 0; i < n; i++) {
		void *p = dlsym(h, names[i]);
		if (!p) {
			/* All or nothing: callers must not mix real and missing functions. */
			snprintf(why, why_len, "load the shared library '%s': no function '%s'",
				 soname, names[i]);
			for (size_t j = 0; j < n; j++)
				fns[j] = NULL;
			dlclose(h);
			return -ELIBACC;
		}
		fns[i] = p;
	}
	/* The handle stays open for the life of the process: fns point into it. */
	return 0;
}
