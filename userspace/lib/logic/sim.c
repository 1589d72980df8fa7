/* Rollout simulator: xoshiro256** PRNG, exact Poisson/binomial samplers, and
 * the per-second rollout loop that runs every decision rule on one stream. */
#include "logic/sim.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t sim_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void sim_seed(struct sim_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = sim_splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sim_next(struct sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double sim_uniform(struct sim_rng *r)
{
	/* 53 random bits, centred in their cell so 0 and 1 never occur. */
	return ((double)(sim_next(r) >> 11) + 0.5) * 0x1.0p-53;
}

uint64_t sim_poisson(struct sim_rng *r, double mean)
{
	if (!(mean > 0))
		return 0;
	if (mean < 10) {
		/* Inversion by sequential search: O(mean) steps. */
		double u = sim_uniform(r), p = exp(-mean), f = p;
		uint64_t k = 0;

		while (u > f && k < 1000) {
			k++;
			p *= mean / (double)k;
			f += p;
		}
		return k;
	}
	/* PTRS, W. Hoermann, "The transformed rejection method for generating
	 * Poisson random variables", Insurance: Math. and Econ. 12 (1993). */
	double slam = sqrt(mean), loglam = log(mean);
	double b = 0.931 + 2.53 * slam;
	double a = -0.059 + 0.02483 * b;
	double invalpha = 1.1239 + 1.1328 / (b - 3.4);
	double vr = 0.9277 - 3.6224 / (b - 2);

	for (;;) {
		double u = sim_uniform(r) - 0.5, v = sim_uniform(r);
		double us = 0.5 - fabs(u);
		double k = floor((2 * a / us + b) * u + mean + 0.43);

		if (us >= 0.07 && v <= vr)
			return (uint64_t)k;
		if (k < 0 || (us < 0.013 && v > us))
			continue;
		if (log(v) + log(invalpha) - log(a / (us * us) + b) <=
		    -mean + k * loglam - lgamma(k + 1))
			return (uint64_t)k;
	}
}

static uint64_t binomial_small(struct sim_rng *r, uint64_t n, double p)
{
	/* Inversion (Kachitvichyanukul & Schmeiser's BINV), for n p < 10. */
	double q = 1 - p, s = p / q, a = (double)(n + 1) * s, r0 = pow(q, (double)n);

	for (;;) {
		double u = sim_uniform(r), f = r0;
		uint64_t x = 0;

		while (u > f) {
			u -= f;
			x++;
			if (x > n)
				break;
			f *= a / (double)x - s;
		}
		if (x <= n)
			return x;
	}
}

static uint64_t binomial_btrs(struct sim_rng *r, uint64_t n, double p)
{
	/* BTRS, W. Hoermann, "The generation of binomial random variates",
	 * J. Statist. Comput. Simul. 46 (1993), for n p >= 10, p <= 1/2. */
	double nn = (double)n, q = 1 - p;
	double spq = sqrt(nn * p * q);
	double b = 1.15 + 2.53 * spq;
	double a = -0.0873 + 0.0248 * b + 0.01 * p;
	double c = nn * p + 0.5;
	double vr = 0.92 - 4.2 / b;
	double alpha = (2.83 + 5.1 / b) * spq;
	double lpq = log(p / q);
	double m = floor((nn + 1) * p);
	double h = lgamma(m + 1) + lgamma(nn - m + 1);

	for (;;) {
		double u = sim_uniform(r) - 0.5, v = sim_uniform(r);
		double us = 0.5 - fabs(u);
		double k = floor((2 * a / us + b) * u + c);

		if (k < 0 || k > nn)
			continue;
		if (us >= 0.07 && v <= vr)
			return (uint64_t)k;
		v = log(v * alpha / (a / (us * us) + b));
		if (v <= h - lgamma(k + 1) - lgamma(nn - k + 1) + (k - m) * lpq)
			return (uint64_t)k;
	}
}

uint64_t sim_binomial(struct sim_rng *r, uint64_t n, double p)
{
	if (n == 0 || !(p > 0))
		return 0;
	if (p >= 1)
		return n;
	if (p > 0.5)
		return n - sim_binomial(r, n, 1 - p);
	if ((double)n * p < 10)
		return binomial_small(r, n, p);
	return binomial_btrs(r, n, p);
}

