/* testlib.h: TAP-style assertions and named cases shared by every C test program.
 * A program is a table of named cases that test_main() runs: all of them, or with
 * -t PATTERN only those (and the fixtures of a table) whose name matches; -l lists them.
 * Each check prints "ok - CASE[/STEP]: ..." or "not ok - ..."; the program ends with
 * "N passed, M failed", and tests/run.sh sums the ok lines of every program.
 * No libbpf here: the pure-logic tests link without it. */
#ifndef XDP_CANARY_TESTLIB_H
#define XDP_CANARY_TESTLIB_H

#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tl_pass, tl_fail;
static const char *tl_case = ""; /* the case running */
static const char *tl_step;	 /* its current step or fixture, or NULL */

/* Every ASSERT_* evaluates to true when the check held, so a test can bail out. */
#define TL_REPORT(cond, fmt, ...)                                                                  \
	({                                                                                         \
		int __ok = !!(cond);                                                               \
		if (__ok) {                                                                        \
			tl_pass++;                                                                 \
			printf("ok - %s%s%s: " fmt "\n", tl_case, tl_step ? "/" : "",              \
			       tl_step ? tl_step : "", ##__VA_ARGS__);                             \
		} else {                                                                           \
			tl_fail++;                                                                 \
			printf("not ok - %s%s%s: " fmt "  (%s:%d)\n", tl_case, tl_step ? "/" : "", \
			       tl_step ? tl_step : "", ##__VA_ARGS__, __FILE__, __LINE__);         \
		}                                                                                  \
		__ok;                                                                              \
	})

#define ASSERT_TRUE(c, what) TL_REPORT((c), "%s", what)
#define ASSERT_EQ(a, b, what)                                                                      \
	({                                                                                         \
		long long __a = (long long)(a), __b = (long long)(b);                              \
		TL_REPORT(__a == __b, "%s (got %lld, want %lld)", what, __a, __b);                 \
	})
#define ASSERT_NEAR(a, b, tol, what)                                                               \
	({                                                                                         \
		double __a = (a), __b = (b), __t = (tol);                                          \
		TL_REPORT(__a - __b <= __t && __b - __a <= __t,                                    \
			  "%s (got %.6g, want %.6g +- %.3g)", what, __a, __b, __t);                \
	})
#define ASSERT_MEM_EQ(a, b, n, what) TL_REPORT(memcmp((a), (b), (n)) == 0, "%s", what)

/* ---- named cases ------------------------------------------------------------------------ */

/* One case of a program. A case that runs a table of fixtures also names them, so that -l
 * lists them and -t selects them one by one: fixture(i) is the i-th name, NULL past the
 * end, and the case asks test_fixture() before running each (TEST_FIXTURE_TABLE writes
 * both). */
struct test_case {
	const char *name;
	void (*run)(void);
	const char *(*fixture)(unsigned int i);
};

struct test_suite {
	const struct test_case *cases;
	unsigned int ncases;
	/* Run once before the first selected case (NULL: none); false ends the run. */
	bool (*setup)(void);
	void (*teardown)(void);
	/* The program's own options (NULL: none), parsed along with -t and -l: opt() gets
	 * each one's getopt code and argument and returns false to refuse it. */
	const struct option *options;
	bool (*opt)(int code, const char *arg);
	const char *usage; /* the program's own options, for -h */
};

#define TL_MAX_PATTERNS 16
static const char *tl_patterns[TL_MAX_PATTERNS];
static unsigned int tl_npatterns;
static bool tl_whole; /* the running case was selected by its own name: all its fixtures */

/* A pattern with * ? or [ is a glob over the whole name, any other a substring; both
 * ignore case. */
static inline bool tl_match(const char *pattern, const char *name)
{
	if (strpbrk(pattern, "*?["))
		return fnmatch(pattern, name, FNM_CASEFOLD) == 0;
	return strcasestr(name, pattern) != NULL;
}

static inline bool tl_selected(const char *name)
{
	unsigned int i;

	if (!tl_npatterns)
		return true;
	for (i = 0; i < tl_npatterns; i++)
		if (tl_match(tl_patterns[i], name))
			return true;
	return false;
}

/* Name the step of a case that the following checks belong to (NULL: none). Steps of
 * one case run in sequence and always all of them; a fixture can run alone. */
#define TEST_STEP(name) (tl_step = (name))

/* Whether the fixture `name` of the running case is to run; it then labels the checks
 * that follow. */
static inline bool test_fixture(const char *name)
{
	if (!tl_whole && !tl_selected(name))
		return false;
	tl_step = name;
	return true;
}

/* A case over a table of fixtures whose entries carry their name in `field`: defines
 * case_fn(), which calls run(&entry) for each entry -t selects, under its name, and
 * names_fn(), the case's fixture(). The table entry is then
 * {"NAME", case_fn, names_fn}. */
#define TEST_FIXTURE_TABLE(case_fn, names_fn, table, field, run)                                   \
	static const char *names_fn(unsigned int i)                                                \
	{                                                                                          \
		return i < sizeof(table) / sizeof((table)[0]) ? (table)[i].field : NULL;           \
	}                                                                                          \
	static void case_fn(void)                                                                  \
	{                                                                                          \
		unsigned int i;                                                                    \
                                                                                                   \
		for (i = 0; i < sizeof(table) / sizeof((table)[0]); i++)                           \
			if (test_fixture((table)[i].field))                                        \
				run(&(table)[i]);                                                  \
		TEST_STEP(NULL);                                                                   \
	}

static inline bool tl_case_has_selected_fixture(const struct test_case *c)
{
	const char *f;
	unsigned int i;

	for (i = 0; c->fixture && (f = c->fixture(i)); i++)
		if (tl_selected(f))
			return true;
	return false;
}

static inline void tl_usage(const struct test_suite *s, const char *prog, FILE *f)
{
	fprintf(f,
		"usage: %s [-l] [-t PATTERN]...%s%s\n"
		"  -l          list the cases (and the fixtures of a table, indented)\n"
		"  -t PATTERN  run only the cases and fixtures whose name matches: a substring,\n"
		"              or a glob with * ? [...]; either ignores case; may be repeated\n",
		prog, s->usage ? " " : "", s->usage ? s->usage : "");
}

/* A name that two cases or fixtures share could not be selected alone. */
static inline void tl_check_names(const struct test_suite *s)
{
	const char *names[1024];
	unsigned int n = 0, i, j;
	const char *f;

	for (i = 0; i < s->ncases && n < 1024; i++) {
		names[n++] = s->cases[i].name;
		for (j = 0; s->cases[i].fixture && (f = s->cases[i].fixture(j)) && n < 1024; j++)
			names[n++] = f;
	}
	tl_case = "names";
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (!strcmp(names[i], names[j]))
				TL_REPORT(false, "two cases or fixtures are named '%s'", names[i]);
	tl_case = "";
}

/* Print the closing line and turn the result into an exit status. */
static inline int test_summary(void)
{
	printf("%d passed, %d failed\n", tl_pass, tl_fail);
	return tl_fail ? 1 : 0;
}

/* Parse -t/-l (and the program's own options), run the selected cases in table order,
 * each labelled with its name, and close with "N passed, M failed". A pattern that
 * selects nothing fails, and so does a case that made no check. */
static inline int test_main(const struct test_suite *s, int argc, char **argv)
{
	struct option opts[32] = {{"list", no_argument, NULL, 'l'},
				  {"test", required_argument, NULL, 't'},
				  {"help", no_argument, NULL, 'h'}};
	unsigned int nopts = 3, i, j, ran = 0;
	bool list = false, set_up = false;
	const char *failed[256];
	unsigned int nfailed = 0;
	const char *f;
	int c;

	for (i = 0; s->options && s->options[i].name && nopts < 31; i++)
		opts[nopts++] = s->options[i];
	while ((c = getopt_long(argc, argv, "lt:h", opts, NULL)) != -1) {
		if (c == 'l') {
			list = true;
		} else if (c == 't' && tl_npatterns < TL_MAX_PATTERNS) {
			tl_patterns[tl_npatterns++] = optarg;
		} else if (c == 'h') {
			tl_usage(s, argv[0], stdout);
			return 0;
		} else if (c == '?' || c == 't' || !s->opt || !s->opt(c, optarg)) {
			tl_usage(s, argv[0], stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
		tl_usage(s, argv[0], stderr);
		return 2;
	}
	if (list) {
		for (i = 0; i < s->ncases; i++) {
			printf("%s\n", s->cases[i].name);
			for (j = 0; s->cases[i].fixture && (f = s->cases[i].fixture(j)); j++)
				printf("  %s\n", f);
		}
		return 0;
	}
	tl_check_names(s);
	for (i = 0; i < tl_npatterns; i++) {
		bool hit = false;

		for (j = 0; j < s->ncases && !hit; j++) {
			const struct test_case *tc = &s->cases[j];
			unsigned int k;

			hit = tl_match(tl_patterns[i], tc->name);
			for (k = 0; !hit && tc->fixture && (f = tc->fixture(k)); k++)
				hit = tl_match(tl_patterns[i], f);
		}
		if (!hit) {
			tl_case = "-t";
			TL_REPORT(false, "'%s' matches no case or fixture (-l lists them)",
				  tl_patterns[i]);
		}
	}
	for (i = 0; i < s->ncases; i++) {
		const struct test_case *tc = &s->cases[i];
		int pass0, fail0;

		tl_whole = tl_selected(tc->name);
		if (!tl_whole && !tl_case_has_selected_fixture(tc))
			continue;
		if (!set_up) {
			set_up = true;
			tl_case = "setup";
			tl_step = NULL;
			fail0 = tl_fail;
			if (s->setup && !s->setup()) {
				if (tl_fail == fail0)
					TL_REPORT(false, "setup failed");
				break;
			}
		}
		pass0 = tl_pass;
		fail0 = tl_fail;
		tl_case = tc->name;
		tl_step = NULL;
		tc->run();
		tl_step = NULL;
		ran++;
		if (tl_pass == pass0 && tl_fail == fail0)
			TL_REPORT(false, "the case made no check");
		printf("# %s: %s (%d passed, %d failed)\n", tc->name,
		       tl_fail > fail0 ? "FAILED" : "ok", tl_pass - pass0, tl_fail - fail0);
		if (tl_fail > fail0 && nfailed < 256)
			failed[nfailed++] = tc->name;
	}
	tl_case = "";
	if (set_up && s->teardown)
		s->teardown();
	if (!ran && !tl_fail)
		TL_REPORT(false, "no case ran");
	for (i = 0; i < nfailed; i++)
		printf("# failed case: %s\n", failed[i]);
	return test_summary();
}

/* main() of a program of cases, with setup and teardown (NULL: none). */
#define TEST_MAIN_SETUP(cases_, setup_, teardown_)                                                 \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		static const struct test_suite s = {                                               \
		    .cases = cases_,                                                               \
		    .ncases = sizeof(cases_) / sizeof((cases_)[0]),                                \
		    .setup = setup_,                                                               \
		    .teardown = teardown_,                                                         \
		};                                                                                 \
		return test_main(&s, argc, argv);                                                  \
	}
#define TEST_MAIN(cases_) TEST_MAIN_SETUP(cases_, NULL, NULL)

#endif
