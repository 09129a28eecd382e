/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/: errors, strings, files. */
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "../../lib/base.h"
#include "tap.h"

static void test_errors(void)
{
	struct molt_error *err = NULL;
	int r = molt_error_set(&err, ENOENT, "open '%s'", "x");
	tap_ok(r == -ENOENT, "error_set returns -errno");
	tap_str_eq(err->msg, "open 'x': No such file or directory", "error_set appends strerror");
	molt_error_set(&err, EPERM, "second");
	tap_str_eq(err->msg, "open 'x': No such file or directory", "first error is kept");
	r = molt_error_wrap(&err, "stage '%s'", "b");
	tap_ok(r == -ENOENT, "wrap keeps the code");
	tap_str_eq(err->msg, "stage 'b': open 'x': No such file or directory", "wrap prefixes");
	tap_ok(err->exit_code == MOLT_EXIT_FAILURE, "system errors exit 1");
	molt_error_free(err);
	err = NULL;
	molt_error_usage(&err, "bad %s", "flag");
	tap_ok(err->exit_code == MOLT_EXIT_USAGE, "usage errors exit 2");
	tap_str_eq(err->msg, "bad flag", "usage message has no errno words");
	molt_error_free(err);
	err = NULL;
	molt_error_setx(&err, ELOOP, "a symlink");
	tap_ok(molt_error_pass(&err) == -ELOOP, "error_pass returns the callee's code");
	molt_error_free(err);
	err = NULL;
	tap_ok(molt_error_pass(&err) == -EINVAL && molt_error_pass(NULL) == -EINVAL,
	       "error_pass without an error is -EINVAL");
	molt_error_setx(&err, EIO, "best effort");
	molt_error_drop(&err, "a clean-up");
	tap_ok(err == NULL, "error_drop frees the error and clears the pointer");
	molt_error_setx(&err, ENOENT, "a second error");
	tap_str_eq(err ? err->msg : NULL, "a second error",
		   "after a drop the next error is kept (the first is gone)");
	molt_error_drop(&err, "again");
	molt_error_drop(&err, "nothing left");
	molt_error_drop(NULL, "no pointer");
	tap_ok(err == NULL, "error_drop of no error does nothing");
}

/* lib/error_codec.c: an error through a pipe comes back whole, or cut to fit. */
static void test_error_codec(void)
{
	struct molt_error e = {.code = ENOSPC,
			       .exit_code = 2,
			       .msg = (char *)"  two spaces\tand a tab",
			       .detail = (char *)"RUN output\nlast line"};
	size_t cap = molt_error_encoded_size(&e);
	_cleanup_free_ char *buf = xmalloc(cap);
	size_t n = molt_error_encode(&e, buf, cap);
	struct molt_error *got = NULL;
	int r = molt_error_decode(buf, n, &got);
	tap_ok(r == -ENOSPC && got && got->code == ENOSPC && got->exit_code == 2,
	       "the errno and the exit code cross the pipe");
	tap_str_eq(got ? got->msg : NULL, e.msg, "the message crosses whole (blanks kept)");
	tap_str_eq(got ? got->detail : NULL, e.detail, "the detail crosses whole");
	molt_error_free(got);
	got = NULL;
	char small[40];
	e.msg = (char *)"a long message that cannot fit in forty bytes with its header";
	n = molt_error_encode(&e, small, sizeof(small));
	r = molt_error_decode(small, n, &got);
	tap_ok(n == sizeof(small) && r == -ENOSPC && got && !got->detail &&
		       !strncmp(got->msg, e.msg, strlen(got->msg)) && strlen(got->msg) > 20,
	       "a record cut to fit keeps its header and the start of the message");
	molt_error_free(got);
	got = NULL;
	r = molt_error_decode("R{}", 4, &got);
	tap_ok(r == -EIO && got && strstr(got->msg, "malformed"),
	       "other bytes are no error record");
	molt_error_free(got);
	got = NULL;
	r = molt_error_decode("E1 5", 4, &got);
	tap_ok(r == -EIO && got, "a record without its message's end is refused");
	molt_error_free(got);
}

