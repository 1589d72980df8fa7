/* doors.c: the two ways into canaryd's HTTP API, and who may use them. The Unix socket
 * (root's, mode 0660, a group the operator names) takes every request: its permissions
 * decide who may steer, and SO_PEERCRED names the caller in the history. The TCP
 * listener serves reads to anyone; it takes changes only with a bearer token from
 * --token-file, and a token only over TLS or loopback. Every change must be JSON, and
 * no request may name a foreign Host or Origin (docs/SECURITY.md). Each door's checks,
 * the body and a plan's YAML are handled here, without A.lock; api.c's route() runs
 * under it. The dashboard's files and every OPTIONS are answered by dash.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/jsonv.h"
#include "base/safedir.h"
#include "base/util.h"
#include "canaryd.h"

enum door_kind { DOOR_SOCKET, DOOR_TCP };

struct door {
	enum door_kind kind;
	struct MHD_Daemon *d;
	struct api_hosts hosts;
	char where[PATH_MAX + 16]; /* for messages: the socket path or ADDR:PORT */
};

/* Set while the doors start, read-only after (see canaryd.h). */
static struct door doors[2];
static struct api_tokens tokens;

bool tcp_takes_changes(void)
{
	return tokens.n;
}

/* ---- replies ------------------------------------------------------------------------------ */

enum MHD_Result reply(struct MHD_Connection *c, unsigned int code, const char *type,
		      const char *text)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	/* Nothing here is for other sites' pages: no CORS headers, no framing, no sniffing. */
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (code == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"canaryd\"");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result reply_json(struct MHD_Connection *c, unsigned int code, struct json_object *j)
{
	enum MHD_Result ret =
		reply(c, code, "application/json",
		      json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));

	json_object_put(j);
	return ret;
}

enum MHD_Result reply_error(struct MHD_Connection *c, unsigned int code, const char *msg)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "error", json_object_new_string(msg));
	return reply_json(c, code, j);
}

/* ---- a request ---------------------------------------------------------------------------- */

/* /healthz answers without the agent's lock: it says whether the poll loop (the one
 * that rolls back) is alive, and a stuck lock must not hide that it is not. */
static enum MHD_Result healthz(struct MHD_Connection *c)
{
	uint64_t last = atomic_load(&A.last_poll_ns), now = now_ns();
	double age = last ? (now - last) / 1e9 : 0, limit = A.interval * 5 < 5 ? 5 : A.interval * 5;
	char msg[160];

	if (last && age > limit) {
		snprintf(msg, sizeof(msg), "stalled: no poll completed for %.1fs\n", age);
		return reply(c, 503, "text/plain", msg);
	}
	return reply(c, 200, "text/plain", "ok\n");
}

/* Who sends this change, and may they? 0 with q->actor set, or an HTTP status with a
 * message in why. */
static unsigned int authorize(const struct door *door, struct MHD_Connection *c,
			      struct request *q, char *why, size_t len)
{
	const char *auth, *name;

	if (door->kind == DOOR_SOCKET) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		struct passwd pw, *pwp = NULL;
		char pwbuf[1024];

		if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen)) {
			snprintf(why, len, "cannot tell who is calling");
			return 403;
		}
		getpwuid_r(cred.uid, &pw, pwbuf, sizeof(pwbuf), &pwp);
		snprintf(q->actor, sizeof(q->actor), "uid:%u%s%s%s", (unsigned int)cred.uid,
			 pwp ? "(" : "", pwp ? pwp->pw_name : "", pwp ? ")" : "");
		return 0;
	}
	if (!tokens.n) {
		snprintf(why, len, "changes are not accepted on the TCP listener %.100s: use "
				   "canaryd's Unix socket (%.200s), or start canaryd with --token-file for remote "
				   "automation",
			 door->where, doors[DOOR_SOCKET].d ? doors[DOOR_SOCKET].where : "disabled");
		return 403;
	}
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	name = api_token_match(&tokens, auth);
	if (!name) {
		snprintf(why, len, "a change over TCP needs 'Authorization: Bearer TOKEN' with a "
				   "token from canaryd's --token-file");
		return 401;
	}
	snprintf(q->actor, sizeof(q->actor), "token:%s", name);
	return 0;
}

/* A start carries a plan: parse it here, outside the lock. A plan that does not parse
 * leaves q->plan NULL, with the messages in q->plan_errors for api.c to answer. */
