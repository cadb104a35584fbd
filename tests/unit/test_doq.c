/* net/doq.c: RFC 9250 length-prefix reassembly, protocol errors, padding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "net/doq.h"

struct seen {
	unsigned n;
	size_t lens[512];
	uint16_t ids[512];
	size_t total;
};

static int
on_msg(void *ctx, const uint8_t *msg, size_t len)
{
	struct seen *s = ctx;
	if (s->n < 512) {
		s->lens[s->n] = len;
		s->ids[s->n] = doq_msg_id(msg, len);
	}
	s->n++;
	s->total += len;
	return 0;
}

/* Writes a prefixed message of `len` bytes (id `id`, rest a pattern) at p. */
static size_t
put_msg(uint8_t *p, size_t len, uint16_t id)
{
	assert_int_equal(doq_prefix(p, len), 0);
	for (size_t i = 0; i < len; i++)
		p[2 + i] = (uint8_t)(i * 7 + 3);
	doq_set_msg_id(p + 2, len, id);
	return len + 2;
}

static void
test_doq_request_one_message(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = put_msg(buf, 29, 0);
	struct doq_rx rx;
	struct seen s = { 0 };
	doq_rx_init(&rx, DOQ_RX_REQUEST);
	assert_int_equal(doq_rx_feed(&rx, buf, n, true, on_msg, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.lens[0], 29);
	assert_int_equal(s.ids[0], 0);
	assert_true(doq_rx_done(&rx));
	doq_rx_clear(&rx);
}

static void
test_doq_byte_by_byte(void **state)
{
	(void)state;
	uint8_t buf[200];
	size_t n = put_msg(buf, 40, 0x1234);
	n += put_msg(buf + n, 100, 7);
	struct doq_rx rx;
	struct seen s = { 0 };
	doq_rx_init(&rx, DOQ_RX_RESPONSE);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(doq_rx_feed(&rx, buf + i, 1, false, on_msg, &s), 0);
	assert_false(doq_rx_done(&rx));
	assert_int_equal(doq_rx_feed(&rx, NULL, 0, true, on_msg, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.lens[0], 40);
	assert_int_equal(s.ids[0], 0x1234);
	assert_int_equal(s.lens[1], 100);
	assert_int_equal(s.ids[1], 7);
	assert_true(doq_rx_done(&rx));
	doq_rx_clear(&rx);
}

static void
test_doq_response_many_and_max(void **state)
{
	(void)state;
	size_t cap = 300 * (2 + 300) + 2 + 65535;
	uint8_t *buf = malloc(cap);
	assert_non_null(buf);
	size_t n = 0;
	for (unsigned i = 0; i < 300; i++)
		n += put_msg(buf + n, 12 + i, (uint16_t)i);
	n += put_msg(buf + n, 65535, 0);
	struct doq_rx rx;
	struct seen *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	doq_rx_init(&rx, DOQ_RX_RESPONSE);
	/* odd chunk sizes straddle prefixes and bodies */
	size_t off = 0, step = 1;
	while (off < n) {
		size_t c = step < n - off ? step : n - off;
		assert_int_equal(doq_rx_feed(&rx, buf + off, c, off + c == n, on_msg, s), 0);
		off += c;
		step = step * 3 % 1021 + 1;
	}
	assert_int_equal(s->n, 301);
	assert_int_equal(s->lens[299], 12 + 299);
	assert_int_equal(s->lens[300], 65535);
	assert_true(doq_rx_done(&rx));
	assert_true(rx.cap <= 2 + 65535);
	doq_rx_clear(&rx);
	free(s);
	free(buf);
}

static void
test_doq_no_length_prefix(void **state)
{
	(void)state;
	/* A bare DNS query (id 0) without the prefix: reads as a 0-length message. */
	static const uint8_t bare[] = { 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
	                                3, 'c', 'o', 'm', 0, 0, 6, 0, 1 };
	struct doq_rx rx;
	struct seen s = { 0 };
	doq_rx_init(&rx, DOQ_RX_REQUEST);
	assert_int_equal(doq_rx_feed(&rx, bare, sizeof(bare), true, on_msg, &s), -EPROTO);
	assert_int_equal(s.n, 0);
	assert_non_null(strstr(rx.why, "shorter than a DNS header"));
	assert_int_equal(doq_error_from_ret(-EPROTO), DOQ_PROTOCOL_ERROR);
	/* sticky */
	assert_int_equal(doq_rx_feed(&rx, bare, 2, false, on_msg, &s), -EPROTO);
	doq_rx_clear(&rx);

	/* With a non-zero id the "length" overruns the stream: truncated at FIN. */
	uint8_t bare2[sizeof(bare)];
	memcpy(bare2, bare, sizeof(bare));
	bare2[1] = 0x42;
	doq_rx_init(&rx, DOQ_RX_REQUEST);
	assert_int_equal(doq_rx_feed(&rx, bare2, sizeof(bare2), true, on_msg, &s), -EPROTO);
	assert_non_null(strstr(rx.why, "truncated"));
	doq_rx_clear(&rx);
}

static void
test_doq_truncated_at_fin(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = put_msg(buf, 30, 0);
	struct doq_rx rx;
	struct seen s = { 0 };
	doq_rx_init(&rx, DOQ_RX_RESPONSE);
	assert_int_equal(doq_rx_feed(&rx, buf, n - 1, true, on_msg, &s), -EPROTO);
	assert_int_equal(s.n, 0);
	assert_false(doq_rx_done(&rx));
	doq_rx_clear(&rx);

	/* FIN inside the 2-octet prefix, after a complete message */
	uint8_t two[100];
	n = put_msg(two, 20, 0);
	doq_rx_init(&rx, DOQ_RX_RESPONSE);
	assert_int_equal(doq_rx_feed(&rx, two, n, false, on_msg, &s), 0);
	assert_int_equal(doq_rx_feed(&rx, two, 1, true, on_msg, &s), -EPROTO);
	assert_non_null(strstr(rx.why, "length prefix"));
	doq_rx_clear(&rx);
}

static void
test_doq_fin_without_message(void **state)
{
	(void)state;
	struct doq_rx rx;
	struct seen s = { 0 };
	doq_rx_init(&rx, DOQ_RX_REQUEST);
	assert_int_equal(doq_rx_feed(&rx, NULL, 0, true, on_msg, &s), -EPROTO);
	assert_non_null(strstr(rx.why, "before any message"));
	doq_rx_clear(&rx);
}

static void
test_doq_two_queries_on_stream(void **state)
{
	(void)state;
	uint8_t buf[100];
	size_t n = put_msg(buf, 20, 0);
	n += put_msg(buf + n, 20, 0);
	struct doq_rx rx;
	struct seen s = { 0 };
	doq_rx_init(&rx, DOQ_RX_REQUEST);
	assert_int_equal(doq_rx_feed(&rx, buf, n, false, on_msg, &s), -EPROTO);
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(rx.why, "more than one query"));
	doq_rx_clear(&rx);

	/* a single trailing byte after the query is enough */
	doq_rx_init(&rx, DOQ_RX_REQUEST);
	s.n = 0;
	assert_int_equal(doq_rx_feed(&rx, buf, 22, false, on_msg, &s), 0);
	assert_int_equal(doq_rx_feed(&rx, buf, 1, true, on_msg, &s), -EPROTO);
	doq_rx_clear(&rx);
}

static void
test_doq_data_after_fin(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = put_msg(buf, 20, 0);
	struct doq_rx rx;
	struct seen s = { 0 };
	doq_rx_init(&rx, DOQ_RX_REQUEST);
	assert_int_equal(doq_rx_feed(&rx, buf, n, true, on_msg, &s), 0);
	assert_int_equal(doq_rx_feed(&rx, buf, 3, false, on_msg, &s), -EPROTO);
	assert_string_equal(rx.why, "data after FIN");
	assert_false(doq_rx_done(&rx));
	doq_rx_clear(&rx);
}

static int
stop_cb(void *ctx, const uint8_t *msg, size_t len)
{
	(void)msg;
	(void)len;
	(*(unsigned *)ctx)++;
	return -ECANCELED;
}

static void
test_doq_callback_stops(void **state)
{
	(void)state;
	uint8_t buf[100];
	size_t n = put_msg(buf, 20, 0);
	n += put_msg(buf + n, 20, 0);
	struct doq_rx rx;
	unsigned calls = 0;
	doq_rx_init(&rx, DOQ_RX_RESPONSE);
	assert_int_equal(doq_rx_feed(&rx, buf, n, true, stop_cb, &calls), -ECANCELED);
	assert_int_equal(calls, 1);
	assert_int_equal(doq_error_from_ret(-ECANCELED), DOQ_REQUEST_CANCELLED);
	assert_int_equal(doq_error_from_ret(-ENOMEM), DOQ_INTERNAL_ERROR);
	assert_int_equal(doq_error_from_ret(-EBUSY), DOQ_EXCESSIVE_LOAD);
	doq_rx_clear(&rx);
}

static void
test_doq_error_names(void **state)
{
	(void)state;
	assert_int_equal(DOQ_NO_ERROR, 0);
	assert_int_equal(DOQ_INTERNAL_ERROR, 1);
	assert_int_equal(DOQ_PROTOCOL_ERROR, 2);
	assert_int_equal(DOQ_REQUEST_CANCELLED, 3);
	assert_int_equal(DOQ_EXCESSIVE_LOAD, 4);
	assert_int_equal(DOQ_UNSPECIFIED_ERROR, 5);
	assert_string_equal(doq_error_str(2), "DOQ_PROTOCOL_ERROR");
	assert_string_equal(doq_error_str(99), "unknown");
	uint8_t h[2];
	assert_int_equal(doq_prefix(h, 65535), 0);
	assert_int_equal(h[0], 0xff);
	assert_int_equal(h[1], 0xff);
	assert_int_equal(doq_prefix(h, 65536), -EMSGSIZE);
}

/* AXFR query for example.com., id 0, RD clear. */
static size_t
axfr_query(uint8_t *q)
{
	static const uint8_t hdr[] = { 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	static const uint8_t qn[] = { 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
	                              0, 252, 0, 1 };
	memcpy(q, hdr, sizeof(hdr));
	memcpy(q + sizeof(hdr), qn, sizeof(qn));
	return sizeof(hdr) + sizeof(qn);
}

static void
test_doq_pad_adds_opt(void **state)
{
	(void)state;
	uint8_t q[512];
	size_t n = axfr_query(q);
	long r = doq_pad(q, n, sizeof(q), 128);
	assert_int_equal(r, 128);
	assert_int_equal(q[11], 1);                     /* ARCOUNT 1 */
	assert_int_equal(q[n], 0);                      /* root owner */
	assert_int_equal(q[n + 1], 0);
	assert_int_equal(q[n + 2], 41);                 /* OPT */
	size_t rdl = ((size_t)q[n + 9] << 8) | q[n + 10];
	assert_int_equal(n + 11 + rdl, 128);
	assert_int_equal(q[n + 12], 12);                /* option code Padding */
	size_t plen = ((size_t)q[n + 13] << 8) | q[n + 14];
	assert_int_equal(rdl, 4 + plen);
	/* padding an already padded message with its OPT last grows the OPT */
	r = doq_pad(q, 128, sizeof(q), 256);
	assert_int_equal(r, 256);
	assert_int_equal(q[11], 1);
	n = axfr_query(q);
	assert_int_equal(doq_pad(q, n, n + 10, 128), -EMSGSIZE);
	assert_int_equal(doq_pad(q, 5, sizeof(q), 128), -EINVAL);
	assert_int_equal(doq_pad(q, n, sizeof(q), 0), -EINVAL);
}

static void
test_doq_pad_rejects_malformed(void **state)
{
	(void)state;
	uint8_t q[512];
	size_t n = axfr_query(q);
	q[5] = 2;                                       /* QDCOUNT 2, only one present */
	assert_int_equal(doq_pad(q, n, sizeof(q), 128), -EINVAL);
	n = axfr_query(q);
	q[12] = 0x80;                                   /* reserved label type */
	assert_int_equal(doq_pad(q, n, sizeof(q), 128), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doq_request_one_message),
		cmocka_unit_test(test_doq_byte_by_byte),
		cmocka_unit_test(test_doq_response_many_and_max),
		cmocka_unit_test(test_doq_no_length_prefix),
		cmocka_unit_test(test_doq_truncated_at_fin),
		cmocka_unit_test(test_doq_fin_without_message),
		cmocka_unit_test(test_doq_two_queries_on_stream),
		cmocka_unit_test(test_doq_data_after_fin),
		cmocka_unit_test(test_doq_callback_stops),
		cmocka_unit_test(test_doq_error_names),
		cmocka_unit_test(test_doq_pad_adds_opt),
		cmocka_unit_test(test_doq_pad_rejects_malformed),
	};
	return cmocka_run_group_tests_name("doq", tests, NULL, NULL);
}
