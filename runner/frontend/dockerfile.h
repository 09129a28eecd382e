/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/dockerfile.h: the Dockerfile frontend's syntax tree and parser (runner-internal).
 *
 * The tree is raw: words and flag values are exactly as written (quotes of flag values
 * removed, nothing expanded), because what a `$VAR` means depends on the ARG/ENV scope,
 * which only the planner (runner/frontend/plan.h) knows. What can be checked without a scope is
 * checked here: instruction names, flag names and their syntax, JSON forms, parser
 * directives, heredoc termination, HEALTHCHECK durations, ENV/LABEL/ARG shapes.
 */
#ifndef MOLT_RUNNER_DOCKERFILE_H
#define MOLT_RUNNER_DOCKERFILE_H

#include "../../lib/base.h"

/* Sorted by name; df_kind_name() gives the upper-case keyword. */
enum df_kind {
	DF_ADD,
	DF_ARG,
	DF_CMD,
	DF_COPY,
	DF_ENTRYPOINT,
	DF_ENV,
	DF_EXPOSE,
	DF_FROM,
	DF_HEALTHCHECK,
	DF_LABEL,
	DF_MAINTAINER,
	DF_ONBUILD,
	DF_RUN,
	DF_SHELL,
	DF_STOPSIGNAL,
	DF_USER,
	DF_VOLUME,
	DF_WORKDIR,
	DF_KIND_COUNT,
};

/* An instruction flag, `--name=value` or bare `--name`. */
struct df_flag {
	char *name;  /* without the leading "--", lower case as written */
	char *value; /* quotes removed, not expanded; NULL for a bare `--name` */
};

/* A here-document attached to RUN, COPY or ADD. */
struct df_heredoc {
	char *name;    /* the delimiter without quotes and without `<<` / `<<-` */
	char *content; /* the body, every line ending with "\n"; leading tabs gone for <<- */
	bool expand;   /* false when the delimiter was quoted: the body is used verbatim */
	bool chomp;    /* `<<-` */
};

/* ENV / LABEL pairs and ARG declarations, raw (quotes still in place). */
struct df_kv {
	char *key;
	char *value; /* NULL: ARG declared without a default */
};

/* HEALTHCHECK options; durations in nanoseconds, 0 = unset (Docker's default applies). */
struct df_health {
	bool none;
	int64_t interval, timeout, start_period, start_interval;
	int retries;
};

struct df_instr {
	enum df_kind kind;
	int line;       /* 1-based line of the keyword */
	int end_line;   /* last physical line, heredoc bodies included */
	char *original; /* the instruction line, continuations joined (escape char removed) */
	char *rest;     /* the text after the keyword and the flags */
	struct df_flag *flags;
	size_t n_flags;
	/*
	 * RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK CMD: exec form (json) = the elements,
	 * shell form = one string. COPY, ADD, VOLUME: JSON elements or whitespace-split
	 * words. EXPOSE, FROM: words. USER, WORKDIR, STOPSIGNAL, MAINTAINER: one string.
	 * ONBUILD: one string (the trigger's text).
	 */
	char **args;
	bool json;
	struct df_kv *kvs; /* ENV, LABEL, ARG */
	size_t n_kvs;
	struct df_heredoc *heredocs;
	size_t n_heredocs;
	struct df_health health;  /* HEALTHCHECK */
	struct df_instr *trigger; /* ONBUILD: the parsed trigger instruction */
};

struct dockerfile {
	char *name;   /* what messages call the file: "Dockerfile" or the -f file's base name */
	char escape;  /* '\\' or '`' */
	char *syntax; /* `# syntax=` or NULL */
	char *check;  /* `# check=` or NULL */
	struct df_instr *instrs;
	size_t n_instrs;
	char **lines; /* the physical source lines, for echoing them in errors */
	size_t n_lines;
};

/*
 * Parses a Dockerfile. `name` is what messages call it (NULL: "Dockerfile"). Syntax
 * errors are usage errors (exit 2) whose message is "NAME:LINE: what" and whose detail
 * echoes the line (and a caret when the column is known).
 */
