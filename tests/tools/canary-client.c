/* canary-client: the load generator and probe of the integration tests and the demo; drives real
 * TCP (HTTP/1.1) or UDP flows at a target and reports, as JSON, which backends answered. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "evkit.h"
#include "base/num.h"
#include "base/util.h"
#include "cli/params.h"

#define PROG	      "canary-client"
#define MAX_HDR	      16384 /* response status line + headers */
#define MAX_NAME      200
#define MAX_EVENTS    256
#define MAX_SOURCES   (1 << 20)
#define NSEC_PER_MSEC 1000000LL
#define NSEC_PER_SEC  1000000000LL
#define REQ_KEEP      "GET / HTTP/1.1\r\nHost: canary\r\n\r\n"
#define REQ_CLOSE     "GET / HTTP/1.1\r\nHost: canary\r\nConnection: close\r\n\r\n"

enum mode { M_CONNS, M_HOLD, M_RATE, M_UDP };
static const char *const mode_name[] = {"connections", "hold", "rate", "udp"};

/* Why a connection (or UDP exchange) failed; each failure has exactly one. */
enum err {
	E_CONNECT_REFUSED,
	E_CONNECT_TIMEOUT,
	E_CONNECT_ERROR,
	E_RESET,
	E_TIMEOUT,
	E_EOF,
	E_BAD_RESPONSE,
	E_NON_2XX,
	E_SEND_ERROR,
	E_ABORTED,
	E_COUNT
};
static const char *const err_name[] = {
    "connect_refused", "connect_timeout", "connect_error", "reset",   "timeout", "eof",
    "bad_response",    "non_2xx",	  "send_error",	   "aborted",
};
#define TCP_ERRS                                                                                   \
	((1u << E_CONNECT_REFUSED) | (1u << E_CONNECT_TIMEOUT) | (1u << E_CONNECT_ERROR) |         \
	 (1u << E_RESET) | (1u << E_TIMEOUT) | (1u << E_EOF) | (1u << E_BAD_RESPONSE) |            \
	 (1u << E_NON_2XX) | (1u << E_ABORTED))
#define UDP_ERRS                                                                                   \
	((1u << E_CONNECT_REFUSED) | (1u << E_TIMEOUT) | (1u << E_BAD_RESPONSE) |                  \
	 (1u << E_SEND_ERROR) | (1u << E_ABORTED))

enum src_kind { K_SIGNAL, K_CONN, K_UDP_SHARED };

struct tag {
	enum src_kind kind;
};

enum cstate {
	C_CONNECTING,
	C_BUSY,	 /* requests sent, responses outstanding */
	C_IDLE,	 /* hold mode: waiting for the next send time */
	C_DRAIN, /* all answers in; waiting for the server's FIN so TIME_WAIT stays there */
	C_UDP,	 /* datagram sent, reply outstanding */
};

enum rstate { R_HDR, R_BODY, R_BODY_EOF };

struct conn {
	struct tag tag;
	int fd;
	enum cstate st;
	long seq;
	size_t src_idx; /* SIZE_MAX: kernel-chosen source */
	long rec;	/* hold mode: index into g.recs */
	char local[INET6_ADDRSTRLEN];
	int64_t t_start, t_sent, t_first;
	bool got_first;
	struct timer_node timer; /* connect, response, hold-interval or drain deadline */
	int sent, answered;
	bool established;
	struct bytebuf in;
	enum rstate rs;
	int status;
	uint64_t body_left;
	bool srv_close;
	char xbackend[MAX_NAME + 1];
	char line[MAX_NAME + 1];
	size_t line_len;
	bool line_done;
	struct bytebuf out;
};

struct source {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[INET6_ADDRSTRLEN];
};

struct click {
	char *name;
	double p;
	uint64_t trials, successes;
};

struct samples {
	double *v;
	size_t n, cap;
};

enum rec_result { REC_PENDING, REC_OK, REC_BROKEN, REC_FAILED };

/* Hold mode: what became of each long-lived connection. */
struct hold_rec {
	char local[INET6_ADDRSTRLEN + 8];
	char *backend, *other;
	uint64_t requests;
	enum rec_result result;
	enum err err;
};

static struct client {
	/* options */
	struct {
		long conns, requests, conc;		     /* -1: not given */
		bool udp, hold, rate, duration, k, interval; /* the option was given */
	} opt;
	enum mode mode;
	struct sockaddr_storage target;
	socklen_t tlen;
	const char *target_text;
	struct source *src;
	size_t n_src;
	long total, concurrency, k, timeout_ms, interval_ms;
	double hold_s, rate, duration_s, deadline_s;
	bool by_source, expect_2xx, progress, pipeline, same_socket;
	struct click *clicks;
	size_t n_clicks;
	struct rng rng;
	/* runtime */
	int epfd, sigfd, udp_fd;
	struct tag sig_tag, udp_tag;
	struct conn *udp_current;
	int64_t now, t0, deadline, hold_end, next_tick;
	long launched, slots, active, tick;
	bool stopping;
	struct timer_heap timers; /* every open connection or UDP exchange */
	/* results */
	uint64_t ok, failed, broken, established, switched, requests, requests_sent, skipped, late;
	uint64_t errs[E_COUNT];
	const char *err_detail[E_COUNT];
	struct json_object *status, *backends, *by_src;
	struct samples ttfb, connect_ms;
	struct hold_rec *recs;
	bool deadline_hit, interrupted;
	/* the current second, for --progress */
	uint64_t s_launched, s_ok, s_failed, s_skipped, s_requests, s_errs[E_COUNT];
	struct json_object *s_status, *s_backends;
} g = {
    .opt = {.conns = -1, .requests = -1, .conc = -1},
    .total = 1,
    .k = 1,
    .timeout_ms = 2000,
    .interval_ms = 100,
    .rng = {1},
    .epfd = -1,
    .sigfd = -1,
    .udp_fd = -1,
    .sig_tag = {K_SIGNAL},
    .udp_tag = {K_UDP_SHARED},
};

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* ---- option parsing ---- */

static void add_source(const struct sockaddr_storage *ss, socklen_t len)
{
	struct source *s;

	if (g.n_src >= MAX_SOURCES)
		die_usage("too many source addresses (at most %d)", MAX_SOURCES);
	if ((g.n_src & (g.n_src - 1)) == 0) {
		size_t cap = g.n_src ? g.n_src * 2 : 1;
		struct source *p = realloc(g.src, cap * sizeof(*p));

		if (!p) {
			fprintf(stderr, "%s: out of memory\n", PROG);
			exit(1);
		}
		g.src = p;
	}
	s = &g.src[g.n_src++];
	s->ss = *ss;
	s->len = len;
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, s->text,
			  sizeof(s->text));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, s->text,
			  sizeof(s->text));
}

