/* params.c: option tables -> getopt_long arguments, parsed settings and --help text. */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/params.h"
#include "base/num.h"

/* Long-only options get getopt values from here up, past every character. */
#define VAL_LONG_ONLY 256
/* --help lines: the option from column 2, its text from column 26, up to column 88. */
#define HELP_INDENT 26
#define HELP_WIDTH  88

static const char *msg_prog, *msg_cmd;

void cli_set_names(const char *prog, const char *cmd)
{
	msg_prog = prog;
	msg_cmd = cmd;
}

static const char *prog_name(void)
{
	extern const char *__progname;

	return msg_prog ? msg_prog : __progname;
}

const char *cli_who(char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", prog_name(), msg_cmd ? " " : "", msg_cmd ? msg_cmd : "");
	return buf;
}

int cli_usage_error(const char *fmt, ...)
{
	char who[128];
	va_list ap;

	fprintf(stderr, "%s: ", cli_who(who, sizeof(who)));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; try '%s --help'\n", who);
	return EXIT_USAGE;
}

/* A refused value as a usage error: "OPT 'V' must be ...". Passes rc on. */
static int refused(int rc, const char *opt, const char *v, const char *why)
{
	if (rc)
		cli_usage_error("%s '%s' %s", opt, v, why);
	return rc;
}

int cli_parse_uint(const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	char why[NUM_WHY_LEN];

	return refused(num_parse_uint(v, min, max, out, why, sizeof(why)), opt, v, why);
}

int cli_parse_double(const char *opt, const char *v, double min, double max, double *out)
{
	char why[NUM_WHY_LEN];

	return refused(num_parse_double(v, min, max, out, why, sizeof(why)), opt, v, why);
}

bool cli_given(const struct cli_opt *o, const void *base)
{
	return o->given && *(const bool *)((const char *)base + o->given - 1);
}

/* Every option of a command, its blocks' included, with the settings each one fills. */
struct optset {
	unsigned int n;
	const struct cli_opt *opt[CLI_MAX_OPTS];
	void *base[CLI_MAX_OPTS];
	const void *defaults[CLI_MAX_OPTS];
};

/* Whether an entry's field fits its type: a mistake in a table, found on the first
 * parse or --help of its command (tests/build/cli-contract.sh runs them all). */
static bool field_fits(const struct cli_opt *o)
{
	switch (o->type) {
	case CLI_FLAG:
		return o->size == sizeof(bool) || o->size == sizeof(int);
	case CLI_STR:
		return o->size == sizeof(const char *);
	case CLI_UINT:
		return o->size == 1 || o->size == 2 || o->size == 4 || o->size == 8;
	case CLI_DOUBLE:
		return o->size == sizeof(double);
	case CLI_ENUM:
		return o->size == sizeof(int) && o->choices;
	case CLI_LIST:
		return o->size == o->max_count * sizeof(const char *);
	case CLI_CUSTOM:
		return o->parse;
	default:
		return false;
	}
}

static int optset_add(struct optset *s, const struct cli_opt *opts, void *base,
		      const void *defaults)
{
	for (; opts && opts->type != CLI_END; opts++) {
		if (s->n == CLI_MAX_OPTS || !field_fits(opts)) {
			fprintf(stderr, "%s: internal error: option table at --%s\n", prog_name(),
				opts->name);
			return -1;
		}
		s->opt[s->n] = opts;
		s->base[s->n] = base;
		s->defaults[s->n] = defaults;
		s->n++;
	}
	return 0;
}

static int optset_of(const struct cli_cmd *cmd, void *cfg, const void *defaults, struct optset *s)
{
	const struct cli_block *const *b;

	s->n = 0;
	if (optset_add(s, cmd->opts, cfg, defaults))
		return -1;
	for (b = cmd->blocks; b && *b; b++)
		if (optset_add(s, (*b)->opts, (*b)->base, (*b)->defaults))
			return -1;
	return 0;
}

