/* canaryctl: configure and inspect xdp-canary: apply a services file, move weights,
 * pin client groups, show per-arm status and explain where a flow would go. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "apply.h"
#include "canary_hash.h"
#include "cli.h"
#include "config.h"
#include "pins.h"
#include "service.h"
#include "stats.h"
#include "status.h"
#include "sweep.h"
#include "util.h"

static const char *pin_root = CANARY_DEFAULT_PIN_ROOT;

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
		{"help", no_argument, NULL, 'h'},	 {},
	};
	struct apply_opts ao = {.out = stdout};
	struct apply_summary sum;
	struct canary_config cfg;
	struct canary_maps m;
	const char *file = NULL;
	int opt, err;

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
		case 'h':
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s' (the file goes after -f)",
				       argv[optind]);
	if (!file)
		return cli_usage_error("name the services file with -f FILE");

	/* Validate the whole file before looking at (let alone touching) any map. */
	if (config_load(file, &cfg))
		return 1;
	if (open_maps(&m)) {
		config_free(&cfg);
		return 1;
	}
	err = config_apply(&m, &cfg, &ao, &sum);
	if (!err)
		printf("%s%u created, %u changed, %u unchanged, %u removed%s\n",
		       ao.dry_run ? "dry run: " : "", sum.created, sum.changed, sum.unchanged,
		       sum.removed,
		       sum.draining ? "; removed backends still draining flows" : "");
	canary_maps_close(&m);
	config_free(&cfg);
	return err ? 1 : 0;
}

/* ---- weights ------------------------------------------------------------------------------ */

static int delete_canary_visit(const struct flow_key *k, const struct flow_state *v, void *ctx)
{
	struct {
		struct canary_maps *m;
		uint32_t id;
		unsigned long n;
	} *c = ctx;

	if (v->svc == c->id && v->arm == CANARY_ARM_CANARY &&
	    bpf_map_delete_elem(c->m->flows, k) == 0)
		c->n++;
	return 0;
}

/* Remove a service's canary entries from the flow table, so that from now on every
 * packet of the service is decided afresh (at weight 0: stable). */
static long reset_canary_flows(struct canary_maps *m, const char *name)
{
	struct service_state s;
	struct {
		struct canary_maps *m;
		uint32_t id;
		unsigned long n;
	} c = {m, 0, 0};

	if (service_find(m, name, &s))
		return -ENOENT;
	c.id = s.info.id;
	if (flows_foreach(m, delete_canary_visit, &c))
		return -EIO;
	return (long)c.n;
}

static int set_weight(const char *name, uint16_t bp, bool reset_flows)
{
	struct canary_maps m;
	uint16_t old;
	char a[16], b[16];
	int err;

	if (open_maps(&m))
		return 1;
	err = service_set_weight(&m, name, bp, &old);
	if (!err) {
		printf("%s: canary weight %s%% -> %s%%\n", name, bp_str(old, a, sizeof(a)),
		       bp_str(bp, b, sizeof(b)));
		if (reset_flows) {
			long n = reset_canary_flows(&m, name);

			if (n < 0)
				err = (int)n;
			else
				printf("%s: removed %ld canary flows from the flow table\n", name, n);
		}
	}
	canary_maps_close(&m);
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
			if (svc_config_publish(m, s.info.id, name, &s.cfg))
				return 1;
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
	int opt, arm = -1, rc;
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
	if (open_maps(&m))
		return 1;
	rc = override_change(&m, argv[optind + 1], argv[optind + 2], arm, !strcmp(verb, "add"));
	canary_maps_close(&m);
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
		case 'r': {
			char *end;

			window = optarg ? strtod(optarg, &end) : 1.0;
			if (optarg && (*end || window <= 0 || window > 3600))
				return cli_usage_error("--rates=SECONDS must be a number of seconds "
						       "above 0, e.g. --rates=5");
			break;
		}
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
	err = flows_sweep(&m, &r);
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

static const struct cli_cmd cmds[] = {
	{"apply", cmd_apply, "apply a services file (YAML)",
	 "apply -f FILE [--dry-run] [--prune] [--pin-root DIR]\n"
	 "Validate the whole file, then make the maps match it. Applying the same file\n"
	 "twice changes nothing. Services in the maps but not in the file are kept unless\n"
	 "--prune is given.\n"
	 "  -f, --file FILE         the services file\n"
	 "  -n, --dry-run           say what would change, change nothing\n"
	 "      --prune             remove services that the file does not name\n" PIN_ROOT_HELP},
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

	return cli_main(&c, argc, argv);
}
