/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for what a registry sends that the client parses by hand
 * (layers/registry_parse.c): WWW-Authenticate challenges, Retry-After, redirect and
 * realm URLs, and the index a platform is picked from. Besides sanitizer reports it
 * checks the invariants the client relies on: a parsed challenge has a scheme, an
 * origin is an http(s) URL without userinfo, an escaped value holds only unreserved
 * characters and %XX, a picked index entry is in range and of the wanted platform.
 */
#include <ctype.h>
#include <string.h>

#include "../../layers/registry_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void strings(const char *s)
{
	struct reg_challenge c = {0};
	if (reg_challenge_parse(s, &c) == 0 && c.kind == REG_AUTH_NONE)
		__builtin_trap();
	reg_challenge_done(&c);
	int ra = reg_retry_after(s, 1000000, 30);
	if (ra < -1 || ra > 30)
		__builtin_trap();
	char *o = reg_url_origin(s);
	if (o && ((strncmp(o, "http://", 7) && strncmp(o, "https://", 8)) || strchr(o, '@') ||
		  strchr(o + 8, '/')))
		__builtin_trap();
	free(o);
	char *q = reg_query_escape(s);
	for (const char *p = q; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-._~%", *p))
			__builtin_trap();
	free(q);
	(void)reg_token_ok(s);
	(void)reg_host_is_loopback(s);
	(void)reg_realm_trusted(s, s);
	(void)reg_realm_trusted("registry.example.com:5000", s);
}

static void index_pick(const char *s, size_t n)
{
	struct image_index idx = {0};
	struct molt_error *err = NULL;
	if (image_index_parse(s, n, &idx, &err) == 0) {
		int i = reg_index_pick(&idx, "linux", "amd64", NULL);
		if (i >= (int)idx.n_manifests ||
		    (i >= 0 && (!idx.manifests[i].platform_arch ||
				strcmp(idx.manifests[i].platform_arch, "amd64"))))
			__builtin_trap();
		(void)reg_index_pick(&idx, "linux", "arm", "v7");
		image_index_done(&idx);
	}
	molt_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	strings(s);
	index_pick((const char *)data, size);
	free(s);
	return 0;
}
