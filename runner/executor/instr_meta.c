/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Instructions that only change the image config (ENV, LABEL, CMD, ENTRYPOINT, …)
 * and WORKDIR, which also creates its directory. Each records a history entry the
 * way BuildKit does (created_by = the instruction, empty_layer when no layer).
 */
#include <fcntl.h>
#include <string.h>

#include "stage.h"
#include "stepfs.h"

static char **join_command(const struct build_instr *in)
{
	if (in->exec_form)
		return strv_copy(in->command);
	/* Shell form runs through SHELL (default /bin/sh -c). */
	char **v = strv_copy(in->shell && in->shell[0] ? in->shell : (char *[]){"/bin/sh", "-c", NULL});
	if (in->command && in->command[0])
		strv_push(&v, in->command[0]);
	return v;
}

static void add_unique(char ***v, const char *s)
{
	if (!strv_contains(*v, s))
		strv_push(v, s);
}

static void set_healthcheck(struct image_config *c, const struct build_instr *in)
{
	struct image_healthcheck *h = &c->healthcheck;
	strv_free(h->test);
	h->test = NULL;
	if (in->health.none) {
		strv_push(&h->test, "NONE");
		h->interval = h->timeout = h->start_period = h->start_interval = 0;
		h->retries = 0;
		return;
	}
	if (in->exec_form) {
		strv_push(&h->test, "CMD");
		for (size_t i = 0; in->command && in->command[i]; i++)
			strv_push(&h->test, in->command[i]);
	} else {
		strv_push(&h->test, "CMD-SHELL");
		strv_push(&h->test, in->command && in->command[0] ? in->command[0] : "");
	}
	h->interval = in->health.interval;
	h->timeout = in->health.timeout;
	h->start_period = in->health.start_period;
	h->start_interval = in->health.start_interval;
	h->retries = in->health.retries;
}

static void set_str(char **field, const char *value)
{
	free(*field);
	*field = value ? xstrdup(value) : NULL;
}

/* BuildKit writes the command of CMD/ENTRYPOINT/SHELL as a JSON array in history. */
static char *json_argv(char *const *v)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addc(&sb, '[');
	for (size_t i = 0; v && v[i]; i++) {
		strbuf_adds(&sb, i ? ",\"" : "\"");
		for (const char *c = v[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				strbuf_addc(&sb, '\\');
			strbuf_addc(&sb, *c);
		}
		strbuf_addc(&sb, '"');
	}
	strbuf_addc(&sb, ']');
	return strbuf_detach(&sb);
}

static char *pairs_text(const struct build_instr *in)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < in->n_pairs; i++)
		strbuf_addf(&sb, "%s%s=%s", i ? " " : "", in->pairs[i].key,
			    in->pairs[i].value ? in->pairs[i].value : "");
	return strbuf_detach(&sb);
}

static void set_command(struct stage_run *sr, const struct build_instr *in, char **ret_hist)
{
	struct image_config *c = &sr->config;
	char **argv = join_command(in);
	_cleanup_free_ char *j = json_argv(argv);
	*ret_hist = xasprintf("%s %s", df_kind_name(in->kind), j);
	if (in->kind == DF_CMD) {
		strv_free(c->cmd);
		c->cmd = argv;
		sr->cmd_set = true;
	} else {
		strv_free(c->entrypoint);
		c->entrypoint = argv;
		/* An ENTRYPOINT resets a CMD inherited from the base (Dockerfile reference). */
		if (!sr->cmd_set) {
			strv_free(c->cmd);
			c->cmd = NULL;
		}
	}
}

