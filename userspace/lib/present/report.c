/* report.c: the HTML report of a service's last rollout (canaryctl report): the weight
 * over time, each signal's per-arm rate with its Wilson 95% interval, each signal's
 * e-value against its threshold on a log axis, the steps, the holds (paused or waiting
 * at a gate), the moment of rollback or promotion, and the history as a table. Inline
 * SVG and CSS only, so any browser shows it with scripts off; each plotted point carries
 * its values (data-*) and each chart its axes, so a test can map points back. */
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logic/analysis.h"
#include "present/report.h"

/* One moment of the rollout: a history entry, or the status at its end. */
struct rpoint {
	int64_t t_ms;
	double old_w, new_w;
	int step, steps;
	const char *time, *reason, *phase, *actor, *detail, *evidence;
	unsigned int nsig;
	struct report_sig sig[REPORT_MAX_SIGNALS];
	bool from_status;
};

struct report {
	const char *svc;
	struct rpoint *p;
	unsigned int n;
	char names[REPORT_MAX_SIGNALS][32]; /* every signal seen, in order */
	double thr[REPORT_MAX_SIGNALS];
	unsigned int nnames;
	int64_t t0, t1;
};

/* A chart's axes: time t0..t1 to pixels x0..x1; values v0..v1 to pixels y0..y1
 * (y0 below y1), linearly or by log10. */
struct axes {
	double t0, t1, x0, x1, v0, v1, y0, y1;
	bool log;
};

#define CHART_W	  920
#define CHART_L	  76
#define CHART_R	  24
#define CHART_TOP 22
#define CHART_PH  170 /* the plot's height */
#define CHART_H	  (CHART_TOP + CHART_PH + 34)

static const char *const arm_colors[2] = {"#0b6bcb", "#e8710a"};
static const char *const sig_colors[] = {"#b00020", "#1a7f37", "#6f42c1", "#9a6700",
					 "#0b6bcb", "#e8710a", "#3b5b2e", "#7a3e00"};

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : "";
}

static double jnum(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_double(v) : 0;
}

