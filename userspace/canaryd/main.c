/* canaryd: the rollout agent. It polls the pinned counters every interval, runs each
 * service's rollout (steps, sequential analysis, guards, business metrics), moves the
 * weight or rolls back with one map update, sweeps the flow table, keeps its state in
 * a state directory that survives kill -9, and serves Prometheus metrics and a small
 * JSON API (canaryctl rollout ...) over a Unix socket and TCP (docs/AGENT.md).
 *
 * main.c holds the agent's life: its options, setting it up, the loop, stopping. The
 * parts are: poll.c (the poll and the weight writes), state.c (the state directory),
 * pulls.c (Prometheus), doors.c (the listeners and who may use them), api.c (the
 * routes), view.c (the JSON of a rollout), log.c; canaryd.h says which lock guards what. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/safedir.h"
#include "base/util.h"
#include "canaryd.h"
#include "cli/cli.h"

struct agent A;
volatile sig_atomic_t stop;

/* What the command line asks for. */
struct agent_opts {
	struct listen_opts listen;
	const char *pin_root, *state_dir;
	double interval, sweep_interval;
	bool verbose;
};

static void on_signal(int sig)
{
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: canaryd [OPTIONS]\n"
		"The rollout agent: runs rollouts started with 'canaryctl rollout start', serves\n"
		"Prometheus metrics at /metrics and the API canaryctl uses (docs/AGENT.md).\n"
		"  -p, --pin-root DIR        pinned maps (default " CANARY_DEFAULT_PIN_ROOT ")\n"
		"  -s, --state-dir DIR       rollout state and history (default " DEFAULT_STATE_DIR
		")\n"
		"      --socket PATH         Unix socket for every request, changes included (default\n"
		"                            " CANARY_DEFAULT_SOCKET "; 'none': no socket)\n"
		"      --socket-group GROUP  group that may use the socket (mode 0660; default root)\n"
		"  -l, --listen ADDR:PORT    TCP listener for reads (default " CANARY_DEFAULT_LISTEN
		"; IPv6 as\n"
		"                            [addr]:port); changes there need --token-file\n"
		"      --token-file FILE     'NAME TOKEN' lines: bearer tokens that may make changes\n"
		"                            over TCP (root's file, mode 0600)\n"
		"      --tls-cert FILE       serve TCP over TLS with this certificate (PEM)...\n"
		"      --tls-key FILE        ...and key; needed for tokens off loopback\n"
		"      --allow-host NAME     a Host name the TCP listener answers to, besides its\n"
		"                            address and localhost (repeatable)\n"
		"  -i, --interval SECONDS    poll interval (default 1)\n"
		"      --sweep-interval S    flow-table sweep interval (default 10; 0: never)\n"
		"  -v, --verbose             libbpf and debug output\n"
		"  -h, --help                this text\n");
}

/* What parse_args returns when the agent is to run; anything else is an exit status. */
#define ARGS_RUN (-1)

/* The command line into o, defaults first. Returns ARGS_RUN, or the status to exit
 * with: 0 after --help, 2 (EXIT_USAGE) after saying what is wrong. Nothing else reads
 * argv. One function, longer than the others on purpose: every option of canaryd is
 * here and nowhere else, for an option table to replace whole. */
static int parse_args(int argc, char **argv, struct agent_opts *o)
{
	enum { O_SOCKET = 256, O_SOCKET_GROUP, O_TOKEN_FILE, O_TLS_CERT, O_TLS_KEY, O_ALLOW_HOST };
	static const struct option opts[] = {
		{"pin-root", required_argument, NULL, 'p'},
		{"state-dir", required_argument, NULL, 's'},
		{"listen", required_argument, NULL, 'l'},
		{"socket", required_argument, NULL, O_SOCKET},
		{"socket-group", required_argument, NULL, O_SOCKET_GROUP},
		{"token-file", required_argument, NULL, O_TOKEN_FILE},
		{"tls-cert", required_argument, NULL, O_TLS_CERT},
		{"tls-key", required_argument, NULL, O_TLS_KEY},
		{"allow-host", required_argument, NULL, O_ALLOW_HOST},
		{"interval", required_argument, NULL, 'i'},
		{"sweep-interval", required_argument, NULL, 'S'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct listen_opts *lo = &o->listen;
	int opt;

	*o = (struct agent_opts){
		.listen = {.listen = CANARY_DEFAULT_LISTEN, .socket = CANARY_DEFAULT_SOCKET},
		.pin_root = CANARY_DEFAULT_PIN_ROOT,
		.state_dir = DEFAULT_STATE_DIR,
		.interval = 1,
		.sweep_interval = 10,
	};
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "p:s:l:i:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			o->pin_root = optarg;
			break;
		case 's':
			o->state_dir = optarg;
			break;
		case 'l':
			lo->listen = optarg;
			break;
		case O_SOCKET:
			lo->socket = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case O_SOCKET_GROUP:
			lo->socket_group = optarg;
			break;
		case O_TOKEN_FILE:
			lo->token_file = optarg;
			break;
		case O_TLS_CERT:
			lo->tls_cert = optarg;
			break;
		case O_TLS_KEY:
			lo->tls_key = optarg;
			break;
		case O_ALLOW_HOST:
			if (lo->nallow == API_MAX_HOSTS) {
				fprintf(stderr, "canaryd: at most %d --allow-host names\n", API_MAX_HOSTS);
				return 2;
			}
			lo->allow_hosts[lo->nallow++] = optarg;
			break;
		case 'i':
			if (cli_parse_double("--interval", optarg, 0.05, 3600, &o->interval))
				return EXIT_USAGE;
			break;
		case 'S':
			if (cli_parse_double("--sweep-interval", optarg, 0, 86400,
					     &o->sweep_interval))
				return EXIT_USAGE;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "canaryd: unknown option or missing value '%s'; try 'canaryd "
					"--help'\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "canaryd: unexpected argument '%s'; try 'canaryd --help'\n",
			argv[optind]);
		return 2;
	}
	return ARGS_RUN;
}

