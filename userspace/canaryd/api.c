/* api.c: the routes of canaryd's HTTP API and their handlers: /metrics, the rollouts
 * (start, pause, resume, abort, promote, status, history, the release controllers'
 * verdict, Flagger's webhooks) and pushed metric reports
 * (docs/AGENT.md). Every handler here runs under A.lock, after doors.c has checked who
 * sends the request and parsed its body. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonv.h"
#include "base/util.h"
#include "canaryd.h"
#include "present/status.h"

/* ---- /metrics ----------------------------------------------------------------------------- */

/* The canary's share of new flows over the last poll, or -1. */
static double share_of(uint32_t id)
{
	struct arm_stats a[2], p[2];
	uint64_t c, t;
	int arm;

	if (!A.have_prev)
		return -1;
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		arm_stats_total(A.snap, id, arm, &a[arm]);
		arm_stats_total(A.prev, id, arm, &p[arm]);
	}
	c = a[1].flows - p[1].flows;
	t = c + a[0].flows - p[0].flows;
	return t ? (double)c / t : -1;
}

static enum MHD_Result api_metrics(struct MHD_Connection *c)
{
	struct prom_service *ps = calloc(A.nsvcs ? A.nsvcs : 1, sizeof(*ps));
	struct arm_stats *arms = calloc(2 * (A.nsvcs ? A.nsvcs : 1), sizeof(*arms));
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	enum MHD_Result ret;
	unsigned int i;

	if (!ps || !arms || !f) {
		free(ps);
		free(arms);
		if (f)
			fclose(f);
		free(buf);
		return reply(c, 500, "text/plain", "out of memory\n");
	}
	for (i = 0; i < A.nsvcs; i++) {
		arm_stats_total(A.snap, A.svcs[i].info.id, 0, &arms[2 * i]);
		arm_stats_total(A.snap, A.svcs[i].info.id, 1, &arms[2 * i + 1]);
		ps[i].svc = &A.svcs[i];
		ps[i].arm = &arms[2 * i];
		ps[i].share = share_of(A.svcs[i].info.id);
		ps[i].rollout = find_rollout(A.svcs[i].info.name);
		ps[i].weight_changes = A.weight_changes[A.svcs[i].info.id];
	}
	A.stats.nstate_errors = A.nbad;
	A.stats.node = fleet_node();
	A.stats.leader = fleet_leader(NULL, 0);
	A.stats.store_up = fleet_store_ok();
	for (i = 0; i < A.nbad; i++)
		A.stats.state_errors[i] = A.bad[i].service;
	prom_write(f, ps, A.nsvcs, &A.reasons, &A.stats);
	node_metrics(f);
	fclose(f);
	if (node_name() && buf) { /* a fleet's node: every series of this agent is the node's */
		char *labelled = prom_add_label(buf, "node", node_name());

		free(buf);
		buf = labelled;
	}
	ret = reply(c, 200, "text/plain; version=0.0.4", buf ? buf : "");
	free(buf);
	free(ps);
	free(arms);
	return ret;
}

/* ---- rollouts ----------------------------------------------------------------------------- */

/* Set service s's canary weight to bp as a compare-and-swap on its generation (retried
 * when someone else published meanwhile); the weight it replaced in *old_bp. */
static int publish_weight(const struct service_state *s, uint16_t bp, uint16_t *old_bp)
{
	struct svc_config cfg;
	int err = -ESTALE, tries;

	for (tries = 0; tries < 8 && err == -ESTALE; tries++) {
		err = svc_config_read(&A.maps, s->info.id, &cfg);
		if (err)
			break;
		*old_bp = cfg.canary_weight;
		cfg.canary_weight = bp;
		err = svc_config_publish(&A.maps, s->info.id, s->info.name, &cfg, cfg.generation);
	}
	return err;
}

/* abort or promote of a rollout whose state is invalid: set the weight (0 or 100) as
 * a compare-and-swap, keep the bad file under a name the agent does not read, and
 * record it. */
