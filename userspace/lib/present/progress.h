/* progress.h: what `canaryctl rollout status --wait` shows while it waits, from each
 * reading of the rollout (its JSON, GET /api/v1/rollouts/SVC): on a terminal one line
 * redrawn in place; off one a plain line each time the phase, step or weight changes. */
#ifndef CANARY_PROGRESS_H
#define CANARY_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct json_object;

struct progress {
	FILE *f;
	bool tty;	/* redraw in place */
	bool drawn;	/* a line is on the terminal, not ended */
	char last[160]; /* off a terminal: the phase, step and weight last printed */
};

/* Output to f; tty: whether f is a terminal (the caller asks isatty). */
void progress_init(struct progress *p, FILE *f, bool tty);
/* The line for one reading, into buf: "SVC: PHASE, step I/N at W% | hold H/Hs, canary
 * flows F/M | strongest: SIGNAL E=X of T" (the signal whose e-value is nearest its
 * threshold, by E / threshold; "no evidence yet" without one). Returns buf. */
const char *progress_line(struct json_object *r, char *buf, size_t len);
/* Show one reading. */
void progress_show(struct progress *p, struct json_object *r);
/* Before the final output: end the line a terminal shows (it stays). */
void progress_end(struct progress *p);

#endif
