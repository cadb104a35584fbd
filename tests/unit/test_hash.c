/* util/hash.h and util/clock.h: FNV-1a vectors, case folding, clock sanity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/clock.h"
#include "util/hash.h"

static void
test_hash_fnv1a_vectors(void **state)
{
	(void)state;
	/* FNV-1a 64 reference values (draft-eastlake-fnv). */
	assert_true(hash_fnv1a("", 0, 0) == UINT64_C(0xcbf29ce484222325));
	assert_true(hash_fnv1a("a", 1, 0) == UINT64_C(0xaf63dc4c8601ec8c));
	assert_true(hash_fnv1a("foobar", 6, 0) == UINT64_C(0x85944171f73967e8));
	/* The lowercasing variant equals the plain hash of the lowercased bytes. */
	assert_true(hash_fnv1a_lower("FooBar", 6, 0) == hash_fnv1a("foobar", 6, 0));
	assert_true(hash_fnv1a_lower("\3WWW\7Example", 12, 0) ==
	            hash_fnv1a("\3www\7example", 12, 0));
	/* Only ASCII letters fold: '@' and '[' sit next to 'A' and 'Z'. */
	assert_true(hash_fnv1a_lower("@[", 2, 0) == hash_fnv1a("@[", 2, 0));
	/* A seed changes the hash; seeding with a hash continues it (as chained use does). */
	assert_true(hash_fnv1a("foobar", 6, 1) != hash_fnv1a("foobar", 6, 0));
	uint64_t h = hash_fnv1a("foo", 3, 0);
	assert_true(hash_fnv1a("bar", 3, h ^ HASH_FNV_OFFSET) == hash_fnv1a("foobar", 6, 0));
}

static void
test_clock_units(void **state)
{
	(void)state;
	int64_t ns = clock_mono_ns(), ms = clock_mono_ms();
	double s = clock_mono_s();
	assert_true(ns > 0);
	assert_true(ms >= ns / 1000000 && ms - ns / 1000000 < 1000);
	assert_true(s * 1e3 >= (double)ms - 1 && s * 1e3 - (double)ms < 1000);
	assert_true(clock_mono_ns() >= ns);   /* monotonic */
	assert_true(clock_real_ms() > INT64_C(1600000000000));   /* after 2020 */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_fnv1a_vectors),
		cmocka_unit_test(test_clock_units),
	};
	return cmocka_run_group_tests_name("hash", tests, NULL, NULL);
}
