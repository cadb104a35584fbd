/* util/strbuf.c: the one string builder, its growth and sticky error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/strbuf.h"

static void
test_strbuf_build(void **state)
{
	(void)state;
	struct strbuf b;
	strbuf_init(&b);
	assert_string_equal(strbuf_str(&b), "");
	assert_int_equal(strbuf_append(&b, "abc", 3), 0);
	assert_int_equal(strbuf_printf(&b, "-%d-%s", 42, "x"), 0);
	assert_string_equal(strbuf_str(&b), "abc-42-x");
	assert_int_equal(b.len, 8);
	/* Growth across many reallocations, printf longer than the room left. */
	char big[3000];
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	for (int i = 0; i < 10; i++)
		assert_int_equal(strbuf_printf(&b, "%s%d", big, i), 0);
	assert_int_equal(b.len, 8 + 10 * 3000);
	assert_int_equal(strbuf_str(&b)[8 + 2999], '0');
	assert_int_equal(strbuf_str(&b)[b.len - 1], '9');
	assert_int_equal(strlen(strbuf_str(&b)), b.len);
	char *s = strbuf_take(&b);
	assert_non_null(s);
	assert_int_equal(strlen(s), 8 + 10 * 3000);
	free(s);
	assert_null(b.s);
	assert_int_equal(b.len, 0);
	/* An empty buffer is taken as "". */
	s = strbuf_take(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	strbuf_append(&b, "q", 1);
	strbuf_clear(&b);
	assert_null(b.s);
	assert_string_equal(strbuf_str(&b), "");
}

static void
test_strbuf_sticky_error(void **state)
{
	(void)state;
	struct strbuf b;
	strbuf_init(&b);
	strbuf_append(&b, "ok", 2);
	/* An impossible size fails with ENOMEM, and so does everything after it. */
	assert_int_equal(strbuf_append(&b, "x", (size_t)-1 / 2), -ENOMEM);
	assert_int_equal(b.err, -ENOMEM);
	assert_int_equal(strbuf_append(&b, "y", 1), -ENOMEM);
	assert_int_equal(strbuf_printf(&b, "%d", 1), -ENOMEM);
	assert_string_equal(strbuf_str(&b), "ok");   /* what was built stays readable */
	assert_null(strbuf_take(&b));                  /* but is not handed out */
	assert_null(b.s);
	assert_int_equal(b.err, 0);                    /* taking cleared it */
	assert_int_equal(strbuf_append(&b, "z", 1), 0);
	strbuf_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strbuf_build),
		cmocka_unit_test(test_strbuf_sticky_error),
	};
	return cmocka_run_group_tests_name("strbuf", tests, NULL, NULL);
}
