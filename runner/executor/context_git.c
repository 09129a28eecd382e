/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/executor/context_git.c: a git URL as the build context (docker build's
 * `https://host/repo.git#ref:subdir`). The repository is fetched with the git
 * program, as docker's CLI and BuildKit do: one commit deep, without tags, hooks or
 * submodules (a hostile repository runs nothing on the host), with prompts off and a
 * time limit (a silent server cannot hang a CI job), and .git is removed from the
 * context. SUBDIR must be a real directory of the checkout: a symlink there could
 * name a host directory as the context.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "context_src.h"

#define GIT_TIMEOUT_ENV "MOLT_GIT_TIMEOUT"
#define GIT_TIMEOUT_DEFAULT 600

bool context_is_git_url(const char *s)
{
	static const char *const prefixes[] = {"git://", "github.com/", "git@"};
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (str_startswith(s, prefixes[i]))
			return true;
	if (!str_startswith(s, "http://") && !str_startswith(s, "https://"))
		return false;
	/* docker's urlPathWithFragmentSuffix: `\.git(?:#.+)?$` */
	const char *hash = strchr(s, '#');
	size_t n = hash ? (size_t)(hash - s) : strlen(s);
	if (hash && !hash[1])
		return false;
	return n >= 4 && !strncmp(s + n - 4, ".git", 4);
}

/* Seconds git may take, from MOLT_GIT_TIMEOUT. */
static int git_timeout(int64_t *ret, struct molt_error **err)
{
	const char *v = getenv(GIT_TIMEOUT_ENV);
	*ret = GIT_TIMEOUT_DEFAULT;
	if (v && *v && str_to_int64(v, 1, 86400, ret) < 0)
		return molt_error_setx(err, EINVAL, "%s='%s' is not a number of seconds (1 to 86400)",
				       GIT_TIMEOUT_ENV, v);
	return 0;
}

/* The child: its own session (a timeout kills git's helpers too, and without a
 * controlling terminal ssh cannot ask about a host key or a passphrase), no prompts,
 * none of the caller's GIT_DIR-like variables, stdout on stderr. */
static void git_child(char **argv)
{
	static const char *const drop[] = {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE",
					   "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
					   "GIT_NAMESPACE", "GIT_COMMON_DIR", "GIT_CONFIG_PARAMETERS"};
	setsid();
	for (size_t i = 0; i < ARRAY_SIZE(drop); i++)
		unsetenv(drop[i]);
	setenv("GIT_TERMINAL_PROMPT", "0", 1);
	setenv("GIT_ASKPASS", "true", 1);
	setenv("GCM_INTERACTIVE", "never", 1);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	dup2(STDERR_FILENO, STDOUT_FILENO);
	execvp("git", argv);
	_exit(errno == ENOENT ? 127 : 126);
}

static int run_git(char **argv, int64_t timeout, const char *url, struct molt_error **err)
{
	pid_t pid = fork();
	if (pid < 0)
		return molt_error_set(err, errno, "fork");
	if (pid == 0)
		git_child(argv);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int status = 0;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return molt_error_set(err, errno, "wait for git");
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= timeout) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return molt_error_setx(err, ETIMEDOUT,
					       "git context '%s': git %s took more than %" PRId64
					       " seconds (%s sets the limit)",
					       url, argv[5], timeout, GIT_TIMEOUT_ENV);
		}
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return molt_error_setx(err, ENOENT, "git context '%s': the git program is not "
						    "installed (scripts/install-deps.sh installs it)", url);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return molt_error_setx(err, EIO, "git context '%s': git %s failed (its message is "
						 "above)", url, argv[5]);
	return 0;
}

