/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/archive_load.h: private to `molt load` (archive_load.c: sources, OCI
 * layouts and the commit; archive_load_docker.c: docker save tars) — what a source
 * holds and the plan of what loading it will add to the store.
 */
#ifndef MOLT_LAYERS_ARCHIVE_LOAD_H
#define MOLT_LAYERS_ARCHIVE_LOAD_H

#include "layers_int.h"

#define JSON_MAX (16u << 20)
#define MAX_ENTRIES 100000

struct member {
	char *name;  /* normalised entry name */
	char *path;  /* temporary file; NULL once moved into the store */
	char *alias; /* for links: the member it points at */
	char digest[DIGEST_STR_LEN];
	int64_t size;
};

struct source {
	const char *input; /* for messages */
	int dirfd;         /* an OCI layout directory, or -1 for a tar */
	struct member *m;
	size_t n;
	struct write_budget budget; /* what extracting a tar's members may write */
	char *what;
};

struct plan_blob {
	char *member; /* from the source, or */
	char *data;   /* generated here (docker manifests) */
	size_t len;
	char digest[DIGEST_STR_LEN];
};

struct plan_image {
	char manifest[DIGEST_STR_LEN];
	char id[DIGEST_STR_LEN];
	char **names;
};

struct plan {
	struct plan_blob *b;
	size_t nb;
	struct plan_image *im;
	size_t ni;
};

/* A source's files (archive_load.c): opened, read whole (up to JSON_MAX), hashed. */
int src_open(struct source *src, const char *name, int *ret_fd, struct molt_error **err);
int src_read(struct source *src, const char *name, char **ret, size_t *ret_len,
	     struct molt_error **err);
int src_digest(struct source *src, const char *name, char ret[DIGEST_STR_LEN],
	       int64_t *ret_size, struct molt_error **err);
/* The plan (archive_load.c): a blob from the source, generated data, an image. */
void plan_add_member(struct plan *p, const char *member, const char *digest);
void plan_add_data(struct plan *p, char *data, size_t len, char ret[DIGEST_STR_LEN]);
void plan_add_image(struct plan *p, const char *manifest, const char *id, char **names);

/* docker save: every image of manifest.json into p. */
int load_docker(struct source *src, struct plan *p, struct molt_error **err);

#endif
