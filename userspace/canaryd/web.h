/* web.h: the dashboard's files, embedded in canaryd at build time from
 * userspace/canaryd/web/ by scripts/embed-web.sh (build/gen/web.c). */
#ifndef CANARYD_WEB_H
#define CANARYD_WEB_H

#include <stddef.h>

struct web_asset {
	const char *name; /* the path under web/, served as "/NAME" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

extern const struct web_asset web_assets[];
extern const unsigned int web_nassets;

#endif
