/* fleetctl.h: canaryctl's commands on the store (--store): apply a services file to
 * the fleet, set a weight, and show the fleet: its nodes, and the per-arm totals summed
 * from their reports. */
#ifndef CANARY_FLEETCTL_H
#define CANARY_FLEETCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "store/etcd.h"
#include "store/fleet.h"

/* Validate the file whole (the parser of a local apply: FILE:LINE: field: problem on
 * stderr, nothing written), then write config/services and config/salts in one
 * transaction conditional on the revisions read. Existing services keep their salts
 * from the store; new ones get salt_random() (or the file's salt:). dry_run: validate
 * and say what would be written. 0, -EINVAL (the file), -EAGAIN (the store changed
 * meanwhile: nothing written), or another -errno after saying why. */
int fleet_apply(struct store *s, const char *file, bool dry_run, FILE *out);

/* weights/SVC = bp in a transaction on the revision read; the service must be in the
 * store's config. *old_bp: the weight before (the config's when weights/SVC was absent). */
int fleet_set_weight(struct store *s, const char *svc, unsigned int bp, const char *by,
		     unsigned int *old_bp, int64_t *rev);

/* Every node's report (malloc'ed array of n) and the config revision that is desired
 * (0: none applied to the store yet). Reports that do not decode are skipped with a
 * warning. */
int fleet_reports(struct store *s, struct fleet_report **out, unsigned int *n,
		  int64_t *desired_rev);

/* canaryctl fleet status [--json] and canaryctl status --store [SVC] [--nodes] [--json]. */
int fleet_status_show(struct store *s, bool json, FILE *f);
int fleet_totals_show(struct store *s, const char *svc, bool nodes, bool json, FILE *f);

#endif
