/* dns/rrtype.c: mnemonics, TYPEnnn / CLASSnnn (RFC 3597 §5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dns/rrtype.h"
#include "util/err.h"

static int
ty(const char *s, uint16_t *t)
{
	return dns_rrtype_from_text(s, strlen(s), t);
}

static void
test_rrtype_mnemonics(void **state)
{
	(void)state;
	static const struct { const char *n; uint16_t t; } v[] = {
		{ "A", 1 }, { "NS", 2 }, { "CNAME", 5 }, { "SOA", 6 }, { "PTR", 12 },
		{ "HINFO", 13 }, { "MX", 15 }, { "TXT", 16 }, { "AAAA", 28 }, { "LOC", 29 },
		{ "SRV", 33 }, { "NAPTR", 35 }, { "DNAME", 39 }, { "OPT", 41 }, { "DS", 43 },
		{ "SSHFP", 44 }, { "RRSIG", 46 }, { "NSEC", 47 }, { "DNSKEY", 48 },
		{ "NSEC3", 50 }, { "NSEC3PARAM", 51 }, { "TLSA", 52 }, { "SMIMEA", 53 },
		{ "CDS", 59 }, { "CDNSKEY", 60 }, { "OPENPGPKEY", 61 }, { "ZONEMD", 63 },
		{ "SVCB", 64 }, { "HTTPS", 65 }, { "SPF", 99 }, { "TSIG", 250 }, { "IXFR", 251 },
		{ "AXFR", 252 }, { "ANY", 255 }, { "CAA", 257 },
		{ "MD", 3 }, { "MF", 4 }, { "MB", 7 }, { "MG", 8 }, { "MR", 9 }, { "NULL", 10 },
		{ "MINFO", 14 }, { "RP", 17 }, { "AFSDB", 18 }, { "X25", 19 }, { "RT", 21 },
		{ "SIG", 24 }, { "KEY", 25 }, { "PX", 26 }, { "NXT", 30 }, { "KX", 36 },
		{ "DHCID", 49 }, { "NINFO", 56 }, { "CSYNC", 62 }, { "NID", 104 }, { "L32", 105 },
		{ "L64", 106 }, { "LP", 107 }, { "EUI48", 108 }, { "EUI64", 109 }, { "MAILB", 253 },
		{ "MAILA", 254 }, { "URI", 256 }, { "AVC", 258 }, { "TA", 32768 }, { "DLV", 32769 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint16_t t = 0;
		char buf[DNS_RRTYPE_TEXT_MAX];
		assert_int_equal(ty(v[i].n, &t), 0);
		assert_int_equal(t, v[i].t);
		assert_int_equal(dns_rrtype_to_text(t, buf, sizeof(buf)), (int)strlen(v[i].n));
		assert_string_equal(buf, v[i].n);
		assert_string_equal(dns_rrtype_name(t), v[i].n);
	}
	/* every code has at most one name, and the name maps back to the code */
	for (unsigned c = 0; c < 65536; c++) {
		const char *n = dns_rrtype_name((uint16_t)c);
		uint16_t back;
		if (n != NULL) {
			assert_int_equal(ty(n, &back), 0);
			assert_int_equal(back, c);
		}
	}
	uint16_t t;
	assert_int_equal(ty("nsec3param", &t), 0);
	assert_int_equal(t, DNS_T_NSEC3PARAM);
	assert_int_equal(ty("AAAAA", &t), ERR_TYPE);
	assert_int_equal(ty("", &t), ERR_TYPE);
}

static void
test_rrtype_typennn(void **state)
{
	(void)state;
	uint16_t t;
	char buf[DNS_RRTYPE_TEXT_MAX];
	assert_int_equal(ty("TYPE65534", &t), 0);
	assert_int_equal(t, 65534);
	assert_int_equal(ty("type1", &t), 0);
	assert_int_equal(t, DNS_T_A);
	assert_int_equal(ty("TYPE65536", &t), ERR_TYPE);
	assert_int_equal(ty("TYPE", &t), ERR_TYPE);
	assert_int_equal(ty("TYPE1x", &t), ERR_TYPE);
	assert_int_equal(ty("TYPE-1", &t), ERR_TYPE);
	assert_int_equal(ty("TYPE000001", &t), ERR_TYPE);
	assert_int_equal(dns_rrtype_to_text(65534, buf, sizeof(buf)), 9);
	assert_string_equal(buf, "TYPE65534");
	assert_null(dns_rrtype_name(65534));
	/* a known type spelled TYPEnnn prints with its mnemonic */
	assert_int_equal(dns_rrtype_to_text(1, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "A");
	assert_int_equal(dns_rrtype_to_text(65535, buf, 5), -ENOSPC);
}

static void
test_rrtype_meta(void **state)
{
	(void)state;
	assert_true(dns_rrtype_is_meta(DNS_T_OPT));
	assert_true(dns_rrtype_is_meta(DNS_T_TSIG));
	assert_true(dns_rrtype_is_meta(DNS_T_AXFR));
	assert_true(dns_rrtype_is_meta(DNS_T_IXFR));
	assert_true(dns_rrtype_is_meta(DNS_T_ANY));
	assert_false(dns_rrtype_is_meta(DNS_T_A));
	assert_false(dns_rrtype_is_meta(DNS_T_CAA));
	assert_false(dns_rrtype_is_meta(DNS_T_SPF));
}

static void
test_rrtype_classes(void **state)
{
	(void)state;
	uint16_t c;
	char buf[DNS_RRTYPE_TEXT_MAX];
	static const struct { const char *n; uint16_t c; } v[] = {
		{ "IN", 1 }, { "CH", 3 }, { "HS", 4 }, { "NONE", 254 }, { "ANY", 255 },
	};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(dns_rrclass_from_text(v[i].n, strlen(v[i].n), &c), 0);
		assert_int_equal(c, v[i].c);
		assert_int_equal(dns_rrclass_to_text(c, buf, sizeof(buf)), (int)strlen(v[i].n));
		assert_string_equal(buf, v[i].n);
	}
	assert_int_equal(dns_rrclass_from_text("in", 2, &c), 0);
	assert_int_equal(c, DNS_C_IN);
	assert_int_equal(dns_rrclass_from_text("CLASS32", 7, &c), 0);
	assert_int_equal(c, 32);
	assert_int_equal(dns_rrclass_to_text(32, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "CLASS32");
	assert_int_equal(dns_rrclass_from_text("CLASS70000", 10, &c), ERR_TYPE);
	assert_int_equal(dns_rrclass_from_text("XX", 2, &c), ERR_TYPE);
	assert_int_equal(dns_rrclass_from_text("A", 1, &c), ERR_TYPE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rrtype_mnemonics),
		cmocka_unit_test(test_rrtype_typennn),
		cmocka_unit_test(test_rrtype_meta),
		cmocka_unit_test(test_rrtype_classes),
	};
	return cmocka_run_group_tests_name("rrtype", tests, NULL, NULL);
}
