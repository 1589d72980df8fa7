/* test_rollout.c: the rollout state machine with simulated counters: a healthy canary
 * completes its plan, a bad one is rolled back, and manual changes, gates, missing
 * traffic, guards, business metrics, commands and save/restore behave as specified. */
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "testlib.h"
#include "base/jsonv.h"
#include "base/util.h"
#include "logic/plan.h"
#include "logic/rollout.h"
#include "logic/sim.h"
#include "canary_hash.h"

/* A simulated service: counters that grow each tick by weight. */
struct sim {
	struct arm_stats arm[2];
	uint16_t weight;
	uint32_t generation;
	double err_rate[2];  /* 5xx and errored-flow rate per arm */
	double ctr[2];	     /* click-through rate per arm */
	uint64_t flows_per_s; /* total */
	bool no_canary;	      /* no client falls in the canary's range */
	struct sim_rng *noise; /* when set, errors are binomial(flows, err_rate) */
	int64_t now_ms;
	uint32_t svc_id; /* the service's id in the maps */
	uint8_t hash_mode, svc_flags;
	double canary_loss; /* share of the canary's new flows that go uncounted */
	double unanswered;  /* share of the canary's requests closed without a response */
	/* client_hll (sim_clients_step): flows from POP clients, their sets handed over
	 * every 4 ticks as the data plane's 4.3 s interval would be */
	bool clients;
	double heavy;	       /* share of flows from one heavy client */
	double client_loss;    /* share of the canary's clients it loses (never counted) */
	double override_share; /* share of clients an override pins to the canary */
	unsigned int ticks;
	struct rollout_clients iv;
	uint64_t rng;
};

static struct plan plan_of(const char *yaml)
{
	struct plan p;

	memset(&p, 0, sizeof(p));
	ASSERT_EQ(plan_parse_text(yaml, strlen(yaml), "(test)", &p, NULL), 0, "the plan parses");
	return p;
}

static void sim_step(struct sim *s, double dt)
{
	int arm;

	for (arm = 0; arm < 2; arm++) {
		double share = arm ? s->weight / 10000.0 : 1 - s->weight / 10000.0;
		uint64_t f = (uint64_t)llround(s->flows_per_s * dt * share);
		uint64_t e;

		if (arm && s->no_canary)
			f = 0;
		if (arm)
			f = (uint64_t)llround(f * (1 - s->canary_loss));
		e = s->noise ? sim_binomial(s->noise, f, s->err_rate[arm])
			     : (uint64_t)llround(f * s->err_rate[arm]);

		s->arm[arm].flows += f;
		s->arm[arm].fwd_packets += f * 5;
		s->arm[arm].http_responses += arm ? (uint64_t)llround(f * (1 - s->unanswered)) : f;
		s->arm[arm].requests += f;
		s->arm[arm].http_class[5] += e;
		s->arm[arm].http_class[2] += f - e;
		s->arm[arm].errored_flows += e;
	}
	s->now_ms += (int64_t)(dt * 1000);
}

static uint32_t sim_rnd(struct sim *s)
{
	s->rng = s->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(s->rng >> 32);
}

static uint32_t sim_mix(uint32_t id, uint32_t seed)
{
	return canary_hash_final(canary_hash_word(seed, id), 1);
}

/* One second of flows_per_s new flows from 20,000 clients: the arm by the client's hash
 * (client mode) or the flow's (flow mode), an override's arm for the clients it pins,
 * into the arm counters and the interval's client_hll sets (overrides left out, as the
 * data plane does). */
static void sim_clients_step(struct sim *s)
{
	const uint32_t pop = 20000;
	uint64_t k;

	for (k = 0; k < s->flows_per_s; k++) {
		bool hv = sim_rnd(s) < s->heavy * 4294967296.0;
		uint32_t id = hv ? 0 : sim_rnd(s) % pop, h;
		bool ovr = sim_mix(id, 3) % 1000 < s->override_share * 1000;
		int arm;

		h = s->hash_mode == CANARY_HASH_CLIENT ? sim_mix(id, 1) : sim_rnd(s);
		arm = ovr || canary_bucket(h) < s->weight;
		if (arm && sim_mix(id, 2) % 1000 < s->client_loss * 1000)
			continue;
		if (arm && !ovr && sim_rnd(s) < s->canary_loss * 4294967296.0)
			continue;
		s->arm[arm].flows++;
		s->arm[arm].fwd_packets += 5;
		s->arm[arm].http_class[2]++;
		s->arm[arm].http_responses++;
		s->arm[arm].requests++;
		if (ovr)
			continue;
		s->iv.flows[arm]++;
		hll_add(s->iv.reg[arm], sim_mix(id, 4));
	}
	s->now_ms += 1000;
}

/* One tick; applies the decision like canaryd does. */
static void tick(struct rollout *r, struct sim *s, struct rollout_decision *d)
{
	struct rollout_input in;

	if (s->clients)
		sim_clients_step(s);
	else
		sim_step(s, 1.0);
	memset(&in, 0, sizeof(in));
	in.clients_counted = s->clients;
	if (s->clients && ++s->ticks % 4 == 0)
		in.clients = &s->iv;
	memcpy(in.arm, s->arm, sizeof(in.arm));
	in.hash_mode = s->hash_mode;
	in.svc_flags = s->svc_flags;
	in.svc_id = s->svc_id;
	in.weight_bp = s->weight;
	in.generation = s->generation;
	in.dt = 1.0;
	in.now_ms = s->now_ms;
	rollout_tick(r, &in, d);
	if (in.clients)
		memset(&s->iv, 0, sizeof(s->iv));
	if (d->set_weight) {
		s->weight = d->new_bp;
		s->generation++;
		r->generation = s->generation;
	}
}

static void start(struct rollout *r, struct sim *s, const char *yaml)
{
	struct plan p = plan_of(yaml);
	char err[200];

	memset(s, 0, sizeof(*s));
	s->flows_per_s = 2000;
	s->err_rate[0] = s->err_rate[1] = 0.01;
	s->now_ms = 1000000;
	err[0] = '\0';
	if (!ASSERT_EQ(rollout_init(r, &p, yaml, 0, s->arm, s->now_ms, err, sizeof(err)), 0,
		       "the rollout starts"))
		printf("# init: %s\n", err);
	s->weight = p.steps[0].weight_bp;
	s->generation = 1;
	r->weight_bp = s->weight;
	r->generation = s->generation;
}

static const char *BASIC = "service: web\n"
			   "steps: [1, 5, 25, 50, 100]\n"
			   "hold: 10s\n"
			   "min_flows: 200\n"
			   "analysis:\n"
			   "  alpha: 0.01\n"
			   "  tolerance: 1.1\n"
			   "  signals: [http_5xx, resets, unanswered_syn, errored_flows]\n"
			   "on_rollback: drain\n";