static enum MHD_Result resolve_bad(struct MHD_Connection *c, struct bad_state *b,
				   const char *cmd, const char *actor)
{
	bool promote = !strcmp(cmd, "promote");
	struct rollout_decision d = {.set_weight = true,
				     .new_bp = promote ? CANARY_WEIGHT_SCALE : 0,
				     .reason = promote ? WREASON_PROMOTE : WREASON_ABORT};
	const struct service_state *s;
	char from[PATH_MAX], to[PATH_MAX + 32], detail[1024];
	int err;
	int64_t t = wall_ms();

	if (strcmp(cmd, "abort") && !promote)
		return reply_error(c, 409, "the rollout's saved state is invalid; only abort (weight "
					   "0) or promote (weight 100) can end it");
	refresh_services();
	s = find_service(b->service);
	if (!s)
		return reply_error(c, 404, "the service is no longer in the maps");
	err = publish_weight(s, d.new_bp, &d.old_bp);
	if (err) {
		snprintf(detail, sizeof(detail), "cannot set the weight: %s", strerror(-err));
		return reply_error(c, 500, detail);
	}
	snprintf(from, sizeof(from), "%s/%s", A.state_dir, b->file);
	snprintf(to, sizeof(to), "%s/%s.invalid-%lld", A.state_dir, b->file, (long long)t);
	if (rename(from, to))
		logline("%s: cannot move %s aside: %s", b->service, from, strerror(errno));
	snprintf(detail, sizeof(detail), "%s by hand: the saved state was invalid (%s); kept as %s",
		 promote ? "promoted" : "aborted", b->reason, strrchr(to, '/') + 1);
	history_line(b->service, &d, weight_reason_names[d.reason], 0, 0,
		     promote ? "Succeeded" : "Aborted", detail, "", actor, t);
	logline("%s: %s", b->service, detail);
	A.weight_changes[s->info.id][d.reason]++;
	{
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "service", json_object_new_string(b->service));
		json_object_object_add(j, "phase",
				       json_object_new_string(promote ? "Succeeded" : "Aborted"));
		json_object_object_add(j, "reason", json_object_new_string(detail));
		json_object_object_add(j, "canary_weight", json_percent(d.new_bp));
		*b = A.bad[--A.nbad];
		return reply_json(c, 200, j);
	}
}

/* Whether svc may start a rollout now: 0 with its service in *s (the maps read
 * afresh) and the ended rollout it replaces, if any, in *old; or an HTTP status with
 * the reason in err. */
static unsigned int start_allowed(const char *svc, const struct service_state **s,
				  struct rollout **old, char *err, size_t len)
{
	if (find_bad(svc)) {
		snprintf(err, len, "the saved rollout of '%s' is invalid; end it first with "
				   "'canaryctl rollout abort %s' (or promote)",
			 svc, svc);
		return 409;
	}
	refresh_services();
	*s = find_service(svc);
	if (!*s) {
		snprintf(err, len, "no service named '%s' in the maps; apply it first with "
				   "'canaryctl apply -f FILE'",
			 svc);
		return 404;
	}
	if (!(*s)->cfg.nbackends[CANARY_ARM_CANARY] || !(*s)->cfg.nbackends[CANARY_ARM_STABLE]) {
		snprintf(err, len, "service '%s' needs stable and canary backends for a "
				   "rollout",
			 svc);
		return 409;
	}
	*old = find_rollout(svc);
	if (*old && rollout_active(*old)) {
		snprintf(err, len, "a rollout of '%s' is already %s; abort it first", svc,
			 rollout_phase_names[(*old)->phase]);
		return 409;
	}
	return 0;
}

/* In fleet mode only the leader runs rollouts: 409 naming it on another node. */
static unsigned int fleet_not_leader(char *err, size_t len)
{
	char who[64];

	if (!fleet_mode() || fleet_leader(who, sizeof(who)))
		return 0;
	if (who[0])
		snprintf(err, len, "node %s does not lead the fleet's rollouts: %s does (ask its "
				   "canaryd)",
			 fleet_node(), who);
	else
		snprintf(err, len, "node %s does not lead the fleet's rollouts, and no node leads "
				   "now (the store may be unreachable); try again",
			 fleet_node());
	return 409;
}

/* 404 for a rollout this agent does not have; on a follower, naming the leader. */
static enum MHD_Result no_rollout(struct MHD_Connection *c)
{
	char err[256];

