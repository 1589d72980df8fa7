/* Unit tests for the analysis library: hand-computed e-values, monotonicity,
 * edge cases, display statistics, state round trip and a reduced simulation. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "testlib.h"
#include "logic/analysis.h"
#include "logic/sim.h"

/* A config with one rollback test and nothing else, for hand arithmetic. */
static void simple_cfg(struct av_config *c, double r0, const double *alt, uint32_t n)
{
	av_config_default(c);
	c->rollback.r_null = r0;
	c->rollback.n_alt = n;
	memset(c->rollback.alt, 0, sizeof(c->rollback.alt));
	memcpy(c->rollback.alt, alt, n * sizeof(double));
	c->rollback.cp_share = 0;
	c->promote_enabled = 0;
}

static int finite_state(const struct av_state *st)
{
	const struct av_seq_state *t[2] = {&st->rollback, &st->promote};
	int i, j;

	for (i = 0; i < 2; i++) {
		for (j = 0; j < AV_MAX_ALT; j++)
			if (!isfinite(t[i]->log_lr[j]) || !isfinite(t[i]->log_cp[j]))
				return 0;
		if (!isfinite(t[i]->log_e) || !isfinite(t[i]->log_e_max) ||
		    !isfinite(av_evalue(t[i])) || !(av_pvalue(t[i]) >= 0 && av_pvalue(t[i]) <= 1))
			return 0;
	}
	return 1;
}

static const double a2[] = {2}, a24[] = {2, 4}, a22[] = {2.2};

static void hand_one_alternative(void)
{
	struct av_config c;
	struct av_state st;

	/* r0 = 1, r = 2, rho = 100/200 = 0.5, canary 3 errors, stable 1.
	 * theta0 = 0.5, theta(2) = 2*0.5/(2*0.5 + 0.5) = 2/3.
	 * LR = (2/3 / 0.5)^3 * (1/3 / 0.5)^1 = (4/3)^3 * (2/3) = 128/81. */
	simple_cfg(&c, 1, a2, 1);
	ASSERT_EQ(av_config_finalize(&c, NULL, 0), 0, "config valid");
	av_state_init(&st, &c);
	ASSERT_EQ(av_update_delta(&c, &st, 100, 3, 100, 1), AV_POLL_USED, "interval used");
	ASSERT_NEAR(av_evalue(&st.rollback), 128.0 / 81.0, 1e-12, "E = 128/81");
	ASSERT_NEAR(av_pvalue(&st.rollback), 81.0 / 128.0, 1e-12, "p = 81/128");
}

static void hand_r0(void)
{
	struct av_config c;
	struct av_state st;

	/* r0 = 1.1, r = 2.2, rho = 0.5: D(1.1) = 1.05, D(2.2) = 1.6,
	 * theta0 = 0.55/1.05, theta1 = 1.1/1.6 = 0.6875.  Canary 2, stable 0:
	 * LR = (theta1/theta0)^2 = (0.6875 * 1.05 / 0.55)^2 = 1.3125^2 = 1.72265625. */
	simple_cfg(&c, 1.1, a22, 1);
	av_config_finalize(&c, NULL, 0);
	av_state_init(&st, &c);
	av_update_delta(&c, &st, 10, 2, 10, 0);
	ASSERT_NEAR(av_evalue(&st.rollback), 1.72265625, 1e-12, "E = 1.3125^2");
}

static void hand_uniform_mixture(void)
{
	struct av_config c;
	struct av_state st;

	/* r0 = 1, alternatives 2 and 4, weights 1/2 each.
	 * Poll 1: rho = 20/100 = 0.2, canary 2, stable 2.
	 *   theta0 = 0.2, theta(2) = 0.4/1.2 = 1/3, theta(4) = 0.8/1.6 = 0.5.
	 *   LR(2) = (5/3)^2 (5/6)^2 = (25/18)^2 = 625/324 = 1.929012...
	 *   LR(4) = 2.5^2 * 0.625^2 = 2.44140625
	 *   E = (1.929012 + 2.441406) / 2 = 2.185209...
	 * Poll 2 (weight changed): rho = 0.5, canary 1, stable 0.
	 *   LR(2) = (2/3)/(1/2) = 4/3, LR(4) = (2/2.5)/(1/2) = 1.6
	 *   E = (625/324 * 4/3 + 2.44140625 * 1.6) / 2 = 3.239133... */
	simple_cfg(&c, 1, a24, 2);
	av_config_finalize(&c, NULL, 0);
	av_state_init(&st, &c);
	av_update_delta(&c, &st, 20, 2, 80, 2);
	ASSERT_NEAR(av_evalue(&st.rollback), (625.0 / 324 + 2.44140625) / 2, 1e-12,
		    "E after poll 1");
	av_update_delta(&c, &st, 50, 1, 50, 0);
	ASSERT_NEAR(av_evalue(&st.rollback), (625.0 / 324 * 4 / 3 + 2.44140625 * 1.6) / 2, 1e-12,
		    "E after poll 2");
	ASSERT_EQ(st.used, 2, "two used polls");
}

static void hand_weighted_prior(void)
{
	struct av_config c;
	struct av_state st;

	/* Poll 1 of the uniform mixture with weights 3:1 -> 0.75 * 625/324 + 0.25 * 2.44140625. */
	simple_cfg(&c, 1, a24, 2);
	c.rollback.weight[0] = 3;
	c.rollback.weight[1] = 1;
	av_config_finalize(&c, NULL, 0);
	av_state_init(&st, &c);
	av_update_delta(&c, &st, 20, 2, 80, 2);
	ASSERT_NEAR(av_evalue(&st.rollback), 0.75 * 625.0 / 324 + 0.25 * 2.44140625, 1e-12,
		    "E = 2.057111");
}

static void hand_change_point(void)
{
	struct av_config c;
	struct av_state st;

	/* r0 = 1, r = 2, cp_share 1/2, cp_rate 1/2, two polls with rho = 0.5,
	 * canary 1, stable 0: LR = 4/3 each poll.  pi_1 = 1/2, pi_2 = 1/4.
	 * Poll 1: E_fix = 4/3, S = pi_1 LR = 2/3, rest = 1/2, E_cp = 7/6,
	 *         E = (4/3 + 7/6) / 2 = 1.25.
	 * Poll 2: E_fix = 16/9, S = (2/3 + 1/4) 4/3 = 11/9, rest = 1/4,
	 *         E_cp = 53/36, E = (16/9 + 53/36) / 2 = 1.625. */
	simple_cfg(&c, 1, a2, 1);
	c.rollback.cp_share = 0.5;
	c.rollback.cp_rate = 0.5;
	av_config_finalize(&c, NULL, 0);
	av_state_init(&st, &c);
	av_update_delta(&c, &st, 10, 1, 10, 0);
	ASSERT_NEAR(av_evalue(&st.rollback), 1.25, 1e-12, "E after poll 1");
	av_update_delta(&c, &st, 10, 1, 10, 0);
	ASSERT_NEAR(av_evalue(&st.rollback), 1.625, 1e-12, "E after poll 2");
}

