/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* maps.h: the bodies of the data plane's maps. The maps, their names (which are also the
 * pin file names) and their value types are listed once, in CANARY_MAPS (xdp_canary.h);
 * libbpf needs each body written out, and the checks after them hold the two together. */
#ifndef CANARY_MAPS_H
#define CANARY_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xdp_canary.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct canary_meta);
} meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CANARY_MAX_SERVICES);
	__type(key, struct canary_endpoint);
	__type(value, struct svc_info);
} services SEC(".maps");

/* Outer array indexed by service id; each slot holds a one-entry array with the
 * service's whole svc_config. Userspace replaces the inner map to change a split. */
struct svc_config_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct svc_config);
};

/* Clang emits only a forward declaration for a value type named inside __array();
 * this unused global makes it emit struct svc_config in full, so libbpf can size the
 * inner map and canaryctl can give each inner map a readable BTF value type. */
struct svc_config canary_btf_svc_config __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, CANARY_MAX_SERVICES);
	__type(key, __u32);
	__array(values, struct svc_config_inner);
} svc_configs SEC(".maps");

/* Every backend by endpoint, and removed ones still draining flows: the readable
 * source of truth, kept by userspace. The data plane reads backend_index instead. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CANARY_MAX_BACKEND_KEYS);
	__type(key, struct canary_endpoint);
	__type(value, struct backend_info);
} backends SEC(".maps");

struct backend_index_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CANARY_BACKEND_SLOTS);
	__type(key, __u32);
	__type(value, struct backend_slot);
};

/* Slot 0 holds the current reply index (see struct backend_slot). */
struct backend_slot canary_btf_backend_slot __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct backend_index_inner);
} backend_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CANARY_MAX_OVERRIDES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct override_key);
	__type(value, struct override_value);
} overrides SEC(".maps");

/* Shared (not per-CPU) LRU: the two directions of a flow may be handled on
 * different CPUs, and a per-CPU LRU would then lose flows (katran#30). Verified flows
 * only: see `pending`. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CANARY_DEFAULT_FLOWS);
	__type(key, struct flow_key);
	__type(value, struct flow_state);
} flows SEC(".maps");

/* Flows not yet verified: a handshake the client has not completed, a datagram not
 * yet answered, a flow picked up mid-stream that its backend has not answered. An LRU
 * of its own, like conntrack's early drop of unassured entries: a flood of spoofed
 * SYNs or ACKs evicts only these, and a stale handshake gives way to a new one. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CANARY_DEFAULT_PENDING);
	__type(key, struct flow_key);
	__type(value, struct flow_state);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CANARY_ARM_STATS_SLOTS); /* data plane + sweeper */
	__type(key, __u32);
	__type(value, struct arm_stats);
} arm_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CANARY_BACKEND_STATS_SLOTS);
	__type(key, __u32);
	__type(value, struct backend_stats);
} backend_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reason_stats);
} reasons SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct port_kinds);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct canary_clock);
} clock SEC(".maps");

/* The next hop towards each client, for replies: per CPU (no torn entries, no shared
 * cache lines), direct-mapped by address (see struct client_hop). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CANARY_CLIENT_HOPS);
	__type(key, __u32);
	__type(value, struct client_hop);
} client_hops SEC(".maps");

/* Distinct clients and weight-decided flows of each arm, per interval parity (struct
 * client_hll): per CPU, so a register is a plain max with no atomics; userspace merges. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CANARY_HLL_SLOTS);
	__type(key, __u32);
	__type(value, struct client_hll);
} client_hll SEC(".maps");

/* Every map of CANARY_MAPS is defined above with the value type the list gives it (the
 * inner map's, for an array of maps). The other way round, that no map is defined here
 * without being listed, is tests/unit/test_maps.c's check of the object. */
#define CANARY__VALUE_PLAIN(name) typeof(*name.value)
#define CANARY__VALUE_OUTER(name) typeof(*name.values[0]->value)
#define CANARY__MAP_CHECK(name, kind, type, about)                                                 \
	_Static_assert(__builtin_types_compatible_p(CANARY__VALUE_##kind(name), type),             \
		       "map " #name                                                                \
		       ": its value type in bpf/maps.h is not the one CANARY_MAPS gives");
CANARY_MAPS(CANARY__MAP_CHECK)
#undef CANARY__MAP_CHECK

/* A map's identifier is global, and a local of the same name would silently take its
 * place in bpf_map_lookup_elem(&name, ...) (the helpers take void *): make that an error
 * in every file that sees the maps. */
#pragma clang diagnostic error "-Wshadow"

/* The data plane's counter slots (the sweeper has its own, see xdp_canary.h). */
static __always_inline struct arm_stats *arm_stats_of(__u32 svc, __u32 arm)
{
	__u32 idx = CANARY_ARM_SLOT(svc, arm & 1);

	return bpf_map_lookup_elem(&arm_stats, &idx);
}

static __always_inline struct backend_stats *backend_stats_of(__u32 svc, __u32 arm, __u32 bidx)
{
	__u32 idx = CANARY_BACKEND_SLOT(svc, arm & 1, bidx & (CANARY_MAX_BACKENDS - 1));

	return bpf_map_lookup_elem(&backend_stats, &idx);
}

#endif /* CANARY_MAPS_H */