/* "10.0.1.10/100": 100 consecutive addresses starting at 10.0.1.10 (IPv6 alike). */
static void add_source_range(const char *arg)
{
	const char *slash = strrchr(arg, '/');
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char *bytes;
	socklen_t len;
	size_t nbytes;
	uint64_t count;

	if (!slash || (size_t)(slash - arg) >= sizeof(host))
		die_usage("bad --source-range '%s'; use FIRST-ADDRESS/COUNT, e.g. 10.0.1.10/100",
			  arg);
	memcpy(host, arg, slash - arg);
	host[slash - arg] = '\0';
	if (!addr_parse_sockaddr(host, &ss, &len))
		die_usage("bad --source-range '%s'; '%s' is not an IPv4 or IPv6 address", arg,
			  host);
	if (cli_parse_uint("--source-range count", slash + 1, 1, MAX_SOURCES, &count))
		exit(EXIT_USAGE);
	if (ss.ss_family == AF_INET) {
		bytes = (unsigned char *)&((struct sockaddr_in *)&ss)->sin_addr;
		nbytes = 4;
	} else {
		bytes = (unsigned char *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
		nbytes = 16;
	}
	for (uint64_t i = 0; i < count; i++) {
		if (i > 0) {
			/* Big-endian increment; wrapping past the top is a usage error. */
			size_t b = nbytes;

			while (b > 0 && ++bytes[b - 1] == 0)
				b--;
			if (b == 0)
				die_usage(
				    "--source-range '%s' runs past the end of the address space",
				    arg);
		}
		add_source(&ss, len);
	}
}

static void add_click(const char *arg)
{
	const char *eq = strrchr(arg, '=');
	struct click *c;

	if (!eq || eq == arg)
		die_usage("bad --click-prob '%s'; use BACKEND-NAME=PROBABILITY, e.g. canary-1=0.05",
			  arg);
	g.clicks = realloc(g.clicks, (g.n_clicks + 1) * sizeof(*g.clicks));
	if (!g.clicks) {
		fprintf(stderr, "%s: out of memory\n", PROG);
		exit(1);
	}
	c = &g.clicks[g.n_clicks++];
	memset(c, 0, sizeof(*c));
	c->name = strndup(arg, eq - arg);
	if (cli_parse_double("--click-prob probability", eq + 1, 0, 1, &c->p))
		exit(EXIT_USAGE);
}

/* ---- results ---- */

static void samples_add(struct samples *s, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		double *p = realloc(s->v, cap * sizeof(*p));

		if (!p)
			return; /* a lost sample beats a crash mid-run */
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct json_object *json_ms(double v)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.3f", v);
	return json_object_new_double_s(v, buf);
}

/* Nearest-rank percentiles; null values when there were no samples. */
static struct json_object *samples_json(struct samples *s)
{
	static const struct {
		const char *key;
		double p;
	} pct[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}};
	struct json_object *o = json_object_new_object();
	double sum = 0;

	json_object_object_add(o, "count", json_object_new_uint64(s->n));
	if (s->n)
		qsort(s->v, s->n, sizeof(double), cmp_double);
	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
	json_object_object_add(o, "mean", s->n ? json_ms(sum / s->n) : NULL);
	for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
		size_t rank = (size_t)ceil(pct[i].p / 100.0 * s->n);

		json_object_object_add(o, pct[i].key,
				       s->n ? json_ms(s->v[rank ? rank - 1 : 0]) : NULL);
	}
	json_object_object_add(o, "max", s->n ? json_ms(s->v[s->n - 1]) : NULL);
	return o;
}

static void counter_inc(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(obj, key, &v))
		json_object_int_inc(v, 1);
	else
		json_object_object_add(obj, key, json_object_new_int64(1));
}

static struct json_object *errors_json(const uint64_t *errs, unsigned mask)
{
	struct json_object *o = json_object_new_object();

	for (int i = 0; i < E_COUNT; i++)
		if (mask & (1u << i))
			json_object_object_add(o, err_name[i], json_object_new_uint64(errs[i]));
	return o;
}

/* ---- timers: one deadline per connection ---- */

static struct conn *conn_of(struct timer_node *t)
{
	return t ? container_of(t, struct conn, timer) : NULL;
}

static int timer_set(struct conn *c, int64_t at)
{
	return theap_set(&g.timers, &c->timer, at);
}

static int64_t op_deadline(void)
{
	return g.now + g.timeout_ms * NSEC_PER_MSEC;
}

/* ---- connection lifecycle ---- */

static void conn_free(struct conn *c)
{
	theap_del(&g.timers, &c->timer);
	if (c->fd >= 0 && c->fd != g.udp_fd)
		close(c->fd);
	if (g.udp_current == c)
		g.udp_current = NULL;
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
	g.active--;
}

static void conn_ok(struct conn *c)
{
	g.ok++;
	g.s_ok++;
	if (c->rec >= 0)
		g.recs[c->rec].result = REC_OK;
	conn_free(c);
}

static void conn_fail(struct conn *c, enum err e, int errnum)
{
	g.errs[e]++;
	g.s_errs[e]++;
	if (!g.err_detail[e] && errnum)
		g.err_detail[e] = strerror(errnum);
	if (g.mode == M_HOLD && c->established)
		g.broken++;
	else
		g.failed++;
	g.s_failed++;
	if (c->rec >= 0) {
		g.recs[c->rec].result = c->established ? REC_BROKEN : REC_FAILED;
		g.recs[c->rec].err = e;
	}
	conn_free(c);
}

static enum err errno_to_err(int e, bool connecting)
{
	if (connecting)
		return e == ECONNREFUSED ? E_CONNECT_REFUSED
		       : e == ETIMEDOUT	 ? E_CONNECT_TIMEOUT
					 : E_CONNECT_ERROR;
	/* ECONNRESET, EPIPE and ICMP errors all mean the established flow died. */
	return e == ETIMEDOUT ? E_TIMEOUT : E_RESET;
}

static void local_text(struct conn *c, char *buf, size_t len, bool with_port)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
			port = ntohs(s4->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
			port = ntohs(s6->sin6_port);
		}
	}
	if (!with_port)
		snprintf(buf, len, "%s", ip);
	else if (ss.ss_family == AF_INET6)
		snprintf(buf, len, "[%s]:%d", ip, port);
	else
		snprintf(buf, len, "%s:%d", ip, port);
}

