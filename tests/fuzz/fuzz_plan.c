/* fuzz_plan.c: libFuzzer target for the rollout plan parser (plan_parse_text). */
#include <stdint.h>
#include <stdio.h>

#include "logic/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	static struct plan p;

	if (!null)
		null = fopen("/dev/null", "w");
	plan_parse_text((const char *)data, size, "fuzz.yaml", &p, null);
	return 0;
}
