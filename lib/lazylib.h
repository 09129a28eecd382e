/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/lazylib.h: the scheme the lazily loaded libraries share (layers/lazy_archive.c,
 * lazy_crypto.c, lazy_curl.c). Each such file lists the functions molt calls as an
 * X-macro F(return type, name, (parameters), (arguments), value when not loaded) — V(name,
 * (parameters), (arguments)) for one returning void — and defines them with the library's
 * own prototypes, so the compiler checks them against its headers; each forwards to
 * the real function, resolved once with lazylib_open() (lib/base.h). A file:
 *
 *   enum { FUNCS(LAZYLIB_INDEX) IDX_extra, N_FUNCS };
 *   static const char *const names[N_FUNCS] = {FUNCS(LAZYLIB_NAME) "extra"};
 *   static void *fns[N_FUNCS];
 *   LAZYLIB_LOADER(SONAME, after_load)
 *   FUNCS(LAZYLIB_WRAP)
 *
 * LAZYLIB_LOADER defines loaded() (the library is there: loads it on the first call,
 * once per process) and lazylib_why (why it is not).
 */
#ifndef MOLT_LIB_LAZYLIB_H
#define MOLT_LIB_LAZYLIB_H

#include <pthread.h>

#include "base.h"

#define LAZYLIB_INDEX(ret, name, params, args, fail) IDX_##name,
#define LAZYLIB_VINDEX(name, params, args) IDX_##name,
#define LAZYLIB_NAME(ret, name, params, args, fail) #name,
#define LAZYLIB_VNAME(name, params, args) #name,
#define LAZYLIB_REAL(name) ((__typeof__(&(name)))fns[IDX_##name])

/* after_load(why, why_len): NULL, or a step run once after loading (false: it failed). */
#define LAZYLIB_LOADER(soname, after_load)                                                         \
	static pthread_once_t lazylib_once = PTHREAD_ONCE_INIT;                                    \
	static bool lazylib_ok;                                                                    \
	static char lazylib_why[512];                                                              \
	static void lazylib_load(void)                                                             \
	{                                                                                          \
		bool (*after)(char *, size_t) = after_load;                                        \
		lazylib_ok = lazylib_open(soname, names, fns, N_FUNCS, lazylib_why,                \
					  sizeof(lazylib_why)) == 0 &&                             \
			     (!after || after(lazylib_why, sizeof(lazylib_why)));                  \
	}                                                                                          \
	static inline bool loaded(void)                                                            \
	{                                                                                          \
		pthread_once(&lazylib_once, lazylib_load);                                         \
		return lazylib_ok;                                                                 \
	}

#define LAZYLIB_WRAP(ret, name, params, args, fail)                                                \
	ret name params                                                                            \
	{                                                                                          \
		if (loaded())                                                                      \
			return LAZYLIB_REAL(name) args;                                            \
		return fail;                                                                       \
	}
#define LAZYLIB_VWRAP(name, params, args)                                                          \
	void name params                                                                           \
	{                                                                                          \
		if (loaded())                                                                      \
			LAZYLIB_REAL(name) args;                                                   \
	}

#endif
