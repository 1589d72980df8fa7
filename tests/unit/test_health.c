/* test_health.c: the per-arm health signals, through the real program under
 * BPF_PROG_TEST_RUN: crafted sequences (SYN, retransmitted SYN, SYN-ACK, RST, HTTP
 * status lines whole, split and truncated, ICMP errors quoting a flow) and exact
 * counter values; ICMP translations checked byte for byte with checksums rebuilt from
 * scratch; and the sweeper's count of unanswered SYNs. Needs root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpfix.h"
#include "maps/sweep.h"

static struct instance in;
static uint32_t web, api, dns;

static const char *GET = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/* Send a TCP packet of the flow 10.0.1.2:cport <-> 10.0.0.10:vport, served by a stable
 * backend on 10.0.2.x, in either direction, with flags and payload; returns the verdict. */
static __u32 tcp(int cport, int vport, const char *backend, int bport, bool from_client,
		 uint8_t flags, const char *payload)
{
	if (from_client)
		return send_tcp(&in, true, "10.0.1.2", cport, "10.0.0.10", vport, flags, payload);
	return send_tcp(&in, false, backend, bport, "10.0.1.2", cport, flags, payload);
}

#define C(cport, flags, payload) tcp(cport, 80, "10.0.2.2", 8080, true, flags, payload)
#define B(cport, flags, payload) tcp(cport, 80, "10.0.2.2", 8080, false, flags, payload)

static struct arm_stats st(uint32_t id)
{
	return armst(&in, id, CANARY_ARM_STABLE);
}

static struct backend_stats bst(uint32_t id)
{
	struct backend_stats b;

	backend_stats_read(&in.maps, id, CANARY_ARM_STABLE, 0, &b);
	return b;
}

static void establish(int cport)
{
	C(cport, TH_SYN, NULL);
	B(cport, TH_SYN | TH_ACK, NULL);
	C(cport, TH_ACK, NULL);
}

static void test_syn_signals(void)
{
	struct arm_stats a0 = st(web), a1;
	struct backend_stats b0 = bst(web), b1;
	struct flow_state f;

	TEST_STEP("SYN retransmitted before any SYN-ACK");
	C(50000, TH_SYN, NULL);
	C(50000, TH_SYN, NULL);
	a1 = st(web);
	b1 = bst(web);
	ASSERT_EQ(a1.syn_retransmits - a0.syn_retransmits, 1, "syn_retransmits +1");
	ASSERT_EQ(a1.syn_retx_flows - a0.syn_retx_flows, 1, "syn_retx_flows +1");
	ASSERT_EQ(b1.syn_retransmits - b0.syn_retransmits, 1, "backend syn_retransmits +1");
	C(50000, TH_SYN, NULL);
	a1 = st(web);
	ASSERT_EQ(a1.syn_retransmits - a0.syn_retransmits, 2, "a third SYN: syn_retransmits +2");
	ASSERT_EQ(a1.syn_retx_flows - a0.syn_retx_flows, 1, "still one flow with repeated SYNs");
	ASSERT_EQ(a1.errored_flows - a0.errored_flows, 1, "errored_flows +1");
	ASSERT_EQ(a1.flows - a0.flows, 1, "still one flow");
	flow_get(&in, "10.0.1.2", 50000, "10.0.0.10", 80, IPPROTO_TCP, &f);
	ASSERT_TRUE(f.err_flags & CANARY_ERR_SYN_RETX, "flow flagged SYN_RETX");

	TEST_STEP("SYN-ACK gives a handshake sample; a later SYN is not held against it");
	B(50000, TH_SYN | TH_ACK, NULL);
	C(50000, TH_SYN, NULL); /* the client lost the SYN-ACK: not the backend's fault */
	a1 = st(web);
	ASSERT_EQ(a1.handshake_count - a0.handshake_count, 1, "handshake_count +1");
	ASSERT_EQ(a1.syn_retransmits - a0.syn_retransmits, 2, "syn_retransmits unchanged");
	ASSERT_EQ(a1.errored_flows - a0.errored_flows, 1, "errored_flows unchanged");
}

