/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox/userns.c: the subid file parser, and entering the build namespace. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../sandbox/sandbox.h"
#include "tap.h"

static void test_subid_parse(void)
{
	const char *text = "# comment\nalice:100000:65536\n1001:200000:1000\nbob:x:1\n";
	uint32_t s = 0, c = 0;
	tap_ok(sandbox_find_subid_range(text, "alice", 1000, &s, &c) == 0 && s == 100000 &&
		       c == 65536,
	       "subuid: a line 'name:start:count' matches the user name (subuid(5))");
	tap_ok(sandbox_find_subid_range(text, "carol", 1001, &s, &c) == 0 && s == 200000 &&
		       c == 1000,
	       "subuid: a line 'uid:start:count' matches the numeric uid (subuid(5))");
	tap_ok(sandbox_find_subid_range(text, "bob", 1002, &s, &c) == -ENOENT,
	       "subuid: a malformed line is no range");
	tap_ok(sandbox_find_subid_range(text, "dave", 1003, &s, &c) == -ENOENT,
	       "subuid: a user without a line has no range");
}

/* Enters the namespace in a child so the test process itself stays outside. */
static void test_enter(void)
{
	int p[2];
	if (pipe(p) < 0) {
		tap_ok(0, "pipe");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		struct molt_error *err = NULL;
		struct sandbox_idmap m;
		char buf[256];
		if (sandbox_enter_build_namespace(&m, &err) < 0) {
			snprintf(buf, sizeof(buf), "error %s", err->msg);
		} else {
			/* A file made inside must belong to the caller outside. */
			int fd = open("/proc/self/uid_map", O_RDONLY);
			char map[128] = "";
			if (fd >= 0) {
				ssize_t n = read(fd, map, sizeof(map) - 1);
				map[n > 0 ? n : 0] = '\0';
				close(fd);
			}
			snprintf(buf, sizeof(buf), "uid=%u gid=%u kind=%d again=%d map=%s",
				 (unsigned)getuid(), (unsigned)getgid(), (int)m.kind,
				 sandbox_enter_build_namespace(NULL, &err), map);
		}
		(void)!write(p[1], buf, strlen(buf));
		_exit(0);
	}
	close(p[1]);
	char buf[256] = "";
	ssize_t n = read_full(p[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(pid, NULL, 0);
	tap_diag("inside: %s", buf);
	tap_ok(str_startswith(buf, "uid=0 gid=0"), "build namespace: molt is 0:0 inside");
	tap_ok(strstr(buf, "again=0") != NULL, "build namespace: entering twice is a no-op");
	if (getuid() == 0)
		tap_ok(strstr(buf, "4294967295") != NULL,
		       "build namespace: real root gets the identity map");
	else
		tap_ok(strstr(buf, "kind=1") || strstr(buf, "kind=2"),
		       "build namespace: a user gets its subuid map or the one-id map");
}

int main(void)
{
	test_subid_parse();
	test_enter();
	return tap_done();
}
