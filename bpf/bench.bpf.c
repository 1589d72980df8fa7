// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* bench.bpf.c: programs for `make bench` only: the baseline forwarder the splitter is
 * compared against, a live-frame traffic generator and a counting sink. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

/* Where the baseline forwarder sends frames; set before load. */
const volatile __u32 out_ifindex = 0;

/* Frames seen by the sink (one slot per CPU). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sink_count SEC(".maps");

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
