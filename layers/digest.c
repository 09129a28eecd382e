/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/digest.c: sha256 content digests ("sha256:<hex>") over OpenSSL's EVP API,
 * streaming so blobs are hashed while they are copied, never read twice.
 */
#include <openssl/evp.h>
#include <string.h>

#include "layers_int.h"

struct digester {
	EVP_MD_CTX *ctx;
	uint64_t size;
};

int digest_init(struct molt_error **err)
{
	const char *why = lazy_crypto_failure();
	if (why)
		return molt_error_setx(err, ELIBACC, "cannot compute sha256 digests: %s", why);
	return 0;
}

struct digester *digester_new(void)
{
	/* digest_init() succeeded first (layer_store_open calls it): a digester without
	 * libcrypto is a bug in molt, like running out of memory here. */
	if (lazy_crypto_failure()) {
		fputs("molt: sha256 used before digest_init() succeeded\n", stderr);
		abort();
	}
	struct digester *d = xcalloc(1, sizeof(*d));
	d->ctx = EVP_MD_CTX_new();
	/* Only allocation can fail here, and molt does not recover from that. */
	if (!d->ctx || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1) {
		fputs("molt: out of memory (sha256 context)\n", stderr);
		abort();
	}
	return d;
}

void digester_update(struct digester *d, const void *buf, size_t n)
{
	if (n == 0)
		return;
	EVP_DigestUpdate(d->ctx, buf, n);
	d->size += n;
}

uint64_t digester_size(const struct digester *d)
{
	return d->size;
}

void digester_final(struct digester *d, char ret[DIGEST_STR_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	static const char hex[] = "0123456789abcdef";
	EVP_DigestFinal_ex(d->ctx, md, &len);
	memcpy(ret, DIGEST_PREFIX, strlen(DIGEST_PREFIX));
	char *p = ret + strlen(DIGEST_PREFIX);
	for (unsigned int i = 0; i < len && i < 32; i++) {
		*p++ = hex[md[i] >> 4];
		*p++ = hex[md[i] & 15];
	}
	*p = '\0';
}

void digester_free(struct digester *d)
{
	if (!d)
		return;
	EVP_MD_CTX_free(d->ctx);
	free(d);
}

void digest_buffer(const void *buf, size_t n, char ret[DIGEST_STR_LEN])
{
	struct digester *d = digester_new();
	digester_update(d, buf, n);
	digester_final(d, ret);
	digester_free(d);
}

int digest_fd(int fd, char ret[DIGEST_STR_LEN], uint64_t *ret_size, struct molt_error **err)
{
	struct digester *d = digester_new();
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			digester_free(d);
			return molt_error_set(err, e, "read for sha256");
		}
		if (n == 0)
			break;
		digester_update(d, buf, (size_t)n);
	}
	if (ret_size)
		*ret_size = d->size;
	digester_final(d, ret);
	digester_free(d);
	return 0;
}

bool digest_is_valid(const char *s)
{
	if (!s || !str_startswith(s, DIGEST_PREFIX))
		return false;
	s += strlen(DIGEST_PREFIX);
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

const char *digest_hex(const char *digest)
{
	return str_startswith(digest, DIGEST_PREFIX) ? digest + strlen(DIGEST_PREFIX) : digest;
}
