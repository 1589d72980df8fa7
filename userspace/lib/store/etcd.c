/* etcd.c: the etcd v3 JSON-gateway client (see etcd.h): requests, failover over the
 * endpoints, TLS and auth, and the checked reading of every answer. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "base/b64.h"
#include "base/jsonv.h"
#include "base/num.h"
#include "http/httpc.h"
#include "store/etcd.h"

struct store {
	struct store_cfg cfg;
	char *cacert, *cert, *key, *user, *password; /* owned copies of cfg's strings */
	CURL *c;
	int cur; /* the endpoint that answered last */
	char token[1024];
	char err[512];
	struct store_stats st;
};

/* gRPC status codes that etcd's gateway puts in "code". */
enum {
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_NOT_FOUND = 5,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNAVAILABLE = 14,
	GRPC_UNAUTHENTICATED = 16
};

static int fail(struct store *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct store *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *store_error(const struct store *s)
{
	return s->err;
}

const char *store_endpoint(const struct store *s)
{
	return s->cfg.endpoints[s->cur];
}

const char *store_prefix(const struct store *s)
{
	return s->cfg.prefix;
}

void store_get_stats(const struct store *s, struct store_stats *st)
{
	*st = s->st;
}

/* "host:port": a name or IPv4 literal, or [v6], and a port from 1 to 65535. */
static int endpoint_check(const char *ep, char *why, size_t len)
{
	const char *colon = ep[0] == '[' ? strstr(ep, "]:") : strrchr(ep, ':');
	char w[NUM_WHY_LEN];
	uint64_t port;
	size_t i, hl;

	if (ep[0] == '[' && colon)
		colon++;
	if (!colon || colon == ep) {
		snprintf(why, len, "the endpoint '%s' must be HOST:PORT", ep);
		return -EINVAL;
	}
	hl = (size_t)(colon - ep);
	for (i = 0; i < hl; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]",
			    ep[i])) {
			snprintf(why, len, "the endpoint '%s' has a bad host name", ep);
			return -EINVAL;
		}
	if (num_parse_uint(colon + 1, 1, 65535, &port, w, sizeof(w))) {
		snprintf(why, len, "the port of the endpoint '%s': '%s' %s", ep, colon + 1, w);
		return -EINVAL;
	}
	return 0;
}

/* "/name[/name...]" of [A-Za-z0-9._-] words, no trailing '/'. */
static int prefix_set(struct store_cfg *c, const char *p, char *why, size_t len)
{
	size_t i, n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		n--;
	if (n < 2 || n >= sizeof(c->prefix)) {
		snprintf(why, len, "the prefix '%s' must be /NAME, at most %zu characters", p,
			 sizeof(c->prefix) - 1);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		bool slash = p[i] == '/';

		if ((slash && (i + 1 == n || p[i + 1] == '/')) ||
		    (!slash && !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789._-",
				       p[i]))) {
			snprintf(why, len,
				 "the prefix '%s' may hold only letters, digits, '.', '_', '-' "
				 "and single '/' between words",
				 p);
			return -EINVAL;
		}
	}
	memcpy(c->prefix, p, n);
	c->prefix[n] = 0;
	return 0;
}

int store_url_parse(const char *url, struct store_cfg *c, char *why, size_t len)
{
	char buf[STORE_MAX_ENDPOINTS * 256 + 256], *save, *tok, *slash;
	const char *rest;

	memset(c, 0, sizeof(*c));
	snprintf(c->prefix, sizeof(c->prefix), "%s", STORE_DEFAULT_PREFIX);
	c->timeout_ms = STORE_DEFAULT_TIMEOUT_MS;
	if (strncmp(url, "etcd://", 7)) {
		snprintf(why, len, "'%s' must be etcd://HOST:PORT[,HOST:PORT...][/PREFIX]", url);
		return -EINVAL;
	}
	rest = url + 7;
	if (strlen(rest) >= sizeof(buf)) {
		snprintf(why, len, "the store URL is too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", rest);
	slash = strchr(buf, '/');
	if (slash) {
		if (prefix_set(c, slash, why, len))
			return -EINVAL;
		*slash = 0;
	}
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (c->n_endpoints == STORE_MAX_ENDPOINTS ||
		    strlen(tok) >= sizeof(c->endpoints[0])) {
			snprintf(why, len, "at most %d endpoints of up to 255 characters",
				 STORE_MAX_ENDPOINTS);
			return -EINVAL;
		}
		if (endpoint_check(tok, why, len))
			return -EINVAL;
		snprintf(c->endpoints[c->n_endpoints++], sizeof(c->endpoints[0]), "%s", tok);
	}
	if (!c->n_endpoints) {
		snprintf(why, len, "'%s' names no endpoint; etcd://HOST:PORT[,HOST:PORT...]", url);
		return -EINVAL;
	}
	return 0;
}

