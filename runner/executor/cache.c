/* SPDX-License-Identifier: Apache-2.0 */
/* Build cache keys and the executor's hooks (see cache.h for the rules). */
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#include "cache.h"
#include "cache_explain.h"
#include "../frontend/dockerignore.h"
#include "../frontend/plan_int.h"

#define CACHE_DOMAIN "molt build cache v1"

/* ---------------------------------------------------------------- hashing */

struct cache_hash {
	struct digester *d;
};

static void put_field(struct cache_hash *h, const char *tag, char type, const void *data,
		      size_t len)
{
	uint64_t n = len;
	digester_update(h->d, tag, strlen(tag) + 1);
	digester_update(h->d, &type, 1);
	digester_update(h->d, &n, sizeof(n));
	if (len)
		digester_update(h->d, data, len);
}

struct cache_hash *cache_hash_new(const char *domain)
{
	struct cache_hash *h = xcalloc(1, sizeof(*h));
	h->d = digester_new();
	put_field(h, CACHE_DOMAIN, 'D', domain, strlen(domain));
	return h;
}

void cache_hash_str(struct cache_hash *h, const char *tag, const char *s)
{
	if (s)
		put_field(h, tag, 's', s, strlen(s));
	else
		put_field(h, tag, '0', NULL, 0);
}

void cache_hash_strv(struct cache_hash *h, const char *tag, char *const *v)
{
	if (!v) {
		put_field(h, tag, '0', NULL, 0);
		return;
	}
	size_t n = strv_len(v);
	put_field(h, tag, 'v', &(uint64_t){n}, sizeof(uint64_t));
	for (size_t i = 0; i < n; i++)
		put_field(h, "", 's', v[i], strlen(v[i]));
}

void cache_hash_int(struct cache_hash *h, const char *tag, int64_t v)
{
	put_field(h, tag, 'i', &v, sizeof(v));
}

static void cache_hash_bool(struct cache_hash *h, const char *tag, bool v)
{
	cache_hash_int(h, tag, v ? 1 : 0);
}

void cache_hash_final(struct cache_hash *h, char ret[DIGEST_STR_LEN])
{
	digester_final(h->d, ret);
	digester_free(h->d);
	free(h);
}

/* ---------------------------------------------------------------- keys */

static void hash_mounts(struct cache_hash *h, const struct build_instr *in)
{
	cache_hash_int(h, "mounts", (int64_t)in->n_mounts);
	for (size_t i = 0; i < in->n_mounts; i++) {
		const struct build_mount *m = &in->mounts[i];
		cache_hash_int(h, "type", m->type);
		cache_hash_str(h, "target", m->target);
		cache_hash_str(h, "source", m->source);
		cache_hash_str(h, "from", m->from);
		cache_hash_str(h, "id", m->id);
		cache_hash_str(h, "sharing", m->sharing);
		cache_hash_str(h, "env", m->env);
		cache_hash_bool(h, "readonly", m->readonly);
		cache_hash_bool(h, "required", m->required);
		cache_hash_int(h, "mode", m->mode);
		cache_hash_int(h, "uid", m->uid);
		cache_hash_int(h, "gid", m->gid);
		cache_hash_int(h, "size", m->size);
		for (size_t k = 0; k < m->n_opts; k++) {
			cache_hash_str(h, "opt", m->opts[k].key);
			cache_hash_str(h, "val", m->opts[k].value);
		}
	}
}

char **cache_key_args(char *const *args)
{
	char **out = xcalloc(1, sizeof(char *));
	for (size_t i = 0; args && args[i]; i++) {
		_cleanup_free_ char *name = xstrndup(args[i], strcspn(args[i], "="));
		if (!is_proxy_arg(name))
			strv_push(&out, args[i]);
	}
	return out;
}

