/* log.c: canaryd's log: one line per decision on stderr, each with a UTC timestamp
 * (the history and the API use the same stamp). Apart, because every part logs. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "canaryd.h"

void stamp(char *buf, size_t len, int64_t ms)
{
	time_t t = ms / 1000;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void logline(const char *fmt, ...)
{
	char ts[32];
	va_list ap;

	stamp(ts, sizeof(ts), wall_ms());
	fprintf(stderr, "%s canaryd: ", ts);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}
