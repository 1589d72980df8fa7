/* canary-sim: simulated rollouts that measure false-rollback rate, detection
 * and time to rollback of the sequential test against the usual baselines. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xdp_canary.h"
#include "cli/params.h"
#include "logic/analysis.h"
#include "logic/sim.h"

#define FULL_ROLLOUTS  20000
#define QUICK_ROLLOUTS 1000

/* Share of responses above the stable p99 when the canary's lognormal TTFB
 * is `slower` times stable's: P(Z > z99 - ln(slower) / sigma). */
static double latency_ratio(double slower, double sigma)
{
	double z99 = 2.3263478740408408;

	return (1 - av_norm_cdf(z99 - log(slower) / sigma)) / 0.01;
}

/* A 2x canary on another ramp: w0 at the first step, w at the three others, secs per
 * step. Returns 1 (one scenario). */
static int ramp(struct sim_scenario *sc, const char *name, double rps, double w0, double w,
		uint32_t secs)
{
	sim_scenario_default(sc, name, rps, 0.01, 2);
	sc->weight[0] = w0;
	sc->weight[1] = sc->weight[2] = sc->weight[3] = w;
	sc->step_secs = secs;
	return 1;
}

static int build(struct sim_scenario *sc, int max)
{
	int n = 0;

	sim_scenario_default(&sc[n++], "errors A/A, 1%, 200/s", 200, 0.01, 1);
	sim_scenario_default(&sc[n++], "errors A/A, 1%, 20/s", 20, 0.01, 1);
	sim_scenario_default(&sc[n++], "errors A/A, 1%, 2000/s", 2000, 0.01, 1);
	sim_scenario_default(&sc[n++], "errors A/B 1.5x, 200/s", 200, 0.01, 1.5);
	sim_scenario_default(&sc[n++], "errors A/B 2x, 200/s", 200, 0.01, 2);
	sim_scenario_default(&sc[n++], "errors A/B 5x, 200/s", 200, 0.01, 5);
	sim_scenario_default(&sc[n++], "errors 1.1x (= r0), 2000/s", 2000, 0.01, 1.1);
	/* A load-dependent regression that appears only at the 50% step. */
	sim_scenario_default(&sc[n], "errors 2x from 450 s, 2000/s", 2000, 0.01, 2);
	sc[n++].onset = 450;
	sim_scenario_default(&sc[n++], "latency +30% (p99 bound), 200/s", 200, 0.01,
			     latency_ratio(1.3, 0.5));
	sim_scenario_default(&sc[n], "CTR A/A, 10%, 200/s", 200, 0.10, 1);
	sc[n++].lower_is_worse = 1;
	sim_scenario_default(&sc[n], "CTR A/B -20%, 200/s", 200, 0.10, 0.8);
	sc[n++].lower_is_worse = 1;
	/* Boundary of the CTR null: stable's rate = r0 (1.05) x canary's. */
	sim_scenario_default(&sc[n], "CTR -4.8% (= 1/r0), 2000/s", 2000, 0.10, 1 / 1.05);
	sc[n++].lower_is_worse = 1;
	sim_scenario_default(&sc[n], "adaptive A/A, 1%, 2000/s", 2000, 0.01, 1);
	sc[n++].adaptive = 1;
	sim_scenario_default(&sc[n], "adaptive A/B 1.5x, 2000/s", 2000, 0.01, 1.5);
	sc[n++].adaptive = 1;
	sim_scenario_default(&sc[n], "adaptive A/B 2x, 2000/s", 2000, 0.01, 2);
	sc[n++].adaptive = 1;
	/* Harm: the fixed and the adaptive ramp on the same rates. */
	sim_scenario_default(&sc[n++], "errors A/B 2x, 2000/s", 2000, 0.01, 2);
	sim_scenario_default(&sc[n], "adaptive A/A, 1%, 200/s", 200, 0.01, 1);
	sc[n++].adaptive = 1;
	sim_scenario_default(&sc[n], "adaptive A/B 2x, 200/s", 200, 0.01, 2);
	sc[n++].adaptive = 1;
	/* Harm against the ramp: the same 2x canary held at low weights, or at 50%. */
	n += ramp(&sc[n], "ramp: 1, 5, 5, 5% (hold 5%), 2x, 200/s", 200, 0.01, 0.05, 150);
	n += ramp(&sc[n], "ramp: 1% throughout (1500 s), 2x, 200/s", 200, 0.01, 0.01, 375);
	n += ramp(&sc[n], "ramp: 50% throughout, 2x, 200/s", 200, 0.5, 0.5, 150);
	n += ramp(&sc[n], "ramp: 1, 5, 5, 5% (hold 5%), 2x, 2000/s", 2000, 0.01, 0.05, 150);
	n += ramp(&sc[n], "ramp: 1% throughout, 2x, 2000/s", 2000, 0.01, 0.01, 150);
	n += ramp(&sc[n], "ramp: 50% throughout, 2x, 2000/s", 2000, 0.5, 0.5, 150);
	/* Sample-ratio mismatch: the canary loses 5% of its units before they count. */
	sim_scenario_default(&sc[n], "SRM: canary loses 5% of flows, 200/s", 200, 0.01, 1);
	sc[n++].canary_loss = 0.05;
	sim_scenario_default(&sc[n], "SRM: canary loses 5% of flows, 2000/s", 2000, 0.01, 1);
	sc[n++].canary_loss = 0.05;
	/* Client mode: 1% of 10,000 clients send 30% of the flows; each client is on
	 * one arm, so the flow share follows the mix, not the weight. */
	sim_scenario_default(&sc[n], "client mode: 1% of clients send 30%, 2000/s", 2000, 0.01, 1);
	sc[n].clients = 10000;
	sc[n].heavy = 100;
	sc[n++].heavy_share = 0.3;
	return n < max ? n : max;
}

