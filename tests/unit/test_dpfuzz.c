/* test_dpfuzz.c: a differential fuzzer of the data plane. Fixture packets (TCP and UDP
 * both ways, IPv4 and IPv6, ICMP errors, ARP, VLAN) are mutated (truncation, trailers,
 * length fields, fragments, IPv6 extension chains, TCP data offset and options, ICMP
 * quotes, EtherTypes, ports, flags, the ingress interface, random bytes) and run through
 * the real program with BPF_PROG_TEST_RUN. Each result is checked against a reference
 * classifier written from the verdict table in docs/ARCHITECTURE.md, not from the BPF
 * code:
 *   - exactly one verdict counter (pass_*, drop_*, fwd_*, icmp_unmatched) moves;
 *   - it is the one the reference predicts, and the XDP verdict is its documented one;
 *   - a packet that is not rewritten leaves byte-identical;
 *   - every checksum that was valid on input is valid on output.
 *   test_dpfuzz [--count N] [--seed S]    (default 200000 packets, for make test;
 *                                          make fuzz-dataplane runs millions)
 * Needs root. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpfix.h"
#include "maps/route.h"
#include "maps/service.h"

static struct instance in;
static struct port_kinds kinds;

/* ---- a small PRNG ------------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned int below(unsigned int n)
{
	return n ? (unsigned int)(rnd() % n) : 0;
}

/* ---- reading a frame: big-endian fields at any offset ---------------------------------- */

static unsigned int g16(const uint8_t *f, size_t o)
{
	return (unsigned int)f[o] << 8 | f[o + 1];
}

static void p16(uint8_t *f, size_t o, unsigned int v)
{
	f[o] = (v >> 8) & 0xff;
	f[o + 1] = v & 0xff;
}

/* ---- checksums, from scratch ----------------------------------------------------------- */

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Where a frame's checksums are, when it is well-formed enough to have them. */
struct csums {
	bool ip4;     /* an IPv4 header checksum that can be verified */
	bool l4;      /* a TCP/UDP/ICMP checksum that can be verified */
	bool ip4_ok, l4_ok;
};

static struct csums csums_of(const uint8_t *f, size_t len)
{
	struct csums c = {};
	size_t l3 = 14, l4, l4len;
	unsigned int et, proto;
	uint32_t ps = 0;
	bool v6;

	if (len < 14)
		return c;
	et = g16(f, 12);
	if (et == 0x0800) {
		unsigned int ihl, tot;

		if (len < l3 + 20 || (f[l3] >> 4) != 4)
			return c;
		ihl = (f[l3] & 15) * 4;
		tot = g16(f, l3 + 2);
		if (ihl < 20 || tot < ihl || l3 + tot > len)
			return c;
		c.ip4 = true;
		c.ip4_ok = fold(sum16(f + l3, ihl, 0)) == 0;
		if (g16(f, l3 + 6) & 0x3fff)
			return c; /* a fragment: no L4 checksum to verify */
		proto = f[l3 + 9];
		l4 = l3 + ihl;
		l4len = tot - ihl;
		ps = sum16(f + l3 + 12, 8, 0) + proto + l4len;
		v6 = false;
	} else if (et == 0x86dd) {
		if (len < l3 + 40 || (f[l3] >> 4) != 6)
			return c;
		proto = f[l3 + 6];
		l4len = g16(f, l3 + 4);
		l4 = l3 + 40;
		if (l4 + l4len > len)
			return c;
		ps = sum16(f + l3 + 8, 32, 0) + proto + l4len;
		v6 = true;
	} else {
		return c;
	}
	if (proto == 6 && l4len >= 20) {
		c.l4 = true;
		c.l4_ok = fold(sum16(f + l4, l4len, ps)) == 0;
	} else if (proto == 17 && l4len >= 8) {
		c.l4 = true;
		c.l4_ok = (!v6 && g16(f, l4 + 6) == 0) || fold(sum16(f + l4, l4len, ps)) == 0;
	} else if ((proto == 1 && !v6) || (proto == 58 && v6)) {
		if (l4len < 4)
			return c;
		c.l4 = true;
		c.l4_ok = fold(sum16(f + l4, l4len, v6 ? ps : 0)) == 0;
	}
	return c;
}

