/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/cli/cmd_build.c: `molt build` — options (SPEC.md §2), reading the Dockerfile,
 * parsing and planning it; `--print-plan` prints the plan. Running builds comes later.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "../../sandbox/sandbox.h"
#include "build_compat.h"
#include "cli.h"
#include "build_extra.h"
#include "../../layers/layers.h"
#include "../executor/build.h"
#include "../executor/context_src.h"
#include "../frontend/plan.h"
#include "../executor/run_opts.h"

/* Refuse absurd Dockerfiles before reading them into memory. */
#define DOCKERFILE_MAX (16u << 20)

struct build_output {
	const char *type; /* oci, docker, local, tar */
	char *dest;
	struct export_compression compression;
	bool compression_set;
};

struct build_options {
	const char *file; /* -f, NULL = CONTEXT/Dockerfile, "-" = stdin */
	char **tags;
	const char *target;
	char **build_args;
	bool no_cache;
	bool explain_cache;
	struct build_output *outputs;
	size_t n_outputs;
	const char *network;
	uint64_t memory; /* -m, --memory: see sandbox/rlimits.c */
	const char *progress;
	bool quiet; /* -q, or the global -q */
	const char *iidfile;
	int jobs;
	bool print_plan;
	const char *context;
	/* registries */
	struct registry_opts reg;
	bool pull, push;
	char **push_refs; /* type=image,name=REF,push=true */
	struct export_compression push_compression;
	struct platform platform;
	bool platform_set;
	struct build_run_opts run; /* --secret, --ssh, --add-host, --ulimit, --shm-size */
	struct build_extra x; /* docker build parity flags (cmd_build_extra.c) */
	/* A context that is not a directory of the caller's (`-`, a git URL), made into
	 * one; -f then names a file inside it, as docker's rule for those is. */
	struct context_source src;
	bool file_in_context;
	char **named_aliases; /* --build-context resolved: "NAME=IMAGE" */
	/* --cache-from, --cache-to */
	struct build_cache_spec *cache_from, *cache_to;
	size_t n_cache_from, n_cache_to;
};

static void build_options_done(struct build_options *o)
{
	strv_free(o->tags);
	strv_free(o->build_args);
	strv_free(o->push_refs);
	for (size_t i = 0; i < o->n_outputs; i++)
		free(o->outputs[i].dest);
	free(o->outputs);
	build_run_opts_done(&o->run);
	build_extra_done(&o->x);
	context_source_done(&o->src);
	strv_free(o->named_aliases);
	for (size_t i = 0; i < o->n_cache_from; i++)
		build_cache_spec_done(&o->cache_from[i]);
	for (size_t i = 0; i < o->n_cache_to; i++)
		build_cache_spec_done(&o->cache_to[i]);
	free(o->cache_from);
	free(o->cache_to);
}

static int add_cache_spec(struct build_options *o, const char *v, bool export,
			  struct molt_error **err)
{
	struct build_cache_spec c;
	int r = build_cache_spec_parse(v, export, &c, err);
	if (r < 0)
		return r;
	struct build_cache_spec **v_ = export ? &o->cache_to : &o->cache_from;
	size_t *n = export ? &o->n_cache_to : &o->n_cache_from;
	*v_ = xrealloc(*v_, (*n + 1) * sizeof(c));
	(*v_)[(*n)++] = c;
	return 0;
}

/* BuildKit's compression fields of an output, gathered before they are checked. */
struct compression_fields {
	const char *name, *level;
	bool force, any;
};

/* 1 when f is compression=, compression-level= or force-compression=; 0 otherwise. */
static int compression_field(const char *f, struct compression_fields *c, struct molt_error **err)
{
	if (str_startswith(f, "compression="))
		c->name = f + strlen("compression=");
	else if (str_startswith(f, "compression-level="))
		c->level = f + strlen("compression-level=");
	else if (!strcmp(f, "force-compression=true") || !strcmp(f, "force-compression=false"))
		c->force = !strcmp(f, "force-compression=true");
	else if (str_startswith(f, "force-compression="))
		return cli_usage_error(err, "build", "--output: force-compression takes true or "
						     "false, not '%s'", f + strlen("force-compression="));
	else
		return 0;
	c->any = true;
	return 1;
}

