/* rollout.c: the rollout state machine (see rollout.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "logic/rollout.h"
#include "base/jsonv.h"
#include "base/util.h"

const char *const rollout_phase_names[PHASE_COUNT] = {
	"Idle",	     "Progressing", "Paused",	  "WaitingForGate",
	"Promoting", "Succeeded",   "RolledBack", "Aborted",
};
const char *const pause_reason_names[PAUSE_COUNT] = {
    "", "user", "manual_weight", "no_traffic", "metric_errors", "service_gone", "srm", "store"};
const char *const srm_off_names[SRM_OFF_COUNT] = {"", "client_mode", "overrides"};
const char *const weight_reason_names[WREASON_COUNT] = {"start",	 "step",  "promote",
							"auto-rollback", "abort", "manual",
							"external"};

#define LOG(d, ...) snprintf((d)->log, sizeof((d)->log), __VA_ARGS__)

/* ---- checks ------------------------------------------------------------------------------ */

/* The library's default grids, moved so that the tolerance becomes the null ratio. */
static int check_config(struct av_config *cfg, bool lower_is_worse, double alpha, double tol,
			bool early, int unit, char *err, size_t len)
{
	return av_config_tolerance(cfg, lower_is_worse, alpha, tol, early, (uint32_t)unit, err,
				   len)
		       ? -EINVAL
		       : 0;
}

static void rollout_check_counts(const struct rollout *r, const struct rollout_check *c,
				 const struct arm_stats *a, uint64_t *x, uint64_t *n);

/* Show the order test through the check's own cfg/st (see rollout.h). */
static void order_mirror(struct rollout_check *c)
{
	const struct av_order_state *o = &c->order->st;
	const struct av_state *lo = &o->edge[0];

	c->st.rollback.log_e = o->log_e;
	c->st.rollback.log_e_max = o->log_e_max;
	c->st.rollback.rejected = o->rejected;
	c->st.rollback.reject_poll = o->reject_poll;
	c->st.polls = o->polls;
	memcpy(c->st.x, lo->x, sizeof(c->st.x));
	memcpy(c->st.n, lo->n, sizeof(c->st.n));
}

/* A ttfb_order signal: the order test at each edge, each edge the plan's count test at
 * the signal's alpha and tolerance (no promotion test: it can only roll back). */
static int order_check(struct rollout_check *c, const struct plan_signal *s, char *why,
		       size_t len)
{
	struct rollout_order *o = calloc(1, sizeof(*o));

	if (!o) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	c->order = o;
	av_order_config_default(&o->cfg, s->order_k_lo, s->order_k_hi);
	o->cfg.alpha = s->alpha;
	if (check_config(&o->cfg.edge, false, s->alpha, s->tolerance, false, AV_UNIT_RESPONSES,
			 why, len) ||
	    av_order_finalize(&o->cfg, why, len))
		return -EINVAL;
	av_order_init(&o->st, &o->cfg);
	c->cfg = o->cfg.edge;
	av_state_init(&c->st, &c->cfg);
	order_mirror(c);
	return 0;
}

/* One tick of a check: the order test on the arms' TTFB histograms, the count test on
 * the check's events otherwise. */
static enum av_poll check_update(const struct rollout *r, struct rollout_check *c,
				 const struct arm_stats *a)
{
	uint64_t x[2], n[2];
	enum av_poll res;

	if (c->order) {
		res = av_order_update(&c->order->cfg, &c->order->st,
				      (const uint64_t *)a[1].ttfb_hist,
				      (const uint64_t *)a[0].ttfb_hist, CANARY_HIST_BUCKETS);
		order_mirror(c);
		return res;
	}
	rollout_check_counts(r, c, a, x, n);
	return av_update(&c->cfg, &c->st, n[1], x[1], n[0], x[0]);
}

/* The counters started again: every test takes its next reading as a new baseline. */
static void check_rebase(struct rollout_check *c)
{
	unsigned int k;

	c->st.have_prev = 0;
	if (c->order)
		for (k = 0; k < AV_ORDER_MAX; k++)
			c->order->st.edge[k].have_prev = 0;
}

static int build_checks(struct rollout *r, char *err, size_t len)
{
	const struct plan *p = &r->plan;
	unsigned int i;
	char why[160];

	r->nchecks = 0;
	for (i = 0; i < p->nsignals; i++) {
		struct rollout_check *c = &r->checks[r->nchecks++];
		int k = p->signals[i].kind;

		c->kind = k;
		c->metric = -1;
		snprintf(c->name, sizeof(c->name), "%s", plan_signal_names[k]);
		if (k == SIG_TTFB_ORDER) {
			if (order_check(c, &p->signals[i], why, sizeof(why))) {
				snprintf(err, len, "signal %s: %s", c->name, why);
				return -EINVAL;
			}
			continue;
		}
		if (check_config(&c->cfg, false, p->signals[i].alpha, p->signals[i].tolerance,
				 p->early_promotion,
				 k == SIG_HTTP_5XX || k == SIG_TTFB ? AV_UNIT_RESPONSES
								   : AV_UNIT_FLOWS,
				 why, sizeof(why))) {
			snprintf(err, len, "signal %s: %s", c->name, why);
			return -EINVAL;
		}
		av_state_init(&c->st, &c->cfg);
	}
	for (i = 0; i < p->nmetrics; i++) {
		struct rollout_check *c = &r->checks[r->nchecks++];
		const struct plan_metric *m = &p->metrics[i];

		c->kind = SIG_METRIC;
		c->metric = i;
		/* Both are PLAN_NAME_LEN arrays and the plan's is NUL-terminated; memcpy,
		 * because gcc 12 cannot tell two fields of *r apart for snprintf's restrict. */
		_Static_assert(sizeof(c->name) == sizeof(m->name), "name sizes");
		memcpy(c->name, m->name, sizeof(c->name));
		if (check_config(&c->cfg, m->lower_is_worse, m->alpha, m->tolerance,
				 p->early_promotion, AV_UNIT_TRIALS, why, sizeof(why))) {
			snprintf(err, len, "metric %s: %s", m->name, why);
			return -EINVAL;
		}
		av_state_init(&c->st, &c->cfg);
	}
	av_srm_config_default(&r->srm.cfg);
	if (av_srm_finalize(&r->srm.cfg, why, sizeof(why))) {
		snprintf(err, len, "%s", why);
		return -EINVAL;
	}
	av_srm_config_clients(&r->srm.ccfg);
	if (av_srm_finalize(&r->srm.ccfg, why, sizeof(why))) {
		snprintf(err, len, "%s", why);
		return -EINVAL;
	}
	av_srm_init(&r->srm.flows, &r->srm.cfg);
	av_srm_init(&r->srm.responses, &r->srm.cfg);
	av_srm_init(&r->srm.clients, &r->srm.ccfg);
	r->srm.tally_bp = UINT16_MAX;
	r->srm.gap = NAN;
	return 0;
}

/* TTFB histogram bucket i holds [2^i, 2^(i+1)) us: inclusive upper edges. */
static uint64_t ttfb_above(const struct arm_stats *a, uint64_t bound_us)
{
	uint64_t upper[CANARY_HIST_BUCKETS];
	unsigned int i;

	for (i = 0; i < CANARY_HIST_BUCKETS; i++)
		upper[i] = i + 1 == CANARY_HIST_BUCKETS ? UINT64_MAX : (2ull << i) - 1;
	return av_hist_above((const uint64_t *)a->ttfb_hist, upper, CANARY_HIST_BUCKETS, bound_us,
			     NULL);
}

/* Events and exposure of a check, cumulative, per arm: a, x and n hold CANARY_ARMS
 * entries each. (Pointers, not bounded array parameters: gcc 12 with sanitizers
 * mis-sizes the caller's array member and reports a bogus overread otherwise.) */
static void rollout_check_counts(const struct rollout *r, const struct rollout_check *c,
				 const struct arm_stats *a, uint64_t *x, uint64_t *n)
{
	int arm;

	for (arm = 0; arm < CANARY_ARMS; arm++) {
		const struct arm_stats *s = &a[arm];

		switch (c->kind) {
		case SIG_HTTP_5XX:
			x[arm] = s->http_class[5];
			n[arm] = s->http_responses;
			break;
		case SIG_RESETS:
			x[arm] = s->reset_flows;
			n[arm] = s->flows;
			break;
		case SIG_UNANSWERED_SYN:
			x[arm] = s->syn_retx_flows;
			n[arm] = s->flows;
			break;
		case SIG_ERRORED_FLOWS:
			x[arm] = s->errored_flows;
			n[arm] = s->flows;
			break;
		case SIG_TTFB: {
			unsigned int i;
			uint64_t bound = 0;

			for (i = 0; i < r->plan.nsignals; i++)
				if (r->plan.signals[i].kind == SIG_TTFB)
					bound = r->plan.signals[i].ttfb_bound_us;
			x[arm] = ttfb_above(s, bound);
			n[arm] = s->requests;
			break;
		}
		case SIG_TTFB_ORDER:
			x[arm] = c->order ? c->order->st.edge[0].x[arm == 1 ? AV_CANARY : AV_STABLE]
					  : 0;
			n[arm] = c->order ? c->order->st.edge[0].n[arm == 1 ? AV_CANARY : AV_STABLE]
					  : 0;
			break;
		default:
			x[arm] = r->metrics[c->metric].successes[arm];
			n[arm] = r->metrics[c->metric].trials[arm];
		}
	}
}

