/* test_attacks.c: what a hostile or busy network does to the data plane, through the
 * real program under BPF_PROG_TEST_RUN:
 * - bare ACKs that the backend answers with RSTs (the cheap way to make an arm look
 *   sick) move no health signal and no exposure; they count as mid-stream;
 * - flows live in `pending` until verified (the client completes its handshake, the
 *   backend answers a datagram, or answers a mid-stream flow with anything but a RST),
 *   so a SYN flood or an ACK flood bigger than the table evicts no established flow;
 * - a packet forged on the client side with a backend's source is no reply;
 * - IPv6 UDP with a zero checksum is malformed;
 * - the shared decision says "no backend" when neither arm has one.
 * Needs root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpfix.h"
#include "pkttable.h"

static struct instance in;
static uint32_t web, dns;

#define C(cport, flags, payload) send_tcp(&in, true, "10.0.1.2", cport, "10.0.0.10", 80, flags, payload)
#define B(cport, flags, payload) send_tcp(&in, false, "10.0.2.2", 8080, "10.0.1.2", cport, flags, payload)

static struct arm_stats st(uint32_t id)
{
	return armst(&in, id, CANARY_ARM_STABLE);
}

/* The flow 10.0.1.2:cport -> web, and whether it is still pending. */
static bool entry(int cport, bool *pending)
{
	struct flow_state f;

	if (!flow_get(&in, "10.0.1.2", cport, "10.0.0.10", 80, IPPROTO_TCP, &f))
		return false;
	*pending = f.flags & CANARY_FLOW_F_PENDING;
	return true;
}

static void handshake_pending(void)
{
	struct reason_stats r0 = reasons(&in), r1;
	bool pend;

	C(30000, TH_SYN, NULL);
	ASSERT_TRUE(entry(30000, &pend) && pend, "after the SYN: pending");
	B(30000, TH_SYN | TH_ACK, NULL);
	ASSERT_TRUE(entry(30000, &pend) && pend, "after the SYN-ACK: still pending");
	C(30000, TH_ACK, NULL);
	ASSERT_TRUE(entry(30000, &pend) && !pend, "after the client's ACK: verified");
	r1 = reasons(&in);
	ASSERT_EQ(r1.flow_verified - r0.flow_verified, 1, "flow_verified +1");
	ASSERT_EQ(C(30000, TH_ACK | TH_PSH, "GET / HTTP/1.1\r\n\r\n"), XDP_REDIRECT,
		  "its next packet is forwarded from the flow table");
}

static void datagram_pending(void)
{
	struct flow_state f;
	struct pkt_spec p;
	uint8_t buf[256];
	struct run r;

	spec_pkt(&p, "10.0.1.2", 7000, "10.0.0.10", 53, IPPROTO_UDP, 0);
	p.payload = "q";
	p.plen = 1;
	client_macs(&p);
	xdp_run(&in, if_xa, buf, pkt_build(&p, buf, sizeof(buf)), &r);
	ASSERT_TRUE(flow_get(&in, "10.0.1.2", 7000, "10.0.0.10", 53, IPPROTO_UDP, &f) &&
			    (f.flags & CANARY_FLOW_F_PENDING),
		    "after the request: pending");
	spec_pkt(&p, "10.0.2.2", 5353, "10.0.1.2", 7000, IPPROTO_UDP, 0);
	p.payload = "a";
	p.plen = 1;
	backend_macs(&p, MAC_ST1, MAC_XB);
	xdp_run(&in, if_xb, buf, pkt_build(&p, buf, sizeof(buf)), &r);
	ASSERT_EQ(r.retval, XDP_REDIRECT, "the answer is forwarded");
	ASSERT_TRUE(flow_get(&in, "10.0.1.2", 7000, "10.0.0.10", 53, IPPROTO_UDP, &f) &&
			    !(f.flags & CANARY_FLOW_F_PENDING),
		    "after the answer: verified");
}

