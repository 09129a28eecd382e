/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libarchive, loaded on first use instead of at start.
 *
 * Linked normally, libarchive drags libxml2, ICU, nettle, lzma, bz2, … into every molt
 * process: their relocations and constructors cost ~20 ms per start, which `molt run`
 * and `molt --version` pay without touching a tar. So molt is not linked with it;
 * instead this file defines the libarchive functions molt calls, with exactly the
 * prototypes of archive.h and archive_entry.h (the compiler checks them against the
 * headers), and each forwards to the real one, resolved once from
 * dlopen(MOLT_LIBARCHIVE_SONAME). Callers do not change.
 *
 * When the library cannot be loaded, the failure looks like any libarchive failure:
 * archive_*_new() return a placeholder object, every call on it fails with
 * ARCHIVE_FATAL, and archive_error_string() says which library could not be loaded
 * and why — which is what the callers already put in their error messages. The
 * placeholder is never handed to the real library (loading is decided once).
 *
 * A libarchive function used for the first time must be added to ARCHIVE_FUNCS
 * (the link of build/molt fails with "undefined reference" until it is).
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <stdio.h>

#include "../lib/lazylib.h"

#ifndef MOLT_LIBARCHIVE_SONAME
/* The Makefile passes the SONAME of the libarchive linked at build time; a compile
 * outside it (the fuzz targets, which also link -larchive) takes the dev package's link. */
#define MOLT_LIBARCHIVE_SONAME "libarchive.so"
#endif

/*
 * F(return type, name, (parameters), (arguments), value when not loaded)
 * V(name, (parameters), (arguments))          — for functions returning void
 * Failure values: ARCHIVE_FATAL for status codes, a placeholder for constructors,
 * NULL or 0 for getters (never reached: no entry exists without the library).
 */
