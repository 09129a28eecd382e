/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: which build context arguments are git URLs (docker's IsGitURL). */
#include <string.h>

#include "../../runner/executor/context_src.h"
#include "tap.h"

int main(void)
{
	static const char *const yes[] = {
		"https://github.com/o/r.git", "https://h/o/r.git#main", "https://h/o/r.git#v1:sub/dir",
		"http://127.0.0.1:8/r.git", "git://127.0.0.1/r.git", "git://h/r", "git@h:o/r.git",
		"github.com/o/r", NULL};
	static const char *const no[] = {
		"-", ".", "ctx", "/abs/dir", "https://h/o/r", "https://h/archive.tar.gz",
		"https://h/o/r.git#", "https://h/r.github", "ftp://h/r.git", "dir.git", NULL};
	for (size_t i = 0; yes[i]; i++)
		tap_ok(context_is_git_url(yes[i]), "'%s' is a git context", yes[i]);
	for (size_t i = 0; no[i]; i++)
		tap_ok(!context_is_git_url(no[i]), "'%s' is not a git context", no[i]);
	return tap_done();
}
