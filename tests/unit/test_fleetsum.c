/* test_fleetsum.c: fleet-wide sums of per-node counters (logic/fleetsum.c): growth adds,
 * a node whose counters go back is re-based and never subtracted, a gone node keeps its
 * contribution, the table folds gone nodes when full; the saved form round-trips and a
 * bad one is refused naming the field; and a rollout driven by the sums of three
 * simulated nodes (one re-attaching, one leaving) is promoted when healthy and rolled
 * back when the canary fails on one node only. A node's watch (watch_only) rolls back
 * on its own counters and never takes a step. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "testlib.h"
#include "base/jsonv.h"
#include "logic/fleetsum.h"
#include "logic/plan.h"
#include "logic/rollout.h"

static struct fleet_sum F, G;
static char err[256];

static void set(struct arm_stats a[CANARY_ARMS], uint64_t flows0, uint64_t flows1, uint64_t e1)
{
	memset(a, 0, sizeof(struct arm_stats) * CANARY_ARMS);
	a[0].flows = flows0;
	a[0].fwd_packets = flows0 * 5;
	a[1].flows = flows1;
	a[1].fwd_packets = flows1 * 5;
	a[1].http_class[5] = e1;
}

static void sums_grow(void)
{
	struct arm_stats a[2], t[2];

	fleet_sum_init(&F);
	set(a, 1000, 100, 1);
	ASSERT_EQ(fleet_sum_report(&F, "n1", 7, a, 1), 0, "first report of n1");
	set(a, 500, 50, 0);
	ASSERT_EQ(fleet_sum_report(&F, "n2", 9, a, 1), 0, "first report of n2");
	fleet_sum_total(&F, t);
	ASSERT_EQ(t[0].flows, 0, "a node's traffic before it was first seen is not counted");
	set(a, 1100, 110, 3);
	fleet_sum_report(&F, "n1", 7, a, 2);
	set(a, 520, 52, 0);
	fleet_sum_report(&F, "n2", 9, a, 2);
	fleet_sum_total(&F, t);
	ASSERT_EQ(t[0].flows, 120, "stable: 100 + 20");
	ASSERT_EQ(t[1].flows, 12, "canary: 10 + 2");
	ASSERT_EQ(t[1].http_class[5], 2, "errors: 2 on n1");
	ASSERT_EQ(t[0].fwd_packets, 600, "every word is summed");
	ASSERT_EQ(fleet_sum_present(&F), 2, "two nodes present");
	ASSERT_EQ(fleet_sum_report(&F, "bad/name", 0, a, 3), -EINVAL, "a bad name is refused");
	ASSERT_EQ(fleet_sum_report(&F, "", 0, a, 3), -EINVAL, "an empty name is refused");
}

static void rebase_never_subtracts(void)
{
	struct arm_stats a[2], t[2];

	fleet_sum_init(&F);
	set(a, 1000, 100, 0);
	fleet_sum_report(&F, "n1", 1, a, 1);
	set(a, 1200, 120, 0);
	fleet_sum_report(&F, "n1", 1, a, 2);
	/* A re-attach: the counters start again from zero. */
	set(a, 30, 3, 0);
	ASSERT_EQ(fleet_sum_report(&F, "n1", 1, a, 3), 1, "counters went back: re-based");
	fleet_sum_total(&F, t);
	ASSERT_EQ(t[0].flows, 230, "200 before, 30 after: nothing subtracted");
	ASSERT_EQ(t[1].flows, 23, "canary: 20 + 3");
	set(a, 40, 4, 0);
	ASSERT_EQ(fleet_sum_report(&F, "n1", 1, a, 4), 0, "then growth again");
	fleet_sum_total(&F, t);
	ASSERT_EQ(t[0].flows, 240, "240");
	/* A new epoch with counters that already passed the old ones: still a re-base. */
	set(a, 5000, 500, 0);
	ASSERT_EQ(fleet_sum_report(&F, "n1", 2, a, 5), 1, "another epoch: re-based");
	fleet_sum_total(&F, t);
	ASSERT_EQ(t[0].flows, 5240, "the new attach's counters are added whole");
	ASSERT_EQ(fleet_sum_find(&F, "n1")->rebases, 2, "two re-bases counted");
	/* One word going back is enough (a re-attach that already saw more flows). */
	set(a, 6000, 600, 0);
	a[0].fwd_packets = 1;
	ASSERT_EQ(fleet_sum_report(&F, "n1", 2, a, 6), 1, "any word going back re-bases");
}

