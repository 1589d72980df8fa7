/* fleet.h: what lives in the store under the prefix (docs/FLEET.md), the names of its
 * keys and the JSON of its values, encoded here and decoded with every field checked:
 * a value in the store is input from outside like any other. */
#ifndef CANARY_FLEET_H
#define CANARY_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "xdp_canary.h"
#include "logic/salts.h"

/* Keys, relative to the prefix. */
#define FLEET_DIR_CONFIG    "config/"
#define FLEET_KEY_SERVICES  "config/services" /* the services YAML, one revision per apply */
#define FLEET_KEY_SALTS	    "config/salts"    /* {"svc": salt}, written with the services */
#define FLEET_DIR_WEIGHTS   "weights/"	      /* weights/SVC: struct fleet_weight */
#define FLEET_DIR_ROLLOUTS  "rollouts/"	      /* rollouts/SVC: the leader's rollout state */
#define FLEET_DIR_NODES	    "nodes/"	      /* nodes/NODE: struct fleet_report, leased */
#define FLEET_DIR_ROLLBACKS "rollbacks/"      /* rollbacks/SVC/NODE: a node's own rollback */
#define FLEET_KEY_LEADER    "leader"	      /* the leader's node name, leased */
#define FLEET_KEY_LEN	    128

/* A node name: 1..63 of [a-z0-9._-], starting with a letter or digit. */
#define FLEET_NODE_LEN 64
bool fleet_node_valid(const char *name);

/* "weights/SVC" and so on into out; -EINVAL for a bad service or node name. */
int fleet_key_weight(char *out, size_t len, const char *svc);
int fleet_key_rollout(char *out, size_t len, const char *svc);
int fleet_key_node(char *out, size_t len, const char *node);
int fleet_key_rollback(char *out, size_t len, const char *svc, const char *node);
/* The last word of a key under dir ("weights/web" -> "web"), or NULL when key is not
 * directly under dir. */
const char *fleet_key_leaf(const char *key, const char *dir);

/* Every decoder returns 0, or -EINVAL with "field: what is wrong" in why. Encoders
 * return a malloc'ed NUL-terminated string (NULL when out of memory). */

/* config/salts: {"web": 123456789, ...}; every name valid, every salt a uint32. */
char *fleet_salts_encode(const struct salt_table *t);
int fleet_salts_decode(const char *text, size_t len, struct salt_table *t, char *why, size_t wlen);

/* weights/SVC: {"weight_bp": 1000, "by": "canaryctl", "time_ms": 1764600000000}; other
 * members are ignored (a newer writer may add some), these three are checked. */
struct fleet_weight {
	unsigned int bp; /* 0..10000 */
	char by[64];	 /* who set it: "canaryctl", "leader NODE", ... */
	int64_t time_ms; /* unix time */
};
char *fleet_weight_encode(const struct fleet_weight *w);
int fleet_weight_decode(const char *text, size_t len, struct fleet_weight *w, char *why,
			size_t wlen);

/* One arm's counters as JSON: an object of the struct arm_stats fields by name, zeros
 * left out (an idle arm is {}), the histograms as arrays without trailing zeros. */
struct json_object *fleet_arm_to_json(const struct arm_stats *a);
bool fleet_arm_from_json(struct json_object *o, const char *field, struct arm_stats *a, char *why,
			 size_t wlen);

/* nodes/NODE: a node's report, overwritten in place each interval under its lease. */
struct fleet_report_svc {
	char name[CANARY_NAME_LEN];
	unsigned int weight_bp;	 /* the weight the node's maps hold */
	struct arm_stats arm[2]; /* CANARY_ARM_STABLE, CANARY_ARM_CANARY */
};
struct fleet_report {
	char node[FLEET_NODE_LEN];
	int64_t config_rev;  /* mod revision of config/services applied (0: none yet) */
	int64_t weights_rev; /* the store revision whose weights the maps hold (0: none) */
	int64_t time_ms;     /* unix time of the report */
	int64_t started_ms;  /* when this canaryd started: counters reset when it changes */
	char health[64];     /* "ok", or why not ("config rejected: ...", "store down") */
	unsigned int n_svc;
	struct fleet_report_svc svc[CANARY_MAX_SERVICES];
};
char *fleet_report_encode(const struct fleet_report *r);
/* r is large (struct fleet_report): allocate it. */
int fleet_report_decode(const char *text, size_t len, struct fleet_report *r, char *why,
			size_t wlen);

#endif
