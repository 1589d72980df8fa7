/* promquery.h: business metrics read from Prometheus' HTTP API (an instant query that
 * must come to one count). Every part of the answer is checked before use: a value
 * that does not fit is a measurement error, never a crash. */
#ifndef CANARY_PROMQUERY_H
#define CANARY_PROMQUERY_H

#include <stddef.h>
#include <stdint.h>

#define PROM_MAX_BODY	 (1 << 20) /* a larger answer is an error */
#define PROM_MAX_SERIES	 10000	   /* series summed into one count */
#define PROM_TIMEOUT_MS	 2000
#define PROM_MAX_COUNT	 9007199254740992.0 /* 2^53: beyond it a double is not a count */

/* Sum the values of a /api/v1/query answer (a vector, or a scalar) into *out. The
 * values must be finite, non-negative and at most 2^53, as must their sum; an empty
 * vector is an error too (write `... or vector(0)`). Returns 0, or -1 with a sentence
 * in err. Pure: no I/O, so it is fuzzed directly. */
int prom_answer_parse(const char *body, size_t len, uint64_t *out, char *err, size_t errlen);

/* Run the instant query against base (http[s]://host:port) and parse the answer.
 * No redirects are followed; a non-200 answer, a timeout or a body over
 * PROM_MAX_BODY is an error. Returns 0, or -1 with a sentence in err. */
int prom_query(const char *base, const char *query, uint64_t *out, char *err, size_t errlen);

#endif
