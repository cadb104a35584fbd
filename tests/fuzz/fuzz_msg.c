/*
 * libFuzzer target for dns/msg.c.  Parses arbitrary bytes as a message,
 * reads every section with the iterator, writes the records again with the
 * compressing writer, and checks the round trip: when the rebuild fits, it
 * must parse and give back the same records (owner, type, class, TTL,
 * rdata; letter case too, except where a name equals the qname, which the
 * writer may spell as the question does).  Also rewrites the rcode in place on a copy.  Any violation aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/msg.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dns_msgw W;
static uint8_t out[DNS_MSG_MAX];
static uint8_t rd1[DNS_RDATA_MAX], rd2[DNS_RDATA_MAX];
static uint8_t copy[DNS_MSG_MAX];
static int inited;

/* Rebuilds m into `out`; returns the length, or 0 when it did not fit / was refused. */
static size_t
rebuild(const struct dns_msg *m)
{
	uint8_t owner[DNS_NAME_MAX];
	if (!inited) {
		dns_msgw_init(&W, out, sizeof(out));
		inited = 1;
	}
	if (dns_msgw_reset(&W, out, sizeof(out)) != 0)
		abort();
	dns_msgw_set_id(&W, m->id);
	dns_msgw_set_flags(&W, m->flags);
	for (unsigned s = DNS_SEC_QD; s <= DNS_SEC_AR; s++) {
		struct dns_msg_iter it;
		struct dns_rr rr;
		int ret;
		dns_msg_iter_init(&it, m, s);
		while ((ret = dns_msg_iter_next(&it, &rr, owner, rd1, sizeof(rd1))) == 1) {
			if (rr.type == DNS_T_OPT || rr.type == DNS_T_TSIG)
				return 0;   /* placement rules would differ; not a round trip */
			if (s == DNS_SEC_QD)
				ret = dns_msgw_question(&W, rr.owner, rr.type, rr.rclass);
			else
				ret = dns_msgw_rr(&W, s, &rr);
			if (ret == -EMSGSIZE)
				return 0;
			if (ret != 0)
				abort();
		}
		if (ret < 0)
			return 0;   /* undecodable rdata: nothing to compare */
	}
	if (W.len > sizeof(out))
		abort();
	return W.len;
}

static void
compare(const struct dns_msg *a, const struct dns_msg *b)
{
	uint8_t oa[DNS_NAME_MAX], ob[DNS_NAME_MAX];
	for (unsigned s = DNS_SEC_QD; s <= DNS_SEC_AR; s++) {
		if (a->count[s] != b->count[s])
			abort();
		struct dns_msg_iter ia, ib;
		struct dns_rr ra, rb;
		dns_msg_iter_init(&ia, a, s);
		dns_msg_iter_init(&ib, b, s);
		for (;;) {
			int x = dns_msg_iter_next(&ia, &ra, oa, rd1, sizeof(rd1));
			int y = dns_msg_iter_next(&ib, &rb, ob, rd2, sizeof(rd2));
			if (x != y)
				abort();
			if (x != 1)
				break;
			size_t ol = dns_name_len(ra.owner);
			if (!dns_name_equal(ra.owner, rb.owner) || ol != dns_name_len(rb.owner) ||
			    (memcmp(ra.owner, rb.owner, ol) != 0 && !dns_name_equal(ra.owner, a->qname)) ||
			    ra.type != rb.type || ra.rclass != rb.rclass || ra.ttl != rb.ttl ||
			    ra.rdlen != rb.rdlen)
				abort();
			if (ra.rdlen > 0 && memcmp(ra.rdata, rb.rdata, ra.rdlen) != 0) {
				/* only names equal to the qname may differ, in case */
				dns_rdata_canonicalize(ra.type, rd1, ra.rdlen);
				dns_rdata_canonicalize(rb.type, rd2, rb.rdlen);
				if (memcmp(rd1, rd2, ra.rdlen) != 0)
					abort();
			}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > DNS_MSG_MAX)
		return 0;
	struct dns_msg m;
	if (dns_msg_parse(&m, data, size) != 0)
		return 0;
	if (m.end + m.trailing != size)
		abort();
	const uint8_t *d;
	uint16_t dl;
	(void)dns_msg_edns_option(&m, DNS_EDNS_OPT_NSID, &d, &dl);
	size_t n = rebuild(&m);
	if (n > 0) {
		struct dns_msg m2;
		if (dns_msg_parse(&m2, out, n) != 0)
			abort();
		compare(&m, &m2);
	}
	memcpy(copy, data, size);
	(void)dns_msg_set_rcode(copy, size, (unsigned)(size & 0xfff));
	return 0;
}
