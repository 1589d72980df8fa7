/* Rollout simulator for the analysis library: seedable PRNG, Poisson and
 * binomial samplers, and the scenario runner shared by canary-sim and tests. */
#ifndef XDP_CANARY_SIM_H
#define XDP_CANARY_SIM_H

#include <stdint.h>

#include "logic/analysis.h"

/* xoshiro256** seeded through splitmix64. */
struct sim_rng {
	uint64_t s[4];
};

uint64_t sim_splitmix64(uint64_t *x);
void sim_seed(struct sim_rng *r, uint64_t seed);
uint64_t sim_next(struct sim_rng *r);
/* Uniform on the open interval (0, 1). */
double sim_uniform(struct sim_rng *r);
/* Exact samplers: inversion for small means, Hoermann's PTRS / BTRS
 * transformed rejection for large ones. */
uint64_t sim_poisson(struct sim_rng *r, double mean);
uint64_t sim_binomial(struct sim_rng *r, uint64_t n, double p);

/* The decision rules compared on the same simulated traffic. */
enum sim_method {
	SIM_SEQ = 0,   /* this library, default config (with change points) */
	SIM_SEQ_FIXED, /* this library, cp_share = 0 (pure grid mixture) */
	SIM_ZTEST,     /* cumulative two-proportion z-test, every poll */
	SIM_THRESH1,   /* Flagger-style: canary ratio vs base rate, 1 min checks */
	SIM_THRESH2,   /* same with a 2x margin */
	/* Wald's SPRT with one alternative, the scenario's true ratio, against the
	 * library's r0 at the same alpha, from the onset on: the floor for the
	 * detection delay.  Never fires where the ratio is not beyond r0. */
	SIM_ORACLE,
	SIM_NMETHODS,
};

#define SIM_MAX_STEPS 8
#define SIM_NEVER     UINT32_MAX

struct sim_scenario {
	const char *name;
	double rps;	 /* mean exposure units per second, both arms */
	double p_stable; /* per-unit event probability in stable */
	double ratio;	 /* canary probability = ratio * p_stable (capped at 1) */
	uint32_t onset;	 /* canary uses ratio from this second on (0 = start) */
	uint32_t lower_is_worse;
	uint32_t n_steps;
	uint32_t step_secs;	      /* hold per weight step */
	double weight[SIM_MAX_STEPS]; /* canary share per step */
	uint32_t adaptive;	      /* advance a step when the promote test crosses */
	double alpha;		      /* rollback alpha for every method */
	uint32_t thresh_interval;     /* seconds per threshold check */
	uint32_t thresh_failures;     /* failed checks before rollback */
	/* Sample-ratio mismatch: the canary loses this share of its units before they
	 * are counted (0: none). */
	double canary_loss;
	/* Client mode: this many clients, each on one arm (its bucket against the
	 * weight); the first `heavy` of them send heavy_share of all units.  0: flow
	 * mode, every unit decided on its own. */
	uint32_t clients, heavy;
	double heavy_share;
	/* A plan's own schedule (canaryctl plan --dry-run): per-step holds (0: step_secs),
	 * canary units a step needs before it may pass, and the rollback tolerance r0
	 * (0: the library's default). */
	uint32_t step_hold[SIM_MAX_STEPS];
	uint64_t step_min_units[SIM_MAX_STEPS];
	double r0;
};

/* A rollout whose steps never pass (a step's minimum never reached) stops here. */
#define SIM_MAX_SECS 86400

struct sim_result {
	uint64_t rollouts;
	uint64_t fired[SIM_NMETHODS];
	uint32_t *when[SIM_NMETHODS]; /* per rollout: second it fired, or SIM_NEVER */
	uint32_t *promote;	      /* first second the promotion test crossed */
	uint32_t *duration;	      /* seconds until the schedule completed, at most SIM_MAX_SECS */
	uint64_t promoted;	      /* rollouts whose promotion test crossed */
	uint32_t *srm;		      /* first second the flow SRM test crossed */
	uint64_t srm_fired;	      /* rollouts whose flow SRM test crossed */
	/* Canary units that saw the regression (from its onset) before the sequential
	 * test rolled back, or until the schedule ended when it never did. */
	uint32_t *harm;
	double seconds; /* wall time */
};

/* Whether the scenario has an oracle (its ratio is beyond the library's r0). */
int sim_has_oracle(const struct sim_scenario *sc);
/* The rollout schedule of issue 4: 1 -> 5 -> 25 -> 50 %, 150 s each. */
void sim_scenario_default(struct sim_scenario *sc, const char *name, double rps, double p,
			  double ratio);
/* Runs the rollouts on `threads` threads; results do not depend on the
 * thread count.  Returns 0, or -1 when out of memory or config invalid. */
int sim_run(const struct sim_scenario *sc, uint64_t rollouts, uint64_t seed, unsigned threads,
	    struct sim_result *res);
void sim_result_free(struct sim_result *res);
/* q-quantile of the firing times (SIM_NEVER counts as never, so the
 * quantile is SIM_NEVER when fewer than q of the rollouts fired). */
uint32_t sim_quantile(const uint32_t *when, uint64_t n, double q);
const char *sim_method_name(enum sim_method m);

/* Latency as a distribution: lognormal TTFB per arm, per-second log2
 * histograms (bucket i = [2^i, 2^(i+1)) us, the last one open) on the ramp of
 * `base`, judged by the stochastic-order test and by the bound rule (the count
 * test on "TTFB >= 2^k_bound us"). */
struct sim_lat_scenario {
	struct sim_scenario base; /* name, rps, ramp, alpha; p_stable and ratio unused */
	double median_us, sigma;  /* stable: lognormal median and natural-log sigma */
	double slower, c_sigma;	  /* canary: median times `slower`, sigma c_sigma */
	uint32_t k_lo, k_hi;	  /* the order test's thresholds */
	uint32_t k_bound;	  /* the bound rule's threshold */
	double r0;		  /* both rules' tolerance; 0: the default 1.1 */
};

enum sim_lat_method {
	SIM_LAT_ORDER = 0, /* av_order_*: every threshold k_lo..k_hi */
	SIM_LAT_BOUND,	   /* av_config_default() on the count above 2^k_bound */
	SIM_LAT_N,
};

struct sim_lat_result {
	uint64_t rollouts;
	uint64_t fired[SIM_LAT_N];
	uint32_t *when[SIM_LAT_N]; /* per rollout: second it fired, or SIM_NEVER */
	double seconds;
};

int sim_lat_run(const struct sim_lat_scenario *sc, uint64_t rollouts, uint64_t seed,
		unsigned threads, struct sim_lat_result *res);
void sim_lat_result_free(struct sim_lat_result *res);

#endif
