/* Canary analysis: anytime-valid sequential count tests (rollback and early
 * promotion), display statistics, and restorable plain-data test state. */
#ifndef XDP_CANARY_ANALYSIS_H
#define XDP_CANARY_ANALYSIS_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * One "signal" compares a count of events (5xx, resets, TTFB above a bound,
 * successes...) over a count of exposure units (responses, flows, packets,
 * trials) between the canary and the stable arm.  The agent hands the
 * library the current cumulative counters every poll; the library keeps the
 * previous values, takes deltas, and accumulates evidence.  See
 * docs/ANALYSIS.md for the statistics.
 *
 * Everything here is plain data (no pointers) so the agent can save and
 * restore it; nothing allocates, nothing locks.
 */

#define AV_MAX_ALT	 16   /* alternatives per sequential test */
#define AV_STATE_TEXT	 4096 /* buffer size that always fits av_state_format() */
#define AV_STATE_VERSION 1

enum av_arm {
	AV_CANARY = 0,
	AV_STABLE = 1,
};

/* What the exposure counter counts.  A label only: the maths does not
 * depend on it, but it is part of the config fingerprint so evidence saved
 * for one kind of signal is never restored into another. */
enum av_unit {
	AV_UNIT_FLOWS = 0,
	AV_UNIT_PACKETS,
	AV_UNIT_RESPONSES,
	AV_UNIT_TRIALS, /* externally pushed business/model metrics */
};

/* One mixture e-process.  For the rollback test the null is
 * "rate(canary) <= r_null * rate(stable)" and every alternative is > r_null;
 * for the promotion (mirror) test the null is "rate(canary) >= r_null *
 * rate(stable)" and every alternative is < r_null. */
struct av_seq_config {
	double alpha;	/* decide when E >= 1/alpha */
	double r_null;	/* r0 (rollback) or r_max (promotion) */
	uint32_t n_alt; /* used entries of alt[] and weight[] */
	uint32_t _pad;
	double alt[AV_MAX_ALT];	   /* alternative ratios r_j */
	double weight[AV_MAX_ALT]; /* prior weights, any scale; all 0 = uniform */
	/* Share of the prior put on "the canary turned bad at a later poll"
	 * (a change-point mixture over start polls, geometric with rate
	 * cp_rate per used poll).  It keeps a long healthy stretch from
	 * burying a late regression.  0 disables it. */
	double cp_share;
	double cp_rate;
	/* Derived by av_config_finalize(); do not set. */
	double log_w[AV_MAX_ALT];     /* normalised log prior weights */
	double log_ratio[AV_MAX_ALT]; /* log(alt[j] / r_null) */
	double log_threshold;	      /* log(1/alpha) */
	double log_fix_share;	      /* log(1 - cp_share) */
	double log_cp_share;	      /* log(cp_share), or 0 when unused */
	double log_cp_rate;	      /* log(cp_rate) */
	double log1m_cp_rate;	      /* log(1 - cp_rate) */
};

struct av_config {
	struct av_seq_config rollback;
	struct av_seq_config promote;
	uint32_t promote_enabled;
	/* 0: events are bad (errors): roll back when the canary has too many.
	 * 1: events are good (successes, clicks): roll back when the canary has
	 *    too few.  The arms swap roles inside the test, so the rollback null
	 *    becomes "rate(stable) <= r0 * rate(canary)". */
	uint32_t lower_is_worse;
	uint32_t unit; /* enum av_unit */
	uint32_t _pad;
	/* Used by av_enough_data() only; never by the tests themselves. */
	uint64_t min_exposure; /* per arm, over the used polls */
	uint64_t min_events;   /* both arms together, over the used polls */
	/* Derived by av_config_finalize(). */
	uint64_t fingerprint;
	uint32_t finalized;
	uint32_t _pad2;
};

/* State of one mixture e-process.  All fields are finite numbers. */
struct av_seq_state {
	double log_lr[AV_MAX_ALT]; /* sum of per-poll log LRs since the start */
	double log_cp[AV_MAX_ALT]; /* log of the change-point sum S_j */
	double log_e;		   /* log of the current e-value */
	double log_e_max;	   /* running max of log_e, >= 0 (p-value) */
	uint64_t steps;		   /* used polls since this test (re)started */
	uint64_t reject_poll;	   /* av_state.polls when it crossed, 0 = not */
	uint32_t rejected;	   /* latched once E >= 1/alpha */
	uint32_t _pad;
};

