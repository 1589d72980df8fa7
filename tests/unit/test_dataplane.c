/* test_dataplane.c: the real XDP program run through BPF_PROG_TEST_RUN with named packet
 * fixtures. Each case asserts the verdict, the output bytes (rebuilt from scratch, so
 * checksums are checked independently), the counters and the flow-table entry.
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

#include "canary_hash.h"
#include "pktbuild.h"
#include "testlib.h"
#include "base/util.h"
#include "maps/apply.h"
#include "maps/service.h"
#include "maps/stats.h"
#include "xdp_canary.skel.h"

#include "dpfix.h"

/* ---- test cases ------------------------------------------------------------------------ */

static struct service_spec specs[8];

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
	specs[4].overrides = calloc(1, sizeof(struct override_spec));
	specs[4].noverrides = 1;
	specs[4].overrides[0].family = prefix_parse("10.0.1.128/25", &specs[4].overrides[0].addr,
						    &specs[4].overrides[0].plen);
	specs[4].overrides[0].arm = CANARY_ARM_CANARY;
	/* No backends at all, a backend without neighbour, one without a route. */
	spec_init(&specs[5], "empty", "10.0.0.12", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_init(&specs[6], "noneigh", "10.0.0.13", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&specs[6], 0, "10.0.2.9:8080");
	spec_init(&specs[7], "noroute", "10.0.0.14", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&specs[7], 0, "192.0.2.1:8080");
	TEST_CASE("setup");
	ASSERT_EQ(apply_specs(in, specs, 8), 0, "apply 8 services");
}

