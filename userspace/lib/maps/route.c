/* route.c: the interface a route leads out of, from rtnetlink (see route.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "maps/route.h"

int route_ifindex(int family, const union canary_addr *dst, uint32_t *ifindex)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[64];
	} req = {};
	char buf[8192];
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	struct rtattr *rta;
	size_t alen = family == CANARY_AF_INET ? 4 : 16;
	int fd, err = -ENETUNREACH;
	ssize_t n;

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.rt.rtm_family = family == CANARY_AF_INET ? AF_INET : AF_INET6;
	req.rt.rtm_dst_len = alen * 8;
	rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
	rta->rta_type = RTA_DST;
	rta->rta_len = RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), dst->bytes, alen);
	req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
	     nh = NLMSG_NEXT(nh, n)) {
		struct rtmsg *rt;
		int len;

		if (nh->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(nh);

			err = e->error ? e->error : -ENETUNREACH;
			break;
		}
		if (nh->nlmsg_type != RTM_NEWROUTE)
			continue;
		rt = NLMSG_DATA(nh);
		/* A local, broadcast or unreachable route leads to no interface. */
		if (rt->rtm_type != RTN_UNICAST) {
			err = -ENETUNREACH;
			break;
		}
		len = RTM_PAYLOAD(nh);
		for (rta = RTM_RTA(rt); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
			if (rta->rta_type == RTA_OIF && RTA_PAYLOAD(rta) >= 4) {
				memcpy(ifindex, RTA_DATA(rta), 4);
				err = 0;
			}
		}
		break;
	}
out:
	close(fd);
	return err;
}
