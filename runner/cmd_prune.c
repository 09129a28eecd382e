/* SPDX-License-Identifier: Apache-2.0 */
/* molt prune [--all]: remove what no image needs, or everything. */
#include <string.h>

#include "../layers/layers.h"
#include "../sandbox/sandbox.h"
#include "cli.h"

int cmd_prune(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	bool all = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--all") || !strcmp(argv[i], "-a"))
			all = true;
		else
			return cli_usage_error(err, argv[0], "unexpected argument '%s'", argv[i]);
	}
	/* Unpacked layers hold files owned by subuids: only root of the namespace may delete them. */
	int r = sandbox_enter_build_namespace(NULL, err);
	if (r < 0)
		return r;
	if (all) {
		r = layer_store_destroy(cli_store_root(g), err);
		if (r < 0)
			return molt_error_wrap(err, "prune --all");
		printf("removed the store '%s'\n", cli_store_root(g));
		return 0;
	}
	_cleanup_store_ struct layer_store *s = NULL;
	size_t removed = 0;
	r = layer_store_open(cli_store_root(g), &s, err);
	if (r == 0)
		r = layer_store_gc(s, true, &removed, err);
	if (r < 0)
		return molt_error_wrap(err, "prune");
	printf("removed %zu unused blob%s and unpacked layer%s\n", removed, removed == 1 ? "" : "s",
	       removed == 1 ? "" : "s");
	return 0;
}
