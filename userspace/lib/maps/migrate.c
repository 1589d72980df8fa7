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
#include "base/util.h"
#include "maps/apply.h"
#include "maps/route.h"
#include "maps/service.h"
#include "maps/stats.h"

/* ---- ABI 1, described by what differs from this ABI ----------------------------------
 * backend_info, arm_stats and canary_meta gained fields at their ends; reason_stats
 * gained pass_wrong_iface and flow_verified in the middle, so it is copied by name;
 * there was no pending table. Every other layout is the same. */
#define ABI1_BACKEND_INFO_SIZE offsetof(struct backend_info, ifindex)
#define ABI1_ARM_STATS_SIZE    offsetof(struct arm_stats, midstream_flows)
#define ABI1_META_SIZE	       offsetof(struct canary_meta, pending_capacity)
static const char *const abi1_reasons[] = {
	"pass_not_ip",	   "pass_not_service", "pass_vlan",	   "pass_fragment",
	"pass_malformed",  "pass_ipv6_ext",    "pass_no_neigh",	   "drop_no_backend",
	"drop_fib",	   "fwd_redirect",     "fwd_tx",	   "flow_new",
	"flow_midstream",  "flow_reused",      "flow_insert_fail", "reply_no_flow",
	"override_hits",   "arm_fallback",     "icmp_mapped",	   "icmp_unmatched",
};
#define ABI1_REASONS_SIZE (sizeof(abi1_reasons) / sizeof(abi1_reasons[0]) * 8)

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
		if (*canary_map_fd(old, d) < 0 && strcmp(d->name, CANARY_MAP_NAME(pending))) {
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
	memcpy(&meta, buf, ABI1_META_SIZE);
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

/* Backends, with the interface that faces each (new in this ABI). */
static int migrate_backends(struct canary_maps *old, struct canary_maps *new,
			    struct migrate_result *r)
{
	struct canary_endpoint key, next;
	void *prev = NULL;

	while (bpf_map_get_next_key(old->backends, prev, &next) == 0) {
		struct backend_info v = {};
		__u8 buf[256];

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(old->backends, &key, buf))
			continue;
		memcpy(&v, buf, ABI1_BACKEND_INFO_SIZE);
		if (route_ifindex(key.family, &key.addr, &v.ifindex))
			v.ifindex = 0;
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
	int err;
};

static int copy_flow(const struct flow_key *k, const struct flow_state *v, void *ctx)
{
	struct flow_copy *c = ctx;
	struct flow_state cur, f = *v;
	bool pending = f.state == CANARY_FLOW_SYN_SENT || f.state == CANARY_FLOW_SYN_RECV ||
		       (f.flags & CANARY_FLOW_F_MIDSTREAM);

	if (bpf_map_lookup_elem(c->new->flows, k, &cur) == 0 ||
	    bpf_map_lookup_elem(c->new->pending, k, &cur) == 0)
		return 0; /* copied already, or the new program has it */
	f.flags = (f.flags & ~CANARY_FLOW_F_PENDING) | (pending ? CANARY_FLOW_F_PENDING : 0);
	if (bpf_map_update_elem(pending ? c->new->pending : c->new->flows, k, &f, BPF_NOEXIST)) {
		if (errno != EEXIST)
			c->err = -errno;
		return 0;
	}
	if (pending)
		c->r->pending++;
	else
		c->r->flows++;
	return 0;
}

int migrate_flows(struct canary_maps *old, struct canary_maps *new, struct migrate_result *r)
{
	struct flow_copy c = {new, r, 0};
	int err = flows_foreach(old, copy_flow, &c);

	return err ? err : c.err;
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
	unsigned int i, j;

	for (k = 0; !err && k < CANARY_ARM_STATS_SLOTS; k++)
		err = add_percpu(old->arm_stats, new->arm_stats, k, ABI1_ARM_STATS_SIZE,
				 sizeof(struct arm_stats));
	for (k = 0; !err && k < CANARY_BACKEND_STATS_SLOTS; k++)
		err = add_percpu(old->backend_stats, new->backend_stats, k,
				 sizeof(struct backend_stats), sizeof(struct backend_stats));
	if (err)
		return err;
	/* The reasons by name: two new ones sit between the old ones. */
	o = calloc(ncpu, ABI1_REASONS_SIZE);
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
	for (i = 0; i < ABI1_REASONS_SIZE / 8; i++)
		for (j = 0; j < reason_field_count; j++)
			if (!strcmp(abi1_reasons[i], reason_fields[j].name))
				for (c = 0; c < ncpu; c++)
					n[c * sizeof(struct reason_stats) / 8 +
					  reason_fields[j].offset / 8] += o[c * ABI1_REASONS_SIZE / 8 + i];
	if (bpf_map_update_elem(new->reasons, &zero, n, BPF_ANY))
		err = -errno;
out:
	free(o);
	free(n);
	return err;
}
