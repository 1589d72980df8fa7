/* node.c: the node role, canaryd --store URL --node NAME (docs/FLEET.md). A thread of
 * its own watches config/ and weights/ in the store; a changed services file goes to
 * the maps through config_apply, the code of canaryctl apply, with the salts from the
 * store, so every node gives a client the same arm and backend (the Maglev rings
 * follow from the same config); a changed weight is written as it stands in the store.
 * Every interval it writes nodes/NAME (applied revision, per-service per-arm counters,
 * time) in place, under a lease it keeps alive. When the store is down the maps keep
 * the last applied config and the thread retries; it never changes a weight on its own. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "canaryd.h"
#include "cli/cli.h"
#include "logic/config.h"
#include "maps/apply.h"
#include "store/etcd.h"
#include "store/fleet.h"

/* Keep this many revisions of history when compacting (docs/FLEET.md). */
#define NODE_COMPACT_KEEP 1000

static struct node_opts {
	const char *name;
	uint64_t keep;
	double report; /* seconds between reports; 0: canaryd's --interval */
} NO = {.keep = NODE_COMPACT_KEEP};

const struct cli_block node_cli_opts = {
    .opts =
	(const struct cli_opt[]){
	    {CLI_STR, "node", 0, CLI_FIELD(struct node_opts, name), .metavar = "NAME",
	     .help = "with --store: this node's name in the fleet ([a-z0-9._-], up to 63)"},
	    {CLI_UINT, "store-keep", 0, CLI_FIELD(struct node_opts, keep), .metavar = "REVISIONS",
	     .help = "revisions of history the store keeps when this node compacts it", .min = 10,
	     .max = 100000000},
	    {CLI_DOUBLE, "store-interval", 0, CLI_FIELD(struct node_opts, report),
	     .metavar = "SECONDS",
	     .help = "how often the node reports to the store; its lease "
		     "is 3 of these (at least 3 s)",
	     .def = "--interval", .dmin = 0.05, .dmax = 3600},
	    {},
	},
    .base = &NO,
    .defaults = &(const struct node_opts){.keep = NODE_COMPACT_KEEP},
};

/* The node thread's own state: written by it alone; the counters in st are read by
 * /metrics without a lock (plain words, a torn read is one scrape off). */
static struct {
	struct store *s;
	pthread_t th;
	bool running;
	int64_t lease, config_rev, rejected_rev, weights_rev, seen_rev, started_ms;
	int ttl;
	bool store_up;
	char health[64];
	struct fleet_report *rep;
	int64_t compacted_rev; /* the last compaction (or the last look, on a follower) */
	_Atomic uint64_t reports, report_bytes, applies, rejects, weight_writes;
	/* Copies of the store client's counters, for /metrics (the client is the thread's). */
	_Atomic uint64_t requests, bytes_out, bytes_in, keys_written, watch_events;
	_Atomic int64_t m_config_rev;
	_Atomic bool m_up;
	/* Per service, the revision of weights/SVC this node has applied (or found the maps
	 * already at): the store's weight is re-applied only when it changes. A weight set
	 * on this node since (canaryctl set-weight without --store, canaryd's own rollback)
	 * is lowered to the store's, never raised to it: no node raises a weight on its
	 * own. warned: the drift was logged. */
	struct {
		char name[CANARY_NAME_LEN];
		int64_t rev;
		bool warned;
	} seen[CANARY_MAX_SERVICES];
	unsigned int nseen;
} N;

struct weight_table {
	unsigned int n;
	struct {
		char name[CANARY_NAME_LEN];
		unsigned int bp;
		char by[64];
		int64_t mod_rev; /* of weights/NAME */
	} e[CANARY_MAX_SERVICES];
	int64_t rev;
};

