/* fuzz_fleet.c: libFuzzer target for what a node or canaryctl reads from the fleet's
 * store (lib/store/fleet.c): a node's report, a weight and the salts, each decoded from
 * the same bytes, and a report that decodes encoded and decoded again to the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fleet_report r, r2;
	static struct salt_table t;
	struct fleet_weight w;
	char why[256], *again;

	fleet_weight_decode((const char *)data, size, &w, why, sizeof(why));
	fleet_salts_decode((const char *)data, size, &t, why, sizeof(why));
	if (fleet_report_decode((const char *)data, size, &r, why, sizeof(why)))
		return 0;
	again = fleet_report_encode(&r);
	if (!again)
		return 0;
	if (fleet_report_decode(again, strlen(again), &r2, why, sizeof(why)) ||
	    r2.n_svc != r.n_svc || memcmp(r2.svc, r.svc, r.n_svc * sizeof(r.svc[0])))
		abort(); /* what the encoder writes, the decoder must read back the same */
	free(again);
	return 0;
}