static void hash_instr(struct cache_hash *h, const struct build_instr *in)
{
	cache_hash_int(h, "kind", in->kind);
	/* The line as written: the history entry a hit reuses says the same. */
	cache_hash_str(h, "original", in->original);
	cache_hash_bool(h, "exec_form", in->exec_form);
	cache_hash_strv(h, "command", in->command);
	cache_hash_str(h, "network", in->network);
	cache_hash_str(h, "security", in->security);
	hash_mounts(h, in);
	cache_hash_strv(h, "sources", in->sources);
	cache_hash_str(h, "dest", in->dest);
	cache_hash_str(h, "from", in->from);
	cache_hash_str(h, "chown", in->chown);
	cache_hash_str(h, "chmod", in->chmod);
	cache_hash_str(h, "checksum", in->checksum);
	cache_hash_bool(h, "link", in->link);
	cache_hash_bool(h, "parents", in->parents);
	cache_hash_bool(h, "keep_git_dir", in->keep_git_dir);
	cache_hash_strv(h, "exclude", in->exclude);
	cache_hash_str(h, "value", in->value);
	cache_hash_int(h, "heredocs", (int64_t)in->n_heredocs);
	for (size_t i = 0; i < in->n_heredocs; i++) {
		cache_hash_str(h, "name", in->heredocs[i].name);
		cache_hash_str(h, "content", in->heredocs[i].content);
		cache_hash_bool(h, "expand", in->heredocs[i].expand);
		cache_hash_bool(h, "chomp", in->heredocs[i].chomp);
	}
	if (in->kind == DF_RUN) {
		/* Build args in scope are RUN's environment (BuildKit). */
		_cleanup_strv_ char **args = cache_key_args(in->args);
		cache_hash_strv(h, "args", in->args ? args : NULL);
		cache_hash_strv(h, "instr_shell", in->shell);
	}
}

void cache_step_key(const struct cache_step_input *x, char ret[DIGEST_STR_LEN])
{
	struct cache_hash *h = cache_hash_new("step");
	cache_hash_str(h, "state", x->state);
	hash_instr(h, x->in);
	cache_hash_strv(h, "env", x->env);
	cache_hash_strv(h, "shell", x->shell);
	cache_hash_str(h, "user", x->user);
	cache_hash_str(h, "workdir", x->workdir);
	cache_hash_str(h, "network_mode", x->network);
	cache_hash_str(h, "source_date_epoch", x->source_date_epoch);
	cache_hash_str(h, "read", x->sources);
	cache_hash_final(h, ret);
}

void cache_state_next(const char *key, const char *diff_id, char ret[DIGEST_STR_LEN])
{
	struct cache_hash *h = cache_hash_new("state");
	cache_hash_str(h, "key", key);
	cache_hash_str(h, "diff_id", diff_id);
	cache_hash_final(h, ret);
}

void cache_state_base(const char *kind, const char *id, char ret[DIGEST_STR_LEN])
{
	struct cache_hash *h = cache_hash_new("base");
	cache_hash_str(h, "kind", kind);
	cache_hash_str(h, "id", id);
	cache_hash_final(h, ret);
}

/* ---------------------------------------------------------------- the executor's hooks */

struct stage_cache {
	char state[DIGEST_STR_LEN]; /* "" when the stage cannot be cached */
	char key[DIGEST_STR_LEN];   /* the running step's key, "" when not recorded */
	char *clock;                /* created of the last layer step (or the base) */
	bool fixed_time;            /* $SOURCE_DATE_EPOCH: every time is the build time */
	struct explain_stage *ex;   /* the steps' inputs part by part (cache_explain.c) */
	char **steps;               /* keys of the cached steps whose layers the stage has */
};

/* The manifest digest of an image the plan names (bases.c), "" when it is missing. */
static void image_state(struct stage_run *sr, const char *name, char ret[DIGEST_STR_LEN])
{
	const struct image *img = NULL;
	_cleanup_error_ struct molt_error *e = NULL;
	ret[0] = '\0';
	if (bases_get(sr->b, name, &img, &e) == 0)
		cache_state_base("image", img->manifest_digest, ret);
}

/* The state a stage result carries (by Dockerfile index), "" when unknown. */
static void stage_state(struct stage_run *sr, int index, char ret[DIGEST_STR_LEN])
{
	int pos = plan_stage_pos(sr->b->plan, index);
	cache_result_state(pos >= 0 ? sr->results[pos] : NULL, ret);
}

int cache_stage_begin(struct stage_run *sr, struct molt_error **err)
{
	(void)err;
	struct stage_cache *c = xcalloc(1, sizeof(*c));
	sr->cache = c;
	c->fixed_time = getenv("SOURCE_DATE_EPOCH") && *getenv("SOURCE_DATE_EPOCH");
	if (sr->config.created)
		c->clock = xstrdup(sr->config.created);
	const struct build_plan *p = sr->b->plan;
	switch (sr->st->base) {
	case BASE_SCRATCH: {
		_cleanup_free_ char *plat = platform_format(&p->target_platform);
		cache_state_base("scratch", plat, c->state);
		break;
	}
	case BASE_IMAGE:
		image_state(sr, sr->st->from, c->state);
		break;
	case BASE_STAGE: {
		stage_state(sr, sr->st->base_stage, c->state);
		int pos = plan_stage_pos(p, sr->st->base_stage);
		c->steps = cache_result_steps(pos >= 0 ? sr->results[pos] : NULL);
		break;
	}
	}
	if (!c->steps)
		c->steps = xcalloc(1, sizeof(char *));
	c->ex = explain_stage_new(sr);
	return 0;
}

