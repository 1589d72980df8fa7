/* canaryctl: configure and inspect xdp-canary: apply a services file, move weights,
 * pin client groups, show per-arm status and explain where a flow would go. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "canary_hash.h"
#include "base/util.h"
#include "cli/cli.h"
#include "http/agentclient.h"
#include "logic/config.h"
#include "logic/forecast.h"
#include "logic/plan.h"
#include "logic/salts.h"
#include "maps/apply.h"
#include "maps/pins.h"
#include "maps/service.h"
#include "maps/stats.h"
#include "maps/sweep.h"
#include "present/status.h"
#include "store/fleetctl.h"

/* The settings of the commands that have options of their own; the pin root and where
 * canaryd is are cli.h's (cli_pin_root_opts, cli_agent_opts). */
#define PINS	   CLI_BLOCKS(&cli_pin_root_opts)
#define AGENT	   CLI_BLOCKS(&cli_agent_opts)
#define AGENT_PINS CLI_BLOCKS(&cli_agent_opts, &cli_pin_root_opts)
/* Commands that work on the local maps or, with --store, on the fleet's store. */
#define PINS_STORE CLI_BLOCKS(&cli_pin_root_opts, &cli_store_opts)
#define STORE	   CLI_BLOCKS(&cli_store_opts)

/* With --store: the command's work on the store (fn), the store closed after. */
static int with_store(int (*fn)(struct store *s, void *arg), void *arg)
{
	struct store *s = cli_store_open();
	int err;

	if (!s)
		return 1;
	err = fn(s, arg);
	store_close(s);
	return err ? 1 : 0;
}

/* ---- apply -------------------------------------------------------------------------------- */

struct apply_cfg {
	const char *file;
	struct apply_opts ao;
};

static const struct cli_opt apply_opts[] = {
    {CLI_STR, "file", 'f', CLI_FIELD(struct apply_cfg, file), .metavar = "FILE",
     .help = "the services file"},
    {CLI_FLAG, "dry-run", 'n', CLI_FIELD(struct apply_cfg, ao.dry_run),
     .help = "say what would change, change nothing"},
    {CLI_FLAG, "prune", 0, CLI_FIELD(struct apply_cfg, ao.prune),
     .help = "remove services that the file does not name"},
    {CLI_STR, "salt-file", 0, CLI_FIELD(struct apply_cfg, ao.salt_file), .metavar = "FILE",
     .help = "where the services' secret salts are kept",
     .def = CANARY_SALT_DIR "/salts<PIN-ROOT>.json with '/' as '_', or $CANARY_SALT_FILE"},
    {},
};

static int store_apply(struct store *s, void *arg)
{
	const struct apply_cfg *c = arg;

	if (c->ao.prune || c->ao.salt_file)
		log_warn("--prune and --salt-file do not apply to the store: it holds the whole "
			 "file, and the salts live in it");
	return fleet_apply(s, c->file, c->ao.dry_run, stdout);
}

static int cmd_apply(void *cfg, int argc, char **argv)
{
	struct apply_cfg *c = cfg;
	char salts[PATH_MAX];
	struct apply_summary sum;
	struct canary_config conf;
	struct canary_maps m;
	int err, lock;

	c->ao.out = stdout;
	if (cli_store.url) {
		if (argc > 0 || !c->file)
			return cli_usage_error("name the services file with -f FILE");
		return with_store(store_apply, c);
	}
	if (!c->ao.salt_file)
		c->ao.salt_file = getenv("CANARY_SALT_FILE");
	if (!c->ao.salt_file) {
		salts_default_path(cli_pin_root, salts, sizeof(salts));
		c->ao.salt_file = salts;
	}
	if (argc > 0)
		return cli_usage_error("unexpected argument '%s' (the file goes after -f)",
				       argv[0]);
	if (!c->file)
		return cli_usage_error("name the services file with -f FILE");

	/* Validate the whole file before looking at (let alone touching) any map. */
	if (config_load(c->file, &conf))
		return 1;
	if (cli_maps_open(&m, &lock)) {
		config_free(&conf);
		return 1;
	}
	err = config_apply(&m, &conf, &c->ao, &sum);
	cli_maps_close(&m, lock);
	if (!err)
		printf("%s%u created, %u changed, %u unchanged, %u removed%s\n",
		       c->ao.dry_run ? "dry run: " : "", sum.created, sum.changed, sum.unchanged,
		       sum.removed, sum.draining ? "; removed backends still draining flows" : "");
	config_free(&conf);
	return err ? 1 : 0;
}

/* ---- weights ------------------------------------------------------------------------------ */

struct store_weight {
	const char *name;
	uint16_t bp;
};

static int store_weight(struct store *s, void *arg)
{
	const struct store_weight *w = arg;
	unsigned int old = 0;
	int64_t rev = 0;
	char a[16], b[16];
	int err = fleet_set_weight(s, w->name, w->bp, "canaryctl", &old, &rev);

	if (!err)
		printf("%s: canary weight %s%% -> %s%% in the store (revision %lld); every node "
		       "follows on its next watch event\n",
		       w->name, bp_str(old, a, sizeof(a)), bp_str(w->bp, b, sizeof(b)), (long long)rev);
	return err;
}

