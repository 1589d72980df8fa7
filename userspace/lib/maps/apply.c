/* apply.c: make the maps match a validated services file, service by service, in an
 * order that never lets a packet see a half-made change:
 *   reply entries for new backends -> new overrides -> the svc_config swap (one
 *   update) -> the services key -> removal of stale overrides and backends. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "maps/apply.h"
#include "canary_hash.h"
#include "base/util.h"
#include "logic/salts.h"
#include "maps/route.h"
#include "maps/service.h"

/* What an apply does to one service of the file. */
struct svc_change {
	const struct service_spec *spec;
	struct service_state *cur; /* NULL for a new service */
	uint32_t id;
	struct canary_endpoint key;
	struct svc_config cfg;
	bool key_changed, cfg_changed, ov_changed;
};

/* One run of config_apply: the file, the services the maps hold now, and one change
 * per service of the file (changes[i] is cfg->services[i]'s). */
struct apply_run {
	struct canary_maps *m;
	const struct canary_config *cfg;
	const struct apply_opts *opts;
	struct apply_summary *sum;
	struct service_state *cur; /* the live services */
	unsigned int ncur;
	struct svc_change *changes;
	struct salt_table *salts;
	struct override_entry *ov; /* one service's live overrides (overrides_reread) */
	unsigned int nov;
};

static bool same_key(const struct canary_endpoint *a, const struct canary_endpoint *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* Read service id's overrides into *ov (replacing what it held). */
static int overrides_reread(struct canary_maps *m, uint32_t id, struct override_entry **ov,
			    unsigned int *n)
{
	free(*ov);
	return service_overrides(m, id, ov, n);
}

static bool ov_spec_present(const struct service_spec *s, uint32_t id,
			    const struct override_key *k, const struct override_value *v)
{
	unsigned int i;

	for (i = 0; i < s->noverrides; i++) {
		struct override_key sk;

		override_key_make(id, s->overrides[i].family, &s->overrides[i].addr,
				  s->overrides[i].plen, &sk);
		if (!memcmp(&sk, k, sizeof(sk)) && (!v || v->arm == (uint32_t)s->overrides[i].arm))
			return true;
	}
	return false;
}

static bool overrides_differ(const struct service_spec *s, uint32_t id,
			     const struct override_entry *ov, unsigned int n)
{
	unsigned int i;

	if (n != s->noverrides)
		return true;
	for (i = 0; i < n; i++)
		if (!ov_spec_present(s, id, &ov[i].key, &ov[i].val))
			return true;
	return false;
}

/* Zero one backend position's counters (data plane and sweeper slots). */
static int backend_slot_reset(struct canary_maps *m, uint32_t id, int arm, uint32_t idx)
{
	void *zero = calloc(canary_ncpus(), sizeof(struct backend_stats));
	uint32_t k[2] = {CANARY_BACKEND_SLOT(id, arm, idx), CANARY_BACKEND_SWEEP_SLOT(id, arm, idx)};
	int i, err = 0;

	if (!zero)
		return -ENOMEM;
	for (i = 0; i < 2; i++)
		if (bpf_map_update_elem(m->backend_stats, &k[i], zero, BPF_ANY))
			err = -errno;
	free(zero);
	return err;
}

/* Per-backend counters are kept by position in the arm's list: where a position now
 * names another backend, its counters start again from zero. */
static int backend_slots_follow(struct canary_maps *m, uint32_t id, const struct svc_config *old,
				const struct svc_config *new)
{
	unsigned int i, n;
	int arm, err = 0;

	for (arm = 0; arm < CANARY_ARMS && !err; arm++) {
		n = old->nbackends[arm] > new->nbackends[arm] ? old->nbackends[arm]
							      : new->nbackends[arm];
		for (i = 0; i < n && !err; i++) {
			const struct canary_backend *a = &old->backends[arm][i];
			const struct canary_backend *b = &new->backends[arm][i];

			if (i < old->nbackends[arm] && i < new->nbackends[arm] &&
			    a->port == b->port && !memcmp(&a->addr, &b->addr, sizeof(a->addr)))
				continue;
			err = backend_slot_reset(m, id, arm, i);
		}
	}
	return err;
}

static int mark_busy(const struct flow_key *k, const struct flow_state *v, void *ctx)
{
	bool *busy = ctx;

	busy[v->svc] = true; /* a __u8: every value is a service id */
	return 0;
}

/* Zero a service id's per-arm and per-backend counters (for a fresh service). */
static int stats_reset(struct canary_maps *m, uint32_t id)
{
	void *zero = calloc(canary_ncpus(), sizeof(struct arm_stats));
	int arm, err = 0;
	uint32_t i, k;

	if (!zero)
		return -ENOMEM;
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		uint32_t slots[2] = {CANARY_ARM_SLOT(id, arm), CANARY_SWEEP_SLOT(id, arm)};

		for (k = 0; k < 2; k++)
			if (bpf_map_update_elem(m->arm_stats, &slots[k], zero, BPF_ANY))
				err = -errno;
		for (i = 0; i < CANARY_MAX_BACKENDS; i++) {
			int e = backend_slot_reset(m, id, arm, i);

			if (e)
				err = e;
		}
	}
	free(zero);
	return err;
}

