/* plan.c: parsing and validating rollout plans (see plan.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logic/plan.h"
#include "logic/analysis.h"
#include "base/util.h"
#include "base/yamlutil.h"

const char *const plan_signal_names[SIG_KINDS] = {
    "http_5xx", "resets", "unanswered_syn", "errored_flows", "ttfb", "ttfb_order", "metric"};

static const char *const top_keys[] = {"service",    "steps",	    "hold",
				       "min_flows",  "gate",	    "early_promotion",
				       "no_traffic_pause", "analysis", "on_rollback",
				       NULL};
static const char *const step_keys[] = {"weight", "hold", "min_flows", "gate", NULL};
static const char *const range_keys[] = {"start", "step", "max", NULL};
static const char *const analysis_keys[] = {"alpha",   "tolerance",	"signals", "guards",
					    "metrics", "srm_responses", NULL};
static const char *const signal_keys[] = {"name", "alpha", "tolerance", "bound", "from", "to",
					  NULL};
static const char *const guard_keys[] = {"signal", "max_ratio", "min_exposure", NULL};
static const char *const metric_keys[] = {"name",	 "direction",	"alpha",      "tolerance",
					  "source",	 "error_limit", "stale_after", NULL};
static const char *const prom_keys[] = {"url", "successes", "trials", NULL};
static const char *const arm_keys[] = {"stable", "canary", NULL};

static int signal_kind(const char *name)
{
	int k;

	for (k = 0; k < SIG_METRIC; k++)
		if (!strcmp(name, plan_signal_names[k]))
			return k;
	return -1;
}

/* ttfb_order's edges: the powers of two (in us) from `from` to `to`, defaults 1 ms and
 * 1 s, within the data plane's histogram (its last bucket is open, so 2^23 us at most). */
static void order_edges(struct ydoc *d, yaml_node_t *it, const char *field,
			struct plan_signal *s)
{
	long from_ms = 1, to_ms = 1000;
	uint64_t from_us, to_us;
	uint32_t lo = 0, hi = 0;

	if (yis_map(it)) {
		yget_duration_ms(d, it, field, "from", &from_ms, false);
		yget_duration_ms(d, it, field, "to", &to_ms, false);
	}
	from_us = (uint64_t)(from_ms > 0 ? from_ms : 1) * 1000;
	to_us = (uint64_t)(to_ms > 0 ? to_ms : 1) * 1000;
	while (lo < 63 && (1ull << lo) < from_us)
		lo++;
	while (hi < 62 && (2ull << hi) <= to_us)
		hi++;
	if (lo > hi || lo < 1 || hi >= CANARY_HIST_BUCKETS || hi - lo + 1 > AV_ORDER_MAX) {
		yerr(d, it, field, "ttfb_order needs from < to with a power of two microseconds "
				   "between them, and to at most %llu ms (e.g. {name: ttfb_order, "
				   "from: 1ms, to: 1s})",
		     (unsigned long long)((1ull << (CANARY_HIST_BUCKETS - 1)) / 1000));
		return;
	}
	s->order_k_lo = lo;
	s->order_k_hi = hi;
}

/* A weight: a number 0..100 with at most two decimals. */
static int parse_weight(struct ydoc *d, yaml_node_t *n, const char *field, uint16_t *bp)
{
	const char *v = yscalar(n), *why;

	if (!v) {
		yerr(d, n, field, "must be a percent, e.g. 5 or 2.5");
		return -1;
	}
	if (percent_to_bp(v, bp, &why)) {
		yerr(d, n, field, "'%s' %s (a percent 0..100, e.g. 5 or 2.5)", v, why);
		return -1;
	}
	return 0;
}

/* A step's hold, minimum flows and gate, from the plan's defaults. */
static void step_defaults(struct plan_step *s, const struct plan_step *def)
{
	s->hold_ms = def->hold_ms;
	s->min_flows = def->min_flows;
	s->gate = def->gate;
}

/* steps: {start, step, max}: every weight from start to max, step apart. False when the
 * range is unusable (after saying why). */