static void hand_mirror(void)
{
	struct av_config c;
	struct av_state st;

	/* Promotion null r >= r_max = 2, alternative r = 1, rho = 0.5,
	 * canary 0, stable 3: theta_M = 2/3, theta_1 = 1/2,
	 * LR = ((1 - 1/2) / (1 - 2/3))^3 = 1.5^3 = 3.375. */
	simple_cfg(&c, 1.1, a2, 1);
	c.promote_enabled = 1;
	c.promote.r_null = 2;
	c.promote.n_alt = 1;
	c.promote.alt[0] = 1;
	c.promote.cp_share = 0;
	ASSERT_EQ(av_config_finalize(&c, NULL, 0), 0, "config valid");
	av_state_init(&st, &c);
	av_update_delta(&c, &st, 50, 0, 50, 3);
	ASSERT_NEAR(av_evalue(&st.promote), 3.375, 1e-12, "E = 1.5^3");
}

static void decision_latches(void)
{
	struct av_config c;
	struct av_state st;
	double p_before;
	int i;

	/* alpha = 0.5: reject once E >= 2.  Each poll with rho = 0.5 and one
	 * canary error multiplies E by 4/3: 1.33, 1.78, 2.37 -> third poll. */
	simple_cfg(&c, 1, a2, 1);
	c.rollback.alpha = 0.5;
	av_config_finalize(&c, NULL, 0);
	av_state_init(&st, &c);
	av_update(&c, &st, 0, 0, 0, 0);
	for (i = 1; i <= 2; i++)
		av_update(&c, &st, 10 * i, i, 10 * i, 0);
	ASSERT_EQ(av_verdict(&c, &st), AV_CONTINUE, "E = 16/9 < 2: continue");
	av_update(&c, &st, 30, 3, 30, 0);
	ASSERT_EQ(av_verdict(&c, &st), AV_ROLLBACK, "E = 64/27 >= 2: rollback");
	ASSERT_EQ(st.rollback.reject_poll, 4, "crossed at the 4th call");
	p_before = av_pvalue(&st.rollback);
	ASSERT_NEAR(p_before, 27.0 / 64, 1e-12, "p = 27/64");
	/* Stable errors now push E down, but the decision and p stay. */
	av_update(&c, &st, 40, 3, 40, 20);
	ASSERT_TRUE(av_evalue(&st.rollback) < 1, "E fell below 1");
	ASSERT_EQ(av_verdict(&c, &st), AV_ROLLBACK, "rollback is latched");
	ASSERT_NEAR(av_pvalue(&st.rollback), p_before, 0, "p-value did not rise");
}

static void mirror_promotes(void)
{
	struct av_config c;
	struct sim_rng r;
	struct av_state good, bad;
	uint64_t n[2] = {0, 0}, xg[2] = {0, 0}, xb[2] = {0, 0};
	const int npolls = 600;
	int i;

	av_config_default(&c);
	av_config_finalize(&c, NULL, 0);
	av_state_init(&good, &c);
	av_state_init(&bad, &c);
	sim_seed(&r, 7);
	for (i = 0; i < npolls; i++) {
		n[0] += 1000;
		n[1] += 1000;
		xg[0] += sim_binomial(&r, 1000, 0.01);
		xg[1] += sim_binomial(&r, 1000, 0.01);
		xb[0] += sim_binomial(&r, 1000, 0.03);
		xb[1] += sim_binomial(&r, 1000, 0.01);
		av_update(&c, &good, n[0], xg[0], n[1], xg[1]);
		av_update(&c, &bad, n[0], xb[0], n[1], xb[1]);
	}
	ASSERT_EQ(av_verdict(&c, &good), AV_PROMOTE, "healthy canary: promote");
	ASSERT_TRUE(good.promote.reject_poll < 300, "healthy: promoted within 300 polls");
	ASSERT_EQ(av_verdict(&c, &bad), AV_ROLLBACK, "3x canary: rollback");
	ASSERT_TRUE(!bad.promote.rejected, "3x canary: promotion test never crossed");
	ASSERT_TRUE(bad.promote.log_e < 0, "3x canary: promotion evidence below 1");
	av_promote_reset(&good);
	ASSERT_EQ(av_verdict(&c, &good), AV_CONTINUE, "promote reset clears only promote");
	ASSERT_EQ(good.rollback.steps, npolls - 1,
		  "rollback evidence kept (every poll after the baseline used)");
}

static double e_after(const struct av_config *c, const uint64_t (*polls)[4], int n, int which)
{
	struct av_state st;
	int i;

	av_state_init(&st, c);
	for (i = 0; i < n; i++)
		av_update_delta(c, &st, polls[i][0], polls[i][1], polls[i][2], polls[i][3]);
	return which ? st.promote.log_e : st.rollback.log_e;
}

static void test_monotone(void)
{
	struct av_config c;
	struct sim_rng r;
	uint64_t polls[20][4];
	int trial, bad_up = 0, bad_move = 0, bad_prom = 0, moves = 0, k, i;

	av_config_default(&c);
	av_config_finalize(&c, NULL, 0);
	sim_seed(&r, 11);
	for (trial = 0; trial < 500; trial++) {
		int n = 1 + (int)(sim_next(&r) % 20);

		for (i = 0; i < n; i++) {
			polls[i][0] = 1 + sim_next(&r) % 500;
			polls[i][1] = sim_next(&r) % 8;
			polls[i][2] = 1 + sim_next(&r) % 500;
			polls[i][3] = sim_next(&r) % 8;
		}
		k = (int)(sim_next(&r) % (uint64_t)n);
		{
			double base = e_after(&c, polls, n, 0), pbase = e_after(&c, polls, n, 1);
			double up, prom, moved = base;

			/* One more canary error at poll k. */
			polls[k][1]++;
			up = e_after(&c, polls, n, 0);
			prom = e_after(&c, polls, n, 1);
			/* The same error taken from stable instead: total unchanged. */
			if (polls[k][3] > 0) {
				polls[k][3]--;
				moved = e_after(&c, polls, n, 0);
				polls[k][3]++;
				bad_move += !(moved > up);
				moves++;
			}
			polls[k][1]--;
			bad_up += !(up > base);
			bad_prom += !(prom < pbase);
		}
	}
	ASSERT_EQ(bad_up, 0, "an extra canary error always raises the rollback evidence");
	ASSERT_EQ(bad_move, 0, "moving an error from stable to canary raises it more");
	ASSERT_EQ(bad_prom, 0, "an extra canary error always lowers the promotion evidence");
	TL_REPORT(moves > 0, "the move check ran on %d of the histories (a stable error at k)",
		  moves);
}

