/* hll.h: reading and clearing the data plane's distinct-client registers (client_hll,
 * bpf/xdp_canary.h). The data plane writes the sets of the interval parity
 * (coarse clock >> CANARY_HLL_SHIFT) & 1; the other parity's sets hold the interval
 * before, which nothing writes until the clock flips again 4.3 s later. */
#ifndef CANARY_MAPS_HLL_H
#define CANARY_MAPS_HLL_H

#include <stdint.h>
#include "maps/pins.h"

/* Whether the pins have client_hll at all (pins of an earlier ABI-3 build lack it). */
static inline int clients_counted(const struct canary_maps *m)
{
	return m->client_hll >= 0;
}

/* The coarse clock's now (the data plane's timebase): the current parity is
 * (now >> CANARY_HLL_SHIFT) & 1. Returns 0 or -errno. */
int clients_clock(struct canary_maps *m, uint64_t *now_ns);
/* Both arms' sets of one service and parity, merged over the CPUs (register max, flows
 * summed). Returns 0 or -errno. */
int clients_read(struct canary_maps *m, uint32_t svc, unsigned int parity,
		 uint32_t flows[CANARY_ARMS], uint8_t reg[CANARY_ARMS][CANARY_HLL_REGS]);
/* Empty both arms' sets of one service and parity (every CPU). Returns 0 or -errno. */
int clients_clear(struct canary_maps *m, uint32_t svc, unsigned int parity);

#endif /* CANARY_MAPS_HLL_H */
