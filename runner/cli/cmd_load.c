/* SPDX-License-Identifier: Apache-2.0 */
/* molt load -i FILE|DIR: a docker save tar, an OCI archive or an OCI layout directory. */
#include <string.h>

#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
#include "cli.h"

const struct cli_option cmd_load_options[] = {
	{'i', "input", "FILE|DIR", false, "what to load"},
	CLI_OPT_MAX_UNPACK,
	{0, NULL, NULL, false, NULL},
};

int cmd_load(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	struct cli_args a;
	if (cli_parse_args(argv[0], cmd_load_options, argc, argv, NULL, &a, err) < 0)
		return molt_error_pass(err);
	const char *input = cli_args_get(&a, "input", NULL);
	const char *max_unpack = cli_args_get(&a, "max-unpack", NULL);
	const char *extra = a.n_operands ? a.operands[0] : NULL;
	cli_args_done(&a);
	if (extra)
		return cli_usage_error(err, argv[0], "unexpected argument '%s'", extra);
	if (max_unpack && cli_set_max_unpack(argv[0], max_unpack, err) < 0)
		return molt_error_pass(err);
	if (!input)
		return cli_usage_error(err, argv[0], "-i FILE|DIR is required");
	int r = sandbox_enter_build_namespace(NULL, err);
	if (r < 0)
		return r;
	_cleanup_store_ struct layer_store *s = NULL;
	_cleanup_strv_ char **names = NULL;
	r = layer_store_open(cli_store_root(g), &s, err);
	if (r == 0)
		r = layer_store_load(s, input, &names, err);
	if (r < 0)
		return r;
	for (size_t i = 0; names[i]; i++)
		printf("Loaded image%s: %s\n", digest_is_valid(names[i]) ? " ID" : "", names[i]);
	return 0;
}