void rollout_evidence(const struct rollout *r, char *buf, size_t len)
{
	size_t used = 0;
	unsigned int i;

	buf[0] = 0;
	for (i = 0; i < r->nchecks && used < len; i++) {
		const struct rollout_check *c = &r->checks[i];
		uint64_t x[2], n[2];

		rollout_check_counts(r, c, r->last, x, n);
		used += snprintf(buf + used, len - used,
				 "%s%s E=%.3g/%g (canary %" PRIu64 "/%" PRIu64 ", stable %" PRIu64
				 "/%" PRIu64 ")",
				 i ? ", " : "", c->name, av_evalue(&c->st.rollback),
				 1 / c->cfg.rollback.alpha, c->st.x[AV_CANARY], c->st.n[AV_CANARY],
				 c->st.x[AV_STABLE], c->st.n[AV_STABLE]);
	}
	if (used < len && used)
		used += snprintf(buf + used, len - used, "; ");
	if (used < len)
		rollout_srm_summary(r, buf + used, len - used);
}

/* ---- sample-ratio mismatch ----------------------------------------------------------- */

bool rollout_srm_stands(const struct rollout *r)
{
	return av_srm_rejected(&r->srm.flows) || av_srm_rejected(&r->srm.responses) ||
	       av_srm_rejected(&r->srm.clients);
}

static size_t srm_one(char *buf, size_t len, const char *name, const struct av_srm_state *st,
		      const struct av_srm_config *cfg)
{
	if (!st->used)
		return (size_t)snprintf(buf, len, "%s no data", name);
	return (size_t)snprintf(buf, len, "%s %.2f%%/%.2f%% E=%.3g/%g%s", name,
				100 * av_srm_observed(st), 100 * av_srm_expected(st),
				av_evalue(&st->seq), 1 / cfg->seq.alpha,
				av_srm_rejected(st) ? " MISMATCH" : "");
}

void rollout_srm_summary(const struct rollout *r, char *buf, size_t len)
{
	size_t used;

	if (r->srm.flows_off)
		used = (size_t)snprintf(buf, len, "srm flows off (%s)",
					srm_off_names[r->srm.flows_off]);
	else
		used = srm_one(buf, len, "srm flows", &r->srm.flows, &r->srm.cfg);
	if (r->srm.clients_on && used < len)
		used += srm_one(buf + used, len - used, ", clients", &r->srm.clients, &r->srm.ccfg);
	if (r->srm.gap_warning && used < len)
		used += (size_t)snprintf(
		    buf + used, len - used,
		    ", WARNING flow share %.2f%% vs clients %.2f%% (heavy clients)",
		    100 * srm_flow_share(r), 100 * (srm_flow_share(r) - r->srm.gap));
	if (r->srm.http && used < len)
		srm_one(buf + used, len - used, ", responses", &r->srm.responses, &r->srm.cfg);
}

double srm_flow_share(const struct rollout *r)
{
	const double *f = r->srm.tally.flows;

	return f[0] + f[1] > 0 ? f[1] / (f[0] + f[1]) : NAN;
}

/* The flow share against the client share of this weight's tally: far apart (odds
 * beyond x1.25 either way, with 100 flows and 20 clients at least) is a warning, not an
 * SRM: a few heavy clients move flows, never clients. */
static void srm_gap(struct rollout_srm *m)
{
	const double *c = m->tally.clients, *f = m->tally.flows;
	double fs, cs, odds;

	m->gap = NAN;
	m->gap_warning = false;
	if (!m->clients_on || f[0] + f[1] < 100 || c[0] + c[1] < 20)
		return;
	fs = f[1] / (f[0] + f[1]);
	cs = c[1] / (c[0] + c[1]);
	m->gap = fs - cs;
	if (cs <= 0 || cs >= 1)
		return;
	odds = (fs / (1 - fs)) / (cs / (1 - cs));
	m->gap_warning = !(odds >= 0.8 && odds <= 1.25);
}

/* A client_hll interval: into this weight's tally (unless it may straddle a weight
 * change), its new clients into the client test, its weight-decided flows into the flow
 * test when that counts them (overrides in flow mode). */
static void srm_interval(struct rollout *r, const struct rollout_input *in, double w)
{
	struct rollout_srm *m = &r->srm;
	double fresh[CANARY_ARMS];

	m->last_clients = AV_POLL_IDLE;
	if (in->weight_bp != m->tally_bp) {
		hll_tally_reset(&m->tally);
		m->tally_bp = in->weight_bp;
		m->tally_skip = 2;
		srm_gap(m);
	}
	if (!in->clients)
		return;
	if (m->tally_skip) {
		m->tally_skip--;
		return;
	}
	hll_tally_add(&m->tally, in->clients->reg, in->clients->flows, fresh);
	if (m->clients_on)
		m->last_clients = av_srm_update(&m->ccfg, &m->clients, fresh[1], fresh[0], w);
	if (m->flows_interval)
		m->last_flows = av_srm_update(&m->cfg, &m->flows, in->clients->flows[1],
					      in->clients->flows[0], w);
	srm_gap(m);
}

/* The units of this interval (in - r->last) enter the SRM tests when the weight in the
 * maps did not change across it. Flows are tested against the weight, in flow mode
 * without overrides only; responses against the step's measured share of flows, in
 * flow equivalents (divided by the step's responses per flow), so that a keep-alive
 * connection's many responses weigh as one unit. */
static void tick_srm(struct rollout *r, const struct rollout_input *in)
{
	const struct arm_stats *c = &in->arm[1], *st = &in->arm[0];
	double w = in->weight_bp / (double)CANARY_WEIGHT_SCALE;
	bool clean = in->weight_bp == r->srm.bp;
	uint64_t fc, fs, rc, rs;

	r->srm.bp = in->weight_bp;
	r->srm.flows_off = in->hash_mode != CANARY_HASH_FLOW ? SRM_OFF_CLIENT_MODE
			   : (in->svc_flags & CANARY_SVC_F_OVERRIDES) && !in->clients_counted
			       ? SRM_OFF_OVERRIDES
			       : SRM_ON;
	r->srm.flows_interval = !r->srm.flows_off && (in->svc_flags & CANARY_SVC_F_OVERRIDES);
	r->srm.clients_on = in->hash_mode == CANARY_HASH_CLIENT && in->clients_counted;
	r->srm.http = (in->svc_flags & CANARY_SVC_F_HTTP) && r->plan.srm_responses;
	r->srm.last_flows = r->srm.last_responses = AV_POLL_IDLE;
	srm_interval(r, in, w);
	if (!clean)
		return;
	if (!r->srm.flows_off && !r->srm.flows_interval)
		r->srm.last_flows =
		    av_srm_update(&r->srm.cfg, &r->srm.flows, (double)(c->flows - r->last[1].flows),
				  (double)(st->flows - r->last[0].flows), w);
	fc = c->flows - r->step_base[1].flows;
	fs = st->flows - r->step_base[0].flows;
	rc = c->http_responses - r->step_base[1].http_responses;
	rs = st->http_responses - r->step_base[0].http_responses;
	if (r->srm.http && fc + fs > 0 && rc + rs > 0) {
		double per_flow = (double)(rc + rs) / (double)(fc + fs);

		if (per_flow < 1)
			per_flow = 1;
		r->srm.last_responses = av_srm_update(
		    &r->srm.cfg, &r->srm.responses,
		    (double)(c->http_responses - r->last[1].http_responses) / per_flow,
		    (double)(st->http_responses - r->last[0].http_responses) / per_flow,
		    (double)fc / (double)(fc + fs));
	}
}

/* Start the SRM tests again (a person resumed a rollout held by one). */
static void srm_restart(struct rollout *r)
{
	av_srm_init(&r->srm.flows, &r->srm.cfg);
	av_srm_init(&r->srm.responses, &r->srm.cfg);
	av_srm_init(&r->srm.clients, &r->srm.ccfg);
	r->srm.tally_bp = UINT16_MAX;
}

/* ---- life cycle -------------------------------------------------------------------------- */

/* The phase of a rollout that progresses at step idx: holding at 100% is Promoting. */
static int step_phase(const struct rollout *r, unsigned int idx)
{
	return r->plan.steps[idx].weight_bp == CANARY_WEIGHT_SCALE ? PHASE_PROMOTING
								   : PHASE_PROGRESSING;
}

int rollout_init(struct rollout *r, const struct plan *p, const char *plan_text, uint32_t svc_id,
		 const struct arm_stats now[CANARY_ARMS], int64_t now_ms, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->plan = *p;
	r->plan_text = strdup(plan_text ? plan_text : "");
	if (!r->plan_text) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->svc_id = svc_id;
	if (build_checks(r, err, errlen))
		return -EINVAL;
	r->phase = step_phase(r, 0);
	r->step = 0;
	r->started_ms = r->step_started_ms = now_ms;
	memcpy(r->base, now, sizeof(r->base));
	memcpy(r->step_base, now, sizeof(r->step_base));
	memcpy(r->last, now, sizeof(r->last));
	snprintf(r->reason, sizeof(r->reason), "started: step 1 of %u", p->nsteps);
	return 0;
}

