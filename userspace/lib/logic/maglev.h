/* maglev.h: Maglev consistent-hash slot tables (Eisenbud et al., NSDI 2016). */
#ifndef CANARY_MAGLEV_H
#define CANARY_MAGLEV_H

#include <stdint.h>
#include "xdp_canary.h"

/* Fill ring[0..CANARY_RING_SIZE) with indexes into backends[0..n). Each backend gets
 * CANARY_RING_SIZE/n slots (+-1), and a backend's preferred slots depend only on its
 * own address and port, so adding or removing one moves about its share of slots.
 * With n == 0 every slot is CANARY_NO_BACKEND. */
void maglev_fill(const struct canary_backend *backends, unsigned int n, uint8_t *ring);

#endif