static void parse_start_plan(const char *url, struct request *q)
{
	char svc[CANARY_NAME_LEN + 1], rest[8];
	struct json_object *t;

	if (sscanf(url, "/api/v1/rollouts/%32[^/]%7s", svc, rest) == 1 && q->json) {
		if (json_object_object_get_ex(q->json, "plan_text", &t) &&
		    json_object_is_type(t, json_type_string) &&
		    json_object_get_string_len(t) <= PLAN_MAX_BYTES) {
			const char *file = "(plan)";
			size_t elen = 0;
			FILE *ef = open_memstream(&q->plan_errors, &elen);
			struct jv v = {};

			jv_str(&v, q->json, "plan_file", NULL, PATH_MAX, true, &file);
			q->plan = malloc(sizeof(*q->plan));
			if (!q->plan || !ef ||
			    plan_parse_text(json_object_get_string(t),
					    (size_t)json_object_get_string_len(t), file, q->plan,
					    ef)) {
				free(q->plan);
				q->plan = NULL;
			}
			if (ef)
				fclose(ef);
		}
	}
}

static unsigned int check_body(struct MHD_Connection *c, const char *url, struct request *q,
			       char *why, size_t len);

/* A change: who sends it, that it is JSON, and its body parsed (a start's plan too).
 * 0, or an HTTP status with the message in why. */
static unsigned int check_change(const struct door *door, struct MHD_Connection *c, const char *url,
				 struct request *q, char *why, size_t len)
{
	unsigned int code = authorize(door, c, q, why, len);

	return code ? code : check_body(c, url, q, why, len);
}

/* Flagger's webhooks ask a question and change nothing (docs/INTEGRATIONS.md): they are
 * POSTs, but need no token, like the reads. */
static bool flagger_question(const char *url)
{
	return !strcmp(url, "/api/v1/flagger/confirm-rollout") ||
	       !strcmp(url, "/api/v1/flagger/confirm-promotion") ||
	       !strcmp(url, "/api/v1/flagger/rollback");
}

/* A POST's body: that it is JSON, within the limit, and parsed (a start's plan too). */
static unsigned int check_body(struct MHD_Connection *c, const char *url, struct request *q,
			       char *why, size_t len)
{
	const char *ctype =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

	if (!api_json_type(ctype)) {
		snprintf(why, len, "a POST must be sent as Content-Type: application/json");
		return 415;
	}
	if (q->too_big) {
		snprintf(why, len, "request body too large");
		return 413;
	}
	if (q->len) {
		struct jv v = {};

		q->json = jv_parse(&v, q->buf, q->len);
		if (!q->json || !json_object_is_type(q->json, json_type_object)) {
			snprintf(why, len, "the body is not a JSON object");
			return 400;
		}
	}
	parse_start_plan(url, q);
	return 0;
}

/* Everything that needs no agent state, so no lock: the door's checks, the JSON body,
 * and a plan's YAML. A slow or hostile request then never delays the poll loop. */
static enum MHD_Result serve(const struct door *door, struct MHD_Connection *c, const char *url,
			     const char *method, struct request *q)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	bool read = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	char why[512];
	enum MHD_Result ret;
	unsigned int code;

	if (!api_host_allowed(&door->hosts, host)) {
		snprintf(why, sizeof(why), "Host '%.100s' is not this listener's name (allowed: its "
					   "address, localhost, address literals, and --allow-host "
					   "names)",
			 host);
		return reply_error(c, 403, why);
	}
	if (!api_origin_allowed(&door->hosts, origin))
		return reply_error(c, 403, "requests from web pages of other origins are refused");
	if (read && !strcmp(url, "/healthz"))
		return healthz(c);
	if (!strcmp(method, "OPTIONS"))
		return dash_options(c);
	if (read && dash_asset(url))
		return dash_reply(c, url);
	if (!read) {
		code = flagger_question(url) ? check_body(c, url, q, why, sizeof(why))
					     : check_change(door, c, url, q, why, sizeof(why));
		if (code)
			return reply_error(c, code, why);
	}
	pthread_mutex_lock(&A.lock);
	ret = route(c, url, method, q);
	pthread_mutex_unlock(&A.lock);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct request *q = *con_cls;

	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		snprintf(q->actor, sizeof(q->actor), "anonymous");
		*con_cls = q;
		return MHD_YES;
	}
	if (*upload_size) {
		if (q->too_big || q->len + *upload_size > MAX_BODY) {
			q->too_big = true;
		} else {
			char *nb = realloc(q->buf, q->len + *upload_size + 1);

			if (!nb)
				return MHD_NO;
			memcpy(nb + q->len, upload, *upload_size);
			q->buf = nb;
			q->len += *upload_size;
			q->buf[q->len] = 0;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	return serve(cls, c, url, method, q);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *q = *con_cls;

	if (q) {
		free(q->buf);
		json_object_put(q->json);
		free(q->plan);
		free(q->plan_errors);
		free(q);
	}
	*con_cls = NULL;
}

/* ---- starting the doors ------------------------------------------------------------------- */

/* The daemon options both doors share: a few threads, so that one slow connection
 * never holds up another (or /healthz), and bounded connections and time. */
#define DOOR_THREADS	  4
#define DOOR_CONNECTIONS  64
#define DOOR_PER_IP	  16
#define DOOR_TIMEOUT_S	  10u

static struct MHD_Daemon *door_start(struct door *door, unsigned int flags, uint16_t port,
				     int listen_fd, const struct sockaddr *sa, const char *cert,
				     const char *key)
{
	flags |= MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (cert)
		flags |= MHD_USE_TLS;
	return MHD_start_daemon(
		flags, port, NULL, NULL, handler, door, MHD_OPTION_NOTIFY_COMPLETED, completed,
		NULL, MHD_OPTION_CONNECTION_TIMEOUT, DOOR_TIMEOUT_S, MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned int)DOOR_THREADS, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)DOOR_CONNECTIONS,
		listen_fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR,
		listen_fd >= 0 ? (intptr_t)listen_fd : (intptr_t)sa,
		cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
		MHD_OPTION_END);
}

