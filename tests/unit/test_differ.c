/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/test_differ.c: the overlay differ and the walk differ on the same
 * changes. For each scenario the step runs twice — once on a copy of the base tree
 * (walk differ: snapshot before, walk after), once on an overlay of it (overlay
 * differ: the upperdir) — and the two layers must be byte-identical; applying the
 * layer to another copy of the base must give the changed tree.
 */
#include <sys/mount.h>

#include "layers_test.h"

/* mtimes of the base; the layers clamp the step's "now" to EPOCH so both runs agree */
#define BASE_TIME 1000000
#define EPOCH 2000000

static const char *base_setup =
	"mkdir -p etc usr/lib usr/bin var/cache/apt tree/a/b home/u && echo root >etc/passwd && "
	"echo hosts >etc/hosts && echo lib >usr/lib/libc.so && ln -s usr/lib lib && "
	"echo bb >usr/bin/busybox && ln usr/bin/busybox usr/bin/sh && "
	"echo c1 >var/cache/apt/c1 && echo c2 >var/cache/apt/c2 && echo t >tree/a/b/t && "
	"echo u >home/u/file && ln -s /etc/hosts hostlink && mkfifo oldfifo && "
	"setfattr -n user.x -v 1 etc/hosts && chown -R 1000:1000 home/u && "
	"find . -depth -exec touch -h -d @1000000 {} +";

static const struct scenario {
	const char *name, *step;
} scenarios[] = {
	{"add a file", "echo new >etc/newfile"},
	{"modify a file", "echo more >>etc/passwd"},
	{"delete a file", "rm etc/hosts"},
	{"directory replaced by a file", "rm -rf var/cache/apt && echo f >var/cache/apt"},
	{"directory replaced by a symlink", "rm -rf tree && ln -s etc tree"},
	{"file replaced by a directory", "rm etc/passwd && mkdir etc/passwd && echo x >etc/passwd/x"},
	{"rename a file", "mv etc/hosts etc/hosts2"},
	{"rename a directory", "mv home/u home/v"},
	{"new hardlinks", "echo h >h1 && ln h1 h2 && ln h1 usr/h3"},
	{"hardlink to an existing file", "ln usr/lib/libc.so usr/lib/libc2.so"},
	{"chmod only", "chmod 0600 etc/passwd"},
	{"chown only", "chown 42:43 etc/passwd"},
	{"xattr only", "setfattr -n user.y -v 2 etc/passwd"},
	{"whole-tree deletion", "rm -rf tree"},
	{"opaque directory re-creation", "rm -rf var/cache && mkdir -p var/cache && echo n >var/cache/new"},
	{"nested new directories", "mkdir -p new/a/b/c && echo deep >new/a/b/c/f"},
	{"symlink retarget", "ln -sfn /etc/passwd hostlink"},
	{"fifo added and removed", "mkfifo newfifo && rm oldfifo"},
	{"empty file", ": >empty"},
	{"mtime only", "touch -d @1500000 etc/passwd"},
	{"delete and re-create a file", "rm usr/lib/libc.so && echo lib >usr/lib/libc.so"},
	{"chmod a directory", "chmod 0700 home/u"},
	{"setuid file", "echo s >suid && chmod 4755 suid"},
	{"write through a directory symlink", "echo x >lib/libnew.so"},
	{"delete a symlink", "rm lib"},
	{"delete one, add a sibling", "rm var/cache/apt/c1 && echo c3 >var/cache/apt/c3"},
	{"no change", "true"},
	{"delete every file of a directory", "rm var/cache/apt/c1 var/cache/apt/c2"},
};

struct run {
	char *dir;
	char *base;
};

static int write_layer(int srcfd, struct layer_changes *c, const char *out,
		       struct layer_digests *d)
{
	struct layer_writer_opts o = {.compression = LAYER_GZIP, .clamp_mtime = true,
				      .source_date_epoch = EPOCH};
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct molt_error *e = NULL;
	int r = layer_write_changes(srcfd, c, &o, fd, d, &e);
	if (e)
		printf("# write layer: %s\n", e->msg);
	molt_error_free(e);
	close(fd);
	return r;
}

/* Writes the diff's layer while r is still 0; reports and drops the differ's error, and
 * the changes. */
static int write_diff(int r, int fd, struct layer_changes *c, const char *out,
		      struct layer_digests *d, struct molt_error *e, const char *what)
{
	if (r == 0)
		r = write_layer(fd, c, out, d);
	if (e)
		printf("# %s: %s\n", what, e->msg);
	molt_error_free(e);
	layer_changes_done(c);
	return r;
}

/* The walk run: copy the base, snapshot, step, diff, write. */
static int run_walk(struct run *rn, const struct scenario *s, struct layer_digests *d,
		    char **ret_tree, size_t *ret_n)
{
	lt_sh(rn->dir, "rm -rf walk && cp -a base walk");
	_cleanup_free_ char *root = xasprintf("%s/walk", rn->dir),
			    *out = xasprintf("%s/walk.tar.gz", rn->dir);
	_cleanup_close_ int rootfd = lt_open_dir(root);
	struct tree_snapshot *snap = NULL;
	struct layer_changes c = {0};
	struct molt_error *e = NULL;
	int r = tree_snapshot_take(rootfd, &snap, &e);
	if (r == 0 && lt_sh(root, "%s", s->step) != 0)
		r = -1;
	if (r == 0)
		r = differ_walk(snap, rootfd, &c, &e);
	*ret_n = c.n;
	r = write_diff(r, rootfd, &c, out, d, e, "walk");
	*ret_tree = lt_dump(root, false);
	tree_snapshot_free(snap);
	return r;
}

