/* rollout.h: the rollout state machine that canaryd runs for each service. It is pure
 * logic: each tick takes the current counters and the weight in the maps and returns a
 * decision (set a weight, record a manual change) with a log line; canaryd applies it,
 * persists the state and writes the history. Unit-tested with simulated counters. */
#ifndef CANARY_ROLLOUT_H
#define CANARY_ROLLOUT_H

#include <stdbool.h>
#include <stdint.h>
#include "xdp_canary.h"
#include "logic/analysis.h"
#include "logic/fleetsum.h"
#include "logic/hll.h"
#include "logic/plan.h"

/* Phases, in the spirit of Flagger and Argo Rollouts. */
enum rollout_phase {
	PHASE_IDLE = 0,
	PHASE_PROGRESSING,
	PHASE_PAUSED,
	PHASE_WAITING_GATE,
	PHASE_PROMOTING, /* at 100%, holding before success */
	PHASE_SUCCEEDED,
	PHASE_ROLLED_BACK,
	PHASE_ABORTED,
	PHASE_COUNT,
};
extern const char *const rollout_phase_names[PHASE_COUNT];

/* Why a rollout is paused. */
enum pause_reason {
	PAUSE_NONE = 0,
	PAUSE_USER,	     /* canaryctl rollout pause */
	PAUSE_MANUAL_WEIGHT, /* someone set the weight by hand: no automatic action */
	PAUSE_NO_TRAFFIC,    /* resumes by itself when traffic returns */
	PAUSE_METRIC_ERRORS, /* a metric source failed error_limit times; resumes on recovery */
	PAUSE_SERVICE_GONE,  /* the service is no longer in the maps */
	PAUSE_SRM,	     /* sample-ratio mismatch: the arms are not comparable; rollback
			      * tests keep running, resume by hand restarts the SRM tests */
	PAUSE_STORE,	     /* fleet mode: the leader cannot reach the store; resumes when
			      * it (or another leader) can */
	PAUSE_COUNT,
};
extern const char *const pause_reason_names[PAUSE_COUNT];

/* Why a weight changed (history, metrics). */
enum weight_reason {
	WREASON_START = 0, /* the rollout's first step */
	WREASON_STEP,	   /* a step passed */
	WREASON_PROMOTE,   /* canaryctl rollout promote */
	WREASON_ROLLBACK,  /* the analysis crossed its threshold, or a guard tripped */
	WREASON_ABORT,	   /* canaryctl rollout abort */
	WREASON_MANUAL,	   /* set by hand (canaryctl set-weight/rollback/promote) */
	WREASON_EXTERNAL,  /* PUT /api/v1/services/SVC/weight: an external controller */
	WREASON_COUNT,
};
extern const char *const weight_reason_names[WREASON_COUNT];

#define ROLLOUT_MAX_CHECKS (PLAN_MAX_SIGNALS + PLAN_MAX_METRICS)

/* The stochastic-order test of a ttfb_order signal (one av_state per edge). */
struct rollout_order {
	struct av_order_config cfg;
	struct av_order_state st;
};

/* One sequential test: a data-plane signal or a business metric. For SIG_TTFB_ORDER,
 * `order` runs the test and cfg/st mirror its verdict after each tick (cfg is the
 * edges' test, st.rollback the mean e-value, st.x/n its lowest edge's counts), so
 * every reader of cfg/st (status, metrics, the verdict, the evidence line) shows it
 * as any other check. */
struct rollout_check {
	int kind;   /* enum plan_signal_kind */
	int metric; /* index into plan.metrics for SIG_METRIC */
	char name[PLAN_NAME_LEN];
	struct av_config cfg;
	struct av_state st;
	enum av_poll last_poll;
	struct rollout_order *order; /* SIG_TTFB_ORDER only; freed by rollout_free() */
};

/* Why the SRM test of flows is not run (it runs in flow mode; with overrides on the
 * data plane's count of weight-decided flows, client_hll). */
enum srm_off {
	SRM_ON = 0,
	SRM_OFF_CLIENT_MODE, /* the flow share follows the client mix, not the weight */
	SRM_OFF_OVERRIDES,   /* overrides, and pins without client_hll to leave them out */
	SRM_OFF_COUNT,
};
extern const char *const srm_off_names[SRM_OFF_COUNT];

