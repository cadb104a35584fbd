/*
 * secondary/answer.c: answers checked with the independent parser dns/msg.c,
 * and the zero-allocation proof: this binary is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc and counts every call made
 * while 10,000 queries are answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <urcu-qsbr.h>

#include "dns/dnssec.h"
#include "dns/msg.h"
#include "dns/wire.h"
#include "secondary/answer.h"
#include "secondary/rrl.h"
#include "secondary/serve.h"
#include "secondary/zdb.h"
#include "secondary/zone.h"
#include "tests/unit/zone_helper.h"

/* ---- allocation counting ---- */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

/* volatile: GCC assumes the builtin malloc touches no user globals. */
static volatile unsigned long allocs;

void *
__wrap_malloc(size_t n)
{
	allocs++;
	return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
	allocs++;
	return __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
	allocs++;
	return __real_realloc(p, n);
}

/* ---- fixture ---- */
static const char *const zone_text[] = {
	"example.test. 3600 SOA ns1.example.test. hostmaster.example.test. 5 7200 900 1209600 300",
	"example.test. 3600 NS ns1.example.test.",
	"example.test. 3600 NS ns2.example.test.",
	"example.test. 3600 MX 10 mail.example.test.",
	"ns1.example.test. 3600 A 192.0.2.53",
	"ns2.example.test. 3600 A 192.0.2.54",
	"mail.example.test. 3600 A 192.0.2.25",
	"www.example.test. 300 A 192.0.2.80",
	"www.example.test. 300 AAAA 2001:db8::80",
	"alias.example.test. 3600 CNAME www.example.test.",
	"*.wild.example.test. 60 TXT \"wildcard\"",
	"a.b.ent.example.test. 60 TXT \"deep\"",
	"deleg.example.test. 3600 NS ns.deleg.example.test.",
	"ns.deleg.example.test. 3600 A 192.0.2.200",
	"dn.example.test. 3600 DNAME target.example.test.",
	"x.target.example.test. 3600 A 192.0.2.111",
};

/*
 * A signed zone (signatures are not checked when answering, so they are
 * placeholders).  Canonical order and NSEC chain: sig. a. (b ENT) c.b. d.
 * (ns.d glue) e. ns. (w ENT) *.w.
 */
#define SIG(t, ttl, owner, labels) owner " " #ttl " RRSIG " t " 13 " #labels " " #ttl \
	" 20300101000000 20200101000000 4711 sig.test. " SIG64
/* 64 octets, the size of an ECDSA P-256 signature. */
#define SIG64 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg=="
static const char *const sig_text[] = {
	"sig.test. 3600 SOA ns.sig.test. h.sig.test. 1 7200 900 1209600 300",
	"sig.test. 3600 NS ns.sig.test.",
	"sig.test. 300 MX 10 ns.sig.test.",
	"sig.test. 300 NSEC a.sig.test. NS SOA MX RRSIG NSEC",
	SIG("SOA", 3600, "sig.test.", 2), SIG("NS", 3600, "sig.test.", 2),
	SIG("MX", 300, "sig.test.", 2), SIG("NSEC", 300, "sig.test.", 2),
	"a.sig.test. 300 A 192.0.2.1",
	"a.sig.test. 300 NSEC c.b.sig.test. A RRSIG NSEC",
	SIG("A", 300, "a.sig.test.", 3), SIG("NSEC", 300, "a.sig.test.", 3),
	"c.b.sig.test. 300 A 192.0.2.3",
	"c.b.sig.test. 300 NSEC d.sig.test. A RRSIG NSEC",
	SIG("A", 300, "c.b.sig.test.", 4), SIG("NSEC", 300, "c.b.sig.test.", 4),
	"d.sig.test. 3600 NS ns.d.sig.test.",
	"d.sig.test. 300 NSEC e.sig.test. NS RRSIG NSEC",
	SIG("NSEC", 300, "d.sig.test.", 3),
	"ns.d.sig.test. 3600 A 192.0.2.4",
	"e.sig.test. 3600 NS ns.sig.test.",
	"e.sig.test. 3600 DS 12345 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17",
	"e.sig.test. 300 NSEC ns.sig.test. NS DS RRSIG NSEC",
	SIG("DS", 3600, "e.sig.test.", 3), SIG("NSEC", 300, "e.sig.test.", 3),
	"ns.sig.test. 600 A 192.0.2.5",
	"ns.sig.test. 300 NSEC *.w.sig.test. A RRSIG NSEC",
	SIG("A", 600, "ns.sig.test.", 3), SIG("NSEC", 300, "ns.sig.test.", 3),
	"*.w.sig.test. 60 TXT \"w\"",
	"*.w.sig.test. 300 NSEC sig.test. TXT RRSIG NSEC",
	SIG("TXT", 60, "*.w.sig.test.", 3), SIG("NSEC", 300, "*.w.sig.test.", 3),
};

static struct zdb *db;
static bool q_do;   /* mkq sets DO in its OPT */

/*
 * An NSEC3 zone n3.test. (0 iterations, empty salt): the apex, a. and the
 * wildcard *.w. (w an empty non-terminal), each name hashed into its NSEC3
 * owner at setup; n3_owner[0] is the apex's.
 */
static char n3_owner[4][DNS_NAME_TEXT_MAX];

static void
add_line(struct zone_builder *b, const char *line)
{
	struct trr t;
	char err[160];
	trr_parse(&t, line);
	assert_int_equal(zone_builder_add(b, &t.rr, err, sizeof(err)), 0);
}

