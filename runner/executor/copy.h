/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/copy.h: the COPY/ADD file engine. Copies paths from a source root (the
 * build context or an earlier stage's filesystem) into a destination root (the
 * step's rootfs), with docker build's semantics for directories, wildcards,
 * trailing slashes, ownership and modes.
 *
 * Every path on either side is resolved inside its root through a directory fd
 * (inroot_open, lib/inroot.c): a symlink in the context or in a stage, however it
 * points, can never reach the host (BuildKit testLocalSymlinkEscape,
 * testCopyThroughSymlinkMultiStage). Both roots are directory fds owned by the
 * caller; the engine opens and closes only its own fds.
 */
#ifndef MOLT_RUNNER_COPY_H
#define MOLT_RUNNER_COPY_H

#include <sys/stat.h>

#include "../../lib/base.h"

/* Returns true when relpath (relative to the source root, no leading "/") must not be
 * copied: .dockerignore for the context, --exclude patterns. */
typedef bool (*copy_skip_fn)(void *userdata, const char *relpath, bool is_dir);

struct copy_opts {
	bool chown;       /* --chown given: every copied and created entry gets uid:gid */
	uid_t uid;
	gid_t gid;
	bool keep_owner;  /* COPY --from keeps the source's ids; the context gives 0:0 */
	bool chmod;       /* --chmod given: files and directories get `mode` */
	mode_t mode;
	bool parents;     /* --parents: keep the source's path below the destination */
	bool no_setid;    /* drop set-uid and set-gid bits (-o type=local) */
	copy_skip_fn skip; /* called with paths relative to the source root */
	void *skip_userdata;
	/* --exclude: called with paths relative to the source argument being copied
	 * (BuildKit matches exclude patterns below each copied path). */
	copy_skip_fn exclude;
	void *exclude_userdata;
};

struct copy_stats {
	uint64_t files, dirs, links, bytes;
};

/*
 * COPY src... dst. `sources` are paths relative to src_root (may hold wildcards:
 * *, ?, [...] per path component, Go filepath.Match semantics); `dest` is absolute
 * inside dst_root (the caller has already resolved it against WORKDIR and kept a
 * trailing slash if the Dockerfile had one). Errors name the source as written.
 */
int copy_paths(int src_root, char *const *sources, int dst_root, const char *dest,
	       const struct copy_opts *o, struct copy_stats *ret_stats, struct molt_error **err);

/*
 * Creates the directory `path` and its missing parents inside rootfd (owned by
 * uid:gid, mode 0755) and returns an O_DIRECTORY fd for it, or -errno.
 * Existing components are followed like the kernel would, but inside the root.
 */
int copy_mkdir_in_root(int rootfd, const char *path, uid_t uid, gid_t gid);
/* copy_mkdir_in_root(), then the directory opened for reading: its fd, or the error
 * ("create 'path'", "open 'path'"). */
int copy_mkdir_open(int rootfd, const char *path, uid_t uid, gid_t gid, struct molt_error **err);

/* Splits a path into normalised components (no "", "." ; ".." kept for the caller
 * to refuse or clamp). */
char **copy_path_split(const char *path);

/* True when s holds a wildcard character that filepath.Match would interpret. */
bool copy_has_wildcard(const char *s);
/*
 * The paths one COPY source argument stands for, relative to src_root, sorted: its
 * wildcards expanded component by component, minus what skip (the .dockerignore)
 * leaves out. The one selection both COPY (copy_paths) and the build cache's source
 * digest use, so the key hashes exactly the files COPY writes.
 */
int copy_sources_select(int src_root, const char *src,
			bool (*skip)(void *userdata, const char *relpath, bool is_dir),
			void *skip_userdata, char ***ret, struct molt_error **err);

#endif
