/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/test_tarwriter.c: the deterministic layer writer — PAX details, sort
 * order, hardlinks, compression, digests in one pass, reproducibility.
 */
#include <sys/xattr.h>

#include "collect_test.h"
#include "layers_test.h"

/* Writes the whole tree at root as a layer into file out; returns 0 or -errno. */
static int write_tree(const char *root, const char *out, struct layer_writer_opts *o,
		      struct layer_digests *d, const char *extra_whiteout)
{
	struct layer_changes c = {0};
	int rootfd = lt_open_dir(root);
	collect_changes(rootfd, "", &c, 0);
	if (extra_whiteout)
		layer_changes_add(&c, extra_whiteout, LAYER_CHANGE_WHITEOUT);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct molt_error *e = NULL;
	int r = layer_write_changes(rootfd, &c, o, fd, d, &e);
	if (e)
		printf("# write: %s\n", e->msg);
	molt_error_free(e);
	close(fd);
	close(rootfd);
	layer_changes_done(&c);
	return r;
}

static char *file_sha(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char h[65];
	lt_sha256_fd(fd, h);
	close(fd);
	return xasprintf("sha256:%s", h);
}

/* Reads a tar back with libarchive: one line per entry, what a reader would see. */
static char *list_tar(const char *path)
{
	struct archive *a = archive_read_new();
	decompress_enable(a, NULL);
	archive_read_support_format_tar(a);
	struct strbuf sb = STRBUF_INIT;
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		archive_read_free(a);
		return xstrdup("unreadable");
	}
	struct archive_entry *e;
	int r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		strbuf_addf(&sb, "%s %o %lld:%lld t=%lld", archive_entry_pathname(e),
			    archive_entry_mode(e), (long long)archive_entry_uid(e),
			    (long long)archive_entry_gid(e), (long long)archive_entry_mtime(e));
		if (archive_entry_hardlink(e))
			strbuf_addf(&sb, " hard=%s", archive_entry_hardlink(e));
		if (archive_entry_symlink(e))
			strbuf_addf(&sb, " sym=%s", archive_entry_symlink(e));
		if ((archive_entry_uname(e) && *archive_entry_uname(e)) ||
		    (archive_entry_gname(e) && *archive_entry_gname(e)))
			strbuf_adds(&sb, " HAS-UNAME");
		if (archive_entry_atime_is_set(e) || archive_entry_ctime_is_set(e))
			strbuf_adds(&sb, " HAS-ATIME-CTIME");
		const char *n;
		const void *v;
		size_t len;
		archive_entry_xattr_reset(e);
		while (archive_entry_xattr_next(e, &n, &v, &len) == ARCHIVE_OK)
			strbuf_addf(&sb, " %s=%.*s", n, (int)len, (const char *)v);
		strbuf_addc(&sb, '\n');
	}
	if (r != ARCHIVE_EOF)
		strbuf_addf(&sb, "READ ERROR %s\n", archive_error_string(a));
	archive_read_free(a);
	return strbuf_detach(&sb);
}

static const char *long_name = "d/a-name-that-is-much-longer-than-the-one-hundred-bytes-an-ustar-"
			       "header-has-room-for-so-pax-must-carry-it";

static int make_tree(const char *root)
{
	return lt_sh(root,
		     "mkdir -m 0750 d && echo hello >d/f && ln d/f d/h && ln -s d/f s && "
		     "mkfifo -m 0600 p && echo s >suid && chmod 4755 suid && : >empty && "
		     "echo long >%s && setfattr -n user.note -v hi d/f && "
		     "chown 1000:1000 d && { chown 3000000:42 empty 2>/dev/null || chown 65000:42 empty; } && "
		     "touch -h -d @1700000000 d/f s p suid empty %s && touch -d @1700000001 d && "
		     "touch -d @500 old && touch -d @1800000000 new",
		     long_name, long_name);
}

