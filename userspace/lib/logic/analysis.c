/* Canary analysis: mixture likelihood-ratio e-processes on per-arm counts,
 * display statistics and the plain-text state round trip. */
#include "logic/analysis.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AV_EVALUE_MAX 1e300

static double logaddexp(double a, double b)
{
	double m = a > b ? a : b;

	return m + log1p(exp(-fabs(a - b)));
}

static void seq_defaults(struct av_seq_config *s, double alpha, double r_null, const double *alt,
			 uint32_t n, double cp_share)
{
	memset(s, 0, sizeof(*s));
	s->alpha = alpha;
	s->r_null = r_null;
	s->n_alt = n;
	memcpy(s->alt, alt, n * sizeof(*alt));
	s->cp_share = cp_share;
	/* One start poll in ~1000: a late regression pays about log(1000)
	 * nats minus the log of how many start polls fit inside it. */
	s->cp_rate = 1e-3;
}

void av_config_default(struct av_config *cfg)
{
	static const double rb[] = {1.25, 1.5, 2, 3, 5, 10};
	static const double pr[] = {0.5, 0.75, 0.9, 1, 1.1, 1.25};

	memset(cfg, 0, sizeof(*cfg));
	seq_defaults(&cfg->rollback, 0.01, 1.1, rb, 6, 0.25);
	seq_defaults(&cfg->promote, 0.05, 1.5, pr, 6, 0);
	cfg->promote_enabled = 1;
	cfg->unit = AV_UNIT_RESPONSES;
	cfg->min_exposure = 100;
	cfg->min_events = 10;
}

void av_config_default_lower_is_worse(struct av_config *cfg)
{
	static const double rb[] = {1.1, 1.15, 1.25, 1.4, 1.6, 2, 3};
	static const double pr[] = {0.8, 0.9, 1, 1.05, 1.1};

	memset(cfg, 0, sizeof(*cfg));
	seq_defaults(&cfg->rollback, 0.01, 1.05, rb, 7, 0.25);
	seq_defaults(&cfg->promote, 0.05, 1.25, pr, 5, 0);
	cfg->promote_enabled = 1;
	cfg->lower_is_worse = 1;
	cfg->unit = AV_UNIT_TRIALS;
	cfg->min_exposure = 100;
	cfg->min_events = 10;
}

static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int finite_pos(double v)
{
	return isfinite(v) && v > 0;
}

/* dir > 0: alternatives above r_null (rollback); dir < 0: below (promote); 0: either
 * side (the SRM test). */
