/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Instructions that only change the image config (ENV, LABEL, CMD, ENTRYPOINT, …)
 * and WORKDIR, which also creates its directory. Each returns a step result whose
 * history entry is BuildKit's (created_by = the instruction, empty_layer when no
 * layer); instr_config_apply() is the config change of every instruction, which
 * stage_apply() makes for a step that ran and one the cache replays alike.
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

/* Adds each of add (may be NULL) to *v unless it is there (EXPOSE, VOLUME). */
static void add_unique(char ***v, char *const *add)
{
	for (size_t i = 0; add && add[i]; i++)
		if (!strv_contains(*v, add[i]))
			strv_push(v, add[i]);
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

/* The config field a one-value instruction sets (USER, STOPSIGNAL, MAINTAINER, WORKDIR). */
static char **value_field(struct image_config *c, enum df_kind kind)
{
	switch (kind) {
	case DF_USER:
		return &c->user;
	case DF_STOPSIGNAL:
		return &c->stop_signal;
	case DF_MAINTAINER:
		return &c->author;
	default:
		return &c->working_dir;
	}
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

static char *command_history(const struct build_instr *in)
{
	_cleanup_strv_ char **argv = join_command(in);
	_cleanup_free_ char *j = json_argv(argv);
	return xasprintf("%s %s", df_kind_name(in->kind), j);
}

static void set_command(struct stage_run *sr, const struct build_instr *in)
{
	struct image_config *c = &sr->config;
	char **argv = join_command(in);
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

/* The history entry of a metadata instruction, as BuildKit writes it (NULL: none). */
static char *meta_history(const struct build_instr *in)
{
	switch (in->kind) {
	case DF_ENV:
	case DF_LABEL: {
		_cleanup_free_ char *t = pairs_text(in);
		return xasprintf("%s %s", df_kind_name(in->kind), t);
	}
	case DF_ARG:
		return NULL; /* no config change and no history entry (BuildKit) */
	case DF_CMD:
	case DF_ENTRYPOINT:
		return command_history(in);
	case DF_SHELL:
	case DF_VOLUME: {
		_cleanup_free_ char *j = json_argv(in->kind == DF_SHELL ? in->command : in->paths);
		return xasprintf("%s %s", df_kind_name(in->kind), j);
	}
	case DF_EXPOSE:
		return xasprintf("EXPOSE %s", in->original + strlen("EXPOSE "));
	case DF_HEALTHCHECK:
		return xstrdup(in->original);
	case DF_USER:
	case DF_STOPSIGNAL:
	case DF_ONBUILD:
	case DF_MAINTAINER:
		return xasprintf("%s %s", df_kind_name(in->kind), in->value);
	default:
		return NULL;
	}
}

int instr_metadata(struct stage_run *sr, const struct build_instr *in, struct step_result *res,
		   struct molt_error **err)
{
	(void)sr;
	res->created_by = meta_history(in);
	if (!res->created_by && in->kind != DF_ARG)
		return molt_error_setx(err, EINVAL, "%s is not a metadata instruction",
				       df_kind_name(in->kind));
	return 0;
}

void instr_config_apply(struct stage_run *sr, const struct build_instr *in)
{
	struct image_config *c = &sr->config;
	switch (in->kind) {
	case DF_ENV:
	case DF_LABEL:
		for (size_t i = 0; i < in->n_pairs; i++)
			env_index_set(in->kind == DF_ENV ? &sr->env_idx : &sr->label_idx,
				      in->kind == DF_ENV ? &c->env : &c->labels, in->pairs[i].key,
				      in->pairs[i].value ? in->pairs[i].value : "");
		break;
	case DF_CMD:
	case DF_ENTRYPOINT:
		set_command(sr, in);
		break;
	case DF_SHELL:
		strv_free(c->shell);
		c->shell = strv_copy(in->command);
		break;
	case DF_EXPOSE:
		add_unique(&c->exposed_ports, in->ports);
		break;
	case DF_VOLUME:
		add_unique(&c->volumes, in->paths);
		break;
	case DF_USER:
	case DF_STOPSIGNAL:
	case DF_MAINTAINER:
	case DF_WORKDIR:
		set_str(value_field(c, in->kind), in->value);
		break;
	case DF_HEALTHCHECK:
		set_healthcheck(c, in);
		break;
	case DF_ONBUILD:
		strv_push(&c->onbuild, in->value);
		break;
	default:
		break; /* ARG, and the steps whose change is their layer */
	}
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