void rollout_free(struct rollout *r)
{
	unsigned int i;

	free(r->plan_text);
	r->plan_text = NULL;
	for (i = 0; i < ROLLOUT_MAX_CHECKS; i++) {
		free(r->checks[i].order);
		r->checks[i].order = NULL;
	}
	free(r->fleet);
	r->fleet = NULL;
}

bool rollout_active(const struct rollout *r)
{
	return r->phase == PHASE_PROGRESSING || r->phase == PHASE_PAUSED ||
	       r->phase == PHASE_WAITING_GATE || r->phase == PHASE_PROMOTING;
}

static void set_weight(struct rollout *r, struct rollout_decision *d, uint16_t bp, int reason)
{
	d->set_weight = true;
	d->old_bp = r->weight_bp;
	d->new_bp = bp;
	d->reason = reason;
	d->changed = true;
	r->weight_bp = bp;
}

/* Move to step idx (weight, counters, promotion evidence), from a tick or a command. */
static void enter_step(struct rollout *r, unsigned int idx, const struct arm_stats *now,
		       int64_t now_ms, struct rollout_decision *d, int reason)
{
	unsigned int i;

	r->step = idx;
	r->step_hold_s = 0;
	r->gate_open = false;
	r->step_started_ms = now_ms;
	memcpy(r->step_base, now, sizeof(r->step_base));
	for (i = 0; i < r->nchecks; i++)
		av_promote_reset(&r->checks[i].st);
	r->phase = step_phase(r, idx);
	r->pause = PAUSE_NONE;
	set_weight(r, d, r->plan.steps[idx].weight_bp, reason);
}

static void finish(struct rollout *r, int phase, int64_t now_ms)
{
	r->phase = phase;
	r->pause = PAUSE_NONE;
	r->ended_ms = now_ms;
}

static const char *svc(const struct rollout *r)
{
	return r->plan.service;
}

/* Pause on the rollout's own account (no traffic, metric errors, the service gone); why
 * is the sentence for people. */
static void auto_pause(struct rollout *r, struct rollout_decision *d, int pause, const char *why)
{
	r->phase = PHASE_PAUSED;
	r->pause = pause;
	snprintf(r->reason, sizeof(r->reason), "%s", why);
	d->changed = true;
	LOG(d, "%s: paused at step %u/%u: %s", svc(r), r->step + 1, r->plan.nsteps, r->reason);
}

/* Resume from such a pause, at the step it paused at, because why. */
static void auto_resume(struct rollout *r, struct rollout_decision *d, const char *why)
{
	r->phase = step_phase(r, r->step);
	r->pause = PAUSE_NONE;
	snprintf(r->reason, sizeof(r->reason), "%s", why);
	d->changed = true;
	LOG(d, "%s: resumed at step %u/%u: %s", svc(r), r->step + 1, r->plan.nsteps, why);
}

/* ---- the tick ---------------------------------------------------------------------------- */

static bool metric_trouble(const struct rollout *r, char *buf, size_t len)
{
	unsigned int i;

	for (i = 0; i < r->plan.nmetrics; i++)
		if (r->metrics[i].consecutive_errors >= r->plan.metrics[i].error_limit) {
			snprintf(buf, len, "metric %s: %d measurement errors in a row (%s)",
				 r->plan.metrics[i].name, r->metrics[i].consecutive_errors,
				 r->metrics[i].last_error);
			return true;
		}
	return false;
}

/* Push metrics that stopped reporting count as measurement errors, once per tick. */
static void metric_staleness(struct rollout *r, int64_t now_ms)
{
	unsigned int i;

	for (i = 0; i < r->plan.nmetrics; i++) {
		const struct plan_metric *m = &r->plan.metrics[i];
		struct metric_state *ms = &r->metrics[i];
		int64_t since = ms->last_report_ms > r->started_ms ? ms->last_report_ms : r->started_ms;

		if (m->source != METRIC_PUSH || now_ms - since <= m->stale_ms)
			continue;
		ms->consecutive_errors++;
		snprintf(ms->last_error, sizeof(ms->last_error), "no report for %.0f s",
			 (now_ms - since) / 1000.0);
	}
}

static bool counters_went_back(const struct arm_stats now[CANARY_ARMS],
			       const struct arm_stats last[CANARY_ARMS])
{
	const __u64 *a = (const __u64 *)now, *b = (const __u64 *)last;
	size_t w;

	for (w = 0; w < CANARY_ARMS * sizeof(struct arm_stats) / 8; w++)
		if (a[w] < b[w])
			return true;
	return false;
}

bool rollout_notice_manual(struct rollout *r, uint16_t weight_bp, uint32_t generation,
			   int64_t now_ms, struct rollout_decision *d)
{
	char a[16], b[16];

	if (!rollout_active(r) || generation == r->generation)
		return false;
	d->manual = true;
	d->old_bp = r->weight_bp;
	d->new_bp = weight_bp;
	d->reason = WREASON_MANUAL;
	d->changed = true;
	r->generation = generation;
	r->weight_bp = weight_bp;
	r->pending = false;
	if (weight_bp == 0) {
		finish(r, PHASE_ROLLED_BACK, now_ms);
		snprintf(r->reason, sizeof(r->reason), "rolled back by hand (weight %s -> 0%%)",
			 bp_pct(d->old_bp, a, sizeof(a)));
	} else if (weight_bp == CANARY_WEIGHT_SCALE) {
		finish(r, PHASE_SUCCEEDED, now_ms);
		snprintf(r->reason, sizeof(r->reason), "promoted by hand (weight %s -> 100%%)",
			 bp_pct(d->old_bp, a, sizeof(a)));
	} else if (weight_bp != d->old_bp) {
		r->phase = PHASE_PAUSED;
		r->pause = PAUSE_MANUAL_WEIGHT;
		snprintf(r->reason, sizeof(r->reason),
			 "weight set to %s by hand; waiting ('canaryctl rollout resume' continues "
			 "from the next step above it)",
			 bp_pct(weight_bp, a, sizeof(a)));
	} else {
		snprintf(r->reason, sizeof(r->reason),
			 "the service was changed by hand at the same weight");
	}
	LOG(d, "%s: manual change noticed: weight %s -> %s; %s: %s", svc(r),
	    bp_pct(d->old_bp, a, sizeof(a)), bp_pct(d->new_bp, b, sizeof(b)),
	    rollout_phase_names[r->phase], r->reason);
	return true;
}

void rollout_service_gone(struct rollout *r, struct rollout_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (!rollout_active(r) || (r->phase == PHASE_PAUSED && r->pause == PAUSE_SERVICE_GONE))
		return;
	auto_pause(r, d, PAUSE_SERVICE_GONE,
		   "the service is no longer configured; abort the rollout, or apply the service "
		   "again and resume");
}

/* ---- fleet mode (docs/FLEET.md) ------------------------------------------------------------ */

void rollout_store_pause(struct rollout *r, const char *why, struct rollout_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (!rollout_active(r) || r->phase == PHASE_PAUSED)
		return; /* a pause of another kind says more, and stays */
	auto_pause(r, d, PAUSE_STORE, why);
}

void rollout_store_resume(struct rollout *r, struct rollout_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (r->phase == PHASE_PAUSED && r->pause == PAUSE_STORE)
		auto_resume(r, d, "the store is back");
}

void rollout_node_rollback(struct rollout *r, const char *node, const char *why, int64_t now_ms,
			   struct rollout_decision *d)
{
	uint16_t old = r->weight_bp;
	char a[16];

	memset(d, 0, sizeof(*d));
	if (!rollout_active(r))
		return;
	set_weight(r, d, 0, WREASON_ROLLBACK);
	d->reset_flows = r->plan.on_rollback == ROLLBACK_RESET;
	finish(r, PHASE_ROLLED_BACK, now_ms);
	snprintf(r->reason, sizeof(r->reason), "node %s rolled itself back on its own evidence: %s",
		 node, why);
	LOG(d, "%s: ROLLBACK of the fleet at step %u/%u: weight %s -> 0%%: %s", svc(r),
	    r->step + 1, r->plan.nsteps, bp_pct(old, a, sizeof(a)), r->reason);
}

/* Other counters (the service was re-created under another id, or the maps were made
 * anew): start the baselines again rather than subtract across the change; the evidence
 * so far stays, and each test's next reading is a new baseline. True when it did. */
static bool tick_rebase(struct rollout *r, const struct rollout_input *in,
			struct rollout_decision *d)
{
	unsigned int i;

	if (in->svc_id == r->svc_id && !counters_went_back(in->arm, r->last))
		return false;
	r->svc_id = in->svc_id;
	memcpy(r->base, in->arm, sizeof(r->base));
	memcpy(r->step_base, in->arm, sizeof(r->step_base));
	memcpy(r->last, in->arm, sizeof(r->last));
	r->step_hold_s = 0;
	for (i = 0; i < r->nchecks; i++)
		check_rebase(&r->checks[i]);
	d->changed = true;
	LOG(d,
	    "%s: the service's counters started again (re-created, or new maps); "
	    "step %u/%u starts its hold again",
	    svc(r), r->step + 1, r->plan.nsteps);
	return true;
}

