/*
 * Fuzz target for dns/zonetext.c: arbitrary bytes parsed as a zone with
 * origin "fuzz.".  Every record the parser accepts is printed with
 * dns_zt_print_rr and the printed line parsed again; the second parse must
 * give exactly the same record (owner octets, type, TTL, rdata), else abort().
 * The rdata printed in PowerDNS's form (dns_rdata_to_text_pdns, the API's
 * content) must parse back to the same octets too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/zonetext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct again {
	const struct dns_rr *want;
	unsigned n;
};

static char line[DNS_ZT_LINE_MAX];
static uint8_t back[DNS_RDATA_MAX];

/* The API's content form parses back to the same rdata. */
static void
pdns_round_trip(const struct dns_rr *rr)
{
	int n = dns_rdata_to_text_pdns(rr->type, rr->rdata, rr->rdlen, line, sizeof(line));
	if (n < 0)
		return;   /* malformed for its type: the API prints the RFC 3597 form */
	char err[160];
	int b = dns_rdata_from_str(rr->type, line, (size_t)n, NULL, back, sizeof(back), err,
	                           sizeof(err));
	if (b != (int)rr->rdlen || memcmp(back, rr->rdata, rr->rdlen) != 0)
		abort();
}

static int
compare(void *ctx, const struct dns_rr *rr)
{
	struct again *a = ctx;
	const struct dns_rr *w = a->want;
	size_t ol = dns_name_len(w->owner);
	if (a->n++ != 0 || dns_name_len(rr->owner) != ol || memcmp(rr->owner, w->owner, ol) != 0 ||
	    rr->type != w->type || rr->rclass != w->rclass || rr->ttl != w->ttl ||
	    rr->rdlen != w->rdlen || memcmp(rr->rdata, w->rdata, w->rdlen) != 0)
		abort();
	return 0;
}

static int
on_rr(void *ctx, const struct dns_rr *rr)
{
	(void)ctx;
	int n = dns_zt_print_rr(rr, line, sizeof(line));
	if (n <= 0)
		abort();   /* DNS_ZT_LINE_MAX holds any record */
	struct again a = {.want = rr, .n = 0};
	struct dns_zt_err err;
	/* the printed text has absolute names, so the origin must not matter */
	if (dns_zt_parse(line, (size_t)n, (const uint8_t *)"\5other", DNS_ZT_NO_TTL, compare, &a,
	                 &err) != 0 || a.n != 1)
		abort();
	pdns_round_trip(rr);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_zt_err err;
	dns_zt_parse((const char *)data, size, (const uint8_t *)"\4fuzz", DNS_ZT_NO_TTL, on_rr,
	             NULL, &err);
	return 0;
}
