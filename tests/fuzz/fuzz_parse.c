/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the Dockerfile frontend: parse the bytes as a Dockerfile, build
 * the plan (fixed platforms, a --target and build args taken from the input's first
 * line so those paths are reached too), render the JSON, free everything.
 */
#include <stdint.h>
#include <string.h>

#include "../../runner/frontend/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct platform amd64 = {"linux", "amd64", ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct molt_error *err = NULL;
	struct dockerfile *df = NULL;
	if (dockerfile_parse((const char *)data, size, "Dockerfile", &df, &err) < 0) {
		molt_error_free(err);
		return 0;
	}
	/* A first-line "# target=NAME" picks the target, exercising --target pruning. */
	char target[32] = "";
	if (size > 9 && !memcmp(data, "# target=", 9)) {
		size_t n = 0;
		while (9 + n < size && n < sizeof(target) - 1 && data[9 + n] != '\n' && data[9 + n])
			n++;
		memcpy(target, data + 9, n);
		target[n] = '\0';
	}
	char *const bargs[] = {"A=1", "HTTP_PROXY=p", "EMPTY=", "FROMENV", NULL};
	struct plan_options o = {.target = target[0] ? target : NULL,
				 .build_args = bargs,
				 .build_platform = &amd64,
				 .target_platform = &amd64};
	struct build_plan *plan = NULL;
	if (build_plan_make(df, &o, &plan, &err) == 0) {
		char *json = NULL;
		if (build_plan_to_json(plan, &json, &err) == 0)
			free(json);
		build_plan_free(plan);
	}
	molt_error_free(err);
	dockerfile_free(df);
	return 0;
}