static int compression_check(const struct compression_fields *c, struct export_compression *ret,
			     struct molt_error **err)
{
	_cleanup_error_ struct molt_error *e = NULL;
	if (export_compression_parse(c->name, c->level, c->force, ret, &e) < 0)
		return cli_usage_error(err, "build", "--output: %s", e->msg);
	return 0;
}

/* `type=image,name=REF[,push=true]` (BuildKit's): names the result, maybe pushes it. */
static int parse_image_output(struct build_options *o, const char *spec, struct molt_error **err)
{
	_cleanup_free_ char *copy = xstrdup(spec);
	_cleanup_strv_ char **names = NULL;
	bool push = false;
	char *save = NULL;
	struct compression_fields cf = {0};
	for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		int cr = compression_field(f, &cf, err);
		if (cr < 0)
			return cr;
		if (cr)
			continue;
		if (!strcmp(f, "type=image"))
			continue;
		if (!strcmp(f, "type=registry"))
			push = true; /* BuildKit: type=image,push=true */
		else if (str_startswith(f, "name=") && f[5])
			strv_push(&names, f + 5);
		else if (!strcmp(f, "push=true") || !strcmp(f, "push=false"))
			push = !strcmp(f, "push=true");
		else
			return cli_usage_error(err, "build", "--output type=image: unexpected '%s' "
							     "(use name=REF[,push=true])", f);
	}
	if (!names)
		return cli_usage_error(err, "build", "--output type=image needs name=REF");
	int cr = cf.any ? compression_check(&cf, &o->push_compression, err) : 0;
	if (cr < 0)
		return cr;
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *norm = NULL;
		struct molt_error *e = NULL;
		if (image_ref_normalize(names[i], &norm, &e) < 0) {
			int r = cli_usage_error(err, "build", "invalid name '%s': %s", names[i],
						e->msg);
			molt_error_free(e);
			return r;
		}
		strv_push(&o->tags, names[i]);
		if (push)
			strv_push(&o->push_refs, names[i]);
	}
	return 0;
}

/* docker's `-o -`: the result as a tar on stdout. */
static bool parse_output_stdout(struct build_options *o, const char *spec)
{
	if (strcmp(spec, "-"))
		return false;
	ARRAY_PUSH(o->outputs, o->n_outputs,
		   (struct build_output){"tar", xstrdup("-"), {0}, false});
	return true;
}

/* Outputs to stdout (dest=-): one, a tar, and not onto a terminal. */
static int check_stdout_outputs(const struct build_options *o, struct molt_error **err)
{
	size_t n = 0;
	for (size_t i = 0; i < o->n_outputs; i++) {
		if (strcmp(o->outputs[i].dest, "-"))
			continue;
		if (!strcmp(o->outputs[i].type, "local"))
			return cli_usage_error(err, "build", "--output type=local,dest=- : a local "
							     "output is a directory; use type=tar "
							     "for stdout");
		if (++n > 1)
			return cli_usage_error(err, "build", "only one --output can go to stdout (dest=-)");
	}
	return n ? stream_refuse_tty(STDOUT_FILENO, "write the build output to", err) : 0;
}

/* `-o DIR` or `type=oci|docker|local|tar,dest=PATH`. */
static int parse_output(struct build_options *o, const char *spec, struct molt_error **err)
{
	if (parse_output_stdout(o, spec))
		return 0;
	if (str_startswith(spec, "type=image,") || !strcmp(spec, "type=image") ||
	    strstr(spec, ",type=image") || str_startswith(spec, "type=registry,") ||
	    !strcmp(spec, "type=registry") || strstr(spec, ",type=registry"))
		return parse_image_output(o, spec, err);
	/* cf points into copy: both live to the end */
	struct compression_fields cf = {0};
	_cleanup_free_ char *copy = NULL;
	static const char *const types[] = {"oci", "docker", "local", "tar"};
	struct build_output out = {NULL, NULL, {0}, false};
	if (!strchr(spec, '=')) {
		if (!*spec)
			return cli_usage_error(err, "build", "--output needs a value");
		out.type = "local";
		out.dest = xstrdup(spec);
	} else {
		_cleanup_strv_ char **fields = NULL;
		copy = xstrdup(spec);
		char *save = NULL;
		for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
			int cr = compression_field(f, &cf, err);
			if (cr < 0) {
				free(out.dest);
				return cr;
			}
			if (cr)
				continue;
			if (str_startswith(f, "type=")) {
				out.type = NULL;
				for (size_t i = 0; i < ARRAY_SIZE(types); i++)
					if (!strcmp(f + 5, types[i]))
						out.type = types[i];
				if (!out.type) {
					free(out.dest);
					return cli_usage_error(err, "build",
							       "--output: unknown type '%s' (oci, docker, local or tar)",
							       f + 5);
				}
			} else if (str_startswith(f, "dest=") && f[5]) {
				free(out.dest);
				out.dest = xstrdup(f + 5);
			} else {
				free(out.dest);
				return cli_usage_error(err, "build",
						       "--output: unexpected '%s' (use type=TYPE,dest=PATH)",
						       f);
			}
		}
		if (!out.type || !out.dest) {
			free(out.dest);
			return cli_usage_error(err, "build", "--output '%s' needs both type= and dest=",
					       spec);
		}
	}
	if (cf.any && strcmp(out.type, "oci") != 0 && strcmp(out.type, "docker") != 0) {
		free(out.dest);
		return cli_usage_error(err, "build", "--output type=%s: compression applies to "
						     "type=oci, docker and image|registry", out.type);
	}
	out.compression_set = cf.any;
	int cr = compression_check(&cf, &out.compression, err);
	if (cr < 0) {
		free(out.dest);
		return cr;
	}
	ARRAY_PUSH(o->outputs, o->n_outputs, out);
	return 0;
}