void sim_scenario_default(struct sim_scenario *sc, const char *name, double rps, double p,
			  double ratio)
{
	static const double w[] = {0.01, 0.05, 0.25, 0.50};

	memset(sc, 0, sizeof(*sc));
	sc->name = name;
	sc->rps = rps;
	sc->p_stable = p;
	sc->ratio = ratio;
	sc->n_steps = 4;
	memcpy(sc->weight, w, sizeof(w));
	sc->step_secs = 150;
	sc->alpha = 0.01;
	/* Flagger's usual analysis: 1 minute interval, 5 failed checks. */
	sc->thresh_interval = 60;
	sc->thresh_failures = 5;
}

const char *sim_method_name(enum sim_method m)
{
	static const char *const names[] = {"sequential (this library)",
					    "sequential, no change-point",
					    "repeated z-test",
					    "threshold 1x base, 5 fails",
					    "threshold 2x base, 5 fails",
					    "oracle SPRT (true ratio)"};

	return (unsigned)m < SIM_NMETHODS ? names[m] : "?";
}

struct job {
	const struct sim_scenario *sc;
	const struct av_config *seq, *fix, *orc; /* orc NULL: no oracle */
	const struct av_srm_config *srm;
	struct sim_result *res;
	uint64_t seed, first, stride;
	double zcrit;
};

