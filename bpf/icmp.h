/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* icmp.h: ICMP errors that quote a packet of a flow. An error about a packet we sent to
 * a backend (destination unreachable, too big, time exceeded, parameter problem) is
 * counted against the flow's arm and translated back, so the client sees it quote the
 * packet it sent to the VIP: path MTU discovery and "connection refused" keep working.
 * An error from the client side about a reply is translated towards the backend. */
#ifndef CANARY_ICMP_H
#define CANARY_ICMP_H

#include "health.h"
#include "nat.h"

#define ICMP4_DEST_UNREACH  3
#define ICMP4_SOURCE_QUENCH 4
#define ICMP4_TIME_EXCEEDED 11
#define ICMP4_PARAMETERPROB 12
#define ICMP6_DST_UNREACH   1
#define ICMP6_PKT_TOOBIG    2
#define ICMP6_TIME_EXCEED   3
#define ICMP6_PARAMPROB	    4

static __always_inline bool icmp_is_error(__u8 family, __u8 type)
{
	if (family == CANARY_AF_INET)
		return type == ICMP4_DEST_UNREACH || type == ICMP4_SOURCE_QUENCH ||
		       type == ICMP4_TIME_EXCEEDED || type == ICMP4_PARAMETERPROB;
	return type >= ICMP6_DST_UNREACH && type <= ICMP6_PARAMPROB;
}

/* The quoted packet inside an ICMP error, as pointers into the frame. */
struct icmp_quote {
	__u8 *icmp;	   /* ICMP header (8 bytes, checked) */
	void *ip;	   /* quoted IP header (checked) */
	__be16 *ports;	   /* quoted L4 ports (4 bytes, checked) */
	__sum16 *l4_check; /* quoted L4 checksum, NULL when not quoted */
	struct canary_endpoint src, dst;
};

