/* util.c: logging, address parsing and formatting shared by the xdp-canary tools. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/num.h"
#include "base/util.h"

int canary_verbose;

static void vlog(const char *level, const char *fmt, va_list ap)
{
	extern const char *__progname;

	fprintf(stderr, "%s: %s", __progname, level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("error: ", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!canary_verbose)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}

int addr_parse(const char *s, union canary_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &out->v4) == 1)
		return CANARY_AF_INET;
	if (inet_pton(AF_INET6, s, out->bytes) == 1)
		return CANARY_AF_INET6;
	return 0;
}

static int port_parse(const char *s, uint16_t *port)
{
	char why[NUM_WHY_LEN];
	uint64_t v;

	if (num_parse_uint(s, 1, 65535, &v, why, sizeof(why)))
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int endpoint_parse(const char *s, union canary_addr *addr, uint16_t *port)
{
	char buf[128];
	const char *colon;
	size_t n;
	int fam;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return 0;
		n = close - s - 1;
		if (n >= sizeof(buf))
			return 0;
		memcpy(buf, s + 1, n);
		buf[n] = 0;
		fam = addr_parse(buf, addr);
		if (fam != CANARY_AF_INET6 || port_parse(close + 2, port))
			return 0;
		return fam;
	}
	colon = strrchr(s, ':');
	if (!colon || strchr(s, ':') != colon)
		return 0; /* bare IPv6 without brackets is ambiguous */
	n = colon - s;
	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = 0;
	fam = addr_parse(buf, addr);
	if (fam != CANARY_AF_INET || port_parse(colon + 1, port))
		return 0;
	return fam;
}

int prefix_parse(const char *s, union canary_addr *addr, int *plen)
{
	char buf[128];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	char why[NUM_WHY_LEN];
	uint64_t v;
	int fam, max;

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = 0;
	fam = addr_parse(buf, addr);
	if (!fam)
		return 0;
	max = fam == CANARY_AF_INET ? 32 : 128;
	if (!slash) {
		*plen = max;
		return fam;
	}
	if (num_parse_uint(slash + 1, 0, (uint64_t)max, &v, why, sizeof(why)))
		return 0;
	*plen = (int)v;
	return fam;
}

const char *addr_str(int family, const union canary_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(family == CANARY_AF_INET ? AF_INET : AF_INET6, a, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

const char *endpoint_str(int family, const union canary_addr *a, uint16_t port, char *buf,
			 size_t len)
{
	char ab[CANARY_ADDRSTRLEN];

	addr_str(family, a, ab, sizeof(ab));
	if (family == CANARY_AF_INET6)
		snprintf(buf, len, "[%s]:%u", ab, port);
	else
		snprintf(buf, len, "%s:%u", ab, port);
	return buf;
}

void addr_prefix_mask(int family, int plen, union canary_addr *out)
{
	int words = family == CANARY_AF_INET ? 1 : 4;
	int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < words; i++) {
		int bits = plen - 32 * i;

		if (bits >= 32)
			out->v6[i] = 0xffffffffu;
		else if (bits > 0)
			out->v6[i] = htonl(~0u << (32 - bits));
	}
}

void addr_mask(int family, union canary_addr *a, int plen)
{
	union canary_addr m;
	int i;

	addr_prefix_mask(family, plen, &m);
	for (i = 0; i < 4; i++)
		a->v6[i] &= m.v6[i];
}

int percent_to_bp(const char *s, uint16_t *bp, const char **why)
{
	long whole = 0, frac = 0;
	int fdigits = 0;
	const char *p = s;

	if (!*p) {
		*why = "is empty";
		return -1;
	}
	if (!isdigit((unsigned char)*p)) {
		*why = "must be a number from 0 to 100 with at most two decimals";
		return -1;
	}
	while (isdigit((unsigned char)*p)) {
		whole = whole * 10 + (*p++ - '0');
		if (whole > 100)
			break;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			if (++fdigits > 2) {
				*why = "has more than two decimals";
				return -1;
			}
			frac = frac * 10 + (*p++ - '0');
		}
		if (fdigits == 0) {
			*why = "must be a number from 0 to 100 with at most two decimals";
			return -1;
		}
	}
	if (*p == '%')
		p++;
	if (*p) {
		*why = "must be a number from 0 to 100 with at most two decimals";
		return -1;
	}
	if (fdigits == 1)
		frac *= 10;
	if (whole > 100 || (whole == 100 && frac)) {
		*why = "is above 100";
		return -1;
	}
	*bp = (uint16_t)(whole * 100 + frac);
	return 0;
}

const char *bp_str(unsigned int bp, char *buf, size_t len)
{
	if (bp % 100 == 0)
		snprintf(buf, len, "%u", bp / 100);
	else if (bp % 10 == 0)
		snprintf(buf, len, "%u.%u", bp / 100, (bp % 100) / 10);
	else
		snprintf(buf, len, "%u.%02u", bp / 100, bp % 100);
	return buf;
}

const char *bp_pct(unsigned int bp, char *buf, size_t len)
{
	bp_str(bp, buf, len);
	strncat(buf, "%", len - strlen(buf) - 1);
	return buf;
}

bool service_name_valid(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n >= CANARY_NAME_LEN)
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int file_read_all(const char *path, size_t max, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1), *nb;
	FILE *f;
	int err = 0;

	*out = NULL;
	*len = 0;
	if (!buf)
		return -ENOMEM;
	f = fopen(path, "r");
	if (!f) {
		err = -errno;
		free(buf);
		return err;
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			if (cap > max) {
				err = -EFBIG;
				break;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n > max) {
			err = -EFBIG;
			break;
		}
		if (got == 0) {
			if (ferror(f))
				err = -EIO;
			break;
		}
	}
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

const char *addr_unusable(int family, const union canary_addr *a)
{
	const uint8_t *b = a->bytes;
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	int i, zero15 = 1;

	if (family == CANARY_AF_INET) {
		if (b[0] == 0)
			return "is in 0.0.0.0/8 ('this network'), which no packet is sent to";
		if (b[0] == 127)
			return "is a loopback address, which never crosses the splitter";
		if (b[0] >= 224 && b[0] <= 239)
			return "is a multicast address; a flow needs one host at each end";
		if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255)
			return "is the broadcast address";
		if (b[0] >= 240)
			return "is in 240.0.0.0/4, which is reserved";
		if (b[0] == 169 && b[1] == 254)
			return "is link-local (169.254.0.0/16), which routers do not forward";
		return NULL;
	}
	for (i = 0; i < 15; i++)
		zero15 &= b[i] == 0;
	if (zero15 && b[15] == 0)
		return "is the unspecified address '::'";
	if (zero15 && b[15] == 1)
		return "is the loopback address, which never crosses the splitter";
	if (!memcmp(b, mapped, 12))
		return "is an IPv4-mapped IPv6 address; write the IPv4 address itself";
	if (b[0] == 0xff)
		return "is a multicast address; a flow needs one host at each end";
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return "is link-local (fe80::/10), which routers do not forward";
	return NULL;
}

/* Write atomically: temp file, fsync, rename, fsync of the directory. A short write
 * is an error even when write() set no errno (a full disk reports ENOSPC only on the
 * next call): the temp file is removed and the good file stays. */
int write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	size_t done = 0;
	int fd, dfd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -ENOSPC;
			break;
		}
		done += (size_t)n;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
