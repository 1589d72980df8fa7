// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xdp_canary.bpf.c: the splitter. It matches service traffic, pins each new flow to the
 * stable or the canary arm, NATs it to a backend of that arm and rewrites replies back. */
#include "parsing.h"
#include "maps.h"
#include "canary_csum.h"
#include "canary_decide.h"
#include "canary_flow.h"
#include "nat.h"
#include "health.h"
#include "icmp.h"

#define NSEC_PER_SEC 1000000000ULL

/* Load-time settings: the loader writes them before load (see canary-loader --help). */
const volatile __u64 syn_timeout_ns = CANARY_DEF_SYN_TIMEOUT * NSEC_PER_SEC;
const volatile __u64 tcp_idle_ns = CANARY_DEF_TCP_IDLE * NSEC_PER_SEC;
const volatile __u64 tcp_closing_ns = CANARY_DEF_TCP_CLOSING * NSEC_PER_SEC;
const volatile __u64 udp_idle_ns = CANARY_DEF_UDP_IDLE * NSEC_PER_SEC;

/* ---- flow table ------------------------------------------------------------------------ */

/* Idle for longer than its state allows (the rule is canary_flow.h's, shared with the
 * sweeper). */
static __always_inline bool flow_expired(const struct flow_state *f, __u64 now)
{
	struct canary_timeouts t = {
		.udp_idle = udp_idle_ns,
		.syn = syn_timeout_ns,
		.tcp_idle = tcp_idle_ns,
		.tcp_closing = tcp_closing_ns,
	};

	return canary_flow_expired(&t, f, now);
}

/* TCP flags seen in either direction move the state towards closed. */
static __always_inline void flow_track_close(struct flow_state *f, __u8 flags)
{
	if (flags & TCPF_RST)
		f->state = CANARY_FLOW_CLOSED;
	else if ((flags & TCPF_FIN) && f->state != CANARY_FLOW_CLOSED)
		f->state = CANARY_FLOW_CLOSING;
}

/* ---- choosing an arm and a backend ---------------------------------------------------- */

static __always_inline struct svc_config *svc_config_of(__u32 svc_id)
{
	__u32 zero = 0;
	void *inner;

	inner = bpf_map_lookup_elem(&svc_configs, &svc_id);
	if (!inner)
		return NULL;
	return bpf_map_lookup_elem(inner, &zero);
}

/* Client-group override for this source, if the service has any. */
static __always_inline int override_arm(const struct pkt *p, __u32 svc_id)
{
	struct override_key ok;
	struct override_value *ov;
	__u8 fam = p->key.svc.family;

	canary_override_key(&ok, bpf_htonl(svc_id), fam, &p->key.client,
			    fam == CANARY_AF_INET ? 32 : 128);
	ov = bpf_map_lookup_elem(&overrides, &ok);
	return ov ? (int)(ov->arm & 1) : -1;
}

/* Decide a new flow with the shared decision (canary_decide.h) and fill f from the
 * chosen backend; *slot is the backend's reply-index slot. Returns false when the
 * service has no backend at all (or the index lacks the chosen one). */
static __always_inline bool flow_decide(const struct pkt *p, __u32 svc_id,
					struct flow_state *f, struct backend_slot **slot,
					struct reason_stats *rs)
{
	struct canary_endpoint be_key = {};
	struct canary_decision d;
	const struct canary_backend *be;
	struct svc_config *cfg;
	int ov = -1;
	__u32 arm, idx;

	cfg = svc_config_of(svc_id);
	if (!cfg)
		return false;
	if (cfg->flags & CANARY_SVC_F_OVERRIDES)
		ov = override_arm(p, svc_id);
	if (canary_decide(cfg, &p->key, ov, &d))
		return false;
	if (d.reason == CANARY_DECIDE_OVERRIDE) {
		f->flags |= CANARY_FLOW_F_OVERRIDE;
		rs->override_hits++;
	} else if (d.reason == CANARY_DECIDE_FALLBACK) {
		f->flags |= CANARY_FLOW_F_FALLBACK;
		rs->arm_fallback++;
	}
	arm = d.arm & 1;
	idx = d.backend_idx;
	if (idx >= CANARY_MAX_BACKENDS)
		return false;
	be = &cfg->backends[arm][idx];
	be_key.addr = be->addr;
	be_key.port = be->port;
	be_key.proto = p->key.svc.proto;
	be_key.family = p->key.svc.family;
	*slot = backend_slot_find(&be_key, &f->backend);
	if (!*slot)
		return false;
	f->svc = svc_id;
	f->arm = arm;
	f->backend_idx = idx;
	if (cfg->flags & CANARY_SVC_F_HTTP)
		f->flags |= CANARY_FLOW_F_HTTP;
	return true;
}