/* Rewrite the ports map from the services and backends in the maps, plus the ports
 * of `also` (NULL: none), so bits can be set before those services exist. */
static int ports_sync(struct canary_maps *m, const struct canary_config *also)
{
	struct canary_endpoint key, next;
	struct port_kinds *pk;
	void *prev = NULL;
	__u32 zero = 0;
	unsigned int i, a;
	int arm, err = 0;

	pk = calloc(1, sizeof(*pk));
	if (!pk)
		return -ENOMEM;
	while (bpf_map_get_next_key(m->services, prev, &next) == 0) {
		key = next;
		prev = &key;
		pk->kind[key.port] |= CANARY_PORT_SERVICE;
	}
	prev = NULL;
	while (bpf_map_get_next_key(m->backends, prev, &next) == 0) {
		key = next;
		prev = &key;
		pk->kind[key.port] |= CANARY_PORT_BACKEND;
	}
	for (i = 0; also && i < also->nservices; i++) {
		const struct service_spec *s = &also->services[i];

		pk->kind[htons(s->port)] |= CANARY_PORT_SERVICE;
		for (arm = 0; arm < CANARY_ARMS; arm++)
			for (a = 0; a < s->nbackends[arm]; a++)
				pk->kind[htons(s->backends[arm][a].port)] |= CANARY_PORT_BACKEND;
	}
	if (bpf_map_update_elem(m->ports, &zero, pk, BPF_ANY))
		err = -errno;
	free(pk);
	return err;
}

/* Describe what differs between two configs, for the per-service report line. */
static void describe_change(const struct svc_config *a, const struct svc_config *b,
			    bool key_changed, bool ov_changed, char *buf, size_t len)
{
	char w1[16], w2[16];
	size_t used = 0;

	buf[0] = 0;
#define ADD(...) used += snprintf(buf + used, used < len ? len - used : 0, __VA_ARGS__)
	if (key_changed)
		ADD("%svip/port/protocol (connections to the old one end)", used ? ", " : "");
	if (a->canary_weight != b->canary_weight)
		ADD("%scanary_weight %s%% -> %s%%", used ? ", " : "",
		    bp_str(a->canary_weight, w1, sizeof(w1)),
		    bp_str(b->canary_weight, w2, sizeof(w2)));
	if (a->hash_mode != b->hash_mode || a->client_mask_v4 != b->client_mask_v4 ||
	    memcmp(a->client_mask_v6, b->client_mask_v6, sizeof(a->client_mask_v6)))
		ADD("%shash", used ? ", " : "");
	if (a->salt != b->salt)
		ADD("%ssalt", used ? ", " : "");
	if ((a->flags ^ b->flags) & CANARY_SVC_F_HTTP)
		ADD("%shttp", used ? ", " : "");
	if (a->nbackends[0] != b->nbackends[0] ||
	    memcmp(a->backends[0], b->backends[0], sizeof(a->backends[0])))
		ADD("%sstable backends", used ? ", " : "");
	if (a->nbackends[1] != b->nbackends[1] ||
	    memcmp(a->backends[1], b->backends[1], sizeof(a->backends[1])))
		ADD("%scanary backends", used ? ", " : "");
	if (ov_changed)
		ADD("%soverrides", used ? ", " : "");
#undef ADD
}

