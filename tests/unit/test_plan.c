/* test_plan.c: rollout plans. The minimal plan and the other step forms parse
 * to the right schedule; each bad plan is refused with "FILE:LINE: field: problem". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
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

static void every_problem(void)
{
	struct plan p;

	ASSERT_TRUE(parse("service: Web!\nsteps: [5, 1]\nhold: x\n", &p) != 0, "refused");
	ASSERT_TRUE(strstr(errbuf, "3 problems; nothing was changed") != NULL, "counted");
}

static const struct test_case cases[] = {
	{"range steps {start, step, max} end with the promotion", range_steps},
	{"mapping steps, gates, signals with their own settings, guards, metrics", mapping_steps},
	{"refused plans", refused_plans, refusal_name},
	{"every problem is reported at once", every_problem},
};

TEST_MAIN(cases)