/* The rollout under test, its last decision and the simulated service: each case sets
 * them afresh with start(). */
static struct rollout r;
static struct rollout_decision d;
static struct sim s;
static char err[256];

static void plan_parses(void)
{
	struct plan p = plan_of(BASIC);

	ASSERT_EQ(p.nsteps, 5, "5 steps");
	ASSERT_EQ(p.steps[0].weight_bp, 100, "first step 1%");
	ASSERT_EQ(p.steps[4].weight_bp, 10000, "last step 100%");
	ASSERT_EQ(p.steps[2].hold_ms, 10000, "hold 10s on every step");
	ASSERT_EQ(p.steps[2].min_flows, 200, "min_flows on every step");
	ASSERT_EQ(p.nsignals, 4, "4 signals");
	ASSERT_EQ(p.on_rollback, ROLLBACK_DRAIN, "drain");
}

static void healthy_completes(void)
{
	int t, changes;

	start(&r, &s, BASIC);
	changes = 0;
	for (t = 0; t < 200 && rollout_active(&r); t++) {
		tick(&r, &s, &d);
		changes += d.set_weight;
	}
	ASSERT_EQ(r.phase, PHASE_SUCCEEDED, "Succeeded");
	ASSERT_EQ(s.weight, 10000, "weight 100%");
	ASSERT_EQ(changes, 4, "four weight changes (1 -> 5 -> 25 -> 50 -> 100)");
	ASSERT_TRUE(t >= 50 && t <= 60, "took about 5 holds of 10 s");
	rollout_free(&r);
}

static void bad_rolled_back(void)
{
	int t;

	start(&r, &s, BASIC);
	s.err_rate[1] = 0.10;
	for (t = 0; t < 200 && rollout_active(&r); t++)
		tick(&r, &s, &d);
	ASSERT_EQ(r.phase, PHASE_ROLLED_BACK, "RolledBack");
	ASSERT_EQ(s.weight, 0, "weight 0");
	ASSERT_EQ(d.reason, WREASON_ROLLBACK, "reason auto-rollback");
	ASSERT_TRUE(!d.reset_flows, "drain: flows not reset");
	ASSERT_TRUE(strstr(d.log, "ROLLBACK") && strstr(d.log, "e-value"), "log line gives evidence");
	ASSERT_TRUE(t < 60, "before the ramp ends");
	printf("# %s\n", d.log);
	rollout_free(&r);
}

static void reset_drops_flows(void)
{
	int t;
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), "%s", BASIC);
	strcpy(strstr(yaml, "on_rollback: drain"), "on_rollback: reset\n");
	start(&r, &s, yaml);
	s.err_rate[1] = 0.2;
	for (t = 0; t < 200 && rollout_active(&r); t++)
		tick(&r, &s, &d);
	ASSERT_TRUE(d.reset_flows, "reset_flows set");
	rollout_free(&r);
}

static void aa_not_rolled_back(void)
{
	int t;
	const int seeds = 20;
	int seed, succeeded = 0, rolled_back = 0;
	struct sim_rng rng;

	for (seed = 1; seed <= seeds; seed++) {
		start(&r, &s, BASIC);
		sim_seed(&rng, (uint64_t)seed);
		s.noise = &rng;
		for (t = 0; t < 200 && rollout_active(&r); t++)
			tick(&r, &s, &d);
		succeeded += r.phase == PHASE_SUCCEEDED;
		rolled_back += r.phase == PHASE_ROLLED_BACK;
		rollout_free(&r);
	}
	ASSERT_EQ(rolled_back, 0, "no seed rolled back");
	ASSERT_EQ(succeeded, seeds, "every seed completed the plan");
}

static void manual_weight(void)
{
	int t;

	start(&r, &s, BASIC);
	for (t = 0; t < 12; t++)
		tick(&r, &s, &d);
	s.weight = 3000; /* canaryctl set-weight web 30 */
	s.generation++;
	tick(&r, &s, &d);
	ASSERT_TRUE(d.manual, "noticed within one tick");
	ASSERT_EQ(d.new_bp, 3000, "the new weight is recorded");
	ASSERT_EQ(r.phase, PHASE_PAUSED, "Paused");
	ASSERT_EQ(r.pause, PAUSE_MANUAL_WEIGHT, "because of a manual weight");
	s.err_rate[1] = 0.3;
	for (t = 0; t < 30; t++)
		tick(&r, &s, &d);
	ASSERT_EQ(s.weight, 3000, "the agent does not touch it, even with a bad canary");
	ASSERT_EQ(rollout_resume(&r, &d, s.now_ms, err, sizeof(err)), 0, "resume");
	ASSERT_EQ(d.new_bp, 5000, "resume continues from the next step above 30% (50%)");
	rollout_free(&r);
}

static void manual_rollback(void)
{
	start(&r, &s, BASIC);
	tick(&r, &s, &d);
	s.weight = 0;
	s.generation++;
	tick(&r, &s, &d);
	ASSERT_EQ(r.phase, PHASE_ROLLED_BACK, "RolledBack");
	ASSERT_TRUE(strstr(r.reason, "by hand") != NULL, "reason says by hand");
	rollout_free(&r);
}

static void no_traffic(void)
{
	int t;

	start(&r, &s, BASIC);
	tick(&r, &s, &d);
	s.flows_per_s = 0;
	for (t = 0; t < 40; t++)
		tick(&r, &s, &d);
	ASSERT_EQ(r.phase, PHASE_PAUSED, "Paused");
	ASSERT_EQ(r.pause, PAUSE_NO_TRAFFIC, "for no traffic");
	ASSERT_EQ(r.step, 0, "still at step 1: no traffic never counts as a pass");
	ASSERT_TRUE(r.step_hold_s <= 1.5, "the hold did not run without traffic");
	s.flows_per_s = 2000;
	tick(&r, &s, &d);
	ASSERT_EQ(r.phase, PHASE_PROGRESSING, "Progressing again");
	rollout_free(&r);
}

static void no_canary_traffic(void)
{
	int t;

	start(&r, &s, BASIC);
	s.no_canary = true;
	for (t = 0; t < 40; t++)
		tick(&r, &s, &d);
	ASSERT_EQ(r.phase, PHASE_PAUSED, "Paused");
	ASSERT_TRUE(strstr(r.reason, "canary got no traffic") != NULL, "reason names the canary");
	rollout_free(&r);
}

