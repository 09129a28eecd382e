/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/cli/build_run_opts.c: `molt build --secret, --ssh, --add-host, --ulimit,
 * --shm-size` (docker buildx's syntax), turned into runner/executor/run_opts.h.
 *
 * Secrets are read here, by molt, before the build starts: a file the user named (never
 * one of the context unless named), or an environment variable. No message ever
 * quotes a secret's bytes. Key files for --ssh are served by an ssh-agent of molt's
 * own, as BuildKit serves them from an agent inside buildx; the agent lives as long
 * as the build (PR_SET_PDEATHSIG ends it with molt).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "../executor/run_opts.h"

extern char **environ;

bool build_run_opts_handles(const char *name)
{
	static const char *const names[] = {"secret", "ssh", "add-host", "ulimit", "shm-size"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

const struct build_secret *build_run_secret(const struct build_run_opts *o, const char *id)
{
	/* the last --secret of an id wins, as in BuildKit's store */
	for (size_t i = o ? o->n_secrets : 0; i-- > 0;)
		if (!strcmp(o->secrets[i].id, id))
			return &o->secrets[i];
	return NULL;
}

const struct build_ssh *build_run_ssh(const struct build_run_opts *o, const char *id)
{
	for (size_t i = o ? o->n_ssh : 0; i-- > 0;)
		if (!strcmp(o->ssh[i].id, id))
			return &o->ssh[i];
	return NULL;
}

/* Reads at most BUILD_SECRET_MAX bytes; a larger source is refused, not cut. */
static int read_secret_file(const char *id, const char *path, struct build_secret *s,
			    struct molt_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return molt_error_usage(err, "--secret id=%s: cannot read '%s': %s", id, path,
					strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode))
		return molt_error_usage(err, "--secret id=%s: '%s' is not a file", id, path);
	char *buf = xmalloc(BUILD_SECRET_MAX + 1);
	ssize_t n = read_full(fd, buf, BUILD_SECRET_MAX + 1);
	if (n < 0 || (size_t)n > BUILD_SECRET_MAX) {
		explicit_bzero(buf, BUILD_SECRET_MAX + 1);
		free(buf);
		return n < 0 ? molt_error_usage(err, "--secret id=%s: cannot read '%s': %s", id,
						path, strerror((int)-n))
			     : molt_error_usage(err, "--secret id=%s: '%s' is larger than 500 KiB "
						     "(BuildKit's limit for a secret)", id, path);
	}
	s->value = buf;
	s->len = (size_t)n;
	return 0;
}

/* `id=ID[,src=FILE|env=VAR][,type=file|env]`: buildx's fields and defaults. */
static int add_secret(struct build_run_opts *o, const char *spec, struct molt_error **err)
{
	_cleanup_free_ char *copy = xstrdup(spec);
	const char *id = NULL, *src = NULL, *env = NULL, *type = NULL;
	char *save = NULL;
	for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(f, '=');
		if (!eq)
			return molt_error_usage(err, "--secret '%s': field '%s' is not key=value", spec,
						f);
		*eq = '\0';
		const char *v = eq + 1;
		if (!strcmp(f, "id"))
			id = v;
		else if (!strcmp(f, "src") || !strcmp(f, "source"))
			src = v;
		else if (!strcmp(f, "env"))
			env = v;
		else if (!strcmp(f, "type") && (!strcmp(v, "file") || !strcmp(v, "env")))
			type = v;
		else
			return molt_error_usage(err, "--secret '%s': unexpected '%s=%s' (use id=ID "
						"with src=FILE or env=VAR)", spec, f, v);
	}
	if (!id || !*id)
		return molt_error_usage(err, "--secret '%s': needs id=ID", spec);
	if (type && !strcmp(type, "env") && !env) {
		env = src;
		src = NULL;
	}
	/* id alone: the variable of that name when it is set, else the file of that name */
	if (!src && !env) {
		if (getenv(id))
			env = id;
		else
			src = id;
	}
	struct build_secret s = {.id = xstrdup(id)};
	int r = 0;
	if (env) {
		const char *v = getenv(env);
		if (!v)
			r = molt_error_usage(err, "--secret id=%s: the environment variable '%s' is "
						  "not set", id, env);
		else if (strlen(v) > BUILD_SECRET_MAX)
			r = molt_error_usage(err, "--secret id=%s: '$%s' is larger than 500 KiB", id,
					     env);
		else {
			s.value = xstrdup(v);
			s.len = strlen(v);
		}
	} else {
		r = read_secret_file(id, src, &s, err);
	}
	if (r < 0) {
		free(s.id);
		return r;
	}
	ARRAY_PUSH(o->secrets, o->n_secrets, s);
	return 0;
}

/* `default|ID[=SOCKET|KEY[,KEY...]]`: no path means $SSH_AUTH_SOCK (buildx). */
static int add_ssh(struct build_run_opts *o, const char *spec, struct molt_error **err)
{
	const char *eq = strchr(spec, '=');
	_cleanup_free_ char *id = eq ? xstrndup(spec, (size_t)(eq - spec)) : xstrdup(spec);
	if (!*id)
		return molt_error_usage(err, "--ssh '%s': needs an id (default|ID[=SOCKET|KEY])", spec);
	struct build_ssh s = {0};
	if (!eq || !eq[1]) {
		const char *sock = getenv("SSH_AUTH_SOCK");
		if (!sock || !*sock)
			return molt_error_usage(err, "--ssh '%s': $SSH_AUTH_SOCK is not set (start "
						"ssh-agent, or pass --ssh %s=SOCKET|KEYFILE)", spec, id);
		s.socket = xstrdup(sock);
	} else {
		_cleanup_strv_ char **paths = NULL;
		_cleanup_free_ char *list = xstrdup(eq + 1);
		char *save = NULL;
		for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
			strv_push(&paths, p);
		for (size_t i = 0; paths && paths[i]; i++) {
			struct stat st;
			if (stat(paths[i], &st) < 0)
				return molt_error_usage(err, "--ssh '%s': '%s': %s", spec, paths[i],
							strerror(errno));
			if (S_ISSOCK(st.st_mode) && !paths[1])
				s.socket = xstrdup(paths[i]);
			else if (S_ISREG(st.st_mode))
				strv_push(&s.keys, paths[i]);
			else
				return molt_error_usage(err, "--ssh '%s': '%s' is neither an agent's "
							"socket (given alone) nor a key file", spec,
							paths[i]);
		}
	}
	s.id = TAKE_PTR(id);
	ARRAY_PUSH(o->ssh, o->n_ssh, s);
	return 0;
}

/* `NAME:IP` or `NAME=IP` (docker); host-gateway is the host, 127.0.0.1 on its network. */
static int add_host(struct build_run_opts *o, const char *spec, struct molt_error **err)
{
	const char *sep = strchr(spec, '=');
	if (!sep)
		sep = strchr(spec, ':');
	if (!sep || sep == spec || !sep[1] || strpbrk(spec, " \t\n"))
		return molt_error_usage(err, "--add-host '%s': expected NAME:IP", spec);
	_cleanup_free_ char *ip = xstrdup(sep + 1);
	if (ip[0] == '[' && ip[strlen(ip) - 1] == ']') {
		memmove(ip, ip + 1, strlen(ip));
		ip[strlen(ip) - 1] = '\0';
	}
	unsigned char buf[16];
	if (!strcmp(ip, "host-gateway")) {
		free(ip);
		ip = xstrdup("127.0.0.1");
	} else if (inet_pton(AF_INET, ip, buf) != 1 && inet_pton(AF_INET6, ip, buf) != 1) {
		return molt_error_usage(err, "--add-host '%s': '%s' is not an IP address", spec,
					sep + 1);
	}
	strv_push_take(&o->extra_hosts, xasprintf("%.*s %s", (int)(sep - spec), spec, ip));
	return 0;
}

int build_run_opts_add(struct build_run_opts *o, const char *name, const char *value,
		       struct molt_error **err)
{
	if (!strcmp(name, "secret"))
		return add_secret(o, value, err);
	if (!strcmp(name, "ssh"))
		return add_ssh(o, value, err);
	if (!strcmp(name, "add-host"))
		return add_host(o, value, err);
	if (!strcmp(name, "shm-size")) {
		if (sandbox_parse_size(value, &o->shm_size) < 0 || o->shm_size < 4096)
			return molt_error_usage(err, "--shm-size must be a size of at least 4k (b, k, "
						"m or g), not '%s'", value);
		return 0;
	}
	struct sandbox_ulimit u;
	if (sandbox_parse_ulimit(value, &u, err) < 0)
		return molt_error_pass(err);
	ARRAY_PUSH(o->ulimits, o->n_ulimits, u);
	return 0;
}

/* Runs argv with stdio on /dev/null, in a session of its own (no terminal to prompt on). */
static pid_t spawn(char *const *argv, char *const *env, bool wait_exit, int *ret_status)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
		    setsid() < 0)
			_exit(126);
		execvpe(argv[0], argv, env);
		_exit(127);
	}
	if (!wait_exit)
		return pid;
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	*ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return pid;
}

