/* canary-backend: epoll HTTP/1.1 + UDP server playing a stable or canary backend in the tests
 * and the demo; answers with its name and injects errors, resets and delays on demand. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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

#define PROG	       "canary-backend"
#define MAX_HEADER     16384 /* request line + headers, as the brief's bound */
#define OUT_HIGH_WATER 65536 /* stop parsing pipelined requests while this much is unsent */
#define LINGER_MS      5000  /* after our FIN, how long we wait for the client's */
#define DEF_IDLE_MS    60000
#define DEF_BACKLOG    4096
#define MAX_NAME       200
#define MAX_EVENTS     256
#define ACCEPT_BATCH   256 /* accepts per wakeup, so one busy listener cannot starve others */
#define UDP_BATCH      256
#define NSEC_PER_MSEC  1000000LL

enum src_kind { SRC_LISTEN, SRC_UDP, SRC_SIGNAL, SRC_CONN };

/* Every epoll registration points at a struct starting with its kind. */
struct src {
	enum src_kind kind;
	int fd;
	bool wildcard; /* UDP bound to 0.0.0.0 or [::]: replies need the destination address */
};

struct endpoint {
	struct sockaddr_storage ss;
	socklen_t len;
	const char *text;
	bool wildcard;
};

struct faults {
	double error_rate;
	double reset_rate;
	double close_rate;
	long delay_ms;
	int error_status;
};

enum conn_state {
	CS_ACTIVE,  /* reading and answering requests */
	CS_DELAYED, /* a parsed request waits for its --delay timer */
	CS_LINGER,  /* response sent with our FIN; draining until the client's FIN */
};

struct conn {
	struct src src;
	enum conn_state state;
	bool reset_fault; /* this connection was picked for --reset-rate */
	bool close_fault; /* this connection was picked for --close-rate */
	bool first_done;
	bool peer_eof;
	bool close_after_flush;
	bool parse_blocked; /* parsing paused until unsent output drops below OUT_HIGH_WATER */
	struct bytebuf in;
	uint64_t body_left; /* Content-Length bytes of the current request still to discard */
	struct bytebuf out;
	bool have_pend; /* a parsed request waits for its body before being answered */
	int d_status;	/* the response held back by --delay */
	bool d_head, d_close, d_ka;
	int64_t last_active;
	struct timer_node timer; /* idle, --delay or linger deadline */
};

struct stats {
	uint64_t connections, requests, resp_2xx, resp_4xx, resp_5xx, resets, closes, udp;
	uint64_t open;
};

static struct backend {
	const char *name;
	char body[MAX_NAME + 2];
	size_t body_len;
	struct faults cli, cur;
	const char *faults_file;
	const char *pidfile;
	struct endpoint *tcp_eps, *udp_eps;
	size_t n_tcp, n_udp;
	struct rng rng;
	uint64_t seed; /* --seed; without it, derived from the name */
	bool seed_given;
	long idle_ms;
	int backlog;
	bool quiet, refuse, no_accept;
	int epfd;
	int reserve_fd; /* spare descriptor released to shed a connection when out of fds */
	struct stats st;
	struct timer_heap timers; /* every connection, keyed by its deadline */
	int64_t now;
} g = {
    .cli = {.error_status = 500},
    .idle_ms = DEF_IDLE_MS,
    .backlog = DEF_BACKLOG,
    .epfd = -1,
    .reserve_fd = -1,
};

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
	va_list ap;

	if (g.quiet)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "%s[%s]: ", PROG, g.name ? g.name : "?");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warnmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s[%s]: ", PROG, g.name ? g.name : "?");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- option parsing ---- */

/* "10.0.2.2:8080" or "[fd00:2::2]:8080". */
static bool parse_endpoint(const char *text, struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->text = text;
	switch (endpoint_parse_sockaddr(text, &ep->ss, &ep->len)) {
	case AF_INET:
		ep->wildcard =
		    ((struct sockaddr_in *)&ep->ss)->sin_addr.s_addr == htonl(INADDR_ANY);
		return true;
	case AF_INET6:
		ep->wildcard =
		    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ep->ss)->sin6_addr);
		return true;
	default:
		return false;
	}
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_NAME)
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

