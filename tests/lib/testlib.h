/* Minimal TAP-style assertions shared by every C test program.
 * Each check prints "ok - ..." or "not ok - ..."; tests/run.sh sums them
 * into the closing "N passed, M failed" line. */
#ifndef XDP_CANARY_TESTLIB_H
#define XDP_CANARY_TESTLIB_H

#include <stdio.h>
#include <string.h>
#include <inttypes.h>

static int tl_pass, tl_fail;
static const char *tl_case = "";

/* Name the subtest the following checks belong to. */
#define TEST_CASE(name) (tl_case = (name))

/* Every ASSERT_* evaluates to true when the check held, so a test can bail out. */
#define TL_REPORT(cond, fmt, ...)                                              \
	({                                                                     \
		int __ok = !!(cond);                                           \
		if (__ok) {                                                    \
			tl_pass++;                                             \
			printf("ok - %s: " fmt "\n", tl_case, ##__VA_ARGS__);  \
		} else {                                                       \
			tl_fail++;                                             \
			printf("not ok - %s: " fmt "  (%s:%d)\n", tl_case,     \
			       ##__VA_ARGS__, __FILE__, __LINE__);             \
		}                                                              \
		__ok;                                                          \
	})

#define ASSERT_TRUE(c, what) TL_REPORT((c), "%s", what)
#define ASSERT_EQ(a, b, what)                                                  \
	({                                                                     \
		long long __a = (long long)(a), __b = (long long)(b);          \
		TL_REPORT(__a == __b, "%s (got %lld, want %lld)", what, __a,   \
			  __b);                                                \
	})
#define ASSERT_NEAR(a, b, tol, what)                                           \
	({                                                                     \
		double __a = (a), __b = (b), __t = (tol);                      \
		TL_REPORT(__a - __b <= __t && __b - __a <= __t,                \
			  "%s (got %.6g, want %.6g +- %.3g)", what, __a, __b,  \
			  __t);                                                \
	})
#define ASSERT_MEM_EQ(a, b, n, what)                                           \
	TL_REPORT(memcmp((a), (b), (n)) == 0, "%s", what)

/* Print the closing line and turn the result into an exit status. */
static inline int test_summary(void)
{
	printf("%d passed, %d failed\n", tl_pass, tl_fail);
	return tl_fail ? 1 : 0;
}

#endif
