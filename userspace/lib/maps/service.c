/* service.c: turning service specs into map state (build, publish atomically, read
 * back), shared by canaryctl, canaryd and the tests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "maps/service.h"
#include "canary_csum.h"
#include "canary_flow.h"
#include "canary_hash.h"
#include "base/util.h"
#include "logic/maglev.h"


void service_spec_key(const struct service_spec *s, struct canary_endpoint *key)
{
	memset(key, 0, sizeof(*key));
	key->addr = s->vip;
	key->port = htons(s->port);
	key->proto = s->proto;
	key->family = (uint8_t)s->family;
}

/* Deltas that turn checksums over (from.addr, from.port) into ones over (to.addr, to.port). */
static void csum_deltas(int family, const union canary_addr *from_addr, __be16 from_port,
			const union canary_addr *to_addr, __be16 to_port, __u16 *ip, __u16 *l4)
{
	unsigned int alen = family == CANARY_AF_INET ? 4 : 16;
	__u16 a = canary_csum_delta(from_addr, to_addr, alen);

	*ip = a;
	*l4 = canary_csum_add(a, canary_csum_delta(&from_port, &to_port, 2));
}

/* Checksum deltas and Maglev rings for the backends already in cfg. */
static void service_config_rebuild(struct svc_config *cfg, const struct canary_endpoint *vip)
{
	int arm;
	unsigned int i;

	for (arm = 0; arm < CANARY_ARMS; arm++) {
		for (i = 0; i < cfg->nbackends[arm]; i++) {
			struct canary_backend *b = &cfg->backends[arm][i];

			csum_deltas(vip->family, &vip->addr, vip->port, &b->addr, b->port,
				    &b->csum_ip, &b->csum_l4);
		}
		maglev_fill(cfg->backends[arm], cfg->nbackends[arm], cfg->ring[arm]);
	}
}

void service_build_config(const struct service_spec *s, struct svc_config *cfg)
{
	struct canary_endpoint vip;
	union canary_addr m4, m6;
	int arm;
	unsigned int i;

	memset(cfg, 0, sizeof(*cfg));
	service_spec_key(s, &vip);
	cfg->salt = s->salt; /* config_apply chooses it when the file names none (salts.h) */
	cfg->canary_weight = s->weight_bp;
	cfg->hash_mode = s->hash_mode;
	addr_prefix_mask(CANARY_AF_INET, s->prefix_v4, &m4);
	addr_prefix_mask(CANARY_AF_INET6, s->prefix_v6, &m6);
	cfg->client_mask_v4 = m4.v4;
	memcpy(cfg->client_mask_v6, m6.v6, sizeof(cfg->client_mask_v6));
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		cfg->nbackends[arm] = s->nbackends[arm];
		for (i = 0; i < s->nbackends[arm]; i++) {
			cfg->backends[arm][i].addr = s->backends[arm][i].addr;
			cfg->backends[arm][i].port = htons(s->backends[arm][i].port);
		}
	}
	service_config_rebuild(cfg, &vip);
	if (s->noverrides)
		cfg->flags |= CANARY_SVC_F_OVERRIDES;
	if (s->http)
		cfg->flags |= CANARY_SVC_F_HTTP;
}

void backend_entry(const struct canary_endpoint *vip, const struct canary_backend *b,
		   uint16_t svc, int arm, int index, struct canary_endpoint *key,
		   struct backend_info *val)
{
	memset(key, 0, sizeof(*key));
	memset(val, 0, sizeof(*val));
	key->addr = b->addr;
	key->port = b->port;
	key->proto = vip->proto;
	key->family = vip->family;
	val->vip = *vip;
	val->svc = svc;
	val->arm = (uint8_t)arm;
	val->index = (uint8_t)index;
	csum_deltas(vip->family, &b->addr, b->port, &vip->addr, vip->port, &val->csum_ip,
		    &val->csum_l4);
}

void override_key_make(uint32_t svc_id, int family, const union canary_addr *addr, int plen,
		       struct override_key *key)
{
	canary_override_key(key, htonl(svc_id), (__u8)family, addr, (__u32)plen);
}

void override_key_parse(const struct override_key *key, int *family, union canary_addr *addr,
			int *plen)
{
	__u8 fam;
	__u32 bits;

	canary_override_key_parse(key, &fam, addr, &bits);
	*family = fam;
	*plen = (int)bits;
}