/* ---- the wire: JSON bodies, int64 strings, base64 keys ---- */

/* An int64 that etcd writes as a JSON string ("12") or a number; absent is 0 (proto3
 * leaves defaults out). */
static bool jv_i64(struct jv *v, struct json_object *o, const char *key, const char *field,
		   int64_t min, int64_t max, int64_t *out)
{
	struct json_object *x;
	char w[NUM_WHY_LEN];
	int64_t n;

	if (!json_object_is_type(o, json_type_object))
		return jv_fail(v, field, "is not an object");
	if (!json_object_object_get_ex(o, key, &x) || json_object_is_type(x, json_type_null)) {
		n = 0;
	} else if (json_object_is_type(x, json_type_string)) {
		if (num_parse_int(json_object_get_string(x), min, max, &n, w, sizeof(w)))
			return jv_fail(v, field, "'%.40s' %s", json_object_get_string(x), w);
	} else {
		*out = 0;
		return jv_int(v, o, key, field, min, max, true, out);
	}
	if (n < min || n > max)
		return jv_fail(v, field, "%" PRId64 " is out of range", n);
	*out = n;
	return true;
}

static void add_i64(struct json_object *o, const char *key, int64_t n)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRId64, n);
	json_object_object_add(o, key, json_object_new_string(b));
}

static void add_b64(struct json_object *o, const char *key, const char *data, size_t n)
{
	char *b = malloc(b64_len(n) + 1);

	if (!b)
		return; /* json-c's own allocations abort on failure too; the request lacks it */
	b64_encode(data, n, b);
	json_object_object_add(o, key, json_object_new_string(b));
	free(b);
}

/* The full key of rel: PREFIX/rel. */
static int full_key(struct store *s, const char *rel, char *out, size_t len)
{
	if (strlen(rel) > STORE_MAX_KEY ||
	    (size_t)snprintf(out, len, "%s/%s", s->cfg.prefix, rel) >= len)
		return fail(s, -ENAMETOOLONG, "the key '%.60s...' is too long", rel);
	return 0;
}

/* key and range_end for every key under full (etcd: the prefix with its last byte + 1). */
static void add_range(struct json_object *o, const char *full, bool prefix)
{
	size_t n = strlen(full);
	char end[STORE_MAX_KEY + 160];

	add_b64(o, "key", full, n);
	if (!prefix)
		return;
	memcpy(end, full, n);
	end[n - 1]++; /* full ends in '/' or a name character, never 0xff */
	add_b64(o, "range_end", end, n);
}

/* ---- requests ---- */