int instr_metadata(struct stage_run *sr, const struct build_instr *in, struct molt_error **err)
{
	struct image_config *c = &sr->config;
	_cleanup_free_ char *hist = NULL;
	switch (in->kind) {
	case DF_ENV:
	case DF_LABEL: {
		for (size_t i = 0; i < in->n_pairs; i++)
			env_index_set(in->kind == DF_ENV ? &sr->env_idx : &sr->label_idx,
				      in->kind == DF_ENV ? &c->env : &c->labels, in->pairs[i].key,
				      in->pairs[i].value ? in->pairs[i].value : "");
		_cleanup_free_ char *t = pairs_text(in);
		hist = xasprintf("%s %s", df_kind_name(in->kind), t);
		break;
	}
	case DF_ARG:
		return 0; /* no config change and no history entry (BuildKit) */
	case DF_CMD:
	case DF_ENTRYPOINT:
		set_command(sr, in, &hist);
		break;
	case DF_SHELL: {
		strv_free(c->shell);
		c->shell = strv_copy(in->command);
		_cleanup_free_ char *j = json_argv(in->command);
		hist = xasprintf("SHELL %s", j);
		break;
	}
	case DF_EXPOSE:
		for (size_t i = 0; in->ports && in->ports[i]; i++)
			add_unique(&c->exposed_ports, in->ports[i]);
		hist = xasprintf("EXPOSE %s", in->original + strlen("EXPOSE "));
		break;
	case DF_VOLUME: {
		for (size_t i = 0; in->paths && in->paths[i]; i++)
			add_unique(&c->volumes, in->paths[i]);
		_cleanup_free_ char *j = json_argv(in->paths);
		hist = xasprintf("VOLUME %s", j);
		break;
	}
	case DF_USER:
		set_str(&c->user, in->value);
		hist = xasprintf("USER %s", in->value);
		break;
	case DF_STOPSIGNAL:
		set_str(&c->stop_signal, in->value);
		hist = xasprintf("STOPSIGNAL %s", in->value);
		break;
	case DF_HEALTHCHECK:
		set_healthcheck(c, in);
		hist = xstrdup(in->original);
		break;
	case DF_ONBUILD:
		strv_push(&c->onbuild, in->value);
		hist = xasprintf("ONBUILD %s", in->value);
		break;
	case DF_MAINTAINER:
		set_str(&c->author, in->value);
		hist = xasprintf("MAINTAINER %s", in->value);
		break;
	default:
		return molt_error_setx(err, EINVAL, "%s is not a metadata instruction",
				       df_kind_name(in->kind));
	}
	stage_history(sr, hist, true);
	return 0;
}

/*
 * WORKDIR sets the working directory and creates it when missing — as BuildKit,
 * which then records the new directory as a layer.
 */
/*
 * BuildKit makes a missing working directory (and its missing parents) owned by the
 * stage's USER, resolved as --chown is; a name the stage's /etc/passwd lacks leaves
 * them root's, as BuildKit's readUser does.
 */
static int workdir_owner(int rootfd, const char *user, uid_t *ret_uid, gid_t *ret_gid,
			 struct molt_error **err)
{
	if (!user || !*user)
		return 0;
	_cleanup_error_ struct molt_error *e = NULL;
	int r = chown_resolve(rootfd, user, ret_uid, ret_gid, &e);
	if (r == -ENOENT) {
		*ret_uid = 0;
		*ret_gid = 0;
		return 0;
	}
	if (r < 0) {
		*err = TAKE_PTR(e);
		return r;
	}
	return 0;
}

int instr_workdir(struct stage_run *sr, const struct build_instr *in, struct step_result *res,
		  struct molt_error **err)
{
	res->workdir = xstrdup(in->value);
	struct stepfs *fs = NULL;
	int r = step_mount(sr, &fs, err);
	if (r < 0)
		return r;
	_cleanup_close_ int root = open(fs->merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
	uid_t uid = 0;
	gid_t gid = 0;
	int d = root < 0 ? -errno : workdir_owner(root, sr->config.user, &uid, &gid, err);
	if (d == 0)
		d = copy_mkdir_in_root(root, in->value, uid, gid);
	if (d < 0 && !*err)
		r = molt_error_set(err, -d, "create the working directory '%s'", in->value);
	else if (d < 0)
		r = molt_error_wrap(err, "create the working directory '%s'", in->value);
	else
		close(d);
	_cleanup_free_ char *hist = xasprintf("WORKDIR %s", in->value);
	return step_finish(sr, fs, r, hist, res, err);
}
