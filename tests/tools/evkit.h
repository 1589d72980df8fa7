/* evkit.h: building blocks of the epoll test programs (canary-backend, canary-client): a timer
 * heap, a seedable PRNG, a byte buffer, HTTP field parsing, socket, rlimit and JSON helpers. */
#ifndef CANARY_EVKIT_H
#define CANARY_EVKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct json_object;

#ifndef container_of
/* clang-format off */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
/* clang-format on */
#endif

/* ---- timer heap: a binary min-heap of deadlines, one node embedded per owner ---- */

#define TIMER_UNQUEUED SIZE_MAX

struct timer_node {
	int64_t at; /* deadline, in the caller's clock (now_ns() in both programs) */
	size_t idx; /* slot in the heap, TIMER_UNQUEUED when not queued */
};

struct timer_heap {
	struct timer_node **v;
	size_t len, cap;
};

/* Every node starts unqueued (a zeroed node is not: idx 0 is a slot). */
static inline void timer_init(struct timer_node *t)
{
	t->at = 0;
	t->idx = TIMER_UNQUEUED;
}

/* Queues t for `at`, or moves it there if already queued. -1 on allocation failure (t->at is
 * set but t stays unqueued). */
int theap_set(struct timer_heap *h, struct timer_node *t, int64_t at);
/* Unqueues t; a no-op when it is not queued. */
void theap_del(struct timer_heap *h, struct timer_node *t);
/* The earliest node, or NULL when the heap is empty. */
struct timer_node *theap_peek(const struct timer_heap *h);
/* Unqueues and returns the earliest node, or NULL when the heap is empty. */
struct timer_node *theap_pop(struct timer_heap *h);
/* Frees the slot array (not the nodes). */
void theap_free(struct timer_heap *h);

/* ---- PRNG: splitmix64, tiny, seedable and good enough for Bernoulli draws ---- */

struct rng {
	uint64_t state; /* the seed, then advanced by every draw */
};

uint64_t rng_next(struct rng *r);
/* True with probability p (never for p <= 0). */
bool rng_chance(struct rng *r, double p);

/* ---- growable byte buffer ---- */

/* Input buffers keep their bytes at data[0] (buf_consume drops from the front); output buffers
 * advance off as buf_send sends. */
struct bytebuf {
	char *data;
	size_t len; /* bytes held */
	size_t off; /* bytes of those already sent */
	size_t cap;
};

/* Appends n bytes, growing the buffer (doubling from 512). -1 on allocation failure. */
int buf_append(struct bytebuf *b, const void *data, size_t n);
/* Drops the first n bytes (all when n >= len). */
void buf_consume(struct bytebuf *b, size_t n);
/* Makes room for at least one more byte when the buffer is full, the capacity doubling from
 * `first` up to `max`. 0: there is room, 1: full at max, -1: allocation failure. */
int buf_room(struct bytebuf *b, size_t first, size_t max);
/* recv() into the free space (call buf_room first); the bytes read are added to len. */
ssize_t buf_recv(int fd, struct bytebuf *b);
/* Sends the unsent bytes on a non-blocking socket until all are sent (the buffer is then
 * emptied) or the socket would block. Returns the bytes sent, or -errno on a socket error. */
ssize_t buf_send(int fd, struct bytebuf *b);
/* Bytes appended but not yet sent. */
static inline size_t buf_pending(const struct bytebuf *b)
{
	return b->len - b->off;
}
void buf_free(struct bytebuf *b);

/* ---- HTTP/1.1 header fields ---- */

/* Splits the field line [p, le) (no line ending) at its colon: *nlen is the name's length and
 * [*v, *ve) the value without surrounding spaces and tabs. -1 when there is no colon or no name. */
int http_field_split(const char *p, const char *le, size_t *nlen, const char **v, const char **ve);
/* Parses a Content-Length value [v, ve): one or more digits, no overflow. -1 when malformed. */
int http_content_length(const char *v, const char *ve, uint64_t *out);

/* ---- sockets, limits, JSON ---- */

/* "a.b.c.d:port" or "[v6]:port" (endpoint_parse) into a socket address. Returns AF_INET or
 * AF_INET6, or 0 when s is not such an endpoint. */
int endpoint_parse_sockaddr(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/* An IPv4 or IPv6 literal (addr_parse) into a socket address with port 0; returns as above. */
int addr_parse_sockaddr(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* Raises the soft RLIMIT_NOFILE to the hard limit (best effort). */
void raise_nofile(void);

/* Shortest faithful JSON number: 0.1 rather than json-c's 0.10000000000000001. */
struct json_object *json_num(double v);

#endif