/* The interface that faces a backend: its replies are taken only from there (see
 * backend_info.ifindex). With no route yet, any interface (and a warning). */
static void backend_ifindex(const struct canary_endpoint *k, struct backend_info *v)
{
	char ep[80];
	int err = route_ifindex(k->family, &k->addr, &v->ifindex);

	if (err) {
		v->ifindex = 0;
		endpoint_str(k->family, &k->addr, ntohs(k->port), ep, sizeof(ep));
		log_warn("backend %s: no route to it from here (%s); its replies are taken on any "
			 "interface until an apply finds one",
			 ep, strerror(-err));
	}
}

/* Write reply entries for every backend of the change's new config. Returns how many
 * entries were written (0: all were already there as they are), or -errno. */
static int backends_upsert(struct canary_maps *m, const struct svc_change *p)
{
	int arm, n = 0;
	unsigned int i;

	for (arm = 0; arm < CANARY_ARMS; arm++) {
		for (i = 0; i < p->cfg.nbackends[arm]; i++) {
			struct canary_endpoint k;
			struct backend_info v, cur;

			backend_entry(&p->key, &p->cfg.backends[arm][i], p->id, arm, i, &k, &v);
			backend_ifindex(&k, &v);
			if (bpf_map_lookup_elem(m->backends, &k, &cur) == 0 &&
			    !memcmp(&cur, &v, sizeof(v)))
				continue;
			if (bpf_map_update_elem(m->backends, &k, &v, BPF_ANY))
				return -errno;
			n++;
		}
	}
	return n;
}

static bool cfg_has_backend(const struct svc_config *cfg, const struct canary_endpoint *k)
{
	int arm;
	unsigned int i;

	for (arm = 0; arm < CANARY_ARMS; arm++)
		for (i = 0; i < cfg->nbackends[arm]; i++)
			if (cfg->backends[arm][i].port == k->port &&
			    !memcmp(&cfg->backends[arm][i].addr, &k->addr, sizeof(k->addr)))
				return true;
	return false;
}

/* Mark reply entries of service id that are not backends of cfg under the service key
 * svc (cfg NULL: all) as draining: flows pinned to a removed backend still need their
 * replies rewritten. An entry of another protocol or family is no backend any more. */
static int backends_mark_draining(struct canary_maps *m, uint32_t id, const struct svc_config *cfg,
				  const struct canary_endpoint *svc)
{
	struct canary_endpoint key, next;
	struct backend_info v;
	void *prev = NULL;

	while (bpf_map_get_next_key(m->backends, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->backends, &key, &v) || v.svc != id)
			continue;
		if (cfg && key.proto == svc->proto && key.family == svc->family &&
		    cfg_has_backend(cfg, &key))
			continue;
		if (v.flags & CANARY_BACKEND_F_DRAINING)
			continue;
		v.flags |= CANARY_BACKEND_F_DRAINING;
		if (bpf_map_update_elem(m->backends, &key, &v, BPF_EXIST))
			return -errno;
	}
	return 0;
}

struct drain_scan {
	unsigned int n;
	struct canary_endpoint keys[CANARY_MAX_BACKEND_KEYS];
	struct backend_info vals[CANARY_MAX_BACKEND_KEYS];
	unsigned int refs[CANARY_BACKEND_SLOTS]; /* flows per reply-index slot */
	struct backend_slot slots[CANARY_BACKEND_SLOTS];
};

static int drain_visit(const struct flow_key *k, const struct flow_state *v, void *ctx)
{
	struct drain_scan *s = ctx;

	(void)k;
	s->refs[v->backend & (CANARY_BACKEND_SLOTS - 1)]++;
	return 0;
}

/* Delete the reply entries of removed backends that no flow uses any more (flows name
 * their backend by its slot in the reply index). */
