/* fleet.c: the store's key layout and the JSON of its values (see fleet.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonv.h"
#include "base/util.h"
#include "store/fleet.h"

bool fleet_node_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n < 1 || n >= FLEET_NODE_LEN ||
	    !strchr("abcdefghijklmnopqrstuvwxyz0123456789", name[0]))
		return false;
	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", name[i]))
			return false;
	return true;
}

static int key_fmt(char *out, size_t len, const char *dir, const char *a, const char *b)
{
	int n = b ? snprintf(out, len, "%s%s/%s", dir, a, b) : snprintf(out, len, "%s%s", dir, a);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int fleet_key_weight(char *out, size_t len, const char *svc)
{
	return service_name_valid(svc) ? key_fmt(out, len, FLEET_DIR_WEIGHTS, svc, NULL) : -EINVAL;
}

int fleet_key_rollout(char *out, size_t len, const char *svc)
{
	return service_name_valid(svc) ? key_fmt(out, len, FLEET_DIR_ROLLOUTS, svc, NULL) : -EINVAL;
}

int fleet_key_node(char *out, size_t len, const char *node)
{
	return fleet_node_valid(node) ? key_fmt(out, len, FLEET_DIR_NODES, node, NULL) : -EINVAL;
}

int fleet_key_rollback(char *out, size_t len, const char *svc, const char *node)
{
	if (!service_name_valid(svc) || !fleet_node_valid(node))
		return -EINVAL;
	return key_fmt(out, len, FLEET_DIR_ROLLBACKS, svc, node);
}

const char *fleet_key_leaf(const char *key, const char *dir)
{
	size_t n = strlen(dir);

	if (strncmp(key, dir, n) || !key[n] || strchr(key + n, '/'))
		return NULL;
	return key + n;
}

static char *to_text(struct json_object *o)
{
	char *s = o ? strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) : NULL;

	json_object_put(o);
	return s;
}

/* Parse text as a JSON object; NULL with why. */
static struct json_object *parse_object(const char *text, size_t len, struct jv *v)
{
	struct json_object *o = jv_parse(v, text, len);

	if (o && !json_object_is_type(o, json_type_object)) {
		jv_fail(v, "(document)", "is not a JSON object");
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int decoded(struct jv *v, char *why, size_t wlen)
{
	if (!v->failed)
		return 0;
	snprintf(why, wlen, "%s", v->err);
	return -EINVAL;
}

char *fleet_salts_encode(const struct salt_table *t)
{
	struct json_object *o = json_object_new_object();
	unsigned int i;

	for (i = 0; i < t->n; i++)
		json_object_object_add(o, t->e[i].name, json_object_new_int64(t->e[i].salt));
	return to_text(o);
}

int fleet_salts_decode(const char *text, size_t len, struct salt_table *t, char *why, size_t wlen)
{
	struct jv v = {0};
	struct json_object *o = parse_object(text, len, &v);

	memset(t, 0, sizeof(*t));
	if (o) {
		json_object_object_foreach(o, name, val)
		{
			int64_t salt;

			(void)val;
			if (!service_name_valid(name)) {
				jv_fail(&v, "(salts)", "'%.40s' is not a service name", name);
				break;
			}
			if (!jv_int(&v, o, name, name, 0, UINT32_MAX, false, &salt))
				break;
			if (!salts_set(t, name, (uint32_t)salt)) {
				jv_fail(&v, "(salts)", "more than %d services", SALTS_MAX);
				break;
			}
		}
	}
	json_object_put(o);
	return decoded(&v, why, wlen);
}

char *fleet_weight_encode(const struct fleet_weight *w)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "weight_bp", json_object_new_int(w->bp));
	json_object_object_add(o, "by", json_object_new_string(w->by));
	json_object_object_add(o, "time_ms", json_object_new_int64(w->time_ms));
	return to_text(o);
}

int fleet_weight_decode(const char *text, size_t len, struct fleet_weight *w, char *why,
			size_t wlen)
{
	struct jv v = {0};
	struct json_object *o = parse_object(text, len, &v);
	const char *by = "";
	int64_t bp = 0;

	/* Other members are left alone: a newer writer (the leader) may say more, and an
	 * older node must still follow the weight. */
	memset(w, 0, sizeof(*w));
	if (o && jv_int(&v, o, "weight_bp", NULL, 0, 10000, false, &bp) &&
	    jv_str(&v, o, "by", NULL, sizeof(w->by) - 1, true, &by) &&
	    jv_int(&v, o, "time_ms", NULL, 0, INT64_MAX, true, &w->time_ms)) {
		w->bp = (unsigned int)bp;
		snprintf(w->by, sizeof(w->by), "%s", by);
	}
	json_object_put(o);
	return decoded(&v, why, wlen);
}