static void test_edges(void)
{
	struct av_config c;
	struct av_state st, ref;
	char err[128];
	double before;

	av_config_default(&c);
	ASSERT_EQ(av_config_finalize(&c, err, sizeof(err)), 0, "defaults are valid");

	TEST_STEP("first poll is a baseline");
	av_state_init(&st, &c);
	ASSERT_EQ(av_update(&c, &st, 1000, 10, 1000, 10), AV_POLL_BASELINE, "baseline");
	ASSERT_EQ(st.used, 0, "nothing used");
	ASSERT_NEAR(av_evalue(&st.rollback), 1, 0, "E = 1");

	TEST_STEP("rho = 0, rho = 1, no traffic");
	ASSERT_EQ(av_update(&c, &st, 1000, 15, 2000, 20), AV_POLL_ONE_ARM,
		  "canary events without canary exposure: skipped");
	ASSERT_EQ(av_update(&c, &st, 1500, 15, 2000, 30), AV_POLL_ONE_ARM,
		  "no stable exposure: skipped");
	ASSERT_EQ(av_update(&c, &st, 1500, 17, 2000, 33), AV_POLL_IDLE, "no exposure: idle");
	ASSERT_EQ(av_update(&c, &st, 1500, 17, 2000, 33), AV_POLL_IDLE, "nothing: idle");
	ASSERT_NEAR(st.rollback.log_e, 0, 0, "no evidence moved");
	ASSERT_EQ(st.idle_run, 5, "five polls without a used interval");
	ASSERT_EQ(st.skip_one_arm, 2, "two one-arm polls");
	ASSERT_EQ(st.skip_idle, 2, "two idle polls");
	ASSERT_TRUE(!av_enough_data(&c, &st), "no data: not enough to decide");
	ASSERT_EQ(av_update(&c, &st, 1600, 18, 2100, 34), AV_POLL_USED, "traffic again: used");
	ASSERT_EQ(st.idle_run, 0, "idle run cleared");
	ASSERT_EQ(st.n[AV_CANARY], 100, "only the used delta counted");

	TEST_STEP("counter reset");
	before = st.rollback.log_e;
	ASSERT_EQ(av_update(&c, &st, 50, 1, 2200, 35), AV_POLL_RESET, "canary went backwards");
	ASSERT_NEAR(st.rollback.log_e, before, 0, "reset interval ignored");
	ASSERT_EQ(st.resets, 1, "reset counted");
	/* After the reset the new values are the baseline: the next delta is
	 * (100, 1, 100, 1), the same as feeding that delta to a copy. */
	ref = st;
	av_update_delta(&c, &ref, 100, 1, 100, 1);
	ASSERT_EQ(av_update(&c, &st, 150, 2, 2300, 36), AV_POLL_USED, "re-baselined");
	ASSERT_NEAR(st.rollback.log_e, ref.rollback.log_e, 0, "delta taken from the new baseline");
	ASSERT_EQ(av_update(&c, &st, 150, 0, 2300, 36), AV_POLL_RESET, "events went backwards");

	TEST_STEP("huge counts stay finite");
	av_state_init(&st, &c);
	av_update(&c, &st, 0, 0, 0, 0);
	av_update(&c, &st, UINT64_MAX, UINT64_MAX, UINT64_MAX, 0);
	ASSERT_TRUE(finite_state(&st), "all canary errors, 2^64 of them: finite");
	ASSERT_NEAR(av_evalue(&st.rollback), 1e300, 0, "E clamped to 1e300");
	ASSERT_EQ(av_verdict(&c, &st), AV_ROLLBACK, "rollback");
	av_state_init(&st, &c);
	av_update_delta(&c, &st, 1, 0, UINT64_MAX, UINT64_MAX);
	ASSERT_TRUE(finite_state(&st), "rho = 2^-64, 2^64 stable errors: finite");
	ASSERT_TRUE(av_evalue(&st.rollback) >= 0 && av_pvalue(&st.rollback) == 1, "E tiny, p = 1");
	av_state_init(&st, &c);
	av_update_delta(&c, &st, UINT64_MAX, 5, 1, 1000);
	ASSERT_TRUE(finite_state(&st), "rho rounds to 1: finite");
	av_update_delta(&c, &st, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX);
	av_update_delta(&c, &st, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX);
	ASSERT_EQ(st.n[AV_CANARY], UINT64_MAX, "totals saturate instead of wrapping");
	ASSERT_TRUE(finite_state(&st), "saturated totals: finite");
}

static void config_validation(void)
{
	struct av_config c;
	char err[128] = "";

	av_config_default(&c);
	c.rollback.alt[0] = 1.1; /* == r0 */
	ASSERT_EQ(av_config_finalize(&c, err, sizeof(err)), -1, "alternative == r0 rejected");
	ASSERT_TRUE(strstr(err, "r0") != NULL, "reason names r0");
	av_config_default(&c);
	c.promote.alt[5] = 1.5; /* == r_max */
	ASSERT_EQ(av_config_finalize(&c, err, sizeof(err)), -1, "alternative == r_max rejected");
	av_config_default(&c);
	c.rollback.n_alt = 0;
	ASSERT_EQ(av_config_finalize(&c, NULL, 0), -1, "empty grid rejected");
	av_config_default(&c);
	c.rollback.alpha = 1;
	ASSERT_EQ(av_config_finalize(&c, NULL, 0), -1, "alpha = 1 rejected");
	av_config_default(&c);
	c.rollback.r_null = NAN;
	ASSERT_EQ(av_config_finalize(&c, NULL, 0), -1, "NaN r0 rejected");
	av_config_default(&c);
	c.rollback.weight[0] = 1;
	ASSERT_EQ(av_config_finalize(&c, NULL, 0), -1, "partly zero weights rejected");
	av_config_default(&c);
	c.rollback.cp_share = 1;
	ASSERT_EQ(av_config_finalize(&c, NULL, 0), -1, "cp_share = 1 rejected");
	av_config_default(&c);
	c.promote_enabled = 0;
	c.promote.n_alt = 0;
	ASSERT_EQ(av_config_finalize(&c, NULL, 0), 0, "promote grid ignored when disabled");
}

