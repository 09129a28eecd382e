/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `--network none`: a new network namespace starts with `lo` down, and many programs
 * (test suites binding 127.0.0.1, resolvers of "localhost") expect it up. It is
 * brought up with one RTM_NEWLINK over rtnetlink, as `ip link set lo up` does.
 */
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <time.h>

#include "sandbox_int.h"

static void mnl_socket_closep(struct mnl_socket **nl)
{
	if (*nl)
		mnl_socket_close(*nl);
}

int net_loopback_up(struct molt_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned int lo = if_nametoindex("lo");
	if (lo == 0)
		return molt_error_set(err, errno, "find the loopback interface");
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (unsigned int)time(NULL);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)lo;
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;

	_cleanup_(mnl_socket_closep) struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return molt_error_set(err, errno, "open an rtnetlink socket");
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return molt_error_set(err, errno, "bind the rtnetlink socket");
	unsigned int portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return molt_error_set(err, errno, "send RTM_NEWLINK for 'lo'");
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return molt_error_set(err, errno, "read the rtnetlink answer for 'lo'");
	/* The answer is an NLMSG_ERROR whose error field is 0 for the ACK. */
	if (mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, NULL, NULL) < 0)
		return molt_error_set(err, errno, "bring the loopback interface up");
	return 0;
}