/* A complete answer from backend `name`: the counts every mode shares. */
static void count_answer(struct conn *c, int status, const char *name)
{
	char code[16];

	g.requests++;
	g.s_requests++;
	if (status > 0) {
		snprintf(code, sizeof(code), "%d", status);
		counter_inc(g.status, code);
		counter_inc(g.s_status, code);
	}
	counter_inc(g.backends, name);
	counter_inc(g.s_backends, name);
	if (g.by_source) {
		struct json_object *per;

		if (!c->local[0]) {
			if (c->src_idx != SIZE_MAX)
				snprintf(c->local, sizeof(c->local), "%s", g.src[c->src_idx].text);
			else
				local_text(c, c->local, sizeof(c->local), false);
		}
		if (!json_object_object_get_ex(g.by_src, c->local, &per)) {
			per = json_object_new_object();
			json_object_object_add(g.by_src, c->local, per);
		}
		counter_inc(per, name);
	}
	if (status < 0 || (status >= 200 && status < 300))
		for (size_t i = 0; i < g.n_clicks; i++)
			if (!strcmp(g.clicks[i].name, name)) {
				g.clicks[i].trials++;
				if (rng_chance(&g.rng, g.clicks[i].p))
					g.clicks[i].successes++;
			}
	if (c->rec >= 0) {
		struct hold_rec *r = &g.recs[c->rec];

		r->requests++;
		if (!r->backend) {
			r->backend = strdup(name);
		} else if (strcmp(r->backend, name) && !r->other) {
			/* The splitter moved an established flow: must never happen. */
			r->other = strdup(name);
			g.switched++;
		}
	}
}

/* ---- TCP ---- */

/* Returns -1 when c was freed. */
static int conn_flush(struct conn *c)
{
	ssize_t n = buf_send(c->fd, &c->out);

	if (n < 0) {
		conn_fail(c, errno_to_err((int)-n, false), (int)-n);
		return -1;
	}
	return 0;
}

/* Queues `count` GETs (the last with Connection: close when it ends the connection). */
static int send_requests(struct conn *c, int count)
{
	for (int i = 0; i < count; i++) {
		bool last = g.mode != M_HOLD && c->sent + 1 == g.k;
		int r = last ? buf_append(&c->out, REQ_CLOSE, sizeof(REQ_CLOSE) - 1)
			     : buf_append(&c->out, REQ_KEEP, sizeof(REQ_KEEP) - 1);

		if (r < 0) {
			conn_fail(c, E_SEND_ERROR, ENOMEM);
			return -1;
		}
		c->sent++;
		g.requests_sent++;
	}
	c->st = C_BUSY;
	c->t_sent = g.now;
	c->got_first = false;
	if (timer_set(c, op_deadline()) < 0) {
		conn_fail(c, E_SEND_ERROR, ENOMEM);
		return -1;
	}
	return conn_flush(c);
}

/* Parses one status line + header block.  1: done (*hlen set), 0: need more, -1: bad. */
static int parse_head(struct conn *c, size_t *hlen)
{
	const char *p = c->in.data, *end = c->in.data + c->in.len;
	bool first = true, have_cl = false;

	c->xbackend[0] = '\0';
	c->srv_close = false;
	c->body_left = 0;
	for (;;) {
		const char *nl = memchr(p, '\n', end - p), *le;

		if (!nl)
			return c->in.len >= MAX_HDR ? -1 : 0;
		le = nl;
		if (le > p && le[-1] == '\r')
			le--;
		if (first) {
			/* "HTTP/1.x SSS[ reason]" */
			if (le - p < 12 || memcmp(p, "HTTP/1.", 7) || p[8] != ' ' ||
			    (le - p > 12 && p[12] != ' '))
				return -1;
			for (int i = 9; i < 12; i++)
				if (p[i] < '0' || p[i] > '9')
					return -1;
			c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
			if (c->status < 100)
				return -1;
			first = false;
		} else if (le == p) {
			*hlen = nl + 1 - c->in.data;
			if (!have_cl)
				c->rs = R_BODY_EOF;
			else
				c->rs = R_BODY;
			if (c->status == 204 || c->status == 304 || c->status < 200) {
				c->rs = R_BODY;
				c->body_left = 0;
			}
			return 1;
		} else {
			const char *v, *ve;
			size_t nlen;

			if (http_field_split(p, le, &nlen, &v, &ve) < 0)
				return -1;
			if (nlen == 14 && !strncasecmp(p, "Content-Length", 14)) {
				uint64_t cl;

				if (http_content_length(v, ve, &cl) < 0)
					return -1;
				if (have_cl && cl != c->body_left)
					return -1;
				have_cl = true;
				c->body_left = cl;
			} else if (nlen == 17 && !strncasecmp(p, "Transfer-Encoding", 17)) {
				/* No backend here sends chunked answers. */
				return -1;
			} else if (nlen == 10 && !strncasecmp(p, "Connection", 10)) {
				for (const char *t = v; t + 5 <= ve; t++)
					if (!strncasecmp(t, "close", 5))
						c->srv_close = true;
			} else if (nlen == 9 && !strncasecmp(p, "X-Backend", 9)) {
				size_t n = ve - v;

				if (n > MAX_NAME)
					n = MAX_NAME;
				memcpy(c->xbackend, v, n);
				c->xbackend[n] = '\0';
			}
		}
		p = nl + 1;
	}
}

/* Keeps the body's first line: the backend's name. */
static void capture_line(struct conn *c, const char *data, size_t n)
{
	for (size_t i = 0; i < n && !c->line_done; i++) {
		if (data[i] == '\n') {
			c->line_done = true;
		} else if (c->line_len < MAX_NAME) {
			c->line[c->line_len++] = data[i];
		}
	}
}

static int on_response(struct conn *c);

/* Consumes buffered input.  Returns -1 when c was freed. */
static int process_input(struct conn *c)
{
	while (c->in.len > 0) {
		if (c->st != C_BUSY) {
			/* Bytes nobody asked for: a broken stream. */
			conn_fail(c, E_BAD_RESPONSE, 0);
			return -1;
		}
		if (!c->got_first) {
			c->got_first = true;
			c->t_first = g.now;
		}
		if (c->rs == R_HDR) {
			size_t hlen;
			int r = parse_head(c, &hlen);

			if (r < 0) {
				conn_fail(c, E_BAD_RESPONSE, 0);
				return -1;
			}
			if (r == 0)
				return 0;
			buf_consume(&c->in, hlen);
			c->line_len = 0;
			c->line_done = false;
			if (c->status < 200) {
				if (c->status == 101) {
					conn_fail(c, E_BAD_RESPONSE, 0);
					return -1;
				}
				c->rs = R_HDR; /* interim answer such as 100 Continue */
				continue;
			}
		}
		if (c->rs == R_BODY) {
			size_t n = c->in.len < c->body_left ? c->in.len : (size_t)c->body_left;

			capture_line(c, c->in.data, n);
			buf_consume(&c->in, n);
			c->body_left -= n;
			if (c->body_left > 0)
				return 0;
			if (on_response(c) < 0)
				return -1;
		} else if (c->rs == R_BODY_EOF) {
			capture_line(c, c->in.data, c->in.len);
			c->in.len = 0;
		}
	}
	return 0;
}

