/* SPDX-License-Identifier: Apache-2.0 */
/*
 * molt prune [--all]: remove what no image needs, or everything.
 *
 * The build cache is kept by a plain prune: garbage collection counts the layers
 * cache entries reference as used (layers/cache_index.c), as `docker image prune`
 * leaves the build cache to `docker builder prune`. --all removes the whole store,
 * the cache with it. --keep-storage SIZE and --filter until=DURATION (docker builder
 * prune's names; --keep-duration is BuildKit's GC policy name) remove cache entries
 * least recently used first (layers/cache_prune.c).
 */
#include <ctype.h>
#include <string.h>

#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
#include "cli.h"

/* docker's sizes (units.RAMInBytes): 10GB, 512m, 1.5g are binary multiples. */
static int parse_size(const char *v, int64_t *ret)
{
	char *end = NULL;
	errno = 0;
	double n = strtod(v, &end);
	if (!isdigit((unsigned char)*v) || errno || end == v || n < 0)
		return -EINVAL;
	static const char *const units[] = {"", "k", "m", "g", "t"};
	double mult = -1;
	for (size_t u = 0; u < ARRAY_SIZE(units) && mult < 0; u++) {
		_cleanup_free_ char *a = xasprintf("%s", units[u]), *b = xasprintf("%sb", units[u]),
				    *c = xasprintf("%sib", units[u]);
		if (!strcasecmp(end, a) || !strcasecmp(end, b) || (u && !strcasecmp(end, c)))
			mult = (double)(1ull << (10 * u));
	}
	if (mult < 0 || n * mult > 9.0e18)
		return -EINVAL;
	*ret = (int64_t)(n * mult);
	return 0;
}

/* Go's durations as docker takes them (24h, 90m, 1h30m, 45s), and d for days. */
static int parse_duration(const char *v, int64_t *ret)
{
	int64_t total = 0;
	const char *p = v;
	if (!*p)
		return -EINVAL;
	while (*p) {
		char *end = NULL;
		errno = 0;
		long long n = strtoll(p, &end, 10);
		if (!isdigit((unsigned char)*p) || errno || end == p || n > 100000000LL)
			return -EINVAL;
		int64_t unit = *end == 'd' ? 86400 : *end == 'h' ? 3600 : *end == 'm' ? 60
			     : *end == 's' ? 1 : 0;
		if (!unit)
			return -EINVAL;
		total += n * unit;
		p = end + 1;
	}
	*ret = total;
	return 0;
}

struct prune_args {
	bool all;
	struct cache_prune_opts o;
};

static int set_arg(struct prune_args *a, const char *opt, const char *v, struct molt_error **err)
{
	if (!strcmp(opt, "--keep-storage")) {
		if (parse_size(v, &a->o.keep_bytes) < 0)
			return cli_usage_error(err, "prune", "--keep-storage '%s': not a size (512m, "
					       "10GB)", v);
		return 0;
	}
	const char *d = v;
	if (!strcmp(opt, "--filter")) {
		if (str_startswith(v, "until="))
			d = v + 6;
		else if (str_startswith(v, "unused-for="))
			d = v + 11;
		else
			return cli_usage_error(err, "prune", "--filter '%s': only until=DURATION "
					       "is supported", v);
	}
	if (parse_duration(d, &a->o.unused_for) < 0)
		return cli_usage_error(err, "prune", "%s '%s': not a duration (24h, 90m, 7d)", opt,
				       v);
	return 0;
}

const struct cli_option cmd_prune_options[] = {
	{'a', "all", NULL, false, "empty the store completely (the build cache with it)"},
	{0, "keep-storage", "SIZE", false,
	 "remove build cache entries, least recently used first,\n"
	 "until blobs and unpacked layers take at most SIZE (512m,\n"
	 "10GB); tagged images and their layers are always kept\n"
	 "(the store may stay above SIZE), untagged images go"},
	{0, "filter", "until=DURATION", false,
	 "remove only cache entries unused for DURATION (24h, 90m,\n"
	 "7d; with --keep-storage: only those, until SIZE)"},
	{0, "keep-duration", "DURATION", false, "the same as --filter until=DURATION"},
	{0, NULL, NULL, false, NULL},
};

