/* agentclient.h: canaryctl's side of canaryd's HTTP API (libcurl + json-c). Changes
 * go through canaryd's Unix socket by default (its permissions decide who may steer),
 * or over TCP with a bearer token; reads may also use the open TCP listener. */
#ifndef CANARY_AGENTCLIENT_H
#define CANARY_AGENTCLIENT_H

#include <stddef.h>
#include "http/apiauth.h"

struct json_object;

#define AGENT_MAX_REPLY (16 << 20)

/* Where canaryd is. With tcp NULL the socket is used, and a read (GET) that cannot
 * use it (no permission, not there) falls back to the TCP listener at
 * CANARY_DEFAULT_LISTEN, which serves reads to anyone. */
struct agent_target {
	const char *socket;	/* Unix socket (default CANARY_DEFAULT_SOCKET) */
	const char *tcp;	/* "ADDR:PORT" or "https://ADDR:PORT"; NULL: the socket */
	const char *token_file; /* file with the bearer token, for changes over TCP */
	const char *cacert;	/* CA bundle that signed canaryd's certificate (https) */
};

/* method path [body] -> HTTP code and parsed JSON reply. Returns 0 when the agent
 * answered (whatever the code; *reply may be NULL for an error code), or -1 with a
 * sentence in err when it could not be reached or answered a 2xx without JSON. */
int agent_call(const struct agent_target *t, const char *method, const char *path,
	       struct json_object *body, long *code, struct json_object **reply, char *err,
	       size_t len);

/* The "error" field of a reply, or a fallback. */
const char *agent_error(struct json_object *reply, const char *fallback);

/* Read a bearer token from a token file: the first line that is not blank or a
 * comment, "TOKEN" or "NAME TOKEN" (canaryd's --token-file format). Returns 0, or -1
 * with a sentence in err. */
int agent_read_token(const char *path, char *out, size_t outlen, char *err, size_t errlen);

#endif