/* One complete response.  Returns -1 when c was freed. */
static int on_response(struct conn *c)
{
	const char *name;
	int status = c->status;

	c->line[c->line_len] = '\0';
	if (c->line_len && c->line[c->line_len - 1] == '\r')
		c->line[--c->line_len] = '\0';
	c->rs = R_HDR;
	if (c->line[0] && c->xbackend[0] && strcmp(c->line, c->xbackend)) {
		conn_fail(c, E_BAD_RESPONSE, 0); /* body and header name different backends */
		return -1;
	}
	name = c->line[0] ? c->line : c->xbackend[0] ? c->xbackend : "(none)";
	samples_add(&g.ttfb, (double)(c->t_first - c->t_sent) / NSEC_PER_MSEC);
	c->got_first = false;
	c->answered++;
	count_answer(c, status, name);
	if (g.expect_2xx && (status < 200 || status > 299)) {
		conn_fail(c, E_NON_2XX, 0);
		return -1;
	}
	if (g.mode == M_HOLD) {
		int64_t next;

		if (c->srv_close) {
			conn_fail(c, E_EOF, 0);
			return -1;
		}
		next = c->t_start + g.interval_ms * NSEC_PER_MSEC;
		if (next < g.now)
			next = g.now;
		c->st = C_IDLE;
		if (next >= g.hold_end) {
			c->st = C_DRAIN; /* served its time; close once the timer says so */
			next = g.hold_end;
		}
		if (timer_set(c, next) < 0) {
			conn_fail(c, E_SEND_ERROR, ENOMEM);
			return -1;
		}
		return 0;
	}
	if (c->answered >= g.k) {
		c->st = C_DRAIN;
		if (timer_set(c, op_deadline()) < 0) {
			conn_ok(c);
			return -1;
		}
		return 0;
	}
	if (c->srv_close) {
		conn_fail(c, E_EOF, 0); /* the server ended the connection early */
		return -1;
	}
	if (c->answered < c->sent) {
		if (timer_set(c, op_deadline()) < 0) {
			conn_fail(c, E_SEND_ERROR, ENOMEM);
			return -1;
		}
		return 0;
	}
	return send_requests(c, 1);
}

static int start_requests(struct conn *c)
{
	c->established = true;
	g.established++;
	samples_add(&g.connect_ms, (double)(g.now - c->t_start) / NSEC_PER_MSEC);
	if (c->rec >= 0)
		local_text(c, g.recs[c->rec].local, sizeof(g.recs[c->rec].local), true);
	c->t_start = g.now;
	return send_requests(c, g.mode != M_HOLD && g.pipeline ? (int)g.k : 1);
}

/* Reads until EAGAIN or EOF.  Returns -1 when c was freed. */
static int conn_read(struct conn *c)
{
	for (;;) {
		int room = buf_room(&c->in, 1024, MAX_HDR);
		ssize_t n;

		if (room != 0) {
			/* Full at MAX_HDR: a header block too long; or out of memory. */
			conn_fail(c, E_BAD_RESPONSE, room > 0 ? 0 : ENOMEM);
			return -1;
		}
		n = buf_recv(c->fd, &c->in);
		if (n > 0) {
			if (c->st == C_DRAIN && g.mode != M_HOLD) {
				c->in.len = 0; /* bytes after the last answer are ignored */
				continue;
			}
			if (process_input(c) < 0)
				return -1;
			continue;
		}
		if (n == 0) {
			if (c->st == C_DRAIN) {
				conn_ok(c);
				return -1;
			}
			if (c->st == C_BUSY && c->rs == R_BODY_EOF) {
				/* Close-delimited body: EOF is its end. */
				if (on_response(c) < 0)
					return -1;
				if (c->st == C_DRAIN) {
					conn_ok(c);
					return -1;
				}
			}
			conn_fail(c, E_EOF, 0);
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (c->st == C_DRAIN && g.mode != M_HOLD) {
			conn_ok(c); /* every answer already arrived */
			return -1;
		}
		conn_fail(c, errno_to_err(errno, false), errno);
		return -1;
	}
}

static void conn_event(struct conn *c, uint32_t events)
{
	g.now = now_ns(); /* per event, not per wakeup: TTFB needs the real arrival time */
	if (c->st == C_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err) {
			conn_fail(c, errno_to_err(err, true), err);
			return;
		}
		if (start_requests(c) < 0)
			return;
	}
	if (events & EPOLLOUT && conn_flush(c) < 0)
		return;
	conn_read(c);
}

