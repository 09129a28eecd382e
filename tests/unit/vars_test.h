/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/vars_test.h: a fixed table of variables as an expand_env lookup
 * (runner/frontend/expand.h), for the expansion tests and fuzz target.
 */
#ifndef MOLT_VARS_TEST_H
#define MOLT_VARS_TEST_H

#include <string.h>

/* Rows {name, value}; the lookup's userdata is the table, n its rows. */
struct var_table {
	const char *const (*rows)[2];
	size_t n;
};

static inline const char *var_table_lookup(void *userdata, const char *name)
{
	const struct var_table *t = userdata;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->rows[i][0], name) == 0)
			return t->rows[i][1];
	return NULL;
}

#endif
