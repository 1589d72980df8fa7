/* hll.c: HyperLogLog registers and their estimate (see hll.h). */
#include <math.h>
#include <string.h>

#include "logic/hll.h"
#include "canary_hash.h"

void hll_add(uint8_t *reg, uint32_t hash)
{
	uint32_t i = canary_hll_index(hash), r = canary_hll_rank(hash);

	if (reg[i] < r)
		reg[i] = (uint8_t)r;
}

void hll_merge(uint8_t *dst, const uint8_t *src)
{
	unsigned int i;

	for (i = 0; i < CANARY_HLL_REGS; i++)
		if (src[i] > dst[i])
			dst[i] = src[i];
}

double hll_estimate(const uint8_t *reg)
{
	const double m = CANARY_HLL_REGS, two32 = 4294967296.0;
	double sum = 0, e;
	unsigned int i, zeros = 0;

	for (i = 0; i < CANARY_HLL_REGS; i++) {
		sum += ldexp(1.0, -(int)reg[i]);
		zeros += !reg[i];
	}
	e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
	if (e <= 2.5 * m && zeros)
		return m * log(m / zeros);
	if (e > two32 / 30)
		return -two32 * log(1 - e / two32);
	return e;
}

double hll_rse(void)
{
	return 1.04 / sqrt((double)CANARY_HLL_REGS);
}

void hll_tally_reset(struct hll_tally *t)
{
	memset(t, 0, sizeof(*t));
}

void hll_tally_add(struct hll_tally *t, const uint8_t reg[CANARY_ARMS][CANARY_HLL_REGS],
		   const uint32_t flows[CANARY_ARMS], double fresh[CANARY_ARMS])
{
	double e;
	int arm;

	for (arm = 0; arm < CANARY_ARMS; arm++) {
		hll_merge(t->reg[arm], reg[arm]);
		e = hll_estimate(t->reg[arm]);
		/* The estimate of a growing set can step back where linear counting hands
		 * over to the harmonic mean: keep the largest. */
		fresh[arm] = e > t->clients[arm] ? e - t->clients[arm] : 0;
		if (e > t->clients[arm])
			t->clients[arm] = e;
		t->flows[arm] += flows[arm];
	}
}