/* One POST of body to path at endpoint idx; the answer goes to wf(wd). */
static CURLcode transfer(struct store *s, int idx, const char *path, const char *body,
			 long timeout_ms, curl_write_callback wf, void *wd, long *code)
{
	bool tls = s->cacert || s->cert;
	char url[512], auth[1100];
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	CURLcode rc;

	snprintf(url, sizeof(url), "%s://%s%s", tls ? "https" : "http", s->cfg.endpoints[idx],
		 path);
	curl_easy_reset(s->c);
	curl_easy_setopt(s->c, CURLOPT_URL, url);
	curl_easy_setopt(s->c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(s->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(s->c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 2000 ? timeout_ms : 2000L);
	curl_easy_setopt(s->c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(s->c, CURLOPT_WRITEFUNCTION, wf);
	curl_easy_setopt(s->c, CURLOPT_WRITEDATA, wd);
	if (s->cacert)
		curl_easy_setopt(s->c, CURLOPT_CAINFO, s->cacert);
	if (s->cert)
		curl_easy_setopt(s->c, CURLOPT_SSLCERT, s->cert);
	if (s->key)
		curl_easy_setopt(s->c, CURLOPT_SSLKEY, s->key);
	if (s->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: %s", s->token);
		hdr = curl_slist_append(hdr, auth);
	}
	curl_easy_setopt(s->c, CURLOPT_HTTPHEADER, hdr);
	s->st.requests++;
	s->st.bytes_out += strlen(body);
	rc = curl_easy_perform(s->c);
	*code = 0;
	curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, code);
	curl_slist_free_all(hdr);
	return rc;
}

/* Whether a failed transfer means "this endpoint is not there": try the next one. */
static bool unreachable(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING ||
	       rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR;
}

/* An error answer {"error": ..., "code": N, "message": ...}: -errno and a sentence. */
static int answer_error(struct store *s, const char *path, long http, struct json_object *o)
{
	struct jv v = {0};
	const char *msg = NULL;
	int64_t code = 0;

	if (o && json_object_is_type(o, json_type_object)) {
		jv_i64(&v, o, "code", "code", 0, 1000, &code);
		if (!jv_str(&v, o, "message", "message", 400, true, &msg) || !msg)
			jv_str(&v, o, "error", "error", 400, true, &msg);
	}
	fail(s, 0, "etcd at %s refused %s: HTTP %ld%s%s", store_endpoint(s), path, http,
	     msg ? ": " : "", msg ? msg : "");
	switch (code) {
	case GRPC_NOT_FOUND:
		return -ENOENT;
	case GRPC_PERMISSION_DENIED:
	case GRPC_UNAUTHENTICATED:
		return -EACCES;
	case GRPC_INVALID_ARGUMENT:
	case GRPC_FAILED_PRECONDITION:
		return -EINVAL;
	case GRPC_OUT_OF_RANGE:
		return -ERANGE;
	case GRPC_UNAVAILABLE:
		return -EAGAIN;
	}
	return http == 404 ? -ENOENT : -EIO;
}

static int authenticate(struct store *s);

/* POST req to path, failing over along the endpoints; *out the answer object, which
 * the caller puts. An error answer is -errno (answer_error); an answer that is not a
 * JSON object is -EPROTO. Re-authenticates once when the token has expired. */
static int call(struct store *s, const char *path, struct json_object *req,
		struct json_object **out)
{
	const char *body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	int i, n = s->cfg.n_endpoints, ret = -ECONNREFUSED, reauth = 1;
	struct jv v = {0};

	*out = NULL;
	s->err[0] = 0;
	if (s->user && !s->token[0] && !strstr(path, "/auth/") && (ret = authenticate(s)))
		return ret;
	for (i = 0; i < n; i++) {
		int idx = (s->cur + i) % n;
		struct httpc_body b = {.max = STORE_MAX_REPLY};
		long http;
		CURLcode rc =
		    transfer(s, idx, path, body, s->cfg.timeout_ms, httpc_sink, &b, &http);

		s->st.bytes_in += b.len;
		if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
		    rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE) {
			free(b.buf);
			return fail(s, -EACCES,
				    "TLS with etcd at %s failed (%s); check --store-cacert, "
				    "--store-cert and --store-key",
				    s->cfg.endpoints[idx], curl_easy_strerror(rc));
		}
		if (rc != CURLE_OK) {
			free(b.buf);
			ret = fail(s, rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED,
				   "etcd is not reachable at %s (%s)%s", s->cfg.endpoints[idx],
				   curl_easy_strerror(rc),
				   (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR) &&
					   s->cacert && !s->cert
				       ? "; does it want a client certificate (--store-cert, "
					 "--store-key)?"
				       : "");
			if (unreachable(rc))
				continue;
			return ret;
		}
		s->cur = idx;
		*out = b.buf ? jv_parse(&v, b.buf, b.len) : NULL;
		free(b.buf);
		if (http == 200 && *out && json_object_is_type(*out, json_type_object))
			return 0;
		if (http == 200) {
			json_object_put(*out);
			*out = NULL;
			return fail(s, -EPROTO, "etcd at %s answered %s with no JSON object (%s)",
				    store_endpoint(s), path, v.failed ? v.err : "wrong type");
		}
		ret = answer_error(s, path, http, *out);
		json_object_put(*out);
		*out = NULL;
		if (ret == -EACCES && s->user && reauth-- && !strstr(path, "/auth/") &&
		    !authenticate(s)) {
			i--; /* the same endpoint again with a fresh token */
			continue;
		}
		if (ret != -EAGAIN) /* "no leader" and the like: the next member may have one */
			return ret;
	}
	return ret;
}

static int authenticate(struct store *s)
{
	struct json_object *req = json_object_new_object(), *resp = NULL;
	const char *tok = NULL;
	struct jv v = {0};
	int ret;

	s->token[0] = 0;
	json_object_object_add(req, "name", json_object_new_string(s->user));
	json_object_object_add(req, "password",
			       json_object_new_string(s->password ? s->password : ""));
	ret = call(s, "/v3/auth/authenticate", req, &resp);
	json_object_put(req);
	if (ret)
		return ret;
	if (!jv_str(&v, resp, "token", "token", sizeof(s->token) - 1, false, &tok) || !tok[0] ||
	    strpbrk(tok, "\r\n"))
		ret = fail(s, -EPROTO, "etcd at %s: authenticate: %s", store_endpoint(s),
			   v.failed ? v.err : "empty or bad token");
	else
		snprintf(s->token, sizeof(s->token), "%s", tok);
	json_object_put(resp);
	return ret;
}

static char *dup_or_null(const char *p)
{
	return p ? strdup(p) : NULL;
}

struct store *store_open(const struct store_cfg *c, char *why, size_t len)
{
	struct store *s = calloc(1, sizeof(*s));

	if (!s || c->n_endpoints < 1 || c->n_endpoints > STORE_MAX_ENDPOINTS || !c->prefix[0]) {
		snprintf(why, len, s ? "the store config names no endpoint" : "out of memory");
		free(s);
		return NULL;
	}
	s->cfg = *c;
	if (s->cfg.timeout_ms <= 0)
		s->cfg.timeout_ms = STORE_DEFAULT_TIMEOUT_MS;
	s->cacert = dup_or_null(c->cacert);
	s->cert = dup_or_null(c->cert);
	s->key = dup_or_null(c->key);
	s->user = dup_or_null(c->user);
	s->password = dup_or_null(c->password);
	s->c = curl_easy_init();
	if (!s->c) {
		snprintf(why, len, "cannot initialise libcurl");
		store_close(s);
		return NULL;
	}
	/* A wrong password fails here; a store that is down is tried again at the first
	 * call (a node starts, and forwards, while the store is away). */
	if (s->user) {
		int err = authenticate(s);

		if (err && err != -ECONNREFUSED && err != -ETIMEDOUT && err != -EAGAIN) {
			snprintf(why, len, "%s", s->err);
			store_close(s);
			return NULL;
		}
	}
	return s;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->c)
		curl_easy_cleanup(s->c);
	free(s->cacert);
	free(s->cert);
	free(s->key);
	free(s->user);
	free(s->password);
	free(s);
}

