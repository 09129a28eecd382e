/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/copy.c: COPY semantics (docker build reference, "COPY") and in-root path
 * resolution. Runs in a child inside the build namespace so that ownership can be
 * checked as an unprivileged user too.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../runner/executor/copy.h"
#include "buildns_test.h"

static char base[64];
static int ctx, dst; /* root fds of the context and the destination tree */

static void put(int root, const char *path, const char *content, mode_t mode)
{
	_cleanup_free_ char *copy = xstrdup(path);
	char *slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		close(copy_mkdir_in_root(root, copy, 0, 0));
	}
	int fd = openat(root, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd >= 0) {
		(void)!write(fd, content, strlen(content));
		fchmod(fd, mode);
		close(fd);
	}
}

static char *get(int root, const char *path)
{
	char *data = NULL;
	struct molt_error *err = NULL;
	if (read_file_at(root, path, 1 << 20, &data, NULL, &err) < 0) {
		molt_error_free(err);
		return NULL;
	}
	return data;
}

static int do_copy(const char *dest, const struct copy_opts *o, struct molt_error **err, ...)
{
	va_list ap;
	va_start(ap, err);
	_cleanup_strv_ char **src = NULL;
	for (const char *s; (s = va_arg(ap, const char *));)
		strv_push(&src, s);
	va_end(ap);
	struct copy_opts def = {0};
	return copy_paths(ctx, src, dst, dest, o ? o : &def, NULL, err);
}

static bool skip_secret(void *ud, const char *rel, bool is_dir)
{
	(void)ud;
	(void)is_dir;
	return strcmp(rel, "app/secret.txt") == 0;
}

static void setup(void)
{
	put(ctx, "a.txt", "A", 0644);
	put(ctx, "b.txt", "B", 0600);
	put(ctx, "c.md", "C", 0644);
	put(ctx, "app/main.c", "int main;", 0644);
	put(ctx, "app/sub/x.sh", "#!/bin/sh", 0755);
	put(ctx, "app/secret.txt", "s", 0644);
	(void)!symlinkat("main.c", ctx, "app/link");
	(void)!symlinkat("/etc", ctx, "escape");
	(void)!symlinkat("../../../../../etc/passwd", ctx, "dotdot");
	(void)!linkat(ctx, "app/main.c", ctx, "app/hard.c", 0);
	struct timespec ts[2] = {{1000000, 0}, {1000000, 0}};
	utimensat(ctx, "a.txt", ts, 0);
	close(copy_mkdir_in_root(dst, "usr/lib", 0, 0));
	close(copy_mkdir_in_root(dst, "tmp", 0, 0));
	(void)!symlinkat("usr/lib", dst, "lib");
	(void)!symlinkat("/../../../../tmp", dst, "hosttmp");
}

static void test_files(void)
{
	struct molt_error *err = NULL;
	struct stat st;
	tap_ok(do_copy("/x/b.txt", NULL, &err, "a.txt", NULL) == 0,
	       "COPY file to a path without slash makes that file (ref: COPY <dest>)");
	_cleanup_free_ char *x = get(dst, "x/b.txt");
	tap_str_eq(x, "A", "COPY file content");
	tap_ok(fstatat(dst, "x/b.txt", &st, 0) == 0 && st.st_uid == 0 && st.st_gid == 0 &&
		       (st.st_mode & 07777) == 0644 && st.st_mtim.tv_sec == 1000000,
	       "COPY from context: owner 0:0, mode and mtime kept (ref: COPY, new files 0:0)");
	tap_ok(do_copy("/d/", NULL, &err, "a.txt", NULL) == 0 &&
		       fstatat(dst, "d/a.txt", &st, 0) == 0,
	       "COPY file to 'dir/' puts it inside the directory (ref: trailing slash)");
	tap_ok(do_copy("/x", NULL, &err, "b.txt", NULL) == 0 &&
		       fstatat(dst, "x/b.txt", &st, 0) == 0 && (st.st_mode & 07777) == 0600,
	       "COPY file to an existing directory without slash goes inside it");
	tap_ok(do_copy("/w/", NULL, &err, "*.txt", NULL) == 0 &&
		       fstatat(dst, "w/a.txt", &st, 0) == 0 &&
		       fstatat(dst, "w/b.txt", &st, 0) == 0 && fstatat(dst, "w/c.md", &st, 0) < 0,
	       "COPY wildcard '*.txt' copies the matches only (ref: filepath.Match)");
	tap_ok(do_copy("/w2", NULL, &err, "[ab].txt", NULL) == 0 &&
		       fstatat(dst, "w2/a.txt", &st, 0) == 0,
	       "COPY wildcard matching several files treats the destination as a directory");
	tap_ok(do_copy("/none/", NULL, &err, "*.nothing", NULL) == 0,
	       "COPY wildcard matching nothing is not an error (BuildKit AllowEmptyWildcard)");
	molt_error_free(err);
	err = NULL;
}