static bool parse_step_range(struct ydoc *d, yaml_node_t *n, struct plan *p,
			     const struct plan_step *def)
{
	uint16_t start = 0, step = 0, max = 0;
	unsigned int w;

	ycheck_keys(d, n, "steps", range_keys);
	if (!yget(d, n, "start") || !yget(d, n, "step") || !yget(d, n, "max")) {
		yerr(d, n, "steps",
		     "a range needs start, step and max, e.g. "
		     "{start: 5, step: 10, max: 50}");
		return false;
	}
	if (parse_weight(d, yget(d, n, "start"), "steps.start", &start) ||
	    parse_weight(d, yget(d, n, "step"), "steps.step", &step) ||
	    parse_weight(d, yget(d, n, "max"), "steps.max", &max))
		return false;
	if (!start || !step || max < start) {
		yerr(d, n, "steps", "needs start > 0, step > 0 and max >= start");
		return false;
	}
	for (w = start; w <= max && p->nsteps < PLAN_MAX_STEPS; w += step) {
		struct plan_step *s = &p->steps[p->nsteps++];

		s->weight_bp = w;
		step_defaults(s, def);
	}
	if (w <= max)
		yerr(d, n, "steps", "gives more than %d steps", PLAN_MAX_STEPS);
	return true;
}

/* Item i of a steps list: a weight, or {weight, hold, min_flows, gate}. The step is
 * added when it is valid and rises above the one before. */
static void parse_step_item(struct ydoc *d, yaml_node_t *it, int i, struct plan *p,
			    const struct plan_step *def)
{
	struct plan_step *s = &p->steps[p->nsteps];
	char field[64];
	long v;

	snprintf(field, sizeof(field), "steps[%d]", i);
	step_defaults(s, def);
	if (yis_map(it)) {
		ycheck_keys(d, it, field, step_keys);
		if (!yget(d, it, "weight")) {
			yerr(d, it, field, "missing weight");
			return;
		}
		if (parse_weight(d, yget(d, it, "weight"), field, &s->weight_bp))
			return;
		yget_duration_ms(d, it, field, "hold", &s->hold_ms, false);
		if (yget_long(d, it, field, "min_flows", 0, 1000000000L, &v, false) > 0)
			s->min_flows = v;
		yget_bool(d, it, field, "gate", &s->gate, false);
	} else if (parse_weight(d, it, field, &s->weight_bp)) {
		return;
	}
	if (s->weight_bp == 0) {
		yerr(d, it, field, "a step must send some traffic to the canary (> 0)");
		return;
	}
	if (p->nsteps && s->weight_bp <= p->steps[p->nsteps - 1].weight_bp) {
		char b[16];

		yerr(d, it, field, "steps must rise: %s is not above the step before",
		     bp_pct(s->weight_bp, b, sizeof(b)));
		return;
	}
	p->nsteps++;
}

static void parse_steps(struct ydoc *d, yaml_node_t *root, struct plan *p, long hold_ms,
			uint64_t min_flows, bool gate)
{
	const struct plan_step def = {.hold_ms = hold_ms, .min_flows = min_flows, .gate = gate};
	yaml_node_t *n = yget(d, root, "steps");
	int i, cnt;

	if (!n) {
		yerr(d, root, "steps", "missing: list the canary percent of each step, e.g. "
				       "[1, 5, 25, 50, 100], or give {start, step, max}");
		return;
	}
	if (yis_map(n)) {
		if (!parse_step_range(d, n, p, &def))
			return;
	} else if (yis_seq(n)) {
		cnt = yseq_len(n);
		if (cnt == 0 || cnt > PLAN_MAX_STEPS) {
			yerr(d, n, "steps", "needs 1 to %d steps", PLAN_MAX_STEPS);
			return;
		}
		for (i = 0; i < cnt; i++)
			parse_step_item(d, yseq_item(d, n, i), i, p, &def);
	} else {
		yerr(d, n, "steps", "must be a list like [1, 5, 25, 50, 100] or {start, step, max}");
		return;
	}
	/* A ramp always ends with the promotion to 100%. */
	if (p->nsteps && p->steps[p->nsteps - 1].weight_bp != CANARY_WEIGHT_SCALE) {
		if (p->nsteps == PLAN_MAX_STEPS) {
			yerr(d, n, "steps", "leaves no room for the final 100%% step");
			return;
		}
		p->steps[p->nsteps] = p->steps[p->nsteps - 1];
		p->steps[p->nsteps].weight_bp = CANARY_WEIGHT_SCALE;
		p->steps[p->nsteps].gate = false;
		p->nsteps++;
	}
}