const char *node_name(void)
{
	return N.running ? NO.name : NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (!stop && nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void set_health(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_health(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(N.health, sizeof(N.health), fmt, ap);
	va_end(ap);
}

/* ---- reading the store ---- */

struct config_read {
	char *services, *salts;
	size_t services_len, salts_len;
	int64_t services_rev;
};

static int config_cb(const struct store_kv *kv, void *arg)
{
	struct config_read *c = arg;
	char **dst = !strcmp(kv->key, FLEET_KEY_SERVICES) ? &c->services
		     : !strcmp(kv->key, FLEET_KEY_SALTS)  ? &c->salts
							  : NULL;

	if (!dst)
		return 0;
	free(*dst);
	*dst = malloc(kv->len + 1);
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, kv->val, kv->len + 1);
	if (dst == &c->services) {
		c->services_len = kv->len;
		c->services_rev = kv->mod_rev;
	} else {
		c->salts_len = kv->len;
	}
	return 0;
}

static int weight_cb(const struct store_kv *kv, void *arg)
{
	struct weight_table *t = arg;
	const char *svc = fleet_key_leaf(kv->key, FLEET_DIR_WEIGHTS);
	struct fleet_weight w;
	char why[256];

	if (!svc || !service_name_valid(svc) || t->n == CANARY_MAX_SERVICES)
		return 0;
	if (fleet_weight_decode(kv->val, kv->len, &w, why, sizeof(why))) {
		logline("store: weights/%s is not valid (%s); the weight stays as it is", svc, why);
		return 0;
	}
	snprintf(t->e[t->n].name, sizeof(t->e[0].name), "%s", svc);
	snprintf(t->e[t->n].by, sizeof(t->e[0].by), "%s", w.by);
	t->e[t->n].mod_rev = kv->mod_rev;
	t->e[t->n++].bp = w.bp;
	return 0;
}

static bool weight_of(const struct weight_table *t, const char *name, unsigned int *bp)
{
	unsigned int i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].name, name)) {
			*bp = t->e[i].bp;
			return true;
		}
	return false;
}

/* ---- applying ---- */

/* The store's salts and weights into the parsed services: the salt of every service
 * must be in the store (a node never draws its own: the fleet would disagree). */
static int config_fill(struct canary_config *conf, const struct config_read *c,
		       const struct weight_table *w, char *why, size_t len)
{
	struct salt_table *t = calloc(1, sizeof(*t));
	unsigned int i, bp;
	int err = t ? 0 : -ENOMEM;

	if (!err && !c->salts) {
		snprintf(why, len, "the store has no %s", FLEET_KEY_SALTS);
		err = -EINVAL;
	}
	if (!err)
		err = fleet_salts_decode(c->salts, c->salts_len, t, why, len);
	for (i = 0; !err && i < conf->nservices; i++) {
		struct service_spec *sp = &conf->services[i];

		if (!salts_get(t, sp->name, &sp->salt)) {
			snprintf(why, len, "no salt for %s in %s", sp->name, FLEET_KEY_SALTS);
			err = -EINVAL;
		}
		sp->salt_set = true;
		/* The weight in the store wins over the file's: a new config revision never
		 * moves a weight that the leader or canaryctl set. */
		if (weight_of(w, sp->name, &bp))
			sp->weight_bp = (uint16_t)bp;
	}
	free(t);
	return err;
}

/* The writers' lock, taken before the agent's lock (the poll only ever tries it, so
 * waiting for it here never holds up the poll). -EAGAIN when another process keeps it
 * (tried again soon). */
static int writers_lock(void)
{
	int lock = canary_lock(cli_pin_root, 2000);

	return lock < 0 ? -EAGAIN : lock;
}

/* config_apply on the agent's maps, under the writers' lock and the agent's lock. */
static int maps_apply(struct canary_config *conf, struct apply_summary *sum)
{
	struct apply_opts ao = {.prune = true};
	int lock = writers_lock(), err;
	unsigned int i, cap;

	if (lock < 0)
		return lock;
	pthread_mutex_lock(&A.lock);
	/* A service this node rolled back on its own (watch.c) stays at its cap. */
	for (i = 0; i < conf->nservices; i++)
		if (watch_weight_cap(conf->services[i].name, &cap) &&
		    conf->services[i].weight_bp > cap)
			conf->services[i].weight_bp = (uint16_t)cap;
	err = config_apply(&A.maps, conf, &ao, sum);
	refresh_services();
	pthread_mutex_unlock(&A.lock);
	canary_unlock(lock);
	return err;
}

