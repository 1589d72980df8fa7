/* test_dataplane.c: the real XDP program run through BPF_PROG_TEST_RUN: flows through their
 * life, tables of single-packet fixtures (pkttable.h) and thousands of new flows checked
 * against the shared decision (canary_decide.h). Each asserts the verdict, the output
 * bytes (rebuilt from scratch, so checksums are checked independently), the counters and
 * the flow-table entry.
 * Runs in a private network namespace with veth pairs and static neighbours, so that
 * bpf_fib_lookup inside the program resolves real next hops. Needs root. */
#include <errno.h>
#include <math.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dpfix.h"
#include "pkttable.h"

/* ---- setup ------------------------------------------------------------------------------ */

/* Each service draws a random salt, so an arm's share of N clients is binomial: allow
 * five standard deviations (a false failure about once in 1.7 million runs). */
static double binom_tol(double p, unsigned int n)
{
	return 5.0 * sqrt(p * (1 - p) / n);
}

static struct instance dp;
static struct service_spec specs[8];
static struct override_spec upper_half;

static void setup_services(struct instance *in)
{
	spec_init(&specs[0], "web4", "10.0.0.10", 80, IPPROTO_TCP, CANARY_HASH_CLIENT, 0);
	spec_backend(&specs[0], 0, "10.0.2.2:8080");
	spec_backend(&specs[0], 1, "10.0.3.2:8080");
	spec_init(&specs[1], "dns4", "10.0.0.10", 53, IPPROTO_UDP, CANARY_HASH_FLOW, 0);
	spec_backend(&specs[1], 0, "10.0.2.2:5353");
	spec_backend(&specs[1], 1, "10.0.3.2:5353");
	spec_init(&specs[2], "web6", "fd00::10", 80, IPPROTO_TCP, CANARY_HASH_CLIENT, 0);
	spec_backend(&specs[2], 0, "[fd00:2::2]:8080");
	spec_backend(&specs[2], 1, "[fd00:3::2]:8080");
	spec_init(&specs[3], "dns6", "fd00::10", 53, IPPROTO_UDP, CANARY_HASH_FLOW, 0);
	spec_backend(&specs[3], 0, "[fd00:2::2]:5353");
	spec_backend(&specs[3], 1, "[fd00:3::2]:5353");
	/* Overrides: the upper half of the client /24 always goes to canary. */
	spec_init(&specs[4], "ovr", "10.0.0.11", 80, IPPROTO_TCP, CANARY_HASH_CLIENT, 0);
	spec_backend(&specs[4], 0, "10.0.2.2:8081");
	spec_backend(&specs[4], 1, "10.0.3.2:8081");
	spec_override(&specs[4], &upper_half, "10.0.1.128/25", CANARY_ARM_CANARY);
	/* No backends at all, a backend without neighbour, one without a route. */
	spec_init(&specs[5], "empty", "10.0.0.12", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_init(&specs[6], "noneigh", "10.0.0.13", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&specs[6], 0, "10.0.2.9:8080");
	spec_init(&specs[7], "noroute", "10.0.0.14", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&specs[7], 0, "192.0.2.1:8080");
	ASSERT_EQ(apply_specs(in, specs, 8), 0, "apply 8 services");
}

static bool setup(void)
{
	canary_quiet_libs();
	if (!ASSERT_EQ(setup_netns(), 0, "private netns with veths and neighbours") ||
	    !ASSERT_EQ(instance_load(&dp, 0, 0), 0, "load xdp_canary"))
		return false;
	setup_services(&dp);
	return true;
}

static void teardown(void)
{
	xdp_canary_bpf__destroy(dp.skel);
}

/* ---- cases ------------------------------------------------------------------------------ */

static void test_tcp4_lifecycle(void)
{
	struct instance *in = &dp;
	struct pkt_spec p, w;
	struct flow_state st;
	struct reason_stats r0 = reasons(in), r1;
	uint32_t id = svc_id(in, "web4");
	struct arm_stats a0 = armst(in, id, 0), a1;

	TEST_STEP("syn -> stable backend");
	spec_pkt(&p, "10.0.1.2", 40000, "10.0.0.10", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 8080, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "syn");
	if (ASSERT_TRUE(flow_get(in, "10.0.1.2", 40000, "10.0.0.10", 80, IPPROTO_TCP, &st),
			"flow entry created")) {
		ASSERT_EQ(st.state, CANARY_FLOW_SYN_SENT, "state SYN_SENT");
		ASSERT_EQ(st.arm, CANARY_ARM_STABLE, "arm stable");
		ASSERT_TRUE(flow_backend_is(in, &st, "10.0.2.2", 8080), "backend 10.0.2.2:8080");
		ASSERT_EQ(flow_backend_nh(in, &st), if_xb, "backend's next hop cached on xb");
	}
	r1 = reasons(in);
	a1 = armst(in, id, 0);
	ASSERT_EQ(r1.flow_new - r0.flow_new, 1, "flow_new +1");
	ASSERT_EQ(r1.fwd_redirect - r0.fwd_redirect, 1, "fwd_redirect +1");
	ASSERT_EQ(a1.flows - a0.flows, 1, "stable flows +1");
	ASSERT_EQ(a1.fwd_packets - a0.fwd_packets, 1, "stable fwd_packets +1");
	ASSERT_EQ(a1.fwd_bytes - a0.fwd_bytes, 14 + 20 + 20, "stable fwd_bytes = frame length");

	TEST_STEP("syn-ack reply -> VIP source");
	spec_pkt(&p, "10.0.2.2", 8080, "10.0.1.2", 40000, IPPROTO_TCP, TH_SYN | TH_ACK);
	backend_macs(&p, MAC_ST1, MAC_XB);
	w = rev_from(&p, "10.0.0.10", 80);
	expect_frame(in, if_xb, &p, XDP_REDIRECT, &w, "syn-ack");
	flow_get(in, "10.0.1.2", 40000, "10.0.0.10", 80, IPPROTO_TCP, &st);
	ASSERT_EQ(st.state, CANARY_FLOW_SYN_RECV, "state SYN_RECV");
	ASSERT_EQ(client_hop_nh(in, "10.0.1.2"), if_xa, "client's next hop cached on xa");
	a1 = armst(in, id, 0);
	ASSERT_EQ(a1.rev_packets - a0.rev_packets, 1, "stable rev_packets +1");

	TEST_STEP("ack completes the handshake");
	spec_pkt(&p, "10.0.1.2", 40000, "10.0.0.10", 80, IPPROTO_TCP, TH_ACK);
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 8080, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "ack");
	flow_get(in, "10.0.1.2", 40000, "10.0.0.10", 80, IPPROTO_TCP, &st);
	ASSERT_EQ(st.state, CANARY_FLOW_ESTABLISHED, "state ESTABLISHED");

	TEST_STEP("weight change never moves an established flow");
	ASSERT_EQ(service_set_weight(&in->maps, "web4", 10000, NULL), 0, "set weight 100%");
	spec_pkt(&p, "10.0.1.2", 40000, "10.0.0.10", 80, IPPROTO_TCP, TH_ACK | TH_PSH);
	p.payload = "GET / HTTP/1.1\r\n\r\n";
	p.plen = 18;
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 8080, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "data after weight 100%");
	spec_pkt(&p, "10.0.1.2", 40001, "10.0.0.10", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	w = fwd_to(&p, "10.0.3.2", 8080, MAC_CA1, MAC_XC);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "new syn goes to canary");

	TEST_STEP("retransmitted SYN keeps its pending entry");
	ASSERT_EQ(service_set_weight(&in->maps, "web4", 0, NULL), 0, "set weight 0%");
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "retransmitted syn stays on canary");
	flow_get(in, "10.0.1.2", 40001, "10.0.0.10", 80, IPPROTO_TCP, &st);
	ASSERT_EQ(st.syn_count, 2, "syn_count 2");
	ASSERT_EQ(st.arm, CANARY_ARM_CANARY, "arm still canary");

	TEST_STEP("SYN on a closed tuple decides afresh");
	r0 = reasons(in);
	spec_pkt(&p, "10.0.1.2", 40001, "10.0.0.10", 80, IPPROTO_TCP, TH_RST);
	client_macs(&p);
	w = fwd_to(&p, "10.0.3.2", 8080, MAC_CA1, MAC_XC);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "client rst");
	flow_get(in, "10.0.1.2", 40001, "10.0.0.10", 80, IPPROTO_TCP, &st);
	ASSERT_EQ(st.state, CANARY_FLOW_CLOSED, "state CLOSED after RST");
	spec_pkt(&p, "10.0.1.2", 40001, "10.0.0.10", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 8080, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "syn on reused port goes to stable");
	r1 = reasons(in);
	ASSERT_EQ(r1.flow_reused - r0.flow_reused, 1, "flow_reused +1");

	TEST_STEP("FIN moves the flow to CLOSING");
	spec_pkt(&p, "10.0.2.2", 8080, "10.0.1.2", 40000, IPPROTO_TCP, TH_FIN | TH_ACK);
	backend_macs(&p, MAC_ST1, MAC_XB);
	w = rev_from(&p, "10.0.0.10", 80);
	expect_frame(in, if_xb, &p, XDP_REDIRECT, &w, "backend fin");
	flow_get(in, "10.0.1.2", 40000, "10.0.0.10", 80, IPPROTO_TCP, &st);
	ASSERT_EQ(st.state, CANARY_FLOW_CLOSING, "state CLOSING");
}

