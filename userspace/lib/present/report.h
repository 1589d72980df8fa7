/* report.h: `canaryctl report`: one self-contained HTML file (inline SVG, no script) of
 * a service's last rollout, drawn from canaryd's history and rollout status. */
#ifndef CANARY_REPORT_H
#define CANARY_REPORT_H

#include <stdint.h>
#include <stdio.h>

struct json_object;

#define REPORT_MAX_SIGNALS 16

/* One signal's evidence at a moment: e-value, threshold, and each arm's events x and
 * exposure n ([0] stable, [1] canary). */
struct report_sig {
	char name[32];
	double e, thr;
	uint64_t x[2], n[2];
};

/* The signals in a history entry's evidence text, as rollout_evidence() writes it:
 * "NAME E=E/THR (canary X/N, stable X/N), ...; srm ...". Returns how many (at most
 * max); text that does not follow the form ends the list. */
unsigned int report_parse_evidence(const char *text, struct report_sig *out, unsigned int max);

/* Write the report of svc's last rollout (the history from its last "start" on) to f.
 * history is GET /api/v1/rollouts/SVC/history; status is GET /api/v1/rollouts/SVC, or
 * NULL when canaryd no longer has the rollout; now_ms ends a rollout still running.
 * 0, or -1 with a sentence in err (no rollout in the history, out of memory). */
int report_write(FILE *f, const char *svc, struct json_object *history, struct json_object *status,
		 int64_t now_ms, char *err, size_t len);

#endif
