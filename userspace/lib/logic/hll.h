/* hll.h: the HyperLogLog estimate of distinct clients from the registers that the data
 * plane keeps per arm and interval (struct client_hll, bpf/xdp_canary.h). Pure: the same
 * register rule as the data plane (canary_hll_index, canary_hll_rank in canary_hash.h),
 * the merge of per-CPU or per-interval sets (a register-wise max) and the estimate. */
#ifndef CANARY_HLL_H
#define CANARY_HLL_H

#include <stdint.h>
#include "xdp_canary.h"

/* Add one hash to a set of CANARY_HLL_REGS registers, as the data plane does. */
void hll_add(uint8_t *reg, uint32_t hash);
/* dst = max(dst, src), register by register: the union of the two sets of clients. */
void hll_merge(uint8_t *dst, const uint8_t *src);
/* The estimated number of distinct hashes added (Flajolet et al. 2007): the raw
 * harmonic-mean estimate, linear counting below 5/2 m while a register is empty, and
 * the correction for 32-bit hash collisions above 2^32/30. */
double hll_estimate(const uint8_t *reg);
/* The relative standard error of an estimate, 1.04 / sqrt(m). */
double hll_rse(void);

/* The clients and weight-decided flows of both arms under one weight, interval by
 * interval: each interval's sets are merged in, and the new clients it brought (the
 * growth of each arm's estimate, never negative) go to the SRM test. A client that comes
 * back in a later interval is counted once. */
struct hll_tally {
	uint8_t reg[CANARY_ARMS][CANARY_HLL_REGS];
	double clients[CANARY_ARMS]; /* estimates so far (the largest seen) */
	double flows[CANARY_ARMS];
};

void hll_tally_reset(struct hll_tally *t);
/* Merge one interval's sets and flows; *fresh gets the new clients per arm. */
void hll_tally_add(struct hll_tally *t, const uint8_t reg[CANARY_ARMS][CANARY_HLL_REGS],
		   const uint32_t flows[CANARY_ARMS], double fresh[CANARY_ARMS]);

#endif /* CANARY_HLL_H */