static void test_dirs(void)
{
	struct molt_error *err = NULL;
	struct stat st;
	tap_ok(do_copy("/src", NULL, &err, "app", NULL) == 0, "COPY directory");
	tap_ok(fstatat(dst, "src/main.c", &st, 0) == 0 && fstatat(dst, "src/app", &st, 0) < 0,
	       "COPY directory copies its contents, not the directory (ref: COPY)");
	tap_ok(fstatat(dst, "src/sub/x.sh", &st, 0) == 0 && (st.st_mode & 0777) == 0755,
	       "COPY directory recurses, keeping modes");
	char t[64] = "";
	(void)!readlinkat(dst, "src/link", t, sizeof(t) - 1);
	tap_str_eq(t, "main.c", "COPY keeps symlinks inside a copied directory as symlinks");
	struct stat a, b;
	tap_ok(fstatat(dst, "src/main.c", &a, 0) == 0 && fstatat(dst, "src/hard.c", &b, 0) == 0 &&
		       a.st_ino == b.st_ino,
	       "COPY preserves hardlinks within one copy");
	struct copy_opts o = {.chown = true, .uid = 1000, .gid = 1001, .chmod = true, .mode = 0640};
	tap_ok(do_copy("/owned/deep/", &o, &err, "app/sub", NULL) == 0, "COPY --chown --chmod");
	tap_ok(fstatat(dst, "owned/deep/x.sh", &st, 0) == 0 && st.st_uid == 1000 &&
		       st.st_gid == 1001 && (st.st_mode & 0777) == 0640,
	       "COPY --chown/--chmod apply to files (ref: COPY --chown, --chmod)");
	tap_ok(fstatat(dst, "owned/deep", &st, 0) == 0 && st.st_uid == 1000,
	       "COPY --chown applies to created destination directories");
	struct copy_opts p = {.parents = true};
	tap_ok(do_copy("/par/", &p, &err, "app/sub/x.sh", NULL) == 0 &&
		       fstatat(dst, "par/app/sub/x.sh", &st, 0) == 0,
	       "COPY --parents keeps the source path (ref: COPY --parents)");
	struct copy_opts sk = {.skip = skip_secret};
	tap_ok(do_copy("/skipped", &sk, &err, "app", NULL) == 0 &&
		       fstatat(dst, "skipped/main.c", &st, 0) == 0 &&
		       fstatat(dst, "skipped/secret.txt", &st, 0) < 0,
	       "COPY leaves out what .dockerignore or --exclude exclude");
	molt_error_free(err);
}

static void test_escapes(void)
{
	struct molt_error *err = NULL;
	struct stat st;
	int r = do_copy("/e/", NULL, &err, "escape/passwd", NULL);
	tap_ok(r < 0 && err && strstr(err->msg, "not found"),
	       "COPY through a context symlink to /etc resolves inside the context "
	       "(BuildKit testLocalSymlinkEscape)");
	molt_error_free(err);
	err = NULL;
	r = do_copy("/e2", NULL, &err, "dotdot", NULL);
	tap_ok(r < 0, "COPY of a symlink climbing out with ../ never reads the host file");
	molt_error_free(err);
	err = NULL;
	r = do_copy("/e3", NULL, &err, "../../../../etc/passwd", NULL);
	tap_ok(r < 0 && err && strstr(err->msg, "not found"),
	       "COPY ../../etc/passwd is cleaned to the context root (ref: COPY paths are "
	       "relative to the context)");
	molt_error_free(err);
	err = NULL;
	tap_ok(do_copy("/lib/", NULL, &err, "a.txt", NULL) == 0 &&
		       fstatat(dst, "usr/lib/a.txt", &st, 0) == 0,
	       "COPY to /lib/ follows lib -> usr/lib inside the root");
	tap_ok(do_copy("/hosttmp/", NULL, &err, "c.md", NULL) == 0 &&
		       fstatat(dst, "tmp/c.md", &st, 0) == 0 && access("/tmp/c.md", F_OK) < 0,
	       "COPY through an absolute symlink climbing out stays in the root");
	r = do_copy("/x", NULL, &err, "missing.txt", NULL);
	tap_ok(r < 0 && err && strstr(err->msg, "source 'missing.txt' not found"),
	       "COPY of a missing source names it");
	if (err)
		tap_diag("%s", err->msg);
	molt_error_free(err);
	err = NULL;
	r = do_copy("/src/sub", NULL, &err, "a.txt", NULL);
	tap_ok(r == 0 && fstatat(dst, "src/sub/a.txt", &st, 0) == 0,
	       "COPY file onto an existing directory path puts it inside");
	molt_error_free(err);
}

