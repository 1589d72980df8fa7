/* test_plan.c: rollout plans. The minimal plan and the other step forms parse
 * to the right schedule; each bad plan is refused with "FILE:LINE: field: problem". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "logic/forecast.h"
#include "logic/plan.h"

static char errbuf[4096];

static int parse(const char *yaml, struct plan *p)
{
	FILE *f = fmemopen(errbuf, sizeof(errbuf), "w");
	int rc;

	memset(errbuf, 0, sizeof(errbuf));
	rc = plan_parse_text(yaml, strlen(yaml), "plan.yaml", p, f);
	fclose(f);
	return rc;
}

/* A plan that must be refused, with a message naming FILE:LINE: field and saying what is
 * wrong. */
struct refusal {
	const char *name, *yaml;
	const char *where; /* "plan.yaml:LINE: field" the message must name */
	const char *what;  /* and what it must say */
};

static const struct refusal refusals[] = {
	{"steps that do not rise", "service: web\nsteps: [10, 5]\n", "plan.yaml:2: steps[1]",
	 "steps must rise"},
	{"a step of 0%", "service: web\nsteps: [0, 50]\n", "plan.yaml:2: steps[0]",
	 "must send some traffic"},
	{"a weight with three decimals", "service: web\nsteps: [1.125]\n",
	 "plan.yaml:2: steps[0]", "more than two decimals"},
	{"missing steps", "service: web\nhold: 5s\n", "plan.yaml:1: steps", "missing"},
	{"a bad duration", "service: web\nsteps: [5]\nhold: soon\n", "plan.yaml:3: hold",
	 "'soon' must be a duration"},
	{"an unknown signal", "service: web\nsteps: [5]\nanalysis:\n  signals: [latency]\n",
	 "plan.yaml:4: analysis.signals[0]", "unknown signal 'latency'"},
	{"ttfb without a bound", "service: web\nsteps: [5]\nanalysis:\n  signals: [ttfb]\n",
	 "plan.yaml:4: analysis.signals[0]", "needs a latency bound"},
	{"alpha out of range", "service: web\nsteps: [5]\nanalysis:\n  alpha: 0.9\n",
	 "plan.yaml:4: analysis.alpha", "'0.9' must be a number from 1e-09 to 0.5"},
	{"tolerance below 1", "service: web\nsteps: [5]\nanalysis:\n  tolerance: 0.5\n",
	 "plan.yaml:4: analysis.tolerance", "'0.5' must be a number from 1 to 100"},
	{"a misspelt field", "service: web\nsteps: [5]\nmin_flow: 10\n",
	 "plan.yaml:3: (top level)", "did you mean 'min_flows'"},
	{"on_rollback neither drain nor reset", "service: web\nsteps: [5]\non_rollback: undo\n",
	 "plan.yaml:3: on_rollback", "must be drain"},
	{"a metric without queries",
	 "service: web\nsteps: [5]\nanalysis:\n  metrics:\n    - name: ctr\n      source:\n"
	 "        prometheus: {url: 'http://p:9090'}\n",
	 "analysis.metrics[0].source.prometheus.successes", "must be {stable: QUERY"},
	{"a metric with a bad direction",
	 "service: web\nsteps: [5]\nanalysis:\n  metrics:\n    - {name: ctr, direction: up}\n",
	 "plan.yaml:5: analysis.metrics[0]", "must be lower_is_worse"},
	{"a guard on ttfb", "service: web\nsteps: [5]\nanalysis:\n  guards:\n"
				  "    - {signal: ttfb, max_ratio: 0.5}\n",
	 "plan.yaml:5: analysis.guards[0]", "cannot be guarded"},
	{"ttfb_order with from above to",
	 "service: web\nsteps: [5]\nanalysis:\n  signals:\n"
	 "    - {name: ttfb_order, from: 2s, to: 1s}\n",
	 "plan.yaml:5: analysis.signals[0]", "ttfb_order needs from < to"},
	{"ttfb_order beyond the histogram",
	 "service: web\nsteps: [5]\nanalysis:\n  signals:\n"
	 "    - {name: ttfb_order, from: 1ms, to: 1h}\n",
	 "plan.yaml:5: analysis.signals[0]", "to at most 8388 ms"},
	{"from on another signal",
	 "service: web\nsteps: [5]\nanalysis:\n  signals:\n    - {name: resets, from: 1ms}\n",
	 "plan.yaml:5: analysis.signals[0]", "from and to are for ttfb_order only"},
	{"a guard on ttfb_order",
	 "service: web\nsteps: [5]\nanalysis:\n  guards:\n"
	 "    - {signal: ttfb_order, max_ratio: 0.5}\n",
	 "plan.yaml:5: analysis.guards[0]", "cannot be guarded"},
	{"YAML syntax", "service: web\nsteps: [5\n", "plan.yaml:3", "YAML syntax error"},

};