/* ---- reading answers ---- */

/* header.revision of an answer: every etcd answer has one, at least 1 (a watch's
 * cancellation leaves it out: min 0). */
static bool header_rev_min(struct jv *v, struct json_object *o, int64_t min, int64_t *rev)
{
	struct json_object *h = jv_object(v, o, "header", "header", false);

	return h && jv_i64(v, h, "revision", "header.revision", min, INT64_MAX, rev);
}

static bool header_rev(struct jv *v, struct json_object *o, int64_t *rev)
{
	return header_rev_min(v, o, 1, rev);
}

/* A base64 string member into a malloc'ed buffer; absent is "" (proto3 defaults). */
static bool jv_b64(struct jv *v, struct json_object *o, const char *key, const char *field,
		   size_t max, char **out, size_t *n)
{
	const char *str = NULL;

	if (!jv_str(v, o, key, field, b64_len(max), true, &str))
		return false;
	if (b64_decode(str ? str : "", str ? strlen(str) : 0, out, n))
		return jv_fail(v, field, "is not base64");
	if (memchr(*out, 0, *n) && !strcmp(key, "key")) {
		free(*out);
		return jv_fail(v, field, "holds a NUL byte");
	}
	return true;
}

struct kv_bufs {
	char *key, *val;
};

/* One mvccpb.KeyValue of the answer into kv (pointing into bufs, which the caller
 * frees). The key must lie under the prefix; kv->key is the rest. */
static bool kv_read(struct store *s, struct jv *v, struct json_object *o, struct store_kv *kv,
		    struct kv_bufs *bufs)
{
	size_t plen = strlen(s->cfg.prefix), klen;

	bufs->key = bufs->val = NULL;
	if (!jv_b64(v, o, "key", "kvs[].key", STORE_MAX_KEY + sizeof(s->cfg.prefix), &bufs->key,
		    &klen))
		return false;
	if (klen <= plen || memcmp(bufs->key, s->cfg.prefix, plen) || bufs->key[plen] != '/')
		return jv_fail(v, "kvs[].key", "'%.80s' is not under the prefix %s", bufs->key,
			       s->cfg.prefix);
	kv->key = bufs->key + plen + 1;
	if (!jv_b64(v, o, "value", "kvs[].value", STORE_MAX_REPLY, &bufs->val, &kv->len))
		return false;
	kv->val = bufs->val;
	return jv_i64(v, o, "mod_revision", "kvs[].mod_revision", 1, INT64_MAX, &kv->mod_rev) &&
	       jv_i64(v, o, "create_revision", "kvs[].create_revision", 1, INT64_MAX,
		      &kv->create_rev) &&
	       jv_i64(v, o, "lease", "kvs[].lease", 0, INT64_MAX, &kv->lease);
}

static int proto_fail(struct store *s, const char *what, const struct jv *v)
{
	return fail(s, -EPROTO, "etcd at %s answered %s with a malformed answer: %s",
		    store_endpoint(s), what, v->err);
}

