/* fleetsum.c: fleet-wide counter sums from per-node reports (fleetsum.h says the rules),
 * and their saved form. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "base/jsonv.h"
#include "logic/fleetsum.h"

#define ARM_WORDS  (sizeof(struct arm_stats) / 8)
#define NODE_WORDS (CANARY_ARMS * ARM_WORDS)

bool fleet_node_name_valid(const char *name)
{
	size_t i, n = strnlen(name, FLEET_NODE_LEN);

	if (n == 0 || n >= FLEET_NODE_LEN || name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

void fleet_sum_init(struct fleet_sum *f)
{
	memset(f, 0, sizeof(*f));
}

static struct fleet_node *find(struct fleet_sum *f, const char *node)
{
	unsigned int i;

	for (i = 0; i < f->n; i++)
		if (!strcmp(f->nodes[i].name, node))
			return &f->nodes[i];
	return NULL;
}

const struct fleet_node *fleet_sum_find(const struct fleet_sum *f, const char *node)
{
	return find((struct fleet_sum *)f, node);
}

static void add_words(__u64 *acc, const __u64 *x, size_t n)
{
	size_t w;

	for (w = 0; w < n; w++)
		acc[w] += x[w];
}

/* Room for one more node: fold the gone node seen longest ago into "departed". */
static int make_room(struct fleet_sum *f)
{
	unsigned int i, oldest = f->n;

	for (i = 0; i < f->n; i++)
		if (f->nodes[i].gone &&
		    (oldest == f->n || f->nodes[i].seen_ms < f->nodes[oldest].seen_ms))
			oldest = i;
	if (oldest == f->n)
		return -ENOSPC;
	add_words((__u64 *)f->departed, (const __u64 *)f->nodes[oldest].contrib, NODE_WORDS);
	f->ndeparted++;
	memmove(&f->nodes[oldest], &f->nodes[oldest + 1],
		(f->n - oldest - 1) * sizeof(f->nodes[0]));
	f->n--;
	return 0;
}

static bool went_back(const struct arm_stats now[CANARY_ARMS],
		      const struct arm_stats last[CANARY_ARMS])
{
	const __u64 *a = (const __u64 *)now, *b = (const __u64 *)last;
	size_t w;

	for (w = 0; w < NODE_WORDS; w++)
		if (a[w] < b[w])
			return true;
	return false;
}

int fleet_sum_report(struct fleet_sum *f, const char *node, uint64_t epoch,
		     const struct arm_stats arm[CANARY_ARMS], int64_t now_ms)
{
	struct fleet_node *n;
	const __u64 *a = (const __u64 *)arm;
	__u64 *c, *l;
	bool rebase;
	size_t w;

	if (!fleet_node_name_valid(node))
		return -EINVAL;
	n = find(f, node);
	if (!n) {
		if (f->n == FLEET_MAX_NODES && make_room(f))
			return -ENOSPC;
		n = &f->nodes[f->n++];
		memset(n, 0, sizeof(*n));
		snprintf(n->name, sizeof(n->name), "%s", node);
		n->epoch = epoch;
		memcpy(n->last, arm, sizeof(n->last)); /* earlier traffic is not ours */
		n->seen_ms = now_ms;
		return 0;
	}
	rebase = (epoch && n->epoch && epoch != n->epoch) || went_back(arm, n->last);
	c = (__u64 *)n->contrib;
	l = (__u64 *)n->last;
	for (w = 0; w < NODE_WORDS; w++)
		c[w] += rebase ? a[w] : a[w] - l[w];
	memcpy(n->last, arm, sizeof(n->last));
	if (epoch)
		n->epoch = epoch;
	n->seen_ms = now_ms;
	n->gone = false;
	n->rebases += rebase;
	return rebase;
}

unsigned int fleet_sum_mark_gone(struct fleet_sum *f, const char *const *present, unsigned int n)
{
	unsigned int i, k, became = 0;

	for (i = 0; i < f->n; i++) {
		bool here = false;

		for (k = 0; k < n && !here; k++)
			here = !strcmp(f->nodes[i].name, present[k]);
		became += !here && !f->nodes[i].gone;
		f->nodes[i].gone = !here;
	}
	return became;
}

void fleet_sum_total(const struct fleet_sum *f, struct arm_stats out[CANARY_ARMS])
{
	unsigned int i;

	memcpy(out, f->departed, sizeof(f->departed));
	for (i = 0; i < f->n; i++)
		add_words((__u64 *)out, (const __u64 *)f->nodes[i].contrib, NODE_WORDS);
}

unsigned int fleet_sum_present(const struct fleet_sum *f)
{
	unsigned int i, n = 0;

	for (i = 0; i < f->n; i++)
		n += !f->nodes[i].gone;
	return n;
}

/* ---- saved form --------------------------------------------------------------------------- */

static struct json_object *words(const void *p, size_t n)
{
	struct json_object *a = json_object_new_array_ext((int)n);
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_uint64(w[i]));
	return a;
}

