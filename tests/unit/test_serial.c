/* dns/serial.c: RFC 1982 arithmetic and the SOA-EDIT-API policies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dns/serial.h"
#include "util/err.h"

/* 2026-11-26 12:00:00 UTC and the last second of 2026-12-31. */
#define T_NOV26 ((time_t)1795694400)
#define T_DEC31_END ((time_t)1798761599)

static void
test_serial_rfc1982_compare(void **state)
{
	(void)state;
	/* RFC 1982 §3.2 examples with SERIAL_BITS 32. */
	assert_int_equal(dns_serial_cmp(1, 2), -1);
	assert_int_equal(dns_serial_cmp(2, 1), 1);
	assert_int_equal(dns_serial_cmp(7, 7), 0);
	assert_true(dns_serial_gt(0, UINT32_MAX));          /* 0 follows 2^32-1 */
	assert_false(dns_serial_gt(UINT32_MAX, 0));
	assert_true(dns_serial_gt(0x7fffffffu, 0));          /* 2^31-1 ahead */
	assert_int_equal(dns_serial_cmp(0, 0x80000000u), 2); /* undefined pair */
	assert_false(dns_serial_gt(0x80000000u, 0));
	assert_false(dns_serial_gt(0, 0x80000000u));
	assert_true(dns_serial_gt(5, 0xfffffff0u));
}

static void
test_serial_add_range(void **state)
{
	(void)state;
	uint32_t out = 0;
	assert_int_equal(dns_serial_add(UINT32_MAX, 1, &out), 0);
	assert_int_equal(out, 0);
	assert_int_equal(dns_serial_add(10, 0x7fffffffu, &out), 0);
	assert_int_equal(out, 10u + 0x7fffffffu);
	assert_int_equal(dns_serial_add(10, 0x80000000u, &out), -ERANGE);
}

static void
test_serial_default_date(void **state)
{
	(void)state;
	assert_int_equal(dns_serial_initial(DNS_SERIAL_DEFAULT, T_NOV26), 2026112601u);
	/* older serial: jumps to today's first */
	assert_int_equal(dns_serial_next(DNS_SERIAL_DEFAULT, 2026112401u, T_NOV26), 2026112601u);
	assert_int_equal(dns_serial_next(DNS_SERIAL_DEFAULT, 1, T_NOV26), 2026112601u);
	/* same day: +1 */
	assert_int_equal(dns_serial_next(DNS_SERIAL_DEFAULT, 2026112601u, T_NOV26), 2026112602u);
	/* the day's 99 changes are used up: keep counting past nn = 99 */
	assert_int_equal(dns_serial_next(DNS_SERIAL_DEFAULT, 2026112699u, T_NOV26), 2026112700u);
	/* serial ahead of the date (e.g. set by hand): +1, never backwards */
	assert_int_equal(dns_serial_next(DNS_SERIAL_DEFAULT, 2030010105u, T_NOV26), 2030010106u);
}

static void
test_serial_default_rollover(void **state)
{
	(void)state;
	/* last second of the year, then the first of the next: date rolls over */
	uint32_t s = dns_serial_next(DNS_SERIAL_DEFAULT, 2026123107u, T_DEC31_END);
	assert_int_equal(s, 2026123108u);
	s = dns_serial_next(DNS_SERIAL_DEFAULT, s, T_DEC31_END + 1);
	assert_int_equal(s, 2027010101u);
	s = dns_serial_next(DNS_SERIAL_DEFAULT, s, T_DEC31_END + 1);
	assert_int_equal(s, 2027010102u);
}

static void
test_serial_increase_wraps(void **state)
{
	(void)state;
	assert_int_equal(dns_serial_next(DNS_SERIAL_INCREASE, 41, T_NOV26), 42);
	uint32_t s = dns_serial_next(DNS_SERIAL_INCREASE, UINT32_MAX, T_NOV26);
	assert_int_equal(s, 0);
	assert_true(dns_serial_gt(s, UINT32_MAX));
	assert_int_equal(dns_serial_initial(DNS_SERIAL_INCREASE, T_NOV26), 1);
	/* DEFAULT near the top of the space: the date is "behind", +1 wraps */
	s = dns_serial_next(DNS_SERIAL_DEFAULT, UINT32_MAX, T_NOV26);
	assert_true(dns_serial_gt(s, UINT32_MAX));
}

static void
test_serial_epoch(void **state)
{
	(void)state;
	assert_int_equal(dns_serial_initial(DNS_SERIAL_EPOCH, T_NOV26), (uint32_t)T_NOV26);
	assert_int_equal(dns_serial_next(DNS_SERIAL_EPOCH, 5, T_NOV26), (uint32_t)T_NOV26);
	/* two changes in the same second: +1 */
	assert_int_equal(dns_serial_next(DNS_SERIAL_EPOCH, (uint32_t)T_NOV26, T_NOV26),
	                 (uint32_t)T_NOV26 + 1);
	/* serial ahead of the clock: +1 */
	assert_int_equal(dns_serial_next(DNS_SERIAL_EPOCH, (uint32_t)T_NOV26 + 100, T_NOV26),
	                 (uint32_t)T_NOV26 + 101);
	/* every policy's next serial is greater than the current one */
	for (uint32_t cur = 0xfffffff0u; cur != 16; cur++) {
		assert_true(dns_serial_gt(dns_serial_next(DNS_SERIAL_EPOCH, cur, T_NOV26), cur));
		assert_true(dns_serial_gt(dns_serial_next(DNS_SERIAL_DEFAULT, cur, T_NOV26), cur));
	}
}

static void
test_serial_policy_names(void **state)
{
	(void)state;
	enum dns_serial_policy p;
	assert_int_equal(dns_serial_policy_parse("increase", &p), 0);
	assert_int_equal(p, DNS_SERIAL_INCREASE);
	assert_int_equal(dns_serial_policy_parse("Epoch", &p), 0);
	assert_int_equal(p, DNS_SERIAL_EPOCH);
	assert_int_equal(dns_serial_policy_parse("", &p), 0);
	assert_int_equal(p, DNS_SERIAL_DEFAULT);
	assert_int_equal(dns_serial_policy_parse("INCEPTION-EPOCH", &p), -EINVAL);
	assert_string_equal(dns_serial_policy_name(DNS_SERIAL_EPOCH), "EPOCH");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial_rfc1982_compare),
		cmocka_unit_test(test_serial_add_range),
		cmocka_unit_test(test_serial_default_date),
		cmocka_unit_test(test_serial_default_rollover),
		cmocka_unit_test(test_serial_increase_wraps),
		cmocka_unit_test(test_serial_epoch),
		cmocka_unit_test(test_serial_policy_names),
	};
	return cmocka_run_group_tests_name("serial", tests, NULL, NULL);
}