	if (fleet_not_leader(err, sizeof(err)))
		return reply_error(c, 404, err);
	return reply_error(c, 404, "no rollout of this service");
}

/* A new rollout of q->plan (its text in text) on service s, from the counters now. 0
 * with it in *out, or an HTTP status with the reason in err. */
static unsigned int start_rollout(const char *svc, const struct service_state *s,
				  const struct request *q, const char *text, int64_t t,
				  struct rollout **out, char *err, size_t len)
{
	struct arm_stats now[CANARY_ARMS];
	struct rollout *r;
	int rc, arm;

	/* The baselines: without them the service's whole history would count as the
	 * rollout's traffic. */
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		rc = arm_stats_read(&A.maps, s->info.id, arm, &now[arm]);
		if (rc) {
			snprintf(err, len, "cannot read the counters of %s: %s", svc,
				 strerror(-rc));
			return 500;
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, len, "out of memory");
		return 500;
	}
	if (rollout_init(r, q->plan, text, s->info.id, now, t, err, len)) {
		rollout_free(r);
		free(r);
		return 400;
	}
	r->weight_bp = s->cfg.canary_weight;
	r->generation = s->cfg.generation;
	if (fleet_mode())
		fleet_adopt(r);
	*out = r;
	return 0;
}

/* POST /api/v1/rollouts/SVC with a plan parsed before the lock was taken. */
static enum MHD_Result api_start(struct MHD_Connection *c, const char *svc, struct request *q)
{
	const char *file = "(plan)";
	char err[256], a[16], b[16];
	struct rollout *r, *old;
	const struct service_state *s;
	struct rollout_decision d = {};
	struct jv v = {};
	const char *text;
	unsigned int code;
	int64_t t = wall_ms();

	if (!jv_str(&v, q->json, "plan_text", NULL, PLAN_MAX_BYTES, false, &text) ||
	    !jv_str(&v, q->json, "plan_file", NULL, PATH_MAX, true, &file))
		return reply_error(c, 400, v.err);
	if (!q->plan)
		return reply_error(c, 400, q->plan_errors ? q->plan_errors : "invalid plan");
	if (strcmp(q->plan->service, svc)) {
		snprintf(err, sizeof(err), "the plan is for service '%s', not '%s'",
			 q->plan->service, svc);
		return reply_error(c, 400, err);
	}
	code = fleet_not_leader(err, sizeof(err));
	if (!code)
		code = start_allowed(svc, &s, &old, err, sizeof(err));
	if (!code)
		code = start_rollout(svc, s, q, text, t, &r, err, sizeof(err));
	if (code)
		return reply_error(c, code, err);
	if (rollouts_put(old, r)) {
		rollout_free(r);
		free(r);
		return reply_error(c, 503, "too many rollouts");
	}
	d.set_weight = true;
	d.old_bp = r->weight_bp;
	d.new_bp = q->plan->steps[0].weight_bp;
	d.reason = WREASON_START;
	r->weight_bp = d.new_bp;
	snprintf(d.log, sizeof(d.log), "%s: rollout started from %s by %s: step 1/%u, weight "
				       "%s%% -> %s%%",
		 svc, file, q->actor, q->plan->nsteps, bp_str(d.old_bp, a, sizeof(a)),
		 bp_str(d.new_bp, b, sizeof(b)));
	apply(r, &d, q->actor, t);
	return reply_json(c, 201, rollout_json(r));
}

static enum MHD_Result api_command(struct MHD_Connection *c, const char *svc, const char *cmd,
				   struct request *q)
{
	struct rollout *r = find_rollout(svc);
	struct bad_state *b = find_bad(svc);
	struct rollout_decision d;
	struct jv v = {};
	bool full = false;
	char err[256];
	int rc;
	int64_t t = wall_ms();

