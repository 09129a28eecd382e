/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stored layer blob → its unpacked tree under layers/sha256/<diff ID> (layers.h:
 * layer_store_unpack), for builds, `molt run` and a pull that unpacks while it downloads.
 */
#include <archive.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "layers.h"

/*
 * The diff ID a config claims must be the layer's content: unpacked trees are shared
 * by diff ID across images, so one hostile image claiming a popular layer's diff ID
 * must not plant its own tree under that name.
 */
static int diff_id_of_blob(int fd, char ret[DIGEST_STR_LEN], struct molt_error **err)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	struct archive_entry *e;
	int r = 0;
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		r = molt_error_setx(err, EINVAL, "read layer: %s", archive_error_string(a));
		archive_read_free(a);
		return r;
	}
	struct digester *d = digester_new();
	char buf[65536];
	la_ssize_t n;
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
		digester_update(d, buf, (size_t)n);
	if (n < 0)
		r = molt_error_setx(err, EINVAL, "decompress layer: %s", archive_error_string(a));
	digester_final(d, ret);
	digester_free(d);
	archive_read_free(a);
	return r;
}

int layer_store_unpack(struct layer_store *s, const char *tmp, const char *digest,
		       const char *diff_id, bool verify, struct molt_error **err)
{
	int fd = -1;
	int64_t size;
	int r = layer_store_blob_open(s, digest, verify, &fd, &size, err);
	if (r < 0)
		return r;
	char actual[DIGEST_STR_LEN];
	r = diff_id_of_blob(fd, actual, err);
	if (r == 0 && strcmp(actual, diff_id))
		r = molt_error_setx(err, EINVAL, "layer %s: its content is %s, not the diff ID %s "
						 "its image config claims",
				    digest, actual, diff_id);
	_cleanup_free_ char *dir = xasprintf("%s/unpack-XXXXXX", tmp);
	if (r == 0 && !mkdtemp(dir))
		r = molt_error_set(err, errno, "create '%s'", dir);
	/* The layer's root is "/" of the image when no tar entry says otherwise. */
	if (r == 0 && chmod(dir, 0755) < 0)
		r = molt_error_set(err, errno, "chmod '%s'", dir);
	if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
		r = molt_error_set(err, errno, "rewind layer %s", digest);
	_cleanup_close_ int root = r == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (r == 0 && root < 0)
		r = molt_error_set(err, errno, "open '%s'", dir);
	struct unpack_opts uo = {.layer = digest, .whiteouts = UNPACK_OVERLAY};
	if (r == 0)
		r = layer_unpack(root, fd, &uo, NULL, err);
	if (r == 0)
		r = layer_store_unpacked_publish(s, diff_id, dir, err);
	else if (root >= 0)
		rm_rf(dir, NULL); /* the unpack leaves a partial tree to its caller */
	close(fd);
	return r;
}

