/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `--progress rawjson`: BuildKit's SolveStatus objects (client/graph.go), one JSON
 * object per line, so tools written for `docker buildx build --progress rawjson` read
 * molt's: {"vertexes":[{"digest","name","started","completed","cached","error"}]},
 * {"statuses":[{"id","vertex","current","timestamp","started","completed"}]} and
 * {"logs":[{"vertex","stream","data" (base64),"timestamp"}]}. A vertex's digest is
 * molt's own: sha256 of its step number and title (BuildKit's is the LLB op's).
 */
#include <jansson.h>
#include <string.h>

#include "../../layers/layers.h"
#include "progress_int.h"

/* RFC 3339 with nanoseconds in UTC, as Go's time.Time marshals. */
static char *rfc3339(const struct timespec *t)
{
	struct tm tm;
	gmtime_r(&t->tv_sec, &tm);
	char buf[64];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return xasprintf("%s.%09ldZ", buf, t->tv_nsec);
}

static char *now_rfc3339(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return rfc3339(&t);
}

static void vertex_digest(const struct step *s, char ret[DIGEST_STR_LEN])
{
	_cleanup_free_ char *key = xasprintf("molt-progress %u %s", s->seq, s->title);
	digest_buffer(key, strlen(key), ret);
}

/* Writes {"KEY": [obj]} as one line; takes obj. */
static void emit_one(struct progress *p, const char *key, json_t *obj)
{
	json_t *root = json_object();
	json_t *arr = json_array();
	json_array_append_new(arr, obj);
	json_object_set_new(root, key, arr);
	char *s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (s) {
		progress_emitf(p, "%s\n", s);
		free(s);
	}
}

void json_vertex(struct progress *p, const struct step *s)
{
	char dg[DIGEST_STR_LEN];
	vertex_digest(s, dg);
	_cleanup_free_ char *started = rfc3339(&s->started_wall);
	/* jansson takes only UTF-8: titles and errors are escaped (lib/termesc.c). */
	_cleanup_free_ char *name = term_escape(s->title);
	json_t *v = json_pack("{s:s, s:s, s:s}", "digest", dg, "name", name, "started", started);
	if (s->state != STEP_RUNNING) {
		_cleanup_free_ char *done = now_rfc3339();
		json_object_set_new(v, "completed", json_string(done));
	}
	if (s->state == STEP_CACHED)
		json_object_set_new(v, "cached", json_true());
	if (s->state == STEP_FAILED) {
		_cleanup_free_ char *why = term_escape(s->failure ? s->failure : "failed");
		json_object_set_new(v, "error", json_string(why));
	}
	emit_one(p, "vertexes", v);
}

void json_status(struct progress *p, const struct step *s, const char *text)
{
	char dg[DIGEST_STR_LEN];
	vertex_digest(s, dg);
	_cleanup_free_ char *now = now_rfc3339();
	_cleanup_free_ char *id = term_escape(text);
	/* molt's statuses are reported when they are over: started = completed. */
	json_t *st = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "id", id, "vertex", dg,
			       "current", (json_int_t)0, "timestamp", now, "started", now,
			       "completed", now);
	emit_one(p, "statuses", st);
}

void json_log(struct progress *p, const struct step *s, const char *data, size_t n)
{
	char dg[DIGEST_STR_LEN];
	vertex_digest(s, dg);
	_cleanup_free_ char *now = now_rfc3339();
	_cleanup_free_ char *b64 = base64_encode(data, n);
	/* RUN's stdout and stderr share one pipe: all of it is stream 1 (stdout). */
	json_t *l = json_pack("{s:s, s:i, s:s, s:s}", "vertex", dg, "stream", 1, "data", b64,
			      "timestamp", now);
	emit_one(p, "logs", l);
}