static void parse_signals(struct ydoc *d, yaml_node_t *an, struct plan *p)
{
	yaml_node_t *n = yget(d, an, "signals");
	char field[64];
	int i, cnt;

	if (!n) {
		static const int defaults[] = {SIG_HTTP_5XX, SIG_RESETS, SIG_UNANSWERED_SYN,
					       SIG_ERRORED_FLOWS};

		for (i = 0; i < 4; i++) {
			p->signals[i].kind = defaults[i];
			p->signals[i].alpha = p->alpha;
			p->signals[i].tolerance = p->tolerance;
		}
		p->nsignals = 4;
		return;
	}
	if (!yis_seq(n)) {
		yerr(d, n, "analysis.signals", "must be a list, e.g. [http_5xx, resets]");
		return;
	}
	cnt = yseq_len(n);
	for (i = 0; i < cnt; i++) {
		yaml_node_t *it = yseq_item(d, n, i);
		struct plan_signal *s = &p->signals[p->nsignals];
		const char *name = yscalar(it);
		char buf[64];
		long bound;
		unsigned int j;

		snprintf(field, sizeof(field), "analysis.signals[%d]", i);
		if (p->nsignals == PLAN_MAX_SIGNALS) {
			yerr(d, it, field, "at most %d signals", PLAN_MAX_SIGNALS);
			return;
		}
		s->alpha = p->alpha;
		s->tolerance = p->tolerance;
		if (yis_map(it)) {
			ycheck_keys(d, it, field, signal_keys);
			if (yget_str(d, it, field, "name", buf, sizeof(buf), true) <= 0)
				continue;
			name = buf;
			yget_double(d, it, field, "alpha", 1e-9, 0.5, &s->alpha, false);
			yget_double(d, it, field, "tolerance", 1.0, 100, &s->tolerance, false);
			if (yget_duration_ms(d, it, field, "bound", &bound, false) > 0)
				s->ttfb_bound_us = (uint64_t)bound * 1000;
			if ((yget(d, it, "from") || yget(d, it, "to")) && strcmp(name, "ttfb_order"))
				yerr(d, it, field, "from and to are for ttfb_order only");
		}
		if (!name) {
			yerr(d, it, field, "must be a signal name or {name: ..., alpha: ...}");
			continue;
		}
		s->kind = signal_kind(name);
		if (s->kind < 0) {
			yerr(d, it, field, "unknown signal '%s' (known: http_5xx, resets, "
					   "unanswered_syn, errored_flows, ttfb, ttfb_order)",
			     name);
			continue;
		}
		if (s->kind == SIG_TTFB_ORDER)
			order_edges(d, it, field, s);
		if (s->kind == SIG_TTFB && !s->ttfb_bound_us) {
			yerr(d, it, field, "ttfb needs a latency bound: {name: ttfb, bound: 200ms}");
			continue;
		}
		for (j = 0; j < p->nsignals; j++)
			if (p->signals[j].kind == s->kind)
				break;
		if (j < p->nsignals) {
			yerr(d, it, field, "signal '%s' is listed twice", name);
			continue;
		}
		p->nsignals++;
	}
}