const struct cli_option cmd_build_options[] = {
	{'f', "file", "FILE|-", false,
	 "the Dockerfile (default CONTEXT/Dockerfile; - reads stdin;\n"
	 "with a context from stdin or git, a path inside it)"},
	{'t', "tag", "NAME[:TAG]", false, "name the result in the store (repeatable)"},
	{0, "target", "STAGE", false, "build only up to this stage"},
	{0, "build-arg", "K[=V]", false, "set a build argument (repeatable; K alone takes $K)"},
	{0, "no-cache", NULL, false, "do not use the build cache"},
	{0, "explain-cache", NULL, false, "say which input changed for each step that missed the cache"},
	{'o', "output", "SPEC", false,
	 "type=oci|docker|local|tar,dest=PATH, or a directory;\n"
	 "local writes files owned by you, without set-uid and\n"
	 "set-gid bits; type=image,name=REF[,push=true] names\n"
	 "the result REF (and pushes it); type=registry,name=REF\n"
	 "pushes it; - or dest=- writes a tar to stdout; oci,\n"
	 "docker and image take compression=gzip|zstd|uncompressed\n"
	 "(gzip), compression-level=N, force-compression=true"},
	{0, "network", "MODE", false, "network for RUN steps: host (default) or none"},
	{'m', "memory", "SIZE", false, "memory each RUN process may allocate (see molt run)"},
	{0, "progress", "MODE", false,
	 "auto (tty on a terminal unless TERM=dumb, else plain),\n"
	 "plain, tty, quiet or rawjson (BuildKit's formats)"},
	{'q', "quiet", NULL, false,
	 "print only the image ID on success (as --progress quiet;\n"
	 "the global molt -q does the same)"},
	{0, "iidfile", "FILE", false, "write the image ID to FILE"},
	{0, "jobs", "N", false, "run up to N stages at once (one waiting for another stage does not count)"},
	{0, "print-plan", NULL, false, "print the resolved build plan as JSON and exit"},
	{0, "max-unpack", "SIZE", false,
	 "cap on what unpacking one layer or tar may write (k, m, g,\n"
	 "t; also MOLT_MAX_UNPACK; default none, see README)"},
	{0, "pull", NULL, false,
	 "pull every image the Dockerfile names, even when stored\n"
	 "(images missing from the store are always pulled)"},
	{0, "push", NULL, false, "push the result to each -t NAME"},
	{0, "platform", "OS/ARCH", false,
	 "the target platform: this machine's only (molt runs\n"
	 "steps natively, without binfmt emulation)"},
	{0, "tls-verify", "BOOL", true,
	 "=false allows plain http and unverified TLS for registries"},
	BUILD_COMPAT_OPTIONS,
	{0, "secret", "SPEC", false,
	 "id=ID[,src=FILE|env=VAR]: a secret for a RUN with\n"
	 "a type=secret mount, never in the image (repeatable;\n"
	 "id=ID alone reads $ID, else the file ID)"},
	{0, "ssh", "SPEC", false,
	 "default|ID[=SOCKET|KEY[,KEY]]: an SSH agent for a RUN\n"
	 "with a type=ssh mount (repeatable; default:\n"
	 "$SSH_AUTH_SOCK; key files get an ssh-agent of molt's own)"},
	{0, "add-host", "NAME:IP", false, "add NAME to /etc/hosts of RUN steps (repeatable)"},
	{0, "ulimit", "SPEC", false,
	 "NAME=SOFT[:HARD]: an rlimit of RUN steps (repeatable;\n"
	 "-1 unlimited; not above your own hard limit)"},
	{0, "shm-size", "SIZE", false, "size of /dev/shm in RUN steps (default 64m)"},
	BUILD_EXTRA_OPTIONS,
	{0, "cache-from", "SPEC", false,
	 "also look steps up in a shared cache (repeatable):\n"
	 "type=registry,ref=REF (a cache or an image with inline\n"
	 "cache) or type=local,src=DIR (an OCI layout)"},
	{0, "cache-to", "SPEC", false,
	 "export the build cache: type=registry,ref=REF or\n"
	 "type=local,dest=DIR [,mode=min|max][,compression=gzip|zstd],\n"
	 "or type=inline (in the pushed image)"},
	{0, NULL, NULL, false, NULL},
};

