/* SPDX-License-Identifier: Apache-2.0 */
#include "../runner.h"

int main(int argc, char **argv)
{
	return runner_main(argc, argv);
}
