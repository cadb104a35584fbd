/*
 * libFuzzer target for dns/tsig.c.  The input is a DNS-over-TCP style
 * stream (2-octet length before each message; an input that does not frame
 * is one message): the first message is a request, the rest its answer.
 * Server side: the request is verified with a fixed key (at its own Time
 * Signed, so the MAC path is reached) and an answer is signed.  Client
 * side: the request is re-signed with the key at the same time (a seed
 * captured from `anycst-dig --capture` then yields the very MAC knotd
 * answered to) and every answer message is verified in order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/msg.h"
#include "dns/tsig.h"
#include "dns/wire.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dns_tsig_key key;
static int have_key;
static struct dns_msgw W;
static uint8_t buf[DNS_MSG_MAX];

/* Next framed message; false at the end or when the framing breaks. */
static bool
next(const uint8_t **p, size_t *left, const uint8_t **msg, size_t *len)
{
	if (*left < 2)
		return false;
	size_t l = rd_u16(*p);
	if (*left - 2 < l)
		return false;
	*msg = *p + 2;
	*len = l;
	*p += 2 + l;
	*left -= 2 + l;
	return true;
}

static void
server(const struct dns_msg *q)
{
	struct dns_tsig_ctx c;
	dns_tsig_ctx_init(&c, NULL);
	uint64_t now = q->has_tsig ? q->tsig.time_signed : 0;
	int ret = dns_tsig_verify_request(&c, q, &key, 1, now);
	if (ret == 0 || ret == ERR_TSIG_BADKEY || ret == ERR_TSIG_BADSIG || ret == ERR_TSIG_BADTIME) {
		if (dns_msgw_init_response(&W, buf, sizeof(buf), q, 0,
		                           ret == 0 ? 0 : DNS_RCODE_NOTAUTH) == 0) {
			ssize_t n = dns_tsig_sign(&c, buf, W.len, sizeof(buf), now);
			if (n > 0) {
				struct dns_msg a;
				if (dns_msg_parse(&a, buf, (size_t)n) != 0 || !a.has_tsig)
					abort();
				if (ret == 0 && dns_tsig_sign_skip(&c, buf, (size_t)n) != 0)
					abort();
			}
		}
	}
	dns_tsig_ctx_clear(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!have_key) {
		if (dns_tsig_key_parse(&key, "xfr.key:hmac-sha256:"
		                       "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==", NULL, 0) != 0)
			abort();
		have_key = 1;
	}
	const uint8_t *p = data, *msg;
	size_t left = size, len;
	if (!next(&p, &left, &msg, &len)) {
		msg = data;
		len = size;
		left = 0;
	}
	struct dns_msg q;
	if (dns_msg_parse(&q, msg, len) != 0)
		return 0;
	server(&q);
	if (!q.has_tsig)
		return 0;
	/* client: the same request, signed again by us */
	static uint8_t req[DNS_MSG_MAX];
	memcpy(req, msg, q.tsig.off);
	wr_u16(req + 10, (uint16_t)(q.count[DNS_SEC_AR] - 1));
	struct dns_tsig_ctx c;
	dns_tsig_ctx_init(&c, &key);
	uint64_t now = q.tsig.time_signed;
	if (dns_tsig_sign(&c, req, q.tsig.off, sizeof(req), now) < 0) {
		dns_tsig_ctx_clear(&c);
		return 0;
	}
	while (next(&p, &left, &msg, &len)) {
		struct dns_msg a;
		if (dns_msg_parse(&a, msg, len) != 0)
			break;
		if (a.has_tsig)
			now = a.tsig.time_signed;
		if (dns_tsig_verify(&c, &a, now) != 0)
			break;
	}
	(void)dns_tsig_verify_done(&c);
	dns_tsig_ctx_clear(&c);
	return 0;
}
