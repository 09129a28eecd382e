/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The last step in the command child: find argv[0] in the sandbox's PATH and exec it.
 * glibc's execvpe() would search the PATH of molt's own environment, not the
 * sandbox's, and cannot tell "not found" (127) from "not executable" (126).
 */
#include <limits.h>
#include <string.h>

#include "sandbox_int.h"

static const char *env_get(char *const *env, const char *key)
{
	size_t n = strlen(key);
	for (char *const *p = env; p && *p; p++)
		if (!strncmp(*p, key, n) && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

/* Like the shell: ENOENT/ENOTDIR mean "try the next directory"; the rest is 126. */
static bool is_not_found(int e)
{
	return e == ENOENT || e == ENOTDIR || e == ELOOP || e == ENAMETOOLONG;
}

int exec_search(char *const *argv, char *const *env, int *exit_code)
{
	if (!argv || !argv[0] || !argv[0][0]) {
		*exit_code = 127;
		return -ENOENT;
	}
	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, env);
		int e = errno;
		*exit_code = is_not_found(e) ? 127 : 126;
		return -e;
	}
	const char *path = env_get(env, "PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	int first_other = 0;
	const char *p = path;
	for (;;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		char full[PATH_MAX];
		/* An empty PATH element means the current directory (POSIX). */
		int n = len ? snprintf(full, sizeof(full), "%.*s/%s", (int)len, p, argv[0])
			    : snprintf(full, sizeof(full), "%s", argv[0]);
		if (n > 0 && (size_t)n < sizeof(full)) {
			execve(full, argv, env);
			if (!is_not_found(errno) && !first_other)
				first_other = errno;
		}
		if (!colon)
			break;
		p = colon + 1;
	}
	*exit_code = first_other ? 126 : 127;
	return first_other ? -first_other : -ENOENT;
}
