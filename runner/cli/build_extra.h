/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/cli/build_extra.h: the `docker build` flags CI scripts pass that molt takes
 * for parity (cmd_build_extra.c), and the contexts that are not a directory
 * (cmd_build_context.c): `-` on stdin and git URLs.
 */
#ifndef MOLT_RUNNER_BUILD_EXTRA_H
#define MOLT_RUNNER_BUILD_EXTRA_H

#include "cli.h"

struct build_extra {
	char **labels;          /* --label k=v */
	char **annotations;     /* --annotation [manifest:]k=v, stored as k=v */
	char **no_cache_stages; /* --no-cache-filter STAGE (repeatable, comma lists) */
	char **build_contexts;  /* --build-context name=SOURCE, as given */
	const char *metadata_file;
};

/* The option table's rows of these flags, spliced into cmd_build_options. */
#define BUILD_EXTRA_OPTIONS                                                                   \
	{0, "label", "K=V", false, "set an image label (repeatable)"},                         \
	{0, "annotation", "K=V", false,                                                        \
	 "annotate the image manifest (repeatable; a manifest:\n"                             \
	 "prefix is accepted, index: is refused: molt writes\n"                               \
	 "no index)"},                                                                         \
	{0, "no-cache-filter", "STAGE", false,                                                 \
	 "do not use the build cache for these stages\n"                                       \
	 "(repeatable or comma-separated)"},                                                   \
	{0, "metadata-file", "FILE", false,                                                    \
	 "write the result's digests as JSON (as buildx:\n"                                   \
	 "containerimage.digest, containerimage.config.digest,\n"                             \
	 "image.name)"},                                                                       \
	{0, "build-context", "NAME=SRC", false,                                                \
	 "a named context for FROM NAME and COPY --from=NAME:\n"                               \
	 "a directory, docker-image://REF or oci-layout://DIR[:TAG]"},                        \
	{0, "provenance", "BOOL", false,                                                       \
	 "only false is accepted: molt writes no attestations"},                              \
	{0, "sbom", "BOOL", false, "only false is accepted: molt writes no SBOM"},            \
	{0, "load", NULL, false,                                                               \
	 "accepted, does nothing: the result is always in the\n"                               \
	 "local store (molt images, molt save)"},                                              \
	{0, "cgroup-parent", "PATH", false,                                                    \
	 "refused: RUN steps are not placed in a cgroup of\n"                                  \
	 "your choosing (see molt build --memory)"},                                           \
	{0, "isolation", "MODE", false, "only default (docker's only value on Linux)"}

/*
 * Handles opt when it is one of BUILD_EXTRA_OPTIONS: 1 when handled, 0 when not
 * ours, negative errno with *err set on a bad value.
 */
int build_extra_option(struct build_extra *x, const char *opt, const char *v,
		       struct molt_error **err);
void build_extra_done(struct build_extra *x);

#endif