/* ---- faults file ---- */

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* One key=value line of the faults file into f. Returns 0, or -1 after saying why. */
static int fault_set(struct faults *f, const char *key, const char *val, const char *path,
		     int lineno)
{
	char why[NUM_WHY_LEN];
	uint64_t u;
	int rc;

	if (!strcmp(key, "error_rate")) {
		rc = num_parse_double(val, 0, 1, &f->error_rate, why, sizeof(why));
	} else if (!strcmp(key, "reset_rate")) {
		rc = num_parse_double(val, 0, 1, &f->reset_rate, why, sizeof(why));
	} else if (!strcmp(key, "close_rate")) {
		rc = num_parse_double(val, 0, 1, &f->close_rate, why, sizeof(why));
	} else if (!strcmp(key, "delay_ms")) {
		rc = num_parse_uint(val, 0, 3600000, &u, why, sizeof(why));
		if (!rc)
			f->delay_ms = (long)u;
	} else if (!strcmp(key, "error_status")) {
		rc = num_parse_uint(val, 500, 599, &u, why, sizeof(why));
		if (!rc)
			f->error_status = (int)u;
	} else {
		warnmsg("%s:%d: unknown key '%s' (known: error_rate, error_status, reset_rate, "
			"close_rate, delay_ms); keeping the current faults",
			path, lineno, key);
		return -1;
	}
	if (rc)
		warnmsg("%s:%d: %s: '%s' %s; keeping the current faults", path, lineno, key, val,
			why);
	return rc;
}

/* Builds the effective faults as the command line overridden by the file's keys.  All or
 * nothing: one bad line leaves *out untouched, so a half-edited file never applies. */
static int faults_load(const char *path, struct faults *out, bool *missing)
{
	struct faults f = g.cli;
	char line[512];
	int lineno = 0;
	FILE *fp;

	*missing = false;
	fp = fopen(path, "r");
	if (!fp) {
		if (errno == ENOENT) {
			*missing = true;
			*out = f;
			return 0;
		}
		warnmsg("cannot read faults file %s: %s; keeping the current faults", path,
			strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		char *key, *val, *eq, *hash;

		lineno++;
		if (!strchr(line, '\n') && !feof(fp)) {
			warnmsg("%s:%d: line too long; keeping the current faults", path, lineno);
			goto bad;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		key = trim(line);
		if (!*key)
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			warnmsg("%s:%d: expected key=value, got '%s'; keeping the current faults",
				path, lineno, key);
			goto bad;
		}
		*eq = '\0';
		val = trim(eq + 1);
		key = trim(key);
		if (fault_set(&f, key, val, path, lineno))
			goto bad;
	}
	if (ferror(fp)) {
		warnmsg("error reading %s; keeping the current faults", path);
		goto bad;
	}
	fclose(fp);
	*out = f;
	return 0;
bad:
	fclose(fp);
	return -1;
}

static void faults_log(const char *why)
{
	info("faults (%s): error_rate=%g error_status=%d reset_rate=%g delay_ms=%ld", why,
	     g.cur.error_rate, g.cur.error_status, g.cur.reset_rate, g.cur.delay_ms);
}

static void faults_reload(bool at_start)
{
	struct faults f;
	bool missing;

	if (!g.faults_file) {
		if (!at_start)
			info("SIGHUP: no --faults-file given, nothing to reload");
		return;
	}
	if (faults_load(g.faults_file, &f, &missing) < 0)
		return;
	g.cur = f;
	if (missing)
		faults_log("command line; faults file absent");
	else
		faults_log(g.faults_file);
}

/* ---- stats ---- */

static void stats_print(void)
{
	struct json_object *o = json_object_new_object(), *f = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(g.name));
	json_object_object_add(o, "connections", json_object_new_uint64(g.st.connections));
	json_object_object_add(o, "requests", json_object_new_uint64(g.st.requests));
	json_object_object_add(o, "responses_2xx", json_object_new_uint64(g.st.resp_2xx));
	json_object_object_add(o, "responses_4xx", json_object_new_uint64(g.st.resp_4xx));
	json_object_object_add(o, "responses_5xx", json_object_new_uint64(g.st.resp_5xx));
	json_object_object_add(o, "resets", json_object_new_uint64(g.st.resets));
	json_object_object_add(o, "closes", json_object_new_uint64(g.st.closes));
	json_object_object_add(o, "udp_datagrams", json_object_new_uint64(g.st.udp));
	json_object_object_add(o, "open_connections", json_object_new_uint64(g.st.open));
	/* The faults in effect, so a test can see that a SIGHUP has been applied. */
	json_object_object_add(f, "error_rate", json_num(g.cur.error_rate));
	json_object_object_add(f, "error_status", json_object_new_int(g.cur.error_status));
	json_object_object_add(f, "reset_rate", json_num(g.cur.reset_rate));
	json_object_object_add(f, "close_rate", json_num(g.cur.close_rate));
	json_object_object_add(f, "delay_ms", json_object_new_int64(g.cur.delay_ms));
	json_object_object_add(o, "faults", f);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(o);
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

/* Idle deadline, or "far future" when idle connections are kept forever. */
static int64_t idle_deadline(const struct conn *c)
{
	if (g.idle_ms <= 0)
		return INT64_MAX;
	return c->last_active + g.idle_ms * NSEC_PER_MSEC;
}

/* ---- connections ---- */

static void conn_close(struct conn *c)
{
	theap_del(&g.timers, &c->timer);
	close(c->src.fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
	g.st.open--;
}

/* Abort with RST: SO_LINGER {1, 0} makes close() discard the socket instead of a FIN. */
static void conn_reset(struct conn *c)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	setsockopt(c->src.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	g.st.resets++;
	conn_close(c);
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	case 507:
		return "Insufficient Storage";
	case 508:
		return "Loop Detected";
	case 511:
		return "Network Authentication Required";
	default:
		return status >= 500 ? "Server Error" : "Error";
	}
}

/* conn_close-safe: returns -1 only on allocation failure (caller closes). */
static int respond(struct conn *c, int status, bool head, bool close_conn, bool ka_header)
{
	char hdr[512 + MAX_NAME];
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		     "X-Backend: %s\r\n%s\r\n",
		     status, reason(status), g.body_len, g.name,
		     close_conn ? "Connection: close\r\n"
				: (ka_header ? "Connection: keep-alive\r\n" : ""));
	if (buf_append(&c->out, hdr, (size_t)n) < 0)
		return -1;
	if (!head && buf_append(&c->out, g.body, g.body_len) < 0)
		return -1;
	if (status < 300)
		g.st.resp_2xx++;
	else if (status < 500)
		g.st.resp_4xx++;
	else
		g.st.resp_5xx++;
	if (close_conn)
		c->close_after_flush = true;
	return 0;
}