static double norm_quantile(double q)
{
	double lo = -40, hi = 40;
	int i;

	for (i = 0; i < 200; i++) {
		double mid = (lo + hi) / 2;

		if (av_norm_cdf(mid) < q)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

static int thresh_bad(const struct sim_scenario *sc, uint64_t x, uint64_t n, double limit)
{
	double rate = (double)x / (double)n;

	return sc->lower_is_worse ? rate < limit : rate > limit;
}

/* The Flagger-style rules at the end of a check interval: wn canary units, wx events. */
static void thresh_check(const struct sim_scenario *sc, uint32_t t, uint64_t wn, uint64_t wx,
			 const double *lim, uint32_t *fails, uint32_t *when)
{
	int m;

	for (m = 0; m < 2; m++) {
		/* No canary traffic: no metric, no verdict. */
		if (wn && thresh_bad(sc, wx, wn, lim[m]))
			fails[m]++;
		if (fails[m] >= sc->thresh_failures && when[SIM_THRESH1 + m] == SIM_NEVER)
			when[SIM_THRESH1 + m] = t;
	}
}

/* Client mode: each step's canary share of units, from clients whose bucket falls
 * below the step's weight (a client keeps its bucket as the weight grows). */
static void client_shares(const struct sim_scenario *sc, struct sim_rng *rng, double *share)
{
	double light =
	    sc->clients > sc->heavy ? (1 - sc->heavy_share) / (sc->clients - sc->heavy) : 0;
	double heavy = sc->heavy ? sc->heavy_share / sc->heavy : 0;
	uint32_t i, k;

	for (k = 0; k < sc->n_steps; k++)
		share[k] = 0;
	for (i = 0; i < sc->clients; i++) {
		double u = sim_uniform(rng);

		for (k = 0; k < sc->n_steps; k++)
			if (u < sc->weight[k])
				share[k] += i < sc->heavy ? heavy : light;
	}
}

static void one_rollout(const struct job *j, uint64_t idx)
{
	const struct sim_scenario *sc = j->sc;
	struct sim_result *res = j->res;
	struct sim_rng rng;
	struct av_state seq, fix, orc;
	uint64_t nc = 0, xc = 0, ns = 0, xs = 0, wn = 0, wx = 0;
	uint32_t fails[2] = {0, 0}, when[SIM_NMETHODS], step = 0, step_t = 0, t = 0;
	uint32_t promote = SIM_NEVER, srm_when = SIM_NEVER, harm = 0, hold;
	uint64_t step_n = 0;
	struct av_srm_state srm;
	double lim[2], share[SIM_MAX_STEPS];
	uint64_t s = j->seed ^ (idx * 0xd1b54a32d192ed03ULL);
	int m;

	sim_seed(&rng, sim_splitmix64(&s));
	av_state_init(&seq, j->seq);
	av_state_init(&fix, j->fix);
	av_update(j->seq, &seq, 0, 0, 0, 0);
	av_update(j->fix, &fix, 0, 0, 0, 0);
	if (j->orc)
		av_state_init(&orc, j->orc);
	av_srm_init(&srm, j->srm);
	memcpy(share, sc->weight, sizeof(share));
	if (sc->clients)
		client_shares(sc, &rng, share);
	for (m = 0; m < SIM_NMETHODS; m++)
		when[m] = SIM_NEVER;
	lim[0] = sc->p_stable;
	lim[1] = sc->lower_is_worse ? sc->p_stable / 2 : sc->p_stable * 2;

	while (step < sc->n_steps && t < SIM_MAX_SECS) {
		double w = sc->weight[step];
		double pc = sc->p_stable * (t >= sc->onset ? sc->ratio : 1);
		uint64_t dnc, dns, dxc, dxs;
		double z;

		t++;
		step_t++;
		dnc = sim_poisson(&rng, sc->rps * share[step] * (1 - sc->canary_loss));
		dns = sim_poisson(&rng, sc->rps * (1 - share[step]));
		dxc = sim_binomial(&rng, dnc, pc > 1 ? 1 : pc);
		dxs = sim_binomial(&rng, dns, sc->p_stable);
		nc += dnc, xc += dxc, ns += dns, xs += dxs, step_n += dnc;
		wn += dnc, wx += dxc;

		/* The flow SRM test, against the weight; a step's first second is no
		 * different here (the weight changes between seconds). */
		av_srm_update(j->srm, &srm, (double)dnc, (double)dns, w);
		if (srm_when == SIM_NEVER && av_srm_rejected(&srm))
			srm_when = t;
		if (sc->ratio != 1 && t >= sc->onset && when[SIM_SEQ] == SIM_NEVER)
			harm += (uint32_t)dnc;
		av_update(j->seq, &seq, nc, xc, ns, xs);
		av_update(j->fix, &fix, nc, xc, ns, xs);
		if (when[SIM_SEQ] == SIM_NEVER && seq.rollback.rejected)
			when[SIM_SEQ] = t;
		if (when[SIM_SEQ_FIXED] == SIM_NEVER && fix.rollback.rejected)
			when[SIM_SEQ_FIXED] = t;
		/* The oracle knows the onset: its evidence starts there. */
		if (j->orc && t >= sc->onset) {
			av_update_delta(j->orc, &orc, dnc, dxc, dns, dxs);
			if (when[SIM_ORACLE] == SIM_NEVER && orc.rollback.rejected)
				when[SIM_ORACLE] = t;
		}
		if (when[SIM_ZTEST] == SIM_NEVER) {
			z = sc->lower_is_worse ? av_ztest(xs, ns, xc, nc, NULL)
					       : av_ztest(xc, nc, xs, ns, NULL);
			if (z >= j->zcrit)
				when[SIM_ZTEST] = t;
		}
		if (t % sc->thresh_interval == 0) {
			thresh_check(sc, t, wn, wx, lim, fails, when);
			wn = wx = 0;
		}
		if (promote == SIM_NEVER && seq.promote.rejected)
			promote = t;
		hold = sc->step_hold[step] ? sc->step_hold[step] : sc->step_secs;
		if ((step_t >= hold && step_n >= sc->step_min_units[step]) ||
		    (sc->adaptive && seq.promote.rejected)) {
			step++;
			step_t = 0;
			step_n = 0;
			av_promote_reset(&seq);
		}
	}
	for (m = 0; m < SIM_NMETHODS; m++)
		res->when[m][idx] = when[m];
	res->promote[idx] = promote;
	res->srm[idx] = srm_when;
	res->harm[idx] = harm;
	res->duration[idx] = t;
}

static void *worker(void *arg)
{
	const struct job *j = arg;
	uint64_t i;

	for (i = j->first; i < j->res->rollouts; i += j->stride)
		one_rollout(j, i);
	return NULL;
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (s && *s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

static double r0_of(const struct sim_scenario *sc)
{
	struct av_config c;

	if (sc->r0 > 0)
		return sc->r0;
	if (sc->lower_is_worse)
		av_config_default_lower_is_worse(&c);
	else
		av_config_default(&c);
	return c.rollback.r_null;
}

/* The ratio as the rollback test sees it: stable over canary when lower is worse. */
static double test_ratio(const struct sim_scenario *sc)
{
	return sc->lower_is_worse ? 1 / sc->ratio : sc->ratio;
}

int sim_has_oracle(const struct sim_scenario *sc)
{
	/* The canary's probability is capped at 1, so a ratio that needs more is
	 * not the true one: no oracle then either. */
	return test_ratio(sc) > r0_of(sc) * (1 + 1e-9) && sc->p_stable * sc->ratio <= 1;
}

/* The oracle: the library's test with one alternative (the true ratio), no
 * change-point share and no promotion test. */
static int oracle_config(const struct sim_scenario *sc, const struct av_config *seq,
			 struct av_config *orc)
{
	*orc = *seq;
	orc->promote_enabled = 0;
	orc->rollback.n_alt = 1;
	orc->rollback.alt[0] = test_ratio(sc);
	orc->rollback.weight[0] = 0;
	orc->rollback.cp_share = 0;
	return av_config_finalize(orc, NULL, 0);
}

int sim_run(const struct sim_scenario *sc, uint64_t rollouts, uint64_t seed, unsigned threads,
	    struct sim_result *res)
{
	struct av_config seq, fix, orc;
	struct av_srm_config srm;
	struct job jobs[64];
	pthread_t tid[64];
	struct timespec t0, t1;
	unsigned i;
	uint64_t k;
	int m, started[64] = {0};

	memset(res, 0, sizeof(*res));
	res->rollouts = rollouts;
	if (sc->lower_is_worse)
		av_config_default_lower_is_worse(&seq);
	else
		av_config_default(&seq);
	/* The agent's test for a plan with this alpha and tolerance (the default's r0
	 * leaves the grids as they are). */
	if (av_config_tolerance(&seq, sc->lower_is_worse, sc->alpha,
				sc->r0 > 0 ? sc->r0 : seq.rollback.r_null, true, seq.unit, NULL, 0))
		return -1;
	fix = seq;
	fix.rollback.cp_share = 0;
	av_srm_config_default(&srm);
	srm.seq.alpha = sc->alpha;
	if (av_config_finalize(&seq, NULL, 0) || av_config_finalize(&fix, NULL, 0) ||
	    av_srm_finalize(&srm, NULL, 0))
		return -1;
	if (sim_has_oracle(sc) && oracle_config(sc, &seq, &orc))
		return -1;
	if (sc->clients && sc->heavy > sc->clients)
		return -1;
	if (sc->n_steps == 0 || sc->n_steps > SIM_MAX_STEPS || sc->thresh_interval == 0)
		return -1;
	for (m = 0; m < SIM_NMETHODS; m++)
		res->when[m] = calloc(rollouts ? rollouts : 1, sizeof(uint32_t));
	res->promote = calloc(rollouts ? rollouts : 1, sizeof(uint32_t));
	res->duration = calloc(rollouts ? rollouts : 1, sizeof(uint32_t));
	res->srm = calloc(rollouts ? rollouts : 1, sizeof(uint32_t));
	res->harm = calloc(rollouts ? rollouts : 1, sizeof(uint32_t));
	for (m = 0; m < SIM_NMETHODS; m++)
		if (!res->when[m])
			goto oom;
	if (!res->promote || !res->duration || !res->srm || !res->harm)
		goto oom;

	if (threads < 1)
		threads = 1;
	if (threads > 64)
		threads = 64;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < threads; i++) {
		jobs[i] = (struct job){.sc = sc,
				       .seq = &seq,
				       .fix = &fix,
				       .orc = sim_has_oracle(sc) ? &orc : NULL,
				       .srm = &srm,
				       .res = res,
				       .seed = seed ^ name_hash(sc->name),
				       .first = i,
				       .stride = threads,
				       .zcrit = norm_quantile(1 - sc->alpha)};
		if (i > 0 && pthread_create(&tid[i], NULL, worker, &jobs[i]) == 0)
			started[i] = 1;
	}
	worker(&jobs[0]);
	for (i = 1; i < threads; i++) {
		if (started[i])
			pthread_join(tid[i], NULL);
		else
			worker(&jobs[i]); /* could not start: do its share here */
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	for (k = 0; k < rollouts; k++) {
		for (m = 0; m < SIM_NMETHODS; m++)
			res->fired[m] += res->when[m][k] != SIM_NEVER;
		res->promoted += res->promote[k] != SIM_NEVER;
		res->srm_fired += res->srm[k] != SIM_NEVER;
	}
	return 0;
oom:
	sim_result_free(res);
	return -1;
}

void sim_result_free(struct sim_result *res)
{
	int m;

	for (m = 0; m < SIM_NMETHODS; m++) {
		free(res->when[m]);
		res->when[m] = NULL;
	}
	free(res->promote);
	free(res->duration);
	free(res->srm);
	free(res->harm);
	res->promote = res->duration = res->srm = res->harm = NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

uint32_t sim_quantile(const uint32_t *when, uint64_t n, double q)
{
	uint32_t *tmp, v;
	uint64_t k;

	if (n == 0)
		return SIM_NEVER;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return SIM_NEVER;
	memcpy(tmp, when, n * sizeof(*tmp));
	qsort(tmp, n, sizeof(*tmp), cmp_u32);
	k = (uint64_t)ceil(q * (double)n);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	v = tmp[k - 1];
	free(tmp);
	return v;
}

/* ---- latency as a distribution ---- */

struct lat_job {
	const struct sim_lat_scenario *sc;
	const struct av_order_config *ord;
	const struct av_config *bound;
	struct sim_lat_result *res;
	double p[2][AV_ORDER_MAX]; /* bucket probabilities, by enum av_arm */
	uint64_t seed, first, stride;
};

/* Bucket probabilities of a lognormal TTFB with median `med` us. */
static void lat_buckets(double med, double sigma, double *p)
{
	double prev = 0;
	int i;

	for (i = 0; i < AV_ORDER_MAX; i++) {
		double c = i == AV_ORDER_MAX - 1
			       ? 1
			       : av_norm_cdf((log(ldexp(1, i + 1)) - log(med)) / sigma);

		p[i] = c - prev;
		prev = c;
	}
}

/* Adds n responses to h, multinomial over p by conditional binomials. */
static void lat_sample(struct sim_rng *rng, uint64_t n, const double *p, uint64_t *h)
{
	double rest = 1;
	int i;

	for (i = 0; i < AV_ORDER_MAX && n; i++) {
		uint64_t x =
		    i == AV_ORDER_MAX - 1 || p[i] >= rest ? n : sim_binomial(rng, n, p[i] / rest);

		h[i] += x;
		n -= x;
		rest -= p[i];
	}
}

static void lat_rollout(const struct lat_job *j, uint64_t idx)
{
	const struct sim_lat_scenario *sc = j->sc;
	const struct sim_scenario *b = &sc->base;
	static __thread struct av_order_state ord; /* 24 av_states: off the stack */
	struct av_state bound;
	uint64_t h[2][AV_ORDER_MAX] = {{0}}, s = j->seed ^ (idx * 0xd1b54a32d192ed03ULL);
	uint32_t when[SIM_LAT_N] = {SIM_NEVER, SIM_NEVER}, t = 0, step, k;
	struct sim_rng rng;

	sim_seed(&rng, sim_splitmix64(&s));
	av_order_init(&ord, j->ord);
	av_state_init(&bound, j->bound);
	av_update(j->bound, &bound, 0, 0, 0, 0);
	for (step = 0; step < b->n_steps; step++) {
		for (k = 0; k < b->step_secs; k++) {
			double w = b->weight[step];
			uint64_t ac = 0, as = 0, nc = 0, ns = 0;
			int i;

			t++;
			lat_sample(&rng, sim_poisson(&rng, b->rps * w), j->p[AV_CANARY],
				   h[AV_CANARY]);
			lat_sample(&rng, sim_poisson(&rng, b->rps * (1 - w)), j->p[AV_STABLE],
				   h[AV_STABLE]);
			av_order_update(j->ord, &ord, h[AV_CANARY], h[AV_STABLE], AV_ORDER_MAX);
			for (i = 0; i < AV_ORDER_MAX; i++) {
				nc += h[AV_CANARY][i], ns += h[AV_STABLE][i];
				if ((uint32_t)i >= sc->k_bound)
					ac += h[AV_CANARY][i], as += h[AV_STABLE][i];
			}
			av_update(j->bound, &bound, nc, ac, ns, as);
			if (when[SIM_LAT_ORDER] == SIM_NEVER && av_order_rejected(&ord))
				when[SIM_LAT_ORDER] = t;
			if (when[SIM_LAT_BOUND] == SIM_NEVER && bound.rollback.rejected)
				when[SIM_LAT_BOUND] = t;
		}
	}
	for (k = 0; k < SIM_LAT_N; k++)
		j->res->when[k][idx] = when[k];
}

static void *lat_worker(void *arg)
{
	const struct lat_job *j = arg;
	uint64_t i;

	for (i = j->first; i < j->res->rollouts; i += j->stride)
		lat_rollout(j, i);
	return NULL;
}

/* Validates the scenario and builds both rules' configs. */
static int lat_setup(const struct sim_lat_scenario *sc, struct av_order_config *ord,
		     struct av_config *bound)
{
	const struct sim_scenario *b = &sc->base;

	if (b->n_steps == 0 || b->n_steps > SIM_MAX_STEPS || !(sc->median_us > 0) ||
	    !(sc->sigma > 0) || !(sc->slower > 0) || !(sc->c_sigma > 0) ||
	    sc->k_bound >= AV_ORDER_MAX)
		return -1;
	av_order_config_default(ord, sc->k_lo, sc->k_hi);
	ord->alpha = b->alpha;
	av_config_default(bound);
	bound->rollback.alpha = b->alpha;
	if (sc->r0 > 0)
		ord->edge.rollback.r_null = bound->rollback.r_null = sc->r0;
	return av_order_finalize(ord, NULL, 0) || av_config_finalize(bound, NULL, 0) ? -1 : 0;
}

int sim_lat_run(const struct sim_lat_scenario *sc, uint64_t rollouts, uint64_t seed,
		unsigned threads, struct sim_lat_result *res)
{
	struct av_order_config ord;
	struct av_config bound;
	struct lat_job jobs[64];
	pthread_t tid[64];
	struct timespec t0, t1;
	int started[64] = {0};
	unsigned i;
	uint64_t k;

	memset(res, 0, sizeof(*res));
	res->rollouts = rollouts;
	if (lat_setup(sc, &ord, &bound))
		return -1;
	for (i = 0; i < SIM_LAT_N; i++) {
		res->when[i] = calloc(rollouts ? rollouts : 1, sizeof(uint32_t));
		if (!res->when[i]) {
			sim_lat_result_free(res);
			return -1;
		}
	}
	threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < threads; i++) {
		jobs[i] = (struct lat_job){.sc = sc,
					   .ord = &ord,
					   .bound = &bound,
					   .res = res,
					   .seed = seed ^ name_hash(sc->base.name),
					   .first = i,
					   .stride = threads};
		lat_buckets(sc->median_us * sc->slower, sc->c_sigma, jobs[i].p[AV_CANARY]);
		lat_buckets(sc->median_us, sc->sigma, jobs[i].p[AV_STABLE]);
		if (i > 0 && pthread_create(&tid[i], NULL, lat_worker, &jobs[i]) == 0)
			started[i] = 1;
	}
	lat_worker(&jobs[0]);
	for (i = 1; i < threads; i++) {
		if (started[i])
			pthread_join(tid[i], NULL);
		else
			lat_worker(&jobs[i]);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	for (k = 0; k < rollouts; k++)
		for (i = 0; i < SIM_LAT_N; i++)
			res->fired[i] += res->when[i][k] != SIM_NEVER;
	return 0;
}

void sim_lat_result_free(struct sim_lat_result *res)
{
	int i;

	for (i = 0; i < SIM_LAT_N; i++) {
		free(res->when[i]);
		res->when[i] = NULL;
	}
}