static void counters_backwards(void)
{
	int t;
	const char *yaml = "service: web\nsteps: [50, 100]\nhold: 60s\nmin_flows: 10\n"
			   "analysis:\n  signals: [resets]\n"
			   "  guards:\n    - {signal: http_5xx, max_ratio: 0.2, min_exposure: 10}\n";

	start(&r, &s, yaml);
	for (t = 0; t < 5; t++)
		tick(&r, &s, &d);
	memset(s.arm, 0, sizeof(s.arm)); /* the service was re-created */
	tick(&r, &s, &d);
	ASSERT_TRUE(strstr(d.log, "counters started again") != NULL, "noticed");
	for (t = 0; t < 5; t++)
		tick(&r, &s, &d);
	ASSERT_EQ(r.phase, PHASE_PROGRESSING, "still Progressing (no guard tripped)");
	ASSERT_TRUE(r.step_base[1].flows <= s.arm[1].flows, "step baseline below now");
	rollout_free(&r);
}

static void recreated_service(void)
{
	int t;
	const char *yaml = "service: web\nsteps: [50, 100]\nhold: 60s\nmin_flows: 10\n"
			   "analysis:\n  signals: [resets]\n";

	start(&r, &s, yaml);
	for (t = 0; t < 5; t++)
		tick(&r, &s, &d);
	/* The new id's slots hold more than the old ones, much of it resets: taken
	 * as one interval, that would be overwhelming evidence. */
	s.svc_id = 7;
	s.arm[1].flows += 5000;
	s.arm[1].reset_flows += 5000;
	tick(&r, &s, &d);
	ASSERT_TRUE(strstr(d.log, "counters started again") != NULL, "noticed");
	ASSERT_EQ(r.svc_id, 7, "follows the new id");
	for (t = 0; t < 5; t++)
		tick(&r, &s, &d);
	ASSERT_EQ(r.phase, PHASE_PROGRESSING, "still Progressing (no rollback)");
	rollout_free(&r);
}

static void service_gone(void)
{
	start(&r, &s, BASIC);
	rollout_service_gone(&r, &d);
	ASSERT_EQ(r.pause, PAUSE_SERVICE_GONE, "paused: service gone");
	ASSERT_TRUE(d.changed && d.log[0], "logged");
	rollout_service_gone(&r, &d);
	ASSERT_TRUE(!d.changed, "only once");
	rollout_free(&r);
}

static void min_flows(void)
{
	int t;

	start(&r, &s, BASIC);
	s.flows_per_s = 100; /* 1 canary flow per second at 1% */
	for (t = 0; t < 60; t++)
		tick(&r, &s, &d);
	ASSERT_EQ(r.step, 0, "60 s in, 60 canary flows < 200: still step 1");
	rollout_free(&r);
}

static void manual_gate(void)
{
	int t;

	start(&r, &s,
	      "service: web\nsteps: [{weight: 10, gate: true}, 50]\nhold: 5s\nmin_flows: 10\n");
	for (t = 0; t < 20; t++)
		tick(&r, &s, &d);
	ASSERT_EQ(r.phase, PHASE_WAITING_GATE, "WaitingForGate");
	ASSERT_EQ(s.weight, 1000, "weight stays");
	ASSERT_EQ(rollout_promote(&r, false, &d, s.now_ms, err, sizeof(err)), 0, "promote");
	ASSERT_EQ(d.new_bp, 5000, "next step");
	ASSERT_EQ(d.reason, WREASON_PROMOTE, "reason promote");
	rollout_free(&r);
}

static void guard(void)
{
	start(&r, &s,
	      "service: web\nsteps: [50, 100]\nhold: 60s\nanalysis:\n  signals: [resets]\n"
	      "  guards:\n    - {signal: http_5xx, max_ratio: 0.2, min_exposure: 100}\n");
	s.err_rate[1] = 0.3;
	tick(&r, &s, &d);
	ASSERT_EQ(r.phase, PHASE_ROLLED_BACK, "RolledBack in the first tick");
	ASSERT_TRUE(strstr(r.reason, "guard") != NULL, "reason names the guard");
	rollout_free(&r);
}

static void commands(void)
{
	int t;

	start(&r, &s, BASIC);
	tick(&r, &s, &d);
	ASSERT_EQ(rollout_pause(&r, &d, err, sizeof(err)), 0, "pause");
	ASSERT_EQ(r.phase, PHASE_PAUSED, "Paused");
	for (t = 0; t < 30; t++)
		tick(&r, &s, &d);
	ASSERT_EQ(r.step, 0, "paused: no step passes");
	ASSERT_TRUE(rollout_promote(&r, false, &d, s.now_ms, err, sizeof(err)) != 0,
		    "promote while paused is refused");
	ASSERT_EQ(rollout_resume(&r, &d, s.now_ms, err, sizeof(err)), 0, "resume");
	ASSERT_EQ(r.phase, PHASE_PROGRESSING, "Progressing");
	ASSERT_EQ(rollout_promote(&r, true, &d, s.now_ms, err, sizeof(err)), 0, "promote --full");
	ASSERT_EQ(r.phase, PHASE_SUCCEEDED, "Succeeded");
	ASSERT_EQ(d.new_bp, 10000, "weight 100%");
	ASSERT_TRUE(rollout_abort(&r, &d, s.now_ms, err, sizeof(err)) != 0,
		    "abort after the end is refused");
	rollout_free(&r);
	start(&r, &s, BASIC);
	ASSERT_EQ(rollout_abort(&r, &d, s.now_ms, err, sizeof(err)), 0, "abort");
	ASSERT_EQ(r.phase, PHASE_ABORTED, "Aborted");
	ASSERT_EQ(d.new_bp, 0, "weight 0");
	rollout_free(&r);
}

/* A business metric pushed by the application: click-through rate, per arm. */
static const char *CTR_PLAN = "service: reco\nsteps: [10, 50, 100]\nhold: 30s\nmin_flows: 10\n"
			      "analysis:\n  signals: [resets]\n  metrics:\n"
			      "    - {name: ctr, direction: lower_is_worse, source: push}\n";

static void ctr_rolled_back(void)
{
	int t;

	start(&r, &s, CTR_PLAN);
	for (t = 0; t < 200 && rollout_active(&r); t++) {
		uint64_t trials[2], succ[2];
		int arm;

		for (arm = 0; arm < 2; arm++) {
			double share = arm ? s.weight / 10000.0 : 1 - s.weight / 10000.0;

			trials[arm] = (uint64_t)(400 * share);
			succ[arm] = (uint64_t)llround(trials[arm] * (arm ? 0.15 : 0.30));
			rollout_metric_push(&r, "ctr", arm, succ[arm], trials[arm], s.now_ms, err,
					    sizeof(err));
		}
		tick(&r, &s, &d);
	}
	ASSERT_EQ(r.phase, PHASE_ROLLED_BACK, "RolledBack");
	ASSERT_TRUE(strstr(r.reason, "ctr") != NULL, "because of ctr");
	rollout_free(&r);
}

