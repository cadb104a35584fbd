/*
 * libFuzzer target for the state pack's reader (pack_scan): any bytes, as a
 * damaged or hostile zones.pack.  No crash, no read outside the image; every
 * good record lies inside it, after the file header, in file order, at a
 * multiple of 8, with a checked origin and (a zone version) records that
 * walk cleanly; every skipped region lies inside it and has a reason; the
 * good end is where the last good record ends.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "secondary/pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	const uint8_t *img;
	size_t len;
	uint64_t last_end;
	size_t nrec, nbad, nrr;
};

static int
on_rr(void *ctx, const struct dns_rr *rr)
{
	struct seen *s = ctx;
	assert(dns_name_check(rr->owner, DNS_NAME_MAX) > 0);
	assert(rr->rdata >= s->img && rr->rdata + rr->rdlen <= s->img + s->len);
	s->nrr++;
	return 0;
}

static void
on_rec(void *ctx, const struct pack_rec *r)
{
	struct seen *s = ctx;
	assert(r->off >= PACK_HDR_LEN && r->off % 8 == 0 && r->off >= s->last_end);
	assert(r->off + PACK_REC_HDR <= s->len && r->size <= s->len - r->off);
	assert(r->kind >= PACK_ZONE && r->kind <= PACK_FILE);
	assert(r->origin > s->img && r->origin < s->img + s->len);
	assert(dns_name_check(r->origin, (size_t)(s->img + s->len - r->origin)) > 0);
	if (r->kind == PACK_ZONE) {
		assert(r->rrs >= s->img && r->rrs + r->rrs_len <= s->img + s->len);
		assert(persist_records(r->rrs, r->rrs_len, r->count, on_rr, s, NULL, 0) == 0);
	}
	s->last_end = r->off + r->size;
	s->nrec++;
}

static void
on_bad(void *ctx, const struct pack_bad *b)
{
	struct seen *s = ctx;
	assert(b->off >= PACK_HDR_LEN && b->len > 0 && b->off + b->len <= s->len);
	assert(b->why[0] != '\0');
	s->nbad++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly `size` bytes: ASan catches a read past the image */
	uint8_t *img = malloc(size ? size : 1);
	if (img == NULL)
		return 0;
	memcpy(img, data, size);
	struct seen s = {.img = img, .len = size};
	char why[200] = "";
	uint64_t good = 0;
	int r = pack_scan(img, size, on_rec, on_bad, &s, &good, why, sizeof(why));
	if (r != 0) {
		assert(why[0] != '\0' && s.nrec == 0 && s.nbad == 0);
	} else {
		assert(good >= PACK_HDR_LEN && good <= size);
		assert(s.nrec > 0 || good == PACK_HDR_LEN);
	}
	free(img);
	return 0;
}