static void test_tcp6(void)
{
	struct instance *in = &dp;
	struct pkt_spec p, w;
	struct flow_state st;

	TEST_STEP("syn -> stable backend");
	spec_pkt(&p, "fd00:1::2", 40000, "fd00::10", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	w = fwd_to(&p, "fd00:2::2", 8080, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "v6 syn");
	ASSERT_TRUE(flow_get(in, "fd00:1::2", 40000, "fd00::10", 80, IPPROTO_TCP, &st),
		    "v6 flow entry");

	TEST_STEP("reply");
	spec_pkt(&p, "fd00:2::2", 8080, "fd00:1::2", 40000, IPPROTO_TCP, TH_SYN | TH_ACK);
	backend_macs(&p, MAC_ST1, MAC_XB);
	w = rev_from(&p, "fd00::10", 80);
	expect_frame(in, if_xb, &p, XDP_REDIRECT, &w, "v6 syn-ack");

	TEST_STEP("data with payload");
	ASSERT_EQ(service_set_weight(&in->maps, "web6", 10000, NULL), 0, "v6 weight 100%");
	spec_pkt(&p, "fd00:1::2", 40002, "fd00::10", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	w = fwd_to(&p, "fd00:3::2", 8080, MAC_CA1, MAC_XC);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "v6 syn to canary");
	spec_pkt(&p, "fd00:1::2", 40002, "fd00::10", 80, IPPROTO_TCP, TH_ACK | TH_PSH);
	p.payload = "hello, canary";
	p.plen = 13;
	client_macs(&p);
	w = fwd_to(&p, "fd00:3::2", 8080, MAC_CA1, MAC_XC);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "v6 data to canary");
	service_set_weight(&in->maps, "web6", 0, NULL);
}