static bool token_in_list(const char *v, size_t len, const char *tok)
{
	size_t tl = strlen(tok);
	size_t i = 0;

	while (i < len) {
		size_t s, e;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && !strncasecmp(v + s, tok, tl))
			return true;
	}
	return false;
}

static bool is_tchar(unsigned char ch)
{
	return isalnum(ch) || strchr("!#$%&'*+-.^_`|~", ch);
}

struct request {
	size_t hdr_len; /* bytes of request line + headers, including the blank line */
	uint64_t content_length;
	bool head, http10, conn_close, conn_ka, expect_continue;
};

/* Returns 1 with *rq filled, 0 when more bytes are needed, or an HTTP error status. */
static int parse_request(const char *buf, size_t len, struct request *rq)
{
	const char *p = buf, *end = buf + len;
	bool have_cl = false, first = true;

	memset(rq, 0, sizeof(*rq));
	/* RFC 9112 2.2: tolerate empty lines before the request line. */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	for (;;) {
		const char *nl = memchr(p, '\n', end - p);
		const char *le;

		if (!nl)
			return (size_t)(end - buf) >= MAX_HEADER ? 431 : 0;
		if ((size_t)(nl + 1 - buf) > MAX_HEADER)
			return 431;
		le = nl;
		if (le > p && le[-1] == '\r')
			le--;
		if (first) {
			const char *sp1 = memchr(p, ' ', le - p), *sp2, *m;

			if (!sp1 || sp1 == p)
				return 400;
			for (m = p; m < sp1; m++)
				if (!is_tchar((unsigned char)*m))
					return 400;
			sp2 = memchr(sp1 + 1, ' ', le - sp1 - 1);
			if (!sp2 || sp2 == sp1 + 1 || le - sp2 - 1 != 8)
				return 400;
			if (!memcmp(sp2 + 1, "HTTP/1.1", 8))
				rq->http10 = false;
			else if (!memcmp(sp2 + 1, "HTTP/1.0", 8))
				rq->http10 = true;
			else
				return 400;
			rq->head = sp1 - p == 4 && !memcmp(p, "HEAD", 4);
			first = false;
		} else if (le == p) {
			rq->hdr_len = nl + 1 - buf;
			return 1;
		} else {
			const char *v, *ve;
			size_t nlen;

			/* Obsolete line folding and nameless fields are rejected (RFC 9112 5.2). */
			if (*p == ' ' || *p == '\t' || http_field_split(p, le, &nlen, &v, &ve) < 0)
				return 400;
			if (nlen == 14 && !strncasecmp(p, "Content-Length", 14)) {
				uint64_t cl;

				if (http_content_length(v, ve, &cl) < 0)
					return 400;
				if (have_cl && cl != rq->content_length)
					return 400;
				have_cl = true;
				rq->content_length = cl;
			} else if (nlen == 17 && !strncasecmp(p, "Transfer-Encoding", 17)) {
				/* Only Content-Length bodies are supported; say so and close. */
				return 400;
			} else if (nlen == 10 && !strncasecmp(p, "Connection", 10)) {
				if (token_in_list(v, ve - v, "close"))
					rq->conn_close = true;
				if (token_in_list(v, ve - v, "keep-alive"))
					rq->conn_ka = true;
			} else if (nlen == 6 && !strncasecmp(p, "Expect", 6)) {
				if (ve - v == 12 && !strncasecmp(v, "100-continue", 12))
					rq->expect_continue = true;
			}
		}
		p = nl + 1;
	}
}

