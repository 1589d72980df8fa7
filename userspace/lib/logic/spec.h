/* spec.h: a service as userspace describes it (parsed from YAML or given on the
 * command line), before anything is built from it for the maps (maps/service.h). */
#ifndef CANARY_SPEC_H
#define CANARY_SPEC_H

#include <stdbool.h>
#include <stdint.h>
#include "xdp_canary.h"

struct backend_spec {
	union canary_addr addr;
	uint16_t port; /* host order */
	int line;      /* source line in the config, 0 if none */
};

struct override_spec {
	union canary_addr addr; /* host bits already zero */
	int family;
	int plen;
	int arm; /* enum canary_arm */
	int line;
};

struct service_spec {
	char name[CANARY_NAME_LEN];
	int line;
	int family;
	union canary_addr vip;
	uint16_t port; /* host order */
	uint8_t proto; /* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t hash_mode;
	int prefix_v4;
	int prefix_v6;
	uint16_t weight_bp;
	bool salt_set;
	uint32_t salt;
	bool http;
	unsigned int nbackends[CANARY_ARMS];
	struct backend_spec backends[CANARY_ARMS][CANARY_MAX_BACKENDS];
	unsigned int noverrides;
	struct override_spec *overrides;
};

static inline const char *arm_name(int arm)
{
	return arm == CANARY_ARM_CANARY ? "canary" : "stable";
}

#endif
