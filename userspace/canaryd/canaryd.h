/* canaryd.h: what the parts of canaryd share: the agent's state, which lock guards
 * which part of it, and the functions each file offers the others. Private to canaryd.
 *
 * Threads, and what each may touch:
 *
 *   main       sets everything up (main.c), then polls (poll_once) and sweeps every
 *              interval, and stops.
 *   puller     pulls.c: one round of Prometheus queries per interval.
 *   leader     leader.c, fleet mode only: one round of store calls per interval (the
 *              election, and the leader's work); it takes A.lock only between calls,
 *              never during one, so a slow store never delays the poll.
 *   doors      libmicrohttpd: a pool of threads per door (doors.c), one request each.
 *   node       node.c, with --store and --node: watches the store, applies a config
 *              (config_apply) and weights to A.maps with the writers' lock taken first
 *              and then A.lock, and reads A.svcs and A.snap under A.lock for its
 *              report; its own state is its own (the counters /metrics shows are atomic).
 *
 * A.lock, one mutex, guards the agent's state: the service list, the counter
 * snapshots, the rollouts and their saved state and history files, the invalid states,
 * the weight-change counts and the agent's own metrics. It is held
 *   - by the poll, for the whole poll (poll_once), and by the sweep to count its round;
 *   - by a request, only in route() (api.c): the door's checks, the JSON body and a
 *     plan's YAML are done before it is taken (serve() in doors.c), so a slow or hostile
 *     request never delays the poll, or a rollback;
 *   - by the puller, only to copy its jobs out and to hand each reading back; the
 *     queries run without it;
 *   - at the stop, to save every rollout.
 * Every function below that reads or writes that state expects the lock held, unless
 * it says otherwise.
 *
 * Not under the lock:
 *   - A.last_poll_ns: atomic; written by the main thread after each poll, read by
 *     /healthz, which takes no lock so that a stuck lock cannot hide a stuck poll.
 *   - A.maps: replaced only by the main thread (follow_pins, inside the poll, under the
 *     lock), so the main thread's sweep reads it without the lock; other threads read it
 *     under the lock.
 *   - A.state_dir, A.interval, A.sweep_interval, A.state_lock, the tokens and the TCP
 *     door (doors.c): set before the threads that read them start, read-only after.
 *     The socket door is set up just after the TCP door's threads start; they read
 *     only its daemon pointer and path, for a message.
 *   - stop: set by the signal handler, read by the main loop and the puller.
 *   - a struct request: owned by the door thread serving its connection.
 * logline() takes no lock: lines of two threads could interleave mid-line.
 *
 * Between processes: the writers' lock (an flock on the pin root, shared with
 * canaryctl) is only ever tried, never waited for, by the threads that hold A.lock: by a
 * weight write (poll.c, which writes a rollback without it when another process holds
 * it) and by the sweep (which skips its round); the node thread waits for it (2 s at
 * most) before it takes A.lock, never while holding it; ending an invalid saved state
 * (resolve_bad, api.c) writes its weight as a compare-and-swap without it. A.state_lock, an flock on the state
 * directory, is held for the agent's life: one agent per directory. */
#ifndef CANARYD_H
#define CANARYD_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>
#include <microhttpd.h>

#include "cli/params.h"
#include "http/apiauth.h"
#include "logic/plan.h"
#include "logic/rollout.h"
#include "maps/pins.h"
#include "maps/service.h"
#include "maps/stats.h"
#include "present/prom.h"

#define DEFAULT_STATE_DIR "/var/lib/xdp-canary"
#define MAX_BODY	  (1 << 20)
#define STATE_MAX_BYTES	  (4 << 20) /* a saved rollout: its plan plus counters */
#define ACTOR_AGENT	  "canaryd"

/* A rollout whose saved state failed validation: its canary may carry traffic, so it
 * is shown (phase Error) until the operator aborts or promotes. */
struct bad_state {
	char service[CANARY_NAME_LEN];
	char file[NAME_MAX + 1];
	char reason[300];
};