static void gone_keeps_contribution(void)
{
	struct arm_stats a[2], t[2];
	const char *present[] = {"n1"};

	fleet_sum_init(&F);
	set(a, 0, 0, 0);
	fleet_sum_report(&F, "n1", 0, a, 1);
	fleet_sum_report(&F, "n2", 0, a, 1);
	set(a, 100, 10, 1);
	fleet_sum_report(&F, "n1", 0, a, 2);
	fleet_sum_report(&F, "n2", 0, a, 2);
	ASSERT_EQ(fleet_sum_mark_gone(&F, present, 1), 1, "n2's key is gone");
	ASSERT_EQ(fleet_sum_present(&F), 1, "one node present");
	fleet_sum_total(&F, t);
	ASSERT_EQ(t[0].flows, 200, "n2's flows stay in the sum");
	ASSERT_EQ(t[1].http_class[5], 2, "n2's errors stay in the sum");
	/* n2 comes back with its counters kept (its agent restarted). */
	set(a, 150, 15, 1);
	ASSERT_EQ(fleet_sum_report(&F, "n2", 0, a, 3), 0, "n2 back, counters kept: no re-base");
	fleet_sum_total(&F, t);
	ASSERT_EQ(t[0].flows, 250, "it goes on from its last value");
	ASSERT_TRUE(!fleet_sum_find(&F, "n2")->gone, "present again");
}

static void full_table_folds(void)
{
	struct arm_stats a[2], t[2];
	const char *present[1];
	char name[32];
	unsigned int i;

	fleet_sum_init(&F);
	for (i = 0; i < FLEET_MAX_NODES; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		set(a, 0, 0, 0);
		fleet_sum_report(&F, name, 0, a, i);
		set(a, 10, 1, 0);
		fleet_sum_report(&F, name, 0, a, 1000 + i);
	}
	set(a, 0, 0, 0);
	ASSERT_EQ(fleet_sum_report(&F, "extra", 0, a, 5000), -ENOSPC, "full, nobody gone: refused");
	present[0] = "n0";
	ASSERT_EQ(fleet_sum_mark_gone(&F, present, 1), FLEET_MAX_NODES - 1, "all but n0 gone");
	ASSERT_EQ(fleet_sum_report(&F, "extra", 0, a, 5000), 0, "now there is room");
	ASSERT_EQ(F.ndeparted, 1, "one gone node folded into departed");
	ASSERT_TRUE(!fleet_sum_find(&F, "n1"), "the oldest gone one (n1) was folded");
	fleet_sum_total(&F, t);
	ASSERT_EQ(t[0].flows, 10 * FLEET_MAX_NODES, "its contribution is still in the sum");
}

static void save_restore(void)
{
	struct arm_stats a[2], t1[2], t2[2];
	struct json_object *j, *j0;
	const char *text;
	struct jv v = {};

	fleet_sum_init(&F);
	set(a, 5, 1, 0);
	fleet_sum_report(&F, "n1", 3, a, 10);
	set(a, 50, 10, 2);
	fleet_sum_report(&F, "n1", 3, a, 11);
	fleet_sum_report(&F, "n2", 4, a, 11);
	j0 = fleet_sum_to_json(&F);
	text = json_object_to_json_string_ext(j0, JSON_C_TO_STRING_PLAIN);
	j = jv_parse(&v, text, strlen(text));
	json_object_put(j0);
	ASSERT_EQ(fleet_sum_from_json(&G, j, err, sizeof(err)), 0, "restores");
	fleet_sum_total(&F, t1);
	fleet_sum_total(&G, t2);
	ASSERT_MEM_EQ(t1, t2, sizeof(t1), "same sums");
	ASSERT_EQ(G.n, 2, "two nodes");
	ASSERT_EQ(G.nodes[0].epoch, 3, "epoch kept");
	json_object_put(j);
}

