/* util.h: logging, address parsing and formatting shared by the xdp-canary tools. */
#ifndef CANARY_UTIL_H
#define CANARY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xdp_canary.h"

extern int canary_verbose;

/* One-line messages to stderr, prefixed with the program name. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse an IPv4 or IPv6 literal. Returns the family (CANARY_AF_INET/6) or 0. */
int addr_parse(const char *s, union canary_addr *out);
/* Parse "a.b.c.d:port" or "[v6]:port"; port in host order. Returns family or 0. */
int endpoint_parse(const char *s, union canary_addr *addr, uint16_t *port);
/* Parse "addr/len" (len optional: full length). Returns family or 0. */
int prefix_parse(const char *s, union canary_addr *addr, int *plen);

/* Why an address cannot be a VIP or a backend (unspecified, loopback, multicast,
 * broadcast, reserved, link-local, IPv4-mapped), as the end of a sentence ("is a
 * multicast address; ..."), or NULL when it can be. */
const char *addr_unusable(int family, const union canary_addr *a);

/* Formatting into caller buffers; return buf. */
#define CANARY_ADDRSTRLEN 64
const char *addr_str(int family, const union canary_addr *a, char *buf, size_t len);
const char *endpoint_str(int family, const union canary_addr *a, uint16_t port, char *buf,
			 size_t len);

/* Zero the host bits of addr beyond plen. */
void addr_mask(int family, union canary_addr *a, int plen);
/* Mask words for a prefix length: v4 in out->v4, v6 in all four words. */
void addr_prefix_mask(int family, int plen, union canary_addr *out);

/* Parse a percentage with at most two decimals ("10", "2.5", "0.01") into basis
 * points. Returns 0 on success, -1 with *why set otherwise. */
int percent_to_bp(const char *s, uint16_t *bp, const char **why);
/* "12.34" for 1234 bp (trailing zeros trimmed). */
const char *bp_str(unsigned int bp, char *buf, size_t len);
/* The same with a percent sign: "12.34%". */
const char *bp_pct(unsigned int bp, char *buf, size_t len);

/* Valid service name: [a-z0-9_-], 1..31 characters. */
bool service_name_valid(const char *name);

/* Read a whole file into a malloc'ed, NUL-terminated buffer (*len excludes the NUL).
 * Returns 0, -EFBIG when it is longer than max bytes, or -errno. */
int file_read_all(const char *path, size_t max, char **out, size_t *len);

/* Write dir/name atomically: a temp file (mode 0600, no symlink followed), fsync,
 * rename, fsync of the directory. A short write is an error even when write() set no
 * errno; then the temp file is removed and the old file stays. Returns 0 or -errno. */
int write_atomic(const char *dir, const char *name, const char *data, size_t len);

/* Monotonic clock in nanoseconds (the clock bpf_ktime_get_ns uses). */
uint64_t now_ns(void);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