static void test_strings(void)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	tap_str_eq(strbuf_str(&sb), "", "empty strbuf is empty string");
	for (int i = 0; i < 100; i++)
		strbuf_addf(&sb, "%d,", i);
	tap_ok(sb.len == 290, "strbuf grows");
	_cleanup_strv_ char **v = NULL;
	strv_push(&v, "a");
	strv_push(&v, "b");
	tap_ok(strv_len(v) == 2 && strv_contains(v, "b") && !strv_contains(v, "c"), "strv");
	int64_t n;
	tap_ok(str_to_int64("42", 0, 100, &n) == 0 && n == 42, "int parse");
	tap_ok(str_to_int64("420", 0, 100, &n) == -ERANGE, "int range");
	tap_ok(str_to_int64("4x", 0, 100, &n) == -EINVAL, "int junk");
	tap_ok(str_eq_nocase("RuN", "run"), "nocase compare");
	tap_ok(str_endswith("a.tar.gz", ".gz") && !str_endswith("gz", ".tar.gz"), "endswith");
}

static void test_files(void)
{
	char dir[] = "/tmp/molt-test-XXXXXX";
	if (!mkdtemp(dir)) {
		tap_ok(0, "mkdtemp");
		return;
	}
	struct molt_error *err = NULL;
	_cleanup_free_ char *f = xasprintf("%s/a/b/c", dir);
	tap_ok(mkdir_p(f, 0755, &err) == 0, "mkdir_p");
	_cleanup_free_ char *file = xasprintf("%s/a/file", dir);
	tap_ok(write_file_atomic(file, "hello", 5, 0644, &err) == 0, "write_file_atomic");
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	tap_ok(read_file(file, 100, &data, &len, &err) == 0 && len == 5 &&
		       !memcmp(data, "hello", 5),
	       "read back");
	tap_ok(read_file(file, 2, &data, &len, &err) == -EFBIG, "read_file size limit");
	molt_error_free(err);
	err = NULL;
	/* A directory without permissions must still be removable. */
	_cleanup_free_ char *locked = xasprintf("%s/a/b", dir);
	chmod(locked, 0);
	_cleanup_free_ char *link = xasprintf("%s/a/escape", dir);
	(void)!symlink("/etc", link);
	tap_ok(rm_rf(dir, &err) == 0, "rm_rf removes a tree with a locked directory");
	tap_ok(access("/etc/passwd", F_OK) == 0, "rm_rf does not follow symlinks");
	tap_ok(access(dir, F_OK) < 0, "tree is gone");
	molt_error_free(err);
}

/* A pipe read to its end: what fits the bound, and -EFBIG one byte past it. */
static void test_read_fd_bounded(void)
{
	for (size_t max = 5; max >= 4; max--) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0 || write(p[1], "hello", 5) != 5) {
			tap_ok(0, "pipe");
			return;
		}
		close(p[1]);
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		int r = read_fd_bounded(p[0], max, &data, &len);
		close(p[0]);
		if (max == 5)
			tap_ok(r == 0 && len == 5 && !strcmp(data, "hello"),
			       "read_fd_bounded reads a pipe to its end");
		else
			tap_ok(r == -EFBIG && !data, "read_fd_bounded: -EFBIG past the bound");
	}
}

