/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_net connect PORT | abstract NAME: connects to 127.0.0.1:PORT or to the abstract
 * unix socket NAME. Prints "reached" and exits 1 when it connected, else exits 0.
 * probe_net listen PORT NAME MARKER: the host side — listens on both and, for every
 * connection, appends a line to MARKER (runs until killed).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	size_t n = strlen(name);
	if (n > sizeof(a->sun_path) - 2)
		n = sizeof(a->sun_path) - 2;
	memcpy(a->sun_path + 1, name, n); /* sun_path[0] = '\0': the abstract namespace */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static int do_connect(const char *kind, const char *arg)
{
	int fd, r;
	if (!strcmp(kind, "connect")) {
		struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(arg))};
		in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		r = connect(fd, (struct sockaddr *)&in, sizeof(in));
	} else {
		struct sockaddr_un un;
		socklen_t len = abstract_addr(&un, arg);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		r = connect(fd, (struct sockaddr *)&un, len);
	}
	if (r == 0) {
		printf("%s %s: reached\n", kind, arg);
		(void)!send(fd, "x", 1, MSG_NOSIGNAL);
		return 1;
	}
	printf("%s %s: %s\n", kind, arg, strerror(errno));
	return 0;
}

static int do_listen(const char *port, const char *name, const char *marker)
{
	int one = 1;
	int t = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct sockaddr_un un;
	socklen_t len = abstract_addr(&un, name);
	int u = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(t, (struct sockaddr *)&in, sizeof(in)) < 0 || listen(t, 8) < 0 ||
	    bind(u, (struct sockaddr *)&un, len) < 0 || listen(u, 8) < 0) {
		perror("probe_net listen");
		return 2;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p[2] = {{t, POLLIN, 0}, {u, POLLIN, 0}};
		if (poll(p, 2, -1) < 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			int c = accept(p[i].fd, NULL, NULL);
			if (c >= 0)
				close(c);
			FILE *f = fopen(marker, "a");
			if (f) {
				fprintf(f, "%s connection\n", i ? "unix" : "tcp");
				fclose(f);
			}
		}
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && (!strcmp(argv[1], "connect") || !strcmp(argv[1], "abstract")))
		return do_connect(argv[1], argv[2]);
	if (argc >= 5 && !strcmp(argv[1], "listen"))
		return do_listen(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: probe_net connect PORT | abstract NAME | listen PORT NAME MARKER\n");
	return 2;
}
