/*
 * DNS UPDATE parsing (see update.h).  The RRs are read straight from the
 * packet (owner, type, class, TTL, rdlength, rdata) rather than through
 * dns_msg_iter_next, because an empty rdata is legal here for every type.
 */
#include "dns/update.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/wire.h"

/* One RR of the prerequisite or update section as sent. */
struct raw_rr {
	uint8_t owner[DNS_NAME_MAX];
	uint16_t type, rclass, rdlen;
	uint32_t ttl;
	size_t rdpos;            /* offset of the rdata in the packet */
};

static int
read_rr(const struct dns_msg *m, size_t *pos, struct raw_rr *r)
{
	if (dns_name_unpack(m->pkt, m->end, pos, r->owner) < 0)
		return -1;
	if (m->end - *pos < 10)
		return -1;
	const uint8_t *p = m->pkt + *pos;
	r->type = rd_u16(p);
	r->rclass = rd_u16(p + 2);
	r->ttl = rd_u32(p + 4);
	r->rdlen = rd_u16(p + 8);
	*pos += 10;
	if (m->end - *pos < r->rdlen)
		return -1;
	r->rdpos = *pos;
	*pos += r->rdlen;
	return 0;
}

static unsigned __attribute__((format(printf, 4, 5)))
fail(char *why, size_t cap, unsigned rcode, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return rcode;
}

/* Decompresses r's rdata into out->rdata.  0, ERR_* (malformed) or -ENOMEM. */
static int
take_rdata(const struct dns_msg *m, const struct raw_rr *r, struct dns_update_rr *out)
{
	if (r->rdlen == 0)
		return 0;
	uint8_t *buf = malloc(DNS_RDATA_MAX);
	if (buf == NULL)
		return -ENOMEM;
	int n = dns_rdata_unpack(r->type, m->pkt, m->end, r->rdpos, r->rdlen, buf, DNS_RDATA_MAX);
	if (n <= 0) {
		free(buf);
		return n < 0 ? n : -EINVAL;
	}
	uint8_t *shrunk = realloc(buf, (size_t)n);
	out->rdata = shrunk != NULL ? shrunk : buf;
	out->rdlen = (uint16_t)n;
	return 0;
}

/* RFC 2136 §3.2.1-§3.2.3 for one prerequisite: its kind, or -1 (FORMERR). */
static int
prereq_kind(const struct raw_rr *r)
{
	if (r->ttl != 0)
		return -1;
	if (r->rclass == DNS_C_ANY || r->rclass == DNS_C_NONE) {
		if (r->rdlen != 0)
			return -1;
		if (r->type == DNS_T_ANY)
			return r->rclass == DNS_C_ANY ? DNS_PRQ_YXDOMAIN : DNS_PRQ_NXDOMAIN;
		if (dns_rrtype_is_meta(r->type) || r->type == 0)
			return -1;
		return r->rclass == DNS_C_ANY ? DNS_PRQ_YXRRSET : DNS_PRQ_NXRRSET;
	}
	if (r->rclass == DNS_C_IN && !dns_rrtype_is_meta(r->type) && r->type != 0)
		return DNS_PRQ_YXRRSET_VALUE;
	return -1;
}

/* RFC 2136 §3.4.1.3 for one update: its kind, or -1 (FORMERR). */
static int
update_kind(const struct raw_rr *r)
{
	if (r->type == 0)
		return -1;
	if (r->rclass == DNS_C_IN)
		return dns_rrtype_is_meta(r->type) ? -1 : DNS_UPD_ADD;
	if (r->rclass == DNS_C_ANY) {
		if (r->ttl != 0 || r->rdlen != 0)
			return -1;
		if (r->type == DNS_T_ANY)
			return DNS_UPD_DEL_NAME;
		return dns_rrtype_is_meta(r->type) ? -1 : DNS_UPD_DEL_RRSET;
	}
	if (r->rclass == DNS_C_NONE) {
		if (r->ttl != 0 || dns_rrtype_is_meta(r->type))
			return -1;
		return DNS_UPD_DEL_RR;
	}
	return -1;
}

/* Reads `n` RRs of one section from *pos into a new array. */
static unsigned
read_section(const struct dns_msg *m, size_t *pos, unsigned n, bool prereq, const uint8_t *zone,
             struct dns_update_rr **outp, size_t *np, char *why, size_t cap)
{
	const char *sec = prereq ? "prerequisite" : "update";
	*outp = NULL;
	*np = 0;
	if (n == 0)
		return 0;
	struct dns_update_rr *out = calloc(n, sizeof(*out));
	if (out == NULL)
		return fail(why, cap, DNS_RCODE_SERVFAIL, "%s: out of memory", sec);
	*outp = out;
	for (unsigned i = 0; i < n; i++) {
		struct raw_rr r;
		if (read_rr(m, pos, &r) != 0)
			return fail(why, cap, DNS_RCODE_FORMERR, "%s %u: malformed record", sec, i);
		*np = i + 1;
		int kind = prereq ? prereq_kind(&r) : update_kind(&r);
		if (kind < 0)
			return fail(why, cap, DNS_RCODE_FORMERR,
			            "%s %u: class, type, TTL or rdata not allowed together (RFC 2136)",
			            sec, i);
		if (!dns_name_is_sub(r.owner, zone))
			return fail(why, cap, DNS_RCODE_NOTZONE, "%s %u: name outside the zone", sec, i);
		struct dns_update_rr *o = &out[i];
		o->kind = kind;
		memcpy(o->owner, r.owner, dns_name_len(r.owner));
		o->type = r.type;
		o->ttl = r.ttl;
		int ret = take_rdata(m, &r, o);
		if (ret == -ENOMEM)
			return fail(why, cap, DNS_RCODE_SERVFAIL, "%s %u: out of memory", sec, i);
		if (ret != 0)
			return fail(why, cap, DNS_RCODE_FORMERR, "%s %u: malformed rdata", sec, i);
	}
	return 0;
}

unsigned
dns_update_parse(const struct dns_msg *m, struct dns_update *u, char *why, size_t cap)
{
	memset(u, 0, sizeof(*u));
	snprintf(why, cap, "%s", "");
	if (m->count[DNS_SEC_QD] != 1 || m->qname_len == 0)
		return fail(why, cap, DNS_RCODE_FORMERR, "zone section of %u entries, not 1",
		            (unsigned)m->count[DNS_SEC_QD]);
	if (m->qtype != DNS_T_SOA)
		return fail(why, cap, DNS_RCODE_FORMERR, "zone section type not SOA");
	if (m->qclass != DNS_C_IN)
		return fail(why, cap, DNS_RCODE_NOTIMP, "zone class not IN");
	memcpy(u->zone, m->qname, dns_name_len(m->qname));
	size_t pos = m->sec[DNS_SEC_AN];
	unsigned rc = read_section(m, &pos, m->count[DNS_SEC_AN], true, u->zone, &u->pre, &u->npre,
	                           why, cap);
	if (rc == 0) {
		pos = m->sec[DNS_SEC_NS];
		rc = read_section(m, &pos, m->count[DNS_SEC_NS], false, u->zone, &u->upd, &u->nupd,
		                  why, cap);
	}
	if (rc != 0)
		dns_update_clear(u);
	return rc;
}

void
dns_update_clear(struct dns_update *u)
{
	for (size_t i = 0; i < u->npre; i++)
		free(u->pre[i].rdata);
	for (size_t i = 0; i < u->nupd; i++)
		free(u->upd[i].rdata);
	free(u->pre);
	free(u->upd);
	u->pre = u->upd = NULL;
	u->npre = u->nupd = 0;
}
