/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for registries.conf (layers/registry_toml.c, registry_conf.c): the
 * file a user or an image-building script writes. The input is parsed as TOML on its
 * own, then loaded as a registries.conf (through a memfd, as a file) and resolved for
 * two hosts. Besides crashes and sanitizer reports it checks that every failure comes
 * with a message naming the file, and that a resolved host always ends with the
 * registry itself (not a mirror) and has a repository path.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "../../layers/registry_int.h"
#include "../../layers/registry_toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_resolved(const struct registry_conf *conf, const char *host, const char *repo)
{
	struct registry_host_conf hc = {0};
	struct molt_error *err = NULL;
	int r = registry_conf_resolve(conf, host, repo, &hc, &err);
	if (r < 0) {
		if (!err || !err->msg[0])
			__builtin_trap(); /* a failure without a message */
	} else {
		if (hc.n_endpoints == 0 || hc.endpoints[hc.n_endpoints - 1].is_mirror)
			__builtin_trap();
		for (size_t i = 0; i < hc.n_endpoints; i++)
			if (!hc.endpoints[i].host || !hc.endpoints[i].repo)
				__builtin_trap();
	}
	molt_error_free(err);
	registry_host_conf_done(&hc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root = NULL;
	struct molt_error *err = NULL;
	int r = registry_toml_parse("fuzz.conf", (const char *)data, size, NULL, NULL, &root, &err);
	if (r < 0 && (!err || strncmp(err->msg, "fuzz.conf:", 10) != 0))
		__builtin_trap();
	if (r == 0 && !json_is_object(root))
		__builtin_trap();
	json_decref(root);
	molt_error_free(err);
	err = NULL;

	int fd = memfd_create("fuzz-registries.conf", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, data, size) < 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	char *paths[] = {path, NULL};
	struct registry_conf *conf = NULL;
	r = registry_conf_load(paths, &conf, &err);
	if (r < 0 && (!err || !strstr(err->msg, path)))
		__builtin_trap();
	if (r == 0) {
		check_resolved(conf, "docker.io", "library/busybox");
		check_resolved(conf, "a.example.com:5000", "team/app");
	}
	registry_conf_free(conf);
	molt_error_free(err);
	close(fd);
	return 0;
}
