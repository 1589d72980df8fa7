/* num.c: the one parser of numbers that people write (see num.h for the grammar). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/num.h"

/* Durations above this many milliseconds (about 31 years) are refused whatever the range. */
#define NUM_DURATION_CAP_MS 1000000000000ull

static const char *digits(const char *p)
{
	while (isdigit((unsigned char)*p))
		p++;
	return p;
}

/* Where the plain number at s ends ([-]D; with frac [-]D[.[D]] or [-].D, then [e[+-]D]),
 * or NULL when s does not start with one. */
static const char *scan_number(const char *s, bool minus, bool frac)
{
	const char *p = s;

	if (minus && *p == '-')
		p++;
	if (isdigit((unsigned char)*p)) {
		p = digits(p);
		if (frac && *p == '.')
			p = digits(p + 1); /* "5." */
	} else if (frac && *p == '.' && isdigit((unsigned char)p[1])) {
		p = digits(p + 1); /* ".5" */
	} else {
		return NULL;
	}
	if (frac && (*p == 'e' || *p == 'E')) {
		const char *e = p + 1;

		if (*e == '+' || *e == '-')
			e++;
		if (!isdigit((unsigned char)*e))
			return NULL;
		p = digits(e);
	}
	return p;
}

int num_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why, size_t len)
{
	const char *end = scan_number(s, false, false);
	unsigned long long x = 0;

	errno = 0;
	if (end && !*end)
		x = strtoull(s, NULL, 10);
	if (!end || *end || errno || x < min || x > max) {
		if (max == UINT64_MAX)
			snprintf(why, len, "must be a whole number, %llu or more",
				 (unsigned long long)min);
		else
			snprintf(why, len, "must be a whole number from %llu to %llu",
				 (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = x;
	return 0;
}

int num_parse_int(const char *s, int64_t min, int64_t max, int64_t *out, char *why, size_t len)
{
	const char *end = scan_number(s, min < 0, false);
	long long x = 0;

	errno = 0;
	if (end && !*end)
		x = strtoll(s, NULL, 10);
	if (!end || *end || errno || x < min || x > max) {
		if (max == INT64_MAX)
			snprintf(why, len, "must be a whole number, %lld or more", (long long)min);
		else
			snprintf(why, len, "must be a whole number from %lld to %lld",
				 (long long)min, (long long)max);
		return -1;
	}
	*out = x;
	return 0;
}

int num_parse_double(const char *s, double min, double max, double *out, char *why, size_t len)
{
	const char *end = scan_number(s, min < 0, true);
	double x = NAN;

	errno = 0;
	if (end && !*end)
		x = strtod(s, NULL);
	/* errno: ERANGE, for a value too large or too small to be held. */
	if (!end || *end || errno || !isfinite(x) || x < min || x > max) {
		if (isinf(max))
			snprintf(why, len, "must be a number, %g or more", min);
		else
			snprintf(why, len, "must be a number from %g to %g", min, max);
		return -1;
	}
	*out = x;
	return 0;
}

/* A duration for a message: the largest unit that states it exactly. */
static const char *duration_str(uint64_t ms, char *buf, size_t len)
{
	if (ms && ms % 3600000 == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms && ms % 60000 == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
	else if (ms && ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	return buf;
}

int num_parse_duration_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *out_ms,
			  char *why, size_t len)
{
	/* No exponent: "1e3s" is nobody's way of writing a duration. */
	const char *unit = scan_number(s, false, false);
	double v, mult = 0;
	char lo[24], hi[24];
	uint64_t ms;

	if (unit && *unit == '.' && isdigit((unsigned char)unit[1]))
		unit = digits(unit + 1);
	if (unit) {
		if (!*unit || !strcmp(unit, "s"))
			mult = 1000;
		else if (!strcmp(unit, "ms"))
			mult = 1;
		else if (!strcmp(unit, "m"))
			mult = 60000;
		else if (!strcmp(unit, "h"))
			mult = 3600000;
	}
	if (!mult) {
		snprintf(why, len, "must be a duration such as 500ms, 10s, 2m or 1h");
		return -1;
	}
	v = strtod(s, NULL) * mult;
	ms = v <= NUM_DURATION_CAP_MS ? (uint64_t)llround(v) : UINT64_MAX;
	if (ms < min_ms || ms > max_ms || ms > NUM_DURATION_CAP_MS) {
		if (max_ms >= NUM_DURATION_CAP_MS)
			snprintf(why, len, "must be a duration, %s or more",
				 duration_str(min_ms, lo, sizeof(lo)));
		else
			snprintf(why, len, "must be a duration from %s to %s",
				 duration_str(min_ms, lo, sizeof(lo)),
				 duration_str(max_ms, hi, sizeof(hi)));
		return -1;
	}
	*out_ms = ms;
	return 0;
}
