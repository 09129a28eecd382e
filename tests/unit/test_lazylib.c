/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared libraries loaded on first use (lib/lazylib.c, layers/lazy_archive.c,
 * layers/lazy_crypto.c): not mapped at start, mapped by the first call, and a library
 * that cannot be loaded fails as one clear error instead of a crash.
 */
#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "../../lib/base.h"
#include "tap.h"

/* Whether a file whose name contains `name` is mapped into this process. */
static bool mapped(const char *name)
{
	_cleanup_free_ char *maps = NULL;
	if (read_file("/proc/self/maps", 64 << 20, &maps, NULL, NULL) < 0)
		return true; /* fail the "not mapped" cases rather than pass them blindly */
	return strstr(maps, name) != NULL;
}

static void test_loaded_on_first_use(void)
{
	tap_ok(!mapped("libarchive.so"), "libarchive is not loaded at start");
	tap_ok(!mapped("libcrypto.so"), "libcrypto is not loaded at start");
	tap_ok(!mapped("libcurl.so"), "libcurl is not loaded at start");

	struct archive *a = archive_write_new();
	tap_ok(a != NULL && mapped("libarchive.so"), "the first libarchive call loads it");
	tap_ok(archive_write_set_format_pax_restricted(a) == ARCHIVE_OK,
	       "a call through the loaded libarchive works");
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "a/b");
	tap_str_eq(archive_entry_pathname(e), "a/b", "entry setters and getters forward both ways");
	archive_entry_free(e);
	archive_write_free(a);

	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		  EVP_DigestUpdate(ctx, "abc", 3) == 1 && EVP_DigestFinal_ex(ctx, md, &n) == 1;
	EVP_MD_CTX_free(ctx);
	/* sha256("abc") starts ba7816bf (FIPS 180-2, appendix B.1) */
	tap_ok(ok && n == 32 && md[0] == 0xba && md[1] == 0x78 && md[2] == 0x16 && md[3] == 0xbf,
	       "libcrypto loads on first use and sha256('abc') is right");
	tap_ok(mapped("libcrypto.so"), "the first libcrypto call loads it");
}

static void test_missing_library(void)
{
	const char *names[] = {"archive_read_new"};
	void *fns[1] = {NULL};
	char why[256] = "";
	int r = lazylib_open("libmolt-no-such-library.so.7", names, fns, 1, why, sizeof(why));
	tap_ok(r == -ELIBACC, "a library that is not installed: -ELIBACC");
	tap_ok(strstr(why, "load the shared library 'libmolt-no-such-library.so.7'") != NULL,
	       "the error names the library");
	if (!strstr(why, "libmolt-no-such-library.so.7"))
		tap_diag("why: %s", why);
	tap_ok(fns[0] == NULL, "nothing is resolved from a missing library");
}

static void test_all_or_nothing(void)
{
	const char *names[] = {"getpid", "molt_no_such_function"};
	void *fns[2] = {NULL, NULL};
	char why[256] = "";
	int r = lazylib_open("libc.so.6", names, fns, 2, why, sizeof(why));
	tap_ok(r == -ELIBACC && fns[0] == NULL && fns[1] == NULL,
	       "one missing function fails the whole library (no half-loaded table)");
	tap_ok(strstr(why, "no function 'molt_no_such_function'") != NULL,
	       "the error names the missing function");
	const char *ok_names[] = {"getpid"};
	void *ok_fns[1] = {NULL};
	tap_ok(lazylib_open("libc.so.6", ok_names, ok_fns, 1, why, sizeof(why)) == 0 &&
		       ok_fns[0] != NULL,
	       "a library with every function resolves them");
}

int main(void)
{
	test_loaded_on_first_use();
	test_missing_library();
	test_all_or_nothing();
	return tap_done();
}
