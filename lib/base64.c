/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/base64.c: standard base64 (RFC 4648 §4), for registry credentials ("auth" in
 * auth.json, HTTP basic auth). Decoding is strict: anything that is not the alphabet or
 * trailing padding is refused, so a corrupt file is reported rather than misread.
 */
#include <string.h>

#include "base.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = xmalloc(((len + 2) / 3) * 4 + 1), *o = out;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;
	return p ? (int)(p - b64_alphabet) : -1;
}

int base64_decode(const char *s, size_t len, char **ret, size_t *ret_len)
{
	for (int pad = 0; pad < 2 && len && s[len - 1] == '='; pad++)
		len--;
	if (len % 4 == 1)
		return -EINVAL;
	char *out = xmalloc(len / 4 * 3 + 3), *o = out;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(s[i]);
		if (v < 0) {
			free(out);
			return -EINVAL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (char)((acc >> bits) & 0xff);
		}
	}
	*o = '\0';
	*ret_len = (size_t)(o - out);
	*ret = out;
	return 0;
}