/* Make the checksums right again after a mutation, where they can be computed. */
static void fix_csums(uint8_t *f, size_t len)
{
	size_t l3 = 14, l4, l4len, off;
	unsigned int et, proto, ihl;
	uint32_t ps;
	bool v6;

	if (len < 14)
		return;
	et = g16(f, 12);
	if (et == 0x0800) {
		if (len < l3 + 20)
			return;
		ihl = (f[l3] & 15) * 4;
		if (ihl < 20 || l3 + ihl > len)
			return;
		p16(f, l3 + 10, 0);
		p16(f, l3 + 10, fold(sum16(f + l3, ihl, 0)));
		if (g16(f, l3 + 2) < ihl || l3 + g16(f, l3 + 2) > len || (g16(f, l3 + 6) & 0x3fff))
			return;
		proto = f[l3 + 9];
		l4 = l3 + ihl;
		l4len = g16(f, l3 + 2) - ihl;
		ps = sum16(f + l3 + 12, 8, 0) + proto + l4len;
		v6 = false;
	} else if (et == 0x86dd) {
		if (len < l3 + 40)
			return;
		proto = f[l3 + 6];
		l4 = l3 + 40;
		l4len = g16(f, l3 + 4);
		if (l4 + l4len > len)
			return;
		ps = sum16(f + l3 + 8, 32, 0) + proto + l4len;
		v6 = true;
	} else {
		return;
	}
	if (proto == 6 && l4len >= 20)
		off = 16;
	else if (proto == 17 && l4len >= 8)
		off = 6;
	else if (((proto == 1 && !v6) || (proto == 58 && v6)) && l4len >= 4)
		off = 2;
	else
		return;
	p16(f, l4 + off, 0);
	p16(f, l4 + off, fold(sum16(f + l4, l4len, off == 2 && !v6 ? 0 : ps)));
	if (proto == 17 && g16(f, l4 + off) == 0)
		p16(f, l4 + off, 0xffff);
}

/* ---- the reference classifier ---------------------------------------------------------- */

/* Expected outcome: one named verdict counter, or the forwarding class (the packet is
 * rewritten and sent on, or passed rewritten when the neighbour is unresolved, or
 * dropped before any rewrite when there is no route). */
struct expect {
	const char *reason; /* exact verdict counter, or NULL for the forwarding class */
	bool routable;	    /* forwarding class: the far end has a route */
	int egress;	    /* forwarding class: the interface towards it */
	int egress2;	    /* ... or this one (an entry that may be decided afresh) */
};

static bool lookup_flow(const struct flow_key *k, struct flow_state *f)
{
	return bpf_map_lookup_elem(in.maps.flows, k, f) == 0 ||
	       bpf_map_lookup_elem(in.maps.pending, k, f) == 0;
}

/* The address of the backend an entry names (its reply-index slot); zero if none. */
static union canary_addr flow_be_addr(const struct flow_state *f, __be16 *port)
{
	struct canary_endpoint be = {};

	flow_backend(&in, f, &be);
	if (port)
		*port = be.port;
	return be.addr;
}

/* The packet is sent from src towards dst: the kernel's FIB decides (bpf_fib_lookup),
 * which also refuses an IPv6 multicast source. */
static void forwarding(struct expect *e, int family, const union canary_addr *src,
		       const union canary_addr *dst)
{
	uint32_t oif = 0;

	e->reason = NULL;
	e->routable = route_ifindex(family, dst, &oif) == 0 &&
		      !(family == CANARY_AF_INET6 && src->bytes[0] == 0xff);
	e->egress = e->egress2 = (int)oif;
}