/* Evidence: every check sees every interval; ev gets the summary line. Returns whether
 * every check says the canary is not worse (early promotion). */
static bool tick_evidence(struct rollout *r, const struct rollout_input *in, char *ev, size_t evlen)
{
	bool all_promote = r->nchecks > 0, any_promote_test = false;
	unsigned int i;

	for (i = 0; i < r->nchecks; i++) {
		struct rollout_check *c = &r->checks[i];

		c->last_poll = check_update(r, c, in->arm);
		/* The order test has no promotion test: it only ever rolls back, and early
		 * promotion is the other checks' to decide. */
		if (c->order)
			continue;
		any_promote_test = true;
		if (av_verdict(&c->cfg, &c->st) != AV_PROMOTE)
			all_promote = false;
	}
	all_promote = all_promote && any_promote_test;
	memcpy(r->last, in->arm, sizeof(r->last));
	rollout_evidence(r, ev, evlen);
	return all_promote;
}

/* Why the canary must go: the first check whose evidence crossed its threshold, else
 * the first guard that tripped. False when none did. */
static bool rollback_cause(const struct rollout *r, const struct rollout_input *in, char *why,
			   size_t len)
{
	unsigned int i;

	for (i = 0; i < r->nchecks; i++) {
		const struct rollout_check *c = &r->checks[i];

		if (av_verdict(&c->cfg, &c->st) != AV_ROLLBACK)
			continue;
		snprintf(why, len,
			 "%s: e-value %.3g reached 1/alpha = %g (canary %" PRIu64 "/%" PRIu64
			 ", stable %" PRIu64 "/%" PRIu64 ")",
			 c->name, av_evalue(&c->st.rollback), 1 / c->cfg.rollback.alpha,
			 c->st.x[AV_CANARY], c->st.n[AV_CANARY], c->st.x[AV_STABLE],
			 c->st.n[AV_STABLE]);
		return true;
	}
	for (i = 0; i < r->plan.nguards; i++) {
		const struct plan_guard *g = &r->plan.guards[i];
		struct rollout_check tmp = {.kind = g->kind};
		uint64_t x[2], n[2], bx[2], bn[2];

		rollout_check_counts(r, &tmp, in->arm, x, n);
		rollout_check_counts(r, &tmp, r->base, bx, bn);
		if (!av_guard_ratio(x[1] - bx[1], n[1] - bn[1], g->min_exposure, g->max_ratio))
			continue;
		snprintf(why, len, "guard: canary %s ratio %.3f > %g (%" PRIu64 " of %" PRIu64 ")",
			 plan_signal_names[g->kind],
			 (double)(x[1] - bx[1]) / (double)(n[1] - bn[1]), g->max_ratio,
			 x[1] - bx[1], n[1] - bn[1]);
		return true;
	}
	return false;
}

/* Roll back on evidence or a guard, unless a person has taken over the weight. True
 * when it did. */
static bool tick_rollback(struct rollout *r, const struct rollout_input *in,
			  struct rollout_decision *d, const char *ev)
{
	char why[256], a[16];
	uint16_t old = r->weight_bp;

	if (r->pause == PAUSE_MANUAL_WEIGHT || r->weight_bp == 0 ||
	    !rollback_cause(r, in, why, sizeof(why)))
		return false;
	set_weight(r, d, 0, WREASON_ROLLBACK);
	d->reset_flows = r->plan.on_rollback == ROLLBACK_RESET;
	finish(r, PHASE_ROLLED_BACK, in->now_ms);
	snprintf(r->reason, sizeof(r->reason), "%s", why);
	LOG(d, "%s: ROLLBACK at step %u/%u: weight %s -> 0%%%s: %s; evidence: %s", svc(r),
	    r->step + 1, r->plan.nsteps, bp_pct(old, a, sizeof(a)),
	    d->reset_flows ? " (canary flows reset)" : " (canary flows drain)", why, ev);
	return true;
}

/* Measurement errors pause (never roll back); recovery resumes. True when the tick
 * ends here. */
static bool tick_metrics(struct rollout *r, const struct rollout_input *in,
			 struct rollout_decision *d)
{
	char why[256];

	metric_staleness(r, in->now_ms);
	if (metric_trouble(r, why, sizeof(why))) {
		if (r->phase != PHASE_PROGRESSING && r->phase != PHASE_PROMOTING)
			return false;
		auto_pause(r, d, PAUSE_METRIC_ERRORS, why);
		return true;
	}
	if (r->phase != PHASE_PAUSED || r->pause != PAUSE_METRIC_ERRORS)
		return false;
	auto_resume(r, d, "metrics are reporting again");
	return true;
}

/* No canary traffic (cdelta packets this interval; sdelta to stable) is neither a
 * failure nor a success: the hold stops, and after no_traffic_pause the rollout pauses
 * and says why; it resumes when traffic returns. False when the canary had none. */
static bool tick_traffic(struct rollout *r, const struct rollout_input *in,
			 struct rollout_decision *d, uint64_t cdelta, uint64_t sdelta)
{
	char why[256], a[16];

	if (cdelta) {
		r->idle_s = 0;
		if (r->phase == PHASE_PAUSED && r->pause == PAUSE_NO_TRAFFIC)
			auto_resume(r, d, "traffic is back");
		return true;
	}
	r->idle_s += in->dt;
	if (r->idle_s * 1000 < r->plan.no_traffic_ms ||
	    (r->phase != PHASE_PROGRESSING && r->phase != PHASE_PROMOTING))
		return false;
	if (sdelta)
		snprintf(why, sizeof(why),
			 "the canary got no traffic for %.0f s while stable did: at %s no client "
			 "may fall in its range (promote or set the weight by hand); resumes when "
			 "it gets traffic",
			 r->idle_s, bp_pct(r->weight_bp, a, sizeof(a)));
	else
		snprintf(why, sizeof(why), "no traffic for %.0f s; resumes when traffic returns",
			 r->idle_s);
	auto_pause(r, d, PAUSE_NO_TRAFFIC, why);
	return false;
}

/* A sample-ratio mismatch holds the rollout: it pauses (once, and says why) and stays
 * paused; promotion evidence gathered on arms that are not comparable is dropped every
 * tick. Rollbacks were decided before this. True when the tick ends here. */
static bool tick_srm_hold(struct rollout *r, struct rollout_decision *d, const char *ev)
{
	unsigned int i;
	char why[256], sum[176];

	if (!rollout_srm_stands(r))
		return false;
	for (i = 0; i < r->nchecks; i++)
		av_promote_reset(&r->checks[i].st);
	if (r->phase != PHASE_PROGRESSING && r->phase != PHASE_PROMOTING)
		return r->phase == PHASE_PAUSED && r->pause == PAUSE_SRM;
	rollout_srm_summary(r, sum, sizeof(sum));
	snprintf(why, sizeof(why),
		 "sample-ratio mismatch (%s); holding, rollbacks still apply; resume restarts it",
		 sum);
	auto_pause(r, d, PAUSE_SRM, why);
	d->srm_hold = true;
	d->old_bp = d->new_bp = r->weight_bp;
	snprintf(d->log + strlen(d->log), sizeof(d->log) - strlen(d->log), "; evidence: %s", ev);
	return true;
}

/* A progressing rollout holds its step; does the step pass (its flows, its hold, or
 * early promotion)? Then succeed, wait at a gate, or go to the next step. */
static void tick_step(struct rollout *r, const struct rollout_input *in, struct rollout_decision *d,
		      const char *ev, bool all_promote)
{
	const struct plan_step *step = &r->plan.steps[r->step];
	uint64_t flows_at_step;
	uint16_t old = r->weight_bp;
	char a[16], b[16];
	bool early;
	double held;

	if (r->phase != PHASE_PROGRESSING && r->phase != PHASE_PROMOTING)
		return;
	r->step_hold_s += in->dt;
	flows_at_step = in->arm[1].flows - r->step_base[1].flows;
	if (flows_at_step < step->min_flows)
		return;
	early = r->step_hold_s * 1000 < step->hold_ms;
	if (early && !(r->plan.early_promotion && all_promote && r->step + 1 < r->plan.nsteps))
		return;

	if (r->step + 1 == r->plan.nsteps) {
		finish(r, PHASE_SUCCEEDED, in->now_ms);
		snprintf(r->reason, sizeof(r->reason), "all %u steps passed", r->plan.nsteps);
		d->changed = true;
		LOG(d, "%s: SUCCEEDED: canary at 100%% held %.0f s with %" PRIu64 " flows; evidence: %s",
		    svc(r), r->step_hold_s, flows_at_step, ev);
		return;
	}
	if (step->gate && !r->gate_open) {
		r->phase = PHASE_WAITING_GATE;
		snprintf(r->reason, sizeof(r->reason),
			 "step %u/%u passed; waiting for 'canaryctl rollout promote %s'", r->step + 1,
			 r->plan.nsteps, svc(r));
		d->changed = true;
		LOG(d, "%s: %s; evidence: %s", svc(r), r->reason, ev);
		return;
	}
	held = r->step_hold_s;
	enter_step(r, r->step + 1, in->arm, in->now_ms, d, WREASON_STEP);
	snprintf(r->reason, sizeof(r->reason), "step %u/%u", r->step + 1, r->plan.nsteps);
	LOG(d,
	    "%s: step %u/%u: weight %s -> %s (%s after %.0f s, %" PRIu64 " canary flows >= %" PRIu64
	    "); evidence: %s",
	    svc(r), r->step + 1, r->plan.nsteps, bp_pct(old, a, sizeof(a)),
	    bp_pct(r->weight_bp, b, sizeof(b)),
	    early ? "early promotion: evidence that the canary is not worse" : "hold passed", held,
	    flows_at_step, step->min_flows, ev);
}

