/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_agent [SOCKET]: asks the SSH agent at SOCKET (default $SSH_AUTH_SOCK) for its
 * identities (SSH2_AGENTC_REQUEST_IDENTITIES) and prints "keys N" from the answer;
 * exits 1 when the agent cannot be reached or answers something else. Run inside a
 * RUN step, it proves a forwarded agent socket works (busybox has no ssh-add).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int read_n(int fd, unsigned char *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : getenv("SSH_AUTH_SOCK");
	if (!path) {
		fprintf(stderr, "probe_agent: no socket\n");
		return 1;
	}
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("probe_agent: connect");
		return 1;
	}
	const unsigned char req[5] = {0, 0, 0, 1, 11};
	if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req)) {
		perror("probe_agent: write");
		return 1;
	}
	unsigned char hdr[9];
	if (read_n(fd, hdr, sizeof(hdr)) < 0 || hdr[4] != 12) {
		fprintf(stderr, "probe_agent: no identities answer\n");
		return 1;
	}
	uint32_t n;
	memcpy(&n, hdr + 5, 4);
	printf("keys %u\n", ntohl(n));
	return 0;
}
