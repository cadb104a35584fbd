/* dns/compress.c: the name compressor of dns/msg.c and secondary/answer.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dns/compress.h"
#include "dns/name.h"

static struct dns_cslot slot[64];
static uint16_t used[32];
static uint8_t buf[512];

static const uint8_t *
wire(const char *text)
{
	static uint8_t n[4][DNS_NAME_MAX];
	static int k;
	uint8_t *o = n[k++ & 3];
	assert_true(dns_name_from_text(text, strlen(text), NULL, o) > 0);
	return o;
}

/* Reads the (possibly compressed) name at `off` back into text. */
static void
expect_name(size_t len, size_t off, const char *text)
{
	uint8_t out[DNS_NAME_MAX];
	char t[DNS_NAME_MAX * 4];
	size_t pos = off;
	assert_true(dns_name_unpack(buf, len, &pos, out) > 0);
	assert_true(dns_name_to_text(out, t, sizeof(t)) > 0);
	assert_string_equal(t, text);
}

static void
test_compress_suffixes(void **state)
{
	(void)state;
	struct dns_compress c;
	dns_compress_init(&c, slot, 64, used, 32, false);
	size_t len = 12;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(dns_compress_put(&c, buf, &len, sizeof(buf), wire("www.example.com."), true), 12);
	assert_int_equal(len, 12 + 17);
	assert_int_equal(dns_compress_mark(&c), 3);   /* www.example.com, example.com, com */
	/* A sibling: one label and a pointer to example.com (offset 16). */
	size_t at = len;
	assert_int_equal(dns_compress_put(&c, buf, &len, sizeof(buf), wire("mail.example.com."), true),
	                 (ssize_t)at);
	assert_int_equal(len, at + 5 + 2);
	assert_int_equal(buf[at + 5], 0xc0);
	assert_int_equal(buf[at + 6], 16);
	expect_name(len, at, "mail.example.com.");
	/* The same name again: only a pointer, and its offset is the first copy's. */
	at = len;
	assert_int_equal(dns_compress_put(&c, buf, &len, sizeof(buf), wire("mail.example.com."), true),
	                 (ssize_t)(at - 7));
	assert_int_equal(len, at + 2);
	/* Not compressed (RFC 3597 §4): written in full, still a pointer target afterwards. */
	at = len;
	assert_int_equal(dns_compress_put(&c, buf, &len, sizeof(buf), wire("a.b.org."), false),
	                 (ssize_t)at);
	assert_int_equal(len, at + 9);
	size_t at2 = len;
	dns_compress_put(&c, buf, &len, sizeof(buf), wire("x.b.org."), true);
	assert_int_equal(len, at2 + 2 + 2);
	expect_name(len, at2, "x.b.org.");
	/* The root is one byte, never a pointer. */
	at = len;
	assert_int_equal(dns_compress_put(&c, buf, &len, sizeof(buf), wire("."), true), (ssize_t)at);
	assert_int_equal(len, at + 1);
}

static void
test_compress_case_and_undo(void **state)
{
	(void)state;
	struct dns_compress c;
	dns_compress_init(&c, slot, 64, used, 32, false);
	size_t len = 12;
	dns_compress_put(&c, buf, &len, sizeof(buf), wire("Example.COM."), true);
	/* Case kept: another spelling is not pointed at ... */
	size_t at = len;
	dns_compress_put(&c, buf, &len, sizeof(buf), wire("www.example.com."), true);
	assert_int_equal(len, at + 17);
	/* ... unless the table matches in any case, or the whole name is the qname at 12. */
	struct dns_compress ci;
	dns_compress_init(&ci, slot, 64, used, 32, true);
	len = 12;
	dns_compress_put(&ci, buf, &len, sizeof(buf), wire("Example.COM."), true);
	at = len;
	dns_compress_put(&ci, buf, &len, sizeof(buf), wire("www.example.com."), true);
	assert_int_equal(len, at + 4 + 2);
	dns_compress_init(&c, slot, 64, used, 32, false);
	len = 12;
	dns_compress_put(&c, buf, &len, sizeof(buf), wire("Example.COM."), true);
	c.qname = true;
	assert_int_equal(dns_compress_put(&c, buf, &len, sizeof(buf), wire("example.com."), true), 12);

	/* A name that does not fit; forgetting back to the mark leaves no trace. */
	unsigned mark = dns_compress_mark(&c);
	size_t save = len;
	assert_int_equal(dns_compress_put(&c, buf, &len, save + 3, wire("long.label.net."), true),
	                 -EMSGSIZE);
	dns_compress_forget(&c, mark);
	len = save;
	dns_compress_put(&c, buf, &len, sizeof(buf), wire("zz.net."), true);
	assert_int_equal(len, save + 8);   /* net. was not remembered from the failed write */
	/* forget_from drops what was written at or after an offset. */
	dns_compress_forget_from(&c, save);
	assert_int_equal(dns_compress_mark(&c), mark);
}

static void
test_compress_add_question(void **state)
{
	(void)state;
	struct dns_compress c;
	dns_compress_init(&c, slot, 64, used, 32, true);
	const uint8_t *q = wire("WWW.Example.test.");
	size_t len = 12;
	memcpy(buf + 12, q, dns_name_len(q));
	len += dns_name_len(q) + 4;
	dns_compress_add(&c, buf, len, 12);
	size_t at = len;
	assert_int_equal(dns_compress_put(&c, buf, &len, sizeof(buf), wire("www.example.test."), true),
	                 12);
	assert_int_equal(len, at + 2);
	at = len;
	dns_compress_put(&c, buf, &len, sizeof(buf), wire("ns.example.test."), true);
	assert_int_equal(len, at + 3 + 2);
	/* A full table stops remembering, it does not fail. */
	struct dns_compress s;
	dns_compress_init(&s, slot, 8, used, 2, false);
	len = 12;
	assert_true(dns_compress_put(&s, buf, &len, sizeof(buf), wire("a.b.c.d."), true) == 12);
	assert_int_equal(dns_compress_mark(&s), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compress_suffixes),
		cmocka_unit_test(test_compress_case_and_undo),
		cmocka_unit_test(test_compress_add_question),
	};
	return cmocka_run_group_tests_name("compress", tests, NULL, NULL);
}
