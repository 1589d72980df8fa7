/* config.c: parsing and validating the services file for `canaryctl apply`. */
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logic/config.h"
#include "base/util.h"
#include "base/yamlutil.h"

static const char *const top_keys[] = {"services", NULL};
static const char *const svc_keys[] = {
	"name",		 "vip",		    "port",	     "protocol", "hash", "client_prefix_v4",
	"client_prefix_v6", "canary_weight", "salt",	     "http",	 "stable", "canary",
	"overrides",	 NULL};
static const char *const ov_keys[] = {"prefix", "arm", NULL};

/* An error about field key of the mapping at path, reported at the key's value. */
static void __attribute__((format(printf, 5, 6)))
ferr(struct ydoc *d, yaml_node_t *map, const char *path, const char *key, const char *fmt, ...)
{
	char field[300], msg[512];
	va_list ap;

	snprintf(field, sizeof(field), "%s.%s", path, key);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	yerr(d, yget(d, map, key) ?: map, field, "%s", msg);
}

static void parse_backends(struct ydoc *d, yaml_node_t *map, const char *path, const char *key,
			   struct service_spec *s, int arm)
{
	yaml_node_t *seq = yget(d, map, key);
	char field[256];
	int i, n;

	snprintf(field, sizeof(field), "%s.%s", path, key);
	if (!seq)
		return;
	if (!yis_seq(seq)) {
		/* "canary: []" is a sequence; a bare scalar is a common slip. */
		yerr(d, seq, field, "must be a list of \"address:port\" strings, e.g. "
				    "[\"10.0.2.2:8080\"] or [\"[fd00::2]:8080\"]");
		return;
	}
	n = yseq_len(seq);
	if (n > CANARY_MAX_BACKENDS) {
		yerr(d, seq, field, "has %d backends; at most %d are supported per arm", n,
		     CANARY_MAX_BACKENDS);
		return;
	}
	for (i = 0; i < n; i++) {
		yaml_node_t *it = yseq_item(d, seq, i);
		const char *v = yscalar(it);
		struct backend_spec *b = &s->backends[arm][s->nbackends[arm]];
		char ifield[300];
		int fam;

		snprintf(ifield, sizeof(ifield), "%s[%d]", field, i);
		if (!v) {
			yerr(d, it, ifield, "must be an \"address:port\" string");
			continue;
		}
		fam = endpoint_parse(v, &b->addr, &b->port);
		if (!fam) {
			yerr(d, it, ifield,
			     "'%s' is not \"address:port\" (IPv6 as \"[addr]:port\", port 1..65535)",
			     v);
			continue;
		}
		if (addr_unusable(fam, &b->addr)) {
			yerr(d, it, ifield, "'%s' %s", v, addr_unusable(fam, &b->addr));
			continue;
		}
		if (s->family && fam != s->family) {
			yerr(d, it, ifield, "'%s' is %s but the VIP is %s; an arm's backends must "
					    "use the VIP's address family",
			     v, fam == CANARY_AF_INET ? "IPv4" : "IPv6",
			     s->family == CANARY_AF_INET ? "IPv4" : "IPv6");
			continue;
		}
		b->line = yline(it);
		s->nbackends[arm]++;
	}
}

static void parse_overrides(struct ydoc *d, yaml_node_t *map, const char *path,
			    struct service_spec *s)
{
	yaml_node_t *seq = yget(d, map, "overrides");
	char field[256];
	int i, n;

