/* b64.c: base64 encode and a strict decode (see b64.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/b64.h"

static const char ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

void b64_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = ALPHA[v >> 18 & 63];
		out[o++] = ALPHA[v >> 12 & 63];
		out[o++] = ALPHA[v >> 6 & 63];
		out[o++] = ALPHA[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);

		out[o++] = ALPHA[v >> 18 & 63];
		out[o++] = ALPHA[v >> 12 & 63];
		out[o++] = i + 1 < n ? ALPHA[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = 0;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int b64_decode(const char *in, size_t len, char **out, size_t *n)
{
	size_t i, o = 0, bits = 0;
	uint32_t acc = 0;
	char *buf;

	while (len && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -EINVAL;
	buf = malloc(len / 4 * 3 + 3 + 1);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		int v = b64_val(in[i]);

		if (v < 0) {
			free(buf);
			return -EINVAL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (char)(acc >> bits & 0xff);
		}
	}
	buf[o] = 0;
	*out = buf;
	*n = o;
	return 0;
}