int service_overrides(struct canary_maps *m, uint32_t id, struct override_entry **out,
		      unsigned int *n)
{
	struct override_key key, next;
	struct override_value v;
	void *prev = NULL;
	unsigned int cap = 0;

	*out = NULL;
	*n = 0;
	while (bpf_map_get_next_key(m->overrides, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (ntohl(key.svc) != id || bpf_map_lookup_elem(m->overrides, &key, &v))
			continue;
		if (*n == cap) {
			unsigned int ncap = cap ? 2 * cap : 16;
			struct override_entry *e = realloc(*out, ncap * sizeof(*e));

			if (!e)
				return -ENOMEM;
			*out = e;
			cap = ncap;
		}
		(*out)[*n].key = key;
		(*out)[*n].val = v;
		(*n)++;
	}
	return 0;
}

int svc_config_read(struct canary_maps *m, uint32_t id, struct svc_config *cfg)
{
	__u32 zero = 0;

	return canary_inner_lookup(m->svc_configs, &id, &zero, cfg);
}

/* BTF ids that make inner maps readable in bpftool: the program's own BTF, found
 * through a map that carries it. Missing BTF only costs readability. */
static void inner_btf(struct canary_maps *m, const char *value_type,
		      struct bpf_map_create_opts *opts)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct btf *btf;
	int key_id, val_id;

	if (bpf_obj_get_info_by_fd(m->services, &info, &len) || !info.btf_id)
		return;
	btf = btf__load_from_kernel_by_id(info.btf_id);
	if (!btf)
		return;
	key_id = btf__find_by_name_kind(btf, "__u32", BTF_KIND_TYPEDEF);
	val_id = btf__find_by_name_kind(btf, value_type, BTF_KIND_STRUCT);
	if (key_id > 0 && val_id > 0) {
		int fd = bpf_btf_get_fd_by_id(info.btf_id);

		if (fd >= 0) {
			opts->btf_fd = fd;
			opts->btf_key_type_id = key_id;
			opts->btf_value_type_id = val_id;
		}
	}
	btf__free(btf);
}

int inner_map_create(struct canary_maps *m, const char *name, const char *value_type,
		     __u32 value_size, __u32 max_entries)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	char mname[BPF_OBJ_NAME_LEN];
	size_t i;
	int fd;

	/* Map names allow [A-Za-z0-9_.] and 15 characters. */
	snprintf(mname, sizeof(mname), "%s", name);
	for (i = 0; mname[i]; i++)
		if (mname[i] == '-')
			mname[i] = '_';
	inner_btf(m, value_type, &opts);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, mname, sizeof(__u32), value_size, max_entries,
			    &opts);
	if (fd < 0 && opts.btf_fd) {
		/* Retry without BTF rather than fail on a readability extra. */
		close(opts.btf_fd);
		opts.btf_fd = 0;
		opts.btf_key_type_id = opts.btf_value_type_id = 0;
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, mname, sizeof(__u32), value_size,
				    max_entries, &opts);
	} else if (opts.btf_fd) {
		close(opts.btf_fd);
	}
	return fd < 0 ? -errno : fd;
}

int svc_config_publish(struct canary_maps *m, uint32_t id, const char *name,
		       struct svc_config *cfg, uint32_t expected)
{
	struct svc_config cur;
	char mname[BPF_OBJ_NAME_LEN];
	__u32 zero = 0, now = 0;
	int fd, err = 0;

	cfg->generation = expected + 1;
	snprintf(mname, sizeof(mname), "svc_%s", name);
	fd = inner_map_create(m, mname, "svc_config", sizeof(*cfg), 1);
	if (fd < 0)
		return fd;
	if (bpf_map_update_elem(fd, &zero, cfg, BPF_ANY)) {
		err = -errno;
		goto out;
	}
	/* Compare, then swap: the live generation must still be the one the caller built
	 * on. The new inner map is ready, so only one syscall separates the two. */
	if (svc_config_read(m, id, &cur) == 0)
		now = cur.generation;
	if (now != expected) {
		cfg->generation = now;
		err = -ESTALE;
		goto out;
	}
	if (bpf_map_update_elem(m->svc_configs, &id, &fd, BPF_ANY))
		err = -errno;
out:
	close(fd);
	return err;
}

bool svc_config_equal(const struct svc_config *a, const struct svc_config *b)
{
	return !memcmp((const char *)a + sizeof(a->generation),
		       (const char *)b + sizeof(b->generation), sizeof(*a) - sizeof(a->generation));
}

static int cmp_state(const void *a, const void *b)
{
	return strcmp(((const struct service_state *)a)->info.name,
		      ((const struct service_state *)b)->info.name);
}

