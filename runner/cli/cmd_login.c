/* SPDX-License-Identifier: Apache-2.0 */
/* molt login / molt logout: credentials checked against the registry, then kept in the
 * containers auth file (or docker's credential helper). Never printed or logged. */
#include <fcntl.h>
#include <string.h>
#include <termios.h>

#include "../../layers/layers.h"
#include "cli.h"

#define SECRET_MAX (64u << 10)

/* "https://host/v1/" and "host/" are "host", as docker login accepts them. */
static char *host_of(const char *arg)
{
	const char *p = strstr(arg, "://");
	p = p ? p + 3 : arg;
	return xstrndup(p, strcspn(p, "/"));
}

/* Reads one line (without its newline) of at most SECRET_MAX bytes from fd. */
static int read_line(int fd, char **ret, struct molt_error **err)
{
	struct strbuf sb = STRBUF_INIT;
	char c;
	ssize_t n;
	while ((n = read(fd, &c, 1)) == 1 && c != '\n') {
		if (sb.len >= SECRET_MAX) {
			explicit_bzero(sb.buf, sb.len);
			strbuf_done(&sb);
			return molt_error_setx(err, EFBIG, "the password is longer than %u bytes",
					       SECRET_MAX);
		}
		strbuf_addc(&sb, c);
	}
	if (n < 0) {
		strbuf_done(&sb);
		return molt_error_set(err, errno, "read the password");
	}
	if (sb.len && sb.buf[sb.len - 1] == '\r')
		sb.buf[--sb.len] = '\0';
	*ret = strbuf_detach(&sb);
	return 0;
}

/* Asks on the terminal (echo off for a password); no terminal is an error. */
static int ask(const char *prompt, bool secret, char **ret, struct molt_error **err)
{
	_cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return molt_error_setx(err, ENXIO,
				       "no terminal to ask for the %s (use -u USER and "
				       "--password-stdin)",
				       secret ? "password" : "user name");
	struct termios old, quiet;
	bool restore = secret && tcgetattr(fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	(void)write_all(fd, prompt, strlen(prompt));
	int r = read_line(fd, ret, err);
	if (restore) {
		(void)tcsetattr(fd, TCSAFLUSH, &old);
		(void)write_all(fd, "\n", 1);
	}
	return r;
}

const struct cli_option cmd_login_options[] = {
	{'u', "username", "USER", false, "the user name (asked for when missing)"},
	{0, "password-stdin", NULL, false, "read the password from stdin (else asked on the terminal)"},
	{'p', "password", "PASSWORD", false, "refused: a password on the command line is visible"},
	CLI_OPT_TLS_VERIFY,
	{0, NULL, NULL, false, NULL},
};

int cmd_login(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	(void)g;
	struct cli_registry_args a;
	int pr = cli_registry_parse(cmd_login_options, 1, argc, argv, &a, err);
	if (pr < 0)
		return pr;
	struct registry_opts o = a.o;
	const char *user = a.user, *reg = a.args[0];
	bool from_stdin = a.from_stdin;
	if (!reg)
		return cli_usage_error(err, argv[0], "a registry is required");
	_cleanup_free_ char *host = host_of(reg);
	_cleanup_free_ char *asked_user = NULL;
	char *secret = NULL;
	int r = 0;
	if (!user && (r = ask("Username: ", false, &asked_user, err)) == 0)
		user = asked_user;
	if (r == 0)
		r = from_stdin ? read_line(STDIN_FILENO, &secret, err)
			       : ask("Password: ", true, &secret, err);
	if (r == 0 && (!*user || !*secret))
		r = molt_error_setx(err, EINVAL,
				    "login '%s': the user name and the password must "
				    "not be empty",
				    host);
	if (r == 0)
		r = registry_login(host, user, secret, &o, err);
	if (secret) {
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
	if (r < 0)
		return r;
	printf("Login Succeeded!\n");
	return 0;
}

int cmd_logout(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	(void)g;
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage_error(err, argv[0], "exactly one registry is required");
	_cleanup_free_ char *host = host_of(argv[1]);
	int r = registry_logout(host, err);
	if (r < 0)
		return r;
	printf("Removed login credentials for %s\n", host);
	return 0;
}