static bool is_url(const char *s)
{
	return str_startswith(s, "http://") || str_startswith(s, "https://");
}

/*
 * COPY/ADD from the context: the digest of the selected local sources, and for ADD
 * of a URL its --checksum (in the instruction) or else the content fetched now, as
 * BuildKit does (the step then adds that same download).
 */
static int copy_reads(struct stage_run *sr, const struct build_instr *in,
		      char ret[DIGEST_STR_LEN], struct molt_error **err)
{
	struct cache_hash *h = cache_hash_new("copy");
	_cleanup_strv_ char **local = xcalloc(1, sizeof(char *));
	int r = 0;
	for (size_t i = 0; in->sources && in->sources[i] && r == 0; i++) {
		if (in->kind != DF_ADD || !is_url(in->sources[i])) {
			strv_push(&local, in->sources[i]);
			continue;
		}
		_cleanup_free_ char *fetched = NULL;
		if (!in->checksum)
			r = add_url_prefetch(sr, in->sources[i], &fetched, err);
		cache_hash_str(h, "url", fetched);
		_cleanup_free_ char *what = xasprintf("URL '%s'", in->sources[i]);
		explain_read(sr->cache->ex, what, fetched);
	}
	struct dockerignore *ex = NULL;
	if (r == 0 && in->exclude && in->exclude[0])
		r = dockerignore_new(in->exclude, &ex, err);
	bool (*skip)(void *, const char *, bool) = NULL;
	void *skip_ud = NULL;
	context_copy_filter(sr->b, &skip, &skip_ud);
	char d[DIGEST_STR_LEN] = "";
	if (r == 0)
		r = cache_sources_digest_explain(sr->b->context_fd, local, false, skip, skip_ud,
				   ex ? context_ignored : NULL, ex, explain_files_of(sr->cache->ex), d,
				   err);
	dockerignore_free(ex);
	cache_hash_str(h, "local", d);
	cache_hash_final(h, ret);
	return r;
}

/* --explain-cache: a stage's identity is its final state, an image's its manifest digest. */
static void explain_from(struct stage_run *sr, const char *flag, const char *from, int stage)
{
	const struct image *img = NULL;
	_cleanup_error_ struct molt_error *e = NULL;
	char id[DIGEST_STR_LEN] = "";
	if (stage >= 0)
		stage_state(sr, stage, id);
	else if (bases_get(sr->b, from, &img, &e) == 0)
		snprintf(id, sizeof(id), "%s", img->manifest_digest);
	_cleanup_free_ char *what = xasprintf("%s %s '%s'", flag, stage >= 0 ? "stage" : "image", from);
	explain_read(sr->cache->ex, what, id);
}

/* What a step reads besides its own text: sources, --from states, mount sources. */
static int step_reads(struct stage_run *sr, const struct build_instr *in, char ret[DIGEST_STR_LEN],
		      bool *ret_cacheable, struct molt_error **err)
{
	ret[0] = '\0';
	*ret_cacheable = true;
	if (in->kind == DF_COPY || in->kind == DF_ADD) {
		if (in->from) {
			if (in->from_stage >= 0)
				stage_state(sr, in->from_stage, ret);
			else
				image_state(sr, in->from, ret);
			*ret_cacheable = ret[0] != '\0';
			explain_from(sr, "--from", in->from, in->from_stage);
			return 0;
		}
		return copy_reads(sr, in, ret, err);
	}
	if (in->kind != DF_RUN || !in->n_mounts)
		return 0;
	struct cache_hash *h = cache_hash_new("mounts");
	int r = 0;
	for (size_t i = 0; i < in->n_mounts && r == 0; i++) {
		const struct build_mount *m = &in->mounts[i];
		char d[DIGEST_STR_LEN] = "";
		if (m->type != MOUNT_BIND) /* cache, tmpfs, secret, ssh: contents are not keys */
			continue;
		if (m->from)
			explain_from(sr, "--mount from", m->from, m->from_stage);
		if (m->from && m->from_stage >= 0)
			stage_state(sr, m->from_stage, d);
		else if (m->from)
			image_state(sr, m->from, d);
		else {
			bool (*skip)(void *, const char *, bool) = NULL;
			void *skip_ud = NULL;
			context_copy_filter(sr->b, &skip, &skip_ud);
			char *const src[] = {m->source ? m->source : ".", NULL};
			r = cache_sources_digest(sr->b->context_fd, src, false, skip, skip_ud, NULL,
						 NULL, d, err);
			_cleanup_free_ char *what = xasprintf("bind mount of '%s'", src[0]);
			explain_read(sr->cache->ex, what, d);
		}
		if (!d[0])
			*ret_cacheable = false;
		cache_hash_str(h, "mount", d);
	}
	cache_hash_final(h, ret);
	return r;
}