static void fmt_time(char *buf, size_t len, uint32_t t)
{
	if (t == SIM_NEVER)
		snprintf(buf, len, "never");
	else
		snprintf(buf, len, "%u", t);
}

static void fmt_rate(char *buf, size_t len, uint64_t k, uint64_t n)
{
	struct av_interval ci = av_wilson(k, n, 1.959963984540054);

	snprintf(buf, len, "%6.2f%% [%.2f, %.2f]", 100.0 * ci.p, 100 * ci.lo, 100 * ci.hi);
}

static void print_scenario(const struct sim_scenario *sc, const struct sim_result *r, int md)
{
	char rate[64], med[16], p90[16], pm[16], dur[16];
	uint64_t n = r->rollouts;
	int m;

	fmt_time(pm, sizeof(pm), sim_quantile(r->promote, n, 0.5));
	fmt_time(dur, sizeof(dur), sim_quantile(r->duration, n, 0.5));
	if (!md) {
		printf("\n%s: p_stable %.3g, canary x%.3g%s%s, %s; %" PRIu64
		       " rollouts in %.1f s\n",
		       sc->name, sc->p_stable, sc->ratio, sc->onset ? " late" : "",
		       sc->lower_is_worse ? ", lower is worse" : "",
		       sc->adaptive ? "early promotion on" : "fixed schedule", n, r->seconds);
		printf("  %-30s %-26s %8s %8s\n", "rule", "rolled back [95% CI]", "median", "p90");
	}
	for (m = 0; m < SIM_NMETHODS; m++) {
		fmt_rate(rate, sizeof(rate), r->fired[m], n);
		fmt_time(med, sizeof(med), sim_quantile(r->when[m], n, 0.5));
		fmt_time(p90, sizeof(p90), sim_quantile(r->when[m], n, 0.9));
		if (md)
			printf("| %s | %s | %s | %s | %s |\n", m == 0 ? sc->name : "",
			       sim_method_name(m), rate, med, p90);
		else
			printf("  %-30s %-26s %8s %8s\n", sim_method_name(m), rate, med, p90);
	}
	fmt_rate(rate, sizeof(rate), r->promoted, n);
	if (!md)
		printf("  promotion test crossed in %s of rollouts (first crossing: median %s s);"
		       " median rollout length %s s\n",
		       rate, pm, dur);
}

/* The promotion test's table, for --markdown (the text output has it per scenario). */
static void print_promotion_md(const struct sim_scenario *sc, const struct sim_result *res,
			       const int *ran, int n)
{
	char rate[64], pm[16], dur[16];
	int i;

	printf("\n| scenario | promotion test crossed [95%% CI] | first crossing, median s "
	       "| rollout length, median s |\n");
	printf("|---|---|---|---|\n");
	for (i = 0; i < n; i++) {
		if (!ran[i])
			continue;
		fmt_rate(rate, sizeof(rate), res[i].promoted, res[i].rollouts);
		fmt_time(pm, sizeof(pm), sim_quantile(res[i].promote, res[i].rollouts, 0.5));
		fmt_time(dur, sizeof(dur), sim_quantile(res[i].duration, res[i].rollouts, 0.5));
		printf("| %s | %s | %s | %s |\n", sc[i].name, rate, pm, dur);
	}
}

