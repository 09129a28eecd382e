/* SPDX-License-Identifier: Apache-2.0 */
/*
 * molt run [--network host|none] [-e K=V]... [-u USER] [-w DIR] [-v SRC:DST[:ro]]...
 *          [-m SIZE] [--pids-limit N] (IMAGE | --rootfs DIR) [CMD [ARG...]]
 *
 * `--rootfs DIR` runs over DIR without changing it: the sandbox reads DIR through an
 * overlay whose upper layer is a tmpfs private to the sandbox, so writes made by the
 * command are discarded when it exits (like `docker run --rm` over a fresh container
 * layer). Bind mounts given with -v do write through to the host directory.
 *
 * IMAGE runs over an overlay of the image's unpacked layers (unpacked into the store
 * on first use) with a scratch upper directory that is removed afterwards; the image's
 * Env, User, WorkingDir, Entrypoint and Cmd are the defaults, as `docker run` does.
 */
#include <limits.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
#include "cli.h"
#include "../executor/stepfs.h"

struct run_opts {
	struct sandbox_config c;
	char **env;
	struct sandbox_mount *mounts;
	char **mount_strings; /* owns the strings mounts[] point into */
	const char *image;
	char *rootfs;
	char **argv;                      /* IMAGE: entrypoint + command */
	char *image_user, *image_workdir; /* IMAGE: config defaults */
};

static void run_opts_done(struct run_opts *o)
{
	strv_free(o->env);
	free(o->mounts);
	strv_free(o->mount_strings);
	free(o->rootfs);
	strv_free(o->argv);
	free(o->image_user);
	free(o->image_workdir);
}

/* -v SRC:DST[:ro|:rw] */
static int parse_volume(struct run_opts *o, const char *spec, struct molt_error **err)
{
	_cleanup_free_ char *copy = xstrdup(spec);
	char *dst = strchr(copy, ':');
	if (!dst || dst == copy || !dst[1])
		return cli_usage_error(err, "run", "volume '%s' is not SRC:DST[:ro]", spec);
	*dst++ = '\0';
	bool ro = false;
	char *mode = strchr(dst, ':');
	if (mode) {
		*mode++ = '\0';
		if (!strcmp(mode, "ro"))
			ro = true;
		else if (strcmp(mode, "rw") != 0)
			return cli_usage_error(err, "run", "volume '%s': unknown mode '%s'", spec,
					       mode);
	}
	if (dst[0] != '/')
		return cli_usage_error(err, "run", "volume '%s': target must be absolute", spec);
	char src[PATH_MAX];
	if (!realpath(copy, src))
		return molt_error_set(err, errno, "volume source '%s'", copy);
	strv_push(&o->mount_strings, src);
	strv_push(&o->mount_strings, dst);
	ARRAY_PUSH(o->mounts, o->c.n_mounts, (struct sandbox_mount){
		.source = NULL, .target = NULL, .readonly = ro});
	return 0;
}

/* -e K=V; a bare -e K passes the caller's K, as `docker run -e K` does. */
static void add_env(struct run_opts *o, const char *kv)
{
	if (strchr(kv, '=')) {
		strv_push(&o->env, kv);
		return;
	}
	const char *v = getenv(kv);
	if (v)
		strv_push_take(&o->env, xasprintf("%s=%s", kv, v));
}

/* -m, --memory SIZE: the per-process memory limit (RLIMIT_DATA, see sandbox/rlimits.c). */
static int parse_memory(const char *v, uint64_t *ret, struct molt_error **err)
{
	uint64_t bytes = 0;
	int r = sandbox_parse_size(v, &bytes);
	if (r == -ERANGE)
		return cli_usage_error(err, "run", "memory size '%s' is too large", v);
	if (r < 0)
		return cli_usage_error(err, "run", "memory size '%s' is not a number with an "
					"optional unit b, k, m or g", v);
	if (bytes < SANDBOX_MEMORY_MIN)
		return cli_usage_error(err, "run", "memory size '%s' is below the minimum of 6m", v);
	*ret = bytes;
	return 0;
}