/* `git -C DIR -c … SUBCOMMAND ARGS…`: argv[5] is the subcommand, for messages. */
static int git(const char *dir, int64_t timeout, const char *url, struct molt_error **err,
	       const char *sub, const char *a1, const char *a2, const char *a3, const char *a4,
	       const char *a5, const char *a6)
{
	char *argv[] = {"git", "-C", (char *)dir, "-c", "core.hooksPath=/dev/null", (char *)sub,
			(char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, (char *)a6,
			NULL};
	return run_git(argv, timeout, url, err);
}

struct git_url {
	char *remote, *ref, *subdir;
};

static int git_url_parse(const char *url, struct git_url *ret, struct molt_error **err)
{
	const char *hash = strchr(url, '#');
	struct git_url g = {0};
	g.remote = hash ? xstrndup(url, (size_t)(hash - url)) : xstrdup(url);
	if (str_startswith(g.remote, "github.com/")) {
		char *full = xasprintf("https://%s", g.remote);
		free(g.remote);
		g.remote = full;
	}
	if (hash) {
		const char *colon = strchr(hash + 1, ':');
		g.ref = colon ? xstrndup(hash + 1, (size_t)(colon - hash - 1)) : xstrdup(hash + 1);
		g.subdir = colon && colon[1] ? xstrdup(colon + 1) : NULL;
	}
	bool bad = (g.ref && g.ref[0] == '-') || g.remote[0] == '-' ||
		   (g.subdir && (g.subdir[0] == '/' || strstr(g.subdir, "..")));
	if (bad) {
		free(g.remote), free(g.ref), free(g.subdir);
		return molt_error_setx(err, EINVAL, "git context '%s': a ref or subdirectory may not "
						    "start with '-' or '/', nor contain '..'", url);
	}
	*ret = g;
	return 0;
}

static int git_fetch(const char *repo, const struct git_url *g, const char *url,
		     struct molt_error **err)
{
	int64_t t = 0;
	int r = git_timeout(&t, err);
	const char *ref = g->ref && *g->ref ? g->ref : "HEAD";
	/* An empty template: no sample hooks, nothing of the host's git templates. */
	_cleanup_free_ char *tmpl = xasprintf("--template=%s", "");
	if (r == 0)
		r = git(repo, t, url, err, "init", "-q", tmpl, NULL, NULL, NULL, NULL);
	if (r == 0)
		r = git(repo, t, url, err, "remote", "add", "origin", "--", g->remote, NULL, NULL);
	if (r == 0)
		r = git(repo, t, url, err, "fetch", "-q", "--depth=1", "--no-tags",
			"--recurse-submodules=no", "origin", ref);
	if (r < 0 && str_startswith(g->remote, "http")) {
		/* A "dumb" http server (static files) cannot serve a shallow fetch
		 * ("dumb http transport does not support shallow capabilities"): the
		 * whole history then. */
		if (err) {
			molt_error_free(*err);
			*err = NULL;
		}
		molt_warn("git context '%s': a shallow fetch failed; fetching the whole history", url);
		r = git(repo, t, url, err, "fetch", "-q", "--no-tags", "--recurse-submodules=no",
			"origin", ref, NULL);
	}
	if (r == 0)
		r = git(repo, t, url, err, "checkout", "-q", "FETCH_HEAD", NULL, NULL, NULL, NULL);
	return r;
}

int context_source_git(const char *url, struct context_source *ret, struct molt_error **err)
{
	struct git_url g = {0};
	int r = git_url_parse(url, &g, err);
	if (r < 0)
		return r;
	struct context_source s = {0};
	r = context_source_scratch(&s, err);
	if (r == 0)
		r = git_fetch(s.dir, &g, url, err);
	_cleanup_close_ int top = r == 0 ? open(s.dir, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	if (r == 0 && top < 0)
		r = molt_error_set(err, errno, "open '%s'", s.dir);
	if (r == 0) {
		_cleanup_error_ struct molt_error *e = NULL;
		if (rm_rf_at(top, ".git", &e) < 0)
			r = molt_error_setx(err, EIO, "remove .git from the context: %s", e->msg);
	}
	if (r == 0 && g.subdir) {
		_cleanup_close_ int d = inroot_open_nolinks(top, g.subdir, O_PATH | O_DIRECTORY |
								   O_NOFOLLOW, INROOT_AUTO);
		if (d < 0)
			r = molt_error_set(err, -d, "git context '%s': subdirectory '%s' (a "
						    "directory of the repository, not a symlink)",
					   url, g.subdir);
		char *sub = xasprintf("%s/%s", s.dir, g.subdir);
		free(s.dir);
		s.dir = sub;
	}
	free(g.remote), free(g.ref), free(g.subdir);
	if (r < 0) {
		context_source_done(&s);
		return r;
	}
	*ret = s;
	return 0;
}