static int set_weight(const char *name, uint16_t bp, bool reset_flows)
{
	struct canary_maps m;
	uint16_t old;
	char a[16], b[16];
	int err, lock;

	if (cli_store.url) {
		if (reset_flows)
			return cli_usage_error("--reset-flows works on one node's flow table, not "
					       "through --store");
		return with_store(store_weight, &(struct store_weight){name, bp});
	}
	if (cli_maps_open(&m, &lock))
		return 1;
	err = service_set_weight(&m, name, bp, &old);
	if (!err) {
		printf("%s: canary weight %s%% -> %s%%\n", name, bp_str(old, a, sizeof(a)),
		       bp_str(bp, b, sizeof(b)));
		if (reset_flows) {
			struct service_state s;
			long n = -ENOENT;

			if (service_find(&m, name, &s) == 0)
				n = service_reset_flows(&m, s.info.id, CANARY_ARM_CANARY);
			if (n < 0)
				err = (int)n;
			else
				printf("%s: removed %ld canary flows from the flow table\n", name, n);
		}
	}
	cli_maps_close(&m, lock);
	return err ? 1 : 0;
}

static int cmd_set_weight(void *cfg, int argc, char **argv)
{
	const char *why;
	uint16_t bp;

	if (argc != 2)
		return cli_usage_error("expected SERVICE PERCENT, e.g. 'set-weight web 10'");
	if (percent_to_bp(argv[1], &bp, &why))
		return cli_usage_error("PERCENT '%s' %s (use 0..100, e.g. 10 or 2.5)", argv[1],
				       why);
	return set_weight(argv[0], bp, false);
}

struct rollback_cfg {
	bool reset_flows;
};

static const struct cli_opt rollback_opts[] = {
    {CLI_FLAG, "reset-flows", 'r', CLI_FIELD(struct rollback_cfg, reset_flows),
     .help = "also drop the service's canary flows from the flow table, so their next "
	     "packets go to stable too (breaks them)"},
    {},
};

static int cmd_rollback(void *cfg, int argc, char **argv)
{
	const struct rollback_cfg *c = cfg;

	if (argc != 1)
		return cli_usage_error("expected one SERVICE");
	return set_weight(argv[0], 0, c->reset_flows);
}

/* promote knows --reset-flows only to say where it belongs. */
static int reset_flows_refused(const char *value, void *field)
{
	return cli_usage_error("--reset-flows only applies to rollback");
}

static const struct cli_opt promote_opts[] = {
    {CLI_CUSTOM, "reset-flows", 'r', .parse = reset_flows_refused},
    {},
};

static int cmd_promote(void *cfg, int argc, char **argv)
{
	if (argc != 1)
		return cli_usage_error("expected one SERVICE");
	return set_weight(argv[0], CANARY_WEIGHT_SCALE, false);
}

/* ---- overrides ---------------------------------------------------------------------------- */

static int override_change(struct canary_maps *m, const char *name, const char *prefix,
			   int arm, bool add)
{
	struct service_state s;
	struct override_key k;
	struct override_value v = {.arm = (uint32_t)arm};
	union canary_addr addr;
	int fam, plen;

	if (service_find(m, name, &s))
		return 1;
	fam = prefix_parse(prefix, &addr, &plen);
	if (!fam)
		return cli_usage_error("PREFIX '%s' is not ADDR/LEN (e.g. 10.0.1.128/25)", prefix);
	if (fam != s.key.family)
		return cli_usage_error("PREFIX '%s' is not in the address family of %s's VIP",
				       prefix, name);
	addr_mask(fam, &addr, plen);
	override_key_make(s.info.id, fam, &addr, plen, &k);
	if (add) {
		if (s.cfg.nbackends[arm] == 0) {
			log_error("%s has no %s backends; an override to %s would fall back to "
				  "the other arm",
				  name, arm_name(arm), arm_name(arm));
			return 1;
		}
		if (bpf_map_update_elem(m->overrides, &k, &v, BPF_ANY)) {
			log_error("cannot add the override: %s", strerror(errno));
			return 1;
		}
		/* The data plane only looks overrides up for services flagged to have them. */
		if (!(s.cfg.flags & CANARY_SVC_F_OVERRIDES)) {
			s.cfg.flags |= CANARY_SVC_F_OVERRIDES;
			if (svc_config_publish(m, s.info.id, name, &s.cfg, s.cfg.generation)) {
				log_error("%s changed while the override was added (canaryd may have "
					  "rolled it back); the override is in place but not yet "
					  "active: run the same command again",
					  name);
				return 1;
			}
		}
		printf("%s: clients in %s now go to %s\n", name, prefix, arm_name(arm));
		return 0;
	}
	if (bpf_map_delete_elem(m->overrides, &k)) {
		log_error("%s has no override for %s", name, prefix);
		return 1;
	}
	printf("%s: override for %s removed\n", name, prefix);
	return 0;
}

/* override --arm: where the clients of a prefix go. */
static const struct cli_choice arm_choices[] = {
    {"stable", CANARY_ARM_STABLE},
    {"canary", CANARY_ARM_CANARY},
    {},
};

struct override_cfg {
	int arm;
};

static const struct cli_opt override_opts[] = {
    {CLI_ENUM, "arm", 'a', CLI_FIELD(struct override_cfg, arm), .metavar = "ARM",
     .help = "stable or canary", .choices = arm_choices},
    {},
};

