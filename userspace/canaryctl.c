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
#include "logic/plan.h"
#include "logic/salts.h"
#include "maps/apply.h"
#include "maps/pins.h"
#include "maps/service.h"
#include "maps/stats.h"
#include "maps/sweep.h"
#include "present/status.h"

static const char *pin_root = CANARY_DEFAULT_PIN_ROOT;
static struct agent_target agent = {.socket = CANARY_DEFAULT_SOCKET};

/* The options that say where canaryd is, shared by every command that talks to it. */
#define AGENT_OPTS                                                                             \
	{"agent", required_argument, NULL, 'a'}, {"socket", required_argument, NULL, 'S'},     \
		{"token-file", required_argument, NULL, 'T'},                                  \
		{"cacert", required_argument, NULL, 'C'}

/* Handle one of AGENT_OPTS; false when opt is none of them. */
static bool agent_option(int opt, const char *arg)
{
	switch (opt) {
	case 'a':
		agent.tcp = arg;
		return true;
	case 'S':
		agent.socket = arg;
		return true;
	case 'T':
		agent.token_file = arg;
		return true;
	case 'C':
		agent.cacert = arg;
		return true;
	default:
		return false;
	}
}

#define PIN_ROOT_HELP "  -p, --pin-root DIR      pin root (default " CANARY_DEFAULT_PIN_ROOT ")\n"

static int open_maps(struct canary_maps *m)
{
	if (geteuid() != 0) {
		log_error("%s %s needs root to read the pinned maps; run it with sudo",
			  cli_current->prog, cli_current->cmd);
		return -EPERM;
	}
	return canary_maps_open(m, pin_root);
}

/* open_maps plus the writers' lock of the pin root, for a command that reads, changes
 * and publishes service state. Returns 0, or -1 after saying why (nothing held). */
static int open_maps_locked(struct canary_maps *m, int *lock)
{
	if (open_maps(m))
		return -1;
	*lock = canary_lock(pin_root, CANARY_LOCK_WAIT_MS);
	if (*lock < 0) {
		canary_maps_close(m);
		return -1;
	}
	return 0;
}

static void close_maps_locked(struct canary_maps *m, int lock)
{
	canary_unlock(lock);
	canary_maps_close(m);
}

/* Commands that take only --pin-root and --help besides positional arguments. */
static int simple_opts(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pin-root", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	int opt;

	while ((opt = cli_getopt(argc, argv, "p:h", opts)) != -1) {
		if (opt == 'p')
			pin_root = optarg;
		else if (opt == 'h')
			return 'h';
		else
			return '?';
	}
	return 0;
}

/* ---- apply -------------------------------------------------------------------------------- */

static int cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},	 {"prune", no_argument, NULL, 'P'},
		{"dry-run", no_argument, NULL, 'n'},	 {"pin-root", required_argument, NULL, 'p'},
		{"salt-file", required_argument, NULL, 'S'}, {"help", no_argument, NULL, 'h'},
		{},
	};
	struct apply_opts ao = {.out = stdout};
	char salts[PATH_MAX];
	const char *salt_file = getenv("CANARY_SALT_FILE");
	struct apply_summary sum;
	struct canary_config cfg;
	struct canary_maps m;
	const char *file = NULL;
	int opt, err, lock;

	while ((opt = cli_getopt(argc, argv, "f:np:h", opts)) != -1) {
		switch (opt) {
		case 'f':
			file = optarg;
			break;
		case 'P':
			ao.prune = true;
			break;
		case 'n':
			ao.dry_run = true;
			break;
		case 'p':
			pin_root = optarg;
			break;
		case 'S':
			salt_file = optarg;
			break;
		case 'h':
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (!salt_file) {
		salts_default_path(pin_root, salts, sizeof(salts));
		salt_file = salts;
	}
	ao.salt_file = salt_file;
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s' (the file goes after -f)",
				       argv[optind]);
	if (!file)
		return cli_usage_error("name the services file with -f FILE");

	/* Validate the whole file before looking at (let alone touching) any map. */
	if (config_load(file, &cfg))
		return 1;
	if (open_maps_locked(&m, &lock)) {
		config_free(&cfg);
		return 1;
	}
	err = config_apply(&m, &cfg, &ao, &sum);
	close_maps_locked(&m, lock);
	if (!err)
		printf("%s%u created, %u changed, %u unchanged, %u removed%s\n",
		       ao.dry_run ? "dry run: " : "", sum.created, sum.changed, sum.unchanged,
		       sum.removed,
		       sum.draining ? "; removed backends still draining flows" : "");
	config_free(&cfg);
	return err ? 1 : 0;
}

