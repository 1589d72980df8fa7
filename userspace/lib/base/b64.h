/* b64.h: base64 (RFC 4648, with padding), as etcd's JSON gateway writes keys and values. */
#ifndef CANARY_B64_H
#define CANARY_B64_H

#include <stddef.h>

/* The encoded length of n bytes, NUL excluded. */
size_t b64_len(size_t n);
/* Encode n bytes of in into out (b64_len(n) + 1 bytes, NUL-terminated). */
void b64_encode(const void *in, size_t n, char *out);
/* Decode len characters of in into a malloc'ed, NUL-terminated buffer (*n excludes the
 * NUL). Padding is optional; anything else outside the alphabet is an error.
 * Returns 0, -EINVAL or -ENOMEM. */
int b64_decode(const char *in, size_t len, char **out, size_t *n);

#endif
