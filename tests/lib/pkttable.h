/* pkttable.h: single-packet fixtures as a table. Each names one packet (built from a
 * spec, and optionally made malformed), the verdict the program must give it, what the
 * frame must look like when it leaves, the counters that must move and by how much, and
 * the flow entry it must leave behind. run_pkt_fixture() sends one through the real
 * program (dpfix.h) and checks all of it; TEST_FIXTURE_TABLE (testlib.h) makes a case of
 * a table, each fixture under its own name. */
#ifndef XDP_CANARY_PKTTABLE_H
#define XDP_CANARY_PKTTABLE_H

#include <stddef.h>

#include "dpfix.h"

/* Where the packet comes from, which decides the interface and the MACs. */
enum fx_side {
	FX_CLIENT = 0, /* the client, on xa */
	FX_STABLE,     /* the stable backend MAC_ST1, on xb */
};

/* The frame that must leave. */
enum fx_out_kind {
	FX_UNCHANGED = 0, /* byte for byte the frame that came in */
	FX_TO,		  /* destination rewritten to addr:port, for the next hop `hop` */
	FX_FROM,	  /* source rewritten to addr:port (the VIP), on its way to the client */
};

/* Whose MACs an FX_TO frame carries. */
enum fx_hop {
	FX_HOP_STABLE = 0, /* MAC_ST1 from xb */
	FX_HOP_CANARY,	   /* MAC_CA1 from xc */
	FX_HOP_KERNEL,	   /* the frame's own: passed to the kernel (no neighbour) */
};

/* The flow entry the packet must leave. */
enum fx_flow {
	FX_FLOW_ANY = 0, /* not checked */
	FX_FLOW_NONE,	 /* none for its tuple */
	FX_FLOW_MADE,	 /* one, carrying at least flow_flags */
};

/* A counter by field name and offset (in struct reason_stats or struct arm_stats), and
 * the exact amount it must move by (0: it must not move). */
struct fx_counter {
	const char *name;
	size_t off;
	long long by;
};
/* clang-format off */
#define FX_REASON(field, n) {#field, offsetof(struct reason_stats, field), (n)}
#define FX_ARM(field, n)    {#field, offsetof(struct arm_stats, field), (n)}
/* clang-format on */
#define FX_MAX_COUNTERS 4

struct fx_in {
	enum fx_side from;
	const char *src;
	int sport;
	const char *dst;
	int dport;
	int proto;
	uint8_t flags; /* TCP flags */
	const char *payload;
	uint8_t ip_opt_words;
	bool udp_zero_csum;
	/* Made malformed after it is built (NULL: sent as built); may grow it by 64 bytes. */
	void (*mangle)(uint8_t *frame, size_t *len);
};

struct fx_out {
	enum fx_out_kind kind;
	const char *addr;
	int port;
	enum fx_hop hop;
};

struct pkt_fixture {
	const char *name; /* says what it shows; -t selects it */
	struct fx_in in;
	__u32 verdict; /* XDP_PASS, XDP_DROP, XDP_TX, XDP_REDIRECT */
	struct fx_out out;
	struct fx_counter reasons[FX_MAX_COUNTERS];
	bool only_these; /* and no other reason counter moves */
	/* Counters of one arm of a service (svc NULL: none checked). */
	const char *svc;
	int arm;
	struct fx_counter arm_counters[FX_MAX_COUNTERS];
	enum fx_flow flow;
	uint8_t flow_flags; /* CANARY_FLOW_F_* */
};

static inline __u64 fx_word(const void *stats, size_t off)
{
	__u64 v;

	memcpy(&v, (const char *)stats + off, sizeof(v));
	return v;
}

static inline void fx_check_counters(const struct fx_counter *c, const void *before,
				     const void *after)
{
	unsigned int i;

	for (i = 0; i < FX_MAX_COUNTERS && c[i].name; i++)
		TL_REPORT(fx_word(after, c[i].off) - fx_word(before, c[i].off) == (__u64)c[i].by,
			  "%s %+lld (got %+lld)", c[i].name, c[i].by,
			  (long long)(fx_word(after, c[i].off) - fx_word(before, c[i].off)));
}