struct json_object *fleet_sum_to_json(const struct fleet_sum *f)
{
	struct json_object *j = json_object_new_object(), *nodes = json_object_new_array();
	unsigned int i;

	for (i = 0; i < f->n; i++) {
		const struct fleet_node *n = &f->nodes[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(n->name));
		json_object_object_add(o, "epoch", json_object_new_uint64(n->epoch));
		json_object_object_add(o, "seen_ms", json_object_new_int64(n->seen_ms));
		json_object_object_add(o, "rebases", json_object_new_int64(n->rebases));
		json_object_object_add(o, "gone", json_object_new_boolean(n->gone));
		json_object_object_add(o, "last", words(n->last, NODE_WORDS));
		json_object_object_add(o, "contrib", words(n->contrib, NODE_WORDS));
		json_object_array_add(nodes, o);
	}
	json_object_object_add(j, "nodes", nodes);
	json_object_object_add(j, "departed", words(f->departed, NODE_WORDS));
	json_object_object_add(j, "ndeparted", json_object_new_int64(f->ndeparted));
	return j;
}

static const char *const sum_keys[] = {"nodes", "departed", "ndeparted", NULL};
static const char *const node_keys[] = {"name", "epoch", "seen_ms", "rebases",
					"gone", "last",	 "contrib", NULL};

static int fail(struct jv *v, char *err, size_t len)
{
	snprintf(err, len, "%s", v->err);
	return -EINVAL;
}

/* Node i of the saved list. */
static int node_from_json(struct fleet_sum *f, unsigned int i, struct json_object *o, struct jv *v,
			  char *err, size_t len)
{
	struct fleet_node *n = &f->nodes[i];
	char fo[48], fl[64], fc[64];
	const char *name;
	int64_t rebases;

	snprintf(fo, sizeof(fo), "fleet.nodes[%u]", i);
	snprintf(fl, sizeof(fl), "%s.last", fo);
	snprintf(fc, sizeof(fc), "%s.contrib", fo);
	if (!jv_known_keys(v, o, fo, node_keys) ||
	    !jv_str(v, o, "name", NULL, FLEET_NODE_LEN - 1, false, &name) ||
	    !jv_u64(v, o, "epoch", NULL, UINT64_MAX, false, &n->epoch) ||
	    !jv_int(v, o, "seen_ms", NULL, 0, INT64_MAX, false, &n->seen_ms) ||
	    !jv_int(v, o, "rebases", NULL, 0, UINT32_MAX, false, &rebases) ||
	    !jv_bool(v, o, "gone", NULL, false, &n->gone) ||
	    !jv_u64_array(v, o, "last", fl, (uint64_t *)n->last, NODE_WORDS) ||
	    !jv_u64_array(v, o, "contrib", fc, (uint64_t *)n->contrib, NODE_WORDS))
		return fail(v, err, len);
	if (!fleet_node_name_valid(name)) {
		snprintf(err, len, "%s.name: '%s' is not a node name", fo, name);
		return -EINVAL;
	}
	if (find(f, name)) {
		snprintf(err, len, "%s.name: node '%s' is listed twice", fo, name);
		return -EINVAL;
	}
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->rebases = (uint32_t)rebases;
	return 0;
}

int fleet_sum_from_json(struct fleet_sum *f, struct json_object *j, char *err, size_t len)
{
	struct json_object *nodes;
	struct jv v = {};
	int64_t nd;
	unsigned int i, count;

	fleet_sum_init(f);
	if (!json_object_is_type(j, json_type_object)) {
		snprintf(err, len, "fleet: not an object");
		return -EINVAL;
	}
	if (!jv_known_keys(&v, j, "fleet", sum_keys) ||
	    !(nodes = jv_array(&v, j, "nodes", "fleet.nodes", 0, FLEET_MAX_NODES, false)) ||
	    !jv_u64_array(&v, j, "departed", "fleet.departed", (uint64_t *)f->departed,
			  NODE_WORDS) ||
	    !jv_int(&v, j, "ndeparted", "fleet.ndeparted", 0, UINT32_MAX, false, &nd))
		return fail(&v, err, len);
	if (!json_object_is_type(nodes, json_type_array)) {
		snprintf(err, len, "fleet.nodes: not an array");
		return -EINVAL;
	}
	count = (unsigned int)json_object_array_length(nodes);
	for (i = 0; i < count; i++) {
		struct json_object *o = json_object_array_get_idx(nodes, i);

		if (!json_object_is_type(o, json_type_object)) {
			snprintf(err, len, "fleet.nodes[%u]: not an object", i);
			fleet_sum_init(f);
			return -EINVAL;
		}
		if (node_from_json(f, i, o, &v, err, len)) {
			fleet_sum_init(f);
			return -EINVAL;
		}
		f->n = i + 1;
	}
	f->ndeparted = (unsigned int)nd;
	return 0;
}
