/* migrate.c: pinned state from the ABI before this one into this build's maps (see
 * migrate.h). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "maps/migrate.h"
#include "canary_flow.h"
#include "base/util.h"
#include "maps/apply.h"
#include "maps/bindex.h"
#include "maps/service.h"
#include "maps/stats.h"

/* ---- ABI 2, described by what differs from this ABI ----------------------------------
 * flow_state (the value of `flows` and `pending`) kept the backend's address, deltas and
 * both next hops, and 64-bit stamps; backend_slot (the reply index, rebuilt here from
 * `backends`) had no forward deltas and no next hop; there was no client_hops cache.
 * Every other layout is the same. */
struct abi2_nexthop {
	__u32 ifindex;
	__u8 dmac[6];
	__u8 smac[6];
};
struct abi2_flow_state {
	union canary_addr backend;
	__be16 backend_port;
	__u16 csum_ip, csum_l4;
	__u16 svc;
	__u8 arm, backend_idx, state, flags;
	__u32 err_flags;
	struct abi2_nexthop fwd_nh, rev_nh;
	__u64 fwd_seen_ns, rev_seen_ns, created_ns, syn_ns, req_ns;
	__u8 syn_count, http_state, http_pos, pad;
	__u16 http_code, pad2;
};
_Static_assert(sizeof(struct abi2_flow_state) == 112, "ABI 2's flow_state");
#define ABI2_ERR_BITS	 0x1fU	     /* RESET .. UNANSWERED, bits 0-4 */
#define ABI2_ERR_COUNTED (1U << 31)

/* Maps this ABI added: the old pins lack them. */
static bool map_is_new(const char *name)
{
	return !strcmp(name, CANARY_MAP_NAME(client_hops));
}

int migrate_pinned_abi(const char *root, uint32_t *abi)
{
	char path[PATH_MAX];
	uint32_t zero = 0;
	__u8 buf[256];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", root, CANARY_MAP_NAME(meta));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, buf))
		err = -errno;
	else
		memcpy(abi, buf, sizeof(*abi));
	close(fd);
	return err;
}

int migrate_open_old(const char *root, struct canary_maps *old)
{
	unsigned int i;

	memset(old, 0, sizeof(*old));
	snprintf(old->root, sizeof(old->root), "%s", root);
	for (i = 0; i < canary_map_count; i++) {
		const struct canary_map_desc *d = &canary_map_descs[i];
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", root, d->name);
		*canary_map_fd(old, d) = bpf_obj_get(path);
		if (*canary_map_fd(old, d) < 0 && !map_is_new(d->name)) {
			int err = -errno;

			log_error("cannot open the old pin %s: %s", path, strerror(errno));
			canary_maps_close(old);
			return err;
		}
	}
	return 0;
}

/* Copy every entry of a hash or trie with the same key and value layout. */
static int copy_entries(int from, int to, size_t ksize, size_t vsize, unsigned int *n)
{
	__u8 key[64], next[64], *val = malloc(vsize);
	void *prev = NULL;
	int err = 0;

	if (!val)
		return -ENOMEM;
	while (bpf_map_get_next_key(from, prev, next) == 0) {
		memcpy(key, next, ksize);
		prev = key;
		if (bpf_map_lookup_elem(from, key, val))
			continue;
		if (bpf_map_update_elem(to, key, val, BPF_ANY)) {
			err = -errno;
			break;
		}
		if (n)
			(*n)++;
	}
	free(val);
	return err;
}

/* meta: the old settings, this ABI, the new table's size. */
static int migrate_meta(struct canary_maps *old, struct canary_maps *new, uint32_t pending_capacity)
{
	struct canary_meta meta = {};
	__u8 buf[256] = {};
	__u32 zero = 0;

	if (bpf_map_lookup_elem(old->meta, &zero, buf))
		return -errno;
	memcpy(&meta, buf, sizeof(meta));
	meta.abi_version = CANARY_ABI_VERSION;
	meta.pending_capacity = pending_capacity;
	if (bpf_map_update_elem(new->meta, &zero, &meta, BPF_ANY))
		return -errno;
	return 0;
}

/* Services and their configs, generations kept (canaryd tracks them). */
static int migrate_services(struct canary_maps *old, struct canary_maps *new,
			    struct migrate_result *r)
{
	struct canary_endpoint key, next;
	void *prev = NULL;
	__u32 zero = 0;
	int err;