/*
 * --pids-limit N: the step's tasks in all (a pids cgroup as real root, else pid 1's
 * count of its pid namespace, sandbox/pidwatch.c) and RLIMIT_NPROC of each of its
 * user ids, the cheap guard the kernel applies at every fork.
 */
static int parse_pids(const char *v, uint64_t *ret, struct molt_error **err)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || errno || n < 8 || n > (1ULL << 22))
		return cli_usage_error(err, "run", "pids limit '%s' is not a number from 8 "
					"to 4194304", v);
	*ret = n;
	return 0;
}

const struct cli_option cmd_run_options[] = {
	{0, "network", "MODE", false, "host (default) or none"},
	{'e', "env", "K=V", false, "set an environment variable (repeatable)"},
	{'u', "user", "USER", false, "name, uid, uid:gid or name:group"},
	{'w', "workdir", "DIR", false, "working directory inside the sandbox"},
	{'v', "volume", "SRC:DST[:ro]", false, "bind-mount a host directory (repeatable)"},
	{0, "rootfs", "DIR", false, "use DIR as the root filesystem instead of an image"},
	{'m', "memory", "SIZE", false,
	 "memory each process may allocate (b, k, m, g; default\n"
	 "no limit; per process, see README)"},
	{0, "pids-limit", "N", false,
	 "processes and threads of the step in all (default\n"
	 "1024; a step over it is ended)"},
	CLI_OPT_MAX_UNPACK,
	{0, NULL, NULL, false, NULL},
};

static int set_run_option(struct run_opts *o, const char *name, const char *v,
			  struct molt_error **err)
{
	if (!strcmp(name, "network")) {
		if (!strcmp(v, "host"))
			o->c.network = SANDBOX_NET_HOST;
		else if (!strcmp(v, "none"))
			o->c.network = SANDBOX_NET_NONE;
		else
			return cli_usage_error(err, "run", "unknown network '%s' (host or none)", v);
	} else if (!strcmp(name, "env")) {
		add_env(o, v);
	} else if (!strcmp(name, "user")) {
		o->c.user = v;
	} else if (!strcmp(name, "workdir")) {
		if (v[0] != '/')
			return cli_usage_error(err, "run", "working directory '%s' is not absolute", v);
		o->c.workdir = v;
	} else if (!strcmp(name, "volume")) {
		return parse_volume(o, v, err);
	} else if (!strcmp(name, "rootfs")) {
		free(o->rootfs);
		o->rootfs = xstrdup(v);
	} else if (!strcmp(name, "memory")) {
		return parse_memory(v, &o->c.rlimits.data, err);
	} else if (!strcmp(name, "pids-limit")) {
		return parse_pids(v, &o->c.rlimits.nproc, err);
	} else {
		return cli_set_max_unpack("run", v, err);
	}
	return 0;
}

/* Options up to IMAGE (or, with --rootfs, up to the command): what follows is the
 * command's, `molt run busybox ls -l` included. */
static int parse_args(int argc, char **argv, struct run_opts *o, int *ret_cmd,
		      struct molt_error **err)
{
	struct cli_args a;
	int i = argc;
	if (cli_parse_args("run", cmd_run_options, argc, argv, &i, &a, err) < 0)
		return molt_error_pass(err);
	int r = 0;
	for (size_t k = 0; r == 0 && k < a.n; k++)
		r = set_run_option(o, a.opts[k]->name, a.values[k], err);
	cli_args_done(&a);
	if (r < 0)
		return r;
	if (!o->rootfs) {
		if (i >= argc)
			return cli_usage_error(err, "run", "an IMAGE or --rootfs DIR is required");
		o->image = argv[i++];
	}
	*ret_cmd = i;
	return 0;
}