static int seq_finalize(struct av_seq_config *s, int dir, const char *name, char *err, size_t len)
{
	double sum = 0;
	uint32_t j, zeros = 0;

	if (!(s->alpha > 0 && s->alpha < 1))
		return fail(err, len, "%s: alpha must be in (0, 1)", name);
	if (!finite_pos(s->r_null))
		return fail(err, len, "%s: r_null must be finite and > 0", name);
	if (s->n_alt < 1 || s->n_alt > AV_MAX_ALT)
		return fail(err, len, "%s: need 1..%d alternatives", name, AV_MAX_ALT);
	for (j = 0; j < s->n_alt; j++) {
		double a = s->alt[j];

		if (!finite_pos(a))
			return fail(err, len, "%s: alternative %g must be finite and > 0", name, a);
		if (dir > 0 && !(a > s->r_null))
			return fail(err, len, "%s: alternative %g must be > r0 %g", name, a,
				    s->r_null);
		if (dir < 0 && !(a < s->r_null))
			return fail(err, len, "%s: alternative %g must be < r_max %g", name, a,
				    s->r_null);
		if (dir == 0 && a == s->r_null)
			return fail(err, len, "%s: alternative %g must differ from %g", name, a,
				    s->r_null);
		if (!(isfinite(s->weight[j]) && s->weight[j] >= 0))
			return fail(err, len, "%s: weights must be finite and >= 0", name);
		zeros += s->weight[j] == 0;
		sum += s->weight[j];
	}
	if (zeros && zeros != s->n_alt)
		return fail(err, len, "%s: weights must be all 0 (uniform) or all > 0", name);
	if (!isfinite(sum))
		return fail(err, len, "%s: weights overflow", name);
	if (!(s->cp_share >= 0 && s->cp_share < 1))
		return fail(err, len, "%s: cp_share must be in [0, 1)", name);
	if (s->cp_share > 0 && !(s->cp_rate > 0 && s->cp_rate < 1))
		return fail(err, len, "%s: cp_rate must be in (0, 1)", name);

	for (j = 0; j < AV_MAX_ALT; j++) {
		s->log_w[j] = 0;
		s->log_ratio[j] = 0;
	}
	for (j = 0; j < s->n_alt; j++) {
		s->log_w[j] = zeros ? -log((double)s->n_alt) : log(s->weight[j] / sum);
		s->log_ratio[j] = log(s->alt[j] / s->r_null);
	}
	s->log_threshold = -log(s->alpha);
	s->log_fix_share = log1p(-s->cp_share);
	s->log_cp_share = s->cp_share > 0 ? log(s->cp_share) : 0;
	s->log_cp_rate = s->cp_share > 0 ? log(s->cp_rate) : 0;
	s->log1m_cp_rate = s->cp_share > 0 ? log1p(-s->cp_rate) : 0;
	return 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--) {
		h ^= *c++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Everything that shapes the evidence, not alpha: alpha only says where to
 * stop, so it may be changed without invalidating the saved evidence. */
static uint64_t seq_fingerprint(uint64_t h, const struct av_seq_config *s)
{
	h = fnv(h, &s->r_null, sizeof(s->r_null));
	h = fnv(h, &s->n_alt, sizeof(s->n_alt));
	h = fnv(h, s->alt, s->n_alt * sizeof(double));
	h = fnv(h, s->log_w, s->n_alt * sizeof(double));
	h = fnv(h, &s->cp_share, sizeof(s->cp_share));
	if (s->cp_share > 0)
		h = fnv(h, &s->cp_rate, sizeof(s->cp_rate));
	return h;
}

int av_config_finalize(struct av_config *cfg, char *err, size_t errlen)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	cfg->finalized = 0;
	if (seq_finalize(&cfg->rollback, 1, "rollback", err, errlen))
		return -1;
	if (cfg->promote_enabled && seq_finalize(&cfg->promote, -1, "promote", err, errlen))
		return -1;
	if (cfg->unit > AV_UNIT_TRIALS)
		return fail(err, errlen, "unknown exposure unit %u", cfg->unit);
	cfg->promote_enabled = !!cfg->promote_enabled;
	cfg->lower_is_worse = !!cfg->lower_is_worse;
	h = seq_fingerprint(h, &cfg->rollback);
	h = fnv(h, &cfg->promote_enabled, sizeof(cfg->promote_enabled));
	if (cfg->promote_enabled)
		h = seq_fingerprint(h, &cfg->promote);
	h = fnv(h, &cfg->lower_is_worse, sizeof(cfg->lower_is_worse));
	h = fnv(h, &cfg->unit, sizeof(cfg->unit));
	cfg->fingerprint = h;
	cfg->finalized = 1;
	return 0;
}

void av_state_init(struct av_state *st, const struct av_config *cfg)
{
	memset(st, 0, sizeof(*st));
	st->version = AV_STATE_VERSION;
	st->fingerprint = cfg->fingerprint;
}

void av_promote_reset(struct av_state *st)
{
	memset(&st->promote, 0, sizeof(st->promote));
}

static double lse_weighted(const struct av_seq_config *c, const double *v)
{
	double m = -HUGE_VAL, s = 0;
	uint32_t j;

	for (j = 0; j < c->n_alt; j++)
		if (c->log_w[j] + v[j] > m)
			m = c->log_w[j] + v[j];
	for (j = 0; j < c->n_alt; j++)
		s += exp(c->log_w[j] + v[j] - m);
	return m + log(s);
}

/*
 * One used interval.  rho is the "canary role" arm's share of exposure,
 * xc its events and X the events of both arms.  With D(r) = 1 + rho (r - 1)
 * and theta(r) = rho r / D(r), the likelihood ratio of alternative r_j
 * against the null r_null is
 *   (theta_j / theta_0)^xc ((1 - theta_j) / (1 - theta_0))^(X - xc)
 *   = (r_j / r_null)^xc (D(r_null) / D(r_j))^X,
 * which in logs needs one log1p per alternative.
 */