static struct json_object *jget(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* Text for HTML and SVG: &, <, > and quotes escaped. */
static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

unsigned int report_parse_evidence(const char *text, struct report_sig *out, unsigned int max)
{
	const char *end = text ? strchr(text, ';') : NULL, *p = text;
	unsigned int n = 0;

	while (p && *p && (!end || p < end) && n < max) {
		struct report_sig *s = &out[n];
		int used = 0;

		memset(s, 0, sizeof(*s));
		if (sscanf(p,
			   " %31[a-z0-9_] E=%lf/%lf (canary %" SCNu64 "/%" SCNu64
			   ", stable %" SCNu64 "/%" SCNu64 ")%n",
			   s->name, &s->e, &s->thr, &s->x[1], &s->n[1], &s->x[0], &s->n[0],
			   &used) != 7 ||
		    !used)
			break;
		n++;
		p += used;
		if (*p != ',')
			break;
		p++;
	}
	return n;
}

/* "2026-12-01T10:00:00Z" in ms, or 0. */
static int64_t iso_ms(const char *s)
{
	struct tm tm = {};
	const char *rest = s && *s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;

	return rest ? (int64_t)timegm(&tm) * 1000 : 0;
}

/* Where signal name is among the report's, added when new; -1 when there are too many. */
static int sig_index(struct report *r, const struct report_sig *s)
{
	unsigned int i;

	for (i = 0; i < r->nnames; i++)
		if (!strcmp(r->names[i], s->name))
			return (int)i;
	if (r->nnames == REPORT_MAX_SIGNALS)
		return -1;
	snprintf(r->names[r->nnames], sizeof(r->names[0]), "%s", s->name);
	r->thr[r->nnames] = s->thr;
	return (int)r->nnames++;
}

/* The status at the end (or now): its weight and each signal's evidence. */
static void point_from_status(struct rpoint *p, struct json_object *st, int64_t now_ms)
{
	struct json_object *ev = jget(st, "evidence");
	size_t i;

	memset(p, 0, sizeof(*p));
	p->from_status = true;
	p->t_ms = iso_ms(jstr(st, "ended_at"));
	if (!p->t_ms)
		p->t_ms = now_ms;
	p->old_w = p->new_w = jnum(st, "canary_weight");
	p->step = (int)jnum(st, "step");
	p->steps = (int)jnum(st, "steps");
	p->time = jstr(st, "ended_at");
	p->reason = "status";
	p->phase = jstr(st, "phase");
	p->actor = "";
	p->detail = jstr(st, "reason");
	p->evidence = "";
	for (i = 0; ev && i < json_object_array_length(ev) && p->nsig < REPORT_MAX_SIGNALS; i++) {
		struct json_object *e = json_object_array_get_idx(ev, i);
		struct report_sig *s = &p->sig[p->nsig++];
		int arm;

		snprintf(s->name, sizeof(s->name), "%s", jstr(e, "signal"));
		s->e = jnum(e, "e_value");
		s->thr = jnum(e, "threshold");
		for (arm = 0; arm < 2; arm++) {
			struct json_object *a = jget(e, arm ? "canary" : "stable");

			s->x[arm] = (uint64_t)jnum(a, "events");
			s->n[arm] = (uint64_t)jnum(a, "exposure");
		}
	}
}

static void point_from_entry(struct rpoint *p, struct json_object *e)
{
	memset(p, 0, sizeof(*p));
	p->t_ms = (int64_t)jnum(e, "time_ms");
	p->old_w = jnum(e, "old_weight");
	p->new_w = jnum(e, "new_weight");
	p->step = (int)jnum(e, "step");
	p->steps = (int)jnum(e, "steps");
	p->time = jstr(e, "time");
	p->reason = jstr(e, "reason");
	p->phase = jstr(e, "phase");
	p->actor = jstr(e, "actor");
	p->detail = jstr(e, "detail");
	p->evidence = jstr(e, "evidence");
	p->nsig = report_parse_evidence(p->evidence, p->sig, REPORT_MAX_SIGNALS);
}

/* The last rollout's points: the history from its last "start", then the status when
 * it is of the same rollout. 0, or -1 with err set. */
static int report_load(struct report *r, struct json_object *hist, struct json_object *st,
		       int64_t now_ms, char *err, size_t len)
{
	size_t n =
	    hist && json_object_is_type(hist, json_type_array) ? json_object_array_length(hist) : 0;
	size_t first = n, i;
	unsigned int k;

	for (i = n; i-- > 0;)
		if (!strcmp(jstr(json_object_array_get_idx(hist, i), "reason"), "start")) {
			first = i;
			break;
		}
	if (first == n) {
		snprintf(err, len, "the history of %s has no rollout (no 'start' entry)", r->svc);
		return -1;
	}
	r->p = calloc(n - first + 1, sizeof(*r->p));
	if (!r->p) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	for (i = first; i < n; i++)
		point_from_entry(&r->p[r->n++], json_object_array_get_idx(hist, i));
	/* The status belongs to this rollout if it started when the start entry was made. */
	if (st && llabs(iso_ms(jstr(st, "started_at")) - r->p[0].t_ms) < 2000) {
		struct rpoint *p = &r->p[r->n++];

		point_from_status(p, st, now_ms);
		/* ended_at has whole seconds: never before the last entry. */
		if (p->t_ms < p[-1].t_ms)
			p->t_ms = p[-1].t_ms;
	}
	r->t0 = r->p[0].t_ms;
	r->t1 = r->t0 + 1000;
	for (i = 0; i < r->n; i++)
		r->t1 = r->p[i].t_ms > r->t1 ? r->p[i].t_ms : r->t1;
	r->t1 += (r->t1 - r->t0) / 30; /* the last points off the frame's edge */
	for (i = 0; i < r->n; i++)
		for (k = 0; k < r->p[i].nsig; k++)
			sig_index(r, &r->p[i].sig[k]);
	return 0;
}

static double ax_x(const struct axes *a, double t)
{
	return a->x0 + (a->x1 - a->x0) * (t - a->t0) / (a->t1 - a->t0);
}

static double ax_y(const struct axes *a, double v)
{
	double lo = a->log ? log10(a->v0) : a->v0, hi = a->log ? log10(a->v1) : a->v1, u;

	if (a->log)
		v = v > 0 ? log10(v) : lo;
	u = v < lo ? lo : v > hi ? hi : v;
	return a->y0 + (a->y1 - a->y0) * (u - lo) / (hi - lo);
}

/* The chart's opening: its axes as data attributes, the frame, the title. */
static void chart_open(FILE *f, const char *id, const char *title, const struct axes *a)
{
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"%s\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" data-t0=\"%.0f\" data-t1=\"%.0f\" "
		"data-x0=\"%.2f\" data-x1=\"%.2f\" data-v0=\"%.10g\" data-v1=\"%.10g\" "
		"data-y0=\"%.2f\" data-y1=\"%.2f\" data-scale=\"%s\">\n",
		id, CHART_W, CHART_H, CHART_W, CHART_H, a->t0, a->t1, a->x0, a->x1, a->v0, a->v1,
		a->y0, a->y1, a->log ? "log10" : "linear");
	fprintf(f, "<text x=\"%d\" y=\"14\" class=\"title\">", CHART_L);
	esc(f, title);
	fprintf(f,
		"</text>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		"fill=\"#fbfbfd\" stroke=\"#c9cdd6\"/>\n",
		a->x0, a->y1, a->x1 - a->x0, a->y0 - a->y1);
}

