/* config.h: the services file (YAML) that `canaryctl apply` reads. The whole file is
 * parsed and validated here before anything touches a map. */
#ifndef CANARY_CONFIG_H
#define CANARY_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include "logic/spec.h"

struct canary_config {
	char file[4096];
	unsigned int nservices;
	struct service_spec *services;
};

/* Parse and validate path. Every problem is printed as "FILE:LINE: field: problem";
 * returns 0, or -EINVAL when there was any problem. */
int config_load(const char *path, struct canary_config *cfg);
/* The same for a file's text already in memory; name stands for the file in messages,
 * which go to err (stderr when NULL). */
int config_parse_text(const char *text, size_t len, const char *name, struct canary_config *cfg,
		      FILE *err);
void config_free(struct canary_config *cfg);

#endif
