/* SPDX-License-Identifier: Apache-2.0 */
#include "cli.h"

int cmd_build(int argc, char **argv, struct molt_global *g, struct molt_error **err)
{
	(void)argc;
	(void)g;
	return molt_error_setx(err, ENOSYS, "%s: not implemented yet", argv[0]);
}