static void parse_guards(struct ydoc *d, yaml_node_t *an, struct plan *p)
{
	yaml_node_t *n = yget(d, an, "guards");
	char field[64], name[64];
	int i, cnt;
	long v;

	if (!n)
		return;
	if (!yis_seq(n)) {
		yerr(d, n, "analysis.guards",
		     "must be a list of {signal, max_ratio, min_exposure}");
		return;
	}
	cnt = yseq_len(n);
	for (i = 0; i < cnt && p->nguards < PLAN_MAX_GUARDS; i++) {
		yaml_node_t *it = yseq_item(d, n, i);
		struct plan_guard *g = &p->guards[p->nguards];

		snprintf(field, sizeof(field), "analysis.guards[%d]", i);
		if (!yis_map(it)) {
			yerr(d, it, field, "must be {signal: http_5xx, max_ratio: 0.2, "
					   "min_exposure: 100}");
			continue;
		}
		ycheck_keys(d, it, field, guard_keys);
		g->min_exposure = 100;
		if (yget_str(d, it, field, "signal", name, sizeof(name), true) <= 0 ||
		    yget_double(d, it, field, "max_ratio", 0, 1, &g->max_ratio, true) <= 0)
			continue;
		if (yget_long(d, it, field, "min_exposure", 1, 1000000000L, &v, false) > 0)
			g->min_exposure = v;
		g->kind = signal_kind(name);
		if (g->kind < 0 || g->kind == SIG_TTFB || g->kind == SIG_TTFB_ORDER) {
			yerr(d, yget(d, it, "signal"), field,
			     "'%s' cannot be guarded (use http_5xx, resets, unanswered_syn or "
			     "errored_flows)",
			     name);
			continue;
		}
		p->nguards++;
	}
	if (i < cnt)
		yerr(d, n, "analysis.guards", "at most %d guards", PLAN_MAX_GUARDS);
}

/* successes: {stable: QUERY, canary: QUERY} */
static void parse_queries(struct ydoc *d, yaml_node_t *prom, const char *field, const char *key,
			  char q[CANARY_ARMS][PLAN_QUERY_LEN])
{
	yaml_node_t *n = yget(d, prom, key);
	char f2[160];
	int arm;

	snprintf(f2, sizeof(f2), "%s.%s", field, key);
	if (!yis_map(n)) {
		yerr(d, n ?: prom, f2, "must be {stable: QUERY, canary: QUERY} (PromQL returning "
				       "a cumulative count)");
		return;
	}
	ycheck_keys(d, n, f2, arm_keys);
	for (arm = 0; arm < CANARY_ARMS; arm++)
		yget_str(d, n, f2, arm ? "canary" : "stable", q[arm], PLAN_QUERY_LEN, true);
}

static bool has_control(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return true;
	return false;
}

/* A metric's name: well-formed, not listed before, and not a data-plane signal's. */
static bool metric_name(struct ydoc *d, yaml_node_t *it, const char *field, const struct plan *p,
			struct plan_metric *m)
{
	unsigned int j;

	if (yget_str(d, it, field, "name", m->name, sizeof(m->name), true) <= 0)
		return false;
	if (!service_name_valid(m->name)) {
		yerr(d, yget(d, it, "name"), field,
		     "name '%s' must be 1..31 characters of a-z, 0-9, '_' and '-'", m->name);
		return false;
	}
	for (j = 0; j < p->nmetrics; j++)
		if (!strcmp(p->metrics[j].name, m->name))
			break;
	if (j < p->nmetrics) {
		yerr(d, yget(d, it, "name"), field, "metric '%s' is listed twice", m->name);
		return false;
	}
	for (j = 0; j < SIG_KINDS && strcmp(plan_signal_names[j], m->name); j++)
		;
	if (j < SIG_KINDS) {
		yerr(d, yget(d, it, "name"), field,
		     "name '%s' is the name of a data-plane signal; give the metric "
		     "another name so evidence and history cannot confuse the two",
		     m->name);
		return false;
	}
	return true;
}

/* direction: lower_is_worse (the default) or higher_is_worse. */
static bool metric_direction(struct ydoc *d, yaml_node_t *it, const char *field,
			     struct plan_metric *m)
{
	char buf[64];

