/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for runner/frontend/expand.c. Expected values follow BuildKit's shell lexer
 * (frontend/dockerfile/shell/lex.go and its lex_test.go), not bash: where the two
 * differ the case name says "BuildKit".
 */
#include <string.h>

#include "../../runner/frontend/expand.h"
#include "vars_test.h"
#include "tap.h"

static const char *const vars[][2] = {
	{"NAME", "world"},
	{"EMPTY", ""},
	{"FOO", "xxyy"},
	{"SP", "a b  c"},
	{"PATHV", "/tmp/tmp/bar.txt"},
	{"FILE", "/a/foo/b/c.txt"},
	{"STARS", "a***yy*"},
	{"URL", "http://example.org"},
	{"SPECIAL", "()[]{}^$.*?|\\x"},
	{"X", "x"},
	{"V", "1.2.3"},
	{"KOREAN", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4"}, /* 한국어 */
	{"ML", "line1\nline2"},
	{"NEEDLE", "\\*/"},
	{"GLOB", "/foo*/*/*.txt"},
};

static struct var_table table = {vars, ARRAY_SIZE(vars)};

struct word_case {
	const char *name;
	char escape;
	const char *in;
	const char *want;   /* NULL: an error is expected */
	const char *errsub; /* a substring of the error message */
};

static const struct word_case word_cases[] = {
	{"$v expands a set variable", 0, "$NAME", "world", NULL},
	{"${v} expands with braces", 0, "${NAME}", "world", NULL},
	{"a bare name ends at the first non-name character", 0, "$NAME.txt", "world.txt", NULL},
	{"braces delimit a name followed by name characters", 0, "${NAME}s", "worlds", NULL},
	{"a bare name takes all name characters", 0, "$NAMEs", "", NULL},
	{"an unset variable expands to empty", 0, "a${NOPE}b$NOPE", "ab", NULL},
	{"$ before a non-name character stays literal", 0, "a$ b$-", "a$ b", NULL},
	{"$ at the end stays literal", 0, "cost$", "cost$", NULL},
	{"$/ and $. stay literal", 0, "$/$.", "$/$.", NULL},
	{"$1 positional parameter expands to empty (BuildKit)", 0, "a$1b", "ab", NULL},
	{"a positional parameter takes all its digits (BuildKit)", 0, "$10x", "x", NULL},
	{"$$ special parameter expands to empty (BuildKit)", 0, "a$$b", "ab", NULL},
	{"special parameters $@ $* $# $? $! $- $0 expand to empty", 0, "[$@$*$#$?$!$-$0]", "[]",
	 NULL},
	{"${1} braced positional parameter expands to empty", 0, "[${1}]", "[]", NULL},
	{"${v:-w} uses w when v is unset", 0, "${NOPE:-def}", "def", NULL},
	{"${v:-w} uses w when v is empty", 0, "${EMPTY:-def}", "def", NULL},
	{"${v:-w} keeps a set value", 0, "${NAME:-def}", "world", NULL},
	{"${v-w} uses w when v is unset", 0, "${NOPE-def}", "def", NULL},
	{"${v-w} keeps an empty value", 0, "[${EMPTY-def}]", "[]", NULL},
	{"${v:+w} gives w when v is set and non-empty", 0, "${NAME:+alt}", "alt", NULL},
	{"${v:+w} is empty when v is empty", 0, "[${EMPTY:+alt}]", "[]", NULL},
	{"${v:+w} is empty when v is unset", 0, "[${NOPE:+alt}]", "[]", NULL},
	{"${v+w} gives w when v is set but empty", 0, "${EMPTY+alt}", "alt", NULL},
	{"${v+w} is empty when v is unset", 0, "[${NOPE+alt}]", "[]", NULL},
	{"${v:-} with v unset is empty", 0, "[${NOPE:-}]", "[]", NULL},
	{"${v:?msg} keeps a set value", 0, "${NAME:?oops}", "world", NULL},
	{"${v:?msg} fails with 'v: msg' when unset", 0, "${NOPE:?need it}", NULL, "NOPE: need it"},
	{"${v:?} unset fails 'is not allowed to be unset'", 0, "${NOPE:?}", NULL,
	 "NOPE: is not allowed to be unset"},
	{"${v:?} empty fails 'is not allowed to be empty'", 0, "${EMPTY:?}", NULL,
	 "EMPTY: is not allowed to be empty"},
	{"${v?} keeps an empty value", 0, "[${EMPTY?}]", "[]", NULL},
	{"${v?msg} fails when unset", 0, "${NOPE?gone}", NULL, "NOPE: gone"},
	{"${v?msg} message is itself expanded", 0, "${NOPE?need $NAME}", NULL, "NOPE: need world"},
	{"the error names the whole word", 0, "x${NOPE:?}", NULL, "failed to process 'x${NOPE:?}'"},
	{"nested expansion in the default word", 0, "${NOPE:-${NAME}}", "world", NULL},
	{"doubly nested defaults", 0, "${NOPE:-${NOPE2:-${NAME}!}}", "world!", NULL},
	{"default word mixes text and variables", 0, "${NOPE:-hello $NAME}", "hello world", NULL},
	{"alternative word is expanded", 0, "${NAME:+-$NAME-}", "-world-", NULL},
	{"TARGETVARIANT idiom ${v:+-${v}}", 0, "arm${EMPTY:+-${EMPTY}}", "arm", NULL},
	{"\\$ is a literal dollar", 0, "\\$NAME", "$NAME", NULL},
	{"\\${ is literal", 0, "\\${NAME}", "${NAME}", NULL},
	{"the escape before an ordinary character is removed", 0, "a\\bc", "abc", NULL},
	{"an escaped escape gives one escape character", 0, "a\\\\b", "a\\b", NULL},
	{"an escape at the end is dropped", 0, "abc\\", "abc", NULL},
	{"single quotes are literal", 0, "'$NAME ${NOPE:?x}'", "$NAME ${NOPE:?x}", NULL},
	{"single quotes keep the escape character", 0, "'a\\b'", "a\\b", NULL},
	{"double quotes expand and are removed", 0, "\"hi $NAME\"", "hi world", NULL},
	{"escaped double quote inside double quotes", 0, "\"say \\\"hi\\\"\"", "say \"hi\"", NULL},
	{"escape before other characters inside double quotes stays", 0, "\"a\\nb\"", "a\\nb", NULL},
	{"escaped $ inside double quotes", 0, "\"\\$NAME\"", "$NAME", NULL},
	{"escaped escape inside double quotes", 0, "\"a\\\\b\"", "a\\b", NULL},
	{"single quote inside double quotes is literal", 0, "\"it's $NAME\"", "it's world", NULL},
	{"double quote inside single quotes is literal", 0, "'say \"x\"'", "say \"x\"", NULL},
	{"adjacent quoted and unquoted parts join", 0, "a'b'\"c\"d", "abcd", NULL},
	{"escaped quotes outside quotes are literal", 0, "\\'x\\\"", "'x\"", NULL},
	{"quotes in a default word are removed", 0, "${NOPE:-'a b'}", "a b", NULL},
	{"an escaped } in a default word is literal", 0, "${NOPE:-a\\}b}", "a}b", NULL},
	{"backtick escape: `$ is a literal dollar", '`', "`$NAME", "$NAME", NULL},
	{"backtick escape: backslash is an ordinary character", '`', "C:\\path\\$NAME",
	 "C:\\path\\world", NULL},
	{"backtick escape: `\" inside double quotes", '`', "\"a`\"b\"", "a\"b", NULL},
	{"backtick escape: \\$ expands", '`', "\\$NAME", "\\world", NULL},
	{"${v#p} removes the shortest prefix", 0, "${FOO#*x}", "xyy", NULL},
	{"${v##p} removes the longest prefix", 0, "${FOO##*x}", "yy", NULL},
	{"${v%p} removes the shortest suffix", 0, "${FOO%y*}", "xxy", NULL},
	{"${v%%p} removes the longest suffix", 0, "${FOO%%y*}", "xx", NULL},
	{"${v#p} without a match leaves v", 0, "${FOO#z}", "xxyy", NULL},
	{"${v#} with an empty pattern leaves v", 0, "${FOO#}", "xxyy", NULL},
	{"${v%} with an empty pattern leaves v", 0, "${FOO%}", "xxyy", NULL},
	{"${v#*} lazy star matches nothing", 0, "${FOO#*}", "xxyy", NULL},
	{"${v#*x*y} (BuildKit lex_test)", 0, "${FOO#*x*y}", "y", NULL},
	{"? matches exactly one character", 0, "${FOO#?}", "xyy", NULL},
	{"\\* is a literal star in a pattern", 0, "${STARS%%\\**\\*}", "a", NULL},
	{"regexp metacharacters are literal in a pattern", 0, "${SPECIAL#()[]{\\}^$.\\*\\?|\\\\}",
	 "x", NULL},
	{"the pattern may come from a variable", 0, "${FOO#$X}", "xyy", NULL},
	{"version idiom ${V%.*}", 0, "${V%.*}", "1.2", NULL},
	{"version idiom ${V%%.*}", 0, "${V%%.*}", "1", NULL},
	{"${v#p} of an unset variable is empty", 0, "[${NOPE#x}]", "[]", NULL},
	{"${v:#p} behaves like ${v#p} (BuildKit)", 0, "${FOO:#x}", "xyy", NULL},
	{"? matches one multibyte character", 0, "${KOREAN#?}", "\xea\xb5\xad\xec\x96\xb4", NULL},
	{"% with ? trims one multibyte character", 0, "${KOREAN%?}", "\xed\x95\x9c\xea\xb5\xad",
	 NULL},
	{"* never crosses a newline (BuildKit regexp)", 0, "${ML##*e}", "1\nline2", NULL},
	{"${v/p/r} replaces the first match", 0, "${PATHV/\\/tmp/}", "/tmp/bar.txt", NULL},
	{"${v//p/r} replaces every match", 0, "${PATHV//\\/tmp/}", "/bar.txt", NULL},
	{"${v/p/r} replacement is expanded", 0, "${URL/http/$NAME}", "world://example.org", NULL},
	{"${v/p/r} without a match leaves v", 0, "${FOO/z/q}", "xxyy", NULL},
	{"${v/p/r} stars are greedy", 0, "${FILE/\\/*\\//X}", "Xc.txt", NULL},
	{"${v/p/r} pattern from a variable (BuildKit lex_test)", 0,
	 "${GLOB/$NEEDLE/.} - ${GLOB//$NEEDLE/.}", "/foo.*/*.txt - /foo..*.txt", NULL},
	{"${v//p/r} replacement keeps escapes (BuildKit)", 0, "${PATHV//\\//\\/}",
	 "\\/tmp\\/tmp\\/bar.txt", NULL},
	{"${v//p/r} with an empty pattern inserts everywhere (Go regexp)", 0, "${FOO//$EMPTY/-}",
	 "-x-x-y-y-", NULL},
	{"${v///} leaves v", 0, "${FOO///}", "xxyy", NULL},
	{"${v//x} without the replacement part is an error", 0, "${FOO//ww}", NULL, "missing '/'"},
	{"unterminated ${name is an error", 0, "${NAME", NULL, "missing '}'"},
	{"${ at the end is an error", 0, "abc${", NULL, "missing '}'"},
	{"${} is a bad substitution", 0, "${}", NULL, "bad substitution"},
	{"${:-x} is a bad substitution", 0, "${:-x}", NULL, "bad substitution"},
	{"${{x}} is a bad substitution", 0, "${{x}}", NULL, "bad substitution"},
	{"unterminated default word is an error", 0, "${NOPE:-abc", NULL, "missing '}'"},
	{"${v=w} is an unsupported modifier", 0, "${NAME=x}", NULL, "unsupported modifier (=)"},
	{"${v:x} is an unsupported modifier", 0, "${NAME:x}", NULL, "unsupported modifier (:x)"},
	{"${#v} (length) is unsupported (BuildKit)", 0, "${#NAME}", NULL,
	 "unsupported modifier (N)"},
	{"an unterminated single quote is an error", 0, "'abc", NULL, "matching single-quote"},
	{"an unterminated double quote is an error", 0, "\"abc", NULL, "matching double-quote"},
	{"an unterminated quote inside ${} reports the brace", 0, "${NOPE:-'abc}", NULL,
	 "missing '}'"},
	{"an invalid escape in a pattern is an error", 0, "${FOO#\\x}", NULL, "invalid escape"},
	{"an unterminated quote in a pattern is an error", 0, "${FOO%'x}", NULL, "missing '}'"},
	{"a value with spaces stays one word", 0, "$SP", "a b  c", NULL},
	{"the empty word expands to empty", 0, "", "", NULL},
};

struct words_case {
	const char *name;
	const char *in;
	const char *want[6]; /* NULL-terminated; want[0] == "ERROR" means an error */
};

static const struct words_case words_cases[] = {
	{"words split on unquoted whitespace", "a b  c", {"a", "b", "c", NULL}},
	{"leading and trailing whitespace make no word", "  a  ", {"a", NULL}},
	{"double quotes keep spaces inside one word", "\"a b\" c", {"a b", "c", NULL}},
	{"single quotes keep spaces and join", "'a b'c d", {"a bc", "d", NULL}},
	{"an unquoted expansion is split", "$SP", {"a", "b", "c", NULL}},
	{"a quoted expansion is not split", "\"$SP\"", {"a b  c", NULL}},
	{"an expansion glued to text splits inside", "x$SP", {"xa", "b", "c", NULL}},
	{"an escaped space joins two words", "a\\ b c", {"a b", "c", NULL}},
	{"empty quotes yield no word (BuildKit)", "\"\" a", {"a", NULL}},
	{"empty input yields no words", "", {NULL}},
	{"an unset variable yields no word", "$NOPE x", {"x", NULL}},
	{"EXPOSE-style list with a default", "80/tcp ${NOPE:-443}", {"80/tcp", "443", NULL}},
	{"tabs and newlines separate words", "a\tb\nc", {"a", "b", "c", NULL}},
	{"a default with spaces is split when unquoted", "${NOPE:-a b}", {"a", "b", NULL}},
	{"an unterminated quote is an error", "'a b", {"ERROR", NULL}},
};

struct names_case {
	const char *name;
	char escape;
	const char *in;
	const char *want[6];
};

static const struct names_case names_cases[] = {
	{"names in order, each once", 0, "$A ${B} $A ${C:-$D}", {"A", "B", "C", "D", NULL}},
	{"single-quoted references are not references", 0, "'$A' $B", {"B", NULL}},
	{"an escaped dollar is not a reference", 0, "\\$A $B", {"B", NULL}},
	{"positional and special parameters are not names", 0, "$1 $@ $$ $_x", {"_x", NULL}},
	{"double-quoted references count", 0, "\"$A\"", {"A", NULL}},
	{"a single quote inside double quotes hides nothing", 0, "\"it's $A\"", {"A", NULL}},
	{"unterminated input never fails", 0, "${A:-${B", {"A", "B", NULL}},
	{"backtick escape: `$ is not a reference", '`', "`$A \\$B", {"B", NULL}},
	{"a pattern's variables count", 0, "${A#$B}", {"A", "B", NULL}},
	{"single quotes inside ${} inside double quotes are quotes", 0, "\"${A:-'$B'}\"",
	 {"A", NULL}},
	{"no references", 0, "plain text", {NULL}},
};

static bool strv_equal(char **got, const char *const *want)
{
	size_t i = 0;
	for (; want[i]; i++)
		if (!got || !got[i] || strcmp(got[i], want[i]) != 0)
			return false;
	return got && !got[i];
}

static void diag_strv(const char *label, char **v)
{
	printf("#   %s:", label);
	for (size_t i = 0; v && v[i]; i++)
		printf(" '%s'", v[i]);
	printf("\n");
}

static void test_words(void)
{
	struct expand_env env = {var_table_lookup, &table, '\\'};
	for (size_t i = 0; i < ARRAY_SIZE(word_cases); i++) {
		const struct word_case *c = &word_cases[i];
		struct molt_error *err = NULL;
		char *got = NULL;
		env.escape = c->escape ? c->escape : '\\';
		int r = expand_word(c->in, &env, &got, &err);
		if (c->want) {
			if (r < 0)
				tap_diag("unexpected error: %s", err->msg);
			tap_str_eq(r < 0 ? "(error)" : got, c->want, c->name);
		} else {
			bool ok = r < 0 && err && strstr(err->msg, c->errsub) &&
				  err->exit_code == MOLT_EXIT_USAGE && got == NULL;
			if (!tap_ok(ok, "%s", c->name))
				tap_diag("got %s, want error containing '%s'",
					 r < 0 ? err->msg : got, c->errsub);
		}
		free(got);
		molt_error_free(err);
	}
}

static void test_split(void)
{
	struct expand_env env = {var_table_lookup, &table, '\\'};
	for (size_t i = 0; i < ARRAY_SIZE(words_cases); i++) {
		const struct words_case *c = &words_cases[i];
		struct molt_error *err = NULL;
		char **got = NULL;
		int r = expand_words(c->in, &env, &got, &err);
		bool want_err = c->want[0] && strcmp(c->want[0], "ERROR") == 0;
		bool ok = want_err ? r < 0 && got == NULL : r == 0 && strv_equal(got, c->want);
		if (!tap_ok(ok, "words: %s", c->name)) {
			if (r < 0)
				tap_diag("error: %s", err->msg);
			diag_strv("got", got);
		}
		strv_free(got);
		molt_error_free(err);
	}
}

static void test_names(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(names_cases); i++) {
		const struct names_case *c = &names_cases[i];
		char **got = expand_referenced_names(c->in, c->escape ? c->escape : '\\');
		if (!tap_ok(got && strv_equal(got, c->want), "names: %s", c->name))
			diag_strv("got", got);
		strv_free(got);
	}
}

