/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/base.h: the small shared base of molt — errors with context chains,
 * cleanup macros, logging, allocation, string and file helpers, the in-root opener.
 *
 * Every module (runner/, sandbox/, layers/) may include this header; lib/ includes
 * nothing of theirs.
 */
#ifndef MOLT_LIB_BASE_H
#define MOLT_LIB_BASE_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define MOLT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define MOLT_NORETURN __attribute__((noreturn))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- errors */

/* Process exit codes of SPEC.md §2. */
enum molt_exit {
	MOLT_EXIT_OK = 0,
	MOLT_EXIT_FAILURE = 1, /* the build or command failed */
	MOLT_EXIT_USAGE = 2,   /* usage or Dockerfile syntax error */
};

/*
 * An error travels up as a heap object; each caller may prefix context.
 * `code` is a positive errno (0 when the error is not a system error);
 * `exit_code` is what main() exits with; `detail` is optional extra text printed
 * after the message (the echoed Dockerfile line and caret, the last lines of a
 * failing RUN's output).
 */
struct molt_error {
	int code;
	int exit_code;
	char *msg;
	char *detail;
};

/*
 * Fills *err (when err is non-NULL and *err is NULL; a first error is never
 * overwritten) and returns -errnum (or -EINVAL when errnum is 0), so a caller writes
 * `return molt_error_set(err, errno, "open '%s'", path);`.
 * With errnum > 0 the message gets ": <strerror words>" appended.
 */
int molt_error_set(struct molt_error **err, int errnum, const char *fmt, ...) MOLT_PRINTF(3, 4);
/* Same, but never appends strerror; for errors that are not system errors. */
int molt_error_setx(struct molt_error **err, int errnum, const char *fmt, ...) MOLT_PRINTF(3, 4);
/* A usage / syntax error: exit code 2, errno EINVAL. */
int molt_error_usage(struct molt_error **err, const char *fmt, ...) MOLT_PRINTF(2, 3);
/* Prefixes context ("ctx: old message"); returns -code of the existing error. */
int molt_error_wrap(struct molt_error **err, const char *fmt, ...) MOLT_PRINTF(2, 3);
/* Attaches (replaces) the detail text. */
void molt_error_set_detail(struct molt_error *e, const char *detail);
/* Returns -code (or -EINVAL) of an error, for passing it on. */
int molt_error_ret(const struct molt_error *e);
/* After a callee failed and set *err: its -code, to return unchanged (err may be NULL). */
int molt_error_pass(struct molt_error **err);
void molt_error_free(struct molt_error *e);
/*
 * Drops an error on purpose — a best-effort clean-up, a probe whose failure has a
 * fallback, a result the caller recomputes — saying why: logs "why: message" at
 * debug level, frees *e and sets it to NULL (no-op when *e is NULL).
 */
void molt_error_drop(struct molt_error **e, const char *why);

/* lib/error_codec.c: an error across a process boundary (pipes between molt's processes). */
/* Bytes molt_error_encode() needs for the whole of e. */
size_t molt_error_encoded_size(const struct molt_error *e);
/* Writes e into buf (cap >= 33 bytes), cutting the message, then the detail, to fit;
 * returns the bytes written. Allocates nothing (safe in a forked child). */
size_t molt_error_encode(const struct molt_error *e, char *buf, size_t cap);
/* Reads what molt_error_encode() wrote into *err (exit code, errno, message, detail);
 * returns its -errno, or -EIO for bytes that are no such record. */
int molt_error_decode(const char *buf, size_t len, struct molt_error **err);
/* Prints "molt: <msg>\n<detail>" to stderr. Only main() (and test drivers) call it. */
void molt_error_print(const struct molt_error *e);

