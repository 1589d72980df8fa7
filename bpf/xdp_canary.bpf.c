// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xdp_canary.bpf.c: the splitter. It matches service traffic, pins each new flow to the
 * stable or the canary arm, NATs it to a backend of that arm and rewrites replies back. */
#include "parsing.h"
#include "maps.h"
#include "canary_csum.h"
#include "canary_hash.h"
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

static __always_inline __u64 flow_timeout(const struct flow_state *f)
{
	switch (f->state) {
	case CANARY_FLOW_UDP:
		return udp_idle_ns;
	case CANARY_FLOW_SYN_SENT:
	case CANARY_FLOW_SYN_RECV:
		return syn_timeout_ns;
	case CANARY_FLOW_ESTABLISHED:
		return tcp_idle_ns;
	default:
		return tcp_closing_ns;
	}
}

/* Idle for longer than its state allows. Stamps are refreshed at most once per
 * CANARY_NEXTHOP_TTL_NS, so ages have that granularity. Signed arithmetic: a stamp
 * written on another CPU may be a little ahead of our clock. */
static __always_inline bool flow_expired(const struct flow_state *f, __u64 now)
{
	__u64 seen = f->fwd_seen_ns > f->rev_seen_ns ? f->fwd_seen_ns : f->rev_seen_ns;

	return (__s64)(now - seen) > (__s64)flow_timeout(f);
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

	inner = bpf_map_lookup_elem(&CANARY_MAP_SVC_CONFIGS, &svc_id);
	if (!inner)
		return NULL;
	return bpf_map_lookup_elem(inner, &zero);
}

/* Client-group override for this source, if the service has any. */
static __always_inline int override_arm(const struct pkt *p, __u32 svc_id)
{
	struct override_key ok = {};
	struct override_value *ov;

	ok.prefixlen = 32 + 128;
	ok.svc = bpf_htonl(svc_id);
	if (p->key.svc.family == CANARY_AF_INET) {
		ok.addr[10] = 0xff;
		ok.addr[11] = 0xff;
		__builtin_memcpy(&ok.addr[12], &p->key.client.v4, 4);
	} else {
		__builtin_memcpy(ok.addr, &p->key.client, 16);
	}
	ov = bpf_map_lookup_elem(&CANARY_MAP_OVERRIDES, &ok);
	return ov ? (int)(ov->arm & 1) : -1;
}

/* Decide a new flow: override, else weight bucket; then the backend from the arm's
 * Maglev ring. Fills f; returns false when the service has no backend at all. */
static __always_inline bool flow_decide(const struct pkt *p, __u32 svc_id,
					struct flow_state *f, struct reason_stats *rs)
{
	const struct canary_backend *be;
	struct svc_config *cfg;
	__u32 hash, slot, arm, idx;
	int ov = -1;

	cfg = svc_config_of(svc_id);
	if (!cfg)
		return false;

	hash = canary_decision_hash(&p->key, cfg);
	if (cfg->flags & CANARY_SVC_F_OVERRIDES)
		ov = override_arm(p, svc_id);
	if (ov >= 0) {
		arm = ov;
		f->flags |= CANARY_FLOW_F_OVERRIDE;
		rs->override_hits++;
	} else {
		arm = canary_bucket(hash) < cfg->canary_weight ? CANARY_ARM_CANARY
							       : CANARY_ARM_STABLE;
	}
	if (cfg->nbackends[arm] == 0) {
		arm ^= 1;
		if (cfg->nbackends[arm] == 0)
			return false;
		f->flags |= CANARY_FLOW_F_FALLBACK;
		rs->arm_fallback++;
	}

	slot = canary_ring_slot(hash);
	/* The compiler knows x % N < N and would drop this check; the verifier does not
	 * know it, so hide the value from the compiler first. */
	barrier_var(slot);
	if (slot >= CANARY_RING_SIZE)
		return false;
	idx = cfg->ring[arm][slot];
	if (idx >= CANARY_MAX_BACKENDS || idx >= cfg->nbackends[arm])
		return false;
	be = &cfg->backends[arm][idx];