static void test_tcp4_lifecycle(struct instance *in)
{
	struct pkt_spec p, w;
	struct flow_state st;
	struct reason_stats r0 = reasons(in), r1;
	uint32_t id = svc_id(in, "web4");
	struct arm_stats a0 = armst(in, id, 0), a1;

	TEST_CASE("v4 tcp syn -> stable backend");
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

	TEST_CASE("v4 tcp syn-ack reply -> VIP source");
	spec_pkt(&p, "10.0.2.2", 8080, "10.0.1.2", 40000, IPPROTO_TCP, TH_SYN | TH_ACK);
	backend_macs(&p, MAC_ST1, MAC_XB);
	w = rev_from(&p, "10.0.0.10", 80);
	expect_frame(in, if_xb, &p, XDP_REDIRECT, &w, "syn-ack");
	flow_get(in, "10.0.1.2", 40000, "10.0.0.10", 80, IPPROTO_TCP, &st);
	ASSERT_EQ(st.state, CANARY_FLOW_SYN_RECV, "state SYN_RECV");
	ASSERT_EQ(st.rev_nh.ifindex, if_xa, "reply next hop cached on xa");
	a1 = armst(in, id, 0);
	ASSERT_EQ(a1.rev_packets - a0.rev_packets, 1, "stable rev_packets +1");

	TEST_CASE("v4 tcp ack completes the handshake");
	spec_pkt(&p, "10.0.1.2", 40000, "10.0.0.10", 80, IPPROTO_TCP, TH_ACK);
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 8080, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "ack");
	flow_get(in, "10.0.1.2", 40000, "10.0.0.10", 80, IPPROTO_TCP, &st);
	ASSERT_EQ(st.state, CANARY_FLOW_ESTABLISHED, "state ESTABLISHED");

	TEST_CASE("weight change never moves an established flow");
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

	TEST_CASE("retransmitted SYN keeps its pending entry");
	ASSERT_EQ(service_set_weight(&in->maps, "web4", 0, NULL), 0, "set weight 0%");
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "retransmitted syn stays on canary");
	flow_get(in, "10.0.1.2", 40001, "10.0.0.10", 80, IPPROTO_TCP, &st);
	ASSERT_EQ(st.syn_count, 2, "syn_count 2");
	ASSERT_EQ(st.arm, CANARY_ARM_CANARY, "arm still canary");

	TEST_CASE("SYN on a closed tuple decides afresh");
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

	TEST_CASE("FIN moves the flow to CLOSING");
	spec_pkt(&p, "10.0.2.2", 8080, "10.0.1.2", 40000, IPPROTO_TCP, TH_FIN | TH_ACK);
	backend_macs(&p, MAC_ST1, MAC_XB);
	w = rev_from(&p, "10.0.0.10", 80);
	expect_frame(in, if_xb, &p, XDP_REDIRECT, &w, "backend fin");
	flow_get(in, "10.0.1.2", 40000, "10.0.0.10", 80, IPPROTO_TCP, &st);
	ASSERT_EQ(st.state, CANARY_FLOW_CLOSING, "state CLOSING");

	TEST_CASE("mid-stream packet with no entry");
	r0 = reasons(in);
	spec_pkt(&p, "10.0.1.2", 41000, "10.0.0.10", 80, IPPROTO_TCP, TH_ACK);
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 8080, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "mid-stream ack");
	r1 = reasons(in);
	ASSERT_EQ(r1.flow_midstream - r0.flow_midstream, 1, "flow_midstream +1");
	ASSERT_EQ(r1.flow_new - r0.flow_new, 0, "not counted as a new flow");
	if (ASSERT_TRUE(flow_get(in, "10.0.1.2", 41000, "10.0.0.10", 80, IPPROTO_TCP, &st),
			"entry created"))
		ASSERT_TRUE(st.flags & CANARY_FLOW_F_MIDSTREAM, "flagged MIDSTREAM");

	TEST_CASE("stray RST creates no entry");
	a0 = armst(in, id, 0);
	spec_pkt(&p, "10.0.1.2", 41001, "10.0.0.10", 80, IPPROTO_TCP, TH_RST);
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 8080, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "stray rst forwarded");
	ASSERT_TRUE(!flow_get(in, "10.0.1.2", 41001, "10.0.0.10", 80, IPPROTO_TCP, &st),
		    "no entry");
	a1 = armst(in, id, 0);
	ASSERT_EQ(a1.flows - a0.flows, 0, "and no flow counted");

	TEST_CASE("a SYN-ACK with no entry leaves from the VIP, never the backend");
	/* Its SYN may have been evicted from `pending` by a flood, or forwarded by another
	 * node: rewritten statelessly like every reply, so no backend address leaks. */
	spec_pkt(&p, "10.0.2.2", 8080, "10.0.1.2", 42001, IPPROTO_TCP, TH_SYN | TH_ACK);
	backend_macs(&p, MAC_ST1, MAC_XB);
	w = rev_from(&p, "10.0.0.10", 80);
	expect_frame(in, if_xb, &p, XDP_REDIRECT, &w, "orphan SYN-ACK");

	TEST_CASE("reply with no flow entry is still rewritten");
	r0 = reasons(in);
	spec_pkt(&p, "10.0.2.2", 8080, "10.0.1.2", 42000, IPPROTO_TCP, TH_ACK);
	backend_macs(&p, MAC_ST1, MAC_XB);
	w = rev_from(&p, "10.0.0.10", 80);
	expect_frame(in, if_xb, &p, XDP_REDIRECT, &w, "orphan reply");
	r1 = reasons(in);
	ASSERT_EQ(r1.reply_no_flow - r0.reply_no_flow, 1, "reply_no_flow +1");
}