/* Everything before the first poll: root, the state directory, the maps, the saved
 * rollouts, the doors, the signals and the puller. Returns 0, or the status to exit
 * with after saying why. */
static int agent_start(const struct agent_opts *o, pthread_t *pull_thread)
{
	const struct listen_opts *lo = &o->listen;
	struct sigaction sa = {.sa_handler = on_signal};

	if (o->verbose)
		canary_verbose = 1;
	canary_quiet_libs();
	if (geteuid() != 0) {
		log_error("canaryd needs root to read and update the pinned maps; run it with sudo");
		return 1;
	}
	if (!endpoint_parse(lo->listen, &(union canary_addr){0}, &(uint16_t){0})) {
		fprintf(stderr, "canaryd: --listen '%s' is not ADDR:PORT (IPv6 as [addr]:port); try "
				"'canaryd --help'\n",
			lo->listen);
		return 2;
	}
	snprintf(A.state_dir, sizeof(A.state_dir), "%s", o->state_dir);
	A.interval = o->interval;
	A.sweep_interval = o->sweep_interval;
	A.state_lock = -1;
	if (state_dir_take())
		return 1;
	if (canary_maps_open(&A.maps, o->pin_root))
		return 1;
	A.snap = calloc(CANARY_ARM_STATS_SLOTS, sizeof(*A.snap));
	A.prev = calloc(CANARY_ARM_STATS_SLOTS, sizeof(*A.prev));
	if (!A.snap || !A.prev)
		return 1;
	pthread_mutex_init(&A.lock, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	refresh_services();
	load_states();
	arm_stats_read_all(&A.maps, &A.batch, A.snap);

	signal(SIGPIPE, SIG_IGN);
	if (doors_start(lo))
		return 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (puller_start(pull_thread)) {
		log_error("cannot start the metric puller thread");
		return 1;
	}
	logline("started: pins %s, state %s, socket %s, listening on %s://%s (reads%s), polling "
		"every %gs",
		o->pin_root, A.state_dir, lo->socket ? lo->socket : "none",
		lo->tls_cert ? "https" : "http", lo->listen,
		tcp_takes_changes() ? "; changes with a token" : " only", A.interval);
	return 0;
}

/* Poll every interval (on the monotonic clock, from the end of the last wait) and sweep
 * every sweep interval, until a stop signal. */
static void agent_loop(void)
{
	uint64_t last = now_ns();
	double next_sweep = A.sweep_interval;

	atomic_store(&A.last_poll_ns, last);
	while (!stop) {
		struct timespec ts;
		uint64_t target = last + (uint64_t)(A.interval * 1e9), now;
		double dt;

		ts.tv_sec = target / 1000000000ull;
		ts.tv_nsec = target % 1000000000ull;
		while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		if (stop)
			break;
		now = now_ns();
		dt = (now - last) / 1e9;
		last = now;
		poll_once(dt);
		atomic_store(&A.last_poll_ns, now_ns());
		if (A.sweep_interval > 0 && (next_sweep -= dt) <= 0) {
			next_sweep = A.sweep_interval;
			sweep_once();
		}
	}
}

/* The puller and the doors first, so that nothing changes a rollout while each is
 * saved. */
static void agent_stop(const struct agent_opts *o, pthread_t pull_thread)
{
	unsigned int i;

	logline("stopping");
	pthread_join(pull_thread, NULL);
	doors_stop(&o->listen);
	pthread_mutex_lock(&A.lock);
	for (i = 0; i < CANARY_MAX_SERVICES; i++)
		if (A.rollouts[i])
			persist(A.rollouts[i]);
	pthread_mutex_unlock(&A.lock);
	canary_maps_close(&A.maps);
	curl_global_cleanup();
	dirlock_release(A.state_lock);
}

int main(int argc, char **argv)
{
	struct agent_opts o;
	pthread_t pull_thread;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc != ARGS_RUN)
		return rc;
	rc = agent_start(&o, &pull_thread);
	if (rc)
		return rc;
	agent_loop();
	agent_stop(&o, pull_thread);
	return 0;
}