static void ytick(FILE *f, const struct axes *a, double v, const char *label)
{
	double y = ax_y(a, v);

	fprintf(f,
		"<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e6ec\"/>"
		"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
		a->x0, a->x1, y, y, a->x0 - 5, y + 4, label);
}

/* Seconds since the start along the bottom, about six ticks. */
static void xticks(FILE *f, const struct axes *a)
{
	static const double steps[] = {1,   2,	 5,    10,   15,   30,	  60,	 120,  300,
				       600, 900, 1800, 3600, 7200, 21600, 43200, 86400};
	double span = (a->t1 - a->t0) / 1000, step, s;
	unsigned int i = 0;

	while (i + 1 < sizeof(steps) / sizeof(steps[0]) && span / steps[i] > 6)
		i++;
	step = steps[i];
	for (s = 0; s <= span + 1e-9; s += step) {
		double x = ax_x(a, a->t0 + s * 1000);

		fprintf(f,
			"<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#889\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">+%gs</text>\n",
			x, x, a->y0, a->y0 + 4, x, a->y0 + 16, s);
	}
}

/* What a moment marks on every chart: a rollback, a promotion, a change by hand. */
static const char *mark_kind(const struct rpoint *p)
{
	if (p->from_status)
		return NULL;
	if (!strcmp(p->reason, "auto-rollback") || !strcmp(p->reason, "abort"))
		return "rollback";
	/* Promoted: by hand, or the step that took the canary to 100%. */
	if (!strcmp(p->reason, "promote") || (p->new_w >= 100 && p->old_w < 100))
		return "promotion";
	if (!strcmp(p->reason, "manual") || !strcmp(p->reason, "external"))
		return "manual";
	return NULL;
}

/* The holds (the rollout paused, or waiting at a gate) as bands, the moments of
 * rollback, promotion and manual change as lines. */
static void chart_marks(FILE *f, const struct report *r, const struct axes *a)
{
	unsigned int i;

	for (i = 0; i + 1 < r->n; i++) {
		const struct rpoint *p = &r->p[i];

		if (strcmp(p->phase, "Paused") && strcmp(p->phase, "WaitingForGate"))
			continue;
		fprintf(
		    f,
		    "<rect class=\"hold\" data-phase=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"#f5e6b8\" fill-opacity=\"0.6\"/>\n",
		    p->phase, ax_x(a, p->t_ms), a->y1, ax_x(a, r->p[i + 1].t_ms) - ax_x(a, p->t_ms),
		    a->y0 - a->y1);
	}
	for (i = 0; i < r->n; i++) {
		const char *kind = mark_kind(&r->p[i]);
		const char *c = !kind			     ? NULL
				: !strcmp(kind, "rollback")  ? "#b00020"
				: !strcmp(kind, "promotion") ? "#1a7f37"
							     : "#6f42c1";
		double x = ax_x(a, r->p[i].t_ms);

		if (!kind)
			continue;
		/* The label to the line's right, or to its left near the right edge. */
		bool left = x > a->x1 - 160;

		fprintf(f,
			"<g class=\"marker\" data-kind=\"%s\" data-i=\"%u\"><line x1=\"%.1f\" "
			"x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\" text-anchor=\"%s\">",
			kind, i, x, x, a->y1, a->y0, c, left ? x - 4 : x + 4, a->y1 + 12, c,
			left ? "end" : "start");
		fprintf(f, "%s (", kind);
		esc(f, r->p[i].reason);
		fprintf(f, ")</text></g>\n");
	}
}

