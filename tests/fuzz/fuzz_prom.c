/* fuzz_prom.c: libFuzzer target for Prometheus answers (prom_answer_parse). */
#include <stdint.h>

#include "http/promquery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t sum;
	char err[256];

	prom_answer_parse((const char *)data, size, &sum, err, sizeof(err));
	return 0;
}
