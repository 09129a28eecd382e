/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN: the command runs in the sandbox over an overlay of the stage's layers; its
 * output goes to the progress view through a small tee process, which also keeps
 * the last lines for the error message; the overlay's upper directory becomes the
 * step's layer once every process of the step is gone.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../sandbox/sandbox.h"
#include "run_mounts.h"
#include "stage.h"
#include "stepfs.h"

#define TAIL_LINES 20

static char **default_shell(const struct stage_run *sr, const struct build_instr *in)
{
	if (in->shell && in->shell[0])
		return strv_copy(in->shell);
	if (sr->config.shell && sr->config.shell[0])
		return strv_copy(sr->config.shell);
	return strv_copy((char *[]){"/bin/sh", "-c", NULL});
}

/* Is the shell-form command nothing but one heredoc reference ("<<EOF")? */
static bool is_bare_heredoc(const struct build_instr *in)
{
	if (in->n_heredocs != 1 || !in->command || !in->command[0])
		return false;
	const char *c = in->command[0];
	while (*c == ' ' || *c == '\t')
		c++;
	if (!str_startswith(c, "<<"))
		return false;
	return strpbrk(c, " \t") == NULL || strspn(strpbrk(c, " \t"), " \t") ==
							   strlen(strpbrk(c, " \t"));
}

/*
 * The argv of a RUN (BuildKit's rules): exec form as written; shell form through
 * SHELL; a bare heredoc is the script itself — run by its #! interpreter from a file
 * placed in the rootfs for the step, or else by the shell; other heredocs are passed
 * to the shell together with the command line, as a shell would read them.
 */
static int run_argv(const struct stage_run *sr, const struct build_instr *in, int root,
		    char ***ret, char **ret_script, struct molt_error **err)
{
	if (in->exec_form) {
		*ret = strv_copy(in->command);
		return 0;
	}
	char **argv = default_shell(sr, in);
	if (is_bare_heredoc(in) && str_startswith(in->heredocs[0].content, "#!")) {
		strv_free(argv);
		_cleanup_free_ char *name = xasprintf(".molt-heredoc-%u", sr->step);
		_cleanup_close_ int fd = openat(root, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
								   O_CLOEXEC, 0755);
		const char *body = in->heredocs[0].content;
		if (fd < 0 || write_all(fd, body, strlen(body)) < 0 || fchmod(fd, 0755) < 0)
			return molt_error_set(err, errno, "write the RUN heredoc script");
		*ret_script = xstrdup(name);
		*ret = NULL;
		strv_push_take(ret, xasprintf("/%s", name));
		return 0;
	}
	if (is_bare_heredoc(in)) {
		strv_push(&argv, in->heredocs[0].content);
	} else {
		struct strbuf sb = STRBUF_INIT;
		strbuf_adds(&sb, in->command && in->command[0] ? in->command[0] : "");
		for (size_t i = 0; i < in->n_heredocs; i++)
			strbuf_addf(&sb, "\n%s%s", in->heredocs[i].content, in->heredocs[i].name);
		strv_push_take(&argv, strbuf_detach(&sb));
	}
	*ret = argv;
	return 0;
}

/*
 * ENV of the image, then the build args in scope that ENV does not set, then the
 * proxy args given with --build-arg that neither sets (never in the history or config).
 */
static char **run_env(const struct stage_run *sr, const struct build_instr *in)
{
	char **env = strv_copy(sr->config.env);
	strv_env_merge(&env, in->args, false);
	strv_env_merge(&env, sr->b->plan->proxy_env, false);
	bool has_path = false;
	for (size_t k = 0; env[k]; k++)
		has_path |= str_startswith(env[k], "PATH=");
	if (!has_path)
		strv_push(&env, "PATH=" PLAN_DEFAULT_PATH);
	return env;
}

/* The tee: step output → progress frames, and the last lines → tail_path at the end. */
static MOLT_NORETURN void tee_main(int in, const struct progress_out *po, unsigned id,
				   const char *tail_path)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	char *lines[TAIL_LINES] = {0};
	unsigned head = 0;
	struct progress_line cur = {STRBUF_INIT, 0};
	char buf[8192];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		progress_output(po, id, buf, (size_t)n);
		for (const char *d = buf, *end = buf + n; d < end;) {
			const char *nl = memchr(d, '\n', (size_t)(end - d));
			progress_line_add(&cur, d, (size_t)((nl ? nl : end) - d));
			if (!nl)
				break;
			free(lines[head]);
			lines[head] = progress_line_take(&cur);
			head = (head + 1) % TAIL_LINES;
			d = nl + 1;
		}
	}
	struct strbuf out = STRBUF_INIT;
	for (unsigned k = 0; k < TAIL_LINES; k++) {
		const char *l = lines[(head + k) % TAIL_LINES];
		if (l)
			strbuf_addf(&out, "%s\n", l);
	}
	if (cur.buf.len || cur.cut) {
		_cleanup_free_ char *l = progress_line_take(&cur);
		strbuf_addf(&out, "%s\n", l);
	}
	struct molt_error *err = NULL;
	if (write_file_atomic(tail_path, strbuf_str(&out), out.len, 0600, &err) < 0)
		molt_error_drop(&err, "run: a failing step's error then lacks its output");
	_exit(0);
}

static int start_tee(struct stage_run *sr, const char *tail_path, int *ret_wr, pid_t *ret_pid,
		     struct molt_error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return molt_error_set(err, errno, "create the output pipe of a step");
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return molt_error_set(err, e, "fork");
	}
	if (pid == 0) {
		close(p[1]);
		tee_main(p[0], sr->po, sr->step_id, tail_path);
	}
	close(p[0]);
	*ret_wr = p[1];
	*ret_pid = pid;
	return 0;
}

