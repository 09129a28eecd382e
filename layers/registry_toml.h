/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/registry_toml.h: private to registry_conf.c — the TOML subset that
 * registries.conf files use, parsed into a jansson tree so the meaning of the file is
 * read apart from its syntax.
 *
 * Supported: comments, bare / "basic" / 'literal' keys, dotted keys, [table] and
 * [[array.of.tables]] headers, basic strings (with \" \\ \b \t \n \f \r \uXXXX
 * \UXXXXXXXX escapes), literal strings, booleans, decimal integers, arrays (over several
 * lines, trailing comma) and inline tables. Not supported, each a clear error naming
 * the line: multi-line strings, floats, dates. A file containers/image accepts and this
 * refuses is a bug; none of the keys molt reads needs what is left out.
 */
#ifndef MOLT_REGISTRY_TOML_H
#define MOLT_REGISTRY_TOML_H

#include <jansson.h>

#include "../lib/base.h"

/*
 * Called for every key = value as it is parsed, so a value of the wrong type is reported
 * with its line: `table` is the dotted path of the enclosing table with array indices
 * left out ("registry.mirror"; "" at the top), `key` the last key component. Returns
 * NULL when the value is acceptable, else the reason in words ("must be a boolean").
 */
typedef const char *(*registry_toml_check_fn)(const char *table, const char *key,
					      const json_t *value);
/* Called for every [table] (is_array false) and [[table]] header; same contract. */
typedef const char *(*registry_toml_table_fn)(const char *table, bool is_array);

/* Parses text (len bytes, NUL not needed) from file `path` (used in messages only).
 * Errors read "PATH:LINE: what is wrong". */
int registry_toml_parse(const char *path, const char *text, size_t len,
			registry_toml_check_fn check, registry_toml_table_fn table_check,
			json_t **ret, struct molt_error **err);

#endif