/* The SRM table: how often the flow SRM test (against the weight) crossed, when. */
static void print_srm(const struct sim_scenario *sc, const struct sim_result *res, const int *ran,
		      int n, int md)
{
	char rate[64], med[16], p90[16];
	int i;

	printf(md ? "\n| scenario | flow SRM flagged [95%% CI] | median s | p90 s "
		    "|\n|---|---|---|---|\n"
		  : "\nsample-ratio mismatch (flows against the weight, alpha %.2g)\n",
	       sc[0].alpha);
	for (i = 0; i < n; i++) {
		if (!ran[i])
			continue;
		fmt_rate(rate, sizeof(rate), res[i].srm_fired, res[i].rollouts);
		fmt_time(med, sizeof(med), sim_quantile(res[i].srm, res[i].rollouts, 0.5));
		fmt_time(p90, sizeof(p90), sim_quantile(res[i].srm, res[i].rollouts, 0.9));
		printf(md ? "| %s | %s | %s | %s |\n" : "  %-46s %-26s %8s %8s\n", sc[i].name, rate,
		       med, p90);
	}
}

/* The harm table: for a regression, the canary requests that saw it before the
 * sequential test rolled back; for a healthy canary, the time to reach the end. */
static void print_harm(const struct sim_scenario *sc, const struct sim_result *res, const int *ran,
		       int n, int md)
{
	char med[16], p90[16];
	int i;

	printf(md ? "\n| scenario | measure | median | p90 |\n|---|---|---|---|\n"
		  : "\nharm (sequential test): canary requests that saw the regression before the "
		    "rollback; healthy canaries: seconds to the end of the schedule\n");
	for (i = 0; i < n; i++) {
		/* Beyond the tolerance (r0 = 1.1, or 1.05 for lower-is-worse rates) is a
		 * regression; a canary on the tolerance is healthy by the plan's own terms
		 * and has no harm to count. */
		bool bad =
		    sc[i].lower_is_worse ? sc[i].ratio < 1 / 1.05 - 1e-9 : sc[i].ratio > 1.1 + 1e-9;
		const uint32_t *v = bad ? res[i].harm : res[i].duration;
		const char *what = bad ? "requests harmed" : "seconds to last step";

		if (!ran[i] || (sc[i].ratio != 1 && !bad) || sc[i].canary_loss || sc[i].clients)
			continue;
		fmt_time(med, sizeof(med), sim_quantile(v, res[i].rollouts, 0.5));
		fmt_time(p90, sizeof(p90), sim_quantile(v, res[i].rollouts, 0.9));
		printf(md ? "| %s | %s | %s | %s |\n" : "  %-46s %-22s %8s %8s\n", sc[i].name, what,
		       med, p90);
	}
}

/* Median delay from the onset, or -1 when fewer than half of the rollouts fired. */
static double median_delay(const struct sim_scenario *sc, const uint32_t *when, uint64_t n)
{
	uint32_t med = sim_quantile(when, n, 0.5);

	return med == SIM_NEVER ? -1 : (double)med - (double)sc->onset;
}

/* The oracle table: each rule's median delay as a ratio to the oracle SPRT's. */
static void print_oracle(const struct sim_scenario *sc, const struct sim_result *res,
			 const int *ran, int n, int md)
{
	static const enum sim_method rules[] = {SIM_SEQ, SIM_SEQ_FIXED, SIM_ZTEST, SIM_THRESH1,
						SIM_THRESH2};
	char cell[5][24];
	int i, k;

	printf(md ? "\n| scenario | oracle median s | this library | no change-point | z-test "
		    "| threshold 1x | threshold 2x |\n|---|---|---|---|---|---|---|\n"
		  : "\noracle: median delay from the onset, as a ratio to Wald's SPRT tuned to the "
		    "true ratio (same r0 and alpha)\n  %-46s %7s %7s %7s %7s %7s %7s\n",
	       "scenario", "oracle", "library", "no-cp", "z-test", "thr 1x", "thr 2x");
	for (i = 0; i < n; i++) {
		double o;

		if (!ran[i] || !sim_has_oracle(&sc[i]))
			continue;
		o = median_delay(&sc[i], res[i].when[SIM_ORACLE], res[i].rollouts);
		for (k = 0; k < 5; k++) {
			double d = median_delay(&sc[i], res[i].when[rules[k]], res[i].rollouts);

			if (d < 0)
				snprintf(cell[k], sizeof(cell[k]), "never");
			else if (o <= 0)
				snprintf(cell[k], sizeof(cell[k]), "-");
			else
				snprintf(cell[k], sizeof(cell[k]), "%.2fx", d / o);
		}
		if (o < 0)
			printf(md ? "| %s | never | | | | | |\n" : "  %-46s %7s\n", sc[i].name,
			       "never");
		else
			printf(md ? "| %s | %.0f | %s | %s | %s | %s | %s |\n"
				  : "  %-46s %7.0f %7s %7s %7s %7s %7s\n",
			       sc[i].name, o, cell[0], cell[1], cell[2], cell[3], cell[4]);
	}
}

