/* fuzz_state.c: libFuzzer target for canaryd's saved rollout state: the JSON reader
 * (jv_parse) and the strict restore (rollout_from_json), as canaryd loads a file. */
#include <stdint.h>
#include <stdlib.h>

#include "base/jsonv.h"
#include "logic/rollout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rollout r;
	struct json_object *j;
	struct jv v = {};
	char err[256];

	j = jv_parse(&v, (const char *)data, size);
	if (!j)
		return 0;
	rollout_from_json(&r, j, "web", err, sizeof(err));
	rollout_free(&r);
	json_object_put(j);
	return 0;
}
