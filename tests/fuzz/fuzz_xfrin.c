/*
 * libFuzzer target for the transfer client (secondary/xfrin.c): the input is
 * what a primary sends back, fed through a fake transport.
 *
 * Input: byte 0 flags (bit 0: we hold a version, bit 1: force AXFR),
 * bytes 1-4 our serial, then frames of a 2-byte length and a DNS message.
 * Each frame answers the next read; its message id is patched to the
 * request's so the state machine (SOA chain, IXFR/AXFR shapes, owners) is
 * reached instead of stopping at the id check.  Whatever the input, the
 * client must return cleanly and leave no half result.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "dns/wire.h"
#include "secondary/xfrin.h"

static const uint8_t *in;
static size_t in_len, in_pos;
static uint16_t req_id;

static int
f_open(struct xfr_conn *c, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
	(void)sa;
	(void)len;
	(void)deadline;
	c->fd = 0;
	return 0;
}

static int
f_send(struct xfr_conn *c, const uint8_t *msg, size_t len, int64_t deadline)
{
	(void)c;
	(void)deadline;
	if (len >= 2)
		req_id = rd_u16(msg);
	return 0;
}

static ssize_t
f_recv(struct xfr_conn *c, uint8_t *buf, size_t cap, int64_t deadline)
{
	(void)c;
	(void)deadline;
	if (in_len - in_pos < 2)
		return -ECONNRESET;
	size_t n = rd_u16(in + in_pos);
	in_pos += 2;
	if (n > in_len - in_pos)
		n = in_len - in_pos;
	if (n > cap)
		return -EMSGSIZE;
	memcpy(buf, in + in_pos, n);
	in_pos += n;
	if (n >= 2)
		wr_u16(buf, req_id);
	return (ssize_t)n;
}

static void
f_close(struct xfr_conn *c)
{
	c->fd = -1;
}

static const struct xfr_transport fake = {.name = "FUZZ", .open = f_open, .send = f_send,
                                          .recv = f_recv, .close = f_close};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	static const uint8_t zone[] = "\x07" "example" "\x03" "com";   /* + the root NUL */
	struct sockaddr_storage ss = {0};
	in = data + 5;
	in_len = size - 5;
	in_pos = 0;
	struct xfr_params p = {
		.zone = zone,
		.primary = (struct sockaddr *)&ss,
		.primary_len = sizeof(ss),
		.transport = &fake,
		.have_serial = data[0] & 1,
		.force_axfr = (data[0] & 2) != 0,
		.serial = rd_u32(data + 1),
		.timeout_ms = 1000,
	};
	struct xfr_result r;
	char why[256];
	xfr_result_init(&r);
	int ret = xfrin_run(&p, &r, why, sizeof(why));
	if (ret != 0 && (r.full.head != NULL || r.diffs != NULL))
		abort();   /* a rejected transfer must leave nothing */
	xfr_result_clear(&r);
	return 0;
}
