/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for runner/frontend/dockerignore.c. Expected values follow moby/patternmatcher
 * (MatchesOrParentMatches, as BuildKit uses it) and its ignorefile reader; many cases
 * are the upstream test table's.
 */
#include <string.h>

#include "../../runner/frontend/dockerignore.h"
#include "tap.h"

struct match_case {
	const char *name;
	const char *file; /* .dockerignore text */
	const char *path;
	bool excluded;
};

static const struct match_case match_cases[] = {
	{"* matches a file at the root", "*", "fileutils.go", true},
	{"*.go matches by extension", "*.go", "fileutils.go", true},
	{"*.go does not match another extension", "*.go", "fileutils.c", false},
	{"an exception before the pattern does not win", "!fileutils.go\n*.go", "fileutils.go",
	 true},
	{"an exception after the pattern re-includes", "*.go\n!fileutils.go", "fileutils.go", false},
	{"a directory pattern excludes what is below it", "docs", "docs/README.md", true},
	{"an exception below an excluded directory re-includes", "docs\n!docs/README.md",
	 "docs/README.md", false},
	{"a trailing slash is cleaned away", "docs/\n!docs/README.md", "docs/README.md", false},
	{"docs/* with an exception re-includes", "docs/*\n!docs/README.md", "docs/README.md", false},
	{"the context root is never excluded", "*", ".", false},
	{"no patterns exclude nothing", "", "a/b", false},
	{"** matches everything", "**", "dir/file", true},
	{"dir/** matches deep below dir", "dir/**", "dir/dir2/file", true},
	{"dir/** does not match dir itself", "abc/**", "abc", false},
	{"**/dir matches dir at the root", "**/dir", "dir", true},
	{"**/dir matches dir at any depth and below", "**/dir", "a/dir/file", true},
	{"**/dir2/* matches one level below any dir2", "**/dir2/*", "dir/dir2/file", true},
	{"**file is a plain suffix test", "**file", "dir/dir/file", true},
	{"**foo also matches barfoo (patternmatcher suffix quirk)", "**foo", "barfoo", true},
	{"**/*.txt matches at the root", "**/*.txt", "file.txt", true},
	{"**/**/*.txt2 does not match .txt", "**/**/*.txt2", "dir/dir/file.txt", false},
	{"a**/*.txt matches at any depth below a", "a**/*.txt", "a/dir/dir/file.txt", true},
	{"a/*.txt does not cross directories", "a/*.txt", "a/dir/file.txt", false},
	{"[b-d] range matches", "a[b-d]e", "ace", true},
	{"[b-d] range does not match outside", "a[b-d]e", "aae", false},
	{"[^b-d] negated range", "a[^b-d]e", "aze", true},
	{".* matches dotfiles", ".*", ".foo", true},
	{".* does not match other files", ".*", "foo", false},
	{"a dot is literal", "abc.def", "abcZdef", false},
	{"? matches one character", "abc?def", "abcZdef", true},
	{"? does not match an empty position", "abc?def", "abcdef", false},
	{"? never matches a slash", "a?b", "a/b", false},
	{"* never matches a slash", "a*b", "a/b", false},
	{"a* matches through the parent directory ab", "a*", "ab/c", true},
	{"regexp metacharacters are literal", "a.|)$(}+{bc", "a.|)$(}+{bc", true},
	{"+ in wheel names is literal", "dist/*.whl",
	 "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
	{"\\* is a literal star", "a\\*b", "a*b", true},
	{"\\* does not match other text", "a\\*b", "ab", false},
	{"an escaped ] inside a class", "[\\]a]", "]", true},
	{"? matches one multibyte character", "a?b", "a\xe2\x98\xba" "b", true},
	{"??? does not match one multibyte character", "a???b", "a\xe2\x98\xba" "b", false},
	{"a range of multibyte characters", "[a-\xce\xb6]*", "\xce\xb1", true},
	{"a comment line is ignored", "# *.go\nfoo", "x.go", false},
	{"# only starts a comment in column 0", "  #x", "#x", true},
	{"blank lines and surrounding spaces are ignored", "\n  foo  \n\n", "foo", true},
	{"a leading / is the context root", "/foo", "foo", true},
	{"./ and .. are cleaned", "./foo/../bar", "bar", true},
	{"CRLF line endings", "foo\r\nbar\r\n", "bar", true},
	{"a UTF-8 byte order mark is dropped", "\xef\xbb\xbf" "foo", "foo", true},
	{"the last matching pattern wins (exclude)", "*.md\n!README*.md\nREADME-secret.md",
	 "README-secret.md", true},
	{"the last matching pattern wins (include)", "*.md\n!README*.md\nREADME-secret.md",
	 "README.md", false},
	{"an exception re-includes a whole directory", "**\n!util/docker/web",
	 "util/docker/web/foo", false},
	{"a later pattern excludes again", "**\n!util/docker/web\nutil/docker/web/foo",
	 "util/docker/web/foo", true},
	{"spaces after ! are trimmed", "foo\n! foo", "foo", false},
	{"a path given as ./foo", "foo", "./foo", true},
	{"a path given as /foo/", "foo", "/foo/", true},
	{"node_modules excludes its whole tree", "node_modules", "node_modules/x/y.js", true},
	{"**/*.pyc at depth", "**/*.pyc", "a/b/__pycache__/x.pyc", true},
	{"*/temp* matches in an immediate subdirectory (Dockerfile ref)", "*/temp*",
	 "somedir/temporary.txt", true},
	{"*/temp* does not match at the root", "*/temp*", "temporary.txt", false},
	{"*/*/temp* matches two levels down (Dockerfile ref)", "*/*/temp*",
	 "somedir/subdir/temporary.txt", true},
	{"temp? matches one more character (Dockerfile ref)", "temp?", "tempa", true},
	{"an exact pattern does not match a longer name", "foo", "foobar", false},
	{"a//b/./c/.. is cleaned to a/b", "a//b/./c/..", "a/b", true},
	{"/../foo is cleaned to foo", "/../foo", "foo", true},
	{"a path with .. is cleaned before matching", "a/b", "a/x/../b/c", true},
};

struct below_case {
	const char *name;
	const char *file;
	const char *dir;
	bool may;
};

static const struct below_case below_cases[] = {
	{"below: an exception inside the directory", "docs\n!docs/README.md", "docs", true},
	{"below: no exceptions at all", "docs", "docs", false},
	{"below: an exception elsewhere", "docs\n!src/main.c", "docs", false},
	{"below: a wildcard exception one level down", "**\n!*/keep", "a", true},
	{"below: a wildcard exception cannot reach deeper", "**\n!*/keep", "a/b", false},
	{"below: a ** exception reaches any depth", "**\n!**/*.go", "x/y", true},
	{"below: a prefix exception", "**\n!src**", "src/x", true},
	{"below: a prefix exception elsewhere", "**\n!src**", "lib", false},
};

struct error_case {
	const char *name;
	const char *file;
	const char *errsub;
};

static const struct error_case error_cases[] = {
	{"a lone ! is an error", "foo\n!", "line 2: invalid exclusion pattern '!'"},
	{"an unclosed [ is an error", "[", "line 1: invalid pattern '['"},
	{"a trailing backslash is an error", "a\\", "invalid pattern"},
	{"[]a] is an error (filepath.Match)", "[]a]", "invalid pattern"},
	{"[-] is an error (filepath.Match)", "[-]", "invalid pattern"},
	{"[x-] is an error (filepath.Match)", "[x-]", "invalid pattern"},
	{"[a-b-c] is an error (filepath.Match)", "[a-b-c]", "invalid pattern"},
	{"[^bc without ] is an error", "ok\n# c\n[^bc", "line 3: invalid pattern"},
};

static void test_match(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		struct dockerignore *d = NULL;
		struct molt_error *err = NULL;
		int r = dockerignore_parse(c->file, &d, &err);
		if (r < 0) {
			tap_ok(0, "%s", c->name);
			tap_diag("parse error: %s", err->msg);
			molt_error_free(err);
			continue;
		}
		bool got = dockerignore_excluded(d, c->path, false);
		if (!tap_ok(got == c->excluded, "%s", c->name))
			tap_diag("pattern '%s' path '%s': got %d", c->file, c->path, got);
		dockerignore_free(d);
	}
}

