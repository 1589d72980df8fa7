/* fleetctl.c: canaryctl's side of the store (see fleetctl.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "logic/config.h"
#include "logic/salts.h"
#include "store/fleetctl.h"

static int64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The store's salts (empty when absent) and their revision (0 when absent). */
static int read_salts(struct store *s, struct salt_table *t, int64_t *rev)
{
	char *val = NULL, why[256];
	size_t len = 0;
	int err = store_get(s, FLEET_KEY_SALTS, &val, &len, rev);

	memset(t, 0, sizeof(*t));
	if (err == -ENOENT) {
		*rev = 0;
		return 0;
	}
	if (err) {
		log_error("cannot read %s from the store: %s", FLEET_KEY_SALTS, store_error(s));
		return err;
	}
	err = fleet_salts_decode(val, len, t, why, sizeof(why));
	if (err)
		log_error("the store's %s is not valid: %s; fix it with etcdctl or delete it "
			  "(every service then gets a new salt)",
			  FLEET_KEY_SALTS, why);
	free(val);
	return err;
}

/* The salts the file's services get: the file's own, the store's, or a fresh one. */
static unsigned int pick_salts(const struct canary_config *conf, const struct salt_table *old,
			       struct salt_table *t)
{
	unsigned int i, fresh = 0;
	uint32_t salt;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < conf->nservices; i++) {
		const struct service_spec *sp = &conf->services[i];

		if (sp->salt_set)
			salt = sp->salt;
		else if (!salts_get(old, sp->name, &salt)) {
			salt = salt_random();
			fresh++;
		}
		salts_set(t, sp->name, salt);
	}
	return fresh;
}

/* The mod revision of config/services (0: absent). */
static int services_rev(struct store *s, int64_t *rev)
{
	char *val = NULL;
	int err = store_get(s, FLEET_KEY_SERVICES, &val, NULL, rev);

	free(val);
	if (err == -ENOENT) {
		*rev = 0;
		return 0;
	}
	if (err)
		log_error("cannot read %s from the store: %s", FLEET_KEY_SERVICES, store_error(s));
	return err;
}

static int apply_txn(struct store *s, const char *text, size_t len, const struct salt_table *t,
		     int64_t cfg_rev, int64_t salts_rev, int64_t *rev)
{
	char *salts = fleet_salts_encode(t);
	struct store_cmp c[] = {{FLEET_KEY_SERVICES, CMP_MOD_REV_EQ, cfg_rev},
				{FLEET_KEY_SALTS, CMP_MOD_REV_EQ, salts_rev}};
	struct store_op o[] = {
	    {.key = FLEET_KEY_SERVICES, .val = text, .len = len},
	    {.key = FLEET_KEY_SALTS, .val = salts, .len = salts ? strlen(salts) : 0}};
	bool ok = false;
	int err;

	if (!salts)
		return -ENOMEM;
	err = store_txn(s, c, 2, o, 2, &ok, rev);
	free(salts);
	if (err) {
		log_error("cannot write the config to the store: %s", store_error(s));
		return err;
	}
	if (!ok) {
		log_error("the store's config changed while this apply ran (someone else applied); "
			  "nothing was written: run it again");
		return -EAGAIN;
	}
	return 0;
}

int fleet_apply(struct store *s, const char *file, bool dry_run, FILE *out)
{
	struct salt_table *old = calloc(1, sizeof(*old)), *t = calloc(1, sizeof(*t));
	struct canary_config conf = {0};
	int64_t cfg_rev = 0, salts_rev = 0, rev = 0;
	char *text = NULL;
	size_t len = 0;
	unsigned int fresh;
	int err = old && t ? file_read_all(file, STORE_MAX_VALUE * 3 / 4, &text, &len) : -ENOMEM;

	if (err) {
		log_error("cannot read %s: %s", file,
			  err == -EFBIG ? "larger than the store takes (768 KiB)" : strerror(-err));
		goto out;
	}
	/* The whole file first, with the parser a local apply uses: nothing is written on any
	 * error, and the messages are the same (FILE:LINE: field: problem). */
	err = config_parse_text(text, len, file, &conf, NULL);
	if (err)
		goto out;
	err = services_rev(s, &cfg_rev);
	if (!err)
		err = read_salts(s, old, &salts_rev);
	if (err)
		goto out;
	fresh = pick_salts(&conf, old, t);
	if (dry_run) {
		fprintf(out,
			"dry run: %s is valid: %u services (%u new salts); the store's config is "
			"at revision %" PRId64 "; nothing written\n",
			file, conf.nservices, fresh, cfg_rev);
		goto out;
	}
	err = apply_txn(s, text, len, t, cfg_rev, salts_rev, &rev);
	if (!err)
		fprintf(out,
			"%s: %u services written to the store at revision %" PRId64
			" (%u new salts); the nodes apply it on their next watch event\n",
			file, conf.nservices, rev, fresh);
out:
	config_free(&conf);
	free(text);
	free(old);
	free(t);
	return err;
}