static void ack_rst_spray(void)
{
	struct arm_stats a0 = st(web), a1;
	struct reason_stats r0 = reasons(&in), r1;
	unsigned int i, fwd = 0;
	bool pend;

	/* The attack: a bare ACK for a connection that does not exist; the backend answers
	 * with a RST. Before, each pair was an errored flow of the arm. */
	for (i = 0; i < 500; i++) {
		fwd += C(31000 + i, TH_ACK, NULL) == XDP_REDIRECT;
		B(31000 + i, TH_RST, NULL);
	}
	a1 = st(web);
	r1 = reasons(&in);
	ASSERT_EQ(fwd, 500, "the ACKs are still forwarded (a lost entry must not break a flow)");
	ASSERT_EQ(a1.flows - a0.flows, 0, "flows (exposure) unchanged");
	ASSERT_EQ(a1.errored_flows - a0.errored_flows, 0, "errored_flows unchanged");
	ASSERT_EQ(a1.reset_flows - a0.reset_flows, 0, "reset_flows unchanged");
	ASSERT_EQ(a1.backend_resets - a0.backend_resets, 0, "backend_resets unchanged");
	ASSERT_EQ(a1.midstream_flows - a0.midstream_flows, 500, "midstream_flows +500");
	ASSERT_EQ(a1.midstream_errors - a0.midstream_errors, 500, "midstream_errors +500");
	ASSERT_EQ(r1.flow_midstream - r0.flow_midstream, 500, "flow_midstream +500");
	ASSERT_TRUE(entry(31000, &pend) && pend, "a sprayed tuple stays pending");
}

static void midstream_verified(void)
{
	struct arm_stats a0 = st(web), a1;
	bool pend;

	C(32000, TH_ACK | TH_PSH, "more of a request");
	B(32000, TH_ACK | TH_PSH, "HTTP/1.1 200 OK\r\n\r\n");
	a1 = st(web);
	ASSERT_TRUE(entry(32000, &pend) && !pend, "verified by the backend's answer");
	ASSERT_EQ(a1.flows - a0.flows, 0, "no exposure");
	ASSERT_EQ(a1.http_responses - a0.http_responses, 0, "its responses are not counted");
	ASSERT_EQ(a1.midstream_flows - a0.midstream_flows, 1, "midstream_flows +1");
	ASSERT_EQ(B(32000, TH_RST, NULL), XDP_REDIRECT, "a RST on it later is forwarded");
	a1 = st(web);
	ASSERT_EQ(a1.reset_flows - a0.reset_flows, 0, "and is no reset flow of the arm");
}

static void test_flood(void)
{
	unsigned int i, kept = 0, fwd = 0, n = 2 * 4096; /* twice either table */
	struct reason_stats r0, r1;
	bool pend;

	TEST_STEP("a SYN flood twice the flow table's size evicts no established flow");
	for (i = 0; i < 200; i++) {
		C(33000 + i, TH_SYN, NULL);
		B(33000 + i, TH_SYN | TH_ACK, NULL);
		C(33000 + i, TH_ACK, NULL);
	}
	r0 = reasons(&in);
	/* Spoofed sources: 10.1.x.y (routed to the client side), never completing. */
	for (i = 0; i < n; i++) {
		char src[32];

		snprintf(src, sizeof(src), "10.1.%u.%u", i / 250, i % 250 + 1);
		fwd += send_tcp(&in, true, src, 40000 + i % 1000, "10.0.0.10", 80, TH_SYN, NULL) ==
		       XDP_REDIRECT;
	}
	r1 = reasons(&in);
	for (i = 0; i < 200; i++)
		kept += entry(33000 + i, &pend) && !pend;
	ASSERT_EQ(kept, 200, "all 200 established flows are still in the flow table");
	ASSERT_TRUE(fwd == n, "the flood's SYNs were forwarded (the backend decides)");
	ASSERT_EQ(r1.flow_insert_fail - r0.flow_insert_fail, 0, "no insert failed");
	for (i = 0, fwd = 0; i < 200; i++)
		fwd += C(33000 + i, TH_ACK | TH_PSH, "x") == XDP_REDIRECT;
	ASSERT_EQ(fwd, 200, "and their packets still go through");

	TEST_STEP("after the flood, a new handshake succeeds at once");
	C(34000, TH_SYN, NULL);
	ASSERT_TRUE(entry(34000, &pend) && pend, "the new SYN got a pending entry (an old one gave way)");
	B(34000, TH_SYN | TH_ACK, NULL);
	C(34000, TH_ACK, NULL);
	ASSERT_TRUE(entry(34000, &pend) && !pend, "and its handshake completed");

	TEST_STEP("an ACK flood evicts no established flow either");
	for (i = 0; i < n; i++) {
		char src[32];

		snprintf(src, sizeof(src), "10.1.%u.%u", 40 + i / 250, i % 250 + 1);
		send_tcp(&in, true, src, 50000 + i % 1000, "10.0.0.10", 80, TH_ACK, NULL);
	}
	for (i = 0, kept = 0; i < 200; i++)
		kept += entry(33000 + i, &pend) && !pend;
	ASSERT_EQ(kept, 200, "all 200 established flows are still there");
}