static void step_key(struct stage_run *sr, const struct build_instr *in, const char *reads,
		     char ret[DIGEST_STR_LEN])
{
	const char *net = in->network && strcmp(in->network, "default") ? in->network
									: sr->b->o->network;
	bool run = in->kind == DF_RUN;
	struct cache_step_input x = {
		.state = sr->cache->state,
		.in = in,
		.env = run ? sr->config.env : NULL,
		.shell = run ? sr->config.shell : NULL,
		/* WORKDIR creates its directory as USER (instr_workdir). */
		.user = run || (in->kind == DF_WORKDIR && sr->config.user && *sr->config.user)
				? sr->config.user
				: NULL,
		.workdir = sr->config.working_dir,
		.network = run ? (net ? net : "host") : NULL,
		.source_date_epoch = getenv("SOURCE_DATE_EPOCH"),
		.sources = reads,
	};
	cache_step_key(&x, ret);
	explain_step_key(sr, sr->cache->ex, &x, ret);
}

static void set_clock(struct stage_cache *c, char *t)
{
	free(c->clock);
	c->clock = t;
}

/* Unpacks a cached layer when its tree is gone (this also checks its content). */
static int ensure_tree(struct stage_run *sr, const struct cache_entry *e, struct molt_error **err)
{
	if (layer_store_unpacked_exists(sr->b->store, e->diff_id))
		return 0;
	char *ids[] = {(char *)e->diff_id, NULL};
	struct image_config one = {.diff_ids = ids};
	struct image_descriptor d = {.media_type = e->media_type, .size = e->size};
	memcpy(d.digest, e->digest, DIGEST_STR_LEN);
	return image_ensure_unpacked(sr->b->store, sr->b->tmp, &one, &d, 1, err);
}

/* A hit as the step's result, for stage_apply() to replay. */
static void hit_result(const struct cache_entry *e, struct step_result *res)
{
	res->has_layer = e->has_layer;
	if (e->has_layer) {
		res->layer = (struct image_descriptor){.media_type = xstrdup(e->media_type),
						       .size = e->size};
		memcpy(res->layer.digest, e->digest, DIGEST_STR_LEN);
		memcpy(res->diff_id, e->diff_id, DIGEST_STR_LEN);
	}
	res->created = e->created ? xstrdup(e->created) : NULL;
	res->created_by = xstrdup(e->created_by ? e->created_by : "");
	res->comment = e->comment ? xstrdup(e->comment) : NULL;
}

int cache_step_lookup(struct stage_run *sr, const struct build_instr *in,
		      struct step_result *ret, bool *ret_hit, struct molt_error **err)
{
	struct stage_cache *c = sr->cache;
	*ret_hit = false;
	if (!c)
		return 0;
	c->key[0] = '\0';
	/* A step that runs makes a layer now: the clock moves to the build's time. */
	set_clock(c, image_time_format(sr->b->build_time));
	explain_step_start(c->ex);
	if (!c->state[0]) {
		explain_miss(sr, c->ex, "the stage's base has no digest (it is not cached)");
		return 0;
	}
	char reads[DIGEST_STR_LEN];
	bool cacheable = true;
	int r = step_reads(sr, in, reads, &cacheable, err);
	if (r < 0)
		return r;
	char key[DIGEST_STR_LEN];
	step_key(sr, in, reads, key);
	if (!cacheable) {
		/* Not looked up nor recorded, but the state after it still chains. */
		memcpy(c->state, key, DIGEST_STR_LEN);
		explain_miss(sr, c->ex, "it reads an image or stage without a digest (not cached)");
		return 0;
	}
	memcpy(c->key, key, DIGEST_STR_LEN);
	if (build_stage_no_cache(sr->b->o, sr->st)) {
		explain_miss(sr, c->ex, sr->b->o->no_cache ? "--no-cache" : "--no-cache-filter");
		return 0;
	}
	struct cache_entry e = {0};
	r = cache_index_get(sr->b->store, key, &e, err);
	bool remote = false;
	if (r == -ENOENT)
		remote = (r = cache_remote_get(sr->b, key, &e)) == 0;
	if (r == -ENOENT) {
		explain_miss(sr, c->ex, NULL);
		return 0;
	}
	_cleanup_error_ struct molt_error *e2 = NULL;
	/* A remote hit's layer comes when its tree is needed (cache_remote_ready). */
	if (r == 0 && e.has_layer && !remote && ensure_tree(sr, &e, &e2) < 0) {
		/* A layer that cannot be unpacked is a miss: the step runs and replaces it. */
		molt_warn("build cache: %s; running the step again", e2 ? e2->msg : e.digest);
		cache_entry_done(&e);
		explain_miss(sr, c->ex, "its cached layer cannot be unpacked");
		return 0;
	}
	if (r < 0) {
		cache_entry_done(&e);
		return r;
	}
	hit_result(&e, ret);
	cache_index_touch(sr->b->store, key); /* last use, for molt prune */
	explain_hit(sr, c->ex, key);
	strv_push(&c->steps, key);
	cache_state_next(key, e.has_layer ? e.diff_id : NULL, c->state);
	c->key[0] = '\0';
	cache_entry_done(&e);
	*ret_hit = true;
	return 0;
}