static void ctr_source_stops(void)
{
	int t;

	start(&r, &s, CTR_PLAN);
	for (t = 0; t < 45; t++)
		tick(&r, &s, &d);
	ASSERT_EQ(r.phase, PHASE_PAUSED, "Paused");
	ASSERT_EQ(r.pause, PAUSE_METRIC_ERRORS, "for measurement errors");
	ASSERT_TRUE(s.weight > 0, "not rolled back");
	rollout_metric_push(&r, "ctr", 1, 3, 10, s.now_ms, err, sizeof(err));
	tick(&r, &s, &d);
	ASSERT_EQ(r.phase, PHASE_PROGRESSING, "resumes when reports come back");
	ASSERT_TRUE(rollout_metric_push(&r, "nope", 1, 1, 1, s.now_ms, err, sizeof(err)) != 0,
		    "an unknown metric is refused");
	ASSERT_TRUE(rollout_metric_push(&r, "ctr", 1, 5, 1, s.now_ms, err, sizeof(err)) != 0,
		    "successes above trials are refused");
	rollout_free(&r);
}

static void ttfb(void)
{
	int t;
	const char *yaml = "service: web\nsteps: [20, 100]\nhold: 60s\nmin_flows: 10\n"
			   "analysis:\n  signals:\n    - {name: ttfb, bound: 100ms}\n";
	int arm;

	start(&r, &s, yaml);
	for (t = 0; t < 60 && rollout_active(&r); t++) {
		tick(&r, &s, &d);
		/* stable answers in ~1 ms (bucket 9), the canary in ~150 ms (bucket 17)
		 * for a third of its requests */
		for (arm = 0; arm < 2; arm++) {
			uint64_t n = s.arm[arm].requests - (s.arm[arm].ttfb_hist[9] +
							    s.arm[arm].ttfb_hist[17]);

			s.arm[arm].ttfb_hist[17] += arm ? n / 3 : 0;
			s.arm[arm].ttfb_hist[9] += arm ? n - n / 3 : n;
		}
	}
	ASSERT_EQ(r.phase, PHASE_ROLLED_BACK, "RolledBack");
	ASSERT_TRUE(strstr(r.reason, "ttfb") != NULL, "because of ttfb");
	rollout_free(&r);
}

/* Spread each arm's requests not yet in its TTFB histogram over the buckets by dist
 * (a share per bucket, summing to 1; the rest into the last one listed). */
static void ttfb_spread(struct sim *sv, const double *const dist[2], unsigned int nb)
{
	int arm;

	for (arm = 0; arm < 2; arm++) {
		uint64_t have = 0, fresh, left;
		unsigned int b;

		for (b = 0; b < CANARY_HIST_BUCKETS; b++)
			have += sv->arm[arm].ttfb_hist[b];
		fresh = sv->arm[arm].requests - have;
		left = fresh;
		for (b = 0; b + 1 < nb; b++) {
			uint64_t k = (uint64_t)llround((double)fresh * dist[arm][b]);

			k = k > left ? left : k;
			sv->arm[arm].ttfb_hist[8 + b] += k;
			left -= k;
		}
		sv->arm[arm].ttfb_hist[8 + nb - 1] += left;
	}
}

/* Stable's TTFB spread over 256 us .. 8 ms (buckets 8..13). */
static const double TTFB_STABLE[6] = {0.05, 0.20, 0.35, 0.25, 0.10, 0.05};
/* A canary whose every response is a bucket slower (about 2x) for a third of them. */
static const double TTFB_SLOWER[6] = {0.035, 0.15, 0.30, 0.28, 0.15, 0.085};

static const char *ORDER_PLAN = "service: web\nsteps: [20, 50, 100]\nhold: 60s\n"
				"min_flows: 10\nearly_promotion: true\nanalysis:\n"
				"  signals:\n    - {name: ttfb_order, from: 1ms, to: 1s}\n";

static int order_run(const double *canary, int ticks)
{
	const double *const dist[2] = {TTFB_STABLE, canary};
	int t;

	start(&r, &s, ORDER_PLAN);
	for (t = 0; t < ticks && rollout_active(&r); t++) {
		tick(&r, &s, &d);
		ttfb_spread(&s, dist, 6);
	}
	return t;
}

static void ttfb_order_slower(void)
{
	int t = order_run(TTFB_SLOWER, 400);

	ASSERT_EQ(r.phase, PHASE_ROLLED_BACK, "RolledBack");
	ASSERT_TRUE(strstr(r.reason, "ttfb_order") != NULL, "because of ttfb_order");
	ASSERT_EQ(r.checks[0].order->cfg.k_lo, 10, "first edge 2^10 us (1 ms)");
	ASSERT_EQ(r.checks[0].order->cfg.k_hi, 19, "last edge 2^19 us (under 1 s)");
	ASSERT_TRUE(r.checks[0].st.rollback.rejected && av_order_rejected(&r.checks[0].order->st),
		    "the check shows the order test's verdict");
	ASSERT_TRUE(t < 200, "within the first steps");
	printf("# %s\n", r.reason);
	rollout_free(&r);
}

/* The same distribution on both arms: no rollback, and since the order test has no
 * promotion test, a plan whose only signal is ttfb_order passes steps on their holds. */
static void ttfb_order_same(void)
{
	int t = order_run(TTFB_STABLE, 400);

	ASSERT_EQ(r.phase, PHASE_SUCCEEDED, "Succeeded");
	ASSERT_TRUE(av_order_evalue(&r.checks[0].order->st) < 100, "e-value below 1/alpha");
	ASSERT_TRUE(t >= 180, "no early promotion on the order test alone: three holds");
	rollout_free(&r);
}

/* The order test survives a restart, and a saved order state that does not add up is
 * refused. */