/* ICMP (the frame is IP with an ICMP header at offset l4, IP payload ending at ip_end). */
static void ref_icmp(const uint8_t *f, size_t len, size_t l3, size_t l4, size_t ip_end, int fam,
		     int ingress, struct expect *e)
{
	struct canary_endpoint qsrc = {}, qdst = {};
	union canary_addr outer_src = {}, outer_dst = {};
	struct backend_info bi;
	struct svc_info svc;
	struct flow_key fk = {};
	struct flow_state fs;
	union canary_addr fb;
	__be16 fbport = 0;
	size_t q, ql4;
	unsigned int type, proto;
	bool from_backend;

	if (l4 + 1 > len) {
		e->reason = "pass_malformed";
		return;
	}
	type = f[l4];
	if (!(fam == CANARY_AF_INET ? (type == 3 || type == 4 || type == 11 || type == 12)
				    : (type >= 1 && type <= 4))) {
		e->reason = "pass_not_service"; /* ICMP that is not an error */
		return;
	}
	e->reason = "icmp_unmatched";
	q = l4 + 8;
	if (q > len)
		return;
	if (fam == CANARY_AF_INET) {
		if (q + 20 > len || (f[q] >> 4) != 4 || (f[q] & 15) != 5)
			return;
		proto = f[q + 9];
		memcpy(&qsrc.addr.v4, f + q + 12, 4);
		memcpy(&qdst.addr.v4, f + q + 16, 4);
		memcpy(&outer_src.v4, f + l3 + 12, 4);
		memcpy(&outer_dst.v4, f + l3 + 16, 4);
		ql4 = q + 20;
	} else {
		if (q + 40 > len || (f[q] >> 4) != 6)
			return;
		proto = f[q + 6];
		memcpy(qsrc.addr.bytes, f + q + 8, 16);
		memcpy(qdst.addr.bytes, f + q + 24, 16);
		memcpy(outer_src.bytes, f + l3 + 8, 16);
		memcpy(outer_dst.bytes, f + l3 + 24, 16);
		ql4 = q + 40;
	}
	if ((proto != 6 && proto != 17) || ql4 + 8 > len || ql4 + 8 > ip_end)
		return;
	memcpy(&qsrc.port, f + ql4, 2);
	memcpy(&qdst.port, f + ql4 + 2, 2);
	qsrc.proto = qdst.proto = proto;
	qsrc.family = qdst.family = fam;
	/* An error about a packet sent to a backend, from the backend's side. */
	if (bpf_map_lookup_elem(in.maps.backends, &qdst, &bi) == 0) {
		if (bi.ifindex && (int)bi.ifindex != ingress)
			return;
		fk.svc = bi.vip;
		fk.client = qsrc.addr;
		fk.client_port = qsrc.port;
		/* No entry here (another node forwarded the flow): translated all the same;
		 * an entry of another backend: unmatched. */
		if (lookup_flow(&fk, &fs)) {
			fb = flow_be_addr(&fs, &fbport);
			if (fbport != qdst.port || memcmp(&fb, &qdst.addr, 16))
				return;
		}
		from_backend = !memcmp(&outer_src, &qdst.addr, 16);
		forwarding(e, fam, from_backend ? &bi.vip.addr : &outer_src, &outer_dst);
		return;
	}
	/* An error about a reply, quoting VIP -> client, sent to the VIP. */
	if (bpf_map_lookup_elem(in.maps.services, &qsrc, &svc) == 0 &&
	    !memcmp(&outer_dst, &qsrc.addr, 16)) {
		fk.svc = qsrc;
		fk.client = qdst.addr;
		fk.client_port = qdst.port;
		if (!lookup_flow(&fk, &fs))
			return;
		fb = flow_be_addr(&fs, NULL);
		forwarding(e, fam, &outer_src, &fb);
	}
}

