/* route.h: which interface the kernel routes an address out of (RTM_GETROUTE over
 * rtnetlink), in the network namespace of the caller. The reply path takes a backend's
 * packets only from the interface that faces it; apply resolves that interface here. */
#ifndef CANARY_ROUTE_H
#define CANARY_ROUTE_H

#include <stdint.h>
#include "xdp_canary.h"

/* The output interface of the unicast route to dst. Returns 0 with *ifindex set, or
 * -errno (-ENETUNREACH: no route, or one that is local, broadcast or a blackhole). */
int route_ifindex(int family, const union canary_addr *dst, uint32_t *ifindex);

#endif
