/*
 * The zone field update_policy (api/upolicy.c) as PUT /zones/{id} parses it:
 * any JSON text ends in 0 with rules inside the zone, or a 422 JSON error
 * naming the fault, never a crash.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "dns/name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zone[] = "\7example\3com";
	json_error_t je;
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
	if (j == NULL)
		return 0;
	struct api_req r = {.method = "PUT"};
	struct api_resp rs = {0};
	struct api_ctx c = {.r = &r, .rs = &rs};
	arena_init(&c.ar, 4096);
	const struct store_upolicy_rule *rules = NULL;
	size_t n = 0;
	if (api_upolicy_parse(&c, j, zone, &rules, &n) != 0) {
		assert(rs.status == 422 || rs.status == 500);
		assert(rs.body != NULL && strncmp(rs.body, "{\"error\":", 9) == 0);
	} else {
		assert(n <= STORE_UPOLICY_MAX);
		for (size_t i = 0; i < n; i++) {
			assert(dns_name_is_sub(rules[i].name, zone));
			assert(rules[i].ntypes <= STORE_UPOLICY_TYPES);
		}
	}
	free(rs.body);
	arena_clear(&c.ar);
	json_decref(j);
	return 0;
}
