/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/cli/build_compat.c: the `docker build` / `docker buildx build` flags that have
 * no work to do in molt, or that molt cannot honour here. A CI script passing them must
 * not die on "unknown option": each is either accepted where that is its honest meaning
 * (there is no daemon to send a context to, no intermediate container to remove, one
 * builder) or refused with what molt does instead. README.md's flag table lists them.
 */
#include <string.h>

#include "build_compat.h"

static const struct cli_option build_compat_options[] = {
	BUILD_COMPAT_OPTIONS,
	{0, NULL, NULL, false, NULL},
};

/* A refused flag: what it asked, why molt cannot, what to do (the table's help). */
static int refuse(const char *name, struct molt_error **err)
{
	for (const struct cli_option *o = build_compat_options; o->name; o++)
		if (!strcmp(o->name, name)) {
			_cleanup_free_ char *why = xstrdup(o->help);
			for (char *c = why; *c; c++)
				if (*c == '\n')
					*c = ' ';
			return cli_usage_error(err, "build", "--%s is not supported: %s", name,
					       str_startswith(why, "refused: ") ? why + 9 : why);
		}
	return molt_error_setx(err, EINVAL, "build: option '--%s' has no handler", name);
}

/* Whether value v of a comma-separated k=v list has key=want. */
static bool has_field(const char *v, const char *field)
{
	_cleanup_free_ char *copy = xstrdup(v);
	char *save = NULL;
	for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save))
		if (!strcmp(f, field))
			return true;
	return false;
}

int build_compat_option(const char *name, const char *v, struct molt_error **err)
{
	static const char *const ignored[] = {"builder", "compress", "disable-content-trust",
					      "force-rm", "rm", NULL};
	static const char *const refused[] = {"check", "cpu-period", "detach",
					      "cpu-quota", "cpu-shares", "cpuset-cpus",
					      "cpuset-mems", "memory-swap", "security-opt",
					      "squash", NULL};
	if (cli_one_of(name, ignored))
		return 0;
	if (cli_one_of(name, refused))
		return refuse(name, err);
	if (!strcmp(name, "allow")) {
		if (strcmp(v, "network.host"))
			return cli_usage_error(err, "build", "--allow '%s' is not supported: molt grants "
							     "RUN steps no privilege (network.host only)", v);
	} else if (!strcmp(name, "attest")) {
		if (!has_field(v, "disabled=true"))
			return cli_usage_error(err, "build", "--attest '%s' is not supported: molt makes "
							     "no attestations (type=…,disabled=true only)", v);
	} else if (!strcmp(name, "call")) {
		if (strcmp(v, "build"))
			return cli_usage_error(err, "build", "--call '%s' is not supported: molt only "
							     "builds (--print-plan prints the stages)", v);
	} else {
		return molt_error_setx(err, EINVAL, "build: option '--%s' has no handler", name);
	}
	return 0;
}
