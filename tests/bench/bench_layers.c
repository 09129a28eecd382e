/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/bench/bench_layers.c: the driver bench_layers.sh compiles against
 * build/libmolt.a, so the layers code is timed without a hidden CLI command.
 *
 *   bench_layers unpack LAYER DEST         unpack a layer tar (any compression)
 *   bench_layers write TREE OUT gzip|zstd  write all of TREE as one layer
 *   bench_layers diff-walk TREE FILE       snapshot, change FILE, walk differ
 *   bench_layers diff-overlay LOWER SCRATCH FILE
 *                                          overlay on LOWER, change FILE, overlay differ
 * The diff commands print "diff_seconds=S changes=N"; the others print nothing.
 * Everything runs in molt's build namespace, as molt itself would.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int fail(struct molt_error *e)
{
	molt_error_print(e);
	molt_error_free(e);
	return 1;
}

static void add_all(int dfd, const char *prefix, struct layer_changes *c)
{
	int dup_fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fdopendir(dup_fd);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *p = *prefix ? xasprintf("%s/%s", prefix, de->d_name) : xstrdup(de->d_name);
		layer_changes_add(c, p, LAYER_CHANGE_ENTRY);
		if (de->d_type == DT_DIR) {
			int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			add_all(sub, p, c);
			close(sub);
		}
		free(p);
	}
	if (d)
		closedir(d);
}

static int do_write(const char *tree, const char *out, const char *comp)
{
	struct molt_error *e = NULL;
	int tfd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct layer_changes c = {0};
	add_all(tfd, "", &c);
	struct layer_writer_opts o = {.compression = strcmp(comp, "zstd") ? LAYER_GZIP : LAYER_ZSTD};
	struct layer_digests d;
	if (layer_write_changes(tfd, &c, &o, ofd, &d, &e) < 0)
		return fail(e);
	layer_changes_done(&c);
	return 0;
}

static int do_unpack(const char *layer, const char *dest)
{
	struct molt_error *e = NULL;
	mkdir(dest, 0755);
	int rfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int lfd = open(layer, O_RDONLY | O_CLOEXEC);
	if (layer_unpack(rfd, lfd, &(struct unpack_opts){.layer = layer}, NULL, &e) < 0)
		return fail(e);
	return 0;
}

static void touch_one(const char *root, const char *file)
{
	char *p = xasprintf("%s/%s", root, file);
	int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
	(void)!write(fd, "changed\n", 8);
	close(fd);
	free(p);
}

static int do_diff_walk(const char *tree, const char *file)
{
	struct molt_error *e = NULL;
	int tfd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct tree_snapshot *s = NULL;
	double t0 = now();
	if (tree_snapshot_take(tfd, &s, &e) < 0)
		return fail(e);
	double t1 = now();
	touch_one(tree, file);
	struct layer_changes c = {0};
	double t2 = now();
	if (differ_walk(s, tfd, &c, &e) < 0)
		return fail(e);
	printf("snapshot_seconds=%.4f diff_seconds=%.4f changes=%zu\n", t1 - t0, now() - t2, c.n);
	layer_changes_done(&c);
	tree_snapshot_free(s);
	return 0;
}

static int do_diff_overlay(const char *lower, const char *scratch, const char *file)
{
	struct molt_error *e = NULL;
	char *up = xasprintf("%s/upper", scratch), *wk = xasprintf("%s/work", scratch),
	     *mn = xasprintf("%s/merged", scratch);
	mkdir(up, 0755);
	mkdir(wk, 0755);
	mkdir(mn, 0755);
	char *opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s,userxattr", lower, up, wk);
	if (mount("overlay", mn, "overlay", 0, opts) < 0) {
		fprintf(stderr, "mount overlay: %s\n", strerror(errno));
		return 1;
	}
	touch_one(mn, file);
	umount2(mn, MNT_DETACH);
	int ufd = open(up, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int lfd = open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct layer_changes c = {0};
	double t0 = now();
	if (differ_overlay(ufd, lfd, &c, &e) < 0)
		return fail(e);
	printf("diff_seconds=%.4f changes=%zu\n", now() - t0, c.n);
	layer_changes_done(&c);
	return 0;
}

int main(int argc, char **argv)
{
	struct molt_error *e = NULL;
	if (argc < 3) {
		fprintf(stderr, "usage: see the comment at the top of bench_layers.c\n");
		return 2;
	}
	if (sandbox_enter_build_namespace(NULL, &e) < 0)
		return fail(e);
	if (!strcmp(argv[1], "unpack") && argc == 4)
		return do_unpack(argv[2], argv[3]);
	if (!strcmp(argv[1], "write") && argc == 5)
		return do_write(argv[2], argv[3], argv[4]);
	if (!strcmp(argv[1], "diff-walk") && argc == 4)
		return do_diff_walk(argv[2], argv[3]);
	if (!strcmp(argv[1], "diff-overlay") && argc == 5)
		return do_diff_overlay(argv[2], argv[3], argv[4]);
	fprintf(stderr, "bench_layers: bad arguments\n");
	return 2;
}
