/* netfix.h: a private network namespace with three veth pairs and static neighbours,
 * so that bpf_fib_lookup inside a program under BPF_PROG_TEST_RUN resolves real next
 * hops. Shared by the data-plane unit tests and the benchmark. Needs root. */
#ifndef XDP_CANARY_NETFIX_H
#define XDP_CANARY_NETFIX_H

#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"

/* Interfaces: xa faces clients, xb the stable backends, xc the canary backends. */
static const uint8_t MAC_XA[6] = {2, 0, 0, 0, 1, 1}, MAC_CLIENT[6] = {2, 0, 0, 0, 1, 2};
static const uint8_t MAC_XB[6] = {2, 0, 0, 0, 2, 1}, MAC_ST1[6] = {2, 0, 0, 0, 2, 2};
static const uint8_t MAC_XC[6] = {2, 0, 0, 0, 3, 1}, MAC_CA1[6] = {2, 0, 0, 0, 3, 2};

static int if_xa, if_xb, if_xc;

static inline int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		fprintf(stderr, "setup command failed (%d): %s\n", rc, cmd);
	return rc;
}

static inline int setup_netns(void)
{
	static const char *cmds[] = {
		"ip link set lo up",
		"ip link add xa address 02:00:00:00:01:01 type veth peer name ya",
		"ip link add xb address 02:00:00:00:02:01 type veth peer name yb",
		"ip link add xc address 02:00:00:00:03:01 type veth peer name yc",
		"for i in xa ya xb yb xc yc; do ip link set $i up; done",
		"ip addr add 10.0.1.1/24 dev xa",
		"ip addr add 10.0.2.1/24 dev xb",
		"ip addr add 10.0.3.1/24 dev xc",
		"ip -6 addr add fd00:1::1/64 dev xa nodad",
		"ip -6 addr add fd00:2::1/64 dev xb nodad",
		"ip -6 addr add fd00:3::1/64 dev xc nodad",
		"ip route add 10.1.0.0/16 via 10.0.1.2 dev xa",
		"ip neigh replace 10.0.1.2 lladdr 02:00:00:00:01:02 dev xa nud permanent",
		"ip neigh replace 10.0.2.2 lladdr 02:00:00:00:02:02 dev xb nud permanent",
		"ip neigh replace 10.0.2.3 lladdr 02:00:00:00:02:03 dev xb nud permanent",
		"ip neigh replace 10.0.3.2 lladdr 02:00:00:00:03:02 dev xc nud permanent",
		/* The benchmark's VIP doubles as its backend (see tests/bench). */
		"ip neigh replace 10.0.2.10 lladdr 02:00:00:00:02:0a dev xb nud permanent",
		"ip -6 neigh replace fd00:1::2 lladdr 02:00:00:00:01:02 dev xa nud permanent",
		"ip -6 neigh replace fd00:2::2 lladdr 02:00:00:00:02:02 dev xb nud permanent",
		"ip -6 neigh replace fd00:3::2 lladdr 02:00:00:00:03:02 dev xc nud permanent",
		"sysctl -qw net.ipv4.ip_forward=1",
		"sysctl -qw net.ipv6.conf.all.forwarding=1",
	};
	unsigned int i;

	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET) (the data-plane tests need root)");
		return -1;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (sh(cmds[i]))
			return -1;
	if_xa = if_nametoindex("xa");
	if_xb = if_nametoindex("xb");
	if_xc = if_nametoindex("xc");
	return if_xa && if_xb && if_xc ? 0 : -1;
}

#endif
