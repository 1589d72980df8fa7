/* leader.c: fleet mode's leader (docs/FLEET.md, "The leader"). One thread on every node
 * runs a round each interval with its own store handle:
 *   - the election: a lease kept alive each round, and a create of the `leader` key
 *     only if absent, under that lease. The leader steps down at once when a keepalive
 *     fails or the key is no longer its own; followers try again each round, so one
 *     takes over within a round of the old lease's expiry.
 *   - the leader's work: every node's report (nodes/), summed per rollout (fleetsum.c)
 *     and run through the same rollout_tick as one node's counters; each rollout's
 *     state, and its weight when it changes, written as one transaction conditional on
 *     the revisions read (rollouts/SVC and weights/SVC). Followers apply the weights
 *     (node.c), never the leader directly.
 *   - on every node: the node's own watch (watch.c) learns the rollouts from the store,
 *     and a rollback it made while cut off is recorded (rollbacks/SVC/NODE).
 * No store call is made under A.lock: a round reads, takes the lock to tick, lets go,
 * and writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/jsonv.h"
#include "base/util.h"
#include "canaryd.h"
#include "store/etcd.h"
#include "store/fleet.h"

/* What the leader knows of each service in the store (A.lock). */
struct svc_seen {
	char name[CANARY_NAME_LEN];
	int64_t rollout_rev; /* mod revision of rollouts/SVC last read or written; 0: none */
	int64_t weights_rev; /* of weights/SVC; 0: none */
	unsigned int bp;     /* the weight there */
	bool by_leader;	     /* and a leader wrote it */
	bool final_written;  /* an ended rollout's last state is in the store */
};

static struct {
	struct store *st;
	char node[FLEET_NODE_LEN];
	int ttl_s;
	int64_t lease;
	bool on;
	_Atomic bool leader, store_ok;
	char leader_name[FLEET_NODE_LEN]; /* A.lock */
	char why_down[256];		  /* A.lock: why the store is not usable */
	struct svc_seen svcs[CANARY_MAX_SERVICES];
	unsigned int nsvcs;
	uint64_t last_round_ns;
	struct fleet_report *report; /* the one being folded in (leader thread) */
} F;

bool fleet_mode(void)
{
	return F.on;
}

bool fleet_store_ok(void)
{
	return atomic_load(&F.store_ok);
}

const char *fleet_node(void)
{
	return F.on ? F.node : NULL;
}

bool fleet_leader(char *who, size_t len)
{
	if (who)
		snprintf(who, len, "%s", F.leader_name);
	return atomic_load(&F.leader);
}

static struct svc_seen *seen(const char *svc, bool add)
{
	unsigned int i;

	for (i = 0; i < F.nsvcs; i++)
		if (!strcmp(F.svcs[i].name, svc))
			return &F.svcs[i];
	if (!add || F.nsvcs == CANARY_MAX_SERVICES)
		return NULL;
	memset(&F.svcs[F.nsvcs], 0, sizeof(F.svcs[0]));
	snprintf(F.svcs[F.nsvcs].name, sizeof(F.svcs[0].name), "%s", svc);
	return &F.svcs[F.nsvcs++];
}

void fleet_adopt(struct rollout *r)
{
	struct svc_seen *w = seen(r->plan.service, true);

	r->fleet = calloc(1, sizeof(*r->fleet));
	/* The sums start at zero: each node's first report is its baseline. */
	memset(r->base, 0, sizeof(r->base));
	memset(r->step_base, 0, sizeof(r->step_base));
	memset(r->last, 0, sizeof(r->last));
	r->weight_bp = w ? w->bp : 0;
	r->generation = w ? (uint32_t)w->weights_rev : 0;
	if (w) {
		w->final_written = false;
	}
}

/* ---- listings ----------------------------------------------------------------------------- */

struct kvcopy {
	char key[FLEET_KEY_LEN];
	char *val;
	size_t len;
	int64_t rev;
};
struct kvlist {
	struct kvcopy *kv;
	unsigned int n, cap;
};