/* A range over key (or every key under it); each KeyValue to cb. */
static int range(struct store *s, const char *key, bool prefix, store_kv_cb cb, void *arg,
		 int64_t *rev, int64_t *count)
{
	struct json_object *req = json_object_new_object(), *resp = NULL, *kvs;
	char full[STORE_MAX_KEY + 160];
	struct jv v = {0};
	size_t i, n;
	int64_t r = 0, cnt = 0;
	int ret = full_key(s, key, full, sizeof(full));

	if (ret)
		goto out;
	add_range(req, full, prefix);
	ret = call(s, "/v3/kv/range", req, &resp);
	if (ret)
		goto out;
	kvs = jv_array(&v, resp, "kvs", "kvs", 0, 10000000, true);
	if (!header_rev(&v, resp, &r) || !jv_i64(&v, resp, "count", "count", 0, INT64_MAX, &cnt) ||
	    v.failed) {
		ret = proto_fail(s, "a range", &v);
		goto out;
	}
	n = kvs ? json_object_array_length(kvs) : 0;
	for (i = 0; i < n && !ret; i++) {
		struct store_kv kv;
		struct kv_bufs b;

		if (!kv_read(s, &v, json_object_array_get_idx(kvs, i), &kv, &b))
			ret = proto_fail(s, "a range", &v);
		else
			ret = cb(&kv, arg);
		free(b.key);
		free(b.val);
	}
	if (rev)
		*rev = r;
	if (count)
		*count = cnt;
out:
	json_object_put(req);
	json_object_put(resp);
	return ret;
}

struct get_one {
	char *val;
	size_t len;
	int64_t mod_rev;
	bool found, two;
};

static int get_cb(const struct store_kv *kv, void *arg)
{
	struct get_one *g = arg;

	if (g->found) {
		g->two = true; /* a get of one key answered with two */
		return -EPROTO;
	}
	g->val = malloc(kv->len + 1);
	if (!g->val)
		return -ENOMEM;
	memcpy(g->val, kv->val, kv->len + 1);
	g->len = kv->len;
	g->mod_rev = kv->mod_rev;
	g->found = true;
	return 0;
}

int store_get(struct store *s, const char *key, char **val, size_t *len, int64_t *mod_rev)
{
	struct get_one g = {0};
	int ret = range(s, key, false, get_cb, &g, NULL, NULL);

	if (g.two)
		fail(s, -EPROTO, "etcd at %s answered a get with two keys", store_endpoint(s));
	if (ret) {
		free(g.val);
		return ret;
	}
	if (!g.found)
		return -ENOENT;
	*val = g.val;
	if (len)
		*len = g.len;
	if (mod_rev)
		*mod_rev = g.mod_rev;
	return 0;
}

int store_list(struct store *s, const char *key_prefix, store_kv_cb cb, void *arg, int64_t *rev)
{
	return range(s, key_prefix, true, cb, arg, rev, NULL);
}

static int count_cb(const struct store_kv *kv, void *arg)
{
	return 0;
}

int store_revision(struct store *s, int64_t *rev)
{
	/* A range of one key that is never written: only the header matters. */
	return range(s, ".revision", false, count_cb, NULL, rev, NULL);
}

/* ---- writes ---- */

/* The body of a put of key (relative) to val under lease. */
static int put_body(struct store *s, struct json_object *o, const char *key, const char *val,
		    size_t len, int64_t lease)
{
	char full[STORE_MAX_KEY + 160];
	int ret = full_key(s, key, full, sizeof(full));

	if (ret)
		return ret;
	if (len > STORE_MAX_VALUE)
		return fail(s, -EFBIG, "the value of %s is %zu bytes, more than %u", key, len,
			    STORE_MAX_VALUE);
	add_b64(o, "key", full, strlen(full));
	add_b64(o, "value", val ? val : "", val ? len : 0);
	if (lease)
		add_i64(o, "lease", lease);
	return 0;
}

/* A call whose answer is only checked to be well formed (a header). */
static int call_checked(struct store *s, const char *path, const char *what,
			struct json_object *req, int64_t *rev)
{
	struct json_object *resp = NULL;
	struct jv v = {0};
	int64_t r = 0;
	int ret = call(s, path, req, &resp);

	if (!ret && !header_rev(&v, resp, &r))
		ret = proto_fail(s, what, &v);
	if (!ret && rev)
		*rev = r;
	json_object_put(resp);
	return ret;
}