/* The overlay run: mount base as the lowerdir, step in the merged dir, diff the upper. */
static int run_overlay(struct run *rn, const struct scenario *s, struct layer_digests *d,
		       char **ret_tree)
{
	lt_sh(rn->dir, "rm -rf upper work merged && mkdir upper work merged");
	_cleanup_free_ char *merged = xasprintf("%s/merged", rn->dir),
			    *upper = xasprintf("%s/upper", rn->dir),
			    *out = xasprintf("%s/ovl.tar.gz", rn->dir);
	_cleanup_free_ char *opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s/work,userxattr,"
			       "metacopy=off",
			       rn->base, upper, rn->dir);
	int r = mount("overlay", merged, "overlay", 0, opts);
	if (r < 0)
		printf("# mount overlay: %s\n", strerror(errno));
	if (r == 0 && lt_sh(merged, "%s", s->step) != 0)
		r = -1;
	*ret_tree = lt_dump(merged, false);
	umount2(merged, MNT_DETACH);
	_cleanup_close_ int ufd = lt_open_dir(upper), lfd = lt_open_dir(rn->base);
	struct layer_changes c = {0};
	struct molt_error *e = NULL;
	if (r == 0)
		r = differ_overlay(ufd, lfd, &c, &e);
	return write_diff(r, ufd, &c, out, d, e, "overlay");
}

/* Applies the layer onto a fresh copy of the base; returns the resulting tree's dump. */
static char *apply_layer(struct run *rn)
{
	lt_sh(rn->dir, "rm -rf apply && cp -a base apply");
	char *root = xasprintf("%s/apply", rn->dir), *tar = xasprintf("%s/walk.tar.gz", rn->dir);
	int rootfd = lt_open_dir(root), tfd = open(tar, O_RDONLY | O_CLOEXEC);
	struct molt_error *e = NULL;
	char *dump = NULL;
	if (layer_unpack(rootfd, tfd, &(struct unpack_opts){.layer = "walk"}, NULL, &e) < 0) {
		printf("# apply: %s\n", e->msg);
		dump = xstrdup("apply failed");
	} else {
		dump = lt_dump(root, false);
	}
	molt_error_free(e);
	close(rootfd);
	close(tfd);
	free(root);
	free(tar);
	return dump;
}

static void run_scenario(struct run *rn, const struct scenario *s)
{
	struct layer_digests dw, dov;
	memset(&dw, 0, sizeof(dw));
	memset(&dov, 0, sizeof(dov));
	char *tree_w = NULL, *tree_o = NULL;
	size_t n = 0;
	int rw = run_walk(rn, s, &dw, &tree_w, &n);
	int ro = run_overlay(rn, s, &dov, &tree_o);
	bool same = rw == 0 && ro == 0 && !strcmp(dw.digest, dov.digest) &&
		    !strcmp(tree_w, tree_o);
	if (!tap_ok(same, "%s: overlay and walk differs give byte-identical layers", s->name)) {
		printf("# walk %s overlay %s\n", dw.digest, dov.digest);
		lt_sh(rn->dir, "tar -tvzf walk.tar.gz | sed 's/^/#  walk: /'; "
			       "tar -tvzf ovl.tar.gz | sed 's/^/#  ovl:  /'");
	}
	char *applied = apply_layer(rn);
	if (!tap_ok(!strcmp(applied, tree_w), "%s: the layer applied to the old tree gives the new one",
		    s->name))
		printf("# want:\n%s# got:\n%s", tree_w, applied);
	if (!strcmp(s->step, "true"))
		tap_ok(n == 0 && dw.tar_size == 1024, "no change: an empty layer (two zero blocks)");
	free(applied);
	free(tree_w);
	free(tree_o);
}

/* An upperdir entry that needs lower data the upper does not hold must be refused. */
static void test_refused_upper(const char *dir)
{
	char *upper = xasprintf("%s/bad-upper", dir);
	mkdir(upper, 0755);
	lt_sh(upper, "mkdir d && setfattr -n user.overlay.redirect -v /x d && : >f && "
		     "setfattr -n user.overlay.metacopy -v '' f");
	int ufd = lt_open_dir(upper);
	struct layer_changes c = {0};
	struct molt_error *e = NULL;
	int r = differ_overlay(ufd, -1, &c, &e);
	tap_ok(r < 0 && e && (strstr(e->msg, "redirect_dir=off") || strstr(e->msg, "metacopy=off")),
	       "an upper entry with a redirect or metacopy xattr is an error: %s", e ? e->msg : "");
	molt_error_free(e);
	close(ufd);
	free(upper);
}

int main(void)
{
	if (!lt_enter_namespace()) {
		tap_skip("differ tests need a user namespace (overlay, chown)");
		return tap_done();
	}
	struct run rn = {.dir = lt_mkdtemp()};
	rn.base = xasprintf("%s/base", rn.dir);
	mkdir(rn.base, 0755);
	if (lt_sh(rn.base, "%s", base_setup) != 0) {
		tap_skip("could not build the base tree (setfattr from 'attr' missing?)");
		return tap_done();
	}
	for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++)
		run_scenario(&rn, &scenarios[i]);
	test_refused_upper(rn.dir);
	lt_rm(rn.dir);
	free(rn.dir);
	free(rn.base);
	return tap_done();
}
