/* status.h: what `canaryctl status` and `explain` show, as text and as JSON. */
#ifndef CANARY_STATUS_H
#define CANARY_STATUS_H

#include <stdbool.h>
#include <stdio.h>
#include "pins.h"
#include "service.h"

struct json_object;

/* One service with per-arm and per-backend counters (canaryctl status --json). */
struct json_object *status_service_json(struct canary_maps *m, const struct service_state *s);
/* An arm's health signals: counts, ratios with Wilson 95% intervals, latency quantiles. */
struct arm_stats;
struct json_object *status_signals_json(const struct arm_stats *a);
/* The global reason counters as an object of name -> count. */
struct json_object *status_reasons_json(struct canary_maps *m);

/* All services (name == NULL) or one, as text or JSON. With rate_window_s > 0 the
 * counters are read twice that far apart and per-second rates are added. */
int status_show(struct canary_maps *m, const char *name, bool json, double rate_window_s,
		FILE *f);
int status_print_overrides(struct canary_maps *m, const char *name);
/* Where a new flow from src would go. Returns an exit code. */
int status_explain(struct canary_maps *m, const char *name, const char *src, int proto, bool json,
		   FILE *f);

#endif
