/* plan.h: rollout plans (YAML): the steps of a canary ramp, the analysis that gates each
 * step, business metrics from outside the data plane, and what a rollback does. A plan
 * is validated whole, with "FILE:LINE: field: problem" errors, before anything runs. */
#ifndef CANARY_PLAN_H
#define CANARY_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "xdp_canary.h"

#define PLAN_MAX_STEPS	 64
#define PLAN_MAX_SIGNALS 8
#define PLAN_MAX_GUARDS	 8
#define PLAN_MAX_METRICS 8
#define PLAN_NAME_LEN	 32
#define PLAN_QUERY_LEN	 512
#define PLAN_MAX_BYTES	 262144 /* a plan is a page of YAML; this leaves room for comments */

/* Health signals from the data plane, and business metrics from outside. */
enum plan_signal_kind {
	SIG_HTTP_5XX = 0,   /* 5xx / HTTP responses */
	SIG_RESETS,	    /* flows ended by a backend RST / flows */
	SIG_UNANSWERED_SYN, /* flows whose SYN was repeated before any SYN-ACK / flows */
	SIG_ERRORED_FLOWS,  /* flows with any error / flows */
	SIG_TTFB,	    /* responses slower than a bound / requests */
	SIG_TTFB_ORDER,	    /* the TTFB distribution: slower at any edge of a range (the
			     * stochastic-order test, docs/ANALYSIS.md) / responses */
	SIG_METRIC,	    /* a business metric (successes / trials) */
	SIG_KINDS,
};

extern const char *const plan_signal_names[SIG_KINDS];

struct plan_step {
	uint16_t weight_bp; /* canary weight at this step, basis points */
	long hold_ms;	    /* time with traffic at this step before it may pass */
	uint64_t min_flows; /* canary flows at this step before it may pass */
	bool gate;	    /* wait for `canaryctl rollout promote` after the hold */
};

struct plan_signal {
	int kind;	  /* enum plan_signal_kind (not SIG_METRIC) */
	double alpha;	  /* false-rollback level */
	double tolerance; /* r0: canary may be this many times worse than stable */
	uint64_t ttfb_bound_us; /* SIG_TTFB: responses slower than this count */
	/* SIG_TTFB_ORDER: its edges "TTFB >= 2^k us" for k = order_k_lo..order_k_hi, the
	 * powers of two from `from` to `to` */
	uint32_t order_k_lo, order_k_hi;
};

struct plan_guard {
	int kind;	       /* signal whose plain ratio is guarded */
	double max_ratio;      /* canary events/exposure above this ... */
	uint64_t min_exposure; /* ... with at least this much exposure: roll back now */
};

enum metric_source { METRIC_PUSH = 0, METRIC_PROMETHEUS };

struct plan_metric {
	char name[PLAN_NAME_LEN];
	bool lower_is_worse; /* successes are good (CTR, conversion, accuracy) */
	double alpha;
	double tolerance;
	int source;		/* enum metric_source */
	char url[256];		/* Prometheus base URL */
	char successes[CANARY_ARMS][PLAN_QUERY_LEN]; /* PromQL, per arm (cumulative) */
	char trials[CANARY_ARMS][PLAN_QUERY_LEN];
	int error_limit; /* consecutive measurement errors before the rollout pauses */
	long stale_ms;	 /* push: no report for this long is a measurement error */
};

enum plan_on_rollback { ROLLBACK_DRAIN = 0, ROLLBACK_RESET };

struct plan {
	char file[4096];
	char service[CANARY_NAME_LEN];
	unsigned int nsteps;
	struct plan_step steps[PLAN_MAX_STEPS]; /* ascending; the last is always 100% */
	double alpha, tolerance;		/* defaults for signals and metrics */
	unsigned int nsignals;
	struct plan_signal signals[PLAN_MAX_SIGNALS];
	unsigned int nguards;
	struct plan_guard guards[PLAN_MAX_GUARDS];
	unsigned int nmetrics;
	struct plan_metric metrics[PLAN_MAX_METRICS];
	bool early_promotion;	/* a step may pass before its hold on strong evidence */
	/* The SRM test of HTTP responses against the flow share: only valid when
	 * connections are shorter than a step (docs/ANALYSIS.md), so opt-in. */
	bool srm_responses;
	long no_traffic_ms;	/* pause after this long without canary traffic */
	int on_rollback;	/* enum plan_on_rollback */
};

/* Parse and validate a plan from a file, or from text (file names the source in
 * messages). Problems are printed as "FILE:LINE: field: problem" to err (stderr when
 * NULL); returns 0 or -EINVAL. */
int plan_load(const char *path, struct plan *p);
int plan_parse_text(const char *text, size_t len, const char *file, struct plan *p, FILE *err);

/* The schedule and the fastest and slowest durations, for `canaryctl plan --dry-run`. */
void plan_print_schedule(const struct plan *p, FILE *f);

#endif
