/* test_report.c: canaryctl report's renderer (present/report.c) on a history written by
 * hand: the evidence text parses, points sit where the axes say, a pause is drawn as a
 * hold, the rollback is marked at its entry, and text from the history is escaped. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "logic/analysis.h"
#include "logic/plan.h"
#include "logic/rollout.h"
#include "present/report.h"

static void parse_evidence(void)
{
	struct report_sig s[4];
	unsigned int n;

	n = report_parse_evidence("http_5xx E=2.41e+06/100 (canary 18/206, stable 0/845), "
				  "errored_flows E=1/100 (canary 0/77, stable 0/524); srm flows "
				  "10.00%/10.00% E=0.9/100",
				  s, 4);
	ASSERT_EQ(n, 2, "two signals; the SRM part is not one");
	ASSERT_TRUE(!strcmp(s[0].name, "http_5xx") && !strcmp(s[1].name, "errored_flows"), "names");
	ASSERT_NEAR(s[0].e, 2.41e6, 1, "e-value");
	ASSERT_NEAR(s[0].thr, 100, 0, "threshold");
	ASSERT_EQ(s[0].x[1], 18, "canary events");
	ASSERT_EQ(s[0].n[1], 206, "canary exposure");
	ASSERT_EQ(s[0].x[0], 0, "stable events");
	ASSERT_EQ(s[0].n[0], 845, "stable exposure");
	ASSERT_EQ(report_parse_evidence("srm flows no data", s, 4), 0, "no signals");
	ASSERT_EQ(report_parse_evidence("", s, 4), 0, "empty");
	ASSERT_EQ(report_parse_evidence("a E=1/100 (canary 1/2, stable 1/2), b E=", s, 4), 1,
		  "a cut-off list ends at the last whole signal");
}

/* The parser reads what the history's writer writes: rollout_evidence() of a rollout
 * whose checks hold known counts. */
static void parse_what_rollouts_write(void)
{
	static const char yaml[] = "service: web\nsteps: [5, 100]\nanalysis:\n  alpha: 0.02\n"
				   "  signals: [http_5xx, resets, errored_flows]\n";
	struct arm_stats now[CANARY_ARMS] = {};
	struct report_sig s[REPORT_MAX_SIGNALS];
	struct rollout *r = calloc(1, sizeof(*r));
	struct plan *p = calloc(1, sizeof(*p));
	char ev[1024], err[256] = "";
	unsigned int i, n;

	if (!ASSERT_TRUE(r && p && !plan_parse_text(yaml, strlen(yaml), "p.yaml", p, stderr),
			 "the plan parses") ||
	    !ASSERT_EQ(rollout_init(r, p, yaml, 0, now, 1000, err, sizeof(err)), 0,
		       "the rollout starts"))
		goto out;
	for (i = 0; i < r->nchecks; i++) {
		r->checks[i].st.x[AV_CANARY] = 10 + i;
		r->checks[i].st.n[AV_CANARY] = 100 + i;
		r->checks[i].st.x[AV_STABLE] = 20 + i;
		r->checks[i].st.n[AV_STABLE] = 2000 + i;
	}
	rollout_evidence(r, ev, sizeof(ev));
	n = report_parse_evidence(ev, s, REPORT_MAX_SIGNALS);
	ASSERT_EQ(n, r->nchecks, "every check is read back");
	for (i = 0; i < n && i < r->nchecks; i++) {
		ASSERT_TRUE(!strcmp(s[i].name, r->checks[i].name), "its name");
		ASSERT_NEAR(s[i].e, av_evalue(&r->checks[i].st.rollback), 1e-3, "its e-value");
		ASSERT_NEAR(s[i].thr, 50, 1e-9, "its threshold 1/alpha");
		ASSERT_TRUE(s[i].x[1] == 10 + i && s[i].n[1] == 100 + i && s[i].x[0] == 20 + i &&
				s[i].n[0] == 2000 + i,
			    "both arms' counts");
	}
out:
	if (r)
		rollout_free(r);
	free(r);
	free(p);
}