static int set_tag(struct build_options *o, const char *v, struct molt_error **err)
{
	if (!*v)
		return cli_usage_error(err, "build", "--tag needs a name");
	/* a bad name fails before the build, not after it (as docker build) */
	_cleanup_free_ char *norm = NULL;
	struct molt_error *e = NULL;
	if (image_ref_normalize(v, &norm, &e) < 0) {
		int r = cli_usage_error(err, "build", "invalid tag '%s': %s", v, e->msg);
		molt_error_free(e);
		return r;
	}
	strv_push(&o->tags, v);
	return 0;
}

/* The options that choose among a few words, or take a number or a size. */
static int set_checked(struct build_options *o, const char *opt, const char *v,
		       struct molt_error **err)
{
	static const char *const networks[] = {"host", "none", NULL};
	static const char *const progress[] = {"auto", "plain", "tty", "quiet", "rawjson", NULL};
	int64_t n;
	if (!strcmp(opt, "network")) {
		if (!cli_one_of(v, networks))
			return cli_usage_error(err, "build", "--network must be host or none, not '%s'", v);
		o->network = v;
	} else if (!strcmp(opt, "progress")) {
		if (!cli_one_of(v, progress))
			return cli_usage_error(err, "build",
					       "--progress must be auto, plain, tty, quiet or rawjson, "
					       "not '%s'", v);
		o->progress = v;
	} else if (!strcmp(opt, "tls-verify")) {
		if (v && strcmp(v, "true") && strcmp(v, "false"))
			return cli_usage_error(err, "build", "--tls-verify takes true or false, not "
							     "'%s'", v);
		o->reg.tls_verify = !v || !strcmp(v, "true");
	} else if (!strcmp(opt, "platform")) {
		if (platform_parse(v, &o->platform) < 0)
			return cli_usage_error(err, "build", "--platform '%s': not os/arch[/variant]",
					       v);
		o->platform_set = true;
		o->reg.platform = v;
	} else if (!strcmp(opt, "memory")) {
		if (sandbox_parse_size(v, &o->memory) < 0 || o->memory < SANDBOX_MEMORY_MIN)
			return cli_usage_error(err, "build", "--memory must be a size of at least 6m "
						"(b, k, m or g), not '%s'", v);
	} else if (!strcmp(opt, "jobs")) {
		if (str_to_int64(v, 1, 1024, &n) < 0)
			return cli_usage_error(err, "build", "--jobs must be a number from 1 to 1024, not '%s'",
					       v);
		o->jobs = (int)n;
	} else {
		/* docker build's flags without work here (build_compat.c), else a bug */
		return build_compat_option(opt, v, err);
	}
	return 0;
}