/* The weight over time: a step line, a point per moment, and each step's label. */
static void chart_weight(FILE *f, const struct report *r)
{
	struct axes a = {r->t0,	   r->t1, CHART_L, CHART_W - CHART_R, 0, 100, CHART_TOP + CHART_PH,
			 CHART_TOP};
	unsigned int i;

	chart_open(f, "weight", "canary weight (%) over time; shaded: holds", &a);
	ytick(f, &a, 0, "0%");
	ytick(f, &a, 50, "50%");
	ytick(f, &a, 100, "100%");
	xticks(f, &a);
	chart_marks(f, r, &a);
	fprintf(f, "<polyline class=\"weight\" fill=\"none\" stroke=\"#0b6bcb\" stroke-width=\"2\" "
		   "points=\"");
	for (i = 0; i < r->n; i++) {
		if (i)
			fprintf(f, "%.2f,%.2f ", ax_x(&a, r->p[i].t_ms),
				ax_y(&a, r->p[i - 1].new_w));
		fprintf(f, "%.2f,%.2f ", ax_x(&a, r->p[i].t_ms), ax_y(&a, r->p[i].new_w));
	}
	fprintf(f, "\"/>\n");
	for (i = 0; i < r->n; i++) {
		const struct rpoint *p = &r->p[i];

		fprintf(f,
			"<circle class=\"pt\" data-i=\"%u\" data-t-ms=\"%" PRId64 "\" "
			"data-weight=\"%g\" cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\" fill=\"#0b6bcb\"/>\n",
			i, p->t_ms, p->new_w, ax_x(&a, p->t_ms), ax_y(&a, p->new_w));
		if (!strcmp(p->reason, "start") || !strcmp(p->reason, "step"))
			fprintf(f, "<text class=\"step\" x=\"%.1f\" y=\"%.1f\">step %d/%d</text>\n",
				ax_x(&a, p->t_ms) + 3, ax_y(&a, p->new_w) - 5, p->step, p->steps);
	}
	fprintf(f, "</svg>\n");
}

/* A signal's evidence at moment p, or NULL. */
static const struct report_sig *sig_at(const struct rpoint *p, const char *name)
{
	unsigned int k;

	for (k = 0; k < p->nsig; k++)
		if (!strcmp(p->sig[k].name, name))
			return &p->sig[k];
	return NULL;
}

/* The highest upper bound of a signal's intervals, for its axis. */
static double rate_top(const struct report *r, const char *name)
{
	double top = 0.01;
	unsigned int i;
	int arm;

	for (i = 0; i < r->n; i++) {
		const struct report_sig *s = sig_at(&r->p[i], name);

		for (arm = 0; s && arm < 2; arm++)
			if (s->n[arm]) {
				struct av_interval w = av_wilson(s->x[arm], s->n[arm], 1.959964);

				top = w.hi > top ? w.hi : top;
			}
	}
	return top * 1.1 > 1 ? 1 : top * 1.1;
}