static struct zone *
build_n3(void)
{
	static const char *const names[4] = {"n3.test.", "a.n3.test.", "w.n3.test.",
	                                     "*.w.n3.test."};
	uint8_t apex[DNS_NAME_MAX];
	dns_name_from_text("n3.test.", 8, NULL, apex);
	struct zone_builder *b = zone_builder_new(apex);
	add_line(b, "n3.test. 3600 SOA ns.n3.test. h.n3.test. 1 7200 900 1209600 300");
	add_line(b, "n3.test. 0 NSEC3PARAM 1 0 0 -");
	add_line(b, SIG("SOA", 3600, "n3.test.", 2));
	add_line(b, "a.n3.test. 300 A 192.0.2.1");
	add_line(b, SIG("A", 300, "a.n3.test.", 3));
	add_line(b, "*.w.n3.test. 300 A 192.0.2.9");
	add_line(b, SIG("A", 300, "*.w.n3.test.", 3));
	for (int i = 0; i < 4; i++) {
		uint8_t nm[DNS_NAME_MAX], owner[DNS_NAME_MAX];
		char line[8192];
		dns_name_from_text(names[i], strlen(names[i]), NULL, nm);
		assert_true(dns_dnssec_nsec3_owner(nm, apex, NULL, 0, 0, owner) > 0);
		assert_true(dns_name_to_text(owner, n3_owner[i], sizeof(n3_owner[i])) > 0);
		snprintf(line, sizeof(line), "%s 300 NSEC3 1 0 0 - %.32s A RRSIG", n3_owner[i],
		         "00000000000000000000000000000000");
		add_line(b, line);
		snprintf(line, sizeof(line), SIG("NSEC3", 300, "%s", 3), n3_owner[i]);
		add_line(b, line);
	}
	struct zone *z;
	char err[160];
	assert_int_equal(zone_builder_finish(b, &z, err, sizeof(err)), 0);
	return z;
}
static struct answer_opts udp_opts = {.identity = "pop-7", .version = "anycst-1"};
static struct answer_opts tcp_opts = {.is_tcp = true, .identity = "pop-7"};

