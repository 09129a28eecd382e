/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/registry_toml.c: the TOML subset of registries.conf (registry_toml.h says
 * which), parsed into a jansson tree. The input is a file the user wrote, so every
 * error names the line; nesting is bounded so a hostile file cannot exhaust the stack.
 */
#include <string.h>

#include "registry_toml.h"

#define TOML_MAX_DEPTH 32
#define TOML_MAX_KEY_PARTS 16

struct toml_parser {
	const char *path;
	const char *p, *end;
	int line;
	registry_toml_check_fn check;
	registry_toml_table_fn table_check;
	json_t *root;
	json_t *cur;	/* the table key = value lines go into (borrowed) */
	char *cur_path; /* its dotted path, array indices left out */
	struct molt_error **err;
};

MOLT_PRINTF(2, 3) static int fail(struct toml_parser *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return molt_error_setx(t->err, EINVAL, "%s:%d: %s", t->path, t->line, msg);
}

/* A character for a message: quoted when printable, else as a byte value. */
static const char *show_char(char c, char buf[16])
{
	if ((unsigned char)c > ' ' && (unsigned char)c < 0x7f)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02x", (unsigned char)c);
	return buf;
}

static bool at_end(const struct toml_parser *t)
{
	return t->p >= t->end;
}

static void skip_ws(struct toml_parser *t)
{
	while (!at_end(t) && (*t->p == ' ' || *t->p == '\t'))
		t->p++;
}

static void skip_comment(struct toml_parser *t)
{
	if (!at_end(t) && *t->p == '#')
		while (!at_end(t) && *t->p != '\n')
			t->p++;
}

/* Consumes one line end ("\n" or "\r\n"); false when there is none here. */
static bool eat_newline(struct toml_parser *t)
{
	if (!at_end(t) && *t->p == '\r' && t->p + 1 < t->end && t->p[1] == '\n')
		t->p++;
	if (at_end(t) || *t->p != '\n')
		return false;
	t->p++;
	t->line++;
	return true;
}

/* Whitespace, comments and line ends, as allowed between array elements. */
static void skip_blank(struct toml_parser *t)
{
	for (;;) {
		skip_ws(t);
		skip_comment(t);
		if (!eat_newline(t))
			return;
	}
}

/* After a statement only a comment may follow on the same line. */
static int expect_eol(struct toml_parser *t)
{
	skip_ws(t);
	skip_comment(t);
	if (at_end(t) || eat_newline(t))
		return 0;
	char b[16];
	return fail(t, "unexpected %s after the value (one key = value per line)",
		    show_char(*t->p, b));
}

