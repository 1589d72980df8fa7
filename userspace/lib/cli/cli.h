/* cli.h: subcommand dispatch and option errors in the style of ip/bpftool/xdp-loader:
 * "PROG CMD: what was wrong; try 'PROG CMD --help'", exit code 2 for usage errors. */
#ifndef CANARY_CLI_H
#define CANARY_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#define EXIT_USAGE 2

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary; /* one line for the command list */
	const char *usage;   /* full help text of the command */
};

struct cli {
	const char *prog;
	const char *version;
	const char *intro; /* one paragraph shown above the command list */
	const struct cli_cmd *cmds;
	const char *cmd; /* the command being run, for messages */
};

extern struct cli *cli_current;

/* Dispatch argv[1] to a command; handles help, --help, --version and -v. */
int cli_main(struct cli *c, int argc, char **argv);

/* Parse options of the current command with getopt_long (opterr off). Returns the
 * option, -1 at the end, or prints "PROG CMD: unknown option '...'; try ..." and
 * returns '?' (caller returns EXIT_USAGE). --help is handled here (returns 'h' after
 * printing the command's usage). */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

/* Usage error for the current command: prints the message and the --help hint,
 * returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An option's value as a whole number (decimal digits only) from min to max. On
 * anything else prints a usage error naming the option and the value ("PROG CMD:
 * --flows 'x' must be a whole number from 1024 to 268435456; try ...") and returns -1
 * (caller returns EXIT_USAGE). max UINT64_MAX means no upper bound. Works without
 * cli_main too (the message then starts with the program name alone). */
int cli_parse_uint(const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *out);
/* The same for a finite decimal number from min to max (max INFINITY: no upper bound). */
int cli_parse_double(const char *opt, const char *v, double min, double max, double *out);

#endif