/* One interval of the data plane's client_hll sets of a service (both arms). */
struct rollout_clients {
	uint32_t flows[CANARY_ARMS]; /* weight-decided new flows */
	uint8_t reg[CANARY_ARMS][CANARY_HLL_REGS];
};

/* The sample-ratio mismatch guard (docs/ANALYSIS.md): new flows against the weight (flow
 * mode), distinct clients against the weight (client mode), and HTTP responses against
 * the step's flow share (in flow equivalents). */
struct rollout_srm {
	struct av_srm_config cfg;
	struct av_srm_config ccfg; /* the client test's (av_srm_config_clients) */
	struct av_srm_state flows;
	struct av_srm_state responses;
	struct av_srm_state clients;
	enum av_poll last_flows, last_responses, last_clients;
	int flows_off;	     /* enum srm_off, as of the last tick */
	bool http;	     /* the responses test runs (the service counts HTTP) */
	bool clients_on;     /* the client test runs (client mode, client_hll counted) */
	bool flows_interval; /* the flow test counts client_hll's flows (overrides) */
	uint16_t bp;	     /* weight in the maps at the last tick: an interval across a
			      * change is skipped */
	/* client_hll intervals under the weight tally_bp (UINT16_MAX: none yet); the two
	 * after a change are left out (the data plane's interval and the poll's differ). */
	struct hll_tally tally;
	uint16_t tally_bp;
	uint8_t tally_skip;
	double gap;	  /* flow share - client share of the tally (NAN: too few) */
	bool gap_warning; /* the two are far apart: heavy clients, not an SRM */
};

/* A business metric's counts, cumulative per arm (stable, canary). Pushed reports are
 * added up here; Prometheus readings replace them. */
struct metric_state {
	uint64_t successes[CANARY_ARMS];
	uint64_t trials[CANARY_ARMS];
	int consecutive_errors;
	int64_t last_report_ms; /* wall clock of the last push or good reading */
	char last_error[160];
};

struct rollout {
	struct plan plan;
	char *plan_text; /* the YAML, kept to persist and restore the plan */
	uint32_t svc_id;
	int phase;
	int pause;
	char reason[256]; /* why the phase is what it is, for people */
	unsigned int step;
	double step_hold_s; /* time with canary traffic at this step */
	double idle_s;	    /* time without canary traffic, now */
	uint32_t generation; /* config generation the agent last wrote or accepted */
	uint16_t weight_bp;  /* weight the agent last wrote or accepted */
	bool gate_open;	     /* rollout promote received while waiting at a gate */
	bool pending;	     /* a decided weight not yet written (the write failed) */
	uint16_t pending_bp;
	int pending_reason;
	int64_t started_ms, step_started_ms, ended_ms; /* wall clock */
	struct arm_stats base[CANARY_ARMS];	       /* counters at the start (guards) */
	struct arm_stats step_base[CANARY_ARMS];       /* counters at the step's start */
	struct arm_stats last[CANARY_ARMS];	       /* counters at the last tick */
	unsigned int nchecks;
	struct rollout_check checks[ROLLOUT_MAX_CHECKS];
	struct metric_state metrics[PLAN_MAX_METRICS];
	struct rollout_srm srm;
	/* Fleet mode (docs/FLEET.md): the per-node counters the leader sums into this
	 * rollout's input, kept and saved with it; NULL on a single node. Owned (freed
	 * by rollout_free). */
	struct fleet_sum *fleet;
	/* A node's own watch of its counters while it may be cut off from the store: the
	 * tests and guards run and a rollback is decided as ever, but no step is taken,
	 * no pause for traffic or metrics is made (the leader does those). Not saved. */
	bool watch_only;
};

/* What one tick saw. */
struct rollout_input {
	struct arm_stats arm[CANARY_ARMS]; /* cumulative counters now */
	uint32_t svc_id;		   /* the service's id now (changes if re-created) */
	uint16_t weight_bp;		   /* weight in the maps now */
	uint32_t generation;		   /* config generation in the maps now */
	uint8_t hash_mode;		   /* enum canary_hash_mode in the maps now */
	uint8_t svc_flags;		   /* CANARY_SVC_F_* in the maps now */
	double dt;			   /* seconds since the previous tick */
	int64_t now_ms;			   /* wall clock */
	bool clients_counted;		   /* the pins have client_hll */
	const struct rollout_clients *clients; /* its interval done since the last tick */
};

