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

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
		   : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (!len || len > n)
		return 0;
	uint32_t cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* jansson takes only UTF-8: invalid bytes become U+FFFD, as Go's encoding/json does. */
static char *utf8_clean(const char *text)
{
	struct strbuf sb = STRBUF_INIT;
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text);
	while (n) {
		size_t k = utf8_len(s, n);
		if (k)
			strbuf_add(&sb, (const char *)s, k);
		else
			strbuf_adds(&sb, "\xef\xbf\xbd");
		k = k ? k : 1;
		s += k;
		n -= k;
	}
	return strbuf_detach(&sb);
}

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
	_cleanup_free_ char *name = utf8_clean(s->title);
	json_t *v = json_pack("{s:s, s:s, s:s}", "digest", dg, "name", name, "started", started);
	if (s->state != STEP_RUNNING) {
		_cleanup_free_ char *done = now_rfc3339();
		json_object_set_new(v, "completed", json_string(done));
	}
	if (s->state == STEP_CACHED)
		json_object_set_new(v, "cached", json_true());
	if (s->state == STEP_CANCELED)
		json_object_set_new(v, "error", json_string("context canceled"));
	if (s->state == STEP_FAILED) {
		_cleanup_free_ char *why = utf8_clean(s->failure ? s->failure : "failed");
		json_object_set_new(v, "error", json_string(why));
	}
	emit_one(p, "vertexes", v);
}

void json_status(struct progress *p, const struct step *s, const char *text)
{
	char dg[DIGEST_STR_LEN];
	vertex_digest(s, dg);
	_cleanup_free_ char *now = now_rfc3339();
	_cleanup_free_ char *id = utf8_clean(text);
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