static int parse_args(int argc, char **argv, struct prune_args *a, struct molt_error **err)
{
	*a = (struct prune_args){.o = {.keep_bytes = -1, .unused_for = -1}};
	struct cli_args ca;
	if (cli_parse_args(argv[0], cmd_prune_options, argc, argv, NULL, &ca, err) < 0)
		return molt_error_pass(err);
	int r = 0;
	(void)cli_args_get(&ca, "all", &a->all);
	static const char *const valued[] = {"keep-storage", "filter", "keep-duration"};
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(valued); i++) {
		const char *v = cli_args_get(&ca, valued[i], NULL);
		if (v) {
			_cleanup_free_ char *opt = xasprintf("--%s", valued[i]);
			r = set_arg(a, opt, v, err);
		}
	}
	if (r == 0 && ca.n_operands)
		r = cli_usage_error(err, "prune", "unexpected argument '%s'", ca.operands[0]);
	cli_args_done(&ca);
	if (r < 0)
		return r;
	if (a->all && (a->o.keep_bytes >= 0 || a->o.unused_for >= 0))
		return cli_usage_error(err, "prune", "--all removes everything; it takes no "
				       "--keep-storage or --filter");
	return 0;
}

static char *human(uint64_t n)
{
	if (n >= (1ull << 30))
		return xasprintf("%.1f GiB", (double)n / (double)(1ull << 30));
	if (n >= (1ull << 20))
		return xasprintf("%.1f MiB", (double)n / (double)(1ull << 20));
	return xasprintf("%.1f KiB", (double)n / 1024.0);
}

static int prune_cache(struct layer_store *s, const struct cache_prune_opts *o,
		       struct molt_error **err)
{
	struct cache_prune_report rep = {0};
	int r = cache_prune(s, o, &rep, err);
	if (r < 0)
		return molt_error_wrap(err, "prune");
	_cleanup_free_ char *before = human(rep.bytes_before), *after = human(rep.bytes_after);
	_cleanup_free_ char *img = human(rep.image_bytes);
	printf("removed %zu build cache entr%s (%zu blobs and unpacked layers), kept %zu; "
	       "the store took %s, now %s\n",
	       rep.removed, rep.removed == 1 ? "y" : "ies", rep.files_removed, rep.kept, before,
	       after);
	if (rep.untagged)
		printf("removed %zu untagged image%s\n", rep.untagged, rep.untagged == 1 ? "" : "s");
	if (o->keep_bytes >= 0 && rep.bytes_after > (uint64_t)o->keep_bytes)
		printf("still above --keep-storage: tagged images hold %s and are kept "
		       "('molt rmi' them first)%s\n",
		       img, o->unused_for >= 0 ? ", and newer cache entries are kept by --filter" : "");
	return 0;
}

int cmd_prune(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	struct prune_args a;
	int r = parse_args(argc, argv, &a, err);
	if (r < 0)
		return r;
	bool all = a.all;
	/* Unpacked layers hold files owned by subuids: only root of the namespace may delete them. */
	r = sandbox_enter_build_namespace(NULL, err);
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
	if (r == 0 && (a.o.keep_bytes >= 0 || a.o.unused_for >= 0))
		return prune_cache(s, &a.o, err);
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
		printf("kept %zu build cache entr%s and %zu cached layer%s ('molt prune "
		       "--keep-storage SIZE' or '--filter until=DURATION' removes them)\n",
		       n_cached, n_cached == 1 ? "y" : "ies", strv_len(blobs),
		       strv_len(blobs) == 1 ? "" : "s");
	strv_free(blobs);
	strv_free(diffs);
	return 0;
}
