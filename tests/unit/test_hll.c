/* test_hll.c: the HyperLogLog of distinct clients (logic/hll.c) against exact counts, the
 * register rule by hand, and a reduced simulation of the client SRM test on it: A/A at
 * three weights with returning clients, a mix where 1% of the clients send 30% of the
 * flows (the flow test flags it, the client test does not), and a canary that loses a
 * third of its clients. Pure logic: no kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "canary_hash.h"
#include "logic/analysis.h"
#include "logic/hll.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static double unif(void)
{
	return (rnd() + 0.5) / 4294967296.0;
}

/* A client id's hash with a seed, as the data plane mixes an address word. */
static uint32_t mix(uint32_t id, uint32_t seed)
{
	return canary_hash_final(canary_hash_word(seed, id), 1);
}

static void rank_by_hand(void)
{
	ASSERT_EQ(canary_hll_index(0xffc00000u), CANARY_HLL_REGS - 1, "index: the top bits");
	ASSERT_EQ(canary_hll_rank(0xffe00000u), 1, "rank 1: the first bit after the index set");
	ASSERT_EQ(canary_hll_rank(0x00100000u), 2, "rank 2");
	ASSERT_EQ(canary_hll_rank(0x00000001u), 32 - CANARY_HLL_BITS, "rank: the last bit");
	ASSERT_EQ(canary_hll_rank(0xffc00000u), 33 - CANARY_HLL_BITS, "rank of all zeros: the cap");
}

/* Linear counting's relative standard error at n (Whang et al. 1990). */
static double lc_rse(unsigned int n)
{
	double m = CANARY_HLL_REGS, t = n / m;

	return sqrt(m * (exp(t) - t - 1)) / n;
}

/* Relative error over many seeds at each size: the root mean square within 1.15x the
 * bound 1.04/sqrt(m) (3.3%) in the harmonic-mean range (1.4x at the hand-over from
 * linear counting, where the raw estimate has its known bias), within 1.15x linear
 * counting's own error where that small-range correction holds, and no bias beyond half
 * the bound. */
static void estimate_vs_exact(void)
{
	static const unsigned int sizes[] = {1, 10, 100, 1000, 2500, 10000, 100000};
	const unsigned int seeds = 200;
	uint8_t reg[CANARY_HLL_REGS];
	unsigned int s, k, i;
	char what[128];

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		double sum = 0, sq = 0, rms, bias, lim;

		for (k = 0; k < seeds; k++) {
			uint32_t seed = rnd();
			double e;

			memset(reg, 0, sizeof(reg));
			for (i = 0; i < sizes[s]; i++)
				hll_add(reg, mix(i, seed));
			e = hll_estimate(reg) / sizes[s] - 1;
			sum += e;
			sq += e * e;
		}
		rms = sqrt(sq / seeds);
		bias = sum / seeds;
		lim = 1.15 * lc_rse(sizes[s]);
		if (sizes[s] > 1000) /* the hand-over at 5/2 m: the raw estimate's bias bump */
			lim = (sizes[s] < 5 * CANARY_HLL_REGS ? 1.4 : 1.15) * hll_rse();
		printf("# n=%u: rms %.4f, bias %+.4f (bound %.4f)\n", sizes[s], rms, bias, lim);
		snprintf(what, sizeof(what), "n=%u: rms relative error %.4f <= %.4f", sizes[s], rms,
			 lim);
		ASSERT_TRUE(rms <= lim, what);
		snprintf(what, sizeof(what), "n=%u: bias %+.4f within %.4f", sizes[s], bias,
			 hll_rse() / 2);
		ASSERT_TRUE(fabs(bias) <= hll_rse() / 2, what);
	}
	memset(reg, 0, sizeof(reg));
	ASSERT_EQ(hll_estimate(reg), 0, "no clients: 0");
}

/* A client seen again adds nothing; per-CPU sets merged give the set of the whole. */
static void repeats_and_merge(void)
{
	uint8_t whole[CANARY_HLL_REGS] = {}, cpu[2][CANARY_HLL_REGS] = {}, again[CANARY_HLL_REGS];
	unsigned int i;

	for (i = 0; i < 5000; i++) {
		hll_add(whole, mix(i, 7));
		hll_add(cpu[i & 1], mix(i, 7));
	}
	memcpy(again, whole, sizeof(again));
	for (i = 0; i < 5000; i++)
		hll_add(again, mix(i % 50, 7));
	ASSERT_MEM_EQ(again, whole, sizeof(whole), "50 clients again, 100 times each: no change");
	hll_merge(cpu[0], cpu[1]);
	ASSERT_MEM_EQ(cpu[0], whole, sizeof(whole), "two CPUs' sets merged: the whole set");
}

/* ---- reduced simulation ---------------------------------------------------------------- */

#define POP	20000 /* clients */
#define PER_INT 2000  /* flows per interval */
#define INTS	40    /* intervals per step */
/* Rollouts per scenario: 300 in make test; SIM_ROLLOUTS=N for the figures of
 * docs/ANALYSIS.md. */
static unsigned int rollouts = 300;

struct mix_cfg {
	double heavy_flows; /* share of flows from the heavy 1% of clients */
	double lost;	    /* share of canary clients the canary loses (never counted) */
};

/* One rollout: 5%, 25%, 50%, 40 intervals each. Returns the interval at which the client
 * test (clients) and the flow test (flows) first crossed, or 0. */
