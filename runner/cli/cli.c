/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
#include "cli.h"
#include "../runner.h"

#ifndef MOLT_VERSION
#define MOLT_VERSION "0.0.0-dev"
#endif

static int cmd_version(int argc, char **argv, struct molt_global *g, struct molt_error **err);

const struct cli_option cli_no_options[] = {{0, NULL, NULL, false, NULL}};

/* Before the command name; parsed by dispatch() below. */
const struct cli_option cli_global_options[] = {
	{0, "root", "DIR", false,
	 "the store (env MOLT_ROOT; default\n"
	 "${XDG_DATA_HOME:-$HOME/.local/share}/molt)"},
	{0, "debug", NULL, false, "print debug messages"},
	{'q', "quiet", NULL, false, "print errors only (molt build: only the image ID)"},
	{'h', "help", NULL, false, "this help; 'molt COMMAND --help' for a command"},
	{0, "version", NULL, false, "print molt's version"},
	{0, NULL, NULL, false, NULL},
};

const struct molt_command cli_commands[] = {
	{"build", cmd_build,
	 "molt build [OPTIONS] (DIR | - | GIT-URL[#REF[:SUBDIR]])",
	 "build an image from a Dockerfile",
	 "", cmd_build_options},
	{"run", cmd_run,
	 "molt run [OPTIONS] (IMAGE | --rootfs DIR) [CMD [ARG...]]",
	 "run a command in a sandbox over an image or a directory",
	 "", cmd_run_options},
	{"images", cmd_images, "molt images [--json]", "list the images in the store", "",
	 cmd_images_options},
	{"inspect", cmd_inspect, "molt inspect IMAGE...", "print an image's config and manifest", "",
	 cli_no_options},
	{"tag", cmd_tag, "molt tag SRC DST", "give an image another name", "", cli_no_options},
	{"rmi", cmd_rmi, "molt rmi IMAGE...", "remove image names (and unused blobs)", "",
	 cli_no_options},
	{"prune", cmd_prune, "molt prune [--all | --keep-storage SIZE] [--filter until=DURATION]", "remove unused blobs, layers and cache", "",
	 cmd_prune_options},
	{"load", cmd_load, "molt load [-i FILE|DIR|-]",
	 "load a docker save tar, an OCI archive or an OCI layout", "", cmd_load_options},
	{"save", cmd_save, "molt save [-o FILE|-] [--format docker|oci] IMAGE",
	 "write an image as a docker load tar or an OCI archive", "", cmd_save_options},
	{"import", cmd_import, "molt import ROOTFS.tar NAME[:TAG]",
	 "make a one-layer image from a rootfs tar", "", cli_no_options},
	{"pull", cmd_pull, "molt pull [OPTIONS] REF", "fetch an image from a registry",
	 "\nREF is [HOST[:PORT]/]NAME[:TAG|@DIGEST]; without a host, docker.io. Credentials\n"
	 "come from 'molt login' (and podman's and docker's auth files), mirrors and insecure\n"
	 "registries from registries.conf, extra CAs from certs.d (see README).\n", cmd_pull_options},
	{"push", cmd_push, "molt push [OPTIONS] IMAGE [REF]", "send an image to a registry",
	 "\nIMAGE is a name or ID in the store; REF (default: IMAGE's name) is where it goes.\n"
	 "Blobs the registry has are not sent again; the manifest goes last.\n", cmd_push_options},
	{"login", cmd_login, "molt login [-u USER] [--password-stdin] REGISTRY",
	 "check and store credentials for a registry",
	 "\nCredentials go to ${XDG_RUNTIME_DIR}/containers/auth.json (or $REGISTRY_AUTH_FILE,\n"
	 "or the credential helper docker's config names for REGISTRY).\n", cmd_login_options},
	{"logout", cmd_logout, "molt logout REGISTRY", "remove stored credentials for a registry",
	 "", cli_no_options},
	{"version", cmd_version, "molt version", "print molt's version", "", cli_no_options},
};
const size_t cli_n_commands = ARRAY_SIZE(cli_commands);

static void print_main_help(FILE *f)
{
	fputs("usage: molt [--root DIR] COMMAND [OPTIONS] [ARGS]\n\n"
	      "molt builds container images from Dockerfiles without root and without a "
	      "daemon.\n\ncommands:\n",
	      f);
	for (size_t i = 0; i < cli_n_commands; i++)
		fprintf(f, "  %-9s %s\n", cli_commands[i].name, cli_commands[i].summary);
	fputs("\nglobal options:\n", f);
	cli_options_help(cli_global_options, f);
}

bool cli_wants_help(int argc, char **argv)
{
	/* `molt run IMAGE httpd -h /www`: what follows the image is the command's. */
	bool stop_at_operand = !strcmp(argv[0], "run");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (stop_at_operand && argv[i][0] != '-')
			return false;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	}
	return false;
}

void cli_print_help(const struct molt_command *c)
{
	printf("usage: %s\n\n%s\n", c->usage, c->summary);
	if (c->options && c->options[0].name) {
		fputs("\noptions:\n", stdout);
		cli_options_help(c->options, stdout);
	}
	if (c->help && *c->help)
		fputs(c->help, stdout);
}