static void seq_step(const struct av_seq_config *c, struct av_seq_state *t, double rho, double xc,
		     double X, uint64_t poll)
{
	double log_d0 = log1p(rho * (c->r_null - 1));
	double log_pi = 0, log_e;
	uint32_t j;
	int cp = c->cp_share > 0;

	if (c->n_alt == 0)
		return;
	t->steps++;
	if (cp)
		log_pi = c->log_cp_rate + (double)(t->steps - 1) * c->log1m_cp_rate;
	for (j = 0; j < c->n_alt; j++) {
		double l = xc * c->log_ratio[j] + X * (log_d0 - log1p(rho * (c->alt[j] - 1)));

		t->log_lr[j] += l;
		/* S_j <- (S_j + pi_t) LR: the components that start now join
		 * the ones that started earlier. */
		if (cp)
			t->log_cp[j] =
			    (t->steps == 1 ? log_pi : logaddexp(t->log_cp[j], log_pi)) + l;
	}
	log_e = lse_weighted(c, t->log_lr);
	if (cp) {
		/* Not-yet-started components keep their prior mass at 1:
		 * sum_{k > t} pi_k = (1 - rate)^t. */
		double rest = (double)t->steps * c->log1m_cp_rate;
		double log_cp = logaddexp(lse_weighted(c, t->log_cp), rest);

		log_e = logaddexp(c->log_fix_share + log_e, c->log_cp_share + log_cp);
	}
	t->log_e = log_e;
	if (log_e > t->log_e_max)
		t->log_e_max = log_e;
	if (!t->rejected && log_e >= c->log_threshold) {
		t->rejected = 1;
		t->reject_poll = poll;
	}
}

static int cfg_ok(const struct av_config *cfg, const struct av_state *st)
{
	return cfg->finalized && st->fingerprint == cfg->fingerprint &&
	       st->version == AV_STATE_VERSION;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static enum av_poll step_delta(const struct av_config *cfg, struct av_state *st, uint64_t dn_c,
			       uint64_t dx_c, uint64_t dn_s, uint64_t dx_s)
{
	double nc, ns, xc, xs, rho;

	if (dn_c == 0 && dn_s == 0) {
		st->skip_idle++;
		st->idle_run++;
		return AV_POLL_IDLE;
	}
	/* rho in {0, 1}: the split carries no information, and events in an
	 * arm without exposure are orphans of an earlier interval. */
	if (dn_c == 0 || dn_s == 0) {
		st->skip_one_arm++;
		st->idle_run++;
		return AV_POLL_ONE_ARM;
	}
	st->idle_run = 0;
	st->used++;
	st->n[AV_CANARY] = sat_add(st->n[AV_CANARY], dn_c);
	st->n[AV_STABLE] = sat_add(st->n[AV_STABLE], dn_s);
	st->x[AV_CANARY] = sat_add(st->x[AV_CANARY], dx_c);
	st->x[AV_STABLE] = sat_add(st->x[AV_STABLE], dx_s);

	nc = (double)dn_c;
	ns = (double)dn_s;
	xc = (double)dx_c;
	xs = (double)dx_s;
	if (cfg->lower_is_worse) {
		/* Good events: stable plays the arm whose excess is bad. */
		double t;

		t = nc, nc = ns, ns = t;
		t = xc, xc = xs, xs = t;
	}
	rho = nc / (nc + ns);
	seq_step(&cfg->rollback, &st->rollback, rho, xc, xc + xs, st->polls);
	if (cfg->promote_enabled)
		seq_step(&cfg->promote, &st->promote, rho, xc, xc + xs, st->polls);
	return AV_POLL_USED;
}

enum av_poll av_update_delta(const struct av_config *cfg, struct av_state *st, uint64_t dn_canary,
			     uint64_t dx_canary, uint64_t dn_stable, uint64_t dx_stable)
{
	if (!cfg_ok(cfg, st))
		return AV_POLL_ERROR;
	st->polls++;
	return step_delta(cfg, st, dn_canary, dx_canary, dn_stable, dx_stable);
}

enum av_poll av_update(const struct av_config *cfg, struct av_state *st, uint64_t n_canary,
		       uint64_t x_canary, uint64_t n_stable, uint64_t x_stable)
{
	uint64_t dn_c, dx_c, dn_s, dx_s;
	int first, back;

	if (!cfg_ok(cfg, st))
		return AV_POLL_ERROR;
	st->polls++;
	first = !st->have_prev;
	back = n_canary < st->prev_n[AV_CANARY] || x_canary < st->prev_x[AV_CANARY] ||
	       n_stable < st->prev_n[AV_STABLE] || x_stable < st->prev_x[AV_STABLE];
	dn_c = n_canary - st->prev_n[AV_CANARY];
	dx_c = x_canary - st->prev_x[AV_CANARY];
	dn_s = n_stable - st->prev_n[AV_STABLE];
	dx_s = x_stable - st->prev_x[AV_STABLE];
	st->prev_n[AV_CANARY] = n_canary;
	st->prev_x[AV_CANARY] = x_canary;
	st->prev_n[AV_STABLE] = n_stable;
	st->prev_x[AV_STABLE] = x_stable;
	st->have_prev = 1;
	if (first || back) {
		/* A reset loses the events between the last poll and the reset
		 * in whichever arm reset, so the whole interval is dropped. */
		st->idle_run++;
		if (first)
			return AV_POLL_BASELINE;
		st->resets++;
		return AV_POLL_RESET;
	}
	return step_delta(cfg, st, dn_c, dx_c, dn_s, dx_s);
}

enum av_verdict av_verdict(const struct av_config *cfg, const struct av_state *st)
{
	if (st->rollback.rejected)
		return AV_ROLLBACK;
	if (cfg->promote_enabled && st->promote.rejected)
		return AV_PROMOTE;
	return AV_CONTINUE;
}

int av_enough_data(const struct av_config *cfg, const struct av_state *st)
{
	return st->n[AV_CANARY] >= cfg->min_exposure && st->n[AV_STABLE] >= cfg->min_exposure &&
	       sat_add(st->x[AV_CANARY], st->x[AV_STABLE]) >= cfg->min_events;
}

double av_evalue(const struct av_seq_state *t)
{
	if (!(t->log_e < log(AV_EVALUE_MAX)))
		return AV_EVALUE_MAX;
	return exp(t->log_e);
}

double av_pvalue(const struct av_seq_state *t)
{
	return t->log_e_max > 0 ? exp(-t->log_e_max) : 1.0;
}

/* ---- state text: "av1" then key=value tokens in a fixed order ---- */

struct buf {
	char *p;
	size_t len, off;
	int bad;
};

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->bad)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->off, b->len - b->off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->len - b->off)
		b->bad = 1;
	else
		b->off += n;
}