static bool takes_value(const struct cli_opt *o)
{
	return o->type != CLI_FLAG && (o->type != CLI_CUSTOM || o->metavar);
}

static int has_arg(const struct cli_opt *o)
{
	if (o->optional)
		return optional_argument;
	return takes_value(o) ? required_argument : no_argument;
}

static int val_of(const struct optset *s, unsigned int i)
{
	return s->opt[i]->short_name ? (unsigned char)s->opt[i]->short_name
				     : VAL_LONG_ONLY + (int)i;
}

/* The getopt_long arguments: "-h" and "--help" come last, for every command. */
static void getopt_args(const struct optset *s, struct option *lo, char *so)
{
	unsigned int i;

	for (i = 0; i < s->n; i++) {
		const struct cli_opt *o = s->opt[i];

		lo[i] = (struct option){o->name, has_arg(o), NULL, val_of(s, i)};
		if (o->short_name) {
			*so++ = o->short_name;
			if (has_arg(o) != no_argument)
				*so++ = ':';
			if (has_arg(o) == optional_argument)
				*so++ = ':';
		}
	}
	lo[i] = (struct option){"help", no_argument, NULL, 'h'};
	lo[i + 1] = (struct option){};
	*so++ = 'h';
	*so = 0;
}

/* A whole-number option's upper bound: .max, or what its field holds. */
static uint64_t uint_max(const struct cli_opt *o)
{
	uint64_t field_max = o->size >= 8 ? UINT64_MAX : (1ull << (8 * o->size)) - 1;

	return o->max && o->max < field_max ? o->max : field_max;
}

/* A field of 1, 2, 4 or 8 bytes (field_fits). */
static void store_uint(void *field, size_t size, uint64_t v)
{
	if (size == 1)
		*(uint8_t *)field = (uint8_t)v;
	else if (size == 2)
		*(uint16_t *)field = (uint16_t)v;
	else if (size == 4)
		*(uint32_t *)field = (uint32_t)v;
	else
		*(uint64_t *)field = v;
}

static uint64_t load_uint(const void *field, size_t size)
{
	switch (size) {
	case 1:
		return *(const uint8_t *)field;
	case 2:
		return *(const uint16_t *)field;
	case 4:
		return *(const uint32_t *)field;
	case 8:
		return *(const uint64_t *)field;
	default:
		return 0;
	}
}

/* "a or b", "a, b or c": the names of an option's choices. */
static const char *choice_list(const struct cli_choice *c, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (; c->name; c++)
		n += snprintf(buf + n, n < len ? len - n : 0, "%s%s",
			      !n	  ? ""
			      : c[1].name ? ", "
					  : " or ",
			      c->name);
	return buf;
}

static int set_enum(const struct cli_opt *o, const char *v, void *field)
{
	const struct cli_choice *c;
	char names[256];

	for (c = o->choices; c->name; c++)
		if (!strcmp(c->name, v)) {
			*(int *)field = c->value;
			return 0;
		}
	return cli_usage_error("--%s '%s' must be %s", o->name, v,
			       choice_list(o->choices, names, sizeof(names)));
}

static int set_list(const struct cli_opt *o, const char *v, void *base, void *field)
{
	unsigned int *n = (unsigned int *)((char *)base + o->count_offset);

	if (*n >= o->max_count)
		return cli_usage_error("at most %u --%s options", o->max_count, o->name);
	((const char **)field)[(*n)++] = v;
	return 0;
}

