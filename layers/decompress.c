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
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>

#include "layers_int.h"

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

/*
 * A local source that is a tar archive, plain or compressed with gzip, bzip2, xz or
 * zstd (Docker: "recognized"). Anything else — a tar in lzop or lrzip, say — is copied
 * as a file, as docker build does, and no external decompressor ever runs on it.
 */
bool decompress_is_tar(int fd)
{
	struct archive *a = archive_read_new();
	if (decompress_enable(a, NULL) < 0) {
		archive_read_free(a);
		return false;
	}
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	struct archive_entry *e;
	bool yes = archive_read_open_fd(a, fd, 65536) == ARCHIVE_OK &&
		   archive_read_next_header(a, &e) == ARCHIVE_OK;
	archive_read_free(a);
	return yes;
}

/*
 * The secure unpacker reads plain, gzip and zstd tars. The other compressions ADD
 * accepts (bzip2, xz) are undone first into a plain tar in scratch (layers.h),
 * bounded like the unpacker (64 GiB) so a bomb fails instead of filling the disk.
 */
int decompress_to_plain_tar(int fd, const char *scratch, const char *src, int *ret_fd,
			     struct molt_error **err)
{
	unsigned char m[4] = {0};
	ssize_t n = pread(fd, m, sizeof(m), 0);
	if (n < 4 || (m[0] == 0x1f && m[1] == 0x8b) ||
	    (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)) {
		*ret_fd = -1;
		return 0;
	}
	_cleanup_free_ char *path = xasprintf("%s/add-tar-XXXXXX", scratch);
	_cleanup_close_ int out = mkostemp(path, O_CLOEXEC);
	if (out < 0)
		return molt_error_set(err, errno, "create a file in '%s'", scratch);
	unlink(path);
	struct archive *a = archive_read_new();
	int r = decompress_enable(a, err);
	archive_read_support_format_raw(a);
	struct archive_entry *e;
	if (r == 0 && (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK ||
		       archive_read_next_header(a, &e) != ARCHIVE_OK))
		r = molt_error_setx(err, EINVAL, "read '%s': %s", src, archive_error_string(a));
	char buf[65536];
	la_ssize_t got;
	uint64_t total = 0;
	while (r == 0 && (got = archive_read_data(a, buf, sizeof(buf))) != 0) {
		if (got < 0)
			r = molt_error_setx(err, EINVAL, "decompress '%s': %s", src,
					    archive_error_string(a));
		else if ((total += (uint64_t)got) > (64ull << 30))
			r = molt_error_setx(err, EFBIG, "'%s' decompresses to more than 64 GiB",
					    src);
		else if (write_all(out, buf, (size_t)got) < 0)
			r = molt_error_set(err, errno, "decompress '%s'", src);
	}
	archive_read_free(a);
	if (r == 0 && lseek(out, 0, SEEK_SET) < 0)
		r = molt_error_set(err, errno, "rewind the tar of '%s'", src);
	if (r == 0)
		*ret_fd = TAKE_FD(out);
	return r;
}