static void config_refused(void)
{
	struct av_config c, d;
	struct av_state st;

	av_config_default(&c);
	av_state_init(&st, &c);
	ASSERT_EQ(av_update(&c, &st, 1, 1, 1, 1), AV_POLL_ERROR, "not finalised");
	ASSERT_EQ(st.polls, 0, "refused polls are not counted");
	av_config_finalize(&c, NULL, 0);
	av_state_init(&st, &c);
	d = c;
	d.rollback.r_null = 1.2;
	av_config_finalize(&d, NULL, 0);
	ASSERT_TRUE(d.fingerprint != c.fingerprint, "r0 changes the fingerprint");
	ASSERT_EQ(av_update(&d, &st, 1, 1, 1, 1), AV_POLL_ERROR, "state of another r0 refused");
	d = c;
	d.rollback.alpha = 0.05;
	av_config_finalize(&d, NULL, 0);
	ASSERT_EQ(d.fingerprint, c.fingerprint, "alpha does not change the fingerprint");
}

static void test_lower_is_worse(void)
{
	struct av_config lo, hi;
	struct av_state a, b;

	av_config_default_lower_is_worse(&lo);
	hi = lo;
	hi.lower_is_worse = 0;
	av_config_finalize(&lo, NULL, 0);
	av_config_finalize(&hi, NULL, 0);
	av_state_init(&a, &lo);
	av_state_init(&b, &hi);
	/* Canary 30 successes of 400, stable 90 of 800. */
	av_update_delta(&lo, &a, 400, 30, 800, 90);
	av_update_delta(&hi, &b, 800, 90, 400, 30);
	ASSERT_NEAR(a.rollback.log_e, b.rollback.log_e, 1e-12, "same as the mirrored input");
	ASSERT_TRUE(a.rollback.log_e > 0, "canary CTR 7.5% vs 11.25%: evidence rises");
	ASSERT_EQ(a.x[AV_CANARY], 30, "totals kept in real arm order");
	av_state_init(&a, &lo);
	av_update_delta(&lo, &a, 400, 60, 800, 90);
	ASSERT_TRUE(a.rollback.log_e < 0, "canary CTR higher: evidence falls");
}

static void wilson(void)
{
	struct av_interval w;

	/* 1 of 10, z = 1.96: d = 1 + 3.8416/10 = 1.38416,
	 * centre = (0.1 + 3.8416/20) / d = 0.29208 / 1.38416 = 0.2110161,
	 * half = 1.96 sqrt(0.009 + 3.8416/400) / d = 1.96 * 0.1363965 / d = 0.1931403
	 * -> [0.0178757, 0.4041564]. */
	w = av_wilson(1, 10, 1.96);
	ASSERT_NEAR(w.lo, 0.0178757, 1e-6, "lo");
	ASSERT_NEAR(w.hi, 0.4041564, 1e-6, "hi");
	w = av_wilson(0, 50, 1.96);
	ASSERT_NEAR(w.lo, 0, 0, "0 of 50: lo = 0");
	/* hi = z^2/n / (1 + z^2/n) = 0.076832 / 1.076832 = 0.0713500 */
	ASSERT_NEAR(w.hi, 0.0713500, 1e-6, "0 of 50: hi");
	w = av_wilson(0, 0, 1.96);
	ASSERT_TRUE(w.lo == 0 && w.hi == 1 && w.p == 0, "n = 0: [0, 1]");
	w = av_wilson(7, 5, 1.96);
	ASSERT_TRUE(w.p == 1 && w.hi == 1 && isfinite(w.lo), "x > n clamped");
}

static void wald(void)
{
	struct av_interval w;

	/* 10 of 100: 0.1 +- 1.96 * sqrt(0.09/100) = 0.1 +- 0.0588. */
	w = av_wald(10, 100, 1.96);
	ASSERT_NEAR(w.lo, 0.0412, 1e-12, "lo");
	ASSERT_NEAR(w.hi, 0.1588, 1e-12, "hi");
	w = av_wald(0, 100, 1.96);
	ASSERT_TRUE(w.lo == 0 && w.hi == 0, "0 of n: zero width (why it is only a baseline)");
}

static void ztest(void)
{
	double p, z;

	/* 30/1000 vs 20/1000: pool = 0.025,
	 * se = sqrt(0.025 * 0.975 * 0.002) = 0.00698212, z = 0.01 / se = 1.43223,
	 * one-sided p = 1 - Phi(1.43223) = 0.0760390. */
	z = av_ztest(30, 1000, 20, 1000, &p);
	ASSERT_NEAR(z, 1.432229, 1e-6, "z");
	ASSERT_NEAR(p, 0.0760390, 1e-6, "p");
	z = av_ztest(0, 0, 5, 10, &p);
	ASSERT_TRUE(z == 0 && p == 0.5, "empty arm: z = 0");
	z = av_ztest(0, 10, 0, 10, &p);
	ASSERT_TRUE(z == 0 && p == 0.5, "no events: z = 0, no NaN");
	ASSERT_NEAR(av_norm_cdf(1.959963984540054), 0.975, 1e-12, "Phi(1.96) = 0.975");
}

static void hist_above(void)
{
	const uint64_t up[] = {10, 50, 100, 200, 500, UINT64_MAX};
	const uint64_t cnt[] = {5, 40, 30, 15, 7, 3};
	uint64_t edge;

	ASSERT_EQ(av_hist_above(cnt, up, 6, 100, &edge), 15 + 7 + 3, "bound on an edge");
	ASSERT_EQ(edge, 100, "edge 100 used");
	ASSERT_EQ(av_hist_above(cnt, up, 6, 120, &edge), 7 + 3, "bound between edges rounds up");
	ASSERT_EQ(edge, 200, "edge 200 used");
	ASSERT_EQ(av_hist_above(cnt, up, 6, 0, NULL), 95, "bound 0: all but the first bucket");
	ASSERT_EQ(av_hist_above(cnt, up, 6, 1000, NULL), 0, "bound in the open bucket: 0");
}

static void guard_ratio(void)
{
	ASSERT_EQ(av_guard_ratio(21, 100, 100, 0.2), 1, "21% of 100 > 20%: trip");
	ASSERT_EQ(av_guard_ratio(20, 100, 100, 0.2), 0, "20% of 100: no trip");
	ASSERT_EQ(av_guard_ratio(50, 99, 100, 0.2), 0, "too few responses: no trip");
	ASSERT_EQ(av_guard_ratio(0, 0, 0, 0.2), 0, "nothing: no trip");
}