/* A 1 GiB file with 4 KiB of data in the middle: its holes stay holes in the copy. */
static void test_sparse(void)
{
	int fd = openat(ctx, "sparse", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char data[4096];
	memset(data, 'x', sizeof(data));
	bool made = fd >= 0 && ftruncate(fd, 1LL << 30) == 0 &&
		    pwrite(fd, data, sizeof(data), 512LL << 20) == (ssize_t)sizeof(data);
	if (fd >= 0)
		close(fd);
	struct molt_error *err = NULL;
	struct stat st;
	bool ok = made && do_copy("/sparse", NULL, &err, "sparse", NULL) == 0 &&
		  fstatat(dst, "sparse", &st, 0) == 0;
	tap_ok(ok && st.st_size == 1LL << 30 && st.st_blocks * 512 < (1LL << 20),
	       "COPY of a sparse file keeps its holes (%lld bytes on disk for 1 GiB)",
	       ok ? (long long)st.st_blocks * 512 : -1LL);
	fd = openat(dst, "sparse", O_RDONLY | O_CLOEXEC);
	char back[4096] = "", zero = 1;
	bool same = fd >= 0 && pread(fd, back, sizeof(back), 512LL << 20) == (ssize_t)sizeof(back) &&
		    pread(fd, &zero, 1, 1000) == 1;
	if (fd >= 0)
		close(fd);
	tap_ok(same && !memcmp(back, data, sizeof(data)) && zero == 0,
	       "... with its data where it was and zeros in the holes");
	molt_error_free(err);
	unlinkat(ctx, "sparse", 0);
	unlinkat(dst, "sparse", 0);
}

static bool skip_b(void *ud, const char *rel, bool is_dir)
{
	(void)ud;
	(void)is_dir;
	return strcmp(rel, "b.txt") == 0;
}

static char *joined(char **m)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; m && m[i]; i++)
		strbuf_addf(&sb, "%s%s", i ? "," : "", m[i]);
	return strbuf_detach(&sb);
}

/* The one source selection COPY and the cache key share (copy_sources_select). */
static void test_select(void)
{
	struct molt_error *err = NULL;
	char **m = NULL;
	int r = copy_sources_select(ctx, "./*.txt", skip_b, NULL, &m, &err);
	char *got = joined(m);
	tap_ok(r == 0 && !strcmp(got, "a.txt"),
	       "select: a wildcard matches sorted names minus the ignored ones (got %s)", got);
	free(got);
	strv_free(m);
	m = NULL;
	r = copy_sources_select(ctx, "app//sub/", NULL, NULL, &m, &err);
	tap_ok(r == 0 && m && m[0] && !strcmp(m[0], "app/sub") && !m[1],
	       "select: a plain source is its cleaned path");
	strv_free(m);
	m = NULL;
	r = copy_sources_select(ctx, "app/*", skip_secret, NULL, &m, &err);
	got = joined(m);
	tap_ok(r == 0 && !strcmp(got, "app/hard.c,app/link,app/main.c,app/sub"),
	       "select: a nested wildcard leaves the ignored file out (got %s)", got);
	free(got);
	strv_free(m);
	molt_error_free(err);
}

/*
 * Names already taken in the destination: the engine creates first and clears a
 * name only on EEXIST, so every kind of occupant must still be replaced (or kept,
 * for a directory) as before, and a symlink never written through.
 */
