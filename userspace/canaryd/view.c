/* view.c: the JSON the API shows of each rollout (GET /api/v1/rollouts[/SVC], and the
 * answer to every command): its phase and step, both arms' counters and rates, the
 * evidence of each signal, the business metrics; and of a rollout whose saved state is
 * invalid. canaryctl rollout status prints these fields. Called with A.lock held. */
#include <math.h>
#include <stdio.h>

#include "canaryd.h"
#include "present/status.h"

/* Both arms: the rates over the last poll (when there are two readings), and the
 * rollout's counts. */
static struct json_object *arms_json(const struct rollout *r, const struct service_state *s)
{
	struct json_object *arms = json_object_new_object();
	int arm;

	for (arm = 0; arm < CANARY_ARMS; arm++) {
		struct json_object *ja = json_object_new_object();
		struct arm_stats a, p;

		if (s && A.have_prev) {
			arm_stats_total(A.snap, s->info.id, arm, &a);
			arm_stats_total(A.prev, s->info.id, arm, &p);
			json_object_object_add(ja, "rates", status_rates_json(&a, &p, A.dt));
		}
		json_object_object_add(ja, "flows", json_object_new_int64(r->last[arm].flows));
		json_object_object_add(ja, "errored_flows",
				       json_object_new_int64(r->last[arm].errored_flows));
		json_object_object_add(ja, "http_5xx", json_object_new_int64(r->last[arm].http_class[5]));
		json_object_object_add(ja, "reset_flows",
				       json_object_new_int64(r->last[arm].reset_flows));
		json_object_object_add(arms, arm_name(arm), ja);
	}
	return arms;
}

/* Each signal's test: e-value against its threshold, verdict, and each arm's events and
 * exposure. */
static struct json_object *evidence_json(const struct rollout *r)
{
	struct json_object *ev = json_object_new_array();
	unsigned int i;
	int arm;

	for (i = 0; i < r->nchecks; i++) {
		const struct rollout_check *c = &r->checks[i];
		struct json_object *e = json_object_new_object(), *o;
		enum av_verdict v = av_verdict(&c->cfg, &c->st);

		json_object_object_add(e, "signal", json_object_new_string(c->name));
		json_object_object_add(e, "e_value", json_object_new_double(av_evalue(&c->st.rollback)));
		json_object_object_add(e, "threshold",
				       json_object_new_double(1 / c->cfg.rollback.alpha));
		json_object_object_add(e, "p_value", json_object_new_double(av_pvalue(&c->st.rollback)));
		json_object_object_add(e, "tolerance", json_object_new_double(c->cfg.rollback.r_null));
		json_object_object_add(e, "verdict", json_object_new_string(av_verdict_name(v)));
		json_object_object_add(e, "last_poll", json_object_new_string(av_poll_name(c->last_poll)));
		for (arm = 0; arm < CANARY_ARMS; arm++) {
			o = json_object_new_object();
			json_object_object_add(o, "events",
					       json_object_new_int64(c->st.x[arm ? AV_CANARY : AV_STABLE]));
			json_object_object_add(o, "exposure",
					       json_object_new_int64(c->st.n[arm ? AV_CANARY : AV_STABLE]));
			json_object_object_add(e, arm_name(arm), o);
		}
		json_object_array_add(ev, e);
	}
	return ev;
}

/* The business metrics: each arm's successes, trials and rate, and the source's errors. */
static struct json_object *metrics_json(const struct rollout *r)
{
	struct json_object *ms = json_object_new_array();
	unsigned int i;
	int arm;

	for (i = 0; i < r->plan.nmetrics; i++) {
		const struct metric_state *m = &r->metrics[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(r->plan.metrics[i].name));
		json_object_object_add(o, "source", json_object_new_string(
							    r->plan.metrics[i].source == METRIC_PUSH
								    ? "push"
								    : "prometheus"));
		for (arm = 0; arm < CANARY_ARMS; arm++) {
			struct json_object *a = json_object_new_object();

			json_object_object_add(a, "successes", json_object_new_int64(m->successes[arm]));
			json_object_object_add(a, "trials", json_object_new_int64(m->trials[arm]));
			json_object_object_add(a, "rate", json_object_new_double(
								  m->trials[arm] ? (double)m->successes[arm] /
											   m->trials[arm]
										 : 0));
			json_object_object_add(o, arm_name(arm), a);
		}
		json_object_object_add(o, "consecutive_errors",
				       json_object_new_int(m->consecutive_errors));
		json_object_object_add(o, "last_error", json_object_new_string(m->last_error));
		json_object_array_add(ms, o);
	}
	return ms;
}