static void test_roundtrip(void)
{
	struct av_config c;
	struct av_state a, b, once;
	struct sim_rng r;
	char text[AV_STATE_TEXT];
	uint64_t nc = 0, xc = 0, ns = 0, xs = 0;
	int i, len;

	TEST_STEP("round trip");
	av_config_default(&c);
	av_config_finalize(&c, NULL, 0);
	av_state_init(&a, &c);
	av_state_init(&once, &c);
	sim_seed(&r, 3);
	for (i = 0; i < 400; i++) {
		uint64_t dnc = sim_poisson(&r, 50), dns = sim_poisson(&r, 950);

		nc += dnc, ns += dns;
		xc += sim_binomial(&r, dnc, 0.02);
		xs += sim_binomial(&r, dns, 0.01);
		if (i == 150)
			nc = xc = 0; /* a canary counter reset on the way */
		av_update(&c, &once, nc, xc, ns, xs);
		if (i < 200) {
			av_update(&c, &a, nc, xc, ns, xs);
			continue;
		}
		if (i == 200) {
			/* "Agent restart": save, forget, restore. */
			len = av_state_format(&a, text, sizeof(text));
			ASSERT_TRUE(len > 0 && len < AV_STATE_TEXT, "formatted");
			memset(&b, 0xa5, sizeof(b));
			ASSERT_EQ(av_state_parse(&b, text), 0, "parsed");
			ASSERT_MEM_EQ(&a, &b, sizeof(a), "restored state is bit-identical");
		}
		av_update(&c, &b, nc, xc, ns, xs);
	}
	ASSERT_MEM_EQ(&b, &once, sizeof(b), "evidence continued as if nothing happened");
	ASSERT_TRUE(once.rollback.steps > 300, "the run used most polls");

	TEST_STEP("extremes and garbage");
	a = once;
	for (i = 0; i < AV_MAX_ALT; i++) {
		a.rollback.log_lr[i] = -DBL_MAX;
		a.rollback.log_cp[i] = -DBL_MIN / 3; /* subnormal */
		a.promote.log_lr[i] = -1.0000000000000002e300;
		a.promote.log_cp[i] = DBL_MAX;
	}
	a.polls = a.n[0] = a.prev_x[1] = UINT64_MAX;
	len = av_state_format(&a, text, sizeof(text));
	ASSERT_TRUE(len > 0 && len < AV_STATE_TEXT, "worst case fits AV_STATE_TEXT");
	ASSERT_EQ(av_state_parse(&b, text), 0, "parsed");
	ASSERT_MEM_EQ(&a, &b, sizeof(a), "extremes round trip exactly");
	ASSERT_EQ(av_state_format(&a, text, 100), -1, "short buffer refused");
	av_state_format(&once, text, sizeof(text));
	b = once;
	text[strlen(text) - 3] = '\0';
	ASSERT_EQ(av_state_parse(&b, text), -1, "truncated text refused");
	ASSERT_MEM_EQ(&b, &once, sizeof(b), "state untouched on error");
	ASSERT_EQ(av_state_parse(&b, "av1 fp=zz"), -1, "garbage refused");
	ASSERT_EQ(av_state_parse(&b, "av2 fp=0"), -1, "other version refused");
	av_state_format(&once, text, sizeof(text));
	*strstr(text, "Re=") = 'X';
	ASSERT_EQ(av_state_parse(&b, text), -1, "renamed key refused");
}

static void test_samplers(void)
{
	struct sim_rng r;
	const double means[] = {0.3, 4, 50, 2000};
	double s, s2, m, v;
	int i, k, n = 200000;

	sim_seed(&r, 5);
	for (i = 0; i < 4; i++) {
		s = s2 = 0;
		for (k = 0; k < n; k++) {
			double x = (double)sim_poisson(&r, means[i]);

			s += x;
			s2 += x * x;
		}
		m = s / n;
		v = s2 / n - m * m;
		/* 5 standard errors of the mean and (roughly) of the variance. */
		ASSERT_NEAR(m, means[i], 5 * sqrt(means[i] / n), "Poisson mean");
		ASSERT_NEAR(v, means[i], 5 * means[i] * sqrt(2.0 / n) + 5 * sqrt(means[i] / n),
			    "Poisson variance");
	}
	{
		const uint64_t bn[] = {100, 200, 5000, 30};
		const double bp[] = {0.01, 0.1, 0.3, 0.9};

		for (i = 0; i < 4; i++) {
			double mu = (double)bn[i] * bp[i], var = mu * (1 - bp[i]);

			s = s2 = 0;
			for (k = 0; k < n; k++) {
				double x = (double)sim_binomial(&r, bn[i], bp[i]);

				s += x;
				s2 += x * x;
			}
			m = s / n;
			v = s2 / n - m * m;
			ASSERT_NEAR(m, mu, 5 * sqrt(var / n), "binomial mean");
			ASSERT_NEAR(v, var, 5 * var * sqrt(2.0 / n) + 5 * sqrt(var / n),
				    "binomial variance");
		}
	}
}

/* 3 binomial standard errors above alpha: a valid test passes with
 * probability > 99.8% even if its true rate were exactly alpha. */
static double margin(double alpha, uint64_t n)
{
	return alpha + 3 * sqrt(alpha * (1 - alpha) / (double)n);
}

/* Rollouts simulated by the A/A cases. */
static const uint64_t N = 4000;

static void sim_errors_aa(void)
{
	struct sim_scenario sc;
	struct sim_result res;
	double rate, lim;

	sim_scenario_default(&sc, "errors A/A, 1%, 200/s", 200, 0.01, 1);
	if (!ASSERT_EQ(sim_run(&sc, N, 1, 2, &res), 0, "ran"))
		return;
	rate = (double)res.fired[SIM_SEQ] / (double)N;
	lim = margin(sc.alpha, N);
	printf("# A/A: sequential %.4f, z-test %.4f (%.1f s)\n", rate,
	       (double)res.fired[SIM_ZTEST] / (double)N, res.seconds);
	ASSERT_TRUE(rate <= lim, "false-rollback rate <= alpha + 3 SE (0.0147)");
	ASSERT_TRUE((double)res.fired[SIM_SEQ_FIXED] / (double)N <= lim,
		    "same for the pure grid mixture");
	/* Negative control: the harness must be able to see an invalid test. */
	ASSERT_TRUE((double)res.fired[SIM_ZTEST] / (double)N > 0.05,
		    "repeated z-test inflates false rollbacks well above alpha");
	sim_result_free(&res);
}

