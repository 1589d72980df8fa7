// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* bench_peers.bpf.c: programs for `make bench-peers` only. A live-frame generator that
 * writes its frame afresh each time, and an XDP_PASS program that gives a veth NAPI so
 * that frames enter the kernel stack in batches. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define GEN_FRAME_LEN 64

/* The frame to send, set before load. Live-frame pages are recycled with whatever the
 * path wrote into them (a NAT rewrite, a TTL the kernel lowered), so the generator
 * writes the whole frame again instead of relying on the page's old contents. In .bss,
 * not rodata: the compiler would fold a copy from a const array to its zero initialiser. */
__u8 gen_frame[GEN_FRAME_LEN];

SEC("xdp")
int xdp_gen_fresh(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + GEN_FRAME_LEN > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(data, gen_frame, GEN_FRAME_LEN);
	return XDP_TX;
}

/* On the receiving veth of the kernel path: NAPI there, then the stack. */
SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
