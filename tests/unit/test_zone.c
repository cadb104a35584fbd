/* secondary/zone.c: building, validating, copy-on-write updates, walking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "secondary/zone.h"
#include "secondary/zone_impl.h"
#include "tests/unit/zone_helper.h"
#include "util/err.h"

static const char *const base_zone[] = {
	"example.com. 3600 SOA ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 300",
	"example.com. 3600 NS ns1.example.com.",
	"ns1.example.com. 3600 A 192.0.2.53",
	"www.example.com. 300 A 192.0.2.1",
	"www.example.com. 300 A 192.0.2.2",
	"www.example.com. 300 A 192.0.2.2",          /* duplicate: kept once */
	"a.b.c.example.com. 300 TXT \"deep\"",       /* b.c and c are empty non-terminals */
	"WWW.Example.COM. 600 AAAA 2001:db8::1",     /* same node as www, other case */
};

struct lines {
	char buf[64][1400];
	int n;
};

static int
collect(void *ctx, const struct dns_rr *rr)
{
	struct lines *l = ctx;
	char name[DNS_NAME_TEXT_MAX], rd[200];
	dns_name_to_text(rr->owner, name, sizeof(name));
	if (dns_rdata_to_text(rr->type, rr->rdata, rr->rdlen, rd, sizeof(rd)) < 0)
		snprintf(rd, sizeof(rd), "?");
	snprintf(l->buf[l->n++], sizeof(l->buf[0]), "%s %u %s %s", name, rr->ttl, dns_rrtype_name(rr->type), rd);
	return 0;
}

static bool
has_node(const struct zone *z, const char *name)
{
	uint8_t w[DNS_NAME_MAX], k[DNS_LOOKUP_MAX];
	dns_name_from_text(name, strlen(name), NULL, w);
	size_t kl = dns_name_to_lookup(w, k);
	return zone_node(z, k, kl) != NULL;
}

static void
test_zone_build_walk_canonical(void **state)
{
	(void)state;
	char err[160] = "";
	struct zone *z = tzone_build("example.com.", base_zone, 8, err, sizeof(err));
	assert_non_null(z);
	assert_int_equal(zone_records(z), 7);
	struct zone_soa soa;
	zone_soa(z, &soa);
	assert_int_equal(soa.serial, 1);
	assert_int_equal(soa.refresh, 7200);
	assert_int_equal(soa.retry, 900);
	assert_int_equal(soa.expire, 1209600);
	assert_int_equal(soa.minimum, 300);
	assert_int_equal(soa.ttl, 3600);
	struct lines l = {.n = 0};
	assert_int_equal(zone_walk(z, collect, &l), 0);
	assert_int_equal(l.n, 7);
	/* Canonical order, SOA first at the apex; owners lowercased. */
	assert_string_equal(l.buf[0], "example.com. 3600 SOA ns1.example.com. "
	                    "hostmaster.example.com. 1 7200 900 1209600 300");
	assert_string_equal(l.buf[1], "example.com. 3600 NS ns1.example.com.");
	assert_string_equal(l.buf[2], "a.b.c.example.com. 300 TXT \"deep\"");
	assert_string_equal(l.buf[3], "ns1.example.com. 3600 A 192.0.2.53");
	assert_string_equal(l.buf[4], "www.example.com. 300 A 192.0.2.1");
	assert_string_equal(l.buf[5], "www.example.com. 300 A 192.0.2.2");
	assert_string_equal(l.buf[6], "www.example.com. 600 AAAA 2001:db8::1");
	/* Empty non-terminals exist as nodes. */
	assert_true(has_node(z, "c.example.com."));
	assert_true(has_node(z, "b.c.example.com."));
	assert_false(has_node(z, "x.example.com."));
	zone_free(z);
}

static void
expect_build_error(const char *const *lines, size_t n, const char *what)
{
	char err[160] = "";
	struct zone *z = tzone_build("example.com.", lines, n, err, sizeof(err));
	assert_null(z);
	if (strstr(err, what) == NULL)
		fail_msg("error '%s' does not mention '%s'", err, what);
}

