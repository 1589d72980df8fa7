/* prom.h: Prometheus text exposition of the data plane's counters and the rollouts'
 * state, with one prefix (xdp_canary_), base units, _total on counters, the arm as a
 * label, and no client addresses anywhere. */
#ifndef CANARY_PROM_H
#define CANARY_PROM_H

#include <stdio.h>
#include "logic/rollout.h"
#include "maps/service.h"

struct prom_service {
	const struct service_state *svc;
	const struct arm_stats *arm;	/* [CANARY_ARMS], cumulative */
	double share;			/* measured canary share of new flows, last interval; <0 unknown */
	const struct rollout *rollout;	/* NULL when none */
	const uint64_t *weight_changes; /* [WREASON_COUNT] */
};

struct prom_agent {
	uint64_t polls, sweeps, swept_flows;
	double poll_seconds; /* duration of the last poll */
	/* Services whose saved rollout state failed validation (phase Error). */
	unsigned int nstate_errors;
	const char *state_errors[CANARY_MAX_SERVICES];
	/* Fleet mode: this node's name (node-level series carry it as a label), whether it
	 * leads, whether the store answered. NULL on one node. */
	const char *node;
	int leader, store_up;
};

/* Write the whole exposition to f (one caller at a time: canaryd holds its lock). */
void prom_write(FILE *f, const struct prom_service *s, unsigned int n,
		const struct reason_stats *reasons, const struct prom_agent *agent);

/* The exposition text in with label name="value" added to every sample (the node
 * label of a fleet's node, docs/FLEET.md); malloc'ed, NULL when out of memory. value
 * is a node name: no quote or backslash to escape. */
char *prom_add_label(const char *in, const char *name, const char *value);

#endif
