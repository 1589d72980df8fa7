/* agentclient.h: canaryctl's side of canaryd's HTTP API (libcurl + json-c). */
#ifndef CANARY_AGENTCLIENT_H
#define CANARY_AGENTCLIENT_H

#include <stddef.h>

struct json_object;

#define CANARY_DEFAULT_AGENT "127.0.0.1:9181"

/* method path [body] -> HTTP code and parsed JSON reply. Returns 0 when the agent
 * answered (whatever the code; *reply may be NULL for an error code), or -1 with a
 * sentence in err when it could not be reached or answered a 2xx without JSON. */
int agent_call(const char *agent, const char *method, const char *path, struct json_object *body,
	       long *code, struct json_object **reply, char *err, size_t len);

/* The "error" field of a reply, or a fallback. */
const char *agent_error(struct json_object *reply, const char *fallback);

#endif