static void test_udp(void)
{
	struct instance *in = &dp;
	struct pkt_spec p, w;
	struct flow_state st;

	TEST_STEP("v4");
	spec_pkt(&p, "10.0.1.2", 5000, "10.0.0.10", 53, IPPROTO_UDP, 0);
	p.payload = "query";
	p.plen = 5;
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 5353, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "udp request");
	if (ASSERT_TRUE(flow_get(in, "10.0.1.2", 5000, "10.0.0.10", 53, IPPROTO_UDP, &st),
			"udp flow entry"))
		ASSERT_EQ(st.state, CANARY_FLOW_UDP, "state UDP");
	spec_pkt(&p, "10.0.2.2", 5353, "10.0.1.2", 5000, IPPROTO_UDP, 0);
	p.payload = "answer";
	p.plen = 6;
	backend_macs(&p, MAC_ST1, MAC_XB);
	w = rev_from(&p, "10.0.0.10", 53);
	expect_frame(in, if_xb, &p, XDP_REDIRECT, &w, "udp reply");

	TEST_STEP("v6");
	spec_pkt(&p, "fd00:1::2", 5000, "fd00::10", 53, IPPROTO_UDP, 0);
	p.payload = "query6";
	p.plen = 6;
	client_macs(&p);
	w = fwd_to(&p, "fd00:2::2", 5353, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "v6 udp request");
	spec_pkt(&p, "fd00:2::2", 5353, "fd00:1::2", 5000, IPPROTO_UDP, 0);
	backend_macs(&p, MAC_ST1, MAC_XB);
	w = rev_from(&p, "fd00::10", 53);
	expect_frame(in, if_xb, &p, XDP_REDIRECT, &w, "v6 udp reply");
}

/* ---- single packets: one table, one runner (pkttable.h) ----------------------------------- */

/* One packet each, on a tuple no other case uses: its verdict, the frame that leaves, the
 * counters that move and the entry it leaves (web4 and ovr are at weight 0). */
static const struct pkt_fixture packets[] = {
	{"mid-stream packet with no entry",
	 .in = {FX_CLIENT, "10.0.1.2", 41000, "10.0.0.10", 80, IPPROTO_TCP, TH_ACK},
	 .verdict = XDP_REDIRECT, .out = {FX_TO, "10.0.2.2", 8080, FX_HOP_STABLE},
	 .reasons = {FX_REASON(flow_midstream, 1), FX_REASON(flow_new, 0)},
	 .flow = FX_FLOW_MADE, .flow_flags = CANARY_FLOW_F_MIDSTREAM},
	{"stray RST creates no entry",
	 .in = {FX_CLIENT, "10.0.1.2", 41001, "10.0.0.10", 80, IPPROTO_TCP, TH_RST},
	 .verdict = XDP_REDIRECT, .out = {FX_TO, "10.0.2.2", 8080, FX_HOP_STABLE},
	 .svc = "web4", .arm = CANARY_ARM_STABLE, .arm_counters = {FX_ARM(flows, 0)},
	 .flow = FX_FLOW_NONE},
	/* Its SYN may have been evicted from `pending` by a flood, or forwarded by another
	 * node (ECMP in front, the return path through this one: docs/FLEET.md): rewritten
	 * statelessly like every reply, so no backend address leaks. Traffic counts for the
	 * backend's arm; no health signal moves (the flow is the other node's). */
	{"a SYN-ACK with no entry leaves from the VIP, never the backend",
	 .in = {FX_STABLE, "10.0.2.2", 8080, "10.0.1.2", 42001, IPPROTO_TCP, TH_SYN | TH_ACK},
	 .verdict = XDP_REDIRECT, .out = {FX_FROM, "10.0.0.10", 80},
	 .reasons = {FX_REASON(reply_no_flow, 1), FX_REASON(fwd_redirect, 1)}, .only_these = true,
	 .svc = "web4", .arm = CANARY_ARM_STABLE,
	 .arm_counters = {FX_ARM(rev_packets, 1), FX_ARM(handshake_count, 0), FX_ARM(flows, 0)}},
	{"a v6 SYN-ACK with no entry leaves from the VIP",
	 .in = {FX_STABLE, "fd00:2::2", 8080, "fd00:1::2", 42002, IPPROTO_TCP, TH_SYN | TH_ACK},
	 .verdict = XDP_REDIRECT, .out = {FX_FROM, "fd00::10", 80},
	 .reasons = {FX_REASON(reply_no_flow, 1), FX_REASON(fwd_redirect, 1)}, .only_these = true},
	{"a data reply with no entry is rewritten and measures nothing",
	 .in = {FX_STABLE, "10.0.2.2", 8080, "10.0.1.2", 42003, IPPROTO_TCP, TH_ACK | TH_PSH,
		.payload = "HTTP/1.1 500 Internal Server Error\r\n\r\n"},
	 .verdict = XDP_REDIRECT, .out = {FX_FROM, "10.0.0.10", 80},
	 .reasons = {FX_REASON(reply_no_flow, 1), FX_REASON(fwd_redirect, 1)}, .only_these = true,
	 .svc = "web4", .arm = CANARY_ARM_STABLE,
	 .arm_counters = {FX_ARM(rev_packets, 1), FX_ARM(requests, 0), FX_ARM(http_responses, 0),
			  FX_ARM(errored_flows, 0)}},
	{"a backend RST with no entry is rewritten, no reset counted",
	 .in = {FX_STABLE, "10.0.2.2", 8080, "10.0.1.2", 42004, IPPROTO_TCP, TH_RST | TH_ACK},
	 .verdict = XDP_REDIRECT, .out = {FX_FROM, "10.0.0.10", 80},
	 .reasons = {FX_REASON(reply_no_flow, 1), FX_REASON(fwd_redirect, 1)}, .only_these = true,
	 .svc = "web4", .arm = CANARY_ARM_STABLE,
	 .arm_counters = {FX_ARM(backend_resets, 0), FX_ARM(reset_flows, 0)}},
	{"reply with no flow entry is still rewritten",
	 .in = {FX_STABLE, "10.0.2.2", 8080, "10.0.1.2", 42000, IPPROTO_TCP, TH_ACK},
	 .verdict = XDP_REDIRECT, .out = {FX_FROM, "10.0.0.10", 80},
	 .reasons = {FX_REASON(reply_no_flow, 1)}},
	{"v4 with IP options is rewritten correctly",
	 .in = {FX_CLIENT, "10.0.1.2", 43000, "10.0.0.10", 80, IPPROTO_TCP, TH_SYN,
		.ip_opt_words = 2},
	 .verdict = XDP_REDIRECT, .out = {FX_TO, "10.0.2.2", 8080, FX_HOP_STABLE}},
	{"v4 udp without checksum keeps none",
	 .in = {FX_CLIENT, "10.0.1.2", 5001, "10.0.0.10", 53, IPPROTO_UDP, .payload = "q",
		.udp_zero_csum = true},
	 .verdict = XDP_REDIRECT, .out = {FX_TO, "10.0.2.2", 5353, FX_HOP_STABLE}},
	{"no service at that address: passed untouched",
	 .in = {FX_CLIENT, "10.0.1.2", 40000, "10.0.0.99", 80, IPPROTO_TCP, TH_SYN},
	 .verdict = XDP_PASS, .reasons = {FX_REASON(pass_not_service, 1)}},
	{"no service on that port: passed untouched",
	 .in = {FX_CLIENT, "10.0.1.2", 40000, "10.0.0.10", 81, IPPROTO_TCP, TH_SYN},
	 .verdict = XDP_PASS, .reasons = {FX_REASON(pass_not_service, 1)}},
	{"no service for that protocol: passed untouched",
	 .in = {FX_CLIENT, "10.0.1.2", 40000, "10.0.0.10", 80, IPPROTO_UDP},
	 .verdict = XDP_PASS, .reasons = {FX_REASON(pass_not_service, 1)}},
	{"a backend's address with another protocol: passed untouched",
	 .in = {FX_STABLE, "10.0.2.2", 8081, "10.0.1.2", 40000, IPPROTO_UDP},
	 .verdict = XDP_PASS, .reasons = {FX_REASON(pass_not_service, 1)}},
	{"override prefix pins a client to canary at weight 0",
	 .in = {FX_CLIENT, "10.0.1.200", 40000, "10.0.0.11", 80, IPPROTO_TCP, TH_SYN},
	 .verdict = XDP_REDIRECT, .out = {FX_TO, "10.0.3.2", 8081, FX_HOP_CANARY},
	 .reasons = {FX_REASON(override_hits, 1)}, .flow = FX_FLOW_MADE,
	 .flow_flags = CANARY_FLOW_F_OVERRIDE},
	{"a client outside the override prefix follows the weight",
	 .in = {FX_CLIENT, "10.0.1.2", 40000, "10.0.0.11", 80, IPPROTO_TCP, TH_SYN},
	 .verdict = XDP_REDIRECT, .out = {FX_TO, "10.0.2.2", 8081, FX_HOP_STABLE},
	 .reasons = {FX_REASON(override_hits, 0)}},
	{"service with no backends drops",
	 .in = {FX_CLIENT, "10.0.1.2", 40000, "10.0.0.12", 80, IPPROTO_TCP, TH_SYN},
	 .verdict = XDP_DROP, .reasons = {FX_REASON(drop_no_backend, 1)}},
	{"backend without neighbour: rewritten, passed to the kernel",
	 .in = {FX_CLIENT, "10.0.1.2", 40000, "10.0.0.13", 80, IPPROTO_TCP, TH_SYN},
	 .verdict = XDP_PASS, .out = {FX_TO, "10.0.2.9", 8080, FX_HOP_KERNEL},
	 .reasons = {FX_REASON(pass_no_neigh, 1)}},
	{"backend without route: dropped, not rewritten",
	 .in = {FX_CLIENT, "10.0.1.2", 40000, "10.0.0.14", 80, IPPROTO_TCP, TH_SYN},
	 .verdict = XDP_DROP, .reasons = {FX_REASON(drop_fib, 1)}},
};