static void put_dbls(struct buf *b, const char *key, const double *v, size_t n)
{
	size_t i;

	put(b, " %s=", key);
	for (i = 0; i < n; i++)
		put(b, "%s%a", i ? "," : "", v[i]);
}

static void put_seq(struct buf *b, char tag, const struct av_seq_state *t)
{
	char key[8];

	snprintf(key, sizeof(key), "%clr", tag);
	put_dbls(b, key, t->log_lr, AV_MAX_ALT);
	snprintf(key, sizeof(key), "%ccp", tag);
	put_dbls(b, key, t->log_cp, AV_MAX_ALT);
	put(b, " %ce=%a %cem=%a %cst=%" PRIu64 " %crp=%" PRIu64 " %crj=%u", tag, t->log_e, tag,
	    t->log_e_max, tag, t->steps, tag, t->reject_poll, tag, t->rejected);
}

int av_state_format(const struct av_state *st, char *out, size_t len)
{
	struct buf b = {out, len, 0, 0};

	if (!out || !len)
		return -1;
	put(&b, "av%u fp=%" PRIx64 " hp=%u", st->version, st->fingerprint, st->have_prev);
	put(&b, " pn=%" PRIu64 ",%" PRIu64 " px=%" PRIu64 ",%" PRIu64, st->prev_n[0], st->prev_n[1],
	    st->prev_x[0], st->prev_x[1]);
	put(&b,
	    " polls=%" PRIu64 " used=%" PRIu64 " si=%" PRIu64 " so=%" PRIu64 " rs=%" PRIu64
	    " ir=%" PRIu64,
	    st->polls, st->used, st->skip_idle, st->skip_one_arm, st->resets, st->idle_run);
	put(&b, " n=%" PRIu64 ",%" PRIu64 " x=%" PRIu64 ",%" PRIu64, st->n[0], st->n[1], st->x[0],
	    st->x[1]);
	put_seq(&b, 'R', &st->rollback);
	put_seq(&b, 'P', &st->promote);
	return b.bad ? -1 : (int)b.off;
}