static void test_below(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(below_cases); i++) {
		const struct below_case *c = &below_cases[i];
		struct dockerignore *d = NULL;
		struct molt_error *err = NULL;
		if (dockerignore_parse(c->file, &d, &err) < 0) {
			tap_ok(0, "%s", c->name);
			molt_error_free(err);
			continue;
		}
		tap_ok(dockerignore_may_include_below(d, c->dir) == c->may, "%s", c->name);
		dockerignore_free(d);
	}
}

static void test_errors(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
		const struct error_case *c = &error_cases[i];
		struct dockerignore *d = (struct dockerignore *)&d; /* must stay untouched */
		struct dockerignore *const sentinel = d;
		struct molt_error *err = NULL;
		int r = dockerignore_parse(c->file, &d, &err);
		bool ok = r < 0 && d == sentinel && err && strstr(err->msg, c->errsub) &&
			  err->exit_code == MOLT_EXIT_USAGE;
		if (!tap_ok(ok, "%s", c->name))
			tap_diag("got r=%d msg '%s'", r, err ? err->msg : "(none)");
		molt_error_free(err);
	}
}

static void test_misc(void)
{
	struct dockerignore *d = NULL;
	struct molt_error *err = NULL;
	int r = dockerignore_parse("# c\n\n  \na\n!b\n", &d, &err);
	tap_ok(r == 0 && dockerignore_count(d) == 2 && dockerignore_has_exceptions(d),
	       "comments and blank lines are not patterns; ! marks an exception");
	dockerignore_free(d);

	d = NULL;
	r = dockerignore_parse(NULL, &d, &err);
	tap_ok(r == 0 && dockerignore_count(d) == 0 && !dockerignore_excluded(d, "x", false),
	       "no .dockerignore: nothing is excluded");
	dockerignore_free(d);

	char *excl[] = {(char *)"*.tmp", (char *)"!keep.tmp", NULL};
	d = NULL;
	r = dockerignore_new(excl, &d, &err);
	tap_ok(r == 0 && dockerignore_excluded(d, "x.tmp", false) &&
		       !dockerignore_excluded(d, "keep.tmp", false) &&
		       !dockerignore_excluded(d, "x.c", false),
	       "COPY --exclude pattern lists use the same matcher");
	dockerignore_free(d);
	dockerignore_free(NULL);
	tap_ok(1, "dockerignore_free(NULL) is a no-op");
}

int main(void)
{
	test_match();
	test_below();
	test_errors();
	test_misc();
	return tap_done();
}