/* Each edit of a good saved form must be refused, naming the field. */
static void bad_refused(void)
{
	static const struct {
		const char *what, *json, *field;
	} bad[] = {
	    {"not an object", "[]", "fleet"},
	    {"unknown key", "{\"nodes\":[],\"departed\":[],\"ndeparted\":0,\"x\":1}", "x"},
	    {"departed too short", "{\"nodes\":[],\"departed\":[1],\"ndeparted\":0}", "departed"},
	    {"ndeparted negative", "{\"nodes\":[],\"departed\":%D,\"ndeparted\":-1}", "ndeparted"},
	    {"node not an object", "{\"nodes\":[1],\"departed\":%D,\"ndeparted\":0}", "nodes[0]"},
	    {"bad node name", "{\"nodes\":[%N(\"a/b\")],\"departed\":%D,\"ndeparted\":0}", "name"},
	    {"a node twice", "{\"nodes\":[%N(\"a\"),%N(\"a\")],\"departed\":%D,\"ndeparted\":0}",
	     "twice"},
	    {"a string for a counter", "{\"nodes\":[%S],\"departed\":%D,\"ndeparted\":0}", "last"},
	};
	char words[1024], nodes2[4096], json[16384];
	unsigned int i, k;
	size_t o = 0;

	o += snprintf(words + o, sizeof(words) - o, "[");
	for (k = 0; k < CANARY_ARMS * sizeof(struct arm_stats) / 8; k++)
		o += snprintf(words + o, sizeof(words) - o, "%s0", k ? "," : "");
	snprintf(words + o, sizeof(words) - o, "]");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *p = bad[i].json;
		struct json_object *j;
		struct jv v = {};

		json[0] = 0;
		/* %D: a whole counter array; %N("x"): a good node named x; %S: a node whose
		 * "last" holds a string. */
		while (*p) {
			if (!strncmp(p, "%D", 2)) {
				strcat(json, words);
				p += 2;
			} else if (!strncmp(p, "%N(\"", 4)) {
				const char *e = strchr(p + 4, '"');

				strcat(json, "{\"name\":\"");
				strncat(json, p + 4, (size_t)(e - p - 4));
				strcat(json, "\",\"epoch\":0,\"seen_ms\":1,\"rebases\":0,"
					     "\"gone\":false,\"last\":");
				strcat(json, words);
				strcat(json, ",\"contrib\":");
				strcat(json, words);
				strcat(json, "}");
				p = e + 2;
			} else if (!strncmp(p, "%S", 2)) {
				snprintf(nodes2, sizeof(nodes2),
					 "{\"name\":\"a\",\"epoch\":0,\"seen_ms\":1,\"rebases\":0,"
					 "\"gone\":false,\"last\":\"x\",\"contrib\":%s}",
					 words);
				strcat(json, nodes2);
				p += 2;
			} else {
				strncat(json, p++, 1);
			}
		}
		j = jv_parse(&v, json, strlen(json));
		if (!ASSERT_TRUE(j, bad[i].what))
			continue;
		err[0] = 0;
		ASSERT_EQ(fleet_sum_from_json(&G, j, err, sizeof(err)), -EINVAL, bad[i].what);
		ASSERT_TRUE(strstr(err, bad[i].field) != NULL, bad[i].field);
		ASSERT_EQ(G.n, 0, "nothing kept");
		json_object_put(j);
	}
}

/* ---- a rollout over three simulated nodes ------------------------------------------------- */

static const char *PLAN = "service: web\n"
			  "steps: [5, 25, 50, 100]\n"
			  "hold: 10s\n"
			  "min_flows: 100\n"
			  "analysis:\n"
			  "  tolerance: 1.1\n"
			  "  signals: [http_5xx, errored_flows]\n"
			  "on_rollback: drain\n";

struct node_sim {
	struct arm_stats arm[2];
	double err[2];
	bool dead;
};

/* One interval of a node's traffic at the fleet's weight. */
static void node_step(struct node_sim *n, uint16_t bp, uint64_t flows)
{
	int arm;

	for (arm = 0; arm < 2; arm++) {
		double share = arm ? bp / 10000.0 : 1 - bp / 10000.0;
		uint64_t f = (uint64_t)llround(flows * share);
		uint64_t e = (uint64_t)llround(f * n->err[arm]);

		n->arm[arm].flows += f;
		n->arm[arm].fwd_packets += f * 5;
		n->arm[arm].requests += f;
		n->arm[arm].http_responses += f;
		n->arm[arm].http_class[5] += e;
		n->arm[arm].http_class[2] += f - e;
		n->arm[arm].errored_flows += e;
	}
}

/* Runs the leader's loop over three nodes until the rollout ends: node 1 re-attaches
 * at tick 15, node 2 leaves at tick 25. Returns the ticks taken. */
