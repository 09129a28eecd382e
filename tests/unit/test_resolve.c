/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/test_resolve.c: in-root resolution, openat2(RESOLVE_IN_ROOT) and the
 * fd-relative walk side by side (lib/inroot.c): both must land on the same inode, or
 * fail alike; and the no-links mode the deleting code uses.
 */
#include "layers_test.h"

static const char *mode_name(enum inroot_mode m)
{
	return m == INROOT_OPENAT2 ? "openat2" : "walk";
}

/* The inode a path resolves to (0 when it fails; -errno in *ret_err). */
static ino_t ino_of(int rootfd, const char *path, enum inroot_mode m, int *ret_err)
{
	int fd = inroot_open(rootfd, path, O_PATH, m);
	*ret_err = fd < 0 ? fd : 0;
	if (fd < 0)
		return 0;
	struct stat st;
	fstat(fd, &st);
	close(fd);
	return st.st_ino;
}

static ino_t host_ino(const char *root, const char *rel)
{
	char *p = xasprintf("%s/%s", root, rel);
	struct stat st;
	ino_t i = lstat(p, &st) == 0 ? st.st_ino : 0;
	free(p);
	return i;
}

static void test_cases(const char *root, int rootfd, enum inroot_mode m)
{
	struct {
		const char *path, *want, *rule;
	} cases[] = {
		{"etc/passwd", "etc/passwd", "a plain path"},
		{"/etc/passwd", "etc/passwd", "an absolute path starts at the root"},
		{"../../../etc/passwd", "etc/passwd", "'..' above the root stays at the root"},
		{"etc/../etc/./passwd", "etc/passwd", "'.' and '..' inside the root"},
		{"abs/passwd", "etc/passwd", "an absolute symlink resolves from the root"},
		{"up/etc/passwd", "etc/passwd", "a '../../..' symlink stops at the root"},
		{"lib/x", "usr/lib/x", "a relative symlink 'lib -> usr/lib'"},
		{"chain", "usr/lib/x", "a chain of symlinks is followed"},
		{"", ".", "the empty path is the root"},
		{"/", ".", "'/' is the root"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int e;
		ino_t got = ino_of(rootfd, cases[i].path, m, &e);
		tap_ok(got != 0 && got == host_ino(root, cases[i].want), "%s: '%s' [%s]",
		       cases[i].rule, cases[i].path, mode_name(m));
	}
	int e;
	tap_ok(ino_of(rootfd, "loop/x", m, &e) == 0 && e == -ELOOP,
	       "a symlink loop fails with ELOOP [%s]", mode_name(m));
	tap_ok(ino_of(rootfd, "missing/x", m, &e) == 0 && e == -ENOENT,
	       "a missing component fails with ENOENT [%s]", mode_name(m));
	tap_ok(ino_of(rootfd, "etc/passwd/x", m, &e) == 0 && e == -ENOTDIR,
	       "a file used as a directory fails with ENOTDIR [%s]", mode_name(m));
	int fd = inroot_open(rootfd, "abs", O_PATH | O_NOFOLLOW, m);
	struct stat st;
	tap_ok(fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode),
	       "O_NOFOLLOW opens the last symlink itself [%s]", mode_name(m));
	if (fd >= 0)
		close(fd);

	char *name = NULL;
	fd = inroot_open_parent(rootfd, "up/new/deeper/file", true, m, &name);
	tap_ok(fd >= 0 && name && !strcmp(name, "file") && host_ino(root, "new/deeper") != 0,
	       "inroot_open_parent creates missing parents inside the root [%s]", mode_name(m));
	if (fd >= 0)
		close(fd);
	free(name);
	name = NULL;
	fd = inroot_open_parent(rootfd, "abs", false, m, &name);
	tap_ok(fd >= 0 && !strcmp(name, "abs") && fstat(fd, &st) == 0 &&
		       st.st_ino == host_ino(root, "."),
	       "inroot_open_parent does not follow the last component [%s]", mode_name(m));
	if (fd >= 0)
		close(fd);
	free(name);
	char *made = xasprintf("%s/new", root);
	lt_rm(made);
	free(made);
}