	if (q->json && !jv_bool(&v, q->json, "full", NULL, true, &full))
		return reply_error(c, 400, "full must be true or false");
	if (strcmp(cmd, "pause") && strcmp(cmd, "resume") && strcmp(cmd, "abort") &&
	    strcmp(cmd, "promote"))
		return reply_error(c, 404, "unknown command (pause, resume, abort, promote)");
	if (b)
		return resolve_bad(c, b, cmd, q->actor);
	if (!r && fleet_not_leader(err, sizeof(err)))
		return reply_error(c, 409, err);
	if (!r) {
		snprintf(err, sizeof(err), "there is no rollout of '%s'; start one with 'canaryctl "
					   "rollout start %s --plan FILE'",
			 svc, svc);
		return reply_error(c, 404, err);
	}
	sync_manual(r, t);
	if (!strcmp(cmd, "pause"))
		rc = rollout_pause(r, &d, err, sizeof(err));
	else if (!strcmp(cmd, "resume"))
		rc = rollout_resume(r, &d, t, err, sizeof(err));
	else if (!strcmp(cmd, "abort"))
		rc = rollout_abort(r, &d, t, err, sizeof(err));
	else
		rc = rollout_promote(r, full, &d, t, err, sizeof(err));
	if (rc)
		return reply_error(c, 409, err);
	if (d.log[0]) {
		size_t n = strlen(d.log);

		snprintf(d.log + n, sizeof(d.log) - n, " (by %s)", q->actor);
	}
	apply(r, &d, q->actor, t);
	/* A command that moves no weight (pause, resume, a gate passed) is still a change
	 * someone made: the history says who. */
	if (!d.set_weight) {
		char ev[1024];

		d.old_bp = d.new_bp = r->weight_bp;
		rollout_evidence(r, ev, sizeof(ev));
		history_line(r->plan.service, &d, cmd, r->step + 1, r->plan.nsteps,
			     rollout_phase_names[r->phase], r->reason, ev, q->actor, t);
	}
	return reply_json(c, 200, rollout_json(r));
}

static enum MHD_Result api_history(struct MHD_Connection *c, const char *svc)
{
	char path[PATH_MAX], line[8192];
	struct json_object *arr = json_object_new_array();
	FILE *f;

	history_path(svc, path, sizeof(path));
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		struct json_object *o = json_tokener_parse(line);

		if (o)
			json_object_array_add(arr, o);
	}
	if (f)
		fclose(f);
	return reply_json(c, 200, arr);
}

/* ---- pushed metrics ----------------------------------------------------------------------- */

/* POST /api/v1/metrics: {"service": S, "arm": "canary", "name": N, "successes": s, "trials": t} */
static enum MHD_Result api_push(struct MHD_Connection *c, struct request *q)
{
	const char *svc, *armname, *name;
	uint64_t succ, trials;
	struct rollout *r;
	struct jv v = {};
	char err[512];
	int arm;

	if (!jv_str(&v, q->json, "service", NULL, CANARY_NAME_LEN - 1, false, &svc) ||
	    !jv_str(&v, q->json, "arm", NULL, 16, false, &armname) ||
	    !jv_str(&v, q->json, "name", NULL, PLAN_NAME_LEN - 1, false, &name) ||
	    !jv_u64(&v, q->json, "successes", NULL, INT64_MAX, false, &succ) ||
	    !jv_u64(&v, q->json, "trials", NULL, INT64_MAX, false, &trials)) {
		snprintf(err, sizeof(err), "a report needs service, arm and name (strings) and "
					   "successes and trials (counts >= 0): %s",
			 v.err);
		return reply_error(c, 400, err);
	}
	if (succ > trials)
		return reply_error(c, 400, "successes cannot exceed trials");
	if (!strcmp(armname, "canary"))
		arm = CANARY_ARM_CANARY;
	else if (!strcmp(armname, "stable"))
		arm = CANARY_ARM_STABLE;
	else
		return reply_error(c, 400, "arm must be stable or canary");
	r = find_rollout(svc);
	if (!r || !rollout_active(r)) {
		snprintf(err, sizeof(err), "no rollout of '%s' is running", svc);
		return reply_error(c, 404, err);
	}
	if (rollout_metric_push(r, name, arm, succ, trials, wall_ms(), err, sizeof(err)))
		return reply_error(c, 400, err);
	return reply(c, 200, "application/json", "{\"ok\":true}\n");
}

/* ---- an external controller's weight ------------------------------------------------------ */

/* PUT /api/v1/services/SVC/weight {"weight": percent}: a controller that runs its own
 * analysis uses xdp-canary as its traffic splitter. Refused while canaryd's own rollout
 * of the service runs (it would fight the controller); recorded as `external`. */