static int apply_config(const struct config_read *c, const struct weight_table *w)
{
	struct canary_config conf = {0};
	struct apply_summary sum = {0};
	char why[256] = "";
	int err = config_parse_text(c->services, c->services_len, "store:" FLEET_KEY_SERVICES,
				    &conf, NULL);

	if (err)
		snprintf(why, sizeof(why), "it does not parse (see the log)");
	else if (!(err = config_fill(&conf, c, w, why, sizeof(why))))
		err = maps_apply(&conf, &sum);
	config_free(&conf);
	if (err == -EAGAIN)
		return err;
	if (err) {
		if (!why[0])
			snprintf(why, sizeof(why), "the maps refused it (see the log)");
		N.rejected_rev = c->services_rev;
		N.rejects++;
		set_health("config revision %" PRId64 " rejected", c->services_rev);
		logline("store: config revision %" PRId64
			" rejected: %s; the maps keep revision %" PRId64,
			c->services_rev, why, N.config_rev);
		return 0;
	}
	N.config_rev = c->services_rev;
	N.applies++;
	set_health("ok");
	logline("store: applied config revision %" PRId64 ": %u created, %u changed, %u unchanged, "
		"%u removed",
		N.config_rev, sum.created, sum.changed, sum.unchanged, sum.removed);
	return 0;
}

/* Whether the maps hold a weight other than the store's (under the agent's lock). */
/* The revision of weights/NAME this node last applied, or NULL (a slot for it when add). */
static int64_t *seen_rev(const char *name, bool add, bool **warned)
{
	unsigned int i;

	for (i = 0; i < N.nseen && strcmp(N.seen[i].name, name); i++)
		;
	if (i == N.nseen) {
		if (!add || N.nseen == CANARY_MAX_SERVICES)
			return NULL;
		snprintf(N.seen[i].name, sizeof(N.seen[i].name), "%s", name);
		N.seen[i].rev = 0;
		N.seen[i].warned = false;
		N.nseen++;
	}
	if (warned)
		*warned = &N.seen[i].warned;
	return &N.seen[i].rev;
}

/* Whether the store's weight bp goes into the maps, which hold map_bp: never above this
 * node's own rollback (watch.c) until the fleet has it; a new value in the store, or
 * one this node has not applied yet, goes in; the same value again only to lower a
 * weight set here since, never to raise it. A.lock held. */
static bool weight_wanted(const char *name, unsigned int bp, int64_t rev, unsigned int map_bp)
{
	int64_t *seen = seen_rev(name, false, NULL);
	unsigned int cap;

	if (bp == map_bp || (watch_weight_cap(name, &cap) && bp > cap))
		return false;
	return !seen || *seen != rev || bp < map_bp;
}

static void weight_note(const struct weight_table *w, unsigned int i, unsigned int map_bp,
			bool applied);

/* Whether any weight is to go into the maps; the ones the maps already hold are noted
 * as applied (a config apply takes the store's weights too). A.lock held. */
static bool weights_differ(const struct weight_table *w)
{
	bool differ = false;
	unsigned int i;

	for (i = 0; i < w->n; i++) {
		const struct service_state *ss = find_service(w->e[i].name);

		if (!ss)
			continue;
		if (ss->cfg.canary_weight == w->e[i].bp)
			weight_note(w, i, w->e[i].bp, true);
		else if (weight_wanted(w->e[i].name, w->e[i].bp, w->e[i].mod_rev,
				       ss->cfg.canary_weight))
			differ = true;
		else
			weight_note(w, i, ss->cfg.canary_weight, false);
	}
	return differ;
}

/* What a weight the store holds and the maps do not, left as it is, is noted: once,
 * in sync, or logged once when it was set on this node (below the store's). */
