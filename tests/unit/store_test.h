/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/store_test.h: the store under test at `root` (each test program sets it),
 * opened or the program ends, for the store and conversion tests.
 */
#ifndef MOLT_STORE_TEST_H
#define MOLT_STORE_TEST_H

#include <stdlib.h>

#include "../../layers/layers.h"

static char *root;

static struct layer_store *open_store(void)
{
	struct layer_store *s = NULL;
	struct molt_error *e = NULL;
	if (layer_store_open(root, &s, &e) < 0) {
		molt_error_print(e);
		exit(1);
	}
	return s;
}

#endif