static enum MHD_Result api_weight(struct MHD_Connection *c, const char *svc, struct request *q)
{
	struct rollout_decision d = {.set_weight = true, .reason = WREASON_EXTERNAL};
	const struct service_state *s;
	const struct rollout *r = find_rollout(svc);
	char detail[512], a[16], b[16];
	struct jv v = {};
	double pct = -1;
	int err;

	if (!q->json || !jv_known_keys(&v, q->json, "body", (const char *const[]){"weight", NULL}) ||
	    !jv_double(&v, q->json, "weight", NULL, 0, 100, false, &pct) ||
	    fabs(pct * 100 - round(pct * 100)) > 1e-6) {
		snprintf(detail, sizeof(detail), "the body is {\"weight\": PERCENT}, 0 to 100 in "
						 "steps of 0.01: %s",
			 v.failed ? v.err : "too many decimals");
		return reply_error(c, 400, detail);
	}
	if (find_bad(svc) || (r && rollout_active(r)))
		return reply_error(c, 409, "canaryd's own rollout of this service is running (or "
					   "its saved state is invalid); abort it first");
	refresh_services();
	s = find_service(svc);
	if (!s)
		return reply_error(c, 404, "no service of this name in the maps");
	d.new_bp = (uint16_t)lround(pct * 100);
	err = publish_weight(s, d.new_bp, &d.old_bp);
	if (err) {
		snprintf(detail, sizeof(detail), "cannot set the weight: %s", strerror(-err));
		return reply_error(c, 409, detail);
	}
	snprintf(detail, sizeof(detail), "weight %s%% -> %s%% set by an external controller",
		 bp_str(d.old_bp, a, sizeof(a)), bp_str(d.new_bp, b, sizeof(b)));
	history_line(svc, &d, weight_reason_names[d.reason], 0, 0, "External", detail, "",
		     q->actor, wall_ms());
	logline("%s: %s (%s)", svc, detail, q->actor);
	A.weight_changes[s->info.id][d.reason]++;
	{
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "service", json_object_new_string(svc));
		json_object_object_add(j, "old_weight", json_percent(d.old_bp));
		json_object_object_add(j, "canary_weight", json_percent(d.new_bp));
		return reply_json(c, 200, j);
	}
}

/* ---- Flagger's webhooks ------------------------------------------------------------------ */

/* Flagger's payload {"name","namespace","phase","checksum","metadata"}, strictly: the
 * service is metadata.service when given, else name. NULL with the reason in v. */
static const char *flagger_service(struct jv *v, struct json_object *body)
{
	static const char *const keys[] = {"name", "namespace", "phase", "checksum", "metadata",
					   NULL};
	const char *name, *ns, *phase, *sum, *svc = NULL;
	struct json_object *md, *val;

	if (!body)
		return jv_fail(v, "body", "Flagger's payload is a JSON object"), NULL;
	if (!jv_known_keys(v, body, "payload", keys) ||
	    !jv_str(v, body, "name", NULL, 253, false, &name) ||
	    !jv_str(v, body, "namespace", NULL, 253, false, &ns) ||
	    !jv_str(v, body, "phase", NULL, 64, false, &phase) ||
	    !jv_str(v, body, "checksum", NULL, 256, true, &sum))
		return NULL;
	md = jv_object(v, body, "metadata", NULL, true);
	if (v->failed)
		return NULL;
	if (md) {
		json_object_object_foreach(md, k, mv)
		{
			(void)k;
			if (!json_object_is_type(mv, json_type_string))
				return jv_fail(v, "metadata", "values must be strings"), NULL;
		}
		if (json_object_object_get_ex(md, "service", &val))
			svc = json_object_get_string(val);
	}
	if (!svc)
		svc = name;
	if (!service_name_valid(svc))
		return jv_fail(v, "service", "'%.64s' is not a service name", svc), NULL;
	return svc;
}