static void weight_note(const struct weight_table *w, unsigned int i, unsigned int map_bp,
			bool applied)
{
	bool *warned;
	int64_t *seen = seen_rev(w->e[i].name, true, &warned);
	char a[16], b[16];

	if (!seen)
		return;
	if (applied || map_bp == w->e[i].bp || *seen != w->e[i].mod_rev) {
		*seen = applied || map_bp == w->e[i].bp ? w->e[i].mod_rev : *seen;
		*warned = false;
		return;
	}
	if (!*warned)
		logline("store: %s canary weight is %s%% on this node, below the store's %s%%: "
			"set here since the store's was applied; left as it is until the store's "
			"weight changes (change it for the fleet with --store)",
			w->e[i].name, bp_str(map_bp, a, sizeof(a)), bp_str(w->e[i].bp, b, sizeof(b)));
	*warned = true;
}

/* Each weight in the store that the maps do not hold yet. */
static int apply_weights(const struct weight_table *w)
{
	unsigned int i;
	int lock;
	char a[16], b[16];
	bool differ;

	pthread_mutex_lock(&A.lock);
	differ = weights_differ(w);
	pthread_mutex_unlock(&A.lock);
	if (!differ)
		return 0;
	lock = writers_lock();
	if (lock < 0)
		return lock;
	pthread_mutex_lock(&A.lock);
	for (i = 0; i < w->n; i++) {
		const struct service_state *ss = find_service(w->e[i].name);
		uint16_t old;

		if (!ss)
			continue;
		if (!weight_wanted(w->e[i].name, w->e[i].bp, w->e[i].mod_rev,
				   ss->cfg.canary_weight) ||
		    service_set_weight(&A.maps, w->e[i].name, (uint16_t)w->e[i].bp, &old)) {
			weight_note(w, i, ss->cfg.canary_weight, false);
			continue;
		}
		weight_note(w, i, w->e[i].bp, true);
		A.weight_changes[ss->info.id][WREASON_EXTERNAL]++;
		N.weight_writes++;
		logline("store: %s canary weight %s%% -> %s%% (weights/%s, set by %s)",
			w->e[i].name, bp_str(old, a, sizeof(a)), bp_str(w->e[i].bp, b, sizeof(b)),
			w->e[i].name, w->e[i].by[0] ? w->e[i].by : "?");
	}
	refresh_services();
	pthread_mutex_unlock(&A.lock);
	canary_unlock(lock);
	return 0;
}

/* Read config/ and weights/, apply what changed. 0, -EAGAIN (try again soon) or the
 * store's error (it is down: the maps keep what they have). */
static int node_sync(void)
{
	struct config_read c = {0};
	struct weight_table *w = calloc(1, sizeof(*w));
	int64_t rev = 0;
	int err = w ? store_list(N.s, FLEET_DIR_CONFIG, config_cb, &c, &rev) : -ENOMEM;

	if (!err)
		err = store_list(N.s, FLEET_DIR_WEIGHTS, weight_cb, w, &w->rev);
	if (!err && c.services && c.services_rev != N.config_rev &&
	    c.services_rev != N.rejected_rev)
		err = apply_config(&c, w);
	if (!err)
		err = apply_weights(w);
	if (!err) {
		N.seen_rev = rev; /* the first read's: a change after it wakes the next wait */
		N.weights_rev = w->rev;
	}
	free(c.services);
	free(c.salts);
	free(w);
	return err;
}

/* ---- the report, its lease, compaction ---- */

static void report_fill(struct fleet_report *r)
{
	unsigned int i;

	memset(r, 0, sizeof(*r));
	snprintf(r->node, sizeof(r->node), "%s", NO.name);
	r->config_rev = N.config_rev;
	r->weights_rev = N.weights_rev;
	r->time_ms = wall_ms();
	r->started_ms = N.started_ms;
	snprintf(r->health, sizeof(r->health), "%s", N.health);
	pthread_mutex_lock(&A.lock);
	for (i = 0; i < A.nsvcs && r->n_svc < CANARY_MAX_SERVICES; i++) {
		struct fleet_report_svc *s = &r->svc[r->n_svc++];

		snprintf(s->name, sizeof(s->name), "%s", A.svcs[i].info.name);
		s->weight_bp = A.svcs[i].cfg.canary_weight;
		arm_stats_total(A.snap, A.svcs[i].info.id, CANARY_ARM_STABLE, &s->arm[0]);
		arm_stats_total(A.snap, A.svcs[i].info.id, CANARY_ARM_CANARY, &s->arm[1]);
	}
	pthread_mutex_unlock(&A.lock);
}