static void reference(const uint8_t *f, size_t len, int ingress, struct expect *e)
{
	size_t l3 = 14, l4, l3_end;
	unsigned int et, proto, next, i;
	struct flow_key k = {};
	int fam;

	memset(e, 0, sizeof(*e));
	if (len < 14) {
		e->reason = "pass_malformed";
		return;
	}
	et = g16(f, 12);
	if (et == 0x8100 || et == 0x88a8) {
		e->reason = "pass_vlan";
		return;
	}
	if (et != 0x0800 && et != 0x86dd) {
		e->reason = "pass_not_ip";
		return;
	}
	e->reason = "pass_malformed";
	if (et == 0x0800) {
		unsigned int ihl, tot;

		fam = CANARY_AF_INET;
		if (l3 + 20 > len || (f[l3] >> 4) != 4 || (f[l3] & 15) < 5)
			return;
		ihl = (f[l3] & 15) * 4;
		tot = g16(f, l3 + 2);
		if (tot < ihl || l3 + tot > len)
			return;
		if (g16(f, l3 + 6) & 0x3fff) {
			e->reason = "pass_fragment";
			return;
		}
		proto = f[l3 + 9];
		l4 = l3 + ihl;
		l3_end = l3 + tot;
		memcpy(&k.svc.addr.v4, f + l3 + 16, 4);
		memcpy(&k.client.v4, f + l3 + 12, 4);
	} else {
		unsigned int plen;

		fam = CANARY_AF_INET6;
		if (l3 + 40 > len || (f[l3] >> 4) != 6)
			return;
		plen = g16(f, l3 + 4);
		if (plen == 0 || l3 + 40 + plen > len)
			return;
		next = f[l3 + 6];
		l4 = l3 + 40;
		/* At most 4 hop-by-hop or destination option headers are walked. */
		for (i = 0; i < 4 && (next == 0 || next == 60); i++) {
			if (l4 + 2 > len)
				return;
			next = f[l4];
			l4 += (f[l4 + 1] + 1) * 8;
		}
		if (next == 44) {
			e->reason = "pass_fragment";
			return;
		}
		if (next == 0 || next == 60 || next == 43 || next == 135) {
			e->reason = "pass_ipv6_ext";
			return;
		}
		proto = next;
		l3_end = l3 + 40 + plen;
		memcpy(k.svc.addr.bytes, f + l3 + 24, 16);
		memcpy(k.client.bytes, f + l3 + 8, 16);
	}
	k.svc.family = fam;
	k.svc.proto = proto;
	if (proto == 6) {
		unsigned int doff;

		if (l4 + 20 > len || l4 + 20 > l3_end)
			return;
		doff = (f[l4 + 12] >> 4) * 4;
		if (doff < 20 || l4 + doff > l3_end)
			return;
	} else if (proto == 17) {
		if (l4 + 8 > len || l4 + 8 > l3_end)
			return;
		if (fam == CANARY_AF_INET6 && g16(f, l4 + 6) == 0)
			return; /* RFC 8200: no zero checksum over IPv6 */
	} else if ((proto == 1 && fam == CANARY_AF_INET) || (proto == 58 && fam == CANARY_AF_INET6)) {
		ref_icmp(f, len, l3, l4, l3_end, fam, ingress, e);
		return;
	} else {
		e->reason = "pass_not_service";
		return;
	}
	memcpy(&k.client_port, f + l4, 2);
	memcpy(&k.svc.port, f + l4 + 2, 2);

	/* To a service: an entry, or the service itself, sends it on. */
	if (kinds.kind[k.svc.port] & CANARY_PORT_SERVICE) {
		struct flow_state fs;
		struct svc_info svc;

		bool have = lookup_flow(&k, &fs);

		if (bpf_map_lookup_elem(in.maps.services, &k.svc, &svc) == 0) {
			struct svc_config cfg;
			struct canary_decision d;

			/* A new flow's backend (the data plane's own decision, overrides
			 * included); an entry may be decided afresh (a reused port), so
			 * either backend's interface is the documented egress. */
			if (dp_decide(&in, &k, &cfg, &d)) {
				if (!have) {
					e->reason = "drop_no_backend";
					return;
				}
			} else {
				forwarding(e, fam, &k.client,
					   &cfg.backends[d.arm][d.backend_idx].addr);
				e->egress2 = e->egress;
			}
		}
		if (have) {
			int other = e->egress2;
			union canary_addr fb = flow_be_addr(&fs, NULL);

			forwarding(e, fam, &k.client, &fb);
			e->egress2 = other ? other : e->egress;
			return;
		}
		if (!e->reason)
			return;
	}
	/* From a backend's port: a reply, if it is a backend and arrived where it lives. */
	if (kinds.kind[k.client_port] & CANARY_PORT_BACKEND) {
		struct canary_endpoint be = {.addr = k.client, .port = k.client_port,
					     .proto = proto, .family = fam};
		struct backend_info bi;

		if (bpf_map_lookup_elem(in.maps.backends, &be, &bi)) {
			e->reason = "pass_not_service";
			return;
		}
		if (bi.ifindex && (int)bi.ifindex != ingress) {
			e->reason = "pass_wrong_iface";
			return;
		}
		forwarding(e, fam, &bi.vip.addr, &k.svc.addr);
		return;
	}
	e->reason = "pass_not_service";
}

/* ---- fixtures ------------------------------------------------------------------------------ */

struct fixture {
	uint8_t f[1024];
	size_t len;
	int ifindex;
};

static struct fixture fx[32];
static unsigned int nfx;

static void add_pkt(const struct pkt_spec *p, int ifindex)
{
	fx[nfx].len = pkt_build(p, fx[nfx].f, sizeof(fx[nfx].f));
	fx[nfx].ifindex = ifindex;
	nfx++;
}

/* An ICMP error from src to dst quoting the packet q (built by pkt_build, Ethernet
 * stripped), with the given Ethernet addresses. */
static void add_icmp(int fam, const char *src, const char *dst, int type, const struct pkt_spec *q,
		     const uint8_t *smac, const uint8_t *dmac, int ifindex)
{
	uint8_t qb[512];
	size_t ql = pkt_build(q, qb, sizeof(qb)) - 14, l3 = fam == CANARY_AF_INET ? 20 : 40, len;
	union canary_addr s, d;
	uint8_t *f = fx[nfx].f;

	addr_parse(src, &s);
	addr_parse(dst, &d);
	len = 14 + l3 + 8 + ql;
	memset(f, 0, len);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	p16(f, 12, fam == CANARY_AF_INET ? 0x0800 : 0x86dd);
	if (fam == CANARY_AF_INET) {
		f[14] = 0x45;
		p16(f, 16, 20 + 8 + ql);
		f[22] = 64;
		f[23] = 1;
		memcpy(f + 26, &s.v4, 4);
		memcpy(f + 30, &d.v4, 4);
	} else {
		f[14] = 0x60;
		p16(f, 18, 8 + ql);
		f[20] = 58;
		f[21] = 64;
		memcpy(f + 22, s.bytes, 16);
		memcpy(f + 38, d.bytes, 16);
	}
	f[14 + l3] = type;
	f[14 + l3 + 1] = type == 3 ? 3 : 0;
	memcpy(f + 14 + l3 + 8, qb + 14, ql);
	fx[nfx].len = len;
	fx[nfx].ifindex = ifindex;
	fix_csums(f, len);
	nfx++;
}