/* The TCP listener's address from --listen (already checked to be ADDR:PORT): the
 * socket address, its text for Host checks, the daemon's flags, and whether it is
 * loopback. */
static bool tcp_address(const char *listen, struct sockaddr_storage *ss, char *host, size_t hlen,
			uint16_t *port, unsigned int *flags)
{
	union canary_addr a;
	int fam = endpoint_parse(listen, &a, port);
	bool loopback;

	if (fam == CANARY_AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(*port);
		s4->sin_addr.s_addr = a.v4;
		loopback = (ntohl(a.v4) >> 24) == 127;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(*port);
		memcpy(&s6->sin6_addr, a.bytes, 16);
		*flags |= MHD_USE_IPv6;
		loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	}
	addr_str(fam, &a, host, hlen);
	return loopback;
}

/* The TCP listener's secrets: the tokens (never in clear text off loopback), and the
 * TLS certificate and key, read into *cert and *key (NULL without TLS). 0, or 1 after
 * saying why. */
static int tcp_secrets(const struct listen_opts *o, bool loopback, char **cert, char **key)
{
	size_t n;
	int err;

	if ((o->tls_cert != NULL) != (o->tls_key != NULL)) {
		log_error("TLS needs both --tls-cert and --tls-key");
		return 1;
	}
	if (o->token_file) {
		char why[512];

		err = api_tokens_load(o->token_file, &tokens, why, sizeof(why));
		if (err) {
			log_error("%s", why);
			return 1;
		}
		if (!o->tls_cert && !loopback) {
			log_error("a token must not cross the network in clear text: with --token-file "
				  "on %s (not loopback), give --tls-cert and --tls-key",
				  o->listen);
			return 1;
		}
	}
	if (o->tls_cert) {
		if (file_read_all(o->tls_cert, 1 << 20, cert, &n) ||
		    file_read_all(o->tls_key, 1 << 20, key, &n)) {
			log_error("cannot read --tls-cert %s or --tls-key %s", o->tls_cert, o->tls_key);
			free(*cert);
			free(*key);
			return 1;
		}
	}
	return 0;
}

/* The TCP listener: reads for anyone; changes with a token (only over TLS or on
 * loopback). Returns 0, or 1 after saying why. */
static int tcp_door_start(const struct listen_opts *o)
{
	struct door *door = &doors[DOOR_TCP];
	struct sockaddr_storage ss = {};
	char host[CANARY_ADDRSTRLEN], *cert = NULL, *key = NULL;
	unsigned int flags = 0, i;
	uint16_t port;
	bool loopback;

	door->kind = DOOR_TCP;
	snprintf(door->where, sizeof(door->where), "%s", o->listen);
	loopback = tcp_address(o->listen, &ss, host, sizeof(host), &port, &flags);
	api_hosts_init(&door->hosts, host, port);
	for (i = 0; i < o->nallow; i++)
		if (api_hosts_add(&door->hosts, o->allow_hosts[i])) {
			log_error("--allow-host '%s' is not a host name (or there are more than %d)",
				  o->allow_hosts[i], API_MAX_HOSTS);
			return 1;
		}
	if (tcp_secrets(o, loopback, &cert, &key))
		return 1;
	door->d = door_start(door, flags, port, -1, (struct sockaddr *)&ss, cert, key);
	free(cert);
	free(key);
	if (!door->d) {
		log_error("cannot listen on %s (in use, not an address of this host, or a bad TLS "
			  "certificate or key); pass --listen ADDR:PORT",
			  o->listen);
		return 1;
	}
	return 0;
}

