/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/layers_test.h: helpers shared by the layers unit tests (unpack,
 * differ, tarwriter, resolve): scratch directories, shell steps, a canonical dump
 * of a tree to compare two trees, and a libarchive-based builder for (hostile) tars.
 */
#ifndef MOLT_LAYERS_TEST_H
#define MOLT_LAYERS_TEST_H

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "../../layers/layers_int.h"
#include "../../sandbox/sandbox.h"
#include "tap.h"

/* A fresh directory under $TMPDIR; returns a malloc'ed path. */
static inline char *lt_mkdtemp(void)
{
	const char *t = getenv("TMPDIR");
	char *p = xasprintf("%s/molt-layers-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(p)) {
		perror("mkdtemp");
		exit(2);
	}
	return p;
}

static inline int lt_open_dir(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Runs a shell snippet in dir; returns its exit status. */
MOLT_PRINTF(2, 3) static inline int lt_sh(const char *dir, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *body = xvasprintf(fmt, ap);
	va_end(ap);
	char *cmd = xasprintf("cd '%s' && { %s\n}", dir, body);
	int st = system(cmd);
	if (st != 0)
		printf("# shell step failed (%d): %s\n", st, body);
	free(cmd);
	free(body);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static inline void lt_rm(const char *path)
{
	struct molt_error *e = NULL;
	rm_rf(path, &e);
	molt_error_free(e);
}

static inline void lt_sha256_fd(int fd, char out[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(md, buf, (size_t)n);
	unsigned char d[32];
	unsigned len = 0;
	EVP_DigestFinal_ex(md, d, &len);
	EVP_MD_CTX_free(md);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static inline int lt_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * One line per entry (sorted): path, type+mode, ids, size and content hash of files,
 * whole-second mtime (with_mtime), link target, allowed xattrs. Two trees with the
 * same dump are the same as far as a layer can tell.
 */
static inline void lt_dump_dir(int dfd, const char *prefix, bool with_mtime, struct strbuf *out)
{
	int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	char **names = NULL;
	if (!d) {
		strbuf_addf(out, "%s: cannot read\n", prefix);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			strv_push(&names, de->d_name);
	closedir(d);
	size_t n = strv_len(names);
	if (n)
		qsort(names, n, sizeof(char *), lt_cmp_str);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		char *path = xasprintf("%s%s", prefix, names[i]);
		fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW);
		strbuf_addf(out, "%s %o %u:%u", path, st.st_mode, st.st_uid, st.st_gid);
		if (with_mtime)
			strbuf_addf(out, " t=%lld", (long long)st.st_mtim.tv_sec);
		if (S_ISLNK(st.st_mode)) {
			char t[PATH_MAX] = "";
			ssize_t l = readlinkat(dfd, names[i], t, sizeof(t) - 1);
			t[l > 0 ? l : 0] = '\0';
			strbuf_addf(out, " -> %s", t);
		} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			strbuf_addf(out, " dev=%llx", (unsigned long long)st.st_rdev);
		} else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
			int fd = openat(dfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			struct layer_xattrs x = {0};
			struct molt_error *e = NULL;
			layer_xattrs_read(fd, &x, &e);
			molt_error_free(e);
			for (size_t j = 0; j < x.n; j++)
				strbuf_addf(out, " %s=%.*s", x.v[j].name, (int)x.v[j].len,
					    x.v[j].value);
			layer_xattrs_done(&x);
			if (S_ISREG(st.st_mode)) {
				char h[65];
				lt_sha256_fd(fd, h);
				strbuf_addf(out, " size=%lld sha=%.12s", (long long)st.st_size, h);
			}
			if (S_ISDIR(st.st_mode)) {
				strbuf_addc(out, '\n');
				char *sub = xasprintf("%s/", path);
				lt_dump_dir(fd, sub, with_mtime, out);
				free(sub);
				close(fd);
				free(path);
				continue;
			}
			close(fd);
		}
		strbuf_addc(out, '\n');
		free(path);
	}
	strv_free(names);
}

static inline char *lt_dump(const char *root, bool with_mtime)
{
	struct strbuf sb = STRBUF_INIT;
	int fd = lt_open_dir(root);
	if (fd >= 0) {
		lt_dump_dir(fd, "", with_mtime, &sb);
		close(fd);
	}
	return strbuf_detach(&sb);
}

/* ------------------------------------------------------------ tar builder */

struct lt_tar {
	struct archive *a;
	char *path;
};

/* filter: 'n' none, 'g' gzip, 'z' zstd. The tar is written to a temp file. */
static inline struct lt_tar lt_tar_new(const char *dir, char filter)
{
	static int seq;
	struct lt_tar t = {archive_write_new(), xasprintf("%s/t%d.tar", dir, seq++)};
	archive_write_set_format_pax(t.a);
	if (filter == 'g')
		archive_write_add_filter_gzip(t.a);
	if (filter == 'z')
		archive_write_add_filter_zstd(t.a);
	if (archive_write_open_filename(t.a, t.path) != ARCHIVE_OK)
		printf("# open tar: %s\n", archive_error_string(t.a));
	return t;
}

/* type: AE_IFREG/AE_IFDIR/AE_IFLNK/AE_IFCHR...; link: symlink target; hard: hardlink target */
static inline void lt_tar_add(struct lt_tar *t, const char *name, unsigned type, unsigned mode,
			      const char *data, const char *link, const char *hard)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, mode);
	archive_entry_set_mtime(e, 1600000000, 0);
	if (link)
		archive_entry_set_symlink(e, link);
	if (hard)
		archive_entry_set_hardlink(e, hard);
	size_t len = data ? strlen(data) : 0;
	archive_entry_set_size(e, type == AE_IFREG && !hard ? (la_int64_t)len : 0);
	if (type == AE_IFCHR)
		archive_entry_set_rdev(e, makedev(1, 3));
	if (archive_write_header(t->a, e) != ARCHIVE_OK)
		printf("# write header '%s': %s\n", name, archive_error_string(t->a));
	if (len && type == AE_IFREG && !hard)
		archive_write_data(t->a, data, len);
	archive_entry_free(e);
}

static inline void lt_tar_file(struct lt_tar *t, const char *name, const char *data)
{
	lt_tar_add(t, name, AE_IFREG, 0644, data, NULL, NULL);
}
static inline void lt_tar_dir(struct lt_tar *t, const char *name)
{
	lt_tar_add(t, name, AE_IFDIR, 0755, NULL, NULL, NULL);
}
static inline void lt_tar_symlink(struct lt_tar *t, const char *name, const char *target)
{
	lt_tar_add(t, name, AE_IFLNK, 0777, NULL, target, NULL);
}
static inline void lt_tar_hardlink(struct lt_tar *t, const char *name, const char *target)
{
	lt_tar_add(t, name, AE_IFREG, 0644, NULL, NULL, target);
}

/* Closes the tar and opens it for reading. */
static inline int lt_tar_done(struct lt_tar *t)
{
	archive_write_close(t->a);
	archive_write_free(t->a);
	int fd = open(t->path, O_RDONLY | O_CLOEXEC);
	unlink(t->path);
	free(t->path);
	return fd;
}

/* Enters the build namespace (real root gets an identity-mapped one); false: cannot. */
static inline bool lt_enter_namespace(void)
{
	struct molt_error *e = NULL;
	if (sandbox_enter_build_namespace(NULL, &e) < 0) {
		printf("# build namespace: %s\n", e ? e->msg : "?");
		molt_error_free(e);
		return false;
	}
	return true;
}

#endif