static void dp_fixture(const struct pkt_fixture *fx)
{
	run_pkt_fixture(&dp, fx);
}

TEST_FIXTURE_TABLE(test_packets, packet_name, packets, name, dp_fixture)

/* Mutations that turn a valid frame into a malformed or unsupported one. */
static void m_trunc_ip6(uint8_t *b, size_t *l)
{
	*l = 14 + 30;
}
static void m_trunc_ip(uint8_t *b, size_t *l)
{
	*l = 14 + 12;
}
static void m_ihl4(uint8_t *b, size_t *l)
{
	b[14] = 0x44;
}
static void m_ver(uint8_t *b, size_t *l)
{
	b[14] = 0x65;
}
static void m_totlen(uint8_t *b, size_t *l)
{
	b[16] = 0x05; /* tot_len 1280+ > frame */
}
static void m_mf(uint8_t *b, size_t *l)
{
	b[20] = 0x20; /* MF */
}
static void m_fragoff(uint8_t *b, size_t *l)
{
	b[20] = 0x00;
	b[21] = 0x10; /* offset 16 */
}
static void m_doff(uint8_t *b, size_t *l)
{
	b[14 + 20 + 12] = 0x40; /* doff 4 */
}
static void m_trunc_tcp(uint8_t *b, size_t *l)
{
	*l = 14 + 20 + 10;
	b[17] = 30; /* tot_len matches the cut */
	b[16] = 0;
}
static void m_doff_big(uint8_t *b, size_t *l)
{
	b[14 + 20 + 12] = 0xf0; /* doff 15: 60 bytes, more than there is */
}
static void m_vlan(uint8_t *b, size_t *l)
{
	memmove(b + 16, b + 12, *l - 12);
	b[12] = 0x81;
	b[13] = 0x00;
	b[14] = 0x00;
	b[15] = 0x05;
	*l += 4;
}
static void m_arp(uint8_t *b, size_t *l)
{
	b[12] = 0x08;
	b[13] = 0x06;
}
static void m_v6_frag(uint8_t *b, size_t *l)
{
	/* Insert a fragment header (8 bytes) before TCP. */
	memmove(b + 54 + 8, b + 54, *l - 54);
	memset(b + 54, 0, 8);
	b[54] = 6; /* next: TCP */
	b[20] = 44; /* ipv6 nexthdr: fragment */
	b[19] += 8;
	*l += 8;
}
static void m_v6_ext(uint8_t *b, size_t *l)
{
	/* Five destination-options headers: more than CANARY_MAX_IPV6_EXT. */
	int k;

	memmove(b + 54 + 40, b + 54, *l - 54);
	for (k = 0; k < 5; k++) {
		memset(b + 54 + 8 * k, 0, 8);
		b[54 + 8 * k] = k == 4 ? 6 : 60;
		b[54 + 8 * k + 2] = 1; /* PadN */
		b[54 + 8 * k + 3] = 4;
	}
	b[20] = 60;
	b[19] += 40;
	*l += 40;
}
static void m_v6_routing(uint8_t *b, size_t *l)
{
	memmove(b + 54 + 8, b + 54, *l - 54);
	memset(b + 54, 0, 8);
	b[54] = 6;
	b[20] = 43; /* routing header */
	b[19] += 8;
	*l += 8;
}
static void m_v6_plen(uint8_t *b, size_t *l)
{
	b[18] = 0x10; /* payload_len 4096+ > frame */
}