static void ttfb_order_saved(void)
{
	const double *const dist[2] = {TTFB_STABLE, TTFB_SLOWER};
	struct json_object *j, *o;
	struct rollout r2;
	int t;

	start(&r, &s, ORDER_PLAN);
	for (t = 0; t < 3; t++) {
		tick(&r, &s, &d);
		ttfb_spread(&s, dist, 6);
	}
	j = rollout_to_json(&r);
	ASSERT_EQ(rollout_from_json(&r2, j, "web", err, sizeof(err)), 0, "restores");
	ASSERT_TRUE(r2.checks[0].order &&
			    !memcmp(&r.checks[0].order->st, &r2.checks[0].order->st,
				    sizeof(r.checks[0].order->st)),
		    "bit-identical order state");
	ASSERT_NEAR(r2.checks[0].st.rollback.log_e, r.checks[0].st.rollback.log_e, 0,
		    "the mirror shows the same e-value");
	rollout_free(&r2);
	o = json_object_object_get(json_object_array_get_idx(json_object_object_get(j, "checks"), 0),
				   "order");
	ASSERT_TRUE(!r.checks[0].order->st.rejected, "not crossed yet after 3 s");
	json_object_object_add(o, "rejected", json_object_new_boolean(1));
	ASSERT_EQ(rollout_from_json(&r2, j, "web", err, sizeof(err)), -EINVAL,
		  "a latch without the evidence for it is refused");
	ASSERT_TRUE(strstr(err, "checks[0].order") != NULL, "names the field");
	rollout_free(&r2);
	json_object_object_add(o, "rejected", json_object_new_boolean(0));
	json_object_array_del_idx(json_object_object_get(o, "edges"), 0, 1);
	ASSERT_EQ(rollout_from_json(&r2, j, "web", err, sizeof(err)), -EINVAL,
		  "an edge missing is refused");
	rollout_free(&r2);
	json_object_put(j);
	rollout_free(&r);
}

static void save_restore(void)
{
	struct rollout r2;
	int t;
	struct json_object *j;
	char e1[768], e2[768];

	start(&r, &s, BASIC);
	s.err_rate[1] = 0.02;
	for (t = 0; t < 25; t++)
		tick(&r, &s, &d);
	j = rollout_to_json(&r);
	ASSERT_EQ(rollout_from_json(&r2, j, r.plan.service, err, sizeof(err)), 0, "restores");
	json_object_put(j);
	ASSERT_EQ(r2.step, r.step, "same step");
	ASSERT_EQ(r2.phase, r.phase, "same phase");
	ASSERT_NEAR(r2.step_hold_s, r.step_hold_s, 1e-9, "same hold time");
	rollout_evidence(&r, e1, sizeof(e1));
	rollout_evidence(&r2, e2, sizeof(e2));
	ASSERT_TRUE(!strcmp(e1, e2), "same evidence");
	ASSERT_TRUE(!memcmp(&r.checks[0].st, &r2.checks[0].st, sizeof(r.checks[0].st)),
		    "bit-identical test state");
	rollout_free(&r2);
	rollout_free(&r);
}

static void bad_state_refused(void)
{
	struct rollout r2;
	int t;
	/* Every field replaced by a value of each other JSON type, then the range
	 * and identity checks one by one: rollout_from_json must refuse each (and
	 * never assert, which would end this test). */
	static const char *const kinds[] = {"\"x\"", "{}", "[]", "null", "1.5", "-1",
					    "true", "18446744073709551616"};
	struct json_object *good, *j, *v;
	const char *text;
	unsigned int k, refused = 0, tried = 0;

	start(&r, &s, BASIC);
	for (t = 0; t < 5; t++)
		tick(&r, &s, &d);
	good = rollout_to_json(&r);
	text = json_object_to_json_string_ext(good, JSON_C_TO_STRING_PLAIN);
	ASSERT_EQ(rollout_from_json(&r2, good, "web", err, sizeof(err)), 0,
		  "the unchanged state restores");
	rollout_free(&r2);
	json_object_object_foreach(good, key, val)
	{
		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			struct json_object *nv = json_tokener_parse(kinds[k]);
			int rc;

			/* A replacement of the same type may be valid (a reason string). */
			if (nv && val && json_object_get_type(nv) == json_object_get_type(val))
				json_object_put(nv), nv = (struct json_object *)-1;
			if (nv == (struct json_object *)-1)
				continue;
			j = json_tokener_parse(text);
			json_object_object_add(j, key, nv);
			rc = rollout_from_json(&r2, j, "web", err, sizeof(err));
			rollout_free(&r2);
			json_object_put(j);
			tried++;
			if (rc == -EINVAL && strstr(err, key))
				refused++;
			else
				printf("# %s = %s: rc %d, '%s'\n", key, kinds[k], rc, err);
		}
	}
	ASSERT_EQ(refused, tried, "every field of another type is refused, and named");
	{
		static const struct {
			const char *key, *value, *why;
		} bad[] = {
			{"weight_bp", "70000", "weight_bp"},
			{"pending_bp", "10001", "pending_bp"},
			{"step", "99", "step"},
			{"svc_id", "256", "svc_id"},
			{"pause", "99", "pause"},
			{"pending_reason", "99", "pending_reason"},
			{"generation", "4294967296", "generation"},
			{"version", "2", "version"},
			{"service", "\"other\"", "service"},
			{"phase", "\"Sleeping\"", "phase"},
			{"idle_s", "-1", "idle_s"},
			{"unexpected", "1", "unknown field 'unexpected'"},
			{"plan_text", "\"service: web\\nsteps: [1]\\nsurprise: 1\\n\"", "plan_text"},
			{"plan_text", "\"service: api\\nsteps: [1]\\n\"", "plan_text"},
			{"checks", "[]", "checks"},
			{"counters", "[{}, {}]", "counters[0]"},
			{"counters", "[\"a\", \"b\"]", "counters[0]"},
			{"metrics", "[{}]", "metrics"},
		};

		for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			char what[512];
			int rc;

			j = json_tokener_parse(text);
			json_object_object_add(j, bad[k].key, json_tokener_parse(bad[k].value));
			rc = rollout_from_json(&r2, j, "web", err, sizeof(err));
			rollout_free(&r2);
			json_object_put(j);
			snprintf(what, sizeof(what), "%s = %s is refused, naming %s (%s)",
				 bad[k].key, bad[k].value, bad[k].why, err);
			ASSERT_TRUE(rc == -EINVAL && strstr(err, bad[k].why), what);
		}
	}
	/* A counters item that is a string, an empty object, a check with another
	 * name: deeper fields are checked too. */
	j = json_tokener_parse(text);
	json_object_object_get_ex(j, "checks", &v);
	json_object_object_add(json_object_array_get_idx(v, 0), "name",
			       json_object_new_string("resets_typo"));
	ASSERT_EQ(rollout_from_json(&r2, j, "web", err, sizeof(err)), -EINVAL,
		  "a check that the plan does not have is refused");
	rollout_free(&r2);
	json_object_put(j);
	json_object_put(good);
	rollout_free(&r);
}

/* The state fuzzer starts from these seeds; one that no longer restores (a counter added
 * to arm_stats, say) leaves the fuzzer stuck at the first check it fails. */
