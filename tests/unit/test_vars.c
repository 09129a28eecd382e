/* SPDX-License-Identifier: Apache-2.0 */
/* runner/frontend/vars.c (the planner's hashed variable tables) and lib's strv_env_merge(). */
#include "../../runner/frontend/vars.h"
#include "tap.h"

static void test_vars(void)
{
	struct vars v = {0};
	vars_set(&v, "B", "1");
	vars_set(&v, "A", NULL);
	vars_set(&v, "C", "three");
	uint64_t gen = v.gen;
	vars_set(&v, "B", "22");
	_cleanup_strv_ char **s = vars_strv(&v);
	tap_ok(s[0] && !strcmp(s[0], "B=22") && s[1] && !strcmp(s[1], "C=three") && !s[2],
	       "vars: first-set order, a new value in place, declared-only names left out");
	tap_ok(v.bytes == strlen("B=22") + strlen("C=three"),
	       "vars: bytes counts the K=V text of the entries with a value");
	tap_ok(v.gen != gen && vars_find(&v, "A") == 1 && vars_find(&v, "Z") < 0,
	       "vars: every set changes gen; find answers set and unset names");
	vars_done(&v);

	/* 200,000 names: each found at its own index (the hash index, never a scan). */
	struct vars big = {0};
	char k[32];
	for (int i = 0; i < 200000; i++) {
		snprintf(k, sizeof(k), "E%d", i);
		vars_set(&big, k, "v");
	}
	bool all = big.n == 200000;
	for (int i = 0; i < 200000 && all; i += 997) {
		snprintf(k, sizeof(k), "E%d", i);
		all = vars_find(&big, k) == i;
	}
	tap_ok(all, "vars: 200,000 names are all found where they were set");
	struct vars copy = {0};
	vars_copy(&copy, &big);
	tap_ok(copy.n == big.n && copy.bytes == big.bytes, "vars: a copy has the same entries");
	vars_done(&copy);
	vars_done(&big);
}

static void test_env_merge(void)
{
	char **env = NULL;
	strv_push(&env, "PATH=/bin");
	strv_push(&env, "HOME=/");
	strv_env_merge(&env, (char *[]){"HOME=/root", "NEW=1", "BARE", "NEW=2", NULL}, true);
	tap_ok(strv_len(env) == 4 && !strcmp(env[0], "PATH=/bin") && !strcmp(env[1], "HOME=/root") &&
		       !strcmp(env[2], "NEW=2") && !strcmp(env[3], "BARE="),
	       "env merge (replace): in place, appended in order, 'K' counts as 'K='");
	strv_env_merge(&env, (char *[]){"PATH=/x", "ARG=a", NULL}, false);
	tap_ok(strv_len(env) == 5 && !strcmp(env[0], "PATH=/bin") && !strcmp(env[4], "ARG=a"),
	       "env merge (keep): an existing name wins, a new one is appended");
	strv_free(env);

	char **base = xcalloc(200001, sizeof(char *));
	char **add = xcalloc(200001, sizeof(char *));
	for (int i = 0; i < 200000; i++) {
		base[i] = xasprintf("E%d=v", i);
		add[i] = xasprintf("E%d=w", 199999 - i);
	}
	strv_env_merge(&base, add, true);
	tap_ok(strv_len(base) == 200000 && !strcmp(base[0], "E0=w") && !strcmp(base[199999], "E199999=w"),
	       "env merge: 200,000 into 200,000 replaces each once");
	strv_free(base);
	strv_free(add);
}

static void test_env_index(void)
{
	char **env = NULL;
	strv_push(&env, "PATH=/bin");
	strv_push(&env, "A=1");
	struct env_index x = {0};
	env_index_set(&x, &env, "A", "2");
	env_index_set(&x, &env, "B", "3");
	env_index_set(&x, &env, "PATH", "/usr/bin");
	tap_ok(strv_len(env) == 3 && !strcmp(env[0], "PATH=/usr/bin") && !strcmp(env[1], "A=2") &&
		       !strcmp(env[2], "B=3"),
	       "env index: set replaces in place and appends new names in order");
	for (int i = 0; i < 100000; i++) {
		char k[16];
		snprintf(k, sizeof(k), "K%d", i % 50000);
		env_index_set(&x, &env, k, i < 50000 ? "a" : "b");
	}
	tap_ok(strv_len(env) == 50003 && !strcmp(env[3], "K0=b") && !strcmp(env[50002], "K49999=b"),
	       "env index: 100,000 sets of 50,000 names, each found again");
	/* The owner replaces the list: done(), then a new list is indexed afresh. */
	env_index_done(&x);
	strv_free(env);
	env = NULL;
	env_index_set(&x, &env, "NEW", "1");
	tap_ok(strv_len(env) == 1 && !strcmp(env[0], "NEW=1"), "env index: starts a list from NULL");
	env_index_done(&x);
	strv_free(env);
}

int main(void)
{
	test_env_index();
	test_vars();
	test_env_merge();
	return tap_done();
}
