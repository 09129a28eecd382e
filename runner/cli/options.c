/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/cli/options.c: a command's option table drives both its parsing and its
 * --help, so that an option is listed once and cannot be parsed but undocumented,
 * documented but refused, or taken as another option.
 */
#include <string.h>

#include "cli.h"

/* A usage error names the command and where its help is. */
int cli_usage_error(struct molt_error **err, const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return molt_error_usage(err, "%s: %s (see 'molt %s --help')", cmd, msg, cmd);
}

/* Help lines: "  -f, --file FILE|-        the Dockerfile …", continuation lines under it. */
#define HELP_COLUMN 27

void cli_options_help(const struct cli_option *opts, FILE *f)
{
	for (const struct cli_option *o = opts; o->name; o++) {
		_cleanup_free_ char *left = o->value_optional
			? xasprintf("--%s[=%s]", o->name, o->value)
			: o->value ? xasprintf("--%s %s", o->name, o->value) : xasprintf("--%s", o->name);
		if (o->short_name)
			fprintf(f, "  -%c, %-20s", o->short_name, left);
		else
			fprintf(f, "      %-20s", left);
		const char *line = o->help;
		for (bool first = true; *line; first = false) {
			size_t n = strcspn(line, "\n");
			fprintf(f, "%*s%.*s\n", first ? 1 : HELP_COLUMN, "", (int)n, line);
			line += n + (line[n] == '\n');
		}
	}
}

static const struct cli_option *find_long(const struct cli_option *opts, const char *name,
					  size_t len)
{
	for (const struct cli_option *o = opts; o->name; o++)
		if (strlen(o->name) == len && !strncmp(o->name, name, len))
			return o;
	return NULL;
}

static const struct cli_option *find_short(const struct cli_option *opts, char c)
{
	for (const struct cli_option *o = opts; o->name; o++)
		if (o->short_name == c)
			return o;
	return NULL;
}

/*
 * One option at argv[*i] (which starts with '-'): finds it in the table and its value
 * (--name=V, --name V, -xV, -x V); moves *i past a separate value.
 */
static int take_option(const char *cmd, const struct cli_option *opts, int argc, char **argv,
		       int *i, const struct cli_option **ret, const char **ret_value,
		       struct molt_error **err)
{
	const char *a = argv[*i];
	const char *v = NULL;
	const struct cli_option *o;
	bool inline_value;
	if (a[1] == '-') {
		const char *eq = strchr(a + 2, '=');
		o = find_long(opts, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
		if (!o)
			return cli_usage_error(err, cmd, "unknown option '%.*s'",
					       eq ? (int)(eq - a) : (int)strlen(a), a);
		v = eq ? eq + 1 : NULL;
		inline_value = eq != NULL;
	} else {
		o = find_short(opts, a[1]);
		if (!o)
			return cli_usage_error(err, cmd, "unknown option '%.2s'", a);
		v = a[2] ? a + 2 : NULL;
		inline_value = a[2] != '\0';
	}
	if (!o->value && inline_value)
		return cli_usage_error(err, cmd, "--%s takes no value", o->name);
	if (o->value && !inline_value && !o->value_optional) {
		if (*i + 1 >= argc)
			return cli_usage_error(err, cmd, "--%s needs a value", o->name);
		v = argv[++*i];
	}
	*ret = o;
	*ret_value = v;
	return 0;
}

static int parse_until(const char *cmd, const struct cli_option *opts, int argc, char **argv,
		       const struct cli_parse_fns *fns, void *userdata, int *stop_at,
		       struct molt_error **err)
{
	bool dashdash = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r;
		if (stop_at && (dashdash || a[0] != '-' || !a[1])) {
			*stop_at = i;
			return 0;
		}
		if (dashdash || a[0] != '-' || !a[1]) {
			r = fns->operand(userdata, a, err);
		} else if (!strcmp(a, "--")) {
			dashdash = true;
			continue;
		} else {
			const struct cli_option *o = NULL;
			const char *v = NULL;
			r = take_option(cmd, opts, argc, argv, &i, &o, &v, err);
			if (r == 0)
				r = fns->option(userdata, o, v, err);
		}
		if (r < 0)
			return r;
	}
	if (stop_at)
		*stop_at = argc;
	return 0;
}

int cli_parse(const char *cmd, const struct cli_option *opts, int argc, char **argv,
	      const struct cli_parse_fns *fns, void *userdata, struct molt_error **err)
{
	return parse_until(cmd, opts, argc, argv, fns, userdata, NULL, err);
}

static int args_option(void *userdata, const struct cli_option *o, const char *value,
		       struct molt_error **err)
{
	(void)err;
	struct cli_args *a = userdata;
	a->opts = xrealloc(a->opts, (a->n + 1) * sizeof(*a->opts));
	a->values = xrealloc(a->values, (a->n + 1) * sizeof(*a->values));
	a->opts[a->n] = o;
	a->values[a->n++] = value;
	return 0;
}

static int args_operand(void *userdata, const char *arg, struct molt_error **err)
{
	(void)err;
	struct cli_args *a = userdata;
	a->operands = xrealloc(a->operands, (a->n_operands + 2) * sizeof(char *));
	a->operands[a->n_operands++] = arg;
	a->operands[a->n_operands] = NULL;
	return 0;
}

int cli_parse_args(const char *cmd, const struct cli_option *opts, int argc, char **argv,
		   int *stop_at, struct cli_args *ret, struct molt_error **err)
{
	const struct cli_parse_fns fns = {args_option, args_operand};
	*ret = (struct cli_args){0};
	int r = parse_until(cmd, opts, argc, argv, &fns, ret, stop_at, err);
	if (r < 0)
		cli_args_done(ret);
	return r;
}

const char *cli_args_get(const struct cli_args *a, const char *name, bool *ret_given)
{
	const char *v = NULL;
	bool given = false;
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->opts[i]->name, name)) {
			v = a->values[i];
			given = true;
		}
	if (ret_given)
		*ret_given = given;
	return v;
}

void cli_args_done(struct cli_args *a)
{
	free(a->opts);
	free(a->values);
	free(a->operands);
	*a = (struct cli_args){0};
}

bool cli_one_of(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(v, *set))
			return true;
	return false;
}