/* Answers the request whose head and body are now complete: reset, delay or respond.
 * Returns -1 if c was freed. */
static int conn_answer(struct conn *c)
{
	int status;

	c->have_pend = false;
	if (!c->first_done) {
		c->first_done = true;
		if (c->reset_fault) {
			conn_reset(c);
			return -1;
		}
		if (c->close_fault) {
			/* A plain close: a FIN, no answer, no RST and no 5xx. */
			g.st.closes++;
			conn_close(c);
			return -1;
		}
	}
	status = rng_chance(&g.rng, g.cur.error_rate) ? g.cur.error_status : 200;
	if (g.cur.delay_ms > 0) {
		c->state = CS_DELAYED;
		c->d_status = status;
		if (timer_set(c, g.now + g.cur.delay_ms * NSEC_PER_MSEC) < 0) {
			conn_close(c);
			return -1;
		}
		return 0;
	}
	if (respond(c, status, c->d_head, c->d_close, c->d_ka) < 0) {
		conn_close(c);
		return -1;
	}
	return 0;
}

/* Parses and answers buffered requests in order, each once its body is consumed.
 * Returns -1 if c was freed. */
static int conn_parse(struct conn *c)
{
	c->parse_blocked = false;
	while (c->state != CS_LINGER && !c->close_after_flush) {
		struct request rq;
		int r;

		if (c->body_left > 0) {
			size_t n = c->in.len < c->body_left ? c->in.len : (size_t)c->body_left;

			buf_consume(&c->in, n);
			c->body_left -= n;
			if (c->body_left > 0)
				break;
		}
		if (c->have_pend) {
			if (conn_answer(c) < 0)
				return -1;
			continue;
		}
		if (c->state != CS_ACTIVE)
			break;
		if (buf_pending(&c->out) > OUT_HIGH_WATER) {
			c->parse_blocked = true;
			break;
		}
		if (c->in.len == 0)
			break;
		r = parse_request(c->in.data, c->in.len, &rq);
		if (r == 0)
			break;
		if (r != 1) {
			/* Malformed: answer once and close, the stream cannot be resynchronised. */
			c->in.len = 0;
			if (respond(c, r, false, true, false) < 0) {
				conn_close(c);
				return -1;
			}
			break;
		}
		buf_consume(&c->in, rq.hdr_len);
		g.st.requests++;
		c->body_left = rq.content_length;
		c->have_pend = true;
		c->d_head = rq.head;
		c->d_close = rq.http10 ? !(rq.conn_ka && !rq.conn_close) : rq.conn_close;
		c->d_ka = !c->d_close && rq.http10;
		/* The client waits for this before sending the body (RFC 9110 10.1.1). */
		if (rq.expect_continue && rq.content_length > 0 && c->in.len == 0 &&
		    buf_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0) {
			conn_close(c);
			return -1;
		}
	}
	/* A client that half-closed gets answers to what it sent, then we close. */
	if (c->peer_eof && c->state == CS_ACTIVE && !c->close_after_flush &&
	    (c->body_left > 0 || parse_request(c->in.data, c->in.len, &(struct request){}) != 1))
		c->close_after_flush = true;
	return 0;
}

/* Reads until EAGAIN (returns 1), EOF (1, peer_eof set) or a full buffer (0); -1 on error. */
static int conn_read(struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->state == CS_LINGER || (c->body_left > 0 && c->in.len == 0)) {
			/* Nothing to keep: linger drain, or bulk of a request body. */
			char scratch[16384];
			size_t want = sizeof(scratch);

			if (c->state != CS_LINGER && c->body_left < want)
				want = (size_t)c->body_left;
			n = recv(c->src.fd, scratch, want, 0);
			if (n > 0) {
				if (c->state != CS_LINGER)
					c->body_left -= (size_t)n;
				c->last_active = g.now;
				continue;
			}
		} else {
			int room = buf_room(&c->in, 2048, MAX_HEADER);

			if (room != 0)
				return room > 0 ? 0 : -1;
			n = buf_recv(c->src.fd, &c->in);
			if (n > 0) {
				c->last_active = g.now;
				continue;
			}
		}
		if (n == 0) {
			c->peer_eof = true;
			return 1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 1;
		return -1;
	}
}

