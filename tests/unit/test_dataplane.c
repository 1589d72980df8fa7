/* test_dataplane.c: the real XDP program run through BPF_PROG_TEST_RUN: flows through their
 * life, tables of single-packet fixtures (pkttable.h) and thousands of new flows checked
 * against the shared decision (canary_decide.h). Each asserts the verdict, the output
 * bytes (rebuilt from scratch, so checksums are checked independently), the counters and
 * the flow-table entry.
 * Runs in a private network namespace with veth pairs and static neighbours, so that
 * bpf_fib_lookup inside the program resolves real next hops. Needs root. */
#include <errno.h>
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
		ASSERT_EQ(ntohs(st.backend_port), 8080, "backend port");
		ASSERT_EQ(st.fwd_nh.ifindex, if_xb, "next hop cached on xb");
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
	ASSERT_EQ(st.rev_nh.ifindex, if_xa, "reply next hop cached on xa");
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
	 * node: rewritten statelessly like every reply, so no backend address leaks. */
	{"a SYN-ACK with no entry leaves from the VIP, never the backend",
	 .in = {FX_STABLE, "10.0.2.2", 8080, "10.0.1.2", 42001, IPPROTO_TCP, TH_SYN | TH_ACK},
	 .verdict = XDP_REDIRECT, .out = {FX_FROM, "10.0.0.10", 80}},
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

/* The split and userspace's prediction: thousands of clients through the real program. */
static void test_split_and_prediction(void)
{
	struct instance *in = &dp;
	struct service_spec s[1];
	struct service_state st;
	unsigned int i, canary = 0, mismatches = 0, sticky_bad = 0, n = 4000;
	static uint8_t inbuf[256];
	struct run r;
	struct pkt_spec p;
	uint32_t id;
	bool in10[4000];
	unsigned int grew_bad = 0, shrank_bad = 0;

	spec_init(&s[0], "split", "10.0.0.20", 80, IPPROTO_TCP, CANARY_HASH_CLIENT, 1000);
	spec_backend(&s[0], 0, "10.0.2.2:9000");
	spec_backend(&s[0], 0, "10.0.2.3:9000");
	spec_backend(&s[0], 1, "10.0.3.2:9000");
	TEST_STEP("10% weight over 4000 clients");
	if (!ASSERT_EQ(apply_specs(in, s, 1), 0, "apply split service"))
		return;
	service_find(&in->maps, "split", &st);
	id = st.info.id;

	for (i = 0; i < n; i++) {
		char src[32];
		struct flow_key k = {};
		uint32_t h;
		int parm, pidx;
		struct flow_state f;

		snprintf(src, sizeof(src), "10.1.%u.%u", i / 250, i % 250 + 1);
		spec_pkt(&p, src, 30000, "10.0.0.20", 80, IPPROTO_TCP, TH_SYN);
		client_macs(&p);
		size_t len = pkt_build(&p, inbuf, sizeof(inbuf));

		xdp_run(in, if_xa, inbuf, len, &r);
		if (!flow_get(in, src, 30000, "10.0.0.20", 80, IPPROTO_TCP, &f)) {
			mismatches++;
			continue;
		}
		canary += f.arm == CANARY_ARM_CANARY;
		in10[i] = f.arm == CANARY_ARM_CANARY;

		/* What canaryctl explain computes, with the same shared code. */
		k.svc.family = CANARY_AF_INET;
		addr_parse("10.0.0.20", &k.svc.addr);
		k.svc.port = htons(80);
		k.svc.proto = IPPROTO_TCP;
		addr_parse(src, &k.client);
		k.client_port = htons(30000);
		h = canary_decision_hash(&k, &st.cfg);
		parm = canary_bucket(h) < st.cfg.canary_weight;
		pidx = st.cfg.ring[parm][canary_ring_slot(h)];
		if (parm != f.arm || pidx != f.backend_idx)
			mismatches++;

		/* Same client, another port: same arm in client mode. */
		spec_pkt(&p, src, 30001, "10.0.0.20", 80, IPPROTO_TCP, TH_SYN);
		client_macs(&p);
		len = pkt_build(&p, inbuf, sizeof(inbuf));
		xdp_run(in, if_xa, inbuf, len, &r);
		if (!flow_get(in, src, 30001, "10.0.0.20", 80, IPPROTO_TCP, &f) ||
		    f.arm != (in10[i] ? 1 : 0))
			sticky_bad++;
	}
	ASSERT_NEAR(canary * 100.0 / n, 10.0, 1.5, "canary share within 10 +- 1.5 points");
	ASSERT_EQ(mismatches, 0, "userspace prediction matches every data-plane decision");
	ASSERT_EQ(sticky_bad, 0, "a client's second connection lands on the same arm");

	TEST_STEP("raising the weight only moves stable clients to canary");
	service_set_weight(&in->maps, "split", 2000, NULL);
	for (i = 0; i < n; i++) {
		char src[32];
		struct flow_state f;

		snprintf(src, sizeof(src), "10.1.%u.%u", i / 250, i % 250 + 1);
		spec_pkt(&p, src, 30002, "10.0.0.20", 80, IPPROTO_TCP, TH_SYN);
		client_macs(&p);
		size_t len = pkt_build(&p, inbuf, sizeof(inbuf));

		xdp_run(in, if_xa, inbuf, len, &r);
		if (flow_get(in, src, 30002, "10.0.0.20", 80, IPPROTO_TCP, &f) && in10[i] &&
		    f.arm != CANARY_ARM_CANARY)
			grew_bad++;
	}
	ASSERT_EQ(grew_bad, 0, "every canary client at 10% is canary at 20%");
	service_set_weight(&in->maps, "split", 500, NULL);
	canary = 0;
	for (i = 0; i < n; i++) {
		char src[32];
		struct flow_state f;

		snprintf(src, sizeof(src), "10.1.%u.%u", i / 250, i % 250 + 1);
		spec_pkt(&p, src, 30003, "10.0.0.20", 80, IPPROTO_TCP, TH_SYN);
		client_macs(&p);
		size_t len = pkt_build(&p, inbuf, sizeof(inbuf));

		xdp_run(in, if_xa, inbuf, len, &r);
		if (flow_get(in, src, 30003, "10.0.0.20", 80, IPPROTO_TCP, &f)) {
			canary += f.arm == CANARY_ARM_CANARY;
			if (!in10[i] && f.arm == CANARY_ARM_CANARY)
				shrank_bad++;
		}
	}
	ASSERT_EQ(shrank_bad, 0, "every canary client at 5% was canary at 10%");
	ASSERT_NEAR(canary * 100.0 / n, 5.0, 1.2, "canary share within 5 +- 1.2 points");
	(void)id;
}

