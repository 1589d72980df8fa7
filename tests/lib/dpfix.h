/* dpfix.h: running the real xdp_canary program through BPF_PROG_TEST_RUN in the
 * netfix.h namespace: a private loaded instance, services built with the same apply
 * code canaryctl uses, and helpers to send fixtures and read counters and flows. */
#ifndef XDP_CANARY_DPFIX_H
#define XDP_CANARY_DPFIX_H

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "canary_decide.h"
#include "netfix.h"
#include "pktbuild.h"
#include "testlib.h"
#include "base/util.h"
#include "maps/apply.h"
#include "maps/service.h"
#include "maps/stats.h"
#include "xdp_canary.skel.h"

struct instance {
	struct xdp_canary_bpf *skel;
	struct canary_maps maps;
	int prog_fd;
};

/* Seconds, rounded up, so that a timeout shortened below 1 s is not 0 ("at once"). */
static inline __u32 ns_to_s_up(__u64 ns)
{
	return (__u32)((ns + 999999999ull) / 1000000000ull);
}

/* Load a private (unpinned) copy of the program; tune (may be NULL) adjusts its
 * load-time constants first. meta describes what it was loaded with, as canary-loader
 * writes it (the sweeper reads its timeouts from there). */
static inline int instance_load_tuned(struct instance *in,
				      void (*tune)(struct xdp_canary_bpf *, void *), void *arg)
{
	struct canary_meta meta = {.abi_version = CANARY_ABI_VERSION};
	__u32 zero = 0;

	memset(in, 0, sizeof(*in));
	in->skel = xdp_canary_bpf__open();
	if (!in->skel)
		return -1;
	bpf_map__set_max_entries(in->skel->maps.flows, 65536);
	bpf_map__set_max_entries(in->skel->maps.pending, 16384);
	if (tune)
		tune(in->skel, arg);
	meta.flow_capacity = bpf_map__max_entries(in->skel->maps.flows);
	meta.pending_capacity = bpf_map__max_entries(in->skel->maps.pending);
	meta.syn_timeout_s = ns_to_s_up(in->skel->rodata->syn_timeout_ns);
	meta.tcp_idle_s = ns_to_s_up(in->skel->rodata->tcp_idle_ns);
	meta.tcp_closing_s = ns_to_s_up(in->skel->rodata->tcp_closing_ns);
	meta.udp_idle_s = ns_to_s_up(in->skel->rodata->udp_idle_ns);
	if (xdp_canary_bpf__load(in->skel)) {
		xdp_canary_bpf__destroy(in->skel);
		return -1;
	}
	canary_maps_from_obj(&in->maps, in->skel->obj);
	bpf_map_update_elem(in->maps.meta, &zero, &meta, BPF_ANY);
	in->prog_fd = bpf_program__fd(in->skel->progs.xdp_canary);
	return 0;
}

static inline void tune_timeouts(struct xdp_canary_bpf *skel, void *arg)
{
	const unsigned int *ms = arg; /* udp idle, syn */

	if (ms[0])
		skel->rodata->udp_idle_ns = ms[0] * 1000000ull;
	if (ms[1])
		skel->rodata->syn_timeout_ns = ms[1] * 1000000ull;
}

static inline void tune_tables(struct xdp_canary_bpf *skel, void *arg)
{
	bpf_map__set_max_entries(skel->maps.flows, ((unsigned int *)arg)[0]);
	bpf_map__set_max_entries(skel->maps.pending, ((unsigned int *)arg)[1]);
}

/* With a flow table of flows entries and a `pending` table of pending entries. */
static inline int instance_load_tables(struct instance *in, unsigned int flows, unsigned int pending)
{
	unsigned int n[2] = {flows, pending};

	return instance_load_tuned(in, tune_tables, n);
}

/* With timeouts in ms (0 = default). */
static inline int instance_load(struct instance *in, unsigned int udp_idle_ms, unsigned int syn_ms)
{
	unsigned int ms[2] = {udp_idle_ms, syn_ms};

	return instance_load_tuned(in, tune_timeouts, ms);
}

