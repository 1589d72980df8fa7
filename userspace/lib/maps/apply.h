/* apply.h: make the maps match a validated services file, service by service, in
 * an order that never lets a packet see a half-made change. */
#ifndef CANARY_APPLY_H
#define CANARY_APPLY_H

#include <stdbool.h>
#include <stdio.h>
#include "logic/config.h"
#include "maps/pins.h"
#include "maps/bindex.h" /* backend_index_publish */

struct apply_opts {
	bool prune;   /* remove services that are in the maps but not in the file */
	bool dry_run; /* report what would change, change nothing */
	FILE *out;    /* one line per service; NULL for silence */
	/* Where the services' secret salts are kept (salts.h); NULL: nowhere (a new
	 * service's salt then lives only in the maps). */
	const char *salt_file;
};

struct apply_summary {
	unsigned int created, changed, unchanged, removed, kept;
	unsigned int drained; /* reply entries of removed backends deleted (no flows left) */
	unsigned int draining; /* reply entries kept because flows still use them */
};

/* Checks the file against the live maps (ids, backends owned by other services,
 * capacity) before writing anything; returns -EINVAL with a message when it does
 * not fit. Then applies. */
int config_apply(struct canary_maps *m, const struct canary_config *cfg,
		 const struct apply_opts *opts, struct apply_summary *sum);


#endif