static void test_format(const char *dir, const char *root)
{
	char *out = xasprintf("%s/plain.tar", dir);
	struct layer_digests d;
	int r = write_tree(root, out, &(struct layer_writer_opts){.compression = LAYER_UNCOMPRESSED},
			   &d, "gone/file");
	char *list = list_tar(out);
	char *sha = file_sha(out);
	tap_ok(r == 0 && !strcmp(d.diff_id, sha) && !strcmp(d.digest, sha),
	       "uncompressed: diff ID == digest == sha256 of the file");
	tap_ok(!strstr(list, "HAS-UNAME") && !strstr(list, "HAS-ATIME-CTIME") &&
		       !strstr(list, "READ ERROR"),
	       "no uname/gname, no atime/ctime in any entry");
	tap_ok(strstr(list, "d/h 644 0:0 t=1700000000 hard=d/f") != NULL,
	       "the second path of an inode is a hardlink entry to the first");
	tap_ok(strstr(list, "s 120777 0:0 t=1700000000 sym=d/f") != NULL, "symlink kept");
	/* 3000000 needs the identity map of real root; a subuid map stops at 65535 */
	bool big = strstr(list, "empty 100644 3000000:42") != NULL;
	tap_ok(big || strstr(list, "empty 100644 65000:42") != NULL,
	       "ids kept numerically%s", big ? "; an uid over ustar's 7 octal digits travels in a "
					       "PAX record" : " (65000: no big uid in this namespace)");
	tap_ok(strstr(list, "suid 104755") != NULL, "setuid bit kept");
	tap_ok(strstr(list, "user.note=hi") != NULL, "user.* xattrs as SCHILY.xattr records");
	tap_ok(strstr(list, long_name) != NULL, "a name over 100 bytes travels in a PAX record");
	tap_ok(strstr(list, "gone/.wh.file 100000 0:0 t=0") != NULL,
	       "a whiteout is an empty mode-0 file '.wh.NAME' with mtime 0");
	tap_ok(strstr(list, "p 10600") != NULL, "fifo kept");
	/* parents before children, bytewise: "d" < "d/..." < "empty" */
	char *pd = strstr(list, "d/ 40750"), *pdf = strstr(list, "d/f "), *pe = strstr(list, "empty ");
	tap_ok(pd && pdf && pe && pd < pdf && pdf < pe && !strncmp(list, "d/ 40750 1000:1000", 18),
	       "entries sorted bytewise, parents before children");
	if (!pd || strncmp(list, "d/ 40750 1000:1000", 18))
		printf("%s", list);
	free(list);
	free(sha);

	char *gz = xasprintf("%s/layer.tar.gz", dir), *zs = xasprintf("%s/layer.tar.zst", dir);
	struct layer_digests dg, dz;
	int rg = write_tree(root, gz, &(struct layer_writer_opts){.compression = LAYER_GZIP}, &dg,
			    "gone/file");
	int rz = write_tree(root, zs, &(struct layer_writer_opts){.compression = LAYER_ZSTD}, &dz,
			    "gone/file");
	char *shg = file_sha(gz), *shz = file_sha(zs);
	tap_ok(rg == 0 && !strcmp(dg.diff_id, d.diff_id) && !strcmp(dg.digest, shg) &&
		       strcmp(dg.digest, dg.diff_id) && dg.tar_size == d.tar_size,
	       "gzip: diff ID is the uncompressed tar's, digest the blob's, same pass");
	tap_ok(rz == 0 && !strcmp(dz.diff_id, d.diff_id) && !strcmp(dz.digest, shz),
	       "zstd: diff ID is the uncompressed tar's, digest the blob's");
	unsigned char h[10] = {0};
	int fd = open(gz, O_RDONLY | O_CLOEXEC);
	(void)!read(fd, h, sizeof(h));
	close(fd);
	tap_ok(h[0] == 0x1f && h[1] == 0x8b && h[3] == 0 && !h[4] && !h[5] && !h[6] && !h[7],
	       "gzip header has no file name and no timestamp (reproducible)");
	fd = open(zs, O_RDONLY | O_CLOEXEC);
	(void)!read(fd, h, 4);
	close(fd);
	tap_ok(h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd, "zstd frame magic");
	tap_ok(lt_sh(dir, "tar -tzf layer.tar.gz >/dev/null && tar -tf plain.tar | grep -q '^d/f$'") ==
		       0,
	       "GNU tar reads the layer");
	free(shg);
	free(shz);
	free(gz);
	free(zs);
	free(out);
}