static int tcp_launch(struct conn *c)
{
	int one = 1, fd;

	fd = socket(g.target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	c->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->src_idx != SIZE_MAX) {
		const struct source *s = &g.src[c->src_idx];

		/* Defer the port choice to connect(), which can reuse a port per 4-tuple. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)&s->ss, s->len) < 0)
			return -errno;
	}
	if (connect(fd, (const struct sockaddr *)&g.target, g.tlen) < 0 && errno != EINPROGRESS)
		return -errno;
	return 0;
}

/* ---- UDP ---- */

static void udp_reply(struct conn *c, const char *data, ssize_t n)
{
	char name[MAX_NAME + 1];
	size_t len = 0;

	while (len < (size_t)n && len < MAX_NAME && data[len] != '\n' && data[len] != '\r') {
		name[len] = data[len];
		len++;
	}
	name[len] = '\0';
	if (!len) {
		conn_fail(c, E_BAD_RESPONSE, 0);
		return;
	}
	samples_add(&g.ttfb, (double)(g.now - c->t_sent) / NSEC_PER_MSEC);
	c->answered++;
	count_answer(c, -1, name);
	conn_ok(c);
}

/* Reads replies for the UDP exchange `c` (NULL on the shared socket with nothing pending). */
static void udp_read(int fd, struct conn *c)
{
	for (;;) {
		char buf[2048];
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* ICMP port unreachable surfaces as ECONNREFUSED on a connected socket. */
			if (c)
				conn_fail(c,
					  errno == ECONNREFUSED ? E_CONNECT_REFUSED : E_SEND_ERROR,
					  errno);
			if (fd != g.udp_fd)
				return;
			c = NULL;
			continue;
		}
		if (!c) {
			g.late++; /* a reply after its request timed out */
			continue;
		}
		udp_reply(c, buf, n);
		if (fd != g.udp_fd)
			return;
		c = NULL;
	}
}

static int udp_socket(size_t src_idx)
{
	int fd = socket(g.target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (src_idx != SIZE_MAX &&
	    bind(fd, (const struct sockaddr *)&g.src[src_idx].ss, g.src[src_idx].len) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (connect(fd, (const struct sockaddr *)&g.target, g.tlen) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int udp_launch(struct conn *c)
{
	char payload[64];
	int len;

	if (g.same_socket) {
		c->fd = g.udp_fd;
		g.udp_current = c;
	} else {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		int fd = udp_socket(c->src_idx);

		if (fd < 0)
			return fd;
		c->fd = fd;
		if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
	}
	c->st = C_UDP;
	len = snprintf(payload, sizeof(payload), "canary-client %ld\n", c->seq);
	c->t_sent = g.now;
	g.requests_sent++;
	if (send(c->fd, payload, (size_t)len, MSG_NOSIGNAL) < 0)
		return -errno;
	return timer_set(c, op_deadline()) < 0 ? -ENOMEM : 0;
}

/* ---- scheduling ---- */

static void launch(void)
{
	struct conn *c = calloc(1, sizeof(*c));
	int r;

	g.launched++;
	g.s_launched++;
	g.now = now_ns();
	if (!c) {
		g.failed++;
		g.s_failed++;
		g.errs[E_CONNECT_ERROR]++;
		g.s_errs[E_CONNECT_ERROR]++;
		return;
	}
	c->tag.kind = K_CONN;
	c->fd = -1;
	timer_init(&c->timer);
	c->seq = g.launched;
	c->rec = g.mode == M_HOLD ? g.launched - 1 : -1;
	c->src_idx = g.n_src ? (size_t)((g.launched - 1) % (long)g.n_src) : SIZE_MAX;
	c->t_start = g.now;
	g.active++;
	if (c->rec >= 0 && c->src_idx != SIZE_MAX)
		snprintf(g.recs[c->rec].local, sizeof(g.recs[c->rec].local), "%s",
			 g.src[c->src_idx].text);
	if (g.mode == M_UDP) {
		r = udp_launch(c);
		if (r < 0)
			conn_fail(c, r == -ECONNREFUSED ? E_CONNECT_REFUSED : E_SEND_ERROR, -r);
		return;
	}
	r = tcp_launch(c);
	if (r == 0) {
		struct epoll_event ev = {
		    .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		    .data.ptr = c,
		};

		c->st = C_CONNECTING;
		if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			r = -errno;
		else if (timer_set(c, op_deadline()) < 0)
			r = -ENOMEM;
	}
	if (r < 0)
		conn_fail(c, errno_to_err(-r, true), -r);
}

static void conn_timer(struct conn *c)
{
	switch (c->st) {
	case C_CONNECTING:
		conn_fail(c, E_CONNECT_TIMEOUT, ETIMEDOUT);
		return;
	case C_BUSY:
	case C_UDP:
		conn_fail(c, E_TIMEOUT, ETIMEDOUT);
		return;
	case C_DRAIN:
		conn_ok(c); /* every answer arrived; the server just kept the connection */
		return;
	case C_IDLE:
		if (g.now >= g.hold_end) {
			conn_ok(c);
			return;
		}
		c->t_start = g.now;
		send_requests(c, 1);
		return;
	}
}

static void schedule(void)
{
	if (g.stopping)
		return;
	switch (g.mode) {
	case M_CONNS:
	case M_UDP:
	case M_HOLD:
		while (g.launched < g.total && g.active < g.concurrency)
			launch();
		break;
	case M_RATE:
		/* Open loop: slot i is due at t0 + i / rate whatever the backlog; a slot
		 * that finds --concurrency connections open is skipped, not delayed. */
		while (g.slots < g.total &&
		       g.t0 + (int64_t)((double)g.slots * NSEC_PER_SEC / g.rate) <= g.now) {
			g.slots++;
			if (g.active < g.concurrency) {
				launch();
			} else {
				g.skipped++;
				g.s_skipped++;
			}
		}
		break;
	}
}

static bool finished(void)
{
	if (g.active > 0)
		return false;
	if (g.stopping)
		return true;
	return g.mode == M_RATE ? g.slots >= g.total : g.launched >= g.total;
}

static void abort_all(void)
{
	struct conn *c;

	g.stopping = true;
	while ((c = conn_of(theap_pop(&g.timers))))
		conn_fail(c, E_ABORTED, 0);
}

static void progress_line(void)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "t", json_object_new_int64(g.tick));
	json_object_object_add(o, "launched", json_object_new_uint64(g.s_launched));
	json_object_object_add(o, "ok", json_object_new_uint64(g.s_ok));
	json_object_object_add(o, "failed", json_object_new_uint64(g.s_failed));
	json_object_object_add(o, "skipped", json_object_new_uint64(g.s_skipped));
	json_object_object_add(o, "active", json_object_new_int64(g.active));
	json_object_object_add(o, "requests", json_object_new_uint64(g.s_requests));
	json_object_object_add(o, "backends", g.s_backends);
	json_object_object_add(o, "status", g.s_status);
	json_object_object_add(o, "errors",
			       errors_json(g.s_errs, g.mode == M_UDP ? UDP_ERRS : TCP_ERRS));
	fprintf(stderr, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(stderr);
	json_object_put(o);
	g.s_backends = json_object_new_object();
	g.s_status = json_object_new_object();
	g.s_launched = g.s_ok = g.s_failed = g.s_skipped = g.s_requests = 0;
	memset(g.s_errs, 0, sizeof(g.s_errs));
}

/* ---- summary ---- */

static void print_summary(void)
{
	struct json_object *o = json_object_new_object();
	char tbuf[INET6_ADDRSTRLEN + 8], ip[INET6_ADDRSTRLEN];
	struct json_object *details = json_object_new_object();

	if (g.target.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&g.target;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(tbuf, sizeof(tbuf), "%s:%d", ip, ntohs(s4->sin_port));
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&g.target;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(tbuf, sizeof(tbuf), "[%s]:%d", ip, ntohs(s6->sin6_port));
	}
	json_object_object_add(o, "mode", json_object_new_string(mode_name[g.mode]));
	json_object_object_add(o, "target", json_object_new_string(tbuf));
	if (g.mode == M_UDP) {
		json_object_object_add(o, "requests", json_object_new_int64(g.launched));
	} else {
		json_object_object_add(o, "connections", json_object_new_int64(g.launched));
		if (g.mode == M_RATE) {
			json_object_object_add(o, "rate", json_num(g.rate));
			json_object_object_add(o, "duration_s", json_num(g.duration_s));
			json_object_object_add(o, "scheduled", json_object_new_int64(g.slots));
			json_object_object_add(o, "skipped", json_object_new_uint64(g.skipped));
		}
		if (g.mode == M_HOLD) {
			json_object_object_add(o, "hold_s", json_num(g.hold_s));
			json_object_object_add(o, "interval_ms",
					       json_object_new_int64(g.interval_ms));
			json_object_object_add(o, "established",
					       json_object_new_uint64(g.established));
			json_object_object_add(o, "broken", json_object_new_uint64(g.broken));
			json_object_object_add(o, "switched", json_object_new_uint64(g.switched));
		}
	}
	json_object_object_add(o, "ok", json_object_new_uint64(g.ok));
	json_object_object_add(o, "failed", json_object_new_uint64(g.failed));
	if (g.mode == M_UDP) {
		json_object_object_add(o, "replies", json_object_new_uint64(g.requests));
		json_object_object_add(o, "late_replies", json_object_new_uint64(g.late));
	} else {
		json_object_object_add(o, "requests", json_object_new_uint64(g.requests));
		json_object_object_add(o, "requests_sent", json_object_new_uint64(g.requests_sent));
	}
	json_object_object_add(o, "errors",
			       errors_json(g.errs, g.mode == M_UDP ? UDP_ERRS : TCP_ERRS));
	for (int i = 0; i < E_COUNT; i++)
		if (g.err_detail[i])
			json_object_object_add(details, err_name[i],
					       json_object_new_string(g.err_detail[i]));
	json_object_object_add(o, "error_details", details);
	if (g.mode != M_UDP) {
		json_object_object_add(o, "status", json_object_get(g.status));
	}
	json_object_object_add(o, "backends", json_object_get(g.backends));
	json_object_object_add(o, g.mode == M_UDP ? "rtt_ms" : "ttfb_ms", samples_json(&g.ttfb));
	if (g.mode != M_UDP)
		json_object_object_add(o, "connect_ms", samples_json(&g.connect_ms));
	if (g.n_clicks) {
		struct json_object *cl = json_object_new_object();

		for (size_t i = 0; i < g.n_clicks; i++) {
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "trials",
					       json_object_new_uint64(g.clicks[i].trials));
			json_object_object_add(e, "successes",
					       json_object_new_uint64(g.clicks[i].successes));
			json_object_object_add(e, "p", json_num(g.clicks[i].p));
			json_object_object_add(cl, g.clicks[i].name, e);
		}
		json_object_object_add(o, "clicks", cl);
	}
	if (g.by_source)
		json_object_object_add(o, "by_source", json_object_get(g.by_src));
	if (g.mode == M_HOLD) {
		static const char *const res[] = {"pending", "ok", "broken", "failed"};
		struct json_object *arr = json_object_new_array();

		for (long i = 0; i < g.launched; i++) {
			struct hold_rec *r = &g.recs[i];
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "local", json_object_new_string(r->local));
			json_object_object_add(
			    e, "backend", r->backend ? json_object_new_string(r->backend) : NULL);
			json_object_object_add(e, "requests", json_object_new_uint64(r->requests));
			json_object_object_add(e, "result", json_object_new_string(res[r->result]));
			if (r->result == REC_BROKEN || r->result == REC_FAILED)
				json_object_object_add(e, "error",
						       json_object_new_string(err_name[r->err]));
			if (r->other)
				json_object_object_add(e, "switched_to",
						       json_object_new_string(r->other));
			json_object_array_add(arr, e);
		}
		json_object_object_add(o, "per_connection", arr);
	}
	json_object_object_add(o, "elapsed_s", json_ms((double)(g.now - g.t0) / NSEC_PER_SEC));
	json_object_object_add(o, "deadline_exceeded", json_object_new_boolean(g.deadline_hit));
	json_object_object_add(o, "interrupted", json_object_new_boolean(g.interrupted));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(o);
}

/* ---- setup ---- */

/* Fails early, with a clear message, on sources that are not local or a target without a
 * route, instead of reporting N identical connect errors. */
static int preflight(void)
{
	char ip[INET6_ADDRSTRLEN];
	int one = 1;

	for (size_t i = 0; i < g.n_src; i++) {
		int fd = socket(g.src[i].ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)&g.src[i].ss, g.src[i].len) < 0) {
			fprintf(stderr,
				"%s: cannot bind source address %s: %s; add it to an interface "
				"in this namespace first (ip addr add)\n",
				PROG, g.src[i].text, strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
	}
	{
		int fd = udp_socket(g.n_src ? 0 : SIZE_MAX);

		if (fd < 0) {
			if (g.target.ss_family == AF_INET)
				inet_ntop(AF_INET, &((struct sockaddr_in *)&g.target)->sin_addr, ip,
					  sizeof(ip));
			else
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&g.target)->sin6_addr,
					  ip, sizeof(ip));
			fprintf(stderr, "%s: cannot reach --target %s: %s; check the routes\n",
				PROG, ip, strerror(-fd));
			return -1;
		}
		close(fd);
	}
	return 0;
}