static __always_inline bool icmp_quote_parse(struct pkt *p, struct icmp_quote *q)
{
	/* Bounds are checked against the frame (for the verifier) and against the end of
	 * the IP packet (trailer bytes after it are not part of the quote). */
	void *data_end = p->data_end, *ip_end = p->l3 + p->l3_len;
	__u8 proto, *l4;

	q->icmp = p->l4;
	if ((void *)(q->icmp + 8) > data_end)
		return false;
	q->ip = q->icmp + 8;
	if (p->key.svc.family == CANARY_AF_INET) {
		struct iphdr *in = q->ip;

		/* A quote with IP options is left alone (rare, and counted as unmatched). */
		if ((void *)(in + 1) > data_end || in->version != 4 || in->ihl != 5)
			return false;
		proto = in->protocol;
		q->src.addr.v4 = in->saddr;
		q->dst.addr.v4 = in->daddr;
		l4 = (__u8 *)(in + 1);
	} else {
		struct ipv6hdr *in = q->ip;

		if ((void *)(in + 1) > data_end || in->version != 6)
			return false;
		proto = in->nexthdr;
		__builtin_memcpy(&q->src.addr, &in->saddr, 16);
		__builtin_memcpy(&q->dst.addr, &in->daddr, 16);
		l4 = (__u8 *)(in + 1);
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return false;
	if ((void *)(l4 + 8) > data_end || (void *)(l4 + 8) > ip_end)
		return false;
	q->ports = (__be16 *)l4;
	q->src.port = q->ports[0];
	q->dst.port = q->ports[1];
	q->src.proto = q->dst.proto = proto;
	q->src.family = q->dst.family = p->key.svc.family;
	q->l4_check = NULL;
	if (proto == IPPROTO_UDP)
		q->l4_check = (__sum16 *)(l4 + 6);
	else if ((void *)(l4 + 18) <= data_end && (void *)(l4 + 18) <= ip_end)
		q->l4_check = (__sum16 *)(l4 + 16);
	return true;
}

/* Rewrite one endpoint of the quoted packet (its source for src=true, else its
 * destination) to addr:port, with the address delta d_addr and the address+port delta
 * d_l4; returns the delta this adds to the ICMP checksum. */
static __always_inline __u32 icmp_quote_rewrite(struct pkt *p, struct icmp_quote *q, bool src,
						const union canary_addr *addr, __be16 port,
						__u16 d_addr, __u16 d_l4)
{
	__u32 acc = d_addr;
	__be16 old_port;
	__u16 c, old;

	if (!ip_addr_set(q->ip, p->data_end, p->key.svc.family, !src, addr, d_addr, &acc))
		return 0;
	old_port = q->ports[src ? 0 : 1];
	q->ports[src ? 0 : 1] = port;
	acc += csum_word_delta(old_port, port);
	if (q->l4_check && (void *)(q->l4_check + 1) <= p->data_end) {
		old = *q->l4_check;
		c = l4_csum_apply(old, d_l4, q->src.proto);
		*q->l4_check = c;
		acc += csum_word_delta(old, c);
	}
	return acc;
}

/* Replace the outer source (src=true) or destination address; returns its delta to an
 * ICMPv6 checksum (which covers the pseudo-header), 0 for ICMPv4. */
static __always_inline __u32 icmp_outer_rewrite(struct pkt *p, bool src,
						const union canary_addr *addr, __u16 d_addr)
{
	if (!ip_addr_set(p->l3, p->data_end, p->key.svc.family, !src, addr, d_addr, NULL))
		return 0;
	return p->key.svc.family == CANARY_AF_INET ? 0 : d_addr;
}

/* The flow a quote names, in the flow table or in `pending`. */
static __always_inline struct flow_state *icmp_flow(const struct flow_key *fk)
{
	struct flow_state *f = bpf_map_lookup_elem(&flows, fk);

	return f ? f : bpf_map_lookup_elem(&pending, fk);
}

/* Resolve where the translated error goes before anything is rewritten: a packet with
 * no route is dropped as it arrived. Returns the FIB result; nh is filled. */
static __always_inline int icmp_route(struct xdp_md *ctx, struct pkt *p,
				      const union canary_addr *src, const union canary_addr *dst,
				      struct canary_nexthop *nh, struct reason_stats *rs)
{
	int rc = nexthop_resolve(ctx, p, src, dst, nh);

	if (!fib_usable(rc))
		rs->drop_fib++;
	return rc;
}

static __always_inline void icmp_csum_update(struct pkt *p, struct icmp_quote *q, __u32 acc)
{
	if ((void *)(q->icmp + 4) > p->data_end)
		return;
	*(__sum16 *)(q->icmp + 2) = canary_csum_apply(*(__u16 *)(q->icmp + 2), canary_csum_fold(acc));
}

/* An error that names none of our flows (or arrives on an interface that does not face
 * the backend it quotes) is passed untouched. */
static __always_inline int icmp_unmatched(struct reason_stats *rs)
{
	rs->icmp_unmatched++;
	return XDP_PASS;
}

/* An error about a packet we sent to backend bi: the quote runs client -> backend, and
 * the error comes from the backend's side. Counted against the flow's arm and translated
 * towards the client. With no entry for the flow (another node forwarded it: ECMP in
 * front, the return path through this node) it is translated all the same, from the
 * reply index, as every reply is, and counted against no arm (reply_no_flow). An entry
 * that names another backend leaves it unmatched. Returns the verdict. */
static __always_inline int icmp_about_forward(struct xdp_md *ctx, struct pkt *p,
					      struct icmp_quote *q, struct backend_info *bi,
					      __u32 be_slot, struct reason_stats *rs)
{
	/* The outer header's addresses, as parsed (the rewrite below changes the packet). */
	const union canary_addr *outer_src = &p->key.client, *outer_dst = &p->key.svc.addr;
	struct canary_nexthop nh = {};
	struct flow_key fk = {};
	struct backend_stats *bs;
	struct arm_stats *as;
	struct flow_state *f;
	bool from_backend;
	__u32 acc;
	int rc;

	if (bi->ifindex && bi->ifindex != ctx->ingress_ifindex)
		return icmp_unmatched(rs);
	fk.svc = bi->vip;
	fk.client = q->src.addr;
	fk.client_port = q->src.port;
	f = icmp_flow(&fk);
	if (f && f->backend != be_slot)
		return icmp_unmatched(rs);
	/* Sent by the backend itself (port unreachable): it must come from the VIP. */
	from_backend = addr_eq(outer_src, &q->dst.addr);
	rc = icmp_route(ctx, p, from_backend ? &bi->vip.addr : outer_src, outer_dst, &nh, rs);
	if (!fib_usable(rc))
		return XDP_DROP;
	if (f) {
		as = arm_stats_of(f->svc, f->arm);
		bs = backend_stats_of(f->svc, f->arm, f->backend_idx);
		if (flow_counts(f)) {
			if (as)
				as->icmp_errors++;
			if (bs)
				bs->icmp_errors++;
		}
		flow_error(f, CANARY_ERR_ICMP, as, bs);
		rs->icmp_mapped++;
	} else {
		rs->reply_no_flow++;
	}

	acc =
	    icmp_quote_rewrite(p, q, false, &bi->vip.addr, bi->vip.port, bi->csum_ip, bi->csum_l4);
	if (from_backend)
		acc += icmp_outer_rewrite(p, true, &bi->vip.addr, bi->csum_ip);
	icmp_csum_update(p, q, acc);
	return xmit(ctx, p, rc, &nh, rs);
}

/* An error about a reply the client got: the quote runs VIP -> client. Translated
 * towards the flow's backend. Returns the verdict. */
static __always_inline int icmp_about_reply(struct xdp_md *ctx, struct pkt *p, struct icmp_quote *q,
					    struct reason_stats *rs)
{
	const union canary_addr *outer_src = &p->key.client, *outer_dst = &p->key.svc.addr;
	struct canary_nexthop nh = {};
	struct flow_key fk = {};
	struct backend_slot *be;
	struct flow_state *f;
	struct svc_info *svc;
	__u32 acc;
	int rc;

	svc = bpf_map_lookup_elem(&services, &q->src);
	if (!svc || !addr_eq(outer_dst, &q->src.addr))
		return icmp_unmatched(rs);
	fk.svc = q->src;
	fk.client = q->dst.addr;
	fk.client_port = q->dst.port;
	f = icmp_flow(&fk);
	be = f ? backend_slot_at(f->backend) : NULL;
	if (!be)
		return icmp_unmatched(rs);
	rc = icmp_route(ctx, p, outer_src, &be->key.addr, &nh, rs);
	if (!fib_usable(rc))
		return XDP_DROP;
	acc = icmp_quote_rewrite(p, q, true, &be->key.addr, be->key.port, be->csum_ip, be->csum_l4);
	acc += icmp_outer_rewrite(p, false, &be->key.addr, be->csum_ip);
	icmp_csum_update(p, q, acc);
	rs->icmp_mapped++;
	return xmit(ctx, p, rc, &nh, rs);
}

/* ICMP errors that quote a packet of one of our flows. Anything else is passed
 * untouched: ICMP that is no error (echo, neighbour discovery) as pass_not_service, an
 * error that names no flow (or arrives on an interface that does not face the backend
 * it quotes) as icmp_unmatched. Only a matched error is counted against its arm. */
static __always_inline int handle_icmp(struct xdp_md *ctx, struct pkt *p, struct reason_stats *rs)
{
	struct icmp_quote q = {};
	struct backend_info *bi;
	__u32 be_slot = 0;

	if ((void *)((__u8 *)p->l4 + 1) > p->data_end) {
		rs->pass_malformed++;
		return XDP_PASS;
	}
	if (!icmp_is_error(p->key.svc.family, *(__u8 *)p->l4)) {
		rs->pass_not_service++;
		return XDP_PASS;
	}
	if (!icmp_quote_parse(p, &q))
		return icmp_unmatched(rs);
	bi = backend_find(&q.dst, &be_slot);
	if (bi)
		return icmp_about_forward(ctx, p, &q, bi, be_slot, rs);
	return icmp_about_reply(ctx, p, &q, rs);
}

#endif /* CANARY_ICMP_H */
