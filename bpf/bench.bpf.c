// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* bench.bpf.c: programs for `make bench` only: the two baselines the splitter is
 * compared against (a trivial forwarder and a minimal NAT forwarder, the job's floor),
 * an empty program (the test run's own overhead), a live-frame traffic generator and a
 * counting sink. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bench.h"
#include "canary_csum.h"

/* Where the baseline forwarder sends frames; set before load. */
const volatile __u32 out_ifindex = 0;

/* Frames seen by the sink (one slot per CPU). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sink_count SEC(".maps");

/* The NAT floor's flow table: 5-tuple -> new destination and next hop. LRU, as a
 * NAT's must be; the benchmark sets its size and fills it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct bench_nat_key);
	__type(value, struct bench_nat_value);
} nat_flows SEC(".maps");

/* Ones'-complement sum gains the change of a 32-bit word from old to new (RFC 1624,
 * both 16-bit halves, memory order as in canary_csum.h). */
static __always_inline __u32 csum_add32(__u32 sum, __u32 old, __u32 new)
{
	return sum + (~old & 0xffff) + (~old >> 16) + (new & 0xffff) + (new >> 16);
}

static __always_inline __u32 csum_add16(__u32 sum, __u16 old, __u16 new)
{
	return sum + (__u16)~old + new;
}

static __always_inline __u16 csum_replace(__u16 check, __u32 sum)
{
	return (__u16)~canary_csum_fold((__u32)(__u16)~check + sum);
}

/* The least a NAT load balancer must do per packet of a known flow: parse Ethernet,
 * IPv4 and TCP, look the 5-tuple up in a hash map, rewrite the destination address
 * and port with incremental checksums, copy the cached next hop's MACs, redirect.
 * No counters, no state, no options: the floor, not a product. */
SEC("xdp")
int xdp_nat_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct bench_nat_key key = {};
	struct bench_nat_value *v;
	struct tcphdr *th;
	__u32 sum;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (iph->ihl != 5 || iph->protocol != IPPROTO_TCP || (iph->frag_off & bpf_htons(0x3fff)))
		return XDP_PASS;
	th = (void *)(iph + 1);
	if ((void *)(th + 1) > data_end)
		return XDP_PASS;
	key.saddr = iph->saddr;
	key.daddr = iph->daddr;
	key.sport = th->source;
	key.dport = th->dest;
	key.proto = IPPROTO_TCP;
	v = bpf_map_lookup_elem(&nat_flows, &key);
	if (!v)
		return XDP_PASS;
	sum = csum_add32(0, iph->daddr, v->addr);
	iph->check = csum_replace(iph->check, sum);
	sum = csum_add16(sum, th->dest, v->port);
	th->check = csum_replace(th->check, sum);
	iph->daddr = v->addr;
	th->dest = v->port;
	__builtin_memcpy(eth->h_dest, v->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, v->smac, ETH_ALEN);
	return bpf_redirect(v->ifindex, 0);
}

/* Does nothing: what BPF_PROG_TEST_RUN costs around a program (subtracted in the
 * scaling runs, which run each packet once). */
SEC("xdp")
int xdp_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* The least a forwarder can do: swap the MAC addresses and redirect. */
SEC("xdp")
int xdp_baseline(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return bpf_redirect(out_ifindex, 0);
}

/* Run with BPF_F_TEST_XDP_LIVE_FRAMES: XDP_TX sends the frame out of the ingress
 * interface given in the test-run context, i.e. into the veth under test. */
SEC("xdp")
int xdp_gen(struct xdp_md *ctx)
{
	return XDP_TX;
}

/* Attached at the far end: count and drop. */
SEC("xdp")
int xdp_sink(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&sink_count, &zero);

	if (c)
		(*c)++;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