static void test_limits(void)
{
	struct expand_env env = {var_table_lookup, &table, '\\'};
	struct strbuf sb = STRBUF_INIT;
	for (int i = 0; i < 1000; i++)
		strbuf_adds(&sb, "${NOPE:-");
	strbuf_adds(&sb, "x");
	for (int i = 0; i < 1000; i++)
		strbuf_adds(&sb, "}");
	struct molt_error *err = NULL;
	char *got = NULL;
	int r = expand_word(strbuf_str(&sb), &env, &got, &err);
	tap_ok(r < 0 && err && strstr(err->msg, "nested deeper"),
	       "nesting deeper than the limit is refused, not a stack overflow");
	molt_error_free(err);
	strbuf_done(&sb);

	for (int i = 0; i < 100; i++)
		strbuf_adds(&sb, "${NOPE:-");
	strbuf_adds(&sb, "x");
	for (int i = 0; i < 100; i++)
		strbuf_adds(&sb, "}");
	err = NULL;
	r = expand_word(strbuf_str(&sb), &env, &got, &err);
	tap_ok(r == 0 && strcmp(got, "x") == 0, "100 nested defaults still expand");
	free(got);
	molt_error_free(err);
	strbuf_done(&sb);

	for (int i = 0; i < 6; i++)
		strbuf_adds(&sb, "${PATHV//$EMPTY/");
	strbuf_adds(&sb, "xxxxxxxx");
	for (int i = 0; i < 6; i++)
		strbuf_adds(&sb, "}");
	err = NULL;
	r = expand_word(strbuf_str(&sb), &env, &got, &err);
	tap_ok(r < 0 && err && strstr(err->msg, "expansion larger than"),
	       "nested replacements growing past 1 MiB are refused (expansion bomb)");
	molt_error_free(err);
	strbuf_done(&sb);

	/* ret stays untouched on failure */
	char *sentinel = (char *)"untouched";
	got = sentinel;
	err = NULL;
	expand_word("${", &env, &got, &err);
	tap_ok(got == sentinel, "ret_ is untouched on failure");
	molt_error_free(err);

	/* a NULL lookup means nothing is set */
	struct expand_env none = {NULL, NULL, 0};
	err = NULL;
	r = expand_word("[$NAME${X:-d}]", &none, &got, &err);
	tap_ok(r == 0 && strcmp(got, "[d]") == 0, "no lookup function: every variable is unset");
	free(got);
	molt_error_free(err);
}

