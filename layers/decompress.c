/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/decompress.c: the decompressors molt lets libarchive use on untrusted bytes.
 *
 * archive_read_support_filter_all() also enables lzop, lrzip, grzip, lzip, lz4,
 * uuencode, rpm, compress(.Z)... and for several of them libarchive has no code of its
 * own: it forks the program of that name found in PATH (`lzop -d`, `lrzip -d -q`) and
 * pipes the input through it — an unknown tool on hostile bytes, outside any sandbox.
 * So molt enables exactly the formats it documents (docker build's set): gzip, bzip2,
 * xz and zstd, in-process. A filter answering ARCHIVE_WARN is that same external
 * fallback (libarchive built without the library) and is refused too.
 */
#include <archive.h>
#include <string.h>

#include "layers.h"

int decompress_enable(struct archive *a, struct molt_error **err)
{
	static const struct {
		const char *name;
		int (*enable)(struct archive *);
	} filters[] = {
		{"none", archive_read_support_filter_none},
		{"gzip", archive_read_support_filter_gzip},
		{"bzip2", archive_read_support_filter_bzip2},
		{"xz", archive_read_support_filter_xz},
		{"zstd", archive_read_support_filter_zstd},
	};
	for (size_t i = 0; i < ARRAY_SIZE(filters); i++)
		if (filters[i].enable(a) != ARCHIVE_OK)
			return molt_error_setx(err, ENOTSUP,
					       "set up the %s decompressor: %s (molt runs no "
					       "external decompressor)",
					       filters[i].name, archive_error_string(a));
	return 0;
}

/* Magic numbers of compressions molt does not read (libarchive's bidders check these). */
static const struct {
	const char *name;
	const char *magic;
	size_t len;
} foreign[] = {
	{"lzop", "\x89LZO\x00\r\n\x1a\n", 9},
	{"lrzip", "LRZI", 4},
	{"grzip", "GRZipII\x00\x02\x04:)", 12},
	{"lzip", "LZIP", 4},
	{"lz4", "\x04\x22\x4d\x18", 4},
	{"lz4 (legacy)", "\x02\x21\x4c\x18", 4},
	{"compress (.Z)", "\x1f\x9d", 2},
	{"rpm", "\xed\xab\xee\xdb", 4},
	{"uuencode", "begin ", 6},
};

const char *decompress_foreign_name(const void *head, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(foreign); i++)
		if (n >= foreign[i].len && !memcmp(head, foreign[i].magic, foreign[i].len))
			return foreign[i].name;
	return NULL;
}

int decompress_refuse_foreign(int fd, const char *what, struct molt_error **err)
{
	unsigned char head[16];
	ssize_t n = pread(fd, head, sizeof(head), 0);
	const char *name = n > 0 ? decompress_foreign_name(head, (size_t)n) : NULL;
	if (!name)
		return 0;
	return molt_error_setx(err, ENOTSUP,
			       "%s: compressed with %s: molt reads gzip, bzip2, xz and zstd only "
			       "(it never runs an external decompressor)",
			       what, name);
}