#define ARCHIVE_FUNCS(F, V)                                                                        \
	F(struct archive *, archive_read_new, (void), (), DEAD_ARCHIVE)                            \
	F(int, archive_read_free, (struct archive * a), (a), ARCHIVE_OK)                           \
	F(int, archive_read_close, (struct archive * a), (a), ARCHIVE_OK)                          \
	F(int, archive_read_support_filter_none, (struct archive * a), (a), ARCHIVE_FATAL)         \
	F(int, archive_read_support_filter_gzip, (struct archive * a), (a), ARCHIVE_FATAL)         \
	F(int, archive_read_support_filter_zstd, (struct archive * a), (a), ARCHIVE_FATAL)         \
	F(int, archive_read_support_filter_xz, (struct archive * a), (a), ARCHIVE_FATAL)           \
	F(int, archive_read_support_filter_bzip2, (struct archive * a), (a), ARCHIVE_FATAL)        \
	F(int, archive_read_support_format_all, (struct archive * a), (a), ARCHIVE_FATAL)          \
	F(int, archive_read_support_format_tar, (struct archive * a), (a), ARCHIVE_FATAL)          \
	F(int, archive_read_support_format_gnutar, (struct archive * a), (a), ARCHIVE_FATAL)       \
	F(int, archive_read_support_format_raw, (struct archive * a), (a), ARCHIVE_FATAL)          \
	F(int, archive_read_open_fd, (struct archive * a, int fd, size_t block), (a, fd, block),   \
	  ARCHIVE_FATAL)                                                                           \
	F(int, archive_read_open_filename, (struct archive * a, const char *name, size_t block),   \
	  (a, name, block), ARCHIVE_FATAL)                                                         \
	F(int, archive_read_open_memory, (struct archive * a, const void *buf, size_t size),       \
	  (a, buf, size), ARCHIVE_FATAL)                                                           \
	F(int, archive_read_open,                                                                  \
	  (struct archive * a, void *ud, archive_open_callback *o, archive_read_callback *rd,      \
	   archive_close_callback *c),                                                             \
	  (a, ud, o, rd, c), ARCHIVE_FATAL)                                                        \
	F(int, archive_read_next_header, (struct archive * a, struct archive_entry * *e), (a, e),  \
	  ARCHIVE_FATAL)                                                                           \
	F(la_ssize_t, archive_read_data, (struct archive * a, void *buf, size_t size),             \
	  (a, buf, size), ARCHIVE_FATAL)                                                           \
	F(int, archive_read_data_block,                                                            \
	  (struct archive * a, const void **buf, size_t *size, la_int64_t *offset),                \
	  (a, buf, size, offset), ARCHIVE_FATAL)                                                   \
	F(int, archive_read_data_skip, (struct archive * a), (a), ARCHIVE_FATAL)                   \
	F(int, archive_read_data_into_fd, (struct archive * a, int fd), (a, fd), ARCHIVE_FATAL)    \
	F(struct archive *, archive_write_new, (void), (), DEAD_ARCHIVE)                           \
	F(struct archive *, archive_write_disk_new, (void), (), DEAD_ARCHIVE)                      \
	F(int, archive_write_disk_set_options, (struct archive * a, int flags), (a, flags),        \
	  ARCHIVE_FATAL)                                                                           \
	F(int, archive_write_free, (struct archive * a), (a), ARCHIVE_OK)                          \
	F(int, archive_write_close, (struct archive * a), (a), ARCHIVE_FATAL)                      \
	F(int, archive_write_add_filter_none, (struct archive * a), (a), ARCHIVE_FATAL)            \
	F(int, archive_write_add_filter_gzip, (struct archive * a), (a), ARCHIVE_FATAL)            \
	F(int, archive_write_add_filter_zstd, (struct archive * a), (a), ARCHIVE_FATAL)            \
	F(int, archive_write_set_filter_option,                                                    \
	  (struct archive * a, const char *m, const char *o, const char *v), (a, m, o, v),         \
	  ARCHIVE_FATAL)                                                                           \
	F(int, archive_write_set_format_pax, (struct archive * a), (a), ARCHIVE_FATAL)             \
	F(int, archive_write_set_format_pax_restricted, (struct archive * a), (a), ARCHIVE_FATAL)  \
	F(int, archive_write_set_format_ustar, (struct archive * a), (a), ARCHIVE_FATAL)           \
	F(int, archive_write_set_format_gnutar, (struct archive * a), (a), ARCHIVE_FATAL)          \
	F(int, archive_write_set_format_raw, (struct archive * a), (a), ARCHIVE_FATAL)             \
	F(int, archive_write_set_bytes_per_block, (struct archive * a, int n), (a, n),             \
	  ARCHIVE_FATAL)                                                                           \
	F(int, archive_write_set_bytes_in_last_block, (struct archive * a, int n), (a, n),         \
	  ARCHIVE_FATAL)                                                                           \
	F(int, archive_write_open_fd, (struct archive * a, int fd), (a, fd), ARCHIVE_FATAL)        \
	F(int, archive_write_open_filename, (struct archive * a, const char *name), (a, name),     \
	  ARCHIVE_FATAL)                                                                           \
	F(int, archive_write_open2,                                                                \
	  (struct archive * a, void *data, archive_open_callback *o, archive_write_callback *w,    \
	   archive_close_callback *c, archive_free_callback *f),                                   \
	  (a, data, o, w, c, f), ARCHIVE_FATAL)                                                    \
	F(int, archive_write_header, (struct archive * a, struct archive_entry * e), (a, e),       \
	  ARCHIVE_FATAL)                                                                           \
	F(la_ssize_t, archive_write_data, (struct archive * a, const void *buf, size_t size),      \
	  (a, buf, size), ARCHIVE_FATAL)                                                           \
	F(la_ssize_t, archive_write_data_block,                                                    \
	  (struct archive * a, const void *buf, size_t size, la_int64_t offset),                   \
	  (a, buf, size, offset), ARCHIVE_FATAL)                                                   \
	F(int, archive_write_finish_entry, (struct archive * a), (a), ARCHIVE_FATAL)               \
	F(la_int64_t, archive_filter_bytes, (struct archive * a, int n), (a, n), -1)               \
	F(int, archive_errno, (struct archive * a), (a), ELIBACC)                                  \
	F(const char *, archive_error_string, (struct archive * a), (a), lazylib_why)              \
	V(archive_clear_error, (struct archive * a), (a))                                          \
	F(struct archive_entry *, archive_entry_new, (void), (), DEAD_ENTRY)                       \
	V(archive_entry_free, (struct archive_entry * e), (e))                                     \
	F(struct archive_entry *, archive_entry_clear, (struct archive_entry * e), (e), e)         \
	F(const char *, archive_entry_pathname, (struct archive_entry * e), (e), NULL)             \
	F(const char *, archive_entry_hardlink, (struct archive_entry * e), (e), NULL)             \
	F(const char *, archive_entry_symlink, (struct archive_entry * e), (e), NULL)              \
	F(const char *, archive_entry_uname, (struct archive_entry * e), (e), NULL)                \
	F(const char *, archive_entry_gname, (struct archive_entry * e), (e), NULL)                \
	F(mode_t, archive_entry_filetype, (struct archive_entry * e), (e), 0)                      \
	F(mode_t, archive_entry_mode, (struct archive_entry * e), (e), 0)                          \
	F(mode_t, archive_entry_perm, (struct archive_entry * e), (e), 0)                          \
	F(la_int64_t, archive_entry_uid, (struct archive_entry * e), (e), 0)                       \
	F(la_int64_t, archive_entry_gid, (struct archive_entry * e), (e), 0)                       \
	F(la_int64_t, archive_entry_size, (struct archive_entry * e), (e), 0)                      \
	F(int, archive_entry_size_is_set, (struct archive_entry * e), (e), 0)                      \
	F(time_t, archive_entry_mtime, (struct archive_entry * e), (e), 0)                         \
	F(long, archive_entry_mtime_nsec, (struct archive_entry * e), (e), 0)                      \
	F(int, archive_entry_mtime_is_set, (struct archive_entry * e), (e), 0)                     \
	F(int, archive_entry_atime_is_set, (struct archive_entry * e), (e), 0)                     \
	F(int, archive_entry_ctime_is_set, (struct archive_entry * e), (e), 0)                     \
	F(dev_t, archive_entry_rdev, (struct archive_entry * e), (e), 0)                           \
	F(unsigned int, archive_entry_nlink, (struct archive_entry * e), (e), 0)                   \
	V(archive_entry_set_pathname, (struct archive_entry * e, const char *s), (e, s))           \
	V(archive_entry_set_hardlink, (struct archive_entry * e, const char *s), (e, s))           \
	V(archive_entry_set_symlink, (struct archive_entry * e, const char *s), (e, s))            \
	V(archive_entry_set_uname, (struct archive_entry * e, const char *s), (e, s))              \
	V(archive_entry_set_gname, (struct archive_entry * e, const char *s), (e, s))              \
	V(archive_entry_set_filetype, (struct archive_entry * e, unsigned int t), (e, t))          \
	V(archive_entry_set_mode, (struct archive_entry * e, mode_t m), (e, m))                    \
	V(archive_entry_set_perm, (struct archive_entry * e, mode_t m), (e, m))                    \
	V(archive_entry_set_uid, (struct archive_entry * e, la_int64_t id), (e, id))               \
	V(archive_entry_set_gid, (struct archive_entry * e, la_int64_t id), (e, id))               \
	V(archive_entry_set_size, (struct archive_entry * e, la_int64_t size), (e, size))          \
	V(archive_entry_set_mtime, (struct archive_entry * e, time_t s, long ns), (e, s, ns))      \
	V(archive_entry_set_rdev, (struct archive_entry * e, dev_t dev), (e, dev))                 \
	V(archive_entry_xattr_add_entry,                                                           \
	  (struct archive_entry * e, const char *name, const void *value, size_t size),            \
	  (e, name, value, size))                                                                  \
	V(archive_entry_xattr_clear, (struct archive_entry * e), (e))                              \
	F(int, archive_entry_xattr_count, (struct archive_entry * e), (e), 0)                      \
	F(int, archive_entry_xattr_reset, (struct archive_entry * e), (e), 0)                      \
	F(int, archive_entry_xattr_next,                                                           \
	  (struct archive_entry * e, const char **name, const void **value, size_t *size),         \
	  (e, name, value, size), ARCHIVE_WARN)

/* The library's functions, by index, once loaded. */
enum { ARCHIVE_FUNCS(LAZYLIB_INDEX, LAZYLIB_VINDEX) IDX_archive_set_error, N_FUNCS };
static const char *const names[N_FUNCS] = {ARCHIVE_FUNCS(LAZYLIB_NAME, LAZYLIB_VNAME)
						   "archive_set_error"};
static void *fns[N_FUNCS];

/* Stand-ins handed out by the constructors when the library is missing. */
static char dead_archive, dead_entry;
#define DEAD_ARCHIVE ((struct archive *)(void *)&dead_archive)
#define DEAD_ENTRY ((struct archive_entry *)(void *)&dead_entry)

LAZYLIB_LOADER(MOLT_LIBARCHIVE_SONAME, NULL)
ARCHIVE_FUNCS(LAZYLIB_WRAP, LAZYLIB_VWRAP)

/* Variadic: forwarded as "%s" of the formatted message. */
void archive_set_error(struct archive *a, int err, const char *fmt, ...)
{
	if (!loaded())
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	LAZYLIB_REAL(archive_set_error)(a, err, "%s", msg);
}