/* Malformed and unsupported frames: a SYN to web4 or web6, mangled; each gets XDP_PASS,
 * leaves the frame untouched and lands in exactly one reason counter. (A frame shorter
 * than an Ethernet header cannot be fed to test-run; the kernel refuses it, as NICs do.
 * The program still checks for it.) */
#define SYN4(fn) {FX_CLIENT, "10.0.1.2", 44000, "10.0.0.10", 80, IPPROTO_TCP, TH_SYN, .mangle = fn}
#define SYN6(fn) {FX_CLIENT, "fd00:1::2", 44000, "fd00::10", 80, IPPROTO_TCP, TH_SYN, .mangle = fn}
#define ONLY(reason) .verdict = XDP_PASS, .reasons = {FX_REASON(reason, 1)}, .only_these = true

static const struct pkt_fixture malformed[] = {
	{"truncated ipv6 header", .in = SYN6(m_trunc_ip6), ONLY(pass_malformed)},
	{"truncated ipv4 header", .in = SYN4(m_trunc_ip), ONLY(pass_malformed)},
	{"ipv4 ihl below 5", .in = SYN4(m_ihl4), ONLY(pass_malformed)},
	{"ipv4 version field wrong", .in = SYN4(m_ver), ONLY(pass_malformed)},
	{"ipv4 total length beyond frame", .in = SYN4(m_totlen), ONLY(pass_malformed)},
	{"ipv4 first fragment (MF)", .in = SYN4(m_mf), ONLY(pass_fragment)},
	{"ipv4 later fragment (offset)", .in = SYN4(m_fragoff), ONLY(pass_fragment)},
	{"tcp data offset below 5", .in = SYN4(m_doff), ONLY(pass_malformed)},
	{"truncated tcp header", .in = SYN4(m_trunc_tcp), ONLY(pass_malformed)},
	{"tcp data offset beyond packet", .in = SYN4(m_doff_big), ONLY(pass_malformed)},
	{"802.1Q vlan tag", .in = SYN4(m_vlan), ONLY(pass_vlan)},
	{"arp ethertype", .in = SYN4(m_arp), ONLY(pass_not_ip)},
	{"ipv6 fragment header", .in = SYN6(m_v6_frag), ONLY(pass_fragment)},
	{"ipv6 five extension headers", .in = SYN6(m_v6_ext), ONLY(pass_ipv6_ext)},
	{"ipv6 routing header", .in = SYN6(m_v6_routing), ONLY(pass_ipv6_ext)},
	{"ipv6 payload length beyond frame", .in = SYN6(m_v6_plen), ONLY(pass_malformed)},
};
TEST_FIXTURE_TABLE(test_malformed, malformed_name, malformed, name, dp_fixture)

/* ---- where new flows go: the data plane against canary_decide() ------------------------- */

/* Flows checked, and canary_decide()'s reasons for them. */
struct decided {
	unsigned int flows, mismatches, by_reason[4], arm[CANARY_ARMS];
};

/* A SYN from src:sport to vip:vport, and the entry it leaves, against what the shared
 * decision says over the data plane's maps (dp_decide: the override trie, then
 * canary_decide()): the verdict, the arm, the backend's index, address and port, and the
 * flag that records an override or a fallback. A difference is counted in t and the first
 * few are printed. Returns the entry's arm, or -1 when it left none. */
static int syn_as_decided(const char *src, int sport, const char *vip, int vport, struct decided *t)
{
	struct flow_key k = flow_key_of(src, sport, vip, vport, IPPROTO_TCP);
	struct canary_decision d = {};
	struct svc_config cfg;
	struct flow_state f = {};
	const char *why = NULL;
	int rc = dp_decide(&dp, &k, &cfg, &d);
	__u32 verdict = send_tcp(&dp, true, src, sport, vip, vport, TH_SYN, NULL);
	bool have = flow_get(&dp, src, sport, vip, vport, IPPROTO_TCP, &f);

	t->flows++;
	t->by_reason[d.reason & 3]++;
	if (rc == -ENOENT) {
		why = "no such service";
	} else if (rc) {
		if (verdict != XDP_DROP || have)
			why = "no backend, yet not dropped";
	} else if (verdict != XDP_REDIRECT || !have) {
		why = "not forwarded with an entry";
	} else {
		const struct canary_backend *be = &cfg.backends[d.arm][d.backend_idx];
		struct canary_endpoint fb = {};

		if (f.arm != d.arm)
			why = "the arm";
		else if (f.backend_idx != d.backend_idx)
			why = "the backend index";
		else if (!flow_backend(&dp, &f, &fb) || memcmp(&fb.addr, &be->addr, sizeof(fb.addr)) ||
			 fb.port != be->port)
			why = "the backend address";
		else if (!(f.flags & CANARY_FLOW_F_OVERRIDE) !=
			 (d.reason != CANARY_DECIDE_OVERRIDE))
			why = "the override flag";
		else if (!(f.flags & CANARY_FLOW_F_FALLBACK) !=
			 (d.reason != CANARY_DECIDE_FALLBACK))
			why = "the fallback flag";
		else
			t->arm[d.arm]++;
	}
	if (why && t->mismatches++ < 5)
		printf("# %s:%d -> %s:%d: %s differs: canary_decide says rc %d arm %u index %u "
		       "reason %u; data plane: verdict %u, %s arm %u index %u flags 0x%x\n",
		       src, sport, vip, vport, why, rc, d.arm, d.backend_idx, d.reason, verdict,
		       have ? "entry" : "no entry", f.arm, f.backend_idx, f.flags);
	return have ? f.arm : -1;
}

