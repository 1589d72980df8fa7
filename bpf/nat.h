/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* nat.h: rewriting and forwarding: next-hop resolution and caching (per backend in the
 * reply index, per client in client_hops), the NAT rewrite with precomputed checksum
 * deltas, and the reply index lookup. */
#ifndef CANARY_NAT_H
#define CANARY_NAT_H

#include "parsing.h"
#include "maps.h"
#include "canary_csum.h"
#include "canary_hash.h"

static __always_inline bool addr_eq(const union canary_addr *a, const union canary_addr *b)
{
	return a->v6[0] == b->v6[0] && a->v6[1] == b->v6[1] && a->v6[2] == b->v6[2] &&
	       a->v6[3] == b->v6[3];
}

/* ---- forwarding ------------------------------------------------------------------------ */

/* Resolve the next hop towards dst with the kernel FIB. */
static __always_inline int nexthop_resolve(struct xdp_md *ctx, const struct pkt *p,
					   const union canary_addr *src,
					   const union canary_addr *dst, struct canary_nexthop *nh)
{
	struct bpf_fib_lookup fib = {};
	int rc;

	fib.family = p->key.svc.family;
	fib.l4_protocol = p->key.svc.proto;
	fib.tot_len = p->l3_len;
	fib.ifindex = ctx->ingress_ifindex;
	if (fib.family == CANARY_AF_INET) {
		fib.tos = p->tos;
		fib.ipv4_src = src->v4;
		fib.ipv4_dst = dst->v4;
	} else {
		fib.flowinfo = 0;
		__builtin_memcpy(fib.ipv6_src, src, 16);
		__builtin_memcpy(fib.ipv6_dst, dst, 16);
	}
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		nh->ifindex = fib.ifindex;
		__builtin_memcpy(nh->dmac, fib.dmac, ETH_ALEN);
		__builtin_memcpy(nh->smac, fib.smac, ETH_ALEN);
	} else {
		nh->ifindex = 0;
	}
	return rc;
}

/* Keep a direction's next hop fresh: re-resolve when unresolved or older than the
 * TTL, so route and neighbour changes are picked up within CANARY_NEXTHOP_TTL_NS.
 * A backend's entry is shared by every CPU, so it is resolved into a local copy and
 * published (with its stamp) only on success: a lookup that fails on one CPU (a
 * neighbour being re-learnt) never leaves an unresolved hop under a packet that another
 * CPU is sending with it. A failed lookup leaves the stamp old, so the next packet
 * tries again, as an unresolved hop always did. */
static __always_inline int nexthop_get(struct xdp_md *ctx, const struct pkt *p,
				       const union canary_addr *src, const union canary_addr *dst,
				       struct canary_nexthop *nh, __u64 *stamp, __u64 now)
{
	struct canary_nexthop fresh;
	int rc;

	if (nh->ifindex && (__s64)(now - *stamp) < (__s64)CANARY_NEXTHOP_TTL_NS)
		return BPF_FIB_LKUP_RET_SUCCESS;
	rc = nexthop_resolve(ctx, p, src, dst, &fresh);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		*nh = fresh;
		*stamp = now;
	}
	return rc;
}

static __always_inline __u16 l4_csum_apply(__u16 check, __u16 delta, __u8 proto)
{
	__u16 c;

	/* A zero UDP checksum means "none"; keep it, and never produce one. */
	if (proto == IPPROTO_UDP && check == 0)
		return 0;
	c = canary_csum_apply(check, delta);
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	return c;
}

/* Ones'-complement delta of one 16-bit word changing from old to new. */
static __always_inline __u32 csum_word_delta(__u16 old, __u16 new)
{
	return (__u16)~old + (__u32) new;
}

/* Set the destination (dst=true) or source address of the IP header at ip, adjusting an
 * IPv4 header checksum by the precomputed delta d_addr; *acc (when given) gains that
 * change's delta to an enclosing checksum. False when the header is out of bounds. */
static __always_inline bool ip_addr_set(void *ip, void *data_end, __u8 family, bool dst,
					const union canary_addr *addr, __u16 d_addr, __u32 *acc)
{
	if (family == CANARY_AF_INET) {
		struct iphdr *iph = ip;
		__u16 old;

		if ((void *)(iph + 1) > data_end)
			return false;
		if (dst)
			iph->daddr = addr->v4;
		else
			iph->saddr = addr->v4;
		old = iph->check;
		iph->check = canary_csum_apply(old, d_addr);
		if (acc)
			*acc += csum_word_delta(old, iph->check);
	} else {
		struct ipv6hdr *ip6h = ip;

		if ((void *)(ip6h + 1) > data_end)
			return false;
		if (dst)
			__builtin_memcpy(&ip6h->daddr, addr, 16);
		else
			__builtin_memcpy(&ip6h->saddr, addr, 16);
	}
	return true;
}

