/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/test_decompress.c: the decompressors molt lets libarchive use
 * (layers/decompress.c): gzip, bzip2, xz, zstd and plain are read in-process; lzop,
 * lrzip, compress(.Z)... are refused by name before libarchive could fork an external
 * program for them (a fake `lzop` first in PATH must never run).
 */
#include "layers_test.h"

static int count_cb(const void *buf, size_t n, void *userdata)
{
	(void)buf;
	*(size_t *)userdata += n;
	return 0;
}

static void test_names(void)
{
	struct {
		const char *head;
		size_t n;
		const char *want;
	} cases[] = {
		{"\x89LZO\x00\r\n\x1a\nxxxx", 13, "lzop"},
		{"LRZI\x00\x06", 6, "lrzip"},
		{"\x1f\x9d\x90", 3, "compress (.Z)"},
		{"LZIP\x01", 5, "lzip"},
		{"\x04\x22\x4d\x18", 4, "lz4"},
		{"\x1f\x8b\x08", 3, NULL},
		{"\x28\xb5\x2f\xfd", 4, NULL},
		{"BZh91AY", 7, NULL},
		{"\xfd" "7zXZ", 5, NULL},
		{"\x89LZO", 4, NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *got = decompress_foreign_name(cases[i].head, cases[i].n);
		tap_ok(cases[i].want ? got && !strcmp(got, cases[i].want) : got == NULL,
		       "magic #%zu is %s", i, cases[i].want ? cases[i].want : "not refused");
	}
}

int main(void)
{
	char *dir = lt_mkdtemp();
	test_names();
	/* A fake lzop and lrzip first in PATH: libarchive's external fallback would run them. */
	if (lt_sh(dir, "mkdir bin && for p in lzop lrzip; do printf '#!/bin/sh\\ntouch %s/ran\\n"
		       "exit 1\\n' >bin/$p; chmod +x bin/$p; done && "
		       "printf 'hello\\n' >f && tar -cf f.tar f && for c in gzip bzip2 xz zstd; do "
		       "$c -c f.tar >f.tar.$c; done && "
		       "printf '\\211LZO\\000\\r\\n\\032\\n\\020\\060\\040\\240\\011\\100' >f.tar.lzo && "
		       "cat f.tar >>f.tar.lzo && printf 'LRZI\\000\\006' >f.tar.lrz && "
		       "cat f.tar >>f.tar.lrz",
		  dir) != 0)
		tap_ok(0, "set up the files");
	char *path = xasprintf("%s/bin:%s", dir, getenv("PATH") ? getenv("PATH") : "/usr/bin");
	setenv("PATH", path, 1);
	free(path);
	const char *ok_names[] = {"f.tar", "f.tar.gzip", "f.tar.bzip2", "f.tar.xz", "f.tar.zstd"};
	for (size_t i = 0; i < ARRAY_SIZE(ok_names); i++) {
		char *p = xasprintf("%s/%s", dir, ok_names[i]);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		struct molt_error *e = NULL;
		size_t n = 0;
		int r = blob_decompress(fd, count_cb, &n, &e);
		tap_ok(r == 0 && n >= 10240, "%s is decompressed in-process (%zu bytes)", ok_names[i],
		       n);
		lseek(fd, 0, SEEK_SET);
		molt_error_free(e);
		e = NULL;
		tap_ok(tar_validate(fd, ok_names[i], &e) == 0, "%s is a valid tar", ok_names[i]);
		molt_error_free(e);
		close(fd);
		free(p);
	}
	const char *bad[][2] = {{"f.tar.lzo", "lzop"}, {"f.tar.lrz", "lrzip"}};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *p = xasprintf("%s/%s", dir, bad[i][0]);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		struct molt_error *e = NULL;
		size_t n = 0;
		int r = blob_decompress(fd, count_cb, &n, &e);
		char *want = xasprintf("compressed with %s: molt reads gzip, bzip2, xz and zstd only",
				       bad[i][1]);
		tap_ok(r < 0 && e && strstr(e->msg, want), "blob_decompress refuses %s by name (%s)",
		       bad[i][0], e ? e->msg : "no error");
		molt_error_free(e);
		e = NULL;
		r = tar_validate(fd, bad[i][0], &e);
		tap_ok(r < 0 && e && strstr(e->msg, want), "tar_validate refuses %s by name",
		       bad[i][0]);
		molt_error_free(e);
		free(want);
		close(fd);
		free(p);
	}
	char *ran = xasprintf("%s/ran", dir);
	tap_ok(access(ran, F_OK) != 0, "no external decompressor ran (the fake lzop/lrzip did not)");
	free(ran);
	lt_rm(dir);
	free(dir);
	return tap_done();
}
