/* canary-sim: simulated rollouts that measure false-rollback rate, detection
 * and time to rollback of the sequential test against the usual baselines. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logic/analysis.h"
#include "logic/sim.h"

#define FULL_ROLLOUTS  20000
#define QUICK_ROLLOUTS 1000

static void usage(FILE *f)
{
	fprintf(f,
		"usage: canary-sim [--full] [--rollouts N] [--seed S] [--threads T]\n"
		"                  [--markdown] [--only SUBSTRING]\n"
		"Simulates canary rollouts (weight 1 -> 5 -> 25 -> 50%%, 150 s per step, one\n"
		"poll per second, Poisson traffic, binomial events) and reports, per decision\n"
		"rule, the share of rollouts rolled back and the median / p90 second of the\n"
		"rollback (\"never\" when fewer than half / 90%% of rollouts were rolled back).\n"
		"  --full         %d rollouts per scenario (default %d)\n"
		"  --rollouts N   rollouts per scenario\n"
		"  --seed S       PRNG seed (default 1); results do not depend on --threads\n"
		"  --threads T    worker threads (default: online CPUs)\n"
		"  --markdown     print the tables as markdown (for docs/ANALYSIS.md)\n"
		"  --only S       run only scenarios whose name contains S\n",
		FULL_ROLLOUTS, QUICK_ROLLOUTS);
}

/* Share of responses above the stable p99 when the canary's lognormal TTFB
 * is `slower` times stable's: P(Z > z99 - ln(slower) / sigma). */
static double latency_ratio(double slower, double sigma)
{
	double z99 = 2.3263478740408408;

	return (1 - av_norm_cdf(z99 - log(slower) / sigma)) / 0.01;
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"full", no_argument, NULL, 'f'},	    {"rollouts", required_argument, NULL, 'n'},
	    {"seed", required_argument, NULL, 's'}, {"threads", required_argument, NULL, 't'},
	    {"markdown", no_argument, NULL, 'm'},   {"only", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},	    {NULL, 0, NULL, 0},
	};
	struct sim_scenario sc[32];
	struct sim_result res[32];
	uint64_t rollouts = QUICK_ROLLOUTS, seed = 1;
	long nproc = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = nproc > 0 ? (unsigned)nproc : 1;
	const char *only = NULL;
	int md = 0, n, i, c, ran[32] = {0};
	struct timespec t0, t1;
	char *end;

	while ((c = getopt_long(argc, argv, "fn:s:t:mo:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			rollouts = FULL_ROLLOUTS;
			break;
		case 'n':
			rollouts = strtoull(optarg, &end, 10);
			if (*end || rollouts == 0) {
				fprintf(stderr, "canary-sim: bad --rollouts '%s'\n", optarg);
				return 2;
			}
			break;
		case 's':
			seed = strtoull(optarg, &end, 0);
			if (*end) {
				fprintf(stderr, "canary-sim: bad --seed '%s'\n", optarg);
				return 2;
			}
			break;
		case 't':
			threads = (unsigned)strtoul(optarg, &end, 10);
			if (*end || threads == 0 || threads > 64) {
				fprintf(stderr, "canary-sim: bad --threads '%s'\n", optarg);
				return 2;
			}
			break;
		case 'm':
			md = 1;
			break;
		case 'o':
			only = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}

	n = build(sc, 32);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	printf("canary-sim: %" PRIu64 " rollouts per scenario, seed %" PRIu64
	       ", %u threads, rollback alpha %.2g\n",
	       rollouts, seed, threads, sc[0].alpha);
	if (md) {
		printf("\n| scenario | rule | rolled back [95%% CI] | median s | p90 s |\n");
		printf("|---|---|---|---|---|\n");
	}
	for (i = 0; i < n; i++) {
		if (only && !strstr(sc[i].name, only))
			continue;
		if (sim_run(&sc[i], rollouts, seed, threads, &res[i])) {
			fprintf(stderr, "canary-sim: %s: simulation failed\n", sc[i].name);
			return 1;
		}
		ran[i] = 1;
		print_scenario(&sc[i], &res[i], md);
		fflush(stdout);
	}
	if (md) {
		char rate[64], pm[16], dur[16];

		printf("\n| scenario | promotion test crossed [95%% CI] | first crossing, median s "
		       "| rollout length, median s |\n");
		printf("|---|---|---|---|\n");
		for (i = 0; i < n; i++) {
			if (!ran[i])
				continue;
			fmt_rate(rate, sizeof(rate), res[i].promoted, res[i].rollouts);
			fmt_time(pm, sizeof(pm),
				 sim_quantile(res[i].promote, res[i].rollouts, 0.5));
			fmt_time(dur, sizeof(dur),
				 sim_quantile(res[i].duration, res[i].rollouts, 0.5));
			printf("| %s | %s | %s | %s |\n", sc[i].name, rate, pm, dur);
		}
	}
	for (i = 0; i < n; i++)
		if (ran[i])
			sim_result_free(&res[i]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("\ntotal %.1f s\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
