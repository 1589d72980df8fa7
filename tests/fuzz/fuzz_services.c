/* fuzz_services.c: libFuzzer target for the services file parser (config_parse_text):
 * any bytes must give a parsed config or errors, never a crash, a leak or UB. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "logic/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct canary_config cfg;

	if (!null)
		null = fopen("/dev/null", "w");
	if (config_parse_text((const char *)data, size, "fuzz.yaml", &cfg, null) == 0)
		config_free(&cfg);
	return 0;
}