/* The UDP checksum of an IPv6 frame (no extension headers), zeroed. */
static void zero_udp6_csum(uint8_t *b, size_t *len)
{
	b[14 + 40 + 6] = b[14 + 40 + 7] = 0;
}

static const struct pkt_fixture packets[] = {
	/* From 10.0.2.2 (a backend) but arriving on xa, the client's interface. */
	{"a UDP reply forged on the client side is passed untouched",
	 .in = {FX_CLIENT, "10.0.2.2", 5353, "10.0.1.2", 7000, IPPROTO_UDP, .payload = "forged"},
	 .verdict = XDP_PASS, .reasons = {FX_REASON(pass_wrong_iface, 1), FX_REASON(fwd_tx, 0)}},
	{"a TCP reply forged on the client side is passed untouched",
	 .in = {FX_CLIENT, "10.0.2.2", 8080, "10.0.1.2", 30000, IPPROTO_TCP, TH_ACK | TH_PSH},
	 .verdict = XDP_PASS, .reasons = {FX_REASON(pass_wrong_iface, 1), FX_REASON(fwd_tx, 0)}},
	/* Passed to the kernel, which drops it. */
	{"IPv6 UDP with a zero checksum is malformed (RFC 8200)",
	 .in = {FX_CLIENT, "fd00:1::2", 7001, "fd00::53", 53, IPPROTO_UDP, .payload = "q",
		.mangle = zero_udp6_csum},
	 .verdict = XDP_PASS, .reasons = {FX_REASON(pass_malformed, 1)}},
};

static void one_packet(const struct pkt_fixture *fx)
{
	run_pkt_fixture(&in, fx);
}

TEST_FIXTURE_TABLE(test_packets, packet_name, packets, name, one_packet)

static void test_no_backend_decision(void)
{
	struct canary_decision d;
	struct svc_config cfg = {.canary_weight = 5000};
	struct flow_key k = {};

	ASSERT_EQ(canary_decide(&cfg, &k, -1, &d), -1, "nowhere to go");
	ASSERT_EQ(d.reason, CANARY_DECIDE_NO_BACKEND, "reason no_backend (not fallback)");
	cfg.nbackends[CANARY_ARM_STABLE] = 1;
	cfg.canary_weight = CANARY_WEIGHT_SCALE;
	ASSERT_EQ(canary_decide(&cfg, &k, -1, &d), 0, "one arm has a backend");
	ASSERT_TRUE(d.reason == CANARY_DECIDE_FALLBACK && d.chosen_arm == CANARY_ARM_CANARY &&
			    d.arm == CANARY_ARM_STABLE,
		    "canary chosen, stable takes it (fallback)");
}

static bool setup(void)
{
	struct service_spec s[3];

	canary_quiet_libs();
	if (!ASSERT_EQ(setup_netns(), 0, "private netns") ||
	    !ASSERT_EQ(instance_load_tables(&in, 4096, 4096), 0,
		       "load xdp_canary (flow table and pending: 4096 each)"))
		return false;
	spec_init(&s[0], "web", "10.0.0.10", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[0], 0, "10.0.2.2:8080");
	spec_backend(&s[0], 1, "10.0.3.2:8080");
	s[0].http = true;
	spec_init(&s[1], "dns", "10.0.0.10", 53, IPPROTO_UDP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[1], 0, "10.0.2.2:5353");
	spec_init(&s[2], "dns6", "fd00::53", 53, IPPROTO_UDP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[2], 0, "[fd00:2::2]:5353");
	if (!ASSERT_EQ(apply_specs(&in, s, 3), 0, "apply services"))
		return false;
	web = svc_id(&in, "web");
	dns = svc_id(&in, "dns");
	return true;
}

static void teardown(void)
{
	xdp_canary_bpf__destroy(in.skel);
}

static const struct test_case cases[] = {
	{"a handshake: pending until the client's ACK, then in the flow table", handshake_pending},
	{"a datagram: pending until the backend answers it", datagram_pending},
	{"an ACK/RST spray moves no health signal and no exposure", ack_rst_spray},
	{"a mid-stream flow its backend answers with data is verified, and still no exposure",
	 midstream_verified},
	{"floods", test_flood},
	{"forged and malformed packets", test_packets, packet_name},
	{"the shared decision: no backend in either arm", test_no_backend_decision},
};

TEST_MAIN_SETUP(cases, setup, teardown)