/* ---- coarse clock ----------------------------------------------------------------------- */

static int clock_tick(void *map, __u32 *key, struct canary_clock *c)
{
	c->now_ns = bpf_ktime_get_ns();
	bpf_timer_start(&c->timer, CANARY_CLOCK_TICK_NS, 0);
	return 0;
}

/* Slow paths read the precise clock anyway; they also keep the coarse clock alive:
 * arm the timer on first use, and catch up if it ever stopped ticking. */
static __always_inline __u64 clock_sync(struct canary_clock *c)
{
	__u64 real = bpf_ktime_get_ns();

	if ((__s64)(real - c->now_ns) > (__s64)(2 * CANARY_CLOCK_TICK_NS)) {
		c->now_ns = real;
		if (!c->armed) {
			bpf_timer_init(&c->timer, &clock, 1 /* CLOCK_MONOTONIC */);
			bpf_timer_set_callback(&c->timer, clock_tick);
			c->armed = 1;
		}
		bpf_timer_start(&c->timer, CANARY_CLOCK_TICK_NS, 0);
	}
	return real;
}

/* The coarse "now" of the fast path: one memory read instead of a clock helper (a
 * helper call measured 10-20 ns per packet here; see docs/BENCHMARKS.md). A clock that
 * never ticked (pins just migrated by `canary-loader upgrade`, before any new flow) is
 * started here, so no flow is ever stamped with 0, which the sweeper would read as idle
 * since boot. */
static __always_inline __u64 coarse_now(struct canary_clock *c)
{
	if (!c->now_ns)
		clock_sync(c);
	return c->now_ns;
}

/* ---- the two flow tables ------------------------------------------------------------- */

/* A verified flow's client and the flow itself in this interval's client_hll set of its
 * arm: one hash and one register update per flow (per CPU: no atomics). Counted at
 * verification, not at the SYN, so a spoofed source (which never completes a handshake)
 * is no client; a flow an override placed, or one picked up mid-stream, is left out: the
 * SRM tests count only what the weight placed (docs/ANALYSIS.md). */
static __always_inline void clients_count(const struct flow_key *k, const struct flow_state *f,
					  __u64 now)
{
	struct svc_config *cfg;
	struct client_hll *h;
	__u32 idx, who, reg, rank;

	if (f->flags & (CANARY_FLOW_F_OVERRIDE | CANARY_FLOW_F_MIDSTREAM))
		return;
	cfg = svc_config_of(f->svc);
	if (!cfg)
		return;
	idx = CANARY_HLL_SLOT(f->svc, f->arm & 1, (now >> CANARY_HLL_SHIFT) & 1);
	h = bpf_map_lookup_elem(&client_hll, &idx);
	if (!h)
		return;
	h->flows++;
	who = canary_hll_hash(k, cfg);
	reg = canary_hll_index(who) & (CANARY_HLL_REGS - 1);
	rank = canary_hll_rank(who);
	if (h->reg[reg] < rank)
		h->reg[reg] = rank;
}

/* A pending flow proved real (the client completed its handshake, or its backend
 * answered it): move it to the flow table, where only such flows live. The entry is
 * written there before it leaves `pending`, so a packet on another CPU finds it in one
 * table or the other; the state and health updates of this packet are already in it. */
static __always_inline void flow_verify(const struct flow_key *k, struct flow_state *f,
					__u64 now, struct reason_stats *rs)
{
	f->flags &= ~CANARY_FLOW_F_PENDING;
	if (bpf_map_update_elem(&flows, k, f, BPF_ANY)) {
		rs->flow_insert_fail++;
		return;
	}
	bpf_map_delete_elem(&pending, k);
	rs->flow_verified++;
	clients_count(k, f, now);
}

/* ---- client -> service -------------------------------------------------------------------- */

