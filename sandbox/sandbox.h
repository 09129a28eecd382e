/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox/sandbox.h: the one public header of the sandbox module — the build user
 * namespace, the per-step sandbox, and `molt run`'s engine.
 */
#ifndef MOLT_SANDBOX_H
#define MOLT_SANDBOX_H

#include <sys/types.h>

#include "../lib/base.h"

/* ================================================================================
 * The build namespace (userns.c)
 * ================================================================================ */

enum sandbox_idmap_kind {
	SANDBOX_IDMAP_NONE,     /* not entered yet */
	SANDBOX_IDMAP_SUBID,    /* 0 → caller, 1..N → the caller's /etc/subuid range */
	SANDBOX_IDMAP_SINGLE,   /* only 0 → caller: no subuid range (a warning says so) */
	SANDBOX_IDMAP_IDENTITY, /* molt runs as real root: every id maps to itself */
};

struct sandbox_idmap {
	enum sandbox_idmap_kind kind;
	uid_t outer_uid; /* the caller's ids outside the namespace */
	gid_t outer_gid;
	uint32_t subuid_start, subuid_count; /* SUBID only; count capped at 65536 */
	uint32_t subgid_start, subgid_count;
};

/*
 * Moves the calling process into molt's build namespace: a new user namespace in
 * which it is uid 0 / gid 0 (the caller mapped to 0, the subuid range to 1..N), and
 * a new mount namespace whose mounts never propagate back to the host. Everything
 * molt does with stored trees (unpack, overlay, diff, tar) happens in there; when
 * the process exits the namespaces are gone with it.
 *
 * Must be called while the process is single-threaded (a kernel rule for
 * CLONE_NEWUSER). Calling it again is a no-op. ret_map (may be NULL) receives the map.
 * MOLT_IDMAP=single forces the one-id map (for tests of the fallback).
 */
int sandbox_enter_build_namespace(struct sandbox_idmap *ret_map, struct molt_error **err);

/* The map in force (kind NONE before sandbox_enter_build_namespace()). */
const struct sandbox_idmap *sandbox_current_idmap(void);

/*
 * Looks up the caller's subordinate id range in a subuid/subgid file (lines
 * "name:start:count" or "uid:start:count"); pure, for tests. Returns 0 and fills
 * start/count, or -ENOENT when there is none.
 */
int sandbox_find_subid_range(const char *file_text, const char *user, uid_t uid,
			     uint32_t *ret_start, uint32_t *ret_count);

#endif
