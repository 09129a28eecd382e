/* SPDX-License-Identifier: Apache-2.0 */
/* Image config, manifest and index JSON: parse, write, round trips, determinism. */
#include "../../layers/layers.h"
#include "tap.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static const char full_config[] =
	"{\"created\":\"2024-01-02T03:04:05Z\",\"author\":\"me\",\"architecture\":\"arm64\","
	"\"variant\":\"v8\",\"os\":\"linux\",\"config\":{\"User\":\"1000:1000\","
	"\"ExposedPorts\":{\"443/tcp\":{},\"80/tcp\":{}},\"Env\":[\"PATH=/bin\",\"A=b c\"],"
	"\"Entrypoint\":[\"/init\"],\"Cmd\":[\"sh\",\"-c\",\"echo hi\"],"
	"\"Volumes\":{\"/data\":{}},\"WorkingDir\":\"/app\",\"Labels\":{\"a\":\"1\",\"b\":\"x=y\"},"
	"\"StopSignal\":\"SIGTERM\",\"ArgsEscaped\":true,\"Healthcheck\":{\"Test\":[\"CMD\","
	"\"true\"],\"Interval\":30000000000,\"Timeout\":5000000000,\"StartPeriod\":1,"
	"\"StartInterval\":2,\"Retries\":3},\"OnBuild\":[\"RUN x\"],\"Shell\":[\"/bin/bash\","
	"\"-c\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]},"
	"\"history\":[{\"created\":\"2024-01-02T03:04:05Z\",\"created_by\":\"RUN x\","
	"\"author\":\"me\",\"comment\":\"c\"},{\"created_by\":\"ENV A\",\"empty_layer\":true}]}";

static void config_round_trip(void)
{
	struct image_config c;
	struct molt_error *e = NULL;
	if (!tap_ok(image_config_parse(full_config, strlen(full_config), &c, &e) == 0,
		    "a config with every field parses")) {
		tap_diag("%s", e->msg);
		molt_error_free(e);
		return;
	}
	tap_str_eq(c.user, "1000:1000", "config.User parsed");
	tap_ok(strv_len(c.env) == 2 && !strcmp(c.env[1], "A=b c"), "config.Env keeps spaces");
	tap_ok(strv_len(c.cmd) == 3 && !strcmp(c.cmd[2], "echo hi"), "config.Cmd parsed");
	tap_ok(strv_contains(c.labels, "b=x=y"), "a label value may contain '='");
	tap_ok(strv_len(c.exposed_ports) == 2 && strv_len(c.volumes) == 1,
	       "ExposedPorts and Volumes parsed as key sets");
	tap_ok(c.healthcheck.interval == 30000000000LL && c.healthcheck.retries == 3,
	       "Healthcheck durations are nanoseconds (Go time.Duration)");
	tap_ok(c.args_escaped, "ArgsEscaped parsed");
	tap_ok(c.n_history == 2 && c.history[1].empty_layer && !c.history[0].empty_layer,
	       "history empty_layer parsed");
	tap_ok(strv_len(c.diff_ids) == 2, "rootfs.diff_ids parsed");
	_cleanup_free_ char *out = image_config_to_json(&c);
	tap_str_eq(out, full_config, "config written back is byte-identical (Go field order, sorted maps)");
	struct image_config c2;
	image_config_copy(&c2, &c);
	_cleanup_free_ char *out2 = image_config_to_json(&c2);
	tap_str_eq(out2, full_config, "a copied config writes the same bytes");
	image_config_done(&c2);
	image_config_done(&c);
}

static void config_null_vs_empty(void)
{
	const char *j = "{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[],"
			"\"Cmd\":null},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	struct image_config c;
	struct molt_error *e = NULL;
	tap_ok(image_config_parse(j, strlen(j), &c, &e) == 0, "a minimal config parses");
	tap_ok(c.entrypoint && !c.entrypoint[0], "Entrypoint [] is set-but-empty (ENTRYPOINT [])");
	tap_ok(c.cmd == NULL, "Cmd null is unset");
	_cleanup_free_ char *out = image_config_to_json(&c);
	tap_ok(strstr(out, "\"Entrypoint\":[]") && !strstr(out, "Cmd"),
	       "an empty Entrypoint is written, an unset Cmd is left out");
	image_config_done(&c);
}

static void config_sorting(void)
{
	struct image_config c = {0};
	c.architecture = xstrdup("amd64");
	c.os = xstrdup("linux");
	c.diff_ids = xcalloc(1, sizeof(char *));
	image_kv_set(&c.labels, "z", "1");
	image_kv_set(&c.labels, "a", "2");
	image_kv_set(&c.labels, "z", "3");
	strv_push(&c.exposed_ports, "8080/tcp");
	strv_push(&c.exposed_ports, "80/tcp");
	image_config_add_history(&c, "1970-01-01T00:00:00Z", "molt import", NULL, false);
	_cleanup_free_ char *out = image_config_to_json(&c);
	tap_str_eq(out,
		   "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"ExposedPorts\":"
		   "{\"80/tcp\":{},\"8080/tcp\":{}},\"Labels\":{\"a\":\"2\",\"z\":\"3\"}},"
		   "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"history\":[{\"created\":"
		   "\"1970-01-01T00:00:00Z\",\"created_by\":\"molt import\"}]}",
		   "maps are written sorted bytewise and image_kv_set replaces a key");
	image_config_done(&c);
}