/* One arm's rate of one signal: a line through the points, each with its interval. */
static void rate_arm(FILE *f, const struct report *r, const struct axes *a, const char *name,
		     int arm)
{
	unsigned int i;

	fprintf(f,
		"<polyline class=\"rate\" data-arm=\"%s\" fill=\"none\" stroke=\"%s\" "
		"stroke-width=\"1.5\" points=\"",
		arm ? "canary" : "stable", arm_colors[arm]);
	for (i = 0; i < r->n; i++) {
		const struct report_sig *s = sig_at(&r->p[i], name);

		if (s && s->n[arm])
			fprintf(f, "%.2f,%.2f ", ax_x(a, r->p[i].t_ms),
				ax_y(a, (double)s->x[arm] / s->n[arm]));
	}
	fprintf(f, "\"/>\n");
	for (i = 0; i < r->n; i++) {
		const struct report_sig *s = sig_at(&r->p[i], name);
		double x = ax_x(a, r->p[i].t_ms) + (arm ? 3 : -3), v;
		struct av_interval w;

		if (!s || !s->n[arm])
			continue;
		v = (double)s->x[arm] / s->n[arm];
		w = av_wilson(s->x[arm], s->n[arm], 1.959964);
		fprintf(f,
			"<g class=\"rate\" data-arm=\"%s\" data-i=\"%u\" data-events=\"%" PRIu64
			"\" data-exposure=\"%" PRIu64 "\" data-rate=\"%.6g\" data-lo=\"%.6g\" "
			"data-hi=\"%.6g\"><line class=\"ci\" x1=\"%.2f\" x2=\"%.2f\" y1=\"%.2f\" "
			"y2=\"%.2f\" stroke=\"%s\"/><circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" "
			"fill=\"%s\"/></g>\n",
			arm ? "canary" : "stable", i, s->x[arm], s->n[arm], v, w.lo, w.hi, x, x,
			ax_y(a, w.lo), ax_y(a, w.hi), arm_colors[arm], x, ax_y(a, v),
			arm_colors[arm]);
	}
}

/* Each signal's per-arm rate (events / exposure since the start) with its interval. */
static void chart_rates(FILE *f, const struct report *r, unsigned int k)
{
	const char *name = r->names[k];
	struct axes a = {
	    r->t0,    r->t1, CHART_L, CHART_W - CHART_R, 0, rate_top(r, name), CHART_TOP + CHART_PH,
	    CHART_TOP};
	char id[48], title[160], lab[32];
	int arm;

	snprintf(id, sizeof(id), "rate-%s", name);
	snprintf(title, sizeof(title),
		 "%s: events / exposure per arm since the start, with Wilson "
		 "95%% intervals (blue: stable, orange: canary)",
		 name);
	chart_open(f, id, title, &a);
	ytick(f, &a, 0, "0%");
	snprintf(lab, sizeof(lab), "%.3g%%", 50 * a.v1);
	ytick(f, &a, a.v1 / 2, lab);
	snprintf(lab, sizeof(lab), "%.3g%%", 100 * a.v1);
	ytick(f, &a, a.v1, lab);
	xticks(f, &a);
	chart_marks(f, r, &a);
	for (arm = 0; arm < 2; arm++)
		rate_arm(f, r, &a, name, arm);
	fprintf(f, "</svg>\n");
}

/* The e-values' axis: 0.01 (or below the least) up to a decade above the largest
 * value or threshold, in whole decades. */
static void evalue_range(const struct report *r, double *lo, double *hi)
{
	double mn = 0.01, mx = 10;
	unsigned int i, k;

	for (k = 0; k < r->nnames; k++)
		mx = r->thr[k] > mx ? r->thr[k] : mx;
	for (i = 0; i < r->n; i++)
		for (k = 0; k < r->p[i].nsig; k++) {
			double e = r->p[i].sig[k].e;

			if (isfinite(e) && e > 0) {
				mn = e < mn ? e : mn;
				mx = e > mx ? e : mx;
			}
		}
	*lo = pow(10, floor(log10(mn)));
	*hi = pow(10, ceil(log10(mx)) + 1);
}

