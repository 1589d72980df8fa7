/* maglev.c: Maglev consistent-hash slot tables (Eisenbud et al., NSDI 2016). */
#include <string.h>
#include "logic/maglev.h"
#include "canary_hash.h"

/* Hash a backend's identity (address words and port) with a seed. */
static uint32_t backend_hash(const struct canary_backend *b, uint32_t seed)
{
	uint32_t h = seed;
	int i;

	for (i = 0; i < 4; i++)
		h = canary_hash_word(h, b->addr.v6[i]);
	h = canary_hash_word(h, b->port);
	return canary_hash_final(h, 5);
}

void maglev_fill(const struct canary_backend *backends, unsigned int n, uint8_t *ring)
{
	const uint32_t M = CANARY_RING_SIZE;
	uint32_t offset[CANARY_MAX_BACKENDS], skip[CANARY_MAX_BACKENDS], next[CANARY_MAX_BACKENDS];
	uint32_t filled = 0, i;

	memset(ring, CANARY_NO_BACKEND, M);
	if (n == 0)
		return;
	if (n > CANARY_MAX_BACKENDS)
		n = CANARY_MAX_BACKENDS;

	for (i = 0; i < n; i++) {
		offset[i] = backend_hash(&backends[i], 0x5ca1ab1e) % M;
		skip[i] = backend_hash(&backends[i], 0x0ddba11) % (M - 1) + 1;
		next[i] = 0;
	}
	/* Backends take turns claiming their next preferred free slot; M is prime, so each
	 * backend's permutation (offset + j * skip) % M visits every slot. */
	for (;;) {
		for (i = 0; i < n; i++) {
			uint32_t c = (offset[i] + (uint64_t)next[i] * skip[i]) % M;

			while (ring[c] != CANARY_NO_BACKEND) {
				next[i]++;
				c = (offset[i] + (uint64_t)next[i] * skip[i]) % M;
			}
			ring[c] = (uint8_t)i;
			next[i]++;
			if (++filled == M)
				return;
		}
	}
}