	f->backend = be->addr;
	f->backend_port = be->port;
	f->csum_ip = be->csum_ip;
	f->csum_l4 = be->csum_l4;
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

/* The coarse "now" of the fast path: one memory read instead of a clock helper (a
 * helper call measured 10-20 ns per packet here; see docs/BENCHMARKS.md). */
static __always_inline __u64 coarse_now(struct canary_clock *c)
{
	return c->now_ns;
}

/* Slow paths read the precise clock anyway; they also keep the coarse clock alive:
 * arm the timer on first use, and catch up if it ever stopped ticking. */
static __always_inline __u64 clock_sync(struct canary_clock *c)
{
	__u64 real = bpf_ktime_get_ns();

	if ((__s64)(real - c->now_ns) > (__s64)(2 * CANARY_CLOCK_TICK_NS)) {
		c->now_ns = real;
		if (!c->armed) {
			bpf_timer_init(&c->timer, &CANARY_MAP_CLOCK, 1 /* CLOCK_MONOTONIC */);
			bpf_timer_set_callback(&c->timer, clock_tick);
			c->armed = 1;
		}
		bpf_timer_start(&c->timer, CANARY_CLOCK_TICK_NS, 0);
	}
	return real;
}

/* ---- client -> service -------------------------------------------------------------------- */

/* Place a new flow: decide, resolve its next hop, insert it (not for a stray RST).
 * svc is the service when the caller already looked it up. Fills *fresh; returns an
 * XDP verdict, or -1 when the flow may be forwarded. */
static __always_inline int flow_create(struct xdp_md *ctx, struct pkt *p, struct svc_info *svc,
				       struct flow_state *fresh, struct canary_clock *clk,
				       struct reason_stats *rs, int *fib_rc)
{
	bool tcp = p->key.svc.proto == IPPROTO_TCP;
	bool syn = tcp && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
	struct backend_stats *bs;
	struct arm_stats *as;
	__u64 now;

	if (!svc)
		svc = bpf_map_lookup_elem(&CANARY_MAP_SERVICES, &p->key.svc);
	if (!svc) {
		rs->pass_not_service++;
		return XDP_PASS;
	}
	__builtin_memset(fresh, 0, sizeof(*fresh));
	if (!flow_decide(p, svc->id, fresh, rs)) {
		rs->drop_no_backend++;
		return XDP_DROP;
	}
	*fib_rc = nexthop_resolve(ctx, p, &p->key.client, &fresh->backend, &fresh->fwd_nh);
	if (!fib_usable(*fib_rc)) {
		rs->drop_fib++;
		return XDP_DROP;
	}
	now = clock_sync(clk);
	fresh->fwd_seen_ns = coarse_now(clk);
	fresh->created_ns = now;
	if (!tcp) {
		fresh->state = CANARY_FLOW_UDP;
	} else if (syn) {
		fresh->state = CANARY_FLOW_SYN_SENT;
		fresh->syn_count = 1;
		fresh->syn_ns = now;
	} else {
		fresh->state = CANARY_FLOW_ESTABLISHED;
		fresh->flags |= CANARY_FLOW_F_MIDSTREAM;
		flow_track_close(fresh, p->tcp_flags);
		rs->flow_midstream++;
	}
	as = arm_stats_of(fresh->svc, fresh->arm);
	health_request(p, fresh, as);
	/* A stray RST creates no state (as in Katran): it is forwarded and forgotten,
	 * and, like a failed insert, it is no flow of the arm. */
	if (tcp && (p->tcp_flags & TCPF_RST))
		return -1;
	if (bpf_map_update_elem(&CANARY_MAP_FLOWS, &p->key, fresh, BPF_ANY)) {
		rs->flow_insert_fail++;
		return -1;
	}
	if (!(fresh->flags & CANARY_FLOW_F_MIDSTREAM))
		rs->flow_new++;
	if (as)
		as->flows++;
	bs = backend_stats_of(fresh->svc, fresh->arm, fresh->backend_idx);
	if (bs)
		bs->flows++;
	return -1;
}

/* Client -> service. f is the flow entry if the lookup found one, else svc is the
 * service it is addressed to. */
static __always_inline int forward(struct xdp_md *ctx, struct pkt *p, struct flow_state *f,
				   struct svc_info *svc, struct canary_clock *clk,
				   struct reason_stats *rs)
{
	bool tcp = p->key.svc.proto == IPPROTO_TCP;
	bool syn = tcp && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
	__u64 now = coarse_now(clk);
	struct backend_stats *bs;
	struct flow_state fresh;
	bool syn_retx = false;
	struct arm_stats *as;
	int fib_rc, rc;

	if (f) {
		if (syn) {
			if (flow_expired(f, now) || f->state >= CANARY_FLOW_CLOSING) {
				/* The tuple's earlier connection ended: a reused port. */
				rs->flow_reused++;
				f = NULL;
			} else if (f->state <= CANARY_FLOW_SYN_RECV) {
				/* A retransmitted SYN keeps its pending entry; before any
				 * SYN-ACK it is a sign of an unresponsive backend. */
				syn_retx = f->state == CANARY_FLOW_SYN_SENT;
				if (f->syn_count < 255)
					f->syn_count++;
			}
		} else if (!tcp) {
			if (flow_expired(f, now)) {
				rs->flow_reused++;
				f = NULL;
			}
		} else if (p->tcp_flags & (TCPF_RST | TCPF_FIN)) {
			flow_track_close(f, p->tcp_flags);
		} else if (f->state == CANARY_FLOW_SYN_RECV && (p->tcp_flags & TCPF_ACK)) {
			f->state = CANARY_FLOW_ESTABLISHED;
		}
	}