	while (bpf_map_get_next_key(old->services, prev, &next) == 0) {
		struct svc_info info;
		struct svc_config cfg;
		char name[CANARY_NAME_LEN + 8]; /* inner_map_create cuts it to a map name */
		int fd;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(old->services, &key, &info))
			continue;
		if (bpf_map_update_elem(new->services, &key, &info, BPF_ANY))
			return -errno;
		r->services++;
		if (svc_config_read(old, info.id, &cfg))
			continue; /* a service with no config yet */
		snprintf(name, sizeof(name), "svc_%s", info.name);
		fd = inner_map_create(new, name, "svc_config", sizeof(cfg), 1);
		if (fd < 0)
			return fd;
		err = bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY) ||
				      bpf_map_update_elem(new->svc_configs, &info.id, &fd, BPF_ANY)
			      ? -errno
			      : 0;
		close(fd);
		if (err)
			return err;
	}
	return 0;
}

/* Backends, as they were (draining ones too: their flows come across). */
static int migrate_backends(struct canary_maps *old, struct canary_maps *new,
			    struct migrate_result *r)
{
	struct canary_endpoint key, next;
	void *prev = NULL;

	while (bpf_map_get_next_key(old->backends, prev, &next) == 0) {
		struct backend_info v;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(old->backends, &key, &v))
			continue;
		if (bpf_map_update_elem(new->backends, &key, &v, BPF_ANY))
			return -errno;
		r->backends++;
	}
	return 0;
}

int migrate_config(struct canary_maps *old, struct canary_maps *new, uint32_t pending_capacity,
		   struct migrate_result *r)
{
	struct port_kinds *pk;
	__u32 zero = 0;
	int err;

	err = migrate_meta(old, new, pending_capacity);
	if (!err)
		err = migrate_services(old, new, r);
	if (!err)
		err = migrate_backends(old, new, r);
	/* Then the reply index, built from the backends. */
	if (!err)
		err = backend_index_publish(new);
	if (!err)
		err = copy_entries(old->overrides, new->overrides, sizeof(struct override_key),
				   sizeof(struct override_value), NULL);
	if (err)
		return err;
	pk = malloc(sizeof(*pk));
	if (!pk)
		return -ENOMEM;
	err = bpf_map_lookup_elem(old->ports, &zero, pk) ||
			      bpf_map_update_elem(new->ports, &zero, pk, BPF_ANY)
		      ? -errno
		      : 0;
	free(pk);
	return err;
}

struct flow_copy {
	struct canary_maps *new;
	struct migrate_result *r;
	struct backend_slot *slots; /* the new reply index */
	int err;
};

/* An ABI-2 entry in this ABI's layout: the backend by its slot in the new index.
 * Returns false when the index has no such backend (the entry is left behind). */
static bool flow_convert(const struct flow_copy *c, const struct flow_key *k,
			 const struct abi2_flow_state *o, struct flow_state *f)
{
	struct canary_endpoint be = {.addr = o->backend,
				     .port = o->backend_port,
				     .proto = k->svc.proto,
				     .family = k->svc.family};
	int slot = backend_index_find(c->slots, &be);
	__u64 seen = o->fwd_seen_ns > o->rev_seen_ns ? o->fwd_seen_ns : o->rev_seen_ns;

	if (slot < 0 || o->svc >= CANARY_MAX_SERVICES)
		return false;
	memset(f, 0, sizeof(*f));
	f->backend = slot;
	f->svc = o->svc;
	f->arm = o->arm;
	f->backend_idx = o->backend_idx;
	f->syn_count = o->syn_count;
	f->err_flags = (o->err_flags & ABI2_ERR_BITS) << CANARY_ERR_SHIFT |
		       (o->err_flags & ABI2_ERR_COUNTED ? CANARY_ERR_COUNTED : 0);
	f->state = o->state;
	f->flags = o->flags;
	f->http_state = o->http_state;
	f->http_pos = o->http_pos;
	f->http_code = o->http_code;
	f->seen = canary_stamp(seen);
	/* The one mark: the SYN's time during the handshake, else the request's. */
	f->mark_us = (__u32)((o->state == CANARY_FLOW_SYN_SENT ? o->syn_ns : o->req_ns) / 1000);
	return true;
}

