/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command's environment, built from scratch: nothing of molt's own environment
 * (the caller's tokens, home, user name) may reach a step or a layer.
 */
#include <string.h>

#include "sandbox_int.h"

/* Docker's default PATH (moby oci/defaults, BuildKit's too). */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Sets K=V in *env, replacing an existing K. */
static void env_set(char ***env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
	for (char **p = *env; p && *p; p++) {
		if (!strncmp(*p, kv, klen) && (*p)[klen] == '=') {
			free(*p);
			*p = eq ? xstrdup(kv) : xasprintf("%s=", kv);
			return;
		}
	}
	strv_push_take(env, eq ? xstrdup(kv) : xasprintf("%s=", kv));
}

char **sandbox_env_build(char *const *extra, const char *hostname, const char *home, bool tty)
{
	char **env = NULL;
	strv_push(&env, "PATH=" DEFAULT_PATH);
	strv_push_take(&env, xasprintf("HOSTNAME=%s", hostname ? hostname : "molt"));
	strv_push_take(&env, xasprintf("HOME=%s", home && *home ? home : "/"));
	if (tty)
		strv_push(&env, "TERM=xterm");
	for (char *const *p = extra; p && *p; p++)
		if (**p && **p != '=')
			env_set(&env, *p);
	return env;
}