struct sim_cfg {
	uint64_t rollouts, seed;
	unsigned int threads;
	bool md;
	const char *only;
};

/* Latency as a distribution: stable's TTFB lognormal, median 10 ms, sigma 0.5
 * (p99 32 ms); the order test on the thresholds 2^11 .. 2^17 us (2 .. 131 ms),
 * the bound rule at stable's p99 rounded up to the next edge, 2^15 us. */
static int build_lat(struct sim_lat_scenario *sc, int max)
{
	static const struct {
		const char *name;
		double rps, slower, c_sigma, r0;
	} t[] = {
	    {"TTFB A/A, 200/s", 200, 1, 0.5},
	    /* Tolerance 1 instead of 1.1: A/A on the null's boundary. */
	    {"TTFB A/A, r0 = 1, 200/s", 200, 1, 0.5, 1},
	    {"TTFB A/A, r0 = 1, 2000/s", 2000, 1, 0.5, 1},
	    {"TTFB median +10%, 200/s", 200, 1.1, 0.5},
	    /* Same median, p99 30% slower: sigma + ln(1.3) / z_0.99. */
	    {"TTFB p99 +30%, median same, 200/s", 200, 1,
	     0.5 + 0.26236426446749106 / 2.3263478740408408},
	    {"TTFB A/A, 2000/s", 2000, 1, 0.5},
	    {"TTFB median +10%, 2000/s", 2000, 1.1, 0.5},
	    {"TTFB p99 +30%, median same, 2000/s", 2000, 1,
	     0.5 + 0.26236426446749106 / 2.3263478740408408},
	};
	int n = 0;

	for (; n < (int)(sizeof(t) / sizeof(t[0])) && n < max; n++) {
		memset(&sc[n], 0, sizeof(sc[n]));
		sim_scenario_default(&sc[n].base, t[n].name, t[n].rps, 0.01, 1);
		sc[n].median_us = 10000;
		sc[n].sigma = 0.5;
		sc[n].slower = t[n].slower;
		sc[n].c_sigma = t[n].c_sigma;
		sc[n].k_lo = 11;
		sc[n].k_hi = 17;
		sc[n].k_bound = 15;
		sc[n].r0 = t[n].r0;
	}
	return n;
}

/* Runs and prints the latency-distribution scenarios. Returns 0 or 1. */
static int run_lat(const struct sim_cfg *c)
{
	static const char *const rule[] = {"stochastic order (2^11..2^17 us)",
					   "bound at stable's p99 (2^15 us)"};
	struct sim_lat_scenario sc[12];
	struct sim_lat_result r;
	char rate[64], med[16], p90[16];
	int n = build_lat(sc, 12), i, m;

	printf(
	    c->md
		? "\n| scenario | rule | rolled back [95%% CI] | median s | p90 s "
		  "|\n|---|---|---|---|---|\n"
		: "\nlatency as a distribution (lognormal TTFB, stable median 10 ms, sigma 0.5)\n");
	for (i = 0; i < n; i++) {
		if (c->only && !strstr(sc[i].base.name, c->only))
			continue;
		if (sim_lat_run(&sc[i], c->rollouts, c->seed, c->threads, &r)) {
			fprintf(stderr, "canary-sim: %s: simulation failed\n", sc[i].base.name);
			return 1;
		}
		for (m = 0; m < SIM_LAT_N; m++) {
			fmt_rate(rate, sizeof(rate), r.fired[m], r.rollouts);
			fmt_time(med, sizeof(med), sim_quantile(r.when[m], r.rollouts, 0.5));
			fmt_time(p90, sizeof(p90), sim_quantile(r.when[m], r.rollouts, 0.9));
			printf(c->md ? "| %s | %s | %s | %s | %s |\n"
				     : "  %-38s %-34s %-26s %6s %6s\n",
			       m ? "" : sc[i].base.name, rule[m], rate, med, p90);
		}
		sim_lat_result_free(&r);
		fflush(stdout);
	}
	return 0;
}

