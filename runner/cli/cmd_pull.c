/* SPDX-License-Identifier: Apache-2.0 */
/* molt pull [--platform P] [--tls-verify=false] [-q] REF, and the registry options
 * pull, push and login share (cli_registry_set). */
#include <string.h>

#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
#include "cli.h"

static int registry_set(const char *cmd, const struct cli_option *opt, const char *v,
			struct registry_opts *o, struct molt_error **err)
{
	if (!strcmp(opt->name, "tls-verify")) {
		if (v && strcmp(v, "true") && strcmp(v, "false"))
			return cli_usage_error(err, cmd, "--tls-verify takes true or false, not '%s'",
					       v);
		o->tls_verify = !v || !strcmp(v, "true");
	} else if (!strcmp(opt->name, "platform")) {
		o->platform = v;
	} else if (!strcmp(opt->name, "quiet")) {
		o->quiet = true;
	}
	return 0;
}

static int registry_option(void *userdata, const struct cli_option *opt, const char *v,
			   struct molt_error **err)
{
	struct cli_registry_args *a = userdata;
	if (!strcmp(opt->name, "username"))
		a->user = v;
	else if (!strcmp(opt->name, "password-stdin"))
		a->from_stdin = true;
	else if (!strcmp(opt->name, "compression"))
		a->compression = v;
	else if (!strcmp(opt->name, "compression-level"))
		a->compression_level = v;
	else if (!strcmp(opt->name, "password"))
		return cli_usage_error(err, a->cmd,
				       "a password on the command line is visible to every user: "
				       "use --password-stdin");
	else
		return registry_set(a->cmd, opt, v, &a->o, err);
	return 0;
}

static int registry_operand(void *userdata, const char *arg, struct molt_error **err)
{
	struct cli_registry_args *a = userdata;
	if (a->n_args >= a->max_args)
		return cli_usage_error(err, a->cmd, "unexpected argument '%s'", arg);
	a->args[a->n_args++] = arg;
	return 0;
}

int cli_registry_parse(const struct cli_option *opts, size_t max_args, int argc, char **argv,
		       struct cli_registry_args *ret, struct molt_error **err)
{
	static const struct cli_parse_fns fns = {registry_option, registry_operand};
	*ret = (struct cli_registry_args){.cmd = argv[0], .o = {.tls_verify = true},
					  .max_args = max_args};
	int r = cli_parse(argv[0], opts, argc, argv, &fns, ret, err);
	if (r == 0 && molt_log_level == MOLT_LOG_QUIET)
		ret->o.quiet = true;
	return r;
}

const struct cli_option cmd_pull_options[] = {
	{0, "platform", "OS/ARCH[/VARIANT]", false,
	 "the entry of a multi-platform image to take\n"
	 "(default linux/<this machine's architecture>)"},
	CLI_OPT_TLS_VERIFY,
	CLI_OPT_QUIET,
	{0, NULL, NULL, false, NULL},
};

int cmd_pull(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	struct cli_registry_args a;
	int r = cli_registry_parse(cmd_pull_options, 1, argc, argv, &a, err);
	if (r < 0)
		return r;
	struct registry_opts o = a.o;
	const char *ref = a.args[0];
	if (!ref)
		return cli_usage_error(err, argv[0], "an image reference is required");
	_cleanup_store_ struct layer_store *s = NULL;
	char digest[DIGEST_STR_LEN];
	r = cli_store_open(g, true, &s, err);
	if (r == 0)
		r = registry_pull(s, ref, &o, digest, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *name = NULL;
	struct molt_error *e = NULL;
	if (image_ref_normalize(ref, &name, &e) < 0)
		molt_error_drop(&e, "pull: the name is reported as given");
	if (!o.quiet)
		fprintf(stderr, "Digest: %s\n", digest);
	printf("%s\n", name ? name : ref);
	return 0;
}
