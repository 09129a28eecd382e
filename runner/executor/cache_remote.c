/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/cache_remote.c: the build's side of --cache-from and --cache-to
 * (the format and the transfers are layers/cache_*.c).
 *
 * Import: every source is read once before the stages start (its records, not its
 * layers); a step the local cache misses is looked up in the sources in order. A hit
 * only checks that its blob is there (a source lacking it: one warning, a miss) and is
 * replayed at once; its layer is fetched when something needs it (cache_remote_ready:
 * a step that runs on top, COPY --from of its stage, an output, the final commit),
 * checked against its digest and diff ID, and recorded in the local cache then. A
 * builder stage whose every step hits is never downloaded. A source that cannot be
 * read is one warning and builds without it. Export: the steps whose layers the final image has (mode=min)
 * or every stage's (mode=max), as the stage results list them ("cacheSteps"), with
 * their local cache entries.
 */
#include <string.h>

#include "cache.h"
#include "stage.h"

/* ---------------------------------------------------------------- the option */

void build_cache_spec_done(struct build_cache_spec *c)
{
	free(c->where);
	free(c->compression);
	*c = (struct build_cache_spec){0};
}

static int spec_field(struct build_cache_spec *c, const char *f, bool export, const char *opt,
		      bool *typed, struct molt_error **err)
{
	const char *v = strchr(f, '=');
	size_t kl = v ? (size_t)(v - f) : strlen(f);
	v = v ? v + 1 : "";
	bool is_dir = c->type == BUILD_CACHE_LOCAL;
	if (!strncmp(f, "type", kl) && kl == 4) {
		*typed = true;
		if (!strcmp(v, "registry"))
			c->type = BUILD_CACHE_REGISTRY;
		else if (!strcmp(v, "local"))
			c->type = BUILD_CACHE_LOCAL;
		else if (!strcmp(v, "inline") && export)
			c->type = BUILD_CACHE_INLINE;
		else
			return molt_error_usage(err, "build: %s: unknown type '%s' (registry, local%s)",
						opt, v, export ? " or inline" : "");
	} else if ((kl == 3 && !strncmp(f, "ref", 3)) ||
		   (kl == 4 && !strncmp(f, export ? "dest" : "src", 4)) ||
		   (kl == 3 && !export && !strncmp(f, "src", 3))) {
		(void)is_dir;
		if (!*v)
			return molt_error_usage(err, "build: %s: '%.*s' needs a value", opt, (int)kl, f);
		free(c->where);
		c->where = xstrdup(v);
	} else if (export && kl == 4 && !strncmp(f, "mode", 4)) {
		if (strcmp(v, "min") && strcmp(v, "max"))
			return molt_error_usage(err, "build: %s: mode is min or max, not '%s'", opt, v);
		c->mode_max = !strcmp(v, "max");
	} else if (export && kl == 11 && !strncmp(f, "compression", 11)) {
		if (strcmp(v, "gzip") && strcmp(v, "zstd"))
			return molt_error_usage(err, "build: %s: compression is gzip or zstd, not '%s'",
						opt, v);
		free(c->compression);
		c->compression = xstrdup(v);
	} else {
		return molt_error_usage(err, "build: %s: unexpected '%s'", opt, f);
	}
	return 0;
}

static int spec_check(struct build_cache_spec *c, bool export, const char *opt,
		      struct molt_error **err)
{
	if (c->type == BUILD_CACHE_INLINE && (c->where || c->mode_max))
		return molt_error_usage(err, "build: %s: type=inline takes no ref, dest or "
					"mode=max (it is the pushed image's final steps)", opt);
	if (c->type == BUILD_CACHE_REGISTRY && !c->where)
		return molt_error_usage(err, "build: %s: type=registry needs ref=REF", opt);
	if (c->type == BUILD_CACHE_LOCAL && !c->where)
		return molt_error_usage(err, "build: %s: type=local needs %s=DIR", opt,
					export ? "dest" : "src");
	if (c->type == BUILD_CACHE_REGISTRY) {
		_cleanup_free_ char *norm = NULL;
		_cleanup_error_ struct molt_error *e = NULL;
		if (image_ref_normalize(c->where, &norm, &e) < 0)
			return molt_error_usage(err, "build: %s: invalid ref '%s': %s", opt, c->where,
						e->msg);
	}
	return 0;
}

