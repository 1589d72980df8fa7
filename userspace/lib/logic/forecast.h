/* forecast.h: what a plan costs, before it runs: the simulator (sim.h) on the plan's
 * own schedule and test, for a stated traffic rate and base error rate. For
 * `canaryctl plan --dry-run --rate`: the time a healthy canary takes to reach 100%,
 * how often it is rolled back falsely, and for a regression how soon it is rolled back
 * and how many canary requests saw it first (the harm, docs/ANALYSIS.md). */
#ifndef CANARY_FORECAST_H
#define CANARY_FORECAST_H

#include <stdint.h>
#include <stdio.h>

#include "logic/plan.h"
#include "logic/sim.h"

struct forecast_opts {
	double rate;	    /* requests (one per new flow) per second, both arms */
	double base_error;  /* stable's error rate, a fraction in (0, 1) */
	double regression;  /* the bad canary's error rate over stable's, > 1 */
	uint64_t rollouts;  /* simulated rollouts per scenario */
	uint64_t seed;
	unsigned threads;
};

struct forecast {
	struct sim_scenario healthy, bad; /* the two scenarios, from the plan */
	struct sim_result res[2];	  /* healthy, bad */
	unsigned int count_signals;	  /* the plan's count signals, each at its own alpha */
};

/* The plan's schedule and error test as a simulator scenario at ratio (1: healthy).
 * Steps at 100% end the schedule (nothing is compared there); a gate is not waited
 * for. Returns 0, or -1 with why (more steps below 100% than the simulator takes). */
int forecast_scenario(const struct plan *p, const struct forecast_opts *o, double ratio,
		      struct sim_scenario *sc, char *why, size_t len);
/* Both scenarios run. Returns 0, or -1 with why. forecast_free() after either. */
int forecast_run(const struct plan *p, const struct forecast_opts *o, struct forecast *fc,
		 char *why, size_t len);
void forecast_print(const struct forecast *fc, const struct forecast_opts *o, FILE *f);
void forecast_free(struct forecast *fc);

#endif