static void sim_errors_null_boundary(void)
{
	struct sim_scenario sc;
	struct sim_result res;
	double rate;

	sim_scenario_default(&sc, "errors 1.1x, 2000/s", 2000, 0.01, 1.1);
	sim_run(&sc, 1000, 2, 2, &res);
	rate = (double)res.fired[SIM_SEQ] / 1000.0;
	printf("# r = r0: sequential %.4f\n", rate);
	ASSERT_TRUE(rate <= margin(sc.alpha, 1000), "false-rollback rate <= alpha + 3 SE (0.0194)");
	sim_result_free(&res);
}

static void sim_errors_5x(void)
{
	struct sim_scenario sc;
	struct sim_result res;
	double rate;

	sim_scenario_default(&sc, "errors A/B 5x, 200/s", 200, 0.01, 5);
	sim_run(&sc, 1000, 3, 2, &res);
	rate = (double)res.fired[SIM_SEQ] / 1000.0;
	printf("# 5x: detected %.4f, median %u s\n", rate,
	       sim_quantile(res.when[SIM_SEQ], 1000, 0.5));
	ASSERT_TRUE(rate >= 0.99, "5x regression detected in >= 99% of rollouts");
	ASSERT_TRUE(sim_quantile(res.when[SIM_SEQ], 1000, 0.9) <= 300,
		    "90% of them within the first two steps (300 s)");
	ASSERT_EQ(res.promoted, 0, "never promoted early");
	sim_result_free(&res);
}

/* The oracle (Wald's SPRT at the true ratio) is the floor for the detection delay;
 * the library's mixture should stay within 1.5x of it on the 2x and 5x scenarios. */
static void sim_oracle(void)
{
	static const double ratio[] = {2, 5};
	struct sim_scenario sc;
	struct sim_result res;
	int i;

	sim_scenario_default(&sc, "errors A/A, 1%, 200/s", 200, 0.01, 1);
	ASSERT_TRUE(!sim_has_oracle(&sc), "no oracle for a healthy canary");
	sc.ratio = 1.1;
	ASSERT_TRUE(!sim_has_oracle(&sc), "none at the null boundary r0");
	for (i = 0; i < 2; i++) {
		uint32_t o, l;

		sim_scenario_default(&sc, i ? "errors A/B 5x, 200/s" : "errors A/B 2x, 200/s", 200,
				     0.01, ratio[i]);
		if (!ASSERT_EQ(sim_run(&sc, 1000, 21 + i, 2, &res), 0, "ran"))
			return;
		o = sim_quantile(res.when[SIM_ORACLE], 1000, 0.5);
		l = sim_quantile(res.when[SIM_SEQ], 1000, 0.5);
		printf("# %gx: oracle detected %.3f, median %u s; library median %u s (%.2fx)\n",
		       ratio[i], res.fired[SIM_ORACLE] / 1000.0, o, l, (double)l / o);
		ASSERT_TRUE(res.fired[SIM_ORACLE] >= 990, "oracle detects >= 99%");
		ASSERT_TRUE(o != SIM_NEVER && o <= l, "oracle's median delay <= the library's");
		ASSERT_TRUE(l <= 1.5 * o, "library's median delay within 1.5x of the oracle's");
		sim_result_free(&res);
	}
}

static void sim_ctr_aa(void)
{
	struct sim_scenario sc;
	struct sim_result res;
	double rate;

	sim_scenario_default(&sc, "CTR A/A, 10%, 200/s", 200, 0.1, 1);
	sc.lower_is_worse = 1;
	sim_run(&sc, N, 4, 2, &res);
	rate = (double)res.fired[SIM_SEQ] / (double)N;
	printf("# CTR A/A: sequential %.4f\n", rate);
	ASSERT_TRUE(rate <= margin(sc.alpha, N), "false-rollback rate <= alpha + 3 SE (0.0147)");
	sim_result_free(&res);
}

static void sim_ctr_lower(void)
{
	struct sim_scenario sc;
	struct sim_result res;
	double rate;

	sim_scenario_default(&sc, "CTR A/B -20%, 200/s", 200, 0.1, 0.8);
	sc.lower_is_worse = 1;
	sim_run(&sc, 1000, 5, 2, &res);
	rate = (double)res.fired[SIM_SEQ] / 1000.0;
	printf("# CTR -20%%: detected %.4f\n", rate);
	ASSERT_TRUE(rate >= 0.95, "detected in >= 95% of rollouts");
	sim_result_free(&res);
}

/* ---- sample-ratio mismatch ---- */

static void srm_cfg(struct av_srm_config *c, const double *th, uint32_t n)
{
	av_srm_config_default(c);
	c->seq.n_alt = n;
	memcpy(c->seq.alt, th, n * sizeof(*th));
	c->seq.cp_share = 0;
}

static void srm_hand(void)
{
	static const double th2[] = {2}, both[] = {2, 0.5};
	struct av_srm_config c;
	struct av_srm_state st;

	/* p = 0.5, 3 canary units and 1 stable. q(2) = 2/3, so
	 * LR = (2/3 / 0.5)^3 (1/3 / 0.5) = 128/81; q(0.5) = 1/3: LR = 32/81. */
	srm_cfg(&c, th2, 1);
	ASSERT_EQ(av_srm_finalize(&c, NULL, 0), 0, "one alternative: valid");
	av_srm_init(&st, &c);
	ASSERT_EQ(av_srm_update(&c, &st, 3, 1, 0.5), AV_POLL_USED, "interval used");
	ASSERT_NEAR(av_evalue(&st.seq), 128.0 / 81.0, 1e-12, "E = 128/81");
	srm_cfg(&c, both, 2);
	ASSERT_EQ(av_srm_finalize(&c, NULL, 0), 0, "two-sided grid: valid");
	av_srm_init(&st, &c);
	av_srm_update(&c, &st, 3, 1, 0.5);
	ASSERT_NEAR(av_evalue(&st.seq), (128.0 + 32.0) / 162.0, 1e-12, "E = mean of both");
	/* Two intervals at different expected shares multiply: p = 0.25, 1 canary and
	 * 3 stable: q(2) = 0.4, LR = (0.4/0.25) (0.6/0.75)^3 = 1.6 * 0.512. */
	srm_cfg(&c, th2, 1);
	av_srm_finalize(&c, NULL, 0);
	av_srm_init(&st, &c);
	av_srm_update(&c, &st, 3, 1, 0.5);
	av_srm_update(&c, &st, 1, 3, 0.25);
	ASSERT_NEAR(av_evalue(&st.seq), 128.0 / 81.0 * 1.6 * 0.512, 1e-12,
		    "per-interval expected shares: the ratios multiply");
	ASSERT_NEAR(av_srm_observed(&st), 0.5, 1e-12, "observed share 4 of 8");
	ASSERT_NEAR(av_srm_expected(&st), (0.5 * 4 + 0.25 * 4) / 8, 1e-12,
		    "expected share: the shares weighted by the totals");
}