static void fuzz_seeds_restore(void)
{
	glob_t g;
	size_t i;

	if (!ASSERT_EQ(glob("tests/fuzz/seeds/state/*.json", 0, NULL, &g), 0,
		       "the state fuzzer's seeds are found"))
		return;
	for (i = 0; i < g.gl_pathc; i++) {
		struct rollout r = {};
		struct json_object *j = NULL;
		struct jv v = {};
		char err[256] = "", *text = NULL;
		size_t len = 0;
		int rc = -1;

		if (!file_read_all(g.gl_pathv[i], 1 << 20, &text, &len))
			j = jv_parse(&v, text, len);
		if (j)
			rc = rollout_from_json(&r, j, "web", err, sizeof(err));
		TL_REPORT(rc == 0, "%s restores (%s)", g.gl_pathv[i], j ? err : "not read");
		rollout_free(&r);
		json_object_put(j);
		free(text);
	}
	globfree(&g);
}

/* ---- sample-ratio mismatch ---- */

/* Ticks until the rollout is paused for an SRM (or ends, or max ticks). */
static int until_srm(int max)
{
	int t;

	for (t = 0; t < max && rollout_active(&r); t++) {
		tick(&r, &s, &d);
		if (r.phase == PHASE_PAUSED && r.pause == PAUSE_SRM)
			break;
	}
	return t;
}

static void srm_holds(void)
{
	uint16_t held_at;
	int t, changes = 0;

	start(&r, &s, BASIC);
	s.canary_loss = 0.10;
	until_srm(200);
	if (!ASSERT_TRUE(r.phase == PHASE_PAUSED && r.pause == PAUSE_SRM, "paused for an SRM"))
		return;
	ASSERT_TRUE(s.weight < 10000, "before reaching 100%");
	ASSERT_TRUE(strstr(r.reason, "sample-ratio mismatch") && strstr(r.reason, "flows"),
		    "the reason says so, and which units");
	ASSERT_TRUE(strstr(d.log, "MISMATCH") != NULL, "the log line gives the shares");
	ASSERT_TRUE(d.srm_hold && d.old_bp == s.weight && d.new_bp == s.weight,
		    "the decision asks for a history entry, at the same weight");
	printf("# %s\n", r.reason);
	held_at = s.weight;
	for (t = 0; t < 100; t++) {
		tick(&r, &s, &d);
		changes += d.set_weight;
	}
	ASSERT_EQ(changes, 0, "no advance while the SRM stands (100 ticks)");
	ASSERT_EQ(s.weight, held_at, "the weight stays");
	ASSERT_EQ(r.phase, PHASE_PAUSED, "still paused");
	ASSERT_EQ(r.checks[0].st.promote.steps, 0, "promotion evidence is not kept");
	/* A rollback on the held arms is the safe error: it still happens. */
	s.err_rate[1] = 0.2;
	for (t = 0; t < 100 && rollout_active(&r); t++)
		tick(&r, &s, &d);
	ASSERT_EQ(r.phase, PHASE_ROLLED_BACK, "a bad canary is still rolled back during the hold");
	ASSERT_EQ(s.weight, 0, "weight 0");
	rollout_free(&r);
}

static void srm_no_early_promotion(void)
{
	char yaml[1024];
	uint16_t held_at;
	int t;

	/* Early promotion would advance on "not worse" evidence within seconds; a held
	 * rollout must not. */
	snprintf(yaml, sizeof(yaml), "%s", BASIC);
	strcpy(strstr(yaml, "hold: 10s"),
	       "hold: 10m\nmin_flows: 200\nearly_promotion: true\n"
	       "analysis:\n  alpha: 0.01\n  tolerance: 1.1\n"
	       "  signals: [http_5xx, errored_flows]\non_rollback: drain\n");
	start(&r, &s, yaml);
	s.canary_loss = 0.10;
	until_srm(2000);
	if (!ASSERT_TRUE(r.phase == PHASE_PAUSED && r.pause == PAUSE_SRM, "paused for an SRM"))
		return;
	held_at = s.weight;
	for (t = 0; t < 300; t++)
		tick(&r, &s, &d);
	ASSERT_EQ(s.weight, held_at, "no early promotion while the SRM stands");
	ASSERT_EQ(rollout_promote(&r, false, &d, s.now_ms, err, sizeof(err)), -EINVAL,
		  "promote (one step) refuses a paused rollout, as for any pause");
	rollout_free(&r);
}

static void srm_resume_restarts(void)
{
	start(&r, &s, BASIC);
	s.canary_loss = 0.10;
	until_srm(200);
	if (!ASSERT_TRUE(r.pause == PAUSE_SRM, "paused for an SRM"))
		return;
	ASSERT_EQ(rollout_resume(&r, &d, s.now_ms, err, sizeof(err)), 0, "resume by hand");
	ASSERT_EQ(r.phase, PHASE_PROGRESSING, "progressing again");
	ASSERT_EQ(r.srm.flows.used, 0, "the SRM test starts afresh");
	ASSERT_TRUE(!rollout_srm_stands(&r), "no SRM stands");
	until_srm(400);
	ASSERT_TRUE(r.phase == PHASE_PAUSED && r.pause == PAUSE_SRM,
		    "the same loss is found again on fresh evidence");
	rollout_free(&r);
}

static const char *SRM_RESPONSES = "service: web\n"
				   "steps: [1, 5, 25, 50, 100]\n"
				   "hold: 10s\n"
				   "min_flows: 200\n"
				   "analysis:\n"
				   "  srm_responses: true\n"
				   "  signals: [http_5xx, resets, unanswered_syn, errored_flows]\n";

static void srm_survivorship(void)
{
	start(&r, &s, SRM_RESPONSES);
	s.svc_flags = CANARY_SVC_F_HTTP;
	s.unanswered = 0.20; /* closed after the request: no 5xx, no response */
	until_srm(200);
	ASSERT_TRUE(r.phase == PHASE_PAUSED && r.pause == PAUSE_SRM,
		    "20% missing responses hold the rollout");
	ASSERT_TRUE(av_srm_rejected(&r.srm.responses), "found by the responses test");
	ASSERT_TRUE(!av_srm_rejected(&r.srm.flows), "the flows are as expected");
	ASSERT_TRUE(strstr(r.reason, "responses") != NULL, "the reason names responses");
	rollout_free(&r);
	/* Without HTTP counting, or without srm_responses in the plan, there is no
	 * responses test. */
	start(&r, &s, SRM_RESPONSES);
	s.unanswered = 0.20;
	until_srm(200);
	ASSERT_EQ(r.phase, PHASE_SUCCEEDED, "no HTTP: the flows alone, which are fine");
	rollout_free(&r);
	start(&r, &s, BASIC);
	s.svc_flags = CANARY_SVC_F_HTTP;
	s.unanswered = 0.20;
	until_srm(200);
	ASSERT_EQ(r.phase, PHASE_SUCCEEDED, "not asked for in the plan: no responses test");
	ASSERT_TRUE(!r.srm.http, "and it says it is off");
	rollout_free(&r);
}