/* ---------------------------------------------------------------- cleanup */

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd); /* never retried on EINTR: the fd is gone either way */
		errno = saved;
	}
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}
static inline void molt_error_freep(struct molt_error **e)
{
	molt_error_free(*e);
}
/* Kills (SIGKILL) and reaps a child that is still owned by the scope. */
void molt_pid_killp(pid_t *pid);

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_error_ _cleanup_(molt_error_freep)
#define _cleanup_pid_ _cleanup_(molt_pid_killp)
#define _cleanup_strv_ _cleanup_(strv_freep)
#define _cleanup_strbuf_ _cleanup_(strbuf_done)

/* Moves ownership out of a cleanup variable. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _tp = (p);                                                           \
		(p) = NULL;                                                                        \
		_tp;                                                                               \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _tf = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_tf;                                                                               \
	})

/* Ends each of the n structs in the array v with done(&v[i]), then frees v: how every
 * owner of an array of structs lets it go. */
#define ARRAY_FREE(v, n, done)                                                                     \
	do {                                                                                       \
		for (size_t _af = 0; _af < (n); _af++)                                             \
			done(&(v)[_af]);                                                           \
		free(v);                                                                           \
	} while (0)
/* Appends a value (a compound literal may have commas) to the array v of n elements: one
 * realloc per element, for the short lists molt keeps (flags, mounts, outputs). */
#define ARRAY_PUSH(v, n, ...)                                                                      \
	do {                                                                                       \
		(v) = xrealloc((v), ((n) + 1) * sizeof(*(v)));                                     \
		(v)[(n)++] = __VA_ARGS__;                                                          \
	} while (0)

/* ---------------------------------------------------------------- logging */

enum molt_log_level { MOLT_LOG_QUIET, MOLT_LOG_WARN, MOLT_LOG_INFO, MOLT_LOG_DEBUG };
extern enum molt_log_level molt_log_level;
void molt_warn(const char *fmt, ...) MOLT_PRINTF(1, 2);
void molt_info(const char *fmt, ...) MOLT_PRINTF(1, 2);
void molt_debug(const char *fmt, ...) MOLT_PRINTF(1, 2);

/* ---------------------------------------------------------------- allocation */

/* Out of memory is not an error molt recovers from: these abort with a message. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) MOLT_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) MOLT_PRINTF(1, 0);

/* ---------------------------------------------------------------- strings */

/* A growable NUL-terminated buffer. Zero-initialise (STRBUF_INIT) before use. */
struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
};
#define STRBUF_INIT {NULL, 0, 0}
/* Room for extra more bytes (and the NUL) without another realloc; len unchanged. */
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t n);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addc(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) MOLT_PRINTF(2, 3);
void strbuf_reset(struct strbuf *sb);
/* Returns the buffer (never NULL, "" when empty) and resets sb. */
char *strbuf_detach(struct strbuf *sb);
/* Frees the buffer; usable as a cleanup function. */
void strbuf_done(struct strbuf *sb);
/* The content, "" when nothing was added. */
const char *strbuf_str(const struct strbuf *sb);

/* NULL-terminated string vectors. */
size_t strv_len(char *const *v);
/* Appends a copy of s; *v may be NULL. */
void strv_push(char ***v, const char *s);
/* Appends s, taking ownership. */
void strv_push_take(char ***v, char *s);
char **strv_copy(char *const *v);
void strv_free(char **v);
static inline void strv_freep(char ***v)
{
	strv_free(*v);
}
bool strv_contains(char *const *v, const char *s);
/* Sorts a NULL-terminated vector in place by strcmp. */
void strv_sort(char **v);
/*
 * Merges "K=V" entries (an entry without '=' counts as "K=") into the environment
 * list *env in one pass: an entry whose K is already there replaces it in place when
 * `replace`, else is dropped; the others are appended in order. Linear in both sizes,
 * so a base image with 200,000 Env entries costs no quadratic scan.
 */
void strv_env_merge(char ***env, char *const *add, bool replace);
/*
 * Sets K=V in a "K=V" list one key at a time in constant time (an image config's Env
 * or Labels, ENV by ENV): a hash index on K beside the list, and room grown by
 * doubling. Only env_index_set() may change the list while it is indexed: whoever
 * replaces or frees the list calls env_index_done() first.
 */
