/* util/base.c: RFC 4648 §10 test vectors, strictness, streaming decoders. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/base.h"

static const char *vec_in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
static const char *vec_b64[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
static const char *vec_b32[] = { "", "CO", "CPNG", "CPNMU", "CPNMUOG", "CPNMUOJ1", "CPNMUOJ1E8" };

static void
test_base_rfc4648_vectors(void **state)
{
	(void)state;
	char t[64];
	uint8_t b[64];
	for (size_t i = 0; i < 7; i++) {
		size_t n = strlen(vec_in[i]);
		assert_int_equal(base64_encode((const uint8_t *)vec_in[i], n, t, sizeof(t)),
		                 (int)strlen(vec_b64[i]));
		assert_string_equal(t, vec_b64[i]);
		assert_int_equal(base64_decode(vec_b64[i], strlen(vec_b64[i]), b, sizeof(b)), (int)n);
		assert_memory_equal(b, vec_in[i], n);
		assert_int_equal(base32hex_encode((const uint8_t *)vec_in[i], n, t, sizeof(t)),
		                 (int)strlen(vec_b32[i]));
		assert_string_equal(t, vec_b32[i]);
		assert_int_equal(base32hex_decode(vec_b32[i], strlen(vec_b32[i]), b, sizeof(b)),
		                 (int)n);
		assert_memory_equal(b, vec_in[i], n);
	}
	/* lowercase base32hex is accepted */
	assert_int_equal(base32hex_decode("cpnmuoj1e8", 10, b, sizeof(b)), 6);
	assert_memory_equal(b, "foobar", 6);
}

static void
test_base_base64_strict(void **state)
{
	(void)state;
	uint8_t b[16];
	assert_int_equal(base64_decode("Zm9", 3, b, sizeof(b)), -EINVAL);      /* incomplete */
	assert_int_equal(base64_decode("Zm9v!A==", 8, b, sizeof(b)), -EINVAL); /* bad char */
	assert_int_equal(base64_decode("Zg==Zg==", 8, b, sizeof(b)), -EINVAL); /* data after pad */
	assert_int_equal(base64_decode("Z===", 4, b, sizeof(b)), -EINVAL);
	assert_int_equal(base64_decode("Zh==", 4, b, sizeof(b)), -EINVAL);     /* spare bits */
	assert_int_equal(base64_decode("Zm9=", 4, b, sizeof(b)), -EINVAL);
	assert_int_equal(base64_decode("Zg=", 3, b, sizeof(b)), -EINVAL);
	assert_int_equal(base64_decode("Zm9v YmFy", 9, b, sizeof(b)), -EINVAL);
	assert_int_equal(base64_decode("Zm9vYmFy", 8, b, 5), -EMSGSIZE);
	char t[4];
	assert_int_equal(base64_encode((const uint8_t *)"foo", 3, t, sizeof(t)), -ENOSPC);
}

static void
test_base_stream_split_anywhere(void **state)
{
	(void)state;
	uint8_t b[16];
	struct base64_dec d;
	base64_dec_init(&d, b, sizeof(b));
	assert_int_equal(base64_dec_feed(&d, "Zm9vY", 5), 0);
	assert_int_equal(base64_dec_feed(&d, "mE", 2), 0);
	assert_int_equal(base64_dec_feed(&d, "=", 1), 0);
	assert_int_equal(base64_dec_finish(&d), 5);
	assert_memory_equal(b, "fooba", 5);

	struct hex_dec h;
	hex_dec_init(&h, b, sizeof(b));
	assert_int_equal(hex_dec_feed(&h, "0a0", 3), 0);
	assert_int_equal(hex_dec_feed(&h, "B", 1), 0);
	assert_int_equal(hex_dec_finish(&h), 2);
	assert_memory_equal(b, "\x0a\x0b", 2);
	hex_dec_init(&h, b, sizeof(b));
	hex_dec_feed(&h, "abc", 3);
	assert_int_equal(hex_dec_finish(&h), -EINVAL);   /* odd digit count */
}

static void
test_base_hex_and_base32_strict(void **state)
{
	(void)state;
	uint8_t b[16];
	char t[16];
	assert_int_equal(hex_decode("0g", 2, b, sizeof(b)), -EINVAL);
	assert_int_equal(hex_decode("DEADbeef", 8, b, sizeof(b)), 4);
	assert_int_equal(hex_encode(b, 4, true, t, sizeof(t)), 8);
	assert_string_equal(t, "DEADBEEF");
	assert_int_equal(hex_encode(b, 4, false, t, sizeof(t)), 8);
	assert_string_equal(t, "deadbeef");
	assert_int_equal(hex_decode("0102", 4, b, 1), -EMSGSIZE);
	assert_int_equal(base32hex_decode("CPNMUOJ1E8==", 12, b, sizeof(b)), -EINVAL); /* no pad */
	assert_int_equal(base32hex_decode("W0", 2, b, sizeof(b)), -EINVAL);  /* outside 0-V */
	assert_int_equal(base32hex_decode("C", 1, b, sizeof(b)), -EINVAL);   /* bad length */
	assert_int_equal(base32hex_decode("CP", 2, b, sizeof(b)), -EINVAL);  /* spare bits set */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_rfc4648_vectors),
		cmocka_unit_test(test_base_base64_strict),
		cmocka_unit_test(test_base_stream_split_anywhere),
		cmocka_unit_test(test_base_hex_and_base32_strict),
	};
	return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
