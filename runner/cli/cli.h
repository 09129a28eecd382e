/* SPDX-License-Identifier: Apache-2.0 */
/* runner/cli/cli.h: command dispatch, shared by the runner's cmd_*.c files. */
#ifndef MOLT_RUNNER_CLI_H
#define MOLT_RUNNER_CLI_H

#include "../../layers/layers.h"

/* Options that come before the command name and hold for every command. */
struct molt_global {
	const char *root; /* --root DIR, else $MOLT_ROOT, else the XDG default */
	const char *argv0;
};

/*
 * A command's entry point. argv[0] is the command name; the function returns an exit
 * code (>= 0) or a negative errno with *err set, which main prints.
 */
typedef int (*molt_command_fn)(int argc, char **argv, struct molt_global *g,
			       struct molt_error **err);

/*
 * One option of a command (runner/cli/options.c): the table parses argv and prints
 * --help; the table ends with an entry whose name is NULL.
 */
struct cli_option {
	char short_name;     /* 'f' for -f, 0 when there is none */
	const char *name;    /* "file" for --file */
	const char *value;   /* what --help calls its value ("FILE|-"); NULL: a flag */
	bool value_optional; /* --name alone, or --name=VALUE (--tls-verify[=BOOL]) */
	const char *help;    /* lines after the first are indented under it */
};

struct cli_parse_fns {
	/* An option of the table; value is NULL for a flag or an optional value not given. */
	int (*option)(void *userdata, const struct cli_option *o, const char *value,
		      struct molt_error **err);
	/* An argument that is not an option (everything after "--", and "-"). */
	int (*operand)(void *userdata, const char *arg, struct molt_error **err);
};

/* What a command line held, in order: options with their values, then operands
 * (pointers into argv). */
struct cli_args {
	const struct cli_option **opts;
	const char **values; /* NULL for a flag */
	size_t n;
	const char **operands; /* NULL-terminated, NULL when there is none */
	size_t n_operands;
};
/*
 * cli_parse() into a cli_args. With stop_at, parsing stops at the first operand (or
 * after "--") and stores its index (argc when there is none): what follows belongs to
 * someone else (the command of `molt run IMAGE CMD -x`).
 */
int cli_parse_args(const char *cmd, const struct cli_option *opts, int argc, char **argv,
		   int *stop_at, struct cli_args *ret, struct molt_error **err);
/* The last value of --name (NULL for a flag or when absent); *ret_given: whether it was
 * given at all (may be NULL). */
const char *cli_args_get(const struct cli_args *a, const char *name, bool *ret_given);
void cli_args_done(struct cli_args *a);

/*
 * Parses argv[1..] against opts: --name=V, --name V, -xV, -x V; an option not in the
 * table, a missing value or a value given to a flag is a usage error naming cmd.
 */
/* Whether v is one of set (NULL-terminated): a flag value among the ones it takes. */
bool cli_one_of(const char *v, const char *const *set);
int cli_parse(const char *cmd, const struct cli_option *opts, int argc, char **argv,
	      const struct cli_parse_fns *fns, void *userdata, struct molt_error **err);
/* Prints the option list of --help from the same table. */
void cli_options_help(const struct cli_option *opts, FILE *f);

struct molt_command {
	const char *name;
	molt_command_fn fn;
	const char *usage;   /* "molt build [OPTIONS] CONTEXT" */
	const char *summary; /* one line */
	const char *help;    /* prose printed by `molt CMD --help` after the options */
	const struct cli_option *options; /* the command's option table */
};

/* The option tables of the commands (runner/cli/cmd_*.c; cli_no_options for those
 * that take none), and molt's global options (cli.c). */
extern const struct cli_option cmd_build_options[], cmd_pull_options[], cmd_push_options[],
	cmd_login_options[], cmd_run_options[], cmd_images_options[], cmd_prune_options[],
	cmd_load_options[], cmd_save_options[], cli_no_options[], cli_global_options[];
