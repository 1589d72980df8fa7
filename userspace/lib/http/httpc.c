/* httpc.c: a bounded in-memory response body for libcurl (see httpc.h). */
#include <stdlib.h>
#include <string.h>

#include "http/httpc.h"

size_t httpc_sink(char *data, size_t size, size_t n, void *body)
{
	struct httpc_body *b = body;
	size_t add = size * n;
	char *nb;

	if (add > b->max || b->len > b->max - add)
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	nb = realloc(b->buf, b->len + add + 1);
	if (!nb)
		return 0;
	memcpy(nb + b->len, data, add);
	b->buf = nb;
	b->len += add;
	b->buf[b->len] = 0;
	return add;
}