int build_cache_spec_parse(const char *spec, bool export, struct build_cache_spec *ret,
			   struct molt_error **err)
{
	const char *opt = export ? "--cache-to" : "--cache-from";
	struct build_cache_spec c = {0};
	if (!*spec)
		return molt_error_usage(err, "build: %s needs a value", opt);
	if (!strchr(spec, '=')) {
		/* A bare reference, as `docker build --cache-from IMAGE`. */
		c.where = xstrdup(spec);
	} else {
		_cleanup_free_ char *copy = xstrdup(spec);
		char *save = NULL;
		bool typed = false;
		int r = 0;
		for (char *f = strtok_r(copy, ",", &save); f && r == 0; f = strtok_r(NULL, ",", &save))
			r = spec_field(&c, f, export, opt, &typed, err);
		if (r == 0 && !typed)
			r = molt_error_usage(err, "build: %s '%s' needs type=", opt, spec);
		if (r < 0) {
			build_cache_spec_done(&c);
			return r;
		}
	}
	int r = spec_check(&c, export, opt, err);
	if (r < 0) {
		build_cache_spec_done(&c);
		return r;
	}
	*ret = c;
	return 0;
}

/* ---------------------------------------------------------------- import */

static struct registry_opts reg_opts(const struct build_ctx *b)
{
	struct registry_opts ro =
		b->o->registry ? *b->o->registry : (struct registry_opts){.tls_verify = true};
	ro.platform = NULL;
	if (b->o->progress == PROGRESS_QUIET)
		ro.quiet = true;
	return ro;
}

void cache_remote_open(struct build_ctx *b)
{
	struct registry_opts ro = reg_opts(b);
	if (b->o->no_cache)
		return;
	for (size_t i = 0; i < b->o->n_cache_from; i++) {
		const struct build_cache_spec *c = &b->o->cache_from[i];
		struct cache_source *src = NULL;
		_cleanup_error_ struct molt_error *e = NULL;
		if (cache_source_open(b->store, c->where, c->type == BUILD_CACHE_LOCAL, &ro, &src,
				      &e) < 0) {
			molt_warn("%s; building without it", e ? e->msg : c->where);
			continue;
		}
		b->cache_from = xrealloc(b->cache_from, (b->n_cache_from + 1) * sizeof(src));
		b->cache_from[b->n_cache_from++] = src;
	}
}

int cache_remote_get(struct build_ctx *b, const char *key, struct cache_entry *ret)
{
	for (size_t i = 0; i < b->n_cache_from; i++) {
		_cleanup_error_ struct molt_error *e = NULL;
		int r = cache_source_get(b->cache_from[i], b->store, key, ret, &e);
		if (r == -ENOENT && !e)
			continue;
		if (r < 0) {
			molt_warn("%s; running the step", e ? e->msg : "build cache: fetch failed");
			continue;
		}
		return 0;
	}
	return -ENOENT;
}

/* Fetches a layer blob from the first source whose records name it. */
static int fetch_layer(struct build_ctx *b, const struct image_descriptor *d,
		       struct molt_error **err)
{
	int r = -ENOENT;
	for (size_t k = 0; k < b->n_cache_from && r == -ENOENT && !(err && *err); k++)
		r = cache_source_fetch(b->cache_from[k], b->store, d->digest, err);
	if (r == -ENOENT && !(err && *err))
		r = molt_error_setx(err, ENOENT, "layer %s is neither in the store nor in a cache "
				    "source", d->digest);
	return r;
}

int cache_remote_ready(struct build_ctx *b, const struct image_config *c,
		       const struct image_descriptor *layers, size_t n, bool trees,
		       struct molt_error **err)
{
	bool unpack = false;
	for (size_t i = 0; i < n && c->diff_ids && c->diff_ids[i]; i++) {
		if (trees && layer_store_unpacked_exists(b->store, c->diff_ids[i]))
			continue;
		if (layer_store_blob_exists(b->store, layers[i].digest)) {
			unpack |= trees;
			continue;
		}
		int r = fetch_layer(b, &layers[i], err);
		if (r == 0 && !trees && !layer_store_unpacked_exists(b->store, c->diff_ids[i])) {
			/* Only this layer: its content against its diff ID. */
			char *ids[] = {c->diff_ids[i], NULL};
			struct image_config one = {.diff_ids = ids};
			r = image_ensure_unpacked(b->store, b->tmp, &one, &layers[i], 1, err);
		}
		if (r < 0)
			return r;
		unpack |= trees;
	}
	/* Unpacking checks each fetched blob's content against the diff ID its record
	 * claims, before the tree or the blob is used. */
	return unpack ? image_ensure_unpacked(b->store, b->tmp, c, layers, n, err) : 0;
}