static void one_rollout(const struct av_srm_config *cc, const struct av_srm_config *fc,
			const struct mix_cfg *m, unsigned int *clients, unsigned int *flows)
{
	static const double w[] = {0.05, 0.25, 0.5};
	uint32_t salt = rnd(), seed = rnd(), lost_salt = rnd();
	struct av_srm_state cs, fs;
	struct hll_tally t;
	unsigned int step, it, k, n = 0;

	av_srm_init(&cs, cc);
	av_srm_init(&fs, fc);
	*clients = *flows = 0;
	for (step = 0; step < 3; step++) {
		hll_tally_reset(&t);
		for (it = 0; it < INTS; it++) {
			uint8_t reg[CANARY_ARMS][CANARY_HLL_REGS] = {};
			uint32_t nf[CANARY_ARMS] = {};
			double fresh[CANARY_ARMS];

			n++;
			for (k = 0; k < PER_INT; k++) {
				uint32_t id =
				    unif() < m->heavy_flows ? rnd() % (POP / 100) : rnd() % POP;
				int arm =
				    canary_bucket(mix(id, salt)) < w[step] * CANARY_WEIGHT_SCALE;

				if (arm && unif() < 2 && mix(id, lost_salt) % 1000 < m->lost * 1000)
					continue;
				hll_add(reg[arm], mix(id, seed));
				nf[arm]++;
			}
			hll_tally_add(&t, reg, nf, fresh);
			av_srm_update(cc, &cs, fresh[1], fresh[0], w[step]);
			av_srm_update(fc, &fs, nf[1], nf[0], w[step]);
			if (!*clients && av_srm_rejected(&cs))
				*clients = n;
			if (!*flows && av_srm_rejected(&fs))
				*flows = n;
		}
	}
}

static void run_mix(const char *name, const struct mix_cfg *m, double *cr, double *fr,
		    unsigned int *cmed)
{
	struct av_srm_config cc, fc;
	unsigned int i, c, f, nc = 0, nf = 0, *at;
	const char *env = getenv("SIM_ROLLOUTS");

	if (env && atoi(env) > 0)
		rollouts = (unsigned int)atoi(env);
	at = calloc(rollouts, sizeof(*at));
	if (!ASSERT_TRUE(at != NULL, "memory"))
		return;

	av_srm_config_clients(&cc);
	av_srm_finalize(&cc, NULL, 0);
	av_srm_config_default(&fc);
	av_srm_finalize(&fc, NULL, 0);
	for (i = 0; i < rollouts; i++) {
		one_rollout(&cc, &fc, m, &c, &f);
		if (c)
			at[nc++] = c;
		nf += f != 0;
	}
	*cr = (double)nc / rollouts;
	*fr = (double)nf / rollouts;
	*cmed = 0;
	if (nc) {
		unsigned int j, x;

		for (i = 1; i < nc; i++) /* insertion sort: a few hundred */
			for (j = i; j > 0 && at[j - 1] > at[j]; j--)
				x = at[j], at[j] = at[j - 1], at[j - 1] = x;
		*cmed = at[nc / 2];
	}
	printf("# %s (%u rollouts): client test flagged %.4f (median interval %u), flow test "
	       "%.4f\n",
	       name, rollouts, *cr, *cmed, *fr);
	free(at);
}

/* alpha + 3 standard errors over the rollouts */
#define AA_LIMIT (0.01 + 3 * sqrt(0.01 * 0.99 / rollouts))

static void sim_clients_aa(void)
{
	struct mix_cfg m = {0, 0};
	double cr, fr;
	unsigned int med;

	run_mix("A/A", &m, &cr, &fr, &med);
	ASSERT_TRUE(cr <= AA_LIMIT, "client test: A/A false SRM rate <= alpha + 3 SE (0.027)");
	/* Why client mode needs the client test: a client keeps its arm, so its flows are
	 * no independent draws and the flow test raises false alarms. */
	ASSERT_TRUE(fr > 5 * AA_LIMIT, "flow test in client mode: false alarms (why it is off)");
}

static void sim_clients_heavy(void)
{
	struct mix_cfg m = {0.30, 0};
	double cr, fr;
	unsigned int med;

	run_mix("1% of clients send 30% of flows", &m, &cr, &fr, &med);
	ASSERT_TRUE(cr <= AA_LIMIT, "client test: no SRM from a heavy client mix");
	ASSERT_TRUE(fr >= 0.5, "flow test: the same mix moves the flow share (flagged)");
}

static void sim_clients_lost(void)
{
	struct mix_cfg m = {0, 0.33};
	double cr, fr;
	unsigned int med;

	run_mix("canary loses a third of its clients", &m, &cr, &fr, &med);
	ASSERT_TRUE(cr >= 0.95, "client test: flagged in >= 95% of rollouts");
	ASSERT_TRUE(med && med <= INTS, "client test: the median within the first step");
}

/* Smaller losses, for the figures: a tenth and a fifth of the canary's clients. */
static void sim_clients_smaller(void)
{
	struct mix_cfg m10 = {0, 0.10}, m20 = {0, 0.20};
	double cr, fr;
	unsigned int med;

	run_mix("canary loses a tenth of its clients", &m10, &cr, &fr, &med);
	run_mix("canary loses a fifth of its clients", &m20, &cr, &fr, &med);
	ASSERT_TRUE(cr >= 0.5, "a fifth: flagged in at least half of the rollouts");
}

static const struct test_case cases[] = {
    {"register rule by hand", rank_by_hand},
    {"estimate against exact counts over many seeds", estimate_vs_exact},
    {"repeated clients and per-CPU merge", repeats_and_merge},
    {"reduced simulation: client SRM A/A with returning clients", sim_clients_aa},
    {"reduced simulation: 1% of clients send 30% of flows", sim_clients_heavy},
    {"reduced simulation: a canary that loses a third of its clients", sim_clients_lost},
    {"reduced simulation: a tenth and a fifth of its clients", sim_clients_smaller},
};

TEST_MAIN(cases)