static int fleet_run(struct rollout *r, struct node_sim nodes[3])
{
	static const char *names[] = {"n0", "n1", "n2"};
	struct plan p;
	struct arm_stats sum[2];
	struct rollout_input in;
	struct rollout_decision d;
	uint16_t bp;
	uint32_t gen = 1;
	int t, i;

	memset(&p, 0, sizeof(p));
	ASSERT_EQ(plan_parse_text(PLAN, strlen(PLAN), "(test)", &p, NULL), 0, "plan parses");
	r->fleet = NULL;
	fleet_sum_init(&F);
	for (i = 0; i < 3; i++)
		fleet_sum_report(&F, names[i], 1, nodes[i].arm, 0);
	fleet_sum_total(&F, sum);
	ASSERT_EQ(rollout_init(r, &p, PLAN, 0, sum, 0, err, sizeof(err)), 0, "starts");
	r->fleet = malloc(sizeof(*r->fleet));
	*r->fleet = F;
	bp = r->weight_bp = p.steps[0].weight_bp;
	r->generation = gen;
	for (t = 1; t < 300 && rollout_active(r); t++) {
		const char *present[3];
		unsigned int np = 0;

		for (i = 0; i < 3; i++) {
			if (i == 2 && t >= 25)
				continue; /* n2 left: its key is gone */
			node_step(&nodes[i], bp, 700);
			if (i == 1 && t == 15)
				memset(nodes[1].arm, 0, sizeof(nodes[1].arm)); /* re-attach */
			fleet_sum_report(r->fleet, names[i], 1, nodes[i].arm, t * 1000);
			present[np++] = names[i];
		}
		fleet_sum_mark_gone(r->fleet, present, np);
		memset(&in, 0, sizeof(in));
		fleet_sum_total(r->fleet, in.arm);
		in.weight_bp = bp;
		in.generation = gen;
		in.dt = 1;
		in.now_ms = t * 1000;
		rollout_tick(r, &in, &d);
		ASSERT_TRUE(!strstr(d.log, "started again"), "the fleet's counters never go back");
		if (d.set_weight) {
			bp = d.new_bp;
			r->generation = ++gen;
		}
	}
	return t;
}

static void fleet_promoted(void)
{
	struct node_sim nodes[3] = {};
	struct rollout r;
	int i, t;

	for (i = 0; i < 3; i++)
		nodes[i].err[0] = nodes[i].err[1] = 0.01;
	t = fleet_run(&r, nodes);
	ASSERT_EQ(r.phase, PHASE_SUCCEEDED, "a healthy canary over three nodes is promoted");
	ASSERT_EQ(r.weight_bp, 10000, "at 100%");
	ASSERT_TRUE(r.fleet->nodes[1].rebases == 1, "n1 was re-based once");
	ASSERT_TRUE(r.fleet->nodes[2].gone, "n2 is gone, its contribution kept");
	printf("# promoted after %d ticks\n", t);
	rollout_free(&r);
}

static void fleet_rolled_back(void)
{
	struct node_sim nodes[3] = {};
	struct rollout r;
	int i, t;

	for (i = 0; i < 3; i++)
		nodes[i].err[0] = nodes[i].err[1] = 0.01;
	nodes[0].err[1] = 0.20; /* the canary fails on one node */
	t = fleet_run(&r, nodes);
	ASSERT_EQ(r.phase, PHASE_ROLLED_BACK, "rolled back on one node's 5xx in the sums");
	ASSERT_EQ(r.weight_bp, 0, "weight 0");
	printf("# rolled back after %d ticks: %s\n", t, r.reason);
	rollout_free(&r);
}

static void save_restore_with_fleet(void)
{
	struct node_sim nodes[3] = {};
	struct rollout r, r2;
	struct json_object *j;
	struct arm_stats t1[2], t2[2];

	nodes[0].err[1] = 0.01;
	fleet_run(&r, nodes);
	j = rollout_to_json(&r);
	ASSERT_EQ(rollout_from_json(&r2, j, "web", err, sizeof(err)), 0,
		  "a fleet rollout restores");
	ASSERT_TRUE(r2.fleet != NULL, "with its per-node counters");
	if (r2.fleet) {
		fleet_sum_total(r.fleet, t1);
		fleet_sum_total(r2.fleet, t2);
		ASSERT_MEM_EQ(t1, t2, sizeof(t1), "same sums");
	}
	rollout_free(&r2);
	json_object_object_add(j, "fleet", json_object_new_string("x"));
	ASSERT_EQ(rollout_from_json(&r2, j, "web", err, sizeof(err)), -EINVAL,
		  "a bad fleet refused");
	ASSERT_TRUE(strstr(err, "fleet") != NULL, "naming it");
	rollout_free(&r2);
	json_object_object_del(j, "fleet");
	ASSERT_EQ(rollout_from_json(&r2, j, "web", err, sizeof(err)), 0, "no fleet: one node's");
	ASSERT_TRUE(r2.fleet == NULL, "and no per-node counters");
	rollout_free(&r2);
	json_object_put(j);
	rollout_free(&r);
}

