/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for layer_unpack(): the input is a layer (tar, gzip or zstd),
 * unpacked with small limits into a scratch root, alternating the resolver
 * (openat2 / walk) and the whiteout mode (apply / overlay). Beyond crashes and
 * sanitizer reports it checks the one property that matters: nothing appears or
 * changes beside the root (a canary file and the directory listing of its parent),
 * and a tree that unpacked can be written back as a layer.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "../../layers/layers.h"
#include "../unit/collect_test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *base, *root, *canary;
static unsigned long runs;

static void cleanup(void)
{
	struct molt_error *e = NULL;
	rm_rf(base, &e);
	molt_error_free(e);
}

static void setup(void)
{
	char tmpl[] = "/tmp/molt-fuzz-unpack-XXXXXX";
	if (!mkdtemp(tmpl))
		abort();
	base = xstrdup(tmpl);
	root = xasprintf("%s/root", base);
	canary = xasprintf("%s/canary", base);
	int fd = open(canary, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "safe", 4) != 4)
		abort();
	close(fd);
	molt_log_level = MOLT_LOG_QUIET;
	atexit(cleanup);
}

/* Aborts (a finding) when anything but root/ and canary is beside the root. */
static void check_host(void)
{
	DIR *d = opendir(base);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "root") && strcmp(de->d_name, "canary"))
			abort();
	if (d)
		closedir(d);
	char buf[8] = "";
	int fd = open(canary, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || read(fd, buf, sizeof(buf)) != 4 || memcmp(buf, "safe", 4) ||
	    fstat(fd, &st) < 0 || st.st_nlink != 1)
		abort();
	close(fd);
}

static void write_back(int rootfd)
{
	struct layer_changes c = {0};
	collect_changes(rootfd, "", &c, 0);
	int out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct layer_digests d;
	struct molt_error *e = NULL;
	struct layer_writer_opts o = {.compression = (runs & 4) ? LAYER_ZSTD : LAYER_UNCOMPRESSED};
	layer_write_changes(rootfd, &c, &o, out, &d, &e);
	molt_error_free(e);
	layer_changes_done(&c);
	close(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!base)
		setup();
	runs++;
	mkdir(root, 0755);
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int tarfd = memfd_create("layer", MFD_CLOEXEC);
	if (rootfd < 0 || tarfd < 0 || write_all(tarfd, data, size) < 0 ||
	    lseek(tarfd, 0, SEEK_SET) < 0)
		abort();
	struct unpack_opts o = {
		.layer = "sha256:fuzz",
		.resolve = (runs & 1) ? INROOT_WALK : INROOT_OPENAT2,
		.whiteouts = (runs & 2) ? UNPACK_OVERLAY : UNPACK_APPLY,
		.max_bytes = 4 << 20,
		.max_entries = 2000,
		.max_depth = 64,
	};
	struct molt_error *e = NULL;
	if (layer_unpack(rootfd, tarfd, &o, NULL, &e) == 0)
		write_back(rootfd);
	molt_error_free(e);
	close(tarfd);
	check_host();
	close(rootfd);
	e = NULL;
	if (rm_rf(root, &e) < 0)
		abort();
	return 0;
}
