/* bindex.h: the reply index (backend_index's inner array of struct backend_slot) as
 * userspace reads and rebuilds it. A flow names its backend by slot, so a rebuild keeps
 * every backend where it was; a freed slot on another backend's probe chain stays as a
 * tombstone until a new backend takes it. */
#ifndef CANARY_BINDEX_H
#define CANARY_BINDEX_H

#include <stdint.h>
#include "maps/pins.h"

/* The live index into slots (CANARY_BACKEND_SLOTS entries; all empty when none is
 * published yet). Returns 0 or -errno. */
int backend_index_read(struct canary_maps *m, struct backend_slot *slots);

/* One slot of the live index (a flow's backend). Returns 0, -ENOENT for an empty slot
 * or a tombstone, or -errno. */
int backend_index_slot(struct canary_maps *m, uint32_t idx, struct backend_slot *out);

/* The slot of backend endpoint k in slots, probing as the data plane does, or -1. */
int backend_index_find(const struct backend_slot *slots, const struct canary_endpoint *k);

/* Whether slot i holds a backend (neither empty nor a tombstone). */
static inline int backend_slot_used(const struct backend_slot *s)
{
	return s->key.family && s->key.family != CANARY_SLOT_TOMBSTONE;
}

/* Rebuild the reply index from `backends` and swap it in with one update: a backend
 * already in the index keeps its slot (and its resolved next hop), a new one takes the
 * first free slot of its probe chain. Returns 0 or -errno (-ENOSPC with a message when
 * a backend finds no slot). */
int backend_index_publish(struct canary_maps *m);

#endif