static void test_tcp6(struct instance *in)
{
	struct pkt_spec p, w;
	struct flow_state st;

	TEST_CASE("v6 tcp syn -> stable backend");
	spec_pkt(&p, "fd00:1::2", 40000, "fd00::10", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	w = fwd_to(&p, "fd00:2::2", 8080, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "v6 syn");
	ASSERT_TRUE(flow_get(in, "fd00:1::2", 40000, "fd00::10", 80, IPPROTO_TCP, &st),
		    "v6 flow entry");

	TEST_CASE("v6 tcp reply");
	spec_pkt(&p, "fd00:2::2", 8080, "fd00:1::2", 40000, IPPROTO_TCP, TH_SYN | TH_ACK);
	backend_macs(&p, MAC_ST1, MAC_XB);
	w = rev_from(&p, "fd00::10", 80);
	expect_frame(in, if_xb, &p, XDP_REDIRECT, &w, "v6 syn-ack");

	TEST_CASE("v6 tcp data with payload");
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

static void test_udp(struct instance *in)
{
	struct pkt_spec p, w;
	struct flow_state st;

	TEST_CASE("v4 udp request and reply");
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

	TEST_CASE("v4 udp without checksum keeps none");
	spec_pkt(&p, "10.0.1.2", 5001, "10.0.0.10", 53, IPPROTO_UDP, 0);
	p.udp_zero_csum = true;
	p.payload = "q";
	p.plen = 1;
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 5353, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "zero-checksum udp");

	TEST_CASE("v6 udp request and reply");
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

static void test_ip_options(struct instance *in)
{
	struct pkt_spec p, w;

	TEST_CASE("v4 with IP options is rewritten correctly");
	spec_pkt(&p, "10.0.1.2", 43000, "10.0.0.10", 80, IPPROTO_TCP, TH_SYN);
	p.ip_opt_words = 2;
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 8080, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "ihl=7 syn");
}

static void test_not_service(struct instance *in)
{
	struct pkt_spec p;
	struct reason_stats r0 = reasons(in), r1;

	TEST_CASE("traffic to no service passes untouched");
	spec_pkt(&p, "10.0.1.2", 40000, "10.0.0.99", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	expect_frame(in, if_xa, &p, XDP_PASS, NULL, "other address");
	spec_pkt(&p, "10.0.1.2", 40000, "10.0.0.10", 81, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	expect_frame(in, if_xa, &p, XDP_PASS, NULL, "other port");
	spec_pkt(&p, "10.0.1.2", 40000, "10.0.0.10", 80, IPPROTO_UDP, 0);
	client_macs(&p);
	expect_frame(in, if_xa, &p, XDP_PASS, NULL, "other protocol");
	spec_pkt(&p, "10.0.2.2", 8081, "10.0.1.2", 40000, IPPROTO_UDP, 0);
	backend_macs(&p, MAC_ST1, MAC_XB);
	expect_frame(in, if_xb, &p, XDP_PASS, NULL, "backend address, wrong protocol");
	r1 = reasons(in);
	ASSERT_EQ(r1.pass_not_service - r0.pass_not_service, 4, "pass_not_service +4");
}

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

/* Malformed and unsupported frames: each gets XDP_PASS, leaves the frame untouched and
 * lands in exactly one reason counter. */
static void test_malformed(struct instance *in)
{
	struct fixture {
		const char *name;
		size_t reason; /* offset in struct reason_stats */
		void (*mangle)(uint8_t *buf, size_t *len);
		int family;
	};
	uint8_t buf[512];
	struct pkt_spec p;
	struct run r;
	size_t len, i;

	const struct fixture fx[] = {
		/* (A frame shorter than an Ethernet header cannot be fed to test-run; the
		 * kernel refuses it, as NICs do. The program still checks for it.) */
		{"truncated ipv6 header", offsetof(struct reason_stats, pass_malformed),
		 m_trunc_ip6, CANARY_AF_INET6},
		{"truncated ipv4 header", offsetof(struct reason_stats, pass_malformed), m_trunc_ip,
		 CANARY_AF_INET},
		{"ipv4 ihl below 5", offsetof(struct reason_stats, pass_malformed), m_ihl4,
		 CANARY_AF_INET},
		{"ipv4 version field wrong", offsetof(struct reason_stats, pass_malformed), m_ver,
		 CANARY_AF_INET},
		{"ipv4 total length beyond frame", offsetof(struct reason_stats, pass_malformed),
		 m_totlen, CANARY_AF_INET},
		{"ipv4 first fragment (MF)", offsetof(struct reason_stats, pass_fragment), m_mf,
		 CANARY_AF_INET},
		{"ipv4 later fragment (offset)", offsetof(struct reason_stats, pass_fragment),
		 m_fragoff, CANARY_AF_INET},
		{"tcp data offset below 5", offsetof(struct reason_stats, pass_malformed), m_doff,
		 CANARY_AF_INET},
		{"truncated tcp header", offsetof(struct reason_stats, pass_malformed), m_trunc_tcp,
		 CANARY_AF_INET},
		{"tcp data offset beyond packet", offsetof(struct reason_stats, pass_malformed),
		 m_doff_big, CANARY_AF_INET},
		{"802.1Q vlan tag", offsetof(struct reason_stats, pass_vlan), m_vlan, CANARY_AF_INET},
		{"arp ethertype", offsetof(struct reason_stats, pass_not_ip), m_arp, CANARY_AF_INET},
		{"ipv6 fragment header", offsetof(struct reason_stats, pass_fragment), m_v6_frag,
		 CANARY_AF_INET6},
		{"ipv6 five extension headers", offsetof(struct reason_stats, pass_ipv6_ext),
		 m_v6_ext, CANARY_AF_INET6},
		{"ipv6 routing header", offsetof(struct reason_stats, pass_ipv6_ext), m_v6_routing,
		 CANARY_AF_INET6},
		{"ipv6 payload length beyond frame", offsetof(struct reason_stats, pass_malformed),
		 m_v6_plen, CANARY_AF_INET6},
	};

	for (i = 0; i < ARRAY_SIZE(fx); i++) {
		struct reason_stats r0 = reasons(in), r1;
		__u64 *w0 = (__u64 *)&r0, *w1 = (__u64 *)&r1;
		size_t k, changed = 0;
		uint8_t copy[512];

		TEST_CASE(fx[i].name);
		if (fx[i].family == CANARY_AF_INET)
			spec_pkt(&p, "10.0.1.2", 44000, "10.0.0.10", 80, IPPROTO_TCP, TH_SYN);
		else
			spec_pkt(&p, "fd00:1::2", 44000, "fd00::10", 80, IPPROTO_TCP, TH_SYN);
		client_macs(&p);
		len = pkt_build(&p, buf, sizeof(buf) - 64);
		fx[i].mangle(buf, &len);
		memcpy(copy, buf, len);
		if (xdp_run(in, if_xa, buf, len, &r)) {
			ASSERT_TRUE(false, "prog test run");
			continue;
		}
		ASSERT_EQ(r.retval, XDP_PASS, "verdict XDP_PASS");
		ASSERT_TRUE(r.len == len && !memcmp(r.out, copy, len), "frame untouched");
		r1 = reasons(in);
		ASSERT_EQ(*(__u64 *)((char *)&r1 + fx[i].reason) -
				  *(__u64 *)((char *)&r0 + fx[i].reason),
			  1, "its reason counter +1");
		for (k = 0; k < sizeof(r0) / 8; k++)
			changed += w1[k] != w0[k];
		ASSERT_EQ(changed, 1, "no other counter moved");
	}
}

static void test_overrides_and_failures(struct instance *in)
{
	struct pkt_spec p, w;
	struct reason_stats r0, r1;

	TEST_CASE("override prefix pins clients to canary at weight 0");
	r0 = reasons(in);
	spec_pkt(&p, "10.0.1.200", 40000, "10.0.0.11", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	w = fwd_to(&p, "10.0.3.2", 8081, MAC_CA1, MAC_XC);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "client in 10.0.1.128/25");
	spec_pkt(&p, "10.0.1.2", 40000, "10.0.0.11", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 8081, MAC_ST1, MAC_XB);
	expect_frame(in, if_xa, &p, XDP_REDIRECT, &w, "client outside the prefix");
	r1 = reasons(in);
	ASSERT_EQ(r1.override_hits - r0.override_hits, 1, "override_hits +1");

	TEST_CASE("service with no backends drops");
	r0 = reasons(in);
	spec_pkt(&p, "10.0.1.2", 40000, "10.0.0.12", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	expect_frame(in, if_xa, &p, XDP_DROP, NULL, "no backend");
	r1 = reasons(in);
	ASSERT_EQ(r1.drop_no_backend - r0.drop_no_backend, 1, "drop_no_backend +1");

	TEST_CASE("backend without neighbour: rewritten, passed to the kernel");
	r0 = reasons(in);
	spec_pkt(&p, "10.0.1.2", 40000, "10.0.0.13", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	w = p;
	addr_parse("10.0.2.9", &w.dst);
	w.dport = 8080;
	expect_frame(in, if_xa, &p, XDP_PASS, &w, "no neighbour");
	r1 = reasons(in);
	ASSERT_EQ(r1.pass_no_neigh - r0.pass_no_neigh, 1, "pass_no_neigh +1");

	TEST_CASE("backend without route: dropped, not rewritten");
	r0 = reasons(in);
	spec_pkt(&p, "10.0.1.2", 40000, "10.0.0.14", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	expect_frame(in, if_xa, &p, XDP_DROP, NULL, "no route");
	r1 = reasons(in);
	ASSERT_EQ(r1.drop_fib - r0.drop_fib, 1, "drop_fib +1");
}

/* The split and userspace's prediction: thousands of clients through the real program. */
static void test_split_and_prediction(struct instance *in)
{
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
	TEST_CASE("split: 10% weight over 4000 clients");
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

	TEST_CASE("split: raising the weight only moves stable clients to canary");
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

static void test_flow_hash_mode(struct instance *in)
{
	struct service_spec s[1];
	unsigned int port, arms[2] = {0, 0};
	uint8_t buf[256];
	struct pkt_spec p;
	struct run r;

	TEST_CASE("flow hash: one client's connections spread over both arms");
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
static void test_clock(struct instance *in)
{
	const __u64 tick = CANARY_CLOCK_TICK_NS;
	struct canary_clock c0, c1;
	__u64 t0, t0_end, t1_start, t1, adv, inner, outer;
	__u32 zero = 0;

	TEST_CASE("coarse clock ticks on its own");
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

	TEST_CASE("expiry: setup with 30 ms timeouts");
	if (!ASSERT_EQ(instance_load(&in, 30, 30), 0, "load short-timeout instance"))
		return;
	spec_init(&s[0], "udp", "10.0.0.10", 53, IPPROTO_UDP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[0], 0, "10.0.2.2:5353");
	spec_backend(&s[0], 1, "10.0.3.2:5353");
	spec_init(&s[1], "tcp", "10.0.0.10", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[1], 0, "10.0.2.2:8080");
	spec_backend(&s[1], 1, "10.0.3.2:8080");
	ASSERT_EQ(apply_specs(&in, s, 2), 0, "apply");

	TEST_CASE("expiry: idle UDP flow decides afresh");
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

	TEST_CASE("expiry: unanswered SYN entry expires");
	spec_pkt(&p, "10.0.1.2", 6001, "10.0.0.10", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	w = fwd_to(&p, "10.0.2.2", 8080, MAC_ST1, MAC_XB);
	expect_frame(&in, if_xa, &p, XDP_REDIRECT, &w, "syn -> stable");
	service_set_weight(&in.maps, "tcp", 10000, NULL);
	usleep(200 * 1000);
	w = fwd_to(&p, "10.0.3.2", 8080, MAC_CA1, MAC_XC);
	expect_frame(&in, if_xa, &p, XDP_REDIRECT, &w, "syn after syn timeout -> canary");

	TEST_CASE("expiry: idle established TCP keeps its backend on non-SYN packets");
	spec_pkt(&p, "10.0.1.2", 6001, "10.0.0.10", 80, IPPROTO_TCP, TH_ACK);
	client_macs(&p);
	w = fwd_to(&p, "10.0.3.2", 8080, MAC_CA1, MAC_XC);
	expect_frame(&in, if_xa, &p, XDP_REDIRECT, &w, "ack stays on canary");
	xdp_canary_bpf__destroy(in.skel);
}

int main(void)
{
	struct instance in;

	canary_quiet_libs();
	TEST_CASE("setup");
	if (!ASSERT_EQ(setup_netns(), 0, "private netns with veths and neighbours"))
		return test_summary();
	if (!ASSERT_EQ(instance_load(&in, 0, 0), 0, "load xdp_canary"))
		return test_summary();
	setup_services(&in);
	test_tcp4_lifecycle(&in);
	test_tcp6(&in);
	test_udp(&in);
	test_ip_options(&in);
	test_not_service(&in);
	test_malformed(&in);
	test_overrides_and_failures(&in);
	test_split_and_prediction(&in);
	test_flow_hash_mode(&in);
	test_clock(&in);
	xdp_canary_bpf__destroy(in.skel);
	test_expiry();
	return test_summary();
}
