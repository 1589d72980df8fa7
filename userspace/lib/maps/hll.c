/* hll.c: the distinct-client registers of the data plane (see hll.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "maps/hll.h"

int clients_clock(struct canary_maps *m, uint64_t *now_ns)
{
	struct canary_clock c;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(m->clock, &zero, &c))
		return -errno;
	*now_ns = c.now_ns;
	return 0;
}

int clients_read(struct canary_maps *m, uint32_t svc, unsigned int parity,
		 uint32_t flows[CANARY_ARMS], uint8_t reg[CANARY_ARMS][CANARY_HLL_REGS])
{
	int ncpu = canary_ncpus(), arm, c, err = 0;
	struct client_hll *buf = calloc(ncpu, sizeof(*buf));
	unsigned int i;
	__u32 key;

	if (!buf)
		return -ENOMEM;
	for (arm = 0; arm < CANARY_ARMS && !err; arm++) {
		key = CANARY_HLL_SLOT(svc, arm, parity & 1);
		if (bpf_map_lookup_elem(m->client_hll, &key, buf)) {
			err = -errno;
			break;
		}
		flows[arm] = 0;
		memset(reg[arm], 0, CANARY_HLL_REGS);
		for (c = 0; c < ncpu; c++) {
			flows[arm] += buf[c].flows;
			for (i = 0; i < CANARY_HLL_REGS; i++)
				if (buf[c].reg[i] > reg[arm][i])
					reg[arm][i] = buf[c].reg[i];
		}
	}
	free(buf);
	return err;
}

int clients_clear(struct canary_maps *m, uint32_t svc, unsigned int parity)
{
	int ncpu = canary_ncpus(), arm, err = 0;
	struct client_hll *zero = calloc(ncpu, sizeof(*zero));
	__u32 key;

	if (!zero)
		return -ENOMEM;
	for (arm = 0; arm < CANARY_ARMS && !err; arm++) {
		key = CANARY_HLL_SLOT(svc, arm, parity & 1);
		if (bpf_map_update_elem(m->client_hll, &key, zero, BPF_ANY))
			err = -errno;
	}
	free(zero);
	return err;
}