static int backends_gc(struct canary_maps *m, unsigned int *deleted, unsigned int *kept)
{
	struct canary_endpoint key, next;
	struct drain_scan *s;
	void *prev = NULL;
	unsigned int i;
	int err, slot;

	*deleted = *kept = 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	while (bpf_map_get_next_key(m->backends, prev, &next) == 0 && s->n < CANARY_MAX_BACKEND_KEYS) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->backends, &key, &s->vals[s->n]))
			continue;
		if (!(s->vals[s->n].flags & CANARY_BACKEND_F_DRAINING))
			continue;
		s->keys[s->n++] = key;
	}
	err = s->n ? backend_index_read(m, s->slots) : 0;
	if (!err && s->n)
		err = flows_foreach(m, drain_visit, s);
	for (i = 0; !err && i < s->n; i++) {
		slot = backend_index_find(s->slots, &s->keys[i]);
		if (slot >= 0 && s->refs[slot]) {
			(*kept)++;
			continue;
		}
		if (bpf_map_delete_elem(m->backends, &s->keys[i]) == 0)
			(*deleted)++;
	}
	free(s);
	return err;
}

/* Backends of the file that the maps say belong to a service the file does not
 * name: refuse, rather than steal another service's backend. */
static int check_foreign_backends(struct canary_maps *m, const struct canary_config *cfg,
				  const struct svc_change *changes, struct service_state *cur,
				  unsigned int ncur, bool prune)
{
	struct canary_endpoint key, next;
	struct backend_info v;
	void *prev = NULL;
	unsigned int i, j;
	int arm, errors = 0;

	while (bpf_map_get_next_key(m->backends, prev, &next) == 0) {
		bool ours = false;

		key = next;
		prev = &key;
		/* Draining entries of removed backends may be taken over. */
		if (bpf_map_lookup_elem(m->backends, &key, &v) ||
		    (v.flags & CANARY_BACKEND_F_DRAINING))
			continue;
		for (i = 0; i < cfg->nservices; i++)
			if (changes[i].id == v.svc && changes[i].cur)
				ours = true;
		/* With --prune every other service goes away: its backends are free. */
		if (ours || prune)
			continue;
		for (i = 0; i < cfg->nservices; i++) {
			for (arm = 0; arm < CANARY_ARMS; arm++) {
				for (j = 0; j < changes[i].cfg.nbackends[arm]; j++) {
					const struct canary_backend *b =
					    &changes[i].cfg.backends[arm][j];
					const char *owner = "another service";
					char ep[80];
					unsigned int c;

					if (b->port != key.port ||
					    key.proto != changes[i].key.proto ||
					    memcmp(&b->addr, &key.addr, sizeof(key.addr)))
						continue;
					for (c = 0; c < ncur; c++)
						if (cur[c].info.id == v.svc)
							owner = cur[c].info.name;
					endpoint_str(key.family, &key.addr, ntohs(key.port), ep,
						     sizeof(ep));
					log_error(
					    "%s:%d: services[%u].%s: backend %s belongs to "
					    "service '%s', which this file does not name; remove "
					    "it there first (or apply both together)",
					    cfg->file, changes[i].spec->backends[arm][j].line, i,
					    arm_name(arm), ep, owner);
					errors++;
				}
			}
		}
	}
	return errors ? -EINVAL : 0;
}

/* Whether the file names a service called name. */
static bool config_names(const struct canary_config *cfg, const char *name)
{
	unsigned int i;

	for (i = 0; i < cfg->nservices; i++)
		if (!strcmp(cfg->services[i].name, name))
			return true;
	return false;
}

/* Delete a services key unless it already serves another service (VIPs moved around). */
static void service_key_drop(struct canary_maps *m, const struct canary_endpoint *key, uint32_t id)
{
	struct svc_info now;

	if (bpf_map_lookup_elem(m->services, key, &now) == 0 && now.id == id)
		bpf_map_delete_elem(m->services, key);
}

/* ---- planning: nothing is written ---------------------------------------------------- */

/* Plan service i of the file: its key and config, the live service of that name, its
 * salt. Returns -EINVAL, after saying why, when its VIP is that of another live service
 * that the file neither renames nor prunes. */