struct env_index {
	char **v;        /* the list indexed */
	size_t n, cap;   /* its length, and the room allocated */
	size_t *slots;   /* entry + 1, 0 = empty */
	size_t n_slots;
};
void env_index_set(struct env_index *x, char ***env, const char *key, const char *value);
void env_index_done(struct env_index *x);

bool str_startswith(const char *s, const char *prefix);
bool str_endswith(const char *s, const char *suffix);
/* Case-insensitive ASCII comparison. */
bool str_eq_nocase(const char *a, const char *b);
/* Where the last component of path starts, and its length in *ret_len, trailing slashes
 * not counted: "a/b/" gives "b", "" and "/" an empty one. */
size_t path_last_component(const char *path, size_t *ret_len);
/* Parses a base-10 integer within [min, max]; returns -EINVAL / -ERANGE. */
int str_to_int64(const char *s, int64_t min, int64_t max, int64_t *ret);

/*
 * termesc.c: untrusted text made safe for the caller's terminal. Control bytes
 * (ESC, the rest of C0 but tab and newline, DEL) become caret notation ("^["), C1
 * controls (0x80-0x9f outside valid UTF-8, and U+0080..U+009F) become "\xNN"; other
 * text is unchanged. Appends to sb; term_escape() returns a new string.
 */
void term_escape_to(struct strbuf *sb, const char *text, size_t n);
char *term_escape(const char *text);

/* ---------------------------------------------------------------- base64.c */

/* Standard base64 with padding (RFC 4648 §4); never fails. */
char *base64_encode(const void *data, size_t len);
/* Decodes standard base64 (padding optional, nothing else allowed) into a NUL-terminated
 * buffer; -EINVAL on anything else, *ret untouched. */
int base64_decode(const char *s, size_t len, char **ret, size_t *ret_len);

/* ---------------------------------------------------------------- files */

/* Reads a whole file (at most max_size bytes, else -EFBIG). Host paths only. Only a
 * regular file: anything else (a FIFO, a device) is refused with -EINVAL, never waited on. */
int read_file(const char *path, size_t max_size, char **ret_data, size_t *ret_len,
	      struct molt_error **err);
/* Reads the open fd whole: a regular file of at most max_size bytes (-EINVAL
 * otherwise, never a read that could block); errors name path. */
int read_regular_fd(int fd, const char *path, size_t max_size, char **ret_data, size_t *ret_len,
		    struct molt_error **err);
/* Reads fd to its end, whatever it is (a pipe too), into a NUL-terminated *ret_data:
 * -EFBIG past max_size bytes, -errno when a read fails; the caller words the error. */
int read_fd_bounded(int fd, size_t max_size, char **ret_data, size_t *ret_len);
/* Same, relative to dirfd. */
int read_file_at(int dirfd, const char *path, size_t max_size, char **ret_data, size_t *ret_len,
		 struct molt_error **err);
/*
 * Writes data to path atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory. Host paths only.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      struct molt_error **err);
/* Writes all of buf, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
/*
 * For a large file written front to back and fsync'ed at its end: once 8 MiB more than
 * *kicked have been written (written: the bytes so far), starts their writeback
 * (sync_file_range WRITE: asynchronous, no durability by itself) so the final fsync
 * waits for the tail only, not for the whole file after the last byte. A pipe: nothing.
 */
void writeback_kick(int fd, uint64_t *kicked, uint64_t written);
/* Reads up to len bytes, retrying on EINTR; returns bytes read or -errno. */
ssize_t read_full(int fd, void *buf, size_t len);
/* mkdir -p for host paths. */
int mkdir_p(const char *path, mode_t mode, struct molt_error **err);
/*
 * Removes a directory tree below dirfd without following symlinks (it works on
 * fds, so a racing symlink swap cannot redirect it). Directories without write
 * permission are chmod'ed first so trees unpacked from images can be removed.
 */