/* Complete per-signal state; plain data, restorable with
 * av_state_format()/av_state_parse() (or bytewise on the same build). */
struct av_state {
	uint32_t version;
	uint32_t have_prev;    /* prev_* hold a baseline */
	uint64_t fingerprint;  /* config it was built for */
	uint64_t prev_n[2];    /* last cumulative exposure, by enum av_arm */
	uint64_t prev_x[2];    /* last cumulative events */
	uint64_t polls;	       /* av_update calls */
	uint64_t used;	       /* polls that entered the tests */
	uint64_t skip_idle;    /* polls with no exposure in either arm */
	uint64_t skip_one_arm; /* polls where one arm had no exposure */
	uint64_t resets;       /* polls where a counter went backwards */
	uint64_t idle_run;     /* consecutive polls not used, now */
	uint64_t n[2];	       /* exposure over used polls, by enum av_arm */
	uint64_t x[2];	       /* events over used polls, by enum av_arm */
	struct av_seq_state rollback;
	struct av_seq_state promote;
};

/* What a poll did with its interval. */
enum av_poll {
	AV_POLL_USED = 0, /* entered the tests */
	AV_POLL_BASELINE, /* first values seen: stored, nothing to compare */
	AV_POLL_IDLE,	  /* no exposure in either arm: nothing to learn */
	AV_POLL_ONE_ARM,  /* exposure share 0 or 1: skipped */
	AV_POLL_RESET,	  /* a counter went backwards: skipped, re-baselined */
	AV_POLL_ERROR,	  /* config not finalised or not the state's config */
};

enum av_verdict {
	AV_CONTINUE = 0, /* keep watching */
	AV_ROLLBACK,	 /* rollback test crossed 1/alpha (latched) */
	AV_PROMOTE,	 /* promotion test crossed, rollback test did not */
};

/* Defaults for error-like signals: r0 = 1.1, alpha = 0.01, alternatives
 * 1.25 1.5 2 3 5 10, a quarter of the prior on late change points; promotion test
 * r_max = 1.5, alpha = 0.05, alternatives 0.5 0.75 0.9 1 1.1 1.25. */
void av_config_default(struct av_config *cfg);
/* Defaults for "lower is worse" rates that need not be small (CTR,
 * conversion, accuracy): r0 = 1.05, alternatives 1.1 1.15 1.25 1.4 1.6 2 3;
 * promotion r_max = 1.25, alternatives 0.8 0.9 1 1.05 1.1. */
void av_config_default_lower_is_worse(struct av_config *cfg);
/* Validate and derive.  Returns 0, or -1 with a reason in err. */
int av_config_finalize(struct av_config *cfg, char *err, size_t errlen);
/* A plan's test: the defaults for its direction, with both grids moved so that the
 * tolerance tol becomes the rollback null ratio, at level alpha, the promotion test
 * on or off, finalized.  The agent's rollouts and the simulator's forecast use it, so
 * they judge with the same test.  Returns 0, or -1 with a reason in err. */
int av_config_tolerance(struct av_config *cfg, bool lower_is_worse, double alpha, double tol,
			bool promote, uint32_t unit, char *err, size_t errlen);

/* Start a signal from scratch (E = 1, no baseline). */
void av_state_init(struct av_state *st, const struct av_config *cfg);

/* Feed the current cumulative counters (both arms).  The first call only
 * stores a baseline; a counter that went backwards skips the interval and
 * re-baselines.  Cost: a few dozen log/exp calls. */
enum av_poll av_update(const struct av_config *cfg, struct av_state *st, uint64_t n_canary,
		       uint64_t x_canary, uint64_t n_stable, uint64_t x_stable);
/* Same, but with per-interval deltas; never touches the baseline. */
enum av_poll av_update_delta(const struct av_config *cfg, struct av_state *st, uint64_t dn_canary,
			     uint64_t dx_canary, uint64_t dn_stable, uint64_t dx_stable);