static void copy_flow(struct flow_copy *c, const struct flow_key *k,
		      const struct abi2_flow_state *v)
{
	struct flow_state cur, f;
	bool pending = v->state == CANARY_FLOW_SYN_SENT || v->state == CANARY_FLOW_SYN_RECV ||
		       (v->flags & CANARY_FLOW_F_MIDSTREAM);

	if (bpf_map_lookup_elem(c->new->flows, k, &cur) == 0)
		return; /* the new program has it */
	if (bpf_map_lookup_elem(c->new->pending, k, &cur) == 0) {
		if (pending)
			return; /* copied already, or the new program has it */
		/* Copied while pending, verified by the old program since: promote it. */
		if (!flow_convert(c, k, v, &f))
			return;
		f.flags &= ~CANARY_FLOW_F_PENDING;
		if (bpf_map_update_elem(c->new->flows, k, &f, BPF_NOEXIST) == 0 &&
		    bpf_map_delete_elem(c->new->pending, k) == 0)
			c->r->flows++; /* then it was copied into both tables */
		return;
	}
	if (!flow_convert(c, k, v, &f))
		return;
	f.flags = (f.flags & ~CANARY_FLOW_F_PENDING) | (pending ? CANARY_FLOW_F_PENDING : 0);
	if (bpf_map_update_elem(pending ? c->new->pending : c->new->flows, k, &f, BPF_NOEXIST)) {
		if (errno != EEXIST)
			c->err = -errno;
		return;
	}
	if (pending)
		c->r->pending++;
	else
		c->r->flows++;
}

static int copy_entry(const void *k, const void *v, void *ctx)
{
	struct flow_copy *c = ctx;

	copy_flow(c, k, v);
	return c->err != 0;
}

/* Every entry of one ABI-2 flow table, in batches. */
static int copy_table(struct flow_copy *c, int fd)
{
	int err = canary_map_foreach(fd, sizeof(struct flow_key), sizeof(struct abi2_flow_state),
				     4096, copy_entry, c);

	return err < 0 ? err : c->err;
}

int migrate_flows(struct canary_maps *old, struct canary_maps *new, struct migrate_result *r)
{
	struct flow_copy c = {new, r, calloc(CANARY_BACKEND_SLOTS, sizeof(struct backend_slot)), 0};
	int err = c.slots ? backend_index_read(new, c.slots) : -ENOMEM;

	/* Pending first: a flow the old program verifies while the copy runs moves from
	 * its `pending` to its `flows`, so walking `flows` first could miss it in both.
	 * In this order it is copied as pending, and promoted when `flows` has it. */
	if (!err)
		err = copy_table(&c, old->pending);
	if (!err)
		err = copy_table(&c, old->flows);
	free(c.slots);
	return err;
}

/* Add a per-CPU slot of old (osize bytes per CPU) into new (nsize), word by word. */
static int add_percpu(int from, int to, __u32 key, size_t osize, size_t nsize)
{
	int ncpu = canary_ncpus(), c, err = 0;
	__u64 *o = calloc(ncpu, osize), *n = calloc(ncpu, nsize);
	size_t w;

	if (!o || !n) {
		err = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_elem(from, &key, o) || bpf_map_lookup_elem(to, &key, n)) {
		err = -errno;
		goto out;
	}
	for (c = 0; c < ncpu; c++)
		for (w = 0; w < osize / 8; w++)
			n[c * nsize / 8 + w] += o[c * osize / 8 + w];
	if (bpf_map_update_elem(to, &key, n, BPF_ANY))
		err = -errno;
out:
	free(o);
	free(n);
	return err;
}

int migrate_counters(struct canary_maps *old, struct canary_maps *new)
{
	int ncpu = canary_ncpus(), err = 0, c;
	__u32 k, zero = 0;
	__u64 *o, *n;

	for (k = 0; !err && k < CANARY_ARM_STATS_SLOTS; k++)
		err = add_percpu(old->arm_stats, new->arm_stats, k, sizeof(struct arm_stats),
				 sizeof(struct arm_stats));
	for (k = 0; !err && k < CANARY_BACKEND_STATS_SLOTS; k++)
		err = add_percpu(old->backend_stats, new->backend_stats, k,
				 sizeof(struct backend_stats), sizeof(struct backend_stats));
	if (err)
		return err;
	/* The reasons, word by word (the same layout). */
	o = calloc(ncpu, sizeof(struct reason_stats));
	n = calloc(ncpu, sizeof(struct reason_stats));
	if (!o || !n) {
		err = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_elem(old->reasons, &zero, o) ||
	    bpf_map_lookup_elem(new->reasons, &zero, n)) {
		err = -errno;
		goto out;
	}
	for (c = 0; c < ncpu * (int)(sizeof(struct reason_stats) / 8); c++)
		n[c] += o[c];
	if (bpf_map_update_elem(new->reasons, &zero, n, BPF_ANY))
		err = -errno;
out:
	free(o);
	free(n);
	return err;
}