int cache_step_record(struct stage_run *sr, const struct step_result *res,
		      struct molt_error **err)
{
	(void)err;
	struct stage_cache *c = sr->cache;
	if (!c || !c->state[0])
		return 0;
	const char *diff_id = res->has_layer ? res->diff_id : NULL;
	if (!c->key[0]) {
		/* An uncacheable step: the state is its key, now with what it made. */
		char key[DIGEST_STR_LEN];
		memcpy(key, c->state, DIGEST_STR_LEN);
		cache_state_next(key, diff_id, c->state);
		return 0;
	}
	struct cache_entry e = {.has_layer = res->has_layer};
	memcpy(e.key, c->key, DIGEST_STR_LEN);
	if (res->has_layer) {
		e.media_type = res->layer.media_type;
		memcpy(e.digest, res->layer.digest, DIGEST_STR_LEN);
		memcpy(e.diff_id, res->diff_id, DIGEST_STR_LEN);
		e.size = res->layer.size;
	}
	e.created = res->created;
	e.created_by = res->created_by;
	e.comment = res->comment ? res->comment : "buildkit.dockerfile.v0";
	_cleanup_error_ struct molt_error *e2 = NULL;
	/* A cache that cannot be written costs speed, never the build. */
	if (cache_index_put(sr->b->store, &e, &e2) < 0)
		molt_warn("build cache: %s", e2 ? e2->msg : "cannot record a step");
	else {
		explain_record(sr, c->ex);
		strv_push(&c->steps, c->key);
	}
	cache_state_next(c->key, diff_id, c->state);
	c->key[0] = '\0';
	return 0;
}

void cache_clock_set(struct stage_run *sr, const char *created)
{
	if (sr->cache)
		set_clock(sr->cache, xstrdup(created));
}

char *cache_stage_time(const struct stage_run *sr)
{
	const struct stage_cache *c = sr->cache;
	if (!c || c->fixed_time || !c->clock)
		return image_time_format(sr->b->build_time);
	return xstrdup(c->clock);
}

void cache_stage_result(const struct stage_run *sr, char **result)
{
	if (!sr->cache || !sr->cache->state[0] || !*result)
		return;
	json_t *root = json_loads(*result, 0, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return;
	}
	json_object_set_new(root, "cacheKey", json_string(sr->cache->state));
	json_t *steps = json_array();
	for (size_t i = 0; sr->cache->steps && sr->cache->steps[i]; i++)
		json_array_append_new(steps, json_string(sr->cache->steps[i]));
	json_object_set_new(root, "cacheSteps", steps);
	char *s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (s) {
		free(*result);
		*result = s;
	}
}

void cache_result_state(const char *json, char ret[DIGEST_STR_LEN])
{
	ret[0] = '\0';
	if (!json)
		return;
	json_t *root = json_loads(json, 0, NULL);
	const char *k = json_string_value(json_object_get(root, "cacheKey"));
	if (k && digest_is_valid(k))
		snprintf(ret, DIGEST_STR_LEN, "%s", k);
	json_decref(root);
}

char **cache_result_steps(const char *json)
{
	char **out = xcalloc(1, sizeof(char *));
	json_t *root = json ? json_loads(json, 0, NULL) : NULL;
	json_t *arr = json_object_get(root, "cacheSteps");
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		const char *k = json_string_value(v);
		if (k && digest_is_valid(k))
			strv_push(&out, k);
	}
	json_decref(root);
	return out;
}

void cache_stage_free(struct stage_run *sr)
{
	if (!sr->cache)
		return;
	strv_free(sr->cache->steps);
	free(sr->cache->clock);
	explain_stage_free(sr->cache->ex);
	free(sr->cache);
	sr->cache = NULL;
}
