/* status.h: what `canaryctl status` and `explain` show, as text and as JSON. */
#ifndef CANARY_STATUS_H
#define CANARY_STATUS_H

#include <stdbool.h>
#include <stdio.h>
#include "maps/pins.h"
#include "maps/service.h"

struct json_object;
struct arm_stats;

/* Per-second rates of an arm between two readings taken seconds apart (seconds <= 0
 * counts as 1): packets_per_s, bytes_per_s, flows_per_s, requests_per_s,
 * errored_flows_per_s, http_5xx_per_s, backend_resets_per_s, syn_retransmits_per_s. */
struct json_object *status_rates_json(const struct arm_stats *now, const struct arm_stats *prev,
				      double seconds);
/* A weight in basis points as a percent with at most two decimals, as a JSON number
 * that prints exactly (1250 -> 12.5). */
struct json_object *json_percent(unsigned int bp);

/* All services (name == NULL) or one, as text or JSON. With rate_window_s > 0 the
 * counters are read twice that far apart and per-second rates are added. */
int status_show(struct canary_maps *m, const char *name, bool json, double rate_window_s,
		FILE *f);
int status_print_overrides(struct canary_maps *m, const char *name);
/* Where a new flow from src would go. Returns an exit code. */
int status_explain(struct canary_maps *m, const char *name, const char *src, int proto, bool json,
		   FILE *f);

#endif
