/* watch.c: each node's own watch of its own counters, in fleet mode (docs/FLEET.md,
 * "Leader and store outages"). For every rollout active in the store, the node runs the
 * rollout's own tests and guards (rollout_tick, watch_only: no step, only a rollback)
 * on its node's counters, each poll. While the node cannot reach the store, a rollback
 * it decides is made at once on this node alone (weight 0 in its maps), capped there
 * (nothing raises it again), and recorded in the store as rollbacks/SVC/NODE when the
 * store answers; the leader then rolls back the rest of the fleet. While the store
 * answers, the fleet-wide analysis decides (a node alone would multiply the false
 * alarms by the number of nodes): the watch logs what it saw and starts again.
 * Everything here expects A.lock held. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonv.h"
#include "base/util.h"
#include "canaryd.h"
#include "store/fleet.h"

struct watch {
	char svc[CANARY_NAME_LEN];
	int64_t started_ms; /* the fleet rollout's start: its identity */
	struct plan plan;
	char *plan_text;
	struct rollout *r; /* on this node's counters; made at the first poll that can */
	bool seen;	   /* learnt in this round */
	bool capped;	   /* this node rolled itself back: weight 0 stands */
	bool need_record;  /* the rollback is not yet in the store */
	int64_t recorded_rev;
	int64_t at_ms;
	char why[512];
};

static struct watch W[CANARY_MAX_SERVICES];
static unsigned int NW;

static struct watch *find(const char *svc)
{
	unsigned int i;

	for (i = 0; i < NW; i++)
		if (!strcmp(W[i].svc, svc))
			return &W[i];
	return NULL;
}

static void watch_reset(struct watch *w)
{
	if (w->r) {
		rollout_free(w->r);
		free(w->r);
		w->r = NULL;
	}
}

static void watch_end(struct watch *w)
{
	watch_reset(w);
	free(w->plan_text);
	*w = W[--NW];
	memset(&W[NW], 0, sizeof(W[NW]));
}

/* A new watch of svc's rollout started at started_ms with plan text. */
static void watch_new(const char *svc, int64_t started_ms, const char *text)
{
	struct watch *w = find(svc);
	FILE *devnull;
	struct plan p;
	int rc;

	devnull = fopen("/dev/null", "w");
	rc = plan_parse_text(text, strlen(text), "(store)", &p, devnull);
	if (devnull)
		fclose(devnull);
	if (rc || strcmp(p.service, svc))
		return;
	if (w) {
		watch_reset(w);
		free(w->plan_text);
	} else if (NW < CANARY_MAX_SERVICES) {
		w = &W[NW++];
	} else {
		return;
	}
	memset(w, 0, sizeof(*w));
	snprintf(w->svc, sizeof(w->svc), "%s", svc);
	w->started_ms = started_ms;
	w->plan = p;
	w->plan_text = strdup(text);
	w->seen = true;
}

void watch_learn(const char *svc, const char *text, size_t len, unsigned int bp,
		 int64_t weights_rev)
{
	struct watch *w = find(svc);
	const char *phase, *plan_text;
	struct json_object *j;
	int64_t started;
	struct jv v = {};
	bool active;
	int ph;

	j = jv_parse(&v, text, len);
	if (!j || !jv_str(&v, j, "phase", NULL, 32, false, &phase) ||
	    !jv_int(&v, j, "started_ms", NULL, 0, INT64_MAX, false, &started) ||
	    !jv_str(&v, j, "plan_text", NULL, PLAN_MAX_BYTES, false, &plan_text)) {
		json_object_put(j);
		return;
	}
	for (ph = 0; ph < PHASE_COUNT && strcmp(phase, rollout_phase_names[ph]); ph++)
		;
	active = ph == PHASE_PROGRESSING || ph == PHASE_PAUSED || ph == PHASE_WAITING_GATE ||
		 ph == PHASE_PROMOTING;
	/* The leader has acted on this node's rollback (weight 0), or the rollout it
	 * capped is over and someone set the weight since: the cap has done its work. A
	 * step the leader wrote before it read the record releases nothing. */
	if (w && w->capped && !w->need_record &&
	    (bp == 0 || (weights_rev > w->recorded_rev && (!active || started != w->started_ms)))) {
		logline("%s: this node's own rollback is resolved in the store (weight %u bp); "
			"the node follows the store's weight again",
			svc, bp);
		w->capped = false;
	}
	if (w && (w->capped || w->need_record))
		w->seen = true; /* kept, whatever the store says now */
	else if (active && (!w || w->started_ms != started))
		watch_new(svc, started, plan_text);
	else if (w && active)
		w->seen = true;
	json_object_put(j);
}

