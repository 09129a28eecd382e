/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/image.c: the OCI image config, manifest and index as C structs, parsed and
 * written with jansson.
 *
 * Output is deterministic and compact: keys in the order of the Go structs that
 * BuildKit marshals (opencontainers/image-spec specs-go/v1), maps (labels, ports,
 * volumes, annotations) sorted by key as Go's encoding/json sorts map keys, and
 * empty fields left out as `omitempty` does. The same struct always gives the same
 * bytes, so the same build gives the same digests.
 */
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "layers_int.h"

#define JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

#define _cleanup_json_ _cleanup_(json_decrefp)

/* ---------------------------------------------------------------- parse helpers */

static int bad_field(struct molt_error **err, const char *what, const char *key, const char *want)
{
	return molt_error_setx(err, EINVAL, "%s: field '%s' is not %s", what, key, want);
}

static int get_str(json_t *o, const char *key, char **ret, const char *what,
		   struct molt_error **err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return bad_field(err, what, key, "a string");
	*ret = xstrdup(json_string_value(v));
	return 0;
}

/* An array of strings; null/absent leaves *ret NULL, [] gives an empty vector. */
static int get_strv(json_t *o, const char *key, char ***ret, const char *what,
		    struct molt_error **err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return bad_field(err, what, key, "a list of strings");
	/* Sized once: pushing one by one is quadratic for a config with 200,000 Env. */
	char **out = xcalloc(json_array_size(v) + 1, sizeof(char *));
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e)) {
			strv_free(out);
			return bad_field(err, what, key, "a list of strings");
		}
		out[i] = xstrdup(json_string_value(e));
	}
	*ret = out;
	return 0;
}

/* An object: its keys (with_values=false, values ignored) or "key=value" strings. */
static int get_map(json_t *o, const char *key, bool with_values, char ***ret, const char *what,
		   struct molt_error **err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return bad_field(err, what, key, "an object");
	char **out = xcalloc(json_object_size(v) + 1, sizeof(char *));
	size_t n = 0;
	const char *k;
	json_t *val;
	json_object_foreach(v, k, val)
	{
		if (!with_values) {
			out[n++] = xstrdup(k);
			continue;
		}
		if (!json_is_string(val)) {
			strv_free(out);
			return bad_field(err, what, key, "an object of strings");
		}
		out[n++] = xasprintf("%s=%s", k, json_string_value(val));
	}
	*ret = out;
	return 0;
}

static int get_int(json_t *o, const char *key, int64_t *ret, const char *what,
		   struct molt_error **err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return bad_field(err, what, key, "an integer");
	*ret = json_integer_value(v);
	return 0;
}

static int get_bool(json_t *o, const char *key, bool *ret, const char *what,
		    struct molt_error **err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return bad_field(err, what, key, "true or false");
	*ret = json_is_true(v);
	return 0;
}

static int load_json(const char *text, size_t len, const char *what, json_t **ret,
		     struct molt_error **err)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return molt_error_setx(err, EINVAL, "%s: invalid JSON at line %d: %s", what,
				       je.line, je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return molt_error_setx(err, EINVAL, "%s: not a JSON object", what);
	}
	*ret = j;
	return 0;
}

/* ---------------------------------------------------------------- write helpers */