static void evalue_signal(FILE *f, const struct report *r, const struct axes *a, unsigned int k)
{
	const char *c = sig_colors[k % (sizeof(sig_colors) / sizeof(sig_colors[0]))];
	double y = ax_y(a, r->thr[k]);
	unsigned int i;

	fprintf(f,
		"<line class=\"threshold\" data-signal=\"%s\" data-threshold=\"%g\" x1=\"%.1f\" "
		"x2=\"%.1f\" y1=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-dasharray=\"6 4\"/>\n",
		r->names[k], r->thr[k], a->x0, a->x1, y, y, c);
	fprintf(f,
		"<polyline class=\"evalue\" data-signal=\"%s\" fill=\"none\" stroke=\"%s\" "
		"stroke-width=\"2\" points=\"",
		r->names[k], c);
	for (i = 0; i < r->n; i++) {
		const struct report_sig *s = sig_at(&r->p[i], r->names[k]);

		if (s)
			fprintf(f, "%.2f,%.2f ", ax_x(a, r->p[i].t_ms), ax_y(a, s->e));
	}
	fprintf(f, "\"/>\n");
	for (i = 0; i < r->n; i++) {
		const struct report_sig *s = sig_at(&r->p[i], r->names[k]);

		if (s)
			fprintf(f,
				"<circle class=\"ev\" data-signal=\"%s\" data-i=\"%u\" "
				"data-e=\"%.6g\" cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
				r->names[k], i, s->e, ax_x(a, r->p[i].t_ms), ax_y(a, s->e), c);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">%s</text>\n", a->x0 + 6,
		a->y0 - 6 - 13.0 * k, c, r->names[k]);
}

/* Each signal's e-value against its threshold, on a log axis. */
static void chart_evalues(FILE *f, const struct report *r)
{
	struct axes a = {r->t0,	    r->t1, CHART_L, CHART_W - CHART_R, 0, 0, CHART_TOP + CHART_PH,
			 CHART_TOP, true};
	double d, step;
	unsigned int k;
	char lab[32];

	evalue_range(r, &a.v0, &a.v1);
	chart_open(f, "evalues",
		   "e-value per signal (log axis); dashed: its rollback threshold 1/alpha", &a);
	step = ceil((log10(a.v1) - log10(a.v0)) / 8);
	for (d = log10(a.v0); d <= log10(a.v1) + 1e-9; d += step) {
		snprintf(lab, sizeof(lab), fabs(d) >= 4 ? "1e%.0f" : "%g",
			 fabs(d) >= 4 ? d : pow(10, d));
		ytick(f, &a, pow(10, d), lab);
	}
	xticks(f, &a);
	chart_marks(f, r, &a);
	for (k = 0; k < r->nnames; k++)
		evalue_signal(f, r, &a, k);
	fprintf(f, "</svg>\n");
}

/* The outcome in one sentence: the last entry's phase and what it said. */
static void summary(FILE *f, const struct report *r)
{
	const struct rpoint *first = &r->p[0], *last = &r->p[r->n - 1];
	unsigned int i;

	fprintf(f, "<table class=\"summary\">\n<tr><th>service</th><td>");
	esc(f, r->svc);
	fprintf(f, "</td></tr>\n<tr><th>outcome</th><td id=\"outcome\" class=\"phase-%s\">",
		last->phase);
	esc(f, last->phase);
	fprintf(f, "</td></tr>\n<tr><th>started</th><td>");
	esc(f, first->time);
	fprintf(f, "</td></tr>\n<tr><th>last change</th><td>");
	esc(f, last->time);
	fprintf(f, " (%.1f s after the start)</td></tr>\n", (last->t_ms - first->t_ms) / 1000.0);
	fprintf(f, "<tr><th>steps</th><td>reached %d of %d, final weight %g%%</td></tr>\n",
		last->step, last->steps, last->new_w);
	for (i = 0; i < r->n; i++)
		if (mark_kind(&r->p[i]) && strcmp(mark_kind(&r->p[i]), "manual")) {
			fprintf(f, "<tr><th>%s</th><td id=\"decision\">", mark_kind(&r->p[i]));
			esc(f, r->p[i].time);
			fprintf(f, ": ");
			esc(f, r->p[i].detail);
			fprintf(f, "</td></tr>\n");
		}
	fprintf(f, "</table>\n");
}

/* Each step the rollout reached: its weight, when it began, how long it was held, and
 * what ended it. */