/* ---- building services ----------------------------------------------------------------- */

static inline void spec_init(struct service_spec *s, const char *name, const char *vip, int port,
		      int proto, int mode, uint16_t weight_bp)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->family = addr_parse(vip, &s->vip);
	s->port = port;
	s->proto = proto;
	s->hash_mode = mode;
	s->prefix_v4 = 32;
	s->prefix_v6 = 64;
	s->weight_bp = weight_bp;
}

static inline void spec_backend(struct service_spec *s, int arm, const char *ep)
{
	struct backend_spec *b = &s->backends[arm][s->nbackends[arm]++];

	if (!endpoint_parse(ep, &b->addr, &b->port))
		fprintf(stderr, "bad endpoint %s\n", ep);
}

/* Add an override of prefix to arm; its storage is ov[], as many as s will have. */
static inline void spec_override(struct service_spec *s, struct override_spec *ov,
				 const char *prefix, int arm)
{
	struct override_spec *o = &ov[s->noverrides++];

	s->overrides = ov;
	o->family = prefix_parse(prefix, &o->addr, &o->plen);
	o->arm = arm;
}

/* Apply services as canaryctl apply does, with options (NULL: none) and the summary
 * (sum may be NULL). */
static inline int apply_specs_opts(struct instance *in, struct service_spec *specs, unsigned int n,
				   const struct apply_opts *opts, struct apply_summary *sum)
{
	struct canary_config cfg = {.nservices = n, .services = specs};
	struct apply_opts o = {0};
	struct apply_summary s;

	if (opts)
		o = *opts;
	snprintf(cfg.file, sizeof(cfg.file), "(test)");
	return config_apply(&in->maps, &cfg, &o, sum ? sum : &s);
}

static inline int apply_specs(struct instance *in, struct service_spec *specs, unsigned int n)
{
	return apply_specs_opts(in, specs, n, NULL, NULL);
}

/* ---- running packets -------------------------------------------------------------------- */

struct run {
	__u32 retval;
	__u32 len;
	uint8_t out[2048];
};