static int
setup(void **state)
{
	(void)state;
	rcu_register_thread();
	char err[160];
	struct zone *z = tzone_build("example.test.", zone_text,
	                             sizeof(zone_text) / sizeof(zone_text[0]), err, sizeof(err));
	assert_non_null(z);
	/* A zone with a big rrset for truncation. */
	uint8_t apex[DNS_NAME_MAX];
	dns_name_from_text("big.test.", 9, NULL, apex);
	struct zone_builder *b = zone_builder_new(apex);
	struct trr t;
	trr_parse(&t, "big.test. 60 SOA ns.big.test. h.big.test. 1 2 3 4 5");
	zone_builder_add(b, &t.rr, err, sizeof(err));
	for (int i = 0; i < 40; i++) {
		char line[80];
		snprintf(line, sizeof(line), "many.big.test. 60 A 10.0.0.%d", i);
		trr_parse(&t, line);
		zone_builder_add(b, &t.rr, err, sizeof(err));
	}
	struct zone *z2;
	assert_int_equal(zone_builder_finish(b, &z2, err, sizeof(err)), 0);
	db = zdb_new();
	assert_int_equal(zdb_add(db, zone_apex(z)), 0);
	assert_int_equal(zdb_publish(db, z), 0);
	assert_int_equal(zdb_add(db, apex), 0);
	assert_int_equal(zdb_publish(db, z2), 0);
	struct zone *z3 = tzone_build("sig.test.", sig_text, sizeof(sig_text) / sizeof(sig_text[0]),
	                              err, sizeof(err));
	assert_non_null(z3);
	assert_int_equal(zdb_add(db, zone_apex(z3)), 0);
	assert_int_equal(zdb_publish(db, z3), 0);
	struct zone *z4 = build_n3();
	assert_int_equal(zdb_add(db, zone_apex(z4)), 0);
	assert_int_equal(zdb_publish(db, z4), 0);
	uint8_t unloaded[DNS_NAME_MAX];
	dns_name_from_text("unloaded.test.", 14, NULL, unloaded);
	assert_int_equal(zdb_add(db, unloaded), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	rcu_thread_offline();
	rcu_barrier();
	rcu_thread_online();
	zdb_free(db);
	rcu_unregister_thread();
	return 0;
}

/* Builds a query; edns < 0: no OPT; nsid asks for NSID. */
static size_t
mkq(uint8_t *buf, const char *name, uint16_t type, uint16_t cls, int edns, bool nsid)
{
	uint8_t qn[DNS_NAME_MAX];
	assert_true(dns_name_from_text(name, strlen(name), NULL, qn) > 0);
	size_t nl = dns_name_len(qn), p = 12;
	memset(buf, 0, 12);
	buf[0] = 0xab;
	buf[1] = 0xcd;
	buf[2] = 0x01;   /* RD */
	buf[5] = 1;
	memcpy(buf + p, qn, nl);
	p += nl;
	wr_u16(buf + p, type);
	wr_u16(buf + p + 2, cls);
	p += 4;
	if (edns >= 0) {
		buf[11] = 1;
		buf[p] = 0;
		wr_u16(buf + p + 1, DNS_T_OPT);
		wr_u16(buf + p + 3, (uint16_t)edns);
		memset(buf + p + 5, 0, 4);
		if (q_do)
			buf[p + 7] = 0x80;
		wr_u16(buf + p + 9, nsid ? 4 : 0);
		p += 11;
		if (nsid) {
			wr_u16(buf + p, 3);
			wr_u16(buf + p + 2, 0);
			p += 4;
		}
	}
	return p;
}

struct resp {
	struct dns_msg m;
	uint8_t pkt[65535];
	size_t len;
};

static struct resp R;

static void
ask(const char *name, uint16_t type, uint16_t cls, int edns, const struct answer_opts *o)
{
	uint8_t q[600];
	size_t ql = mkq(q, name, type, cls, edns, false);
	ssize_t n = answer_build(db, q, ql, R.pkt, sizeof(R.pkt), o, NULL);
	assert_true(n >= 12);
	R.len = (size_t)n;
	assert_int_equal(dns_msg_parse(&R.m, R.pkt, R.len), 0);
	assert_int_equal(R.m.id, 0xabcd);
	assert_true(R.m.flags & DNS_F_QR);
	assert_true(R.m.flags & DNS_F_RD);
}

/* Number of RRs of `type` owned by `owner` in section `sec` (OPT excluded). */
static int
count_rr(unsigned sec, const char *owner, uint16_t type, uint32_t *ttl)
{
	uint8_t on[DNS_NAME_MAX], rrowner[DNS_NAME_MAX];
	static uint8_t rd[DNS_RDATA_MAX];
	dns_name_from_text(owner, strlen(owner), NULL, on);
	struct dns_msg_iter it;
	dns_msg_iter_init(&it, &R.m, sec);
	struct dns_rr rr;
	int n = 0;
	while (dns_msg_iter_next(&it, &rr, rrowner, rd, sizeof(rd)) == 1) {
		if (rr.type == type && dns_name_equal(rr.owner, on)) {
			n++;
			if (ttl != NULL)
				*ttl = rr.ttl;
		}
	}
	return n;
}

/* RRSIGs of `owner` in section `sec` covering `covered`; *ttl gets the last one's TTL. */
static int
count_sig(unsigned sec, const char *owner, uint16_t covered, uint32_t *ttl)
{
	uint8_t on[DNS_NAME_MAX], rrowner[DNS_NAME_MAX];
	static uint8_t rd[DNS_RDATA_MAX];
	dns_name_from_text(owner, strlen(owner), NULL, on);
	struct dns_msg_iter it;
	dns_msg_iter_init(&it, &R.m, sec);
	struct dns_rr rr;
	int n = 0;
	while (dns_msg_iter_next(&it, &rr, rrowner, rd, sizeof(rd)) == 1) {
		if (rr.type == DNS_T_RRSIG && dns_name_equal(rr.owner, on) &&
		    rd_u16(rr.rdata) == covered) {
			n++;
			if (ttl != NULL)
				*ttl = rr.ttl;
		}
	}
	return n;
}

/* Asks with DO=1 (EDNS 4096 unless `edns` says otherwise). */
static void
ask_do(const char *name, uint16_t type, int edns, const struct answer_opts *o)
{
	q_do = true;
	ask(name, type, DNS_C_IN, edns, o);
	q_do = false;
}

/* RRSIGs come with answers only when DO=1, one rrset per covered type with its own TTL. */
static void
test_answer_dnssec_signatures(void **state)
{
	(void)state;
	uint32_t ttl = 0;
	ask("a.sig.test.", DNS_T_A, DNS_C_IN, 4096, &udp_opts);
	assert_int_equal(R.m.count[1], 1);
	assert_int_equal(count_sig(DNS_SEC_AN, "a.sig.test.", DNS_T_A, NULL), 0);
	ask_do("a.sig.test.", DNS_T_A, 4096, &udp_opts);
	assert_int_equal(R.m.count[1], 2);
	assert_int_equal(count_sig(DNS_SEC_AN, "a.sig.test.", DNS_T_A, NULL), 1);
	assert_true(R.m.edns.flags & DNS_EDNS_DO);
	/* The apex's signatures: SOA at 3600, MX at 300 (the first TTL no longer wins). */
	ask_do("sig.test.", DNS_T_MX, 4096, &udp_opts);
	assert_int_equal(count_sig(DNS_SEC_AN, "sig.test.", DNS_T_MX, &ttl), 1);
	assert_int_equal(ttl, 300);
	assert_int_equal(count_sig(DNS_SEC_AN, "sig.test.", DNS_T_SOA, NULL), 0);
	/* Additional data is signed too: ns.sig.test. A with its RRSIG at 600. */
	assert_int_equal(count_rr(DNS_SEC_AR, "ns.sig.test.", DNS_T_A, NULL), 1);
	assert_int_equal(count_sig(DNS_SEC_AR, "ns.sig.test.", DNS_T_A, &ttl), 1);
	assert_int_equal(ttl, 600);
	ask_do("sig.test.", DNS_T_SOA, 4096, &udp_opts);
	assert_int_equal(count_sig(DNS_SEC_AN, "sig.test.", DNS_T_SOA, &ttl), 1);
	assert_int_equal(ttl, 3600);
	/* A query for RRSIG gets every group, each with its TTL, without DO too. */
	ask("sig.test.", DNS_T_RRSIG, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(count_rr(DNS_SEC_AN, "sig.test.", DNS_T_RRSIG, NULL), 4);
	assert_int_equal(count_sig(DNS_SEC_AN, "sig.test.", DNS_T_NS, &ttl), 1);
	assert_int_equal(ttl, 3600);
	assert_int_equal(count_sig(DNS_SEC_AN, "sig.test.", DNS_T_NSEC, &ttl), 1);
	assert_int_equal(ttl, 300);
	/* An unsigned zone gains nothing from DO. */
	ask_do("www.example.test.", DNS_T_A, 4096, &udp_opts);
	assert_int_equal(R.m.count[1], 1);
	assert_int_equal(R.m.count[2], 0);
}

/* NSEC proofs (RFC 4035 §3.1.3): NXDOMAIN, NODATA, empty non-terminal, wildcard, referrals. */
static void
test_answer_dnssec_nsec_proofs(void **state)
{
	(void)state;
	uint32_t ttl = 0;
	/* NXDOMAIN: zz. sorts after *.w., so *.w.'s NSEC (wrapping to the apex) covers
	 * it; the apex's NSEC covers *.sig.test. */
	ask_do("zz.sig.test.", DNS_T_A, 4096, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NXDOMAIN);
	assert_int_equal(count_rr(DNS_SEC_NS, "sig.test.", DNS_T_SOA, &ttl), 1);
	assert_int_equal(count_sig(DNS_SEC_NS, "sig.test.", DNS_T_SOA, &ttl), 1);
	assert_int_equal(ttl, 300);   /* with the SOA's negative TTL */
	assert_int_equal(count_rr(DNS_SEC_NS, "*.w.sig.test.", DNS_T_NSEC, NULL), 1);
	assert_int_equal(count_sig(DNS_SEC_NS, "*.w.sig.test.", DNS_T_NSEC, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_NS, "sig.test.", DNS_T_NSEC, NULL), 1);
	assert_int_equal(count_sig(DNS_SEC_NS, "sig.test.", DNS_T_NSEC, NULL), 1);
	assert_int_equal(R.m.count[2], 6);
	/* NXDOMAIN between a. and b.: a.'s NSEC covers it, the apex's *.sig.test. */
	ask_do("a0.sig.test.", DNS_T_A, 4096, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NXDOMAIN);
	assert_int_equal(count_rr(DNS_SEC_NS, "a.sig.test.", DNS_T_NSEC, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_NS, "sig.test.", DNS_T_NSEC, NULL), 1);
	assert_int_equal(R.m.count[2], 6);
	/* NODATA: the name's own NSEC. */
	ask_do("a.sig.test.", DNS_T_TXT, 4096, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NOERROR);
	assert_int_equal(R.m.count[1], 0);
	assert_int_equal(count_rr(DNS_SEC_NS, "a.sig.test.", DNS_T_NSEC, NULL), 1);
	assert_int_equal(R.m.count[2], 4);
	/* Empty non-terminal b.: the NSEC covering it (a. -> c.b.). */
	ask_do("b.sig.test.", DNS_T_A, 4096, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NOERROR);
	assert_int_equal(count_rr(DNS_SEC_NS, "a.sig.test.", DNS_T_NSEC, NULL), 1);
	assert_int_equal(R.m.count[2], 4);
	/* Wildcard answer: signed TXT with the qname as owner, NSEC covering the qname. */
	ask_do("x.w.sig.test.", DNS_T_TXT, 4096, &udp_opts);
	assert_int_equal(count_rr(DNS_SEC_AN, "x.w.sig.test.", DNS_T_TXT, NULL), 1);
	assert_int_equal(count_sig(DNS_SEC_AN, "x.w.sig.test.", DNS_T_TXT, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_NS, "*.w.sig.test.", DNS_T_NSEC, NULL), 1);
	assert_int_equal(R.m.count[2], 2);
	/* Wildcard NODATA: the same NSEC (covering the qname and the wildcard's own). */
	ask_do("x.w.sig.test.", DNS_T_A, 4096, &udp_opts);
	assert_int_equal(R.m.count[1], 0);
	assert_int_equal(count_rr(DNS_SEC_NS, "*.w.sig.test.", DNS_T_NSEC, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_NS, "sig.test.", DNS_T_SOA, NULL), 1);
	/* Referrals: the DS with its RRSIG, or the NSEC proving there is none. */
	ask_do("host.e.sig.test.", DNS_T_A, 4096, &udp_opts);
	assert_false(R.m.flags & DNS_F_AA);
	assert_int_equal(count_rr(DNS_SEC_NS, "e.sig.test.", DNS_T_NS, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_NS, "e.sig.test.", DNS_T_DS, NULL), 1);
	assert_int_equal(count_sig(DNS_SEC_NS, "e.sig.test.", DNS_T_DS, NULL), 1);
	assert_int_equal(count_sig(DNS_SEC_NS, "e.sig.test.", DNS_T_NS, NULL), 0);
	ask_do("host.d.sig.test.", DNS_T_A, 4096, &udp_opts);
	assert_int_equal(count_rr(DNS_SEC_NS, "d.sig.test.", DNS_T_NS, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_NS, "d.sig.test.", DNS_T_NSEC, NULL), 1);
	assert_int_equal(count_sig(DNS_SEC_NS, "d.sig.test.", DNS_T_NSEC, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_AR, "ns.d.sig.test.", DNS_T_A, NULL), 1);
	/* DS asked at the cut: NODATA with the cut's NSEC. */
	ask_do("d.sig.test.", DNS_T_DS, 4096, &udp_opts);
	assert_true(R.m.flags & DNS_F_AA);
	assert_int_equal(count_rr(DNS_SEC_NS, "d.sig.test.", DNS_T_NSEC, NULL), 1);
	/* Without DO: no proof at all. */
	ask("zz.sig.test.", DNS_T_A, DNS_C_IN, 4096, &udp_opts);
	assert_int_equal(R.m.count[2], 1);
}

/* NSEC3 (RFC 5155 §7.2): closest encloser proofs; NSEC3 owners are not names. */
static void
test_answer_dnssec_nsec3_proofs(void **state)
{
	(void)state;
	/* NXDOMAIN: apex matched (closest encloser), next closer and wildcard covered. */
	ask_do("nope.n3.test.", DNS_T_A, 4096, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NXDOMAIN);
	assert_int_equal(count_rr(DNS_SEC_NS, n3_owner[0], DNS_T_NSEC3, NULL), 1);
	assert_int_equal(count_sig(DNS_SEC_NS, n3_owner[0], DNS_T_NSEC3, NULL), 1);
	int total = 0;
	for (int i = 0; i < 4; i++)
		total += count_rr(DNS_SEC_NS, n3_owner[i], DNS_T_NSEC3, NULL);
	assert_true(total >= 2 && total <= 3);
	/* NODATA: the matching NSEC3; empty non-terminal w.: its own NSEC3. */
	ask_do("a.n3.test.", DNS_T_TXT, 4096, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NOERROR);
	assert_int_equal(count_rr(DNS_SEC_NS, n3_owner[1], DNS_T_NSEC3, NULL), 1);
	ask_do("w.n3.test.", DNS_T_TXT, 4096, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NOERROR);
	assert_int_equal(count_rr(DNS_SEC_NS, n3_owner[2], DNS_T_NSEC3, NULL), 1);
	/* Wildcard NODATA: closest encloser w. and the wildcard matched. */
	ask_do("x.w.n3.test.", DNS_T_TXT, 4096, &udp_opts);
	assert_int_equal(count_rr(DNS_SEC_NS, n3_owner[2], DNS_T_NSEC3, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_NS, n3_owner[3], DNS_T_NSEC3, NULL), 1);
	/* Wildcard answer: signed, with an NSEC3 covering the next closer name. */
	ask_do("x.w.n3.test.", DNS_T_A, 4096, &udp_opts);
	assert_int_equal(count_sig(DNS_SEC_AN, "x.w.n3.test.", DNS_T_A, NULL), 1);
	assert_int_equal(R.m.count[2], 2);
	/* RFC 5155 §7.2.9: an NSEC3 owner is no name of the zone. */
	ask(n3_owner[1], DNS_T_NSEC3, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NXDOMAIN);
	ask(n3_owner[1], DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NXDOMAIN);
}

/* Signatures and proofs are required data (RFC 4035 §3.1.1): TC when they do not fit. */
static void
test_answer_dnssec_truncation(void **state)
{
	(void)state;
	/* 512 bytes: the NXDOMAIN proof of a long name does not fit; TC, nothing half-signed. */
	const char *qn = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn."
	                 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn."
	                 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn.sig.test.";
	ask_do(qn, DNS_T_A, 512, &udp_opts);
	assert_true(R.m.flags & DNS_F_TC);
	assert_true(R.len <= 512);
	/* Every record written has its signature next to it (no rrset without its RRSIG). */
	assert_true(R.m.count[2] % 2 == 0);
	ask_do(qn, DNS_T_A, -1, &tcp_opts);
	assert_false(R.m.flags & DNS_F_TC);
	ask_do(qn, DNS_T_A, 4096, &tcp_opts);
	assert_false(R.m.flags & DNS_F_TC);
	assert_int_equal(R.m.count[2], 6);
}

static void
test_answer_positive_and_additional(void **state)
{
	(void)state;
	ask("www.example.test.", DNS_T_A, DNS_C_IN, 1232, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NOERROR);
	assert_true(R.m.flags & DNS_F_AA);
	assert_int_equal(R.m.count[1], 1);
	assert_int_equal(count_rr(DNS_SEC_AN, "www.example.test.", DNS_T_A, NULL), 1);
	assert_true(R.m.has_opt);
	assert_int_equal(R.m.edns.udp_size, 1232);
	/* MX: the exchange's address in additional, names compressed. */
	ask("example.test.", DNS_T_MX, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(count_rr(DNS_SEC_AN, "example.test.", DNS_T_MX, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_AR, "mail.example.test.", DNS_T_A, NULL), 1);
	assert_false(R.m.has_opt);
	/* "example.test" is written once (question); everything else points. */
	assert_non_null(memmem(R.pkt, R.len, "\7example\4test", 13));
	assert_null(memmem(R.pkt + 30, R.len - 30, "\7example\4test", 13));
	/* CNAME followed inside the zone. */
	ask("alias.example.test.", DNS_T_AAAA, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(count_rr(DNS_SEC_AN, "alias.example.test.", DNS_T_CNAME, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_AN, "www.example.test.", DNS_T_AAAA, NULL), 1);
}

static void
test_answer_negative(void **state)
{
	(void)state;
	uint32_t ttl = 0;
	/* NXDOMAIN (RFC 2308 §5): the SOA at min(SOA TTL 3600, MINIMUM 300). */
	ask("nope.example.test.", DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NXDOMAIN);
	assert_true(R.m.flags & DNS_F_AA);
	assert_int_equal(count_rr(DNS_SEC_NS, "example.test.", DNS_T_SOA, &ttl), 1);
	assert_int_equal(ttl, 300);
	/* NODATA at an empty non-terminal and at an existing name. */
	ask("b.ent.example.test.", DNS_T_TXT, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NOERROR);
	assert_int_equal(R.m.count[1], 0);
	assert_int_equal(count_rr(DNS_SEC_NS, "example.test.", DNS_T_SOA, NULL), 1);
	ask("www.example.test.", DNS_T_MX, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NOERROR);
	assert_int_equal(R.m.count[1], 0);
	/* Below an empty non-terminal: NXDOMAIN. */
	ask("x.b.ent.example.test.", DNS_T_TXT, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NXDOMAIN);
}

static void
test_answer_wildcard_referral_dname(void **state)
{
	(void)state;
	/* Wildcard: owner is the query name (RFC 4592 §2.1.1). */
	ask("Foo.Bar.wild.example.test.", DNS_T_TXT, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NOERROR);
	assert_int_equal(count_rr(DNS_SEC_AN, "foo.bar.wild.example.test.", DNS_T_TXT, NULL), 1);
	assert_memory_equal(R.pkt + 12, "\3Foo\3Bar\4wild", 13);   /* case kept */
	/* Referral: no AA, NS in authority, glue in additional. */
	ask("host.deleg.example.test.", DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NOERROR);
	assert_false(R.m.flags & DNS_F_AA);
	assert_int_equal(R.m.count[1], 0);
	assert_int_equal(count_rr(DNS_SEC_NS, "deleg.example.test.", DNS_T_NS, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_AR, "ns.deleg.example.test.", DNS_T_A, NULL), 1);
	/* DNAME: the DNAME and a synthesized CNAME, then the target's data. */
	ask("x.dn.example.test.", DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(count_rr(DNS_SEC_AN, "dn.example.test.", DNS_T_DNAME, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_AN, "x.dn.example.test.", DNS_T_CNAME, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_AN, "x.target.example.test.", DNS_T_A, NULL), 1);
}

static void
test_answer_truncation(void **state)
{
	(void)state;
	/* 40 A records (16 bytes each) do not fit in 512: TC, empty answer, question kept. */
	ask("many.big.test.", DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_true(R.m.flags & DNS_F_TC);
	assert_int_equal(R.m.count[0], 1);
	assert_int_equal(R.m.count[1], 0);
	assert_true(R.len <= 512);
	/* They fit in 1232 with EDNS, and over TCP. */
	ask("many.big.test.", DNS_T_A, DNS_C_IN, 1232, &udp_opts);
	assert_false(R.m.flags & DNS_F_TC);
	assert_int_equal(R.m.count[1], 40);
	ask("many.big.test.", DNS_T_A, DNS_C_IN, -1, &tcp_opts);
	assert_false(R.m.flags & DNS_F_TC);
	assert_int_equal(R.m.count[1], 40);
	/* A requester size below 512 counts as 512. */
	ask("many.big.test.", DNS_T_A, DNS_C_IN, 100, &udp_opts);
	assert_true(R.m.flags & DNS_F_TC);
	assert_true(R.len <= 512);
}

static void
test_answer_errors(void **state)
{
	(void)state;
	ask("www.example.org.", DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_REFUSED);
	assert_false(R.m.flags & DNS_F_AA);
	ask("www.unloaded.test.", DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_SERVFAIL);
	uint8_t apex[DNS_NAME_MAX];
	dns_name_from_text("example.test.", 13, NULL, apex);
	assert_int_equal(zdb_set_expired(db, apex, true), 0);
	ask("www.example.test.", DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_SERVFAIL);
	assert_int_equal(zdb_set_expired(db, apex, false), 0);
	ask("www.example.test.", DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NOERROR);
	ask("example.test.", DNS_T_AXFR, DNS_C_IN, -1, &tcp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_REFUSED);
	ask("example.test.", DNS_T_AXFR, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NOTIMP);
	/* EDNS version 1: BADVERS (extended rcode 1 in OPT). */
	uint8_t q[600], out[600];
	size_t ql = mkq(q, "www.example.test.", DNS_T_A, DNS_C_IN, 1232, false);
	q[ql - 11 + 6] = 1;   /* OPT TTL: version */
	ssize_t n = answer_build(db, q, ql, out, sizeof(out), &udp_opts, NULL);
	assert_true(n > 0);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, out, (size_t)n), 0);
	assert_int_equal(dns_msg_rcode(&m), DNS_RCODE_BADVERS);
	/* Responses, short packets and unreadable questions are dropped. */
	ql = mkq(q, "www.example.test.", DNS_T_A, DNS_C_IN, -1, false);
	q[2] |= 0x80;
	assert_int_equal(answer_build(db, q, ql, out, sizeof(out), &udp_opts, NULL), 0);
	q[2] &= 0x7f;
	assert_int_equal(answer_build(db, q, 11, out, sizeof(out), &udp_opts, NULL), 0);
	assert_int_equal(answer_build(db, q, ql - 1, out, sizeof(out), &udp_opts, NULL), 0);
	assert_int_equal(answer_build(db, q, ql, out, 511, &udp_opts, NULL), 0);
	/* NOTIFY is not ours: peek says 4, answer_build says NOTIMP. */
	q[2] = (uint8_t)((q[2] & 0x87) | (4 << 3));
	assert_int_equal(answer_peek_opcode(q, ql), 4);
	n = answer_build(db, q, ql, out, sizeof(out), &udp_opts, NULL);
	assert_true(n > 0);
	assert_int_equal(out[3] & 0xf, DNS_RCODE_NOTIMP);
	/* DNS UPDATE goes to the primary: a POP answers NOTAUTH, zone section echoed. */
	q[2] = (uint8_t)((q[2] & 0x87) | (5 << 3));
	n = answer_build(db, q, ql, out, sizeof(out), &udp_opts, NULL);
	assert_true(n > 0 && (size_t)n <= ql);
	assert_int_equal(out[3] & 0xf, DNS_RCODE_NOTAUTH);
	assert_int_equal(out[5], 1);
}

static void
test_answer_identity(void **state)
{
	(void)state;
	ask("id.server.", DNS_T_TXT, DNS_C_CH, -1, &udp_opts);
	assert_int_equal(R.m.count[1], 1);
	assert_non_null(memmem(R.pkt, R.len, "\5pop-7", 6));
	ask("version.bind.", DNS_T_TXT, DNS_C_CH, -1, &udp_opts);
	assert_non_null(memmem(R.pkt, R.len, "\10anycst-1", 9));
	ask("version.bind.", DNS_T_TXT, DNS_C_CH, -1, &tcp_opts);   /* no version text */
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_REFUSED);
	/* NSID (RFC 5001) when asked. */
	uint8_t q[600], out[600];
	size_t ql = mkq(q, "www.example.test.", DNS_T_A, DNS_C_IN, 1232, true);
	struct answer_stats st;
	ssize_t n = answer_build(db, q, ql, out, sizeof(out), &udp_opts, &st);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, out, (size_t)n), 0);
	const uint8_t *d;
	uint16_t dl;
	assert_true(dns_msg_edns_option(&m, 3, &d, &dl));
	assert_int_equal(dl, 5);
	assert_memory_equal(d, "pop-7", 5);
	assert_true(st.nsid && st.edns && st.aa);
	assert_int_equal(st.qtype, DNS_T_A);
}

/*
 * CH TXT is sized like every other answer: max(512, min(EDNS size, ours))
 * less the OPT it will carry, not less room for an NSID nobody asked for.
 * A 250-byte identity fits in 512 bytes asked with EDNS below 512 or none.
 */
static void
test_answer_chaos_payload_floor(void **state)
{
	(void)state;
	static char ident[251];
	memset(ident, 'x', 250);
	ident[250] = 0;
	struct answer_opts o = {.identity = ident, .version = "v"};
	static const int sizes[] = {-1, 0, 100, 511, 512};
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ask("id.server.", DNS_T_TXT, DNS_C_CH, sizes[i], &o);
		assert_false(R.m.flags & DNS_F_TC);
		assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NOERROR);
		assert_int_equal(R.m.count[1], 1);
		assert_true(R.len <= 512);
		assert_non_null(memmem(R.pkt, R.len, ident, 250));
		assert_int_equal(R.m.has_opt, sizes[i] >= 0);
	}
	/* Our own payload below 512 is floored too, as for IN answers. */
	o.udp_payload = 300;
	ask("id.server.", DNS_T_TXT, DNS_C_CH, 4096, &o);
	assert_false(R.m.flags & DNS_F_TC);
	assert_int_equal(R.m.count[1], 1);
	assert_true(R.m.has_opt);
}