/* Take one option's value into its field. Returns 0 or EXIT_USAGE after saying why. */
static int set_value(const struct cli_opt *o, const char *v, void *base)
{
	void *field = (char *)base + o->offset;
	char opt[64];
	uint64_t u;
	double d;

	snprintf(opt, sizeof(opt), "--%s", o->name); /* for messages */

	switch (o->type) {
	case CLI_FLAG:
		if (o->size == sizeof(int))
			*(int *)field = 1;
		else
			*(bool *)field = true;
		break;
	case CLI_STR:
		*(const char **)field = v;
		break;
	case CLI_UINT:
		if (cli_parse_uint(opt, v, o->min, uint_max(o), &u))
			return EXIT_USAGE;
		store_uint(field, o->size, u);
		break;
	case CLI_DOUBLE:
		if (!v)
			d = o->bare;
		else if (cli_parse_double(opt, v, o->dmin, o->dmax, &d))
			return EXIT_USAGE;
		*(double *)field = d;
		break;
	case CLI_ENUM:
		if (set_enum(o, v, field))
			return EXIT_USAGE;
		break;
	case CLI_LIST:
		if (set_list(o, v, base, field))
			return EXIT_USAGE;
		break;
	case CLI_CUSTOM:
		if (o->parse(v, field))
			return EXIT_USAGE;
		break;
	case CLI_END:
		break;
	}
	if (o->given)
		*(bool *)((char *)base + o->given - 1) = true;
	return 0;
}

/* getopt_long returned '?' for the word at argv[word]: name what was wrong. The
 * wording is the dispatcher's since before the tables: a short option's letter, the
 * long option as typed. */
static int bad_option(const struct optset *s, int argc, char **argv, int word)
{
	const char *arg = word < argc ? argv[word] : "";
	unsigned int i;

	for (i = 0; optopt && i < s->n; i++) {
		if (val_of(s, i) != optopt || !takes_value(s->opt[i]))
			continue;
		if (s->opt[i]->short_name)
			return cli_usage_error("option '-%c' needs a value", optopt);
		return cli_usage_error("option '%s' needs a value", arg);
	}
	return cli_usage_error("unknown option '%s'", arg);
}

int cli_parse(const struct cli_cmd *cmd, void *cfg, int argc, char **argv, int *first)
{
	struct option lo[CLI_MAX_OPTS + 2];
	char so[3 * CLI_MAX_OPTS + 2];
	void *initial = cmd->cfg_size ? malloc(cmd->cfg_size) : NULL;
	struct optset s;
	int rc = 0, opt;

	if (initial)
		memcpy(initial, cfg, cmd->cfg_size); /* the defaults --help states */
	if (optset_of(cmd, cfg, initial, &s)) {
		free(initial);
		return 1;
	}
	getopt_args(&s, lo, so);
	optind = 0; /* a fresh scan (glibc), also after an earlier parse */
	opterr = 0;
	for (;;) {
		int word = optind ? optind : 1;
		unsigned int i;

		opt = getopt_long(argc, argv, so, lo, NULL);
		if (opt == -1)
			break;
		if (opt == 'h') {
			cli_print_help(cmd, initial, stdout);
			rc = CLI_HELP;
			break;
		}
		if (opt == '?') {
			rc = bad_option(&s, argc, argv, word);
			break;
		}
		for (i = 0; i < s.n && val_of(&s, i) != opt; i++)
			;
		if (i < s.n && (rc = set_value(s.opt[i], optarg, s.base[i])))
			break;
	}
	free(initial);
	*first = optind;
	return rc;
}

int cli_parse_options(const struct cli_cmd *cmd, void *cfg, int argc, char **argv)
{
	int first, rc = cli_parse(cmd, cfg, argc, argv, &first);

	if (rc == 0 && first < argc)
		rc = cli_usage_error("unexpected argument '%s'", argv[first]);
	return rc;
}

void cli_parse_options_or_exit(const struct cli_cmd *cmd, void *cfg, int argc, char **argv)
{
	int rc = cli_parse_options(cmd, cfg, argc, argv);

	if (rc)
		exit(rc == CLI_HELP ? 0 : rc);
}

int cli_run(const struct cli_cmd *cmd, int argc, char **argv)
{
	void *cfg = calloc(1, cmd->cfg_size ? cmd->cfg_size : 1);
	int rc, first;

	if (!cfg)
		return 1;
	if (cmd->defaults)
		memcpy(cfg, cmd->defaults, cmd->cfg_size);
	rc = cli_parse(cmd, cfg, argc, argv, &first);
	if (rc == 0)
		rc = cmd->run(cfg, argc - first, argv + first);
	else if (rc == CLI_HELP)
		rc = 0;
	free(cfg);
	return rc;
}