/* struct arm_stats by name: the scalars, then the arrays. */
#define ARM_U64(f)                                                                                 \
	{                                                                                          \
#f, offsetof(struct arm_stats, f), 1                                               \
	}
#define ARM_ARR(f)                                                                                 \
	{                                                                                          \
#f, offsetof(struct arm_stats, f), sizeof(((struct arm_stats *)0)->f) / 8          \
	}
static const struct {
	const char *name;
	size_t off, n;
} arm_fields[] = {
    ARM_U64(fwd_packets),      ARM_U64(fwd_bytes),	 ARM_U64(rev_packets),
    ARM_U64(rev_bytes),	       ARM_U64(flows),		 ARM_U64(backend_resets),
    ARM_U64(reset_flows),      ARM_U64(syn_retransmits), ARM_U64(syn_retx_flows),
    ARM_U64(syn_unanswered),   ARM_U64(icmp_errors),	 ARM_U64(errored_flows),
    ARM_U64(requests),	       ARM_U64(http_responses),	 ARM_ARR(http_class),
    ARM_U64(ttfb_sum_us),      ARM_ARR(ttfb_hist),	 ARM_U64(handshake_count),
    ARM_U64(handshake_sum_us), ARM_ARR(handshake_hist),	 ARM_U64(midstream_flows),
    ARM_U64(midstream_errors),
};
_Static_assert(sizeof(struct arm_stats) ==
		   (22 - 3 + CANARY_HTTP_CLASSES + 2 * CANARY_HIST_BUCKETS) * sizeof(__u64),
	       "arm_fields must name every field of struct arm_stats");

struct json_object *fleet_arm_to_json(const struct arm_stats *a)
{
	struct json_object *o = json_object_new_object();
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(arm_fields); i++) {
		const __u64 *p = (const __u64 *)((const char *)a + arm_fields[i].off);
		size_t n = arm_fields[i].n;
		struct json_object *arr;

		while (n && !p[n - 1])
			n--;
		if (!n)
			continue;
		if (arm_fields[i].n == 1) {
			json_object_object_add(o, arm_fields[i].name, json_object_new_uint64(p[0]));
			continue;
		}
		arr = json_object_new_array();
		for (j = 0; j < n; j++)
			json_object_array_add(arr, json_object_new_uint64(p[j]));
		json_object_object_add(o, arm_fields[i].name, arr);
	}
	return o;
}

static bool arm_field(struct jv *v, struct json_object *o, size_t i, const char *field,
		      struct arm_stats *a)
{
	__u64 *p = (__u64 *)((char *)a + arm_fields[i].off);
	char f[96];
	size_t j, n;
	struct json_object *arr;

	snprintf(f, sizeof(f), "%s.%s", field, arm_fields[i].name);
	if (arm_fields[i].n == 1) {
		uint64_t x = 0;

		if (!jv_u64(v, o, arm_fields[i].name, f, UINT64_MAX, true, &x))
			return false;
		*p = x;
		return true;
	}
	arr = jv_array(v, o, arm_fields[i].name, f, 0, arm_fields[i].n, true);
	if (v->failed)
		return false;
	n = arr ? json_object_array_length(arr) : 0;
	for (j = 0; j < n; j++) {
		struct json_object *x = json_object_array_get_idx(arr, j);

		if (!json_object_is_type(x, json_type_int) || json_object_get_int64(x) < 0)
			return jv_fail(v, f, "item %zu is not a whole number from 0", j);
		p[j] = json_object_get_uint64(x);
	}
	return true;
}

bool fleet_arm_from_json(struct json_object *o, const char *field, struct arm_stats *a, char *why,
			 size_t wlen)
{
	struct jv v = {0};
	size_t i;

	memset(a, 0, sizeof(*a));
	if (!json_object_is_type(o, json_type_object))
		jv_fail(&v, field, "is not an object");
	for (i = 0; i < ARRAY_SIZE(arm_fields) && !v.failed; i++)
		arm_field(&v, o, i, field, a);
	if (v.failed)
		goto out;
	json_object_object_foreach(o, k, val)
	{
		(void)val;
		for (i = 0; i < ARRAY_SIZE(arm_fields) && strcmp(k, arm_fields[i].name); i++)
			;
		if (!v.failed && i == ARRAY_SIZE(arm_fields))
			jv_fail(&v, field, "unknown counter '%.40s'", k);
	}
out:
	if (v.failed)
		snprintf(why, wlen, "%s", v.err);
	return !v.failed;
}