static char *describe_status(int status)
{
	if (status >= 128 + 1 && status < 128 + 65)
		return xasprintf("killed by signal %d", status - 128);
	return xasprintf("exit code: %d", status);
}

/* --add-host, --ulimit, --shm-size */
static void set_run_opts(struct sandbox_config *c, const struct build_run_opts *o)
{
	if (!o)
		return;
	c->extra_hosts = o->extra_hosts;
	c->shm_size = o->shm_size;
	c->rlimits.ulimits = o->ulimits;
	c->rlimits.n_ulimits = o->n_ulimits;
	/* the step's process bound follows a --ulimit nproc (the pids cgroup, pidwatch) */
	for (size_t i = 0; i < o->n_ulimits; i++)
		if (o->ulimits[i].resource == RLIMIT_NPROC && o->ulimits[i].hard != RLIM_INFINITY)
			c->rlimits.nproc = o->ulimits[i].hard ? o->ulimits[i].hard : 1;
}

/* What BuildKit allows only with an entitlement the caller grants. */
static int run_allowed(const struct stage_run *sr, const struct build_instr *in,
		       struct molt_error **err)
{
	/* BuildKit grants it only with an entitlement a rootless builder cannot have */
	if (in->security && !strcmp(in->security, "insecure"))
		return molt_error_setx(err, EPERM, "RUN --security=insecure is not supported: molt "
					"runs steps rootless and cannot give them the host's "
					"privileges (drop the flag, or use --security=sandbox)");
	/* The Dockerfile cannot take back what the caller denied (BuildKit: network.host
	 * is an entitlement the caller grants). */
	const char *bnet = sr->b->o->network;
	if (in->network && !strcmp(in->network, "host") && bnet && !strcmp(bnet, "none"))
		return molt_error_setx(err, EPERM, "RUN --network=host: this build runs with "
					"--network none, which a Dockerfile cannot override "
					"(build with --network host to allow it)");
	return 0;
}

static int run_in_sandbox(struct stage_run *sr, const struct build_instr *in, struct stepfs *fs,
			  struct molt_error **err)
{
	if (run_allowed(sr, in, err) < 0)
		return molt_error_pass(err);
	_cleanup_close_ int root = open(fs->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return molt_error_set(err, errno, "open '%s'", fs->merged);
	_cleanup_strv_ char **argv = NULL, **env = run_env(sr, in);
	_cleanup_free_ char *script = NULL;
	int r = run_argv(sr, in, root, &argv, &script, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *tail_path = xasprintf("%s/step-%u.tail", sr->scratch, sr->step);
	int out_wr = -1;
	pid_t tee = -1;
	r = start_tee(sr, tail_path, &out_wr, &tee, err);
	if (r < 0)
		return r;
	const char *net = in->network && strcmp(in->network, "default") ? in->network
									: sr->b->o->network;
	struct sandbox_config c;
	sandbox_config_init(&c);
	c.rootfs = fs->merged;
	c.argv = argv;
	c.env = env;
	c.user = sr->config.user;
	c.workdir = sr->config.working_dir;
	c.network = net && !strcmp(net, "none") ? SANDBOX_NET_NONE : SANDBOX_NET_HOST;
	c.rlimits.data = sr->b->o->memory;
	set_run_opts(&c, sr->b->o->run);
	c.stdout_fd = out_wr;
	c.stderr_fd = out_wr;
	/* A RUN step reads nothing from molt's stdin. */
	_cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	c.stdin_fd = devnull;
	struct run_mounts mounts = {0};
	r = run_mounts_prepare(sr, in, &mounts, err);
	if (r < 0) {
		close(out_wr);
		while (waitpid(tee, NULL, 0) < 0 && errno == EINTR)
			;
		return r;
	}
	c.mounts = mounts.v;
	c.n_mounts = mounts.n;
	strv_env_merge(&env, mounts.env, true); /* secret env=, SSH_AUTH_SOCK */
	c.env = env;
	int status = -1;
	/* the mount points the image lacks come and go with the step (sandbox/mounts.c) */
	r = sandbox_run(&c, &status, err);
	run_mounts_done(&mounts);
	close(out_wr);
	while (waitpid(tee, NULL, 0) < 0 && errno == EINTR)
		;
	if (script)
		(void)unlinkat(root, script, 0); /* made for the step: never in the layer */
	if (r == 0 && status != 0) {
		_cleanup_free_ char *why = describe_status(status);
		_cleanup_free_ char *cmd = NULL;
		struct strbuf sb = STRBUF_INIT;
		for (size_t i = 0; argv[i]; i++)
			strbuf_addf(&sb, "%s%s", i ? " " : "", argv[i]);
		cmd = strbuf_detach(&sb);
		r = molt_error_setx(err, EIO, "process \"%s\" did not complete successfully: %s",
				    cmd, why);
		_cleanup_free_ char *tail = NULL;
		if (read_file(tail_path, 1 << 20, &tail, NULL, NULL) == 0 && *tail) {
			_cleanup_free_ char *detail = xasprintf("last lines of its output:\n%s", tail);
			molt_error_set_detail(*err, detail);
		}
	}
	return r;
}

int instr_run(struct stage_run *sr, const struct build_instr *in, struct step_result *res,
	      struct molt_error **err)
{
	struct stepfs *fs = NULL;
	int r = step_mount(sr, &fs, err);
	if (r < 0)
		return r;
	r = run_in_sandbox(sr, in, fs, err);
	_cleanup_free_ char *hist = xasprintf("%s # buildkit", in->original);
	return step_finish(sr, fs, r, hist, res, err);
}