#define G_FIELD(member) CLI_FIELD(struct client, member)
#define G_GIVEN(member) CLI_GIVEN(struct client, opt.member)

static int set_target(const char *v, void *field)
{
	if (!endpoint_parse_sockaddr(v, &g.target, &g.tlen))
		die_usage("bad --target '%s'; use ADDR:PORT, e.g. 10.0.0.100:80 or [fd00::100]:80",
			  v);
	g.target_text = v;
	return 0;
}

static int set_source(const char *v, void *field)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (!addr_parse_sockaddr(v, &ss, &len))
		die_usage("bad --source '%s'; give an IPv4 or IPv6 address without port, e.g. "
			  "10.0.1.10",
			  v);
	add_source(&ss, len);
	return 0;
}

static int set_source_range(const char *v, void *field)
{
	add_source_range(v);
	return 0;
}

static int set_click(const char *v, void *field)
{
	add_click(v);
	return 0;
}

static const struct cli_opt client_opts[] = {
    {CLI_CUSTOM, "target", 0, .metavar = "ADDR:PORT", .parse = set_target,
     .help = "10.0.0.100:80 or [fd00::100]:80 (required)"},
    {CLI_UINT, "connections", 0, G_FIELD(opt.conns), .metavar = "N", .def = "1",
     .help = "connections", .min = 1, .max = 100000000},
    {CLI_UINT, "concurrency", 0, G_FIELD(opt.conc), .metavar = "C",
     .def = "50; rate mode 1024; --same-socket 1", .help = "open at once", .min = 1,
     .max = 1000000},
    {CLI_UINT, "requests-per-conn", 0, G_FIELD(k), .metavar = "K",
     .help = "requests per connection", .min = 1, .max = 1000000, G_GIVEN(k)},
    {CLI_UINT, "requests", 0, G_FIELD(opt.requests), .metavar = "N", .def = "1",
     .help = "UDP datagrams", .min = 1, .max = 100000000},
    {CLI_CUSTOM, "source", 0, .metavar = "ADDR", .parse = set_source,
     .help = "bind connections round-robin to this address (repeatable)"},
    {CLI_CUSTOM, "source-range", 0, .metavar = "A/N", .parse = set_source_range,
     .help = "N consecutive source addresses from A (10.0.1.10/100)"},
    {CLI_FLAG, "by-source", 0, G_FIELD(by_source), .help = "report per-source backend counts"},
    {CLI_UINT, "timeout", 0, G_FIELD(timeout_ms), .metavar = "MS",
     .help = "per operation: connect, each response, UDP reply", .min = 1, .max = 3600000},
    {CLI_DOUBLE, "deadline", 0, G_FIELD(deadline_s), .metavar = "S",
     .help = "hard limit on the whole run", .def = "worst case + 10 s", .dmin = 0.001,
     .dmax = 7 * 86400},
    {CLI_FLAG, "expect-2xx", 0, G_FIELD(expect_2xx),
     .help = "count non-2xx answers as failed/broken connections"},
    {CLI_FLAG, "pipeline", 0, G_FIELD(pipeline),
     .help = "send all K requests at once (HTTP pipelining)"},
    {CLI_DOUBLE, "hold", 0, G_FIELD(hold_s), .metavar = "S",
     .help = "hold mode: keep-alive connections for S seconds", .dmin = 0.001, .dmax = 86400,
     G_GIVEN(hold)},
    {CLI_UINT, "interval", 0, G_FIELD(interval_ms), .metavar = "MS",
     .help = "hold mode request interval", .min = 1, .max = 3600000, G_GIVEN(interval)},
    {CLI_DOUBLE, "rate", 0, G_FIELD(rate), .metavar = "R",
     .help = "rate mode: R new connections per second", .dmin = 0.001, .dmax = 1000000,
     G_GIVEN(rate)},
    {CLI_DOUBLE, "duration", 0, G_FIELD(duration_s), .metavar = "S",
     .help = "rate mode: for S seconds", .dmin = 0.001, .dmax = 86400, G_GIVEN(duration)},
    {CLI_FLAG, "udp", 0, G_FIELD(opt.udp), .help = "UDP mode"},
    {CLI_FLAG, "same-socket", 0, G_FIELD(same_socket),
     .help = "UDP mode: every datagram from one socket"},
    {CLI_FLAG, "progress", 0, G_FIELD(progress),
     .help = "one JSON line of per-second counts on stderr"},
    {CLI_CUSTOM, "click-prob", 0, .metavar = "NAME=P", .parse = set_click,
     .help = "\"click\" on each 2xx from backend NAME with probability P (repeatable)"},
    {CLI_UINT, "seed", 0, G_FIELD(rng.state), .metavar = "N", .help = "PRNG seed for clicks"},
    {},
};