void watch_sweep(void)
{
	unsigned int i;

	for (i = 0; i < NW;) {
		if (!W[i].seen) {
			watch_end(&W[i]);
			continue;
		}
		W[i].seen = false;
		i++;
	}
}

bool watch_weight_cap(const char *svc, unsigned int *bp)
{
	const struct watch *w = find(svc);

	if (!w || !w->capped)
		return false;
	*bp = 0;
	return true;
}

/* ---- the poll ----------------------------------------------------------------------------- */

/* Weight 0 on this node's maps: a compare-and-swap on the generation, on top of any
 * change made meanwhile (the safe direction), never waiting for the writers' lock. */
static int local_zero(const struct service_state *s)
{
	struct svc_config cfg;
	int tries, err = 0;

	for (tries = 0; tries < 8; tries++) {
		uint32_t expected;

		err = svc_config_read(&A.maps, s->info.id, &cfg);
		if (err || cfg.canary_weight == 0)
			return err;
		expected = cfg.generation;
		cfg.canary_weight = 0;
		err = svc_config_publish(&A.maps, s->info.id, s->info.name, &cfg, expected);
		if (err != -ESTALE)
			return err;
	}
	return err;
}

/* The watch decided a rollback on this node's evidence. */
static void watch_rollback(struct watch *w, const struct service_state *s,
			   const struct rollout_decision *d, int64_t now)
{
	char ev[1024];
	int err;

	rollout_evidence(w->r, ev, sizeof(ev));
	if (fleet_store_ok()) {
		logline("%s: this node's own evidence says roll back (%s); while the store "
			"answers the fleet-wide analysis decides, so the node's watch starts again",
			w->svc, w->r->reason);
		watch_reset(w);
		return;
	}
	err = local_zero(s);
	snprintf(w->why, sizeof(w->why), "%s", w->r->reason);
	w->capped = w->need_record = true;
	w->at_ms = now;
	logline("%s: ROLLBACK OF THIS NODE on its own evidence while cut off from the store: "
		"weight -> 0%% here%s%s: %s; evidence: %s; recorded in the store when it answers",
		w->svc, err ? ", AND THE WRITE FAILED: " : "", err ? strerror(-err) : "", w->why,
		ev);
	history_line(w->svc, d, "node-rollback", w->r->step + 1, w->plan.nsteps,
		     rollout_phase_names[w->r->phase], w->why, ev, ACTOR_AGENT, now);
}

/* The watch's rollout, on this node's counters now. */
static int watch_make(struct watch *w, const struct service_state *s, const struct svc_config *cfg,
		      int64_t now)
{
	struct arm_stats arm[CANARY_ARMS];
	char err[256];
	int a;

	w->r = calloc(1, sizeof(*w->r));
	if (!w->r)
		return -ENOMEM;
	for (a = 0; a < CANARY_ARMS; a++)
		arm_stats_total(A.snap, s->info.id, a, &arm[a]);
	if (rollout_init(w->r, &w->plan, w->plan_text, s->info.id, arm, now, err, sizeof(err))) {
		watch_reset(w);
		return -EINVAL;
	}
	w->r->watch_only = true;
	w->r->weight_bp = cfg->canary_weight;
	w->r->generation = cfg->generation;
	return 0;
}

