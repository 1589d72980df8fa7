/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* parsing.h: bounded header parsing for the XDP program. It never writes to the packet;
 * it either fills struct pkt completely or returns the reason it gave up.
 * Only kernel UAPI headers that need no libc: <linux/icmp.h> would reach glibc through
 * <linux/if.h>, so icmp.h defines the few ICMP constants it uses itself. */
#ifndef CANARY_PARSING_H
#define CANARY_PARSING_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdp_canary.h"

#define IP_MF	   0x2000
#define IP_OFFSET  0x1fff
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

/* TCP flag bits as they sit in byte 13 of the header. */
#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

/* Why parsing stopped; each maps to one reason counter and the XDP_PASS verdict. */
enum parse_result {
	PARSE_OK = 0,
	PARSE_NOT_IP,
	PARSE_VLAN,
	PARSE_MALFORMED,
	PARSE_FRAGMENT,
	PARSE_IPV6_EXT,
	PARSE_OTHER_L4, /* IP but neither TCP nor UDP (nor an ICMP error) */
	PARSE_ICMP,	/* ICMP/ICMPv6 error: l4 points at the ICMP header */
};

/* Everything the fast path needs from one frame. All packet pointers are already
 * bounds-checked for the header they name. key is filled as if the packet went
 * client -> service (dst in key.svc, src in key.client). */
struct pkt {
	struct flow_key key;
	struct ethhdr *eth;
	void *l3;
	void *l4;
	void *data_end;
	__u32 len;	   /* whole frame, for byte counters */
	__u16 l3_len;	   /* IP total length, for bpf_fib_lookup */
	__u16 payload_len; /* L4 payload bytes (TCP/UDP) */
	__u16 payload_off; /* offset of the payload from the frame start */
	__u8 tcp_flags;
	__u8 tos;
};

/* IPv4: header, IHL/length sanity, fragments. Options are skipped by IHL. */
static __always_inline int parse_ipv4(struct pkt *p, void *data_end, __u8 *l4proto)
{
	struct iphdr *iph = p->l3;
	__u32 hlen, tot;

	if ((void *)(iph + 1) > data_end)
		return PARSE_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return PARSE_MALFORMED;
	hlen = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (tot < hlen || p->l3 + tot > data_end)
		return PARSE_MALFORMED;
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return PARSE_FRAGMENT;

	p->l4 = p->l3 + hlen;
	p->l3_len = tot;
	p->tos = iph->tos;
	p->key.svc.family = CANARY_AF_INET;
	p->key.svc.addr.v4 = iph->daddr;
	p->key.client.v4 = iph->saddr;
	*l4proto = iph->protocol;
	return PARSE_OK;
}

/* IPv6: fixed header, then at most CANARY_MAX_IPV6_EXT hop-by-hop or destination
 * option headers. Routing headers change the real destination and fragments hide
 * the ports, so both stop parsing. */
static __always_inline int parse_ipv6(struct pkt *p, void *data_end, __u8 *l4proto)
{
	struct ipv6hdr *ip6h = p->l3;
	struct ipv6_opt_hdr *oh;
	__u32 plen;
	__u8 next;
	void *cur;
	int i;

	if ((void *)(ip6h + 1) > data_end)
		return PARSE_MALFORMED;
	if (ip6h->version != 6)
		return PARSE_MALFORMED;
	plen = bpf_ntohs(ip6h->payload_len);
	if (plen == 0 || (void *)(ip6h + 1) + plen > data_end)
		return PARSE_MALFORMED;

	next = ip6h->nexthdr;
	cur = ip6h + 1;
#pragma unroll
	for (i = 0; i < CANARY_MAX_IPV6_EXT; i++) {
		if (next != IPPROTO_HOPOPTS && next != IPPROTO_DSTOPTS)
			break;
		oh = cur;
		if ((void *)(oh + 1) > data_end)
			return PARSE_MALFORMED;
		next = oh->nexthdr;
		cur += (oh->hdrlen + 1) * 8;
	}
	if (next == IPPROTO_FRAGMENT)
		return PARSE_FRAGMENT;
	if (next == IPPROTO_HOPOPTS || next == IPPROTO_DSTOPTS || next == IPPROTO_ROUTING ||
	    next == IPPROTO_MH)
		return PARSE_IPV6_EXT;

	p->l4 = cur;
	p->l3_len = sizeof(*ip6h) + plen;
	p->tos = (ip6h->priority << 4) | (ip6h->flow_lbl[0] >> 4);
	p->key.svc.family = CANARY_AF_INET6;
	__builtin_memcpy(&p->key.svc.addr, &ip6h->daddr, 16);
	__builtin_memcpy(&p->key.client, &ip6h->saddr, 16);
	*l4proto = next;
	return PARSE_OK;
}

static __always_inline int parse_packet(struct xdp_md *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	void *l3_end;
	__u8 l4proto = 0;
	__u16 h_proto;
	int rc;

	p->eth = data;
	p->data_end = data_end;
	p->len = data_end - data;
	if ((void *)(p->eth + 1) > data_end)
		return PARSE_MALFORMED;
	h_proto = p->eth->h_proto;
	p->l3 = p->eth + 1;

	if (h_proto == bpf_htons(ETH_P_IP))
		rc = parse_ipv4(p, data_end, &l4proto);
	else if (h_proto == bpf_htons(ETH_P_IPV6))
		rc = parse_ipv6(p, data_end, &l4proto);
	else if (h_proto == bpf_htons(ETH_P_8021Q) || h_proto == bpf_htons(ETH_P_8021AD))
		return PARSE_VLAN;
	else
		return PARSE_NOT_IP;
	if (rc != PARSE_OK)
		return rc;

	p->key.svc.proto = l4proto;
	l3_end = p->l3 + p->l3_len;
	if (l4proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;
		__u32 doff;

		if ((void *)(th + 1) > data_end || (void *)(th + 1) > l3_end)
			return PARSE_MALFORMED;
		doff = th->doff * 4;
		if (doff < sizeof(*th) || p->l4 + doff > l3_end)
			return PARSE_MALFORMED;
		p->key.svc.port = th->dest;
		p->key.client_port = th->source;
		p->tcp_flags = ((__u8 *)th)[13];
		p->payload_off = p->l4 + doff - data;
		p->payload_len = l3_end - (p->l4 + doff);
		return PARSE_OK;
	}
	if (l4proto == IPPROTO_UDP) {
		struct udphdr *uh = p->l4;

		if ((void *)(uh + 1) > data_end || (void *)(uh + 1) > l3_end)
			return PARSE_MALFORMED;
		/* RFC 8200: a zero UDP checksum is not allowed over IPv6 (the kernel drops
		 * it too); never forward one. */
		if (p->key.svc.family == CANARY_AF_INET6 && uh->check == 0)
			return PARSE_MALFORMED;
		p->key.svc.port = uh->dest;
		p->key.client_port = uh->source;
		p->payload_off = (void *)(uh + 1) - data;
		p->payload_len = l3_end - (void *)(uh + 1);
		return PARSE_OK;
	}
	if ((l4proto == IPPROTO_ICMP && p->key.svc.family == CANARY_AF_INET) ||
	    (l4proto == IPPROTO_ICMPV6 && p->key.svc.family == CANARY_AF_INET6))
		return PARSE_ICMP;
	return PARSE_OTHER_L4;
}

#endif /* CANARY_PARSING_H */
