/* SPDX-License-Identifier: Apache-2.0 */
/*
 * USER resolution. The image's /etc/passwd and /etc/group are parsed as text, never
 * through NSS: NSS would load modules named by the image's nsswitch.conf into molt
 * (CVE-2019-14271). The rules are runc's (libcontainer/user), which Docker uses.
 */
#include <fcntl.h>
#include <string.h>

#include "sandbox_int.h"

/* runc refuses ids above this: they cannot be mapped in a user namespace anyway. */
#define ID_MAX 2147483647

struct db_entry {
	char *fields[7];
	size_t n;
};

/* Splits one line into at most `max` ':'-separated fields, in place. */
static size_t split_fields(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *p = line;
	while (n < max) {
		fields[n++] = p;
		char *c = strchr(p, ':');
		if (!c)
			break;
		*c = '\0';
		p = c + 1;
	}
	return n;
}

static bool parse_id(const char *s, uint32_t *ret)
{
	int64_t v;
	if (!s || !*s || *s == '-' || *s == '+' || str_to_int64(s, 0, ID_MAX, &v) < 0)
		return false;
	*ret = (uint32_t)v;
	return true;
}

/*
 * Calls fn on each well-formed line of a passwd/group text; stops when fn returns
 * true. Comments and lines with too few fields are skipped, like libc does.
 */
static bool db_each(const char *text, size_t min_fields,
		    bool (*fn)(struct db_entry *e, void *data), void *data)
{
	if (!text)
		return false;
	const char *line = text;
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		_cleanup_free_ char *copy = xstrndup(line, len);
		struct db_entry e = {0};
		if (copy[0] && copy[0] != '#') {
			e.n = split_fields(copy, e.fields, 7);
			if (e.n >= min_fields && fn(&e, data))
				return true;
		}
		if (!end)
			break;
		line = end + 1;
	}
	return false;
}

struct pw_query {
	const char *name; /* by name, or */
	uint32_t uid;     /* by uid when name is NULL */
	bool found;
	uint32_t out_uid, out_gid;
	char *home, *pw_name;
};

static bool pw_match(struct db_entry *e, void *data)
{
	struct pw_query *q = data;
	uint32_t uid, gid;
	if (!parse_id(e->fields[2], &uid) || !parse_id(e->fields[3], &gid))
		return false;
	if (q->name ? strcmp(e->fields[0], q->name) != 0 : uid != q->uid)
		return false;
	q->found = true;
	q->out_uid = uid;
	q->out_gid = gid;
	q->home = xstrdup(e->n >= 6 && e->fields[5][0] ? e->fields[5] : "/");
	q->pw_name = xstrdup(e->fields[0]);
	return true;
}

struct gr_query {
	const char *name;  /* the group to find by name, or */
	const char *member; /* collect every group listing this user */
	bool found;
	uint32_t gid;
	gid_t *groups;
	size_t n_groups;
};

static bool gr_match(struct db_entry *e, void *data)
{
	struct gr_query *q = data;
	uint32_t gid;
	if (!parse_id(e->fields[2], &gid))
		return false;
	if (q->name) {
		if (strcmp(e->fields[0], q->name) != 0)
			return false;
		q->found = true;
		q->gid = gid;
		return true;
	}
	if (e->n < 4)
		return false;
	char *save = NULL;
	for (char *m = strtok_r(e->fields[3], ",", &save); m; m = strtok_r(NULL, ",", &save)) {
		if (strcmp(m, q->member) != 0)
			continue;
		for (size_t i = 0; i < q->n_groups; i++)
			if (q->groups[i] == gid)
				return false;
		q->groups = xrealloc(q->groups, (q->n_groups + 1) * sizeof(gid_t));
		q->groups[q->n_groups++] = gid;
		return false;
	}
	return false;
}

int sandbox_user_resolve(const char *spec, const char *passwd, const char *group,
			 struct sandbox_user *ret, struct molt_error **err)
{
	_cleanup_free_ char *copy = xstrdup(spec ? spec : "");
	char *colon = strchr(copy, ':');
	const char *grp = NULL;
	if (colon) {
		*colon = '\0';
		grp = colon + 1;
	}
	const char *usr = copy;
	struct pw_query pq = {0};
	uint32_t num;
	if (!*usr) {
		pq.uid = 0;
		db_each(passwd, 4, pw_match, &pq);
		if (!pq.found)
			pq.out_uid = pq.out_gid = 0;
	} else if (parse_id(usr, &num)) {
		pq.uid = num;
		db_each(passwd, 4, pw_match, &pq);
		if (!pq.found) {
			pq.out_uid = num;
			pq.out_gid = 0;
		}
	} else {
		if (strspn(usr, "0123456789") == strlen(usr))
			return molt_error_setx(err, ERANGE, "user '%s': uid out of range", usr);
		pq.name = usr;
		db_each(passwd, 4, pw_match, &pq);
		if (!pq.found)
			return molt_error_setx(err, ENOENT,
					       "user '%s': no such user in the image's /etc/passwd",
					       usr);
	}
	uint32_t gid = pq.out_gid;
	if (grp && *grp) {
		if (parse_id(grp, &num)) {
			gid = num;
		} else {
			struct gr_query gq = {.name = grp};
			db_each(group, 3, gr_match, &gq);
			if (!gq.found) {
				free(pq.home);
				free(pq.pw_name);
				return molt_error_setx(
					err, ENOENT,
					"group '%s': no such group in the image's /etc/group", grp);
			}
			gid = gq.gid;
		}
	} else if (grp) {
		free(pq.home);
		free(pq.pw_name);
		return molt_error_setx(err, EINVAL, "user '%s': empty group after ':'", spec);
	}
	/*
	 * Supplementary groups as initgroups(3) gives them: the primary group, then every
	 * group of /etc/group listing the user. An explicit group replaces them all
	 * (runc: "explicit group format takes precedence").
	 */
	struct gr_query mq = {0};
	mq.groups = xmalloc(sizeof(gid_t));
	mq.groups[mq.n_groups++] = gid;
	if (pq.pw_name && !grp) {
		mq.member = pq.pw_name;
		db_each(group, 3, gr_match, &mq);
	}
	*ret = (struct sandbox_user){
		.uid = pq.out_uid,
		.gid = gid,
		.groups = mq.groups,
		.n_groups = mq.n_groups,
		.home = pq.home ? pq.home : xstrdup("/"),
		.name = pq.pw_name,
	};
	return 0;
}

void sandbox_user_done(struct sandbox_user *u)
{
	if (!u)
		return;
	free(u->groups);
	free(u->home);
	free(u->name);
	*u = (struct sandbox_user){0};
}

int user_read_db(int rootfd, char **ret_passwd, char **ret_group, struct molt_error **err)
{
	static const char *const names[] = {"etc/passwd", "etc/group"};
	char *out[2] = {NULL, NULL};
	for (size_t i = 0; i < 2; i++) {
		_cleanup_close_ int fd = inroot_open(rootfd, names[i], O_RDONLY, INROOT_AUTO);
		int r = fd < 0 ? fd : 0;
		if (r == -ENOENT)
			continue;
		if (r >= 0)
			r = read_fd_bounded(fd, 16 << 20, &out[i], NULL);
		if (r < 0) {
			free(out[0]);
			return molt_error_set(err, -r, "read the image's /%s", names[i]);
		}
	}
	*ret_passwd = out[0];
	*ret_group = out[1];
	return 0;
}