static int kv_collect(const struct store_kv *kv, void *arg)
{
	struct kvlist *l = arg;
	struct kvcopy *c;

	if (strlen(kv->key) >= FLEET_KEY_LEN)
		return 0; /* not a key of ours */
	if (l->n == l->cap) {
		unsigned int cap = l->cap ? 2 * l->cap : 16;
		struct kvcopy *k = realloc(l->kv, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		l->kv = k;
		l->cap = cap;
	}
	c = &l->kv[l->n];
	c->val = malloc(kv->len + 1);
	if (!c->val)
		return -ENOMEM;
	memcpy(c->val, kv->val, kv->len);
	c->val[kv->len] = 0;
	c->len = kv->len;
	c->rev = kv->mod_rev;
	snprintf(c->key, sizeof(c->key), "%s", kv->key);
	l->n++;
	return 0;
}

static void kvlist_free(struct kvlist *l)
{
	unsigned int i;

	for (i = 0; i < l->n; i++)
		free(l->kv[i].val);
	free(l->kv);
	memset(l, 0, sizeof(*l));
}

static int list(const char *dir, struct kvlist *l)
{
	memset(l, 0, sizeof(*l));
	return store_list(F.st, dir, kv_collect, l, NULL);
}

/* ---- the election ------------------------------------------------------------------------- */

/* Keep the lease (a new one when it expired); 0, or -errno when the store is not
 * usable. *lost is set when a lease the leader held expired. */
static int keep_lease(bool *lost)
{
	int ttl_left, rc;

	*lost = false;
	if (F.lease) {
		rc = store_lease_keepalive(F.st, F.lease, &ttl_left);
		if (rc != -ENOENT)
			return rc;
		*lost = atomic_load(&F.leader);
		F.lease = 0;
	}
	return store_lease_grant(F.st, F.ttl_s, &F.lease);
}

/* Whether the leader key is this node's: a create only if absent, or a read. */
static int claim(bool *mine, char *holder, size_t len)
{
	struct store_cmp c = {.key = FLEET_KEY_LEADER, .op = CMP_ABSENT};
	struct store_op o = {
	    .key = FLEET_KEY_LEADER, .val = F.node, .len = strlen(F.node), .lease = F.lease};
	bool ok = false;
	size_t n;
	char *v;
	int rc;

	*mine = false;
	if (!atomic_load(&F.leader)) {
		rc = store_txn(F.st, &c, 1, &o, 1, &ok, NULL);
		if (rc)
			return rc;
	}
	rc = store_get(F.st, FLEET_KEY_LEADER, &v, &n, NULL);
	if (rc == -ENOENT) {
		snprintf(holder, len, "%s", "");
		return 0;
	}
	if (rc)
		return rc;
	snprintf(holder, len, "%.*s", (int)(n < len ? n : len - 1), v);
	*mine = !strcmp(holder, F.node);
	free(v);
	return 0;
}

/* ---- stepping down and taking over --------------------------------------------------------- */

/* This node no longer leads: its rollouts hold, saying why, until a leader (this one
 * or another) takes them from the store. */
static void step_down(const char *why)
{
	unsigned int i;

	atomic_store(&F.leader, false);
	logline("fleet: %s leads no more: %s", F.node, why);
	for (i = 0; i < CANARY_MAX_SERVICES; i++) {
		struct rollout *r = A.rollouts[i];
		struct rollout_decision d;

		if (!r || !r->fleet)
			continue;
		rollout_store_pause(r, why, &d);
		apply(r, &d, ACTOR_AGENT, wall_ms());
	}
}

/* Another node leads: the rollouts are its own, so this one drops its copies. */
static void drop_rollouts(const char *leader)
{
	unsigned int i;

	for (i = 0; i < CANARY_MAX_SERVICES; i++) {
		struct rollout *r = A.rollouts[i];

		if (!r || !r->fleet)
			continue;
		logline("%s: the rollout is led by %s now; this node only applies its weights",
			r->plan.service, leader);
		rollout_free(r);
		free(r);
		A.rollouts[i] = NULL;
	}
}

/* A rollout's state from the store, checked whole; NULL (logged) when it is not valid. */
static struct rollout *load_rollout(const struct kvcopy *kv, const char *svc)
{
	struct rollout *r = calloc(1, sizeof(*r));
	struct json_object *j;
	struct jv v = {};
	char err[256];

	if (!r)
		return NULL;
	j = jv_parse(&v, kv->val, kv->len);
	if (!j || rollout_from_json(r, j, svc, err, sizeof(err))) {
		logline("%s: ERROR: the rollout in the store (%s) is not valid: %s; it is left "
			"as it is (abort it with canaryctl, or write a valid state)",
			svc, kv->key, j ? err : v.err);
		json_object_put(j);
		rollout_free(r);
		free(r);
		return NULL;
	}
	json_object_put(j);
	if (!r->fleet)
		r->fleet = calloc(1, sizeof(*r->fleet));
	return r;
}

/* The new leader takes every rollout from the store (lock held): the same step, the
 * same evidence, the same per-node counters. A copy of its own that the store lacks
 * resumes from the copy. */
static void take_over(const struct kvlist *ro)
{
	unsigned int i;

	for (i = 0; i < ro->n; i++) {
		const char *svc = fleet_key_leaf(ro->kv[i].key, FLEET_DIR_ROLLOUTS);
		struct svc_seen *w;
		struct rollout *r;
		char b[16];

		if (!svc || !service_name_valid(svc) || !(r = load_rollout(&ro->kv[i], svc)))
			continue;
		if (rollouts_put(find_rollout(svc), r)) {
			rollout_free(r);
			free(r);
			continue;
		}
		w = seen(svc, true);
		if (w) {
			w->rollout_rev = ro->kv[i].rev;
			w->final_written = !rollout_active(r);
		}
		persist(r);
		if (rollout_active(r))
			logline(
			    "%s: the new leader %s resumes the rollout at step %u/%u (%s, weight "
			    "%s)",
			    svc, F.node, r->step + 1, r->plan.nsteps, rollout_phase_names[r->phase],
			    bp_pct(r->weight_bp, b, sizeof(b)));
	}
	for (i = 0; i < CANARY_MAX_SERVICES; i++) {
		struct rollout_decision d;

		if (A.rollouts[i] && A.rollouts[i]->fleet) {
			rollout_store_resume(A.rollouts[i], &d);
			apply(A.rollouts[i], &d, ACTOR_AGENT, wall_ms());
		}
	}
}

/* ---- the leader's round ------------------------------------------------------------------- */

/* Each node's report folded into every fleet rollout of a service it reports; the
 * nodes' names into names[] (*n of them). */
static void fold_reports(const struct kvlist *nodes, char (*names)[FLEET_NODE_LEN], unsigned int *n,
			 int64_t now)
{
	unsigned int i, k;
	char why[256];

	*n = 0;
	for (i = 0; i < nodes->n; i++) {
		const char *node = fleet_key_leaf(nodes->kv[i].key, FLEET_DIR_NODES);

		if (!node || fleet_report_decode(nodes->kv[i].val, nodes->kv[i].len, F.report, why,
						 sizeof(why))) {
			logline("fleet: the report %s is not valid (%s); its node counts as gone",
				nodes->kv[i].key, node ? why : "not a node key");
			continue;
		}
		snprintf(names[(*n)++], FLEET_NODE_LEN, "%s", node);
		pthread_mutex_lock(&A.lock);
		for (k = 0; k < F.report->n_svc; k++) {
			struct rollout *r = find_rollout(F.report->svc[k].name);

			/* The counters are the maps' own, cumulative since the attach (an
			 * agent's restart keeps them): a re-attach shows as counters that go
			 * back, so no epoch is given. */
			if (r && r->fleet && rollout_active(r) &&
			    fleet_sum_report(r->fleet, node, 0, F.report->svc[k].arm, now) == 1)
				logline("%s: the counters of node %s started again (re-attach or "
					"restart): re-based, nothing subtracted",
					r->plan.service, node);
		}
		pthread_mutex_unlock(&A.lock);
	}
}

/* A node's recorded rollback of this rollout (rollbacks/SVC/NODE), if any. */
static bool node_rolled_back(const struct rollout *r, const struct kvlist *rb, char *node,
			     size_t nlen, char *why, size_t wlen)
{
	unsigned int i;

	for (i = 0; i < rb->n; i++) {
		struct node_rollback nr;
		char err[128];

		if (watch_record_decode(rb->kv[i].val, rb->kv[i].len, &nr, err, sizeof(err))) {
			logline("fleet: %s is not a valid rollback record: %s", rb->kv[i].key, err);
			continue;
		}
		if (strcmp(nr.service, r->plan.service) || nr.rollout_started_ms != r->started_ms)
			continue;
		snprintf(node, nlen, "%s", nr.node);
		snprintf(why, wlen, "%s", nr.reason);
		return true;
	}
	return false;
}

/* One fleet rollout's tick on the sums (lock held). */
static void lead_tick(struct rollout *r, const struct svc_seen *w, const struct kvlist *rb,
		      char (*names)[FLEET_NODE_LEN], unsigned int n, double dt, int64_t now)
{
	const char *present[FLEET_MAX_NODES];
	const struct service_state *s = find_service(r->plan.service);
	struct rollout_decision d;
	struct rollout_input in = {};
	char node[FLEET_NODE_LEN], why[512];
	unsigned int i, gone;

	for (i = 0; i < n && i < FLEET_MAX_NODES; i++)
		present[i] = names[i];
	gone = fleet_sum_mark_gone(r->fleet, present, i);
	if (gone)
		logline("%s: %u node(s) left (their keys are gone); their counters stay in the "
			"sums",
			r->plan.service, gone);
	if (node_rolled_back(r, rb, node, sizeof(node), why, sizeof(why))) {
		rollout_node_rollback(r, node, why, now, &d);
		apply(r, &d, ACTOR_AGENT, now);
		return;
	}
	fleet_sum_total(r->fleet, in.arm);
	in.svc_id = r->svc_id;
	in.weight_bp = w ? w->bp : r->weight_bp;
	in.generation = w ? (uint32_t)w->weights_rev : r->generation;
	in.hash_mode = s ? s->cfg.hash_mode : 0;
	in.svc_flags = s ? s->cfg.flags : 0;
	in.dt = dt;
	in.now_ms = now;
	/* The state written with a weight carries the revision before that write: a
	 * leader's weight equal to the rollout's is the rollout's own (a takeover right
	 * after a step), not a change by someone else. */
	if (w && w->by_leader && w->bp == r->weight_bp)
		r->generation = in.generation;
	if (rollout_active(r) && in.generation != r->generation)
		logline("%s: weights/%s is at revision %u, the rollout last wrote or accepted %u: "
			"someone else set it",
			r->plan.service, r->plan.service, in.generation, r->generation);
	rollout_tick(r, &in, &d);
	apply(r, &d, ACTOR_AGENT, now);
}

/* A write the round makes: a rollout's state, and its weight when that changed. */
struct pending_write {
	char svc[CANARY_NAME_LEN];
	int64_t started_ms, rollout_rev, weights_rev;
	char *state;
	bool weight;
	unsigned int bp;
	bool active;
};

/* Tick every fleet rollout and say what to write (lock held). Returns the count. */
static unsigned int lead_all(struct pending_write *pw, const struct kvlist *rb,
			     char (*names)[FLEET_NODE_LEN], unsigned int n, double dt, int64_t now)
{
	unsigned int i, k = 0;

	for (i = 0; i < CANARY_MAX_SERVICES; i++) {
		struct rollout *r = A.rollouts[i];
		struct svc_seen *w;
		struct json_object *j;

		if (!r || !r->fleet || !(w = seen(r->plan.service, true)))
			continue;
		if (rollout_active(r))
			lead_tick(r, w, rb, names, n, dt, now);
		else if (w->final_written)
			continue;
		j = rollout_to_json(r);
		memset(&pw[k], 0, sizeof(pw[k]));
		snprintf(pw[k].svc, sizeof(pw[k].svc), "%s", r->plan.service);
		pw[k].state = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
		json_object_put(j);
		if (!pw[k].state)
			continue;
		pw[k].started_ms = r->started_ms;
		pw[k].rollout_rev = w->rollout_rev;
		pw[k].weights_rev = w->weights_rev;
		pw[k].active = rollout_active(r);
		/* A weight the rollout decided, over the one it last knew: never over a
		 * change made meanwhile (the next tick records that one as manual). */
		pw[k].weight = r->weight_bp != w->bp && r->generation == (uint32_t)w->weights_rev;
		pw[k].bp = r->weight_bp;
		k++;
	}
	return k;
}

/* One write: the state and the weight in one transaction, conditional on both
 * revisions read. */
static void write_one(struct pending_write *p)
{
	char kr[FLEET_KEY_LEN], kw[FLEET_KEY_LEN], *wtext = NULL;
	struct fleet_weight fw = {.bp = p->bp, .time_ms = wall_ms()};
	struct store_cmp c[2];
	struct store_op o[2];
	bool ok = false;
	int64_t rev = 0;
	int n = 1, rc;

	if (fleet_key_rollout(kr, sizeof(kr), p->svc) || fleet_key_weight(kw, sizeof(kw), p->svc))
		return;
	c[0] = (struct store_cmp){
	    .key = kr, .op = p->rollout_rev ? CMP_MOD_REV_EQ : CMP_ABSENT, .rev = p->rollout_rev};
	o[0] = (struct store_op){.key = kr, .val = p->state, .len = strlen(p->state)};
	if (p->weight) {
		snprintf(fw.by, sizeof(fw.by), "leader %s", F.node);
		wtext = fleet_weight_encode(&fw);
		if (!wtext)
			return;
		c[1] = (struct store_cmp){.key = kw,
					  .op = p->weights_rev ? CMP_MOD_REV_EQ : CMP_ABSENT,
					  .rev = p->weights_rev};
		o[1] = (struct store_op){.key = kw, .val = wtext, .len = strlen(wtext)};
		n = 2;
	}
	rc = store_txn(F.st, c, n, o, n, &ok, &rev);
	free(wtext);
	pthread_mutex_lock(&A.lock);
	if (rc || !ok) {
		logline("%s: the leader could not write the rollout%s: %s; trying again next round",
			p->svc, p->weight ? " and its weight" : "",
			rc ? store_error(F.st) : "it changed in the store meanwhile (re-read)");
	} else {
		struct svc_seen *w = seen(p->svc, true);
		struct rollout *r = find_rollout(p->svc);

		if (w) {
			w->rollout_rev = rev;
			w->final_written = !p->active;
			if (p->weight) {
				w->weights_rev = rev;
				w->bp = p->bp;
				w->by_leader = true;
			}
		}
		if (p->weight && r && r->fleet && r->started_ms == p->started_ms)
			r->generation = (uint32_t)rev;
	}
	pthread_mutex_unlock(&A.lock);
}

/* The weights in the store, as the leader and the watches go by (lock held). */
static void note_weights(const struct kvlist *wt)
{
	unsigned int i;

	for (i = 0; i < wt->n; i++) {
		const char *svc = fleet_key_leaf(wt->kv[i].key, FLEET_DIR_WEIGHTS);
		struct fleet_weight fw;
		struct svc_seen *w;
		char why[128];

		if (!svc || !service_name_valid(svc) ||
		    fleet_weight_decode(wt->kv[i].val, wt->kv[i].len, &fw, why, sizeof(why)))
			continue;
		w = seen(svc, true);
		if (w) {
			w->bp = fw.bp;
			w->weights_rev = wt->kv[i].rev;
			w->by_leader = !strncmp(fw.by, "leader ", 7);
		}
	}
}

/* A rollout written in the store by someone else since this leader wrote it (another
 * leader for a moment, or a person): the store wins, it is read again (lock held). */
static void reload_changed(const struct kvlist *ro)
{
	unsigned int i;

	for (i = 0; i < ro->n; i++) {
		const char *svc = fleet_key_leaf(ro->kv[i].key, FLEET_DIR_ROLLOUTS);
		struct svc_seen *w = svc ? seen(svc, false) : NULL;
		struct kvlist one = {.kv = &ro->kv[i], .n = 1};

		if (svc && (!w || w->rollout_rev != ro->kv[i].rev)) {
			logline("%s: the rollout changed in the store (revision %lld): reading it "
				"again",
				svc, (long long)ro->kv[i].rev);
			take_over(&one);
		}
	}
}

/* The watches learn the store's rollouts (lock held). */
static void teach_watches(const struct kvlist *ro)
{
	unsigned int i;

	for (i = 0; i < ro->n; i++) {
		const char *svc = fleet_key_leaf(ro->kv[i].key, FLEET_DIR_ROLLOUTS);
		const struct svc_seen *w;

		if (!svc || !service_name_valid(svc))
			continue;
		w = seen(svc, false);
		watch_learn(svc, ro->kv[i].val, ro->kv[i].len, w ? w->bp : 0,
			    w ? w->weights_rev : 0);
	}
	watch_sweep();
}

/* Rollbacks this node made while cut off, recorded now that the store answers. */
static void record_rollbacks(void)
{
	char key[FLEET_KEY_LEN], svc[CANARY_NAME_LEN], *val;
	struct store_op o = {.key = key};
	bool ok;
	int64_t rev;
	size_t len;

	for (;;) {
		pthread_mutex_lock(&A.lock);
		val = watch_next_record(F.node, svc, sizeof(svc), &len);
		pthread_mutex_unlock(&A.lock);
		if (!val || fleet_key_rollback(key, sizeof(key), svc, F.node)) {
			free(val);
			return;
		}
		o.val = val;
		o.len = len;
		rev = 0;
		if (store_txn(F.st, NULL, 0, &o, 1, &ok, &rev) || !ok) {
			free(val);
			return;
		}
		free(val);
		pthread_mutex_lock(&A.lock);
		watch_recorded(svc, rev);
		pthread_mutex_unlock(&A.lock);
		logline("%s: recorded this node's own rollback in the store (%s): the leader rolls "
			"the rest of the fleet back",
			svc, key);
	}
}

/* The leader's part of a round: the reports, the ticks, the writes. */
static void lead(double dt, int64_t now)
{
	static char names[FLEET_MAX_NODES][FLEET_NODE_LEN];
	struct pending_write *pw;
	struct kvlist nodes, rb;
	unsigned int n, k, i;

	if (list(FLEET_DIR_NODES, &nodes) || list(FLEET_DIR_ROLLBACKS, &rb)) {
		kvlist_free(&nodes);
		return;
	}
	pw = calloc(CANARY_MAX_SERVICES, sizeof(*pw));
	if (pw && nodes.n <= FLEET_MAX_NODES) {
		fold_reports(&nodes, names, &n, now);
		pthread_mutex_lock(&A.lock);
		k = lead_all(pw, &rb, names, n, dt, now);
		pthread_mutex_unlock(&A.lock);
		for (i = 0; i < k; i++) {
			write_one(&pw[i]);
			free(pw[i].state);
		}
	} else if (pw) {
		logline("fleet: %u nodes report, more than the %u a rollout sums", nodes.n,
			FLEET_MAX_NODES);
	}
	free(pw);
	kvlist_free(&nodes);
	kvlist_free(&rb);
}

/* ---- the round ---------------------------------------------------------------------------- */

/* The store does not answer: a leader steps down at once (its rollouts hold, saying
 * why); every node keeps forwarding with what it applied, and its watch decides alone. */
static void store_down(int rc)
{
	bool was = atomic_load(&F.store_ok);

	atomic_store(&F.store_ok, false);
	pthread_mutex_lock(&A.lock);
	snprintf(F.why_down, sizeof(F.why_down), "the store is unreachable (%s)",
		 store_error(F.st)[0] ? store_error(F.st) : strerror(-rc));
	if (was)
		logline("fleet: %s; every node keeps its last applied config, rollouts hold, each "
			"node's own watch may roll its node back",
			F.why_down);
	if (atomic_load(&F.leader))
		step_down(F.why_down);
	pthread_mutex_unlock(&A.lock);
}

/* Who leads, after the election (lock held). took: this node just became the leader. */
static void settle(bool mine, bool lost, const char *holder, bool *took)
{
	bool was = atomic_load(&F.leader);

	*took = false;
	if (was && (!mine || lost))
		step_down(lost ? "this node's leader lease expired (the store was slow or away); a "
				 "leader takes the rollouts from the store"
			       : "the leader key no longer names this node; its leader takes the "
				 "rollouts from the store");
	snprintf(F.leader_name, sizeof(F.leader_name), "%s", holder);
	if (mine && (!was || lost)) {
		atomic_store(&F.leader, true);
		*took = true;
		logline("fleet: %s is the leader now (lease %lld, %d s)", F.node,
			(long long)F.lease, F.ttl_s);
	}
	if (!mine && holder[0])
		drop_rollouts(holder);
}

/* The store's rollouts parsed to learn from, and every rollout taken over or re-read. */
static int round_listings(bool took)
{
	struct kvlist wt, ro;
	int rc;

	rc = list(FLEET_DIR_WEIGHTS, &wt);
	if (!rc)
		rc = list(FLEET_DIR_ROLLOUTS, &ro);
	if (rc) {
		kvlist_free(&wt);
		return rc;
	}
	pthread_mutex_lock(&A.lock);
	note_weights(&wt);
	if (atomic_load(&F.leader))
		(took ? take_over : reload_changed)(&ro);
	teach_watches(&ro);
	pthread_mutex_unlock(&A.lock);
	kvlist_free(&wt);
	kvlist_free(&ro);
	return 0;
}

static void round_once(double dt)
{
	char holder[FLEET_NODE_LEN] = "";
	bool lost, mine = false, took;
	int rc;

	rc = keep_lease(&lost);
	if (!rc)
		rc = claim(&mine, holder, sizeof(holder));
	if (!rc) {
		pthread_mutex_lock(&A.lock);
		settle(mine, lost, holder, &took);
		pthread_mutex_unlock(&A.lock);
		rc = round_listings(took);
	}
	if (rc) {
		store_down(rc);
		return;
	}
	if (!atomic_load(&F.store_ok))
		logline("fleet: the store answers again; reconciling");
	atomic_store(&F.store_ok, true);
	record_rollbacks();
	if (atomic_load(&F.leader))
		lead(took ? A.interval : dt, wall_ms());
}

static void *leader_main(void *arg)
{
	uint64_t last = now_ns();
	double dt;

	while (interval_wait(&last, &dt))
		/* The hold never jumps over a time without rounds (a slow store). */
		round_once(dt > 2 * A.interval ? 2 * A.interval : dt);
	return NULL;
}

int leader_start(const struct store_cfg *cfg, const char *node, int ttl_s, pthread_t *t)
{
	char why[256];
	sigset_t set, old;
	int rc;

	F.st = store_open(cfg, why, sizeof(why));
	if (!F.st) {
		log_error("fleet: %s", why);
		return -1;
	}
	F.report = malloc(sizeof(*F.report));
	if (!F.report)
		return -1;
	snprintf(F.node, sizeof(F.node), "%s", node);
	F.ttl_s = ttl_s;
	F.on = true;
	atomic_store(&F.store_ok, true);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	rc = pthread_create(t, NULL, leader_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc ? -1 : 0;
}

/* At the stop: the lease is revoked, so another node takes over at once rather than
 * after the lease's time. */
void leader_stop(pthread_t t)
{
	if (!F.on)
		return;
	pthread_join(t, NULL);
	if (F.lease)
		store_lease_revoke(F.st, F.lease);
	store_close(F.st);
	free(F.report);
	F.on = false;
}
