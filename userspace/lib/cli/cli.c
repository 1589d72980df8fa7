/* cli.c: subcommand dispatch and option errors shared by canaryctl, canary-loader and
 * canaryd. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "base/util.h"
#include "maps/pins.h"

struct cli *cli_current;
static const struct cli_cmd *current_cmd;

static void print_commands(const struct cli *c, FILE *f)
{
	const struct cli_cmd *cmd;

	fprintf(f, "Usage: %s [-v] COMMAND [OPTIONS]\n\n%s\n\nCommands:\n", c->prog, c->intro);
	for (cmd = c->cmds; cmd->name; cmd++)
		fprintf(f, "  %-12s %s\n", cmd->name, cmd->summary);
	fprintf(f, "\nRun '%s COMMAND --help' for the options of a command.\n", c->prog);
}

/* Print the current command's help text. */
static void cli_print_usage(void)
{
	if (current_cmd)
		printf("Usage: %s %s", cli_current->prog, current_cmd->usage);
}

int cli_usage_error(const char *fmt, ...)
{
	extern const char *__progname;
	const char *prog = cli_current ? cli_current->prog : __progname;
	const char *cmd = cli_current ? cli_current->cmd : NULL;
	va_list ap;

	/* "PROG CMD: ..." inside a command, "PROG: ..." for a program without commands. */
	fprintf(stderr, "%s%s%s: ", prog, cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; try '%s%s%s --help'\n", prog, cmd ? " " : "", cmd ? cmd : "");
	return EXIT_USAGE;
}

int cli_parse_uint(const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long x = 0;
	char *end = NULL;

	/* strtoull would take leading blanks and a sign ("-1" is ULLONG_MAX): digits only. */
	errno = 0;
	if (isdigit((unsigned char)v[0]))
		x = strtoull(v, &end, 10);
	if (!end || *end || errno || x < min || x > max) {
		if (max == UINT64_MAX)
			cli_usage_error("%s '%s' must be a whole number, %llu or more", opt, v,
					(unsigned long long)min);
		else
			cli_usage_error("%s '%s' must be a whole number from %llu to %llu", opt, v,
					(unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = x;
	return 0;
}

int cli_parse_double(const char *opt, const char *v, double min, double max, double *out)
{
	char *end = NULL;
	double x = NAN;

	/* strtod would take leading blanks, "inf" and "nan": a finite number only. */
	errno = 0;
	if (v[0] && !isspace((unsigned char)v[0]))
		x = strtod(v, &end);
	if (!end || end == v || *end || errno || !isfinite(x) || x < min || x > max) {
		if (isinf(max))
			cli_usage_error("%s '%s' must be a number, %g or more", opt, v, min);
		else
			cli_usage_error("%s '%s' must be a number from %g to %g", opt, v, min, max);
		return -1;
	}
	*out = x;
	return 0;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	int prev = optind ? optind : 1;
	int opt;

	opterr = 0;
	opt = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (opt == 'h') {
		cli_print_usage();
		return 'h';
	}
	if (opt == '?') {
		const char *arg = prev < argc ? argv[prev] : "";

		if (optopt && strchr(shortopts, optopt))
			cli_usage_error("option '-%c' needs a value", optopt);
		else if (optopt) {
			const struct option *o;
			bool needs = false;

			for (o = longopts; o->name; o++)
				if (o->val == optopt && o->has_arg == required_argument)
					needs = true;
			if (needs)
				cli_usage_error("option '%s' needs a value", arg);
			else
				cli_usage_error("unknown option '%s'", arg);
		} else {
			cli_usage_error("unknown option '%s'", arg);
		}
	}
	return opt;
}

int cli_main(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd;
	int i = 1;

	cli_current = c;
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
		if (i + 1 < argc) {
			for (cmd = c->cmds; cmd->name; cmd++)
				if (!strcmp(cmd->name, argv[i + 1])) {
					printf("Usage: %s %s", c->prog, cmd->usage);
					return 0;
				}
		}
		print_commands(c, stdout);
		return 0;
	}
	for (cmd = c->cmds; cmd->name; cmd++) {
		if (strcmp(cmd->name, argv[i]))
			continue;
		current_cmd = cmd;
		c->cmd = cmd->name;
		optind = 0;
		return cmd->fn(argc - i, argv + i);
	}
	fprintf(stderr, "%s: unknown command '%s'; run '%s --help' for the list of commands\n",
		c->prog, argv[i], c->prog);
	return EXIT_USAGE;
}
