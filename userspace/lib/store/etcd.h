/* etcd.h: a client of etcd's v3 API through its JSON gateway (etcd 3.4: /v3/kv/...,
 * /v3/lease/..., /v3/watch), with libcurl and json-c. Keys and values are base64 on the
 * wire; revisions and lease ids are int64 written as JSON strings. Every field of an
 * answer is checked for type and range before use: a malformed answer is an error
 * (-EPROTO), never a crash. Keys are given relative to the configured prefix. */
#ifndef CANARY_ETCD_H
#define CANARY_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_MAX_ENDPOINTS	 8
#define STORE_DEFAULT_PREFIX	 "/xdp-canary"
#define STORE_DEFAULT_TIMEOUT_MS 5000L
/* The largest answer read (a range over every node's report at 100+ nodes fits). */
#define STORE_MAX_REPLY (64u << 20)
/* The largest key (relative) and value written or accepted. */
#define STORE_MAX_KEY	512
#define STORE_MAX_VALUE (1u << 20)

struct store_cfg { /* from --store etcd://H:P[,H:P...][/PREFIX] and the TLS options */
	char endpoints[STORE_MAX_ENDPOINTS][256]; /* "host:port", tried in order */
	int n_endpoints;
	char prefix[128];		 /* "/xdp-canary": no trailing '/' */
	const char *cacert, *cert, *key; /* any set: https, else plain http */
	const char *user, *password;	 /* optional etcd auth */
	long timeout_ms;		 /* per request; 0: the default */
};

/* Parse a --store URL into c (which it clears first; TLS and auth stay NULL). */
int store_url_parse(const char *url, struct store_cfg *c, char *why, size_t len);

struct store;
/* Connects lazily: opening checks the config, authenticates when a user is given
 * (that needs the store up). NULL with why on error. */
struct store *store_open(const struct store_cfg *c, char *why, size_t len);
void store_close(struct store *s);
/* The reason of the last failed call (a sentence naming the endpoint), "" if none. */
const char *store_error(const struct store *s);
/* The endpoint ("host:port") the last call used. */
const char *store_endpoint(const struct store *s);
const char *store_prefix(const struct store *s);

struct store_kv {
	const char *key; /* relative to the prefix, NUL-terminated */
	const char *val; /* NUL-terminated; len excludes the NUL */
	size_t len;
	int64_t mod_rev, create_rev, lease;
};

/* -ENOENT when absent; *val malloc'd and NUL-terminated (len excludes the NUL). */
int store_get(struct store *s, const char *key, char **val, size_t *len, int64_t *mod_rev);
/* Every key under key_prefix, in key order; a callback that returns nonzero stops the
 * walk and that value is returned. *rev (may be NULL) gets the store's revision. */
typedef int (*store_kv_cb)(const struct store_kv *kv, void *arg);
int store_list(struct store *s, const char *key_prefix, store_kv_cb cb, void *arg, int64_t *rev);
int store_put(struct store *s, const char *key, const char *val, size_t len, int64_t lease);
/* Delete key, or with prefix true every key under it; *deleted (may be NULL) counts. */
int store_delete(struct store *s, const char *key, bool prefix, int64_t *deleted);

struct store_cmp {
	const char *key;
	enum { CMP_MOD_REV_EQ, CMP_ABSENT } op;
	int64_t rev; /* CMP_MOD_REV_EQ: the mod revision read (0: absent) */
};
struct store_op {
	const char *key;
	const char *val;
	size_t len;
	int64_t lease;
	bool del;
};
/* All compares true: every op applied, *succeeded true; else nothing is written and
 * *succeeded false (still a return of 0). *rev (may be NULL): the revision after. */
int store_txn(struct store *s, const struct store_cmp *c, int nc, const struct store_op *o, int no,
	      bool *succeeded, int64_t *rev);

int store_lease_grant(struct store *s, int ttl_s, int64_t *lease);
/* -ENOENT: the lease expired (or was revoked). */
int store_lease_keepalive(struct store *s, int64_t lease, int *ttl_left);
int store_lease_revoke(struct store *s, int64_t lease);

/* Waits until something under key_prefix changes after revision `after` (a watch from
 * after+1, so a change made before the call is not missed), or timeout_ms passes.
 * 0 with *rev the revision of the change; -ETIMEDOUT when nothing changed. When the
 * revisions after `after` were compacted away, 0 with *rev the compaction revision: the
 * caller re-reads. */
int store_wait(struct store *s, const char *key_prefix, int64_t after, int timeout_ms,
	       int64_t *rev);
/* The same over several prefixes at once (one watch stream): the first change under
 * any of them. */
#define STORE_MAX_WAIT_PREFIXES 8
int store_wait_any(struct store *s, const char *const *prefixes, int n, int64_t after,
		   int timeout_ms, int64_t *rev);
/* Compact the history up to rev. Compacting a revision already compacted is 0. */
int store_compact(struct store *s, int64_t rev);
/* The store's current revision. */
int store_revision(struct store *s, int64_t *rev);

/* Traffic since open (for docs/FLEET.md's figures): requests, bytes sent (bodies),
 * keys written, watch events seen. */
struct store_stats {
	uint64_t requests, bytes_out, bytes_in, keys_written, watch_events;
};
void store_get_stats(const struct store *s, struct store_stats *st);

#endif
