/* service.h: the operations that turn a service (logic/spec.h) into map state and
 * back: build, publish atomically, read back, list, set the weight. */
#ifndef CANARY_SERVICE_H
#define CANARY_SERVICE_H

#include <stdbool.h>
#include <stdint.h>
#include "xdp_canary.h"
#include "logic/spec.h"
#include "maps/pins.h"

/* A service as found in the maps. */
struct service_state {
	struct canary_endpoint key;
	struct svc_info info;
	struct svc_config cfg;
};



/* The services-map key (VIP, port, protocol, family) of a spec. */
void service_spec_key(const struct service_spec *s, struct canary_endpoint *key);

/* Build the complete svc_config (weights, masks, checksum deltas, Maglev rings).
 * generation is left 0; publishing sets it. */
void service_build_config(const struct service_spec *s, struct svc_config *cfg);

/* Build the backends-map entries for one backend of a config. */
void backend_entry(const struct canary_endpoint *vip, const struct canary_backend *b,
		   uint16_t svc, int arm, int index, struct canary_endpoint *key,
		   struct backend_info *val);

/* LPM key of an override. */
void override_key_make(uint32_t svc_id, int family, const union canary_addr *addr, int plen,
		       struct override_key *key);
/* Inverse of override_key_make: family, address, prefix length. */
void override_key_parse(const struct override_key *key, int *family, union canary_addr *addr,
			int *plen);

/* One override of a service as it is in the trie. */
struct override_entry {
	struct override_key key;
	struct override_value val;
};
/* Every override of service id, read from the trie (override_key_parse decodes a key).
 * *out is malloc'ed (NULL when there are none); free it, also after an error. Returns
 * 0 or -ENOMEM. */
int service_overrides(struct canary_maps *m, uint32_t id, struct override_entry **out,
		      unsigned int *n);

/* All services in the maps, sorted by name. *out is malloc'ed. */
int service_list(struct canary_maps *m, struct service_state **out, unsigned int *n);
/* One service by name; -ENOENT (and a message naming the known ones) if absent. */
int service_find(struct canary_maps *m, const char *name, struct service_state *out);

/* Read the current svc_config of a service id. */
int svc_config_read(struct canary_maps *m, uint32_t id, struct svc_config *cfg);
/* Make cfg the service's live config with one map update: a fresh inner map is built
 * and swapped into svc_configs[id], as a compare-and-swap on the generation: expected
 * is the generation the caller read (0 for a service with no config yet), and cfg goes
 * live as expected + 1 only if the live one is still expected. Otherwise nothing
 * changes and -ESTALE is returned with cfg->generation set to the live one, so that no
 * writer overwrites a change it has not seen (a rollback above all). */
int svc_config_publish(struct canary_maps *m, uint32_t id, const char *name,
		       struct svc_config *cfg, uint32_t expected);

/* A fresh single-purpose array map to be swapped into a map-in-map, with the
 * program's BTF type value_type when it can be found. Returns an fd or -errno. */
int inner_map_create(struct canary_maps *m, const char *name, const char *value_type,
		     __u32 value_size, __u32 max_entries);

/* Set a service's canary weight (basis points) atomically. */
int service_set_weight(struct canary_maps *m, const char *name, uint16_t bp, uint16_t *old_bp);

/* Compare two configs, ignoring the generation counter. */
bool svc_config_equal(const struct svc_config *a, const struct svc_config *b);

/* Remove a service's flows of one arm from the flow table, so their next packets are
 * decided afresh. Returns how many were removed, or -errno. */
long service_reset_flows(struct canary_maps *m, uint32_t svc_id, int arm);

/* Call fn for every entry of the flow table and of `pending` (batched reads; a pending
 * entry has CANARY_FLOW_F_PENDING in its flags). fn returns non-zero to stop. */
typedef int (*flow_visit_fn)(const struct flow_key *k, const struct flow_state *v, void *ctx);
int flows_foreach(struct canary_maps *m, flow_visit_fn fn, void *ctx);

#endif