/* Every command, for help, the man pages and the completion (scripts/gen-docs). */
extern const struct molt_command cli_commands[];
extern const size_t cli_n_commands;
/* --max-unpack SIZE of build, run and load. */
#define CLI_OPT_MAX_UNPACK                                                                   \
	{0, "max-unpack", "SIZE", false,                                                     \
	 "cap on what unpacking one layer or tar may write (k, m, g,\n"                       \
	 "t; also MOLT_MAX_UNPACK; default none, see README)"}

/* True when argv holds -h or --help before a "--". */
bool cli_wants_help(int argc, char **argv);
/* Prints a command's usage and help to stdout. */
void cli_print_help(const struct molt_command *c);
/* A usage error naming the command: "build: <message>; see 'molt build --help'". */
int cli_usage_error(struct molt_error **err, const char *cmd, const char *fmt, ...)
	MOLT_PRINTF(3, 4);
/* --max-unpack SIZE of load, build and run: checked, then exported as MOLT_MAX_UNPACK. */
int cli_set_max_unpack(const char *cmd, const char *v, struct molt_error **err);
/* The registry options of pull, push and login, for their option tables. */
#define CLI_OPT_TLS_VERIFY \
	{0, "tls-verify", "BOOL", true, "=false allows plain http and unverified TLS certificates"}
#define CLI_OPT_QUIET {'q', "quiet", NULL, false, "no progress output"}
/* The arguments of pull, push and login (cli_registry_parse, cmd_pull.c). */
struct cli_registry_args {
	const char *cmd;
	struct registry_opts o; /* --tls-verify, --platform, -q (and the global -q) */
	const char *user;       /* login: -u */
	bool from_stdin;        /* login: --password-stdin */
	const char *args[2];    /* the operands, at most max_args */
	const char *compression, *compression_level; /* push: --compression, --compression-level */
	size_t n_args, max_args;
};
/* Parses argv against opts (built from the options above and login's); -p/--password
 * is refused, more than max_args operands is a usage error. */
int cli_registry_parse(const struct cli_option *opts, size_t max_args, int argc, char **argv,
		       struct cli_registry_args *ret, struct molt_error **err);
/* The resolved store root (never NULL). */
const char *cli_store_root(struct molt_global *g);
/*
 * Opens the store. in_build_ns: enters the build namespace first, while molt is
 * single-threaded (the commands that make store files: they are made there).
 */
int cli_store_open(struct molt_global *g, bool in_build_ns, struct layer_store **ret,
		   struct molt_error **err);
/* Opens the store (as cli_store_open) and resolves image, a name or an ID, in it. */
int cli_store_image(struct molt_global *g, bool in_build_ns, const char *image,
		    struct layer_store **ret_store, struct image **ret_img,
		    struct molt_error **err);
/* Opens the store (as cli_store_open) for a command whose operands, argv[1] on, are one
 * or more IMAGEs (inspect, rmi): none at all is a usage error. */
int cli_store_for_images(int argc, char **argv, struct molt_global *g, bool in_build_ns,
			 struct layer_store **ret, struct molt_error **err);

int cmd_build(int argc, char **argv, struct molt_global *g, struct molt_error **err);
int cmd_run(int argc, char **argv, struct molt_global *g, struct molt_error **err);
int cmd_images(int argc, char **argv, struct molt_global *g, struct molt_error **err);
int cmd_inspect(int argc, char **argv, struct molt_global *g, struct molt_error **err);
int cmd_tag(int argc, char **argv, struct molt_global *g, struct molt_error **err);
int cmd_rmi(int argc, char **argv, struct molt_global *g, struct molt_error **err);
int cmd_prune(int argc, char **argv, struct molt_global *g, struct molt_error **err);
int cmd_load(int argc, char **argv, struct molt_global *g, struct molt_error **err);
int cmd_save(int argc, char **argv, struct molt_global *g, struct molt_error **err);
int cmd_import(int argc, char **argv, struct molt_global *g, struct molt_error **err);
int cmd_pull(int argc, char **argv, struct molt_global *g, struct molt_error **err);
int cmd_push(int argc, char **argv, struct molt_global *g, struct molt_error **err);
int cmd_login(int argc, char **argv, struct molt_global *g, struct molt_error **err);
int cmd_logout(int argc, char **argv, struct molt_global *g, struct molt_error **err);

#endif
