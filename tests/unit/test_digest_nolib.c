/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sha256 without libcrypto: layers/digest.c and layers/lazy_crypto.c built here with a
 * library name that does not exist, so digest_init() and the store report one clear
 * error instead of ending the process.
 */
#define MOLT_LIBCRYPTO_SONAME "libmolt-test-no-such-crypto.so.0"
#include "../../layers/digest.c"
#include "../../layers/lazy_crypto.c"

#include <string.h>

#include "tap.h"

int main(void)
{
	struct molt_error *err = NULL;
	int r = digest_init(&err);
	tap_ok(r == -ELIBACC, "digest_init returns -ELIBACC without libcrypto (got %d)", r);
	tap_ok(err && strstr(err->msg, "cannot compute sha256 digests: load the shared library "
					"'libmolt-test-no-such-crypto.so.0'"),
	       "the error names the library: %s", err ? err->msg : "(none)");
	molt_error_free(err);
	err = NULL;
	char dir[] = "/tmp/molt-test-nolib-XXXXXX";
	struct layer_store *s = NULL;
	r = mkdtemp(dir) ? layer_store_open(dir, &s, &err) : -errno;
	tap_ok(r == -ELIBACC && !s, "the store refuses to open without sha256 (got %d)", r);
	tap_ok(err && strstr(err->msg, "cannot compute sha256 digests"), "with the same error: %s",
	       err ? err->msg : "(none)");
	molt_error_free(err);
	rmdir(dir);
	return tap_done();
}
