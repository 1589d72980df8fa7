/* test_store: the etcd client (lib/store/etcd.c) and the fleet's values (fleet.c)
 * against a real etcd that the test starts on free loopback ports, with its data in a
 * temporary directory removed on exit; etcdctl cross-checks what the library wrote. A
 * hostile server in a thread answers with malformed JSON and out-of-range fields: each
 * must be an error, never a crash. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "testlib.h"
#include "base/b64.h"
#include "base/util.h"
#include "store/etcd.h"
#include "store/fleet.h"

static char datadir[256], url[128], endpoint[64];
static pid_t etcd_pid, etcd_tls_pid;
static struct store *st;

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &l))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static double now_s(void)
{
	return now_ns() / 1e9;
}

/* etcdctl against the test's etcd; its output (first line, newline cut) into out. */
static int etcdctl(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int etcdctl(char *out, size_t len, const char *fmt, ...)
{
	char args[1024], cmd[1400];
	va_list ap;
	FILE *p;
	int rc;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=http://%s %s 2>&1", endpoint,
		 args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (out) {
		out[0] = 0;
		if (fgets(out, (int)len, p))
			out[strcspn(out, "\n")] = 0;
	}
	while (fgetc(p) != EOF)
		;
	rc = pclose(p);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static bool start_etcd(void)
{
	int cport = free_port(), pport = free_port(), i;
	char c[64], p[64], cluster[96], dir[300];

	snprintf(datadir, sizeof(datadir), "/tmp/test_store.XXXXXX");
	if (!mkdtemp(datadir) || cport < 0 || pport < 0)
		return false;
	snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", cport);
	snprintf(url, sizeof(url), "etcd://%s", endpoint);
	snprintf(c, sizeof(c), "http://127.0.0.1:%d", cport);
	snprintf(p, sizeof(p), "http://127.0.0.1:%d", pport);
	snprintf(cluster, sizeof(cluster), "t=%s", p);
	snprintf(dir, sizeof(dir), "%s/data", datadir);
	etcd_pid = fork();
	if (etcd_pid == 0) {
		char log[300];

		snprintf(log, sizeof(log), "%s/etcd.log", datadir);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* etcd goes with the test, even on kill -9 */
		if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr))
			_exit(127);
		execlp("etcd", "etcd", "--name", "t", "--data-dir", dir, "--listen-client-urls", c,
		       "--advertise-client-urls", c, "--listen-peer-urls", p,
		       "--initial-advertise-peer-urls", p, "--initial-cluster", cluster,
		       "--log-level", "error", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) { /* up to 10 s */
		if (!etcdctl(NULL, 0, "endpoint health"))
			return true;
		if (waitpid(etcd_pid, NULL, WNOHANG) == etcd_pid) {
			etcd_pid = 0;
			return false;
		}
		usleep(100000);
	}
	return false;
}

static void remove_datadir(void)
{
	char cmd[300];

	if (datadir[0] && !strncmp(datadir, "/tmp/test_store.", 16)) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", datadir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", datadir);
	}
}

static void teardown(void)
{
	store_close(st);
	st = NULL;
	if (etcd_pid > 0) {
		kill(etcd_pid, SIGKILL);
		waitpid(etcd_pid, NULL, 0);
		etcd_pid = 0;
	}
	if (etcd_tls_pid > 0) {
		kill(etcd_tls_pid, SIGKILL);
		waitpid(etcd_tls_pid, NULL, 0);
		etcd_tls_pid = 0;
	}
	remove_datadir();
}

static void on_signal(int sig)
{
	if (etcd_pid > 0)
		kill(etcd_pid, SIGKILL);
	if (etcd_tls_pid > 0)
		kill(etcd_tls_pid, SIGKILL);
	remove_datadir();
	_exit(128 + sig);
}

static struct store *open_url(const char *u, char *why, size_t len)
{
	struct store_cfg c;

	if (store_url_parse(u, &c, why, len))
		return NULL;
	c.timeout_ms = 3000;
	return store_open(&c, why, len);
}

static bool setup(void)
{
	char why[256];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!ASSERT_TRUE(start_etcd(),
			 "etcd starts on free loopback ports (etcd-server installed?)"))
		return false;
	st = open_url(url, why, sizeof(why));
	return ASSERT_TRUE(st != NULL, why);
}

/* ---- cases against the real etcd ---- */