/* The no-links mode, for code that deletes: no symlink on the way, not even one that
 * stays inside the root. */
static void test_nolinks(const char *root, int rootfd, enum inroot_mode m)
{
	int fd = inroot_open_nolinks(rootfd, "usr/lib/x", O_RDONLY, m);
	struct stat st;
	tap_ok(fd >= 0 && fstat(fd, &st) == 0 && st.st_ino == host_ino(root, "usr/lib/x"),
	       "nolinks: a path of real directories opens [%s]", mode_name(m));
	if (fd >= 0)
		close(fd);
	const char *refused[] = {"abs/passwd", "lib/x", "chain", "up/etc/passwd", "loop/x"};
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		fd = inroot_open_nolinks(rootfd, refused[i], O_PATH, m);
		tap_ok(fd == -ELOOP, "nolinks: '%s' crosses a symlink and is refused (%d) [%s]",
		       refused[i], fd, mode_name(m));
		if (fd >= 0)
			close(fd);
	}
	fd = inroot_open_nolinks(rootfd, "abs", O_PATH | O_NOFOLLOW, m);
	tap_ok(fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode),
	       "nolinks: O_PATH | O_NOFOLLOW opens a last symlink itself [%s]", mode_name(m));
	if (fd >= 0)
		close(fd);
	char *name = NULL;
	fd = inroot_open_parent_nolinks(rootfd, "/usr/lib/x", m, &name);
	tap_ok(fd >= 0 && name && !strcmp(name, "x") && fstat(fd, &st) == 0 &&
		       st.st_ino == host_ino(root, "usr/lib"),
	       "nolinks: the parent of a path of real directories [%s]", mode_name(m));
	if (fd >= 0)
		close(fd);
	free(name);
	name = NULL;
	/* abs -> /etc: a stub cleaner must not reach etc/passwd through it (nor the host's
	 * /etc, as a plain fstatat(rootfd, "abs/passwd") would). */
	fd = inroot_open_parent_nolinks(rootfd, "abs/passwd", m, &name);
	tap_ok(fd == -ELOOP && name == NULL,
	       "nolinks: a symlinked parent is refused, the name untouched [%s]", mode_name(m));
	fd = inroot_open_parent_nolinks(rootfd, "lib/new/file", m, &name);
	tap_ok(fd == -ELOOP, "nolinks: a symlink anywhere on the way is refused [%s]",
	       mode_name(m));
	fd = inroot_open_parent_nolinks(rootfd, "abs", m, &name);
	tap_ok(fd >= 0 && name && !strcmp(name, "abs"),
	       "nolinks: a symlink as the last component is left to the caller [%s]",
	       mode_name(m));
	if (fd >= 0)
		close(fd);
	free(name);
}

int main(void)
{
	char *root = lt_mkdtemp();
	char *host = lt_mkdtemp();
	if (lt_sh(root, "mkdir -p etc usr/lib && echo r >etc/passwd && echo x >usr/lib/x && "
			"ln -s /etc abs && ln -s ../../.. up && ln -s usr/lib lib && "
			"ln -s /lib/x chain && ln -s loop loop2 && ln -s loop2 loop && "
			"echo host >%s/passwd",
		  host) != 0)
		tap_ok(0, "set up the tree");
	int rootfd = lt_open_dir(root);
	tap_ok(inroot_have_openat2(), "openat2 is available (kernel >= 5.6)");
	test_cases(root, rootfd, INROOT_OPENAT2);
	test_cases(root, rootfd, INROOT_WALK);
	test_nolinks(root, rootfd, INROOT_OPENAT2);
	test_nolinks(root, rootfd, INROOT_WALK);
	tap_ok(inroot_open(rootfd, "etc/passwd", O_RDONLY, INROOT_AUTO) >= 0,
	       "INROOT_AUTO picks a working resolver");
	close(rootfd);
	lt_rm(root);
	lt_rm(host);
	free(root);
	free(host);
	return tap_done();
}