/* A node's own watch: it never steps, and rolls back on its own evidence. */
static void watch_only_rolls_back(void)
{
	struct node_sim n = {};
	struct rollout r;
	struct rollout_input in;
	struct rollout_decision d;
	struct plan p;
	int t, steps = 0;
	uint16_t bp = 2500;

	n.err[0] = n.err[1] = 0.01;
	memset(&p, 0, sizeof(p));
	plan_parse_text(PLAN, strlen(PLAN), "(test)", &p, NULL);
	ASSERT_EQ(rollout_init(&r, &p, PLAN, 0, n.arm, 0, err, sizeof(err)), 0, "starts");
	r.watch_only = true;
	for (t = 1; t < 60; t++) {
		if (t == 30)
			n.err[1] = 0.25;
		if (t == 20)
			bp = 5000; /* the leader moved the weight: not a manual change */
		node_step(&n, bp, 700);
		memset(&in, 0, sizeof(in));
		memcpy(in.arm, n.arm, sizeof(in.arm));
		in.weight_bp = bp;
		in.generation = t >= 20 ? 2 : 1;
		in.dt = 1;
		in.now_ms = t * 1000;
		rollout_tick(&r, &in, &d);
		steps += d.set_weight && d.reason == WREASON_STEP;
		if (!rollout_active(&r))
			break;
	}
	ASSERT_EQ(steps, 0, "a watch never takes a step");
	ASSERT_EQ(r.phase, PHASE_ROLLED_BACK, "it rolls back on the node's own evidence");
	ASSERT_TRUE(d.set_weight && d.new_bp == 0 && d.reason == WREASON_ROLLBACK, "weight 0");
	ASSERT_TRUE(t >= 30, "only once the canary started failing");
	printf("# watch rolled back %d s after the failure\n", t - 30);
	rollout_free(&r);
}

/* The leader loses the store: hold and say why; a node's rollback rolls the fleet back. */
static void store_pause_and_node_rollback(void)
{
	struct node_sim nodes[3] = {};
	struct rollout r;
	struct rollout_decision d;
	struct plan p;

	memset(&p, 0, sizeof(p));
	plan_parse_text(PLAN, strlen(PLAN), "(test)", &p, NULL);
	ASSERT_EQ(rollout_init(&r, &p, PLAN, 0, nodes[0].arm, 0, err, sizeof(err)), 0, "starts");
	r.weight_bp = 500;
	rollout_store_pause(&r, "the store is unreachable", &d);
	ASSERT_EQ(r.phase, PHASE_PAUSED, "paused");
	ASSERT_EQ(r.pause, PAUSE_STORE, "for the store");
	ASSERT_TRUE(!strcmp(pause_reason_names[r.pause], "store"), "named store");
	ASSERT_TRUE(d.changed && !d.set_weight, "no weight moves");
	rollout_store_resume(&r, &d);
	ASSERT_EQ(r.phase, PHASE_PROGRESSING, "resumes at the same step");
	ASSERT_EQ(r.step, 0, "step 1");
	ASSERT_EQ(rollout_pause(&r, &d, err, sizeof(err)), 0, "a pause by hand");
	rollout_store_pause(&r, "x", &d);
	ASSERT_EQ(r.pause, PAUSE_USER, "a pause by hand stays one");
	rollout_store_resume(&r, &d);
	ASSERT_EQ(r.phase, PHASE_PAUSED, "and is not resumed by the store's return");
	rollout_node_rollback(&r, "n2", "http_5xx: e-value 200", 5000, &d);
	ASSERT_EQ(r.phase, PHASE_ROLLED_BACK, "a node's own rollback rolls the fleet back");
	ASSERT_TRUE(d.set_weight && d.new_bp == 0 && d.reason == WREASON_ROLLBACK, "weight 0");
	ASSERT_TRUE(strstr(r.reason, "n2") && strstr(r.reason, "http_5xx"),
		    "naming node, evidence");
	rollout_free(&r);
}

static const struct test_case cases[] = {
    {"sums grow with every node's report", sums_grow},
    {"counters that go back re-base the node, never subtract", rebase_never_subtracts},
    {"a gone node keeps its contribution", gone_keeps_contribution},
    {"a full table folds the oldest gone node", full_table_folds},
    {"save and restore", save_restore},
    {"a bad saved form is refused naming the field", bad_refused},
    {"a rollout over three nodes is promoted", fleet_promoted},
    {"one node's failing canary rolls the fleet back", fleet_rolled_back},
    {"a fleet rollout's state keeps its per-node counters", save_restore_with_fleet},
    {"a node's watch rolls back and never steps", watch_only_rolls_back},
    {"store pause, resume, and a node's rollback of the fleet", store_pause_and_node_rollback},
};

TEST_MAIN(cases)