int rm_rf_at(int dirfd, const char *name, struct molt_error **err);
int rm_rf(const char *path, struct molt_error **err);

/* ---- lib/stream.c: `-` for stdin and stdout */
/* Copies in to its end into out; more than max bytes (0: no limit) is -EFBIG. */
int stream_copy(int in, int out, uint64_t max, const char *what, struct molt_error **err);
int stream_file_to_stdout(const char *path, struct molt_error **err);
/* -ENOTTY when fd is a terminal: a tar is neither typed nor shown ("write to", "read a
 * tar from"). */
int stream_refuse_tty(int fd, const char *what, struct molt_error **err);
/* Stdin copied whole (at most max bytes, 0: no limit) into an unnamed file in dir,
 * returned at offset 0; a terminal on stdin is refused. */
int stream_stdin_to_file(const char *dir, uint64_t max, int *ret_fd, struct molt_error **err);
/* The names in the directory dirfd (without . and ..), sorted by strcmp so walks are
 * reproducible; 0 or -errno, *ret untouched on failure. */
int dir_list_sorted(int dirfd, char ***ret);
/* True when all n bytes are zero: unpacking leaves such blocks as holes. */
bool mem_is_zero(const void *p, size_t n);

/* ---------------------------------------------------------------- inroot.c */

/*
 * In-root path resolution (lib/inroot.c). Every path molt takes from an image (a tar
 * entry, a symlink target, a hardlink target, a COPY source inside a stage) is
 * resolved relative to a directory fd as if that directory were "/": absolute
 * symlinks and ".." stop at the root instead of reaching the host. openat2(2) with
 * RESOLVE_IN_ROOT does this in the kernel (5.6+); the walk is the same rule done one
 * component at a time for kernels or seccomp profiles without openat2.
 */
enum inroot_mode {
	INROOT_AUTO,    /* openat2 when the kernel has it, else the walk */
	INROOT_OPENAT2, /* openat2 only (fails with ENOSYS where missing) */
	INROOT_WALK,    /* the fd-relative component walk only */
};

/*
 * Opens `path` (absolute or relative; "" and "/" mean the root) inside rootfd,
 * following symlinks as if rootfd were "/". flags are openat(2) flags (O_CLOEXEC is
 * added; O_CREAT is not supported: create with *at() on inroot_open_parent()).
 * Returns the new fd or a negative errno (-ELOOP after 40 symlinks, -ENOENT, ...).
 */
int inroot_open(int rootfd, const char *path, int flags, enum inroot_mode mode);

/*
 * Opens (O_PATH | O_DIRECTORY) the directory that holds the last component of
 * `path` inside rootfd and returns that component in *ret_name (malloc'ed; ""
 * when path names the root itself). The last component is NOT followed, so the
 * caller acts on it with *at(..., AT_SYMLINK_NOFOLLOW) / O_NOFOLLOW. With
 * `create`, missing parent directories are made (mode 0755, owned by the caller).
 * Returns the fd or a negative errno; *ret_name untouched on failure.
 */
int inroot_open_parent(int rootfd, const char *path, bool create, enum inroot_mode mode,
		       char **ret_name);

/*
 * The same, but no symlink at all is followed on the way: every component of the
 * directory part must be a real directory (-ELOOP otherwise; the last one is followed
 * or not as O_NOFOLLOW says, and with O_PATH | O_NOFOLLOW a symlink is opened itself).
 * For code that removes things: a link planted by a step is never followed, not even
 * inside the root (CVE-2024-23652).
 */
int inroot_open_nolinks(int rootfd, const char *path, int flags, enum inroot_mode mode);

/*
 * inroot_open_parent() with no symlink followed and nothing created: the caller
 * then acts on *ret_name with fstatat/unlinkat(..., AT_SYMLINK_NOFOLLOW).
 */