	if (f) {
		fib_rc = nexthop_get(ctx, p, &p->key.client, &f->backend, &f->fwd_nh,
				     &f->fwd_seen_ns, now);
		if (!fib_usable(fib_rc)) {
			rs->drop_fib++;
			return XDP_DROP;
		}
	} else {
		rc = flow_create(ctx, p, svc, &fresh, clk, rs, &fib_rc);
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
	nat_rewrite(p, true, &f->backend, f->backend_port, f->csum_ip, f->csum_l4);
	return xmit(ctx, p, fib_rc, &f->fwd_nh, rs);
}

/* Backend -> client: restore VIP:port as the source. The rewrite itself needs only the
 * backend entry, so replies survive the loss of their flow entry. */
static __always_inline int reply(struct xdp_md *ctx, struct pkt *p, struct canary_clock *clk,
				 struct reason_stats *rs)
{
	struct canary_endpoint be_key = {};
	struct canary_nexthop nh_local;
	struct canary_nexthop *nh;
	struct backend_info *bi;
	struct flow_key fk = {};
	struct flow_state *f;
	struct arm_stats *as;
	__u64 now, stamp;
	__u32 svc, arm;
	int fib_rc;

	/* In a reply the backend is the packet's source: key.client / client_port. */
	be_key.addr = p->key.client;
	be_key.port = p->key.client_port;
	be_key.proto = p->key.svc.proto;
	be_key.family = p->key.svc.family;
	bi = backend_find(&be_key);
	if (!bi) {
		rs->pass_not_service++;
		return XDP_PASS;
	}

	fk.svc = bi->vip;
	fk.client = p->key.svc.addr;
	fk.client_port = p->key.svc.port;
	now = coarse_now(clk);
	f = bpf_map_lookup_elem(&CANARY_MAP_FLOWS, &fk);
	/* The flow may have been re-placed on another backend (a reset, a reused port):
	 * then this packet is not its reply and must not touch its state. */
	if (f && (f->backend_port != p->key.client_port || !addr_eq(&f->backend, &p->key.client)))
		f = NULL;
	/* A SYN-ACK that answers no SYN of ours is someone's direct connection to the
	 * backend through this router, not a reply to rewrite. */
	if (!f && p->key.svc.proto == IPPROTO_TCP &&
	    (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK)) {
		rs->pass_not_service++;
		return XDP_PASS;
	}
	if (f) {
		fib_rc = nexthop_get(ctx, p, &bi->vip.addr, &fk.client, &f->rev_nh,
				     &f->rev_seen_ns, now);
		nh = &f->rev_nh;
		svc = f->svc;
		arm = f->arm;
	} else {
		rs->reply_no_flow++;
		stamp = 0;
		nh_local.ifindex = 0;
		fib_rc = nexthop_get(ctx, p, &bi->vip.addr, &fk.client, &nh_local, &stamp, now);
		nh = &nh_local;
		svc = bi->svc;
		arm = bi->arm;
	}
	if (!fib_usable(fib_rc)) {
		rs->drop_fib++;
		return XDP_DROP;
	}

	as = arm_stats_of(svc, arm);
	if (as) {
		as->rev_packets++;
		as->rev_bytes += p->len;
	}
	if (f) {
		health_reply(ctx, p, f, as, backend_stats_of(svc, arm, f->backend_idx));
		if (p->key.svc.proto == IPPROTO_TCP) {
			if ((p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK) &&
			    f->state == CANARY_FLOW_SYN_SENT)
				f->state = CANARY_FLOW_SYN_RECV;
			if (p->tcp_flags & (TCPF_RST | TCPF_FIN))
				flow_track_close(f, p->tcp_flags);
		}
	} else if (p->tcp_flags & TCPF_RST && as) {
		as->backend_resets++;
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

	rs = bpf_map_lookup_elem(&CANARY_MAP_REASONS, &zero);
	pk = bpf_map_lookup_elem(&CANARY_MAP_PORTS, &zero);
	clk = bpf_map_lookup_elem(&CANARY_MAP_CLOCK, &zero);
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

	/* To a service port: an established flow is found with one lookup, and only a
	 * miss pays for the service lookup. */
	kind = pk->kind[p.key.svc.port];
	if (kind & CANARY_PORT_SERVICE) {
		f = bpf_map_lookup_elem(&CANARY_MAP_FLOWS, &p.key);
		if (f)
			return forward(ctx, &p, f, NULL, clk, rs);
		svc = bpf_map_lookup_elem(&CANARY_MAP_SERVICES, &p.key.svc);
		if (svc)
			return forward(ctx, &p, NULL, svc, clk, rs);
	}
	/* From a backend port: maybe a reply. */
	kind = pk->kind[p.key.client_port];
	if (kind & CANARY_PORT_BACKEND)
		return reply(ctx, &p, clk, rs);
	rs->pass_not_service++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