/* A tree 3,000 deep removed with 64 descriptors; parking refuses a moved directory. */
static void test_deep(void)
{
	char dir[] = "/tmp/molt-deep-XXXXXX";
	if (!mkdtemp(dir)) {
		tap_ok(0, "mkdtemp");
		return;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < 3000 && fd >= 0; i++) {
		int next = mkdirat(fd, "d", 0755) == 0
				   ? openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
				   : -1;
		close(fd);
		fd = next;
	}
	if (fd >= 0)
		close(fd);
	struct rlimit old, low = {64, 64};
	getrlimit(RLIMIT_NOFILE, &old);
	low.rlim_max = old.rlim_max;
	setrlimit(RLIMIT_NOFILE, &low);
	struct molt_error *err = NULL;
	int r = rm_rf(dir, &err);
	setrlimit(RLIMIT_NOFILE, &old);
	tap_ok(fd >= 0 && r == 0 && access(dir, F_OK) < 0,
	       "rm_rf removes a 3,000-deep tree with 64 descriptors%s%s", err ? ": " : "",
	       err ? err->msg : "");
	molt_error_free(err);

	char top[] = "/tmp/molt-park-XXXXXX";
	if (!mkdtemp(top))
		return;
	int t = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	mkdirat(t, "a", 0755);
	mkdirat(t, "c", 0755);
	int a = openat(t, "a", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	mkdirat(a, "b", 0755);
	int b = openat(a, "b", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dir_park p;
	bool parked = dir_park(&a, DIR_KEEP_FDS, &p) == 0 && a == -1;
	bool back = dir_unpark(&a, b, &p) == 0 && a >= 0;
	tap_ok(parked && back, "dir_park closes a deep directory, dir_unpark reopens it by '..'");
	bool parked2 = dir_park(&a, DIR_KEEP_FDS, &p) == 0;
	renameat(t, "a/b", t, "c/b");
	tap_ok(parked2 && dir_unpark(&a, b, &p) == -ESTALE && a == -1,
	       "dir_unpark refuses to come back into another directory (-ESTALE)");
	int shallow = b;
	tap_ok(dir_park(&shallow, DIR_KEEP_FDS - 1, &p) == 0 && shallow == b && !p.parked,
	       "above DIR_KEEP_FDS nothing is parked");
	close(b);
	close(t);
	rm_rf(top, NULL);
}

/* The name a tar's PAX header and inroot_open_parent() take from a path. */
static void test_path_last_component(void)
{
	static const char *const cases[][2] = {
		{"a/b/c", "c"}, {"a/bc//", "bc"}, {"name", "name"},
		{"/x", "x"},    {"/", ""},        {"", ""},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len, off = path_last_component(cases[i][0], &len);
		_cleanup_free_ char *got = xstrndup(cases[i][0] + off, len);
		_cleanup_free_ char *name = xasprintf("last component of '%s'", cases[i][0]);
		tap_str_eq(got, cases[i][1], name);
	}
}

static void test_writeback_kick(void)
{
	const uint64_t mib = (uint64_t)1 << 20;
	char path[] = "/tmp/molt-test-wb-XXXXXX";
	int fd = mkstemp(path);
	tap_ok(fd >= 0, "writeback_kick: a scratch file");
	if (fd < 0)
		return;
	unlink(path);
	uint64_t kicked = 0;
	writeback_kick(fd, &kicked, 1 * mib);
	tap_ok(kicked == 0, "writeback_kick: below 8 MiB nothing is started");
	writeback_kick(fd, &kicked, 9 * mib);
	tap_ok(kicked == 9 * mib, "writeback_kick: 8 MiB or more: started up to what was written");
	writeback_kick(fd, &kicked, 10 * mib);
	tap_ok(kicked == 9 * mib, "writeback_kick: the next start waits for 8 MiB more");
	writeback_kick(fd, &kicked, 2 * mib);
	tap_ok(kicked == 9 * mib, "writeback_kick: a count below the mark changes nothing");
	close(fd);
	int p[2];
	tap_ok(pipe(p) == 0, "writeback_kick: a pipe");
	kicked = 0;
	writeback_kick(p[1], &kicked, 9 * mib);
	tap_ok(kicked == 9 * mib, "writeback_kick: on a pipe the hint fails quietly");
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	test_errors();
	test_error_codec();
	test_strings();
	test_files();
	test_read_fd_bounded();
	test_deep();
	test_path_last_component();
	test_writeback_kick();
	char z[100] = {0};
	bool zero = mem_is_zero(z, sizeof(z)) && mem_is_zero(z, 0);
	z[99] = 1;
	tap_ok(zero && !mem_is_zero(z, sizeof(z)) && !mem_is_zero("a", 1),
	       "mem_is_zero: all zeros only");
	return tap_done();
}
