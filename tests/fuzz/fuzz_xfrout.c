/*
 * Fuzz target: one request on the transfer port, answered by xfrout from a
 * small in-memory zone with a journal.  Whatever arrives, xfrout must either
 * refuse to answer (-EINVAL) or produce messages that parse, never more
 * than 64 KiB each, and free everything (ASan).  The first input byte
 * selects the clock skew and whether the request gets signed with the
 * zone's key after the fuzzer's bytes, so TSIG paths are reached too.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "dns/rrtype.h"
#include "dns/tsig.h"
#include "dns/wire.h"
#include "primary/xfrout.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t zone[DNS_NAME_MAX];
static struct dns_tsig_key key;
static uint64_t now = 1700000000;

static void
add_soa(struct xfrout_buf *b, uint32_t serial)
{
	uint8_t rd[64];
	size_t n = 0;
	static const uint8_t mname[] = "\3ns1\7example\3com";
	static const uint8_t rname[] = "\4host\7example\3com";
	memcpy(rd, mname, sizeof(mname));
	n += sizeof(mname);
	memcpy(rd + n, rname, sizeof(rname));
	n += sizeof(rname);
	wr_u32(rd + n, serial);
	memset(rd + n + 4, 0, 16);
	n += 20;
	struct dns_rr rr = {zone, DNS_T_SOA, DNS_C_IN, 3600, (uint16_t)n, rd};
	xfrout_buf_rr(b, &rr);
}

static void
add_a(struct xfrout_buf *b, unsigned i)
{
	uint8_t owner[DNS_NAME_MAX];
	char text[32];
	int l = snprintf(text, sizeof(text), "h%u", i);
	dns_name_from_text(text, (size_t)l, zone, owner);
	uint8_t rd[4] = {10, 0, (uint8_t)(i >> 8), (uint8_t)i};
	struct dns_rr rr = {owner, DNS_T_A, DNS_C_IN, 60, 4, rd};
	xfrout_buf_rr(b, &rr);
}

static int
src_load(void *ctx, const uint8_t *z, int what, uint32_t from, struct xfrout_data *d)
{
	(void)ctx;
	if (!dns_name_equal(z, zone))
		return -ENOENT;
	d->serial = 10;
	add_soa(&d->soa, 10);
	if (what == XFROUT_LOAD_DIFF && from >= 7 && from < 10) {
		for (uint32_t s = from; s < 10; s++) {
			add_soa(&d->diff, s);
			add_soa(&d->diff, s + 1);
			add_a(&d->diff, 100 + s);
			d->ndiffs++;
		}
		return 0;
	}
	if (what != XFROUT_LOAD_SOA) {
		d->journal_gap = what == XFROUT_LOAD_DIFF;
		for (unsigned i = 0; i < 300; i++)
			add_a(&d->rrs, i);
	}
	return 0;
}

static int
src_key(void *ctx, const uint8_t *name, struct dns_tsig_key *k)
{
	(void)ctx;
	if (!dns_name_equal(name, key.name))
		return -ENOENT;
	*k = key;
	return 0;
}

static int
src_allowed(void *ctx, const uint8_t *z, const uint8_t *k)
{
	(void)ctx;
	(void)k;
	return dns_name_equal(z, zone) ? 1 : -ENOENT;
}

static uint64_t
clock_fn(void)
{
	return now;
}

static int
check(void *ctx, const uint8_t *msg, size_t len)
{
	(void)ctx;
	if (len > 65535)
		abort();
	struct dns_msg m;
	if (len > 12 && dns_msg_parse(&m, msg, len) != 0)
		abort();   /* everything we send must parse */
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct xfrout *x;
	if (x == NULL) {
		log_set_level(LOG_ERROR);
		dns_name_from_text("example.com.", 12, NULL, zone);
		dns_tsig_key_init(&key, "k.", "hmac-sha256", (const uint8_t *)"0123456789abcdef", 16);
		struct xfrout_conf c = {
			.src = {.load = src_load, .key = src_key, .allowed = src_allowed},
			.now = clock_fn,
		};
		x = xfrout_new(&c);
	}
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	uint8_t buf[4096];
	if (size > sizeof(buf) - 512)
		return 0;
	memcpy(buf, data, size);
	size_t len = size;
	now = 1700000000 + (uint64_t)(mode & 0x0f) * 100;
	if (mode & 0x80) {
		struct dns_tsig_ctx tc;
		dns_tsig_ctx_init(&tc, &key);
		now = 1700000000;
		ssize_t n = dns_tsig_sign(&tc, buf, len, sizeof(buf), now);
		dns_tsig_ctx_clear(&tc);
		if (n > 0)
			len = (size_t)n;
		now += (uint64_t)(mode & 0x0f) * 100;   /* beyond the fudge from 4 on */
	}
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(5353),
	                           .sin_addr.s_addr = htonl(0x7f000001)};
	xfrout_serve(x, buf, len, (const struct sockaddr *)&peer, "TCP", check, NULL);
	return 0;
}
