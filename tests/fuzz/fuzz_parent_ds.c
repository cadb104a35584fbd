/*
 * libFuzzer target for primary/parent_ds.c: arbitrary bytes as the answer
 * to a DS query for "ksk.test." (id 0x1234).  The check must return 1, 0 or
 * a negative error, never read outside the packet, and say 1 only when the
 * wanted DS rdata is really in the answer section at the zone's name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/msg.h"
#include "dns/rrtype.h"
#include "primary/parent_ds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ksk.test. */
static const uint8_t zone[] = {3, 'k', 's', 'k', 4, 't', 'e', 's', 't', 0};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parent_ds_want w;
	memset(&w, 0, sizeof(w));
	/* 12345 13 2 00..1f */
	w.ds[0][0] = 0x30;
	w.ds[0][1] = 0x39;
	w.ds[0][2] = 13;
	w.ds[0][3] = 2;
	for (int i = 0; i < 32; i++)
		w.ds[0][4 + i] = (uint8_t)i;
	w.len[0] = 36;
	int r = parent_ds_answer_has(data, size, 0x1234, zone, &w);
	if (r > 1)
		abort();
	if (r == 1) {
		/* the rdata is in the packet, so are the header's QR bit and the id */
		int seen = 0;
		for (size_t i = 0; i + w.len[0] <= size && !seen; i++)
			seen = memcmp(data + i, w.ds[0], w.len[0]) == 0;
		if (!seen || size < 12 || !(data[2] & 0x80) || data[0] != 0x12 || data[1] != 0x34)
			abort();
	}
	return 0;
}