static void watch_one(struct watch *w, double dt, int64_t now)
{
	const struct service_state *s = find_service(w->svc);
	struct rollout_decision d;
	struct rollout_input in = {};
	struct svc_config cfg;

	if (!s || svc_config_read(&A.maps, s->info.id, &cfg))
		return;
	if (w->capped) {
		/* Nothing raises this node's weight while its rollback stands. */
		if (cfg.canary_weight && !local_zero(s))
			logline("%s: this node's own rollback stands: weight back to 0%%", w->svc);
		return;
	}
	if (!w->r) {
		watch_make(w, s, &cfg, now);
		return;
	}
	rollout_input_of(s, &cfg, dt, now, &in);
	rollout_tick(w->r, &in, &d);
	if (d.set_weight && d.reason == WREASON_ROLLBACK)
		watch_rollback(w, s, &d, now);
	else if (!rollout_active(w->r))
		watch_reset(w); /* ended some other way: start again */
}

void watch_poll(double dt, int64_t now_ms)
{
	unsigned int i;

	if (!fleet_mode())
		return;
	for (i = 0; i < NW; i++)
		watch_one(&W[i], dt, now_ms);
}

/* ---- the record in the store -------------------------------------------------------------- */

char *watch_next_record(const char *node, char *svc, size_t svclen, size_t *len)
{
	struct json_object *j;
	unsigned int i;
	char *text;

	for (i = 0; i < NW && !W[i].need_record; i++)
		;
	if (i == NW)
		return NULL;
	j = json_object_new_object();
	json_object_object_add(j, "node", json_object_new_string(node));
	json_object_object_add(j, "service", json_object_new_string(W[i].svc));
	json_object_object_add(j, "rollout_started_ms", json_object_new_int64(W[i].started_ms));
	json_object_object_add(j, "time_ms", json_object_new_int64(W[i].at_ms));
	json_object_object_add(j, "reason", json_object_new_string(W[i].why));
	text = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
	snprintf(svc, svclen, "%s", W[i].svc);
	*len = text ? strlen(text) : 0;
	return text;
}

void watch_recorded(const char *svc, int64_t rev)
{
	struct watch *w = find(svc);

	if (w) {
		w->need_record = false;
		w->recorded_rev = rev;
	}
}

static const char *const record_keys[] = {"node",    "service", "rollout_started_ms",
					  "time_ms", "reason",	NULL};

int watch_record_decode(const char *text, size_t len, struct node_rollback *out, char *why,
			size_t wlen)
{
	const char *node, *svc, *reason;
	struct json_object *j;
	struct jv v = {};
	int rc = -EINVAL;

	j = jv_parse(&v, text, len);
	if (j && jv_known_keys(&v, j, "(rollback)", record_keys) &&
	    jv_str(&v, j, "node", NULL, FLEET_NODE_LEN - 1, false, &node) &&
	    jv_str(&v, j, "service", NULL, CANARY_NAME_LEN - 1, false, &svc) &&
	    jv_int(&v, j, "rollout_started_ms", NULL, 0, INT64_MAX, false,
		   &out->rollout_started_ms) &&
	    jv_int(&v, j, "time_ms", NULL, 0, INT64_MAX, false, &out->time_ms) &&
	    jv_str(&v, j, "reason", NULL, sizeof(out->reason) - 1, false, &reason)) {
		if (!fleet_node_valid(node) || !service_name_valid(svc)) {
			snprintf(why, wlen, "node or service: not a valid name");
		} else {
			snprintf(out->node, sizeof(out->node), "%s", node);
			snprintf(out->service, sizeof(out->service), "%s", svc);
			snprintf(out->reason, sizeof(out->reason), "%s", reason);
			rc = 0;
		}
	} else {
		snprintf(why, wlen, "%s", v.err);
	}
	json_object_put(j);
	return rc;
}
