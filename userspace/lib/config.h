/* config.h: the services file (YAML) that `canaryctl apply` reads. The whole file is
 * parsed and validated here before anything touches a map. */
#ifndef CANARY_CONFIG_H
#define CANARY_CONFIG_H

#include "service.h"

struct canary_config {
	char file[4096];
	unsigned int nservices;
	struct service_spec *services;
};

/* Parse and validate path. Every problem is printed as "FILE:LINE: field: problem";
 * returns 0, or -EINVAL when there was any problem. */
int config_load(const char *path, struct canary_config *cfg);
void config_free(struct canary_config *cfg);

#endif