static void put_str(json_t *o, const char *key, const char *s)
{
	if (s && *s)
		json_object_set_new(o, key, json_string(s));
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void put_strv(json_t *o, const char *key, char *const *v)
{
	if (v)
		json_object_set_new(o, key, strv_json(v));
}

/* A map from a vector, keys sorted; with_values splits "key=value". */
static void put_map(json_t *o, const char *key, char *const *v, bool with_values)
{
	if (!v || !v[0])
		return;
	_cleanup_strv_ char **sorted = strv_copy(v);
	strv_sort(sorted);
	json_t *m = json_object();
	for (size_t i = 0; sorted[i]; i++) {
		char *eq = with_values ? strchr(sorted[i], '=') : NULL;
		if (eq)
			*eq = '\0';
		json_object_set_new(m, sorted[i], eq ? json_string(eq + 1) : json_object());
	}
	json_object_set_new(o, key, m);
}

/* ---------------------------------------------------------------- config */

static int parse_healthcheck(json_t *c, struct image_healthcheck *h, struct molt_error **err)
{
	json_t *hc = json_object_get(c, "Healthcheck");
	const char *w = "image config: Healthcheck";
	if (!hc || json_is_null(hc))
		return 0;
	if (!json_is_object(hc))
		return bad_field(err, "image config", "Healthcheck", "an object");
	int r = get_strv(hc, "Test", &h->test, w, err);
	if (r == 0)
		r = get_int(hc, "Interval", &h->interval, w, err);
	if (r == 0)
		r = get_int(hc, "Timeout", &h->timeout, w, err);
	if (r == 0)
		r = get_int(hc, "StartPeriod", &h->start_period, w, err);
	if (r == 0)
		r = get_int(hc, "StartInterval", &h->start_interval, w, err);
	if (r == 0)
		r = get_int(hc, "Retries", &h->retries, w, err);
	return r;
}

static int parse_inner_config(json_t *c, struct image_config *ic, struct molt_error **err)
{
	const char *w = "image config";
	if (!c || json_is_null(c))
		return 0;
	if (!json_is_object(c))
		return bad_field(err, w, "config", "an object");
	int r = get_str(c, "User", &ic->user, w, err);
	if (r == 0)
		r = get_map(c, "ExposedPorts", false, &ic->exposed_ports, w, err);
	if (r == 0)
		r = get_strv(c, "Env", &ic->env, w, err);
	if (r == 0)
		r = get_strv(c, "Entrypoint", &ic->entrypoint, w, err);
	if (r == 0)
		r = get_strv(c, "Cmd", &ic->cmd, w, err);
	if (r == 0)
		r = get_map(c, "Volumes", false, &ic->volumes, w, err);
	if (r == 0)
		r = get_str(c, "WorkingDir", &ic->working_dir, w, err);
	if (r == 0)
		r = get_map(c, "Labels", true, &ic->labels, w, err);
	if (r == 0)
		r = get_str(c, "StopSignal", &ic->stop_signal, w, err);
	if (r == 0)
		r = get_bool(c, "ArgsEscaped", &ic->args_escaped, w, err);
	if (r == 0)
		r = parse_healthcheck(c, &ic->healthcheck, err);
	if (r == 0)
		r = get_strv(c, "OnBuild", &ic->onbuild, w, err);
	if (r == 0)
		r = get_strv(c, "Shell", &ic->shell, w, err);
	return r;
}

static int parse_history(json_t *root, struct image_config *ic, struct molt_error **err)
{
	json_t *h = json_object_get(root, "history");
	const char *w = "image config: history";
	if (!h || json_is_null(h))
		return 0;
	if (!json_is_array(h))
		return bad_field(err, "image config", "history", "a list");
	ic->history = xcalloc(json_array_size(h) + 1, sizeof(*ic->history));
	size_t i;
	json_t *e;
	json_array_foreach(h, i, e)
	{
		if (!json_is_object(e))
			return bad_field(err, "image config", "history", "a list of objects");
		struct image_history *x = &ic->history[ic->n_history++];
		int r = get_str(e, "created", &x->created, w, err);
		if (r == 0)
			r = get_str(e, "created_by", &x->created_by, w, err);
		if (r == 0)
			r = get_str(e, "author", &x->author, w, err);
		if (r == 0)
			r = get_str(e, "comment", &x->comment, w, err);
		if (r == 0)
			r = get_bool(e, "empty_layer", &x->empty_layer, w, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_rootfs(json_t *root, struct image_config *ic, struct molt_error **err)
{
	json_t *rf = json_object_get(root, "rootfs");
	if (!json_is_object(rf))
		return molt_error_setx(err, EINVAL, "image config: 'rootfs' is missing");
	int r = get_strv(rf, "diff_ids", &ic->diff_ids, "image config: rootfs", err);
	if (r < 0)
		return r;
	if (!ic->diff_ids)
		ic->diff_ids = xcalloc(1, sizeof(char *));
	for (size_t i = 0; ic->diff_ids[i]; i++)
		if (!digest_is_valid(ic->diff_ids[i]))
			return molt_error_setx(err, EINVAL,
					       "image config: diff ID '%s' is not a sha256 digest",
					       ic->diff_ids[i]);
	return 0;
}

int image_config_parse(const char *json, size_t len, struct image_config *ret,
		       struct molt_error **err)
{
	_cleanup_json_ json_t *root = NULL;
	int r = load_json(json, len, "image config", &root, err);
	if (r < 0)
		return r;
	struct image_config c = {0};
	const char *w = "image config";
	r = get_str(root, "architecture", &c.architecture, w, err);
	if (r == 0)
		r = get_str(root, "os", &c.os, w, err);
	if (r == 0)
		r = get_str(root, "variant", &c.variant, w, err);
	if (r == 0)
		r = get_str(root, "created", &c.created, w, err);
	if (r == 0)
		r = get_str(root, "author", &c.author, w, err);
	if (r == 0)
		r = parse_inner_config(json_object_get(root, "config"), &c, err);
	if (r == 0)
		r = parse_rootfs(root, &c, err);
	if (r == 0)
		r = parse_history(root, &c, err);
	if (r < 0) {
		image_config_done(&c);
		return r;
	}
	*ret = c;
	return 0;
}

static json_t *healthcheck_json(const struct image_healthcheck *h)
{
	json_t *o = json_object();
	put_strv(o, "Test", h->test);
	if (h->interval)
		json_object_set_new(o, "Interval", json_integer(h->interval));
	if (h->timeout)
		json_object_set_new(o, "Timeout", json_integer(h->timeout));
	if (h->start_period)
		json_object_set_new(o, "StartPeriod", json_integer(h->start_period));
	if (h->start_interval)
		json_object_set_new(o, "StartInterval", json_integer(h->start_interval));
	if (h->retries)
		json_object_set_new(o, "Retries", json_integer(h->retries));
	return o;
}

static json_t *inner_config_json(const struct image_config *c)
{
	json_t *o = json_object();
	put_str(o, "User", c->user);
	put_map(o, "ExposedPorts", c->exposed_ports, false);
	put_strv(o, "Env", c->env);
	put_strv(o, "Entrypoint", c->entrypoint);
	put_strv(o, "Cmd", c->cmd);
	put_map(o, "Volumes", c->volumes, false);
	put_str(o, "WorkingDir", c->working_dir);
	put_map(o, "Labels", c->labels, true);
	put_str(o, "StopSignal", c->stop_signal);
	if (c->args_escaped)
		json_object_set_new(o, "ArgsEscaped", json_true());
	if (c->healthcheck.test)
		json_object_set_new(o, "Healthcheck", healthcheck_json(&c->healthcheck));
	put_strv(o, "OnBuild", c->onbuild);
	put_strv(o, "Shell", c->shell);
	return o;
}

static json_t *history_json(const struct image_config *c)
{
	json_t *a = json_array();
	for (size_t i = 0; i < c->n_history; i++) {
		const struct image_history *h = &c->history[i];
		json_t *o = json_object();
		put_str(o, "created", h->created);
		put_str(o, "created_by", h->created_by);
		put_str(o, "author", h->author);
		put_str(o, "comment", h->comment);
		if (h->empty_layer)
			json_object_set_new(o, "empty_layer", json_true());
		json_array_append_new(a, o);
	}
	return a;
}

char *image_config_to_json(const struct image_config *c)
{
	_cleanup_json_ json_t *o = json_object();
	put_str(o, "created", c->created);
	put_str(o, "author", c->author);
	json_object_set_new(o, "architecture", json_string(c->architecture ? c->architecture : image_host_arch()));
	put_str(o, "variant", c->variant);
	json_object_set_new(o, "os", json_string(c->os ? c->os : "linux"));
	json_object_set_new(o, "config", inner_config_json(c));
	json_t *rf = json_object();
	json_object_set_new(rf, "type", json_string("layers"));
	json_object_set_new(rf, "diff_ids", strv_json(c->diff_ids));
	json_object_set_new(o, "rootfs", rf);
	if (c->n_history)
		json_object_set_new(o, "history", history_json(c));
	char *s = json_dumps(o, JSON_FLAGS);
	if (!s)
		abort(); /* only allocation fails here */
	return s;
}

void image_config_done(struct image_config *c)
{
	free(c->architecture);
	free(c->os);
	free(c->variant);
	free(c->created);
	free(c->author);
	free(c->user);
	free(c->working_dir);
	free(c->stop_signal);
	strv_free(c->env);
	strv_free(c->entrypoint);
	strv_free(c->cmd);
	strv_free(c->shell);
	strv_free(c->onbuild);
	strv_free(c->exposed_ports);
	strv_free(c->volumes);
	strv_free(c->labels);
	strv_free(c->healthcheck.test);
	strv_free(c->diff_ids);
	for (size_t i = 0; i < c->n_history; i++) {
		free(c->history[i].created);
		free(c->history[i].created_by);
		free(c->history[i].author);
		free(c->history[i].comment);
	}
	free(c->history);
	*c = (struct image_config){0};
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static char **strv_dup_or_null(char *const *v)
{
	return v ? strv_copy(v) : NULL;
}

void image_config_copy(struct image_config *dst, const struct image_config *src)
{
	struct image_config c = *src;
	c.architecture = dup_or_null(src->architecture);
	c.os = dup_or_null(src->os);
	c.variant = dup_or_null(src->variant);
	c.created = dup_or_null(src->created);
	c.author = dup_or_null(src->author);
	c.user = dup_or_null(src->user);
	c.working_dir = dup_or_null(src->working_dir);
	c.stop_signal = dup_or_null(src->stop_signal);
	c.env = strv_dup_or_null(src->env);
	c.entrypoint = strv_dup_or_null(src->entrypoint);
	c.cmd = strv_dup_or_null(src->cmd);
	c.shell = strv_dup_or_null(src->shell);
	c.onbuild = strv_dup_or_null(src->onbuild);
	c.exposed_ports = strv_dup_or_null(src->exposed_ports);
	c.volumes = strv_dup_or_null(src->volumes);
	c.labels = strv_dup_or_null(src->labels);
	c.healthcheck.test = strv_dup_or_null(src->healthcheck.test);
	c.diff_ids = strv_dup_or_null(src->diff_ids);
	c.history = xcalloc(src->n_history + 1, sizeof(*c.history));
	for (size_t i = 0; i < src->n_history; i++) {
		c.history[i].created = dup_or_null(src->history[i].created);
		c.history[i].created_by = dup_or_null(src->history[i].created_by);
		c.history[i].author = dup_or_null(src->history[i].author);
		c.history[i].comment = dup_or_null(src->history[i].comment);
		c.history[i].empty_layer = src->history[i].empty_layer;
	}
	*dst = c;
}

void image_config_add_history(struct image_config *c, const char *created, const char *created_by,
			      const char *comment, bool empty_layer)
{
	ARRAY_PUSH(c->history, c->n_history, (struct image_history){
		.created = dup_or_null(created),
		.created_by = dup_or_null(created_by),
		.comment = dup_or_null(comment),
		.empty_layer = empty_layer,
	});
}

void image_kv_set(char ***v, const char *key, const char *value)
{
	size_t klen = strlen(key);
	char *entry = xasprintf("%s=%s", key, value);
	for (size_t i = 0; *v && (*v)[i]; i++) {
		if (!strncmp((*v)[i], key, klen) && (*v)[i][klen] == '=') {
			free((*v)[i]);
			(*v)[i] = entry;
			return;
		}
	}
	strv_push_take(v, entry);
}

/* ---------------------------------------------------------------- descriptors */

static int parse_descriptor(json_t *o, struct image_descriptor *d, const char *what,
			    struct molt_error **err)
{
	if (!json_is_object(o))
		return molt_error_setx(err, EINVAL, "%s: a descriptor is not an object", what);
	json_t *dg = json_object_get(o, "digest");
	if (!json_is_string(dg) || !digest_is_valid(json_string_value(dg)))
		return molt_error_setx(err, EINVAL, "%s: descriptor digest '%s' is not a sha256 digest",
				       what, json_is_string(dg) ? json_string_value(dg) : "");
	snprintf(d->digest, sizeof(d->digest), "%s", json_string_value(dg));
	d->size = -1;
	int r = get_int(o, "size", &d->size, what, err);
	if (r == 0 && d->size < 0)
		r = molt_error_setx(err, EINVAL, "%s: descriptor of '%s' has no valid size", what,
				    d->digest);
	if (r == 0)
		r = get_str(o, "mediaType", &d->media_type, what, err);
	if (r == 0)
		r = get_map(o, "annotations", true, &d->annotations, what, err);
	json_t *p = json_object_get(o, "platform");
	if (r == 0 && json_is_object(p)) {
		r = get_str(p, "os", &d->platform_os, what, err);
		if (r == 0)
			r = get_str(p, "architecture", &d->platform_arch, what, err);
		if (r == 0)
			r = get_str(p, "variant", &d->platform_variant, what, err);
	}
	return r;
}

static json_t *descriptor_json(const struct image_descriptor *d)
{
	json_t *o = json_object();
	put_str(o, "mediaType", d->media_type);
	json_object_set_new(o, "digest", json_string(d->digest));
	json_object_set_new(o, "size", json_integer(d->size));
	put_map(o, "annotations", d->annotations, true);
	if (d->platform_os || d->platform_arch) {
		json_t *p = json_object();
		put_str(p, "architecture", d->platform_arch);
		put_str(p, "os", d->platform_os);
		put_str(p, "variant", d->platform_variant);
		json_object_set_new(o, "platform", p);
	}
	return o;
}

void image_descriptor_done(struct image_descriptor *d)
{
	free(d->media_type);
	strv_free(d->annotations);
	free(d->platform_os);
	free(d->platform_arch);
	free(d->platform_variant);
	*d = (struct image_descriptor){0};
}

void image_descriptor_copy(struct image_descriptor *dst, const struct image_descriptor *src)
{
	struct image_descriptor d = *src;
	d.media_type = dup_or_null(src->media_type);
	d.annotations = strv_dup_or_null(src->annotations);
	d.platform_os = dup_or_null(src->platform_os);
	d.platform_arch = dup_or_null(src->platform_arch);
	d.platform_variant = dup_or_null(src->platform_variant);
	*dst = d;
}

const char *image_descriptor_annotation(const struct image_descriptor *d, const char *key)
{
	size_t klen = strlen(key);
	for (size_t i = 0; d->annotations && d->annotations[i]; i++)
		if (!strncmp(d->annotations[i], key, klen) && d->annotations[i][klen] == '=')
			return d->annotations[i] + klen + 1;
	return NULL;
}

static int parse_descriptor_list(json_t *root, const char *key, struct image_descriptor **ret,
				 size_t *ret_n, const char *what, struct molt_error **err)
{
	json_t *a = json_object_get(root, key);
	if (!a || json_is_null(a))
		a = NULL;
	else if (!json_is_array(a))
		return bad_field(err, what, key, "a list");
	size_t n = a ? json_array_size(a) : 0;
	struct image_descriptor *v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		int r = parse_descriptor(json_array_get(a, i), &v[i], what, err);
		if (r < 0) {
			for (size_t j = 0; j <= i; j++)
				image_descriptor_done(&v[j]);
			free(v);
			return r;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Parses a manifest or index document and checks its schemaVersion is 2. */
static int load_schema2(const char *json, size_t len, const char *w, json_t **ret,
			struct molt_error **err)
{
	_cleanup_json_ json_t *root = NULL;
	int r = load_json(json, len, w, &root, err);
	if (r < 0)
		return r;
	int64_t version = 0;
	r = get_int(root, "schemaVersion", &version, w, err);
	if (r < 0)
		return r;
	if (version != 2)
		return molt_error_setx(err, EINVAL, "%s: schemaVersion %lld is not supported (2 is)",
				       w, (long long)version);
	*ret = TAKE_PTR(root);
	return 0;
}

/* ---------------------------------------------------------------- manifest */

int image_manifest_parse(const char *json, size_t len, struct image_manifest *ret,
			 struct molt_error **err)
{
	_cleanup_json_ json_t *root = NULL;
	const char *w = "image manifest";
	int r = load_schema2(json, len, w, &root, err);
	if (r < 0)
		return r;
	struct image_manifest m = {0};
	r = get_str(root, "mediaType", &m.media_type, w, err);
	if (r == 0 && m.media_type && strcmp(m.media_type, MEDIA_OCI_MANIFEST) &&
	    strcmp(m.media_type, MEDIA_DOCKER_MANIFEST))
		r = molt_error_setx(err, EINVAL, "%s: media type '%s' is not an image manifest", w,
				    m.media_type);
	if (r == 0 && !json_object_get(root, "config"))
		r = molt_error_setx(err, EINVAL, "%s: no 'config'", w);
	if (r == 0)
		r = parse_descriptor(json_object_get(root, "config"), &m.config, w, err);
	if (r == 0)
		r = parse_descriptor_list(root, "layers", &m.layers, &m.n_layers, w, err);
	if (r == 0)
		r = get_map(root, "annotations", true, &m.annotations, w, err);
	if (r < 0) {
		image_manifest_done(&m);
		return r;
	}
	*ret = m;
	return 0;
}

char *image_manifest_to_json(const struct image_manifest *m)
{
	_cleanup_json_ json_t *o = json_object();
	json_object_set_new(o, "schemaVersion", json_integer(2));
	json_object_set_new(o, "mediaType",
			    json_string(m->media_type ? m->media_type : MEDIA_OCI_MANIFEST));
	json_object_set_new(o, "config", descriptor_json(&m->config));
	json_t *a = json_array();
	for (size_t i = 0; i < m->n_layers; i++)
		json_array_append_new(a, descriptor_json(&m->layers[i]));
	json_object_set_new(o, "layers", a);
	put_map(o, "annotations", m->annotations, true);
	char *s = json_dumps(o, JSON_FLAGS);
	if (!s)
		abort();
	return s;
}

void image_manifest_done(struct image_manifest *m)
{
	free(m->media_type);
	image_descriptor_done(&m->config);
	ARRAY_FREE(m->layers, m->n_layers, image_descriptor_done);
	strv_free(m->annotations);
	*m = (struct image_manifest){0};
}

/* ---------------------------------------------------------------- index */

int image_index_parse(const char *json, size_t len, struct image_index *ret,
		      struct molt_error **err)
{
	_cleanup_json_ json_t *root = NULL;
	const char *w = "image index";
	int r = load_schema2(json, len, w, &root, err);
	if (r < 0)
		return r;
	struct image_index idx = {0};
	r = parse_descriptor_list(root, "manifests", &idx.manifests, &idx.n_manifests, w, err);
	if (r < 0)
		return r;
	*ret = idx;
	return 0;
}

char *image_index_to_json(const struct image_index *idx)
{
	_cleanup_json_ json_t *o = json_object();
	json_object_set_new(o, "schemaVersion", json_integer(2));
	json_object_set_new(o, "mediaType", json_string(MEDIA_OCI_INDEX));
	json_t *a = json_array();
	for (size_t i = 0; i < idx->n_manifests; i++)
		json_array_append_new(a, descriptor_json(&idx->manifests[i]));
	json_object_set_new(o, "manifests", a);
	char *s = json_dumps(o, JSON_FLAGS);
	if (!s)
		abort();
	return s;
}

void image_index_done(struct image_index *idx)
{
	ARRAY_FREE(idx->manifests, idx->n_manifests, image_descriptor_done);
	*idx = (struct image_index){0};
}

/* ---------------------------------------------------------------- platform and time */

const char *image_host_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__arm__)
	return "arm";
#elif defined(__i386__)
	return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return "ppc64le";
#elif defined(__s390x__)
	return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
	return "riscv64";
#else
	return "unknown";
#endif
}

char *image_time_format(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[64];
	if (!gmtime_r(&tt, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return xstrdup("1970-01-01T00:00:00Z");
	return xstrdup(buf);
}

int64_t image_build_time(void)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	int64_t t;
	if (sde && *sde && str_to_int64(sde, 0, INT64_MAX / 2, &t) == 0)
		return t;
	return (int64_t)time(NULL);
}