	if (yget_str(d, it, field, "direction", buf, sizeof(buf), false) <= 0)
		return true;
	if (!strcmp(buf, "higher_is_worse")) {
		m->lower_is_worse = false;
	} else if (strcmp(buf, "lower_is_worse")) {
		yerr(d, yget(d, it, "direction"), field,
		     "direction '%s' must be lower_is_worse (successes are good: "
		     "clicks, conversions) or higher_is_worse (events are bad)",
		     buf);
		return false;
	}
	return true;
}

/* source: push (the default), or {prometheus: {url, successes, trials}}. */
static bool metric_source(struct ydoc *d, yaml_node_t *it, const char *field, struct plan_metric *m)
{
	yaml_node_t *src = yget(d, it, "source"), *prom;
	char f2[128];

	if (!src || (yscalar(src) && !strcmp(yscalar(src), "push"))) {
		m->source = METRIC_PUSH;
		return true;
	}
	if (!yis_map(src) || !yis_map(yget(d, src, "prometheus"))) {
		yerr(d, src, field,
		     "source must be push, or {prometheus: {url, successes, "
		     "trials}}");
		return false;
	}
	prom = yget(d, src, "prometheus");
	snprintf(f2, sizeof(f2), "%s.source.prometheus", field);
	ycheck_keys(d, prom, f2, prom_keys);
	m->source = METRIC_PROMETHEUS;
	if (yget_str(d, prom, f2, "url", m->url, sizeof(m->url), true) > 0) {
		if (strncmp(m->url, "http://", 7) && strncmp(m->url, "https://", 8))
			yerr(d, yget(d, prom, "url"), f2,
			     "url '%s' must start with http:// or https://", m->url);
		else if (has_control(m->url) || strpbrk(m->url, " \"<>\\^`{|}"))
			yerr(d, yget(d, prom, "url"), f2,
			     "url must not contain spaces, control characters (CR, "
			     "LF, ...) or any of \"<>\\^`{|}");
	}
	parse_queries(d, prom, f2, "successes", m->successes);
	parse_queries(d, prom, f2, "trials", m->trials);
	return true;
}

static void parse_metrics(struct ydoc *d, yaml_node_t *an, struct plan *p)
{
	yaml_node_t *n = yget(d, an, "metrics");
	char field[64];
	int i, cnt;
	long v;

	if (!n)
		return;
	if (!yis_seq(n)) {
		yerr(d, n, "analysis.metrics", "must be a list of {name, direction, source, ...}");
		return;
	}
	cnt = yseq_len(n);
	for (i = 0; i < cnt; i++) {
		yaml_node_t *it = yseq_item(d, n, i);
		struct plan_metric *m = &p->metrics[p->nmetrics];

		snprintf(field, sizeof(field), "analysis.metrics[%d]", i);
		if (p->nmetrics == PLAN_MAX_METRICS) {
			yerr(d, it, field, "at most %d metrics", PLAN_MAX_METRICS);
			return;
		}
		if (!yis_map(it)) {
			yerr(d, it, field, "must be {name: ctr, direction: lower_is_worse, source: "
					   "push}");
			continue;
		}
		ycheck_keys(d, it, field, metric_keys);
		m->lower_is_worse = true;
		m->alpha = p->alpha;
		m->tolerance = 1.05;
		m->error_limit = 5;
		m->stale_ms = 30000;
		if (!metric_name(d, it, field, p, m) || !metric_direction(d, it, field, m))
			continue;
		yget_double(d, it, field, "alpha", 1e-9, 0.5, &m->alpha, false);
		yget_double(d, it, field, "tolerance", 1.0, 100, &m->tolerance, false);
		if (yget_long(d, it, field, "error_limit", 1, 1000000, &v, false) > 0)
			m->error_limit = (int)v;
		if (yget_duration_ms(d, it, field, "stale_after", &m->stale_ms, false) > 0 &&
		    (m->stale_ms < 1000 || m->stale_ms > 86400000))
			yerr(d, yget(d, it, "stale_after"), field,
			     "stale_after must be from 1s to 24h (a metric with no report for "
			     "that long counts as an error)");
		if (!metric_source(d, it, field, m))
			continue;
		p->nmetrics++;
	}
}