static int cmd_override(void *cfg, int argc, char **argv)
{
	const struct override_cfg *c = cfg;
	struct canary_maps m;
	const char *verb;
	int rc, lock;

	if (argc < 1)
		return cli_usage_error("expected add, del or list");
	verb = argv[0];
	if (!strcmp(verb, "list")) {
		if (argc > 2)
			return cli_usage_error("expected 'override list [SERVICE]'");
		if (cli_maps_open(&m, NULL))
			return 1;
		rc = status_print_overrides(&m, argc == 2 ? argv[1] : NULL);
		cli_maps_close(&m, -1);
		return rc ? 1 : 0;
	}
	if (strcmp(verb, "add") && strcmp(verb, "del"))
		return cli_usage_error("unknown action '%s' (expected add, del or list)", verb);
	if (argc != 3)
		return cli_usage_error("expected 'override %s SERVICE PREFIX%s'", verb,
				       !strcmp(verb, "add") ? " --arm stable|canary" : "");
	if (!strcmp(verb, "add") && c->arm < 0)
		return cli_usage_error("say which arm the clients go to with --arm");
	if (cli_maps_open(&m, &lock))
		return 1;
	rc = override_change(&m, argv[1], argv[2], c->arm, !strcmp(verb, "add"));
	cli_maps_close(&m, lock);
	return rc;
}

/* ---- status ------------------------------------------------------------------------------- */

struct status_cfg {
	bool json, nodes;
	double window; /* --rates: seconds between the two readings; 0: no rates */
};

static const struct cli_opt status_opts[] = {
    {CLI_FLAG, "json", 'j', CLI_FIELD(struct status_cfg, json), .help = "machine-readable output"},
    {CLI_DOUBLE, "rates", 0, CLI_FIELD(struct status_cfg, window), .metavar = "SECONDS",
     .help = "also per-second rates, from two readings SECONDS apart", .def = "1", .dmin = 0.01,
     .dmax = 3600, .optional = true, .bare = 1.0},
    {CLI_FLAG, "nodes", 0, CLI_FIELD(struct status_cfg, nodes),
     .help = "with --store: each node's counters too, under the fleet's totals"},
    {},
};

struct fleet_args {
	const char *svc;
	bool nodes, json;
};

static int store_status(struct store *s, void *arg)
{
	const struct fleet_args *a = arg;

	return fleet_totals_show(s, a->svc, a->nodes, a->json, stdout);
}

static int cmd_status(void *cfg, int argc, char **argv)
{
	const struct status_cfg *c = cfg;
	struct canary_maps m;
	int rc;

	if (argc > 1)
		return cli_usage_error("expected at most one SERVICE");
	if (cli_store.url) {
		if (c->window > 0)
			return cli_usage_error("--rates reads one node's maps; not with --store");
		return with_store(store_status,
				  &(struct fleet_args){argc ? argv[0] : NULL, c->nodes, c->json});
	}
	if (c->nodes)
		return cli_usage_error("--nodes goes with --store");
	if (cli_maps_open(&m, NULL))
		return 1;
	rc = status_show(&m, argc ? argv[0] : NULL, c->json, c->window, stdout);
	cli_maps_close(&m, -1);
	return rc ? 1 : 0;
}

/* ---- explain ------------------------------------------------------------------------------ */

struct explain_cfg {
	const char *src;
	int proto; /* 0: the service's */
	bool json;
};

static const struct cli_opt explain_opts[] = {
    {CLI_STR, "src", 's', CLI_FIELD(struct explain_cfg, src), .metavar = "ADDR:PORT",
     .help = "the client (IPv6 as [addr]:port)"},
    {CLI_ENUM, "proto", 'P', CLI_FIELD(struct explain_cfg, proto), .metavar = "PROTO",
     .help = "tcp or udp (must match the service)",
     .choices = (const struct cli_choice[]){{"tcp", IPPROTO_TCP}, {"udp", IPPROTO_UDP}, {}}},
    {CLI_FLAG, "json", 'j', CLI_FIELD(struct explain_cfg, json), .help = "machine-readable output"},
    {},
};

static int cmd_explain(void *cfg, int argc, char **argv)
{
	const struct explain_cfg *c = cfg;
	struct canary_maps m;
	int rc;

	if (argc != 1)
		return cli_usage_error("expected one SERVICE");
	if (!c->src)
		return cli_usage_error("say which client with --src ADDR:PORT");
	if (cli_maps_open(&m, NULL))
		return 1;
	rc = status_explain(&m, argv[0], c->src, c->proto, c->json, stdout);
	cli_maps_close(&m, -1);
	return rc;
}

static int cmd_sweep(void *cfg, int argc, char **argv)
{
	struct canary_maps m;
	struct sweep_result r;
	int err;

	if (argc > 0)
		return cli_usage_error("unexpected argument '%s'", argv[0]);
	if (cli_maps_open(&m, NULL))
		return 1;
	err = flows_sweep(&m, &r, CANARY_LOCK_WAIT_MS);
	cli_maps_close(&m, -1);
	if (err) {
		log_error("sweep failed: %s", strerror(-err));
		return 1;
	}
	printf("swept %llu flows: %llu expired and removed, %llu of them with an unanswered SYN\n",
	       (unsigned long long)r.scanned, (unsigned long long)r.expired,
	       (unsigned long long)r.unanswered);
	return 0;
}

/* ---- rollouts (through canaryd) --------------------------------------------------------- */

static double jnum(struct json_object *j, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(j, k, &v) ? json_object_get_double(v) : 0;
}

static const char *jstr(struct json_object *j, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(j, k, &v) && v ? json_object_get_string(v) : "";
}

static struct json_object *jget(struct json_object *j, const char *k)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(j, k, &v);
	return v;
}

/* Call the agent; on failure print why and return NULL (exit code in *rc). */
static struct json_object *call(const char *method, const char *path, struct json_object *body,
				int ok_code, int *rc)
{
	struct json_object *reply;
	char err[512];
	long code;

	if (agent_call(&cli_agent, method, path, body, &code, &reply, err, sizeof(err))) {
		log_error("%s", err);
		*rc = 1;
		return NULL;
	}
	if (code != ok_code) {
		const char *msg = agent_error(reply, "unexpected reply");

		/* Plan errors come back as the agent printed them, one per line. */
		if (strstr(msg, ": error: "))
			fputs(msg, stderr);
		else
			log_error("%s", msg);
		json_object_put(reply);
		*rc = code == 404 ? 2 : 1;
		return NULL;
	}
	*rc = 0;
	return reply;
}