struct agent {
	pthread_mutex_t lock; /* guards the rest, but for what the header comment names */
	struct canary_maps maps;
	char state_dir[1024];
	double interval, sweep_interval;
	struct service_state *svcs;
	unsigned int nsvcs;
	struct arm_stats_batch batch;  /* the poll's buffer for reading arm_stats whole */
	struct arm_stats *snap, *prev; /* [CANARY_ARM_STATS_SLOTS] summed over CPUs */
	bool have_prev;
	double dt; /* seconds between the last two polls */
	struct reason_stats reasons;
	/* client_hll: the interval (clock >> CANARY_HLL_SHIFT) at the last take; this poll
	 * saw a new one (clients_done: the parity of the interval just done, read by the
	 * ticks). */
	uint64_t clients_interval;
	bool clients_ready;
	unsigned int clients_done;
	struct rollout *rollouts[CANARY_MAX_SERVICES]; /* by slot, any order */
	uint64_t weight_changes[CANARY_MAX_SERVICES][WREASON_COUNT]; /* by service id */
	struct prom_agent stats;
	struct bad_state bad[CANARY_MAX_SERVICES];
	unsigned int nbad;
	int state_lock;		       /* flock of state_dir: one agent per directory */
	_Atomic uint64_t last_poll_ns; /* end of the last completed poll, for /healthz */
};

extern struct agent A;		   /* main.c */
extern volatile sig_atomic_t stop; /* main.c: SIGINT or SIGTERM came */
/* main.c: wait until *last + the poll interval on the monotonic clock (from the end of
 * the last wait); *dt the seconds since *last, which becomes now. False at a stop. */
bool interval_wait(uint64_t *last, double *dt);

/* ---- log.c: the log, one line per decision on stderr ---- */

/* ms since the epoch as "2026-12-01T10:00:00Z". */
void stamp(char *buf, size_t len, int64_t ms);
int64_t wall_ms(void);
void logline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- state.c: the state directory, the saved rollouts, the history ---- */

/* Take the state directory for this agent's life. 0, or 1 after saying why. Before
 * the threads. */
int state_dir_take(void);
void persist(const struct rollout *r);
/* The history file of a service. */
void history_path(const char *svc, char *buf, size_t len);
void history_line(const char *svc, const struct rollout_decision *d, const char *reason,
		  unsigned int step, unsigned int steps, const char *phase, const char *detail,
		  const char *evidence, const char *actor, int64_t now_ms);
void history(const struct rollout *r, const struct rollout_decision *d, const char *actor,
	     int64_t now_ms);
void load_states(void);
struct bad_state *find_bad(const char *svc);
struct rollout *find_rollout(const char *svc);
/* Put r in the table of rollouts: in old's slot (old is freed) or, with old NULL, in a
 * free one. 0, or -ENOSPC when none is free (r is not put: the caller frees it). */
int rollouts_put(struct rollout *old, struct rollout *r);

/* ---- poll.c: the poll, weight writes, the sweep ---- */

void refresh_services(void);
const struct service_state *find_service(const char *name);
/* Carry out a rollout's decision: write the weight, log, record, save. */
void apply(struct rollout *r, const struct rollout_decision *d, const char *actor, int64_t now_ms);
/* Record a change made by hand since the rollout last looked. */
void sync_manual(struct rollout *r, int64_t now_ms);
/* One poll: takes the lock itself. */
void poll_once(double dt);
/* What a rollout's tick sees of service s now, from the poll's snapshot (A.lock held):
 * the counters summed over CPUs, the weight, generation, hash mode and flags of cfg. */
void rollout_input_of(const struct service_state *s, const struct svc_config *cfg, double dt,
		      int64_t now_ms, struct rollout_input *in);
/* One sweep of the flow table: takes the lock itself, only to count. */
void sweep_once(void);

/* ---- pulls.c: the Prometheus puller thread ---- */

/* Start the puller, with SIGINT and SIGTERM blocked in it. 0, or -1. */
int puller_start(pthread_t *thread);

/* ---- doors.c: the Unix socket and the TCP listener, who may use them, replies ---- */

struct listen_opts {
	const char *listen, *socket, *socket_group, *token_file, *tls_cert, *tls_key;
	const char *allow_hosts[API_MAX_HOSTS];
	unsigned int nallow;
};

/* A request as the door collects it: the body, then (outside the agent's lock) its
 * JSON and, for a start, the parsed plan. */