static void srm_off(void)
{
	char ev[1024];

	/* Client mode: the flow share follows the clients, not the weight. */
	start(&r, &s, BASIC);
	s.hash_mode = CANARY_HASH_CLIENT;
	s.canary_loss = 0.10;
	until_srm(200);
	ASSERT_EQ(r.phase, PHASE_SUCCEEDED, "client mode: no flow SRM test, the plan completes");
	ASSERT_EQ(r.srm.flows.used, 0, "the flow test saw nothing");
	rollout_evidence(&r, ev, sizeof(ev));
	ASSERT_TRUE(strstr(ev, "flows off (client_mode)") != NULL, "and the evidence says why");
	rollout_free(&r);
	/* Overrides: the per-arm flow counters include overridden flows. */
	start(&r, &s, BASIC);
	s.svc_flags = CANARY_SVC_F_OVERRIDES;
	s.canary_loss = 0.10;
	until_srm(200);
	ASSERT_EQ(r.phase, PHASE_SUCCEEDED, "overrides: no flow SRM test either");
	rollout_evidence(&r, ev, sizeof(ev));
	ASSERT_TRUE(strstr(ev, "flows off (overrides)") != NULL, "and the evidence says why");
	rollout_free(&r);
}

static const char *CLIENTS = "service: web\n"
			     "steps: [5, 25, 50, 100]\n"
			     "hold: 60s\n"
			     "min_flows: 200\n"
			     "analysis:\n"
			     "  signals: [http_5xx, errored_flows]\n";

/* Client mode: the client test on client_hll against the weight. One client that sends
 * 30% of the flows moves the flow share (a warning) and not the client share (no SRM); a
 * canary that loses clients is an SRM. */
static void srm_clients(void)
{
	bool warned = false;
	int t;

	start(&r, &s, CLIENTS);
	s.clients = true;
	s.hash_mode = CANARY_HASH_CLIENT;
	s.heavy = 0.30;
	for (t = 0; t < 400 && rollout_active(&r); t++) {
		tick(&r, &s, &d);
		warned |= r.srm.gap_warning;
	}
	ASSERT_EQ(r.phase, PHASE_SUCCEEDED, "one client sends 30% of the flows: no SRM, promoted");
	ASSERT_TRUE(r.srm.clients_on && r.srm.clients.used > 0, "the client test ran");
	ASSERT_TRUE(!av_srm_rejected(&r.srm.clients), "and found no mismatch");
	ASSERT_TRUE(warned, "the flow share far from the client share was a warning");
	rollout_free(&r);

	start(&r, &s, CLIENTS);
	s.clients = true;
	s.hash_mode = CANARY_HASH_CLIENT;
	s.client_loss = 0.40;
	until_srm(400);
	ASSERT_TRUE(r.phase == PHASE_PAUSED && r.pause == PAUSE_SRM,
		    "a canary that loses 40% of its clients holds");
	ASSERT_TRUE(av_srm_rejected(&r.srm.clients), "found by the client test");
	ASSERT_TRUE(strstr(r.reason, "clients") != NULL, "the reason names clients");
	printf("# %s\n", r.reason);
	rollout_free(&r);

	/* Pins without client_hll: the client test is off, as before. */
	start(&r, &s, CLIENTS);
	s.hash_mode = CANARY_HASH_CLIENT;
	until_srm(400);
	ASSERT_TRUE(!r.srm.clients_on, "no client_hll: no client test");
	rollout_free(&r);
}

/* The client tally is saved with the state and restored register for register; a
 * register that is no rank is refused. */
static void srm_clients_save(void)
{
	struct json_object *j, *srm, *t;
	struct rollout r2;
	char bad[2 * CANARY_HLL_REGS + 1];
	int k;

	start(&r, &s, CLIENTS);
	s.clients = true;
	s.hash_mode = CANARY_HASH_CLIENT;
	for (k = 0; k < 40; k++)
		tick(&r, &s, &d);
	ASSERT_TRUE(r.srm.tally.clients[0] > 0 && r.srm.clients.used > 0, "a tally and evidence");
	j = rollout_to_json(&r);
	ASSERT_EQ(rollout_from_json(&r2, j, "web", err, sizeof(err)), 0, "restores");
	ASSERT_MEM_EQ(r2.srm.tally.reg, r.srm.tally.reg, sizeof(r.srm.tally.reg),
		      "the registers come back");
	ASSERT_TRUE(r2.srm.tally_bp == r.srm.tally_bp && r2.srm.tally_skip == r.srm.tally_skip &&
			    r2.srm.tally.flows[1] == r.srm.tally.flows[1],
		    "and the weight, the skip count and the flows");
	ASSERT_TRUE(r2.srm.tally.clients[0] == r.srm.tally.clients[0] &&
			    r2.srm.tally.clients[1] == r.srm.tally.clients[1],
		    "the running largest estimates come back exactly");
	ASSERT_EQ(memcmp(&r2.srm.clients, &r.srm.clients, sizeof(r.srm.clients)), 0,
		  "the client test's evidence too");
	rollout_free(&r2);
	srm = json_object_object_get(j, "srm");
	t = json_object_object_get(srm, "tally");
	json_object_array_put_idx(json_object_object_get(t, "clients"), 1,
				  json_object_new_double(r.srm.tally.clients[1] / 2));
	ASSERT_TRUE(rollout_from_json(&r2, j, "web", err, sizeof(err)) != 0 &&
			    strstr(err, "srm.tally.clients") != NULL,
		    "a largest estimate below the registers' is refused, naming the field");
	rollout_free(&r2);
	json_object_object_del(t, "clients");
	ASSERT_EQ(rollout_from_json(&r2, j, "web", err, sizeof(err)), 0,
		  "a tally saved without them restores from the registers");
	rollout_free(&r2);
	memset(bad, '0', sizeof(bad) - 1);
	bad[sizeof(bad) - 1] = '\0';
	bad[10] = 'f'; /* 0xf0: no rank */
	json_object_object_add(t, "canary", json_object_new_string(bad));
	ASSERT_TRUE(rollout_from_json(&r2, j, "web", err, sizeof(err)) != 0 &&
			    strstr(err, "canary") != NULL,
		    "a register that is no rank is refused, naming the arm");
	printf("# %s\n", err);
	rollout_free(&r2);
	json_object_put(j);
	rollout_free(&r);
}