/* The store's config, parsed (cfg_rev: its mod revision). */
static int read_config(struct store *s, struct canary_config *conf, int64_t *cfg_rev)
{
	char *text = NULL;
	size_t len = 0;
	int err = store_get(s, FLEET_KEY_SERVICES, &text, &len, cfg_rev);

	if (err == -ENOENT)
		log_error("the store holds no services yet; apply a file first "
			  "(canaryctl apply --store URL -f FILE)");
	else if (err)
		log_error("cannot read %s from the store: %s", FLEET_KEY_SERVICES, store_error(s));
	else if ((err = config_parse_text(text, len, "store:" FLEET_KEY_SERVICES, conf, NULL)))
		log_error("the store's services file does not parse (above); apply a good one");
	free(text);
	return err;
}

static const struct service_spec *config_find(const struct canary_config *conf, const char *name)
{
	unsigned int i;

	for (i = 0; i < conf->nservices; i++)
		if (!strcmp(conf->services[i].name, name))
			return &conf->services[i];
	return NULL;
}

/* One try: read weights/SVC, write it conditional on that read. */
static int weight_try(struct store *s, const char *key, unsigned int bp, const char *by,
		      unsigned int *old_bp, int64_t *rev, bool *won)
{
	struct fleet_weight w = {.bp = bp, .time_ms = unix_ms()}, cur;
	char *val = NULL, *enc, why[256];
	size_t len = 0;
	int64_t wrev = 0;
	int err = store_get(s, key, &val, &len, &wrev);

	if (err && err != -ENOENT) {
		log_error("cannot read %s from the store: %s", key, store_error(s));
		return err;
	}
	if (!err) {
		err = fleet_weight_decode(val, len, &cur, why, sizeof(why));
		free(val);
		if (err)
			log_warn("the store's %s is not valid (%s); overwriting it", key, why);
		else
			*old_bp = cur.bp;
	}
	snprintf(w.by, sizeof(w.by), "%s", by);
	enc = fleet_weight_encode(&w);
	if (!enc)
		return -ENOMEM;
	struct store_cmp c = {key, CMP_MOD_REV_EQ, wrev};
	struct store_op o = {.key = key, .val = enc, .len = strlen(enc)};
	err = store_txn(s, &c, 1, &o, 1, won, rev);
	free(enc);
	if (err)
		log_error("cannot write %s to the store: %s", key, store_error(s));
	return err;
}

int fleet_set_weight(struct store *s, const char *svc, unsigned int bp, const char *by,
		     unsigned int *old_bp, int64_t *rev)
{
	struct canary_config conf = {0};
	const struct service_spec *sp;
	char key[FLEET_KEY_LEN];
	int64_t cfg_rev;
	bool won = false;
	int err, i;

	if (fleet_key_weight(key, sizeof(key), svc)) {
		log_error("'%s' is not a service name", svc);
		return -EINVAL;
	}
	err = read_config(s, &conf, &cfg_rev);
	if (err)
		return err;
	sp = config_find(&conf, svc);
	if (!sp) {
		log_error("the store's services file has no service '%s'", svc);
		config_free(&conf);
		return -ENOENT;
	}
	*old_bp = sp->weight_bp;
	config_free(&conf);
	/* Lost to a concurrent writer (the leader stepping): read again and retry. */
	for (i = 0; i < 3 && !err && !won; i++)
		err = weight_try(s, key, bp, by, old_bp, rev, &won);
	if (!err && !won) {
		log_error("%s kept changing while this ran; nothing written: run it again", key);
		err = -EAGAIN;
	}
	return err;
}

struct reports {
	struct fleet_report *r;
	unsigned int n, cap;
};