int store_put(struct store *s, const char *key, const char *val, size_t len, int64_t lease)
{
	struct json_object *req = json_object_new_object();
	int ret = put_body(s, req, key, val, len, lease);

	if (!ret)
		ret = call_checked(s, "/v3/kv/put", "a put", req, NULL);
	if (!ret)
		s->st.keys_written++;
	json_object_put(req);
	return ret;
}

int store_delete(struct store *s, const char *key, bool prefix, int64_t *deleted)
{
	struct json_object *req = json_object_new_object(), *resp = NULL;
	char full[STORE_MAX_KEY + 160];
	struct jv v = {0};
	int64_t r, n = 0;
	int ret = full_key(s, key, full, sizeof(full));

	if (!ret) {
		add_range(req, full, prefix);
		ret = call(s, "/v3/kv/deleterange", req, &resp);
	}
	if (!ret && (!header_rev(&v, resp, &r) ||
		     !jv_i64(&v, resp, "deleted", "deleted", 0, INT64_MAX, &n)))
		ret = proto_fail(s, "a delete", &v);
	if (!ret && deleted)
		*deleted = n;
	json_object_put(req);
	json_object_put(resp);
	return ret;
}

/* etcd's default --max-txn-ops. */
#define STORE_MAX_TXN_OPS 128

static int txn_body(struct store *s, struct json_object *req, const struct store_cmp *c, int nc,
		    const struct store_op *o, int no)
{
	struct json_object *cmp = json_object_new_array(), *succ = json_object_new_array();
	char full[STORE_MAX_KEY + 160];
	int i, ret = 0;

	json_object_object_add(req, "compare", cmp);
	json_object_object_add(req, "success", succ);
	for (i = 0; i < nc && !ret; i++) {
		struct json_object *x = json_object_new_object();

		json_object_array_add(cmp, x);
		ret = full_key(s, c[i].key, full, sizeof(full));
		add_b64(x, "key", full, strlen(full));
		json_object_object_add(x, "result", json_object_new_string("EQUAL"));
		json_object_object_add(
		    x, "target", json_object_new_string(c[i].op == CMP_ABSENT ? "CREATE" : "MOD"));
		add_i64(x, c[i].op == CMP_ABSENT ? "create_revision" : "mod_revision",
			c[i].op == CMP_ABSENT ? 0 : c[i].rev);
	}
	for (i = 0; i < no && !ret; i++) {
		struct json_object *x = json_object_new_object(), *r = json_object_new_object();

		json_object_array_add(succ, x);
		json_object_object_add(x, o[i].del ? "request_delete_range" : "request_put", r);
		if (o[i].del) {
			ret = full_key(s, o[i].key, full, sizeof(full));
			add_b64(r, "key", full, strlen(full));
		} else {
			ret = put_body(s, r, o[i].key, o[i].val, o[i].len, o[i].lease);
		}
	}
	return ret;
}

int store_txn(struct store *s, const struct store_cmp *c, int nc, const struct store_op *o, int no,
	      bool *succeeded, int64_t *rev)
{
	struct json_object *req, *resp = NULL;
	struct jv v = {0};
	bool ok = false;
	int64_t r = 0;
	int ret;

	if (nc < 0 || no < 0 || nc > STORE_MAX_TXN_OPS || no > STORE_MAX_TXN_OPS)
		return fail(s, -E2BIG, "a transaction holds at most %d compares and %d writes",
			    STORE_MAX_TXN_OPS, STORE_MAX_TXN_OPS);
	req = json_object_new_object();
	ret = txn_body(s, req, c, nc, o, no);
	if (!ret)
		ret = call(s, "/v3/kv/txn", req, &resp);
	if (!ret &&
	    (!header_rev(&v, resp, &r) || !jv_bool(&v, resp, "succeeded", "succeeded", true, &ok)))
		ret = proto_fail(s, "a transaction", &v);
	if (!ret) {
		*succeeded = ok;
		if (rev)
			*rev = r;
		if (ok)
			s->st.keys_written += (uint64_t)no;
	}
	json_object_put(req);
	json_object_put(resp);
	return ret;
}

/* ---- leases ---- */

int store_lease_grant(struct store *s, int ttl_s, int64_t *lease)
{
	struct json_object *req = json_object_new_object(), *resp = NULL;
	struct jv v = {0};
	int64_t r, id = 0, ttl = 0;
	const char *e = NULL;
	int ret;

	add_i64(req, "TTL", ttl_s);
	add_i64(req, "ID", 0);
	ret = call(s, "/v3/lease/grant", req, &resp);
	if (!ret &&
	    (!header_rev(&v, resp, &r) || !jv_i64(&v, resp, "ID", "ID", 1, INT64_MAX, &id) ||
	     !jv_i64(&v, resp, "TTL", "TTL", 1, INT32_MAX, &ttl) ||
	     !jv_str(&v, resp, "error", "error", 400, true, &e)))
		ret = proto_fail(s, "a lease grant", &v);
	if (!ret && e && e[0])
		ret = fail(s, -EIO, "etcd at %s refused a lease: %s", store_endpoint(s), e);
	if (!ret)
		*lease = id;
	json_object_put(req);
	json_object_put(resp);
	return ret;
}

