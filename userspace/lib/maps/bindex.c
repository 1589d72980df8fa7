/* bindex.c: reading and rebuilding the reply index (see bindex.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "maps/bindex.h"
#include "canary_csum.h"
#include "canary_hash.h"
#include "base/util.h"
#include "maps/service.h"

#define SLOT_MASK (CANARY_BACKEND_SLOTS - 1)

static int slot_entry(const void *k, const void *v, void *ctx)
{
	struct backend_slot *slots = ctx;
	__u32 idx = *(const __u32 *)k;

	if (idx < CANARY_BACKEND_SLOTS)
		slots[idx] = *(const struct backend_slot *)v;
	return 0;
}

int backend_index_read(struct canary_maps *m, struct backend_slot *slots)
{
	__u32 zero = 0;
	int fd, err;

	memset(slots, 0, CANARY_BACKEND_SLOTS * sizeof(*slots));
	fd = canary_inner_fd(m->backend_index, &zero);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	err = canary_map_foreach(fd, sizeof(__u32), sizeof(*slots), 8192, slot_entry, slots);
	close(fd);
	return err;
}

int backend_index_slot(struct canary_maps *m, uint32_t idx, struct backend_slot *out)
{
	__u32 zero = 0;
	int err = canary_inner_lookup(m->backend_index, &zero, &idx, out);

	return err ? err : backend_slot_used(out) ? 0 : -ENOENT;
}

int backend_index_find(const struct backend_slot *slots, const struct canary_endpoint *k)
{
	__u32 h = canary_backend_slot(k), i;

	for (i = 0; i < CANARY_BACKEND_PROBES; i++) {
		const struct backend_slot *s = &slots[(h + i) & SLOT_MASK];

		if (!s->key.family)
			return -1;
		if (!memcmp(&s->key, k, sizeof(*k)))
			return (h + i) & SLOT_MASK;
	}
	return -1;
}

/* Fill slot s with backend key/v: the entry, and the forward deltas VIP -> backend. */
static void slot_fill(struct backend_slot *s, const struct canary_endpoint *key,
		      const struct backend_info *v)
{
	unsigned int alen = key->family == CANARY_AF_INET ? 4 : 16;

	s->key = *key;
	s->info = *v;
	s->csum_ip = canary_csum_delta(&v->vip.addr, &key->addr, alen);
	s->csum_l4 = canary_csum_add(s->csum_ip, canary_csum_delta(&v->vip.port, &key->port, 2));
}

/* A new backend takes the first free slot (empty or tombstone) of its chain. */
static int slot_place(struct backend_slot *slots, const struct canary_endpoint *key,
		      const struct backend_info *v)
{
	__u32 h = canary_backend_slot(key), i;

	for (i = 0; i < CANARY_BACKEND_PROBES; i++) {
		struct backend_slot *s = &slots[(h + i) & SLOT_MASK];

		if (!backend_slot_used(s)) {
			memset(s, 0, sizeof(*s));
			slot_fill(s, key, v);
			return 0;
		}
	}
	/* At most a quarter full: a run this long is far out in the tail. */
	log_error("the reply index (%d slots) has no free slot within %d probes of a backend; "
		  "remove some backends (or draining entries) and apply again",
		  CANARY_BACKEND_SLOTS, CANARY_BACKEND_PROBES);
	return -ENOSPC;
}

/* Clear the tombstones that no backend's probe chain runs through. */
static void tombstones_trim(struct backend_slot *slots)
{
	unsigned char *needed = calloc(CANARY_BACKEND_SLOTS, 1);
	__u32 i, j, h;

	if (!needed)
		return; /* keeping them all is correct too */
	for (i = 0; i < CANARY_BACKEND_SLOTS; i++) {
		if (!backend_slot_used(&slots[i]))
			continue;
		for (h = canary_backend_slot(&slots[i].key), j = 0;
		     ((h + j) & SLOT_MASK) != i && j < CANARY_BACKEND_PROBES; j++)
			needed[(h + j) & SLOT_MASK] = 1;
	}
	for (i = 0; i < CANARY_BACKEND_SLOTS; i++)
		if (slots[i].key.family == CANARY_SLOT_TOMBSTONE && !needed[i])
			memset(&slots[i], 0, sizeof(slots[i]));
	free(needed);
}

/* Write the non-empty slots into a fresh inner map and swap it in. */
static int index_swap(struct canary_maps *m, const struct backend_slot *slots)
{
	__u32 *idx, n = 0, i, zero = 0;
	struct backend_slot *vals;
	int fd, err = 0;

	idx = calloc(CANARY_BACKEND_SLOTS, sizeof(*idx));
	vals = calloc(CANARY_BACKEND_SLOTS, sizeof(*vals));
	if (!idx || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < CANARY_BACKEND_SLOTS; i++) {
		if (!slots[i].key.family)
			continue;
		idx[n] = i;
		vals[n++] = slots[i];
	}
	/* A fresh map starts zeroed (all slots empty): write the used slots only. */
	fd = inner_map_create(m, "backend_slots", "backend_slot", sizeof(struct backend_slot),
			      CANARY_BACKEND_SLOTS);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	if (n && bpf_map_update_batch(fd, idx, vals, &n, NULL))
		err = -errno;
	if (!err && bpf_map_update_elem(m->backend_index, &zero, &fd, BPF_ANY))
		err = -errno;
	close(fd);
out:
	free(idx);
	free(vals);
	return err;
}

int backend_index_publish(struct canary_maps *m)
{
	struct backend_slot *old, *slots;
	struct canary_endpoint key, next;
	void *prev = NULL;
	__u32 i;
	int err, p;

	old = calloc(CANARY_BACKEND_SLOTS, sizeof(*old));
	slots = calloc(CANARY_BACKEND_SLOTS, sizeof(*slots));
	err = old && slots ? backend_index_read(m, old) : -ENOMEM;
	/* Freed slots first become tombstones; kept backends keep theirs (next hop too). */
	for (i = 0; !err && i < CANARY_BACKEND_SLOTS; i++)
		if (old[i].key.family)
			slots[i].key.family = CANARY_SLOT_TOMBSTONE;
	while (!err && bpf_map_get_next_key(m->backends, prev, &next) == 0) {
		struct backend_info v;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->backends, &key, &v) ||
		    (p = backend_index_find(old, &key)) < 0)
			continue;
		slots[p] = old[p];
		slot_fill(&slots[p], &key, &v);
	}
	/* Then the new backends. */
	prev = NULL;
	while (!err && bpf_map_get_next_key(m->backends, prev, &next) == 0) {
		struct backend_info v;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->backends, &key, &v) || backend_index_find(old, &key) >= 0)
			continue;
		err = slot_place(slots, &key, &v);
	}
	if (!err) {
		tombstones_trim(slots);
		err = index_swap(m, slots);
	}
	free(old);
	free(slots);
	return err;
}