/* Returns -1 on a dead socket (caller closes), 0 otherwise. */
static int conn_flush(struct conn *c)
{
	ssize_t n = buf_send(c->src.fd, &c->out);

	if (n < 0)
		return -1;
	if (n > 0)
		c->last_active = g.now;
	if (buf_pending(&c->out))
		return 0;
	if (c->close_after_flush && c->state != CS_LINGER) {
		/* Send our FIN first and wait for the client's, so the client never sees an RST
		 * for unread bytes and the TIME_WAIT state stays on this side. */
		shutdown(c->src.fd, SHUT_WR);
		c->state = CS_LINGER;
		c->in.len = 0;
		c->body_left = 0;
		if (timer_set(c, g.now + LINGER_MS * NSEC_PER_MSEC) < 0)
			return -1;
	}
	return 0;
}

static void conn_service(struct conn *c)
{
	for (;;) {
		bool was_full;
		int rd;

		rd = conn_read(c);
		if (rd < 0) {
			conn_close(c);
			return;
		}
		if (c->state == CS_LINGER && c->peer_eof) {
			conn_close(c);
			return;
		}
		was_full = rd == 0;
		if (conn_parse(c) < 0)
			return;
		if (conn_flush(c) < 0) {
			conn_close(c);
			return;
		}
		if (c->state == CS_LINGER && c->peer_eof) {
			conn_close(c);
			return;
		}
		/* Go round again when a full buffer stopped the read and parsing made room, or
		 * when unsent output held back pipelined requests and has now drained. */
		if (was_full && c->in.len < c->in.cap)
			continue;
		if (c->parse_blocked && buf_pending(&c->out) <= OUT_HIGH_WATER)
			continue;
		return;
	}
}

static void conn_timer(struct conn *c)
{
	switch (c->state) {
	case CS_DELAYED:
		c->state = CS_ACTIVE;
		if (respond(c, c->d_status, c->d_head, c->d_close, c->d_ka) < 0) {
			conn_close(c);
			return;
		}
		c->last_active = g.now;
		if (timer_set(c, idle_deadline(c)) < 0) {
			conn_close(c);
			return;
		}
		conn_service(c);
		return;
	case CS_LINGER:
		conn_close(c);
		return;
	case CS_ACTIVE:
		/* Lazy idle timer: activity only bumps last_active, so re-arm if it moved. */
		if (idle_deadline(c) > g.now) {
			if (timer_set(c, idle_deadline(c)) < 0)
				conn_close(c);
			return;
		}
		conn_close(c);
		return;
	}
}

/* Sheds one pending connection when out of descriptors, so a level-triggered listener does
 * not spin: free the reserve fd, accept and close, then take the reserve back. */
static void shed_one(int lfd)
{
	int fd;

	if (g.reserve_fd < 0)
		return;
	close(g.reserve_fd);
	fd = accept(lfd, NULL, NULL);
	if (fd >= 0)
		close(fd);
	g.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void do_accept(struct src *ls)
{
	static int64_t last_emfile_log;
	int one = 1;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};
		struct conn *c;
		int fd;

		fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				if (g.now - last_emfile_log > 1000 * NSEC_PER_MSEC) {
					warnmsg("out of file descriptors (%s); dropping new "
						"connections, raise the limit with ulimit -n",
						strerror(errno));
					last_emfile_log = g.now;
				}
				shed_one(ls->fd);
			}
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->src.kind = SRC_CONN;
		c->src.fd = fd;
		timer_init(&c->timer);
		c->last_active = g.now;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		g.st.connections++;
		g.st.open++;
		c->reset_fault = rng_chance(&g.rng, g.cur.reset_rate);
		/* Drawn only when asked for, so other runs keep their fault sequences. */
		c->close_fault = g.cur.close_rate > 0 && rng_chance(&g.rng, g.cur.close_rate);
		ev.data.ptr = c;
		if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ||
		    timer_set(c, idle_deadline(c)) < 0) {
			conn_close(c);
			continue;
		}
		/* Data may already be queued (the request often arrives with the handshake). */
		conn_service(c);
	}
}

/* ---- UDP ---- */

