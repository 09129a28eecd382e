/* SPDX-License-Identifier: Apache-2.0 */
/*
 * molt images [--json]: one line per name (untagged images once, as <none>), like
 * `docker images`. SIZE is what the image's blobs take (compressed layers + config),
 * in docker's decimal units.
 */
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "../../layers/layers.h"
#include "cli.h"

static int64_t parse_created(const char *s)
{
	struct tm tm = {0};
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return -1;
	return (int64_t)timegm(&tm);
}

static char *human_age(int64_t created)
{
	if (created < 0)
		return xstrdup("N/A");
	int64_t d = (int64_t)time(NULL) - created;
	static const struct {
		int64_t secs;
		const char *unit;
	} units[] = {{365 * 86400, "year"}, {30 * 86400, "month"}, {7 * 86400, "week"},
		     {86400, "day"},         {3600, "hour"},        {60, "minute"}};
	if (d < 60)
		return xstrdup(d < 2 ? "Less than a second ago" : "Less than a minute ago");
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (d >= units[i].secs) {
			int64_t n = d / units[i].secs;
			return xasprintf("%lld %s%s ago", (long long)n, units[i].unit, n > 1 ? "s" : "");
		}
	return xstrdup("N/A");
}

static char *human_size(int64_t n)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1000 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1000;
		u++;
	}
	return xasprintf("%.3g%s", v, units[u]);
}

static int64_t image_size(const struct image *img)
{
	int64_t sum = img->manifest.config.size;
	for (size_t i = 0; i < img->manifest.n_layers; i++)
		sum += img->manifest.layers[i].size;
	return sum;
}

static void split_name(const char *name, char **repo, char **tag)
{
	struct image_ref r;
	if (name && image_ref_parse(name, &r, NULL) == 0) {
		*repo = image_ref_repository(&r);
		*tag = xstrdup(r.tag ? r.tag : "<none>");
		image_ref_done(&r);
	} else {
		*repo = xstrdup("<none>");
		*tag = xstrdup("<none>");
	}
}

static void print_row(json_t *arr, const struct image_entry *e, const struct image *img)
{
	_cleanup_free_ char *repo = NULL, *tag = NULL;
	split_name(e->name, &repo, &tag);
	int64_t created = parse_created(img->config.created);
	if (arr) {
		json_t *o = json_object();
		json_object_set_new(o, "Id", json_string(img->id));
		json_object_set_new(o, "Name", e->name ? json_string(e->name) : json_null());
		json_object_set_new(o, "Repository", json_string(repo));
		json_object_set_new(o, "Tag", json_string(tag));
		json_object_set_new(o, "ManifestDigest", json_string(e->manifest_digest));
		json_object_set_new(o, "Created", img->config.created ? json_string(img->config.created) : json_null());
		json_object_set_new(o, "Size", json_integer(image_size(img)));
		json_array_append_new(arr, o);
		return;
	}
	_cleanup_free_ char *age = human_age(created);
	_cleanup_free_ char *size = human_size(image_size(img));
	printf("%-40s %-16s %-14.12s %-22s %s\n", repo, tag, digest_hex(img->id), age, size);
}

const struct cli_option cmd_images_options[] = {
	{0, "json", NULL, false, "print JSON instead of a table"},
	{0, NULL, NULL, false, NULL},
};

int cmd_images(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	bool as_json = false;
	struct cli_args a;
	if (cli_parse_args(argv[0], cmd_images_options, argc, argv, NULL, &a, err) < 0)
		return molt_error_pass(err);
	(void)cli_args_get(&a, "json", &as_json);
	const char *extra = a.n_operands ? a.operands[0] : NULL;
	cli_args_done(&a);
	if (extra)
		return cli_usage_error(err, argv[0], "unexpected argument '%s'", extra);
	_cleanup_store_ struct layer_store *s = NULL;
	struct image_entry *v = NULL;
	size_t n = 0;
	int r = cli_store_open(g, false, &s, err);
	if (r == 0)
		r = layer_store_list(s, &v, &n, err);
	if (r < 0)
		return r;
	json_t *arr = as_json ? json_array() : NULL;
	if (!as_json)
		printf("%-40s %-16s %-14s %-22s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED",
		       "SIZE");
	for (size_t i = 0; i < n; i++) {
		_cleanup_image_ struct image *img = NULL;
		_cleanup_error_ struct molt_error *e = NULL;
		/* One damaged image must not hide the others; it is named instead. */
		if (layer_store_image_get(s, v[i].manifest_digest, &img, &e) < 0)
			molt_warn("images: %s: %s", v[i].name ? v[i].name : v[i].manifest_digest,
				  e->msg);
		else
			print_row(arr, &v[i], img);
	}
	image_entries_free(v, n);
	if (arr) {
		if (r == 0) {
			json_dumpf(arr, stdout, JSON_INDENT(2));
			putchar('\n');
		}
		json_decref(arr);
	}
	return r;
}