void cache_remote_close(struct build_ctx *b)
{
	for (size_t i = 0; i < b->n_cache_from; i++)
		cache_source_free(b->cache_from[i]);
	free(b->cache_from);
	b->cache_from = NULL;
	b->n_cache_from = 0;
	if (b->inline_cache) {
		cache_records_done(b->inline_cache);
		free(b->inline_cache);
		b->inline_cache = NULL;
	}
}

/* ---------------------------------------------------------------- export */

/* The local entries of the steps a stage result lists. */
static void collect(struct build_ctx *b, const char *result, struct cache_records *out)
{
	_cleanup_strv_ char **keys = cache_result_steps(result);
	for (size_t i = 0; keys[i]; i++) {
		struct cache_entry e = {0};
		_cleanup_error_ struct molt_error *err = NULL;
		if (cache_index_get(b->store, keys[i], &e, &err) == 0) {
			cache_records_add(out, &e);
			cache_entry_done(&e);
			continue;
		}
		/* A lazy hit whose layer was never needed here: the source's record. */
		for (size_t k = 0; k < b->n_cache_from; k++) {
			const struct cache_entry *r = cache_source_record(b->cache_from[k], keys[i]);
			if (r) {
				cache_records_add(out, r);
				break;
			}
		}
	}
}

static void records_for(struct build_ctx *b, char *const *results, bool mode_max,
			struct cache_records *out)
{
	int target = plan_stage_pos(b->plan, b->plan->target_index);
	for (size_t i = 0; i < b->plan->n_stages; i++)
		if ((mode_max || (int)i == target) && results[i])
			collect(b, results[i], out);
	cache_records_sort(out);
}

int cache_remote_prepare(struct build_ctx *b, char *const *results, struct molt_error **err)
{
	(void)err;
	for (size_t i = 0; i < b->o->n_cache_to; i++)
		if (b->o->cache_to[i].type == BUILD_CACHE_INLINE && !b->inline_cache) {
			b->inline_cache = xcalloc(1, sizeof(*b->inline_cache));
			records_for(b, results, false, b->inline_cache);
		}
	return 0;
}

int cache_remote_export(struct build_ctx *b, char *const *results, struct molt_error **err)
{
	struct registry_opts ro = reg_opts(b);
	struct cache_export_from from = {b->cache_from, b->n_cache_from};
	int r = 0;
	for (size_t i = 0; r == 0 && i < b->o->n_cache_to; i++) {
		const struct build_cache_spec *c = &b->o->cache_to[i];
		if (c->type == BUILD_CACHE_INLINE)
			continue;
		struct cache_records recs = {0};
		records_for(b, results, c->mode_max, &recs);
		const char *mode = c->mode_max ? "max" : "min";
		if (!ro.quiet)
			fprintf(stderr, "exporting the build cache (%zu steps, mode=%s) to %s\n",
				recs.n, mode, c->where);
		if (c->type == BUILD_CACHE_REGISTRY)
			r = cache_export_registry(b->store, c->where, &recs, mode, c->compression,
						  &from, &ro, err);
		else
			r = cache_export_local(b->store, c->where, &recs, mode, c->compression,
					       &from, err);
		cache_records_done(&recs);
	}
	return r;
}

int cache_remote_push_inline(struct build_ctx *b, const struct image *img, const char *ref,
			     const struct registry_opts *ro, char *ret_digest,
			     struct molt_error **err)
{
	_cleanup_free_ char *data = NULL, *annotated = NULL;
	size_t len = 0, alen = 0;
	/* img's layers left as the push's compression says: the records name those blobs. */
	struct cache_records exported = {0};
	int r = cache_records_exported(b->store, b->inline_cache, &b->o->push_compression,
				       &exported, err);
	if (r == 0)
		r = layer_store_blob_read(b->store, img->manifest_digest, 4u << 20, &data, &len, err);
	if (r == 0)
		r = cache_inline_manifest(data, len, &exported, &annotated, &alen, err);
	cache_records_done(&exported);
	/* Stored as a blob so the push reads it as any manifest; the stored image keeps
	 * its own manifest (and the image ID, the config's digest, is the same). */
	struct image copy = *img;
	if (r == 0)
		r = layer_store_blob_put_mem(b->store, annotated, alen, NULL, copy.manifest_digest,
					     err);
	if (r == 0)
		r = registry_push(b->store, &copy, ref, ro, ret_digest, err);
	return r;
}
