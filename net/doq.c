/*
 * DoQ framing (RFC 9250): the stream reassembler, the message id helpers and
 * EDNS(0) padding.  Pure code: no I/O, no QUIC, fuzzed by
 * tests/fuzz/fuzz_doq.c.  See doq.h for the invariants.
 */
#include "net/doq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns/wire.h"

void
doq_rx_init(struct doq_rx *rx, enum doq_rx_mode mode)
{
	memset(rx, 0, sizeof(*rx));
	rx->mode = mode;
}

void
doq_rx_clear(struct doq_rx *rx)
{
	free(rx->buf);
	rx->buf = NULL;
	rx->len = 0;
	rx->cap = 0;
}

static int
rx_fail(struct doq_rx *rx, int ret, const char *why)
{
	rx->failed = true;
	rx->why = why;
	return ret;
}

static int
rx_reserve(struct doq_rx *rx, size_t need)
{
	if (need <= rx->cap)
		return 0;
	size_t cap = rx->cap ? rx->cap : 512;
	while (cap < need)
		cap *= 2;
	if (cap > 2 + DOQ_MSG_MAX)
		cap = 2 + DOQ_MSG_MAX;
	uint8_t *nb = realloc(rx->buf, cap);
	if (nb == NULL)
		return -ENOMEM;
	rx->buf = nb;
	rx->cap = cap;
	return 0;
}

/* Size of the current message including its prefix, or 0 while the prefix is incomplete. */
static size_t
rx_want(const struct doq_rx *rx)
{
	if (rx->len < 2)
		return 0;
	return 2 + (((size_t)rx->buf[0] << 8) | rx->buf[1]);
}

int
doq_rx_feed(struct doq_rx *rx, const uint8_t *data, size_t len, bool fin, doq_msg_fn cb,
            void *ctx)
{
	if (rx->failed)
		return rx->why != NULL ? -EPROTO : -EINVAL;
	if (rx->fin && (len > 0 || fin))
		return rx_fail(rx, -EPROTO, "data after FIN");
	rx->total += len;
	while (len > 0) {
		if (rx->mode == DOQ_RX_REQUEST && rx->nmsg > 0)
			return rx_fail(rx, -EPROTO, "more than one query on a stream");
		size_t want = rx_want(rx);
		size_t goal = want ? want : 2;
		size_t take = goal - rx->len;
		if (take > len)
			take = len;
		if (rx_reserve(rx, rx->len + take) != 0)
			return rx_fail(rx, -ENOMEM, "out of memory");
		memcpy(rx->buf + rx->len, data, take);
		rx->len += take;
		data += take;
		len -= take;
		want = rx_want(rx);
		if (want == 0)
			continue;
		if (want - 2 < DOQ_DNS_HDR)
			return rx_fail(rx, -EPROTO, "message shorter than a DNS header "
			                            "(missing length prefix?)");
		if (rx_reserve(rx, want) != 0)
			return rx_fail(rx, -ENOMEM, "out of memory");
		if (rx->len < want)
			continue;
		rx->nmsg++;
		rx->len = 0;
		int ret = cb != NULL ? cb(ctx, rx->buf + 2, want - 2) : 0;
		if (ret != 0) {
			rx->failed = true;
			return ret;
		}
	}
	if (!fin)
		return 0;
	rx->fin = true;
	if (rx->len > 0)
		return rx_fail(rx, -EPROTO, rx->len < 2 ? "FIN inside a length prefix"
		                                        : "FIN inside a message (truncated)");
	if (rx->nmsg == 0)
		return rx_fail(rx, -EPROTO, "FIN before any message");
	return 0;
}

bool
doq_rx_done(const struct doq_rx *rx)
{
	return rx->fin && !rx->failed && rx->len == 0 && rx->nmsg > 0;
}

enum doq_error
doq_error_from_ret(int ret)
{
	if (ret == 0)
		return DOQ_NO_ERROR;
	if (ret == -EPROTO)
		return DOQ_PROTOCOL_ERROR;
	if (ret == -ECANCELED)
		return DOQ_REQUEST_CANCELLED;
	if (ret == -EBUSY)
		return DOQ_EXCESSIVE_LOAD;
	return DOQ_INTERNAL_ERROR;
}

const char *
doq_error_str(uint64_t code)
{
	switch (code) {
	case DOQ_NO_ERROR:
		return "DOQ_NO_ERROR";
	case DOQ_INTERNAL_ERROR:
		return "DOQ_INTERNAL_ERROR";
	case DOQ_PROTOCOL_ERROR:
		return "DOQ_PROTOCOL_ERROR";
	case DOQ_REQUEST_CANCELLED:
		return "DOQ_REQUEST_CANCELLED";
	case DOQ_EXCESSIVE_LOAD:
		return "DOQ_EXCESSIVE_LOAD";
	case DOQ_UNSPECIFIED_ERROR:
		return "DOQ_UNSPECIFIED_ERROR";
	default:
		return "unknown";
	}
}