/* POST /api/v1/flagger/HOOK. A gate (confirm-rollout, confirm-promotion) answers 200
 * to go ahead and 403 to wait; rollback answers 200 to roll back now and 403 to go on.
 * Never 204 or 5xx. canaryd's decision decides: confirm-rollout once a rollout of the
 * service runs (or has promoted), confirm-promotion once it promotes, rollback once it
 * rolled back. */
static enum MHD_Result api_flagger(struct MHD_Connection *c, const char *hook,
				   struct request *q)
{
	struct json_object *j;
	const struct rollout *r;
	const char *svc, *dec = NULL;
	struct jv v = {};
	bool yes = false;
	char err[320];

	if (strcmp(hook, "confirm-rollout") && strcmp(hook, "confirm-promotion") &&
	    strcmp(hook, "rollback"))
		return reply_error(c, 404, "Flagger's webhooks are confirm-rollout, "
					   "confirm-promotion and rollback");
	svc = flagger_service(&v, q->json);
	if (!svc) {
		snprintf(err, sizeof(err), "not Flagger's webhook payload: %s", v.err);
		return reply_error(c, 400, err);
	}
	r = find_bad(svc) ? NULL : find_rollout(svc);
	if (r)
		dec = rollout_decision_name(r);
	if (dec && !strcmp(hook, "confirm-rollout"))
		yes = strcmp(dec, "rollback");
	else if (dec && !strcmp(hook, "confirm-promotion"))
		yes = !strcmp(dec, "promote");
	else if (dec)
		yes = !strcmp(dec, "rollback");
	j = json_object_new_object();
	json_object_object_add(j, "service", json_object_new_string(svc));
	json_object_object_add(j, "decision", dec ? json_object_new_string(dec) : NULL);
	json_object_object_add(j, "phase", json_object_new_string(
						   r ? rollout_phase_names[r->phase]
						     : find_bad(svc) ? "Error" : "None"));
	json_object_object_add(j, "answer", json_object_new_string(
						    !strcmp(hook, "rollback")
							    ? (yes ? "roll back" : "go on")
							    : (yes ? "proceed" : "wait")));
	return reply_json(c, yes ? 200 : 403, j);
}

/* ---- the routes --------------------------------------------------------------------------- */

/* Called with the agent's lock held. */
enum MHD_Result route(struct MHD_Connection *c, const char *url, const char *method,
		      struct request *q)
{
	char svc[CANARY_NAME_LEN + 1] = "", cmd[32] = "";
	bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET");

	if (get && !strcmp(url, "/metrics"))
		return api_metrics(c);
	if (post && !strcmp(url, "/api/v1/metrics"))
		return api_push(c, q);
	if (post && !strncmp(url, "/api/v1/flagger/", 16))
		return api_flagger(c, url + 16, q);
	if (get && !strcmp(url, "/api/v1/rollouts"))
		return reply_json(c, 200, rollouts_json());
	if (get && !strcmp(url, "/api/v1/services"))
		return reply_json(c, 200, services_json());
	if (sscanf(url, "/api/v1/services/%32[^/]/%31s", svc, cmd) == 2 && !strcmp(cmd, "weight") &&
	    service_name_valid(svc))
		return !strcmp(method, "PUT") ? api_weight(c, svc, q)
					      : reply_error(c, 405, "the weight takes PUT");
	if (sscanf(url, "/api/v1/rollouts/%32[^/]/%31s", svc, cmd) >= 1 &&
	    service_name_valid(svc)) {
		struct rollout *r = find_rollout(svc);
		struct bad_state *b = find_bad(svc);

		if (!cmd[0] && get)
			return b ? reply_json(c, 200, bad_json(b))
			       : r ? reply_json(c, 200, rollout_json(r))
				   : no_rollout(c);
		if (!cmd[0] && post)
			return api_start(c, svc, q);
		if (!strcmp(cmd, "history") && get)
			return api_history(c, svc);
		if (!strcmp(cmd, "verdict") && get)
			return b ? reply_error(c, 409, "the rollout's saved state is invalid; "
						       "abort or promote it by hand")
			       : r ? reply_json(c, 200, verdict_json(r))
				   : no_rollout(c);
		if (post)
			return api_command(c, svc, cmd, q);
		return reply_error(c, 405, "method not allowed");
	}
	return reply_error(c, 404, "no such endpoint (see docs/AGENT.md)");
}
