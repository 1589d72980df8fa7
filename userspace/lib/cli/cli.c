/* cli.c: subcommand dispatch shared by canaryctl and canary-loader, and the options and
 * steps their commands share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/util.h"
#include "maps/pins.h"
#include "store/etcd.h"

struct cli *cli_current;

static void print_commands(const struct cli *c, FILE *f)
{
	const struct cli_cmd *cmd;

	fprintf(f, "Usage: %s [-v] COMMAND [OPTIONS]\n\n%s\n\nCommands:\n", c->prog, c->intro);
	for (cmd = c->cmds; cmd->name; cmd++)
		fprintf(f, "  %-12s %s\n", cmd->name, cmd->summary);
	fprintf(f, "\nRun '%s COMMAND --help' for the options of a command.\n", c->prog);
}

static const struct cli_cmd *find_cmd(const struct cli *c, const char *name)
{
	const struct cli_cmd *cmd;

	for (cmd = c->cmds; cmd->name; cmd++)
		if (!strcmp(cmd->name, name))
			return cmd;
	return NULL;
}

int cli_main(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd;
	int i = 1;

	cli_current = c;
	cli_set_names(c->prog, NULL);
	canary_quiet_libs();
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			canary_verbose = 1;
			canary_quiet_libs();
		} else if (!strcmp(argv[i], "--version")) {
			printf("%s %s\n", c->prog, c->version);
			return 0;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			print_commands(c, stdout);
			return 0;
		} else {
			fprintf(stderr, "%s: unknown option '%s'; try '%s --help'\n", c->prog,
				argv[i], c->prog);
			return EXIT_USAGE;
		}
		i++;
	}
	if (i >= argc) {
		print_commands(c, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help")) {
		cmd = i + 1 < argc ? find_cmd(c, argv[i + 1]) : NULL;
		if (cmd)
			cli_print_help(cmd, NULL, stdout);
		else
			print_commands(c, stdout);
		return 0;
	}
	cmd = find_cmd(c, argv[i]);
	if (!cmd) {
		fprintf(stderr,
			"%s: unknown command '%s'; run '%s --help' for the list of commands\n",
			c->prog, argv[i], c->prog);
		return EXIT_USAGE;
	}
	c->cmd = cmd->name;
	cli_set_names(c->prog, cmd->name);
	return cli_run(cmd, argc - i, argv + i);
}

/* ---- what commands share ------------------------------------------------------------------ */

const char *cli_pin_root = CANARY_DEFAULT_PIN_ROOT;
static const char *const default_pin_root = CANARY_DEFAULT_PIN_ROOT;

/* The block's settings are cli_pin_root itself: offset 0. */
const struct cli_block cli_pin_root_opts = {
    .opts = (const struct cli_opt[]){{CLI_STR, "pin-root", 'p', .offset = 0,
				      .size = sizeof(cli_pin_root), .metavar = "DIR",
				      .help = "where the maps are pinned"},
				     {}},
    .base = &cli_pin_root,
    .defaults = &default_pin_root,
};

struct agent_target cli_agent = {.socket = CANARY_DEFAULT_SOCKET};

const struct cli_block cli_agent_opts = {
    .opts =
	(const struct cli_opt[]){
	    {CLI_STR, "socket", 0, CLI_FIELD(struct agent_target, socket), .metavar = "PATH",
	     .help = "canaryd's Unix socket, for changes; reads that cannot use it "
		     "ask " CANARY_DEFAULT_LISTEN,
	     .def = CANARY_DEFAULT_SOCKET ", or $CANARY_SOCKET"},
	    {CLI_STR, "agent", 'a', CLI_FIELD(struct agent_target, tcp), .metavar = "ADDR:PORT",
	     .help = "use canaryd's TCP listener instead (https://ADDR:PORT for TLS; or "
		     "$CANARY_AGENT); changes there need --token-file"},
	    {CLI_STR, "token-file", 0, CLI_FIELD(struct agent_target, token_file),
	     .metavar = "FILE", .help = "the bearer token for changes over TCP"},
	    {CLI_STR, "cacert", 0, CLI_FIELD(struct agent_target, cacert), .metavar = "FILE",
	     .help = "the CA that signed canaryd's certificate (https)"},
	    {},
	},
    .base = &cli_agent,
};

void cli_agent_from_env(void)
{
	if (getenv("CANARY_AGENT"))
		cli_agent.tcp = getenv("CANARY_AGENT");
	if (getenv("CANARY_SOCKET"))
		cli_agent.socket = getenv("CANARY_SOCKET");
}