/* The keepalive endpoint is a stream: one answer {"result": {...}} per request sent;
 * an expired lease comes back with TTL 0. */
int store_lease_keepalive(struct store *s, int64_t lease, int *ttl_left)
{
	struct json_object *req = json_object_new_object(), *resp = NULL, *res;
	struct jv v = {0};
	int64_t r, id = 0, ttl = 0;
	int ret;

	add_i64(req, "ID", lease);
	ret = call(s, "/v3/lease/keepalive", req, &resp);
	if (!ret && json_object_object_get_ex(resp, "error", NULL))
		ret = fail(s, -EIO, "etcd at %s refused a keepalive: %.200s", store_endpoint(s),
			   json_object_to_json_string(resp));
	res = ret ? NULL : jv_object(&v, resp, "result", "result", false);
	if (!ret && (!res || !header_rev(&v, res, &r) ||
		     !jv_i64(&v, res, "ID", "result.ID", 0, INT64_MAX, &id) ||
		     !jv_i64(&v, res, "TTL", "result.TTL", 0, INT32_MAX, &ttl)))
		ret = proto_fail(s, "a keepalive", &v);
	if (!ret && id != lease && ttl)
		ret = fail(s, -EPROTO, "etcd at %s kept alive lease %" PRId64 ", not %" PRId64,
			   store_endpoint(s), id, lease);
	if (!ret && !ttl)
		ret = fail(s, -ENOENT, "the lease %" PRIx64 " has expired", lease);
	if (!ret && ttl_left)
		*ttl_left = (int)ttl;
	json_object_put(req);
	json_object_put(resp);
	return ret;
}

int store_lease_revoke(struct store *s, int64_t lease)
{
	struct json_object *req = json_object_new_object();
	int ret;

	add_i64(req, "ID", lease);
	ret = call_checked(s, "/v3/lease/revoke", "a lease revoke", req, NULL);
	json_object_put(req);
	return ret;
}

int store_compact(struct store *s, int64_t rev)
{
	struct json_object *req = json_object_new_object();
	int ret;

	add_i64(req, "revision", rev);
	ret = call_checked(s, "/v3/kv/compaction", "a compaction", req, NULL);
	json_object_put(req);
	if (ret == -ERANGE && strstr(s->err, "has been compacted"))
		ret = 0; /* someone compacted as far already */
	return ret;
}

/* ---- watch ---- */

struct watch {
	struct store *s;
	char *buf; /* an unfinished line */
	size_t len;
	bool done, compacted;
	int err; /* a malformed message: -EPROTO with s->err */
	int64_t rev;
};

/* One message of the watch stream: {"result": WatchResponse} or {"error": ...}. */
static int watch_message(struct watch *w, const char *line, size_t len)
{
	struct jv v = {0};
	struct json_object *o = jv_parse(&v, line, len), *res, *ev;
	int64_t r = 0, compact = 0;
	bool canceled = false;
	int ret = 0;

	res = o ? jv_object(&v, o, "result", "result", false) : NULL;
	if (o && json_object_object_get_ex(o, "error", NULL))
		ret = fail(w->s, -EIO, "etcd at %s ended the watch: %.200s", store_endpoint(w->s),
			   json_object_to_json_string(o));
	else if (!res || !header_rev_min(&v, res, 0, &r) ||
		 !jv_i64(&v, res, "compact_revision", "compact_revision", 0, INT64_MAX, &compact) ||
		 !jv_bool(&v, res, "canceled", "canceled", true, &canceled) ||
		 ((ev = jv_array(&v, res, "events", "events", 0, 10000000, true)), v.failed))
		ret = proto_fail(w->s, "a watch", &v);
	else if (compact > 0) {
		w->done = w->compacted = true;
		w->rev = compact;
	} else if (canceled) {
		ret = fail(w->s, -EIO, "etcd at %s cancelled the watch", store_endpoint(w->s));
	} else if (ev && json_object_array_length(ev)) {
		w->s->st.watch_events += json_object_array_length(ev);
		w->done = true;
		w->rev = r;
	}
	json_object_put(o);
	return ret;
}

