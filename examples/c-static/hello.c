/* hello.c — the whole payload of the c-static example image: a static binary that
 * needs nothing from the image around it (the final stage is FROM scratch). */
#include <stdio.h>

int main(int argc, char **argv)
{
	printf("hello from a static binary built by molt");
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	return 0;
}