static int change_plan(struct apply_run *a, unsigned int i)
{
	const struct canary_config *cfg = a->cfg;
	struct svc_change *p = &a->changes[i];
	unsigned int j;
	int err = 0;

	p->spec = &cfg->services[i];
	service_spec_key(p->spec, &p->key);
	service_build_config(p->spec, &p->cfg);
	for (j = 0; j < a->ncur; j++)
		if (!strcmp(a->cur[j].info.name, p->spec->name))
			p->cur = &a->cur[j];
	/* The salt: the file's, else the live one (clients keep their arms), else the
	 * one recorded for this name, else a new secret. */
	if (!p->spec->salt_set && p->cur)
		p->cfg.salt = p->cur->cfg.salt;
	else if (!p->spec->salt_set && !salts_get(a->salts, p->spec->name, &p->cfg.salt))
		p->cfg.salt = salt_random();
	for (j = 0; j < a->ncur; j++) {
		if (!same_key(&a->cur[j].key, &p->key) || &a->cur[j] == p->cur)
			continue;
		if (!config_names(cfg, a->cur[j].info.name) && !a->opts->prune) {
			log_error(
			    "%s:%d: services[%u].vip: service '%s' already uses this vip, port "
			    "and protocol; remove or change it first (or use --prune)",
			    cfg->file, p->spec->line, i, a->cur[j].info.name);
			err = -EINVAL;
		}
	}
	return err;
}

/* Give each new service a free id. A removed service's flows keep going (they drain)
 * and keep counting under its id, so a new service must not take an id that flows
 * still carry. Returns -EINVAL, after saying why, when no id is free. */
static int ids_assign(struct apply_run *a)
{
	bool used[CANARY_MAX_SERVICES] = {}, busy[CANARY_MAX_SERVICES] = {};
	const struct canary_config *cfg = a->cfg;
	unsigned int i, j;

	for (i = 0; i < a->ncur; i++)
		used[a->cur[i].info.id] = true;
	for (i = 0; i < cfg->nservices; i++)
		if (!a->changes[i].cur) {
			flows_foreach(a->m, mark_busy, busy);
			break;
		}
	for (i = 0; i < cfg->nservices; i++) {
		struct svc_change *p = &a->changes[i];

		if (p->cur) {
			p->id = p->cur->info.id;
			continue;
		}
		for (j = 0; j < CANARY_MAX_SERVICES && (used[j] || busy[j]); j++)
			;
		if (j == CANARY_MAX_SERVICES) {
			log_error("%s:%d: services[%u]: no free service slot (%d in all; flows of "
				  "removed services hold some until they end); remove services "
				  "with --prune, or wait for their flows to end",
				  cfg->file, p->spec->line, i, CANARY_MAX_SERVICES);
			return -EINVAL;
		}
		used[j] = true;
		p->id = j;
	}
	return 0;
}

/* What differs, for each live service of the file: its key, its config, its overrides
 * (read from the trie). */
static int changes_detect(struct apply_run *a)
{
	unsigned int i;
	int err;

	for (i = 0; i < a->cfg->nservices; i++) {
		struct svc_change *p = &a->changes[i];

		if (!p->cur) {
			p->cfg_changed = p->key_changed = p->ov_changed = true;
			continue;
		}
		p->key_changed = !same_key(&p->cur->key, &p->key);
		p->cfg_changed = !svc_config_equal(&p->cur->cfg, &p->cfg);
		err = overrides_reread(a->m, p->id, &a->ov, &a->nov);
		if (err) {
			log_error("%s: cannot read the overrides of '%s': %s; nothing was changed",
				  a->cfg->file, p->spec->name, strerror(-err));
			return err;
		}
		p->ov_changed = overrides_differ(p->spec, p->id, a->ov, a->nov);
	}
	return 0;
}

/* Plan every service before writing anything: the salts, each service's change, the
 * checks of the file against the live maps (VIPs, capacity, ids, backends of other
 * services), then what differs. Returns 0, or -errno after saying why (nothing was
 * changed). */
static int apply_plan(struct apply_run *a)
{
	const struct canary_config *cfg = a->cfg;
	unsigned int i, total_ov = 0;
	int err = 0, e;

	if (a->opts->salt_file) {
		char why[1024];

		err = salts_load(a->opts->salt_file, a->salts, why, sizeof(why));
		if (err) {
			log_error("%s; nothing was changed", why);
			return err;
		}
	}
	/* Every problem of the file is reported, not only the first. */
	for (i = 0; i < cfg->nservices; i++) {
		e = change_plan(a, i);
		if (e)
			err = e;
		total_ov += cfg->services[i].noverrides;
	}
	if (total_ov > CANARY_MAX_OVERRIDES) {
		log_error("%s: %u overrides in all; at most %d are supported", cfg->file, total_ov,
			  CANARY_MAX_OVERRIDES);
		err = -EINVAL;
	}
	e = ids_assign(a);
	if (e)
		err = e;
	if (!err)
		err =
		    check_foreign_backends(a->m, cfg, a->changes, a->cur, a->ncur, a->opts->prune);
	if (err) {
		log_error("%s: nothing was changed", cfg->file);
		return err;
	}
	return changes_detect(a);
}