static bool is_bare(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void add_utf8(struct strbuf *sb, uint32_t cp)
{
	if (cp < 0x80) {
		strbuf_addc(sb, (char)cp);
	} else if (cp < 0x800) {
		strbuf_addc(sb, (char)(0xc0 | (cp >> 6)));
		strbuf_addc(sb, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		strbuf_addc(sb, (char)(0xe0 | (cp >> 12)));
		strbuf_addc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		strbuf_addc(sb, (char)(0x80 | (cp & 0x3f)));
	} else {
		strbuf_addc(sb, (char)(0xf0 | (cp >> 18)));
		strbuf_addc(sb, (char)(0x80 | ((cp >> 12) & 0x3f)));
		strbuf_addc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		strbuf_addc(sb, (char)(0x80 | (cp & 0x3f)));
	}
}

static int parse_escape(struct toml_parser *t, struct strbuf *sb)
{
	if (at_end(t))
		return fail(t, "unterminated string");
	char c = *t->p++;
	const char *simple = strchr("btnfr\"\\", c);
	if (c && simple) {
		static const char out[] = "\b\t\n\f\r\"\\";
		strbuf_addc(sb, out[simple - "btnfr\"\\"]);
		return 0;
	}
	if (c != 'u' && c != 'U')
		return fail(t, "unknown escape '\\%c' in a string", c);
	int digits = c == 'u' ? 4 : 8;
	uint32_t cp = 0;
	for (int i = 0; i < digits; i++) {
		int h = at_end(t) ? -1 : hex_value(*t->p);
		if (h < 0)
			return fail(t, "'\\%c' needs %d hex digits", c, digits);
		cp = cp << 4 | (uint32_t)h;
		t->p++;
	}
	if (cp == 0)
		return fail(t, "a NUL character in a string is not supported");
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return fail(t, "'\\%c' is not a Unicode scalar value", c);
	add_utf8(sb, cp);
	return 0;
}

/* A "basic" or 'literal' single-line string; t->p is on the opening quote. */
static int parse_string(struct toml_parser *t, char **ret)
{
	char q = *t->p;
	if (t->p + 2 < t->end && t->p[1] == q && t->p[2] == q)
		return fail(t, "multi-line strings are not supported");
	t->p++;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_adds(&sb, "");
	for (;;) {
		if (at_end(t) || *t->p == '\n' || *t->p == '\r')
			return fail(t, "unterminated string");
		char c = *t->p;
		if (c == q) {
			t->p++;
			break;
		}
		if (((unsigned char)c < 0x20 && c != '\t') || c == 0x7f)
			return fail(t, "control character in a string");
		t->p++;
		if (c == '\\' && q == '"') {
			int r = parse_escape(t, &sb);
			if (r < 0)
				return r;
		} else {
			strbuf_addc(&sb, c);
		}
	}
	*ret = strbuf_detach(&sb);
	return 0;
}

static int parse_key_part(struct toml_parser *t, char **ret)
{
	if (!at_end(t) && (*t->p == '"' || *t->p == '\''))
		return parse_string(t, ret);
	const char *s = t->p;
	while (!at_end(t) && is_bare(*t->p))
		t->p++;
	if (t->p == s) {
		if (at_end(t) || *t->p == '\n' || *t->p == '\r')
			return fail(t, "expected a key");
		char b[16];
		return fail(t, "unexpected %s where a key was expected", show_char(*t->p, b));
	}
	*ret = xstrndup(s, (size_t)(t->p - s));
	return 0;
}

/* key or "quoted key" or a.b."c" — into a vector of its parts. */
static int parse_key(struct toml_parser *t, char ***ret)
{
	_cleanup_strv_ char **parts = NULL;
	for (;;) {
		char *part = NULL;
		int r = parse_key_part(t, &part);
		if (r < 0)
			return r;
		strv_push_take(&parts, part);
		if (strv_len(parts) > TOML_MAX_KEY_PARTS)
			return fail(t, "key has more than %d dotted parts", TOML_MAX_KEY_PARTS);
		skip_ws(t);
		if (at_end(t) || *t->p != '.')
			break;
		t->p++;
		skip_ws(t);
	}
	*ret = TAKE_PTR(parts);
	return 0;
}

/* A bare word ends at whitespace or punctuation that may follow a value. */
static size_t bare_word_len(const struct toml_parser *t)
{
	const char *q = t->p;
	while (q < t->end && !strchr(" \t\r\n,]}#", *q))
		q++;
	return (size_t)(q - t->p);
}

static int parse_scalar_word(struct toml_parser *t, json_t **ret)
{
	size_t n = bare_word_len(t);
	_cleanup_free_ char *w = xstrndup(t->p, n);
	if (strcmp(w, "true") == 0 || strcmp(w, "false") == 0) {
		*ret = json_boolean(w[0] == 't');
		t->p += n;
		return 0;
	}
	/* Decimal integers: [+-]digits with single underscores between digits. */
	_cleanup_strbuf_ struct strbuf digits = STRBUF_INIT;
	const char *s = w;
	if (*s == '+' || *s == '-')
		strbuf_addc(&digits, *s++);
	bool ok = *s >= '0' && *s <= '9' && !(s[0] == '0' && s[1] != '\0');
	for (; ok && *s; s++) {
		if (*s >= '0' && *s <= '9')
			strbuf_addc(&digits, *s);
		else if (!(*s == '_' && s[-1] >= '0' && s[-1] <= '9' && s[1] >= '0' && s[1] <= '9'))
			ok = false;
	}
	int64_t v;
	if (n == 0)
		return fail(t, "expected a value");
	if (!ok) {
		if (strchr("+-0123456789in", w[0]))
			return fail(t,
				    "value '%s': floats, dates and non-decimal numbers are not "
				    "supported",
				    w);
		return fail(t,
			    "value '%s' is not a string, boolean, number, array or table "
			    "(strings need quotes)",
			    w);
	}
	if (str_to_int64(strbuf_str(&digits), INT64_MIN, INT64_MAX, &v) < 0)
		return fail(t, "number '%s' is out of range", w);
	*ret = json_integer(v);
	t->p += n;
	return 0;
}

static int parse_value(struct toml_parser *t, int depth, json_t **ret);
static int set_key(struct toml_parser *t, json_t *tab, char **parts, json_t *value,
		   const char *check_table);

static int parse_array(struct toml_parser *t, int depth, json_t **ret)
{
	json_auto_t *arr = json_array();
	t->p++;
	for (;;) {
		skip_blank(t);
		if (!at_end(t) && *t->p == ']')
			break;
		json_t *v = NULL;
		int r = parse_value(t, depth + 1, &v);
		if (r < 0)
			return r;
		json_array_append_new(arr, v);
		skip_blank(t);
		if (!at_end(t) && *t->p == ',') {
			t->p++;
			continue;
		}
		if (at_end(t) || *t->p != ']')
			return fail(t, "expected ',' or ']' in an array");
		break;
	}
	t->p++;
	*ret = TAKE_PTR(arr);
	return 0;
}

/* KEY = VALUE (inline tables and statements alike); *ret_line (may be NULL) gets the
 * line the value starts on. */
static int parse_key_value(struct toml_parser *t, int depth, char ***ret_parts, json_t **ret_v,
			   int *ret_line)
{
	_cleanup_strv_ char **parts = NULL;
	int r = parse_key(t, &parts);
	if (r < 0)
		return r;
	if (at_end(t) || *t->p != '=')
		return fail(t, "expected '=' after key '%s'", parts[strv_len(parts) - 1]);
	t->p++;
	skip_ws(t);
	if (ret_line)
		*ret_line = t->line;
	r = parse_value(t, depth, ret_v);
	if (r < 0)
		return r;
	*ret_parts = TAKE_PTR(parts);
	return 0;
}

static int parse_inline_table(struct toml_parser *t, int depth, json_t **ret)
{
	json_auto_t *obj = json_object();
	t->p++;
	skip_ws(t);
	if (!at_end(t) && *t->p == '}') {
		t->p++;
		*ret = TAKE_PTR(obj);
		return 0;
	}
	for (;;) {
		_cleanup_strv_ char **parts = NULL;
		json_t *v = NULL;
		int r = parse_key_value(t, depth + 1, &parts, &v, NULL);
		if (r < 0)
			return r;
		r = set_key(t, obj, parts, v, NULL);
		if (r < 0)
			return r;
		skip_ws(t);
		if (!at_end(t) && *t->p == ',') {
			t->p++;
			skip_ws(t);
			continue;
		}
		if (!at_end(t) && *t->p == '}')
			break;
		return fail(t, "expected ',' or '}' in an inline table (it must be on one line)");
	}
	t->p++;
	*ret = TAKE_PTR(obj);
	return 0;
}

static int parse_value(struct toml_parser *t, int depth, json_t **ret)
{
	if (depth > TOML_MAX_DEPTH)
		return fail(t, "values nested more than %d deep", TOML_MAX_DEPTH);
	if (at_end(t))
		return fail(t, "expected a value");
	switch (*t->p) {
	case '"':
	case '\'': {
		_cleanup_free_ char *s = NULL;
		int r = parse_string(t, &s);
		if (r < 0)
			return r;
		*ret = json_string(s);
		if (!*ret)
			return fail(t, "string is not valid UTF-8");
		return 0;
	}
	case '[':
		return parse_array(t, depth, ret);
	case '{':
		return parse_inline_table(t, depth, ret);
	default:
		return parse_scalar_word(t, ret);
	}
}

static char *join_path(const char *base, char *const *parts, size_t n)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_adds(&sb, base);
	for (size_t i = 0; i < n; i++) {
		if (sb.len)
			strbuf_addc(&sb, '.');
		strbuf_adds(&sb, parts[i]);
	}
	return strbuf_detach(&sb);
}

/* Steps from a table into its sub-table `name` (the last element of an array of
 * tables), creating it when absent. */
static int descend(struct toml_parser *t, json_t *tab, const char *name, json_t **ret)
{
	json_t *child = json_object_get(tab, name);
	if (!child) {
		child = json_object();
		json_object_set_new(tab, name, child);
	}
	if (json_is_array(child)) {
		size_t n = json_array_size(child);
		child = n ? json_array_get(child, n - 1) : NULL;
	}
	if (!json_is_object(child))
		return fail(t, "'%s' is already a value, not a table", name);
	*ret = child;
	return 0;
}

/* key = value into tab (dotted keys make sub-tables); check_table is the dotted path of
 * tab for the schema check, NULL inside inline tables (their parent key is checked). */
static int set_key(struct toml_parser *t, json_t *tab, char **parts, json_t *value,
		   const char *check_table)
{
	json_auto_t *v = value;
	size_t n = strv_len(parts);
	for (size_t i = 0; i + 1 < n; i++) {
		json_t *child = json_object_get(tab, parts[i]);
		if (child && !json_is_object(child))
			return fail(t, "'%s' is already a value, not a table", parts[i]);
		int r = descend(t, tab, parts[i], &tab);
		if (r < 0)
			return r;
	}
	const char *key = parts[n - 1];
	if (json_object_get(tab, key))
		return fail(t, "duplicate key '%s'", key);
	if (check_table && t->check) {
		_cleanup_free_ char *table = join_path(check_table, parts, n - 1);
		const char *why = t->check(table, key, v);
		if (why)
			return fail(t, "'%s%s%s': %s", table, *table ? "." : "", key, why);
	}
	json_object_set(tab, key, v);
	return 0;
}

static int parse_header(struct toml_parser *t)
{
	bool is_array = t->p + 1 < t->end && t->p[1] == '[';
	t->p += is_array ? 2 : 1;
	skip_ws(t);
	_cleanup_strv_ char **parts = NULL;
	int r = parse_key(t, &parts);
	if (r < 0)
		return r;
	const char *close = is_array ? "]]" : "]";
	if ((size_t)(t->end - t->p) < strlen(close) || strncmp(t->p, close, strlen(close)) != 0)
		return fail(t, "expected '%s' to close the table header", close);
	t->p += strlen(close);
	_cleanup_free_ char *path = join_path("", parts, strv_len(parts));
	const char *why = t->table_check ? t->table_check(path, is_array) : NULL;
	if (why)
		return fail(t, "table [%s]: %s", path, why);

	json_t *tab = t->root;
	size_t n = strv_len(parts);
	for (size_t i = 0; i + 1 < n; i++) {
		r = descend(t, tab, parts[i], &tab);
		if (r < 0)
			return r;
	}
	const char *last = parts[n - 1];
	json_t *cur = json_object_get(tab, last);
	if (is_array) {
		if (!cur) {
			cur = json_array();
			json_object_set_new(tab, last, cur);
		} else if (!json_is_array(cur)) {
			return fail(t, "'%s' is already a table, not an array of tables", path);
		}
		json_t *obj = json_object();
		json_array_append_new(cur, obj);
		cur = obj;
	} else if (!cur) {
		cur = json_object();
		json_object_set_new(tab, last, cur);
	} else if (json_is_array(cur)) {
		return fail(t, "'%s' is an array of tables: write [[%s]]", path, path);
	} else if (!json_is_object(cur)) {
		return fail(t, "'%s' is already a value, not a table", path);
	}
	t->cur = cur;
	free(t->cur_path);
	t->cur_path = TAKE_PTR(path);
	return expect_eol(t);
}

static int parse_statement(struct toml_parser *t)
{
	if (*t->p == '[')
		return parse_header(t);
	_cleanup_strv_ char **parts = NULL;
	json_t *v = NULL;
	int line;
	int r = parse_key_value(t, 0, &parts, &v, &line);
	if (r < 0)
		return r;
	/* A wrong value is reported on the line its key is on, not where an array ends. */
	int end_line = t->line;
	t->line = line;
	r = set_key(t, t->cur, parts, v, t->cur_path);
	t->line = end_line;
	if (r < 0)
		return r;
	return expect_eol(t);
}

int registry_toml_parse(const char *path, const char *text, size_t len,
			registry_toml_check_fn check, registry_toml_table_fn table_check,
			json_t **ret, struct molt_error **err)
{
	json_auto_t *root = json_object();
	struct toml_parser t = {
		.path = path,
		.p = text,
		.end = text + len,
		.line = 1,
		.check = check,
		.table_check = table_check,
		.root = root,
		.cur = root,
		.cur_path = xstrdup(""),
		.err = err,
	};
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		t.p += 3;
	int r = 0;
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		for (const char *q = text; q < nul; q++)
			t.line += *q == '\n';
		r = fail(&t, "NUL byte in the file");
	}
	while (r == 0) {
		skip_blank(&t);
		if (at_end(&t))
			break;
		r = parse_statement(&t);
	}
	free(t.cur_path);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(root);
	return 0;
}
