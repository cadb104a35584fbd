/*
 * secondary/jitter.h: refresh intervals of many zones scheduled at the same
 * moment spread over the last tenth of the interval, never beyond it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "secondary/jitter.h"
#include "util/hash.h"

#define ZONES 100000
#define BUCKETS 10

static void
test_spread_over_last_tenth(void **state)
{
	(void)state;
	unsigned count[BUCKETS] = {0};
	const uint32_t refresh = 3600;
	const int64_t now = 123456789;
	for (unsigned i = 0; i < ZONES; i++) {
		char name[32];
		int n = snprintf(name, sizeof(name), "z%u.example.", i);
		uint64_t seed = hash_fnv1a_lower(name, (size_t)n, 0) ^ (uint64_t)now;
		int64_t ms = jitter_interval_ms(refresh, seed);
		assert_true(ms <= 3600000);
		assert_true(ms >= 3240000);
		int b = (int)((3600000 - ms) * BUCKETS / 360001);
		count[b]++;
	}
	/* Even: each of the 36 s slices holds about a tenth of the zones. */
	for (int b = 0; b < BUCKETS; b++)
		assert_true(count[b] > ZONES / BUCKETS * 8 / 10 && count[b] < ZONES / BUCKETS * 12 / 10);
	/* The same zone rescheduled later gets another point of the window. */
	uint64_t h = hash_fnv1a_lower("a.example.", 10, 0);
	unsigned differ = 0;
	for (int64_t t = 0; t < 100; t++)
		differ += jitter_interval_ms(refresh, h ^ (uint64_t)(now + t * 1000)) !=
		          jitter_interval_ms(refresh, h ^ (uint64_t)now);
	assert_true(differ > 90);
}

static void
test_short_intervals(void **state)
{
	(void)state;
	assert_int_equal(jitter_interval_ms(0, 42), 0);
	for (uint64_t s = 0; s < 1000; s++) {
		int64_t ms = jitter_interval_ms(1, s);
		assert_true(ms >= 900 && ms <= 1000);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spread_over_last_tenth),
		cmocka_unit_test(test_short_intervals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