static void
test_zone_build_rejects(void **state)
{
	(void)state;
	static const char *const nosoa[] = {"example.com. 60 NS ns.example.com."};
	expect_build_error(nosoa, 1, "no SOA");
	static const char *const twosoa[] = {
		"example.com. 60 SOA a. b. 1 2 3 4 5", "example.com. 60 SOA a. b. 2 2 3 4 5"};
	expect_build_error(twosoa, 2, "2 SOA records");
	static const char *const outside[] = {
		"example.com. 60 SOA a. b. 1 2 3 4 5", "www.example.net. 60 A 192.0.2.1"};
	expect_build_error(outside, 2, "www.example.net. A: owner outside the zone");
	static const char *const cname[] = {
		"example.com. 60 SOA a. b. 1 2 3 4 5", "x.example.com. 60 CNAME y.example.com.",
		"x.example.com. 60 A 192.0.2.1"};
	expect_build_error(cname, 3, "CNAME beside other data");
	static const char *const twocname[] = {
		"example.com. 60 SOA a. b. 1 2 3 4 5", "x.example.com. 60 CNAME y.example.com.",
		"x.example.com. 60 CNAME z.example.com."};
	expect_build_error(twocname, 3, "more than one CNAME");
	static const char *const soaelsewhere[] = {
		"example.com. 60 NS a.", "sub.example.com. 60 SOA a. b. 1 2 3 4 5"};
	expect_build_error(soaelsewhere, 2, "no SOA at the zone apex");
}

static void
test_zone_update_cow(void **state)
{
	(void)state;
	char err[160] = "";
	struct zone *z1 = tzone_build("example.com.", base_zone, 8, err, sizeof(err));
	assert_non_null(z1);
	struct trr t;
	struct zone_update *u = zone_update_begin(z1);
	assert_non_null(u);
	/* IXFR order: old SOA, removals, new SOA, additions. */
	trr_parse(&t, "example.com. 3600 SOA ns1.example.com. hostmaster.example.com. "
	              "1 7200 900 1209600 300");
	assert_int_equal(zone_update_remove(u, &t.rr, err, sizeof(err)), 0);
	trr_parse(&t, "a.b.c.example.com. 300 TXT \"deep\"");
	assert_int_equal(zone_update_remove(u, &t.rr, err, sizeof(err)), 0);
	trr_parse(&t, "example.com. 3600 SOA ns1.example.com. hostmaster.example.com. "
	              "2 7200 900 1209600 300");
	assert_int_equal(zone_update_add(u, &t.rr, err, sizeof(err)), 0);
	trr_parse(&t, "new.sub.example.com. 60 A 192.0.2.9");
	assert_int_equal(zone_update_add(u, &t.rr, err, sizeof(err)), 0);
	struct zone *z2;
	assert_int_equal(zone_update_commit(u, &z2, err, sizeof(err)), 0);
	/* The old version is unchanged for its readers. */
	assert_int_equal(zone_serial(z1), 1);
	assert_true(has_node(z1, "a.b.c.example.com."));
	assert_true(has_node(z1, "b.c.example.com."));
	assert_false(has_node(z1, "new.sub.example.com."));
	assert_int_equal(zone_records(z1), 7);
	/* The new one has the change: the empty non-terminals went with their leaf. */
	assert_int_equal(zone_serial(z2), 2);
	assert_false(has_node(z2, "a.b.c.example.com."));
	assert_false(has_node(z2, "b.c.example.com."));
	assert_false(has_node(z2, "c.example.com."));
	assert_true(has_node(z2, "new.sub.example.com."));
	assert_true(has_node(z2, "sub.example.com."));
	assert_int_equal(zone_records(z2), 7);
	struct lines l = {.n = 0};
	zone_walk(z2, collect, &l);
	assert_int_equal(l.n, 7);
	assert_string_equal(l.buf[2], "ns1.example.com. 3600 A 192.0.2.53");
	assert_string_equal(l.buf[3], "new.sub.example.com. 60 A 192.0.2.9");
	zone_free(z1);   /* retired: frees only what z2 does not share */
	zone_free(z2);
}