static bool phase_ended(const char *phase)
{
	return !strcmp(phase, "Succeeded") || !strcmp(phase, "RolledBack") ||
	       !strcmp(phase, "Aborted");
}

static void print_rollout(struct json_object *j, FILE *f)
{
	struct json_object *arms = jget(j, "arms"), *ev = jget(j, "evidence"), *ms = jget(j, "metrics");
	struct json_object *share = jget(j, "measured_share");
	size_t i;
	int arm;

	fprintf(f, "%s: %s, step %d/%d at %g%%", jstr(j, "service"), jstr(j, "phase"),
		(int)jnum(j, "step"), (int)jnum(j, "steps"), jnum(j, "canary_weight"));
	if (share)
		fprintf(f, " (measured %.2f%% of new flows this step)", json_object_get_double(share));
	fprintf(f, "\n  %s\n", jstr(j, "reason"));
	fprintf(f, "  in step %.0fs; hold %.1f of %gs (runs while the canary gets traffic); canary "
		   "flows %d of %d\n",
		jnum(j, "time_in_step_s"), jnum(j, "hold_accrued_s"), jnum(j, "hold_s"),
		(int)jnum(j, "step_canary_flows"), (int)jnum(j, "min_flows"));
	fprintf(f, "  %-7s %10s %10s %10s %12s %8s %10s\n", "arm", "flows/s", "pkt/s", "req/s",
		"errored/s", "5xx/s", "resets/s");
	for (arm = 0; arm < 2; arm++) {
		struct json_object *a = jget(arms, arm ? "canary" : "stable"), *r = jget(a, "rates");

		fprintf(f, "  %-7s %10.1f %10.1f %10.1f %12.2f %8.2f %10.2f\n", arm ? "canary" : "stable",
			jnum(r, "flows_per_s"), jnum(r, "packets_per_s"), jnum(r, "requests_per_s"),
			jnum(r, "errored_flows_per_s"), jnum(r, "http_5xx_per_s"),
			jnum(r, "backend_resets_per_s"));
	}
	fprintf(f, "  evidence against the canary (rolls back when E reaches the threshold):\n");
	for (i = 0; ev && i < json_object_array_length(ev); i++) {
		struct json_object *e = json_object_array_get_idx(ev, i);
		struct json_object *c = jget(e, "canary"), *st = jget(e, "stable");

		fprintf(f, "    %-16s E=%-10.3g threshold %-6g canary %6d/%-8d stable %6d/%-8d %s\n",
			jstr(e, "signal"), jnum(e, "e_value"), jnum(e, "threshold"),
			(int)jnum(c, "events"), (int)jnum(c, "exposure"), (int)jnum(st, "events"),
			(int)jnum(st, "exposure"), jstr(e, "verdict"));
	}
	if (jget(j, "srm"))
		fprintf(f, "  sample-ratio mismatch guard%s: %s\n",
			json_object_get_boolean(jget(jget(j, "srm"), "mismatch")) ? " (HOLDING)"
										  : "",
			jstr(jget(j, "srm"), "summary"));
	for (i = 0; ms && i < json_object_array_length(ms); i++) {
		struct json_object *m = json_object_array_get_idx(ms, i);
		struct json_object *st = jget(m, "stable"), *c = jget(m, "canary");

		fprintf(f, "    metric %-9s stable %.4f (%d/%d)  canary %.4f (%d/%d)  from %s%s%s\n",
			jstr(m, "name"), jnum(st, "rate"), (int)jnum(st, "successes"),
			(int)jnum(st, "trials"), jnum(c, "rate"), (int)jnum(c, "successes"),
			(int)jnum(c, "trials"), jstr(m, "source"),
			jnum(m, "consecutive_errors") ? ", errors: " : "", jstr(m, "last_error"));
	}
}

static int rollout_start(const char *svc, const char *file)
{
	struct json_object *body, *reply;
	char abspath[PATH_MAX], *text = NULL;
	struct plan p;
	size_t tlen;
	int rc;

	/* Read the plan once: validate that text here (so errors name the file the user
	 * wrote), then send the same text to canaryd. */
	rc = file_read_all(file, PLAN_MAX_BYTES, &text, &tlen);
	if (rc) {
		if (rc == -EFBIG)
			log_error("%s: the plan is longer than %d bytes", file, PLAN_MAX_BYTES);
		else
			log_error("cannot read %s: %s", file, strerror(-rc));
		return 1;
	}
	if (plan_parse_text(text, tlen, file, &p, NULL)) {
		free(text);
		return 1;
	}
	if (strcmp(p.service, svc)) {
		log_error("%s is a plan for service '%s', not '%s'", file, p.service, svc);
		free(text);
		return 1;
	}
	if (!realpath(file, abspath))
		snprintf(abspath, sizeof(abspath), "%s", file);
	body = json_object_new_object();
	json_object_object_add(body, "plan_text", json_object_new_string_len(text, (int)tlen));
	json_object_object_add(body, "plan_file", json_object_new_string(abspath));
	free(text);
	{
		char path[128];

		snprintf(path, sizeof(path), "/api/v1/rollouts/%s", svc);
		reply = call("POST", path, body, 201, &rc);
	}
	json_object_put(body);
	if (!reply)
		return rc;
	printf("%s: rollout started: step 1/%d at %g%%\n", svc, (int)jnum(reply, "steps"),
	       jnum(reply, "canary_weight"));
	json_object_put(reply);
	return 0;
}