/* One SRM test: observed and expected canary share of its units, its e-value. */
static struct json_object *srm_test_json(const struct rollout *r, const struct av_srm_state *t)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "observed_share",
			       t->used ? json_object_new_double(100 * av_srm_observed(t)) : NULL);
	json_object_object_add(o, "expected_share",
			       t->used ? json_object_new_double(100 * av_srm_expected(t)) : NULL);
	json_object_object_add(o, "canary_units", json_object_new_double(t->n[AV_CANARY]));
	json_object_object_add(o, "stable_units", json_object_new_double(t->n[AV_STABLE]));
	json_object_object_add(o, "e_value", json_object_new_double(av_evalue(&t->seq)));
	json_object_object_add(o, "threshold", json_object_new_double(1 / r->srm.cfg.seq.alpha));
	json_object_object_add(o, "mismatch", json_object_new_boolean(av_srm_rejected(t)));
	return o;
}

/* The sample-ratio mismatch guard: each test, or why it is off. */
static struct json_object *srm_json(const struct rollout *r)
{
	struct json_object *o = json_object_new_object();
	char sum[512];

	rollout_srm_summary(r, sum, sizeof(sum));
	json_object_object_add(o, "mismatch", json_object_new_boolean(rollout_srm_stands(r)));
	json_object_object_add(o, "summary", json_object_new_string(sum));
	json_object_object_add(o, "flows",
			       r->srm.flows_off ? NULL : srm_test_json(r, &r->srm.flows));
	json_object_object_add(
	    o, "flows_off",
	    r->srm.flows_off ? json_object_new_string(srm_off_names[r->srm.flows_off]) : NULL);
	json_object_object_add(o, "responses",
			       r->srm.http ? srm_test_json(r, &r->srm.responses) : NULL);
	json_object_object_add(o, "clients",
			       r->srm.clients_on ? srm_test_json(r, &r->srm.clients) : NULL);
	/* Client mode: the flow share against the client share, in percentage points. */
	json_object_object_add(o, "flow_client_gap",
			       isnan(r->srm.gap) ? NULL : json_object_new_double(100 * r->srm.gap));
	json_object_object_add(o, "flow_client_warning",
			       json_object_new_boolean(r->srm.gap_warning));
	return o;
}

struct json_object *rollout_json(const struct rollout *r)
{
	const struct service_state *s = find_service(r->plan.service);
	struct json_object *j = json_object_new_object();
	const struct plan_step *st = &r->plan.steps[r->step];
	char ts[32];
	int64_t now = wall_ms();

	json_object_object_add(j, "service", json_object_new_string(r->plan.service));
	json_object_object_add(j, "plan_file", json_object_new_string(r->plan.file));
	json_object_object_add(j, "phase", json_object_new_string(rollout_phase_names[r->phase]));
	json_object_object_add(j, "paused_for",
			       r->phase == PHASE_PAUSED
				       ? json_object_new_string(pause_reason_names[r->pause])
				       : NULL);
	json_object_object_add(j, "reason", json_object_new_string(r->reason));
	json_object_object_add(j, "step", json_object_new_int(r->step + 1));
	json_object_object_add(j, "steps", json_object_new_int(r->plan.nsteps));
	json_object_object_add(j, "step_weight", json_percent(st->weight_bp));
	json_object_object_add(j, "canary_weight", json_percent(r->weight_bp));
	json_object_object_add(j, "pending_weight", r->pending ? json_percent(r->pending_bp) : NULL);
	json_object_object_add(j, "hold_s", json_object_new_double(st->hold_ms / 1000.0));
	json_object_object_add(j, "hold_accrued_s", json_object_new_double(r->step_hold_s));
	json_object_object_add(j, "time_in_step_s",
			       json_object_new_double(((rollout_active(r) ? now : r->ended_ms) -
						       r->step_started_ms) /
						      1000.0));
	json_object_object_add(j, "min_flows", json_object_new_int64(st->min_flows));
	json_object_object_add(j, "step_canary_flows",
			       json_object_new_int64(r->last[1].flows - r->step_base[1].flows));
	{
		uint64_t c = r->last[1].flows - r->step_base[1].flows;
		uint64_t t = c + r->last[0].flows - r->step_base[0].flows;

		json_object_object_add(j, "measured_share",
				       t ? json_object_new_double(100.0 * c / t) : NULL);
	}
	stamp(ts, sizeof(ts), r->started_ms);
	json_object_object_add(j, "started_at", json_object_new_string(ts));
	if (r->ended_ms) {
		stamp(ts, sizeof(ts), r->ended_ms);
		json_object_object_add(j, "ended_at", json_object_new_string(ts));
	}
	json_object_object_add(j, "arms", arms_json(r, s));
	json_object_object_add(j, "evidence", evidence_json(r));
	json_object_object_add(j, "srm", srm_json(r));
	json_object_object_add(j, "metrics", metrics_json(r));
	return j;
}