static void srm_edges(void)
{
	struct av_srm_config c, bad;
	struct av_srm_state st, before;
	char err[128];

	av_srm_config_default(&c);
	ASSERT_EQ(av_srm_finalize(&c, err, sizeof(err)), 0, "the default is valid");
	bad = c;
	bad.seq.r_null = 1.1;
	ASSERT_EQ(av_srm_finalize(&bad, err, sizeof(err)), -1, "r_null other than 1 refused");
	bad = c;
	bad.seq.alt[0] = 1;
	ASSERT_EQ(av_srm_finalize(&bad, err, sizeof(err)), -1, "theta = 1 refused");
	av_srm_init(&st, &c);
	before = st;
	ASSERT_EQ(av_srm_update(&c, &st, 0, 0, 0.05), AV_POLL_IDLE, "no units: idle");
	ASSERT_EQ(av_srm_update(&c, &st, 0, 100, 0), AV_POLL_ONE_ARM, "share 0: skipped");
	ASSERT_EQ(av_srm_update(&c, &st, 100, 0, 1), AV_POLL_ONE_ARM, "share 1: skipped");
	ASSERT_EQ(av_srm_update(&c, &st, -1, 100, 0.5), AV_POLL_IDLE, "negative units: skipped");
	ASSERT_EQ(st.used, 0, "nothing used");
	ASSERT_EQ(st.seq.log_e, before.seq.log_e, "evidence untouched");
	ASSERT_TRUE(isnan(av_srm_observed(&st)), "no observed share yet");
	bad = c;
	bad.finalized = 0;
	ASSERT_EQ(av_srm_update(&bad, &st, 1, 1, 0.5), AV_POLL_ERROR, "unfinalised config refused");
}

/* The order test's e-value is the mean of the per-threshold count tests'. */
static void order_hand(void)
{
	static struct av_order_config c;
	static struct av_order_state st;
	struct av_config e;
	struct av_state a, b;
	uint64_t hc[4] = {0}, hs[4] = {0};
	char err[128];

	av_order_config_default(&c, 1, 2);
	ASSERT_EQ(av_order_finalize(&c, err, sizeof(err)), 0, "the default is valid");
	av_order_init(&st, &c);
	e = c.edge;
	av_state_init(&a, &e);
	av_state_init(&b, &e);
	ASSERT_EQ(av_order_update(&c, &st, hc, hs, 4), AV_POLL_BASELINE, "first poll: baseline");
	av_update(&e, &a, 0, 0, 0, 0);
	av_update(&e, &b, 0, 0, 0, 0);
	/* Canary: 10 responses, 2 in bucket 0, 3 in 1, 5 in 2; stable: 90, 60 / 20 / 10. */
	hc[0] = 2, hc[1] = 3, hc[2] = 5;
	hs[0] = 60, hs[1] = 20, hs[2] = 10;
	ASSERT_EQ(av_order_update(&c, &st, hc, hs, 4), AV_POLL_USED, "used");
	av_update(&e, &a, 10, 8, 90, 30); /* >= bucket 1 */
	av_update(&e, &b, 10, 5, 90, 10); /* >= bucket 2 */
	ASSERT_NEAR(av_order_evalue(&st), (av_evalue(&a.rollback) + av_evalue(&b.rollback)) / 2,
		    1e-9, "E = mean of the two thresholds' e-values");
	ASSERT_TRUE(av_order_evalue(&st) > 1, "a slower canary raises it");
	ASSERT_EQ(av_order_update(&c, &st, hc, hs, 2), AV_POLL_ERROR, "too few buckets refused");
}

static void order_config(void)
{
	static struct av_order_config c, bad;
	char err[128];

	av_order_config_default(&c, 11, 17);
	ASSERT_EQ(av_order_finalize(&c, err, sizeof(err)), 0, "valid");
	bad = c, bad.k_lo = 0;
	ASSERT_EQ(av_order_finalize(&bad, err, sizeof(err)), -1, "k_lo 0 refused (every response)");
	bad = c, bad.k_lo = 18;
	ASSERT_EQ(av_order_finalize(&bad, err, sizeof(err)), -1, "k_lo > k_hi refused");
	bad = c, bad.k_hi = AV_ORDER_MAX;
	ASSERT_EQ(av_order_finalize(&bad, err, sizeof(err)), -1, "k_hi beyond the buckets refused");
	bad = c, bad.alpha = 1;
	ASSERT_EQ(av_order_finalize(&bad, err, sizeof(err)), -1, "alpha 1 refused");
	bad = c, bad.edge.lower_is_worse = 1;
	ASSERT_EQ(av_order_finalize(&bad, err, sizeof(err)), -1, "lower is worse refused");
}

static void lat_scenario(struct sim_lat_scenario *sc, const char *name, double rps, double slower,
			 double c_sigma)
{
	memset(sc, 0, sizeof(*sc));
	sim_scenario_default(&sc->base, name, rps, 0.01, 1);
	sc->median_us = 10000;
	sc->sigma = 0.5;
	sc->slower = slower;
	sc->c_sigma = c_sigma;
	sc->k_lo = 11;
	sc->k_hi = 17;
	sc->k_bound = 15;
}