static int report_cb(const struct store_kv *kv, void *arg)
{
	struct reports *rs = arg;
	const char *node = fleet_key_leaf(kv->key, FLEET_DIR_NODES);
	char why[256];

	if (!node)
		return 0;
	if (rs->n == rs->cap) {
		unsigned int cap = rs->cap ? rs->cap * 2 : 8;
		struct fleet_report *nr = realloc(rs->r, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		rs->r = nr;
		rs->cap = cap;
	}
	if (fleet_report_decode(kv->val, kv->len, &rs->r[rs->n], why, sizeof(why)))
		log_warn("the report of node '%s' is not valid: %s; skipped", node, why);
	else if (strcmp(rs->r[rs->n].node, node))
		log_warn("the report under nodes/%s names node '%s'; skipped", node,
			 rs->r[rs->n].node);
	else
		rs->n++;
	return 0;
}

int fleet_reports(struct store *s, struct fleet_report **out, unsigned int *n, int64_t *desired_rev)
{
	struct reports rs = {0};
	int err = services_rev(s, desired_rev);

	if (!err)
		err = store_list(s, FLEET_DIR_NODES, report_cb, &rs, NULL);
	if (err < 0 && err != -ENOMEM)
		log_error("cannot list the nodes in the store: %s", store_error(s));
	if (err) {
		free(rs.r);
		return err;
	}
	*out = rs.r;
	*n = rs.n;
	return 0;
}

static struct json_object *node_json(const struct fleet_report *r, int64_t desired, int64_t now)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "node", json_object_new_string(r->node));
	json_object_object_add(o, "applied_revision", json_object_new_int64(r->config_rev));
	json_object_object_add(o, "desired_revision", json_object_new_int64(desired));
	json_object_object_add(
	    o, "lag_revisions",
	    json_object_new_int64(desired > r->config_rev ? desired - r->config_rev : 0));
	json_object_object_add(o, "current", json_object_new_boolean(r->config_rev == desired));
	json_object_object_add(o, "weights_revision", json_object_new_int64(r->weights_rev));
	json_object_object_add(o, "report_age_s",
			       json_object_new_double((now - r->time_ms) / 1000.0));
	json_object_object_add(o, "started_ms", json_object_new_int64(r->started_ms));
	json_object_object_add(o, "health", json_object_new_string(r->health));
	json_object_object_add(o, "services", json_object_new_int((int)r->n_svc));
	return o;
}

int fleet_status_show(struct store *s, bool json, FILE *f)
{
	struct fleet_report *r = NULL;
	unsigned int n = 0, i, current = 0;
	int64_t desired = 0, now = unix_ms();
	int err = fleet_reports(s, &r, &n, &desired);

	if (err)
		return err;
	if (json) {
		struct json_object *o = json_object_new_object(), *arr = json_object_new_array();

		json_object_object_add(o, "prefix", json_object_new_string(store_prefix(s)));
		json_object_object_add(o, "desired_revision", json_object_new_int64(desired));
		for (i = 0; i < n; i++)
			json_object_array_add(arr, node_json(&r[i], desired, now));
		json_object_object_add(o, "nodes", arr);
		fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		free(r);
		return 0;
	}
	fprintf(f, "store %s%s: desired config revision %" PRId64 "%s\n", store_endpoint(s),
		store_prefix(s), desired, desired ? "" : " (nothing applied to the store yet)");
	fprintf(f, "%-24s %10s %6s %12s  %s\n", "NODE", "APPLIED", "LAG", "REPORTED", "HEALTH");
	for (i = 0; i < n; i++) {
		int64_t lag = desired > r[i].config_rev ? desired - r[i].config_rev : 0;

		current += r[i].config_rev == desired;
		fprintf(f, "%-24s %10" PRId64 " %6" PRId64 " %10.1fs  %s\n", r[i].node,
			r[i].config_rev, lag, (now - r[i].time_ms) / 1000.0, r[i].health);
	}
	fprintf(f,
		"%u nodes, %u at the desired revision (LAG: store revisions behind it; "
		"REPORTED: seconds ago, by the node's clock)\n",
		n, current);
	free(r);
	return 0;
}

/* struct arm_stats is all __u64 counters: a sum is field by field. */
static void arm_add(struct arm_stats *sum, const struct arm_stats *a)
{
	__u64 *d = (__u64 *)sum;
	const __u64 *x = (const __u64 *)a;
	size_t i;

	_Static_assert(sizeof(struct arm_stats) % sizeof(__u64) == 0, "all counters");
	for (i = 0; i < sizeof(*sum) / sizeof(__u64); i++)
		d[i] += x[i];
}

struct svc_total {
	char name[CANARY_NAME_LEN];
	unsigned int nodes, min_bp, max_bp;
	struct arm_stats arm[2];
};

static struct svc_total *total_of(struct svc_total *t, unsigned int *nt, const char *name)
{
	unsigned int i;

	for (i = 0; i < *nt; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	if (*nt == CANARY_MAX_SERVICES)
		return NULL;
	memset(&t[*nt], 0, sizeof(t[0]));
	snprintf(t[*nt].name, sizeof(t[0].name), "%s", name);
	t[*nt].min_bp = 10000;
	return &t[(*nt)++];
}

static unsigned int sum_reports(const struct fleet_report *r, unsigned int n, const char *svc,
				struct svc_total *t)
{
	unsigned int i, j, nt = 0;