static int parse_doc(struct ydoc *d, struct plan *p)
{
	yaml_node_t *root = ydoc_root(d), *an;
	char buf[64];
	long hold_ms = 10000, v, ntp = 30000;
	uint64_t min_flows = 100;
	bool gate = false;

	if (!yis_map(root)) {
		yerr(d, root, "(top level)", "a plan is a mapping with service, steps, ...");
		return -EINVAL;
	}
	ycheck_keys(d, root, "(top level)", top_keys);
	if (yget_str(d, root, "", "service", p->service, sizeof(p->service), true) > 0 &&
	    !service_name_valid(p->service))
		yerr(d, yget(d, root, "service"), "service",
		     "'%s' is not a service name (a-z, 0-9, '_', '-')", p->service);
	yget_duration_ms(d, root, "", "hold", &hold_ms, false);
	if (yget_long(d, root, "", "min_flows", 0, 1000000000L, &v, false) > 0)
		min_flows = v;
	yget_bool(d, root, "", "gate", &gate, false);
	yget_bool(d, root, "", "early_promotion", &p->early_promotion, false);
	if (yget_duration_ms(d, root, "", "no_traffic_pause", &ntp, false) > 0 && ntp < 1000)
		yerr(d, yget(d, root, "no_traffic_pause"), "no_traffic_pause",
		     "must be at least 1s");
	p->no_traffic_ms = ntp;

	p->alpha = 0.01;
	p->tolerance = 1.1;
	an = yget(d, root, "analysis");
	if (an && !yis_map(an))
		yerr(d, an, "analysis", "must be a mapping with alpha, tolerance, signals, ...");
	if (yis_map(an)) {
		ycheck_keys(d, an, "analysis", analysis_keys);
		yget_double(d, an, "analysis", "alpha", 1e-9, 0.5, &p->alpha, false);
		yget_double(d, an, "analysis", "tolerance", 1.0, 100, &p->tolerance, false);
		yget_bool(d, an, "analysis", "srm_responses", &p->srm_responses, false);
	}
	parse_steps(d, root, p, hold_ms, min_flows, gate);
	parse_signals(d, yis_map(an) ? an : NULL, p);
	if (yis_map(an)) {
		parse_guards(d, an, p);
		parse_metrics(d, an, p);
	}
	p->on_rollback = ROLLBACK_DRAIN;
	if (yget_str(d, root, "", "on_rollback", buf, sizeof(buf), false) > 0) {
		if (!strcmp(buf, "reset"))
			p->on_rollback = ROLLBACK_RESET;
		else if (strcmp(buf, "drain"))
			yerr(d, yget(d, root, "on_rollback"), "on_rollback",
			     "'%s' must be drain (pinned canary flows finish) or reset (canary "
			     "flows are dropped from the flow table)",
			     buf);
	}
	return d->errors ? -EINVAL : 0;
}

int plan_parse_text(const char *text, size_t len, const char *file, struct plan *p, FILE *err)
{
	struct ydoc d;
	int rc;

	memset(p, 0, sizeof(*p));
	snprintf(p->file, sizeof(p->file), "%s", file);
	if (len > PLAN_MAX_BYTES) {
		extern const char *__progname;

		fprintf(err ?: stderr, "%s: error: %s: the plan is longer than %d bytes\n",
			__progname, file, PLAN_MAX_BYTES);
		return -EFBIG;
	}
	rc = ydoc_load_buffer(&d, file, text, len, err);
	if (!rc)
		rc = parse_doc(&d, p);
	return ydoc_finish(&d, rc);
}

