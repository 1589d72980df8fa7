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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/safedir.h"
#include "base/util.h"
#include "canaryd.h"
#include "cli/cli.h"
#include "store/etcd.h"

struct agent A;
volatile sig_atomic_t stop;
static pthread_t leader_thread;

/* What the command line asks for (the pin root is the shared block's cli_pin_root). */
struct agent_opts {
	struct listen_opts listen;
	const char *state_dir;
	double interval, sweep_interval;
	bool verbose;
	double leader_ttl; /* fleet mode (docs/FLEET.md) */
};

static const struct agent_opts defaults = {
    .listen = {.listen = CANARY_DEFAULT_LISTEN, .socket = CANARY_DEFAULT_SOCKET},
    .state_dir = DEFAULT_STATE_DIR,
    .interval = 1,
    .sweep_interval = 10,
    .leader_ttl = 10,
};

#define O(m) CLI_FIELD(struct agent_opts, m)
static const struct cli_opt agent_opt_table[] = {
    {CLI_STR, "state-dir", 's', O(state_dir), .metavar = "DIR",
     .help = "rollout state and history"},
    {CLI_STR, "socket", 0, O(listen.socket), .metavar = "PATH",
     .help = "Unix socket for every request, changes included ('none': no socket)"},
    {CLI_STR, "socket-group", 0, O(listen.socket_group), .metavar = "GROUP",
     .help = "group that may use the socket (mode 0660)", .def = "root"},
    {CLI_STR, "listen", 'l', O(listen.listen), .metavar = "ADDR:PORT",
     .help = "TCP listener for reads (IPv6 as [addr]:port); changes there need --token-file"},
    {CLI_STR, "token-file", 0, O(listen.token_file), .metavar = "FILE",
     .help = "'NAME TOKEN' lines: bearer tokens that may make changes over TCP (root's file, "
	     "mode 0600)"},
    {CLI_STR, "tls-cert", 0, O(listen.tls_cert), .metavar = "FILE",
     .help = "serve TCP over TLS with this certificate (PEM)..."},
    {CLI_STR, "tls-key", 0, O(listen.tls_key), .metavar = "FILE",
     .help = "...and key; needed for tokens off loopback"},
    {CLI_LIST, "allow-host", 0, O(listen.allow_hosts), .metavar = "NAME",
     .max_count = API_MAX_HOSTS, CLI_COUNT(struct agent_opts, listen.nallow),
     .help = "a Host name the TCP listener answers to, besides its address and localhost"},
    {CLI_DOUBLE, "interval", 'i', O(interval), .metavar = "SECONDS", .help = "poll interval",
     .dmin = 0.05, .dmax = 3600},
    {CLI_DOUBLE, "sweep-interval", 0, O(sweep_interval), .metavar = "S",
     .help = "flow-table sweep interval (0: never)", .dmin = 0, .dmax = 86400},
    {CLI_FLAG, "verbose", 'v', O(verbose), .help = "libbpf and debug output"},
    {CLI_DOUBLE, "leader-ttl", 0, O(leader_ttl), .metavar = "SECONDS",
     .help = "with --store: the leader's lease; another node takes over this long after "
	     "it dies",
     .dmin = 1, .dmax = 3600},
    {},
};
#undef O

static const struct cli_cmd agent_cmd = {
    .usage = "[OPTIONS]\n"
	     "The rollout agent: runs rollouts started with 'canaryctl rollout start', serves\n"
	     "Prometheus metrics at /metrics and the API canaryctl uses (docs/AGENT.md).\n",
    .opts = agent_opt_table,
    .defaults = &defaults,
    .cfg_size = sizeof(struct agent_opts),
    .blocks = CLI_BLOCKS(&cli_pin_root_opts, &cli_store_opts, &node_cli_opts),
};

static void on_signal(int sig)
{
	stop = 1;
}

/* Fleet mode (the node role runs): the leader thread (leader.c) on the same store. 0,
 * or 1 after saying why. */
static int fleet_start(const struct agent_opts *o, pthread_t *t)
{
	struct store_cfg cfg;

	if (!node_name())
		return 0;
	if (o->leader_ttl < 2 * o->interval) {
		log_error("--leader-ttl %g must be at least two intervals (%g s)", o->leader_ttl,
			  2 * o->interval);
		return 1;
	}
	if (cli_store_cfg(&cfg))
		return 1;
	return leader_start(&cfg, node_name(), (int)(o->leader_ttl + 0.5), t) ? 1 : 0;
}

static int agent_start(const struct agent_opts *o, pthread_t *pull_thread)
{
	const struct listen_opts *lo = &o->listen;
	struct sigaction sa = {.sa_handler = on_signal};
	int rc;

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
	if (canary_maps_open(&A.maps, cli_pin_root))
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
	rc = node_start(); /* --store --node: the fleet's config and weights (node.c) */
	if (rc)
		return rc;
	if (doors_start(lo))
		return 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (puller_start(pull_thread)) {
		log_error("cannot start the metric puller thread");
		return 1;
	}
	if (fleet_start(o, &leader_thread))
		return 1;
	logline("started: pins %s, state %s, socket %s, listening on %s://%s (reads%s), polling "
		"every %gs",
		cli_pin_root, A.state_dir, lo->socket ? lo->socket : "none",
		lo->tls_cert ? "https" : "http", lo->listen,
		tcp_takes_changes() ? "; changes with a token" : " only", A.interval);
	return 0;
}

bool interval_wait(uint64_t *last, double *dt)
{
	uint64_t target = *last + (uint64_t)(A.interval * 1e9), now;
	struct timespec ts = {(time_t)(target / 1000000000ull), (long)(target % 1000000000ull)};

	while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	if (stop)
		return false;
	now = now_ns();
	*dt = (double)(now - *last) / 1e9;
	*last = now;
	return true;
}

/* Poll every interval and sweep every sweep interval, until a stop signal. */
static void agent_loop(void)
{
	uint64_t last = now_ns();
	double next_sweep = A.sweep_interval, dt;

	atomic_store(&A.last_poll_ns, last);
	while (interval_wait(&last, &dt)) {
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
	leader_stop(leader_thread);
	doors_stop(&o->listen);
	node_stop();
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

	o = defaults;
	cli_set_names("canaryd", NULL);
	cli_parse_options_or_exit(&agent_cmd, &o, argc, argv);
	if (o.listen.socket && !strcmp(o.listen.socket, "none"))
		o.listen.socket = NULL;
	rc = agent_start(&o, &pull_thread);
	if (rc)
		return rc;
	agent_loop();
	agent_stop(&o, pull_thread);
	return 0;
}
