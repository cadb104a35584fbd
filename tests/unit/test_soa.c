/* dns/soa.c: the one SOA rdata parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dns/name.h"
#include "dns/soa.h"
#include "util/err.h"

/* ns1.example. hostmaster.example. 2026120601 3600 600 86400 300 */
static const uint8_t rd[] = {
	3, 'n', 's', '1', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0,
	10, 'h', 'o', 's', 't', 'm', 'a', 's', 't', 'e', 'r', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0,
	0x78, 0xc4, 0x25, 0x99,   /* 2026120601 */
	0, 0, 0x0e, 0x10,         /* 3600 */
	0, 0, 0x02, 0x58,         /* 600 */
	0, 0x01, 0x51, 0x80,      /* 86400 */
	0, 0, 0x01, 0x2c,         /* 300 */
};

static void
test_soa_fields(void **state)
{
	(void)state;
	struct dns_soa s;
	assert_int_equal(dns_soa_parse(rd, sizeof(rd), &s), 0);
	assert_int_equal(s.serial, 2026120601u);
	assert_int_equal(s.refresh, 3600);
	assert_int_equal(s.retry, 600);
	assert_int_equal(s.expire, 86400);
	assert_int_equal(s.minimum, 300);
	assert_int_equal(s.serial_off, 33);
	assert_ptr_equal(s.mname, rd);
	assert_ptr_equal(s.rname, rd + 13);
	assert_int_equal(dns_name_len(s.rname), 20);
	/* Root names: the shortest SOA, 22 bytes. */
	uint8_t small[22] = {0};
	small[2 + 3] = 7;
	assert_int_equal(dns_soa_parse(small, sizeof(small), &s), 0);
	assert_int_equal(s.serial, 7);
	assert_int_equal(s.serial_off, 2);
}

static void
test_soa_malformed(void **state)
{
	(void)state;
	struct dns_soa s;
	memset(&s, 0xee, sizeof(s));
	/* Every length but the right one: cut fields, trailing bytes, cut names. */
	for (size_t len = 0; len < sizeof(rd); len++)
		assert_int_equal(dns_soa_parse(rd, len, &s), ERR_RDATA);
	uint8_t longer[sizeof(rd) + 1];
	memcpy(longer, rd, sizeof(rd));
	longer[sizeof(rd)] = 0;
	assert_int_equal(dns_soa_parse(longer, sizeof(longer), &s), ERR_RDATA);
	/* A compression pointer or a bad label type in a name. */
	uint8_t bad[sizeof(rd)];
	memcpy(bad, rd, sizeof(rd));
	bad[0] = 0xc0;
	assert_int_equal(dns_soa_parse(bad, sizeof(bad), &s), ERR_RDATA);
	memcpy(bad, rd, sizeof(rd));
	bad[13] = 0x41;
	assert_int_equal(dns_soa_parse(bad, sizeof(bad), &s), ERR_RDATA);
	assert_int_equal(s.serial, 0xeeeeeeeeu);   /* untouched on error */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soa_fields),
		cmocka_unit_test(test_soa_malformed),
	};
	return cmocka_run_group_tests_name("soa", tests, NULL, NULL);
}
