/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/cache.h: build cache keys and the executor's cache hooks (internal to the
 * executor; the index itself is layers/cache_index.c).
 *
 * Keys form a chain per stage, as in BuildKit:
 *   state_0 = the base: a stored image's manifest digest, scratch + platform, or the
 *             final state of an earlier stage (carried in its result as "cacheKey");
 *   key_i   = H(state_{i-1}, the instruction as executed, what it reads);
 *   state_i = H(key_i, the diff ID it produced, or "no layer").
 * Only steps that make a layer (RUN, COPY, ADD, WORKDIR) have keys and entries.
 * Metadata instructions are recomputed every build (they are cheap); what of them a
 * step can see enters that step's key as the value in effect: a RUN's key holds the
 * image ENV, the build args in scope but the proxy ones (changing a build-arg
 * invalidates from the first RUN that sees it), SHELL, USER, WORKDIR, the network mode and its --mount specs; a
 * LABEL or CMD change invalidates nothing (as BuildKit).
 * COPY/ADD keys hold a digest of the selected sources: for each file its path, type,
 * mode, the owner when it is kept (--from), content or link target, after
 * .dockerignore and --exclude; mtimes and xattrs are not part of it (BuildKit's
 * content checksum ignores mtimes too). COPY --from holds the source stage's state or
 * the image's manifest digest plus the source paths. ADD of a URL holds --checksum;
 * without one the URL is fetched to learn its content and Last-Modified time (as
 * BuildKit), and the step, when it runs, adds that download. Because a state holds
 * the diff ID its step produced, a step that ran again and made something else
 * invalidates the steps after it. $SOURCE_DATE_EPOCH is in every key (it changes
 * the tar).
 *
 * Keys are portable (--cache-to/--cache-from share them between machines): nothing in
 * them is a path of the machine (context files are hashed by their path in the context),
 * the user running the build, an owner (COPY --from enters by the source stage's state
 * or image digest, not by the host uids of its tree), a time (only $SOURCE_DATE_EPOCH, which is output), a credential or
 * a secret's content (secret and ssh mounts enter by their options only).
 *
 * Times: without $SOURCE_DATE_EPOCH a cached step keeps the history time it was
 * first built at, and metadata entries and the config's `created` take the time of
 * the last layer step before them (or the base's), so a fully cached rebuild gives
 * the same image ID, as BuildKit does.
 */
#ifndef MOLT_RUNNER_CACHE_H
#define MOLT_RUNNER_CACHE_H

#include "stage.h"

/* ---- keys (pure: unit-tested in tests/unit/test_cache.c) */

/* A sha256 over typed, length-prefixed fields, so ("ab","c") never equals ("a","bc"). */
struct cache_hash;
struct cache_hash *cache_hash_new(const char *domain);
/* s may be NULL (hashed as absent, not as ""). */
void cache_hash_str(struct cache_hash *h, const char *tag, const char *s);
/* v may be NULL (absent) or empty. */
void cache_hash_strv(struct cache_hash *h, const char *tag, char *const *v);
void cache_hash_int(struct cache_hash *h, const char *tag, int64_t v);
/* Writes "sha256:…" and frees h. */
void cache_hash_final(struct cache_hash *h, char ret[DIGEST_STR_LEN]);

/* What a step's key is made of besides the instruction. Unused fields are NULL. */
struct cache_step_input {
	const char *state;            /* the stage's state before the step */
	const struct build_instr *in; /* after expansion */
	char *const *env;             /* RUN: the image ENV in effect */
	char *const *shell;           /* RUN: the image SHELL in effect */
	const char *user, *workdir;   /* the image USER / WORKDIR in effect */
	const char *network;          /* RUN: the network mode it runs with */
	const char *source_date_epoch; /* $SOURCE_DATE_EPOCH */
	const char *sources;          /* COPY/ADD: digest of the selected sources or the
				       * --from state; RUN: digest of its mounts' sources */
};
void cache_step_key(const struct cache_step_input *x, char ret[DIGEST_STR_LEN]);
/* state_i from key_i and the diff ID the step produced (NULL: no layer). */
void cache_state_next(const char *key, const char *diff_id, char ret[DIGEST_STR_LEN]);
/* state_0 of a stage: kind "image" (id = manifest digest), "scratch" (id = platform). */
void cache_state_base(const char *kind, const char *id, char ret[DIGEST_STR_LEN]);

/*
 * The digest of what COPY src... would read from src_root: wildcards expanded like
 * the copy engine (runner/executor/copy.c), `skip` called with paths relative to src_root
 * (.dockerignore), `exclude` with paths below each source (--exclude); keep_owner
 * adds uids/gids (COPY --from). A missing source is hashed as missing.
 */
int cache_sources_digest(int src_root, char *const *sources, bool keep_owner,
			 bool (*skip)(void *, const char *, bool), void *skip_userdata,
			 bool (*exclude)(void *, const char *, bool), void *exclude_userdata,
			 char ret[DIGEST_STR_LEN], struct molt_error **err);
/* The same, the walk also reporting each entry it hashes to files (--explain-cache;
 * may be NULL). */
struct explain_files;
int cache_sources_digest_explain(int src_root, char *const *sources, bool keep_owner,
				 bool (*skip)(void *, const char *, bool), void *skip_userdata,
				 bool (*exclude)(void *, const char *, bool),
				 void *exclude_userdata, struct explain_files *files,
				 char ret[DIGEST_STR_LEN], struct molt_error **err);

/* ---- the executor's hooks (runner/executor/stage.c) */

/* After FROM: computes state_0 (an unknown base leaves the stage uncached). */
int cache_stage_begin(struct stage_run *sr, struct molt_error **err);
/*
 * Before a layer step: on a hit (*ret_hit) *ret is the stored step result, for
 * stage_apply(), and the step must not run. A miss prepares cache_step_record().
 */
int cache_step_lookup(struct stage_run *sr, const struct build_instr *in,
		      struct step_result *ret, bool *ret_hit, struct molt_error **err);
/* After a layer step ran and was applied: records its result, advances the state. */
int cache_step_record(struct stage_run *sr, const struct step_result *res,
		      struct molt_error **err);
/* A replayed step's time becomes the stage's clock (history, config created). */
void cache_clock_set(struct stage_run *sr, const char *created);
/* The time for a history entry or the config's created (malloc'ed RFC 3339). */
char *cache_stage_time(const struct stage_run *sr);
/* Adds the stage's final state to its result JSON (*result is replaced). */
void cache_stage_result(const struct stage_run *sr, char **result);
/* The state a stage result carries, or "" (NULL json too). */
void cache_result_state(const char *json, char ret[DIGEST_STR_LEN]);
/* The keys of the cached steps whose layers a stage result has ("cacheSteps": its
 * own and its base stage's), for --cache-to; an empty list when none. */
char **cache_result_steps(const char *json);
/* The build args a RUN's key holds: all but the proxy args (HTTP_PROXY & co., as
 * BuildKit leaves them out), whose values differ between machines and may carry a
 * proxy's credentials. */
char **cache_key_args(char *const *args);
void cache_stage_free(struct stage_run *sr);

#endif