/* curl's write callback: split the stream into lines; stop (0) once something changed. */
static size_t watch_sink(char *data, size_t size, size_t n, void *arg)
{
	struct watch *w = arg;
	size_t add = size * n, start = 0, i;
	long http = 0;
	char *nb;

	w->s->st.bytes_in += add;
	if (w->len + add > STORE_MAX_REPLY || !(nb = realloc(w->buf, w->len + add + 1)))
		return 0;
	w->buf = nb;
	memcpy(w->buf + w->len, data, add);
	w->len += add;
	curl_easy_getinfo(w->s->c, CURLINFO_RESPONSE_CODE, &http);
	if (http != 200)
		return add; /* an error answer, read whole after the transfer */
	for (i = 0; i < w->len && !w->done && !w->err; i++) {
		if (w->buf[i] != '\n')
			continue;
		if (i > start)
			w->err = watch_message(w, w->buf + start, i - start);
		start = i + 1;
	}
	memmove(w->buf, w->buf + start, w->len - start);
	w->len -= start;
	return w->done || w->err ? 0 : add;
}

/* What a watch transfer that ended gave: 0 (something changed), -ETIMEDOUT, -errno. */
static int watch_result(struct store *s, struct watch *w, CURLcode rc, long http, int idx)
{
	if (w->err)
		return w->err;
	if (!w->done && rc == CURLE_OK && http == 200 && w->len)
		w->err = watch_message(w, w->buf, w->len); /* a last line with no newline */
	if (w->err || w->done)
		return w->err;
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return fail(s, -ETIMEDOUT, "no change in the store within the wait");
	if (rc != CURLE_OK)
		return fail(s, -ECONNREFUSED, "etcd is not reachable at %s (%s)",
			    s->cfg.endpoints[idx], curl_easy_strerror(rc));
	if (http != 200) {
		struct jv v = {0};
		struct json_object *o = w->buf ? jv_parse(&v, w->buf, w->len) : NULL;
		int ret = answer_error(s, "/v3/watch", http, o);

		json_object_put(o);
		return ret;
	}
	return fail(s, -EIO, "etcd at %s ended the watch with no change", s->cfg.endpoints[idx]);
}

/* The watch request: one create_request per prefix, as one stream's body (the gateway
 * reads the body as a sequence of messages). NULL with s->err when a key is too long. */
static char *watch_body(struct store *s, const char *const *prefixes, int n, int64_t after)
{
	struct json_object *reqs[STORE_MAX_WAIT_PREFIXES];
	char full[STORE_MAX_KEY + 160], *body = NULL;
	size_t len = 0;
	int i, ret = 0;
	FILE *f = open_memstream(&body, &len);

	for (i = 0; i < n && f; i++) {
		struct json_object *cr = json_object_new_object();

		reqs[i] = json_object_new_object();
		json_object_object_add(reqs[i], "create_request", cr);
		if (!ret)
			ret = full_key(s, prefixes[i], full, sizeof(full));
		if (!ret)
			add_range(cr, full, true);
		add_i64(cr, "start_revision", after + 1);
		fprintf(f, "%s\n", json_object_to_json_string_ext(reqs[i], JSON_C_TO_STRING_PLAIN));
		json_object_put(reqs[i]);
	}
	if (f)
		fclose(f);
	if (ret || !f) {
		free(body);
		return NULL;
	}
	return body;
}

int store_wait_any(struct store *s, const char *const *prefixes, int np, int64_t after,
		   int timeout_ms, int64_t *rev)
{
	int i, n = s->cfg.n_endpoints, ret = 0;
	char *body;

	if (np < 1 || np > STORE_MAX_WAIT_PREFIXES)
		return fail(s, -EINVAL, "a wait watches 1 to %d prefixes", STORE_MAX_WAIT_PREFIXES);
	s->err[0] = 0;
	if (s->user && !s->token[0] && (ret = authenticate(s)))
		return ret;
	body = watch_body(s, prefixes, np, after);
	if (!body)
		return s->err[0] ? -ENAMETOOLONG : fail(s, -ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		int idx = (s->cur + i) % n;
		struct watch w = {.s = s};
		long http;
		CURLcode rc = transfer(s, idx, "/v3/watch", body, timeout_ms > 0 ? timeout_ms : 1,
				       watch_sink, &w, &http);

		ret = watch_result(s, &w, rc, http, idx);
		free(w.buf);
		if (ret == -ECONNREFUSED && unreachable(rc))
			continue;
		if (!ret) {
			s->cur = idx;
			*rev = w.rev;
		}
		break;
	}
	free(body);
	return ret;
}

int store_wait(struct store *s, const char *key_prefix, int64_t after, int timeout_ms, int64_t *rev)
{
	return store_wait_any(s, &key_prefix, 1, after, timeout_ms, rev);
}
