/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bench.h: the NAT floor's map layout (bpf/bench.bpf.c), shared with the benchmarks
 * that fill it (tests/bench/). Benchmark-only: no part of the data plane's ABI. */
#ifndef XDP_CANARY_BENCH_H
#define XDP_CANARY_BENCH_H

#include <linux/types.h>

/* An IPv4 TCP 5-tuple, as a NAT must key its flows (16 bytes with padding).
 * Network byte order. */
struct bench_nat_key {
	__be32 saddr, daddr;
	__be16 sport, dport;
	__u8 proto;
	__u8 pad[3];
};

/* The new destination and the next hop's MACs and interface, resolved ahead. */
struct bench_nat_value {
	__be32 addr;
	__be16 port;
	__u16 pad;
	__u32 ifindex;
	__u8 dmac[6], smac[6];
};

#endif
