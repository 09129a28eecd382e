/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/collect_test.h: every path under a directory as layer changes, for the
 * tests that write a whole tree as a layer (test_tarwriter, fuzz_unpack).
 */
#ifndef MOLT_COLLECT_TEST_H
#define MOLT_COLLECT_TEST_H

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "../../layers/layers.h"

/*
 * Adds every path below dfd (relative to it, prefixed with prefix) as an ENTRY
 * change; symlinks are not followed and at most 80 levels are read (a fuzzed tar
 * can be deep).
 */
static inline void collect_changes(int dfd, const char *prefix, struct layer_changes *c,
				   unsigned depth)
{
	int dup_fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;
	while (d && depth < 80 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *p = *prefix ? xasprintf("%s/%s", prefix, de->d_name) : xstrdup(de->d_name);
		layer_changes_add(c, p, LAYER_CHANGE_ENTRY);
		struct stat st;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				collect_changes(sub, p, c, depth + 1);
				close(sub);
			}
		}
		free(p);
	}
	if (d)
		closedir(d);
	else if (dup_fd >= 0)
		close(dup_fd);
}

#endif