enum av_verdict av_verdict(const struct av_config *cfg, const struct av_state *st);
/* Restart only the promotion test (e.g. at each weight step), so every
 * early step advance is backed by that step's own evidence. */
void av_promote_reset(struct av_state *st);
/* True when the used polls hold at least cfg->min_exposure units in each
 * arm and cfg->min_events events; false means "no evidence either way":
 * the agent should pause rather than count the step as passed. */
int av_enough_data(const struct av_config *cfg, const struct av_state *st);

/* Current e-value, clamped to [0, 1e300] so it is always finite. */
double av_evalue(const struct av_seq_state *t);
/* Anytime-valid p-value: running minimum of min(1, 1/E). */
double av_pvalue(const struct av_seq_state *t);

/* Exact text round trip (hex floats), one line, < AV_STATE_TEXT bytes.
 * format returns the length written (like snprintf) or -1; parse returns 0
 * or -1 and leaves *st untouched on error. */
int av_state_format(const struct av_state *st, char *buf, size_t len);
int av_state_parse(struct av_state *st, const char *text);

/* ---- sample-ratio mismatch (SRM): is the split the one that was set? ----
 *
 * Each interval gives the units (flows, or responses in flow equivalents) each
 * arm got and the canary's expected share p_t (the weight, in flow mode).  The
 * null is "every unit goes to the canary with probability p_t, given the
 * interval's total"; an alternative scales the canary's odds by theta, so
 * q_t = p_t theta / (1 + p_t (theta - 1)).  The per-interval likelihood ratio
 * is the rollback test's with r_null = 1 and rho = p_t, so the same mixture
 * and change-point code runs it, with a two-sided theta grid.  A product of
 * per-interval ratios under per-interval nulls: weight steps need no restart.
 * See docs/ANALYSIS.md, "Sample-ratio mismatch". */
#define AV_SRM_TEXT    1024
#define AV_SRM_VERSION 1

struct av_srm_config {
	struct av_seq_config seq; /* r_null 1, alternatives on both sides of 1 */
	/* Derived by av_srm_finalize(). */
	uint64_t fingerprint;
	uint32_t finalized;
	uint32_t _pad;
};

struct av_srm_state {
	uint32_t version;
	uint32_t _pad;
	uint64_t fingerprint;
	uint64_t polls;	 /* av_srm_update calls */
	uint64_t used;	 /* intervals that entered the test */
	double n[2];	 /* units over used intervals, by enum av_arm */
	double expected; /* sum of p_t x total: the canary's expected units */
	struct av_seq_state seq;
};

/* alpha 0.01; theta 0.5 0.8 0.9 0.95 0.97 and their inverses, uniform; a
 * quarter of the prior on a mismatch that starts later. */
void av_srm_config_default(struct av_srm_config *cfg);
int av_srm_finalize(struct av_srm_config *cfg, char *err, size_t errlen);
void av_srm_init(struct av_srm_state *st, const struct av_srm_config *cfg);
/* One interval: units per arm (any non-negative amounts) and the canary's
 * expected share in (0, 1).  A share outside it, or no units in the
 * interval, skips it (AV_POLL_ONE_ARM, AV_POLL_IDLE). */
enum av_poll av_srm_update(const struct av_srm_config *cfg, struct av_srm_state *st,
			   double n_canary, double n_stable, double expected_share);
/* Latched once the e-value reached 1/alpha. */
int av_srm_rejected(const struct av_srm_state *st);
/* The canary's observed and expected share of the used intervals' units
 * (NAN before any). */
double av_srm_observed(const struct av_srm_state *st);
double av_srm_expected(const struct av_srm_state *st);
int av_srm_format(const struct av_srm_state *st, char *buf, size_t len);
int av_srm_parse(struct av_srm_state *st, const char *text);

