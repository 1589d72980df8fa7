/* test_params.c: the one number parser (base/num.h) and the option tables (cli/params.h):
 * what each accepts, what it refuses and how the refusal reads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "base/num.h"
#include "cli/params.h"

static void test_uint(void)
{
	static const char *const bad[] = {
	    "",	 "x", "-1", " 5", "5 ", "+5", "0x10", "010x", "1e3", "1.5", "99999999999999999999",
	    NULL};
	char why[NUM_WHY_LEN];
	uint64_t v = 7;
	int i;

	ASSERT_TRUE(num_parse_uint("1024", 1024, 1u << 28, &v, why, sizeof(why)) == 0 && v == 1024,
		    "the lower bound is accepted");
	ASSERT_TRUE(num_parse_uint("007", 0, 10, &v, why, sizeof(why)) == 0 && v == 7,
		    "leading zeros are decimal, not octal");
	ASSERT_TRUE(num_parse_uint("18446744073709551615", 0, UINT64_MAX, &v, why, sizeof(why)) ==
			    0 &&
			v == UINT64_MAX,
		    "the largest 64-bit value");
	for (i = 0; bad[i]; i++) {
		v = 7;
		ASSERT_TRUE(num_parse_uint(bad[i], 0, 1000, &v, why, sizeof(why)) == -1 && v == 7,
			    bad[i]);
	}
	num_parse_uint("1023", 1024, 268435456, &v, why, sizeof(why));
	ASSERT_TRUE(!strcmp(why, "must be a whole number from 1024 to 268435456"),
		    "out of range names the range");
	num_parse_uint("0", 1, UINT64_MAX, &v, why, sizeof(why));
	ASSERT_TRUE(!strcmp(why, "must be a whole number, 1 or more"), "no upper bound");
}

static void test_int_double(void)
{
	static const char *const bad[] = {"",	"x", " 1",    "+1", "0x10",  "inf", "nan",
					  "1e", ".", "1e999", "-",  "1.2.3", NULL};
	char why[NUM_WHY_LEN];
	int64_t i64;
	double d = 3;
	int i;

	TEST_STEP("negative whole numbers");
	ASSERT_TRUE(num_parse_int("-5", -10, 10, &i64, why, sizeof(why)) == 0 && i64 == -5,
		    "a minus where the range allows it");
	ASSERT_TRUE(num_parse_int("-5", 0, 10, &i64, why, sizeof(why)) == -1 &&
			!strcmp(why, "must be a whole number from 0 to 10"),
		    "no minus where it does not");

	TEST_STEP("decimal numbers");
	ASSERT_TRUE(num_parse_double("0.5", 0, 1, &d, why, sizeof(why)) == 0 && d == 0.5, "0.5");
	ASSERT_TRUE(num_parse_double(".5", 0, 1, &d, why, sizeof(why)) == 0 && d == 0.5, ".5");
	ASSERT_TRUE(num_parse_double("5.", 0, 10, &d, why, sizeof(why)) == 0 && d == 5, "5.");
	ASSERT_TRUE(num_parse_double("1e-3", 0, 1, &d, why, sizeof(why)) == 0 && d == 0.001,
		    "an exponent");
	for (i = 0; bad[i]; i++) {
		d = 3;
		ASSERT_TRUE(num_parse_double(bad[i], -INFINITY, INFINITY, &d, why, sizeof(why)) ==
				    -1 &&
				d == 3,
			    bad[i]);
	}
	num_parse_double("0.9", 1e-9, 0.5, &d, why, sizeof(why));
	ASSERT_TRUE(!strcmp(why, "must be a number from 1e-09 to 0.5"), "the range in %g");
	num_parse_double("0", 0.001, INFINITY, &d, why, sizeof(why));
	ASSERT_TRUE(!strcmp(why, "must be a number, 0.001 or more"), "no upper bound");
}

static void test_duration(void)
{
	static const char *const bad[] = {"",	 "soon", "10 s",	 " 5s", "+5s",
					  "-5s", "1e3s", "5.s",		 ".5s", "5sec",
					  "0x5", "inf",	 "99999999999h", NULL};
	char why[NUM_WHY_LEN];
	uint64_t ms = 7;
	int i;

	ASSERT_TRUE(num_parse_duration_ms("500ms", 0, UINT64_MAX, &ms, why, sizeof(why)) == 0 &&
			ms == 500,
		    "500ms");
	ASSERT_TRUE(num_parse_duration_ms("1.5m", 0, UINT64_MAX, &ms, why, sizeof(why)) == 0 &&
			ms == 90000,
		    "1.5m");
	ASSERT_TRUE(num_parse_duration_ms("30", 0, UINT64_MAX, &ms, why, sizeof(why)) == 0 &&
			ms == 30000,
		    "a bare number is seconds");
	ASSERT_TRUE(num_parse_duration_ms("2h", 0, UINT64_MAX, &ms, why, sizeof(why)) == 0 &&
			ms == 7200000,
		    "2h");
	for (i = 0; bad[i]; i++) {
		ms = 7;
		ASSERT_TRUE(num_parse_duration_ms(bad[i], 0, UINT64_MAX, &ms, why, sizeof(why)) ==
				    -1 &&
				ms == 7,
			    bad[i]);
	}
	num_parse_duration_ms("soon", 0, UINT64_MAX, &ms, why, sizeof(why));
	ASSERT_TRUE(!strcmp(why, "must be a duration such as 500ms, 10s, 2m or 1h"),
		    "the syntax error gives examples");
	num_parse_duration_ms("500ms", 1000, 86400000, &ms, why, sizeof(why));
	ASSERT_TRUE(!strcmp(why, "must be a duration from 1s to 24h"), "the range in units");
}

/* ---- the tables ---- */