static void refuse(const struct refusal *r)
{
	struct plan p;

	ASSERT_TRUE(parse(r->yaml, &p) != 0, "refused");
	if (!ASSERT_TRUE(strstr(errbuf, r->where) != NULL, "names file:line: field") ||
	    !ASSERT_TRUE(strstr(errbuf, r->what) != NULL, "says what is wrong"))
		printf("#   wanted '%s' ... '%s'; got:\n%s", r->where, r->what, errbuf);
}

TEST_FIXTURE_TABLE(refused_plans, refusal_name, refusals, name, refuse)

static void range_steps(void)
{
	struct plan p;

	if (ASSERT_EQ(parse("service: web\nsteps: {start: 5, step: 10, max: 45}\n", &p), 0, "parses")) {
		ASSERT_EQ(p.nsteps, 6, "5 15 25 35 45, then 100");
		ASSERT_EQ(p.steps[4].weight_bp, 4500, "45%");
		ASSERT_EQ(p.steps[5].weight_bp, 10000, "100%");
		ASSERT_EQ(p.steps[0].hold_ms, 10000, "default hold 10s");
		ASSERT_EQ(p.steps[0].min_flows, 100, "default min_flows 100");
		ASSERT_EQ(p.nsignals, 4, "default signals");
		ASSERT_NEAR(p.alpha, 0.01, 1e-12, "default alpha");
		ASSERT_NEAR(p.tolerance, 1.1, 1e-12, "default tolerance");
		ASSERT_EQ(p.no_traffic_ms, 30000, "default no-traffic pause after 30s");
	}
}

static void mapping_steps(void)
{
	struct plan p;

	if (ASSERT_EQ(parse("service: reco\n"
			    "steps: [1.5, {weight: 10, hold: 1m, min_flows: 5000, gate: true}, 50]\n"
			    "hold: 30s\nearly_promotion: true\nno_traffic_pause: 2m\n"
			    "analysis:\n  alpha: 0.005\n  signals:\n    - http_5xx\n"
			    "    - {name: ttfb, bound: 250ms, tolerance: 1.3}\n"
			    "  guards:\n    - {signal: http_5xx, max_ratio: 0.2, min_exposure: 100}\n"
			    "  metrics:\n    - name: ctr\n      direction: lower_is_worse\n"
			    "    - name: accuracy\n      tolerance: 1.02\n      source:\n"
			    "        prometheus:\n          url: http://127.0.0.1:9090\n"
			    "          successes: {stable: 'a', canary: 'b'}\n"
			    "          trials: {stable: 'c', canary: 'd'}\n"
			    "on_rollback: reset\n",
			    &p),
		      0, "parses")) {
		ASSERT_EQ(p.nsteps, 4, "3 steps and the promotion");
		ASSERT_EQ(p.steps[0].weight_bp, 150, "1.5%");
		ASSERT_EQ(p.steps[0].hold_ms, 30000, "plan-wide hold");
		ASSERT_EQ(p.steps[1].hold_ms, 60000, "the step's own hold");
		ASSERT_EQ(p.steps[1].min_flows, 5000, "the step's own min_flows");
		ASSERT_TRUE(p.steps[1].gate && !p.steps[2].gate, "gate on step 2 only");
		ASSERT_TRUE(p.early_promotion, "early promotion");
		ASSERT_EQ(p.no_traffic_ms, 120000, "no_traffic_pause 2m");
		ASSERT_EQ(p.nsignals, 2, "two signals");
		ASSERT_EQ(p.signals[1].ttfb_bound_us, 250000, "ttfb bound 250 ms");
		ASSERT_NEAR(p.signals[1].tolerance, 1.3, 1e-12, "ttfb tolerance");
		ASSERT_NEAR(p.signals[0].alpha, 0.005, 1e-12, "plan alpha inherited");
		ASSERT_EQ(p.nguards, 1, "one guard");
		ASSERT_EQ(p.nmetrics, 2, "two metrics");
		ASSERT_EQ(p.metrics[0].source, METRIC_PUSH, "push by default");
		ASSERT_TRUE(p.metrics[0].lower_is_worse, "lower is worse");
		ASSERT_EQ(p.metrics[1].source, METRIC_PROMETHEUS, "prometheus");
		ASSERT_TRUE(!strcmp(p.metrics[1].trials[1], "d"), "canary trials query");
		ASSERT_EQ(p.on_rollback, ROLLBACK_RESET, "reset");
	}
}

