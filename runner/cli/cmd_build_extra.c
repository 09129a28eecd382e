/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/cli/cmd_build_extra.c: `docker build` / `docker buildx build` flags that CI
 * scripts pass, each with BuildKit's meaning, or refused with the reason where molt
 * cannot honour it (an "unknown option" would break the script without saying why).
 */
#include <string.h>

#include "build_extra.h"

static bool key_value_ok(const char *v)
{
	const char *eq = strchr(v, '=');
	return eq && eq != v;
}

/* --annotation: "k=v" or "manifest:k=v" (buildx's types; molt writes one manifest). */
static int add_annotation(struct build_extra *x, const char *v, struct molt_error **err)
{
	const char *kv = v;
	const char *colon = strchr(v, ':'), *eq0 = strchr(v, '=');
	if (colon && (!eq0 || colon < eq0) && !str_startswith(v, "manifest:")) {
		/* "index:", "manifest-descriptor:", platform qualifiers "manifest[os/arch]:" */
		return cli_usage_error(err, "build",
				       "--annotation '%s': only manifest annotations are supported "
				       "(molt writes one image manifest, no index or descriptor)", v);
	}
	if (str_startswith(v, "manifest:"))
		kv = v + strlen("manifest:");
	if (!key_value_ok(kv))
		return cli_usage_error(err, "build", "--annotation '%s' is not KEY=VALUE", v);
	const char *eq = strchr(kv, '=');
	_cleanup_free_ char *k = xstrndup(kv, (size_t)(eq - kv));
	image_kv_set(&x->annotations, k, eq + 1);
	return 0;
}

static int add_no_cache_filter(struct build_extra *x, const char *v, struct molt_error **err)
{
	_cleanup_free_ char *copy = xstrdup(v);
	char *save = NULL;
	bool any = false;
	for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		strv_push(&x->no_cache_stages, f);
		any = true;
	}
	if (!any)
		return cli_usage_error(err, "build", "--no-cache-filter needs a stage name");
	return 0;
}

/* --provenance / --sbom: false (or 0) is the honest no-op; anything else asks for an
 * attestation molt cannot write. */
static int attestation(const char *opt, const char *v, struct molt_error **err)
{
	if (!strcmp(v, "false") || !strcmp(v, "0"))
		return 0;
	return molt_error_setx(err, ENOTSUP,
			       "--%s=%s: molt does not generate %s attestations; pass --%s=false",
			       opt, v, !strcmp(opt, "sbom") ? "SBOM" : "provenance", opt);
}

static int build_context_option(struct build_extra *x, const char *v, struct molt_error **err)
{
	const char *eq = strchr(v, '=');
	if (!eq || eq == v || !eq[1])
		return cli_usage_error(err, "build", "--build-context '%s' is not NAME=SOURCE", v);
	for (size_t i = 0; x->build_contexts && x->build_contexts[i]; i++)
		if (!strncmp(x->build_contexts[i], v, (size_t)(eq - v) + 1))
			return cli_usage_error(err, "build", "--build-context '%.*s' is given twice",
					       (int)(eq - v), v);
	strv_push(&x->build_contexts, v);
	return 0;
}

int build_extra_option(struct build_extra *x, const char *opt, const char *v,
		       struct molt_error **err)
{
	int r = 0;
	if (!strcmp(opt, "label")) {
		if (!key_value_ok(v))
			return cli_usage_error(err, "build", "--label '%s' is not KEY=VALUE", v);
		strv_push(&x->labels, v);
	} else if (!strcmp(opt, "annotation")) {
		r = add_annotation(x, v, err);
	} else if (!strcmp(opt, "no-cache-filter")) {
		r = add_no_cache_filter(x, v, err);
	} else if (!strcmp(opt, "metadata-file")) {
		if (!*v)
			return cli_usage_error(err, "build", "--metadata-file needs a file name");
		x->metadata_file = v;
	} else if (!strcmp(opt, "build-context")) {
		r = build_context_option(x, v, err);
	} else if (!strcmp(opt, "provenance") || !strcmp(opt, "sbom")) {
		r = attestation(opt, v, err);
	} else if (!strcmp(opt, "load")) {
		/* docker's shorthand for -o type=docker: the image is in the store already */
	} else if (!strcmp(opt, "cgroup-parent")) {
		return molt_error_setx(err, ENOTSUP,
				       "--cgroup-parent '%s': molt runs RUN steps in its own "
				       "sandbox, not under a cgroup you name; drop the flag (limit "
				       "memory with --memory)", v);
	} else if (!strcmp(opt, "isolation")) {
		if (strcmp(v, "default"))
			return cli_usage_error(err, "build",
					       "--isolation '%s': only 'default' exists on Linux", v);
	} else {
		return 0;
	}
	return r < 0 ? r : 1;
}

void build_extra_done(struct build_extra *x)
{
	strv_free(x->labels);
	strv_free(x->annotations);
	strv_free(x->no_cache_stages);
	strv_free(x->build_contexts);
}