int inroot_open_parent_nolinks(int rootfd, const char *path, enum inroot_mode mode,
			       char **ret_name);

/*
 * Reads the regular file `path` inside rootfd whole (at most max_size bytes, else
 * -EFBIG); a symlink resolves inside the root, a FIFO or device is refused without
 * blocking. Errors name `path`.
 */
int inroot_read_file(int rootfd, const char *path, size_t max_size, char **ret_data,
		     size_t *ret_len, struct molt_error **err);

/* True when openat2(RESOLVE_IN_ROOT) works here (probed once). */
bool inroot_have_openat2(void);

/*
 * Deep trees with bounded fds: a recursive walker holding a directory fd per level
 * would run out of descriptors in a tree 600 deep (RLIMIT_NOFILE is often 1024, or
 * lower for a user). From DIR_KEEP_FDS levels down, a walker parks its directory
 * before it descends (closes it, *fd = -1, remembering device and inode) and
 * unparks it from the child's fd afterwards through "..", checked to be the same
 * directory (-ESTALE if it was moved meanwhile). A parked walker must have listed
 * its directory first (dir_list_sorted), as no readdir stream survives the close.
 * Both are no-ops above DIR_KEEP_FDS.
 */
#define DIR_KEEP_FDS 32u
struct dir_park {
	dev_t dev;
	ino_t ino;
	bool parked;
};
int dir_park(int *fd, unsigned depth, struct dir_park *p);
int dir_unpark(int *fd, int childfd, struct dir_park *p);
/* The two for a walk going down into path: its parent *fd and, unless peer is NULL, the
 * same directory of a second tree walked alongside, with the errors worded for path. */
int dir_park_walk(int *fd, int *peer, unsigned depth, struct dir_park ret[2], const char *path,
		  struct molt_error **err);
int dir_unpark_walk(int *fd, int childfd, int *peer, int peer_childfd, struct dir_park p[2],
		    const char *path, struct molt_error **err);

/* A recursive walk of a tree: dir_for_each_child() lists the directory *dfd, sorted so
 * walks are reproducible, and calls fn for each entry with path = prefix/name and peer,
 * the same directory in a second tree walked alongside (NULL when there is none). fn
 * gets the fds by pointer, as a walker that descends parks them (dir_park above).
 * Deeper than DIR_WALK_MAX_DEPTH is refused: each level is a C stack frame. The walk
 * is named in its errors: "<verb> 'prefix': directory tree too deep", "read <noun>
 * 'prefix'" (the top, prefix "", as '/' when top_as_slash). */
#define DIR_WALK_MAX_DEPTH 4096u
struct dir_walk {
	const char *verb, *noun;
	bool top_as_slash;
};
typedef int (*dir_child_fn)(void *ctx, int *dfd, int *peer, const char *name, const char *path,
			    unsigned depth, struct molt_error **err);
int dir_for_each_child(const struct dir_walk *w, int *dfd, int *peer, const char *prefix,
		       unsigned depth, dir_child_fn fn, void *ctx, struct molt_error **err);

/* ---------------------------------------------------------------- lazylib.c
 * Shared libraries opened on first use instead of linked (layers/lazy_archive.c,
 * layers/lazy_crypto.c, layers/lazy_curl.c): molt does not pay their start-up cost unless
 * it calls them. Their first call must happen on the host's filesystem, never in a
 * sandbox after pivot_root: dlopen would then load code from the image's /lib.
 */

/*
 * dlopen()s soname (RTLD_NOW | RTLD_LOCAL) and resolves names[0..n) into fns[0..n).
 * All or nothing: on failure every fns[i] is NULL, the library is closed, and why holds
 * "load the shared library 'SONAME': reason". Returns 0 or -ELIBACC. Not thread-safe
 * on the same fns: call it under pthread_once.
 */
int lazylib_open(const char *soname, const char *const *names, void **fns, size_t n, char *why,
		 size_t why_len);

#endif