/* A/A: the order test's false-rollback rate, generous bound; and a clear shift. */
static void sim_order(void)
{
	struct sim_lat_scenario sc;
	struct sim_lat_result r;
	double rate;

	lat_scenario(&sc, "TTFB A/A, 200/s", 200, 1, 0.5);
	if (!ASSERT_EQ(sim_lat_run(&sc, 1000, 31, 2, &r), 0, "ran"))
		return;
	rate = (double)r.fired[SIM_LAT_ORDER] / 1000.0;
	printf("# TTFB A/A: order %.4f, bound %.4f\n", rate, r.fired[SIM_LAT_BOUND] / 1000.0);
	ASSERT_TRUE(rate <= margin(sc.base.alpha, 1000), "false-rollback rate <= alpha + 3 SE");
	sim_lat_result_free(&r);
	/* r0 = 1: A/A sits on the null's boundary, every threshold a martingale. */
	sc.r0 = 1;
	if (!ASSERT_EQ(sim_lat_run(&sc, 1000, 33, 2, &r), 0, "ran"))
		return;
	rate = (double)r.fired[SIM_LAT_ORDER] / 1000.0;
	printf("# TTFB A/A, r0 = 1: order %.4f, bound %.4f\n", rate,
	       r.fired[SIM_LAT_BOUND] / 1000.0);
	ASSERT_TRUE(rate <= margin(sc.base.alpha, 1000), "r0 = 1: rate <= alpha + 3 SE");
	sim_lat_result_free(&r);

	lat_scenario(&sc, "TTFB median +20%, 2000/s", 2000, 1.2, 0.5);
	if (!ASSERT_EQ(sim_lat_run(&sc, 300, 32, 2, &r), 0, "ran"))
		return;
	printf("# TTFB median +20%%: order %.3f (median %u s), bound %.3f (median %u s)\n",
	       r.fired[SIM_LAT_ORDER] / 300.0, sim_quantile(r.when[SIM_LAT_ORDER], 300, 0.5),
	       r.fired[SIM_LAT_BOUND] / 300.0, sim_quantile(r.when[SIM_LAT_BOUND], 300, 0.5));
	ASSERT_TRUE(r.fired[SIM_LAT_ORDER] >= 297, "median +20% detected in >= 99% of rollouts");
	sim_lat_result_free(&r);
}

static void srm_text(void)
{
	struct av_srm_config c;
	struct av_srm_state st, back;
	struct sim_rng rng;
	char text[AV_SRM_TEXT];
	int i, n;

	av_srm_config_default(&c);
	av_srm_finalize(&c, NULL, 0);
	av_srm_init(&st, &c);
	sim_seed(&rng, 7);
	for (i = 0; i < 300; i++) {
		uint64_t f = sim_poisson(&rng, 200);
		uint64_t k = sim_binomial(&rng, f, 0.05 * 0.9);

		av_srm_update(&c, &st, (double)k, (double)(f - k) + 0.25, 0.05);
	}
	n = av_srm_format(&st, text, sizeof(text));
	ASSERT_TRUE(n > 0 && (size_t)n < sizeof(text), "formats within AV_SRM_TEXT");
	memset(&back, 0xee, sizeof(back));
	ASSERT_EQ(av_srm_parse(&back, text), 0, "parses");
	ASSERT_EQ(memcmp(&back, &st, sizeof(st)), 0, "round trip is exact");
	ASSERT_EQ(av_srm_parse(&back, "srm1 fp=1"), -1, "truncated refused");
	text[strlen(text) - 1] = 'x';
	ASSERT_EQ(av_srm_parse(&back, text), -1, "a bad last token refused");
	ASSERT_EQ(av_srm_parse(&back, "av1 fp=1"), -1, "another kind refused");
}

/* A/A at 200/s and 2000/s: the flow SRM test against the weight, across the four
 * weight steps, flags at most alpha + 3 SE of the rollouts. */
static void sim_srm_aa(void)
{
	static const double rps[] = {200, 2000};
	struct sim_scenario sc;
	struct sim_result res;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		double rate;

		sim_scenario_default(&sc, "SRM A/A", rps[i], 0.01, 1);
		if (!ASSERT_EQ(sim_run(&sc, N, 11 + i, 2, &res), 0, "ran"))
			return;
		rate = (double)res.srm_fired / (double)N;
		printf("# SRM A/A at %.0f/s: %.4f\n", rps[i], rate);
		ASSERT_TRUE(rate <= margin(sc.alpha, N), "false SRM rate <= alpha + 3 SE (0.0147)");
		sim_result_free(&res);
	}
}

static void sim_srm_loss(void)
{
	struct sim_scenario sc;
	struct sim_result res;
	double rate;

	sim_scenario_default(&sc, "SRM: 5% loss", 2000, 0.01, 1);
	sc.canary_loss = 0.05;
	if (!ASSERT_EQ(sim_run(&sc, 1000, 13, 2, &res), 0, "ran"))
		return;
	rate = (double)res.srm_fired / 1000.0;
	printf("# SRM 5%% loss at 2000/s: flagged %.4f, median %u s\n", rate,
	       sim_quantile(res.srm, 1000, 0.5));
	ASSERT_TRUE(rate >= 0.95, "a canary that loses 5% of its flows is flagged in >= 95%");
	ASSERT_TRUE(sim_quantile(res.srm, 1000, 0.5) <= 300, "half of them within 300 s");
	sim_result_free(&res);
}

static const struct test_case cases[] = {
	{"SRM: by hand", srm_hand},
	{"SRM: edges and config", srm_edges},
	{"SRM: state text", srm_text},
	{"stochastic order: by hand", order_hand},
	{"stochastic order: config", order_config},
	{"reduced simulation: stochastic order, A/A and median +20%", sim_order},
	{"reduced simulation: SRM A/A", sim_srm_aa},
	{"reduced simulation: SRM of a canary that loses 5% of its flows", sim_srm_loss},
	{"hand: one alternative", hand_one_alternative},
	{"hand: r0 = 1.1", hand_r0},
	{"hand: uniform mixture over two polls", hand_uniform_mixture},
	{"hand: weighted prior", hand_weighted_prior},
	{"hand: change-point mixture", hand_change_point},
	{"hand: mirror test", hand_mirror},
	{"decision latches and p-value is a running minimum", decision_latches},
	{"mirror test promotes healthy, never a bad canary", mirror_promotes},
	{"monotonicity", test_monotone},
	{"edges", test_edges},
	{"config validation", config_validation},
	{"config: unfinalised or different config refused", config_refused},
	{"lower is worse swaps the arms", test_lower_is_worse},
	{"Wilson interval", wilson},
	{"Wald interval", wald},
	{"two-proportion z-test", ztest},
	{"histogram: count above a latency bound", hist_above},
	{"absolute guard", guard_ratio},
	{"state text", test_roundtrip},
	{"samplers: mean and variance", test_samplers},
	{"reduced simulation: errors A/A", sim_errors_aa},
	{"reduced simulation: errors at the null boundary r = r0", sim_errors_null_boundary},
	{"reduced simulation: errors A/B 5x", sim_errors_5x},
	{"reduced simulation: oracle SPRT floor, 2x and 5x errors", sim_oracle},
	{"reduced simulation: CTR A/A (Bernoulli p = 0.1, lower is worse)", sim_ctr_aa},
	{"reduced simulation: CTR 20% lower", sim_ctr_lower},
};

TEST_MAIN(cases)