static void test_reproducible(const char *dir, const char *root)
{
	char *copy = xasprintf("%s/copy", dir), *o1 = xasprintf("%s/r1", dir),
	     *o2 = xasprintf("%s/r2", dir), *o3 = xasprintf("%s/r3", dir);
	/* cp -a: same metadata and content, new inodes, another directory */
	lt_sh(dir, "cp -a '%s' copy", root);
	struct layer_digests a, b, c;
	struct layer_writer_opts o = {.compression = LAYER_GZIP};
	int r = write_tree(root, o1, &o, &a, NULL);
	r |= write_tree(root, o2, &o, &b, NULL);
	r |= write_tree(copy, o3, &o, &c, NULL);
	tap_ok(r == 0 && !strcmp(a.digest, b.digest) && !strcmp(a.digest, c.digest) &&
		       !strcmp(a.diff_id, c.diff_id),
	       "same tree → same digests, twice and from another directory (SPEC §6)");

	/* SOURCE_DATE_EPOCH: newer mtimes clamped, older ones kept */
	setenv("SOURCE_DATE_EPOCH", "1000", 1);
	struct molt_error *e = NULL;
	tap_ok(layer_writer_opts_from_env(&o, &e) == 0 && o.clamp_mtime &&
		       o.source_date_epoch == 1000,
	       "SOURCE_DATE_EPOCH read from the environment");
	o.compression = LAYER_UNCOMPRESSED;
	r = write_tree(root, o1, &o, &a, NULL);
	char *list = list_tar(o1);
	tap_ok(r == 0 && strstr(list, "new 100644 0:0 t=1000") && strstr(list, "old 100644 0:0 t=500") &&
		       strstr(list, "d/f 100644 0:0 t=1000"),
	       "mtimes after SOURCE_DATE_EPOCH are clamped to it, older ones kept");
	free(list);
	setenv("SOURCE_DATE_EPOCH", "yesterday", 1);
	tap_ok(layer_writer_opts_from_env(&o, &e) < 0 && e && strstr(e->msg, "SOURCE_DATE_EPOCH"),
	       "a malformed SOURCE_DATE_EPOCH is a usage error");
	molt_error_free(e);
	unsetenv("SOURCE_DATE_EPOCH");

	/* roundtrip: unpacking the layer gives the tree back */
	char *back = xasprintf("%s/back", dir);
	mkdir(back, 0755);
	o = (struct layer_writer_opts){.compression = LAYER_ZSTD};
	r = write_tree(root, o1, &o, &a, NULL);
	int bfd = lt_open_dir(back), tfd = open(o1, O_RDONLY | O_CLOEXEC);
	e = NULL;
	r |= layer_unpack(bfd, tfd, &(struct unpack_opts){.layer = "roundtrip"}, NULL, &e);
	char *d1 = lt_dump(root, true), *d2 = lt_dump(back, true);
	tap_ok(r == 0 && !strcmp(d1, d2), "unpacking the layer gives the same tree back");
	if (strcmp(d1, d2))
		printf("# %s\n#---\n%s\n", d1, d2);
	molt_error_free(e);
	close(bfd);
	close(tfd);
	free(d1);
	free(d2);
	free(back);
	free(copy);
	free(o1);
	free(o2);
	free(o3);
}

static void test_order(const char *dir, const char *root)
{
	char *out = xasprintf("%s/order.tar", dir);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rootfd = lt_open_dir(root);
	struct layer_writer *w = NULL;
	struct molt_error *e = NULL;
	int r = layer_writer_new(fd, NULL, &w, &e);
	r |= layer_writer_add(w, rootfd, "empty", &e);
	int r2 = layer_writer_add(w, rootfd, "d", &e);
	tap_ok(r == 0 && r2 < 0 && e && strstr(e->msg, "layer entry 'd': out of order after 'empty'"),
	       "entries out of order are refused");
	molt_error_free(e);
	e = NULL;
	struct layer_digests dg;
	tap_ok(layer_writer_finish(w, &dg, &e) < 0, "a writer that failed cannot finish");
	molt_error_free(e);
	layer_writer_free(w);
	close(fd);
	close(rootfd);
	free(out);
}

int main(void)
{
	if (!lt_enter_namespace()) {
		tap_skip("tar writer tests need a user namespace to own files as other ids");
		return tap_done();
	}
	char *dir = lt_mkdtemp();
	char *root = xasprintf("%s/root", dir);
	mkdir(root, 0755);
	if (make_tree(root) != 0) {
		tap_skip("could not build the sample tree (setfattr from 'attr' missing?)");
		return tap_done();
	}
	test_format(dir, root);
	test_reproducible(dir, root);
	test_order(dir, root);
	lt_rm(dir);
	free(root);
	free(dir);
	return tap_done();
}