/* Mounts IMAGE's layers under a fresh upper directory and applies its config. */
static int image_rootfs(struct layer_store *s, struct run_opts *o, char **cli_cmd,
			struct stepfs **ret_fs, struct molt_error **err)
{
	_cleanup_image_ struct image *img = NULL;
	if (layer_store_resolve(s, o->image, &img, err) < 0)
		return molt_error_pass(err);
	size_t n = strv_len(img->config.diff_ids);
	if (n != img->manifest.n_layers)
		return molt_error_setx(err, EINVAL, "image '%s': %zu layers but %zu diff IDs",
				       o->image, img->manifest.n_layers, n);
	const char *tmp = NULL;
	if (layer_store_tmpdir(s, &tmp, err) < 0)
		return molt_error_pass(err);
	/* Unpacked trees stay in the store for builds to use: the directories the
	 * unpacker makes must not take the caller's umask (build.c sets the same). */
	umask(022);
	/* The same verified unpack as molt build (diff IDs checked before publishing). */
	if (image_ensure_unpacked(s, tmp, &img->config, img->manifest.layers, n, err) < 0)
		return molt_error_wrap(err, "image '%s'", o->image);
	_cleanup_strv_ char **lowers = NULL;
	for (size_t i = n; i-- > 0;)
		strv_push_take(&lowers, layer_store_unpacked_path(s, img->config.diff_ids[i]));
	_cleanup_free_ char *dir = xasprintf("%s/run", tmp);
	if (stepfs_mount(dir, lowers, false, ret_fs, err) < 0)
		return molt_error_pass(err);
	/* The image's config gives the defaults; the command line overrides. */
	char **env = strv_copy(img->config.env);
	for (char **p = o->env; p && *p; p++)
		strv_push(&env, *p);
	strv_free(o->env);
	o->env = env;
	if (!o->c.user && img->config.user && *img->config.user)
		o->c.user = o->image_user = xstrdup(img->config.user);
	if (!o->c.workdir && img->config.working_dir && *img->config.working_dir)
		o->c.workdir = o->image_workdir = xstrdup(img->config.working_dir);
	for (char **p = img->config.entrypoint; p && *p; p++)
		strv_push(&o->argv, *p);
	char *const *rest = cli_cmd && *cli_cmd ? cli_cmd : img->config.cmd;
	for (char *const *p = rest; p && *p; p++)
		strv_push(&o->argv, *p);
	return 0;
}

int cmd_run(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	_cleanup_(run_opts_done) struct run_opts o = {0};
	sandbox_config_init(&o.c);
	int cmd = 0;
	if (parse_args(argc, argv, &o, &cmd, err) < 0)
		return molt_error_pass(err);
	for (size_t k = 0; k < o.c.n_mounts; k++) {
		o.mounts[k].source = o.mount_strings[2 * k];
		o.mounts[k].target = o.mount_strings[2 * k + 1];
	}
	o.c.mounts = o.mounts;
	o.c.tty = true;
	if (sandbox_enter_build_namespace(NULL, err) < 0)
		return molt_error_pass(err);
	char root[PATH_MAX];
	/* The store stays open until the step is over: its scratch directory holds the
	 * overlay, and closing the store removes that directory. */
	_cleanup_store_ struct layer_store *store = NULL;
	struct stepfs *fs = NULL;
	if (o.image) {
		if (layer_store_open(cli_store_root(g), &store, err) < 0 ||
		    image_rootfs(store, &o, cmd < argc ? argv + cmd : NULL, &fs, err) < 0) {
			stepfs_free(fs);
			return molt_error_pass(err);
		}
		o.c.rootfs = fs->merged;
		o.c.argv = o.argv;
	} else {
		if (!realpath(o.rootfs, root))
			return molt_error_set(err, errno, "rootfs '%s'", o.rootfs);
		o.c.rootfs = root;
		o.c.overlay = true;
		o.c.argv = cmd < argc ? argv + cmd : NULL;
	}
	o.c.env = o.env;
	int status = 0;
	int r = sandbox_run(&o.c, &status, err);
	stepfs_free(fs);
	return r < 0 ? -EINVAL : status;
}