int plan_load(const char *path, struct plan *p)
{
	char *text;
	size_t n;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = file_read_all(path, PLAN_MAX_BYTES, &text, &n);
	if (rc == -EFBIG) {
		log_error("%s: the plan is longer than %d bytes", path, PLAN_MAX_BYTES);
		return rc;
	}
	if (rc) {
		log_error("cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = plan_parse_text(text, n, path, p, NULL);
	free(text);
	return rc;
}

static const char *dur(long ms, char *buf, size_t len)
{
	if (ms % 60000 == 0 && ms >= 60000)
		snprintf(buf, len, "%ldm", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%lds", ms / 1000);
	else
		snprintf(buf, len, "%.1fs", ms / 1000.0);
	return buf;
}

void plan_print_schedule(const struct plan *p, FILE *f)
{
	long fastest = 0;
	bool gates = false, flows = false;
	char w[16], h[32];
	unsigned int i;

	fprintf(f, "plan for service '%s' (%s): %u steps\n", p->service, p->file, p->nsteps);
	fprintf(f, "  %-5s %8s %8s %18s  %s\n", "step", "canary", "hold", "min canary flows",
		"then");
	for (i = 0; i < p->nsteps; i++) {
		const struct plan_step *s = &p->steps[i];
		bool last = i + 1 == p->nsteps;

		fprintf(f, "  %-5u %7s%% %8s %18llu  %s\n", i + 1, bp_str(s->weight_bp, w, sizeof(w)),
			dur(s->hold_ms, h, sizeof(h)), (unsigned long long)s->min_flows,
			last ? "succeeded" : s->gate ? "wait for 'canaryctl rollout promote'"
						     : "next step");
		fastest += s->hold_ms;
		gates |= s->gate;
		flows |= s->min_flows > 0;
	}
	fprintf(f, "analysis: roll back when any signal's e-value reaches 1/alpha\n");
	for (i = 0; i < p->nsignals; i++) {
		const struct plan_signal *s = &p->signals[i];

		fprintf(f, "  %-16s alpha %g (threshold %g), tolerance %gx", plan_signal_names[s->kind],
			s->alpha, 1 / s->alpha, s->tolerance);
		if (s->kind == SIG_TTFB)
			fprintf(f, ", responses slower than %llu ms",
				(unsigned long long)s->ttfb_bound_us / 1000);
		if (s->kind == SIG_TTFB_ORDER)
			fprintf(f, ", slower responses at any of %u edges from %.3g to %.3g ms",
				s->order_k_hi - s->order_k_lo + 1, (double)(1ull << s->order_k_lo) / 1000,
				(double)(1ull << s->order_k_hi) / 1000);
		fputc('\n', f);
	}
	for (i = 0; i < p->nmetrics; i++) {
		const struct plan_metric *m = &p->metrics[i];

		fprintf(f, "  metric %-9s %s, alpha %g, tolerance %gx, from %s%s\n", m->name,
			m->lower_is_worse ? "lower is worse" : "higher is worse", m->alpha,
			m->tolerance, m->source == METRIC_PUSH ? "pushes" : "Prometheus at ",
			m->source == METRIC_PUSH ? "" : m->url);
	}
	for (i = 0; i < p->nguards; i++)
		fprintf(f, "  guard: canary %s above %g with at least %llu exposure -> roll back\n",
			plan_signal_names[p->guards[i].kind], p->guards[i].max_ratio,
			(unsigned long long)p->guards[i].min_exposure);
	fprintf(f, "no traffic: hold time only runs while the canary gets traffic; paused "
		   "after %s without\n",
		dur(p->no_traffic_ms, h, sizeof(h)));
	fprintf(f, "on rollback: %s\n",
		p->on_rollback == ROLLBACK_RESET ? "reset (canary flows dropped from the flow table)"
						 : "drain (pinned canary flows finish)");
	fprintf(f, "fastest: %s%s\n",
		p->early_promotion ? "one poll per step, when early promotion fires; else "
				   : "",
		dur(fastest, h, sizeof(h)));
	if (gates || flows || p->nsteps)
		fprintf(f, "slowest: unbounded: %s%s%s\n",
			flows ? "each step waits for its canary flows, " : "",
			gates ? "manual gates wait for a person, " : "",
			"and hold time stops while there is no traffic");
}
