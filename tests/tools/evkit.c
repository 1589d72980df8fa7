/* evkit.c: building blocks of the epoll test programs (canary-backend, canary-client): a timer
 * heap, a seedable PRNG, a byte buffer, HTTP field parsing, socket, rlimit and JSON helpers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <json-c/json.h>

#include "evkit.h"
#include "base/util.h"

/* ---- timer heap ---- */

static bool theap_less(const struct timer_heap *h, size_t a, size_t b)
{
	return h->v[a]->at < h->v[b]->at;
}

static void theap_swap(struct timer_heap *h, size_t a, size_t b)
{
	struct timer_node *t = h->v[a];

	h->v[a] = h->v[b];
	h->v[b] = t;
	h->v[a]->idx = a;
	h->v[b]->idx = b;
}

/* Restores the heap order around slot i, whichever way its key moved. */
static void theap_fix(struct timer_heap *h, size_t i)
{
	while (i > 0 && theap_less(h, i, (i - 1) / 2)) {
		theap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->len && theap_less(h, l, m))
			m = l;
		if (r < h->len && theap_less(h, r, m))
			m = r;
		if (m == i)
			break;
		theap_swap(h, i, m);
		i = m;
	}
}

int theap_set(struct timer_heap *h, struct timer_node *t, int64_t at)
{
	t->at = at;
	if (t->idx != TIMER_UNQUEUED) {
		theap_fix(h, t->idx);
		return 0;
	}
	if (h->len == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 1024;
		struct timer_node **v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	t->idx = h->len;
	h->v[h->len++] = t;
	theap_fix(h, t->idx);
	return 0;
}

void theap_del(struct timer_heap *h, struct timer_node *t)
{
	size_t i = t->idx;

	if (i == TIMER_UNQUEUED)
		return;
	t->idx = TIMER_UNQUEUED;
	h->len--;
	if (i == h->len)
		return;
	h->v[i] = h->v[h->len];
	h->v[i]->idx = i;
	theap_fix(h, i);
}

struct timer_node *theap_peek(const struct timer_heap *h)
{
	return h->len > 0 ? h->v[0] : NULL;
}

struct timer_node *theap_pop(struct timer_heap *h)
{
	struct timer_node *t = theap_peek(h);

	if (t)
		theap_del(h, t);
	return t;
}

void theap_free(struct timer_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->len = h->cap = 0;
}

/* ---- PRNG ---- */

uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

bool rng_chance(struct rng *r, double p)
{
	if (p <= 0)
		return false;
	return (double)(rng_next(r) >> 11) * 0x1.0p-53 < p;
}

/* ---- byte buffer ---- */

int buf_append(struct bytebuf *b, const void *data, size_t n)
{
	if (b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -1;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return 0;
}

void buf_consume(struct bytebuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

int buf_room(struct bytebuf *b, size_t first, size_t max)
{
	size_t cap = b->cap ? b->cap * 2 : first;
	char *p;

	if (b->len < b->cap)
		return 0;
	if (b->cap >= max)
		return 1;
	if (cap > max)
		cap = max;
	p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

ssize_t buf_recv(int fd, struct bytebuf *b)
{
	ssize_t n = recv(fd, b->data + b->len, b->cap - b->len, 0);

	if (n > 0)
		b->len += (size_t)n;
	return n;
}

ssize_t buf_send(int fd, struct bytebuf *b)
{
	ssize_t sent = 0;

	while (b->off < b->len) {
		ssize_t n = send(fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return sent;
			return -errno;
		}
		b->off += (size_t)n;
		sent += n;
	}
	b->off = b->len = 0;
	return sent;
}

void buf_free(struct bytebuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- HTTP/1.1 header fields ---- */

int http_field_split(const char *p, const char *le, size_t *nlen, const char **v, const char **ve)
{
	const char *colon = memchr(p, ':', le - p);

	if (!colon || colon == p)
		return -1;
	*nlen = colon - p;
	*v = colon + 1;
	*ve = le;
	while (*v < *ve && (**v == ' ' || **v == '\t'))
		(*v)++;
	while (*ve > *v && ((*ve)[-1] == ' ' || (*ve)[-1] == '\t'))
		(*ve)--;
	return 0;
}

int http_content_length(const char *v, const char *ve, uint64_t *out)
{
	uint64_t cl = 0;

	if (v == ve)
		return -1;
	for (const char *d = v; d < ve; d++) {
		if (*d < '0' || *d > '9' || cl > (UINT64_MAX - 9) / 10)
			return -1;
		cl = cl * 10 + (uint64_t)(*d - '0');
	}
	*out = cl;
	return 0;
}

/* ---- sockets, limits, JSON ---- */

static int sockaddr_fill(int fam, const union canary_addr *a, uint16_t port,
			 struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (fam == CANARY_AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, &a->v4, sizeof(s4->sin_addr));
		*len = sizeof(*s4);
		return AF_INET;
	}
	if (fam == CANARY_AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a->bytes, sizeof(s6->sin6_addr));
		*len = sizeof(*s6);
		return AF_INET6;
	}
	return 0;
}

int endpoint_parse_sockaddr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	union canary_addr a;
	uint16_t port = 0;
	int fam = endpoint_parse(s, &a, &port);

	return sockaddr_fill(fam, &a, port, ss, len);
}

int addr_parse_sockaddr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	union canary_addr a;
	int fam = addr_parse(s, &a);

	return sockaddr_fill(fam, &a, 0, ss, len);
}

void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

struct json_object *json_num(double v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.10g", v);
	return json_object_new_double_s(v, buf);
}