static void do_udp(struct src *us)
{
	for (int i = 0; i < UDP_BATCH; i++) {
		union {
			char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
			struct cmsghdr align;
		} rcv, snd;
		struct sockaddr_storage peer;
		char data[2048];
		struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
		struct msghdr mh = {
		    .msg_name = &peer,
		    .msg_namelen = sizeof(peer),
		    .msg_iov = &iov,
		    .msg_iovlen = 1,
		    .msg_control = rcv.buf,
		    .msg_controllen = sizeof(rcv.buf),
		};
		struct iovec riov = {.iov_base = g.body, .iov_len = g.body_len};
		struct msghdr rh = {
		    .msg_name = &peer,
		    .msg_iov = &riov,
		    .msg_iovlen = 1,
		};
		struct cmsghdr *cm;
		ssize_t n;

		n = recvmsg(us->fd, &mh, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* EAGAIN, or an ICMP error reported on the socket */
		}
		g.st.udp++;
		rh.msg_namelen = mh.msg_namelen;
		/* A wildcard socket must answer from the address the datagram was sent to. */
		if (us->wildcard) {
			memset(&snd, 0, sizeof(snd));
			for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
				if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
					struct in_pktinfo pi, *out;

					memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
					rh.msg_control = snd.buf;
					rh.msg_controllen = CMSG_SPACE(sizeof(pi));
					cm = CMSG_FIRSTHDR(&rh);
					cm->cmsg_level = IPPROTO_IP;
					cm->cmsg_type = IP_PKTINFO;
					cm->cmsg_len = CMSG_LEN(sizeof(pi));
					out = (struct in_pktinfo *)CMSG_DATA(cm);
					memset(out, 0, sizeof(*out));
					out->ipi_spec_dst = pi.ipi_addr;
					break;
				}
				if (cm->cmsg_level == IPPROTO_IPV6 &&
				    cm->cmsg_type == IPV6_PKTINFO) {
					struct in6_pktinfo pi;

					memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
					rh.msg_control = snd.buf;
					rh.msg_controllen = CMSG_SPACE(sizeof(pi));
					cm = CMSG_FIRSTHDR(&rh);
					cm->cmsg_level = IPPROTO_IPV6;
					cm->cmsg_type = IPV6_PKTINFO;
					cm->cmsg_len = CMSG_LEN(sizeof(pi));
					memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
					break;
				}
			}
		}
		/* A full send buffer just drops the reply, as UDP may. */
		sendmsg(us->fd, &rh, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
}

/* ---- setup ---- */