/* --full: the number of rollouts the docs' tables use (a later --rollouts still wins). */
static int full_rollouts(const char *value, void *field)
{
	*(uint64_t *)field = FULL_ROLLOUTS;
	return 0;
}

static const struct cli_opt sim_opts[] = {
    {CLI_CUSTOM, "full", 'f', CLI_FIELD(struct sim_cfg, rollouts), .parse = full_rollouts,
     .help = CANARY_STR(FULL_ROLLOUTS) " rollouts per scenario"},
    {CLI_UINT, "rollouts", 'n', CLI_FIELD(struct sim_cfg, rollouts), .metavar = "N",
     .help = "rollouts per scenario", .min = 1},
    {CLI_UINT, "seed", 's', CLI_FIELD(struct sim_cfg, seed), .metavar = "S",
     .help = "PRNG seed; results do not depend on --threads"},
    {CLI_UINT, "threads", 't', CLI_FIELD(struct sim_cfg, threads), .metavar = "T",
     .help = "worker threads", .def = "online CPUs", .min = 1, .max = 64},
    {CLI_FLAG, "markdown", 'm', CLI_FIELD(struct sim_cfg, md),
     .help = "print the tables as markdown (for docs/ANALYSIS.md)"},
    {CLI_STR, "only", 'o', CLI_FIELD(struct sim_cfg, only), .metavar = "S",
     .help = "run only scenarios whose name contains S"},
    {},
};

static const struct cli_cmd sim_cmd = {
    .usage = "[--full] [--rollouts N] [--seed S] [--threads T] [--markdown] [--only S]\n"
	     "Simulates canary rollouts (weight 1 -> 5 -> 25 -> 50%, 150 s per step, one\n"
	     "poll per second, Poisson traffic, binomial events) and reports, per decision\n"
	     "rule, the share of rollouts rolled back and the median / p90 second of the\n"
	     "rollback (\"never\" when fewer than half / 90% of rollouts were rolled back);\n"
	     "then the harm (canary requests that saw a regression before the rollback, or\n"
	     "a healthy canary's time to the last step), the sample-ratio mismatch test,\n"
	     "and each rule's median delay as a ratio to an oracle: Wald's SPRT tuned to\n"
	     "the scenario's true ratio; last, the stochastic-order test on TTFB\n"
	     "histograms against the bound rule.\n",
    .opts = sim_opts,
    .cfg_size = sizeof(struct sim_cfg),
};

/* Run and print every scenario the options select. Returns 0 or 1. */
static int run_all(const struct sim_cfg *c)
{
	struct sim_scenario sc[32];
	struct sim_result res[32];
	int n = build(sc, 32), i, ran[32] = {0}, rc = 0;

	printf("canary-sim: %" PRIu64 " rollouts per scenario, seed %" PRIu64
	       ", %u threads, rollback alpha %.2g\n",
	       c->rollouts, c->seed, c->threads, sc[0].alpha);
	if (c->md) {
		printf("\n| scenario | rule | rolled back [95%% CI] | median s | p90 s |\n");
		printf("|---|---|---|---|---|\n");
	}
	for (i = 0; i < n && !rc; i++) {
		if (c->only && !strstr(sc[i].name, c->only))
			continue;
		if (sim_run(&sc[i], c->rollouts, c->seed, c->threads, &res[i])) {
			fprintf(stderr, "canary-sim: %s: simulation failed\n", sc[i].name);
			rc = 1;
			break;
		}
		ran[i] = 1;
		print_scenario(&sc[i], &res[i], c->md);
		fflush(stdout);
	}
	if (c->md && !rc)
		print_promotion_md(sc, res, ran, n);
	if (!rc) {
		print_harm(sc, res, ran, n, c->md);
		print_srm(sc, res, ran, n, c->md);
		print_oracle(sc, res, ran, n, c->md);
	}
	for (i = 0; i < n; i++)
		if (ran[i])
			sim_result_free(&res[i]);
	return rc;
}

int main(int argc, char **argv)
{
	long nproc = sysconf(_SC_NPROCESSORS_ONLN);
	struct sim_cfg c = {
	    .rollouts = QUICK_ROLLOUTS,
	    .seed = 1,
	    .threads = nproc > 0 ? (unsigned int)nproc : 1,
	};
	struct timespec t0, t1;
	int rc;

	cli_set_names("canary-sim", NULL);
	rc = cli_parse_options(&sim_cmd, &c, argc, argv);
	if (rc)
		return rc == CLI_HELP ? 0 : rc;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (run_all(&c) || run_lat(&c))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("\ntotal %.1f s\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