static void test_replace(void)
{
	struct molt_error *err = NULL;
	struct stat st;
	put(ctx, "rep/f.txt", "new", 0640);
	put(ctx, "rep/link.txt", "new link", 0644);
	put(ctx, "rep/dangling.txt", "new dangling", 0644);
	put(ctx, "rep/sub/in.txt", "in", 0644);
	put(ctx, "rep/todir/in.txt", "in", 0644);
	put(dst, "out/f.txt", "old and longer", 0755);
	put(dst, "out/keep.txt", "kept", 0644);
	put(dst, "out/sub/old.txt", "old", 0644);
	put(dst, "out/todir", "a file where the source has a directory", 0644);
	(void)!symlinkat("/../../../../tmp/molt-copy-replace-escape", dst, "out/link.txt");
	(void)!symlinkat("nowhere/x", dst, "out/dangling.txt");
	tap_ok(do_copy("/out", NULL, &err, "rep", NULL) == 0, "COPY over names already taken");
	_cleanup_free_ char *f = get(dst, "out/f.txt"), *l = get(dst, "out/link.txt");
	_cleanup_free_ char *d = get(dst, "out/dangling.txt"), *k = get(dst, "out/keep.txt");
	_cleanup_free_ char *old = get(dst, "out/sub/old.txt"), *in = get(dst, "out/todir/in.txt");
	tap_ok(f && !strcmp(f, "new") && fstatat(dst, "out/f.txt", &st, 0) == 0 &&
		       (st.st_mode & 07777) == 0640,
	       "... a file replaces a file, with the source's content and mode");
	tap_ok(l && !strcmp(l, "new link") &&
		       fstatat(dst, "out/link.txt", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		       S_ISREG(st.st_mode) && access("/tmp/molt-copy-replace-escape", F_OK) < 0,
	       "... a symlink out of the root is replaced, never written through");
	tap_ok(d && !strcmp(d, "new dangling") &&
		       fstatat(dst, "out/dangling.txt", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		       S_ISREG(st.st_mode),
	       "... a dangling symlink is replaced");
	tap_ok(old && in && k && fstatat(dst, "out/sub/in.txt", &st, 0) == 0,
	       "... an existing directory is kept with its entries, a file where a directory "
	       "goes is replaced by it");
	molt_error_free(err);
	err = NULL;
	put(ctx, "clash/x", "x", 0644);
	close(copy_mkdir_in_root(dst, "clash2/x", 0, 0));
	int r = do_copy("/clash2", NULL, &err, "clash", NULL);
	tap_ok(r < 0 && err && strstr(err->msg, "over directory"),
	       "... a file onto a directory of the same name is refused");
	molt_error_free(err);
}

/*
 * A source on another filesystem (tmpfs) than the destination: copy_file_range says
 * EXDEV once and the rest goes by read/write, sizes around the 64 KiB buffer exact.
 */
static void test_cross_fs(void)
{
	static const size_t sizes[] = {0, 19, 65535, 65536, 65537, 200000};
	char shm[64];
	snprintf(shm, sizeof(shm), "/dev/shm/molt-copy-XXXXXX");
	if (!mkdtemp(shm)) {
		tap_skip("no /dev/shm to copy from another filesystem");
		return;
	}
	_cleanup_close_ int src = open(shm, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *want = xmalloc(200001);
	for (size_t i = 0; i < 200000; i++)
		want[i] = (char)('a' + i * 7 % 26);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		_cleanup_free_ char *name = xasprintf("f%zu", sizes[i]);
		int fd = openat(src, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			(void)!write_all(fd, want, sizes[i]);
			close(fd);
		}
	}
	struct molt_error *err = NULL;
	char *all[] = {".", NULL};
	struct copy_opts o = {0};
	struct copy_stats stats = {0};
	int r = copy_paths(src, all, dst, "/xfs", &o, &stats, &err);
	bool same = r == 0;
	for (size_t i = 0; same && i < sizeof(sizes) / sizeof(*sizes); i++) {
		_cleanup_free_ char *path = xasprintf("xfs/f%zu", sizes[i]), *data = NULL;
		size_t len = 0;
		struct molt_error *e = NULL;
		same = read_file_at(dst, path, 1 << 20, &data, &len, &e) == 0 &&
		       len == sizes[i] && !memcmp(data, want, len);
		molt_error_free(e);
	}
	tap_ok(same && stats.files == 6 && stats.bytes == 0 + 19 + 65535 + 65536 + 65537 + 200000,
	       "COPY from another filesystem: every size around the buffer copied whole");
	molt_error_free(err);
	rm_rf(shm, &err);
	molt_error_free(err);
}

int main(void)
{
	tap_fork_into_build_namespace();
	struct molt_error *err = NULL;
	snprintf(base, sizeof(base), "/tmp/molt-copy-XXXXXX");
	if (!mkdtemp(base))
		return 1;
	ctx = copy_mkdir_in_root(open(base, O_PATH | O_DIRECTORY | O_CLOEXEC), "ctx", 0, 0);
	int d = copy_mkdir_in_root(open(base, O_PATH | O_DIRECTORY | O_CLOEXEC), "dst", 0, 0);
	ctx = openat(ctx, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dst = openat(d, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	setup();
	test_select();
	test_files();
	test_dirs();
	test_escapes();
	test_sparse();
	test_replace();
	test_cross_fs();
	rm_rf(base, &err);
	return tap_done();
}
