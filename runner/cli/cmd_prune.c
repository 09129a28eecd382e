/* SPDX-License-Identifier: Apache-2.0 */
/*
 * molt prune [--all]: remove what no image needs, or everything.
 *
 * The build cache is kept by a plain prune: garbage collection counts the layers
 * cache entries reference as used (layers/cache_index.c), as `docker image prune`
 * leaves the build cache to `docker builder prune`. --all removes the whole store,
 * the cache with it.
 */
#include <string.h>

#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
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
	r = cli_store_open(g, false, &s, err);
	if (r == 0)
		r = layer_store_gc(s, true, &removed, err);
	if (r < 0)
		return molt_error_wrap(err, "prune");
	printf("removed %zu unused blob%s and unpacked layer%s\n", removed, removed == 1 ? "" : "s",
	       removed == 1 ? "" : "s");
	char **blobs = NULL, **diffs = NULL;
	size_t n_cached = 0;
	_cleanup_error_ struct molt_error *e2 = NULL;
	if (cache_index_mark(s, &blobs, &diffs, &n_cached, &e2) == 0 && n_cached)
		printf("kept %zu build cache entr%s and %zu cached layer%s ('molt prune --all' "
		       "removes them)\n",
		       n_cached, n_cached == 1 ? "y" : "ies", strv_len(blobs),
		       strv_len(blobs) == 1 ? "" : "s");
	strv_free(blobs);
	strv_free(diffs);
	return 0;
}