/* ---- execution --------------------------------------------------------------------------- */

/* Count the change and report it (one line); false when nothing is to be written (the
 * service is unchanged, or this is a dry run). */
static bool change_report(struct apply_run *a, const struct svc_change *p)
{
	const struct apply_opts *opts = a->opts;
	const char *name = p->spec->name;
	char what[256];

	if (p->cur && !p->key_changed && !p->cfg_changed && !p->ov_changed) {
		a->sum->unchanged++;
		if (opts->out)
			fprintf(opts->out, "%s: unchanged\n", name);
		return false;
	}
	if (p->cur)
		describe_change(&p->cur->cfg, &p->cfg, p->key_changed, p->ov_changed, what,
				sizeof(what));
	if (opts->out)
		fprintf(opts->out, "%s: %s%s%s\n", name, opts->dry_run ? "would be " : "",
			p->cur ? "changed: " : "created", p->cur ? what : "");
	if (p->cur)
		a->sum->changed++;
	else
		a->sum->created++;
	return !opts->dry_run;
}

/* Add the file's overrides of the service, before its config swap can use them. */
static int overrides_add(struct canary_maps *m, const struct svc_change *p)
{
	const struct service_spec *s = p->spec;
	unsigned int j;

	for (j = 0; j < s->noverrides; j++) {
		struct override_key k;
		struct override_value v = {.arm = (uint32_t)s->overrides[j].arm};

		override_key_make(p->id, s->overrides[j].family, &s->overrides[j].addr,
				  s->overrides[j].plen, &k);
		if (bpf_map_update_elem(m->overrides, &k, &v, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* Swap in service i's new config with one update, its per-backend counters following
 * their backends. Never overwrites a change this apply has not seen (-ESTALE). */
static int config_swap(struct apply_run *a, struct svc_change *p, unsigned int i)
{
	const struct service_spec *s = p->spec;
	uint32_t gen = p->cur ? p->cur->cfg.generation : 0;
	int err = 0;

	if (p->cur)
		err = backend_slots_follow(a->m, p->id, &p->cur->cfg, &p->cfg);
	if (!err)
		err = svc_config_publish(a->m, p->id, s->name, &p->cfg, gen);
	if (err == -ESTALE)
		log_error("%s:%d: services[%u]: '%s' changed while this apply ran (generation "
			  "%u -> %u: canaryd may have rolled it back); it was left as it is; look "
			  "at 'canaryctl status %s' and apply again",
			  a->cfg->file, s->line, i, s->name, gen, p->cfg.generation, s->name);
	return err;
}

/* Point the service's key at it and drop its old key. */
static int service_key_move(struct canary_maps *m, const struct svc_change *p)
{
	struct svc_info info = {.id = p->id};

	snprintf(info.name, sizeof(info.name), "%s", p->spec->name);
	if (bpf_map_update_elem(m->services, &p->key, &info, BPF_ANY))
		return -errno;
	if (p->cur)
		service_key_drop(m, &p->cur->key, p->id);
	return 0;
}

/* Write service i's change, in the order that never exposes a half-made service: fresh
 * counters, reply entries, new overrides, the config swap, the services key, then the
 * removal of stale overrides and backends. */
static int change_write(struct apply_run *a, struct svc_change *p, unsigned int i)
{
	struct canary_maps *m = a->m;
	unsigned int j;
	int err = 0;

	if (!p->cur)
		err = stats_reset(m, p->id);
	if (err)
		return err;
	/* New or moved backends need their reply entries in the index before the
	 * config swap below can send a flow to them. */
	err = backends_upsert(m, p);
	if (err > 0)
		err = backend_index_publish(m);
	if (!err)
		err = overrides_add(m, p);
	if (!err && p->cfg_changed)
		err = config_swap(a, p, i);
	if (!err && p->key_changed)
		err = service_key_move(m, p);
	if (!err)
		err = overrides_reread(m, p->id, &a->ov, &a->nov);
	if (err)
		return err;
	for (j = 0; j < a->nov; j++)
		if (!ov_spec_present(p->spec, p->id, &a->ov[j].key, NULL))
			bpf_map_delete_elem(m->overrides, &a->ov[j].key);
	return backends_mark_draining(m, p->id, &p->cfg, &p->key);
}

/* Services in the maps that the file does not name: left as they are, or, with
 * --prune, removed (their backends kept draining while flows use them). */
static int services_prune(struct apply_run *a)
{
	const struct apply_opts *opts = a->opts;
	struct canary_maps *m = a->m;
	unsigned int i, j;
	int err;

	for (i = 0; i < a->ncur; i++) {
		const struct service_state *s = &a->cur[i];

		if (config_names(a->cfg, s->info.name))
			continue;
		if (!opts->prune) {
			a->sum->kept++;
			if (opts->out)
				fprintf(opts->out,
					"%s: not in %s, left as it is (--prune removes it)\n",
					s->info.name, a->cfg->file);
			continue;
		}
		a->sum->removed++;
		if (opts->out)
			fprintf(opts->out, "%s: %sremoved\n", s->info.name,
				opts->dry_run ? "would be " : "");
		if (opts->dry_run)
			continue;
		/* The key may already serve a service of this file (it took over the VIP). */
		service_key_drop(m, &s->key, s->info.id);
		bpf_map_delete_elem(m->svc_configs, &s->info.id);
		err = overrides_reread(m, s->info.id, &a->ov, &a->nov);
		if (err)
			return err;
		for (j = 0; j < a->nov; j++)
			bpf_map_delete_elem(m->overrides, &a->ov[j].key);
		err = backends_mark_draining(m, s->info.id, NULL, NULL);
		if (err)
			return err;
	}
	return 0;
}

/* After the services: record their salts, delete the reply entries no flow uses any
 * more, rebuild the reply index and clear the port bits nothing needs. */
static int apply_finish(struct apply_run *a)
{
	const struct apply_opts *opts = a->opts;
	unsigned int i;
	int err;

	if (opts->dry_run)
		return 0;
	if (opts->salt_file) {
		for (i = 0; i < a->cfg->nservices; i++)
			salts_set(a->salts, a->changes[i].spec->name, a->changes[i].cfg.salt);
		err = salts_save(opts->salt_file, a->salts);
		if (err)
			log_warn("cannot record the services' salts in %s: %s; they live in the maps "
				 "only, and a fresh attach would draw new ones",
				 opts->salt_file, strerror(-err));
	}
	err = backends_gc(a->m, &a->sum->drained, &a->sum->draining);
	if (!err)
		err = backend_index_publish(a->m);
	if (!err)
		err = ports_sync(a->m, NULL);
	return err;
}

int config_apply(struct canary_maps *m, const struct canary_config *cfg,
		 const struct apply_opts *opts, struct apply_summary *sum)
{
	struct apply_run a = {.m = m, .cfg = cfg, .opts = opts, .sum = sum};
	unsigned int i;
	int err;

	memset(sum, 0, sizeof(*sum));
	a.salts = calloc(1, sizeof(*a.salts));
	if (!a.salts)
		return -ENOMEM;
	err = service_list(m, &a.cur, &a.ncur);
	if (err) {
		free(a.salts);
		return err;
	}
	a.changes = calloc(cfg->nservices ? cfg->nservices : 1, sizeof(*a.changes));
	if (!a.changes) {
		err = -ENOMEM;
		goto out;
	}
	err = apply_plan(&a);
	if (err)
		goto out;

	/* Execute. Port filter bits for everything old and new go first. */
	if (!opts->dry_run) {
		err = ports_sync(m, cfg);
		if (err)
			goto fail;
	}
	for (i = 0; i < cfg->nservices; i++) {
		if (!change_report(&a, &a.changes[i]))
			continue;
		err = change_write(&a, &a.changes[i], i);
		if (err)
			goto fail;
	}
	err = services_prune(&a);
	if (!err)
		err = apply_finish(&a);
	if (!err)
		goto out;
fail:
	log_error("applying %s failed part-way: %s; the services reported above were changed, "
		  "re-run the same apply to finish",
		  cfg->file, strerror(-err));
out:
	free(a.cur);
	free(a.changes);
	free(a.ov);
	free(a.salts);
	return err;
}