struct rd {
	const char *p;
	int bad;
};

/* Expect " key=" (or "key=" at the start) and move past it. */
static void expect(struct rd *r, const char *key)
{
	size_t n = strlen(key);

	if (r->bad)
		return;
	while (*r->p == ' ')
		r->p++;
	if (strncmp(r->p, key, n) || r->p[n] != '=')
		r->bad = 1;
	else
		r->p += n + 1;
}

static void sep(struct rd *r)
{
	if (!r->bad && *r->p++ != ',')
		r->bad = 1;
}

static uint64_t get_u(struct rd *r, int base)
{
	char *end;
	uint64_t v;

	if (r->bad)
		return 0;
	if (*r->p < '0' || *r->p > 'f') {
		r->bad = 1;
		return 0;
	}
	errno = 0;
	v = strtoull(r->p, &end, base);
	if (errno || end == r->p)
		r->bad = 1;
	r->p = end;
	return v;
}

static double get_d(struct rd *r)
{
	char *end;
	double v;

	if (r->bad)
		return 0;
	v = strtod(r->p, &end);
	if (end == r->p || !isfinite(v))
		r->bad = 1;
	r->p = end;
	return v;
}

static void get_dbls(struct rd *r, const char *key, double *v, size_t n)
{
	size_t i;

	expect(r, key);
	for (i = 0; i < n; i++) {
		if (i)
			sep(r);
		v[i] = get_d(r);
	}
}

static void get_seq(struct rd *r, char tag, struct av_seq_state *t)
{
	char key[8];

	snprintf(key, sizeof(key), "%clr", tag);
	get_dbls(r, key, t->log_lr, AV_MAX_ALT);
	snprintf(key, sizeof(key), "%ccp", tag);
	get_dbls(r, key, t->log_cp, AV_MAX_ALT);
	snprintf(key, sizeof(key), "%ce", tag);
	expect(r, key);
	t->log_e = get_d(r);
	snprintf(key, sizeof(key), "%cem", tag);
	expect(r, key);
	t->log_e_max = get_d(r);
	snprintf(key, sizeof(key), "%cst", tag);
	expect(r, key);
	t->steps = get_u(r, 10);
	snprintf(key, sizeof(key), "%crp", tag);
	expect(r, key);
	t->reject_poll = get_u(r, 10);
	snprintf(key, sizeof(key), "%crj", tag);
	expect(r, key);
	t->rejected = get_u(r, 10) != 0;
}

int av_state_parse(struct av_state *out, const char *text)
{
	struct av_state st;
	struct rd r = {text, 0};

	if (!text || strncmp(text, "av", 2))
		return -1;
	memset(&st, 0, sizeof(st));
	r.p += 2;
	st.version = (uint32_t)get_u(&r, 10);
	if (r.bad || st.version != AV_STATE_VERSION)
		return -1;
	expect(&r, "fp");
	st.fingerprint = get_u(&r, 16);
	expect(&r, "hp");
	st.have_prev = get_u(&r, 10) != 0;
	expect(&r, "pn");
	st.prev_n[0] = get_u(&r, 10);
	sep(&r);
	st.prev_n[1] = get_u(&r, 10);
	expect(&r, "px");
	st.prev_x[0] = get_u(&r, 10);
	sep(&r);
	st.prev_x[1] = get_u(&r, 10);
	expect(&r, "polls");
	st.polls = get_u(&r, 10);
	expect(&r, "used");
	st.used = get_u(&r, 10);
	expect(&r, "si");
	st.skip_idle = get_u(&r, 10);
	expect(&r, "so");
	st.skip_one_arm = get_u(&r, 10);
	expect(&r, "rs");
	st.resets = get_u(&r, 10);
	expect(&r, "ir");
	st.idle_run = get_u(&r, 10);
	expect(&r, "n");
	st.n[0] = get_u(&r, 10);
	sep(&r);
	st.n[1] = get_u(&r, 10);
	expect(&r, "x");
	st.x[0] = get_u(&r, 10);
	sep(&r);
	st.x[1] = get_u(&r, 10);
	get_seq(&r, 'R', &st.rollback);
	get_seq(&r, 'P', &st.promote);
	while (!r.bad && (*r.p == ' ' || *r.p == '\n'))
		r.p++;
	if (r.bad || *r.p)
		return -1;
	*out = st;
	return 0;
}