/* Overrides: their clients are left out of client_hll, so the flow test runs on the
 * weight-decided flows of each interval, and the client test on the other clients. */
static void srm_overrides(void)
{
	start(&r, &s, CLIENTS);
	s.clients = true;
	s.svc_flags = CANARY_SVC_F_OVERRIDES;
	s.override_share = 0.10;
	until_srm(400);
	ASSERT_EQ(r.phase, PHASE_SUCCEEDED, "10% of clients pinned to the canary: no SRM");
	ASSERT_TRUE(r.srm.flows_interval && r.srm.flows.used > 0,
		    "the flow test ran, on the weight-decided flows");
	rollout_free(&r);

	start(&r, &s, CLIENTS);
	s.clients = true;
	s.svc_flags = CANARY_SVC_F_OVERRIDES;
	s.override_share = 0.10;
	s.canary_loss = 0.10;
	until_srm(400);
	ASSERT_TRUE(r.phase == PHASE_PAUSED && r.pause == PAUSE_SRM,
		    "overrides and a canary that loses 10% of its flows: held");
	rollout_free(&r);

	start(&r, &s, CLIENTS);
	s.clients = true;
	s.hash_mode = CANARY_HASH_CLIENT;
	s.svc_flags = CANARY_SVC_F_OVERRIDES;
	s.override_share = 0.10;
	until_srm(400);
	ASSERT_EQ(r.phase, PHASE_SUCCEEDED, "client mode with overrides: the client test, no SRM");
	ASSERT_TRUE(r.srm.clients.used > 0, "the client test ran");
	rollout_free(&r);
}

static void srm_save_restore(void)
{
	struct rollout r2;
	struct json_object *j, *o;
	int t;

	start(&r, &s, SRM_RESPONSES);
	s.svc_flags = CANARY_SVC_F_HTTP;
	s.canary_loss = 0.03;
	for (t = 0; t < 25; t++)
		tick(&r, &s, &d);
	ASSERT_TRUE(r.srm.flows.used > 0 && r.srm.responses.used > 0, "both tests have evidence");
	j = rollout_to_json(&r);
	ASSERT_EQ(rollout_from_json(&r2, j, "web", err, sizeof(err)), 0, "restores");
	ASSERT_EQ(memcmp(&r.srm.flows, &r2.srm.flows, sizeof(r.srm.flows)), 0,
		  "bit-identical flow SRM state");
	ASSERT_EQ(memcmp(&r.srm.responses, &r2.srm.responses, sizeof(r.srm.responses)), 0,
		  "bit-identical responses SRM state");
	ASSERT_EQ(r2.srm.bp, r.srm.bp, "the last weight seen");
	rollout_free(&r2);
	/* Refused whole, naming the field. */
	json_object_object_get_ex(j, "srm", &o);
	json_object_object_add(o, "flows", json_object_new_string("srm1 fp=0"));
	ASSERT_EQ(rollout_from_json(&r2, j, "web", err, sizeof(err)), -EINVAL, "bad SRM refused");
	ASSERT_TRUE(strstr(err, "srm.flows") != NULL, "naming srm.flows");
	rollout_free(&r2);
	json_object_object_add(o, "flows", json_object_new_string("x"));
	json_object_object_add(o, "extra", json_object_new_int(1));
	ASSERT_EQ(rollout_from_json(&r2, j, "web", err, sizeof(err)), -EINVAL,
		  "an unknown SRM field refused");
	rollout_free(&r2);
	/* A state saved before the SRM guard existed restores with fresh SRM tests. */
	json_object_object_del(j, "srm");
	ASSERT_EQ(rollout_from_json(&r2, j, "web", err, sizeof(err)), 0, "no srm: restores");
	ASSERT_EQ(r2.srm.flows.used, 0, "with a fresh flow test");
	ASSERT_EQ(r2.srm.flows.fingerprint, r2.srm.cfg.fingerprint, "made for its config");
	rollout_free(&r2);
	json_object_put(j);
	rollout_free(&r);
}

static const struct test_case cases[] = {
	{"SRM: a canary that loses flows holds; no advance; rollback still works", srm_holds},
	{"SRM: no early promotion while it stands", srm_no_early_promotion},
	{"SRM: resume by hand restarts the SRM tests", srm_resume_restarts},
	{"SRM: missing responses (survivorship) hold an HTTP service", srm_survivorship},
	{"SRM: no flow test in client mode or with overrides, and it says why", srm_off},
	{"SRM: save and restore of its evidence, refusals, older states", srm_save_restore},
	{"SRM: client mode, heavy clients warn, lost clients hold", srm_clients},
	{"SRM: overrides left out, the flow and client tests run", srm_overrides},
	{"SRM: the client tally is saved and restored", srm_clients_save},
	{"the minimal plan from the issue parses as written", plan_parses},
	{"healthy canary completes the plan", healthy_completes},
	{"canary with 10x the errors is rolled back", bad_rolled_back},
	{"on_rollback: reset asks for the canary flows to be dropped", reset_drops_flows},
	{"A/A: equal error rates with binomial noise are not rolled back", aa_not_rolled_back},
	{"a manual weight change is recorded and not undone", manual_weight},
	{"a manual rollback ends the rollout", manual_rollback},
	{"no traffic stops the clock, then pauses, and traffic resumes", no_traffic},
	{"a canary with no traffic while stable has some pauses, and says why", no_canary_traffic},
	{"counters that go backwards restart the baselines, no false rollback", counters_backwards},
	{"a service re-created under another id: its counters are not the rollout's",
	 recreated_service},
	{"the service disappearing pauses the rollout once", service_gone},
	{"min_flows holds a step until the canary has seen enough flows", min_flows},
	{"manual gate waits for promote", manual_gate},
	{"guard: 30% 5xx with 100 responses rolls back at once", guard},
	{"pause, resume, promote --full, abort", commands},
	{"business metric: lower CTR on the canary is rolled back", ctr_rolled_back},
	{"business metric: a source that stops reporting pauses, never rolls back",
	 ctr_source_stops},
	{"ttfb: a canary slower than the bound is rolled back", ttfb},
	{"ttfb_order: a canary slower across the distribution is rolled back", ttfb_order_slower},
	{"ttfb_order: the same distribution on both arms completes on the holds", ttfb_order_same},
	{"ttfb_order: its state is saved, restored, and checked", ttfb_order_saved},
	{"save and restore mid-ramp: same step, same evidence", save_restore},
	{"a saved state that does not fit is refused whole, naming the field", bad_state_refused},
	{"the state fuzzer's seeds restore", fuzz_seeds_restore},
};

TEST_MAIN(cases)
