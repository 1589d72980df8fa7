/* params.h: every command-line option declared once, in a table: the getopt arguments,
 * the parsing into the command's settings and the --help text all come from it (the
 * shape of xdp-tools' lib/util/params.h). Needs only base/, so the test tools link it. */
#ifndef CANARY_PARAMS_H
#define CANARY_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_USAGE 2

enum cli_type {
	CLI_END,    /* ends a table */
	CLI_FLAG,   /* no value: sets a bool (or int) field to 1 */
	CLI_STR,    /* the value as given, into a const char * field */
	CLI_UINT,   /* a whole number from .min to .max into an unsigned field of 1, 2, 4 or 8
		     * bytes (.max 0: as large as the field holds) */
	CLI_DOUBLE, /* a decimal number from .dmin to .dmax (INFINITY: no bound) into a double */
	CLI_ENUM,   /* one of .choices' names; its value into an int (or enum) field */
	CLI_LIST,   /* repeatable: each value appended to a const char *[.max_count] field,
		     * the count in the unsigned int at .count_offset */
	CLI_CUSTOM, /* .parse takes the value (NULL without a metavar: then no value) */
};

struct cli_choice {
	const char *name;
	int value;
};

struct cli_opt {
	enum cli_type type;
	const char *name; /* long name, without "--" */
	char short_name;  /* 0: none */
	size_t offset;	  /* of the field in the settings the table fills (CLI_FIELD) */
	size_t size;	  /* of that field */
	const char *metavar;
	const char *help; /* NULL: accepted but not listed in --help */
	const char *def;  /* the default as --help states it; NULL: taken from the defaults */
	uint64_t min, max;
	double dmin, dmax;
	bool optional; /* CLI_DOUBLE: the value may be left out (--rates[=S]); then .bare */
	double bare;
	const struct cli_choice *choices; /* CLI_ENUM; ends with {NULL} */
	unsigned int max_count;		  /* CLI_LIST */
	size_t count_offset;		  /* CLI_LIST */
	size_t given; /* CLI_GIVEN: a bool set when the option is given; 0: none */
	/* CLI_CUSTOM: 0, or nonzero after saying what is wrong (cli_usage_error). */
	int (*parse)(const char *value, void *field);
};

/* Where an option's value goes: a field of the settings struct T. */
#define CLI_FIELD(T, member) .offset = offsetof(T, member), .size = sizeof(((T *)0)->member)
/* A bool of the same settings that says the option was given. */
#define CLI_GIVEN(T, member) .given = offsetof(T, member) + 1
#define CLI_COUNT(T, member) .count_offset = offsetof(T, member)

/* Options several commands share, filling settings of their own (base): the pin root,
 * where canaryd is. defaults: those settings' defaults, for --help (NULL: none shown). */
struct cli_block {
	const struct cli_opt *opts;
	void *base;
	const void *defaults;
};

struct cli_cmd {
	const char *name; /* subcommand; NULL for a program without subcommands */
	/* Runs with the parsed settings and the positional arguments (argv[0] is the first;
	 * argv[argc] is NULL). */
	int (*run)(void *cfg, int argc, char **argv);
	const char *summary; /* one line for the command list */
	/* --help: "Usage: PROG " then this (synopsis lines, then what the command does), then
	 * the options from the tables. */
	const char *usage;
	const struct cli_opt *opts; /* fill the settings (cfg) */
	const void *defaults;	    /* the settings before parsing (cli_run); NULL: zeros */
	size_t cfg_size;
	const struct cli_block *const *blocks; /* NULL-terminated; may be NULL */
};

/* A NULL-terminated list of blocks, for cli_cmd.blocks. */
#define CLI_BLOCKS(...)                                                                            \
	(const struct cli_block *const[])                                                          \
	{                                                                                          \
		__VA_ARGS__, NULL                                                                  \
	}

/* At most this many options in one command, its blocks' included. */
#define CLI_MAX_OPTS 48

/* The names messages start with: "PROG CMD: ..." (cmd NULL: "PROG: ..."). Without a call
 * the program's own name is used. */
void cli_set_names(const char *prog, const char *cmd);
/* Those names as messages start with: "PROG CMD" or "PROG", in buf. */
const char *cli_who(char *buf, size_t len);

/* Usage error: prints "PROG CMD: MESSAGE; try 'PROG CMD --help'" and returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_parse's return when it printed the help (the caller exits 0). */
#define CLI_HELP (-1)

/* Parse argv (argv[0] is the program or command) against cmd's tables into cfg, which
 * holds the defaults already, and the blocks' settings. Options are taken in order:
 * -h/--help prints the help at once; the first bad option or value prints one usage
 * error. Returns 0 with the positional arguments in argv[*first..argc) (getopt moves
 * them behind the options), CLI_HELP, or EXIT_USAGE. */
int cli_parse(const struct cli_cmd *cmd, void *cfg, int argc, char **argv, int *first);

/* cli_parse for a program that takes no positional arguments: one left over is a usage
 * error ("unexpected argument 'x'"). Returns 0, CLI_HELP or EXIT_USAGE. */
int cli_parse_options(const struct cli_cmd *cmd, void *cfg, int argc, char **argv);
/* The same for a program that parses once, at its start: exits 0 after the help, 2
 * after a usage error; returns only when every option was taken. */
void cli_parse_options_or_exit(const struct cli_cmd *cmd, void *cfg, int argc, char **argv);

/* cli_parse into fresh settings (cmd->defaults), then cmd->run. Returns its exit code. */
int cli_run(const struct cli_cmd *cmd, int argc, char **argv);

/* The help of cmd on f; defaults: its settings' defaults (NULL: cmd->defaults). */
void cli_print_help(const struct cli_cmd *cmd, const void *defaults, FILE *f);

/* Whether option o was given (its CLI_GIVEN bool, in the settings at base). */
bool cli_given(const struct cli_opt *o, const void *base);

/* A value as a whole number from min to max, or a decimal one, for options a table does
 * not parse itself: on anything else prints "PROG CMD: OPT 'V' must be a whole number
 * from MIN to MAX; try ..." and returns -1 (the caller returns EXIT_USAGE). */
int cli_parse_uint(const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *out);
int cli_parse_double(const char *opt, const char *v, double min, double max, double *out);

#endif