static const char history[] =
    "["
    "{\"time\":\"T0\",\"time_ms\":1000000,\"old_weight\":0,\"new_weight\":10,\"reason\":\"start\","
    "\"actor\":\"uid:0(root)\",\"step\":1,\"steps\":3,\"phase\":\"Progressing\",\"detail\":\"\","
    "\"evidence\":\"resets E=1/100 (canary 0/0, stable 0/0)\"},"
    "{\"time\":\"T1\",\"time_ms\":1010000,\"old_weight\":10,\"new_weight\":10,\"reason\":\"pause\","
    "\"actor\":\"token:ci\",\"step\":1,\"steps\":3,\"phase\":\"Paused\",\"detail\":\"<script>x</"
    "script>\","
    "\"evidence\":\"resets E=2/100 (canary 1/50, stable 2/500)\"},"
    "{\"time\":\"T2\",\"time_ms\":1020000,\"old_weight\":10,\"new_weight\":10,\"reason\":"
    "\"resume\","
    "\"actor\":\"token:ci\",\"step\":1,\"steps\":3,\"phase\":\"Progressing\",\"detail\":\"\","
    "\"evidence\":\"resets E=2/100 (canary 1/60, stable 2/600)\"},"
    "{\"time\":\"T3\",\"time_ms\":1030000,\"old_weight\":10,\"new_weight\":0,\"reason\":"
    "\"auto-rollback\",\"actor\":\"canaryd\",\"step\":1,\"steps\":3,\"phase\":\"RolledBack\","
    "\"detail\":\"resets: e-value 150\",\"evidence\":\"resets E=150/100 (canary 9/80, stable "
    "2/700)\"}]";

/* The number after `attr="` in the first element that contains `key`. */
static double attr_after(const char *doc, const char *key, const char *attr)
{
	const char *p = strstr(doc, key), *q;
	char pat[64];

	snprintf(pat, sizeof(pat), " %s=\"", attr);
	q = p ? strstr(p, pat) : NULL;
	return q ? atof(q + strlen(pat)) : -1;
}

static void render(void)
{
	struct json_object *h = json_tokener_parse(history);
	char *doc = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&doc, &len);
	double x0, x1, t0, t1, y0, y1, cx, cy;

	ASSERT_TRUE(h && f, "fixture");
	ASSERT_EQ(report_write(f, "web", h, NULL, 0, err, sizeof(err)), 0, "written");
	fclose(f);
	ASSERT_TRUE(strstr(doc, "&lt;script&gt;x&lt;/script&gt;") && !strstr(doc, "<script"),
		    "text from the history is escaped, and there is no script");
	t0 = attr_after(doc, "id=\"weight\"", "data-t0");
	t1 = attr_after(doc, "id=\"weight\"", "data-t1");
	x0 = attr_after(doc, "id=\"weight\"", "data-x0");
	x1 = attr_after(doc, "id=\"weight\"", "data-x1");
	y0 = attr_after(doc, "id=\"weight\"", "data-y0");
	y1 = attr_after(doc, "id=\"weight\"", "data-y1");
	ASSERT_NEAR(t0, 1000000, 0, "the time axis starts at the start");
	ASSERT_TRUE(t1 >= 1030000, "and reaches the last entry");
	cx = attr_after(doc, "class=\"pt\" data-i=\"3\"", "cx");
	cy = attr_after(doc, "class=\"pt\" data-i=\"3\"", "cy");
	ASSERT_NEAR(t0 + (cx - x0) * (t1 - t0) / (x1 - x0), 1030000, 20, "the rollback's time");
	ASSERT_NEAR((cy - y0) * 100 / (y1 - y0), 0, 0.01, "the rollback's weight");
	cy = attr_after(doc, "class=\"pt\" data-i=\"1\"", "cy");
	ASSERT_NEAR((cy - y0) * 100 / (y1 - y0), 10, 0.01, "the pause's weight");
	ASSERT_TRUE(strstr(doc, "class=\"hold\" data-phase=\"Paused\"") != NULL,
		    "the pause is a hold");
	ASSERT_TRUE(strstr(doc, "data-kind=\"rollback\" data-i=\"3\"") != NULL,
		    "the rollback is marked at its entry");
	ASSERT_TRUE(strstr(doc, "data-arm=\"canary\" data-i=\"3\" data-events=\"9\" "
				"data-exposure=\"80\"") != NULL,
		    "the canary's rate at the rollback carries its counts");
	ASSERT_TRUE(
	    strstr(doc, "class=\"ev\" data-signal=\"resets\" data-i=\"3\" data-e=\"150\"") != NULL,
	    "the e-value at the rollback");
	ASSERT_TRUE(strstr(doc, "id=\"outcome\" class=\"phase-RolledBack\"") != NULL,
		    "the outcome");
	free(doc);
	json_object_put(h);
}

static void no_rollout(void)
{
	struct json_object *h = json_tokener_parse("[]");
	char err[256] = "";
	FILE *f = fopen("/dev/null", "w");

	ASSERT_EQ(report_write(f, "web", h, NULL, 0, err, sizeof(err)), -1, "refused");
	ASSERT_TRUE(strstr(err, "has no rollout") != NULL, "saying why");
	fclose(f);
	json_object_put(h);
}

static const struct test_case cases[] = {
    {"the history's evidence text parses", parse_evidence},
    {"the parser reads what rollout_evidence() writes", parse_what_rollouts_write},
    {"points, holds, markers and escaping", render},
    {"a history without a rollout", no_rollout},
};

TEST_MAIN(cases)
