/* num.h: the one parser of numbers that people write: option values, YAML fields, the
 * test tools' files. One grammar and one style of message for all of them. */
#ifndef CANARY_NUM_H
#define CANARY_NUM_H

#include <stddef.h>
#include <stdint.h>

/* A number is written plainly: digits, a leading '-' only where the range allows
 * negative values, and for decimals a fraction and an exponent ("2.5", ".5", "5.",
 * "1e-3"). Never blanks, '+', hex or octal, "inf" or "nan": strto* would take those, and
 * nobody who writes them means them.
 *
 * Each parser returns 0 with *out set, or -1 with why set to the end of a sentence about
 * the value, which the caller puts after its own name for it:
 *   cli:  "PROG CMD: --flows 'x' must be a whole number from 1024 to 268435456; try ..."
 *   YAML: "plan.yaml:4: analysis.alpha: '0.9' must be a number from 1e-09 to 0.5"
 * why is at most NUM_WHY_LEN bytes; *out is untouched on error. */
#define NUM_WHY_LEN 96

/* A whole number from min to max; max UINT64_MAX means no upper bound. */
int num_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why, size_t len);
/* A whole number, possibly negative, from min to max (INT64_MAX: no upper bound). */
int num_parse_int(const char *s, int64_t min, int64_t max, int64_t *out, char *why, size_t len);
/* A finite decimal number from min to max (INFINITY: no upper bound). */
int num_parse_double(const char *s, double min, double max, double *out, char *why, size_t len);
/* A duration: a number (decimals allowed) with a unit ms, s, m or h, or none for seconds:
 * "500ms", "10s", "1.5m", "2h", "30". Result in milliseconds (rounded), from min_ms to
 * max_ms (UINT64_MAX: no upper bound; at most 10^12 ms either way). */
int num_parse_duration_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *out_ms,
			  char *why, size_t len);

#endif
