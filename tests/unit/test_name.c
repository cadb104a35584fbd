/* dns/name.c: presentation <-> wire, compression pointers, canonical order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dns/name.h"
#include "util/err.h"

static int
from(const char *s, const uint8_t *origin, uint8_t *out)
{
	return dns_name_from_text(s, strlen(s), origin, out);
}

static void
test_name_text_roundtrip(void **state)
{
	(void)state;
	uint8_t w[DNS_NAME_MAX];
	char t[DNS_NAME_TEXT_MAX];
	assert_int_equal(from("www.Example.COM.", NULL, w), 17);
	assert_memory_equal(w, "\3www\7Example\3COM", 17);
	assert_int_equal(dns_name_to_text(w, t, sizeof(t)), 16);
	assert_string_equal(t, "www.Example.COM.");
	assert_int_equal(from("a\\.b\\032c\\\\.x.", NULL, w), 10);
	assert_memory_equal(w, "\6a.b c\\\1x", 10);
	assert_true(dns_name_to_text(w, t, sizeof(t)) > 0);
	assert_string_equal(t, "a\\.b\\032c\\\\.x.");
	assert_int_equal(from(".", NULL, w), 1);
	assert_int_equal(dns_name_to_text(w, t, sizeof(t)), 1);
	assert_string_equal(t, ".");
}

static void
test_name_relative_and_origin(void **state)
{
	(void)state;
	uint8_t origin[DNS_NAME_MAX], w[DNS_NAME_MAX];
	assert_int_equal(from("example.com.", NULL, origin), 13);
	assert_int_equal(from("www", origin, w), 17);
	assert_true(dns_name_equal(w, (const uint8_t *)"\3WWW\7example\3com"));
	assert_int_equal(from("@", origin, w), 13);
	assert_true(dns_name_equal(w, origin));
}

static void
test_name_limits(void **state)
{
	(void)state;
	uint8_t w[DNS_NAME_MAX];
	char lab[200];
	memset(lab, 'a', 64);
	lab[64] = '.';
	lab[65] = '\0';
	assert_int_equal(from(lab, NULL, w), ERR_NAME_LABEL);
	lab[63] = '.';
	lab[64] = '\0';
	assert_int_equal(from(lab, NULL, w), 65);
	/* 4 labels of 63 = 256 octets with the root: too long. */
	char big[300];
	size_t n = 0;
	for (int i = 0; i < 4; i++) {
		memset(big + n, 'b', 63);
		n += 63;
		big[n++] = '.';
	}
	big[n] = '\0';
	assert_int_equal(from(big, NULL, w), ERR_NAME_LONG);
	/* 3x63 + 61 = 254 with the length bytes and the root: 255 exactly fits */
	n = 0;
	for (int i = 0; i < 3; i++) {
		memset(big + n, 'b', 63);
		n += 63;
		big[n++] = '.';
	}
	memset(big + n, 'c', 61);
	n += 61;
	big[n++] = '.';
	big[n] = '\0';
	assert_int_equal(from(big, NULL, w), 255);
	assert_int_equal(from("a..b.", NULL, w), ERR_NAME_LABEL);
	assert_int_equal(from("a\\25", NULL, w), ERR_NAME_ESCAPE);
	assert_int_equal(from("a\\256.", NULL, w), ERR_NAME_ESCAPE);
}

static void
test_name_unpack_pointers(void **state)
{
	(void)state;
	/* header(12) + "\3foo\0" at 12, then a pointer to 12 at 17 */
	uint8_t pkt[32] = {0};
	memcpy(pkt + 12, "\3foo\0", 5);
	pkt[17] = 1;
	pkt[18] = 'x';
	pkt[19] = 0xc0;
	pkt[20] = 12;
	uint8_t out[DNS_NAME_MAX];
	size_t pos = 17;
	assert_int_equal(dns_name_unpack(pkt, 21, &pos, out), 7);
	assert_int_equal(pos, 21);
	assert_memory_equal(out, "\1x\3foo", 7);
	/* forward pointer */
	uint8_t fwd[16] = {0};
	fwd[12] = 0xc0;
	fwd[13] = 14;
	fwd[14] = 0;
	pos = 12;
	assert_int_equal(dns_name_unpack(fwd, 15, &pos, out), ERR_NAME_PTR);
	/* self loop */
	fwd[13] = 12;
	pos = 12;
	assert_int_equal(dns_name_unpack(fwd, 15, &pos, out), ERR_NAME_PTR);
	/* truncated */
	pos = 12;
	uint8_t tr[14] = {0};
	tr[12] = 5;
	tr[13] = 'a';
	assert_int_equal(dns_name_unpack(tr, 14, &pos, out), ERR_TRUNC);
}

static void
test_name_canonical_order(void **state)
{
	(void)state;
	/* RFC 4034 §6.1 example, in order. */
	const char *names[] = {"example.", "a.example.", "yljkjljk.a.example.",
	                       "Z.a.example.", "zABC.a.EXAMPLE.", "z.example.",
	                       "\\001.z.example.", "*.z.example.", "\\200.z.example."};
	size_t n = sizeof(names) / sizeof(names[0]);
	uint8_t a[DNS_NAME_MAX], b[DNS_NAME_MAX];
	uint8_t ka[DNS_LOOKUP_MAX], kb[DNS_LOOKUP_MAX];
	for (size_t i = 0; i + 1 < n; i++) {
		assert_true(from(names[i], NULL, a) > 0);
		assert_true(from(names[i + 1], NULL, b) > 0);
		assert_true(dns_name_cmp(a, b) < 0);
		assert_true(dns_name_cmp(b, a) > 0);
		size_t la = dns_name_to_lookup(a, ka), lb = dns_name_to_lookup(b, kb);
		size_t m = la < lb ? la : lb;
		int c = memcmp(ka, kb, m);
		assert_true(c < 0 || (c == 0 && la < lb));
		uint8_t back[DNS_NAME_MAX];
		assert_int_equal(dns_name_from_lookup(ka, la, back), (int)dns_name_len(a));
		assert_true(dns_name_equal(back, a));
	}
	assert_int_equal(from("Z.A.example.", NULL, a), from("z.a.EXAMPLE.", NULL, b));
	assert_int_equal(dns_name_cmp(a, b), 0);
	assert_true(dns_name_is_sub(a, (const uint8_t *)"\7example"));
	assert_false(dns_name_is_sub((const uint8_t *)"\7example", a));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_text_roundtrip),
		cmocka_unit_test(test_name_relative_and_origin),
		cmocka_unit_test(test_name_limits),
		cmocka_unit_test(test_name_unpack_pointers),
		cmocka_unit_test(test_name_canonical_order),
	};
	return cmocka_run_group_tests_name("name", tests, NULL, NULL);
}
