/* fleetsum.h: one service's counters summed over the fleet, from each node's reports of
 * its own counters (cumulative since that node's attach). Pure logic: the leader feeds it
 * every node's report each interval and reads one cumulative sum per arm, which goes into
 * rollout_tick exactly as one node's counters do.
 *
 * Per node it keeps the last value reported and the node's contribution to the sum. The
 * contribution only ever grows:
 *   - a report at or above the last one adds the difference;
 *   - a report below it in any word (a re-attach, a reboot: the counters started again),
 *     or with another epoch (the node says so), is a re-base: the new counters are all
 *     new traffic and are added whole, nothing is ever subtracted;
 *   - a node seen for the first time starts at what it reports then: its earlier traffic
 *     is not this rollout's;
 *   - a node whose key is gone (its lease expired) keeps its contribution; if it comes
 *     back under the same name, it goes on from its last value.
 * So the sum is monotone and rollout_tick never sees the fleet's counters go back. A flow's
 * counters are counted only by the node that saw its SYN (docs/FLEET.md), so summing the
 * nodes counts no flow twice.
 *
 * The kept state is part of the rollout's state (rollouts/SVC in the store, and canaryd's
 * state file): fleet_sum_to_json and fleet_sum_from_json, which checks every field for
 * type and range. */
#ifndef CANARY_FLEETSUM_H
#define CANARY_FLEETSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xdp_canary.h"

#ifndef FLEET_NODE_LEN
#define FLEET_NODE_LEN 64 /* a node's name, NUL included (store/fleet.h has the same) */
#endif
#define FLEET_MAX_NODES 128 /* nodes kept; the oldest gone one is folded into "departed" */

struct fleet_node {
	char name[FLEET_NODE_LEN];
	uint64_t epoch;			       /* the node's attach identity, 0: not given */
	struct arm_stats last[CANARY_ARMS];    /* its counters at its last report */
	struct arm_stats contrib[CANARY_ARMS]; /* what it adds to the sum */
	int64_t seen_ms;		       /* wall clock of its last report */
	uint32_t rebases;		       /* times its counters started again */
	bool gone;			       /* its key is gone: contribution kept, frozen */
};

struct fleet_sum {
	unsigned int n;
	struct fleet_node nodes[FLEET_MAX_NODES];
	/* Contributions of gone nodes folded away to make room (their last values are
	 * dropped: one that comes back starts again, as a new node). */
	struct arm_stats departed[CANARY_ARMS];
	unsigned int ndeparted;
};

/* A node name: 1..63 bytes of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool fleet_node_name_valid(const char *name);

/* An empty sum. */
void fleet_sum_init(struct fleet_sum *f);

/* A node's report of its cumulative counters. Returns 0, 1 when it re-based the node (its
 * counters went back or its epoch changed), or -EINVAL for a bad name, -ENOSPC when
 * FLEET_MAX_NODES nodes are present and none is gone. */
int fleet_sum_report(struct fleet_sum *f, const char *node, uint64_t epoch,
		     const struct arm_stats arm[CANARY_ARMS], int64_t now_ms);

/* Mark every node not in present[0..n) gone, and every one in it present again (the
 * leader passes the nodes whose keys it listed). Returns how many became gone. */
unsigned int fleet_sum_mark_gone(struct fleet_sum *f, const char *const *present, unsigned int n);

/* The fleet-wide cumulative counters of each arm. */
void fleet_sum_total(const struct fleet_sum *f, struct arm_stats out[CANARY_ARMS]);

/* Nodes present (not gone). */
unsigned int fleet_sum_present(const struct fleet_sum *f);

const struct fleet_node *fleet_sum_find(const struct fleet_sum *f, const char *node);

struct json_object;
struct json_object *fleet_sum_to_json(const struct fleet_sum *f);
/* Every field checked for type and range (names valid and unique, counts within bounds,
 * every counter array whole); 0, or -EINVAL with
 * "field: problem" in err (f then holds nothing to keep). */
int fleet_sum_from_json(struct fleet_sum *f, struct json_object *j, char *err, size_t len);

#endif