static int rollout_status(const char *svc, bool json, bool wait, double timeout)
{
	char path[128];
	struct json_object *reply;
	uint64_t t0 = now_ns();
	int rc;

	snprintf(path, sizeof(path), "/api/v1/rollouts/%s", svc);
	for (;;) {
		reply = call("GET", path, NULL, 200, &rc);
		if (!reply)
			return rc;
		if (!wait || phase_ended(jstr(reply, "phase")))
			break;
		if (timeout > 0 && (now_ns() - t0) / 1e9 >= timeout) {
			print_rollout(reply, stdout);
			json_object_put(reply);
			log_error("%s: the rollout did not end within %gs", svc, timeout);
			return 3;
		}
		json_object_put(reply);
		sleep(1);
	}
	if (json)
		printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY));
	else
		print_rollout(reply, stdout);
	rc = wait && strcmp(jstr(reply, "phase"), "Succeeded") ? 1 : 0;
	json_object_put(reply);
	return rc;
}

static int rollout_command(const char *svc, const char *cmd, bool full)
{
	char path[128];
	struct json_object *body = json_object_new_object(), *reply;
	int rc;

	snprintf(path, sizeof(path), "/api/v1/rollouts/%s/%s", svc, cmd);
	if (full)
		json_object_object_add(body, "full", json_object_new_boolean(1));
	reply = call("POST", path, body, 200, &rc);
	json_object_put(body);
	if (!reply)
		return rc;
	printf("%s: %s: %s\n", svc, jstr(reply, "phase"), jstr(reply, "reason"));
	json_object_put(reply);
	return 0;
}

struct rollout_cfg {
	const char *plan;
	bool full, json, wait;
	double timeout; /* 0: none */
};

static const struct cli_opt rollout_opts[] = {
    {CLI_STR, "plan", 'f', CLI_FIELD(struct rollout_cfg, plan), .metavar = "FILE",
     .help = "the plan, for start"},
    {CLI_FLAG, "full", 0, CLI_FIELD(struct rollout_cfg, full),
     .help = "with promote: straight to 100%"},
    {CLI_FLAG, "json", 'j', CLI_FIELD(struct rollout_cfg, json),
     .help = "with status: machine-readable output"},
    {CLI_FLAG, "wait", 0, CLI_FIELD(struct rollout_cfg, wait),
     .help = "with status: block until the rollout ends"},
    {CLI_DOUBLE, "timeout", 't', CLI_FIELD(struct rollout_cfg, timeout), .metavar = "S",
     .help = "with --wait: give up after S seconds (exit 3)", .dmin = 0.001, .dmax = INFINITY},
    {},
};

/* Which options go with which action. Returns 0 or EXIT_USAGE after saying why. */
static int rollout_check(const struct rollout_cfg *c, const char *verb, const char *svc)
{
	if (!service_name_valid(svc))
		return cli_usage_error("'%s' is not a service name", svc);
	if (c->plan && strcmp(verb, "start"))
		return cli_usage_error("--plan only goes with 'rollout start'");
	if (c->full && strcmp(verb, "promote"))
		return cli_usage_error("--full only goes with 'rollout promote'");
	if ((c->wait || c->json || c->timeout) && strcmp(verb, "status"))
		return cli_usage_error("--json, --wait and --timeout go with 'rollout status'");
	if (c->timeout && !c->wait)
		return cli_usage_error("--timeout goes with --wait");
	if (!strcmp(verb, "start") && !c->plan)
		return cli_usage_error("say which plan with --plan FILE");
	return 0;
}

static int cmd_rollout(void *cfg, int argc, char **argv)
{
	const struct rollout_cfg *c = cfg;
	const char *verb, *svc;
	int rc;

	if (argc != 2)
		return cli_usage_error(
		    "expected an action and a SERVICE, e.g. 'rollout status web'");
	verb = argv[0];
	svc = argv[1];
	rc = rollout_check(c, verb, svc);
	if (rc)
		return rc;
	if (!strcmp(verb, "start"))
		return rollout_start(svc, c->plan);
	if (!strcmp(verb, "status"))
		return rollout_status(svc, c->json, c->wait, c->timeout);
	if (!strcmp(verb, "pause") || !strcmp(verb, "resume") || !strcmp(verb, "abort") ||
	    !strcmp(verb, "promote"))
		return rollout_command(svc, verb, c->full);
	return cli_usage_error("unknown action '%s' (start, status, pause, resume, abort, promote)",
			       verb);
}

struct json_cfg {
	bool json;
};

static const struct cli_opt history_opts[] = {
    {CLI_FLAG, "json", 'j', CLI_FIELD(struct json_cfg, json), .help = "machine-readable output"},
    {},
};

static void print_history(struct json_object *reply, const char *svc)
{
	size_t i;

	if (!json_object_array_length(reply))
		printf("no weight changes recorded for %s\n", svc);
	for (i = 0; i < json_object_array_length(reply); i++) {
		struct json_object *e = json_object_array_get_idx(reply, i);
		char from[24], to[24];

		snprintf(from, sizeof(from), "%g%%", jnum(e, "old_weight"));
		snprintf(to, sizeof(to), "%g%%", jnum(e, "new_weight"));
		printf("%s  %7s -> %-7s %-13s step %d/%d  %s: %s\n    evidence: %s\n",
		       jstr(e, "time"), from, to, jstr(e, "reason"), (int)jnum(e, "step"),
		       (int)jnum(e, "steps"), jstr(e, "phase"), jstr(e, "detail"),
		       jstr(e, "evidence"));
	}
}