static const struct cli_cmd client_cmd = {
    .usage =
	"--target ADDR:PORT [mode] [options]\n"
	"Modes:\n"
	"  (default)              --connections N [--concurrency C] [--requests-per-conn K]\n"
	"                         [--pipeline]: N TCP connections, at most C at once, K HTTP\n"
	"                         GETs each (keep-alive, Connection: close on the last)\n"
	"  --hold S               --connections C --interval MS: C keep-alive connections,\n"
	"                         one GET every MS ms on each for S seconds\n"
	"  --rate R               --duration S [--concurrency C]: R new connections per\n"
	"                         second (open loop) for S seconds, K GETs each\n"
	"  --udp                  --requests N [--same-socket] [--concurrency C]: N datagrams,\n"
	"                         each from a fresh socket (new flow), waiting for \"NAME\\n\"\n"
	"Prints one JSON summary on stdout.  Exit 0 when it ran (failures are in the JSON),\n"
	"1 on a setup failure, 2 on a usage error.\n",
    .opts = client_opts,
    .cfg_size = sizeof(g),
};

static void parse_args(int argc, char **argv)
{
	long conns, requests, conc;

	cli_set_names(PROG, NULL);
	cli_parse_options_or_exit(&client_cmd, &g, argc, argv);
	conns = g.opt.conns;
	requests = g.opt.requests;
	conc = g.opt.conc;
	if (!g.target_text)
		die_usage("--target ADDR:PORT is required, e.g. --target 10.0.0.100:80");
	if (g.opt.udp + g.opt.hold + g.opt.rate > 1)
		die_usage("--udp, --hold and --rate select different modes; give at most one");
	g.mode = g.opt.udp ? M_UDP : g.opt.hold ? M_HOLD : g.opt.rate ? M_RATE : M_CONNS;
	if (g.mode == M_RATE && !g.opt.duration)
		die_usage("--rate needs --duration SECONDS, e.g. --rate 100 --duration 10");
	if (g.mode != M_RATE && g.opt.duration)
		die_usage("--duration only applies to --rate; for hold mode use --hold SECONDS");
	if (g.mode == M_UDP && conns >= 0)
		die_usage("--udp counts datagrams with --requests N, not --connections");
	if (g.mode != M_UDP && requests >= 0)
		die_usage("--requests is the UDP datagram count; for TCP use "
			  "--requests-per-conn K");
	if (g.mode == M_RATE && conns >= 0)
		die_usage("--rate opens rate x duration connections; drop --connections");
	if (g.opt.k && (g.mode == M_HOLD || g.mode == M_UDP))
		die_usage(
		    "--requests-per-conn applies to the connections and rate modes; hold mode "
		    "sends one request per --interval");
	if (g.opt.interval && g.mode != M_HOLD)
		die_usage(
		    "--interval only applies to --hold; use --rate for paced new connections");
	if (g.same_socket && g.mode != M_UDP)
		die_usage("--same-socket only applies to --udp");
	if (g.same_socket && g.n_src > 1)
		die_usage("--same-socket uses one socket, so give at most one --source");
	if (g.pipeline && (g.mode == M_HOLD || g.mode == M_UDP))
		die_usage("--pipeline applies to the connections and rate modes only");
	if (g.mode == M_UDP && g.expect_2xx)
		die_usage("--expect-2xx applies to HTTP; UDP replies have no status");
	for (size_t i = 0; i < g.n_src; i++)
		if (g.src[i].ss.ss_family != g.target.ss_family)
			die_usage("source %s and --target %s are different address families",
				  g.src[i].text, g.target_text);

	switch (g.mode) {
	case M_CONNS:
		g.total = conns > 0 ? conns : 1;
		g.concurrency = conc > 0 ? conc : 50;
		break;
	case M_HOLD:
		/* Every held connection is open at once: that is the point of the mode. */
		g.total = conns > 0 ? conns : 1;
		g.concurrency = g.total;
		if (conc > 0)
			die_usage("--hold opens all --connections at once; drop --concurrency");
		break;
	case M_RATE:
		g.total = (long)llround(g.rate * g.duration_s);
		if (g.total < 1)
			die_usage("--rate x --duration is below one connection; raise either");
		g.concurrency = conc > 0 ? conc : 1024;
		break;
	case M_UDP:
		g.total = requests > 0 ? requests : 1;
		g.concurrency = g.same_socket ? 1 : (conc > 0 ? conc : 50);
		if (g.same_socket && conc > 1)
			die_usage("--same-socket sends one datagram at a time; drop --concurrency");
		break;
	}
	if (g.deadline_s <= 0) {
		/* Worst case with every operation timing out, plus slack. */
		double t = g.timeout_ms / 1000.0;
		double waves = ceil((double)g.total / (double)g.concurrency);

		switch (g.mode) {
		case M_CONNS:
			g.deadline_s = waves * (g.k + 2) * t + 10;
			break;
		case M_HOLD:
			g.deadline_s = g.hold_s + 2 * t + 10;
			break;
		case M_RATE:
			g.deadline_s = g.duration_s + (g.k + 2) * t + 10;
			break;
		case M_UDP:
			g.deadline_s = waves * t + 10;
			break;
		}
	}
}