/* One tick: a manual change wins; then the counters' baselines, the SRM tests, the
 * evidence, a rollback, measurement errors, traffic, an SRM hold, and the step. */
void rollout_tick(struct rollout *r, const struct rollout_input *in, struct rollout_decision *d)
{
	uint64_t cdelta, sdelta;
	bool all_promote;
	char ev[1024];

	memset(d, 0, sizeof(*d));
	if (!rollout_active(r)) {
		memcpy(r->last, in->arm, sizeof(r->last));
		return;
	}
	/* Traffic in this interval, before r->last moves on. */
	cdelta = in->arm[1].fwd_packets - r->last[1].fwd_packets;
	sdelta = in->arm[0].fwd_packets - r->last[0].fwd_packets;

	/* A node's watch follows the weight the leader set; nobody's change is manual. */
	if (r->watch_only) {
		r->weight_bp = in->weight_bp;
		r->generation = in->generation;
	}
	/* A weight set by someone else wins: record it, never undo it. */
	if (rollout_notice_manual(r, in->weight_bp, in->generation, in->now_ms, d)) {
		memcpy(r->last, in->arm, sizeof(r->last));
		return;
	}
	if (tick_rebase(r, in, d))
		return;
	tick_srm(r, in);
	all_promote = tick_evidence(r, in, ev, sizeof(ev));
	if (tick_rollback(r, in, d, ev) || r->watch_only || tick_metrics(r, in, d) ||
	    !tick_traffic(r, in, d, cdelta, sdelta) || tick_srm_hold(r, d, ev))
		return;
	tick_step(r, in, d, ev, all_promote);
}

/* ---- commands ---------------------------------------------------------------------------- */

static int need_active(const struct rollout *r, char *err, size_t len)
{
	if (rollout_active(r))
		return 0;
	snprintf(err, len, "the rollout of %s has ended (%s); start a new one with 'canaryctl "
			   "rollout start'",
		 svc(r), rollout_phase_names[r->phase]);
	return -EINVAL;
}

int rollout_pause(struct rollout *r, struct rollout_decision *d, char *err, size_t len)
{
	memset(d, 0, sizeof(*d));
	if (need_active(r, err, len))
		return -EINVAL;
	if (r->phase == PHASE_PAUSED && r->pause == PAUSE_USER) {
		snprintf(err, len, "the rollout of %s is already paused", svc(r));
		return -EINVAL;
	}
	r->phase = PHASE_PAUSED;
	r->pause = PAUSE_USER;
	snprintf(r->reason, sizeof(r->reason), "paused by hand at step %u/%u", r->step + 1,
		 r->plan.nsteps);
	d->changed = true;
	LOG(d, "%s: paused by hand at step %u/%u (weight stays)", svc(r), r->step + 1,
	    r->plan.nsteps);
	return 0;
}

int rollout_resume(struct rollout *r, struct rollout_decision *d, int64_t now_ms, char *err,
		   size_t len)
{
	char a[16];

	memset(d, 0, sizeof(*d));
	if (need_active(r, err, len))
		return -EINVAL;
	if (r->phase != PHASE_PAUSED) {
		snprintf(err, len, "the rollout of %s is not paused (%s)", svc(r),
			 rollout_phase_names[r->phase]);
		return -EINVAL;
	}
	if (r->pause == PAUSE_MANUAL_WEIGHT) {
		unsigned int i;

		/* Continue from the first step above the weight set by hand. */
		for (i = 0; i < r->plan.nsteps && r->plan.steps[i].weight_bp <= r->weight_bp; i++)
			;
		if (i == r->plan.nsteps)
			i = r->plan.nsteps - 1;
		enter_step(r, i, r->last, now_ms, d, WREASON_STEP);
		snprintf(r->reason, sizeof(r->reason), "resumed by hand at step %u/%u", i + 1,
			 r->plan.nsteps);
		LOG(d, "%s: resumed by hand: step %u/%u, weight %s", svc(r), i + 1, r->plan.nsteps,
		    bp_pct(r->weight_bp, a, sizeof(a)));
		return 0;
	}
	if (r->pause == PAUSE_SRM) {
		unsigned int i;

		/* A person looked at the mismatch: judge the split afresh, and trust no
		 * promotion evidence from before. */
		srm_restart(r);
		for (i = 0; i < r->nchecks; i++)
			av_promote_reset(&r->checks[i].st);
	}
	r->phase = step_phase(r, r->step);
	r->pause = PAUSE_NONE;
	r->idle_s = 0;
	snprintf(r->reason, sizeof(r->reason), "resumed by hand at step %u/%u", r->step + 1,
		 r->plan.nsteps);
	d->changed = true;
	LOG(d, "%s: %s", svc(r), r->reason);
	return 0;
}

int rollout_abort(struct rollout *r, struct rollout_decision *d, int64_t now_ms, char *err,
		  size_t len)
{
	char a[16];
	uint16_t old = r->weight_bp;

	memset(d, 0, sizeof(*d));
	if (need_active(r, err, len))
		return -EINVAL;
	set_weight(r, d, 0, WREASON_ABORT);
	d->reset_flows = r->plan.on_rollback == ROLLBACK_RESET;
	finish(r, PHASE_ABORTED, now_ms);
	snprintf(r->reason, sizeof(r->reason), "aborted by hand at step %u/%u", r->step + 1,
		 r->plan.nsteps);
	LOG(d, "%s: ABORTED by hand at step %u/%u: weight %s -> 0%%", svc(r), r->step + 1,
	    r->plan.nsteps, bp_pct(old, a, sizeof(a)));
	return 0;
}

int rollout_promote(struct rollout *r, bool full, struct rollout_decision *d, int64_t now_ms,
		    char *err, size_t len)
{
	char a[16], b[16];
	uint16_t old = r->weight_bp;

	memset(d, 0, sizeof(*d));
	if (need_active(r, err, len))
		return -EINVAL;
	if (full) {
		if (r->weight_bp != CANARY_WEIGHT_SCALE)
			set_weight(r, d, CANARY_WEIGHT_SCALE, WREASON_PROMOTE);
		finish(r, PHASE_SUCCEEDED, now_ms);
		d->changed = true;
		snprintf(r->reason, sizeof(r->reason), "promoted to 100%% by hand (--full) from step "
						       "%u/%u",
			 r->step + 1, r->plan.nsteps);
		LOG(d, "%s: PROMOTED by hand (--full): weight %s -> 100%%; succeeded", svc(r),
		    bp_pct(old, a, sizeof(a)));
		return 0;
	}
	if (r->phase == PHASE_PAUSED) {
		snprintf(err, len, "the rollout of %s is paused (%s); resume it first, or use --full",
			 svc(r), pause_reason_names[r->pause]);
		return -EINVAL;
	}
	if (r->step + 1 == r->plan.nsteps) {
		finish(r, PHASE_SUCCEEDED, now_ms);
		d->changed = true;
		snprintf(r->reason, sizeof(r->reason), "promoted by hand at 100%%");
		LOG(d, "%s: PROMOTED by hand at 100%%: succeeded", svc(r));
		return 0;
	}
	enter_step(r, r->step + 1, r->last, now_ms, d, WREASON_PROMOTE);
	snprintf(r->reason, sizeof(r->reason), "step %u/%u (promoted by hand)", r->step + 1,
		 r->plan.nsteps);
	LOG(d, "%s: promoted by hand: step %u/%u, weight %s -> %s", svc(r), r->step + 1,
	    r->plan.nsteps, bp_pct(old, a, sizeof(a)), bp_pct(r->weight_bp, b, sizeof(b)));
	return 0;
}

/* ---- business metrics -------------------------------------------------------------------- */

int rollout_metric_push(struct rollout *r, const char *name, int arm, uint64_t successes,
			uint64_t trials, int64_t now_ms, char *err, size_t len)
{
	unsigned int i;

	for (i = 0; i < r->plan.nmetrics; i++) {
		struct metric_state *m = &r->metrics[i];

		if (strcmp(r->plan.metrics[i].name, name))
			continue;
		if (r->plan.metrics[i].source != METRIC_PUSH) {
			snprintf(err, len, "metric %s of %s is read from Prometheus, not pushed", name,
				 svc(r));
			return -EINVAL;
		}
		if (successes > trials) {
			snprintf(err, len, "successes (%" PRIu64 ") exceed trials (%" PRIu64 ")",
				 successes, trials);
			return -EINVAL;
		}
		m->successes[arm & 1] += successes;
		m->trials[arm & 1] += trials;
		m->consecutive_errors = 0;
		m->last_error[0] = 0;
		m->last_report_ms = now_ms;
		return 0;
	}
	snprintf(err, len, "the plan of %s has no metric named '%s'", svc(r), name);
	return -ENOENT;
}

