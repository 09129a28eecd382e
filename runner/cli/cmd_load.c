/* SPDX-License-Identifier: Apache-2.0 */
/* molt load -i FILE|DIR: a docker save tar, an OCI archive or an OCI layout directory. */
#include <string.h>

#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
#include "cli.h"

int cmd_load(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	const char *input = NULL;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-i") || !strcmp(argv[i], "--input")) && i + 1 < argc)
			input = argv[++i];
		else if (str_startswith(argv[i], "--input="))
			input = argv[i] + strlen("--input=");
		else if (!strcmp(argv[i], "--max-unpack") && i + 1 < argc) {
			if (cli_set_max_unpack(argv[0], argv[++i], err) < 0)
				return molt_error_pass(err);
		} else if (str_startswith(argv[i], "--max-unpack=")) {
			if (cli_set_max_unpack(argv[0], argv[i] + strlen("--max-unpack="), err) < 0)
				return molt_error_pass(err);
		}
		else
			return cli_usage_error(err, argv[0], "unexpected argument '%s'", argv[i]);
	}
	if (!input)
		return cli_usage_error(err, argv[0], "-i FILE|DIR is required");
	_cleanup_store_ struct layer_store *s = NULL;
	_cleanup_strv_ char **names = NULL;
	int r = cli_store_open(g, true, &s, err);
	if (r == 0)
		r = layer_store_load(s, input, &names, err);
	if (r < 0)
		return r;
	for (size_t i = 0; names[i]; i++)
		printf("Loaded image%s: %s\n", digest_is_valid(names[i]) ? " ID" : "", names[i]);
	return 0;
}
