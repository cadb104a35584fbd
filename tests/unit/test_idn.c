/* api/idn.c: U-labels refused with their A-label, error text kept valid UTF-8. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "api/idn.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"

static void
test_idn_text(void **state)
{
	(void)state;
	char err[512];
	assert_int_equal(api_idn_check_text("name", "www.example.", 12, err, sizeof(err)), 0);
	assert_int_equal(api_idn_check_text("name", "b\\195\\188cher.", 14, err, sizeof(err)), 0);
	const char *u = "b\xc3\xbc" "cher.example.";
	assert_int_equal(api_idn_check_text("zone name", u, strlen(u), err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "zone name 'b\xc3\xbc" "cher.example.' is not ASCII: use its "
	                    "A-label 'xn--bcher-kva.example.'");
	/* upper case maps (UTS #46), no trailing dot stays without one */
	u = "B\xc3\x9c" "CHER.example";
	assert_int_equal(api_idn_check_text("name", u, strlen(u), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "use its A-label 'xn--bcher-kva.example'"));
	/* a symbol has no IDNA2008 A-label */
	u = "\xe2\x98\x83.example.";
	assert_int_equal(api_idn_check_text("name", u, strlen(u), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "has no IDNA2008 A-label"));
	/* not UTF-8 at all */
	u = "\xff\xfe.example.";
	assert_int_equal(api_idn_check_text("name", u, strlen(u), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "has no IDNA2008 A-label"));
}

static void
test_idn_wire_and_rdata(void **state)
{
	(void)state;
	char err[512];
	uint8_t name[DNS_NAME_MAX];
	const char *u = "m\xc3\xa4il.example.com.";
	assert_true(dns_name_from_text(u, strlen(u), NULL, name) > 0);
	assert_int_equal(api_idn_check_wire("name", name, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "name 'm\xc3\xa4il.example.com.' is not ASCII: use its A-label "
	                    "'xn--mil-qla.example.com.'");
	/* an MX's exchange */
	uint8_t rd[DNS_RDATA_MAX];
	char e2[128];
	const char *mx = "10 m\xc3\xa4il.example.com.";
	int n = dns_rdata_from_str(DNS_T_MX, mx, strlen(mx), NULL, rd, sizeof(rd), e2, sizeof(e2));
	assert_true(n > 0);
	assert_int_equal(api_idn_check_rdata(DNS_T_MX, rd, (size_t)n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'xn--mil-qla.example.com.'"));
	/* TXT holds no name; empty rdata holds none either */
	const char *txt = "\"gr\xc3\xbc\xc3\x9f" "e\"";
	n = dns_rdata_from_str(DNS_T_TXT, txt, strlen(txt), NULL, rd, sizeof(rd), e2, sizeof(e2));
	assert_true(n > 0);
	assert_int_equal(api_idn_check_rdata(DNS_T_TXT, rd, (size_t)n, err, sizeof(err)), 0);
	assert_int_equal(api_idn_check_rdata(DNS_T_APL, rd, 0, err, sizeof(err)), 0);
	assert_int_equal(api_idn_check_rdata(65534, NULL, 0, err, sizeof(err)), 0);
	/* a label holding a dot (escaped) is shown escaped, without a suggestion */
	u = "a\\.b\xc3\xbc.example.";
	assert_true(dns_name_from_text(u, strlen(u), NULL, name) > 0);
	assert_int_equal(api_idn_check_wire("name", name, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "xn--"));
}

static void
test_idn_sanitize(void **state)
{
	(void)state;
	char m[64];
	snprintf(m, sizeof(m), "ok b\xc3\xbc" "cher \xe2\x98\x83 \xf0\x9f\x98\x80");
	api_idn_sanitize(m);
	assert_string_equal(m, "ok b\xc3\xbc" "cher \xe2\x98\x83 \xf0\x9f\x98\x80");
	/* cut mid-character, lone continuation, overlong, surrogate, control */
	snprintf(m, sizeof(m), "a\xc3");
	api_idn_sanitize(m);
	assert_string_equal(m, "a?");
	snprintf(m, sizeof(m), "\x80x\xc0\xaf\xed\xa0\x80\ty\xe2\x98");
	api_idn_sanitize(m);
	assert_string_equal(m, "?x??????y??");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idn_text),
		cmocka_unit_test(test_idn_wire_and_rdata),
		cmocka_unit_test(test_idn_sanitize),
	};
	return cmocka_run_group_tests_name("idn", tests, NULL, NULL);
}