void rollout_metric_reading(struct rollout *r, unsigned int idx, bool ok,
			    const uint64_t successes[CANARY_ARMS],
			    const uint64_t trials[CANARY_ARMS], const char *error, int64_t now_ms)
{
	struct metric_state *m;

	if (idx >= r->plan.nmetrics)
		return;
	m = &r->metrics[idx];
	if (!ok) {
		m->consecutive_errors++;
		snprintf(m->last_error, sizeof(m->last_error), "%s", error ? error : "error");
		return;
	}
	memcpy(m->successes, successes, sizeof(m->successes));
	memcpy(m->trials, trials, sizeof(m->trials));
	m->consecutive_errors = 0;
	m->last_error[0] = 0;
	m->last_report_ms = now_ms;
}

/* ---- persistence ------------------------------------------------------------------------- */

static struct json_object *u64_array(const void *p, size_t bytes)
{
	struct json_object *a = json_object_new_array();
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < bytes / 8; i++)
		json_object_array_add(a, json_object_new_uint64(w[i]));
	return a;
}

/* The client tally: its weight, the intervals still to leave out, its flows, each
 * arm's registers in hex, and each arm's running largest estimate (which the registers
 * alone do not give back: the estimate of a growing set can step back, and a restart
 * that took it from the registers would count the step again as new clients). */
static struct json_object *tally_to_json(const struct rollout_srm *m)
{
	static const char *const arm_keys[CANARY_ARMS] = {"stable", "canary"};
	struct json_object *o = json_object_new_object(), *f = json_object_new_array();
	struct json_object *c = json_object_new_array();
	char hex[2 * CANARY_HLL_REGS + 1];
	unsigned int arm, i;

	json_object_object_add(o, "bp", json_object_new_int(m->tally_bp));
	json_object_object_add(o, "skip", json_object_new_int(m->tally_skip));
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		json_object_array_add(f, json_object_new_uint64((uint64_t)m->tally.flows[arm]));
		for (i = 0; i < CANARY_HLL_REGS; i++)
			snprintf(hex + 2 * i, 3, "%02x", m->tally.reg[arm][i]);
		json_object_object_add(o, arm_keys[arm], json_object_new_string(hex));
	}
	json_object_object_add(o, "flows", f);
	for (arm = 0; arm < CANARY_ARMS; arm++)
		json_object_array_add(c, json_object_new_double(m->tally.clients[arm]));
	json_object_object_add(o, "clients", c);
	return o;
}

/* The SRM tests' evidence and the client tally; the rest of struct rollout_srm is
 * derived each tick. */
static struct json_object *srm_to_json(const struct rollout_srm *m)
{
	struct json_object *o = json_object_new_object();
	char text[AV_SRM_TEXT];

	av_srm_format(&m->flows, text, sizeof(text));
	json_object_object_add(o, "flows", json_object_new_string(text));
	av_srm_format(&m->responses, text, sizeof(text));
	json_object_object_add(o, "responses", json_object_new_string(text));
	av_srm_format(&m->clients, text, sizeof(text));
	json_object_object_add(o, "clients", json_object_new_string(text));
	json_object_object_add(o, "bp", json_object_new_int(m->bp));
	if (m->tally_bp != UINT16_MAX)
		json_object_object_add(o, "tally", tally_to_json(m));
	return o;
}

/* The order test: each edge's state (as a count test's), the mean's running maximum
 * and the latch; the mean itself is derived again from the edges on restore. */
static struct json_object *order_to_json(const struct rollout_order *o)
{
	struct json_object *j = json_object_new_object(), *edges = json_object_new_array();
	char text[AV_STATE_TEXT];
	uint32_t k;

	for (k = 0; k <= o->cfg.k_hi - o->cfg.k_lo; k++) {
		av_state_format(&o->st.edge[k], text, sizeof(text));
		json_object_array_add(edges, json_object_new_string(text));
	}
	json_object_object_add(j, "edges", edges);
	json_object_object_add(j, "log_e", json_object_new_double(o->st.log_e));
	json_object_object_add(j, "log_e_max", json_object_new_double(o->st.log_e_max));
	json_object_object_add(j, "polls", json_object_new_int64((int64_t)o->st.polls));
	json_object_object_add(j, "reject_poll", json_object_new_int64((int64_t)o->st.reject_poll));
	json_object_object_add(j, "rejected", json_object_new_boolean(o->st.rejected));
	return j;
}

struct json_object *rollout_to_json(const struct rollout *r)
{
	struct json_object *j = json_object_new_object(), *checks = json_object_new_array();
	struct json_object *metrics = json_object_new_array(), *arr;
	char text[AV_STATE_TEXT];
	unsigned int i;
	int arm;

	json_object_object_add(j, "version", json_object_new_int(1));
	json_object_object_add(j, "service", json_object_new_string(r->plan.service));
	json_object_object_add(j, "plan_file", json_object_new_string(r->plan.file));
	json_object_object_add(j, "plan_text", json_object_new_string(r->plan_text ?: ""));
	json_object_object_add(j, "svc_id", json_object_new_int64(r->svc_id));
	json_object_object_add(j, "phase", json_object_new_string(rollout_phase_names[r->phase]));
	json_object_object_add(j, "pause", json_object_new_int(r->pause));
	json_object_object_add(j, "reason", json_object_new_string(r->reason));
	json_object_object_add(j, "step", json_object_new_int(r->step));
	json_object_object_add(j, "step_hold_s", json_object_new_double(r->step_hold_s));
	json_object_object_add(j, "idle_s", json_object_new_double(r->idle_s));
	json_object_object_add(j, "generation", json_object_new_int64(r->generation));
	json_object_object_add(j, "weight_bp", json_object_new_int(r->weight_bp));
	json_object_object_add(j, "gate_open", json_object_new_boolean(r->gate_open));
	json_object_object_add(j, "pending", json_object_new_boolean(r->pending));
	json_object_object_add(j, "pending_bp", json_object_new_int(r->pending_bp));
	json_object_object_add(j, "pending_reason", json_object_new_int(r->pending_reason));
	json_object_object_add(j, "started_ms", json_object_new_int64(r->started_ms));
	json_object_object_add(j, "step_started_ms", json_object_new_int64(r->step_started_ms));
	json_object_object_add(j, "ended_ms", json_object_new_int64(r->ended_ms));
	arr = json_object_new_array();
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "base", u64_array(&r->base[arm], sizeof(r->base[arm])));
		json_object_object_add(o, "step_base",
				       u64_array(&r->step_base[arm], sizeof(r->step_base[arm])));
		json_object_object_add(o, "last", u64_array(&r->last[arm], sizeof(r->last[arm])));
		json_object_array_add(arr, o);
	}
	json_object_object_add(j, "counters", arr);
	for (i = 0; i < r->nchecks; i++) {
		struct json_object *c = json_object_new_object();

		av_state_format(&r->checks[i].st, text, sizeof(text));
		json_object_object_add(c, "name", json_object_new_string(r->checks[i].name));
		json_object_object_add(c, "state", json_object_new_string(text));
		if (r->checks[i].order)
			json_object_object_add(c, "order", order_to_json(r->checks[i].order));
		json_object_array_add(checks, c);
	}
	json_object_object_add(j, "checks", checks);
	for (i = 0; i < r->plan.nmetrics; i++) {
		const struct metric_state *m = &r->metrics[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(r->plan.metrics[i].name));
		json_object_object_add(o, "successes", u64_array(m->successes, sizeof(m->successes)));
		json_object_object_add(o, "trials", u64_array(m->trials, sizeof(m->trials)));
		json_object_object_add(o, "errors", json_object_new_int(m->consecutive_errors));
		json_object_object_add(o, "last_error", json_object_new_string(m->last_error));
		json_object_object_add(o, "last_report_ms", json_object_new_int64(m->last_report_ms));
		json_object_array_add(metrics, o);
	}
	json_object_object_add(j, "metrics", metrics);
	json_object_object_add(j, "srm", srm_to_json(&r->srm));
	if (r->fleet)
		json_object_object_add(j, "fleet", fleet_sum_to_json(r->fleet));
	return j;
}

/* Every field of a saved state is checked for type and range: a state file is input
 * from outside (a disk, a person with an editor), and one that does not fit is
 * refused whole, never half-loaded. */
static const char *const state_keys[] = {
	"version",	   "service",	 "plan_file",	"plan_text", "svc_id",	    "phase",
	"pause",	   "reason",	 "step",	"step_hold_s", "idle_s",    "generation",
	"weight_bp",	   "gate_open",	 "pending",	"pending_bp", "pending_reason",
	"started_ms",	   "step_started_ms", "ended_ms", "counters", "checks",	    "metrics",
	"srm",		   "fleet",	 NULL};
static const char *const srm_keys[] = {"flows", "responses", "clients", "bp", "tally", NULL};
static const char *const tally_keys[] = {"bp",     "skip",    "flows",
					 "stable", "canary", "clients", NULL};
static const char *const counter_keys[] = {"base", "step_base", "last", NULL};
static const char *const check_keys[] = {"name", "state", "order", NULL};
static const char *const order_keys[] = {"edges", "log_e", "log_e_max", "polls", "reject_poll",
					 "rejected", NULL};
static const char *const metric_state_keys[] = {"name",	  "successes",	"trials",
						"errors", "last_error", "last_report_ms", NULL};