static int cmd_history(void *cfg, int argc, char **argv)
{
	const struct json_cfg *c = cfg;
	struct json_object *reply;
	char path[128];
	int rc;

	if (argc != 1)
		return cli_usage_error("expected one SERVICE");
	snprintf(path, sizeof(path), "/api/v1/rollouts/%s/history", argv[0]);
	reply = call("GET", path, NULL, 200, &rc);
	if (!reply)
		return rc;
	if (c->json)
		printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY));
	else
		print_history(reply, argv[0]);
	json_object_put(reply);
	return 0;
}

struct watch_cfg {
	double interval;
	uint64_t count; /* 0: until Ctrl-C */
};

static const struct watch_cfg watch_defaults = {.interval = 1};

static const struct cli_opt watch_opts[] = {
    {CLI_DOUBLE, "interval", 'i', CLI_FIELD(struct watch_cfg, interval), .metavar = "S",
     .help = "seconds between frames", .dmin = 0.1, .dmax = 3600},
    {CLI_UINT, "count", 'n', CLI_FIELD(struct watch_cfg, count), .metavar = "N",
     .help = "stop after N frames (default: at Ctrl-C)", .min = 1},
    {},
};

/* One frame of watch into f: the data plane's view (needs the pins), then the rollouts
 * (needs canaryd). status_show spends the interval measuring rates, unless it fails
 * early. */
static void watch_frame(const char *svc, double interval, FILE *f)
{
	struct json_object *reply = NULL;
	struct canary_maps m;
	char err[512];
	long code;
	size_t i;

	if (cli_maps_open(&m, NULL) == 0) {
		status_show(&m, svc, false, interval, f);
		cli_maps_close(&m, -1);
	}
	if (agent_call(&cli_agent, "GET", "/api/v1/rollouts", NULL, &code, &reply, err,
		       sizeof(err)))
		fprintf(f, "\n(no rollouts: %s)\n", err);
	for (i = 0; reply && code == 200 && i < json_object_array_length(reply); i++) {
		struct json_object *r = json_object_array_get_idx(reply, i);

		if (svc && strcmp(jstr(r, "service"), svc))
			continue;
		fputc('\n', f);
		print_rollout(r, f);
	}
	json_object_put(reply);
}

static int cmd_watch(void *cfg, int argc, char **argv)
{
	const struct watch_cfg *c = cfg;
	uint64_t count = c->count;

	if (argc > 1)
		return cli_usage_error("expected at most one SERVICE");
	for (;;) {
		char *buf = NULL;
		size_t blen = 0;
		FILE *f = open_memstream(&buf, &blen);
		uint64_t t0 = now_ns(), spent;

		if (!f)
			return 1;
		watch_frame(argc ? argv[0] : NULL, c->interval, f);
		fclose(f);
		/* Clear the screen and draw the frame at once, like top. */
		printf("\033[H\033[2J%s", buf ? buf : "");
		fflush(stdout);
		free(buf);
		if (count && --count == 0)
			break;
		/* One frame per interval, however long this one took. */
		spent = now_ns() - t0;
		if (spent < (uint64_t)(c->interval * 1e9))
			usleep((useconds_t)(((uint64_t)(c->interval * 1e9) - spent) / 1000));
	}
	return 0;
}

struct plan_cfg {
	bool dry_run; /* what plan does anyway */
	double rate, base_error, regression;
	uint64_t rollouts, seed;
};

static const struct plan_cfg plan_defaults = {
    .base_error = 1, .regression = 2, .rollouts = 2000, .seed = 1};

static const struct cli_opt plan_opts[] = {
    {CLI_FLAG, "dry-run", 'n', CLI_FIELD(struct plan_cfg, dry_run),
     .help = "validate and print, change nothing (plan never changes anything)"},
    {CLI_DOUBLE, "rate", 'r', CLI_FIELD(struct plan_cfg, rate), .metavar = "RPS",
     .help = "also forecast, by simulation, the plan's duration and harm at RPS requests "
	     "per second (one request per new flow)",
     .dmin = 0.01, .dmax = 1e7},
    {CLI_DOUBLE, "base-error", 0, CLI_FIELD(struct plan_cfg, base_error), .metavar = "PCT",
     .help = "the forecast's stable error rate, in percent", .def = "1", .dmin = 0.001,
     .dmax = 50},
    {CLI_DOUBLE, "regression", 0, CLI_FIELD(struct plan_cfg, regression), .metavar = "X",
     .help = "the forecast's bad canary: X times stable's error rate", .def = "2",
     .dmin = 1.01, .dmax = 1000},
    {CLI_UINT, "rollouts", 0, CLI_FIELD(struct plan_cfg, rollouts), .metavar = "N",
     .help = "simulated rollouts per forecast scenario", .def = "2000", .min = 100,
     .max = 1000000},
    {CLI_UINT, "seed", 0, CLI_FIELD(struct plan_cfg, seed), .metavar = "N",
     .help = "the forecast's random seed (the same seed gives the same figures)", .def = "1",
     .max = UINT64_MAX},
    {},
};