static int set_option(void *userdata, const struct cli_option *opt, const char *v,
		      struct molt_error **err)
{
	struct build_options *o = userdata;
	const char *name = opt->name;
	int handled = build_extra_option(&o->x, name, v, err);
	if (handled != 0)
		return handled < 0 ? handled : 0;
	if (!strcmp(name, "file")) {
		o->file = v;
	} else if (!strcmp(name, "tag")) {
		return set_tag(o, v, err);
	} else if (!strcmp(name, "target")) {
		o->target = v;
	} else if (!strcmp(name, "build-arg")) {
		if (!*v || *v == '=')
			return cli_usage_error(err, "build", "--build-arg '%s' has no name", v);
		strv_push(&o->build_args, v);
	} else if (!strcmp(name, "output")) {
		return parse_output(o, v, err);
	} else if (!strcmp(name, "iidfile")) {
		o->iidfile = v;
	} else if (!strcmp(name, "max-unpack")) {
		return cli_set_max_unpack("build", v, err);
	} else if (!strcmp(name, "no-cache")) {
		o->no_cache = true;
	} else if (!strcmp(name, "explain-cache")) {
		o->explain_cache = true;
	} else if (!strcmp(name, "print-plan")) {
		o->print_plan = true;
	} else if (!strcmp(name, "pull")) {
		o->pull = true;
	} else if (!strcmp(name, "push")) {
		o->push = true;
	} else if (!strcmp(name, "quiet")) {
		o->quiet = true;
	} else if (build_run_opts_handles(name)) {
		return build_run_opts_add(&o->run, name, v, err);
	} else if (!strcmp(name, "cache-from") || !strcmp(name, "cache-to")) {
		return add_cache_spec(o, v, !strcmp(name, "cache-to"), err);
	} else {
		return set_checked(o, name, v, err);
	}
	return 0;
}

static int set_context(void *userdata, const char *arg, struct molt_error **err)
{
	struct build_options *o = userdata;
	if (o->context)
		return cli_usage_error(err, "build", "unexpected argument '%s' (only one CONTEXT)", arg);
	o->context = arg;
	return 0;
}

static int parse_options(int argc, char **argv, struct build_options *o, struct molt_error **err)
{
	static const struct cli_parse_fns fns = {set_option, set_context};
	int r = cli_parse("build", cmd_build_options, argc, argv, &fns, o, err);
	if (r < 0)
		return r;
	if (!o->context)
		return cli_usage_error(err, "build", "missing the build CONTEXT directory");
	if ((r = check_stdout_outputs(o, err)) < 0)
		return r;
	if (o->push && !o->tags)
		return cli_usage_error(err, "build", "--push needs a name to push to (-t NAME)");
	for (size_t i = 0; o->push && o->tags[i]; i++)
		if (!strv_contains(o->push_refs, o->tags[i]))
			strv_push(&o->push_refs, o->tags[i]);
	for (size_t i = 0; i < o->n_cache_to; i++)
		if (o->cache_to[i].type == BUILD_CACHE_INLINE && !o->push_refs)
			return cli_usage_error(err, "build", "--cache-to type=inline goes into a "
						"pushed image: add --push -t NAME");
	return 0;
}

static int read_stream(int fd, const char *what, char **ret, size_t *ret_len,
		       struct molt_error **err)
{
	int r = read_fd_bounded(fd, DOCKERFILE_MAX, ret, ret_len);
	if (r == -EFBIG)
		return molt_error_setx(err, EFBIG, "the Dockerfile '%s' is larger than 16 MiB",
				       what);
	if (r < 0)
		return molt_error_set(err, -r, "reading the Dockerfile from '%s'", what);
	return 0;
}