static void test_url(void)
{
	struct store_cfg c;
	char why[256];

	ASSERT_EQ(store_url_parse("etcd://a:1,[::1]:2379,b.example:3/x/y", &c, why, sizeof(why)), 0,
		  "three endpoints and a prefix");
	ASSERT_EQ(c.n_endpoints, 3, "three endpoints");
	ASSERT_TRUE(!strcmp(c.endpoints[1], "[::1]:2379"), "an IPv6 endpoint");
	ASSERT_TRUE(!strcmp(c.prefix, "/x/y"), "the prefix");
	ASSERT_EQ(store_url_parse("etcd://h:2379", &c, why, sizeof(why)), 0, "no prefix");
	ASSERT_TRUE(!strcmp(c.prefix, STORE_DEFAULT_PREFIX), "the default prefix");
	static const char *const bad[] = {
	    "http://h:1",      "etcd://",
	    "etcd://h",	       "etcd://h:0",
	    "etcd://h:65536",  "etcd://h:1/",
	    "etcd://h:1/a//b", "etcd://h:1/a b",
	    "etcd://h:x",      "etcd://a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9",
	    "etcd://h;rm:1"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		TL_REPORT(store_url_parse(bad[i], &c, why, sizeof(why)) == -EINVAL && why[0],
			  "'%s' is refused: %s", bad[i], why);
}

static void test_put_get(void)
{
	char *val = NULL, out[256];
	size_t len = 0;
	int64_t rev = 0;
	static const char bin[] = "a\0b\377\n=\"\\";

	ASSERT_EQ(store_put(st, "t/k1", "hello", 5, 0), 0, "put t/k1");
	ASSERT_EQ(etcdctl(out, sizeof(out), "get /xdp-canary/t/k1 --print-value-only"), 0,
		  "etcdctl get");
	ASSERT_TRUE(!strcmp(out, "hello"),
		    "etcdctl reads what the library wrote, under the prefix");
	ASSERT_EQ(store_get(st, "t/k1", &val, &len, &rev), 0, "get t/k1");
	ASSERT_TRUE(val && len == 5 && !strcmp(val, "hello") && rev > 0,
		    "the value and a revision");
	free(val);
	ASSERT_EQ(etcdctl(NULL, 0, "put /xdp-canary/t/k2 'from etcdctl'"), 0, "etcdctl put");
	ASSERT_EQ(store_get(st, "t/k2", &val, &len, NULL), 0, "get what etcdctl wrote");
	ASSERT_TRUE(val && !strcmp(val, "from etcdctl"), "the same value");
	free(val);
	ASSERT_EQ(store_put(st, "t/bin", bin, sizeof(bin), 0), 0, "put binary bytes");
	ASSERT_EQ(store_get(st, "t/bin", &val, &len, NULL), 0, "get them back");
	ASSERT_TRUE(val && len == sizeof(bin) && !memcmp(val, bin, len), "byte for byte");
	free(val);
	ASSERT_EQ(store_put(st, "t/empty", "", 0, 0), 0, "put an empty value");
	ASSERT_EQ(store_get(st, "t/empty", &val, &len, NULL), 0, "an empty value is there");
	ASSERT_TRUE(val && len == 0, "and empty");
	free(val);
	ASSERT_EQ(store_get(st, "t/none", &val, &len, NULL), -ENOENT, "an absent key is -ENOENT");
}

struct listed {
	char keys[8][64];
	int n;
};

static int list_cb(const struct store_kv *kv, void *arg)
{
	struct listed *l = arg;

	if (l->n < 8)
		snprintf(l->keys[l->n++], sizeof(l->keys[0]), "%s=%.*s", kv->key, (int)kv->len,
			 kv->val);
	return 0;
}

static int stop_cb(const struct store_kv *kv, void *arg)
{
	return 42;
}

static void test_list_delete(void)
{
	struct listed l = {0};
	int64_t rev = 0, n = 0;

	ASSERT_EQ(store_put(st, "l/a", "1", 1, 0), 0, "put l/a");
	ASSERT_EQ(store_put(st, "l/b", "2", 1, 0), 0, "put l/b");
	ASSERT_EQ(store_put(st, "lx", "3", 1, 0), 0, "put lx (not under l/)");
	ASSERT_EQ(store_list(st, "l/", list_cb, &l, &rev), 0, "list l/");
	ASSERT_EQ(l.n, 2, "two keys under l/, not lx");
	ASSERT_TRUE(!strcmp(l.keys[0], "l/a=1") && !strcmp(l.keys[1], "l/b=2"),
		    "in key order, relative");
	ASSERT_TRUE(rev > 0, "the store's revision");
	ASSERT_EQ(store_list(st, "l/", stop_cb, NULL, NULL), 42,
		  "a callback's nonzero return stops the walk");
	ASSERT_EQ(store_delete(st, "l/", true, &n), 0, "delete l/ as a prefix");
	ASSERT_EQ(n, 2, "two deleted");
	l.n = 0;
	ASSERT_EQ(store_list(st, "l/", list_cb, &l, NULL), 0, "list l/ again");
	ASSERT_EQ(l.n, 0, "nothing left");
	ASSERT_EQ(store_delete(st, "lx", false, &n), 0, "delete lx");
	ASSERT_EQ(n, 1, "one deleted");
}

static void test_txn(void)
{
	int64_t rev = 0, r2 = 0;
	char *val = NULL, out[128];
	bool ok = true;
	struct store_cmp c[] = {{"x/cfg", CMP_MOD_REV_EQ, 0}};
	struct store_op o[] = {{.key = "x/cfg", .val = "v1", .len = 2},
			       {.key = "x/salts", .val = "s1", .len = 2}};

	ASSERT_EQ(store_txn(st, c, 1, o, 2, &ok, &rev), 0, "txn on an absent key (mod rev 0)");
	ASSERT_TRUE(ok, "it succeeds");
	ASSERT_EQ(store_get(st, "x/cfg", &val, NULL, &r2), 0, "x/cfg written");
	free(val);
	ASSERT_EQ(r2, rev, "at the txn's revision");
	ASSERT_EQ(etcdctl(out, sizeof(out), "get /xdp-canary/x/salts --print-value-only"), 0,
		  "etcdctl get");
	ASSERT_TRUE(!strcmp(out, "s1"), "both ops of one txn");
	/* Someone else writes between our read and our txn: the txn loses, writes nothing. */
	ASSERT_EQ(etcdctl(NULL, 0, "put /xdp-canary/x/cfg other"), 0, "a concurrent write");
	c[0].rev = r2;
	o[0].val = "v2";
	o[1].val = "s2";
	ASSERT_EQ(store_txn(st, c, 1, o, 2, &ok, NULL), 0, "a txn on the stale revision");
	ASSERT_TRUE(!ok, "loses");
	ASSERT_EQ(etcdctl(out, sizeof(out), "get /xdp-canary/x/salts --print-value-only"), 0,
		  "etcdctl get");
	ASSERT_TRUE(!strcmp(out, "s1"), "and wrote nothing");
	struct store_cmp absent[] = {{"x/cfg", CMP_ABSENT, 0}};
	struct store_op del[] = {{.key = "x/salts", .del = true}};
	ASSERT_EQ(store_txn(st, absent, 1, del, 1, &ok, NULL), 0, "CMP_ABSENT on a present key");
	ASSERT_TRUE(!ok, "is false");
	absent[0].key = "x/new";
	ASSERT_EQ(store_txn(st, absent, 1, del, 1, &ok, NULL), 0, "CMP_ABSENT on an absent key");
	ASSERT_TRUE(ok, "is true");
	ASSERT_EQ(store_get(st, "x/salts", &val, NULL, NULL), -ENOENT, "and the delete op ran");
	ASSERT_EQ(store_txn(st, NULL, 0, o, 129, &ok, NULL), -E2BIG, "more ops than etcd takes");
}

static void test_lease(void)
{
	int64_t lease = 0, l2 = 0;
	int ttl = 0;
	char *val = NULL, out[128];
	double t0;

	ASSERT_EQ(store_lease_grant(st, 2, &lease), 0, "grant a 2 s lease");
	ASSERT_TRUE(lease > 0, "with an id");
	ASSERT_EQ(store_put(st, "n/a", "alive", 5, lease), 0, "put under it");
	ASSERT_EQ(etcdctl(out, sizeof(out), "get /xdp-canary/n/a -w fields | grep Lease"), 0,
		  "etcdctl");
	ASSERT_TRUE(strstr(out, "Lease") != NULL, "etcdctl sees the key's lease");
	ASSERT_EQ(store_lease_keepalive(st, lease, &ttl), 0, "keepalive");
	ASSERT_TRUE(ttl >= 1 && ttl <= 2, "the TTL left");
	t0 = now_s();
	while (store_get(st, "n/a", &val, NULL, NULL) == 0 && now_s() - t0 < 8) {
		free(val);
		val = NULL;
		usleep(200000);
	}
	TL_REPORT(store_get(st, "n/a", &val, NULL, NULL) == -ENOENT,
		  "the key is gone %.1f s after the "
		  "last keepalive",
		  now_s() - t0);
	ASSERT_EQ(store_lease_keepalive(st, lease, &ttl), -ENOENT,
		  "keepalive of the expired lease");
	ASSERT_EQ(store_lease_grant(st, 30, &l2), 0, "grant another");
	ASSERT_EQ(store_put(st, "n/b", "x", 1, l2), 0, "put under it");
	ASSERT_EQ(store_lease_revoke(st, l2), 0, "revoke it");
	ASSERT_EQ(store_get(st, "n/b", &val, NULL, NULL), -ENOENT, "its key goes at once");
	ASSERT_EQ(store_lease_revoke(st, l2), -ENOENT, "revoking it again is -ENOENT");
	ASSERT_EQ(store_put(st, "n/c", "x", 1, l2), -ENOENT, "a put under a dead lease is -ENOENT");
}

struct writer {
	int delay_ms;
	int64_t rev;
	int ret;
};

static void *late_writer(void *arg)
{
	struct writer *w = arg;
	char why[256];
	struct store *s2 = open_url(url, why, sizeof(why));

	usleep((useconds_t)w->delay_ms * 1000);
	w->ret = s2 ? store_put(s2, "w/key", "late", 4, 0) : -1;
	if (s2 && !w->ret)
		store_revision(s2, &w->rev);
	store_close(s2);
	return NULL;
}

static void test_wait(void)
{
	int64_t now = 0, rev = 0;
	struct writer w = {.delay_ms = 400};
	pthread_t th;
	double t0;

	ASSERT_EQ(store_revision(st, &now), 0, "the current revision");
	t0 = now_s();
	ASSERT_EQ(store_wait(st, "w/", now, 500, &rev), -ETIMEDOUT, "nothing changes: -ETIMEDOUT");
	TL_REPORT(now_s() - t0 >= 0.4 && now_s() - t0 < 3, "after the timeout (%.2f s)",
		  now_s() - t0);
	ASSERT_EQ(store_put(st, "wx", "not under w/", 12, 0), 0, "a change outside w/");
	pthread_create(&th, NULL, late_writer, &w);
	t0 = now_s();
	ASSERT_EQ(store_wait(st, "w/", now, 10000, &rev), 0, "a change under w/ wakes the wait");
	pthread_join(th, NULL);
	ASSERT_EQ(w.ret, 0, "the other writer's put");
	TL_REPORT(now_s() - t0 < 5, "woken by it, not by the timeout (%.2f s)", now_s() - t0);
	ASSERT_EQ(rev, w.rev, "at the revision of the change");
	ASSERT_EQ(store_wait(st, "w/", now, 5000, &rev), 0,
		  "a change made before the wait is seen");
	ASSERT_EQ(rev, w.rev, "the same revision");
	ASSERT_EQ(store_wait(st, "w/", w.rev, 300, &rev), -ETIMEDOUT, "none after it");
	const char *const two[] = {"wa/", "wb/"};
	int64_t r0 = 0, r1 = 0;
	ASSERT_EQ(store_revision(st, &r0), 0, "the revision");
	ASSERT_EQ(store_wait_any(st, two, 2, r0, 300, &rev), -ETIMEDOUT, "two prefixes, no change");
	ASSERT_EQ(store_put(st, "wb/x", "1", 1, 0), 0, "a put under the second prefix");
	ASSERT_EQ(store_revision(st, &r1), 0, "its revision");
	ASSERT_EQ(store_wait_any(st, two, 2, r0, 3000, &rev), 0, "wakes a wait on both");
	ASSERT_EQ(rev, r1, "at its revision");
}

static void test_compact(void)
{
	int64_t rev = 0, old = 0, got = 0;
	char *val = NULL;

	ASSERT_EQ(store_revision(st, &old), 0, "the revision");
	ASSERT_EQ(store_put(st, "c/k", "1", 1, 0), 0, "a put");
	ASSERT_EQ(store_put(st, "c/k", "2", 1, 0), 0, "overwrite in place");
	ASSERT_EQ(store_revision(st, &rev), 0, "the revision after");
	ASSERT_EQ(store_compact(st, rev), 0, "compact to it");
	ASSERT_EQ(store_compact(st, old), 0, "compacting an older revision again is fine");
	ASSERT_EQ(store_compact(st, rev + 1000), -ERANGE, "a future revision is refused");
	ASSERT_EQ(store_get(st, "c/k", &val, NULL, NULL), 0, "the latest value stays");
	ASSERT_TRUE(val && !strcmp(val, "2"), "\"2\"");
	free(val);
	ASSERT_EQ(store_wait(st, "c/", old, 2000, &got), 0,
		  "a wait from a compacted revision returns");
	ASSERT_EQ(got, rev, "with the compaction revision, for the caller to re-read");
}

static void test_failover(void)
{
	char u[200], why[256], *val = NULL;
	struct store *s2;
	int dead = free_port();

	snprintf(u, sizeof(u), "etcd://127.0.0.1:%d,%s", dead, endpoint);
	s2 = open_url(u, why, sizeof(why));
	if (!ASSERT_TRUE(s2 != NULL, "open with a dead endpoint first"))
		return;
	ASSERT_EQ(store_get(s2, "t/k1", &val, NULL, NULL), 0, "a get fails over to the live one");
	free(val);
	ASSERT_TRUE(!strcmp(store_endpoint(s2), endpoint), "which answered");
	store_close(s2);
	snprintf(u, sizeof(u), "etcd://127.0.0.1:%d", dead);
	s2 = open_url(u, why, sizeof(why));
	ASSERT_EQ(store_put(s2, "t/x", "1", 1, 0), -ECONNREFUSED,
		  "no live endpoint: -ECONNREFUSED");
	TL_REPORT(strstr(store_error(s2), "not reachable") != NULL, "why: %s", store_error(s2));
	store_close(s2);
}

/* ---- a hostile server: every answer malformed in one way ---- */

static int hostile_fd = -1, hostile_port;
static const char *volatile hostile_status = "200 OK";
static const char *volatile hostile_body = "";

static void hostile_serve(int c)
{
	char req[65536], hdr[256];
	size_t n = 0, need = 0;
	ssize_t r;
	char *end = NULL;

	while (n < sizeof(req) - 1 && (r = read(c, req + n, sizeof(req) - 1 - n)) > 0) {
		n += (size_t)r;
		req[n] = 0;
		if (!end && (end = strstr(req, "\r\n\r\n"))) {
			char *cl = strcasestr(req, "Content-Length:");

			need = (size_t)(end + 4 - req) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
		}
		if (end && n >= need)
			break;
	}
	snprintf(hdr, sizeof(hdr),
		 "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
		 "Connection: close\r\n\r\n",
		 hostile_status);
	if (write(c, hdr, strlen(hdr)) < 0 || write(c, hostile_body, strlen(hostile_body)) < 0)
		return;
}

static void *hostile_thread(void *arg)
{
	for (;;) {
		int c = accept(hostile_fd, NULL, NULL);

		if (c < 0)
			return NULL;
		hostile_serve(c);
		close(c);
	}
}

static bool hostile_start(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	pthread_t th;

	hostile_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (hostile_fd < 0 || bind(hostile_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(hostile_fd, (struct sockaddr *)&a, &l) || listen(hostile_fd, 16))
		return false;
	hostile_port = ntohs(a.sin_port);
	return !pthread_create(&th, NULL, hostile_thread, NULL) && !pthread_detach(th);
}

enum hcall {
	H_GET,
	H_LIST,
	H_PUT,
	H_TXN,
	H_GRANT,
	H_KEEPALIVE,
	H_REVOKE,
	H_WAIT,
	H_COMPACT,
	H_DELETE
};

struct hostile_case {
	const char *name;
	enum hcall call;
	const char *status, *body;
	int want; /* the errno the call must give */
};

#define HDR "\"header\":{\"revision\":\"7\"}"
/* "/xdp-canary/k" is L3hkcC1jYW5hcnkvaw==, "/other/k" L290aGVyL2s= */
static const struct hostile_case hostile_cases[] = {
    {"not-json", H_GET, "200 OK", "<html>oops</html>", -EPROTO},
    {"truncated-json", H_GET, "200 OK", "{\"header\":{\"revision\":\"7\"", -EPROTO},
    {"json-array", H_GET, "200 OK", "[1,2,3]", -EPROTO},
    {"empty-200", H_PUT, "200 OK", "", -EPROTO},
    {"no-header", H_PUT, "200 OK", "{}", -EPROTO},
    {"revision-text", H_GET, "200 OK", "{\"header\":{\"revision\":\"abc\"}}", -EPROTO},
    {"revision-negative", H_GET, "200 OK", "{\"header\":{\"revision\":\"-5\"}}", -EPROTO},
    {"revision-huge", H_LIST, "200 OK", "{\"header\":{\"revision\":\"99999999999999999999\"}}",
     -EPROTO},
    {"revision-float", H_GET, "200 OK", "{\"header\":{\"revision\":1.5}}", -EPROTO},
    {"kvs-object", H_LIST, "200 OK", "{" HDR ",\"kvs\":{}}", -EPROTO},
    {"kvs-item-string", H_LIST, "200 OK", "{" HDR ",\"kvs\":[\"x\"]}", -EPROTO},
    {"key-not-base64", H_GET, "200 OK",
     "{" HDR ",\"kvs\":[{\"key\":\"!!!\",\"mod_revision\":\"3\","
     "\"create_revision\":\"3\"}]}",
     -EPROTO},
    {"key-outside-prefix", H_GET, "200 OK",
     "{" HDR ",\"kvs\":[{\"key\":\"L290aGVyL2s=\","
     "\"mod_revision\":\"3\",\"create_revision\":\"3\"}]}",
     -EPROTO},
    {"key-number", H_GET, "200 OK", "{" HDR ",\"kvs\":[{\"key\":5}]}", -EPROTO},
    {"mod-revision-zero", H_GET, "200 OK",
     "{" HDR ",\"kvs\":[{\"key\":\"L3hkcC1jYW5hcnkvaw==\","
     "\"mod_revision\":\"0\",\"create_revision\":\"3\"}]}",
     -EPROTO},
    {"value-not-base64", H_GET, "200 OK",
     "{" HDR ",\"kvs\":[{\"key\":\"L3hkcC1jYW5hcnkvaw==\","
     "\"value\":\"a*b\",\"mod_revision\":\"3\",\"create_revision\":\"3\"}]}",
     -EPROTO},
    {"two-keys-for-a-get", H_GET, "200 OK",
     "{" HDR ",\"kvs\":[{\"key\":\"L3hkcC1jYW5hcnkvaw==\","
     "\"mod_revision\":\"3\",\"create_revision\":\"3\"},{\"key\":\"L3hkcC1jYW5hcnkvaw==\","
     "\"mod_revision\":\"3\",\"create_revision\":\"3\"}]}",
     -EPROTO},
    {"count-negative", H_LIST, "200 OK", "{" HDR ",\"count\":\"-1\"}", -EPROTO},
    {"deep-nesting", H_GET, "200 OK",
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
     -EPROTO},
    {"succeeded-string", H_TXN, "200 OK", "{" HDR ",\"succeeded\":\"yes\"}", -EPROTO},
    {"lease-id-zero", H_GRANT, "200 OK", "{" HDR ",\"ID\":\"0\",\"TTL\":\"10\"}", -EPROTO},
    {"lease-ttl-text", H_GRANT, "200 OK", "{" HDR ",\"ID\":\"5\",\"TTL\":\"ten\"}", -EPROTO},
    {"lease-error", H_GRANT, "200 OK", "{" HDR ",\"ID\":\"5\",\"TTL\":\"10\",\"error\":\"no\"}",
     -EIO},
    {"keepalive-no-result", H_KEEPALIVE, "200 OK", "{" HDR "}", -EPROTO},
    {"keepalive-other-id", H_KEEPALIVE, "200 OK",
     "{\"result\":{" HDR ",\"ID\":\"6\",\"TTL\":\"5\"}}", -EPROTO},
    {"keepalive-ttl-negative", H_KEEPALIVE, "200 OK",
     "{\"result\":{" HDR ",\"ID\":\"5\",\"TTL\":\"-3\"}}", -EPROTO},
    {"keepalive-stream-error", H_KEEPALIVE, "200 OK", "{\"error\":{\"grpc_code\":14}}", -EIO},
    {"watch-garbage-line", H_WAIT, "200 OK", "{\"result\":{" HDR ",\"created\":true}}\nnot json\n",
     -EPROTO},
    {"watch-events-object", H_WAIT, "200 OK", "{\"result\":{" HDR ",\"events\":{}}}\n", -EPROTO},
    {"watch-canceled", H_WAIT, "200 OK", "{\"result\":{" HDR ",\"canceled\":true}}\n", -EIO},
    {"watch-ends", H_WAIT, "200 OK", "{\"result\":{" HDR ",\"created\":true}}\n", -EIO},
    {"watch-compact-negative", H_WAIT, "200 OK",
     "{\"result\":{" HDR ",\"compact_revision\":\"-2\"}}\n", -EPROTO},
    {"http-500-garbage", H_PUT, "500 Internal Server Error", "\x01\x02garbage", -EIO},
    {"http-404", H_REVOKE, "404 Not Found", "{\"error\":\"lease not found\",\"code\":5}", -ENOENT},
    {"http-403", H_GET, "403 Forbidden", "{\"error\":\"permission denied\",\"code\":7}", -EACCES},
    {"http-400-code-huge", H_DELETE, "400 Bad Request", "{\"error\":\"x\",\"code\":\"1e99\"}",
     -EIO},
    {"compact-answer-array", H_COMPACT, "200 OK", "[]", -EPROTO},
    {"deleted-negative", H_DELETE, "200 OK", "{" HDR ",\"deleted\":\"-1\"}", -EPROTO},
};

static void run_hostile(const struct hostile_case *h)
{
	char u[64], why[256], *val = NULL;
	struct store_cmp c = {"k", CMP_MOD_REV_EQ, 3};
	struct store_op o = {.key = "k", .val = "v", .len = 1};
	struct store *s;
	int64_t x = 0;
	int ttl = 0, ret = 0;
	bool ok = false;
	struct listed l = {0};

	snprintf(u, sizeof(u), "etcd://127.0.0.1:%d", hostile_port);
	s = open_url(u, why, sizeof(why));
	if (!ASSERT_TRUE(s != NULL, "open"))
		return;
	hostile_status = h->status;
	hostile_body = h->body;
	switch (h->call) {
	case H_GET:
		ret = store_get(s, "k", &val, NULL, NULL);
		break;
	case H_LIST:
		ret = store_list(s, "", list_cb, &l, &x);
		break;
	case H_PUT:
		ret = store_put(s, "k", "v", 1, 0);
		break;
	case H_TXN:
		ret = store_txn(s, &c, 1, &o, 1, &ok, &x);
		break;
	case H_GRANT:
		ret = store_lease_grant(s, 10, &x);
		break;
	case H_KEEPALIVE:
		ret = store_lease_keepalive(s, 5, &ttl);
		break;
	case H_REVOKE:
		ret = store_lease_revoke(s, 5);
		break;
	case H_WAIT:
		ret = store_wait(s, "", 1, 2000, &x);
		break;
	case H_COMPACT:
		ret = store_compact(s, 3);
		break;
	case H_DELETE:
		ret = store_delete(s, "k", false, &x);
		break;
	}
	free(val);
	TL_REPORT(ret == h->want && store_error(s)[0], "%s (want %s): %s", strerror(-ret),
		  strerror(-h->want), store_error(s));
	store_close(s);
}

TEST_FIXTURE_TABLE(test_hostile, hostile_names, hostile_cases, name, run_hostile)

/* ---- the fleet's values ---- */

static void test_fleet_values(void)
{
	struct salt_table t = {0}, t2;
	struct fleet_weight w = {.bp = 1250, .by = "canaryctl", .time_ms = 1764600000000}, w2;
	struct fleet_report *r = calloc(1, sizeof(*r)), *r2 = calloc(1, sizeof(*r2));
	char why[256], key[FLEET_KEY_LEN], *s;

	salts_set(&t, "web", 4000000000u);
	salts_set(&t, "api", 7);
	s = fleet_salts_encode(&t);
	ASSERT_EQ(fleet_salts_decode(s, strlen(s), &t2, why, sizeof(why)), 0, "salts round trip");
	ASSERT_TRUE(t2.n == 2 && t2.e[0].salt == 4000000000u && t2.e[1].salt == 7, "both salts");
	free(s);
	static const char *const bad_salts[] = {"{\"web\":-1}",
						"{\"web\":4294967296}",
						"{\"Web\":1}",
						"{\"web\":\"1\"}",
						"[]",
						"{\"web\":1",
						""};
	for (size_t i = 0; i < ARRAY_SIZE(bad_salts); i++)
		TL_REPORT(fleet_salts_decode(bad_salts[i], strlen(bad_salts[i]), &t2, why,
					     sizeof(why)) == -EINVAL,
			  "salts %s refused: %s", bad_salts[i], why);
	s = fleet_weight_encode(&w);
	ASSERT_EQ(fleet_weight_decode(s, strlen(s), &w2, why, sizeof(why)), 0, "weight round trip");
	ASSERT_TRUE(w2.bp == 1250 && !strcmp(w2.by, "canaryctl") && w2.time_ms == w.time_ms,
		    "same");
	free(s);
	static const char *const bad_w[] = {
	    "{\"weight_bp\":10001}", "{\"weight_bp\":-1}",	   "{}",
	    "{\"weight_bp\":5.5}",   "{\"weight_bp\":5,\"by\":7}", "[5]"};
	const char *more = "{\"weight_bp\":5,\"by\":\"leader node-a\",\"step\":3}";
	ASSERT_EQ(fleet_weight_decode(more, strlen(more), &w2, why, sizeof(why)), 0,
		  "a weight with more members (a newer writer) still reads");
	ASSERT_TRUE(w2.bp == 5 && !strcmp(w2.by, "leader node-a"), "its weight and writer");
	for (size_t i = 0; i < ARRAY_SIZE(bad_w); i++)
		TL_REPORT(fleet_weight_decode(bad_w[i], strlen(bad_w[i]), &w2, why, sizeof(why)) ==
			      -EINVAL,
			  "weight %s refused: %s", bad_w[i], why);
	snprintf(r->node, sizeof(r->node), "node-1");
	r->config_rev = 42;
	r->time_ms = 1764600000123;
	snprintf(r->health, sizeof(r->health), "ok");
	r->n_svc = 1;
	snprintf(r->svc[0].name, sizeof(r->svc[0].name), "web");
	r->svc[0].weight_bp = 1000;
	r->svc[0].arm[1].flows = 17;
	r->svc[0].arm[1].http_class[5] = 3;
	r->svc[0].arm[0].ttfb_hist[CANARY_HIST_BUCKETS - 1] = UINT64_MAX;
	s = fleet_report_encode(r);
	ASSERT_EQ(fleet_report_decode(s, strlen(s), r2, why, sizeof(why)), 0, "report round trip");
	ASSERT_TRUE(!memcmp(r->svc, r2->svc, sizeof(r->svc[0])) && r2->config_rev == 42 &&
			!strcmp(r2->node, "node-1"),
		    "the same report");
	free(s);
	static const char *const bad_r[] = {
	    "{\"node\":\"Bad\",\"config_rev\":1,\"time_ms\":1,\"services\":{}}",
	    "{\"node\":\"n\",\"config_rev\":-1,\"time_ms\":1,\"services\":{}}",
	    "{\"node\":\"n\",\"config_rev\":1,\"time_ms\":1,\"services\":[]}",
	    "{\"node\":\"n\",\"config_rev\":1,\"time_ms\":1,\"services\":{\"web\":{\"weight_bp\":1,"
	    "\"arms\":[{}]}}}",
	    "{\"node\":\"n\",\"config_rev\":1,\"time_ms\":1,\"services\":{\"web\":{\"weight_bp\":1,"
	    "\"arms\":[{\"flows\":-1},{}]}}}",
	    "{\"node\":\"n\",\"config_rev\":1,\"time_ms\":1,\"services\":{\"web\":{\"weight_bp\":1,"
	    "\"arms\":[{\"bogus\":1},{}]}}}",
	    "{\"node\":\"n\",\"config_rev\":1,\"time_ms\":1,\"services\":{\"web\":{\"weight_bp\":1,"
	    "\"arms\":[{\"ttfb_hist\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,"
	    "24,25]},{}]}}}",
	    "{\"node\":\"n\",\"config_rev\":1,\"time_ms\":1,\"services\":{\"web\":{\"weight_bp\":1,"
	    "\"arms\":[\"x\",{}]}}}",
	    "{\"node\":\"n\",\"config_rev\":1,\"time_ms\":1,\"services\":{\"web\":{\"weight_bp\":1,"
	    "\"arms\":[{\"http_class\":[1,-2]},{}]}}}",
	    "{\"node\":\"n\",\"config_rev\":1,\"time_ms\":1,\"services\":{\"web\":7}}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_r); i++)
		TL_REPORT(fleet_report_decode(bad_r[i], strlen(bad_r[i]), r2, why, sizeof(why)) ==
			      -EINVAL,
			  "report %zu refused: %s", i, why);
	ASSERT_EQ(fleet_key_weight(key, sizeof(key), "web"), 0, "weights/web");
	ASSERT_TRUE(!strcmp(key, "weights/web"), "the key");
	ASSERT_EQ(fleet_key_rollback(key, sizeof(key), "web", "n1"), 0, "rollbacks/web/n1");
	ASSERT_TRUE(!strcmp(key, "rollbacks/web/n1"), "the key");
	ASSERT_EQ(fleet_key_node(key, sizeof(key), "../x"), -EINVAL, "a bad node name");
	ASSERT_EQ(fleet_key_weight(key, sizeof(key), "a/b"), -EINVAL, "a bad service name");
	ASSERT_TRUE(fleet_key_leaf("nodes/n1", FLEET_DIR_NODES) &&
			!strcmp(fleet_key_leaf("nodes/n1", FLEET_DIR_NODES), "n1") &&
			!fleet_key_leaf("nodes/a/b", FLEET_DIR_NODES),
		    "leaf");
	free(r);
	free(r2);
}

/* The largest report: 256 services, every counter of both arms nonzero (2^40, 13
 * digits). It must fit etcd's default --max-request-bytes (1.5 MiB) after base64 and
 * the put's JSON; the sizes go into docs/FLEET.md. */
static void test_report_size(void)
{
	struct fleet_report *r = calloc(1, sizeof(*r));
	size_t idle, full;
	char *s;
	unsigned int i, arm;

	if (!ASSERT_TRUE(r != NULL, "memory"))
		return;
	snprintf(r->node, sizeof(r->node), "node-with-a-long-name-000");
	r->config_rev = r->weights_rev = 123456789;
	r->time_ms = r->started_ms = 1764600000000;
	snprintf(r->health, sizeof(r->health), "ok");
	r->n_svc = CANARY_MAX_SERVICES;
	for (i = 0; i < r->n_svc; i++) {
		snprintf(r->svc[i].name, sizeof(r->svc[i].name), "service-%03u", i);
		r->svc[i].weight_bp = 1000;
	}
	s = fleet_report_encode(r);
	idle = s ? strlen(s) : 0;
	free(s);
	for (i = 0; i < r->n_svc; i++)
		for (arm = 0; arm < 2; arm++)
			for (size_t k = 0; k < sizeof(struct arm_stats) / 8; k++)
				((__u64 *)&r->svc[i].arm[arm])[k] = 1ull << 40;
	s = fleet_report_encode(r);
	full = s ? strlen(s) : 0;
	free(s);
	printf("# report of %u services: %zu bytes idle, %zu bytes with every counter at 2^40 "
	       "(%zu per service)\n",
	       r->n_svc, idle, full, full / r->n_svc);
	TL_REPORT(idle > 0 && full > idle, "both encode (%zu, %zu bytes)", idle, full);
	TL_REPORT(b64_len(full) + 512 < 1572864,
		  "the largest fits etcd's default request limit "
		  "after base64 (%zu of 1572864 bytes)",
		  b64_len(full) + 512);
	TL_REPORT(full < STORE_MAX_VALUE, "and the client's value limit (%zu of %u)", full,
		  STORE_MAX_VALUE);
	free(r);
}

static void test_b64(void)
{
	static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const out[] = {"",	      "Zg==",	  "Zm8=",    "Zm9v",
					  "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	char buf[32], *d;
	size_t n;

	for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
		b64_encode(in[i], strlen(in[i]), buf);
		TL_REPORT(!strcmp(buf, out[i]) && !b64_decode(buf, strlen(buf), &d, &n) &&
			      n == strlen(in[i]) && !memcmp(d, in[i], n),
			  "RFC 4648 vector '%s'", in[i]);
		free(d);
	}
	ASSERT_EQ(b64_decode("Zm9v!", 5, &d, &n), -EINVAL, "a character outside the alphabet");
	ASSERT_EQ(b64_decode("Z", 1, &d, &n), -EINVAL, "a lone sextet");
}

/* Last: auth turned on stays on. A user whose role covers the prefix works; without a
 * user, or with another prefix, etcd refuses. */
static void test_auth(void)
{
	char u[200], why[256], *val = NULL, out[256];
	struct store_cfg c;
	struct store *s2;

	ASSERT_EQ(etcdctl(out, sizeof(out), "user add root:rootpw"), 0, "etcdctl user add root");
	ASSERT_EQ(etcdctl(out, sizeof(out), "role add canary-node"), 0, "role add");
	ASSERT_EQ(etcdctl(out, sizeof(out),
			  "role grant-permission canary-node --prefix=true readwrite "
			  "/xdp-canary/"),
		  0, "the role may read and write the prefix only");
	ASSERT_EQ(etcdctl(out, sizeof(out), "user add node1:n1pw"), 0, "user add node1");
	ASSERT_EQ(etcdctl(out, sizeof(out), "user grant-role node1 canary-node"), 0, "grant-role");
	etcdctl(out, sizeof(out), "user grant-role root root");
	ASSERT_EQ(etcdctl(out, sizeof(out), "auth enable"), 0, out);
	store_url_parse(url, &c, why, sizeof(why));
	c.user = "node1";
	c.password = "n1pw";
	s2 = store_open(&c, why, sizeof(why));
	if (ASSERT_TRUE(s2 != NULL, "open as node1")) {
		ASSERT_EQ(store_get(s2, "t/k1", &val, NULL, NULL), 0,
			  "node1 reads under the prefix");
		free(val);
		ASSERT_EQ(store_put(s2, "t/auth", "1", 1, 0), 0, "and writes");
		store_close(s2);
	}
	ASSERT_TRUE(store_get(st, "t/k1", &val, NULL, NULL) < 0, "no user: refused");
	TL_REPORT(store_error(st)[0], "why: %s", store_error(st));
	snprintf(u, sizeof(u), "%s/other", url);
	store_url_parse(u, &c, why, sizeof(why));
	c.user = "node1";
	c.password = "n1pw";
	s2 = store_open(&c, why, sizeof(why));
	if (ASSERT_TRUE(s2 != NULL, "open as node1 with another prefix")) {
		ASSERT_EQ(store_get(s2, "t/k1", &val, NULL, NULL), -EACCES,
			  "outside its role: -EACCES");
		store_close(s2);
	}
	c.password = "wrong";
	s2 = store_open(&c, why, sizeof(why));
	TL_REPORT(!s2, "a wrong password fails the open: %s", why);
	store_close(s2);
	/* A node starts while the store is away: the open works, calls fail until it is back
	 * (then the first call authenticates). */
	snprintf(u, sizeof(u), "etcd://127.0.0.1:%d", free_port());
	store_url_parse(u, &c, why, sizeof(why));
	c.user = "node1";
	c.password = "n1pw";
	s2 = store_open(&c, why, sizeof(why));
	if (ASSERT_TRUE(s2 != NULL, "open with a user while the store is down")) {
		ASSERT_EQ(store_get(s2, "t/k1", &val, NULL, NULL), -ECONNREFUSED,
			  "then a get: -ECONNREFUSED");
		ASSERT_EQ(store_wait(s2, "t/", 1, 200, &(int64_t){0}), -ECONNREFUSED, "and a wait");
		store_close(s2);
	}
}

/* A CA, a server certificate for 127.0.0.1 and a client certificate, in datadir. */
static bool make_certs(void)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && exec >certs.log 2>&1 && "
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout "
		 "ca.key -out ca.pem && "
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other-ca -keyout "
		 "o.key -out other.pem && "
		 "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out "
		 "server.csr && "
		 "printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' "
		 ">server.ext && "
		 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days "
		 "1 -extfile server.ext -out server.pem && "
		 "openssl req -newkey rsa:2048 -nodes -subj /CN=node1 -keyout client.key -out "
		 "client.csr && "
		 "printf 'extendedKeyUsage=clientAuth\n' >client.ext && "
		 "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days "
		 "1 -extfile client.ext -out client.pem",
		 datadir);
	return system(cmd) == 0;
}

static pid_t start_tls_etcd(int cport, int pport)
{
	char c[64], p[64], cluster[96], dir[300], f[4][300];
	pid_t pid;

	snprintf(c, sizeof(c), "https://127.0.0.1:%d", cport);
	snprintf(p, sizeof(p), "http://127.0.0.1:%d", pport);
	snprintf(cluster, sizeof(cluster), "tls=%s", p);
	snprintf(dir, sizeof(dir), "%s/tls", datadir);
	snprintf(f[0], sizeof(f[0]), "%s/server.pem", datadir);
	snprintf(f[1], sizeof(f[1]), "%s/server.key", datadir);
	snprintf(f[2], sizeof(f[2]), "%s/ca.pem", datadir);
	snprintf(f[3], sizeof(f[3]), "%s/etcd-tls.log", datadir);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* etcd goes with the test, even on kill -9 */
		if (!freopen(f[3], "w", stdout) || !freopen(f[3], "a", stderr))
			_exit(127);
		execlp("etcd", "etcd", "--name", "tls", "--data-dir", dir, "--listen-client-urls",
		       c, "--advertise-client-urls", c, "--listen-peer-urls", p,
		       "--initial-advertise-peer-urls", p, "--initial-cluster", cluster,
		       "--cert-file", f[0], "--key-file", f[1], "--trusted-ca-file", f[2],
		       "--client-cert-auth", "--log-level", "error", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* TLS with a client certificate, as etcd's own clients do it (--cacert, --cert, --key). */
static void test_tls(void)
{
	int cport = free_port(), pport = free_port(), i, ret = -1;
	char u[64], why[256], ca[300], cert[300], key[300], other[300], *val = NULL;
	struct store_cfg c;
	struct store *s2;

	if (!ASSERT_TRUE(make_certs(), "openssl makes a CA, a server and a client certificate"))
		return;
	etcd_tls_pid = start_tls_etcd(cport, pport);
	snprintf(u, sizeof(u), "etcd://127.0.0.1:%d", cport);
	snprintf(ca, sizeof(ca), "%s/ca.pem", datadir);
	snprintf(cert, sizeof(cert), "%s/client.pem", datadir);
	snprintf(key, sizeof(key), "%s/client.key", datadir);
	snprintf(other, sizeof(other), "%s/other.pem", datadir);
	store_url_parse(u, &c, why, sizeof(why));
	c.cacert = ca;
	c.cert = cert;
	c.key = key;
	s2 = store_open(&c, why, sizeof(why));
	if (!ASSERT_TRUE(s2 != NULL, "open with TLS"))
		return;
	for (i = 0; i < 100 && (ret = store_put(s2, "tls/k", "secret", 6, 0)); i++)
		usleep(100000);
	TL_REPORT(ret == 0, "a put over TLS with the client certificate: %s", store_error(s2));
	ASSERT_EQ(store_get(s2, "tls/k", &val, NULL, NULL), 0, "and a get");
	ASSERT_TRUE(val && !strcmp(val, "secret"), "the value");
	free(val);
	store_close(s2);
	c.cert = c.key = NULL;
	s2 = store_open(&c, why, sizeof(why));
	ret = store_get(s2, "tls/k", &val, NULL, NULL);
	TL_REPORT(ret < 0 && ret != -ENOENT, "no client certificate: refused (%s)",
		  store_error(s2));
	store_close(s2);
	c.cacert = other;
	c.cert = cert;
	c.key = key;
	s2 = store_open(&c, why, sizeof(why));
	ret = store_get(s2, "tls/k", &val, NULL, NULL);
	TL_REPORT(ret < 0 && ret != -ENOENT, "a server the CA did not sign: refused (%s)",
		  store_error(s2));
	store_close(s2);
	snprintf(u, sizeof(u), "etcd://127.0.0.1:%d", cport);
	store_url_parse(u, &c, why, sizeof(why));
	s2 = store_open(&c, why, sizeof(why));
	ret = store_get(s2, "tls/k", &val, NULL, NULL);
	TL_REPORT(ret < 0 && ret != -ENOENT, "plain http to a TLS etcd: refused (%s)",
		  store_error(s2));
	store_close(s2);
}

static const struct test_case cases[] = {
    {"url", test_url},
    {"b64", test_b64},
    {"fleet-values", test_fleet_values},
    {"report-size", test_report_size},
    {"put-get", test_put_get},
    {"list-delete", test_list_delete},
    {"txn", test_txn},
    {"lease", test_lease},
    {"wait", test_wait},
    {"compact", test_compact},
    {"failover", test_failover},
    {"hostile", test_hostile, hostile_names},
    {"tls", test_tls},
    {"auth", test_auth},
};

static bool setup_all(void)
{
	return setup() && ASSERT_TRUE(hostile_start(), "the hostile server listens");
}

TEST_MAIN_SETUP(cases, setup_all, teardown)