/* ---- sample-ratio mismatch ---- */

void av_srm_config_default(struct av_srm_config *cfg)
{
	/* Odds ratios: a canary that loses 5% of its units has theta = 0.95 at
	 * every weight, so one grid fits every step. */
	static const double th[] = {0.5,      0.8,	0.9,	 0.95,	  0.97,
				    1 / 0.97, 1 / 0.95, 1 / 0.9, 1 / 0.8, 2};

	memset(cfg, 0, sizeof(*cfg));
	seq_defaults(&cfg->seq, 0.01, 1.0, th, sizeof(th) / sizeof(th[0]), 0.25);
}

int av_srm_finalize(struct av_srm_config *cfg, char *err, size_t errlen)
{
	cfg->finalized = 0;
	if (cfg->seq.r_null != 1.0)
		return fail(err, errlen, "srm: r_null must be 1 (the expected split)");
	if (seq_finalize(&cfg->seq, 0, "srm", err, errlen))
		return -1;
	cfg->fingerprint = seq_fingerprint(0x5a5a5a5a84222325ULL, &cfg->seq);
	cfg->finalized = 1;
	return 0;
}

void av_srm_init(struct av_srm_state *st, const struct av_srm_config *cfg)
{
	memset(st, 0, sizeof(*st));
	st->version = AV_SRM_VERSION;
	st->fingerprint = cfg->fingerprint;
}

/* Given the interval's total N, the canary's units are Binomial(N, p) under
 * the null: seq_step's likelihood ratio with rho = p, xc = canary units and
 * X = N, each alternative's odds ratio playing r_j against r_null = 1. */
enum av_poll av_srm_update(const struct av_srm_config *cfg, struct av_srm_state *st,
			   double n_canary, double n_stable, double expected_share)
{
	double total = n_canary + n_stable;

	if (!cfg->finalized || st->fingerprint != cfg->fingerprint || st->version != AV_SRM_VERSION)
		return AV_POLL_ERROR;
	st->polls++;
	if (!(n_canary >= 0 && n_stable >= 0 && isfinite(total)) || total == 0)
		return AV_POLL_IDLE;
	if (!(expected_share > 0 && expected_share < 1))
		return AV_POLL_ONE_ARM;
	st->used++;
	st->n[AV_CANARY] += n_canary;
	st->n[AV_STABLE] += n_stable;
	st->expected += expected_share * total;
	seq_step(&cfg->seq, &st->seq, expected_share, n_canary, total, st->polls);
	return AV_POLL_USED;
}

int av_srm_rejected(const struct av_srm_state *st)
{
	return st->seq.rejected != 0;
}

double av_srm_observed(const struct av_srm_state *st)
{
	double t = st->n[AV_CANARY] + st->n[AV_STABLE];

	return t > 0 ? st->n[AV_CANARY] / t : NAN;
}

double av_srm_expected(const struct av_srm_state *st)
{
	double t = st->n[AV_CANARY] + st->n[AV_STABLE];

	return t > 0 ? st->expected / t : NAN;
}

int av_srm_format(const struct av_srm_state *st, char *out, size_t len)
{
	struct buf b = {out, len, 0, 0};

	if (!out || !len)
		return -1;
	put(&b, "srm%u fp=%" PRIx64 " polls=%" PRIu64 " used=%" PRIu64 " n=%a,%a ex=%a",
	    st->version, st->fingerprint, st->polls, st->used, st->n[0], st->n[1], st->expected);
	put_seq(&b, 'S', &st->seq);
	return b.bad ? -1 : (int)b.off;
}

