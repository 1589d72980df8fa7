/* sweep.h: the flow-table sweeper. It removes entries that outlived their state's
 * timeout and counts the flows that leave the table with their SYN never answered,
 * which only something that sees flows leave can count. canaryd runs it every poll;
 * `canaryctl sweep` runs it once. */
#ifndef CANARY_SWEEP_H
#define CANARY_SWEEP_H

#include <stdint.h>
#include "maps/pins.h"

struct sweep_result {
	uint64_t scanned;    /* entries looked at */
	uint64_t expired;    /* entries removed */
	uint64_t unanswered; /* of those, flows whose SYN never got a SYN-ACK */
};

/* One pass over the flow table. Serialised with other writers by the pin root's
 * writers' lock (waiting at most lock_wait_ms), so the sweeper's counter slots have a
 * single writer. */
int flows_sweep(struct canary_maps *m, struct sweep_result *r, int lock_wait_ms);

#endif