/* Place a new flow: decide, insert it into `pending` (not for a stray RST). A flow
 * picked up mid-stream is no exposure of its arm (midstream_flows, not flows). svc is the
 * service when the caller already looked it up. Fills *fresh and *slot (the backend's);
 * returns an XDP verdict, or -1 when the flow may be forwarded. Its next hop is the
 * backend's, resolved already for the backend's other flows: no FIB lookup here. */
static __always_inline int flow_create(struct xdp_md *ctx, struct pkt *p, struct svc_info *svc,
				       struct flow_state *fresh, struct backend_slot **slot,
				       struct canary_clock *clk, struct reason_stats *rs,
				       int *fib_rc)
{
	bool tcp = p->key.svc.proto == IPPROTO_TCP;
	bool syn = tcp && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
	struct backend_stats *bs;
	struct arm_stats *as;
	__u64 real;

	if (!svc)
		svc = bpf_map_lookup_elem(&services, &p->key.svc);
	if (!svc) {
		rs->pass_not_service++;
		return XDP_PASS;
	}
	__builtin_memset(fresh, 0, sizeof(*fresh));
	if (!flow_decide(p, svc->id, fresh, slot, rs)) {
		rs->drop_no_backend++;
		return XDP_DROP;
	}
	*fib_rc = nexthop_get(ctx, p, &p->key.client, &(*slot)->key.addr, &(*slot)->nh,
			      &(*slot)->nh_ns, coarse_now(clk));
	if (!fib_usable(*fib_rc)) {
		rs->drop_fib++;
		return XDP_DROP;
	}
	/* The one precise clock read of a new flow: it also keeps the coarse clock alive. */
	real = clock_sync(clk);
	fresh->seen = canary_stamp(coarse_now(clk));
	if (!tcp) {
		fresh->state = CANARY_FLOW_UDP;
	} else if (syn) {
		fresh->state = CANARY_FLOW_SYN_SENT;
		fresh->syn_count = 1;
		fresh->mark_us = (__u32)(real / 1000);
	} else {
		fresh->state = CANARY_FLOW_ESTABLISHED;
		fresh->flags |= CANARY_FLOW_F_MIDSTREAM;
		flow_track_close(fresh, p->tcp_flags);
		rs->flow_midstream++;
	}
	fresh->flags |= CANARY_FLOW_F_PENDING;
	as = arm_stats_of(fresh->svc, fresh->arm);
	health_request(p, fresh, as);
	/* A stray RST creates no state (as in Katran): it is forwarded and forgotten,
	 * and, like a failed insert, it is no flow of the arm. */
	if (tcp && (p->tcp_flags & TCPF_RST))
		return -1;
	if (bpf_map_update_elem(&pending, &p->key, fresh, BPF_ANY)) {
		rs->flow_insert_fail++;
		return -1;
	}
	if (fresh->flags & CANARY_FLOW_F_MIDSTREAM) {
		if (as)
			as->midstream_flows++;
		return -1;
	}
	rs->flow_new++;
	if (as)
		as->flows++;
	bs = backend_stats_of(fresh->svc, fresh->arm, fresh->backend_idx);
	if (bs)
		bs->flows++;
	return -1;
}

/* Keep a flow's stamp at the coarse clock (a write only when it moved on). */
static __always_inline void flow_touch(struct flow_state *f, __u64 now)
{
	__u32 st = canary_stamp(now);

	if (f->seen != st)
		f->seen = st;
}

/* The TCP header's sequence and acknowledgment numbers, host order (0 when the header
 * is out of bounds, which the parser has ruled out; the verifier needs the check). */
static __always_inline __u32 tcp_seq(const struct pkt *p)
{
	const struct tcphdr *th = p->l4;

	return (void *)(th + 1) > p->data_end ? 0 : bpf_ntohl(th->seq);
}

static __always_inline __u32 tcp_ack_seq(const struct pkt *p)
{
	const struct tcphdr *th = p->l4;

	return (void *)(th + 1) > p->data_end ? 0 : bpf_ntohl(th->ack_seq);
}

/* What a packet on an existing flow does to it: a SYN after the end of a connection
 * starts a new one (*reuse), a repeated SYN counts (*syn_retx), the client's ACK of the
 * SYN-ACK verifies (*verify), FIN and RST close. */
