/* cli.h: subcommand dispatch in the style of ip/bpftool/xdp-loader, and what every
 * command shares: the pin root, where canaryd is, the root check and the writers' lock.
 * Option tables, usage errors ("PROG CMD: what was wrong; try 'PROG CMD --help'", exit
 * code 2) and the help text: params.h. */
#ifndef CANARY_CLI_H
#define CANARY_CLI_H

#include "cli/params.h"
#include "http/agentclient.h"

struct canary_maps;

struct cli {
	const char *prog;
	const char *version;
	const char *intro;	    /* one paragraph shown above the command list */
	const struct cli_cmd *cmds; /* ends with {NULL} */
	const char *cmd;	    /* the command being run, for messages */
};

extern struct cli *cli_current;

/* Dispatch argv[1] to a command (cli_run); handles help, --help, --version and -v. */
int cli_main(struct cli *c, int argc, char **argv);

/* -p, --pin-root DIR: where the maps are pinned, into cli_pin_root. */
extern const char *cli_pin_root;
extern const struct cli_block cli_pin_root_opts;

/* -a, --agent ADDR:PORT, --socket PATH, --token-file FILE, --cacert FILE: where canaryd
 * is, into cli_agent. cli_agent_from_env first takes $CANARY_AGENT and $CANARY_SOCKET. */
extern struct agent_target cli_agent;
extern const struct cli_block cli_agent_opts;
void cli_agent_from_env(void);

/* --store etcd://H:P[,H:P...][/PREFIX] and how to reach it: --store-cacert,
 * --store-cert, --store-key (etcd's own clients call them --cacert, --cert and --key;
 * canaryctl's --cacert is already the CA of canaryd's TLS), --store-user and
 * --store-password-file (the password in a file, never on the command line). */
struct cli_store {
	const char *url, *cacert, *cert, *key, *user, *password_file;
	double timeout; /* seconds per request */
};
extern struct cli_store cli_store;
extern const struct cli_block cli_store_opts;
struct store;
struct store_cfg;
/* The store's settings from the options; 0, or -1 after saying why. The password read
 * from its file lives in a static buffer. */
int cli_store_cfg(struct store_cfg *c);
/* Open the store the options name; NULL after saying why. */
struct store *cli_store_open(void);

/* Unless this runs as root, prints "PROG CMD needs root WHY; run it with sudo" and
 * returns -1. */
int cli_need_root(const char *why);

/* Open the maps under cli_pin_root for the current command: root first ("needs root to
 * read the pinned maps"), then with lock non-NULL the writers' lock (canary_lock).
 * Returns 0, or -1 after saying why (nothing held). */
int cli_maps_open(struct canary_maps *m, int *lock);
/* Close what cli_maps_open opened; lock < 0: none held. */
void cli_maps_close(struct canary_maps *m, int lock);

#endif