/* ---- latency as a distribution: is the canary's TTFB stochastically larger? ----
 *
 * On per-arm log2 histograms (bucket i holds [2^i, 2^(i+1)) us).  For each
 * threshold k in [k_lo, k_hi] the events "TTFB >= 2^k us" over the responses
 * run the rollback count test (argument (b) of docs/ANALYSIS.md makes it exact
 * for 0/1 events of any rate).  Null: at every threshold the canary's share of
 * slower responses is at most r0 times stable's (r0 = 1: "not stochastically
 * larger" on those edges).  Under it every threshold's e-process is a test
 * supermartingale on the same data, so their mean is one too: the test decides
 * when the mean reaches 1/alpha.  See docs/ANALYSIS.md, "Latency as a
 * distribution". */
#define AV_ORDER_MAX 24 /* thresholds and histogram buckets at most */

struct av_order_config {
	struct av_config edge; /* the count test at each threshold; promotion off */
	double alpha;	       /* decide when the mean e-value >= 1/alpha */
	uint32_t k_lo, k_hi;   /* thresholds used: "TTFB >= 2^k us", inclusive */
	/* Derived by av_order_finalize(). */
	double log_threshold;
	double log_k; /* log of the number of thresholds */
	uint32_t finalized;
	uint32_t _pad;
};

struct av_order_state {
	struct av_state edge[AV_ORDER_MAX]; /* index k - k_lo */
	double log_e;			    /* log of the mean e-value */
	double log_e_max;
	uint64_t polls;
	uint64_t reject_poll; /* polls when it crossed, 0 = not */
	uint32_t rejected;
	uint32_t _pad;
};

/* alpha 0.01; each threshold: av_config_default()'s rollback test (r0 1.1, grid
 * 1.25 ... 10, change points) at the same alpha.  k_lo..k_hi should cover
 * stable's usual range (known before the rollout, like a p99 bound). */
void av_order_config_default(struct av_order_config *cfg, uint32_t k_lo, uint32_t k_hi);
int av_order_finalize(struct av_order_config *cfg, char *err, size_t errlen);
void av_order_init(struct av_order_state *st, const struct av_order_config *cfg);
/* One poll: the cumulative per-arm histograms, n buckets each (n > k_hi).
 * Returns what the poll did (as av_update, for the responses). */
enum av_poll av_order_update(const struct av_order_config *cfg, struct av_order_state *st,
			     const uint64_t *hist_canary, const uint64_t *hist_stable, size_t n);
int av_order_rejected(const struct av_order_state *st);
/* Mean e-value over the thresholds, clamped to [0, 1e300]. */
double av_order_evalue(const struct av_order_state *st);

/* Absolute guard: events/exposure > max_ratio with at least min_exposure
 * units.  Returns 1 when tripped. */
int av_guard_ratio(uint64_t events, uint64_t exposure, uint64_t min_exposure, double max_ratio);

/* TTFB histogram to counts: responses in buckets entirely above bound.
 * upper[i] is bucket i's inclusive upper edge (ascending); the last
 * bucket may be open (upper = +inf or UINT64_MAX).  A bound between edges
 * is rounded up to the next edge, so the count is never inflated; the edge
 * actually used is stored in *edge_used when not NULL. */
uint64_t av_hist_above(const uint64_t *counts, const uint64_t *upper, size_t n, uint64_t bound,
		       uint64_t *edge_used);

/* Display statistics; not used for decisions. */
struct av_interval {
	double lo, hi, p;
};
/* Wilson score interval for x of n (x clamped to n); n = 0 gives [0, 1]. */
struct av_interval av_wilson(uint64_t x, uint64_t n, double z);
/* Wald interval p +- z sqrt(p(1-p)/n), clipped to [0, 1]; baseline only. */
struct av_interval av_wald(uint64_t x, uint64_t n, double z);
/* Pooled two-proportion z statistic for "a's rate > b's"; *p_one_sided
 * (may be NULL) gets 1 - Phi(z).  Empty or degenerate data gives z = 0. */
double av_ztest(uint64_t xa, uint64_t na, uint64_t xb, uint64_t nb, double *p_one_sided);
/* Standard normal CDF. */
double av_norm_cdf(double z);

const char *av_poll_name(enum av_poll p);
const char *av_verdict_name(enum av_verdict v);
const char *av_unit_name(enum av_unit u);

#endif