/* A live lease: kept alive, or a new one when it ended (the store was away too long). */
static int lease_keep(void)
{
	int ttl = 0, err;

	if (N.lease) {
		err = store_lease_keepalive(N.s, N.lease, &ttl);
		if (err != -ENOENT)
			return err;
		logline("store: the lease of nodes/%s ended; taking a new one", NO.name);
		N.lease = 0;
	}
	return store_lease_grant(N.s, N.ttl, &N.lease);
}

static int node_report(void)
{
	char key[FLEET_KEY_LEN], *enc;
	int err;

	report_fill(N.rep);
	enc = fleet_report_encode(N.rep);
	if (!enc)
		return -ENOMEM;
	fleet_key_node(key, sizeof(key), NO.name);
	err = lease_keep();
	if (!err)
		err = store_put(N.s, key, enc, strlen(enc), N.lease);
	if (err == -ENOENT) { /* the lease ended between the keepalive and the put */
		N.lease = 0;
		err = lease_keep();
		if (!err)
			err = store_put(N.s, key, enc, strlen(enc), N.lease);
	}
	if (!err) {
		N.reports++;
		N.report_bytes += strlen(enc);
	}
	free(enc);
	return err;
}

/* The leader compacts (docs/FLEET.md); while there is none, every node does: compacting
 * to a revision already compacted is a no-op. Due once the store has moved
 * --store-keep revisions past the last compaction, so the history it holds stays under
 * twice that whatever the fleet's size. */
static void maybe_compact(void)
{
	char *leader = NULL;
	int64_t keep = (int64_t)NO.keep, to = N.seen_rev - keep;
	int err;

	if (to <= 0 || to - N.compacted_rev < keep)
		return;
	err = store_get(N.s, FLEET_KEY_LEADER, &leader, NULL, NULL);
	if (!err && strcmp(leader, NO.name)) {
		free(leader);
		N.compacted_rev = to; /* the leader's job: look again after as many */
		return;
	}
	free(leader);
	if (store_compact(N.s, to))
		logline("store: compaction to revision %" PRId64 " failed: %s", to,
			store_error(N.s));
	else
		N.compacted_rev = to;
}

/* ---- the thread ---- */

static void store_state(int err)
{
	if (err && err != -EAGAIN && N.store_up) {
		logline("store: unreachable (%s); the maps keep config revision %" PRId64
			" and their weights; retrying",
			store_error(N.s), N.config_rev);
		N.store_up = false;
	} else if (!err && !N.store_up) {
		logline("store: reachable at %s", store_endpoint(N.s));
		N.store_up = true;
	}
}

static void publish_stats(void)
{
	struct store_stats st;

	store_get_stats(N.s, &st);
	atomic_store(&N.requests, st.requests);
	atomic_store(&N.bytes_out, st.bytes_out);
	atomic_store(&N.bytes_in, st.bytes_in);
	atomic_store(&N.keys_written, st.keys_written);
	atomic_store(&N.watch_events, st.watch_events);
	atomic_store(&N.m_config_rev, N.config_rev);
	atomic_store(&N.m_up, N.store_up);
}

