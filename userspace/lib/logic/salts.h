/* salts.h: each service's hash salt is a random secret unless the services file names
 * one. A client that knew it could compute which arm its address (or 5-tuple) lands
 * on, and so aim traffic at one arm; so the salt is drawn from getrandom(), kept in the
 * maps, and recorded in a root-only file beside the state (default
 * /var/lib/xdp-canary/salts<PIN-ROOT>.json, with '/' as '_'), so that a re-attach or a
 * reboot gives every client its arm again. An apply keeps a live service's salt. */
#ifndef CANARY_SALTS_H
#define CANARY_SALTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xdp_canary.h"

#define CANARY_SALT_DIR "/var/lib/xdp-canary"
#define SALTS_MAX	(2 * CANARY_MAX_SERVICES)

struct salt_table {
	unsigned int n;
	struct {
		char name[CANARY_NAME_LEN];
		uint32_t salt;
	} e[SALTS_MAX];
};

/* The salts file that goes with a pin root. */
void salts_default_path(const char *pin_root, char *out, size_t len);
/* Read a salts file; a missing one is empty. Returns 0, or -errno with why. */
int salts_load(const char *path, struct salt_table *t, char *why, size_t len);
/* Write it atomically, mode 0600, creating its directory 0700. Returns 0 or -errno. */
int salts_save(const char *path, const struct salt_table *t);
bool salts_get(const struct salt_table *t, const char *name, uint32_t *salt);
/* Set (or add) a service's salt; false when the table is full. */
bool salts_set(struct salt_table *t, const char *name, uint32_t salt);
/* A fresh secret salt. */
uint32_t salt_random(void);

#endif
