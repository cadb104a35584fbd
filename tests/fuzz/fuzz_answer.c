/*
 * libFuzzer target for the query path: any bytes go to answer_build() over a
 * zone with every answer path (wildcard, CNAME loop, DNAME, delegation, big
 * rrset), over UDP and TCP; every response must parse with dns/msg.c, fit
 * the limit, and echo the query id; its RRL class must be set and name a
 * valid name inside the response, which the rate limiter then judges.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <urcu-qsbr.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "secondary/answer.h"
#include "secondary/rrl.h"
#include "secondary/zdb.h"
#include "secondary/zone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const zone_lines[][3] = {
	{"f.test.", "SOA", "ns.f.test. h.f.test. 1 2 3 4 300"},
	{"f.test.", "NS", "ns.f.test."},
	{"f.test.", "MX", "10 mail.f.test."},
	{"ns.f.test.", "A", "192.0.2.1"},
	{"mail.f.test.", "AAAA", "2001:db8::1"},
	{"www.f.test.", "A", "192.0.2.2"},
	{"a.f.test.", "CNAME", "b.f.test."},
	{"b.f.test.", "CNAME", "a.f.test."},
	{"c.f.test.", "CNAME", "www.f.test."},
	{"*.w.f.test.", "CNAME", "c.f.test."},
	{"*.f.test.", "TXT", "\"any\""},
	{"d.f.test.", "DNAME", "f.test."},
	{"e.f.test.", "DNAME", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.f.test."},
	{"sub.f.test.", "NS", "ns.sub.f.test."},
	{"sub.f.test.", "NS", "ns.elsewhere."},
	{"ns.sub.f.test.", "A", "192.0.2.3"},
	{"_s._tcp.f.test.", "SRV", "0 0 53 www.f.test."},
	{"x.y.z.f.test.", "TXT", "\"deep\""},
	/* Signed (placeholder signatures): DO=1 queries take the RRSIG and NSEC paths. */
	{"f.test.", "NSEC", "www.f.test. NS SOA MX RRSIG NSEC"},
	{"f.test.", "RRSIG", "SOA 13 2 60 20300101000000 20200101000000 1 f.test. AAAA"},
	{"f.test.", "RRSIG", "NSEC 13 2 60 20300101000000 20200101000000 1 f.test. AAAA"},
	{"www.f.test.", "NSEC", "*.w.f.test. A RRSIG NSEC"},
	{"www.f.test.", "RRSIG", "A 13 3 60 20300101000000 20200101000000 1 f.test. AAAA"},
	{"*.w.f.test.", "NSEC", "f.test. CNAME RRSIG NSEC"},
	{"*.w.f.test.", "RRSIG", "CNAME 13 3 60 20300101000000 20200101000000 1 f.test. AAAA"},
	{"sub.f.test.", "NSEC", "x.y.z.f.test. NS RRSIG NSEC"},
	{"sub.f.test.", "DS", "1 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17"},
};

static struct zdb *db;

static void
init(void)
{
	rcu_register_thread();
	uint8_t apex[DNS_NAME_MAX], owner[DNS_NAME_MAX], rd[1024];
	char err[200];
	dns_name_from_text("f.test.", 7, NULL, apex);
	struct zone_builder *b = zone_builder_new(apex);
	for (size_t i = 0; i < sizeof(zone_lines) / sizeof(zone_lines[0]); i++) {
		uint16_t type;
		dns_name_from_text(zone_lines[i][0], strlen(zone_lines[i][0]), NULL, owner);
		dns_rrtype_from_text(zone_lines[i][1], strlen(zone_lines[i][1]), &type);
		int n = dns_rdata_from_str(type, zone_lines[i][2], strlen(zone_lines[i][2]), apex, rd,
		                           sizeof(rd), err, sizeof(err));
		if (n < 0)
			abort();
		struct dns_rr rr = {.owner = owner, .type = type, .rclass = DNS_C_IN, .ttl = 60,
		                    .rdlen = (uint16_t)n, .rdata = rd};
		if (zone_builder_add(b, &rr, err, sizeof(err)) != 0)
			abort();
	}
	for (int i = 0; i < 60; i++) {
		uint8_t a[4] = {10, 0, 0, (uint8_t)i};
		dns_name_from_text("big.f.test.", 11, NULL, owner);
		struct dns_rr rr = {.owner = owner, .type = DNS_T_A, .rclass = DNS_C_IN, .ttl = 60,
		                    .rdlen = 4, .rdata = a};
		zone_builder_add(b, &rr, err, sizeof(err));
	}
	struct zone *z;
	if (zone_builder_finish(b, &z, err, sizeof(err)) != 0)
		abort();
	db = zdb_new();
	zdb_add(db, apex);
	zdb_publish(db, z);
}

static void
check(const uint8_t *q, size_t qlen, const uint8_t *r, ssize_t n, size_t limit)
{
	if (n == 0)
		return;
	if (n < 12 || (size_t)n > limit)
		abort();
	if (r[0] != q[0] || r[1] != q[1] || !(r[2] & 0x80))
		abort();
	struct dns_msg m;
	if (dns_msg_parse(&m, r, (size_t)n) != 0)
		abort();
	(void)qlen;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65535];
	static int ready;
	if (!ready) {
		init();
		ready = 1;
	}
	struct answer_opts udp = {.identity = "fuzz", .version = "v"};
	struct answer_opts tcp = {.is_tcp = true, .identity = "fuzz"};
	struct answer_stats st;
	ssize_t n = answer_build(db, data, size, out, 1232, &udp, &st);
	check(data, size, out, n, 1232);
	if (n > 0) {
		static struct rrl *rrl;
		if (rrl == NULL) {
			struct rrl_cfg rc = {.rate = 2, .slip = 2, .buckets = 64};
			rrl = rrl_new(&rc);
		}
		if (st.cls < ANSWER_CLS_ANSWER || st.cls > ANSWER_CLS_ERROR)
			abort();
		size_t at = st.cls_name;
		if (at != 0 && (at < 12 || at >= (size_t)n ||
		                dns_name_check(out + at, (size_t)n - at) < 0))
			abort();
		struct rrl_query q = {.name = st.cls_name ? out + st.cls_name : NULL,
		                      .qtype = st.qtype, .cls = st.cls};
		struct sockaddr_in6 from = {.sin6_family = AF_INET6};
		memcpy(&from.sin6_addr, data, size < 16 ? size : 16);
		if (rrl != NULL)
			rrl_apply(rrl, (const struct sockaddr *)&from, &q, out, (size_t)n);
	}
	n = answer_build(db, data, size, out, sizeof(out), &tcp, NULL);
	check(data, size, out, n, sizeof(out));
	rcu_quiescent_state();
	return 0;
}