int
doq_prefix(uint8_t hdr[2], size_t len)
{
	if (len > DOQ_MSG_MAX)
		return -EMSGSIZE;
	hdr[0] = (uint8_t)(len >> 8);
	hdr[1] = (uint8_t)(len & 0xff);
	return 0;
}

uint16_t
doq_msg_id(const uint8_t *msg, size_t len)
{
	if (len < 2)
		return 0;
	return (uint16_t)(((unsigned)msg[0] << 8) | msg[1]);
}

void
doq_set_msg_id(uint8_t *msg, size_t len, uint16_t id)
{
	if (len < 2)
		return;
	msg[0] = (uint8_t)(id >> 8);
	msg[1] = (uint8_t)(id & 0xff);
}

/* Skips an owner name (labels or a final compression pointer). */
static void
skip_name(struct wire *w)
{
	for (unsigned n = 0; n < 128 && !w->err; n++) {
		uint8_t l = wire_u8(w);
		if (l == 0)
			return;
		if ((l & 0xc0) == 0xc0) {
			wire_skip(w, 1);
			return;
		}
		if (l & 0xc0) {
			w->err = true;
			return;
		}
		wire_skip(w, l);
	}
	w->err = true;
}

#define EDNS_OPT_PADDING 12
#define DNS_T_OPT_CODE 41

long
doq_pad(uint8_t *msg, size_t len, size_t cap, size_t block)
{
	if (block == 0 || len < DOQ_DNS_HDR || len > DOQ_MSG_MAX)
		return -EINVAL;
	struct wire w;
	wire_init(&w, msg, len);
	wire_skip(&w, 4);
	unsigned qd = wire_u16(&w), an = wire_u16(&w), ns = wire_u16(&w), ar = wire_u16(&w);
	for (unsigned i = 0; i < qd; i++) {
		skip_name(&w);
		wire_skip(&w, 4);
	}
	size_t opt_at = 0, rr_start = 0;
	unsigned total = an + ns + ar;
	for (unsigned i = 0; i < total; i++) {
		rr_start = w.pos;
		skip_name(&w);
		uint16_t type = wire_u16(&w);
		wire_skip(&w, 6);
		uint16_t rdlen = wire_u16(&w);
		wire_skip(&w, rdlen);
		if (!w.err && type == DNS_T_OPT_CODE && i >= an + ns)
			opt_at = rr_start;
	}
	if (w.err || w.pos != len)
		return -EINVAL;
	if (opt_at != 0 && opt_at != rr_start)
		return -EINVAL;         /* OPT not last (e.g. TSIG follows): cannot grow it */
	size_t base = len + 4;          /* option code + option length */
	if (opt_at == 0)
		base += 11;             /* root name, type, class, ttl, rdlen */
	size_t padded = (base + block - 1) / block * block;
	if (padded > cap || padded > DOQ_MSG_MAX)
		return -EMSGSIZE;
	size_t padlen = padded - base;
	uint8_t *p = msg + len;
	if (opt_at == 0) {
		const uint8_t opt[11] = { 0, 0, DNS_T_OPT_CODE, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };
		memcpy(p, opt, sizeof(opt));
		size_t rdl = 4 + padlen;
		p[9] = (uint8_t)(rdl >> 8);
		p[10] = (uint8_t)(rdl & 0xff);
		p += sizeof(opt);
		ar++;
		msg[10] = (uint8_t)(ar >> 8);
		msg[11] = (uint8_t)(ar & 0xff);
	} else {
		/* rdlen of the OPT record sits 2 bytes before its rdata; root owner = 1 byte */
		size_t rdl_at = opt_at + 1 + 2 + 2 + 4;
		if (msg[opt_at] != 0)
			return -EINVAL;
		size_t rdl = (((size_t)msg[rdl_at] << 8) | msg[rdl_at + 1]) + 4 + padlen;
		if (rdl > 0xffff)
			return -EMSGSIZE;
		msg[rdl_at] = (uint8_t)(rdl >> 8);
		msg[rdl_at + 1] = (uint8_t)(rdl & 0xff);
	}
	p[0] = 0;
	p[1] = EDNS_OPT_PADDING;
	p[2] = (uint8_t)(padlen >> 8);
	p[3] = (uint8_t)(padlen & 0xff);
	memset(p + 4, 0, padlen);
	return (long)padded;
}
