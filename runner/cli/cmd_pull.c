/* SPDX-License-Identifier: Apache-2.0 */
/* molt pull [--platform P] [--tls-verify=false] [-q] REF, and the registry options
 * pull, push and build share. */
#include <string.h>

#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
#include "cli.h"

/* The value of --NAME VALUE or --NAME=VALUE at argv[*i]; NULL when argv[*i] is not it. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

int cli_registry_opt(const char *cmd, int argc, char **argv, int *i, struct registry_opts *o,
		     struct molt_error **err)
{
	const char *a = argv[*i];
	bool missing = false;
	const char *v;
	if (!strcmp(a, "--tls-verify") || !strcmp(a, "--tls-verify=true")) {
		o->tls_verify = true;
	} else if (!strcmp(a, "--tls-verify=false")) {
		o->tls_verify = false;
	} else if (str_startswith(a, "--tls-verify=")) {
		return cli_usage_error(err, cmd, "--tls-verify takes true or false, not '%s'",
				       a + strlen("--tls-verify="));
	} else if ((v = opt_value(argc, argv, i, "--platform", &missing))) {
		o->platform = v;
	} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
		o->quiet = true;
	} else if (missing) {
		return cli_usage_error(err, cmd, "'%s' needs a value", a);
	} else {
		return 0;
	}
	return 1;
}

int cmd_pull(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	struct registry_opts o = {.tls_verify = true};
	const char *ref = NULL;
	for (int i = 1; i < argc; i++) {
		int m = cli_registry_opt(argv[0], argc, argv, &i, &o, err);
		if (m < 0)
			return m;
		if (m)
			continue;
		if (argv[i][0] == '-' || ref)
			return cli_usage_error(err, argv[0], "unexpected argument '%s'", argv[i]);
		ref = argv[i];
	}
	if (!ref)
		return cli_usage_error(err, argv[0], "an image reference is required");
	if (molt_log_level == MOLT_LOG_QUIET)
		o.quiet = true;
	int r = sandbox_enter_build_namespace(NULL, err);
	if (r < 0)
		return r;
	_cleanup_store_ struct layer_store *s = NULL;
	char digest[DIGEST_STR_LEN];
	r = layer_store_open(cli_store_root(g), &s, err);
	if (r == 0)
		r = registry_pull(s, ref, &o, digest, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *name = NULL;
	struct molt_error *e = NULL;
	if (image_ref_normalize(ref, &name, &e) < 0)
		molt_error_free(e);
	if (!o.quiet)
		fprintf(stderr, "Digest: %s\n", digest);
	printf("%s\n", name ? name : ref);
	return 0;
}