int dockerfile_parse(const char *text, size_t len, const char *name, struct dockerfile **ret,
		     struct molt_error **err);
void dockerfile_free(struct dockerfile *df);
void df_instr_done(struct df_instr *in);
/* Frees the n here-documents and the array (the parser's, and the plan's copies). */
void df_heredocs_free(struct df_heredoc *h, size_t n);

/* "RUN" for DF_RUN; df_kind_from_name is case-insensitive and returns -1 if unknown. */
const char *df_kind_name(enum df_kind k);
int df_kind_from_name(const char *name);

/* The flag's value if the instruction has it (bare flag: ""), else NULL. */
const char *df_instr_flag(const struct df_instr *in, const char *name);

/*
 * A syntax error at LINE (1-based) and COL (1-based, 0 = unknown) of df: exit code 2,
 * message "NAME:LINE: <fmt>", detail = the source line and a caret line.
 */
int df_error(const struct dockerfile *df, struct molt_error **err, int line, int col,
	     const char *fmt, ...) MOLT_PRINTF(5, 6);

/* Same, with the column where `needle` first occurs in that line (0 when it does not). */
int df_error_at(const struct dockerfile *df, struct molt_error **err, int line, const char *needle,
		const char *fmt, ...) MOLT_PRINTF(5, 6);

/* ---- runner/frontend/directives.c */

/*
 * Reads the parser directives at the top of the file (`# syntax=`, `# escape=`,
 * `# check=`) into df and returns the index of the first line that is not a directive.
 */
int df_parse_directives(struct dockerfile *df, size_t *ret_first_line, struct molt_error **err);

/* ---- runner/frontend/heredoc.c */

/* One `<<[-]["']NAME["']` marker found in an instruction line. */
struct df_heredoc_marker {
	char *name;
	bool expand, chomp;
};
/* The heredoc markers of a line (words starting with `<<`), in order. */
size_t df_heredoc_markers(const char *line, struct df_heredoc_marker **ret);
/* If `word` is a heredoc reference (`<<EOF`, `<<-"EOF"`), its name (allocated), else NULL. */
char *df_heredoc_word_name(const char *word);

/* ---- runner/frontend/lexer.c */

/* BuildKit's parseWords: splits on whitespace, keeping quotes and escapes in the words. */
char **df_words(const char *s, char escape);
/* Splits on runs of blanks, nothing else special (BuildKit's whitespace-delimited form). */
char **df_split_ws(const char *s);
/* A JSON array of strings -> strv (0), or -EINVAL when s is not exactly that. */
int df_json_strings(const char *s, char ***ret);
/*
 * The leading `--flag` words of an instruction's text, quotes and backslash escapes
 * removed (BuildKit's extractBuilderFlags); *ret_rest points at what follows.
 */
char **df_extract_flags(const char *line, const char **ret_rest);

/* ---- runner/frontend/flags.c */

enum df_flag_type {
	DF_FLAG_STRING,   /* --name=value, once */
	DF_FLAG_LIST,     /* --name=value, repeatable */
	DF_FLAG_BOOL,     /* --name, --name=true|false */
	DF_FLAG_DURATION, /* Go duration, HEALTHCHECK */
	DF_FLAG_INT,      /* HEALTHCHECK --retries */
};
/* The type of flag `name` on instruction `kind`, or -1 when it does not take it. */
int df_flag_type(enum df_kind kind, const char *name);
/* Checks an instruction's flags against its table; line is for messages. */
int df_check_flags(const struct dockerfile *df, const struct df_instr *in,
		   struct molt_error **err);
/* Fills in->health from HEALTHCHECK's flags (after df_check_flags). */
int df_parse_health_flags(const struct dockerfile *df, struct df_instr *in,
			  struct molt_error **err);
/* "true"/"false"/NULL(bare) -> bool; -EINVAL otherwise. */
int df_parse_bool(const char *value, bool *ret);
/* Go's time.ParseDuration ("1m30s", "500ms", "1.5h"); negative values are -EINVAL. */
int df_parse_duration(const char *s, int64_t *ret_ns);

#endif