/* Sources 10.1.0.1 .. 10.1.15.250 (routed to the client side), 250 to a /24. */
static const char *client_src(char *buf, size_t size, unsigned int i)
{
	snprintf(buf, size, "10.1.%u.%u", i / 250, i % 250 + 1);
	return buf;
}

/* The split: thousands of clients through the real program, each where the shared
 * decision says, at 10%, then 20%, then 5%. */
static void test_split(void)
{
	enum { N = 4000 };
	static bool in10[N];
	struct service_spec s;
	struct decided t = {};
	unsigned int i, canary = 0, sticky_bad = 0, grew_bad = 0, shrank_bad = 0;
	char src[32];
	int arm;

	spec_init(&s, "split", "10.0.0.20", 80, IPPROTO_TCP, CANARY_HASH_CLIENT, 1000);
	spec_backend(&s, 0, "10.0.2.2:9000");
	spec_backend(&s, 0, "10.0.2.3:9000");
	spec_backend(&s, 1, "10.0.3.2:9000");
	TEST_STEP("10% weight over 4000 clients");
	if (!ASSERT_EQ(apply_specs(&dp, &s, 1), 0, "apply split service"))
		return;
	for (i = 0; i < N; i++) {
		arm = syn_as_decided(client_src(src, sizeof(src), i), 30000, "10.0.0.20", 80, &t);
		in10[i] = arm == CANARY_ARM_CANARY;
		canary += in10[i];
		/* Same client, another port: same arm in client mode. */
		if (syn_as_decided(src, 30001, "10.0.0.20", 80, &t) != (in10[i] ? 1 : 0))
			sticky_bad++;
	}
	ASSERT_NEAR(canary * 100.0 / N, 10.0, 100 * binom_tol(0.10, N),
		    "canary share within 10 +- 5 sd (2.4 points)");
	ASSERT_EQ(t.mismatches, 0, "every one of 8000 flows went where canary_decide says");
	ASSERT_EQ(sticky_bad, 0, "a client's second connection lands on the same arm");

	TEST_STEP("raising the weight only moves stable clients to canary");
	ASSERT_EQ(service_set_weight(&dp.maps, "split", 2000, NULL), 0, "weight 20%");
	for (i = 0; i < N; i++) {
		arm = syn_as_decided(client_src(src, sizeof(src), i), 30002, "10.0.0.20", 80, &t);
		if (in10[i] && arm != CANARY_ARM_CANARY)
			grew_bad++;
	}
	ASSERT_EQ(grew_bad, 0, "every canary client at 10% is canary at 20%");
	ASSERT_EQ(t.mismatches, 0, "at 20% too, every flow went where canary_decide says");

	TEST_STEP("lowering it only moves canary clients back");
	ASSERT_EQ(service_set_weight(&dp.maps, "split", 500, NULL), 0, "weight 5%");
	canary = 0;
	for (i = 0; i < N; i++) {
		arm = syn_as_decided(client_src(src, sizeof(src), i), 30003, "10.0.0.20", 80, &t);
		canary += arm == CANARY_ARM_CANARY;
		if (!in10[i] && arm == CANARY_ARM_CANARY)
			shrank_bad++;
	}
	ASSERT_EQ(shrank_bad, 0, "every canary client at 5% was canary at 10%");
	ASSERT_NEAR(canary * 100.0 / N, 5.0, 100 * binom_tol(0.05, N),
		    "canary share within 5 +- 5 sd (1.7 points)");
	ASSERT_EQ(t.mismatches, 0, "at 5% too, every flow went where canary_decide says");
}

/* Every other way canary_decide() can decide, through the real program: client-group
 * overrides to either arm, a fallback from an empty arm (chosen by the weight or by an
 * override), and no backend at all (setup's "empty"). */