static void backend_rst(void)
{
	struct arm_stats a0 = st(web), a1;
	struct backend_stats b0 = bst(web), b1;

	establish(50001);
	ASSERT_EQ(B(50001, TH_RST, NULL), XDP_REDIRECT, "backend RST forwarded");
	a1 = st(web);
	b1 = bst(web);
	ASSERT_EQ(a1.backend_resets - a0.backend_resets, 1, "backend_resets +1");
	ASSERT_EQ(a1.reset_flows - a0.reset_flows, 1, "reset_flows +1");
	ASSERT_EQ(a1.errored_flows - a0.errored_flows, 1, "errored_flows +1");
	ASSERT_EQ(b1.reset_flows - b0.reset_flows, 1, "backend reset_flows +1");
	B(50001, TH_RST, NULL);
	a1 = st(web);
	ASSERT_EQ(a1.backend_resets - a0.backend_resets, 2, "a second RST counts as a segment");
	ASSERT_EQ(a1.reset_flows - a0.reset_flows, 1, "but not as a second flow");
}

static void late_backend_packet(void)
{
	struct flow_state f0, f1;
	struct arm_stats s0, s1;
	struct pkt_spec p;
	uint8_t buf[256];
	struct run r;

	establish(50003);
	s0 = st(web);
	flow_get(&in, "10.0.1.2", 50003, "10.0.0.10", 80, IPPROTO_TCP, &f0);
	/* The canary backend is a backend of the service, but not of this flow. */
	spec_pkt(&p, "10.0.3.2", 8080, "10.0.1.2", 50003, IPPROTO_TCP, TH_RST);
	backend_macs(&p, MAC_CA1, MAC_XC);
	xdp_run(&in, if_xc, buf, pkt_build(&p, buf, sizeof(buf)), &r);
	ASSERT_EQ(r.retval, XDP_REDIRECT, "still rewritten (statelessly)");
	flow_get(&in, "10.0.1.2", 50003, "10.0.0.10", 80, IPPROTO_TCP, &f1);
	s1 = st(web);
	ASSERT_EQ(f1.state, f0.state, "the flow's state is unchanged");
	ASSERT_EQ(f1.err_flags, f0.err_flags, "no error marked on it");
	ASSERT_EQ(s1.reset_flows - s0.reset_flows, 0, "no stable reset flow counted");
	ASSERT_EQ(s1.backend_resets - s0.backend_resets, 0, "nor a stable backend reset");
}

static void client_rst(void)
{
	struct arm_stats a0 = st(web), a1;

	establish(50002);
	C(50002, TH_RST, NULL);
	a1 = st(web);
	ASSERT_EQ(a1.backend_resets - a0.backend_resets, 0, "backend_resets unchanged");
}

