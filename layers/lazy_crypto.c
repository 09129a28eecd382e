/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcrypto, loaded on first use instead of at start: relocating OpenSSL's 4.7 MB
 * costs every molt start ~5 ms, and `molt run` or `molt --version` never hash.
 * Same scheme as lazy_archive.c (lib/lazylib.h): the few EVP functions molt calls (sha256 only)
 * are defined here with OpenSSL's prototypes and forward to the real ones, resolved
 * once from dlopen(MOLT_LIBCRYPTO_SONAME). Without the library every call fails the
 * way OpenSSL reports failure (NULL, 0).
 */
#include <openssl/evp.h>
#include "../lib/lazylib.h"
#include "layers_int.h"

#ifndef MOLT_LIBCRYPTO_SONAME
/* The Makefile passes the SONAME of the libcrypto linked at build time. */
#define MOLT_LIBCRYPTO_SONAME "libcrypto.so"
#endif

/* F(return type, name, (parameters), (arguments), value when not loaded) */
#define CRYPTO_FUNCS(F)                                                                            \
	F(EVP_MD_CTX *, EVP_MD_CTX_new, (void), (), NULL)                                          \
	F(const EVP_MD *, EVP_sha256, (void), (), NULL)                                            \
	F(int, EVP_DigestInit_ex, (EVP_MD_CTX * ctx, const EVP_MD *type, ENGINE *impl),            \
	  (ctx, type, impl), 0)                                                                    \
	F(int, EVP_DigestUpdate, (EVP_MD_CTX * ctx, const void *d, size_t n), (ctx, d, n), 0)      \
	F(int, EVP_DigestFinal_ex, (EVP_MD_CTX * ctx, unsigned char *md, unsigned int *n),         \
	  (ctx, md, n), 0)

enum { CRYPTO_FUNCS(LAZYLIB_INDEX) IDX_EVP_MD_CTX_free, N_FUNCS };
static const char *const names[N_FUNCS] = {CRYPTO_FUNCS(LAZYLIB_NAME) "EVP_MD_CTX_free"};
static void *fns[N_FUNCS];
LAZYLIB_LOADER(MOLT_LIBCRYPTO_SONAME, NULL)
CRYPTO_FUNCS(LAZYLIB_WRAP)

void EVP_MD_CTX_free(EVP_MD_CTX *ctx)
{
	if (loaded())
		LAZYLIB_REAL(EVP_MD_CTX_free)(ctx);
}

const char *lazy_crypto_failure(void)
{
	return loaded() ? NULL : lazylib_why;
}