#define STATE_WORDS (sizeof(struct arm_stats) / 8)

static int state_fail(struct jv *v, char *err, size_t len)
{
	snprintf(err, len, "%s", v->err);
	return -EINVAL;
}

/* The saved state's identity and plan: the service it is for, the plan (parsed again,
 * and its checks built), the phase and its reason. */
static int state_plan(struct rollout *r, struct json_object *j, const char *service, struct jv *v,
		      char *err, size_t len)
{
	const char *text, *file, *phase, *name, *reason;
	struct plan p;
	int64_t x;
	FILE *devnull;
	int ph;

	if (!jv_known_keys(v, j, "(state)", state_keys) ||
	    !jv_int(v, j, "version", NULL, 1, 1, false, &x) ||
	    !jv_str(v, j, "service", NULL, CANARY_NAME_LEN - 1, false, &name) ||
	    !jv_str(v, j, "plan_file", NULL, PATH_MAX, false, &file) ||
	    !jv_str(v, j, "plan_text", NULL, PLAN_MAX_BYTES, false, &text) ||
	    !jv_str(v, j, "phase", NULL, 32, false, &phase) ||
	    !jv_str(v, j, "reason", NULL, sizeof(r->reason) - 1, false, &reason))
		return state_fail(v, err, len);
	if (strcmp(name, service)) {
		snprintf(err, len, "service: '%s' is not the service the file is named for ('%s')",
			 name, service);
		return -EINVAL;
	}
	/* The plan was valid when it started; parse it again, quietly. */
	devnull = fopen("/dev/null", "w");
	if (plan_parse_text(text, strlen(text), file, &p, devnull)) {
		if (devnull)
			fclose(devnull);
		snprintf(err, len, "plan_text: the saved plan does not parse (run 'canaryctl plan "
				   "--dry-run' on it to see why)");
		return -EINVAL;
	}
	if (devnull)
		fclose(devnull);
	if (strcmp(p.service, service)) {
		snprintf(err, len, "plan_text: the saved plan is for service '%s', not '%s'",
			 p.service, service);
		return -EINVAL;
	}
	r->plan = p;
	r->plan_text = strdup(text);
	if (!r->plan_text) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	if (build_checks(r, err, len))
		return -EINVAL;
	for (ph = 0; ph < PHASE_COUNT && strcmp(phase, rollout_phase_names[ph]); ph++)
		;
	if (ph == PHASE_COUNT) {
		snprintf(err, len, "phase: unknown phase '%s'", phase);
		return -EINVAL;
	}
	r->phase = ph;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	return 0;
}

/* The state's single fields: service id, pause, step and its hold, weight, the weight
 * not yet written, the clock. */
static int state_fields(struct rollout *r, struct json_object *j, struct jv *v, char *err,
			size_t len)
{
	int64_t step, pause, wbp, pbp, preason, gen, id;
	bool b;

	if (!jv_int(v, j, "svc_id", NULL, 0, CANARY_MAX_SERVICES - 1, false, &id) ||
	    !jv_int(v, j, "pause", NULL, 0, PAUSE_COUNT - 1, false, &pause) ||
	    !jv_int(v, j, "step", NULL, 0, (int64_t)r->plan.nsteps - 1, false, &step) ||
	    !jv_double(v, j, "step_hold_s", NULL, 0, 1e9, false, &r->step_hold_s) ||
	    !jv_double(v, j, "idle_s", NULL, 0, 1e9, false, &r->idle_s) ||
	    !jv_int(v, j, "generation", NULL, 0, UINT32_MAX, false, &gen) ||
	    !jv_int(v, j, "weight_bp", NULL, 0, CANARY_WEIGHT_SCALE, false, &wbp) ||
	    !jv_bool(v, j, "gate_open", NULL, false, &b))
		return state_fail(v, err, len);
	r->svc_id = (uint32_t)id;
	r->pause = (int)pause;
	r->step = (unsigned int)step;
	r->generation = (uint32_t)gen;
	r->weight_bp = (uint16_t)wbp;
	r->gate_open = b;
	if (!jv_bool(v, j, "pending", NULL, false, &b) ||
	    !jv_int(v, j, "pending_bp", NULL, 0, CANARY_WEIGHT_SCALE, false, &pbp) ||
	    !jv_int(v, j, "pending_reason", NULL, 0, WREASON_COUNT - 1, false, &preason) ||
	    !jv_int(v, j, "started_ms", NULL, 0, INT64_MAX, false, &r->started_ms) ||
	    !jv_int(v, j, "step_started_ms", NULL, 0, INT64_MAX, false, &r->step_started_ms) ||
	    !jv_int(v, j, "ended_ms", NULL, 0, INT64_MAX, false, &r->ended_ms))
		return state_fail(v, err, len);
	r->pending = b;
	r->pending_bp = (uint16_t)pbp;
	r->pending_reason = (int)preason;
	return 0;
}

/* Each arm's counters at the start, at the step's start and at the last tick. */
static int state_counters(struct rollout *r, struct json_object *j, struct jv *v, char *err,
			  size_t len)
{
	struct json_object *counters, *o;
	int arm;

	counters = jv_array(v, j, "counters", NULL, CANARY_ARMS, CANARY_ARMS, false);
	if (!counters)
		return state_fail(v, err, len);
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		char f[3][48], fo[32];

		o = json_object_array_get_idx(counters, arm);
		snprintf(fo, sizeof(fo), "counters[%d]", arm);
		snprintf(f[0], sizeof(f[0]), "%s.base", fo);
		snprintf(f[1], sizeof(f[1]), "%s.step_base", fo);
		snprintf(f[2], sizeof(f[2]), "%s.last", fo);
		if (!jv_known_keys(v, o, fo, counter_keys) ||
		    !jv_u64_array(v, o, "base", f[0], (uint64_t *)&r->base[arm], STATE_WORDS) ||
		    !jv_u64_array(v, o, "step_base", f[1], (uint64_t *)&r->step_base[arm],
				  STATE_WORDS) ||
		    !jv_u64_array(v, o, "last", f[2], (uint64_t *)&r->last[arm], STATE_WORDS))
			return state_fail(v, err, len);
	}
	return 0;
}

/* Item f of a list in the state (o): only the keys given, and the name the plan has
 * there (want). */
static int state_item(struct jv *v, struct json_object *o, const char *f, const char *const *keys,
		      const char *want, char *err, size_t len)
{
	const char *str;

	if (!jv_known_keys(v, o, f, keys) || !jv_str(v, o, "name", f, PLAN_NAME_LEN, false, &str))
		return state_fail(v, err, len);
	if (strcmp(str, want)) {
		snprintf(err, len, "%s.name: '%s' where the plan has '%s'", f, str, want);
		return -EINVAL;
	}
	return 0;
}

/* A saved order test: every edge the plan's, and the mean, its maximum and the latch
 * consistent with each other and with the threshold. */
static int state_order(struct rollout_check *c, struct json_object *o, const char *f,
		       struct jv *v, char *err, size_t len)
{
	struct rollout_order *ord = c->order;
	uint32_t k, K = ord->cfg.k_hi - ord->cfg.k_lo + 1;
	struct json_object *j, *edges;
	int64_t polls = 0, rp = 0;
	double le = 0, lmax = 0;
	bool rej = false;
	char g[48];

	snprintf(g, sizeof(g), "%s.order", f);
	j = jv_object(v, o, "order", f, false);
	if (!j || !jv_known_keys(v, j, g, order_keys) ||
	    !(edges = jv_array(v, j, "edges", g, K, K, false)) ||
	    !jv_double(v, j, "log_e", g, -1e300, 1e300, false, &le) ||
	    !jv_double(v, j, "log_e_max", g, 0, 1e300, false, &lmax) ||
	    !jv_int(v, j, "polls", g, 0, INT64_MAX, false, &polls) ||
	    !jv_int(v, j, "reject_poll", g, 0, polls, false, &rp) ||
	    !jv_bool(v, j, "rejected", g, false, &rej))
		return state_fail(v, err, len);
	for (k = 0; k < K; k++) {
		const char *t = json_object_get_string(json_object_array_get_idx(edges, k));

		if (!json_object_is_type(json_object_array_get_idx(edges, k), json_type_string) ||
		    av_state_parse(&ord->st.edge[k], t) ||
		    ord->st.edge[k].fingerprint != ord->cfg.edge.fingerprint) {
			snprintf(err, len, "%s.edges[%u]: the saved evidence does not match the plan",
				 g, k);
			return -EINVAL;
		}
	}
	if (le > lmax + 1e-9 || rej != (lmax >= ord->cfg.log_threshold) || rej != (rp > 0)) {
		snprintf(err, len, "%s: log_e, log_e_max, rejected and reject_poll do not agree", g);
		return -EINVAL;
	}
	ord->st.log_e = le;
	ord->st.log_e_max = lmax;
	ord->st.polls = (uint64_t)polls;
	ord->st.reject_poll = (uint64_t)rp;
	ord->st.rejected = rej;
	order_mirror(c);
	return 0;
}