/* ttfb_order's edges are the powers of two microseconds from `from` to `to`. */
static void order_edges(void)
{
	struct plan p;

	if (ASSERT_EQ(parse("service: web\nsteps: [5]\nanalysis:\n  signals:\n"
			    "    - ttfb_order\n    - {name: ttfb_order, from: 4ms, to: 64ms}\n",
			    &p),
		      -EINVAL, "listed twice: refused"))
		ASSERT_TRUE(strstr(errbuf, "listed twice") != NULL, "says so");
	if (ASSERT_EQ(parse("service: web\nsteps: [5]\nanalysis:\n  signals:\n    - ttfb_order\n",
			    &p),
		      0, "defaults parse")) {
		ASSERT_EQ(p.signals[0].kind, SIG_TTFB_ORDER, "the order signal");
		ASSERT_EQ(p.signals[0].order_k_lo, 10, "from 1 ms: first edge 1024 us");
		ASSERT_EQ(p.signals[0].order_k_hi, 19, "to 1 s: last edge 524288 us");
	}
	if (ASSERT_EQ(parse("service: web\nsteps: [5]\nanalysis:\n  signals:\n"
			    "    - {name: ttfb_order, from: 4ms, to: 64ms, alpha: 0.005}\n",
			    &p),
		      0, "a range parses")) {
		ASSERT_EQ(p.signals[0].order_k_lo, 12, "4 ms: 4096 us");
		ASSERT_EQ(p.signals[0].order_k_hi, 15, "64 ms: 32768 us is the last power below");
		ASSERT_NEAR(p.signals[0].alpha, 0.005, 1e-12, "its own alpha");
	}
}

static void every_problem(void)
{
	struct plan p;

	ASSERT_TRUE(parse("service: Web!\nsteps: [5, 1]\nhold: x\n", &p) != 0, "refused");
	ASSERT_TRUE(strstr(errbuf, "3 problems; nothing was changed") != NULL, "counted");
}

/* The forecast is the simulator on the plan's own schedule: a plan written as the
 * simulator's default ramp gives exactly what sim_run gives on that ramp. */