/* Every reason counter that moved and is not one the fixture expects to move. */
static inline void fx_check_only(const struct pkt_fixture *fx, const struct reason_stats *r0,
				 const struct reason_stats *r1)
{
	char others[512] = "";
	unsigned int i, k;

	for (i = 0; i < reason_field_count; i++) {
		size_t off = reason_fields[i].offset;
		bool expected = false;

		if (fx_word(r0, off) == fx_word(r1, off))
			continue;
		for (k = 0; k < FX_MAX_COUNTERS && fx->reasons[k].name; k++)
			expected |= fx->reasons[k].off == off && fx->reasons[k].by;
		if (!expected)
			snprintf(others + strlen(others), sizeof(others) - strlen(others), " %s",
				 reason_fields[i].name);
	}
	TL_REPORT(!others[0], "no other reason counter moved%s%s", others[0] ? ":" : "", others);
}

static inline void run_pkt_fixture(struct instance *in, const struct pkt_fixture *fx)
{
	const bool client = fx->in.from == FX_CLIENT;
	struct reason_stats r0, r1;
	struct arm_stats a0 = {}, a1 = {};
	struct pkt_spec p, w;
	uint8_t buf[512];
	size_t len;
	uint32_t id = 0;

	spec_pkt(&p, fx->in.src, fx->in.sport, fx->in.dst, fx->in.dport, fx->in.proto,
		 fx->in.flags);
	if (client)
		client_macs(&p);
	else
		backend_macs(&p, MAC_ST1, MAC_XB);
	p.payload = fx->in.payload;
	p.plen = fx->in.payload ? strlen(fx->in.payload) : 0;
	p.ip_opt_words = fx->in.ip_opt_words;
	p.udp_zero_csum = fx->in.udp_zero_csum;
	len = pkt_build(&p, buf, sizeof(buf) - 64);
	if (fx->in.mangle)
		fx->in.mangle(buf, &len);

	w = p;
	if (fx->out.kind == FX_TO && fx->out.hop == FX_HOP_STABLE)
		w = fwd_to(&p, fx->out.addr, fx->out.port, MAC_ST1, MAC_XB);
	else if (fx->out.kind == FX_TO && fx->out.hop == FX_HOP_CANARY)
		w = fwd_to(&p, fx->out.addr, fx->out.port, MAC_CA1, MAC_XC);
	else if (fx->out.kind == FX_TO) {
		addr_parse(fx->out.addr, &w.dst);
		w.dport = fx->out.port;
	} else if (fx->out.kind == FX_FROM)
		w = rev_from(&p, fx->out.addr, fx->out.port);

	if (fx->svc)
		id = svc_id(in, fx->svc);
	r0 = reasons(in);
	if (fx->svc)
		a0 = armst(in, id, fx->arm);
	expect_frame_bytes(in, client ? if_xa : if_xb, buf, len, fx->verdict,
			   fx->out.kind == FX_UNCHANGED ? NULL : &w, NULL);
	r1 = reasons(in);
	fx_check_counters(fx->reasons, &r0, &r1);
	if (fx->only_these)
		fx_check_only(fx, &r0, &r1);
	if (fx->svc) {
		a1 = armst(in, id, fx->arm);
		fx_check_counters(fx->arm_counters, &a0, &a1);
	}
	if (fx->flow != FX_FLOW_ANY) {
		struct flow_state st;
		bool have = client && flow_get(in, fx->in.src, fx->in.sport, fx->in.dst,
					       fx->in.dport, fx->in.proto, &st);

		if (fx->flow == FX_FLOW_NONE)
			ASSERT_TRUE(client && !have, "no flow entry");
		else if (ASSERT_TRUE(have, "flow entry made") && fx->flow_flags)
			TL_REPORT((st.flags & fx->flow_flags) == fx->flow_flags,
				  "entry flags 0x%x include 0x%x", st.flags, fx->flow_flags);
	}
}

#endif