/* The gid of --socket-group (root's without it). 0, or 1 after saying why. */
static int socket_gid(const char *group, gid_t *gid)
{
	struct group gr, *grp = NULL;
	char buf[4096];

	*gid = 0;
	if (!group)
		return 0;
	getgrnam_r(group, &gr, buf, sizeof(buf), &grp);
	if (!grp) {
		log_error("--socket-group %s: no such group", group);
		return 1;
	}
	*gid = grp->gr_gid;
	return 0;
}

/* The socket's directory must be root's and writable by nobody else (made 0755 when
 * missing). 0, or 1 after saying why. */
static int socket_dir_check(const char *path)
{
	char dir[PATH_MAX], why[512], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = 0;
	else
		snprintf(dir, sizeof(dir), "%s", slash ? "/" : ".");
	if (safedir_ensure(dir, true, 0755, why, sizeof(why))) {
		log_error("socket directory: %s", why);
		return 1;
	}
	return 0;
}

/* Whatever is at the socket's path: a stale socket of an agent that is gone is removed;
 * a live agent on it, or anything but a socket, is refused. 0, or 1 after saying why. */
static int socket_clear(const char *path, const struct sockaddr_un *sun)
{
	struct stat st;
	int probe;

	if (lstat(path, &st))
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("%s exists and is not a socket; remove it or pass --socket", path);
		return 1;
	}
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (const struct sockaddr *)sun, sizeof(*sun)) == 0) {
		close(probe);
		log_error("another canaryd already answers on %s; stop it first", path);
		return 1;
	}
	if (probe >= 0)
		close(probe);
	unlink(path); /* a stale socket of an agent that is gone */
	return 0;
}

/* Bind and listen on the socket: root-only from the moment it exists, then root's with
 * mode 0660 and group gid. The listening fd, or -1 (after saying why, but for a
 * failing socket()). */
static int socket_listen(const char *path, const struct sockaddr_un *sun, gid_t gid)
{
	mode_t old;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	old = umask(0177); /* root-only from the moment it exists */
	if (bind(fd, (const struct sockaddr *)sun, sizeof(*sun))) {
		umask(old);
		log_error("cannot create the socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (chown(path, 0, gid) || chmod(path, 0660) || listen(fd, 64)) {
		log_error("cannot set up the socket %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* The Unix socket: root's, mode 0660, group --socket-group (default root's). Its
 * directory must be root's and writable by nobody else. Returns 0, or 1 after saying
 * why. */
static int socket_door_start(const struct listen_opts *o)
{
	struct door *door = &doors[DOOR_SOCKET];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	gid_t gid;
	int fd;

	door->kind = DOOR_SOCKET;
	snprintf(door->where, sizeof(door->where), "%s", o->socket);
	api_hosts_init(&door->hosts, NULL, 0);
	if (strlen(o->socket) >= sizeof(sun.sun_path)) {
		log_error("--socket %s: the path is too long for a Unix socket", o->socket);
		return 1;
	}
	if (socket_gid(o->socket_group, &gid) || socket_dir_check(o->socket))
		return 1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", o->socket);
	if (socket_clear(o->socket, &sun))
		return 1;
	fd = socket_listen(o->socket, &sun, gid);
	if (fd < 0)
		return 1;
	door->d = door_start(door, 0, 0, fd, NULL, NULL, NULL);
	if (!door->d) {
		log_error("cannot serve on the socket %s", o->socket);
		close(fd);
		unlink(o->socket);
		return 1;
	}
	return 0;
}

int doors_start(const struct listen_opts *o)
{
	if (tcp_door_start(o) || (o->socket && socket_door_start(o))) {
		if (doors[DOOR_TCP].d)
			MHD_stop_daemon(doors[DOOR_TCP].d);
		return 1;
	}
	return 0;
}

void doors_stop(const struct listen_opts *o)
{
	MHD_stop_daemon(doors[DOOR_TCP].d);
	if (doors[DOOR_SOCKET].d) {
		MHD_stop_daemon(doors[DOOR_SOCKET].d);
		unlink(o->socket);
	}
}