/* The simulator on the plan's own schedule and test (logic/forecast). */
static int plan_forecast(const struct plan *p, const struct plan_cfg *c)
{
	long nproc = sysconf(_SC_NPROCESSORS_ONLN);
	struct forecast_opts o = {.rate = c->rate,
				  .base_error = c->base_error / 100,
				  .regression = c->regression,
				  .rollouts = c->rollouts,
				  .seed = c->seed,
				  .threads = nproc > 0 ? (unsigned)nproc : 1};
	struct forecast fc;
	char why[200];
	int rc = 0;

	if (forecast_run(p, &o, &fc, why, sizeof(why))) {
		fprintf(stderr, "canaryctl plan: %s: no forecast: %s\n", p->file, why);
		rc = 1;
	} else {
		forecast_print(&fc, &o, stdout);
	}
	forecast_free(&fc);
	return rc;
}

static int cmd_plan(void *cfg, int argc, char **argv)
{
	const struct plan_cfg *c = cfg;
	struct plan p;

	if (argc != 1)
		return cli_usage_error("expected one plan FILE");
	if (plan_load(argv[0], &p))
		return 1;
	plan_print_schedule(&p, stdout);
	return c->rate > 0 ? plan_forecast(&p, c) : 0;
}

struct metric_cfg {
	const char *arm, *name;
	uint64_t successes, trials;
	bool have_successes, have_trials;
};

static const struct cli_opt metric_opts[] = {
    {CLI_STR, "arm", 0, CLI_FIELD(struct metric_cfg, arm), .metavar = "ARM",
     .help = "stable or canary"},
    {CLI_STR, "name", 0, CLI_FIELD(struct metric_cfg, name), .metavar = "NAME",
     .help = "the metric, as the plan names it"},
    {CLI_UINT, "successes", 0, CLI_FIELD(struct metric_cfg, successes), .metavar = "S",
     .help = "successes since the last push", .max = INT64_MAX,
     CLI_GIVEN(struct metric_cfg, have_successes)},
    {CLI_UINT, "trials", 0, CLI_FIELD(struct metric_cfg, trials), .metavar = "T",
     .help = "trials since the last push", .max = INT64_MAX,
     CLI_GIVEN(struct metric_cfg, have_trials)},
    {},
};

static int cmd_metric(void *cfg, int argc, char **argv)
{
	const struct metric_cfg *c = cfg;
	struct json_object *body, *reply;
	int rc;

	if (argc != 2 || strcmp(argv[0], "push"))
		return cli_usage_error("expected 'metric push SERVICE --arm ARM --name NAME "
				       "--successes S --trials T'");
	if (!c->arm || (strcmp(c->arm, "stable") && strcmp(c->arm, "canary")))
		return cli_usage_error("--arm must be stable or canary");
	if (!c->name || !c->have_successes || !c->have_trials)
		return cli_usage_error("--name, --successes and --trials are all needed");
	if (c->successes > c->trials)
		return cli_usage_error("--successes (%llu) cannot exceed --trials (%llu)",
				       (unsigned long long)c->successes,
				       (unsigned long long)c->trials);
	body = json_object_new_object();
	json_object_object_add(body, "service", json_object_new_string(argv[1]));
	json_object_object_add(body, "arm", json_object_new_string(c->arm));
	json_object_object_add(body, "name", json_object_new_string(c->name));
	json_object_object_add(body, "successes", json_object_new_int64((int64_t)c->successes));
	json_object_object_add(body, "trials", json_object_new_int64((int64_t)c->trials));
	reply = call("POST", "/api/v1/metrics", body, 200, &rc);
	json_object_put(body);
	json_object_put(reply);
	return rc;
}

/* ---- fleet (the store) -------------------------------------------------------------------- */

struct fleet_cfg {
	bool json;
};

static const struct cli_opt fleet_opts[] = {
    {CLI_FLAG, "json", 'j', CLI_FIELD(struct fleet_cfg, json), .help = "machine-readable output"},
    {},
};

static int store_fleet_status(struct store *s, void *arg)
{
	return fleet_status_show(s, *(const bool *)arg, stdout);
}

static int cmd_fleet(void *cfg, int argc, char **argv)
{
	const struct fleet_cfg *c = cfg;

	if (argc != 1 || strcmp(argv[0], "status"))
		return cli_usage_error("expected 'fleet status --store URL [--json]'");
	if (!cli_store.url)
		return cli_usage_error("name the store with --store etcd://HOST:PORT");
	return with_store(store_fleet_status, (void *)&c->json);
}

/* A command's own options and the settings struct they fill. */
#define OPTS(table, type) .opts = table, .cfg_size = sizeof(type)

