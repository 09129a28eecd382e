/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for runner/frontend/expand.c. The first input byte picks the escape
 * character (odd: backtick), the rest is the word. Besides crashes and sanitizer
 * reports it checks that expand_word and expand_words agree on success, that a
 * failure always comes with a message, and that expand_referenced_names only
 * returns distinct, valid names.
 */
#include <string.h>

#include "../../runner/frontend/expand.h"
#include "../unit/vars_test.h"

static const char *const vars[][2] = {
	{"A", "a"},	  {"EMPTY", ""},    {"SP", " x  y "}, {"STAR", "*?\\"},
	{"Q", "'\"$A"},	  {"NL", "l1\nl2"}, {"U", "\xc3\xa9\xe2\x82\xac"},
	{"LONG", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
};

static struct var_table table = {vars, ARRAY_SIZE(vars)};

static bool valid_name(const char *s)
{
	if (!s[0] || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char esc = (data[0] & 1) ? '`' : '\\';
	/* the Dockerfile text reaching the expander never holds a NUL byte */
	char *word = strndup((const char *)data + 1, size - 1);
	if (!word)
		return 0;
	struct expand_env env = {var_table_lookup, &table, esc};

	struct molt_error *err1 = NULL, *err2 = NULL;
	char *out = NULL;
	char **words = NULL;
	int r1 = expand_word(word, &env, &out, &err1);
	int r2 = expand_words(word, &env, &words, &err2);
	if ((r1 < 0) != (r2 < 0))
		abort();
	if (r1 < 0 && (!err1 || !err1->msg || out))
		abort();
	if (r1 == 0 && (!out || !words))
		abort();
	for (size_t i = 0; words && words[i]; i++)
		if (!words[i][0])
			abort(); /* ProcessWords never yields an empty word */
	free(out);
	strv_free(words);
	molt_error_free(err1);
	molt_error_free(err2);

	char **names = expand_referenced_names(word, esc);
	if (!names)
		abort();
	for (size_t i = 0; names[i]; i++) {
		if (!valid_name(names[i]))
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				abort();
	}
	strv_free(names);
	free(word);
	return 0;
}