const char *cli_store_root(struct molt_global *g)
{
	static char *computed;
	if (g->root)
		return g->root;
	const char *env = getenv("MOLT_ROOT");
	if (env && *env)
		return g->root = env;
	if (!computed) {
		const char *xdg = getenv("XDG_DATA_HOME");
		const char *home = getenv("HOME");
		if (xdg && *xdg == '/')
			computed = xasprintf("%s/molt", xdg);
		else
			computed = xasprintf("%s/.local/share/molt", home && *home ? home : "/tmp");
	}
	return g->root = computed;
}

static int cmd_version(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	(void)g;
	if (argc > 1)
		return cli_usage_error(err, argv[0], "unexpected argument '%s'", argv[1]);
	printf("molt %s\n", MOLT_VERSION);
	return 0;
}

static const struct molt_command *find_command(const char *name)
{
	for (size_t i = 0; i < cli_n_commands; i++)
		if (!strcmp(cli_commands[i].name, name))
			return &cli_commands[i];
	return NULL;
}

int cli_set_max_unpack(const char *cmd, const char *v, struct molt_error **err)
{
	uint64_t bytes;
	if (unpack_size_parse(v, &bytes) < 0 || bytes == 0)
		return cli_usage_error(err, cmd, "--max-unpack must be a size (k, m, g or t), not '%s'",
				       v);
	/* The environment reaches every process of the command (workers, the namespace). */
	setenv(UNPACK_MAX_ENV, v, 1);
	return 0;
}

/* A command without options gets its operands alone: "-x" is refused as an unknown
 * option like every command's, and "--" lets an operand start with '-'. */
static int run_operands_only(const struct molt_command *c, int argc, char **argv,
			     struct molt_global *g, struct molt_error **err)
{
	struct cli_args a;
	if (cli_parse_args(c->name, c->options, argc, argv, NULL, &a, err) < 0)
		return molt_error_pass(err);
	char **v = xcalloc(a.n_operands + 2, sizeof(char *));
	v[0] = argv[0];
	for (size_t k = 0; k < a.n_operands; k++)
		v[k + 1] = (char *)a.operands[k];
	int n = (int)a.n_operands + 1;
	cli_args_done(&a);
	int r = c->fn(n, v, g, err);
	free(v);
	return r;
}

static int dispatch(int argc, char **argv, struct molt_error **err)
{
	struct molt_global g = {.argv0 = argv[0]};
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			print_main_help(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("molt %s\n", MOLT_VERSION);
			return 0;
		} else if (!strcmp(a, "--root")) {
			if (++i >= argc)
				return molt_error_usage(err, "--root needs a directory");
			g.root = argv[i];
		} else if (str_startswith(a, "--root=")) {
			g.root = a + 7;
		} else if (!strcmp(a, "--debug")) {
			molt_log_level = MOLT_LOG_DEBUG;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			molt_log_level = MOLT_LOG_QUIET;
		} else {
			return molt_error_usage(err, "unknown option '%s' (see 'molt --help')", a);
		}
	}
	if (i >= argc) {
		print_main_help(stderr);
		return MOLT_EXIT_USAGE;
	}
	if (g.root && !*g.root)
		return molt_error_usage(err, "--root needs a directory");
	const char *max_unpack = getenv(UNPACK_MAX_ENV);
	uint64_t bytes;
	if (max_unpack && *max_unpack && unpack_size_parse(max_unpack, &bytes) < 0)
		return molt_error_usage(err, UNPACK_MAX_ENV "='%s' is not a size (k, m, g or t)",
					max_unpack);
	if (!strcmp(argv[i], "help")) {
		if (i + 1 >= argc) {
			print_main_help(stdout);
			return 0;
		}
		const struct molt_command *c = find_command(argv[i + 1]);
		if (!c)
			return molt_error_usage(err, "unknown command '%s' (see 'molt --help')",
						argv[i + 1]);
		cli_print_help(c);
		return 0;
	}
	const struct molt_command *c = find_command(argv[i]);
	if (!c)
		return molt_error_usage(err, "unknown command '%s' (see 'molt --help')", argv[i]);
	if (cli_wants_help(argc - i, argv + i)) {
		cli_print_help(c);
		return 0;
	}
	if (c->options == cli_no_options)
		return run_operands_only(c, argc - i, argv + i, &g, err);
	return c->fn(argc - i, argv + i, &g, err);
}

int runner_main(int argc, char **argv)
{
	_cleanup_error_ struct molt_error *err = NULL;
	int r = dispatch(argc, argv, &err);
	fflush(stdout);
	if (r < 0 || err) {
		molt_error_print(err);
		return err ? err->exit_code : MOLT_EXIT_FAILURE;
	}
	return r;
}

int cli_store_open(struct molt_global *g, bool in_build_ns, struct layer_store **ret,
		   struct molt_error **err)
{
	int r = in_build_ns ? sandbox_enter_build_namespace(NULL, err) : 0;
	return r < 0 ? r : layer_store_open(cli_store_root(g), ret, err);
}

int cli_store_image(struct molt_global *g, bool in_build_ns, const char *image,
		    struct layer_store **ret_store, struct image **ret_img, struct molt_error **err)
{
	int r = cli_store_open(g, in_build_ns, ret_store, err);
	return r < 0 ? r : layer_store_resolve(*ret_store, image, ret_img, err);
}

int cli_store_for_images(int argc, char **argv, struct molt_global *g, bool in_build_ns,
			 struct layer_store **ret, struct molt_error **err)
{
	if (argc < 2)
		return cli_usage_error(err, argv[0], "expected at least one IMAGE");
	return cli_store_open(g, in_build_ns, ret, err);
}