static void test_overrides_and_fallback(void)
{
	static struct override_spec groups_ov[2], half_ov[1];
	struct service_spec s[3];
	struct decided groups = {}, half = {}, only = {}, none = {};
	struct reason_stats r0, r1;
	unsigned int i;
	char src[32];

	spec_init(&s[0], "groups", "10.0.0.22", 80, IPPROTO_TCP, CANARY_HASH_CLIENT, 3000);
	spec_backend(&s[0], 0, "10.0.2.2:9100");
	spec_backend(&s[0], 0, "10.0.2.3:9100");
	spec_backend(&s[0], 1, "10.0.3.2:9100");
	spec_override(&s[0], groups_ov, "10.1.1.0/24", CANARY_ARM_CANARY);
	spec_override(&s[0], groups_ov, "10.1.2.0/24", CANARY_ARM_STABLE);
	/* No canary backend, yet half the buckets and an override name canary (a file
	 * would be refused; the maps can still get there, as after a failed apply). */
	spec_init(&s[1], "halfempty", "10.0.0.23", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 5000);
	spec_backend(&s[1], 0, "10.0.2.2:9200");
	spec_override(&s[1], half_ov, "10.1.3.0/24", CANARY_ARM_CANARY);
	spec_init(&s[2], "canaryonly", "10.0.0.24", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[2], 1, "10.0.3.2:9300");
	if (!ASSERT_EQ(apply_specs(&dp, s, 3), 0, "apply groups, halfempty, canaryonly"))
		return;

	r0 = reasons(&dp);
	for (i = 0; i < 1000; i++) {
		client_src(src, sizeof(src), i);
		syn_as_decided(src, 31000, "10.0.0.22", 80, &groups);
		syn_as_decided(src, 31000, "10.0.0.23", 80, &half);
		syn_as_decided(src, 31000, "10.0.0.24", 80, &only);
		syn_as_decided(src, 31000, "10.0.0.12", 80, &none);
	}
	r1 = reasons(&dp);

	TEST_STEP("overrides");
	ASSERT_EQ(groups.mismatches, 0, "1000 clients went where canary_decide says");
	ASSERT_EQ(groups.by_reason[CANARY_DECIDE_OVERRIDE], 500,
		  "the 500 clients of 10.1.1.0/24 and 10.1.2.0/24 by their override");
	ASSERT_EQ(groups.by_reason[CANARY_DECIDE_WEIGHT], 500, "the other 500 by the weight");
	ASSERT_TRUE(groups.arm[CANARY_ARM_CANARY] >= 250 && groups.arm[CANARY_ARM_STABLE] >= 250,
		    "each override prefix filled its arm");

	TEST_STEP("fallback");
	ASSERT_EQ(half.mismatches, 0, "1000 flows to a service without canary backends");
	ASSERT_TRUE(half.by_reason[CANARY_DECIDE_FALLBACK] > 250 &&
			    half.by_reason[CANARY_DECIDE_WEIGHT] > 0,
		    "canary chosen by the override and by the weight: fallen back to stable");
	ASSERT_EQ(half.arm[CANARY_ARM_STABLE], 1000, "every flow on stable");
	ASSERT_EQ(only.mismatches, 0, "1000 flows to a service without stable backends");
	ASSERT_EQ(only.by_reason[CANARY_DECIDE_FALLBACK], 1000, "weight 0: each falls back");
	ASSERT_EQ(only.arm[CANARY_ARM_CANARY], 1000, "to canary");

	TEST_STEP("no backend");
	ASSERT_EQ(none.mismatches, 0, "1000 flows to a service without backends, all dropped");
	ASSERT_EQ(none.by_reason[CANARY_DECIDE_NO_BACKEND], 1000, "canary_decide: no backend");

	TEST_STEP("counters");
	ASSERT_EQ(r1.override_hits - r0.override_hits, groups.by_reason[CANARY_DECIDE_OVERRIDE],
		  "override_hits: one per override decision");
	ASSERT_EQ(r1.arm_fallback - r0.arm_fallback,
		  half.by_reason[CANARY_DECIDE_FALLBACK] + only.by_reason[CANARY_DECIDE_FALLBACK],
		  "arm_fallback: one per fallback");
	ASSERT_EQ(r1.drop_no_backend - r0.drop_no_backend, 1000, "drop_no_backend: one per drop");
}

/* IPv6 clients (each its own group: client_prefix_v6 128). */
static void test_split_v6(void)
{
	struct service_spec s;
	struct decided t = {};
	unsigned int i;
	char src[64];

	spec_init(&s, "split6", "fd00::20", 80, IPPROTO_TCP, CANARY_HASH_CLIENT, 5000);
	s.prefix_v6 = 128;
	spec_backend(&s, 0, "[fd00:2::2]:9400");
	spec_backend(&s, 1, "[fd00:3::2]:9400");
	if (!ASSERT_EQ(apply_specs(&dp, &s, 1), 0, "apply split6"))
		return;
	for (i = 0; i < 500; i++) {
		snprintf(src, sizeof(src), "fd00:1::1:%x", i + 1);
		syn_as_decided(src, 32000, "fd00::20", 80, &t);
	}
	ASSERT_EQ(t.mismatches, 0, "500 v6 clients went where canary_decide says");
	ASSERT_NEAR(t.arm[CANARY_ARM_CANARY] / 500.0, 0.5, binom_tol(0.5, 500),
		    "about half of them on canary");
}

static void test_flow_hash_mode(void)
{
	struct service_spec s;
	struct decided t = {};
	unsigned int arms[CANARY_ARMS] = {0, 0};
	int port, arm;

	spec_init(&s, "flowmode", "10.0.0.21", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 5000);
	spec_backend(&s, 0, "10.0.2.2:9001");
	spec_backend(&s, 1, "10.0.3.2:9001");
	if (!ASSERT_EQ(apply_specs(&dp, &s, 1), 0, "apply flow-mode service"))
		return;
	for (port = 20000; port < 20400; port++) {
		arm = syn_as_decided("10.0.1.2", port, "10.0.0.21", 80, &t);
		if (arm >= 0)
			arms[arm]++;
	}
	ASSERT_NEAR(arms[CANARY_ARM_CANARY] / 400.0, 0.5, binom_tol(0.5, 400),
		    "about half of 400 connections on canary");
	ASSERT_EQ(t.mismatches, 0, "each went where canary_decide says");
}

/* The coarse clock: armed by the first new flow, then advanced by its BPF timer alone
 * (no packets needed), so ageing works on idle flows. */
static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

/* The coarse clock holds the time of its last tick (bpf_ktime_get_ns, CLOCK_MONOTONIC),
 * so across any sleep it advances by the time that really passed, give or take a tick or
 * two: the bounds follow the measured time, however long the sleep took. */