struct settings {
	bool flag;
	const char *str;
	uint32_t u32;
	uint16_t u16;
	bool u16_given;
	double d, opt;
	int choice;
	const char *list[2];
	unsigned int nlist;
	int custom;
};

static int custom_parse(const char *value, void *field)
{
	if (strcmp(value, "ok"))
		return cli_usage_error("--custom '%s' is not ok", value);
	*(int *)field = 42;
	return 0;
}

#define F(m) CLI_FIELD(struct settings, m)
static const struct cli_opt opts[] = {
    {CLI_FLAG, "flag", 'f', F(flag), .help = "a flag"},
    {CLI_STR, "str", 's', F(str), .metavar = "TEXT", .help = "a string"},
    {CLI_UINT, "u32", 0, F(u32), .metavar = "N", .help = "a number", .min = 1, .max = 100},
    {CLI_UINT, "u16", 0, F(u16), .metavar = "N", .help = "as large as a u16 holds",
     CLI_GIVEN(struct settings, u16_given)},
    {CLI_DOUBLE, "d", 'd', F(d), .metavar = "S", .help = "a decimal", .dmin = 0.5, .dmax = 2},
    {CLI_DOUBLE, "opt", 0, F(opt), .metavar = "S", .help = "an optional value", .dmin = 1,
     .dmax = 9, .optional = true, .bare = 3},
    {CLI_ENUM, "choice", 'c', F(choice), .metavar = "C", .help = "one of three",
     .choices = (const struct cli_choice[]){{"a", 1}, {"b", 2}, {"c", 3}, {}}},
    {CLI_LIST, "list", 'l', F(list), .metavar = "X", .help = "at most two", .max_count = 2,
     CLI_COUNT(struct settings, nlist)},
    {CLI_CUSTOM, "custom", 0, F(custom), .metavar = "V", .parse = custom_parse,
     .help = "decided by a function"},
    {},
};
static const struct settings defaults = {.u32 = 5, .choice = 2};
static const struct cli_cmd cmd = {
    .name = "test",
    .usage = "test [OPTIONS] ARGS\n",
    .opts = opts,
    .defaults = &defaults,
    .cfg_size = sizeof(struct settings),
};

/* Parse the NULL-terminated words after "test" into *s. Returns cli_parse's result. */
static int parse(struct settings *s, int *first, const char **words)
{
	char *argv[32] = {"test"};
	int argc = 1;

	while (*words && argc < 31)
		argv[argc++] = (char *)*words++;
	*s = defaults;
	return cli_parse(&cmd, s, argc, argv, first);
}

#define PARSE(s, first, ...) parse(s, first, (const char *[]){__VA_ARGS__, NULL})

