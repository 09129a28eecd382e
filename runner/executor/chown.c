/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COPY/ADD --chown=user[:group]: names are looked up in the destination stage's own
 * /etc/passwd and /etc/group, read as text inside its root — never through NSS,
 * which would run code or consult the host (CVE-2019-14271).
 */
#include <fcntl.h>
#include <string.h>

#include <sys/stat.h>

#include "stage.h"

/* lookup_name(): the file is there but no regular file (a FIFO, a device). */
#define EFTYPE_NOT_REGULAR EMEDIUMTYPE

/* Field 3 (the id) of the line whose field 1 is name, in a passwd or group file. */
static int lookup_name(int rootfd, const char *file, const char *name, int64_t *ret_id,
		       int64_t *ret_gid)
{
	/* O_PATH: opening a FIFO planted as /etc/passwd for reading would block the build. */
	_cleanup_close_ int fd = inroot_open(rootfd, file, O_PATH, INROOT_AUTO);
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EFTYPE_NOT_REGULAR;
	_cleanup_free_ char *text = NULL;
	char path[64];
	/* Re-opening the resolved fd through /proc reads exactly the file found in-root. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int r = read_file(path, 16 << 20, &text, NULL, NULL);
	if (r < 0)
		return r;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[5] = {0};
		char *p = line;
		for (int i = 0; i < 5 && p; i++) {
			f[i] = p;
			p = strchr(p, ':');
			if (p)
				*p++ = '\0';
		}
		if (!f[0] || strcmp(f[0], name) || !f[2])
			continue;
		if (str_to_int64(f[2], 0, UINT32_MAX - 1, ret_id) < 0)
			return -EINVAL;
		if (ret_gid && (!f[3] || str_to_int64(f[3], 0, UINT32_MAX - 1, ret_gid) < 0))
			return -EINVAL;
		return 0;
	}
	return -ENOENT;
}

static int resolve_part(int rootfd, const char *file, const char *what, const char *spec,
			int64_t *ret_id, int64_t *ret_gid, struct molt_error **err)
{
	if (str_to_int64(what, 0, UINT32_MAX - 1, ret_id) == 0)
		return 0;
	int r = lookup_name(rootfd, file, what, ret_id, ret_gid);
	if (r == -ENOENT)
		return molt_error_setx(err, ENOENT, "--chown=%s: no %s '%s' in the image's %s", spec,
				       strcmp(file, "/etc/passwd") ? "group" : "user", what, file);
	if (r == -EFTYPE_NOT_REGULAR)
		return molt_error_setx(err, EINVAL, "--chown=%s: the image's %s is not a regular file",
				       spec, file);
	if (r < 0)
		return molt_error_set(err, -r, "--chown=%s: read %s of the image", spec, file);
	return 0;
}

int chown_resolve(int rootfd, const char *spec, uid_t *ret_uid, gid_t *ret_gid,
		  struct molt_error **err)
{
	_cleanup_free_ char *user = xstrdup(spec);
	char *group = strchr(user, ':');
	if (group)
		*group++ = '\0';
	if (!*user || (group && !*group))
		return molt_error_usage(err, "--chown=%s: expected user[:group]", spec);
	int64_t uid, gid = -1, primary = -1;
	int r = resolve_part(rootfd, "/etc/passwd", user, spec, &uid, &primary, err);
	if (r < 0)
		return r;
	if (group) {
		r = resolve_part(rootfd, "/etc/group", group, spec, &gid, NULL, err);
		if (r < 0)
			return r;
	} else {
		/* BuildKit (readUser) and buildah: a named user brings its primary group
		 * from the stage's /etc/passwd, a numeric one its own id as the gid. */
		gid = primary >= 0 ? primary : uid;
	}
	*ret_uid = (uid_t)uid;
	*ret_gid = (gid_t)gid;
	return 0;
}