/* ---- --help ---------------------------------------------------------------------------- */

/* The default as --help states it: .def, else the value in the defaults when it means
 * something (a string, a number in range other than 0, a named choice). */
static const char *default_of(const struct cli_opt *o, const void *defaults, char *buf, size_t len)
{
	const void *field;
	const struct cli_choice *c;
	uint64_t u;
	double d;

	if (o->def || !defaults)
		return o->def;
	field = (const char *)defaults + o->offset;
	switch (o->type) {
	case CLI_STR:
		return *(const char *const *)field;
	case CLI_UINT:
		u = load_uint(field, o->size);
		if (!u || u < o->min || u > uint_max(o))
			return NULL;
		snprintf(buf, len, "%llu", (unsigned long long)u);
		return buf;
	case CLI_DOUBLE:
		d = *(const double *)field;
		if (!d || d < o->dmin || d > o->dmax)
			return NULL;
		snprintf(buf, len, "%g", d);
		return buf;
	case CLI_ENUM:
		for (c = o->choices; c->name; c++)
			if (c->value == *(const int *)field)
				return c->name;
		return NULL;
	default:
		return NULL;
	}
}

/* Print text from column `col` (the cursor is there), wrapped at HELP_WIDTH, later lines
 * indented to HELP_INDENT. */
static void wrap(FILE *f, const char *text, int col)
{
	const char *p = text;

	while (*p) {
		const char *w = p + strcspn(p, " ");
		int wl = (int)(w - p);

		if (col > HELP_INDENT && col + 1 + wl > HELP_WIDTH) {
			fprintf(f, "\n%*s", HELP_INDENT, "");
			col = HELP_INDENT;
		} else if (col > HELP_INDENT) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", wl, p);
		col += wl;
		p = *w ? w + 1 : w;
	}
	fputc('\n', f);
}

static void help_line(FILE *f, const struct cli_opt *o, const void *defaults)
{
	char left[96], text[512], dbuf[32];
	const char *def = default_of(o, defaults, dbuf, sizeof(dbuf));
	int n;

	/* "  -f, --flows N", "      --rates[=SECONDS]" */
	n = snprintf(left, sizeof(left), "  %c%c%c --%s%s%s%s", o->short_name ? '-' : ' ',
		     o->short_name ? o->short_name : ' ', o->short_name ? ',' : ' ', o->name,
		     !o->metavar   ? ""
		     : o->optional ? "[="
				   : " ",
		     o->metavar ? o->metavar : "", o->metavar && o->optional ? "]" : "");
	snprintf(text, sizeof(text), "%s%s%s%s%s", o->help,
		 o->type == CLI_LIST ? " (repeatable)" : "", def ? " (default " : "",
		 def ? def : "", def ? ")" : "");
	if (n + 1 < HELP_INDENT)
		fprintf(f, "%-*s", HELP_INDENT, left);
	else
		fprintf(f, "%s\n%*s", left, HELP_INDENT, "");
	wrap(f, text, HELP_INDENT);
}

void cli_print_help(const struct cli_cmd *cmd, const void *defaults, FILE *f)
{
	static const struct cli_opt help = {CLI_FLAG, "help", 'h', .help = "show this text"};
	struct optset s;
	unsigned int i;

	if (optset_of(cmd, NULL, defaults ? defaults : cmd->defaults, &s))
		return;
	fprintf(f, "Usage: %s %s", prog_name(), cmd->usage);
	fprintf(f, "Options:\n");
	for (i = 0; i < s.n; i++)
		if (s.opt[i]->help)
			help_line(f, s.opt[i], s.defaults[i]);
	help_line(f, &help, NULL);
}