static void heredoc_case(const char *name, char escape, const char *in, const char *want)
{
	struct expand_env env = {var_table_lookup, &table, escape};
	struct molt_error *err = NULL;
	char *got = NULL;
	int r = expand_heredoc(in, &env, &got, &err);
	tap_str_eq(r == 0 ? got : (err ? err->msg : "error"), want, name);
	free(got);
	molt_error_free(err);
}

static void test_heredoc(void)
{
	heredoc_case("heredoc: quotes stay ordinary characters (BuildKit SkipProcessQuotes)", '\\',
		     "say \"$NAME\" '${NAME}'\n", "say \"world\" 'world'\n");
	heredoc_case("heredoc: whitespace and newlines are kept, nothing is split", '\\',
		     "  a   $SP\n\n", "  a   a b  c\n\n");
	heredoc_case("heredoc: a backslash escapes '$' (BuildKit's lexer)", '\\', "\\$NAME $NAME\n",
		     "$NAME world\n");
	heredoc_case("heredoc: always the backslash lexer, whatever '# escape=' says", '`',
		     "`$NAME \\$NAME\n", "`world $NAME\n");
	heredoc_case("heredoc: modifiers work as in words", '\\', "${NOPE:-dflt} ${FOO%yy}\n",
		     "dflt xx\n");
	heredoc_case("heredoc: an unset variable is empty", '\\', "[$NOPE]\n", "[]\n");
}

int main(void)
{
	test_heredoc();
	test_words();
	test_split();
	test_names();
	test_limits();
	return tap_done();
}
