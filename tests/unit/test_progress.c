/* test_progress.c: the progress display of `canaryctl rollout status --wait`
 * (present/progress.c) from readings shaped like canaryd's rollout JSON: the line's
 * fields, which signal is the strongest evidence, the redraw on a terminal (cut to its
 * width) and one plain line per change off one. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "present/progress.h"
#include "testlib.h"

/* A reading: phase, step of 3, weight, hold accrued of 4 s, canary flows of 20, and
 * signals given as "NAME:E:THRESHOLD" (NULL-terminated). */
static struct json_object *reading(const char *phase, int step, double weight, double hold,
				   int flows, const char *const *signals)
{
	struct json_object *r = json_object_new_object(), *ev = json_object_new_array();

	json_object_object_add(r, "service", json_object_new_string("web"));
	json_object_object_add(r, "phase", json_object_new_string(phase));
	json_object_object_add(r, "step", json_object_new_int(step));
	json_object_object_add(r, "steps", json_object_new_int(3));
	json_object_object_add(r, "canary_weight", json_object_new_double(weight));
	json_object_object_add(r, "hold_s", json_object_new_double(4));
	json_object_object_add(r, "hold_accrued_s", json_object_new_double(hold));
	json_object_object_add(r, "min_flows", json_object_new_int(20));
	json_object_object_add(r, "step_canary_flows", json_object_new_int(flows));
	for (; signals && *signals; signals++) {
		struct json_object *e = json_object_new_object();
		char name[32];
		double ev_, thr;

		if (sscanf(*signals, "%31[^:]:%lf:%lf", name, &ev_, &thr) != 3)
			abort();
		json_object_object_add(e, "signal", json_object_new_string(name));
		json_object_object_add(e, "e_value", json_object_new_double(ev_));
		json_object_object_add(e, "threshold", json_object_new_double(thr));
		json_object_array_add(ev, e);
	}
	json_object_object_add(r, "evidence", ev);
	return r;
}

static void test_line(void)
{
	/* http_5xx has the larger e-value, errored_flows the larger share of its threshold. */
	const char *const sig[] = {"http_5xx:5:100", "errored_flows:3:10", NULL};
	struct json_object *r = reading("Progressing", 2, 12.5, 1.25, 7, sig);
	char buf[256];

	progress_line(r, buf, sizeof(buf));
	ASSERT_TRUE(!strcmp(buf, "web: Progressing, step 2/3 at 12.5% | hold 1.2/4s, canary flows "
				 "7/20 | strongest: errored_flows E=3 of 10"),
		    "the fields, and the strongest evidence by E / threshold");
	json_object_put(r);
	r = reading("WaitingForGate", 1, 5, 0, 0, NULL);
	progress_line(r, buf, sizeof(buf));
	ASSERT_TRUE(strstr(buf, "| no evidence yet") != NULL, "no signal: no evidence yet");
	json_object_put(r);
	r = reading("Progressing", 1, 5, 0, 0, sig);
	progress_line(r, buf, 20);
	ASSERT_EQ(strlen(buf), 19, "a short buffer cuts the line, terminated");
	json_object_put(r);
}

/* Output of the readings through a progress display into a string (the caller frees). */
static char *shown(bool tty, struct json_object **rs, int n)
{
	struct progress p;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	int i;

	progress_init(&p, f, tty);
	for (i = 0; i < n; i++)
		progress_show(&p, rs[i]);
	progress_end(&p);
	fclose(f);
	return out;
}

static void test_show(void)
{
	const char *const sig[] = {"http_5xx:1.5:100", NULL};
	struct json_object *rs[4] = {
	    reading("Progressing", 1, 10, 0.5, 3, sig),
	    reading("Progressing", 1, 10, 2.5, 9, sig), /* the same step: no new plain line */
	    reading("Progressing", 2, 50, 0, 0, sig),
	    reading("Succeeded", 2, 50, 4, 30, sig),
	};
	char *out = shown(false, rs, 4), *p;
	int lines = 0, redraws = 0;

	for (p = out; (p = strchr(p, '\n')); p++)
		lines++;
	ASSERT_EQ(lines, 3, "off a terminal: a line per change of phase, step or weight");
	ASSERT_TRUE(!strchr(out, '\r') && !strchr(out, '\033'), "off a terminal: no control codes");
	ASSERT_TRUE(strstr(out, "hold 0.5/4s") && !strstr(out, "hold 2.5/4s"),
		    "off a terminal: a reading with no change prints nothing");
	free(out);
	out = shown(true, rs, 4);
	for (p = out; (p = strstr(p, "\r\033[K")); p++)
		redraws++;
	ASSERT_EQ(redraws, 4, "on a terminal: each reading redraws the line");
	ASSERT_TRUE(strstr(out, "\r\033[Kweb: Progressing, step 1/3 at 10% | hold 2.5/4s") != NULL,
		    "on a terminal: the hold's progress is redrawn");
	ASSERT_EQ(strchr(out, '\n') - out, (long)strlen(out) - 1,
		  "on a terminal: one line, ended once at the end");
	/* Not a terminal's fd (a memory stream): 80 columns, so at most 79 characters. */
	for (p = out; (p = strstr(p, "\r\033[K")); p += 4) {
		size_t n = strcspn(p + 4, "\r\n");

		if (n > 79)
			break;
	}
	ASSERT_TRUE(p == NULL, "on a terminal: each line is cut to the width less one");
	free(out);
	for (int i = 0; i < 4; i++)
		json_object_put(rs[i]);
}

static const struct test_case cases[] = {
    {"the progress line", test_line},
    {"redrawn on a terminal, a line per change off one", test_show},
};

TEST_MAIN(cases)
