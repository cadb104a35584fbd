/* util/arena.c: alignment, growth, big requests, reset and clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/arena.h"

static void
test_arena_alloc(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 100);   /* raised to the 256-byte minimum */
	assert_int_equal(a.block_size, 256);
	uint8_t *p[100];
	for (int i = 0; i < 100; i++) {
		p[i] = arena_alloc(&a, (size_t)i % 13 + 1);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 8, 0);
		memset(p[i], i, (size_t)i % 13 + 1);
	}
	/* Nothing overlapped: every allocation still holds its bytes. */
	for (int i = 0; i < 100; i++)
		for (size_t k = 0; k < (size_t)i % 13 + 1; k++)
			assert_int_equal(p[i][k], (uint8_t)i);
	/* A request larger than a block gets its own. */
	uint8_t *big = arena_alloc(&a, 100000);
	assert_non_null(big);
	memset(big, 0xab, 100000);
	assert_int_equal(p[99][0], 99);
	char *s = arena_strdup(&a, "hello");
	assert_string_equal(s, "hello");
	char *t = arena_strndup(&a, "hello world", 5);
	assert_string_equal(t, "hello");
	const uint8_t raw[3] = {1, 0, 2};
	uint8_t *m = arena_memdup(&a, raw, 3);
	assert_memory_equal(m, raw, 3);
	assert_true(a.total >= 100000);
	arena_clear(&a);
	assert_null(a.head);
}

static void
test_arena_reset(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 1024);
	for (int i = 0; i < 50; i++)
		assert_non_null(arena_alloc(&a, 200));
	arena_reset(&a);
	assert_int_equal(a.total, 0);
	assert_non_null(a.head);   /* one block kept for reuse */
	char *s = arena_strdup(&a, "again");
	assert_string_equal(s, "again");
	arena_reset(&a);
	arena_reset(&a);           /* twice is harmless */
	arena_clear(&a);
	arena_clear(&a);
	assert_null(a.head);
	assert_non_null(arena_alloc(&a, 8));   /* usable after clear */
	arena_clear(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_alloc),
		cmocka_unit_test(test_arena_reset),
	};
	return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
