/* SPDX-License-Identifier: Apache-2.0 */
/* molt load [-i FILE|DIR|-]: a docker save tar, an OCI archive or an OCI layout
 * directory; without -i (or -i -) the tar comes on stdin, as docker load. */
#include <string.h>
#include <sys/stat.h>

#include "../../layers/layers.h"
#include "../../sandbox/sandbox.h"
#include "cli.h"

const struct cli_option cmd_load_options[] = {
	{'i', "input", "FILE|DIR|-", false, "what to load (default, and -: a tar on stdin)"},
	CLI_OPT_MAX_UNPACK,
	{0, NULL, NULL, false, NULL},
};

/* The loader reads a path (and seeks): stdin is copied to an unnamed scratch file
 * first, and loaded through /proc/self/fd. */
static int load_stdin(struct layer_store *s, char ***ret_names, struct molt_error **err)
{
	const char *tmp = NULL;
	int r = layer_store_tmpdir(s, &tmp, err);
	_cleanup_close_ int fd = -1;
	if (r == 0)
		r = stream_stdin_to_file(tmp, 0, &fd, err);
	if (r < 0)
		return molt_error_wrap(err, "load from stdin");
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size == 0)
		return cli_usage_error(err, "load", "nothing to load: stdin is empty (give -i FILE|DIR, "
						    "or a tar on stdin)");
	_cleanup_free_ char *path = xasprintf("/proc/self/fd/%d", fd);
	r = layer_store_load(s, path, ret_names, err);
	return r < 0 ? molt_error_wrap(err, "load from stdin") : 0;
}

int cmd_load(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	struct cli_args a;
	if (cli_parse_args(argv[0], cmd_load_options, argc, argv, NULL, &a, err) < 0)
		return molt_error_pass(err);
	const char *input = cli_args_get(&a, "input", NULL);
	const char *max_unpack = cli_args_get(&a, "max-unpack", NULL);
	const char *extra = a.n_operands ? a.operands[0] : NULL;
	cli_args_done(&a);
	if (extra)
		return cli_usage_error(err, argv[0], "unexpected argument '%s'", extra);
	if (max_unpack && cli_set_max_unpack(argv[0], max_unpack, err) < 0)
		return molt_error_pass(err);
	bool from_stdin = !input || !strcmp(input, "-");
	if (from_stdin && stream_refuse_tty(STDIN_FILENO, "read an image tar from", err) < 0)
		return molt_error_wrap(err, "load: use -i FILE or redirect stdin");
	_cleanup_store_ struct layer_store *s = NULL;
	_cleanup_strv_ char **names = NULL;
	int r = cli_store_open(g, true, &s, err);
	if (r == 0 && from_stdin)
		r = load_stdin(s, &names, err);
	else if (r == 0)
		r = layer_store_load(s, input, &names, err);
	if (r < 0)
		return r;
	for (size_t i = 0; names[i]; i++)
		printf("Loaded image%s: %s\n", digest_is_valid(names[i]) ? " ID" : "", names[i]);
	return 0;
}