/*
 * Signatures (issue 15): one RRSIG rrset per covered type with its own TTL,
 * NSEC3 owners outside the names of the zone, the earliest expiration kept
 * across IXFR (recomputed when the earliest signature goes).
 */
static void
test_zone_signed_versions(void **state)
{
	(void)state;
	static const char *const lines[] = {
		"s.test. 3600 SOA ns.s.test. h.s.test. 1 7200 900 1209600 300",
		"s.test. 300 MX 10 ns.s.test.",
		"s.test. 3600 RRSIG SOA 13 2 3600 20300102000000 20200101000000 1 s.test. AAAA",
		"s.test. 300 RRSIG MX 13 2 300 20300101000000 20200101000000 1 s.test. AAAA",
		"abc.s.test. 300 NSEC3 1 0 0 - 00000000000000000000000000000000 A",
		"abc.s.test. 300 RRSIG NSEC3 13 3 300 20300103000000 20200101000000 1 s.test. AAAA",
	};
	char err[160] = "";
	struct zone *z1 = tzone_build("s.test.", lines, 6, err, sizeof(err));
	assert_non_null(z1);
	uint8_t w[DNS_NAME_MAX], k[DNS_LOOKUP_MAX];
	dns_name_from_text("s.test.", 7, NULL, w);
	const struct znode *apex = zone_node(z1, k, dns_name_to_lookup(w, k));
	assert_non_null(apex);
	assert_int_equal(znode_sig(apex, DNS_T_SOA)->ttl, 3600);
	assert_int_equal(znode_sig(apex, DNS_T_MX)->ttl, 300);
	assert_int_equal(znode_sig(apex, DNS_T_MX)->count, 1);
	/* The NSEC3 owner is not a name of the zone. */
	assert_false(has_node(z1, "abc.s.test."));
	assert_int_equal(zone_records(z1), 6);
	struct lines l = {.n = 0};
	zone_walk(z1, collect, &l);
	assert_int_equal(l.n, 6);
	assert_non_null(strstr(l.buf[4], "abc.s.test. 300 RRSIG NSEC3"));
	assert_non_null(strstr(l.buf[5], "abc.s.test. 300 NSEC3 "));
	uint32_t e;
	assert_true(zone_sig_expire(z1, &e));
	assert_int_equal(e, 1893456000u);   /* 2030-01-01 */
	/* IXFR: the MX signature (the earliest) is replaced by a later one; NSEC3 changes. */
	struct trr d[3], a[3];
	trr_parse(&d[0], lines[0]);
	trr_parse(&d[1], lines[3]);
	trr_parse(&d[2], lines[4]);
	trr_parse(&a[0], "s.test. 3600 SOA ns.s.test. h.s.test. 2 7200 900 1209600 300");
	trr_parse(&a[1], "s.test. 600 RRSIG MX 13 2 300 20300105000000 20200101000000 1 s.test. AAAA");
	trr_parse(&a[2], "abc.s.test. 300 NSEC3 1 0 0 - 00000000000000000000000000000000 A MX");
	struct dns_rr dr[3] = {d[0].rr, d[1].rr, d[2].rr}, ar[3] = {a[0].rr, a[1].rr, a[2].rr};
	struct zone *z2;
	assert_int_equal(zone_apply_diff(z1, dr, 3, ar, 3, &z2, err, sizeof(err)), 0);
	apex = zone_node(z2, k, dns_name_to_lookup(w, k));
	assert_int_equal(znode_sig(apex, DNS_T_SOA)->ttl, 3600);   /* untouched by the MX's TTL */
	assert_int_equal(znode_sig(apex, DNS_T_MX)->ttl, 600);
	assert_false(has_node(z2, "abc.s.test."));
	assert_int_equal(zone_records(z2), 6);
	assert_true(zone_sig_expire(z2, &e));
	assert_int_equal(e, 1893542400u);   /* 2030-01-02, the SOA's now */
	assert_true(zone_sig_expire(z1, &e));
	assert_int_equal(e, 1893456000u);   /* the old version unchanged */
	zone_free(z1);
	zone_free(z2);
	/* An unsigned zone has no expiration. */
	struct zone *z3 = tzone_build("example.com.", base_zone, 8, err, sizeof(err));
	assert_false(zone_sig_expire(z3, &e));
	zone_free(z3);
}