static void forecast_is_the_simulator(void)
{
	struct forecast_opts o = {.rate = 200, .base_error = 0.01, .regression = 2,
				  .rollouts = 300, .seed = 7, .threads = 2};
	struct sim_scenario sc;
	struct sim_result direct;
	struct forecast fc;
	struct plan p;
	char why[200];

	if (!ASSERT_EQ(parse("service: web\nsteps: [1, 5, 25, 50]\nhold: 150s\nmin_flows: 0\n",
			     &p),
		       0, "parses"))
		return;
	if (!ASSERT_EQ(forecast_run(&p, &o, &fc, why, sizeof(why)), 0, "runs"))
		return;
	sim_scenario_default(&sc, "plan, regression", 200, 0.01, 2);
	ASSERT_EQ(fc.bad.n_steps, 4, "the 100% step is not simulated");
	ASSERT_EQ(fc.bad.step_hold[2], 150, "hold 150 s");
	if (ASSERT_EQ(sim_run(&sc, 300, 7, 1, &direct), 0, "direct run")) {
		ASSERT_EQ(fc.res[1].fired[SIM_SEQ], direct.fired[SIM_SEQ], "same rollbacks");
		ASSERT_EQ(sim_quantile(fc.res[1].harm, 300, 0.5), sim_quantile(direct.harm, 300, 0.5),
			  "same median harm");
		ASSERT_EQ(sim_quantile(fc.res[1].when[SIM_SEQ], 300, 0.9),
			  sim_quantile(direct.when[SIM_SEQ], 300, 0.9), "same p90 delay");
		ASSERT_TRUE(fc.res[1].fired[SIM_SEQ] > 290, "a 2x canary is rolled back");
		ASSERT_EQ(sim_quantile(fc.res[0].duration, 300, 0.5), 600,
			  "a healthy canary takes the four holds");
		sim_result_free(&direct);
	}
	forecast_free(&fc);
}

/* The plan's settings reach the simulation: early promotion shortens a healthy rollout,
 * a step's minimum that the traffic cannot reach stops at the cap, and what cannot be
 * simulated is refused with why. */
static void forecast_follows_the_plan(void)
{
	struct forecast_opts o = {.rate = 2000, .base_error = 0.01, .regression = 2,
				  .rollouts = 200, .seed = 1, .threads = 2};
	struct forecast fc;
	struct plan p;
	char why[200];

	if (ASSERT_EQ(parse("service: web\nsteps: [1, 5, 25, 50]\nhold: 150s\n"
			    "early_promotion: true\n",
			    &p),
		      0, "parses") &&
	    ASSERT_EQ(forecast_run(&p, &o, &fc, why, sizeof(why)), 0, "runs")) {
		ASSERT_TRUE(sim_quantile(fc.res[0].duration, 200, 0.5) < 600,
			    "early promotion: a healthy canary passes before the holds end");
		ASSERT_TRUE(fc.healthy.adaptive, "adaptive");
	}
	forecast_free(&fc);
	o.rate = 1;
	o.rollouts = 100;
	if (ASSERT_EQ(parse("service: web\nsteps: [1, 50]\nhold: 10s\nmin_flows: 100000\n", &p),
		      0, "parses") &&
	    ASSERT_EQ(forecast_run(&p, &o, &fc, why, sizeof(why)), 0, "runs"))
		ASSERT_EQ(sim_quantile(fc.res[0].duration, 100, 0.5), SIM_MAX_SECS,
			  "a minimum the traffic never reaches: the rollout stops at the cap");
	forecast_free(&fc);
	o.rate = 0;
	ASSERT_TRUE(forecast_run(&p, &o, &fc, why, sizeof(why)) != 0 && strstr(why, "rate"),
		    "no rate: refused with why");
	forecast_free(&fc);
	o.rate = 100;
	if (ASSERT_EQ(parse("service: web\nsteps: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n", &p), 0, "parses"))
		ASSERT_TRUE(forecast_run(&p, &o, &fc, why, sizeof(why)) != 0 &&
				strstr(why, "more than 8 steps"),
			    "nine steps below 100%: refused with why");
	forecast_free(&fc);
}

static const struct test_case cases[] = {
	{"the forecast of a plan is the simulator on its schedule", forecast_is_the_simulator},
	{"the forecast follows the plan's settings", forecast_follows_the_plan},
	{"range steps {start, step, max} end with the promotion", range_steps},
	{"mapping steps, gates, signals with their own settings, guards, metrics", mapping_steps},
	{"refused plans", refused_plans, refusal_name},
	{"every problem is reported at once", every_problem},
	{"ttfb_order's edges come from its from and to", order_edges},
};

TEST_MAIN(cases)
