/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcurl, loaded on first use instead of linked: with its TLS, Kerberos, LDAP, SSH, …
 * dependencies it would cost every molt start several milliseconds, and only ADD of a
 * URL and the registry client (registry_*.c) talk HTTP. Same scheme as lazy_crypto.c
 * (lib/lazylib.h):
 * the curl functions molt calls are defined here with libcurl's prototypes and forward
 * to the real ones, resolved once from dlopen(MOLT_LIBCURL_SONAME), so callers keep
 * curl's own compile-time option type checks. Without the library curl_easy_init()
 * returns NULL and lazy_curl_failure() says why.
 */
#include <curl/curl.h>
#include "../lib/lazylib.h"
#include "layers_int.h"

#ifndef MOLT_LIBCURL_SONAME
/* The Makefile passes the SONAME of the libcurl found at build time. */
#define MOLT_LIBCURL_SONAME "libcurl.so"
#endif

/* F(return type, name, (parameters), (arguments), value when not loaded) */
#define CURL_FUNCS(F)                                                                              \
	F(CURL *, curl_easy_init, (void), (), NULL)                                                \
	F(CURLcode, curl_easy_perform, (CURL * c), (c), CURLE_FAILED_INIT)                         \
	F(void, curl_easy_reset, (CURL * c), (c), (void)0)                                         \
	F(const char *, curl_easy_strerror, (CURLcode e), (e), "libcurl is not loaded")            \
	F(struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *s), (l, s),  \
	  NULL)

enum {
	CURL_FUNCS(LAZYLIB_INDEX) IDX_curl_easy_setopt,
	IDX_curl_easy_getinfo,
	IDX_curl_easy_cleanup,
	IDX_curl_slist_free_all,
	IDX_curl_global_init,
	N_FUNCS
};
static const char *const names[N_FUNCS] = {CURL_FUNCS(LAZYLIB_NAME) "curl_easy_setopt",
					   "curl_easy_getinfo", "curl_easy_cleanup",
					   "curl_slist_free_all", "curl_global_init"};
static void *fns[N_FUNCS];

/*
 * curl_global_init is not thread-safe in every libcurl build; here it runs once,
 * before any thread of the registry client has a handle.
 */
static bool global_init(char *why, size_t why_len)
{
	if (LAZYLIB_REAL(curl_global_init)(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		return true;
	snprintf(why, why_len, "initialise the shared library '%s'", MOLT_LIBCURL_SONAME);
	return false;
}

LAZYLIB_LOADER(MOLT_LIBCURL_SONAME, global_init)
CURL_FUNCS(LAZYLIB_WRAP)

/*
 * The variadic two: an option's number says the type of its argument (curl.h's
 * CURLOPTTYPE_* bases), and every CURLINFO argument is a pointer, so each is passed on
 * exactly as libcurl reads it.
 */
CURLcode(curl_easy_setopt)(CURL *c, CURLoption o, ...)
{
	if (!loaded())
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, o);
	CURLcode r;
	if (o < CURLOPTTYPE_OBJECTPOINT)
		r = LAZYLIB_REAL(curl_easy_setopt)(c, o, va_arg(ap, long));
	else if (o >= CURLOPTTYPE_OFF_T && o < CURLOPTTYPE_BLOB)
		r = LAZYLIB_REAL(curl_easy_setopt)(c, o, va_arg(ap, curl_off_t));
	else
		r = LAZYLIB_REAL(curl_easy_setopt)(c, o, va_arg(ap, void *));
	va_end(ap);
	return r;
}

CURLcode(curl_easy_getinfo)(CURL *c, CURLINFO info, ...)
{
	if (!loaded())
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, info);
	CURLcode r = LAZYLIB_REAL(curl_easy_getinfo)(c, info, va_arg(ap, void *));
	va_end(ap);
	return r;
}

void curl_easy_cleanup(CURL *c)
{
	if (c && loaded())
		LAZYLIB_REAL(curl_easy_cleanup)(c);
}

void curl_slist_free_all(struct curl_slist *l)
{
	if (l && loaded())
		LAZYLIB_REAL(curl_slist_free_all)(l);
}

const char *lazy_curl_failure(void)
{
	return loaded() ? NULL : lazylib_why;
}