static int read_dockerfile(const struct build_options *o, char **ret, size_t *ret_len,
			   struct molt_error **err)
{
	if (o->src.dockerfile) {
		*ret = xstrndup(o->src.dockerfile, o->src.dockerfile_len);
		*ret_len = o->src.dockerfile_len;
		return 0;
	}
	if (o->file && !strcmp(o->file, "-"))
		return read_stream(STDIN_FILENO, "stdin", ret, ret_len, err);
	if (o->file && !o->file_in_context) {
		/* The user's own choice, so a pipe (`-f <(…)`) is read as it comes. */
		_cleanup_close_ int fd = open(o->file, O_RDONLY | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			return molt_error_set(err, errno, "reading the Dockerfile: open '%s'", o->file);
		return read_stream(fd, o->file, ret, ret_len, err);
	}
	int r;
	if (o->file && !o->file_in_context) {
		/* Named by the user: read where it is, as docker build -f does (read_file
		 * refuses a FIFO). */
		r = read_file(o->file, DOCKERFILE_MAX, ret, ret_len, err);
	} else {
		/* The context's own Dockerfile is read inside the context, as BuildKit
		 * does: a hostile context's Dockerfile symlink to a host file resolves
		 * inside the context, and the host file is never read (nor echoed in a
		 * syntax error); a FIFO or device there is refused without blocking. */
		_cleanup_close_ int ctx = open(o->context, O_PATH | O_DIRECTORY | O_CLOEXEC);
		r = ctx < 0 ? molt_error_set(err, errno, "open build context '%s'", o->context)
			    : inroot_read_file(ctx, o->file ? o->file : "Dockerfile", DOCKERFILE_MAX,
					       ret, ret_len, err);
	}
	if (r < 0)
		molt_error_wrap(err, "reading the Dockerfile");
	return r;
}

static void warn_unused_args(const struct build_plan *plan)
{
	if (!plan->unused_build_args[0])
		return;
	_cleanup_strbuf_ struct strbuf names = STRBUF_INIT;
	for (size_t i = 0; plan->unused_build_args[i]; i++)
		strbuf_addf(&names, "%s%s", i ? ", " : "", plan->unused_build_args[i]);
	molt_warn("build-args not consumed by any ARG: %s", names.buf);
}

/* --print-plan: the plan without the store, so base images give no config. */
static int print_plan(const struct dockerfile *df, const struct plan_options *popts,
		      struct molt_error **err)
{
	struct build_plan *plan = NULL;
	_cleanup_free_ char *json = NULL;
	int r = build_plan_make(df, popts, &plan, err);
	if (r == 0) {
		warn_unused_args(plan);
		r = build_plan_to_json(plan, &json, err);
	}
	build_plan_free(plan);
	if (r == 0)
		fputs(json, stdout);
	return r;
}

static char *display_name(const char *file)
{
	if (!file || !strcmp(file, "-"))
		return xstrdup("Dockerfile");
	const char *slash = strrchr(file, '/');
	return xstrdup(slash && slash[1] ? slash + 1 : file);
}

/*
 * The build's one way through (runner/executor/build.h): the executor opens the
 * build, the frontend plans once with the base images it resolves, the executor runs
 * that plan.
 */
static int plan_and_run(const struct build_request *req, const struct dockerfile *df,
			struct plan_options *popts, struct molt_error **err)
{
	struct build_ctx *b = NULL;
	struct build_plan *plan = NULL;
	int r = build_open(req, &b, err);
	if (r == 0) {
		popts->base_config = build_base_config;
		popts->base_ud = b;
		r = build_plan_make(df, popts, &plan, err);
	}
	if (r == 0) {
		warn_unused_args(plan);
		/* only a build runs steps: --print-plan shows any platform's plan */
		r = platform_check_native(plan, err);
	}
	if (r == 0)
		r = build_run(b, plan, err);
	build_plan_free(plan);
	build_close(b);
	return r;
}

/* Hands the Dockerfile to the executor (runner/executor/build.h). */
static int execute(const struct build_options *o, struct molt_global *g,
		   const struct dockerfile *df, struct plan_options *popts,
		   struct molt_error **err)
{
	static const char *const types[] = {"local", "tar", "oci", "docker"};
	struct build_output_spec *outs = xcalloc(o->n_outputs + 1, sizeof(*outs));
	for (size_t i = 0; i < o->n_outputs; i++) {
		outs[i].dest = o->outputs[i].dest;
		outs[i].compression = o->outputs[i].compression;
		outs[i].compression_set = o->outputs[i].compression_set;
		for (size_t t = 0; t < ARRAY_SIZE(types); t++)
			if (o->outputs[i].type && !strcmp(o->outputs[i].type, types[t]))
				outs[i].type = (enum build_output_type)t;
	}
	enum progress_mode mode = PROGRESS_AUTO;
	(void)progress_mode_parse(o->progress, &mode);
	/* -q as docker build -q: only the image ID; the global -q (errors only) likewise. */
	if (o->quiet || molt_log_level == MOLT_LOG_QUIET)
		mode = PROGRESS_QUIET;
	_cleanup_free_ char *name = display_name(o->file);
	_cleanup_free_ char *path = NULL;
	if (o->file_in_context || o->src.dockerfile)
		path = NULL; /* the context's own .dockerignore only */
	else if (!o->file)
		path = xasprintf("%s/Dockerfile", o->context);
	else if (strcmp(o->file, "-"))
		path = xstrdup(o->file);
	struct build_request req = {
		.store_root = cli_store_root(g),
		.context_dir = o->context,
		.dockerfile_path = path,
		.dockerfile_name = name,
		.tags = o->tags,
		.outputs = outs,
		.n_outputs = o->n_outputs,
		.iidfile = o->iidfile,
		.network = o->network,
		.memory = o->memory,
		.progress = mode,
		.jobs = o->jobs > 0 ? (unsigned)o->jobs : 0,
		.no_cache = o->no_cache,
		.explain_cache = o->explain_cache,
		.df = df,
		.registry = &o->reg,
		.pull = o->pull,
		.push_refs = o->push_refs,
		.run = &o->run,
		.labels = o->x.labels,
		.annotations = o->x.annotations,
		.no_cache_stages = o->x.no_cache_stages,
		.metadata_file = o->x.metadata_file,
		.cache_from = o->cache_from,
		.n_cache_from = o->n_cache_from,
		.cache_to = o->cache_to,
		.n_cache_to = o->n_cache_to,
		.push_compression = o->push_compression,
	};
	int r = plan_and_run(&req, df, popts, err);
	free(outs);
	return r;
}

static int build_with(const struct build_options *o, struct molt_global *g,
		      struct molt_error **err)
{
	struct stat st;
	if (stat(o->context, &st) < 0)
		return molt_error_set(err, errno, "build context '%s'", o->context);
	if (!S_ISDIR(st.st_mode))
		return molt_error_setx(err, ENOTDIR, "build context '%s' is not a directory",
				       o->context);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_dockerfile(o, &text, &len, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *name = display_name(o->file);
	struct dockerfile *df = NULL;
	if ((r = dockerfile_parse(text, len, name, &df, err)) < 0)
		return r;
	struct plan_options popts = {.target = o->target, .build_args = o->build_args,
				     .target_platform = o->platform_set ? &o->platform : NULL,
				     .named_contexts = o->named_aliases};
	r = o->print_plan ? print_plan(df, &popts, err) : execute(o, g, df, &popts, err);
	dockerfile_free(df);
	return r;
}

/* --build-context sources made into images the store holds (context_src.h). */
static int resolve_named_contexts(struct build_options *o, struct molt_global *g,
				  struct molt_error **err)
{
	int r = sandbox_enter_build_namespace(NULL, err);
	_cleanup_store_ struct layer_store *s = NULL;
	if (r == 0)
		r = layer_store_open(cli_store_root(g), &s, err);
	if (r == 0)
		r = named_contexts_resolve(s, o->x.build_contexts, &o->named_aliases, err);
	return r;
}

/* `-` (a tar or a Dockerfile on stdin) and git URLs, made into a context directory. */
static int prepare_sources(struct build_options *o, struct molt_global *g, struct molt_error **err)
{
	int r = 0;
	if (!strcmp(o->context, "-")) {
		if (o->file && !strcmp(o->file, "-"))
			return cli_usage_error(err, "build", "-f - and CONTEXT -: the Dockerfile and "
							     "the context cannot both come from stdin");
		/* extracted in the build namespace: the tar's ids and modes are the build's */
		if ((r = sandbox_enter_build_namespace(NULL, err)) < 0 ||
		    (r = context_source_stdin(&o->src, err)) < 0)
			return r;
		if (o->src.dockerfile && o->file)
			return cli_usage_error(err, "build", "-f '%s': stdin held a Dockerfile, not a "
							     "context tar to find it in", o->file);
	} else if (context_is_git_url(o->context)) {
		if ((r = context_source_git(o->context, &o->src, err)) < 0)
			return r;
	}
	if (o->src.dir) {
		o->context = o->src.dir;
		o->file_in_context = true;
	}
	return o->x.build_contexts ? resolve_named_contexts(o, g, err) : 0;
}

int cmd_build(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	struct build_options o = {.network = "host", .progress = "auto", .jobs = 0,
				  .reg = {.tls_verify = true}};
	int r = parse_options(argc, argv, &o, err);
	if (r == 0)
		r = build_args_apply_epoch(o.build_args, err);
	if (r == 0)
		r = prepare_sources(&o, g, err);
	if (r == 0 && !o.print_plan)
		r = build_run_opts_start(&o.run, err); /* ssh-agents for --ssh ID=KEYFILE */
	if (r == 0)
		r = build_with(&o, g, err);
	build_options_done(&o);
	return r < 0 ? r : 0;
}