struct request {
	char *buf;
	size_t len;
	bool too_big;
	struct json_object *json;
	struct plan *plan;
	char *plan_errors;
	char actor[96];
};

/* Open the TCP listener and (unless o->socket is NULL) the Unix socket. 0, or 1 after
 * saying why. */
int doors_start(const struct listen_opts *o);
void doors_stop(const struct listen_opts *o);
/* Whether the TCP listener takes changes (--token-file gave tokens). */
bool tcp_takes_changes(void);
/* Replies, with the headers every answer carries; lock-free. */
enum MHD_Result reply(struct MHD_Connection *c, unsigned int code, const char *type,
		      const char *text);
enum MHD_Result reply_json(struct MHD_Connection *c, unsigned int code, struct json_object *j);
enum MHD_Result reply_error(struct MHD_Connection *c, unsigned int code, const char *msg);

/* ---- api.c: the routes and their handlers ---- */

enum MHD_Result route(struct MHD_Connection *c, const char *url, const char *method,
		      struct request *q);

/* ---- node.c: the node role (--store URL --node NAME), a thread of its own ---- */

extern const struct cli_block node_cli_opts;
/* Start the node thread when --store and --node are given: 0, 1 (after saying why) or
 * 2 (a usage error). Before the doors. */
int node_start(void);
void node_stop(void);
/* This node's name while the node role runs, else NULL (the node label of /metrics). */
const char *node_name(void);
/* The node's store traffic, for /metrics (docs/FLEET.md). */
void node_metrics(FILE *f);

/* ---- view.c: the JSON the API shows of rollouts ---- */

struct json_object *rollout_json(const struct rollout *r);
struct json_object *bad_json(const struct bad_state *b);
const char *rollout_decision_name(const struct rollout *r);
struct json_object *verdict_json(const struct rollout *r);
struct json_object *rollouts_json(void);

/* ---- dash.c: the web dashboard (GET /), GET /api/v1/services, OPTIONS ---- */

bool dash_asset(const char *url);
enum MHD_Result dash_reply(struct MHD_Connection *c, const char *url);
enum MHD_Result dash_options(struct MHD_Connection *c);
struct json_object *services_json(void); /* under A.lock */

/* ---- leader.c: fleet mode's election and the leader's work (docs/FLEET.md) ---- */

struct store_cfg;
/* Start the leader thread on its own store handle (every node runs one: it elects, and
 * it leads or follows). 0, or -1 after saying why. */
int leader_start(const struct store_cfg *cfg, const char *node, int ttl_s, pthread_t *t);
/* Join it and revoke its lease, so that another node takes over at once. */
void leader_stop(pthread_t t);
/* Lock-free: whether --store runs this agent, this node's name (NULL without), and
 * whether the store answered the last round. */
bool fleet_mode(void);
const char *fleet_node(void);
bool fleet_store_ok(void);
/* Whether this node leads, and who does (who may be NULL); A.lock held. */
bool fleet_leader(char *who, size_t len);
/* A rollout started on the leader becomes the fleet's: sums from zero, the weight and
 * revision the store holds. */
void fleet_adopt(struct rollout *r);

/* ---- watch.c: each node's own watch of its counters, in fleet mode ---- */

/* A rollout in the store as this round read it: watched while active. */
void watch_learn(const char *svc, const char *text, size_t len, unsigned int bp,
		 int64_t weights_rev);
/* After a round's watch_learn calls: watches no longer needed end. */
void watch_sweep(void);
/* Each poll (poll_once): the watches' ticks on this node's counters. */
void watch_poll(double dt, int64_t now_ms);
/* Whether this node's own rollback caps svc's weight (*bp: the cap). */
bool watch_weight_cap(const char *svc, unsigned int *bp);
/* The next rollback of this node not yet recorded: its service and value (malloc'd). */
char *watch_next_record(const char *node, char *svc, size_t svclen, size_t *len);
void watch_recorded(const char *svc, int64_t rev);
/* rollbacks/SVC/NODE as the leader reads it, every field checked. */
struct node_rollback {
	char node[64];
	char service[CANARY_NAME_LEN];
	int64_t rollout_started_ms, time_ms;
	char reason[512];
};
int watch_record_decode(const char *text, size_t len, struct node_rollback *out, char *why,
			size_t wlen);

#endif
