/* httpc.h: the client side of HTTP with libcurl: a response body kept in memory up to
 * a limit, for canaryctl's calls to canaryd and canaryd's Prometheus queries. */
#ifndef CANARY_HTTPC_H
#define CANARY_HTTPC_H

#include <stddef.h>

struct httpc_body {
	char *buf; /* NUL-terminated; NULL until something arrived */
	size_t len;
	size_t max; /* a longer body makes the transfer fail */
};

/* A CURLOPT_WRITEFUNCTION for a struct httpc_body (CURLOPT_WRITEDATA). */
size_t httpc_sink(char *data, size_t size, size_t n, void *body);

#endif