/* The caller's environment with SSH_AUTH_SOCK=sock and no askpass helper. */
static char **agent_env(const char *sock)
{
	char **env = NULL;
	for (char **e = environ; *e; e++)
		if (!str_startswith(*e, "SSH_AUTH_SOCK=") && !str_startswith(*e, "SSH_ASKPASS") &&
		    !str_startswith(*e, "DISPLAY="))
			strv_push(&env, *e);
	strv_push_take(&env, xasprintf("SSH_AUTH_SOCK=%s", sock));
	return env;
}

static int start_agent(struct build_ssh *s, struct molt_error **err)
{
	const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	_cleanup_free_ char *dir = xasprintf("%s/molt-ssh-XXXXXX", tmp);
	if (!mkdtemp(dir))
		return molt_error_set(err, errno, "--ssh %s: create a directory in '%s'", s->id, tmp);
	s->agent_dir = TAKE_PTR(dir);
	s->socket = xasprintf("%s/agent", s->agent_dir);
	char *argv[] = {"ssh-agent", "-D", "-a", s->socket, NULL};
	_cleanup_strv_ char **env = agent_env(s->socket);
	pid_t pid = spawn(argv, env, false, NULL);
	if (pid < 0)
		return molt_error_set(err, (int)-pid, "--ssh %s: start ssh-agent", s->id);
	s->agent = pid;
	/* ssh-agent -D binds its socket before it serves; give it 10 s */
	for (int i = 0; i < 1000; i++) {
		struct stat st;
		if (stat(s->socket, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			s->agent = 0;
			return molt_error_setx(err, ENOENT, "--ssh %s: ssh-agent did not start%s", s->id,
					       WIFEXITED(status) && WEXITSTATUS(status) == 127
						       ? " (not installed: install openssh-client, "
							 "or pass an agent's socket)"
						       : "");
		}
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	return molt_error_setx(err, ETIMEDOUT, "--ssh %s: ssh-agent did not open its socket", s->id);
}

static int load_keys(struct build_ssh *s, struct molt_error **err)
{
	_cleanup_strv_ char **env = agent_env(s->socket);
	for (size_t i = 0; s->keys[i]; i++) {
		_cleanup_close_ int fd = open(s->keys[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return molt_error_usage(err, "--ssh %s: cannot read key '%s': %s", s->id,
						s->keys[i], strerror(errno));
		char *argv[] = {"ssh-add", "-q", s->keys[i], NULL};
		int status = 0;
		pid_t pid = spawn(argv, env, true, &status);
		if (pid < 0)
			return molt_error_set(err, (int)-pid, "--ssh %s: run ssh-add", s->id);
		if (status != 0)
			return molt_error_usage(err, "--ssh %s: ssh-add could not load the key '%s' "
						"(not a private key, or one with a passphrase: add such "
						"a key to your own agent and pass --ssh %s=$SSH_AUTH_SOCK)",
						s->id, s->keys[i], s->id);
	}
	return 0;
}

int build_run_opts_start(struct build_run_opts *o, struct molt_error **err)
{
	for (size_t i = 0; i < o->n_ssh; i++) {
		struct build_ssh *s = &o->ssh[i];
		if (!s->keys || s->agent)
			continue;
		if (start_agent(s, err) < 0 || load_keys(s, err) < 0)
			return molt_error_pass(err);
	}
	return 0;
}

void build_run_opts_done(struct build_run_opts *o)
{
	for (size_t i = 0; i < o->n_secrets; i++) {
		explicit_bzero(o->secrets[i].value, o->secrets[i].len);
		free(o->secrets[i].value);
		free(o->secrets[i].id);
	}
	free(o->secrets);
	for (size_t i = 0; i < o->n_ssh; i++) {
		struct build_ssh *s = &o->ssh[i];
		if (s->agent > 0) {
			kill(s->agent, SIGTERM);
			while (waitpid(s->agent, NULL, 0) < 0 && errno == EINTR)
				;
		}
		if (s->agent_dir)
			(void)rm_rf(s->agent_dir, NULL);
		free(s->agent_dir);
		free(s->id);
		free(s->socket);
		strv_free(s->keys);
	}
	free(o->ssh);
	strv_free(o->extra_hosts);
	free(o->ulimits);
	*o = (struct build_run_opts){0};
}

int build_args_apply_epoch(char *const *build_args, struct molt_error **err)
{
	const char *v = NULL;
	for (size_t i = 0; build_args && build_args[i]; i++)
		if (str_startswith(build_args[i], "SOURCE_DATE_EPOCH="))
			v = build_args[i] + strlen("SOURCE_DATE_EPOCH=");
	if (!v)
		return 0;
	int64_t n;
	if (str_to_int64(v, 0, INT64_MAX, &n) < 0)
		return molt_error_usage(err, "--build-arg SOURCE_DATE_EPOCH='%s': not a number of "
					"seconds since 1970", v);
	if (setenv("SOURCE_DATE_EPOCH", v, 1) < 0)
		return molt_error_set(err, errno, "set SOURCE_DATE_EPOCH");
	return 0;
}