static void test_http(void)
{
	struct arm_stats a0 = st(web), a1;
	struct backend_stats b0 = bst(web), b1;

	TEST_STEP("HTTP 503 status line");
	establish(50010);
	C(50010, TH_ACK | TH_PSH, GET);
	B(50010, TH_ACK | TH_PSH, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
	a1 = st(web);
	b1 = bst(web);
	ASSERT_EQ(a1.http_responses - a0.http_responses, 1, "http_responses +1");
	ASSERT_EQ(a1.http_class[5] - a0.http_class[5], 1, "5xx +1");
	ASSERT_EQ(b1.http_5xx - b0.http_5xx, 1, "backend http_5xx +1");
	ASSERT_EQ(a1.requests - a0.requests, 1, "one TTFB sample");
	ASSERT_EQ(a1.errored_flows - a0.errored_flows, 1, "errored_flows +1");

	TEST_STEP("the rest of a response is not another response");
	B(50010, TH_ACK | TH_PSH, "HTTP/1.1 200 OK but this is body text\r\n");
	a1 = st(web);
	ASSERT_EQ(a1.http_responses - a0.http_responses, 1, "http_responses unchanged");

	TEST_STEP("keep-alive: the next request's response counts");
	C(50010, TH_ACK | TH_PSH, GET);
	C(50010, TH_ACK | TH_PSH, "more of the same request");
	B(50010, TH_ACK | TH_PSH, "HTTP/1.0 200 OK\r\n\r\n");
	a1 = st(web);
	ASSERT_EQ(a1.http_class[2] - a0.http_class[2], 1, "2xx +1");
	ASSERT_EQ(a1.requests - a0.requests, 2, "two TTFB samples");
	ASSERT_EQ(a1.errored_flows - a0.errored_flows, 1, "a flow errs once");

	TEST_STEP("status line split across segments");
	C(50010, TH_ACK | TH_PSH, GET);
	B(50010, TH_ACK | TH_PSH, "HTTP/1.1 5");
	a1 = st(web);
	ASSERT_EQ(a1.http_responses - a0.http_responses, 2, "nothing counted on the first half");
	B(50010, TH_ACK | TH_PSH, "02 Bad Gateway\r\n\r\n");
	a1 = st(web);
	ASSERT_EQ(a1.http_responses - a0.http_responses, 3, "counted when it completes");
	ASSERT_EQ(a1.http_class[5] - a0.http_class[5], 2, "as a 5xx");
	ASSERT_EQ(a1.requests - a0.requests, 3, "one TTFB sample for the split response");

	TEST_STEP("truncated status line");
	C(50010, TH_ACK | TH_PSH, GET);
	B(50010, TH_ACK | TH_PSH, "HTTP/1.1 2");
	C(50010, TH_ACK | TH_PSH, GET); /* the client moves on: the line never completed */
	a1 = st(web);
	ASSERT_EQ(a1.http_class[0] - a0.http_class[0], 1, "counted as unparsed");
	ASSERT_EQ(a1.http_responses - a0.http_responses, 4, "responses +1");

	TEST_STEP("not HTTP at all");
	B(50010, TH_ACK | TH_PSH, "SSH-2.0-OpenSSH_9.2\r\n");
	a1 = st(web);
	ASSERT_EQ(a1.http_class[0] - a0.http_class[0], 2, "unparsed +1");
	ASSERT_EQ(a1.http_class[5] - a0.http_class[5], 2, "5xx unchanged");

	TEST_STEP("a status code out of range");
	C(50010, TH_ACK | TH_PSH, GET);
	B(50010, TH_ACK | TH_PSH, "HTTP/1.1 999 Odd\r\n");
	a1 = st(web);
	ASSERT_EQ(a1.http_class[0] - a0.http_class[0], 3, "unparsed +1");
}

static void ttfb_only(void)
{
	struct arm_stats a0 = st(api), a1;

	tcp(50020, 81, "10.0.2.2", 8081, true, TH_SYN, NULL);
	tcp(50020, 81, "10.0.2.2", 8081, false, TH_SYN | TH_ACK, NULL);
	tcp(50020, 81, "10.0.2.2", 8081, true, TH_ACK | TH_PSH, GET);
	tcp(50020, 81, "10.0.2.2", 8081, false, TH_ACK | TH_PSH, "HTTP/1.1 500 Oops\r\n\r\n");
	a1 = st(api);
	ASSERT_EQ(a1.requests - a0.requests, 1, "one TTFB sample");
	ASSERT_EQ(a1.http_responses - a0.http_responses, 0, "no status line counted");
	ASSERT_EQ(a1.errored_flows - a0.errored_flows, 0, "no error");
}

/* ---- ICMP ------------------------------------------------------------------------------- */

static size_t icmp_frame_aligned(uint8_t *buf, int family, const char *src, const char *dst,
				 uint8_t type, uint8_t code, const uint8_t *quote, size_t qlen,
				 const uint8_t *smac, const uint8_t *dmac);

/* Ethernet + IP + ICMP error quoting `quote` (an IP packet), built at IP alignment
 * (see struct pkt_scratch). */
static size_t icmp_frame(uint8_t *out, int family, const char *src, const char *dst,
			 uint8_t type, uint8_t code, const uint8_t *quote, size_t qlen,
			 const uint8_t *smac, const uint8_t *dmac)
{
	struct pkt_scratch sc;
	size_t n = icmp_frame_aligned(sc.frame, family, src, dst, type, code, quote, qlen, smac,
				      dmac);

	memcpy(out, sc.frame, n);
	return n;
}

static size_t icmp_frame_aligned(uint8_t *buf, int family, const char *src, const char *dst,
				 uint8_t type, uint8_t code, const uint8_t *quote, size_t qlen,
				 const uint8_t *smac, const uint8_t *dmac)
{
	union canary_addr s, d;
	size_t l3 = family == CANARY_AF_INET ? 20 : 40, len = 14 + l3 + 8 + qlen;
	uint8_t *ic = buf + 14 + l3;
	uint32_t sum;

	memset(buf, 0, len);
	addr_parse(src, &s);
	addr_parse(dst, &d);
	memcpy(buf, dmac, 6);
	memcpy(buf + 6, smac, 6);
	if (family == CANARY_AF_INET) {
		struct iphdr *ip = (struct iphdr *)(buf + 14);

		buf[12] = 0x08;
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(20 + 8 + qlen);
		ip->ttl = 64;
		ip->protocol = IPPROTO_ICMP;
		ip->saddr = s.v4;
		ip->daddr = d.v4;
		ip->check = htons(csum_finish(csum_partial_words(ip, 20, 0)));
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(buf + 14);

		buf[12] = 0x86;
		buf[13] = 0xdd;
		ip6->version = 6;
		ip6->payload_len = htons(8 + qlen);
		ip6->nexthdr = IPPROTO_ICMPV6;
		ip6->hop_limit = 64;
		memcpy(&ip6->saddr, s.bytes, 16);
		memcpy(&ip6->daddr, d.bytes, 16);
	}
	ic[0] = type;
	ic[1] = code;
	if (type == 2 && family == CANARY_AF_INET6)
		put_be32(ic + 4, 1280); /* MTU of "packet too big" */
	memcpy(ic + 8, quote, qlen);
	sum = family == CANARY_AF_INET6 ? pseudo_sum(family, &s, &d, IPPROTO_ICMPV6, 8 + qlen) : 0;
	put_be16(ic + 2, csum_finish(csum_partial_words(ic, 8 + qlen, sum)));
	return len;
}

/* The IP packet (no Ethernet header) of a pkt_spec. */
static size_t ip_packet(const struct pkt_spec *p, uint8_t *buf)
{
	uint8_t tmp[512];
	size_t len = pkt_build(p, tmp, sizeof(tmp));

	memcpy(buf, tmp + 14, len - 14);
	return len - 14;
}

static bool icmp_csum_ok(const uint8_t *f, size_t len)
{
	int v6 = f[12] == 0x86;
	size_t l3 = v6 ? 40 : 20;
	const uint8_t *ic = f + 14 + l3;
	uint32_t sum = 0;

	if (!v6 && csum_finish(csum_partial_words(f + 14, 20, 0)))
		return false;
	if (v6)
		sum = pseudo_sum(CANARY_AF_INET6, f + 14 + 8, f + 14 + 24, IPPROTO_ICMPV6,
				 len - 14 - l3);
	return csum_finish(csum_partial_words(ic, len - 14 - l3, sum)) == 0;
}

static void expect_icmp(int ifindex, const uint8_t *frame, size_t len, __u32 verdict,
			const uint8_t *want, size_t wlen, const char *what)
{
	struct run r;
	char msg[160];

	xdp_run(&in, ifindex, frame, len, &r);
	snprintf(msg, sizeof(msg), "%s: verdict", what);
	ASSERT_EQ(r.retval, verdict, msg);
	if (!want)
		return;
	snprintf(msg, sizeof(msg), "%s: every checksum verifies from scratch", what);
	ASSERT_TRUE(icmp_csum_ok(r.out, r.len), msg);
	snprintf(msg, sizeof(msg), "%s: output bytes", what);
	if (!ASSERT_TRUE(r.len == wlen && !memcmp(r.out, want, wlen), msg)) {
		size_t i;

		for (i = 0; i < wlen && i < r.len; i++)
			if (r.out[i] != want[i])
				printf("#   byte %zu: got %02x want %02x\n", i, r.out[i], want[i]);
	}
}

/* An ICMP port unreachable from icmp_src to the client quoting q, arriving on ifindex
 * from smac to dmac: it must pass untouched as unmatched, counted against no arm. */
static void expect_unmatched(const struct pkt_spec *q, const char *icmp_src, int ifindex,
			     const uint8_t *smac, const uint8_t *dmac, const char *what)
{
	struct reason_stats r0 = reasons(&in), r1;
	struct arm_stats a0 = st(dns), a1;
	uint8_t quote[256], frame[512];
	size_t ql = ip_packet(q, quote), len;

	len = icmp_frame(frame, CANARY_AF_INET, icmp_src, "10.0.1.2", 3, 3, quote, ql, smac, dmac);
	expect_icmp(ifindex, frame, len, XDP_PASS, frame, len, what);
	r1 = reasons(&in);
	a1 = st(dns);
	ASSERT_EQ(r1.icmp_unmatched - r0.icmp_unmatched, 1, "icmp_unmatched +1");
	ASSERT_EQ(r1.icmp_mapped - r0.icmp_mapped, 0, "icmp_mapped unchanged");
	ASSERT_EQ(a1.icmp_errors - a0.icmp_errors, 0, "icmp_errors unchanged");
}

/* The client's datagram of the dns flow 10.0.1.2:5000 -> 10.0.0.10:53. */
static void dns_query(struct pkt_spec *p)
{
	spec_pkt(p, "10.0.1.2", 5000, "10.0.0.10", 53, IPPROTO_UDP, 0);
	p->payload = "query!!";
	p->plen = 7;
	client_macs(p);
}

/* ICMP errors about the dns flow, from either side. */
static void icmp_udp_flow(void)
{
	uint8_t q[256], qw[256], frame[512], want[512];
	struct pkt_spec p, pw;
	size_t ql, len, wlen;
	struct arm_stats a0, a1;
	struct reason_stats r0, r1;
	uint8_t dg[512];
	struct run r;

	TEST_STEP("port unreachable from a backend, quoting it");
	dns_query(&p);
	xdp_run(&in, if_xa, dg, pkt_build(&p, dg, sizeof(dg)), &r); /* create the flow */
	a0 = st(dns);
	r0 = reasons(&in);
	/* What the backend's kernel quotes: the datagram as it arrived, to 10.0.2.2:5353. */
	pw = p;
	addr_parse("10.0.2.2", &pw.dst);
	pw.dport = 5353;
	ql = ip_packet(&pw, q);
	len = icmp_frame(frame, CANARY_AF_INET, "10.0.2.2", "10.0.1.2", 3, 3, q, ql, MAC_ST1, MAC_XB);
	/* What the client must see: from the VIP, quoting what it sent to the VIP. */
	ql = ip_packet(&p, qw);
	wlen = icmp_frame(want, CANARY_AF_INET, "10.0.0.10", "10.0.1.2", 3, 3, qw, ql, MAC_XA,
			  MAC_CLIENT);
	expect_icmp(if_xb, frame, len, XDP_REDIRECT, want, wlen, "translated for the client");
	a1 = st(dns);
	r1 = reasons(&in);
	ASSERT_EQ(a1.icmp_errors - a0.icmp_errors, 1, "stable icmp_errors +1");
	ASSERT_EQ(a1.errored_flows - a0.errored_flows, 1, "errored_flows +1");
	ASSERT_EQ(r1.icmp_mapped - r0.icmp_mapped, 1, "icmp_mapped +1");

	TEST_STEP("from the client side, quoting a reply, goes to the backend");
	spec_pkt(&p, "10.0.0.10", 53, "10.0.1.2", 5000, IPPROTO_UDP, 0);
	p.payload = "answer";
	p.plen = 6;
	ql = ip_packet(&p, q);
	len = icmp_frame(frame, CANARY_AF_INET, "10.0.1.2", "10.0.0.10", 3, 3, q, ql, MAC_CLIENT,
			 MAC_XA);
	pw = p;
	addr_parse("10.0.2.2", &pw.src);
	pw.sport = 5353;
	ql = ip_packet(&pw, qw);
	wlen = icmp_frame(want, CANARY_AF_INET, "10.0.1.2", "10.0.2.2", 3, 3, qw, ql, MAC_XB,
			  MAC_ST1);
	a0 = st(dns);
	expect_icmp(if_xa, frame, len, XDP_REDIRECT, want, wlen, "translated for the backend");
	a1 = st(dns);
	ASSERT_EQ(a1.icmp_errors - a0.icmp_errors, 0, "not counted against the backend");

	TEST_STEP("quoting it, forged on the client side: unmatched, not counted");
	spec_pkt(&p, "10.0.1.2", 5000, "10.0.2.2", 5353, IPPROTO_UDP, 0); /* the dns flow */
	p.payload = "query!!";
	p.plen = 7;
	expect_unmatched(&p, "10.0.2.2", if_xa, MAC_CLIENT, MAC_XA, "arrived on the client's side");
}

static void icmp6_too_big(void)
{
	uint8_t q[256], qw[256], frame[512], want[512], dg[512];
	struct pkt_spec p, pw;
	size_t ql, len, wlen;
	struct run r;

	spec_pkt(&p, "fd00:1::2", 41000, "fd00::10", 80, IPPROTO_TCP, TH_ACK);
	p.payload = "0123456789abcdef";
	p.plen = 16;
	client_macs(&p);
	xdp_run(&in, if_xa, dg, pkt_build(&p, dg, sizeof(dg)), &r); /* mid-stream: an entry */
	pw = p;
	addr_parse("fd00:2::2", &pw.dst);
	pw.dport = 8080;
	ql = ip_packet(&pw, q);
	len = icmp_frame(frame, CANARY_AF_INET6, "fd00:2::1", "fd00:1::2", 2, 0, q, ql, MAC_ST1,
			 MAC_XB);
	ql = ip_packet(&p, qw);
	wlen = icmp_frame(want, CANARY_AF_INET6, "fd00:2::1", "fd00:1::2", 2, 0, qw, ql, MAC_XA,
			  MAC_CLIENT);
	expect_icmp(if_xb, frame, len, XDP_REDIRECT, want, wlen, "v6 translated for the client");
}

static void icmp_no_flow(void)
{
	struct pkt_spec p;

	spec_pkt(&p, "10.0.1.2", 5999, "10.0.9.9", 53, IPPROTO_UDP, 0);
	expect_unmatched(&p, "10.0.9.9", if_xb, MAC_ST1, MAC_XB, "unmatched");
}

/* Behind ECMP the datagram went through another node, and the backend's port unreachable
 * comes back through this one: translated from the reply index alone, counted nowhere. */
static void icmp_backend_no_flow(void)
{
	uint8_t q[256], qw[256], frame[512], want[512];
	struct reason_stats r0 = reasons(&in), r1;
	struct arm_stats a0 = st(dns), a1;
	struct pkt_spec p, pw;
	size_t ql, len, wlen;

	spec_pkt(&p, "10.0.1.2", 5998, "10.0.0.10", 53, IPPROTO_UDP, 0); /* no such flow here */
	p.payload = "query!!";
	p.plen = 7;
	pw = p;
	addr_parse("10.0.2.2", &pw.dst);
	pw.dport = 5353;
	ql = ip_packet(&pw, q);
	len =
	    icmp_frame(frame, CANARY_AF_INET, "10.0.2.2", "10.0.1.2", 3, 3, q, ql, MAC_ST1, MAC_XB);
	ql = ip_packet(&p, qw);
	wlen = icmp_frame(want, CANARY_AF_INET, "10.0.0.10", "10.0.1.2", 3, 3, qw, ql, MAC_XA,
			  MAC_CLIENT);
	expect_icmp(if_xb, frame, len, XDP_REDIRECT, want, wlen, "translated for the client");
	r1 = reasons(&in);
	a1 = st(dns);
	ASSERT_EQ(r1.reply_no_flow - r0.reply_no_flow, 1, "reply_no_flow +1");
	ASSERT_EQ(r1.icmp_mapped - r0.icmp_mapped, 0, "icmp_mapped unchanged");
	ASSERT_EQ(r1.icmp_unmatched - r0.icmp_unmatched, 0, "not unmatched");
	ASSERT_EQ(a1.icmp_errors - a0.icmp_errors, 0, "counted against no arm");
	ASSERT_EQ(a1.errored_flows - a0.errored_flows, 0, "nor as an errored flow");
	TEST_STEP("the same error forged on the client side: unmatched");
	expect_unmatched(&pw, "10.0.2.2", if_xa, MAC_CLIENT, MAC_XA,
			 "arrived on the client's side");
}

static void icmp_no_route_back(void)
{
	uint8_t q[256], frame[512], dg[512];
	struct pkt_spec p, pw;
	struct reason_stats r0, r1;
	struct arm_stats a0, a1;
	size_t ql, len;
	struct run r;

	spec_pkt(&p, "10.9.9.9", 6000, "10.0.0.10", 53, IPPROTO_UDP, 0); /* no route to 10.9/16 */
	p.payload = "query";
	p.plen = 5;
	client_macs(&p);
	xdp_run(&in, if_xa, dg, pkt_build(&p, dg, sizeof(dg)), &r); /* a flow from it */
	pw = p;
	addr_parse("10.0.2.2", &pw.dst);
	pw.dport = 5353;
	ql = ip_packet(&pw, q);
	len = icmp_frame(frame, CANARY_AF_INET, "10.0.2.2", "10.9.9.9", 3, 3, q, ql, MAC_ST1, MAC_XB);
	r0 = reasons(&in);
	a0 = st(dns);
	xdp_run(&in, if_xb, frame, len, &r);
	r1 = reasons(&in);
	a1 = st(dns);
	ASSERT_EQ(r.retval, XDP_DROP, "dropped");
	ASSERT_TRUE(r.len == len && !memcmp(r.out, frame, len), "the frame was not rewritten");
	ASSERT_EQ(r1.drop_fib - r0.drop_fib, 1, "drop_fib +1");
	ASSERT_EQ(r1.icmp_mapped - r0.icmp_mapped, 0, "not counted as mapped");
	ASSERT_EQ(a1.icmp_errors - a0.icmp_errors, 0, "nor against the arm");
}

static void icmp_echo(void)
{
	const uint8_t data[8] = "pingping";
	uint8_t frame[512], want[512];
	struct reason_stats r0 = reasons(&in), r1;
	size_t len;

	len = icmp_frame(frame, CANARY_AF_INET, "10.0.1.2", "10.0.0.10", 8, 0, data, 8, MAC_CLIENT,
			 MAC_XA);
	memcpy(want, frame, len);
	expect_icmp(if_xa, frame, len, XDP_PASS, want, len, "echo request passes untouched");
	r1 = reasons(&in);
	ASSERT_EQ(r1.pass_not_service - r0.pass_not_service, 1, "pass_not_service +1");
	ASSERT_EQ(r1.icmp_unmatched - r0.icmp_unmatched, 0, "not icmp_unmatched");
}

static void test_sweeper(void)
{
	struct arm_stats a0 = st(web), a1;
	struct backend_stats b0 = bst(web), b1;
	struct sweep_result res;
	struct flow_state f;

	C(50100, TH_SYN, NULL);		      /* never answered */
	C(50101, TH_SYN, NULL);		      /* answered */
	B(50101, TH_SYN | TH_ACK, NULL);
	C(50103, TH_SYN, NULL); /* answered through another node (asymmetric return path) */
	C(50103, TH_ACK, NULL);
	usleep(1300 * 1000); /* the instance's meta says: SYN timeout 1 s */
	establish(50102);    /* fresh: must survive */
	ASSERT_EQ(flows_sweep(&in.maps, &res, 0), 0, "sweep runs");
	a1 = st(web);
	b1 = bst(web);
	ASSERT_EQ(a1.syn_unanswered - a0.syn_unanswered, 1, "syn_unanswered +1");
	ASSERT_EQ(b1.syn_unanswered - b0.syn_unanswered, 1, "backend syn_unanswered +1");
	ASSERT_EQ(a1.errored_flows - a0.errored_flows, 1, "errored_flows +1");
	ASSERT_TRUE(!flow_get(&in, "10.0.1.2", 50100, "10.0.0.10", 80, IPPROTO_TCP, &f),
		    "the unanswered entry is gone");
	ASSERT_TRUE(!flow_get(&in, "10.0.1.2", 50101, "10.0.0.10", 80, IPPROTO_TCP, &f),
		    "the expired answered entry is gone too");
	ASSERT_TRUE(flow_get(&in, "10.0.1.2", 50102, "10.0.0.10", 80, IPPROTO_TCP, &f),
		    "the fresh entry stays");
	ASSERT_TRUE(flow_get(&in, "10.0.1.2", 50103, "10.0.0.10", 80, IPPROTO_TCP, &f) &&
			f.state == CANARY_FLOW_ESTABLISHED,
		    "the handshake answered through another node stays, established");
	ASSERT_TRUE(res.unanswered == 1 && res.expired >= 2, "result counts");
	ASSERT_EQ(flows_sweep(&in.maps, &res, 0), 0, "second sweep runs");
	a1 = st(web);
	ASSERT_EQ(a1.syn_unanswered - a0.syn_unanswered, 1, "nothing counted twice");
}

/* Behind ECMP the SYN-ACK may come back through another node: this one sees the SYN and
 * then the client's ACK. The handshake was answered, but not here. */
static void oneway_handshake(void)
{
	struct arm_stats a0 = st(web), a1;
	struct reason_stats r0 = reasons(&in), r1;
	struct flow_state f;

	TEST_STEP("SYN, then the client's ACK of a SYN-ACK this node never saw");
	C(50300, TH_SYN, NULL);
	ASSERT_EQ(C(50300, TH_ACK, NULL), XDP_REDIRECT, "the ACK is forwarded");
	if (ASSERT_TRUE(flow_get(&in, "10.0.1.2", 50300, "10.0.0.10", 80, IPPROTO_TCP, &f),
			"entry kept")) {
		ASSERT_EQ(f.state, CANARY_FLOW_ESTABLISHED, "state ESTABLISHED");
		ASSERT_TRUE(f.flags & CANARY_FLOW_F_ONEWAY, "flagged ONEWAY");
		ASSERT_TRUE(f.flags & CANARY_FLOW_F_PENDING,
			    "still pending: nothing here proves the source real");
	}
	TEST_STEP("a request, a retransmitted SYN: no signal moves");
	ASSERT_EQ(C(50300, TH_ACK | TH_PSH, GET), XDP_REDIRECT, "the request is forwarded");
	C(50300, TH_SYN, NULL);
	a1 = st(web);
	r1 = reasons(&in);
	ASSERT_EQ(a1.flows - a0.flows, 1, "one flow, counted at its SYN");
	ASSERT_EQ(a1.handshake_count - a0.handshake_count, 0, "no handshake sample");
	ASSERT_EQ(a1.syn_retransmits - a0.syn_retransmits, 0,
		  "a SYN after the ACK is no retransmit");
	ASSERT_EQ(a1.errored_flows - a0.errored_flows, 0, "errored_flows unchanged");
	ASSERT_EQ(r1.flow_verified - r0.flow_verified, 0, "not verified");
}

static bool setup(void)
{
	struct service_spec s[3], v6;
	struct canary_meta meta;
	__u32 zero = 0;

	canary_quiet_libs();
	if (!ASSERT_EQ(setup_netns(), 0, "private netns") ||
	    !ASSERT_EQ(instance_load(&in, 0, 0), 0, "load xdp_canary"))
		return false;
	/* The sweeper's SYN timeout, from meta: 1 s, so the sweeper case need not wait 30. */
	if (!ASSERT_EQ(canary_meta_read(&in.maps, &meta), 0, "read meta"))
		return false;
	meta.syn_timeout_s = 1;
	ASSERT_EQ(bpf_map_update_elem(in.maps.meta, &zero, &meta, BPF_ANY), 0, "SYN timeout 1 s");
	spec_init(&s[0], "web", "10.0.0.10", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	s[0].http = true;
	spec_backend(&s[0], 0, "10.0.2.2:8080");
	spec_backend(&s[0], 1, "10.0.3.2:8080");
	spec_init(&s[1], "api", "10.0.0.10", 81, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[1], 0, "10.0.2.2:8081");
	spec_init(&s[2], "dns", "10.0.0.10", 53, IPPROTO_UDP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[2], 0, "10.0.2.2:5353");
	if (!ASSERT_EQ(apply_specs(&in, s, 3), 0, "apply services"))
		return false;
	spec_init(&v6, "web6", "fd00::10", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&v6, 0, "[fd00:2::2]:8080");
	ASSERT_EQ(apply_specs(&in, &v6, 1), 0, "apply v6 service");
	web = svc_id(&in, "web");
	api = svc_id(&in, "api");
	dns = svc_id(&in, "dns");
	return true;
}

static void teardown(void)
{
	xdp_canary_bpf__destroy(in.skel);
}

static const struct test_case cases[] = {
	{"SYN signals", test_syn_signals},
	{"backend RST ends a flow", backend_rst},
	{"a late packet from a backend the flow no longer uses leaves it alone",
	 late_backend_packet},
	{"client RST is not a backend reset", client_rst},
	{"HTTP status lines", test_http},
	{"service without http: TTFB only", ttfb_only},
	{"ICMP errors about a UDP flow", icmp_udp_flow},
	{"ICMPv6 packet too big from a router, quoting a TCP flow", icmp6_too_big},
	{"ICMP quoting no known flow passes untouched", icmp_no_flow},
	{"ICMP quoting a backend but no flow here: translated statelessly, not counted",
	 icmp_backend_no_flow},
	{"ICMP error whose way back has no route: dropped before any rewrite", icmp_no_route_back},
	{"ICMP echo is not an error: passed, as not our service", icmp_echo},
	{"a handshake answered through another node", oneway_handshake},
	{"sweeper counts flows that leave with their SYN unanswered", test_sweeper},
};

TEST_MAIN_SETUP(cases, setup, teardown)