void node_metrics(FILE *f)
{
	static const struct {
		const char *name, *help;
		_Atomic uint64_t *v;
	} c[] = {
	    {"store_requests_total", "requests to the store", &N.requests},
	    {"store_sent_bytes_total", "request bodies sent to the store", &N.bytes_out},
	    {"store_received_bytes_total", "answer bytes from the store", &N.bytes_in},
	    {"store_keys_written_total", "keys written to the store", &N.keys_written},
	    {"store_watch_events_total", "watch events received", &N.watch_events},
	    {"store_reports_total", "reports written (nodes/NAME)", &N.reports},
	    {"store_report_bytes_total", "bytes of those reports (JSON)", &N.report_bytes},
	    {"store_config_applies_total", "config revisions applied from the store", &N.applies},
	    {"store_config_rejects_total", "config revisions the maps refused", &N.rejects},
	    {"store_weight_writes_total", "weights written from the store", &N.weight_writes},
	};
	size_t i;

	if (!N.running)
		return;
	for (i = 0; i < ARRAY_SIZE(c); i++)
		fprintf(
		    f,
		    "# HELP xdp_canary_%s %s\n# TYPE xdp_canary_%s counter\nxdp_canary_%s %llu\n",
		    c[i].name, c[i].help, c[i].name, c[i].name,
		    (unsigned long long)atomic_load(c[i].v));
	fprintf(f,
		"# HELP xdp_canary_store_up whether the last call to the store worked\n"
		"# TYPE xdp_canary_store_up gauge\nxdp_canary_store_up %d\n"
		"# HELP xdp_canary_store_config_revision the config revision the maps hold\n"
		"# TYPE xdp_canary_store_config_revision gauge\n"
		"xdp_canary_store_config_revision %lld\n",
		atomic_load(&N.m_up) ? 1 : 0, (long long)atomic_load(&N.m_config_rev));
}

static double report_interval(void)
{
	return NO.report > 0 ? NO.report : A.interval;
}

static void *node_main(void *arg)
{
	const char *const watch[] = {FLEET_DIR_CONFIG, FLEET_DIR_WEIGHTS};
	uint64_t interval_ns = (uint64_t)(report_interval() * 1e9), next_report = 0;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	while (!stop) {
		int err = node_sync(), wait_ms;
		int64_t rev;

		if (now_ns() >= next_report) {
			int rerr = node_report();

			err = err ? err : rerr;
			next_report = now_ns() + interval_ns;
			if (!err)
				maybe_compact();
		}
		store_state(err);
		publish_stats();
		wait_ms = next_report > now_ns() ? (int)((next_report - now_ns()) / 1000000) : 0;
		if (err) { /* the store is away, or a writer held the lock: try again soon */
			sleep_ms(wait_ms < 200 ? wait_ms : 200);
			continue;
		}
		if (wait_ms > 1000) /* a stop is seen within a second */
			wait_ms = 1000;
		if (wait_ms > 0)
			store_wait_any(N.s, watch, 2, N.seen_rev, wait_ms, &rev);
	}
	if (N.lease) /* a clean stop leaves the fleet at once */
		store_lease_revoke(N.s, N.lease);
	return NULL;
}

int node_start(void)
{
	char why[512];
	struct store_cfg c;

	if (!NO.name && !cli_store.url)
		return 0;
	if (!NO.name || !cli_store.url) {
		fprintf(stderr, "canaryd: --store and --node go together; try 'canaryd --help'\n");
		return 2;
	}
	if (!fleet_node_valid(NO.name)) {
		fprintf(stderr,
			"canaryd: --node '%s' must be 1 to 63 of [a-z0-9._-], starting with a "
			"letter or digit; try 'canaryd --help'\n",
			NO.name);
		return 2;
	}
	if (cli_store_cfg(&c))
		return 2;
	N.s = store_open(&c, why, sizeof(why));
	N.rep = calloc(1, sizeof(*N.rep));
	if (!N.s || !N.rep) {
		log_error("cannot open the store: %s", N.s ? "out of memory" : why);
		return 1;
	}
	N.ttl = (int)ceil(3 * report_interval()) < 3 ? 3 : (int)ceil(3 * report_interval());
	N.started_ms = wall_ms();
	N.store_up = true;
	set_health("starting");
	if (pthread_create(&N.th, NULL, node_main, NULL)) {
		log_error("cannot start the node thread");
		return 1;
	}
	N.running = true;
	logline("node %s: store %s%s, reports every %gs under a %ds lease", NO.name,
		store_endpoint(N.s), store_prefix(N.s), report_interval(), N.ttl);
	return 0;
}

void node_stop(void)
{
	if (!N.running)
		return;
	pthread_join(N.th, NULL);
	N.running = false;
	store_close(N.s);
	free(N.rep);
}