static void test_clock(void)
{
	struct instance *in = &dp;
	const __u64 tick = CANARY_CLOCK_TICK_NS;
	struct canary_clock c0, c1;
	__u64 t0, t0_end, t1_start, t1, adv, inner, outer;
	__u32 zero = 0;

	/* The first new flow arms it (the other cases may not have run). */
	send_tcp(in, true, "10.0.1.2", 45000, "10.0.0.10", 80, TH_SYN, NULL);
	t0 = mono_ns();
	bpf_map_lookup_elem(in->maps.clock, &zero, &c0);
	t0_end = mono_ns();
	ASSERT_EQ(c0.armed, 1, "armed by the first new flow");
	usleep(4 * tick / 1000);
	t1_start = mono_ns();
	bpf_map_lookup_elem(in->maps.clock, &zero, &c1);
	t1 = mono_ns();
	adv = c1.now_ns - c0.now_ns;
	inner = t1_start - t0_end; /* surely passed between the two reads */
	outer = t1 - t0;	   /* at most passed between them */
	TL_REPORT(adv + 2 * tick >= inner,
		  "advanced by %.0f ms while %.0f ms passed (at least that less two ticks)",
		  adv / 1e6, inner / 1e6);
	TL_REPORT(adv <= outer + 2 * tick, "and not more than the time passed plus two ticks");
	ASSERT_TRUE(c1.now_ns <= t1, "never ahead of CLOCK_MONOTONIC");
}

/* Pins migrated by `canary-loader upgrade` start with a clock that never ticked. The
 * first packet of a carried-over flow starts it: the flow is never stamped 0, which the
 * sweeper would take for idle since boot. (The clock map is written here as the upgrade
 * leaves it: zero, timer cancelled.) */
static void test_clock_after_upgrade(void)
{
	struct instance *in = &dp;
	struct canary_clock c = {};
	struct flow_state st;
	__u32 zero = 0;

	send_tcp(in, true, "10.0.1.2", 45100, "10.0.0.10", 80, TH_SYN, NULL);
	send_tcp(in, true, "10.0.1.2", 45100, "10.0.0.10", 80, TH_ACK, NULL);
	if (!ASSERT_EQ(bpf_map_update_elem(in->maps.clock, &zero, &c, 0), 0,
		       "clock reset as after a migration"))
		return;
	send_tcp(in, true, "10.0.1.2", 45100, "10.0.0.10", 80, TH_ACK | TH_PSH, "GET / HTTP/1.1\r\n\r\n");
	bpf_map_lookup_elem(in->maps.clock, &zero, &c);
	ASSERT_TRUE(c.now_ns != 0, "the flow's packet started the clock");
	if (ASSERT_TRUE(flow_get(in, "10.0.1.2", 45100, "10.0.0.10", 80, IPPROTO_TCP, &st),
			"the flow is there"))
		ASSERT_TRUE(st.seen != 0, "and is not stamped 0");
}

/* Ageing, with timeouts shortened at load time. */
static void test_expiry(void)
{
	struct instance in;
	struct service_spec s[2];
	struct pkt_spec p, w;
	struct reason_stats r0, r1;

	TEST_STEP("setup with 30 ms timeouts");
	if (!ASSERT_EQ(instance_load(&in, 30, 30), 0, "load short-timeout instance"))
		return;
	spec_init(&s[0], "udp", "10.0.0.10", 53, IPPROTO_UDP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[0], 0, "10.0.2.2:5353");
	spec_backend(&s[0], 1, "10.0.3.2:5353");
	spec_init(&s[1], "tcp", "10.0.0.10", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[1], 0, "10.0.2.2:8080");
	spec_backend(&s[1], 1, "10.0.3.2:8080");
	ASSERT_EQ(apply_specs(&in, s, 2), 0, "apply");

	TEST_STEP("idle UDP flow decides afresh");
	spec_pkt(&p, "10.0.1.2", 6000, "10.0.0.10", 53, IPPROTO_UDP, 0);
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 5353, MAC_ST1, MAC_XB);
	expect_frame(&in, if_xa, &p, XDP_REDIRECT, &w, "first datagram -> stable");
	service_set_weight(&in.maps, "udp", 10000, NULL);
	expect_frame(&in, if_xa, &p, XDP_REDIRECT, &w, "within timeout: still stable");
	usleep(200 * 1000);
	r0 = reasons(&in);
	w = fwd_to(&p, "10.0.3.2", 5353, MAC_CA1, MAC_XC);
	expect_frame(&in, if_xa, &p, XDP_REDIRECT, &w, "after idle timeout -> canary");
	r1 = reasons(&in);
	ASSERT_EQ(r1.flow_reused - r0.flow_reused, 1, "flow_reused +1");

	TEST_STEP("unanswered SYN entry expires");
	spec_pkt(&p, "10.0.1.2", 6001, "10.0.0.10", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 8080, MAC_ST1, MAC_XB);
	expect_frame(&in, if_xa, &p, XDP_REDIRECT, &w, "syn -> stable");
	service_set_weight(&in.maps, "tcp", 10000, NULL);
	usleep(200 * 1000);
	w = fwd_to(&p, "10.0.3.2", 8080, MAC_CA1, MAC_XC);
	expect_frame(&in, if_xa, &p, XDP_REDIRECT, &w, "syn after syn timeout -> canary");

	TEST_STEP("idle established TCP keeps its backend on non-SYN packets");
	spec_pkt(&p, "10.0.1.2", 6001, "10.0.0.10", 80, IPPROTO_TCP, TH_ACK);
	client_macs(&p);
	w = fwd_to(&p, "10.0.3.2", 8080, MAC_CA1, MAC_XC);
	expect_frame(&in, if_xa, &p, XDP_REDIRECT, &w, "ack stays on canary");
	xdp_canary_bpf__destroy(in.skel);
}

static const struct test_case cases[] = {
	{"v4 tcp lifecycle", test_tcp4_lifecycle},
	{"v6 tcp", test_tcp6},
	{"udp request and reply", test_udp},
	{"single packets", test_packets, packet_name},
	{"malformed and unsupported frames", test_malformed, malformed_name},
	{"split over 4000 clients", test_split},
	{"overrides, fallback, no backend", test_overrides_and_fallback},
	{"split over v6 clients", test_split_v6},
	{"flow hash spreads one client over both arms", test_flow_hash_mode},
	{"coarse clock ticks on its own", test_clock},
	{"a clock that never ticked starts on a carried-over flow", test_clock_after_upgrade},
	{"expiry with short timeouts", test_expiry},
};

TEST_MAIN_SETUP(cases, setup, teardown)