/* Rewrite one endpoint (the destination for dst=true, else the source) of the packet
 * to addr:port, updating checksums by the precomputed deltas. The bounds were checked
 * by the parser; they are checked again here only because the verifier cannot tie
 * the family to the parse path that checked them. */
static __always_inline void nat_rewrite(struct pkt *p, bool dst, const union canary_addr *addr,
					__be16 port, __u16 csum_ip, __u16 csum_l4)
{
	__u8 proto = p->key.svc.proto;
	__be16 *l4_ports = p->l4;
	__sum16 *check;

	if (!ip_addr_set(p->l3, p->data_end, p->key.svc.family, dst, addr, csum_ip, NULL))
		return;

	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		if ((void *)(th + 1) > p->data_end)
			return;
		check = &th->check;
	} else {
		struct udphdr *uh = p->l4;

		if ((void *)(uh + 1) > p->data_end)
			return;
		check = &uh->check;
	}
	l4_ports[dst ? 1 : 0] = port;
	*check = l4_csum_apply(*check, csum_l4, proto);
}

/* Send the (already rewritten) frame to its next hop, or let the kernel resolve the
 * neighbour, or drop it when there is no route at all. */
static __always_inline int xmit(struct xdp_md *ctx, struct pkt *p, int fib_rc,
				const struct canary_nexthop *nh, struct reason_stats *rs)
{
	if (fib_rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		rs->pass_no_neigh++;
		return XDP_PASS;
	}
	if (fib_rc != BPF_FIB_LKUP_RET_SUCCESS) {
		rs->drop_fib++;
		return XDP_DROP;
	}
	__builtin_memcpy(p->eth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(p->eth->h_source, nh->smac, ETH_ALEN);
	if (nh->ifindex == ctx->ingress_ifindex) {
		rs->fwd_tx++;
		return XDP_TX;
	}
	rs->fwd_redirect++;
	return bpf_redirect(nh->ifindex, 0);
}

static __always_inline bool fib_usable(int rc)
{
	return rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH;
}

/* The reply index now (the inner array), or NULL before userspace published one. */
static __always_inline void *backend_table(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&backend_index, &zero);
}

/* The slot of a backend endpoint in the reply index; *slot_idx gets its position (what
 * a flow keeps). Probes walk past tombstones and stop at an empty slot. */
static __always_inline struct backend_slot *backend_slot_find(const struct canary_endpoint *k,
							      __u32 *slot_idx)
{
	struct backend_slot *slot;
	__u32 h, i, idx;
	void *table;

	table = backend_table();
	if (!table)
		return NULL;
	h = canary_backend_slot(k);
	for (i = 0; i < CANARY_BACKEND_PROBES; i++) {
		idx = (h + i) & (CANARY_BACKEND_SLOTS - 1);
		slot = bpf_map_lookup_elem(table, &idx);
		if (!slot || !slot->key.family)
			return NULL;
		if (slot->key.port == k->port && slot->key.proto == k->proto &&
		    slot->key.family == k->family && addr_eq(&slot->key.addr, &k->addr)) {
			*slot_idx = idx;
			return slot;
		}
	}
	return NULL;
}

/* The backend behind a reply's source, from the reply index. */
static __always_inline struct backend_info *backend_find(const struct canary_endpoint *k,
							 __u32 *slot_idx)
{
	struct backend_slot *slot = backend_slot_find(k, slot_idx);

	return slot ? &slot->info : NULL;
}

/* The backend slot a flow names (NULL if the index has none there: never for a flow
 * placed by the data plane, as userspace keeps a backend's slot while flows use it). */
static __always_inline struct backend_slot *backend_slot_at(__u32 idx)
{
	struct backend_slot *slot;
	void *table = backend_table();

	if (!table)
		return NULL;
	slot = bpf_map_lookup_elem(table, &idx);
	return slot && slot->key.family && slot->key.family != CANARY_SLOT_TOMBSTONE ? slot
										     : NULL;
}

/* The next hop towards a client for a reply from vip, from this CPU's cache entry of the
 * client (taken over when another client had it). *nh points into the cache. Returns the
 * FIB result. */
static __always_inline int client_hop_get(struct xdp_md *ctx, const struct pkt *p,
					  const union canary_addr *vip,
					  const union canary_addr *client,
					  struct canary_nexthop **nh, __u64 now)
{
	__u32 idx = canary_client_hop_slot(client);
	struct client_hop *ch;

	ch = bpf_map_lookup_elem(&client_hops, &idx);
	if (!ch)
		return BPF_FIB_LKUP_RET_NOT_FWDED;
	*nh = &ch->nh;
	if (ch->family != p->key.svc.family || !addr_eq(&ch->addr, client)) {
		ch->addr = *client;
		ch->family = p->key.svc.family;
		ch->nh.ifindex = 0;
	}
	return nexthop_get(ctx, p, vip, client, &ch->nh, &ch->nh_ns, now);
}

#endif /* CANARY_NAT_H */