static void config_errors(void)
{
	static const struct {
		const char *json, *want, *rule;
	} cases[] = {
		{"{", "invalid JSON", "truncated JSON is refused"},
		{"[]", "not a JSON object", "a JSON array is refused"},
		{"{\"config\":{\"Env\":\"A=b\"},\"rootfs\":{\"diff_ids\":[]}}", "'Env' is not a list",
		 "Env as a string is refused"},
		{"{\"config\":{}}", "'rootfs' is missing", "a config without rootfs is refused"},
		{"{\"rootfs\":{\"diff_ids\":[\"sha256:12\"]}}", "not a sha256 digest",
		 "a malformed diff ID is refused"},
		{"{\"os\":\"linux\",\"os\":\"x\",\"rootfs\":{\"diff_ids\":[]}}", "invalid JSON",
		 "duplicate keys are refused (ambiguous config)"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct image_config c;
		struct molt_error *e = NULL;
		int r = image_config_parse(cases[i].json, strlen(cases[i].json), &c, &e);
		if (!tap_ok(r < 0 && e && strstr(e->msg, cases[i].want), "%s", cases[i].rule))
			tap_diag("got: %s", e ? e->msg : "success");
		molt_error_free(e);
	}
}

static void manifest_round_trip(void)
{
	const char *j = "{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_OCI_MANIFEST "\","
			"\"config\":{\"mediaType\":\"" MEDIA_OCI_CONFIG "\",\"digest\":\"" D1
			"\",\"size\":12},\"layers\":[{\"mediaType\":\"" MEDIA_OCI_LAYER_GZIP
			"\",\"digest\":\"" D2 "\",\"size\":345},{\"mediaType\":\"" MEDIA_OCI_LAYER
			"\",\"digest\":\"" D3 "\",\"size\":0}],\"annotations\":{\"k\":\"v\"}}";
	struct image_manifest m;
	struct molt_error *e = NULL;
	tap_ok(image_manifest_parse(j, strlen(j), &m, &e) == 0, "an OCI manifest parses");
	tap_ok(m.n_layers == 2 && m.layers[0].size == 345 && !strcmp(m.config.digest, D1),
	       "manifest config and layer descriptors parsed");
	_cleanup_free_ char *out = image_manifest_to_json(&m);
	tap_str_eq(out, j, "a manifest written back is byte-identical");
	image_manifest_done(&m);

	const char *bad[] = {
		"{\"schemaVersion\":1,\"config\":{}}",
		"{\"schemaVersion\":2,\"layers\":[]}",
		"{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:zz\",\"size\":1}}",
		"{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":-1}}",
		"{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_OCI_INDEX "\",\"config\":{\"digest\":\"" D1 "\",\"size\":1}}",
	};
	const char *why[] = {"schemaVersion 1", "no 'config'", "not a sha256 digest", "no valid size",
			     "not an image manifest"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		e = NULL;
		int r = image_manifest_parse(bad[i], strlen(bad[i]), &m, &e);
		if (!tap_ok(r < 0 && e && strstr(e->msg, why[i]), "a manifest with %s is refused", why[i]))
			tap_diag("got: %s", e ? e->msg : "success");
		molt_error_free(e);
	}
}

static void index_round_trip(void)
{
	const char *j = "{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_OCI_INDEX "\",\"manifests\":"
			"[{\"mediaType\":\"" MEDIA_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":7,"
			"\"annotations\":{\"" ANNOTATION_CONTAINERD_NAME "\":\"docker.io/library/"
			"busybox:latest\",\"" ANNOTATION_REF_NAME "\":\"latest\"},\"platform\":"
			"{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}";
	struct image_index idx;
	struct molt_error *e = NULL;
	tap_ok(image_index_parse(j, strlen(j), &idx, &e) == 0, "an OCI index parses");
	tap_str_eq(image_descriptor_annotation(&idx.manifests[0], ANNOTATION_REF_NAME), "latest",
		   "index annotations are readable by key");
	tap_str_eq(idx.manifests[0].platform_arch, "amd64", "index platform parsed");
	_cleanup_free_ char *out = image_index_to_json(&idx);
	tap_str_eq(out, j, "an index written back is byte-identical");
	image_index_done(&idx);
}

static void digests(void)
{
	char d[DIGEST_STR_LEN];
	digest_buffer("", 0, d);
	tap_str_eq(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		   "sha256 of the empty string");
	tap_ok(digest_is_valid(d) && !digest_is_valid("sha256:E3B0") &&
		       !digest_is_valid("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	       "digest_is_valid takes only sha256 with 64 lowercase hex digits");
	struct digester *g = digester_new();
	digester_update(g, "ab", 2);
	digester_update(g, "c", 1);
	char d2[DIGEST_STR_LEN];
	digester_final(g, d2);
	tap_ok(digester_size(g) == 3, "the digester counts bytes");
	digester_free(g);
	tap_str_eq(d2, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		   "streaming sha256 equals the one-shot digest of 'abc'");
	_cleanup_free_ char *t = image_time_format(0);
	tap_str_eq(t, "1970-01-01T00:00:00Z", "times are RFC 3339 in UTC");
}

int main(void)
{
	config_round_trip();
	config_null_vs_empty();
	config_sorting();
	config_errors();
	manifest_round_trip();
	index_round_trip();
	digests();
	return tap_done();
}