int av_srm_parse(struct av_srm_state *out, const char *text)
{
	struct av_srm_state st;
	struct rd r = {text, 0};

	if (!text || strncmp(text, "srm", 3))
		return -1;
	memset(&st, 0, sizeof(st));
	r.p += 3;
	st.version = (uint32_t)get_u(&r, 10);
	if (r.bad || st.version != AV_SRM_VERSION)
		return -1;
	expect(&r, "fp");
	st.fingerprint = get_u(&r, 16);
	expect(&r, "polls");
	st.polls = get_u(&r, 10);
	expect(&r, "used");
	st.used = get_u(&r, 10);
	expect(&r, "n");
	st.n[0] = get_d(&r);
	sep(&r);
	st.n[1] = get_d(&r);
	expect(&r, "ex");
	st.expected = get_d(&r);
	get_seq(&r, 'S', &st.seq);
	while (!r.bad && (*r.p == ' ' || *r.p == '\n'))
		r.p++;
	if (r.bad || *r.p || st.n[0] < 0 || st.n[1] < 0 || st.expected < 0 || st.used > st.polls)
		return -1;
	*out = st;
	return 0;
}

/* ---- helpers for the agent ---- */

/* ---- latency as a distribution ---- */

void av_order_config_default(struct av_order_config *cfg, uint32_t k_lo, uint32_t k_hi)
{
	memset(cfg, 0, sizeof(*cfg));
	av_config_default(&cfg->edge);
	cfg->edge.promote_enabled = 0;
	cfg->alpha = 0.01;
	cfg->k_lo = k_lo;
	cfg->k_hi = k_hi;
}

int av_order_finalize(struct av_order_config *cfg, char *err, size_t errlen)
{
	cfg->finalized = 0;
	if (!(cfg->alpha > 0 && cfg->alpha < 1))
		return fail(err, errlen, "order: alpha must be in (0, 1)");
	if (cfg->k_lo < 1 || cfg->k_lo > cfg->k_hi || cfg->k_hi >= AV_ORDER_MAX)
		return fail(err, errlen, "order: need 1 <= k_lo <= k_hi < %d", AV_ORDER_MAX);
	if (cfg->edge.lower_is_worse)
		return fail(err, errlen,
			    "order: slower responses are the events (lower_is_worse 0)");
	cfg->edge.rollback.alpha = cfg->alpha;
	if (av_config_finalize(&cfg->edge, err, errlen))
		return -1;
	cfg->log_threshold = -log(cfg->alpha);
	cfg->log_k = log((double)(cfg->k_hi - cfg->k_lo + 1));
	cfg->finalized = 1;
	return 0;
}

void av_order_init(struct av_order_state *st, const struct av_order_config *cfg)
{
	uint32_t k;

	memset(st, 0, sizeof(*st));
	for (k = 0; k < AV_ORDER_MAX; k++)
		av_state_init(&st->edge[k], &cfg->edge);
}

static uint64_t hist_from(const uint64_t *h, size_t n, size_t k)
{
	uint64_t s = 0;

	for (; k < n; k++)
		s = sat_add(s, h[k]);
	return s;
}

enum av_poll av_order_update(const struct av_order_config *cfg, struct av_order_state *st,
			     const uint64_t *hist_canary, const uint64_t *hist_stable, size_t n)
{
	uint64_t nc = hist_from(hist_canary, n, 0), ns = hist_from(hist_stable, n, 0);
	enum av_poll res = AV_POLL_ERROR;
	double m = -HUGE_VAL, sum = 0;
	uint32_t k, K;

	if (!cfg->finalized || n <= cfg->k_hi)
		return AV_POLL_ERROR;
	K = cfg->k_hi - cfg->k_lo + 1;
	st->polls++;
	for (k = 0; k < K; k++) {
		size_t b = cfg->k_lo + k;
		enum av_poll r =
		    av_update(&cfg->edge, &st->edge[k], nc, hist_from(hist_canary, n, b), ns,
			      hist_from(hist_stable, n, b));

		if (k == 0)
			res = r;
		if (st->edge[k].rollback.log_e > m)
			m = st->edge[k].rollback.log_e;
	}
	if (res != AV_POLL_USED)
		return res;
	for (k = 0; k < K; k++)
		sum += exp(st->edge[k].rollback.log_e - m);
	st->log_e = m + log(sum) - cfg->log_k;
	if (st->log_e > st->log_e_max)
		st->log_e_max = st->log_e;
	if (!st->rejected && st->log_e >= cfg->log_threshold) {
		st->rejected = 1;
		st->reject_poll = st->polls;
	}
	return res;
}

int av_order_rejected(const struct av_order_state *st)
{
	return st->rejected != 0;
}