static int open_socket(const struct endpoint *ep, int type, struct src **out)
{
	int fam = ep->ss.ss_family, one = 1;
	struct src *s;
	int fd;

	fd = socket(fam, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		warnmsg("socket for %s: %s", ep->text, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_DGRAM && ep->wildcard) {
		if (fam == AF_INET)
			setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		else
			setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	}
	if (bind(fd, (const struct sockaddr *)&ep->ss, ep->len) < 0) {
		warnmsg("cannot bind %s %s: %s%s", type == SOCK_STREAM ? "--listen" : "--udp",
			ep->text, strerror(errno),
			errno == EADDRNOTAVAIL ? " (is the address configured in this namespace?)"
					       : "");
		close(fd);
		return -1;
	}
	if (type == SOCK_STREAM && listen(fd, g.backlog) < 0) {
		warnmsg("listen on %s: %s", ep->text, strerror(errno));
		close(fd);
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -1;
	}
	s->kind = type == SOCK_STREAM ? SRC_LISTEN : SRC_UDP;
	s->fd = fd;
	s->wildcard = ep->wildcard;
	*out = s;
	return 0;
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		warnmsg("cannot write --pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) != 0) {
		warnmsg("cannot write --pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

#define G_FIELD(member) CLI_FIELD(struct backend, member)

static int set_name(const char *v, void *field)
{
	if (!valid_name(v)) {
		fprintf(stderr,
			"%s: --name '%s' must be 1-%d printable characters without spaces, e.g. "
			"--name canary-1\n",
			PROG, v, MAX_NAME);
		exit(2);
	}
	*(const char **)field = v;
	return 0;
}

/* --listen and --udp: one more endpoint in the list at field, its count next to it. */
static void add_endpoint(const char *opt, const char *v, struct endpoint **list, size_t *n)
{
	struct endpoint ep;

	if (!parse_endpoint(v, &ep)) {
		fprintf(
		    stderr,
		    "%s: bad --%s '%s'; use ADDR:PORT, e.g. 10.0.2.2:8080 or [fd00:2::2]:8080\n",
		    PROG, opt, v);
		exit(2);
	}
	*list = realloc(*list, (*n + 1) * sizeof(**list));
	if (!*list)
		exit(1);
	(*list)[(*n)++] = ep;
}

static int add_listen(const char *v, void *field)
{
	add_endpoint("listen", v, &g.tcp_eps, &g.n_tcp);
	return 0;
}

static int add_udp(const char *v, void *field)
{
	add_endpoint("udp", v, &g.udp_eps, &g.n_udp);
	return 0;
}

static const struct cli_opt backend_opts[] = {
    {CLI_CUSTOM, "name", 'n', G_FIELD(name), .metavar = "NAME", .parse = set_name,
     .help = "backend identity (required; printable, no spaces)"},
    {CLI_CUSTOM, "listen", 'l', .metavar = "ADDR:PORT", .parse = add_listen,
     .help = "TCP listener, e.g. 10.0.2.2:8080 or [fd00:2::2]:8080 (repeatable)"},
    {CLI_CUSTOM, "udp", 'u', .metavar = "ADDR:PORT", .parse = add_udp,
     .help = "UDP responder (repeatable)"},
    {CLI_DOUBLE, "error-rate", 'e', G_FIELD(cli.error_rate), .metavar = "F",
     .help = "answer this fraction of requests with --error-status", .dmin = 0, .dmax = 1},
    {CLI_UINT, "error-status", 0, G_FIELD(cli.error_status), .metavar = "CODE",
     .help = "5xx status for injected errors", .min = 500, .max = 599},
    {CLI_DOUBLE, "reset-rate", 'r', G_FIELD(cli.reset_rate), .metavar = "F",
     .help = "this fraction of connections gets a TCP RST after its first request instead "
	     "of an answer",
     .dmin = 0, .dmax = 1},
    {CLI_DOUBLE, "close-rate", 0, G_FIELD(cli.close_rate), .metavar = "F",
     .help = "this fraction of connections is closed (FIN) after its first request, "
	     "unanswered",
     .dmin = 0, .dmax = 1},
    {CLI_UINT, "delay", 'd', G_FIELD(cli.delay_ms), .metavar = "MS",
     .help = "delay every HTTP response by MS milliseconds", .max = 3600000},
    {CLI_STR, "faults-file", 0, G_FIELD(faults_file), .metavar = "PATH",
     .help = "key=value overrides (error_rate, error_status, reset_rate, delay_ms), read at "
	     "start and on SIGHUP"},
    {CLI_UINT, "seed", 's', G_FIELD(seed), .metavar = "N", .help = "PRNG seed for the faults",
     .def = "derived from NAME", CLI_GIVEN(struct backend, seed_given)},
    {CLI_UINT, "idle-timeout", 0, G_FIELD(idle_ms), .metavar = "MS",
     .help = "close idle keep-alive connections (0 = never)", .max = LONG_MAX / NSEC_PER_MSEC},
    {CLI_UINT, "backlog", 0, G_FIELD(backlog), .metavar = "N", .help = "listen backlog", .min = 1,
     .max = 1 << 20},
    {CLI_FLAG, "refuse", 0, G_FIELD(refuse),
     .help = "bind no TCP listener: the kernel answers SYNs with RST"},
    {CLI_FLAG, "no-accept", 0, G_FIELD(no_accept),
     .help = "listen but never accept: connections queue, then SYNs go unanswered once "
	     "the backlog is full"},
    {CLI_STR, "pidfile", 0, G_FIELD(pidfile), .metavar = "PATH",
     .help = "write the pid once every socket is bound (removed at exit)"},
    {CLI_FLAG, "quiet", 'q', G_FIELD(quiet), .help = "no informational messages on stderr"},
    {},
};

static const struct cli_cmd backend_cmd = {
    .usage = "--name NAME [--listen ADDR:PORT]... [--udp ADDR:PORT]...\n"
	     "                      [--error-rate F] [--error-status CODE] [--reset-rate F]\n"
	     "                      [--close-rate F] [--delay MS] [--faults-file PATH] [--seed N]\n"
	     "                      [--idle-timeout MS] [--backlog N] [--refuse | --no-accept]\n"
	     "                      [--pidfile PATH] [--quiet]\n"
	     "HTTP/1.1 (TCP) and UDP test backend: every response carries NAME (body \"NAME\\n\",\n"
	     "header X-Backend: NAME); UDP datagrams are answered with \"NAME\\n\".\n"
	     "Signals: SIGUSR1 prints a stats JSON line on stdout, SIGHUP re-reads --faults-file,\n"
	     "SIGTERM/SIGINT print the stats line and exit.\n",
    .opts = backend_opts,
    .cfg_size = sizeof(g),
};

/* Fills g from the command line; exits 2 on a usage error. */
static void parse_args(int argc, char **argv)
{
	cli_set_names(PROG, NULL);
	cli_parse_options_or_exit(&backend_cmd, &g, argc, argv);
	if (!g.name) {
		fprintf(stderr, "%s: --name is required, e.g. --name stable-1\n", PROG);
		exit(2);
	}
	if (g.n_tcp == 0 && g.n_udp == 0) {
		fprintf(stderr,
			"%s: nothing to serve; give at least one --listen ADDR:PORT or --udp "
			"ADDR:PORT\n",
			PROG);
		exit(2);
	}
	if (g.refuse && g.no_accept) {
		fprintf(stderr, "%s: --refuse and --no-accept exclude each other; pick one\n",
			PROG);
		exit(2);
	}
	g.rng.state = g.seed_given ? g.seed : fnv1a(g.name);
}

int main(int argc, char **argv)
{
	struct src **srcs = NULL, sigsrc = {.kind = SRC_SIGNAL, .fd = -1};
	struct epoll_event events[MAX_EVENTS];
	bool running = true, pid_written = false;
	struct conn *c;
	size_t n_srcs = 0;
	int rc = 1;
	sigset_t mask;

	parse_args(argc, argv);
	g.body_len = (size_t)snprintf(g.body, sizeof(g.body), "%s\n", g.name);
	g.cur = g.cli;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	g.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigsrc.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	srcs = calloc(g.n_tcp + g.n_udp, sizeof(*srcs));
	if (sigsrc.fd < 0 || g.epfd < 0 || !srcs) {
		warnmsg("cannot set up the event loop: %s", strerror(errno));
		goto out;
	}
	{
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &sigsrc};

		if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, sigsrc.fd, &ev) < 0) {
			warnmsg("epoll: %s", strerror(errno));
			goto out;
		}
	}
	for (size_t i = 0; i < g.n_tcp + g.n_udp; i++) {
		bool tcp = i < g.n_tcp;
		const struct endpoint *ep = tcp ? &g.tcp_eps[i] : &g.udp_eps[i - g.n_tcp];
		struct epoll_event ev = {.events = EPOLLIN};

		if (tcp && g.refuse) {
			info("--refuse: not listening on %s (SYNs get RST)", ep->text);
			continue;
		}
		if (open_socket(ep, tcp ? SOCK_STREAM : SOCK_DGRAM, &srcs[n_srcs]) < 0)
			goto out;
		n_srcs++;
		if (tcp && g.no_accept) {
			info("--no-accept: listening on %s but never accepting", ep->text);
			continue;
		}
		ev.data.ptr = srcs[n_srcs - 1];
		if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, srcs[n_srcs - 1]->fd, &ev) < 0) {
			warnmsg("epoll: %s", strerror(errno));
			goto out;
		}
		info("serving %s on %s", tcp ? "HTTP" : "UDP", ep->text);
	}
	g.now = now_ns();
	faults_reload(true);
	if (!g.faults_file)
		faults_log("command line");
	if (g.pidfile) {
		if (write_pidfile(g.pidfile) < 0)
			goto out;
		pid_written = true;
	}

	while (running) {
		int timeout = -1, n;

		c = conn_of(theap_peek(&g.timers));
		if (c) {
			int64_t d = c->timer.at - (int64_t)now_ns();

			if (d <= 0)
				timeout = 0;
			else if (d / NSEC_PER_MSEC >= INT_MAX)
				timeout = INT_MAX;
			else
				timeout = (int)((d + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
		}
		n = epoll_wait(g.epfd, events, MAX_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			warnmsg("epoll_wait: %s", strerror(errno));
			goto out;
		}
		g.now = now_ns();
		for (int i = 0; i < n; i++) {
			struct src *s = events[i].data.ptr;

			switch (s->kind) {
			case SRC_LISTEN:
				do_accept(s);
				break;
			case SRC_UDP:
				do_udp(s);
				break;
			case SRC_SIGNAL: {
				struct signalfd_siginfo si;

				while (read(sigsrc.fd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGUSR1)
						stats_print();
					else if (si.ssi_signo == SIGHUP)
						faults_reload(false);
					else
						running = false;
				}
				break;
			}
			case SRC_CONN:
				conn_service((struct conn *)s);
				break;
			}
		}
		while ((c = conn_of(theap_peek(&g.timers))) && c->timer.at <= g.now)
			conn_timer(c);
	}
	info("shutting down");
	rc = 0;
out:
	if (g.name && rc == 0)
		stats_print();
	while ((c = conn_of(theap_pop(&g.timers))))
		conn_close(c);
	for (size_t i = 0; i < n_srcs; i++) {
		close(srcs[i]->fd);
		free(srcs[i]);
	}
	if (pid_written)
		unlink(g.pidfile);
	free(srcs);
	free(g.tcp_eps);
	free(g.udp_eps);
	theap_free(&g.timers);
	if (sigsrc.fd >= 0)
		close(sigsrc.fd);
	if (g.epfd >= 0)
		close(g.epfd);
	if (g.reserve_fd >= 0)
		close(g.reserve_fd);
	return rc;
}
