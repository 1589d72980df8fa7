/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* canary_flow.h: rules about flow entries and override keys that the data plane and
 * userspace both apply, written once: how long an entry of each state lives (the
 * data plane ages entries with it, the sweeper removes them with it), and the key an
 * override is stored and looked up under. */
#ifndef CANARY_FLOW_H
#define CANARY_FLOW_H

#include "xdp_canary.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* The timeouts of the flow states, in nanoseconds (the loader sets them at attach;
 * meta keeps them in seconds). */
struct canary_timeouts {
	__u64 udp_idle;
	__u64 syn;	    /* SYN_SENT, SYN_RECV: the handshake */
	__u64 tcp_idle;	    /* ESTABLISHED */
	__u64 tcp_closing;  /* CLOSING, CLOSED */
};

static __always_inline __u64 canary_flow_timeout(const struct canary_timeouts *t, __u8 state)
{
	switch (state) {
	case CANARY_FLOW_UDP:
		return t->udp_idle;
	case CANARY_FLOW_SYN_SENT:
	case CANARY_FLOW_SYN_RECV:
		return t->syn;
	case CANARY_FLOW_ESTABLISHED:
		return t->tcp_idle;
	default:
		return t->tcp_closing;
	}
}

/* A flow stamp (flow_state.seen) of the time now (bpf_ktime_get_ns() timebase). */
static __always_inline __u32 canary_stamp(__u64 now)
{
	return (__u32)(now >> CANARY_STAMP_SHIFT);
}

/* Idle for longer than its state allows at time now (bpf_ktime_get_ns() timebase).
 * Stamps count units of 2^CANARY_STAMP_SHIFT ns and the data plane writes them from its
 * coarse clock, so ages have a granularity of about CANARY_CLOCK_TICK_NS. Signed
 * arithmetic: a stamp written on another CPU may be a little ahead of the reader's
 * clock. */
static __always_inline int canary_flow_expired(const struct canary_timeouts *t,
					       const struct flow_state *f, __u64 now)
{
	__s64 age = (__s64)(__s32)(canary_stamp(now) - f->seen) * (1LL << CANARY_STAMP_SHIFT);

	return age > (__s64)canary_flow_timeout(t, f->state);
}

/* The LPM key of an override of service svc_id for addr/plen. IPv4 is stored
 * v4-mapped (::ffff:a.b.c.d) so that one trie holds both families: prefixlen = 32
 * (the service id, always matched in full) + 96 + plen, or 32 + plen for IPv6. The data
 * plane looks a source up with plen 32 or 128; canary_override_key_parse reads a key
 * back. */
#define CANARY_V4MAPPED_BITS 96 /* the ::ffff: before a v4-mapped address */

static __always_inline void canary_override_key(struct override_key *k, __u32 svc_id_be,
						__u8 family, const union canary_addr *addr,
						__u32 plen)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->svc = svc_id_be;
	if (family == CANARY_AF_INET) {
		k->addr[10] = 0xff;
		k->addr[11] = 0xff;
		__builtin_memcpy(&k->addr[12], &addr->v4, 4);
		k->prefixlen = 32 + CANARY_V4MAPPED_BITS + plen;
	} else {
		__builtin_memcpy(k->addr, addr->bytes, 16);
		k->prefixlen = 32 + plen;
	}
}

/* The family, address and prefix length an override key was made from (userspace
 * lists the trie with it). */
static __always_inline void canary_override_key_parse(const struct override_key *k, __u8 *family,
						      union canary_addr *addr, __u32 *plen)
{
	int i, mapped = k->addr[10] == 0xff && k->addr[11] == 0xff;

	for (i = 0; i < 10; i++)
		mapped &= k->addr[i] == 0;
	__builtin_memset(addr, 0, sizeof(*addr));
	if (k->prefixlen >= 32 + CANARY_V4MAPPED_BITS && mapped) {
		*family = CANARY_AF_INET;
		__builtin_memcpy(&addr->v4, &k->addr[12], 4);
		*plen = k->prefixlen - 32 - CANARY_V4MAPPED_BITS;
	} else {
		*family = CANARY_AF_INET6;
		__builtin_memcpy(addr->bytes, k->addr, 16);
		*plen = k->prefixlen - 32;
	}
}

#endif /* CANARY_FLOW_H */