static inline int xdp_run(struct instance *in, int ifindex, const uint8_t *pkt, size_t len, struct run *r)
{
	struct xdp_md ctx = {.data = 0, .data_end = len, .ingress_ifindex = ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err = bpf_prog_test_run_opts(in->prog_fd, &o);

	if (err)
		fprintf(stderr, "bpf_prog_test_run_opts: %s\n", strerror(errno));
	r->retval = o.retval;
	r->len = o.data_size_out;
	return err;
}

static inline void spec_pkt(struct pkt_spec *p, const char *src, int sport, const char *dst, int dport,
		     int proto, uint8_t flags)
{
	memset(p, 0, sizeof(*p));
	p->family = addr_parse(src, &p->src);
	addr_parse(dst, &p->dst);
	p->sport = sport;
	p->dport = dport;
	p->proto = proto;
	p->tcp_flags = flags;
	p->seq = 1999; /* a SYN-ACK with it asks for ACK 2000, which ACKs carry */
	p->ack = flags & TH_ACK ? 2000 : 0;
}

/* "what: check", or the check alone when what is NULL (a fixture's name labels it). */
static inline const char *dp_what(char *buf, size_t size, const char *what, const char *check)
{
	snprintf(buf, size, "%s%s%s", what ? what : "", what ? ": " : "", check);
	return buf;
}

/* Run the frame in[0..len) on ifindex; expect verdict, and when want != NULL, exactly that
 * frame out (checksums verified from scratch), else the frame unchanged. */
static inline bool expect_frame_bytes(struct instance *in, int ifindex, const uint8_t *inbuf,
				      size_t len, __u32 verdict, const struct pkt_spec *want,
				      const char *what)
{
	uint8_t wantbuf[2048];
	size_t wlen;
	struct run r;
	bool ok;
	char msg[200];

	if (xdp_run(in, ifindex, inbuf, len, &r))
		return ASSERT_TRUE(false, dp_what(msg, sizeof(msg), what, "prog test run"));
	ok = ASSERT_EQ(r.retval, verdict, dp_what(msg, sizeof(msg), what, "verdict"));
	if (!want)
		return ASSERT_TRUE(r.len == len && !memcmp(r.out, inbuf, len),
				   dp_what(msg, sizeof(msg), what, "frame unchanged")) &&
		       ok;
	wlen = pkt_build(want, wantbuf, sizeof(wantbuf));
	ok &= ASSERT_TRUE(pkt_csums_ok(r.out, r.len),
			  dp_what(msg, sizeof(msg), what, "checksums verify after rewrite"));
	ok &= ASSERT_TRUE(r.len == wlen && !memcmp(r.out, wantbuf, wlen),
			  dp_what(msg, sizeof(msg), what, "output bytes"));
	if (r.len == wlen && memcmp(r.out, wantbuf, wlen)) {
		size_t i;

		for (i = 0; i < wlen; i++)
			if (r.out[i] != wantbuf[i])
				printf("#   byte %zu: got %02x want %02x\n", i, r.out[i], wantbuf[i]);
	}
	return ok;
}

/* Run p in on ifindex; expect verdict, and when want != NULL, exactly that frame out. */
static inline bool expect_frame(struct instance *in, int ifindex, const struct pkt_spec *p,
				__u32 verdict, const struct pkt_spec *want, const char *what)
{
	uint8_t inbuf[2048];

	return expect_frame_bytes(in, ifindex, inbuf, pkt_build(p, inbuf, sizeof(inbuf)), verdict,
				  want, what);
}

/* The key of the flow client:cport -> vip:vport. */
static inline struct flow_key flow_key_of(const char *client, int cport, const char *vip, int vport,
					  int proto)
{
	struct flow_key k = {};

	k.svc.family = addr_parse(vip, &k.svc.addr);
	k.svc.port = htons(vport);
	k.svc.proto = proto;
	addr_parse(client, &k.client);
	k.client_port = htons(cport);
	return k;
}

/* The entry of a flow, in the flow table or in `pending` (its flags say which). */
static inline bool flow_get(struct instance *in, const char *client, int cport, const char *vip,
			    int vport, int proto, struct flow_state *st)
{
	struct flow_key k = flow_key_of(client, cport, vip, vport, proto);

	return bpf_map_lookup_elem(in->maps.flows, &k, st) == 0 ||
	       bpf_map_lookup_elem(in->maps.pending, &k, st) == 0;
}

/* The backend a flow entry names (by its reply-index slot): true with *be filled. */
static inline bool flow_backend(struct instance *in, const struct flow_state *st,
				struct canary_endpoint *be)
{
	struct backend_slot slot;

	if (backend_index_slot(&in->maps, st->backend, &slot))
		return false;
	*be = slot.key;
	return true;
}

/* The flow's backend is addr (text) : port. */
static inline bool flow_backend_is(struct instance *in, const struct flow_state *st,
				   const char *addr, int port)
{
	struct canary_endpoint be;
	union canary_addr a = {};

	addr_parse(addr, &a);
	return flow_backend(in, st, &be) && be.port == htons(port) &&
	       !memcmp(&be.addr, &a, sizeof(a));
}

/* The interface of the next hop the data plane cached for a flow's backend (0: none). */
static inline unsigned int flow_backend_nh(struct instance *in, const struct flow_state *st)
{
	struct backend_slot slot;

	return backend_index_slot(&in->maps, st->backend, &slot) ? 0 : slot.nh.ifindex;
}

/* The interface of the reply next hop some CPU cached for client (0: none). */
static inline unsigned int client_hop_nh(struct instance *in, const char *client)
{
	int ncpu = canary_ncpus(), c;
	struct client_hop hops[ncpu];
	union canary_addr a = {};
	__u32 idx;

	addr_parse(client, &a);
	idx = canary_client_hop_slot(&a);
	if (bpf_map_lookup_elem(in->maps.client_hops, &idx, hops))
		return 0;
	for (c = 0; c < ncpu; c++)
		if (!memcmp(&hops[c].addr, &a, sizeof(a)) && hops[c].nh.ifindex)
			return hops[c].nh.ifindex;
	return 0;
}

/* Where the data plane sends a new flow k, from its own maps and with its own decision
 * (canary_decide.h), as `canaryctl explain` works it out: the service's config, the
 * override trie at the client's address, then canary_decide(). cfg (may be NULL) gets
 * the config. Returns canary_decide()'s result, or -ENOENT when k is no service. */
static inline int dp_decide(struct instance *in, const struct flow_key *k, struct svc_config *cfg,
			    struct canary_decision *d)
{
	struct svc_config c;
	struct svc_info svc;
	struct override_key ok;
	struct override_value ov;
	int oarm = -1;

	if (bpf_map_lookup_elem(in->maps.services, &k->svc, &svc) ||
	    svc_config_read(&in->maps, svc.id, &c))
		return -ENOENT;
	if (c.flags & CANARY_SVC_F_OVERRIDES) {
		override_key_make(svc.id, k->svc.family, &k->client,
				  k->svc.family == CANARY_AF_INET ? 32 : 128, &ok);
		if (bpf_map_lookup_elem(in->maps.overrides, &ok, &ov) == 0)
			oarm = ov.arm & 1;
	}
	if (cfg)
		*cfg = c;
	return canary_decide(&c, k, oarm, d);
}

static inline struct reason_stats reasons(struct instance *in)
{
	struct reason_stats r;

	reasons_read(&in->maps, &r);
	return r;
}

static inline struct arm_stats armst(struct instance *in, uint32_t svc, int arm)
{
	struct arm_stats a;

	arm_stats_read(&in->maps, svc, arm, &a);
	return a;
}

static inline uint32_t svc_id(struct instance *in, const char *name)
{
	struct service_state s;

	return service_find(&in->maps, name, &s) == 0 ? s.info.id : 0xffffffff;
}

/* Shorthands for a frame's expected rewrite. */
static inline struct pkt_spec fwd_to(const struct pkt_spec *p, const char *backend, int bport,
			      const uint8_t *dmac, const uint8_t *smac)
{
	struct pkt_spec w = *p;

	addr_parse(backend, &w.dst);
	w.dport = bport;
	memcpy(w.dmac, dmac, 6);
	memcpy(w.smac, smac, 6);
	return w;
}

static inline struct pkt_spec rev_from(const struct pkt_spec *p, const char *vip, int vport)
{
	struct pkt_spec w = *p;

	addr_parse(vip, &w.src);
	w.sport = vport;
	memcpy(w.dmac, MAC_CLIENT, 6);
	memcpy(w.smac, MAC_XA, 6);
	return w;
}

static inline void client_macs(struct pkt_spec *p)
{
	memcpy(p->smac, MAC_CLIENT, 6);
	memcpy(p->dmac, MAC_XA, 6);
}

static inline void backend_macs(struct pkt_spec *p, const uint8_t *bmac, const uint8_t *ifmac)
{
	memcpy(p->smac, bmac, 6);
	memcpy(p->dmac, ifmac, 6);
}

/* One TCP segment src:sport -> dst:dport with flags and payload (may be NULL) through the
 * program: from the client (on if_xa) or from the stable backend MAC_ST1 (on if_xb).
 * Returns the verdict, ~0u when the test run itself failed. */
static inline __u32 send_tcp(struct instance *in, bool from_client, const char *src, int sport,
			     const char *dst, int dport, uint8_t flags, const char *payload)
{
	struct pkt_spec p;
	uint8_t buf[512];
	struct run r;

	spec_pkt(&p, src, sport, dst, dport, IPPROTO_TCP, flags);
	if (from_client)
		client_macs(&p);
	else
		backend_macs(&p, MAC_ST1, MAC_XB);
	p.payload = payload;
	p.plen = payload ? strlen(payload) : 0;
	if (xdp_run(in, from_client ? if_xa : if_xb, buf, pkt_build(&p, buf, sizeof(buf)), &r))
		return ~0u;
	return r.retval;
}

#endif