static void test_tables(void)
{
	struct settings s;
	int first;

	cli_set_names("prog", "test");
	ASSERT_EQ(PARSE(&s, &first, "-f", "pos1", "--str", "x", "--u32=100", "--u16", "65535", "-d",
			"0.5", "--opt", "-c", "c", "-l", "one", "--list", "two", "--custom", "ok",
			"pos2"),
		  0, "every kind parses");
	ASSERT_TRUE(s.flag && !strcmp(s.str, "x") && s.u32 == 100 && s.u16 == 65535 &&
			s.u16_given && s.d == 0.5 && s.opt == 3 && s.choice == 3 && s.nlist == 2 &&
			!strcmp(s.list[1], "two") && s.custom == 42,
		    "into their fields");
	ASSERT_EQ(first, 18, "the positional arguments come after the options");
	ASSERT_EQ(PARSE(&s, &first, "--opt=9"), 0, "an optional value given");
	ASSERT_TRUE(s.opt == 9 && !s.u16_given && s.u32 == 5 && s.choice == 2,
		    "defaults stay where no option was given");
	ASSERT_EQ(PARSE(&s, &first, "--u32", "0"), EXIT_USAGE, "below the range");
	ASSERT_EQ(PARSE(&s, &first, "--u16", "65536"), EXIT_USAGE, "more than the field holds");
	ASSERT_EQ(PARSE(&s, &first, "--d", "x"), EXIT_USAGE, "not a number");
	ASSERT_EQ(PARSE(&s, &first, "--opt=0"), EXIT_USAGE, "an optional value out of range");
	ASSERT_EQ(PARSE(&s, &first, "--choice", "d"), EXIT_USAGE, "not a choice");
	ASSERT_EQ(PARSE(&s, &first, "-l", "1", "-l", "2", "-l", "3"), EXIT_USAGE,
		  "a list longer than its maximum");
	ASSERT_EQ(PARSE(&s, &first, "--custom", "no"), EXIT_USAGE, "refused by its function");
	ASSERT_EQ(PARSE(&s, &first, "--nope"), EXIT_USAGE, "an unknown option");
	ASSERT_EQ(PARSE(&s, &first, "-Z"), EXIT_USAGE, "an unknown short option");
	ASSERT_EQ(PARSE(&s, &first, "--str"), EXIT_USAGE, "a missing value");
	ASSERT_EQ(PARSE(&s, &first, "--flag=1"), EXIT_USAGE, "a value for a flag");
	ASSERT_EQ(PARSE(&s, &first, "-f", "--u32", "7"), 0,
		  "a parse after a failed one starts anew");
	ASSERT_TRUE(s.flag && s.u32 == 7, "... and takes every option");
}

/* A table whose field does not fit its type is refused before any option is taken. */
static void test_bad_table(void)
{
	static const struct cli_opt bad[] = {
	    {CLI_DOUBLE, "d", 0, CLI_FIELD(struct settings, u32), .help = "a double in a u32"},
	    {},
	};
	static const struct cli_cmd badcmd = {
	    .usage = "x\n", .opts = bad, .cfg_size = sizeof(struct settings)};
	struct settings s = {.u32 = 5};
	char *argv[] = {"test", "--d", "1", NULL};
	int first;

	ASSERT_EQ(cli_parse(&badcmd, &s, 3, argv, &first), 1, "is an internal error");
	ASSERT_EQ(s.u32, 5, "and writes nothing");
}

static void test_help(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const struct cli_opt *o;
	bool all = true;

	cli_print_help(&cmd, NULL, f);
	fclose(f);
	ASSERT_TRUE(!strncmp(buf, "Usage: prog test [OPTIONS] ARGS\n", 32), "the usage line first");
	for (o = opts; o->type; o++) {
		char want[64];

		snprintf(want, sizeof(want), "--%s", o->name);
		all &= strstr(buf, want) != NULL;
	}
	ASSERT_TRUE(all, "every option is listed");
	ASSERT_TRUE(strstr(buf, "  -f, --flag ") != NULL, "short and long name");
	ASSERT_TRUE(strstr(buf, "      --opt[=S] ") != NULL, "an optional value in brackets");
	ASSERT_TRUE(strstr(buf, "a number (default 5)") != NULL, "a default from the defaults");
	ASSERT_TRUE(strstr(buf, "one of three (default b)") != NULL, "a choice's default by name");
	ASSERT_TRUE(strstr(buf, "at most two (repeatable)") != NULL, "a list says it repeats");
	ASSERT_TRUE(strstr(buf, "  -h, --help ") != NULL, "--help itself");
	free(buf);
}

static const struct test_case cases[] = {
	{"whole numbers", test_uint},
	{"negative and decimal numbers", test_int_double},
	{"durations", test_duration},
	{"option tables", test_tables},
	{"a mistaken table", test_bad_table},
	{"--help from the table", test_help},
};

TEST_MAIN(cases)
