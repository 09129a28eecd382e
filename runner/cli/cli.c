/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "../../layers/layers.h"
#include "cli.h"
#include "../runner.h"

#ifndef MOLT_VERSION
#define MOLT_VERSION "0.0.0-dev"
#endif

static int cmd_version(int argc, char **argv, struct molt_global *g, struct molt_error **err);

/* --max-unpack of run and load (build's is in its option table, cmd_build.c). */
#define HELP_MAX_UNPACK                                                                      \
	"      --max-unpack SIZE    cap on what unpacking one layer or tar may write (k, m, g,\n" \
	"                           t; also MOLT_MAX_UNPACK; default none, see README)\n"

static const struct molt_command commands[] = {
	{"build", cmd_build,
	 "molt build [OPTIONS] CONTEXT",
	 "build an image from a Dockerfile",
	 "", cmd_build_options},
	{"run", cmd_run,
	 "molt run [OPTIONS] (IMAGE | --rootfs DIR) [CMD [ARG...]]",
	 "run a command in a sandbox over an image or a directory",
	 "      --network MODE       host (default) or none\n"
	 "  -e, --env K=V            set an environment variable (repeatable)\n"
	 "  -u, --user USER          name, uid, uid:gid or name:group\n"
	 "  -w, --workdir DIR        working directory inside the sandbox\n"
	 "  -v, --volume SRC:DST[:ro] bind-mount a host directory (repeatable)\n"
	 "      --rootfs DIR         use DIR as the root filesystem instead of an image\n"
	 "  -m, --memory SIZE        memory each process may allocate (b, k, m, g; default\n"
	 "                           no limit; per process, see README)\n"
	 "      --pids-limit N       processes and threads of the step in all (default\n"
	 "                           1024; a step over it is ended)\n"
	 HELP_MAX_UNPACK, NULL},
	{"images", cmd_images, "molt images [--json]", "list the images in the store",
	 "      --json               print JSON instead of a table\n", NULL},
	{"inspect", cmd_inspect, "molt inspect IMAGE", "print an image's config and manifest", "", NULL},
	{"tag", cmd_tag, "molt tag SRC DST", "give an image another name", "", NULL},
	{"rmi", cmd_rmi, "molt rmi IMAGE...", "remove image names (and unused blobs)", "", NULL},
	{"prune", cmd_prune, "molt prune [--all]", "remove unused blobs, layers and cache",
	 "      --all                empty the store completely\n", NULL},
	{"load", cmd_load, "molt load -i FILE|DIR",
	 "load a docker save tar, an OCI archive or an OCI layout",
	 "  -i, --input FILE|DIR     what to load\n"
	 HELP_MAX_UNPACK, NULL},
	{"save", cmd_save, "molt save -o FILE [--format docker|oci] IMAGE",
	 "write an image as a docker load tar or an OCI archive",
	 "  -o, --output FILE        where to write\n"
	 "      --format FMT         docker (default) or oci\n"
	 "      --compression C      layers as gzip (oci's default), zstd or uncompressed\n"
	 "                           (docker: uncompressed unless given)\n"
	 "      --compression-level N  gzip 1-9 (6), zstd 1-19 (3)\n", NULL},
	{"import", cmd_import, "molt import ROOTFS.tar NAME[:TAG]",
	 "make a one-layer image from a rootfs tar", "", NULL},
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
	 "", NULL},
	{"version", cmd_version, "molt version", "print molt's version", "", NULL},
};

static void print_main_help(FILE *f)
{
	fputs("usage: molt [--root DIR] COMMAND [OPTIONS] [ARGS]\n\n"
	      "molt builds container images from Dockerfiles without root and without a "
	      "daemon.\n\ncommands:\n",
	      f);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fputs("\nglobal options:\n"
	      "      --root DIR           the store (env MOLT_ROOT; default "
	      "${XDG_DATA_HOME:-$HOME/.local/share}/molt)\n"
	      "      --debug              print debug messages\n"
	      "  -q, --quiet              print errors only\n"
	      "  -h, --help               this help; 'molt COMMAND --help' for a command\n",
	      f);
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
	if (c->options || (c->help && *c->help))
		fputs("\noptions:\n", stdout);
	if (c->options)
		cli_options_help(c->options, stdout);
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
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
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