static __always_inline void forward_track(struct pkt *p, struct flow_state *f, __u64 now,
					  bool *reuse, bool *syn_retx, bool *verify)
{
	bool tcp = p->key.svc.proto == IPPROTO_TCP;
	bool syn = tcp && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;

	if (syn) {
		if (flow_expired(f, now) || f->state >= CANARY_FLOW_CLOSING ||
		    (f->flags & CANARY_FLOW_F_MIDSTREAM)) {
			/* The tuple's earlier connection ended (or was only ever seen
			 * mid-stream): a new connection. */
			*reuse = true;
		} else if (f->state <= CANARY_FLOW_SYN_RECV) {
			/* A retransmitted SYN keeps its pending entry; before any SYN-ACK it
			 * is a sign of an unresponsive backend. */
			*syn_retx = f->state == CANARY_FLOW_SYN_SENT;
			if (f->syn_count < 255)
				f->syn_count++;
		}
	} else if (!tcp) {
		*reuse = flow_expired(f, now);
	} else if (p->tcp_flags & (TCPF_RST | TCPF_FIN)) {
		flow_track_close(f, p->tcp_flags);
	} else if (f->state == CANARY_FLOW_SYN_RECV && (p->tcp_flags & TCPF_ACK)) {
		/* The client completed the handshake with the ACK number the SYN-ACK asked
		 * for: it saw the SYN-ACK, so it is no spoofed source. A blind ACK with any
		 * other number proves nothing and changes nothing. */
		if (f->ack_want && tcp_ack_seq(p) != f->ack_want)
			return;
		f->ack_want = 0; /* the HTTP fields start from nothing */
		f->state = CANARY_FLOW_ESTABLISHED;
		*verify = f->flags & CANARY_FLOW_F_PENDING;
	} else if (f->state == CANARY_FLOW_SYN_SENT && (p->tcp_flags & TCPF_ACK)) {
		/* The client answers a SYN-ACK this node never saw: the return path runs
		 * through another node. The handshake was answered (no unanswered SYN for
		 * the sweeper), but nothing here proves the source real, so the entry
		 * stays in `pending`. */
		f->state = CANARY_FLOW_ESTABLISHED;
		f->flags |= CANARY_FLOW_F_ONEWAY;
	}
}

/* Client -> service. f is the flow entry if a lookup found one (in either table; its
 * PENDING flag says which), else svc is the service it is addressed to. */
static __always_inline int forward(struct xdp_md *ctx, struct pkt *p, struct flow_state *f,
				   struct svc_info *svc, struct canary_clock *clk,
				   struct reason_stats *rs)
{
	__u64 now = coarse_now(clk);
	struct backend_slot *slot;
	struct backend_stats *bs;
	struct flow_state fresh;
	bool syn_retx = false, verify = false, reuse = false;
	struct arm_stats *as;
	int fib_rc, rc;

	if (f) {
		forward_track(p, f, now, &reuse, &syn_retx, &verify);
		if (reuse) {
			rs->flow_reused++;
			/* The new attempt starts in `pending`; the old entry must not shadow
			 * it from the flow table. */
			if (!(f->flags & CANARY_FLOW_F_PENDING))
				bpf_map_delete_elem(&flows, &p->key);
			f = NULL;
		}
	}

	if (f) {
		slot = backend_slot_at(f->backend);
		if (!slot) {
			rs->drop_no_backend++;
			return XDP_DROP;
		}
		flow_touch(f, now);
		fib_rc = nexthop_get(ctx, p, &p->key.client, &slot->key.addr, &slot->nh,
				     &slot->nh_ns, now);
		if (!fib_usable(fib_rc)) {
			rs->drop_fib++;
			return XDP_DROP;
		}
	} else {
		rc = flow_create(ctx, p, svc, &fresh, &slot, clk, rs, &fib_rc);
		if (rc >= 0)
			return rc;
		f = &fresh;
	}

	as = arm_stats_of(f->svc, f->arm);
	if (as) {
		as->fwd_packets++;
		as->fwd_bytes += p->len;
	}
	bs = backend_stats_of(f->svc, f->arm, f->backend_idx);
	if (bs) {
		bs->fwd_packets++;
		bs->fwd_bytes += p->len;
	}
	if (f != &fresh)
		health_forward(p, f, syn_retx, as, bs);
	if (verify)
		flow_verify(&p->key, f, now, rs);
	nat_rewrite(p, true, &slot->key.addr, slot->key.port, slot->csum_ip, slot->csum_l4);
	return xmit(ctx, p, fib_rc, &slot->nh, rs);
}