static void test_flow_hash_mode(void)
{
	struct instance *in = &dp;
	struct service_spec s[1];
	unsigned int port, arms[2] = {0, 0};
	uint8_t buf[256];
	struct pkt_spec p;
	struct run r;

	spec_init(&s[0], "flowmode", "10.0.0.21", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 5000);
	spec_backend(&s[0], 0, "10.0.2.2:9001");
	spec_backend(&s[0], 1, "10.0.3.2:9001");
	if (!ASSERT_EQ(apply_specs(in, s, 1), 0, "apply flow-mode service"))
		return;
	for (port = 20000; port < 20400; port++) {
		struct flow_state f;

		spec_pkt(&p, "10.0.1.2", port, "10.0.0.21", 80, IPPROTO_TCP, TH_SYN);
		client_macs(&p);
		xdp_run(in, if_xa, buf, pkt_build(&p, buf, sizeof(buf)), &r);
		if (flow_get(in, "10.0.1.2", port, "10.0.0.21", 80, IPPROTO_TCP, &f))
			arms[f.arm]++;
	}
	ASSERT_NEAR(arms[1] / 400.0, 0.5, 0.1, "about half of 400 connections on canary");
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
	{"split over 4000 clients", test_split_and_prediction},
	{"flow hash spreads one client over both arms", test_flow_hash_mode},
	{"coarse clock ticks on its own", test_clock},
	{"expiry with short timeouts", test_expiry},
};

TEST_MAIN_SETUP(cases, setup, teardown)