/* The evidence of each check, which must be the plan's checks in the plan's order. */
static int state_checks(struct rollout *r, struct json_object *j, struct jv *v, char *err,
			size_t len)
{
	struct json_object *checks, *o;
	const char *str;
	unsigned int i;

	checks = jv_array(v, j, "checks", NULL, r->nchecks, r->nchecks, false);
	if (!checks)
		return state_fail(v, err, len);
	for (i = 0; i < r->nchecks; i++) {
		char f[32];

		o = json_object_array_get_idx(checks, i);
		snprintf(f, sizeof(f), "checks[%u]", i);
		if (state_item(v, o, f, check_keys, r->checks[i].name, err, len))
			return -EINVAL;
		if (!jv_str(v, o, "state", f, AV_STATE_TEXT, false, &str))
			return state_fail(v, err, len);
		if (av_state_parse(&r->checks[i].st, str) ||
		    r->checks[i].st.fingerprint != r->checks[i].cfg.fingerprint) {
			snprintf(err, len, "%s.state: the saved evidence of %s does not match the plan",
				 f, r->checks[i].name);
			return -EINVAL;
		}
		if (r->checks[i].order && state_order(&r->checks[i], o, f, v, err, len))
			return -EINVAL;
		if (!r->checks[i].order && json_object_object_get_ex(o, "order", NULL)) {
			snprintf(err, len, "%s.order: %s has no order test", f, r->checks[i].name);
			return -EINVAL;
		}
	}
	return 0;
}

/* Each business metric's counts and errors, in the plan's order. */
static int state_metrics(struct rollout *r, struct json_object *j, struct jv *v, char *err,
			 size_t len)
{
	struct json_object *metrics, *o;
	const char *str;
	unsigned int i;
	int64_t x;

	metrics = jv_array(v, j, "metrics", NULL, r->plan.nmetrics, r->plan.nmetrics, false);
	if (!metrics)
		return state_fail(v, err, len);
	for (i = 0; i < r->plan.nmetrics; i++) {
		struct metric_state *m = &r->metrics[i];
		char f[32], fs[48], ft[48];

		o = json_object_array_get_idx(metrics, i);
		snprintf(f, sizeof(f), "metrics[%u]", i);
		snprintf(fs, sizeof(fs), "%s.successes", f);
		snprintf(ft, sizeof(ft), "%s.trials", f);
		if (state_item(v, o, f, metric_state_keys, r->plan.metrics[i].name, err, len))
			return -EINVAL;
		if (!jv_u64_array(v, o, "successes", fs, m->successes, CANARY_ARMS) ||
		    !jv_u64_array(v, o, "trials", ft, m->trials, CANARY_ARMS) ||
		    !jv_int(v, o, "errors", NULL, 0, 1000000000, false, &x) ||
		    !jv_str(v, o, "last_error", NULL, sizeof(m->last_error) - 1, false, &str) ||
		    !jv_int(v, o, "last_report_ms", NULL, 0, INT64_MAX, false, &m->last_report_ms))
			return state_fail(v, err, len);
		m->consecutive_errors = (int)x;
		snprintf(m->last_error, sizeof(m->last_error), "%s", str);
	}
	return 0;
}

/* One arm's registers from hex: CANARY_HLL_REGS bytes, each a rank the data plane can
 * set (0 .. 33 - CANARY_HLL_BITS). */
static bool tally_regs(struct jv *v, struct json_object *o, const char *key, uint8_t *reg)
{
	const char *hex;
	unsigned int i, x;

	if (!jv_str(v, o, key, NULL, 2 * CANARY_HLL_REGS, false, &hex))
		return false;
	if (strlen(hex) != 2 * CANARY_HLL_REGS)
		return jv_fail(v, key, "must be %u hex digits", 2 * CANARY_HLL_REGS);
	for (i = 0; i < CANARY_HLL_REGS; i++) {
		if (sscanf(hex + 2 * i, "%2x", &x) != 1 || !isxdigit((unsigned char)hex[2 * i]) ||
		    !isxdigit((unsigned char)hex[2 * i + 1]) || x > 33 - CANARY_HLL_BITS)
			return jv_fail(v, key, "register %u is no rank", i);
		reg[i] = (uint8_t)x;
	}
	return true;
}

/* The tally's running largest estimates (optional: a state saved without them starts
 * from the registers' estimates): never below what the registers give, and finite. */
static bool tally_clients(struct jv *v, struct json_object *t, struct rollout_srm *m)
{
	struct json_object *c = jv_array(v, t, "clients", "srm.tally.clients", CANARY_ARMS,
					 CANARY_ARMS, true);
	int arm;

	if (!c)
		return !v->failed;
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		struct json_object *x = json_object_array_get_idx(c, arm);
		double d = json_object_get_double(x);

		if (!(json_object_is_type(x, json_type_double) ||
		      json_object_is_type(x, json_type_int)) ||
		    !(d >= m->tally.clients[arm] * (1 - 1e-9)) || !(d <= 1e12))
			return jv_fail(v, "srm.tally.clients",
				       "must be numbers no smaller than the registers' estimates");
		m->tally.clients[arm] = d;
	}
	return true;
}

/* The client tally (optional: a state without it starts one afresh). */
static bool state_tally(struct rollout *r, struct jv *v, struct json_object *o)
{
	struct rollout_srm *m = &r->srm;
	struct json_object *t = jv_object(v, o, "tally", "srm.tally", true);
	uint64_t flows[CANARY_ARMS];
	int64_t bp, skip;
	int arm;

	if (!t)
		return !v->failed;
	if (!jv_known_keys(v, t, "srm.tally", tally_keys) ||
	    !jv_int(v, t, "bp", "srm.tally.bp", 0, CANARY_WEIGHT_SCALE, false, &bp) ||
	    !jv_int(v, t, "skip", "srm.tally.skip", 0, 2, false, &skip) ||
	    !jv_u64_array(v, t, "flows", "srm.tally.flows", flows, CANARY_ARMS) ||
	    !tally_regs(v, t, "stable", m->tally.reg[0]) ||
	    !tally_regs(v, t, "canary", m->tally.reg[1]))
		return false;
	m->tally_bp = (uint16_t)bp;
	m->tally_skip = (uint8_t)skip;
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		m->tally.flows[arm] = (double)flows[arm];
		m->tally.clients[arm] = hll_estimate(m->tally.reg[arm]);
	}
	return tally_clients(v, t, m);
}

/* The SRM tests' evidence. Optional: a state saved before the SRM guard existed
 * restores with fresh SRM tests. */
static int state_srm(struct rollout *r, struct json_object *j, struct jv *v, char *err, size_t len)
{
	struct json_object *o = jv_object(v, j, "srm", NULL, true);
	const char *fl, *rs, *cl = NULL;
	int64_t bp;

	if (!o)
		return v->failed ? state_fail(v, err, len) : 0;
	/* The client test's evidence and its tally are newer than the others: optional. */
	if (!jv_str(v, o, "clients", "srm.clients", AV_SRM_TEXT, true, &cl))
		return state_fail(v, err, len);
	if (cl && (av_srm_parse(&r->srm.clients, cl) ||
		   r->srm.clients.fingerprint != r->srm.ccfg.fingerprint)) {
		snprintf(err, len, "srm.clients: the saved SRM evidence does not parse or fit");
		return -EINVAL;
	}
	if (!jv_known_keys(v, o, "srm", srm_keys) || !state_tally(r, v, o) ||
	    !jv_str(v, o, "flows", "srm.flows", AV_SRM_TEXT, false, &fl) ||
	    !jv_str(v, o, "responses", "srm.responses", AV_SRM_TEXT, false, &rs) ||
	    !jv_int(v, o, "bp", "srm.bp", 0, CANARY_WEIGHT_SCALE, false, &bp))
		return state_fail(v, err, len);
	if (av_srm_parse(&r->srm.flows, fl) || r->srm.flows.fingerprint != r->srm.cfg.fingerprint) {
		snprintf(err, len, "srm.flows: the saved SRM evidence does not parse or fit");
		return -EINVAL;
	}
	if (av_srm_parse(&r->srm.responses, rs) ||
	    r->srm.responses.fingerprint != r->srm.cfg.fingerprint) {
		snprintf(err, len, "srm.responses: the saved SRM evidence does not parse or fit");
		return -EINVAL;
	}
	r->srm.bp = (uint16_t)bp;
	return 0;
}

/* A fleet rollout's per-node counters (optional: a single node's state has none). */
static int state_fleet(struct rollout *r, struct json_object *j, char *err, size_t len)
{
	struct json_object *o;

	if (!json_object_object_get_ex(j, "fleet", &o))
		return 0;
	r->fleet = malloc(sizeof(*r->fleet));
	if (!r->fleet) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	return fleet_sum_from_json(r->fleet, o, err, len);
}

int rollout_from_json(struct rollout *r, struct json_object *j, const char *service, char *err,
		      size_t len)
{
	struct jv v = {};
	int rc;

	memset(r, 0, sizeof(*r));
	rc = state_plan(r, j, service, &v, err, len);
	if (!rc)
		rc = state_fields(r, j, &v, err, len);
	if (!rc)
		rc = state_counters(r, j, &v, err, len);
	if (!rc)
		rc = state_checks(r, j, &v, err, len);
	if (!rc)
		rc = state_metrics(r, j, &v, err, len);
	if (!rc)
		rc = state_srm(r, j, &v, err, len);
	if (!rc)
		rc = state_fleet(r, j, err, len);
	return rc;
}