/* A reply to a flow in `pending`: a SYN-ACK (the handshake goes on), a RST, or the first
 * answer that verifies the flow (a datagram answered; a mid-stream flow its backend
 * answers with anything but a RST). A verified flow moves to the flow table and is
 * returned from there, so the rest of the reply path sees one kind of entry. */
static __always_inline struct flow_state *reply_pending(struct pkt *p, struct flow_key *fk,
							struct flow_state *pf, __u64 now,
							struct reason_stats *rs)
{
	bool tcp = p->key.svc.proto == IPPROTO_TCP;
	struct backend_stats *bs = backend_stats_of(pf->svc, pf->arm, pf->backend_idx);

	health_reply_flags(p, pf, arm_stats_of(pf->svc, pf->arm), bs);
	if (tcp) {
		if ((p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK) &&
		    pf->state == CANARY_FLOW_SYN_SENT) {
			pf->state = CANARY_FLOW_SYN_RECV;
			pf->ack_want = tcp_seq(p) + 1;
		}
		if (p->tcp_flags & (TCPF_RST | TCPF_FIN))
			flow_track_close(pf, p->tcp_flags);
		if (!(pf->flags & CANARY_FLOW_F_MIDSTREAM) || (p->tcp_flags & TCPF_RST))
			return NULL;
	}
	flow_verify(fk, pf, now, rs);
	return bpf_map_lookup_elem(&flows, fk);
}

/* The backend a packet from a backend port comes from: the reply index entry of its
 * source (and *slot_idx its slot), if the packet arrived on the interface that faces that
 * backend. NULL, and counted, for any other packet: it is passed untouched. */
static __always_inline struct backend_info *reply_backend(struct xdp_md *ctx, struct pkt *p,
							  __u32 *slot_idx,
							  struct reason_stats *rs)
{
	struct canary_endpoint be_key = {};
	struct backend_info *bi;

	/* In a reply the backend is the packet's source: key.client / client_port. */
	be_key.addr = p->key.client;
	be_key.port = p->key.client_port;
	be_key.proto = p->key.svc.proto;
	be_key.family = p->key.svc.family;
	bi = backend_find(&be_key, slot_idx);
	if (!bi) {
		rs->pass_not_service++;
		return NULL;
	}
	if (bi->ifindex && bi->ifindex != ctx->ingress_ifindex) {
		rs->pass_wrong_iface++;
		return NULL;
	}
	return bi;
}

/* The entry of the flow fk that this reply (from the backend in slot be_slot) answers,
 * with the reply's effect on it (state, health, verification). An entry that names
 * another backend is left alone (the flow was re-placed: a reset, a reused port).
 * Returns the flow-table entry, or NULL with *pf the pending one (a SYN-ACK: the flow
 * stays pending), or neither. */
static __always_inline struct flow_state *reply_flow(struct xdp_md *ctx, struct pkt *p,
						     struct flow_key *fk, __u32 be_slot,
						     struct flow_state **pf, __u64 now,
						     struct reason_stats *rs)
{
	struct flow_state *f;

	*pf = NULL;
	f = bpf_map_lookup_elem(&flows, fk);
	if (!f) {
		*pf = bpf_map_lookup_elem(&pending, fk);
		/* A pending flow re-placed on another backend is not this one's. */
		if (*pf && (*pf)->backend != be_slot)
			*pf = NULL;
		return *pf ? reply_pending(p, fk, *pf, now, rs) : NULL;
	}
	if (f->backend != be_slot)
		return NULL;
	health_reply(ctx, p, f, arm_stats_of(f->svc, f->arm),
		     backend_stats_of(f->svc, f->arm, f->backend_idx));
	if (p->key.svc.proto == IPPROTO_TCP && (p->tcp_flags & (TCPF_RST | TCPF_FIN)))
		flow_track_close(f, p->tcp_flags);
	return f;
}