/* A rollout whose saved state is invalid, as the API shows it. */
struct json_object *bad_json(const struct bad_state *b)
{
	const struct service_state *s = find_service(b->service);
	struct json_object *j = json_object_new_object();
	char msg[1024];

	snprintf(msg, sizeof(msg),
		 "the saved state %s is not valid: %s; the canary keeps its weight and no rollout "
		 "watches it: abort rolls it back, promote completes it",
		 b->file, b->reason);
	json_object_object_add(j, "service", json_object_new_string(b->service));
	json_object_object_add(j, "phase", json_object_new_string("Error"));
	json_object_object_add(j, "reason", json_object_new_string(msg));
	json_object_object_add(j, "state_file", json_object_new_string(b->file));
	json_object_object_add(j, "state_error", json_object_new_string(b->reason));
	json_object_object_add(j, "canary_weight",
			       s ? json_percent(s->cfg.canary_weight) : NULL);
	json_object_object_add(j, "step", json_object_new_int(0));
	json_object_object_add(j, "steps", json_object_new_int(0));
	return j;
}

/* Every rollout, then every invalid saved state. */
struct json_object *rollouts_json(void)
{
	struct json_object *arr = json_object_new_array();
	unsigned int i;

	for (i = 0; i < CANARY_MAX_SERVICES; i++)
		if (A.rollouts[i])
			json_object_array_add(arr, rollout_json(A.rollouts[i]));
	for (i = 0; i < A.nbad; i++)
		json_object_array_add(arr, bad_json(&A.bad[i]));
	return arr;
}

/* The release controller's question, "go on, promote or roll back?", answered from the
 * rollout's phase alone: canaryd's own analysis has already decided, and this only
 * names its decision (docs/INTEGRATIONS.md). */
const char *rollout_decision_name(const struct rollout *r)
{
	switch (r->phase) {
	case PHASE_ROLLED_BACK:
	case PHASE_ABORTED:
		return "rollback";
	case PHASE_PROMOTING:
	case PHASE_SUCCEEDED:
		return "promote";
	default:
		return "continue";
	}
}

/* GET /api/v1/rollouts/SVC/verdict: the decision, each signal's e-value, the lowest
 * threshold among them (the one the strongest evidence must reach first), and both arms. */
struct json_object *verdict_json(const struct rollout *r)
{
	struct json_object *j = json_object_new_object(), *ev = json_object_new_object();
	double thr = 0;
	unsigned int i;
	int arm;

	json_object_object_add(j, "service", json_object_new_string(r->plan.service));
	json_object_object_add(j, "decision", json_object_new_string(rollout_decision_name(r)));
	json_object_object_add(j, "phase", json_object_new_string(rollout_phase_names[r->phase]));
	json_object_object_add(j, "reason", json_object_new_string(r->reason));
	for (i = 0; i < r->nchecks; i++) {
		const struct rollout_check *c = &r->checks[i];
		double t = 1 / c->cfg.rollback.alpha;

		json_object_object_add(ev, c->name,
				       json_object_new_double(av_evalue(&c->st.rollback)));
		if (!i || t < thr)
			thr = t;
	}
	json_object_object_add(j, "evalues", ev);
	json_object_object_add(j, "threshold", r->nchecks ? json_object_new_double(thr) : NULL);
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		struct json_object *a = json_object_new_object();

		if (arm == CANARY_ARM_CANARY)
			json_object_object_add(a, "weight", json_percent(r->weight_bp));
		else
			json_object_object_add(a, "weight",
					       json_percent(CANARY_WEIGHT_SCALE - r->weight_bp));
		json_object_object_add(a, "flows", json_object_new_int64(r->last[arm].flows));
		json_object_object_add(a, "errored_flows",
				       json_object_new_int64(r->last[arm].errored_flows));
		json_object_object_add(a, "http_5xx",
				       json_object_new_int64(r->last[arm].http_class[5]));
		json_object_object_add(a, "reset_flows",
				       json_object_new_int64(r->last[arm].reset_flows));
		json_object_object_add(j, arm_name(arm), a);
	}
	return j;
}
