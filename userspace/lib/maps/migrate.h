/* migrate.h: carrying pinned state from the ABI before this one to this build's maps,
 * so that an upgrade keeps every established connection on its backend and every
 * counter (canary-loader attach does it when it finds such pins). The old layouts are
 * described in migrate.c by what differs from this ABI; tests/fixtures/abi2 holds the
 * old data plane that tests/integration/upgrade.sh upgrades from. */
#ifndef CANARY_MIGRATE_H
#define CANARY_MIGRATE_H

#include <stdint.h>
#include "maps/pins.h"

#define CANARY_MIGRATE_FROM (CANARY_ABI_VERSION - 1)

/* The ABI of the pins under root (meta's first word), read without size checks.
 * Returns 0, or -errno. */
int migrate_pinned_abi(const char *root, uint32_t *abi);

/* The maps of the old pins, opened by name (the pins of maps the old ABI lacks stay
 * -1). Returns 0 or -errno after a message. */
int migrate_open_old(const char *root, struct canary_maps *old);

struct migrate_result {
	unsigned long flows, pending; /* entries copied into each table */
	unsigned int services, backends;
};

/* Everything but the flows and the counters, into new (a loaded object's maps, not yet
 * attached): meta (with this ABI and pending_capacity), services, their configs
 * (generations kept), backends (with their interface resolved now), the reply index,
 * overrides, ports. Returns 0 or -errno. */
int migrate_config(struct canary_maps *old, struct canary_maps *new, uint32_t pending_capacity,
		   struct migrate_result *r);

/* Flow entries of old that new lacks: handshakes and mid-stream entries into pending,
 * the others into the flow table. Run once before the programs are swapped and once
 * after (for the flows the old program made meanwhile). Returns 0 or -errno. */
int migrate_flows(struct canary_maps *old, struct canary_maps *new, struct migrate_result *r);

/* Add the old counters (arm, backend, reasons; every CPU's) into new, once the old
 * program has stopped. Returns 0 or -errno. */
int migrate_counters(struct canary_maps *old, struct canary_maps *new);

#endif