/* What to do about it. */
struct rollout_decision {
	bool set_weight;
	uint16_t old_bp, new_bp;
	int reason;	  /* enum weight_reason */
	bool reset_flows; /* on_rollback: reset */
	bool manual;	  /* a weight change made by hand was noticed (old_bp -> new_bp) */
	bool changed;	  /* phase or step changed: persist */
	bool srm_hold;	  /* a sample-ratio mismatch paused the rollout: a history entry */
	char log[2048];	  /* one line: what changed, why, the evidence */
};

/* A rollout from a validated plan, at its first step (the caller applies the first
 * weight). Returns 0 or -EINVAL with the reason in err. */
int rollout_init(struct rollout *r, const struct plan *p, const char *plan_text, uint32_t svc_id,
		 const struct arm_stats now[CANARY_ARMS], int64_t now_ms, char *err, size_t errlen);
void rollout_free(struct rollout *r);

/* Whether the rollout still acts (not Idle, Succeeded, RolledBack or Aborted). */
bool rollout_active(const struct rollout *r);

void rollout_tick(struct rollout *r, const struct rollout_input *in, struct rollout_decision *d);

/* Handle a weight or config changed by someone else (generation differs from the
 * one the rollout knows): record it, never undo it. Returns true when it did. */
bool rollout_notice_manual(struct rollout *r, uint16_t weight_bp, uint32_t generation,
			   int64_t now_ms, struct rollout_decision *d);

/* The service vanished from the maps: pause and say so (once). */
void rollout_service_gone(struct rollout *r, struct rollout_decision *d);

/* Fleet mode. The leader lost the store (it cannot write the weights): hold at this step
 * and say why; a pause of another kind stays. And back. */
void rollout_store_pause(struct rollout *r, const char *why, struct rollout_decision *d);
void rollout_store_resume(struct rollout *r, struct rollout_decision *d);
/* A node rolled its own node back on its own evidence (while cut off from the store):
 * roll the rollout back (weight 0 everywhere), naming the node and its evidence. */
void rollout_node_rollback(struct rollout *r, const char *node, const char *why, int64_t now_ms,
			   struct rollout_decision *d);

/* Commands from canaryctl. Each returns 0 or -EINVAL with a sentence in err. */
int rollout_pause(struct rollout *r, struct rollout_decision *d, char *err, size_t len);
int rollout_resume(struct rollout *r, struct rollout_decision *d, int64_t now_ms, char *err,
		   size_t len);
int rollout_abort(struct rollout *r, struct rollout_decision *d, int64_t now_ms, char *err,
		  size_t len);
int rollout_promote(struct rollout *r, bool full, struct rollout_decision *d, int64_t now_ms,
		    char *err, size_t len);

/* A pushed business-metric report (increments). */
int rollout_metric_push(struct rollout *r, const char *name, int arm, uint64_t successes,
			uint64_t trials, int64_t now_ms, char *err, size_t len);
/* A Prometheus reading (cumulative), or an error reading it. */
void rollout_metric_reading(struct rollout *r, unsigned int idx, bool ok,
			    const uint64_t successes[CANARY_ARMS],
			    const uint64_t trials[CANARY_ARMS], const char *error, int64_t now_ms);

/* Whether a sample-ratio mismatch stands (the rollout holds while it does). */
bool rollout_srm_stands(const struct rollout *r);
/* "srm flows 4.71%/5.00% E=3.2/100, responses ..." for the evidence line. */
void rollout_srm_summary(const struct rollout *r, char *buf, size_t len);
/* The canary's share of the weight-decided flows of the client tally (NAN: none). */
double srm_flow_share(const struct rollout *r);

/* A one-line summary of all evidence ("http_5xx E=1.3/100 ..."). */
void rollout_evidence(const struct rollout *r, char *buf, size_t len);

/* Persistence: the whole rollout as JSON (json-c object), and back. A fleet rollout's
 * per-node counters are its "fleet" member (fleet_sum_to_json). */
struct json_object;
struct json_object *rollout_to_json(const struct rollout *r);
/* Restore a saved state of service's rollout. Every field is checked for type and
 * range, unknown fields and a service other than the one named are refused; returns
 * 0, or -EINVAL with "field: problem" in err (r then holds nothing to keep but may
 * need rollout_free). */
int rollout_from_json(struct rollout *r, struct json_object *j, const char *service, char *err,
		      size_t len);

#endif