/* Backend -> client: restore VIP:port as the source. The rewrite itself needs only the
 * backend entry, so replies survive the loss of their flow entry, a SYN-ACK included
 * (its flow may have been evicted from `pending`, or forwarded by another node): it
 * leaves with the VIP's address, never the backend's. A packet from a backend's address
 * that arrives on an interface that does not face that backend is no reply: it is
 * passed untouched (a client cannot forge replies). The next hop is the client's, from
 * this CPU's client_hops entry. */
static __always_inline int reply(struct xdp_md *ctx, struct pkt *p, struct canary_clock *clk,
				 struct reason_stats *rs)
{
	struct canary_nexthop *nh = NULL;
	struct backend_info *bi;
	struct flow_key fk = {};
	struct flow_state *f, *pf;
	struct arm_stats *as;
	__u32 svc, arm, be_slot = 0;
	__u64 now;
	int fib_rc;

	bi = reply_backend(ctx, p, &be_slot, rs);
	if (!bi)
		return XDP_PASS;
	fk.svc = bi->vip;
	fk.client = p->key.svc.addr;
	fk.client_port = p->key.svc.port;
	now = coarse_now(clk);
	f = reply_flow(ctx, p, &fk, be_slot, &pf, now, rs);
	if (f) {
		flow_touch(f, now);
		svc = f->svc;
		arm = f->arm;
	} else if (pf) {
		/* Still pending (a SYN-ACK). */
		flow_touch(pf, now);
		svc = pf->svc;
		arm = pf->arm;
	} else {
		rs->reply_no_flow++;
		svc = bi->svc;
		arm = bi->arm;
	}
	fib_rc = client_hop_get(ctx, p, &bi->vip.addr, &fk.client, &nh, now);
	if (!fib_usable(fib_rc) || !nh) {
		rs->drop_fib++;
		return XDP_DROP;
	}
	as = arm_stats_of(svc, arm);
	if (as) {
		as->rev_packets++;
		as->rev_bytes += p->len;
	}
	nat_rewrite(p, false, &bi->vip.addr, bi->vip.port, bi->csum_ip, bi->csum_l4);
	return xmit(ctx, p, fib_rc, nh, rs);
}

SEC("xdp")
int CANARY_PROG_NAME(struct xdp_md *ctx)
{
	struct canary_clock *clk;
	struct reason_stats *rs;
	struct port_kinds *pk;
	struct svc_info *svc;
	struct flow_state *f;
	struct pkt p = {};
	__u32 zero = 0;
	__u8 kind;

	rs = bpf_map_lookup_elem(&reasons, &zero);
	pk = bpf_map_lookup_elem(&ports, &zero);
	clk = bpf_map_lookup_elem(&clock, &zero);
	if (!rs || !pk || !clk)
		return XDP_PASS;

	switch (parse_packet(ctx, &p)) {
	case PARSE_OK:
		break;
	case PARSE_NOT_IP:
		rs->pass_not_ip++;
		return XDP_PASS;
	case PARSE_VLAN:
		rs->pass_vlan++;
		return XDP_PASS;
	case PARSE_FRAGMENT:
		rs->pass_fragment++;
		return XDP_PASS;
	case PARSE_IPV6_EXT:
		rs->pass_ipv6_ext++;
		return XDP_PASS;
	case PARSE_MALFORMED:
		rs->pass_malformed++;
		return XDP_PASS;
	case PARSE_ICMP:
		return handle_icmp(ctx, &p, rs);
	default: /* other L4 protocols */
		rs->pass_not_service++;
		return XDP_PASS;
	}

	/* To a service port: an established flow is found with one lookup; a flow not yet
	 * verified with a second, and only a new one pays for the service lookup. */
	kind = pk->kind[p.key.svc.port];
	if (kind & CANARY_PORT_SERVICE) {
		svc = NULL;
		f = bpf_map_lookup_elem(&flows, &p.key);
		if (!f)
			f = bpf_map_lookup_elem(&pending, &p.key);
		if (!f) {
			svc = bpf_map_lookup_elem(&services, &p.key.svc);
			if (!svc)
				goto not_ours;
		}
		/* One call site: forward() is inlined, and the verifier walks each copy. */
		return forward(ctx, &p, f, svc, clk, rs);
	}
not_ours:
	/* From a backend port: maybe a reply. */
	kind = pk->kind[p.key.client_port];
	if (kind & CANARY_PORT_BACKEND)
		return reply(ctx, &p, clk, rs);
	rs->pass_not_service++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