/* ---- weights ------------------------------------------------------------------------------ */

static int set_weight(const char *name, uint16_t bp, bool reset_flows)
{
	struct canary_maps m;
	uint16_t old;
	char a[16], b[16];
	int err, lock;

	if (open_maps_locked(&m, &lock))
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
	close_maps_locked(&m, lock);
	return err ? 1 : 0;
}

static int cmd_set_weight(int argc, char **argv)
{
	const char *why;
	uint16_t bp;
	int rc = simple_opts(argc, argv);

	if (rc)
		return rc == 'h' ? 0 : EXIT_USAGE;
	if (argc - optind != 2)
		return cli_usage_error("expected SERVICE PERCENT, e.g. 'set-weight web 10'");
	if (percent_to_bp(argv[optind + 1], &bp, &why))
		return cli_usage_error("PERCENT '%s' %s (use 0..100, e.g. 10 or 2.5)",
				       argv[optind + 1], why);
	return set_weight(argv[optind], bp, false);
}

static int weight_cmd(int argc, char **argv, uint16_t bp)
{
	static const struct option opts[] = {
		{"reset-flows", no_argument, NULL, 'r'},
		{"pin-root", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	bool reset = false;
	int opt;

	while ((opt = cli_getopt(argc, argv, "rp:h", opts)) != -1) {
		if (opt == 'r' && bp == 0)
			reset = true;
		else if (opt == 'p')
			pin_root = optarg;
		else if (opt == 'h')
			return 0;
		else if (opt == 'r')
			return cli_usage_error("--reset-flows only applies to rollback");
		else
			return EXIT_USAGE;
	}
	if (argc - optind != 1)
		return cli_usage_error("expected one SERVICE");
	return set_weight(argv[optind], bp, reset);
}

static int cmd_rollback(int argc, char **argv)
{
	return weight_cmd(argc, argv, 0);
}

static int cmd_promote(int argc, char **argv)
{
	return weight_cmd(argc, argv, CANARY_WEIGHT_SCALE);
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

static int cmd_override(int argc, char **argv)
{
	static const struct option opts[] = {
		{"arm", required_argument, NULL, 'a'},
		{"pin-root", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct canary_maps m;
	int opt, arm = -1, rc, lock;
	const char *verb;

	while ((opt = cli_getopt(argc, argv, "a:p:h", opts)) != -1) {
		switch (opt) {
		case 'a':
			if (!strcmp(optarg, "canary"))
				arm = CANARY_ARM_CANARY;
			else if (!strcmp(optarg, "stable"))
				arm = CANARY_ARM_STABLE;
			else
				return cli_usage_error("--arm '%s' must be stable or canary", optarg);
			break;
		case 'p':
			pin_root = optarg;
			break;
		case 'h':
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("expected add, del or list");
	verb = argv[optind];
	if (!strcmp(verb, "list")) {
		if (argc - optind > 2)
			return cli_usage_error("expected 'override list [SERVICE]'");
		if (open_maps(&m))
			return 1;
		rc = status_print_overrides(&m, argc - optind == 2 ? argv[optind + 1] : NULL);
		canary_maps_close(&m);
		return rc ? 1 : 0;
	}
	if (strcmp(verb, "add") && strcmp(verb, "del"))
		return cli_usage_error("unknown action '%s' (expected add, del or list)", verb);
	if (argc - optind != 3)
		return cli_usage_error("expected 'override %s SERVICE PREFIX%s'", verb,
				       !strcmp(verb, "add") ? " --arm stable|canary" : "");
	if (!strcmp(verb, "add") && arm < 0)
		return cli_usage_error("say which arm the clients go to with --arm");
	if (open_maps_locked(&m, &lock))
		return 1;
	rc = override_change(&m, argv[optind + 1], argv[optind + 2], arm, !strcmp(verb, "add"));
	close_maps_locked(&m, lock);
	return rc;
}

/* ---- status ------------------------------------------------------------------------------- */

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"rates", optional_argument, NULL, 'r'},
		{"pin-root", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct canary_maps m;
	bool json = false;
	double window = 0;
	int opt, rc;

	while ((opt = cli_getopt(argc, argv, "jp:h", opts)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'r':
			window = 1.0;
			if (optarg && cli_parse_double("--rates", optarg, 0.01, 3600, &window))
				return EXIT_USAGE;
			break;
		case 'p':
			pin_root = optarg;
			break;
		case 'h':
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("expected at most one SERVICE");
	if (open_maps(&m))
		return 1;
	rc = status_show(&m, optind < argc ? argv[optind] : NULL, json, window, stdout);
	canary_maps_close(&m);
	return rc ? 1 : 0;
}

/* ---- explain ------------------------------------------------------------------------------ */

static int cmd_explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{"src", required_argument, NULL, 's'},	 {"proto", required_argument, NULL, 'P'},
		{"json", no_argument, NULL, 'j'},	 {"pin-root", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},	 {},
	};
	const char *src = NULL;
	int proto = 0, opt, rc;
	bool json = false;
	struct canary_maps m;

	while ((opt = cli_getopt(argc, argv, "s:P:jp:h", opts)) != -1) {
		switch (opt) {
		case 's':
			src = optarg;
			break;
		case 'P':
			if (!strcmp(optarg, "tcp"))
				proto = IPPROTO_TCP;
			else if (!strcmp(optarg, "udp"))
				proto = IPPROTO_UDP;
			else
				return cli_usage_error("--proto '%s' must be tcp or udp", optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'p':
			pin_root = optarg;
			break;
		case 'h':
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("expected one SERVICE");
	if (!src)
		return cli_usage_error("say which client with --src ADDR:PORT");
	if (open_maps(&m))
		return 1;
	rc = status_explain(&m, argv[optind], src, proto, json, stdout);
	canary_maps_close(&m);
	return rc;
}

static int cmd_sweep(int argc, char **argv)
{
	struct canary_maps m;
	struct sweep_result r;
	int rc = simple_opts(argc, argv), err;

	if (rc)
		return rc == 'h' ? 0 : EXIT_USAGE;
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (open_maps(&m))
		return 1;
	err = flows_sweep(&m, &r, CANARY_LOCK_WAIT_MS);
	canary_maps_close(&m);
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

#define AGENT_HELP                                                                             \
	"      --socket PATH       canaryd's Unix socket, for changes (default\n"                  \
	"                          " CANARY_DEFAULT_SOCKET ", or $CANARY_SOCKET); reads that\n"  \
	"                          cannot use it ask " CANARY_DEFAULT_LISTEN "\n"                \
	"      --agent ADDR:PORT   use canaryd's TCP listener instead (https://ADDR:PORT for\n"   \
	"                          TLS; or $CANARY_AGENT); changes there need --token-file\n"    \
	"      --token-file FILE   the bearer token for changes over TCP\n"                     \
	"      --cacert FILE       the CA that signed canaryd's certificate (https)\n"

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

	if (agent_call(&agent, method, path, body, &code, &reply, err, sizeof(err))) {
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

static int cmd_rollout(int argc, char **argv)
{
	static const struct option opts[] = {
		{"plan", required_argument, NULL, 'f'},	  {"full", no_argument, NULL, 'F'},
		{"json", no_argument, NULL, 'j'},	  {"wait", no_argument, NULL, 'w'},
		{"timeout", required_argument, NULL, 't'}, AGENT_OPTS,
		{"help", no_argument, NULL, 'h'},	  {},
	};
	const char *plan = NULL, *verb, *svc;
	bool full = false, json = false, wait = false;
	double timeout = 0;
	int opt;

	while ((opt = cli_getopt(argc, argv, "f:jt:a:h", opts)) != -1) {
		switch (opt) {
		case 'f':
			plan = optarg;
			break;
		case 'F':
			full = true;
			break;
		case 'j':
			json = true;
			break;
		case 'w':
			wait = true;
			break;
		case 't':
			if (cli_parse_double("--timeout", optarg, 0.001, INFINITY, &timeout))
				return EXIT_USAGE;
			break;
		case 'h':
			return 0;
		default:
			if (agent_option(opt, optarg))
				break;
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("expected an action and a SERVICE, e.g. 'rollout status web'");
	verb = argv[optind];
	svc = argv[optind + 1];
	if (!service_name_valid(svc))
		return cli_usage_error("'%s' is not a service name", svc);
	if (plan && strcmp(verb, "start"))
		return cli_usage_error("--plan only goes with 'rollout start'");
	if (full && strcmp(verb, "promote"))
		return cli_usage_error("--full only goes with 'rollout promote'");
	if ((wait || json || timeout) && strcmp(verb, "status"))
		return cli_usage_error("--json, --wait and --timeout go with 'rollout status'");
	if (timeout && !wait)
		return cli_usage_error("--timeout goes with --wait");
	if (!strcmp(verb, "start")) {
		if (!plan)
			return cli_usage_error("say which plan with --plan FILE");
		return rollout_start(svc, plan);
	}
	if (!strcmp(verb, "status"))
		return rollout_status(svc, json, wait, timeout);
	if (!strcmp(verb, "pause") || !strcmp(verb, "resume") || !strcmp(verb, "abort") ||
	    !strcmp(verb, "promote"))
		return rollout_command(svc, verb, full);
	return cli_usage_error("unknown action '%s' (start, status, pause, resume, abort, promote)",
			       verb);
}

static int cmd_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		AGENT_OPTS,
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct json_object *reply;
	bool json = false;
	char path[128];
	size_t i;
	int opt, rc;

	while ((opt = cli_getopt(argc, argv, "ja:h", opts)) != -1) {
		if (opt == 'j')
			json = true;
		else if (agent_option(opt, optarg))
			continue;
		else if (opt == 'h')
			return 0;
		else
			return EXIT_USAGE;
	}
	if (argc - optind != 1)
		return cli_usage_error("expected one SERVICE");
	snprintf(path, sizeof(path), "/api/v1/rollouts/%s/history", argv[optind]);
	reply = call("GET", path, NULL, 200, &rc);
	if (!reply)
		return rc;
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY));
	} else {
		if (!json_object_array_length(reply))
			printf("no weight changes recorded for %s\n", argv[optind]);
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
	json_object_put(reply);
	return 0;
}

static int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{"interval", required_argument, NULL, 'i'}, {"count", required_argument, NULL, 'n'},
		AGENT_OPTS, {"pin-root", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},	    {},
	};
	double interval = 1;
	uint64_t count = 0; /* 0: until Ctrl-C */
	int opt;

	while ((opt = cli_getopt(argc, argv, "i:n:a:p:h", opts)) != -1) {
		switch (opt) {
		case 'i':
			if (cli_parse_double("--interval", optarg, 0.1, 3600, &interval))
				return EXIT_USAGE;
			break;
		case 'n':
			if (cli_parse_uint("--count", optarg, 1, UINT64_MAX, &count))
				return EXIT_USAGE;
			break;
		case 'p':
			pin_root = optarg;
			break;
		case 'h':
			return 0;
		default:
			if (agent_option(opt, optarg))
				break;
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("expected at most one SERVICE");
	for (;;) {
		struct json_object *reply = NULL;
		struct canary_maps m;
		char err[512], *buf = NULL;
		size_t blen = 0;
		FILE *f = open_memstream(&buf, &blen);
		uint64_t t0 = now_ns(), spent;
		long code;
		size_t i;

		if (!f)
			return 1;
		/* The data plane's view (needs the pins), then the rollouts (needs canaryd).
		 * status_show spends the interval measuring rates, unless it fails early. */
		if (open_maps(&m) == 0) {
			status_show(&m, optind < argc ? argv[optind] : NULL, false, interval, f);
			canary_maps_close(&m);
		}
		if (agent_call(&agent, "GET", "/api/v1/rollouts", NULL, &code, &reply, err,
			       sizeof(err)))
			fprintf(f, "\n(no rollouts: %s)\n", err);
		for (i = 0; reply && code == 200 && i < json_object_array_length(reply); i++) {
			struct json_object *r = json_object_array_get_idx(reply, i);

			if (optind < argc && strcmp(jstr(r, "service"), argv[optind]))
				continue;
			fputc('\n', f);
			print_rollout(r, f);
		}
		json_object_put(reply);
		fclose(f);
		/* Clear the screen and draw the frame at once, like top. */
		printf("\033[H\033[2J%s", buf ? buf : "");
		fflush(stdout);
		free(buf);
		if (count && --count == 0)
			break;
		/* One frame per interval, however long this one took. */
		spent = now_ns() - t0;
		if (spent < (uint64_t)(interval * 1e9))
			usleep((useconds_t)(((uint64_t)(interval * 1e9) - spent) / 1000));
	}
	return 0;
}

static int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct plan p;
	int opt;

	while ((opt = cli_getopt(argc, argv, "nh", opts)) != -1) {
		if (opt == 'h')
			return 0;
		if (opt != 'n')
			return EXIT_USAGE;
	}
	if (argc - optind != 1)
		return cli_usage_error("expected one plan FILE");
	if (plan_load(argv[optind], &p))
		return 1;
	plan_print_schedule(&p, stdout);
	return 0;
}

static int cmd_metric(int argc, char **argv)
{
	static const struct option opts[] = {
		{"arm", required_argument, NULL, 'A'},	     {"name", required_argument, NULL, 'N'},
		{"successes", required_argument, NULL, 's'}, {"trials", required_argument, NULL, 't'},
		AGENT_OPTS,     {"help", no_argument, NULL, 'h'},
		{},
	};
	const char *arm = NULL, *name = NULL;
	uint64_t succ = 0, trials = 0;
	bool have_succ = false, have_trials = false;
	struct json_object *body, *reply;
	int opt, rc;

	while ((opt = cli_getopt(argc, argv, "a:h", opts)) != -1) {
		switch (opt) {
		case 'A':
			arm = optarg;
			break;
		case 'N':
			name = optarg;
			break;
		case 's':
			if (cli_parse_uint("--successes", optarg, 0, INT64_MAX, &succ))
				return EXIT_USAGE;
			have_succ = true;
			break;
		case 't':
			if (cli_parse_uint("--trials", optarg, 0, INT64_MAX, &trials))
				return EXIT_USAGE;
			have_trials = true;
			break;
		case 'h':
			return 0;
		default:
			if (agent_option(opt, optarg))
				break;
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2 || strcmp(argv[optind], "push"))
		return cli_usage_error("expected 'metric push SERVICE --arm ARM --name NAME "
				       "--successes S --trials T'");
	if (!arm || (strcmp(arm, "stable") && strcmp(arm, "canary")))
		return cli_usage_error("--arm must be stable or canary");
	if (!name || !have_succ || !have_trials)
		return cli_usage_error("--name, --successes and --trials are all needed");
	if (succ > trials)
		return cli_usage_error("--successes (%llu) cannot exceed --trials (%llu)",
				       (unsigned long long)succ, (unsigned long long)trials);
	body = json_object_new_object();
	json_object_object_add(body, "service", json_object_new_string(argv[optind + 1]));
	json_object_object_add(body, "arm", json_object_new_string(arm));
	json_object_object_add(body, "name", json_object_new_string(name));
	json_object_object_add(body, "successes", json_object_new_int64((int64_t)succ));
	json_object_object_add(body, "trials", json_object_new_int64((int64_t)trials));
	reply = call("POST", "/api/v1/metrics", body, 200, &rc);
	json_object_put(body);
	json_object_put(reply);
	return rc;
}

static const struct cli_cmd cmds[] = {
	{"apply", cmd_apply, "apply a services file (YAML)",
	 "apply -f FILE [--dry-run] [--prune] [--pin-root DIR]\n"
	 "Validate the whole file, then make the maps match it. Applying the same file\n"
	 "twice changes nothing. Services in the maps but not in the file are kept unless\n"
	 "--prune is given.\n"
	 "  -f, --file FILE         the services file\n"
	 "  -n, --dry-run           say what would change, change nothing\n"
	 "      --prune             remove services that the file does not name\n"
	 "      --salt-file FILE    where the services' secret salts are kept (default\n"
	 "                          " CANARY_SALT_DIR "/salts<PIN-ROOT>.json with '/' as '_',\n"
	 "                          or $CANARY_SALT_FILE)\n" PIN_ROOT_HELP},
	{"set-weight", cmd_set_weight, "set a service's canary weight in percent",
	 "set-weight SERVICE PERCENT [--pin-root DIR]\n"
	 "PERCENT is 0..100 with up to two decimals. New flows follow the new weight at once;\n"
	 "established flows keep their arm.\n" PIN_ROOT_HELP},
	{"rollback", cmd_rollback, "send every new flow to stable (weight 0)",
	 "rollback SERVICE [--reset-flows] [--pin-root DIR]\n"
	 "      --reset-flows       also drop the service's canary flows from the flow table,\n"
	 "                          so their next packets go to stable too (breaks them)\n" PIN_ROOT_HELP},
	{"promote", cmd_promote, "send every new flow to canary (weight 100)",
	 "promote SERVICE [--pin-root DIR]\n" PIN_ROOT_HELP},
	{"override", cmd_override, "pin client groups (source prefixes) to an arm",
	 "override add SERVICE PREFIX --arm stable|canary\n"
	 "       canaryctl override del SERVICE PREFIX\n"
	 "       canaryctl override list [SERVICE]\n"
	 "Overrides are also set by 'apply' (a service's overrides: list); an apply makes\n"
	 "the service's overrides match its file again.\n"
	 "  -a, --arm ARM           stable or canary\n" PIN_ROOT_HELP},
	{"status", cmd_status, "show weights, backends and per-arm counters",
	 "status [SERVICE] [--json] [--rates[=SECONDS]] [--pin-root DIR]\n"
	 "Per arm: traffic, health (error ratios with Wilson 95% intervals, TTFB and\n"
	 "handshake p50/p90/p99) and per-backend counters.\n"
	 "  -j, --json              machine-readable output\n"
	 "      --rates[=SECONDS]   also per-second rates, from two readings SECONDS apart\n"
	 "                          (default 1)\n" PIN_ROOT_HELP},
	{"rollout", cmd_rollout, "start and steer a progressive rollout (through canaryd)",
	 "rollout start SERVICE --plan FILE\n"
	 "       canaryctl rollout status SERVICE [--json] [--wait [--timeout S]]\n"
	 "       canaryctl rollout pause|resume|abort SERVICE\n"
	 "       canaryctl rollout promote SERVICE [--full]\n"
	 "The plan is validated here and in canaryd. status shows the step, the set and\n"
	 "measured share, per-arm rates, and each signal's evidence against its threshold;\n"
	 "with --wait it blocks until the rollout ends and exits 0 only for Succeeded (1 for\n"
	 "RolledBack/Aborted, 3 on --timeout). promote passes a gate or the current step;\n"
	 "--full goes straight to 100%.\n" AGENT_HELP},
	{"history", cmd_history, "list a service's weight changes and why",
	 "history SERVICE [--json]\n"
	 "Every weight change canaryd made or saw: time, old -> new, reason (start, step,\n"
	 "promote, auto-rollback, abort, manual) and the evidence at that moment.\n" AGENT_HELP},
	{"watch", cmd_watch, "live view of arms, rates, errors and evidence",
	 "watch [SERVICE] [--interval S] [--count N]\n"
	 "Redraws every interval (default 1 s; 0.1 to 3600) until Ctrl-C (or N times).\n" AGENT_HELP PIN_ROOT_HELP},
	{"plan", cmd_plan, "validate a rollout plan and print its schedule",
	 "plan --dry-run FILE\n"
	 "Validates the plan and prints its steps, analysis, and fastest and slowest\n"
	 "durations. Changes nothing.\n"},
	{"metric", cmd_metric, "push business-metric counts for a running rollout",
	 "metric push SERVICE --arm stable|canary --name NAME --successes S --trials T\n"
	 "Adds S successes out of T trials (since the last push) to the arm's counts of a\n"
	 "metric the rollout's plan lists with 'source: push'. The same as POST\n"
	 "/api/v1/metrics on canaryd.\n" AGENT_HELP},
	{"sweep", cmd_sweep, "remove expired flows; count unanswered SYNs",
	 "sweep [--pin-root DIR]\n"
	 "One pass of the flow-table sweeper that canaryd runs every interval: removes\n"
	 "entries idle for longer than their state's timeout and counts the flows that\n"
	 "leave with their SYN never answered (syn_unanswered).\n" PIN_ROOT_HELP},
	{"explain", cmd_explain, "say which arm and backend a new flow would get",
	 "explain SERVICE --src ADDR:PORT [--proto tcp|udp] [--json] [--pin-root DIR]\n"
	 "Computes the decision with the data plane's own hashing code, and reports an\n"
	 "existing flow-table entry for the tuple if there is one.\n"
	 "  -s, --src ADDR:PORT     the client (IPv6 as [addr]:port)\n"
	 "  -P, --proto PROTO       tcp or udp (must match the service)\n"
	 "  -j, --json              machine-readable output\n" PIN_ROOT_HELP},
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

	if (getenv("CANARY_AGENT"))
		agent.tcp = getenv("CANARY_AGENT");
	if (getenv("CANARY_SOCKET"))
		agent.socket = getenv("CANARY_SOCKET");
	return cli_main(&c, argc, argv);
}