static const struct cli_cmd cmds[] = {
    {"apply", cmd_apply, "apply a services file (YAML)",
     "apply -f FILE [--dry-run] [--prune] [--pin-root DIR]\n"
     "       canaryctl apply -f FILE --store URL [--dry-run]\n"
     "Validate the whole file, then make the maps match it. Applying the same file\n"
     "twice changes nothing. Services in the maps but not in the file are kept unless\n"
     "--prune is given. With --store the file goes to the fleet's store instead, with\n"
     "the services' salts, in one transaction (nothing is written on any error); every\n"
     "node's canaryd --store applies it.\n",
     OPTS(apply_opts, struct apply_cfg), .blocks = PINS_STORE},
    {"set-weight", cmd_set_weight, "set a service's canary weight in percent",
     "set-weight SERVICE PERCENT [--pin-root DIR | --store URL]\n"
     "PERCENT is 0..100 with up to two decimals. New flows follow the new weight at once;\n"
     "established flows keep their arm. With --store the weight goes to the store\n"
     "(weights/SERVICE) and every node follows.\n",
     .blocks = PINS_STORE},
    {"rollback", cmd_rollback, "send every new flow to stable (weight 0)",
     "rollback SERVICE [--reset-flows] [--pin-root DIR | --store URL]\n",
     OPTS(rollback_opts, struct rollback_cfg), .blocks = PINS_STORE},
    {"promote", cmd_promote, "send every new flow to canary (weight 100)",
     "promote SERVICE [--pin-root DIR | --store URL]\n", .opts = promote_opts,
     .blocks = PINS_STORE},
    {"override", cmd_override, "pin client groups (source prefixes) to an arm",
     "override add SERVICE PREFIX --arm stable|canary\n"
     "       canaryctl override del SERVICE PREFIX\n"
     "       canaryctl override list [SERVICE]\n"
     "Overrides are also set by 'apply' (a service's overrides: list); an apply makes\n"
     "the service's overrides match its file again.\n",
     OPTS(override_opts, struct override_cfg), .defaults = &(const struct override_cfg){-1},
     .blocks = PINS},
    {"status", cmd_status, "show weights, backends and per-arm counters",
     "status [SERVICE] [--json] [--rates[=SECONDS]] [--pin-root DIR]\n"
     "       canaryctl status [SERVICE] --store URL [--nodes] [--json]\n"
     "Per arm: traffic, health (error ratios with Wilson 95% intervals, TTFB and\n"
     "handshake p50/p90/p99) and per-backend counters. With --store: the fleet's\n"
     "totals per arm, summed from the nodes' reports, and with --nodes each node's.\n",
     OPTS(status_opts, struct status_cfg), .blocks = PINS_STORE},
    {"rollout", cmd_rollout, "start and steer a progressive rollout (through canaryd)",
     "rollout start SERVICE --plan FILE\n"
     "       canaryctl rollout status SERVICE [--json] [--wait [--timeout S]]\n"
     "       canaryctl rollout pause|resume|abort SERVICE\n"
     "       canaryctl rollout promote SERVICE [--full]\n"
     "The plan is validated here and in canaryd. status shows the step, the set and\n"
     "measured share, per-arm rates, and each signal's evidence against its threshold;\n"
     "with --wait it blocks until the rollout ends and exits 0 only for Succeeded (1 for\n"
     "RolledBack/Aborted, 3 on --timeout). promote passes a gate or the current step;\n"
     "--full goes straight to 100%.\n",
     OPTS(rollout_opts, struct rollout_cfg), .blocks = AGENT},
    {"history", cmd_history, "list a service's weight changes and why",
     "history SERVICE [--json]\n"
     "Every weight change canaryd made or saw: time, old -> new, reason (start, step,\n"
     "promote, auto-rollback, abort, manual) and the evidence at that moment.\n",
     OPTS(history_opts, struct json_cfg), .blocks = AGENT},
    {"watch", cmd_watch, "live view of arms, rates, errors and evidence",
     "watch [SERVICE] [--interval S] [--count N]\n"
     "Redraws every interval until Ctrl-C (or N times).\n",
     OPTS(watch_opts, struct watch_cfg), .defaults = &watch_defaults, .blocks = AGENT_PINS},
    {"plan", cmd_plan, "validate a rollout plan and print its schedule",
     "plan --dry-run FILE [--rate RPS [--base-error PCT] [--regression X]]\n"
     "Validates the plan and prints its steps, analysis, and fastest and slowest\n"
     "durations. With --rate, also simulates the plan (its steps, holds, minimum\n"
     "flows, early promotion and error test) at that traffic: the time a healthy\n"
     "canary takes to reach 100%, its false-rollback rate, and for a canary with X\n"
     "times the errors, how soon it is rolled back and how many canary requests saw\n"
     "the regression first. Changes nothing.\n",
     OPTS(plan_opts, struct plan_cfg), .defaults = &plan_defaults},
    {"metric", cmd_metric, "push business-metric counts for a running rollout",
     "metric push SERVICE --arm stable|canary --name NAME --successes S --trials T\n"
     "Adds S successes out of T trials (since the last push) to the arm's counts of a\n"
     "metric the rollout's plan lists with 'source: push'. The same as POST\n"
     "/api/v1/metrics on canaryd.\n",
     OPTS(metric_opts, struct metric_cfg), .blocks = AGENT},
    {"sweep", cmd_sweep, "remove expired flows; count unanswered SYNs",
     "sweep [--pin-root DIR]\n"
     "One pass of the flow-table sweeper that canaryd runs every interval: removes\n"
     "entries idle for longer than their state's timeout and counts the flows that\n"
     "leave with their SYN never answered (syn_unanswered).\n",
     .blocks = PINS},
    {"fleet", cmd_fleet, "list the fleet's nodes and their applied config (--store)",
     "fleet status --store URL [--json]\n"
     "Every node that reports to the store (its report lives under a lease: a node\n"
     "that stopped drops out when the lease ends), the config revision it applied,\n"
     "how far that is behind the desired one, how long ago it reported, its health.\n",
     OPTS(fleet_opts, struct fleet_cfg), .blocks = STORE},
    {"explain", cmd_explain, "say which arm and backend a new flow would get",
     "explain SERVICE --src ADDR:PORT [--proto tcp|udp] [--json] [--pin-root DIR]\n"
     "Computes the decision with the data plane's own hashing code, and reports an\n"
     "existing flow-table entry for the tuple if there is one.\n",
     OPTS(explain_opts, struct explain_cfg), .blocks = PINS},
    {},
};

int main(int argc, char **argv)
{
	struct cli c = {
		.prog = "canaryctl",
		.version = "0.1",
		.intro = "Configure and inspect the xdp-canary splitter through its pinned maps.",
		.cmds = cmds,
	};

	cli_agent_from_env();
	return cli_main(&c, argc, argv);
}