	for (i = 0; i < n; i++)
		for (j = 0; j < r[i].n_svc; j++) {
			const struct fleet_report_svc *rs = &r[i].svc[j];
			struct svc_total *x;

			if ((svc && strcmp(svc, rs->name)) || !(x = total_of(t, &nt, rs->name)))
				continue;
			x->nodes++;
			x->min_bp = rs->weight_bp < x->min_bp ? rs->weight_bp : x->min_bp;
			x->max_bp = rs->weight_bp > x->max_bp ? rs->weight_bp : x->max_bp;
			arm_add(&x->arm[0], &rs->arm[0]);
			arm_add(&x->arm[1], &rs->arm[1]);
		}
	return nt;
}

static void print_arm(FILE *f, const char *who, const char *arm, const struct arm_stats *a)
{
	fprintf(f, "  %-16s %-7s %10llu %12llu %14llu %10llu %8llu %9llu %8llu\n", who, arm,
		(unsigned long long)a->flows, (unsigned long long)a->fwd_packets,
		(unsigned long long)a->fwd_bytes, (unsigned long long)a->requests,
		(unsigned long long)a->http_class[5], (unsigned long long)a->errored_flows,
		(unsigned long long)a->backend_resets);
}

static void totals_text(FILE *f, const struct svc_total *t, unsigned int nt,
			const struct fleet_report *r, unsigned int n, bool nodes)
{
	char a[16], b[16];
	unsigned int i, j, k;

	for (i = 0; i < nt; i++) {
		fprintf(f, "%s: %u nodes, canary weight %s%%", t[i].name, t[i].nodes,
			bp_str(t[i].min_bp, a, sizeof(a)));
		if (t[i].max_bp != t[i].min_bp)
			fprintf(f, " to %s%% (nodes differ)", bp_str(t[i].max_bp, b, sizeof(b)));
		fprintf(f, "\n  %-16s %-7s %10s %12s %14s %10s %8s %9s %8s\n", "", "arm", "flows",
			"packets", "bytes", "requests", "5xx", "errored", "resets");
		print_arm(f, "fleet", "stable", &t[i].arm[0]);
		print_arm(f, "fleet", "canary", &t[i].arm[1]);
		for (j = 0; nodes && j < n; j++)
			for (k = 0; k < r[j].n_svc; k++)
				if (!strcmp(r[j].svc[k].name, t[i].name)) {
					print_arm(f, r[j].node, "stable", &r[j].svc[k].arm[0]);
					print_arm(f, r[j].node, "canary", &r[j].svc[k].arm[1]);
				}
	}
}

static struct json_object *arms_json(const struct arm_stats *a)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "stable", fleet_arm_to_json(&a[0]));
	json_object_object_add(o, "canary", fleet_arm_to_json(&a[1]));
	return o;
}

static void totals_json(FILE *f, const struct svc_total *t, unsigned int nt,
			const struct fleet_report *r, unsigned int n, bool nodes)
{
	struct json_object *o = json_object_new_object();
	unsigned int i, j, k;

	for (i = 0; i < nt; i++) {
		struct json_object *s = json_object_new_object(), *per = json_object_new_object();

		json_object_object_add(s, "nodes", json_object_new_int((int)t[i].nodes));
		json_object_object_add(s, "min_weight_bp", json_object_new_int((int)t[i].min_bp));
		json_object_object_add(s, "max_weight_bp", json_object_new_int((int)t[i].max_bp));
		json_object_object_add(s, "arms", arms_json(t[i].arm));
		for (j = 0; nodes && j < n; j++)
			for (k = 0; k < r[j].n_svc; k++)
				if (!strcmp(r[j].svc[k].name, t[i].name))
					json_object_object_add(per, r[j].node,
							       arms_json(r[j].svc[k].arm));
		if (nodes)
			json_object_object_add(s, "per_node", per);
		else
			json_object_put(per);
		json_object_object_add(o, t[i].name, s);
	}
	fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
}

int fleet_totals_show(struct store *s, const char *svc, bool nodes, bool json, FILE *f)
{
	struct svc_total *t = calloc(CANARY_MAX_SERVICES, sizeof(*t));
	struct fleet_report *r = NULL;
	unsigned int n = 0, nt;
	int64_t desired = 0;
	int err = t ? fleet_reports(s, &r, &n, &desired) : -ENOMEM;

	if (!err) {
		nt = sum_reports(r, n, svc, t);
		if (svc && !nt) {
			log_error("no node reports a service '%s'", svc);
			err = -ENOENT;
		} else if (json) {
			totals_json(f, t, nt, r, n, nodes);
		} else {
			fprintf(f, "fleet of %u nodes (counters since each node's data plane was attached)\n",
				n);
			totals_text(f, t, nt, r, n, nodes);
		}
	}
	free(r);
	free(t);
	return err;
}