/* Cuts and wildcards added and removed by IXFR change the answers (counters kept). */
static void
test_answer_after_updates(void **state)
{
	(void)state;
	uint8_t apex[DNS_NAME_MAX];
	char err[160];
	dns_name_from_text("big.test.", 9, NULL, apex);
	struct trr d[1], a[4];
	trr_parse(&d[0], "big.test. 60 SOA ns.big.test. h.big.test. 1 2 3 4 5");
	trr_parse(&a[0], "big.test. 60 SOA ns.big.test. h.big.test. 2 2 3 4 5");
	trr_parse(&a[1], "sub.big.test. 60 NS ns.sub.big.test.");
	trr_parse(&a[2], "ns.sub.big.test. 60 A 192.0.2.7");
	trr_parse(&a[3], "*.w.big.test. 60 A 192.0.2.8");
	struct dns_rr del[1] = {d[0].rr}, add[4] = {a[0].rr, a[1].rr, a[2].rr, a[3].rr};
	struct zone *z;
	/* big.test. has no cut and no wildcard: both fast paths are off only after this. */
	ask("x.sub.big.test.", DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NXDOMAIN);
	assert_int_equal(zone_apply_diff(zdb_get(db, apex), del, 1, add, 4, &z, err, sizeof(err)), 0);
	assert_int_equal(zdb_publish(db, z), 0);
	ask("x.sub.big.test.", DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NOERROR);
	assert_false(R.m.flags & DNS_F_AA);
	assert_int_equal(count_rr(DNS_SEC_NS, "sub.big.test.", DNS_T_NS, NULL), 1);
	assert_int_equal(count_rr(DNS_SEC_AR, "ns.sub.big.test.", DNS_T_A, NULL), 1);
	ask("q.w.big.test.", DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(count_rr(DNS_SEC_AN, "q.w.big.test.", DNS_T_A, NULL), 1);
	/* And back: the same records removed. */
	struct dns_rr del2[4] = {a[0].rr, a[1].rr, a[2].rr, a[3].rr}, add2[1] = {d[0].rr};
	trr_parse(&d[0], "big.test. 60 SOA ns.big.test. h.big.test. 3 2 3 4 5");
	add2[0] = d[0].rr;
	assert_int_equal(zone_apply_diff(zdb_get(db, apex), del2, 4, add2, 1, &z, err, sizeof(err)),
	                 0);
	assert_int_equal(zdb_publish(db, z), 0);
	ask("x.sub.big.test.", DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NXDOMAIN);
	ask("q.w.big.test.", DNS_T_A, DNS_C_IN, -1, &udp_opts);
	assert_int_equal(dns_msg_rcode(&R.m), DNS_RCODE_NXDOMAIN);
	rcu_quiescent_state();
}

/* The response class and its name, for RRL (issue 12.6). */
static void
test_answer_rrl_class(void **state)
{
	(void)state;
	static const struct { const char *name; uint16_t type, cls; uint8_t want; const char *key; }
	cases[] = {
		{"www.example.test.", DNS_T_A, DNS_C_IN, ANSWER_CLS_ANSWER, "www.example.test."},
		{"WwW.Example.test.", DNS_T_AAAA, DNS_C_IN, ANSWER_CLS_ANSWER, "WwW.Example.test."},
		{"alias.example.test.", DNS_T_A, DNS_C_IN, ANSWER_CLS_ANSWER, "alias.example.test."},
		{"example.test.", DNS_T_ANY, DNS_C_IN, ANSWER_CLS_ANSWER, "example.test."},
		{"x.dn.example.test.", DNS_T_A, DNS_C_IN, ANSWER_CLS_ANSWER, "x.dn.example.test."},
		{"www.example.test.", DNS_T_MX, DNS_C_IN, ANSWER_CLS_NODATA, "www.example.test."},
		{"ent.example.test.", DNS_T_A, DNS_C_IN, ANSWER_CLS_NODATA, "ent.example.test."},
		{"nope.example.test.", DNS_T_A, DNS_C_IN, ANSWER_CLS_NXDOMAIN, "example.test."},
		{"r4nd0m.x.Example.TEST.", DNS_T_TXT, DNS_C_IN, ANSWER_CLS_NXDOMAIN, "Example.TEST."},
		{"q.wild.example.test.", DNS_T_TXT, DNS_C_IN, ANSWER_CLS_WILDCARD, "wild.example.test."},
		{"a.b.wild.example.test.", DNS_T_A, DNS_C_IN, ANSWER_CLS_WILDCARD, "wild.example.test."},
		{"a.deleg.example.test.", DNS_T_A, DNS_C_IN, ANSWER_CLS_REFERRAL, "deleg.example.test."},
		{"www.example.org.", DNS_T_A, DNS_C_IN, ANSWER_CLS_ERROR, "."},
		{"www.unloaded.test.", DNS_T_A, DNS_C_IN, ANSWER_CLS_ERROR, "."},
		{"www.example.test.", DNS_T_AXFR, DNS_C_IN, ANSWER_CLS_ERROR, "."},
		{"id.server.", DNS_T_TXT, DNS_C_CH, ANSWER_CLS_ANSWER, "id.server."},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t q[600], out[1232];
		size_t ql = mkq(q, cases[i].name, cases[i].type, cases[i].cls, 1232, false);
		struct answer_stats st;
		ssize_t n = answer_build(db, q, ql, out, sizeof(out), &udp_opts, &st);
		assert_true(n > 0);
		assert_int_equal(st.cls, cases[i].want);
		assert_true(st.cls_name >= 12 && st.cls_name < n);
		uint8_t want[DNS_NAME_MAX];
		assert_true(dns_name_from_text(cases[i].key, strlen(cases[i].key), NULL, want) > 0);
		/* The name keeps the query's letter case: RRL lowercases it when hashing. */
		assert_memory_equal(out + st.cls_name, want, dns_name_len(want));
	}
	/* No question: the root. */
	uint8_t h[12] = {0xab, 0xcd, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0}, out[600];
	struct answer_stats st;
	assert_true(answer_build(db, h, sizeof(h), out, sizeof(out), &udp_opts, &st) > 0);
	assert_int_equal(st.cls, ANSWER_CLS_ERROR);
	assert_int_equal(st.cls_name, 0);
}

/* 10,000 queries of every kind without one malloc, calloc or realloc. */
static void
test_answer_zero_alloc(void **state)
{
	(void)state;
	static const struct { const char *name; uint16_t type, cls; int edns; } mix[] = {
		{"www.example.test.", DNS_T_A, DNS_C_IN, -1},
		{"WWW.example.TEST.", DNS_T_AAAA, DNS_C_IN, 1232},
		{"nope.example.test.", DNS_T_A, DNS_C_IN, 512},
		{"example.test.", DNS_T_MX, DNS_C_IN, 4096},
		{"example.test.", DNS_T_ANY, DNS_C_IN, -1},
		{"alias.example.test.", DNS_T_A, DNS_C_IN, -1},
		{"q.wild.example.test.", DNS_T_TXT, DNS_C_IN, -1},
		{"a.deleg.example.test.", DNS_T_A, DNS_C_IN, -1},
		{"x.dn.example.test.", DNS_T_A, DNS_C_IN, -1},
		{"b.ent.example.test.", DNS_T_A, DNS_C_IN, -1},
		{"many.big.test.", DNS_T_A, DNS_C_IN, -1},
		{"id.server.", DNS_T_TXT, DNS_C_CH, 1232},
		{"www.example.org.", DNS_T_A, DNS_C_IN, -1},
		{"www.unloaded.test.", DNS_T_A, DNS_C_IN, -1},
		{"zz.sig.test.", DNS_T_A, DNS_C_IN, 4096},
		{"x.w.sig.test.", DNS_T_TXT, DNS_C_IN, 4096},
		{"b.sig.test.", DNS_T_A, DNS_C_IN, 4096},
		{"host.d.sig.test.", DNS_T_A, DNS_C_IN, 4096},
		{"nope.n3.test.", DNS_T_A, DNS_C_IN, 4096},
		{"x.w.n3.test.", DNS_T_TXT, DNS_C_IN, 4096},
	};
	enum { N = sizeof(mix) / sizeof(mix[0]) };
	static uint8_t qs[N][600];
	size_t ql[N];
	for (int i = 0; i < N; i++) {
		q_do = mix[i].edns >= 4096;   /* the signed zones' queries carry DO */
		ql[i] = mkq(qs[i], mix[i].name, mix[i].type, mix[i].cls, mix[i].edns, i % 2);
	}
	q_do = false;
	static uint8_t out[65535];
	/* The counter sees this file's calls too (the wrap is link-wide). */
	allocs = 0;
	void *volatile probe = malloc(16);   /* volatile: the pair must not be optimized away */
	free(probe);
	assert_int_equal(allocs, 1);
	allocs = 0;
	unsigned long answered = 0;
	for (int i = 0; i < 10000; i++) {
		int k = i % N;
		const struct answer_opts *o = (i % 7 == 0) ? &tcp_opts : &udp_opts;
		ssize_t n = answer_build(db, qs[k], ql[k], out, sizeof(out), o, NULL);
		answered += n > 0;
		if ((i & 63) == 0)
			rcu_quiescent_state();
	}
	unsigned long seen = allocs;
	assert_int_equal(answered, 10000);
	assert_int_equal(seen, 0);

	/* The same over UDP with RRL judging every answer (serve_message, as a worker). */
	struct rrl_cfg rc = {.rate = 100, .slip = 2};
	struct rrl *r = rrl_new(&rc);
	assert_non_null(r);
	struct serve_ctx ctx = {.db = db, .aopts = udp_opts, .stats = serve_stats_new(), .rrl = r};
	assert_non_null(ctx.stats);
	struct sockaddr_in from = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000105)};
	/* The first call registers the thread's RRL counters (once per thread). */
	serve_message(&ctx, qs[0], ql[0], (const struct sockaddr *)&from, false, out, 4096);
	allocs = 0;
	unsigned long sent = 0;
	for (int i = 0; i < 10000; i++) {
		int k = i % N;
		from.sin_addr.s_addr = htonl(0x7f000100u | (uint32_t)(i & 0xff));
		const struct sockaddr *sa = (const struct sockaddr *)&from;
		size_t len = serve_message(&ctx, qs[k], ql[k], sa, false, out, 4096);
		assert_true(len > 0);
		assert_true(ctx.rrl_pending);
		sent += rrl_finish(r, ctx.rrl_key, rrl_now_ms(), out, len) > 0;
		if ((i & 63) == 0)
			rcu_quiescent_state();
	}
	seen = allocs;
	assert_int_equal(seen, 0);
	/* 100 per second for each of the N responses; the rest mostly dropped or slipped. */
	assert_true(sent >= 100 * N && sent < 10000);
	rrl_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_positive_and_additional),
		cmocka_unit_test(test_answer_dnssec_signatures),
		cmocka_unit_test(test_answer_dnssec_nsec_proofs),
		cmocka_unit_test(test_answer_dnssec_nsec3_proofs),
		cmocka_unit_test(test_answer_dnssec_truncation),
		cmocka_unit_test(test_answer_negative),
		cmocka_unit_test(test_answer_wildcard_referral_dname),
		cmocka_unit_test(test_answer_truncation),
		cmocka_unit_test(test_answer_errors),
		cmocka_unit_test(test_answer_identity),
		cmocka_unit_test(test_answer_chaos_payload_floor),
		cmocka_unit_test(test_answer_after_updates),
		cmocka_unit_test(test_answer_rrl_class),
		cmocka_unit_test(test_answer_zero_alloc),
	};
	return cmocka_run_group_tests_name("answer", tests, setup, teardown);
}
