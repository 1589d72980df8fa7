/* pktbuild.h: building and checking test packets (Ethernet + IPv4/IPv6 + TCP/UDP).
 * Checksums are computed from scratch here, independently of the data plane's
 * incremental updates, so a wrong rewrite shows up as a checksum failure. */
#ifndef XDP_CANARY_PKTBUILD_H
#define XDP_CANARY_PKTBUILD_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "xdp_canary.h"

struct pkt_spec {
	int family; /* CANARY_AF_INET / CANARY_AF_INET6 */
	uint8_t smac[6], dmac[6];
	union canary_addr src, dst;
	uint16_t sport, dport; /* host order */
	uint8_t proto;	       /* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t tcp_flags;     /* TCP byte 13 */
	uint32_t seq, ack;
	const void *payload;
	size_t plen;
	uint8_t ip_opt_words;  /* IPv4 options (NOPs), in 32-bit words */
	bool udp_zero_csum;    /* IPv4 UDP without checksum */
};

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

static inline uint32_t csum_partial_words(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static inline uint16_t csum_finish(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Pseudo-header sum for L4 checksums. */
static inline uint32_t pseudo_sum(int family, const void *src, const void *dst, uint8_t proto,
				  uint32_t l4len)
{
	uint32_t sum = 0;
	unsigned int alen = family == CANARY_AF_INET ? 4 : 16;

	sum = csum_partial_words(src, alen, sum);
	sum = csum_partial_words(dst, alen, sum);
	sum += proto;
	sum += l4len & 0xffff;
	sum += l4len >> 16;
	return sum;
}

/* Unaligned big-endian stores into a frame. */
static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, v >> 16);
	put_be16(p + 2, v & 0xffff);
}

/* Frames are built and read in a scratch buffer at offset 2, so that the IP header
 * after the 14-byte Ethernet header is 4-byte aligned, as a NIC places it in memory
 * (NET_IP_ALIGN): the header structs are then used at their natural alignment. */
#define PKT_SCRATCH 4096
struct pkt_scratch {
	uint8_t pad[2];
	uint8_t frame[PKT_SCRATCH];
} __attribute__((aligned(8)));

static inline size_t pkt_build_aligned(const struct pkt_spec *s, uint8_t *buf, size_t cap);

/* Build a frame into buf; returns its length. */
static inline size_t pkt_build(const struct pkt_spec *s, uint8_t *out, size_t cap)
{
	struct pkt_scratch sc;
	size_t n = pkt_build_aligned(s, sc.frame, cap < PKT_SCRATCH ? cap : PKT_SCRATCH);

	memcpy(out, sc.frame, n);
	return n;
}

