/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command's environment, built from scratch: nothing of molt's own environment
 * (the caller's tokens, home, user name) may reach a step or a layer.
 */
#include <string.h>

#include "sandbox_int.h"

/* Docker's default PATH (moby oci/defaults, BuildKit's too). */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

char **sandbox_env_build(char *const *extra, const char *hostname, const char *home, bool tty)
{
	char **env = NULL;
	strv_push(&env, "PATH=" DEFAULT_PATH);
	strv_push_take(&env, xasprintf("HOSTNAME=%s", hostname ? hostname : "molt"));
	strv_push_take(&env, xasprintf("HOME=%s", home && *home ? home : "/"));
	if (tty)
		strv_push(&env, "TERM=xterm");
	size_t n = strv_len(extra), k = 0;
	_cleanup_free_ char **named = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		if (extra[i][0] && extra[i][0] != '=')
			named[k++] = extra[i];
	strv_env_merge(&env, named, true);
	return env;
}
