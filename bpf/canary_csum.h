/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* canary_csum.h: ones'-complement checksum arithmetic (RFC 1071/1624), shared by the
 * data plane (which applies precomputed deltas) and userspace (which computes them). */
#ifndef CANARY_CSUM_H
#define CANARY_CSUM_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Fold a 32-bit ones'-complement accumulator to 16 bits. */
static __always_inline __u16 canary_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* Apply a delta to a checksum field as stored in the packet (RFC 1624 eqn. 3:
 * HC' = ~(~HC + m' - m), with "+ m' - m" precomputed as the delta). The words are
 * used in memory order on both sides, so no byte swapping is needed anywhere. */
static __always_inline __u16 canary_csum_apply(__u16 check, __u16 delta)
{
	return (__u16)~canary_csum_fold((__u32)(__u16)~check + delta);
}

/* Ones'-complement delta that turns the checksum over `from` into the one over `to`
 * (equal even lengths, memory order). Used ahead of time, never on the fast path. */
static inline __u16 canary_csum_delta(const void *from, const void *to, unsigned int len)
{
	const __u16 *a = (const __u16 *)from, *b = (const __u16 *)to;
	__u32 sum = 0;
	unsigned int i;

	for (i = 0; i < len / 2; i++)
		sum += (__u16)~a[i] + b[i];
	return canary_csum_fold(sum);
}

/* Sum of two deltas. */
static __always_inline __u16 canary_csum_add(__u16 a, __u16 b)
{
	return canary_csum_fold((__u32)a + b);
}

#endif /* CANARY_CSUM_H */
