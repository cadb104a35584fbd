/*
 * libFuzzer target for the DoQ stream reassembler (net/doq.c).  The first
 * byte picks the mode and a chunking seed; the rest is fed in chunks, with
 * FIN on the last one, then the same bytes are offered to doq_pad().
 * Checks the invariants: every message handed out is at least a DNS header
 * and at most 65535 bytes, the buffer never exceeds 2 + 65535, and a
 * request stream never yields more than one message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/doq.h"

struct fz {
	unsigned n;
	size_t bytes;
};

static int
fz_msg(void *ctx, const uint8_t *msg, size_t len)
{
	struct fz *f = ctx;
	if (len < DOQ_DNS_HDR || len > DOQ_MSG_MAX)
		abort();
	f->n++;
	f->bytes += len + 2;
	(void)doq_msg_id(msg, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t ctl = data[0];
	data++;
	size--;
	struct doq_rx rx;
	struct fz f = { 0 };
	enum doq_rx_mode mode = (ctl & 1) ? DOQ_RX_RESPONSE : DOQ_RX_REQUEST;
	doq_rx_init(&rx, mode);
	size_t off = 0, step = (size_t)(ctl >> 1) + 1;
	int ret = 0;
	while (ret == 0) {
		size_t c = step < size - off ? step : size - off;
		bool fin = off + c == size;
		ret = doq_rx_feed(&rx, data + off, c, fin, fz_msg, &f);
		off += c;
		if (fin)
			break;
		step = step * 5 % 997 + 1;
	}
	if (rx.cap > 2 + DOQ_MSG_MAX || f.bytes > size)
		abort();
	if (mode == DOQ_RX_REQUEST && f.n > 1)
		abort();
	if (ret == 0 && !doq_rx_done(&rx))
		abort();
	if (ret != 0 && ret != -EPROTO && ret != -ENOMEM)
		abort();
	doq_rx_clear(&rx);

	if (size <= DOQ_MSG_MAX) {
		size_t cap = size + 600;
		uint8_t *m = malloc(cap);
		if (m == NULL)
			return 0;
		memcpy(m, data, size);
		long r = doq_pad(m, size, cap, 128);
		if (r > 0 && ((size_t)r > cap || r % 128 != 0))
			abort();
		free(m);
	}
	return 0;
}