struct cli_store cli_store = {.timeout = STORE_DEFAULT_TIMEOUT_MS / 1000.0};

const struct cli_block cli_store_opts = {
    .opts =
	(const struct cli_opt[]){
	    {CLI_STR, "store", 0, CLI_FIELD(struct cli_store, url),
	     .metavar = "etcd://H:P[,H:P...][/PREFIX]",
	     .help = "the fleet's etcd (docs/FLEET.md); endpoints tried in order; PREFIX "
		     "defaults to " STORE_DEFAULT_PREFIX},
	    {CLI_STR, "store-cacert", 0, CLI_FIELD(struct cli_store, cacert), .metavar = "FILE",
	     .help = "the CA of etcd's certificate (https to the store)"},
	    {CLI_STR, "store-cert", 0, CLI_FIELD(struct cli_store, cert), .metavar = "FILE",
	     .help = "a client certificate for etcd (PEM)..."},
	    {CLI_STR, "store-key", 0, CLI_FIELD(struct cli_store, key), .metavar = "FILE",
	     .help = "...and its key"},
	    {CLI_STR, "store-user", 0, CLI_FIELD(struct cli_store, user), .metavar = "NAME",
	     .help = "an etcd user (etcd auth), with --store-password-file"},
	    {CLI_STR, "store-password-file", 0, CLI_FIELD(struct cli_store, password_file),
	     .metavar = "FILE", .help = "the etcd user's password (first line)"},
	    {CLI_DOUBLE, "store-timeout", 0, CLI_FIELD(struct cli_store, timeout),
	     .metavar = "SECONDS", .help = "per request to the store", .dmin = 0.1, .dmax = 600},
	    {},
	},
    .base = &cli_store,
    .defaults = &(const struct cli_store){.timeout = STORE_DEFAULT_TIMEOUT_MS / 1000.0},
};

/* The first line of the password file. */
static int read_password(const char *path, char *out, size_t len)
{
	char *text;
	size_t n;
	int err = file_read_all(path, 4096, &text, &n);

	if (err) {
		log_error("cannot read the store's password file %s: %s", path, strerror(-err));
		return -1;
	}
	text[strcspn(text, "\r\n")] = 0;
	snprintf(out, len, "%s", text);
	memset(text, 0, n);
	free(text);
	return 0;
}

int cli_store_cfg(struct store_cfg *c)
{
	static char password[1024];
	char why[256];

	if (!cli_store.url) {
		log_error("name the store with --store etcd://HOST:PORT");
		return -1;
	}
	if (store_url_parse(cli_store.url, c, why, sizeof(why))) {
		log_error("--store: %s", why);
		return -1;
	}
	if (!cli_store.cert != !cli_store.key) {
		log_error("--store-cert and --store-key go together");
		return -1;
	}
	if (!cli_store.user != !cli_store.password_file) {
		log_error("--store-user and --store-password-file go together");
		return -1;
	}
	if (cli_store.password_file &&
	    read_password(cli_store.password_file, password, sizeof(password)))
		return -1;
	c->cacert = cli_store.cacert;
	c->cert = cli_store.cert;
	c->key = cli_store.key;
	c->user = cli_store.user;
	c->password = cli_store.user ? password : NULL;
	c->timeout_ms = (long)(cli_store.timeout * 1000);
	return 0;
}

struct store *cli_store_open(void)
{
	struct store_cfg c;
	struct store *s;
	char why[512];

	if (cli_store_cfg(&c))
		return NULL;
	s = store_open(&c, why, sizeof(why));
	if (!s)
		log_error("cannot open the store: %s", why);
	return s;
}

int cli_need_root(const char *why)
{
	char who[128];

	if (geteuid() == 0)
		return 0;
	log_error("%s needs root%s; run it with sudo", cli_who(who, sizeof(who)), why);
	return -1;
}

int cli_maps_open(struct canary_maps *m, int *lock)
{
	if (cli_need_root(" to read the pinned maps") || canary_maps_open(m, cli_pin_root))
		return -1;
	if (!lock)
		return 0;
	*lock = canary_lock(cli_pin_root, CANARY_LOCK_WAIT_MS);
	if (*lock < 0) {
		canary_maps_close(m);
		return -1;
	}
	return 0;
}

void cli_maps_close(struct canary_maps *m, int lock)
{
	if (lock >= 0)
		canary_unlock(lock);
	canary_maps_close(m);
}
