/* forecast.c: a plan's expected duration and harm, from the simulator. */
#include "logic/forecast.h"

#include <string.h>

/* The signal the forecast stands for: the plan's first count signal (5xx, resets,
 * unanswered SYNs, errored flows), else the plan's defaults. */
static void error_test(const struct plan *p, double *alpha, double *tol)
{
	unsigned int i;

	*alpha = p->alpha;
	*tol = p->tolerance;
	for (i = 0; i < p->nsignals; i++)
		if (p->signals[i].kind != SIG_TTFB && p->signals[i].kind != SIG_TTFB_ORDER) {
			*alpha = p->signals[i].alpha;
			*tol = p->signals[i].tolerance;
			return;
		}
}

int forecast_scenario(const struct plan *p, const struct forecast_opts *o, double ratio,
		      struct sim_scenario *sc, char *why, size_t len)
{
	unsigned int i, n = 0;

	sim_scenario_default(sc, ratio > 1 ? "plan, regression" : "plan, healthy", o->rate,
			     o->base_error, ratio);
	for (i = 0; i < p->nsteps && p->steps[i].weight_bp < 10000; i++) {
		const struct plan_step *s = &p->steps[i];

		if (n == SIM_MAX_STEPS) {
			snprintf(why, len, "the plan has more than %d steps below 100%%; the "
					   "simulator takes at most %d",
				 SIM_MAX_STEPS, SIM_MAX_STEPS);
			return -1;
		}
		sc->weight[n] = s->weight_bp / 10000.0;
		/* Whole seconds, at least one: the simulator polls once a second. */
		sc->step_hold[n] = (uint32_t)(s->hold_ms <= 1000 ? 1 : (s->hold_ms + 999) / 1000);
		sc->step_min_units[n] = s->min_flows;
		n++;
	}
	if (n == 0) {
		snprintf(why, len, "the plan goes straight to 100%%: there is no canary step to "
				   "simulate");
		return -1;
	}
	sc->n_steps = n;
	sc->adaptive = p->early_promotion;
	error_test(p, &sc->alpha, &sc->r0);
	return 0;
}

int forecast_run(const struct plan *p, const struct forecast_opts *o, struct forecast *fc,
		 char *why, size_t len)
{
	memset(fc, 0, sizeof(*fc));
	if (!(o->rate > 0) || !(o->base_error > 0 && o->base_error < 1) || !(o->regression > 1) ||
	    o->base_error * o->regression > 1 || o->rollouts == 0) {
		snprintf(why, len, "a forecast needs a rate above 0, a base error rate in (0, 1) "
				   "and a regression above 1 with base error x regression <= 1");
		return -1;
	}
	for (unsigned int i = 0; i < p->nsignals; i++)
		fc->count_signals +=
		    p->signals[i].kind != SIG_TTFB && p->signals[i].kind != SIG_TTFB_ORDER;
	if (forecast_scenario(p, o, 1, &fc->healthy, why, len) ||
	    forecast_scenario(p, o, o->regression, &fc->bad, why, len))
		return -1;
	if (sim_run(&fc->healthy, o->rollouts, o->seed, o->threads, &fc->res[0]) ||
	    sim_run(&fc->bad, o->rollouts, o->seed, o->threads, &fc->res[1])) {
		snprintf(why, len, "the simulator refused the scenario (out of memory?)");
		return -1;
	}
	return 0;
}

static const char *secs(uint32_t t, char *buf, size_t len)
{
	if (t == SIM_NEVER)
		snprintf(buf, len, "never");
	else
		snprintf(buf, len, "%u s", t);
	return buf;
}

/* Canary requests harmed: the q-quantile over every rollout (harm is counted until
 * the rollback, or to the end of the schedule when none came). */
static uint32_t harm_quantile(const struct sim_result *r, double q)
{
	return sim_quantile(r->harm, r->rollouts, q);
}

void forecast_print(const struct forecast *fc, const struct forecast_opts *o, FILE *f)
{
	const struct sim_result *h = &fc->res[0], *b = &fc->res[1];
	uint64_t n = h->rollouts, capped = 0, i;
	char a[32], c[32];

	for (i = 0; i < n; i++)
		capped += h->duration[i] >= SIM_MAX_SECS;
	fprintf(f, "forecast (simulated, %llu rollouts each, seed %llu) at %g requests/s, base "
		   "error rate %g%%, alpha %g, tolerance %gx; gates are not waited for:\n",
		(unsigned long long)n, (unsigned long long)o->seed, o->rate, 100 * o->base_error,
		fc->healthy.alpha, fc->healthy.r0);
	fprintf(f, "  healthy canary: reaches 100%% after %s (median), %s (p90)",
		secs(sim_quantile(h->duration, n, 0.5), a, sizeof(a)),
		secs(sim_quantile(h->duration, n, 0.9), c, sizeof(c)));
	if (capped)
		fprintf(f, "; %llu rollouts never passed a step's minimum flows in %d s",
			(unsigned long long)capped, SIM_MAX_SECS);
	fprintf(f, "; rolled back falsely in %.2f%%\n", 100.0 * h->fired[SIM_SEQ] / (double)n);
	fprintf(f, "  %gx errors: rolled back in %.2f%%, after %s (median), %s (p90)\n",
		o->regression, 100.0 * b->fired[SIM_SEQ] / (double)n,
		secs(sim_quantile(b->when[SIM_SEQ], n, 0.5), a, sizeof(a)),
		secs(sim_quantile(b->when[SIM_SEQ], n, 0.9), c, sizeof(c)));
	fprintf(f, "  %gx errors: canary requests that saw the regression first: %u (median), "
		   "%u (p90)\n",
		o->regression, harm_quantile(b, 0.5), harm_quantile(b, 0.9));
	if (fc->count_signals > 1)
		fprintf(f, "  (one error signal simulated; the plan has %u, each of which may roll "
			   "back a healthy canary at its own alpha)\n",
			fc->count_signals);
}

void forecast_free(struct forecast *fc)
{
	sim_result_free(&fc->res[0]);
	sim_result_free(&fc->res[1]);
}
