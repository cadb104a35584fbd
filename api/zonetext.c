/*
 * Zone text import for POST /zones {"zone": "..."}: parsed by dns/zonetext into
 * REPLACE ops (one per rrset, duplicates dropped as BIND does), bounded like
 * the rrsets of a request.
 */
#include "api/internal.h"
#include "api/idn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/zonetext.h"
#include "util/arena.h"
#include "util/log.h"

/* ---- zone text import -------------------------------------------------------------- */

struct zt_rec {
	uint8_t *owner;
	uint8_t *rd;
	uint16_t type, rdlen;
	uint32_t ttl;
};

struct zt_collect {
	struct api_ctx *c;
	const uint8_t *zone;
	struct zt_rec *recs;
	size_t n, cap;
	bool utf8;       /* the text holds raw octets >= 0x80: check names (12.8) */
	char err[600];
};

static int
zt_add(void *ctx, const struct dns_rr *rr)
{
	struct zt_collect *zc = ctx;
	if (rr->rclass != DNS_C_IN) {
		snprintf(zc->err, sizeof(zc->err), "only class IN is supported");
		return -EINVAL;
	}
	if (!dns_name_is_sub(rr->owner, zc->zone)) {
		char t[DNS_NAME_TEXT_MAX];
		dns_name_to_text(rr->owner, t, sizeof(t));
		snprintf(zc->err, sizeof(zc->err), "record '%.200s' is outside the zone", t);
		return -EINVAL;
	}
	if (api_dnssec_type_refused(rr->type)) {
		char t[DNS_NAME_TEXT_MAX];
		dns_name_to_text(rr->owner, t, sizeof(t));
		snprintf(zc->err, sizeof(zc->err), "record '%.150s %.12s': DNSSEC records are made by "
		         "the signer, not imported (DNSSEC signing is not available yet)", t,
		         dns_rrtype_name(rr->type));
		return -EINVAL;
	}
	if (zc->utf8 && (api_idn_check_wire("name", rr->owner, zc->err, sizeof(zc->err)) != 0 ||
	                 api_idn_check_rdata(rr->type, rr->rdata, rr->rdlen, zc->err,
	                                     sizeof(zc->err)) != 0))
		return -EINVAL;
	if (zc->n == zc->cap) {
		size_t cap = zc->cap ? zc->cap * 2 : 256;
		struct zt_rec *nr = realloc(zc->recs, cap * sizeof(*nr));
		if (nr == NULL)
			return -ENOMEM;
		zc->recs = nr;
		zc->cap = cap;
	}
	struct zt_rec *r = &zc->recs[zc->n];
	r->owner = arena_memdup(&zc->c->ar, rr->owner, dns_name_len(rr->owner));
	r->rd = arena_memdup(&zc->c->ar, rr->rdata, rr->rdlen);
	if (r->owner == NULL || r->rd == NULL)
		return -ENOMEM;
	dns_name_lower(r->owner);
	r->type = rr->type;
	r->rdlen = rr->rdlen;
	r->ttl = rr->ttl;
	zc->n++;
	return 0;
}

static int
zt_cmp(const void *a, const void *b)
{
	const struct zt_rec *x = a, *y = b;
	int c = dns_name_cmp(x->owner, y->owner);
	if (c != 0)
		return c;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	size_t m = x->rdlen < y->rdlen ? x->rdlen : y->rdlen;
	c = memcmp(x->rd, y->rd, m);
	if (c != 0)
		return c;
	return (int)x->rdlen - (int)y->rdlen;
}

/* Zone text into REPLACE ops (one per rrset, duplicates dropped as BIND does). */
int
api_zonetext_parse(struct api_ctx *c, json_t *jz, const uint8_t *zone, struct api_parsed *p)
{
	struct zt_collect zc = {.c = c, .zone = zone};
	struct dns_zt_err ze = {0};
	const char *zt = json_string_value(jz);
	for (size_t i = 0; i < json_string_length(jz) && !zc.utf8; i++)
		zc.utf8 = (uint8_t)zt[i] >= 0x80;
	int ret = dns_zt_parse(json_string_value(jz), json_string_length(jz), zone, 3600, zt_add, &zc,
	                       &ze);
	if (ret != 0) {
		if (zc.err[0])
			api_error(c->rs, 422, "zone: %s", zc.err);
		else
			api_error(c->rs, 422, "zone: line %u, column %u: %s", ze.line, ze.col, ze.what);
		free(zc.recs);
		return -EINVAL;
	}
	if (zc.n == 0) {
		/* nothing to sort or store: not even an SOA */
		api_error(c->rs, 422, "zone: the zone text has no records (it needs at least the SOA "
		          "and NS records)");
		return -EINVAL;
	}
	qsort(zc.recs, zc.n, sizeof(*zc.recs), zt_cmp);
	p->ops = zc.n ? arena_alloc(&c->ar, zc.n * sizeof(*p->ops)) : NULL;
	struct store_rec *recs = zc.n ? arena_alloc(&c->ar, zc.n * sizeof(*recs)) : NULL;
	if (zc.n && (p->ops == NULL || recs == NULL)) {
		free(zc.recs);
		api_error(c->rs, 500, "out of memory");
		return -ENOMEM;
	}
	p->n = 0;
	size_t nrec = 0;
	for (size_t i = 0; i < zc.n; i++) {
		struct zt_rec *r = &zc.recs[i];
		bool same_set = i > 0 && r->type == zc.recs[i - 1].type &&
		                dns_name_equal(r->owner, zc.recs[i - 1].owner);
		if (same_set && zt_cmp(r, &zc.recs[i - 1]) == 0)
			continue;
		if (!same_set) {
			struct store_op *op = &p->ops[p->n++];
			memset(op, 0, sizeof(*op));
			op->kind = STORE_OP_REPLACE;
			op->owner = r->owner;
			op->type = r->type;
			op->ttl = r->ttl;
			op->has_ttl = true;
			op->recs = &recs[nrec];
			char t[DNS_NAME_TEXT_MAX], tt[DNS_RRTYPE_TEXT_MAX];
			dns_name_to_text(r->owner, t, sizeof(t));
			dns_rrtype_to_text(r->type, tt, sizeof(tt));
			snprintf(op->label, sizeof(op->label), "zone: %.24s/%.12s", t, tt);
		}
		struct store_op *op = &p->ops[p->n - 1];
		recs[nrec].rdata = r->rd;
		recs[nrec].rdlen = r->rdlen;
		recs[nrec].disabled = false;
		recs[nrec].content = NULL;
		nrec++;
		op->nrecs++;
	}
	free(zc.recs);
	/* A zone text's rrsets are bounded like a request's records per rrset; their
	 * number only by --api-max-body, so that a whole zone of any size imports. */
	struct api *a = c->r->api;
	for (size_t i = 0; i < p->n; i++) {
		if (p->ops[i].nrecs > API_LIM(a, max_records)) {
			api_error(c->rs, 422, "%s: %zu records, more than the limit of %zu per rrset",
			          p->ops[i].label, p->ops[i].nrecs, API_LIM(a, max_records));
			return -EINVAL;
		}
	}
	return 0;
}
