/*
 * API PATCH bodies: JSON parsing, the rrset/record shape checks and record
 * contents parsed by dns/rdata for their type, as PATCH /zones/{id} does
 * before anything reaches the store.  Every input must end in 0 or a 4xx
 * JSON error naming the fault, never a crash.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct api a = {.o = {.max_body = 1 << 20, .max_rrsets = 64, .max_records = 64}};
	static const uint8_t zone[] = "\7example\3com";
	char *body = malloc(size + 1);
	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	struct api_req r = {.api = &a, .body = body, .body_len = size, .method = "PATCH"};
	struct api_resp rs = {0};
	size_t nops = 0;
	int ret = api_patch_check(&r, &rs, zone, &nops);
	if (ret != 0) {
		/* a refusal is a client error with a JSON body */
		assert(rs.status >= 400 && rs.status < 500);
		assert(rs.body != NULL && strncmp(rs.body, "{\"error\":", 9) == 0);
	} else {
		assert(nops <= a.o.max_rrsets);
	}
	free(rs.body);
	free(body);
	return 0;
}