static void
test_zone_update_rejects_absent_removal(void **state)
{
	(void)state;
	char err[160] = "";
	struct zone *z1 = tzone_build("example.com.", base_zone, 8, err, sizeof(err));
	struct trr t;
	trr_parse(&t, "www.example.com. 300 A 192.0.2.99");
	struct zone *z2 = NULL;
	assert_int_equal(zone_apply_diff(z1, &t.rr, 1, NULL, 0, &z2, err, sizeof(err)), ERR_XFR);
	assert_null(z2);
	assert_string_equal(err, "remove of absent record www.example.com. A");
	/* Removing the only SOA without a new one fails at commit; z1 stays usable. */
	trr_parse(&t, "example.com. 3600 SOA ns1.example.com. hostmaster.example.com. "
	              "1 7200 900 1209600 300");
	assert_int_equal(zone_apply_diff(z1, &t.rr, 1, NULL, 0, &z2, err, sizeof(err)), ERR_XFR);
	assert_string_equal(err, "no SOA at the zone apex");
	assert_int_equal(zone_serial(z1), 1);
	/* Adding a CNAME beside data is refused too. */
	trr_parse(&t, "www.example.com. 300 CNAME example.com.");
	assert_int_equal(zone_apply_diff(z1, NULL, 0, &t.rr, 1, &z2, err, sizeof(err)), ERR_XFR);
	zone_free(z1);
}

/* A one-record change to a big zone copies a path, not the zone. */
static void
test_zone_update_small_on_big_zone(void **state)
{
	(void)state;
	enum { N = 100000 };
	uint8_t apex[DNS_NAME_MAX];
	dns_name_from_text("big.test.", 9, NULL, apex);
	struct zone_builder *b = zone_builder_new(apex);
	char err[160];
	struct trr t;
	trr_parse(&t, "big.test. 3600 SOA ns.big.test. h.big.test. 1 2 3 4 5");
	assert_int_equal(zone_builder_add(b, &t.rr, err, sizeof(err)), 0);
	for (int i = 0; i < N; i++) {
		char line[80];
		snprintf(line, sizeof(line), "h%d.big.test. 60 A 10.%d.%d.%d", i, (i >> 16) & 255,
		         (i >> 8) & 255, i & 255);
		trr_parse(&t, line);
		assert_int_equal(zone_builder_add(b, &t.rr, err, sizeof(err)), 0);
	}
	struct zone *z1, *z2;
	assert_int_equal(zone_builder_finish(b, &z1, err, sizeof(err)), 0);
	assert_int_equal(zone_records(z1), N + 1);
	struct trr del[2], add[2];
	trr_parse(&del[0], "big.test. 3600 SOA ns.big.test. h.big.test. 1 2 3 4 5");
	trr_parse(&del[1], "h777.big.test. 60 A 10.0.3.9");
	trr_parse(&add[0], "big.test. 3600 SOA ns.big.test. h.big.test. 2 2 3 4 5");
	trr_parse(&add[1], "h777.big.test. 60 A 10.7.7.7");
	struct dns_rr d[2] = {del[0].rr, del[1].rr}, a[2] = {add[0].rr, add[1].rr};
	assert_int_equal(zone_apply_diff(z1, d, 2, a, 2, &z2, err, sizeof(err)), 0);
	assert_int_equal(zone_serial(z2), 2);
	/* Replaced: 2 nodes and the branch arrays on their two paths. */
	assert_true(z1->retired);
	assert_true(z1->ngarbage >= 2 && z1->ngarbage < 60);
	zone_free(z1);
	zone_free(z2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zone_build_walk_canonical),
		cmocka_unit_test(test_zone_build_rejects),
		cmocka_unit_test(test_zone_update_cow),
		cmocka_unit_test(test_zone_signed_versions),
		cmocka_unit_test(test_zone_update_rejects_absent_removal),
		cmocka_unit_test(test_zone_update_small_on_big_zone),
	};
	return cmocka_run_group_tests_name("zone", tests, NULL, NULL);
}