	snprintf(field, sizeof(field), "%s.overrides", path);
	if (!seq)
		return;
	if (!yis_seq(seq)) {
		yerr(d, seq, field, "must be a list of { prefix: ADDR/LEN, arm: stable|canary }");
		return;
	}
	n = yseq_len(seq);
	s->overrides = calloc(n ? n : 1, sizeof(*s->overrides));
	if (!s->overrides) {
		yerr(d, seq, field, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		yaml_node_t *it = yseq_item(d, seq, i);
		struct override_spec *o = &s->overrides[s->noverrides];
		char ifield[300], prefix[128], arm[16];
		int fam, rc1, rc2;

		snprintf(ifield, sizeof(ifield), "%s[%d]", field, i);
		if (!yis_map(it)) {
			yerr(d, it, ifield, "must be { prefix: ADDR/LEN, arm: stable|canary }");
			continue;
		}
		ycheck_keys(d, it, ifield, ov_keys);
		rc1 = yget_str(d, it, ifield, "prefix", prefix, sizeof(prefix), true);
		rc2 = yget_str(d, it, ifield, "arm", arm, sizeof(arm), true);
		if (rc1 <= 0 || rc2 <= 0)
			continue;
		fam = prefix_parse(prefix, &o->addr, &o->plen);
		if (!fam) {
			ferr(d, it, ifield, "prefix",
			     "'%s' is not ADDR/LEN (e.g. 10.0.1.128/25 or fd00:1::/64)",
			     prefix);
			continue;
		}
		if (s->family && fam != s->family) {
			ferr(d, it, ifield, "prefix",
			     "'%s' is not in the VIP's address family", prefix);
			continue;
		}
		if (!strcmp(arm, "canary"))
			o->arm = CANARY_ARM_CANARY;
		else if (!strcmp(arm, "stable"))
			o->arm = CANARY_ARM_STABLE;
		else {
			ferr(d, it, ifield, "arm", "'%s' must be stable or canary",
			     arm);
			continue;
		}
		o->family = fam;
		addr_mask(fam, &o->addr, o->plen);
		o->line = yline(it);
		s->noverrides++;
	}
}

static void parse_service(struct ydoc *d, yaml_node_t *map, int idx, struct service_spec *s)
{
	char path[64], buf[128];
	long v;
	int rc;

	snprintf(path, sizeof(path), "services[%d]", idx);
	s->line = yline(map);
	if (!yis_map(map)) {
		yerr(d, map, path, "each service must be a mapping with name, vip, port, ...");
		return;
	}
	ycheck_keys(d, map, path, svc_keys);

	if (yget_str(d, map, path, "name", s->name, sizeof(s->name), true) > 0 &&
	    !service_name_valid(s->name))
		ferr(d, map, path, "name",
		     "'%s' must be 1..31 characters of a-z, 0-9, '_' and '-'", s->name);

	if (yget_str(d, map, path, "vip", buf, sizeof(buf), true) > 0) {
		s->family = addr_parse(buf, &s->vip);
		if (!s->family)
			ferr(d, map, path, "vip",
			     "'%s' is not an IPv4 or IPv6 address literal", buf);
		else if (addr_unusable(s->family, &s->vip))
			ferr(d, map, path, "vip", "'%s' %s", buf,
			     addr_unusable(s->family, &s->vip));
	}
	if (yget_long(d, map, path, "port", 1, 65535, &v, true) > 0)
		s->port = (uint16_t)v;

	s->proto = IPPROTO_TCP;
	if (yget_str(d, map, path, "protocol", buf, sizeof(buf), false) > 0) {
		if (!strcmp(buf, "udp"))
			s->proto = IPPROTO_UDP;
		else if (strcmp(buf, "tcp"))
			ferr(d, map, path, "protocol", "'%s' must be tcp or udp",
			     buf);
	}
	s->hash_mode = CANARY_HASH_CLIENT;
	if (yget_str(d, map, path, "hash", buf, sizeof(buf), false) > 0) {
		if (!strcmp(buf, "flow"))
			s->hash_mode = CANARY_HASH_FLOW;
		else if (strcmp(buf, "client"))
			ferr(d, map, path, "hash",
			     "'%s' must be flow (5-tuple) or client (source address)", buf);
	}
	s->prefix_v4 = 32;
	s->prefix_v6 = 64;
	if (yget_long(d, map, path, "client_prefix_v4", 1, 32, &v, false) > 0)
		s->prefix_v4 = (int)v;
	if (yget_long(d, map, path, "client_prefix_v6", 1, 128, &v, false) > 0)
		s->prefix_v6 = (int)v;

	rc = yget_str(d, map, path, "canary_weight", buf, sizeof(buf), false);
	if (rc > 0) {
		const char *why;

		if (percent_to_bp(buf, &s->weight_bp, &why))
			ferr(d, map, path, "canary_weight",
			     "'%s' %s (a percent 0..100, e.g. 10 or 2.5)", buf, why);
	}
	if (yget_long(d, map, path, "salt", 0, 0xffffffffL, &v, false) > 0) {
		s->salt = (uint32_t)v;
		s->salt_set = true;
	}
	yget_bool(d, map, path, "http", &s->http, false);

	if (!yget(d, map, "stable"))
		yerr(d, map, path, "missing field 'stable' (the list of stable backends)");
	parse_backends(d, map, path, "stable", s, CANARY_ARM_STABLE);
	parse_backends(d, map, path, "canary", s, CANARY_ARM_CANARY);
	parse_overrides(d, map, path, s);
}

/* Rules that involve more than one field. */
static void check_service(struct ydoc *d, yaml_node_t *map, int idx, struct service_spec *s)
{
	char path[64];
	unsigned int a, b, i, j;
	int arm, arm2;

	snprintf(path, sizeof(path), "services[%d]", idx);
	if (s->weight_bp < CANARY_WEIGHT_SCALE && s->nbackends[CANARY_ARM_STABLE] == 0 &&
	    yget(d, map, "stable"))
		ferr(d, map, path, "stable",
		     "has no backends but canary_weight is below 100, so some flows "
		     "would have nowhere to go");
	if (s->weight_bp > 0 && s->nbackends[CANARY_ARM_CANARY] == 0)
		ferr(d, map, path, "canary_weight",
		     "is above 0 but canary has no backends; add canary backends or set "
		     "canary_weight: 0");
	for (i = 0; i < s->noverrides; i++)
		if (s->nbackends[s->overrides[i].arm] == 0)
			yerr(d, yseq_item(d, yget(d, map, "overrides"), i), path,
			     "overrides[%u] pins clients to %s, which has no backends", i,
			     arm_name(s->overrides[i].arm));

	/* A backend may appear once per service: replies are attributed by backend. */
	for (arm = 0; arm < CANARY_ARMS; arm++)
		for (a = 0; a < s->nbackends[arm]; a++)
			for (arm2 = arm; arm2 < CANARY_ARMS; arm2++)
				for (b = arm2 == arm ? a + 1 : 0; b < s->nbackends[arm2]; b++) {
					struct backend_spec *x = &s->backends[arm][a];
					struct backend_spec *y = &s->backends[arm2][b];
					char ep[80];

					if (x->port != y->port ||
					    memcmp(&x->addr, &y->addr, sizeof(x->addr)))
						continue;
					endpoint_str(s->family, &y->addr, y->port, ep, sizeof(ep));
					yerr(d, yseq_item(d, yget(d, map, arm_name(arm2)), b), path,
					     "backend %s is listed twice (%s and %s); each backend "
					     "belongs to one arm so replies can be attributed",
					     ep, arm_name(arm), arm_name(arm2));
				}
	for (i = 0; i < s->noverrides; i++)
		for (j = 0; j < i; j++)
			if (s->overrides[i].plen == s->overrides[j].plen &&
			    !memcmp(&s->overrides[i].addr, &s->overrides[j].addr, 16))
				yerr(d, yseq_item(d, yget(d, map, "overrides"), i), path,
				     "overrides[%u] repeats the prefix of overrides[%u]", i, j);
}

/* Rules across services: names, service keys and backends are unique. */
static void check_services(struct ydoc *d, yaml_node_t *seq, struct canary_config *cfg)
{
	unsigned int i, j, a, arm, k, arm2;

	for (i = 0; i < cfg->nservices; i++) {
		struct service_spec *s = &cfg->services[i];
		yaml_node_t *map = yseq_item(d, seq, i);
		char path[64];

		snprintf(path, sizeof(path), "services[%u]", i);
		for (j = 0; j < i; j++) {
			struct service_spec *t = &cfg->services[j];

			if (s->name[0] && !strcmp(s->name, t->name))
				ferr(d, map, path, "name",
				     "'%s' is already used by services[%u] (line %d)",
				     s->name, j, t->line);
			if (s->family && s->family == t->family && s->port == t->port &&
			    s->proto == t->proto && !memcmp(&s->vip, &t->vip, sizeof(s->vip)))
				ferr(d, map, path, "vip",
				     "vip, port and protocol are the same as services[%u] ('%s')", j,
				     t->name);
		}
		for (arm = 0; arm < CANARY_ARMS; arm++) {
			for (a = 0; a < s->nbackends[arm]; a++) {
				struct backend_spec *b = &s->backends[arm][a];

				for (j = 0; j < cfg->nservices; j++) {
					struct service_spec *t = &cfg->services[j];
					char ep[80];

					if (t->family != s->family)
						continue;
					endpoint_str(s->family, &b->addr, b->port, ep, sizeof(ep));
					if (t->port == b->port &&
					    !memcmp(&t->vip, &b->addr, sizeof(b->addr)))
						yerr(d, yseq_item(d, yget(d, map, arm_name(arm)), a),
						     path,
						     "backend %s is the VIP of service '%s'; traffic "
						     "would loop",
						     ep, t->name);
					if (j >= i || t->proto != s->proto)
						continue;
					for (arm2 = 0; arm2 < CANARY_ARMS; arm2++)
						for (k = 0; k < t->nbackends[arm2]; k++)
							if (t->backends[arm2][k].port == b->port &&
							    !memcmp(&t->backends[arm2][k].addr,
								    &b->addr, sizeof(b->addr)))
								yerr(d,
								     yseq_item(d,
									       yget(d, map,
										    arm_name(arm)),
									       a),
								     path,
								     "backend %s is already a backend "
								     "of service '%s'; a backend can "
								     "serve one service",
								     ep, t->name);
				}
			}
		}
	}
}

/* The services file from a loaded document (err: a failed load); frees it. */
static int config_from_doc(struct ydoc *d, int err, struct canary_config *cfg)
{
	yaml_node_t *root, *seq;
	int i, n;

	if (err)
		goto out;
	root = ydoc_root(d);
	if (!yis_map(root)) {
		yerr(d, root, "(top level)", "expected a mapping with a 'services' list");
		goto out;
	}
	ycheck_keys(d, root, "(top level)", top_keys);
	seq = yget(d, root, "services");
	if (!seq) {
		yerr(d, root, "services", "missing: the file must have a 'services' list");
		goto out;
	}
	if (!yis_seq(seq)) {
		yerr(d, seq, "services", "must be a list of services");
		goto out;
	}
	n = yseq_len(seq);
	if (n > CANARY_MAX_SERVICES) {
		yerr(d, seq, "services", "has %d services; at most %d are supported", n,
		     CANARY_MAX_SERVICES);
		goto out;
	}
	cfg->services = calloc(n ? n : 1, sizeof(*cfg->services));
	if (!cfg->services) {
		yerr(d, seq, "services", "out of memory");
		goto out;
	}
	cfg->nservices = n;
	for (i = 0; i < n; i++)
		parse_service(d, yseq_item(d, seq, i), i, &cfg->services[i]);
	if (!d->errors) {
		for (i = 0; i < n; i++)
			check_service(d, yseq_item(d, seq, i), i, &cfg->services[i]);
		check_services(d, seq, cfg);
	}
out:
	err = ydoc_finish(d, err);
	if (err)
		config_free(cfg);
	return err;
}

int config_load(const char *path, struct canary_config *cfg)
{
	struct ydoc d;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->file, sizeof(cfg->file), "%s", path);
	return config_from_doc(&d, ydoc_load(&d, path), cfg);
}

int config_parse_text(const char *text, size_t len, const char *name, struct canary_config *cfg,
		      FILE *err)
{
	struct ydoc d;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->file, sizeof(cfg->file), "%s", name);
	return config_from_doc(&d, ydoc_load_buffer(&d, name, text, len, err), cfg);
}

void config_free(struct canary_config *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->nservices; i++)
		free(cfg->services[i].overrides);
	free(cfg->services);
	cfg->services = NULL;
	cfg->nservices = 0;
}