int main(int argc, char **argv)
{
	struct epoll_event events[MAX_EVENTS];
	struct conn *c;
	sigset_t mask;
	int rc = 1;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (preflight() < 0)
		goto out;

	g.status = json_object_new_object();
	g.backends = json_object_new_object();
	g.by_src = json_object_new_object();
	g.s_status = json_object_new_object();
	g.s_backends = json_object_new_object();
	if (g.mode == M_HOLD) {
		g.recs = calloc((size_t)g.total, sizeof(*g.recs));
		if (!g.recs) {
			fprintf(stderr, "%s: out of memory for %ld connections\n", PROG, g.total);
			goto out;
		}
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	g.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g.sigfd < 0 || g.epfd < 0) {
		fprintf(stderr, "%s: cannot set up the event loop: %s\n", PROG, strerror(errno));
		goto out;
	}
	{
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &g.sig_tag};

		if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, g.sigfd, &ev) < 0) {
			fprintf(stderr, "%s: epoll: %s\n", PROG, strerror(errno));
			goto out;
		}
	}
	if (g.same_socket) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &g.udp_tag};

		g.udp_fd = udp_socket(g.n_src ? 0 : SIZE_MAX);
		if (g.udp_fd < 0 || epoll_ctl(g.epfd, EPOLL_CTL_ADD, g.udp_fd, &ev) < 0) {
			fprintf(stderr, "%s: cannot open the UDP socket: %s\n", PROG,
				strerror(g.udp_fd < 0 ? -g.udp_fd : errno));
			goto out;
		}
	}

	g.now = g.t0 = now_ns();
	g.deadline = g.t0 + (int64_t)(g.deadline_s * NSEC_PER_SEC);
	g.hold_end = g.t0 + (int64_t)(g.hold_s * NSEC_PER_SEC);
	g.next_tick = g.t0 + NSEC_PER_SEC;
	for (;;) {
		int64_t wake = g.deadline;
		int n, timeout;

		schedule();
		if (finished())
			break;
		c = conn_of(theap_peek(&g.timers));
		if (c && c->timer.at < wake)
			wake = c->timer.at;
		if (g.mode == M_RATE && g.slots < g.total && !g.stopping) {
			int64_t due = g.t0 + (int64_t)((double)g.slots * NSEC_PER_SEC / g.rate);

			if (due < wake)
				wake = due;
		}
		if (g.progress && g.next_tick < wake)
			wake = g.next_tick;
		timeout =
		    wake <= g.now ? 0 : (int)((wake - g.now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
		n = epoll_wait(g.epfd, events, MAX_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "%s: epoll_wait: %s\n", PROG, strerror(errno));
			goto out;
		}
		g.now = now_ns();
		for (int i = 0; i < n; i++) {
			struct tag *t = events[i].data.ptr;

			if (t->kind == K_SIGNAL) {
				struct signalfd_siginfo si;

				while (read(g.sigfd, &si, sizeof(si)) == sizeof(si))
					g.interrupted = true;
			} else if (t->kind == K_UDP_SHARED) {
				g.now = now_ns();
				udp_read(g.udp_fd, g.udp_current);
			} else {
				c = (struct conn *)t;
				if (c->st == C_UDP) {
					g.now = now_ns();
					udp_read(c->fd, c);
				} else
					conn_event(c, events[i].events);
			}
		}
		while ((c = conn_of(theap_peek(&g.timers))) && c->timer.at <= g.now)
			conn_timer(c);
		if (g.progress && g.now >= g.next_tick) {
			g.tick++;
			progress_line();
			g.next_tick += NSEC_PER_SEC;
		}
		if (g.interrupted && !g.stopping) {
			abort_all();
		} else if (g.now >= g.deadline && !g.stopping) {
			g.deadline_hit = true;
			fprintf(stderr,
				"%s: --deadline of %.1f s reached; aborting %ld open "
				"connections\n",
				PROG, g.deadline_s, g.active);
			abort_all();
		}
	}
	g.now = now_ns();
	/* The last, partial second too, so the progress lines add up to the summary. */
	if (g.progress && (g.s_launched || g.s_ok || g.s_failed || g.s_skipped || g.s_requests)) {
		g.tick++;
		progress_line();
	}
	print_summary();
	rc = 0;
out:
	while ((c = conn_of(theap_pop(&g.timers))))
		conn_free(c);
	if (g.udp_fd >= 0)
		close(g.udp_fd);
	if (g.epfd >= 0)
		close(g.epfd);
	if (g.sigfd >= 0)
		close(g.sigfd);
	json_object_put(g.status);
	json_object_put(g.backends);
	json_object_put(g.by_src);
	json_object_put(g.s_status);
	json_object_put(g.s_backends);
	for (long i = 0; g.recs && i < g.total; i++) {
		free(g.recs[i].backend);
		free(g.recs[i].other);
	}
	free(g.recs);
	for (size_t i = 0; i < g.n_clicks; i++)
		free(g.clicks[i].name);
	free(g.clicks);
	theap_free(&g.timers);
	free(g.src);
	free(g.ttfb.v);
	free(g.connect_ms.v);
	return rc;
}