double av_order_evalue(const struct av_order_state *st)
{
	return st->log_e > 690 ? 1e300 : exp(st->log_e);
}

int av_guard_ratio(uint64_t events, uint64_t exposure, uint64_t min_exposure, double max_ratio)
{
	if (exposure == 0 || exposure < min_exposure)
		return 0;
	return (double)events > max_ratio * (double)exposure;
}

uint64_t av_hist_above(const uint64_t *counts, const uint64_t *upper, size_t n, uint64_t bound,
		       uint64_t *edge_used)
{
	uint64_t sum = 0;
	size_t k = 0, i;

	while (k < n && upper[k] < bound)
		k++;
	if (edge_used)
		*edge_used = k < n ? upper[k] : UINT64_MAX;
	for (i = k + 1; i < n; i++)
		sum = sat_add(sum, counts[i]);
	return sum;
}

/* ---- display statistics ---- */

double av_norm_cdf(double z)
{
	if (isnan(z))
		return 0.5;
	return 0.5 * erfc(-z / M_SQRT2);
}

struct av_interval av_wilson(uint64_t x, uint64_t n, double z)
{
	struct av_interval r = {0, 1, 0};
	double p, nn, d, c, h;

	if (n == 0 || !isfinite(z))
		return r;
	if (x > n)
		x = n;
	nn = (double)n;
	p = (double)x / nn;
	d = 1 + z * z / nn;
	c = (p + z * z / (2 * nn)) / d;
	h = fabs(z) / d * sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn));
	r.p = p;
	r.lo = c - h < 0 ? 0 : c - h;
	r.hi = c + h > 1 ? 1 : c + h;
	return r;
}

struct av_interval av_wald(uint64_t x, uint64_t n, double z)
{
	struct av_interval r = {0, 1, 0};
	double p, h;

	if (n == 0 || !isfinite(z))
		return r;
	if (x > n)
		x = n;
	p = (double)x / (double)n;
	h = fabs(z) * sqrt(p * (1 - p) / (double)n);
	r.p = p;
	r.lo = p - h < 0 ? 0 : p - h;
	r.hi = p + h > 1 ? 1 : p + h;
	return r;
}

double av_ztest(uint64_t xa, uint64_t na, uint64_t xb, uint64_t nb, double *p_one_sided)
{
	double pa, pb, pool, se, z = 0;

	if (na && nb) {
		if (xa > na)
			xa = na;
		if (xb > nb)
			xb = nb;
		pa = (double)xa / (double)na;
		pb = (double)xb / (double)nb;
		pool = ((double)xa + (double)xb) / ((double)na + (double)nb);
		se = sqrt(pool * (1 - pool) * (1 / (double)na + 1 / (double)nb));
		if (se > 0 && isfinite(se))
			z = (pa - pb) / se;
	}
	if (p_one_sided)
		*p_one_sided = 1 - av_norm_cdf(z);
	return z;
}

const char *av_poll_name(enum av_poll p)
{
	static const char *const names[] = {"used",    "baseline", "idle",
					    "one-arm", "reset",	   "error"};

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

const char *av_verdict_name(enum av_verdict v)
{
	static const char *const names[] = {"continue", "rollback", "promote"};

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

const char *av_unit_name(enum av_unit u)
{
	static const char *const names[] = {"flows", "packets", "responses", "trials"};

	return (unsigned)u < sizeof(names) / sizeof(names[0]) ? names[u] : "?";
}

int av_config_tolerance(struct av_config *cfg, bool lower_is_worse, double alpha, double tol,
			bool promote, uint32_t unit, char *err, size_t errlen)
{
	double k;
	unsigned int i;

	if (lower_is_worse)
		av_config_default_lower_is_worse(cfg);
	else
		av_config_default(cfg);
	k = tol / cfg->rollback.r_null;
	cfg->rollback.r_null = tol;
	cfg->rollback.alpha = alpha;
	for (i = 0; i < cfg->rollback.n_alt; i++)
		cfg->rollback.alt[i] *= k;
	cfg->promote.r_null *= k;
	for (i = 0; i < cfg->promote.n_alt; i++)
		cfg->promote.alt[i] *= k;
	cfg->promote_enabled = promote;
	cfg->unit = unit;
	return av_config_finalize(cfg, err, errlen);
}