static inline size_t pkt_build_aligned(const struct pkt_spec *s, uint8_t *buf, size_t cap)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	size_t l3off = sizeof(*eth), l3hdr, l4hdr, l4len, tot;
	uint8_t *l4;
	uint16_t c;

	l4hdr = s->proto == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr);
	l3hdr = s->family == CANARY_AF_INET ? sizeof(struct iphdr) + 4 * s->ip_opt_words
					    : sizeof(struct ipv6hdr);
	l4len = l4hdr + s->plen;
	tot = l3off + l3hdr + l4len;
	if (tot > cap)
		return 0;
	memset(buf, 0, tot);
	memcpy(eth->h_dest, s->dmac, 6);
	memcpy(eth->h_source, s->smac, 6);
	eth->h_proto = htons(s->family == CANARY_AF_INET ? ETH_P_IP : ETH_P_IPV6);

	l4 = buf + l3off + l3hdr;
	if (s->proto == IPPROTO_TCP) {
		struct tcphdr *th = (struct tcphdr *)l4;

		th->source = htons(s->sport);
		th->dest = htons(s->dport);
		th->seq = htonl(s->seq);
		th->ack_seq = htonl(s->ack);
		th->doff = 5;
		l4[13] = s->tcp_flags;
		th->window = htons(65535);
	} else {
		struct udphdr *uh = (struct udphdr *)l4;

		uh->source = htons(s->sport);
		uh->dest = htons(s->dport);
		uh->len = htons(l4len);
	}
	if (s->plen)
		memcpy(l4 + l4hdr, s->payload, s->plen);

	if (s->family == CANARY_AF_INET) {
		struct iphdr *iph = (struct iphdr *)(buf + l3off);

		iph->version = 4;
		iph->ihl = 5 + s->ip_opt_words;
		iph->tot_len = htons(l3hdr + l4len);
		iph->id = htons(0x1234);
		iph->frag_off = htons(0x4000); /* DF */
		iph->ttl = 64;
		iph->protocol = s->proto;
		iph->saddr = s->src.v4;
		iph->daddr = s->dst.v4;
		memset(buf + l3off + sizeof(*iph), 1 /* NOP */, 4 * s->ip_opt_words);
		iph->check = htons(csum_finish(csum_partial_words(iph, l3hdr, 0)));
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(buf + l3off);

		ip6->version = 6;
		ip6->payload_len = htons(l4len);
		ip6->nexthdr = s->proto;
		ip6->hop_limit = 64;
		memcpy(&ip6->saddr, s->src.bytes, 16);
		memcpy(&ip6->daddr, s->dst.bytes, 16);
	}
	if (s->proto == IPPROTO_UDP && s->udp_zero_csum && s->family == CANARY_AF_INET)
		return tot;
	c = csum_finish(csum_partial_words(l4, l4len,
					   pseudo_sum(s->family, &s->src, &s->dst, s->proto, l4len)));
	if (s->proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	if (s->proto == IPPROTO_TCP)
		((struct tcphdr *)l4)->check = htons(c);
	else
		((struct udphdr *)l4)->check = htons(c);
	return tot;
}

static inline bool pkt_csums_ok_aligned(const uint8_t *buf, size_t len);

/* Verify the IPv4 header checksum and the TCP/UDP checksum of a frame from scratch. */
static inline bool pkt_csums_ok(const uint8_t *frame, size_t len)
{
	struct pkt_scratch sc;

	if (len > PKT_SCRATCH)
		return false;
	memcpy(sc.frame, frame, len);
	return pkt_csums_ok_aligned(sc.frame, len);
}

static inline bool pkt_csums_ok_aligned(const uint8_t *buf, size_t len)
{
	const struct ethhdr *eth = (const struct ethhdr *)buf;
	const uint8_t *l3 = buf + sizeof(*eth), *l4, *src, *dst;
	uint32_t l4len;
	uint8_t proto;
	int family;

	if (len < sizeof(*eth) + 20)
		return false;
	if (eth->h_proto == htons(ETH_P_IP)) {
		const struct iphdr *iph = (const struct iphdr *)l3;
		size_t hl = iph->ihl * 4;

		if (csum_finish(csum_partial_words(iph, hl, 0)) != 0)
			return false;
		family = CANARY_AF_INET;
		proto = iph->protocol;
		l4 = l3 + hl;
		l4len = ntohs(iph->tot_len) - hl;
		src = (const uint8_t *)&iph->saddr;
		dst = (const uint8_t *)&iph->daddr;
	} else {
		const struct ipv6hdr *ip6 = (const struct ipv6hdr *)l3;

		family = CANARY_AF_INET6;
		proto = ip6->nexthdr;
		l4 = l3 + sizeof(*ip6);
		l4len = ntohs(ip6->payload_len);
		src = (const uint8_t *)&ip6->saddr;
		dst = (const uint8_t *)&ip6->daddr;
	}
	if (proto == IPPROTO_UDP && family == CANARY_AF_INET &&
	    ((const struct udphdr *)l4)->check == 0)
		return true;
	return csum_finish(csum_partial_words(l4, l4len,
					      pseudo_sum(family, src, dst, proto, l4len))) == 0;
}

#endif