static void fixtures(void)
{
	struct pkt_spec p, q;

	spec_pkt(&p, "10.0.1.2", 41000, "10.0.0.10", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	add_pkt(&p, if_xa);
	p.tcp_flags = TH_ACK | TH_PSH;
	p.payload = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	p.plen = strlen(p.payload);
	add_pkt(&p, if_xa);
	spec_pkt(&p, "10.0.2.2", 8080, "10.0.1.2", 41000, IPPROTO_TCP, TH_ACK | TH_PSH);
	p.payload = "HTTP/1.1 503 Busy\r\n\r\n";
	p.plen = strlen(p.payload);
	backend_macs(&p, MAC_ST1, MAC_XB);
	add_pkt(&p, if_xb);
	p.tcp_flags = TH_SYN | TH_ACK;
	p.plen = 0;
	add_pkt(&p, if_xb);
	p.tcp_flags = TH_RST;
	add_pkt(&p, if_xb);
	spec_pkt(&p, "10.0.1.2", 5000, "10.0.0.10", 53, IPPROTO_UDP, 0);
	p.payload = "query";
	p.plen = 5;
	client_macs(&p);
	add_pkt(&p, if_xa);
	spec_pkt(&p, "10.0.2.2", 5353, "10.0.1.2", 5000, IPPROTO_UDP, 0);
	p.payload = "answer";
	p.plen = 6;
	backend_macs(&p, MAC_ST1, MAC_XB);
	add_pkt(&p, if_xb);
	spec_pkt(&p, "fd00:1::2", 41000, "fd00::10", 80, IPPROTO_TCP, TH_SYN);
	client_macs(&p);
	add_pkt(&p, if_xa);
	spec_pkt(&p, "fd00:2::2", 8080, "fd00:1::2", 41000, IPPROTO_TCP, TH_ACK);
	backend_macs(&p, MAC_ST1, MAC_XB);
	add_pkt(&p, if_xb);
	spec_pkt(&p, "fd00:1::2", 5000, "fd00::53", 53, IPPROTO_UDP, 0);
	p.payload = "q6";
	p.plen = 2;
	client_macs(&p);
	add_pkt(&p, if_xa);
	spec_pkt(&p, "10.0.1.2", 5000, "10.0.0.10", 53, IPPROTO_UDP, 0);
	p.ip_opt_words = 2;
	p.payload = "opts";
	p.plen = 4;
	client_macs(&p);
	add_pkt(&p, if_xa);
	/* ICMP: unreachable from the backend about what we sent it; too big (v6); from the
	 * client about a reply; an echo. */
	spec_pkt(&q, "10.0.1.2", 5000, "10.0.2.2", 5353, IPPROTO_UDP, 0);
	q.payload = "query";
	q.plen = 5;
	add_icmp(CANARY_AF_INET, "10.0.2.2", "10.0.1.2", 3, &q, MAC_ST1, MAC_XB, if_xb);
	spec_pkt(&q, "fd00:1::2", 41000, "fd00:2::2", 8080, IPPROTO_TCP, TH_ACK);
	add_icmp(CANARY_AF_INET6, "fd00:2::1", "fd00:1::2", 2, &q, MAC_ST1, MAC_XB, if_xb);
	spec_pkt(&q, "10.0.0.10", 53, "10.0.1.2", 5000, IPPROTO_UDP, 0);
	q.payload = "answer";
	q.plen = 6;
	add_icmp(CANARY_AF_INET, "10.0.1.2", "10.0.0.10", 3, &q, MAC_CLIENT, MAC_XA, if_xa);
	add_icmp(CANARY_AF_INET, "10.0.1.2", "10.0.0.10", 8, &q, MAC_CLIENT, MAC_XA, if_xa);
	/* ARP and a VLAN tag. */
	memset(fx[nfx].f, 0, 60);
	memcpy(fx[nfx].f, "\xff\xff\xff\xff\xff\xff", 6);
	memcpy(fx[nfx].f + 6, MAC_CLIENT, 6);
	p16(fx[nfx].f, 12, 0x0806);
	fx[nfx].len = 60;
	fx[nfx].ifindex = if_xa;
	nfx++;
	fx[nfx] = fx[0];
	memmove(fx[nfx].f + 16, fx[nfx].f + 12, fx[nfx].len - 12);
	p16(fx[nfx].f, 12, 0x8100);
	p16(fx[nfx].f, 14, 7);
	fx[nfx].len += 4;
	nfx++;
}

/* ---- mutations ------------------------------------------------------------------------------ */

static size_t l3_off(const uint8_t *f, size_t len)
{
	return len >= 14 ? 14 : len;
}

static void mutate(uint8_t *f, size_t *len, int *ifindex)
{
	size_t l3 = l3_off(f, *len), n = *len;
	bool v4 = n >= 34 && g16(f, 12) == 0x0800, v6 = n >= 54 && g16(f, 12) == 0x86dd;
	size_t l4 = v4 ? l3 + (f[l3] & 15) * 4 : l3 + 40;
	unsigned int op = below(16), i;

	switch (op) {
	case 0: /* truncate (XDP never sees a frame shorter than its Ethernet header: the
		 * kernel refuses those, and a NIC cannot deliver them) */
		*len = n > 14 ? 14 + below((unsigned int)(n - 14) + 1) : n;
		break;
	case 1: /* a trailer after the IP packet */
		for (i = 0, *len = n + 1 + below(64); n + i < *len && n + i < 1000; i++)
			f[n + i] = rnd();
		if (*len > 1000)
			*len = 1000;
		break;
	case 2: /* random bytes anywhere */
		for (i = 1 + below(4); i && n; i--)
			f[below(n)] = rnd();
		break;
	case 3: /* IP length fields */
		if (v4)
			p16(f, l3 + 2, below(2) ? g16(f, l3 + 2) + below(9) - 4 : below(1500));
		else if (v6)
			p16(f, l3 + 4, below(2) ? g16(f, l3 + 4) + below(9) - 4 : below(1500));
		break;
	case 4: /* IPv4 header length, version */
		if (v4)
			f[l3] = below(4) ? (uint8_t)((f[l3] & 0xf0) | below(16)) : (uint8_t)rnd();
		else if (v6)
			f[l3] = (uint8_t)((below(16) << 4) | (f[l3] & 15));
		break;
	case 5: /* fragments */
		if (v4)
			p16(f, l3 + 6, below(3) == 0 ? 0x2000 : below(3) == 1 ? below(0x2000) : 0x4000);
		else if (v6 && n + 8 < 1000) {
			/* insert a fragment header */
			memmove(f + l3 + 48, f + l3 + 40, n - l3 - 40);
			f[l3 + 40] = f[l3 + 6];
			f[l3 + 41] = 0;
			p16(f, l3 + 42, below(2) ? 1 : 0);
			f[l3 + 6] = 44;
			p16(f, l3 + 4, g16(f, l3 + 4) + 8);
			*len = n + 8;
		}
		break;
	case 6: /* an IPv6 extension chain */
		if (v6) {
			unsigned int k, hdrs = 1 + below(6);

			for (k = 0; k < hdrs && *len + 16 < 1000; k++) {
				static const uint8_t types[] = {0, 60, 43, 135, 60, 0};
				size_t ext = 8 * (1 + below(2));

				memmove(f + l3 + 40 + ext, f + l3 + 40, *len - l3 - 40);
				memset(f + l3 + 40, 0, ext);
				f[l3 + 40] = f[l3 + 6];
				f[l3 + 41] = ext / 8 - 1;
				f[l3 + 6] = types[below(sizeof(types))];
				p16(f, l3 + 4, g16(f, l3 + 4) + ext);
				*len += ext;
			}
		}
		break;
	case 7: /* TCP data offset */
		if ((v4 || v6) && l4 + 13 < n)
			f[l4 + 12] = (uint8_t)((below(16) << 4) | (f[l4 + 12] & 15));
		break;
	case 8: /* TCP options: grow the header by 4..40 bytes */
		if ((v4 || v6) && l4 + 20 <= n && f[l3 + (v4 ? 9 : 6)] == 6 && n + 40 < 1000) {
			size_t add = 4 * (1 + below(10));

			memmove(f + l4 + 20 + add, f + l4 + 20, n - l4 - 20);
			for (i = 0; i < add; i++)
				f[l4 + 20 + i] = below(3) ? 1 : (uint8_t)rnd(); /* NOPs, or junk */
			f[l4 + 12] = (uint8_t)((((f[l4 + 12] >> 4) + add / 4) << 4) | (f[l4 + 12] & 15));
			if (v4)
				p16(f, l3 + 2, g16(f, l3 + 2) + add);
			else
				p16(f, l3 + 4, g16(f, l3 + 4) + add);
			*len = n + add;
		}
		break;
	case 9: /* TCP flags */
		if ((v4 || v6) && l4 + 14 < n)
			f[l4 + 13] = (uint8_t)rnd();
		break;
	case 10: { /* ports */
		static const unsigned int ports[] = {80, 53, 8080, 5353, 81, 0, 65535};

		if ((v4 || v6) && l4 + 4 <= n)
			p16(f, l4 + 2 * below(2), below(3) ? ports[below(7)] : below(65536));
		break;
	}
	case 11: { /* the EtherType */
		static const unsigned int et[] = {0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, 0x88cc};

		if (n >= 14)
			p16(f, 12, below(5) ? et[below(6)] : below(65536));
		break;
	}
	case 12: /* ICMP type and the quote */
		if ((v4 || v6) && l4 + 8 < n && (f[l3 + (v4 ? 9 : 6)] == 1 || f[l3 + (v4 ? 9 : 6)] == 58)) {
			if (below(2))
				f[l4] = below(3) ? (uint8_t)(1 + below(12)) : (uint8_t)rnd();
			else
				f[l4 + 8 + below((unsigned int)(n - l4 - 8))] = rnd();
		}
		break;
	case 13: /* the L4 protocol */
		if (v4)
			f[l3 + 9] = below(3) ? (uint8_t)(below(2) ? 6 : 17) : (uint8_t)rnd();
		else if (v6)
			f[l3 + 6] = below(3) ? (uint8_t)(below(2) ? 6 : 17) : (uint8_t)rnd();
		break;
	case 14: /* another ingress interface */
		*ifindex = below(3) == 0 ? if_xa : below(2) ? if_xb : if_xc;
		break;
	default: /* addresses: a byte of the source or destination */
		if (v4)
			f[l3 + 12 + below(8)] = rnd();
		else if (v6)
			f[l3 + 8 + below(32)] = rnd();
		break;
	}
}

/* ---- the run ---------------------------------------------------------------------------------- */

static int verdict_of(const char *reason)
{
	if (!strncmp(reason, "drop_", 5))
		return XDP_DROP;
	if (!strcmp(reason, "fwd_redirect"))
		return XDP_REDIRECT;
	if (!strcmp(reason, "fwd_tx"))
		return XDP_TX;
	return XDP_PASS;
}

struct tally {
	unsigned long runs, by_reason[64], failures;
};

static bool check_one(const uint8_t *f, size_t len, int ifindex, struct tally *t, bool verbose)
{
	struct reason_stats r0, r1;
	struct csums c0, c1;
	struct expect e;
	struct run r;
	unsigned int i, moved = 0, which = 0;
	__u64 delta = 0;
	const char *got, *why = NULL;
	bool ok;

	reference(f, len, ifindex, &e);
	r0 = reasons(&in);
	if (xdp_run(&in, ifindex, f, len, &r))
		return false;
	r1 = reasons(&in);
	t->runs++;
	for (i = 0; i < reason_field_count; i++) {
		__u64 a = *(__u64 *)((char *)&r0 + reason_fields[i].offset);
		__u64 b = *(__u64 *)((char *)&r1 + reason_fields[i].offset);

		if (!reason_fields[i].verdict || a == b)
			continue;
		moved++;
		delta += b - a;
		which = i;
	}
	if (moved != 1 || delta != 1) {
		why = "not exactly one verdict counter moved";
		got = "?";
		goto fail;
	}
	got = reason_fields[which].name;
	t->by_reason[which]++;
	if ((int)r.retval != verdict_of(got)) {
		why = "the XDP verdict is not the counter's";
		goto fail;
	}
	if (e.reason) {
		if (strcmp(got, e.reason)) {
			why = "not the reference's verdict";
			goto fail;
		}
	} else {
		/* The forwarding class. */
		ok = e.routable ? (!strcmp(got, e.egress == ifindex ? "fwd_tx" : "fwd_redirect") ||
				   !strcmp(got, e.egress2 == ifindex ? "fwd_tx" : "fwd_redirect") ||
				   !strcmp(got, "pass_no_neigh"))
				: !strcmp(got, "drop_fib");
		if (!ok) {
			why = "not the reference's forwarding outcome";
			goto fail;
		}
	}
	/* Not rewritten: byte-identical. */
	if (strncmp(got, "fwd_", 4) && strcmp(got, "pass_no_neigh")) {
		if (r.len != len || memcmp(r.out, f, len)) {
			why = "a packet that was not rewritten changed";
			goto fail;
		}
		return true;
	}
	c0 = csums_of(f, len);
	c1 = csums_of(r.out, r.len);
	if ((c0.ip4 && c0.ip4_ok && !(c1.ip4 && c1.ip4_ok)) ||
	    (c0.l4 && c0.l4_ok && !(c1.l4 && c1.l4_ok))) {
		why = "a checksum valid on input is not valid on output";
		goto fail;
	}
	return true;
fail:
	t->failures++;
	if (verbose || t->failures <= 5) {
		printf("# FAIL: %s: got %s (XDP %u), want %s%s (ingress %d, len %zu):\n#  ", why, got,
		       r.retval, e.reason ? e.reason : "forwarding to ",
		       e.reason ? "" : (e.routable ? "a route" : "no route: drop_fib"), ifindex, len);
		for (i = 0; i < len && i < 96; i++)
			printf("%02x", f[i]);
		printf("\n");
	}
	return false;
}

static unsigned long count = 200000;
static uint64_t seed = 0x5eed;

static bool option(int code, const char *arg)
{
	if (code == 'n')
		count = strtoul(arg, NULL, 10);
	else if (code == 's')
		seed = strtoull(arg, NULL, 0);
	else
		return false;
	return true;
}

static bool setup(void)
{
	struct service_spec s[4];
	__u32 zero = 0;

	rng_state = seed;
	canary_quiet_libs();
	if (!ASSERT_EQ(setup_netns(), 0, "private netns") ||
	    !ASSERT_EQ(instance_load(&in, 0, 0), 0, "load xdp_canary"))
		return false;
	spec_init(&s[0], "web", "10.0.0.10", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 1000);
	s[0].http = true;
	spec_backend(&s[0], 0, "10.0.2.2:8080");
	spec_backend(&s[0], 0, "10.0.2.3:8080");
	spec_backend(&s[0], 1, "10.0.3.2:8080");
	spec_init(&s[1], "dns", "10.0.0.10", 53, IPPROTO_UDP, CANARY_HASH_CLIENT, 5000);
	spec_backend(&s[1], 0, "10.0.2.2:5353");
	spec_backend(&s[1], 1, "10.0.3.2:5353");
	spec_init(&s[2], "web6", "fd00::10", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[2], 0, "[fd00:2::2]:8080");
	spec_init(&s[3], "dns6", "fd00::53", 53, IPPROTO_UDP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[3], 0, "[fd00:2::2]:5353");
	if (!ASSERT_EQ(apply_specs(&in, s, 4), 0, "apply services") ||
	    !ASSERT_EQ(bpf_map_lookup_elem(in.maps.ports, &zero, &kinds), 0, "read the port kinds"))
		return false;
	fixtures();
	return ASSERT_TRUE(nfx >= 16, "fixtures built");
}

static void teardown(void)
{
	xdp_canary_bpf__destroy(in.skel);
}

static void fixtures_themselves(void)
{
	struct tally t = {};
	unsigned long k;

	for (k = 0; k < nfx; k++)
		check_one(fx[k].f, fx[k].len, fx[k].ifindex, &t, true);
	ASSERT_EQ(t.failures, 0, "every fixture matches the reference");
}

static void mutated_fixtures(void)
{
	struct tally t = {};
	unsigned long i, k;
	time_t t0 = time(NULL);

	for (i = 0; i < count; i++) {
		struct fixture m = fx[below(nfx)];
		unsigned int ops = 1 + below(3);

		while (ops--)
			mutate(m.f, &m.len, &m.ifindex);
		if (m.len > 14 && below(10) < 7)
			fix_csums(m.f, m.len);
		check_one(m.f, m.len, m.ifindex, &t, false);
	}
	{
		char what[128];

		snprintf(what, sizeof(what), "%lu mutated packets, every one as the reference says",
			 t.runs);
		ASSERT_EQ(t.failures, 0, what);
	}
	ASSERT_EQ(t.runs, count, "every packet ran");
	printf("# %lu packets in %lds, seed 0x%llx; verdicts:", t.runs, (long)(time(NULL) - t0),
	       (unsigned long long)seed);
	for (k = 0; k < reason_field_count; k++)
		if (t.by_reason[k])
			printf(" %s %lu", reason_fields[k].name, t.by_reason[k]);
	printf("\n");
	/* A fuzzer that never reaches the deep paths proves little. */
	for (k = 0; k < reason_field_count; k++) {
		static const char *const deep[] = {"fwd_redirect", "pass_wrong_iface", "pass_malformed",
						   "pass_fragment", "pass_ipv6_ext", "icmp_unmatched",
						   "drop_fib", "pass_vlan", "pass_not_ip"};
		unsigned int d;
		char what[96];

		for (d = 0; d < sizeof(deep) / sizeof(deep[0]); d++)
			if (!strcmp(reason_fields[k].name, deep[d])) {
				snprintf(what, sizeof(what), "the mutations reached %s", deep[d]);
				ASSERT_TRUE(t.by_reason[k] > 0, what);
			}
	}
}

static const struct test_case cases[] = {
	{"the fixtures themselves", fixtures_themselves},
	{"mutated fixtures", mutated_fixtures},
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"count", required_argument, NULL, 'n'},
		{"seed", required_argument, NULL, 's'},
		{},
	};
	static const struct test_suite suite = {
		.cases = cases,
		.ncases = ARRAY_SIZE(cases),
		.setup = setup,
		.teardown = teardown,
		.options = opts,
		.opt = option,
		.usage = "[--count N] [--seed S]",
	};

	return test_main(&suite, argc, argv);
}