int service_list(struct canary_maps *m, struct service_state **out, unsigned int *n)
{
	struct canary_endpoint key, next;
	struct service_state *list;
	unsigned int cnt = 0;
	void *prev = NULL;
	int err;

	list = calloc(CANARY_MAX_SERVICES, sizeof(*list));
	if (!list)
		return -ENOMEM;
	while (bpf_map_get_next_key(m->services, prev, &next) == 0 && cnt < CANARY_MAX_SERVICES) {
		struct service_state *s = &list[cnt];

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->services, &key, &s->info))
			continue; /* deleted under us */
		s->key = key;
		err = svc_config_read(m, s->info.id, &s->cfg);
		if (err)
			memset(&s->cfg, 0, sizeof(s->cfg));
		cnt++;
	}
	qsort(list, cnt, sizeof(*list), cmp_state);
	*out = list;
	*n = cnt;
	return 0;
}

int service_find(struct canary_maps *m, const char *name, struct service_state *out)
{
	struct service_state *list;
	unsigned int n, i;
	char known[512] = "";
	size_t used = 0;
	int err;

	err = service_list(m, &list, &n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		if (!strcmp(list[i].info.name, name)) {
			*out = list[i];
			free(list);
			return 0;
		}
		if (used < sizeof(known) - 40)
			used += snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
					 list[i].info.name);
	}
	free(list);
	if (n)
		log_error("no service named '%s' (known: %s)", name, known);
	else
		log_error("no service named '%s': no services are configured yet; "
			  "apply a config with 'canaryctl apply -f FILE'",
			  name);
	return -ENOENT;
}

int service_set_weight(struct canary_maps *m, const char *name, uint16_t bp, uint16_t *old_bp)
{
	struct service_state s;
	int err;

	err = service_find(m, name, &s);
	if (err)
		return err;
	if (old_bp)
		*old_bp = s.cfg.canary_weight;
	if (s.cfg.canary_weight == bp)
		return 0;
	if (bp > 0 && s.cfg.nbackends[CANARY_ARM_CANARY] == 0) {
		log_error("service '%s' has no canary backends, so a canary weight above 0 "
			  "would send nothing to canary; add canary backends with "
			  "'canaryctl apply' first",
			  name);
		return -EINVAL;
	}
	if (bp < CANARY_WEIGHT_SCALE && s.cfg.nbackends[CANARY_ARM_STABLE] == 0) {
		log_error("service '%s' has no stable backends, so its canary weight must stay "
			  "100",
			  name);
		return -EINVAL;
	}
	s.cfg.canary_weight = bp;
	err = svc_config_publish(m, s.info.id, name, &s.cfg, s.cfg.generation);
	if (err == -ESTALE)
		log_error("service '%s' changed while its weight was being set (canaryd may have "
			  "rolled it back); nothing was changed: look at 'canaryctl status %s' "
			  "and try again",
			  name, name);
	else if (err)
		log_error("cannot update service '%s': %s", name, strerror(-err));
	return err;
}

struct flow_walk {
	flow_visit_fn fn;
	void *ctx;
};

static int flow_entry(const void *k, const void *v, void *ctx)
{
	struct flow_walk *w = ctx;

	return w->fn(k, v, w->ctx);
}

/* Every entry of one flow table, in batches. */
static int table_foreach(int fd, flow_visit_fn fn, void *ctx)
{
	struct flow_walk w = {fn, ctx};

	return canary_map_foreach(fd, sizeof(struct flow_key), sizeof(struct flow_state), 4096,
				  flow_entry, &w);
}

/* `pending` first: a flow verified during the walk is written to `flows` before it leaves
 * `pending`, so this order sees it once or twice, never not at all (backends_gc would
 * otherwise free the slot of a backend that still has it). */
int flows_foreach(struct canary_maps *m, flow_visit_fn fn, void *ctx)
{
	int err = m->pending >= 0 ? table_foreach(m->pending, fn, ctx) : 0;

	if (!err)
		err = table_foreach(m->flows, fn, ctx);
	return err > 0 ? 0 : err;
}

struct reset_ctx {
	struct canary_maps *m;
	uint32_t id;
	int arm;
	long n;
};

static int reset_visit(const struct flow_key *k, const struct flow_state *v, void *ctx)
{
	struct reset_ctx *c = ctx;
	int fd = v->flags & CANARY_FLOW_F_PENDING ? c->m->pending : c->m->flows;

	if (v->svc == c->id && v->arm == c->arm && bpf_map_delete_elem(fd, k) == 0)
		c->n++;
	return 0;
}

long service_reset_flows(struct canary_maps *m, uint32_t svc_id, int arm)
{
	struct reset_ctx c = {m, svc_id, arm, 0};
	int err = flows_foreach(m, reset_visit, &c);

	return err ? err : c.n;
}