static void steps_table(FILE *f, const struct report *r)
{
	unsigned int i, j;

	fprintf(f,
		"<h2>Steps and holds</h2>\n<table class=\"steps\" id=\"steps\">\n<tr><th>step</th>"
		"<th>weight</th><th>from</th><th>held</th><th>ended by</th></tr>\n");
	for (i = 0; i < r->n; i++) {
		const struct rpoint *p = &r->p[i];

		if (p->from_status || (strcmp(p->reason, "start") && strcmp(p->reason, "step")))
			continue;
		for (j = i + 1; j < r->n && r->p[j].from_status; j++)
			;
		fprintf(f, "<tr data-i=\"%u\"><td>%d/%d</td><td>%g%%</td><td>", i, p->step,
			p->steps, p->new_w);
		esc(f, p->time);
		fprintf(f, "</td><td>%.1f s</td><td>",
			((j < r->n ? r->p[j].t_ms : r->t1) - p->t_ms) / 1000.0);
		esc(f, j < r->n ? r->p[j].reason : r->p[r->n - 1].phase);
		if (j < r->n && !strcmp(r->p[j].reason, "step"))
			fprintf(f, " %d/%d", r->p[j].step, r->p[j].steps);
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table>\n");
}

/* The history of the rollout, one row per entry. */
static void history_table(FILE *f, const struct report *r)
{
	unsigned int i;

	fprintf(f, "<h2>History</h2>\n<table class=\"history\" id=\"history\">\n<tr><th>#</th>"
		   "<th>time</th><th>weight</th><th>reason</th><th>step</th><th>phase</th>"
		   "<th>by</th><th>detail</th><th>evidence</th></tr>\n");
	for (i = 0; i < r->n; i++) {
		const struct rpoint *p = &r->p[i];

		if (p->from_status)
			continue;
		fprintf(f, "<tr data-i=\"%u\"><td>%u</td><td>", i, i);
		esc(f, p->time);
		fprintf(f, "</td><td>%g%% &#8594; %g%%</td><td>", p->old_w, p->new_w);
		esc(f, p->reason);
		fprintf(f, "</td><td>%d/%d</td><td>", p->step, p->steps);
		esc(f, p->phase);
		fprintf(f, "</td><td>");
		esc(f, p->actor);
		fprintf(f, "</td><td>");
		esc(f, p->detail);
		fprintf(f, "</td><td class=\"ev\">");
		esc(f, p->evidence);
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table>\n");
}

static const char report_css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2330}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.4em}"
    "table{border-collapse:collapse}th,td{padding:.2em .6em;text-align:left;"
    "border-bottom:1px solid #e3e6ec;vertical-align:top}td.ev{font-size:.85em;color:#445}"
    ".phase-RolledBack,.phase-Aborted{color:#b00020;font-weight:bold}"
    ".phase-Succeeded{color:#1a7f37;font-weight:bold}"
    "svg.chart{display:block;margin:.8em 0}svg text{font:11px system-ui,sans-serif;fill:#445}"
    "svg text.title{font-size:12px;fill:#1d2330}";

int report_write(FILE *f, const char *svc, struct json_object *history, struct json_object *status,
		 int64_t now_ms, char *err, size_t len)
{
	struct report r = {.svc = svc};
	unsigned int k;

	if (report_load(&r, history, status, now_ms, err, len))
		return -1;
	fprintf(f, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n"
		   "<head><meta charset=\"utf-8\"/><title>rollout of ");
	esc(f, svc);
	fprintf(f, "</title><style>%s</style></head>\n<body>\n<h1>Rollout of ", report_css);
	esc(f, svc);
	fprintf(f, "</h1>\n");
	summary(f, &r);
	fprintf(f, "<h2>Weight</h2>\n");
	chart_weight(f, &r);
	fprintf(f, "<h2>Error rates per arm</h2>\n");
	for (k = 0; k < r.nnames; k++)
		chart_rates(f, &r, k);
	fprintf(f, "<h2>Evidence</h2>\n");
	chart_evalues(f, &r);
	steps_table(f, &r);
	history_table(f, &r);
	fprintf(f,
		"<p class=\"note\">Written by canaryctl report from canaryd's history and rollout "
		"status. Points carry their values as data-* attributes.</p>\n</body>\n</html>\n");
	free(r.p);
	return 0;
}