char *fleet_report_encode(const struct fleet_report *r)
{
	struct json_object *o = json_object_new_object(), *svcs = json_object_new_object();
	unsigned int i;

	json_object_object_add(o, "node", json_object_new_string(r->node));
	json_object_object_add(o, "config_rev", json_object_new_int64(r->config_rev));
	json_object_object_add(o, "weights_rev", json_object_new_int64(r->weights_rev));
	json_object_object_add(o, "time_ms", json_object_new_int64(r->time_ms));
	json_object_object_add(o, "started_ms", json_object_new_int64(r->started_ms));
	json_object_object_add(o, "health", json_object_new_string(r->health));
	json_object_object_add(o, "services", svcs);
	for (i = 0; i < r->n_svc && i < CANARY_MAX_SERVICES; i++) {
		struct json_object *s = json_object_new_object(), *arms = json_object_new_array();

		json_object_object_add(s, "weight_bp", json_object_new_int(r->svc[i].weight_bp));
		json_object_array_add(arms, fleet_arm_to_json(&r->svc[i].arm[0]));
		json_object_array_add(arms, fleet_arm_to_json(&r->svc[i].arm[1]));
		json_object_object_add(s, "arms", arms);
		json_object_object_add(svcs, r->svc[i].name, s);
	}
	return to_text(o);
}

static bool report_svc(struct jv *v, const char *name, struct json_object *s,
		       struct fleet_report_svc *out)
{
	static const char *const keys[] = {"weight_bp", "arms", NULL};
	struct json_object *arms;
	char f[96], why[256];
	int64_t bp = 0;
	int arm;

	snprintf(f, sizeof(f), "services.%s", name);
	if (!service_name_valid(name))
		return jv_fail(v, "services", "'%.40s' is not a service name", name);
	if (!json_object_is_type(s, json_type_object))
		return jv_fail(v, f, "is not an object");
	if (!jv_known_keys(v, s, f, keys) || !jv_int(v, s, "weight_bp", f, 0, 10000, false, &bp) ||
	    !(arms = jv_array(v, s, "arms", f, 2, 2, false)))
		return false;
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->weight_bp = (unsigned int)bp;
	for (arm = 0; arm < 2; arm++) {
		snprintf(f, sizeof(f), "services.%s.arms[%d]", name, arm);
		if (!fleet_arm_from_json(json_object_array_get_idx(arms, arm), f, &out->arm[arm],
					 why, sizeof(why)))
			return jv_fail(v, f, "%s",
				       why + (strncmp(why, f, strlen(f)) ? 0 : strlen(f)));
	}
	return true;
}

int fleet_report_decode(const char *text, size_t len, struct fleet_report *r, char *why,
			size_t wlen)
{
	static const char *const keys[] = {"node",	 "config_rev", "weights_rev", "time_ms",
					   "started_ms", "health",     "services",    NULL};
	struct jv v = {0};
	struct json_object *o = parse_object(text, len, &v), *svcs;
	const char *node = NULL, *health = "";

	memset(r, 0, sizeof(*r));
	if (!o || !jv_known_keys(&v, o, "(report)", keys) ||
	    !jv_str(&v, o, "node", NULL, FLEET_NODE_LEN - 1, false, &node) ||
	    !jv_int(&v, o, "config_rev", NULL, 0, INT64_MAX, false, &r->config_rev) ||
	    !jv_int(&v, o, "weights_rev", NULL, 0, INT64_MAX, true, &r->weights_rev) ||
	    !jv_int(&v, o, "time_ms", NULL, 0, INT64_MAX, false, &r->time_ms) ||
	    !jv_int(&v, o, "started_ms", NULL, 0, INT64_MAX, true, &r->started_ms) ||
	    !jv_str(&v, o, "health", NULL, sizeof(r->health) - 1, true, &health) ||
	    !(svcs = jv_object(&v, o, "services", NULL, false)))
		goto out;
	if (!fleet_node_valid(node)) {
		jv_fail(&v, "node", "'%.40s' is not a node name", node);
		goto out;
	}
	snprintf(r->node, sizeof(r->node), "%s", node);
	snprintf(r->health, sizeof(r->health), "%s", health);
	json_object_object_foreach(svcs, name, s)
	{
		if (r->n_svc == CANARY_MAX_SERVICES) {
			jv_fail(&v, "services", "more than %d", CANARY_MAX_SERVICES);
			break;
		}
		if (!report_svc(&v, name, s, &r->svc[r->n_svc++]))
			break;
	}
out:
	json_object_put(o);
	return decoded(&v, why, wlen);
}
