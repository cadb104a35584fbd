/*
 * xfrout: AXFR/IXFR/SOA answers against an in-memory source, read back
 * with dns_msg_parse and verified with the client side of dns/tsig, as a
 * secondary would (RFC 5936 SOA first and last, RFC 1995 IXFR forms,
 * RFC 8945 TSIG on every message and its error answers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "dns/rrtype.h"
#include "dns/serial.h"
#include "dns/tsig.h"
#include "dns/wire.h"
#include "primary/propagation.h"
#include "primary/xfrout.h"
#include "util/err.h"

/* ---- an in-memory zone with a journal ---------------------------------- */

#define MAXV 8

struct fake {
	uint8_t zone[DNS_NAME_MAX];
	unsigned nrecs;              /* A records www<i> in the zone */
	uint32_t serial;
	/* journal: version k -> k+1 adds record "j<k>" */
	uint32_t oldest;             /* oldest serial the journal reaches */
	bool catalog_like;
	struct dns_tsig_key keys[2];
	size_t nkeys;
	const char *allowed;         /* key name text allowed for the zone */
	bool big;                    /* add a 40,000-byte TXT RR */
	int loads;
};

static struct fake F;
static uint64_t fake_now = 1700000000;

static uint64_t
clock_fn(void)
{
	return fake_now;
}

static void
soa_rr(struct xfrout_buf *b, const uint8_t *zone, uint32_t serial)
{
	uint8_t rd[600];
	size_t n = 0;
	uint8_t ns[DNS_NAME_MAX], mb[DNS_NAME_MAX];
	int l1 = dns_name_from_text("ns1", 3, zone, ns);
	int l2 = dns_name_from_text("hostmaster", 10, zone, mb);
	memcpy(rd, ns, (size_t)l1);
	n += (size_t)l1;
	memcpy(rd + n, mb, (size_t)l2);
	n += (size_t)l2;
	wr_u32(rd + n, serial);
	wr_u32(rd + n + 4, 3600);
	wr_u32(rd + n + 8, 600);
	wr_u32(rd + n + 12, 86400);
	wr_u32(rd + n + 16, 300);
	n += 20;
	struct dns_rr rr = {zone, DNS_T_SOA, DNS_C_IN, 3600, (uint16_t)n, rd};
	assert_int_equal(xfrout_buf_rr(b, &rr), 0);
}

static void
a_rr(struct xfrout_buf *b, const uint8_t *zone, const char *label, unsigned i)
{
	char text[64];
	int tl = snprintf(text, sizeof(text), "%s%u", label, i);
	uint8_t owner[DNS_NAME_MAX];
	assert_true(dns_name_from_text(text, (size_t)tl, zone, owner) > 0);
	uint8_t rd[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
	struct dns_rr rr = {owner, DNS_T_A, DNS_C_IN, 300, 4, rd};
	assert_int_equal(xfrout_buf_rr(b, &rr), 0);
}

static int
fake_load(void *ctx, const uint8_t *zone, int what, uint32_t from, struct xfrout_data *d)
{
	(void)ctx;
	F.loads++;
	if (!dns_name_equal(zone, F.zone))
		return -ENOENT;
	d->serial = F.serial;
	soa_rr(&d->soa, F.zone, F.serial);
	bool full = what == XFROUT_LOAD_ZONE;
	if (what == XFROUT_LOAD_DIFF) {
		if (from == F.serial)
			return 0;
		if (dns_serial_cmp(from, F.oldest) < 0 || dns_serial_cmp(from, F.serial) > 0) {
			d->journal_gap = true;
			full = true;
		} else {
			for (uint32_t s = from; s != F.serial; s++) {
				soa_rr(&d->diff, F.zone, s);
				soa_rr(&d->diff, F.zone, s + 1);
				a_rr(&d->diff, F.zone, "j", s);
				d->ndiffs++;
			}
			if (d->diff.nrrs > F.nrecs + 2) {
				d->diff_larger = true;
				full = true;
			}
		}
	}
	if (full) {
		for (unsigned i = 0; i < F.nrecs; i++) {
			a_rr(&d->rrs, F.zone, "www", i);
			if (F.big && i == F.nrecs / 2) {
				static uint8_t txt[40000];
				for (size_t k = 0; k < sizeof(txt); k += 250) {
					txt[k] = 249;
					memset(txt + k + 1, 'x', 249);
				}
				struct dns_rr rr = {F.zone, DNS_T_TXT, DNS_C_IN, 300, sizeof(txt), txt};
				assert_int_equal(xfrout_buf_rr(&d->rrs, &rr), 0);
			}
		}
	}
	return 0;
}

static int
fake_key(void *ctx, const uint8_t *name, struct dns_tsig_key *k)
{
	(void)ctx;
	for (size_t i = 0; i < F.nkeys; i++) {
		if (dns_name_equal(F.keys[i].name, name)) {
			*k = F.keys[i];
			return 0;
		}
	}
	return -ENOENT;
}

static int
fake_allowed(void *ctx, const uint8_t *zone, const uint8_t *key)
{
	(void)ctx;
	if (!dns_name_equal(zone, F.zone))
		return -ENOENT;
	uint8_t k[DNS_NAME_MAX];
	dns_name_from_text(F.allowed, strlen(F.allowed), NULL, k);
	return dns_name_equal(k, key) ? 1 : 0;
}

static struct xfrout *X;
static struct propagation *P;
static struct sockaddr_in PEER;

static int
setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	dns_name_from_text("example.com.", 12, NULL, F.zone);
	F.nrecs = 5;
	F.serial = 10;
	F.oldest = 5;
	static const uint8_t s1[] = "0123456789abcdef0123456789abcdef";
	static const uint8_t s2[] = "another secret, for the other key";
	assert_int_equal(dns_tsig_key_init(&F.keys[0], "xfr-key.", "hmac-sha256", s1, 32), 0);
	assert_int_equal(dns_tsig_key_init(&F.keys[1], "other.", "hmac-sha512", s2, 33), 0);
	F.nkeys = 2;
	F.allowed = "xfr-key.";
	fake_now = 1700000000;
	P = propagation_new();
	struct xfrout_conf c = {
		.src = {.ctx = NULL, .load = fake_load, .key = fake_key, .allowed = fake_allowed},
		.prop = P,
		.now = clock_fn,
	};
	X = xfrout_new(&c);
	assert_non_null(X);
	PEER.sin_family = AF_INET;
	PEER.sin_port = htons(40000);
	PEER.sin_addr.s_addr = htonl(0x7f000001);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	xfrout_free(X);
	propagation_free(P);
	return 0;
}

/* ---- a client ---------------------------------------------------------- */

struct answer {
	uint8_t *msgs[4096];
	size_t lens[4096];
	size_t n;
};

static void
answer_free(struct answer *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->msgs[i]);
	a->n = 0;
}

static int
collect(void *ctx, const uint8_t *msg, size_t len)
{
	struct answer *a = ctx;
	assert_true(a->n < 4096);
	assert_true(len <= 65535);
	a->msgs[a->n] = malloc(len);
	memcpy(a->msgs[a->n], msg, len);
	a->lens[a->n++] = len;
	return 0;
}

/* Builds a query; ixfr_serial >= 0 adds the SOA to authority; key signs it. */
static size_t
make_query(uint8_t *buf, size_t cap, uint16_t qtype, long ixfr_serial,
           struct dns_tsig_ctx *tc, const struct dns_tsig_key *key)
{
	static struct dns_msgw w;
	assert_int_equal(dns_msgw_init(&w, buf, cap), 0);
	dns_msgw_set_id(&w, 0x1234);
	assert_int_equal(dns_msgw_question(&w, F.zone, qtype, DNS_C_IN), 0);
	if (ixfr_serial >= 0) {
		struct xfrout_buf b = {0};
		soa_rr(&b, F.zone, (uint32_t)ixfr_serial);
		size_t ol = dns_name_len(b.data);
		struct dns_rr rr = {b.data, DNS_T_SOA, DNS_C_IN, 3600, rd_u16(b.data + ol + 8),
		                    b.data + ol + 10};
		assert_int_equal(dns_msgw_rr(&w, DNS_SEC_NS, &rr), 0);
		xfrout_buf_clear(&b);
	}
	size_t len = w.len;
	dns_tsig_ctx_init(tc, key);
	if (key != NULL) {
		ssize_t s = dns_tsig_sign(tc, buf, len, cap, fake_now);
		assert_true(s > 0);
		len = (size_t)s;
	}
	return len;
}

/* Runs one request; verifies TSIG on every message when `key`. */
static int
run(uint16_t qtype, long ixfr_serial, const struct dns_tsig_key *key, struct answer *a)
{
	uint8_t q[1024];
	struct dns_tsig_ctx tc;
	size_t ql = make_query(q, sizeof(q), qtype, ixfr_serial, &tc, key);
	int ret = xfrout_serve(X, q, ql, (const struct sockaddr *)&PEER, "TCP", collect, a);
	if (ret == 0 && key != NULL) {
		for (size_t i = 0; i < a->n; i++) {
			struct dns_msg m;
			assert_int_equal(dns_msg_parse(&m, a->msgs[i], a->lens[i]), 0);
			assert_true(m.has_tsig);
			assert_int_equal(dns_tsig_verify(&tc, &m, fake_now), 0);
		}
		assert_int_equal(dns_tsig_verify_done(&tc), 0);
	}
	dns_tsig_ctx_clear(&tc);
	return ret;
}

static unsigned
rcode_of(const struct answer *a, size_t i)
{
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, a->msgs[i], a->lens[i]), 0);
	return dns_msg_rcode(&m);
}

/* Every answer RR of every message, in order: types and SOA serials. */
struct rrlist {
	uint16_t type[200000];
	uint32_t serial[200000];
	size_t n;
};
static struct rrlist L;

static void
flatten(const struct answer *a)
{
	L.n = 0;
	for (size_t i = 0; i < a->n; i++) {
		struct dns_msg m;
		assert_int_equal(dns_msg_parse(&m, a->msgs[i], a->lens[i]), 0);
		assert_int_equal(dns_msg_rcode(&m), 0);
		assert_true(m.flags & DNS_F_QR);
		assert_true(m.flags & DNS_F_AA);
		assert_int_equal(m.id, 0x1234);
		struct dns_msg_iter it;
		struct dns_rr rr;
		uint8_t owner[DNS_NAME_MAX];
		static uint8_t rd[65536];
		dns_msg_iter_init(&it, &m, DNS_SEC_AN);
		int r;
		while ((r = dns_msg_iter_next(&it, &rr, owner, rd, sizeof(rd))) == 1) {
			assert_true(L.n < 200000);
			L.type[L.n] = rr.type;
			L.serial[L.n] = 0;
			if (rr.type == DNS_T_SOA) {
				size_t n1 = dns_name_len(rr.rdata);
				size_t n2 = dns_name_len(rr.rdata + n1);
				L.serial[L.n] = rd_u32(rr.rdata + n1 + n2);
			}
			L.n++;
		}
		assert_int_equal(r, 0);
	}
}

/* ---- tests -------------------------------------------------------------- */

static void
test_xfrout_axfr_soa_first_and_last(void **state)
{
	(void)state;
	struct answer a = {0};
	assert_int_equal(run(DNS_T_AXFR, -1, &F.keys[0], &a), 0);
	assert_int_equal(a.n, 1);
	flatten(&a);
	assert_int_equal(L.n, F.nrecs + 2);
	assert_int_equal(L.type[0], DNS_T_SOA);
	assert_int_equal(L.type[L.n - 1], DNS_T_SOA);
	assert_int_equal(L.serial[0], 10);
	for (size_t i = 1; i + 1 < L.n; i++)
		assert_int_equal(L.type[i], DNS_T_A);
	answer_free(&a);
}

static void
test_xfrout_axfr_many_messages_signed(void **state)
{
	(void)state;
	F.nrecs = 50000;
	struct answer a = {0};
	assert_int_equal(run(DNS_T_AXFR, -1, &F.keys[0], &a), 0);
	assert_true(a.n > 10);   /* 50,000 A records do not fit a few 64 KiB messages */
	for (size_t i = 0; i < a.n; i++)
		assert_true(a.lens[i] <= 65535);
	flatten(&a);
	assert_int_equal(L.n, 50002);
	assert_int_equal(L.type[0], DNS_T_SOA);
	assert_int_equal(L.type[L.n - 1], DNS_T_SOA);
	/* Compression works: 25 bytes per "wwwNNNNN" A record, 36 uncompressed. */
	size_t total = 0;
	for (size_t i = 0; i < a.n; i++)
		total += a.lens[i];
	assert_true(total < 50000u * 27u);
	answer_free(&a);
}

static void
test_xfrout_axfr_big_rr_own_message(void **state)
{
	(void)state;
	F.nrecs = 3000;
	F.big = true;
	struct answer a = {0};
	assert_int_equal(run(DNS_T_AXFR, -1, &F.keys[0], &a), 0);
	flatten(&a);
	assert_int_equal(L.n, F.nrecs + 3);
	size_t bigmsgs = 0;
	for (size_t i = 0; i < a.n; i++) {
		if (a.lens[i] > 17000) {
			bigmsgs++;
			struct dns_msg m;
			assert_int_equal(dns_msg_parse(&m, a.msgs[i], a.lens[i]), 0);
			assert_int_equal(m.count[DNS_SEC_AN], 1);   /* alone in its message */
		} else {
			assert_true(a.lens[i] <= 16384);
		}
	}
	assert_int_equal(bigmsgs, 1);
	answer_free(&a);
}

static void
test_xfrout_axfr_sha512_key(void **state)
{
	(void)state;
	F.allowed = "other.";
	struct answer a = {0};
	assert_int_equal(run(DNS_T_AXFR, -1, &F.keys[1], &a), 0);
	flatten(&a);
	assert_int_equal(L.n, F.nrecs + 2);
	answer_free(&a);
}

static void
test_xfrout_ixfr_current_single_soa(void **state)
{
	(void)state;
	struct answer a = {0};
	assert_int_equal(run(DNS_T_IXFR, 10, &F.keys[0], &a), 0);
	flatten(&a);
	assert_int_equal(L.n, 1);
	assert_int_equal(L.type[0], DNS_T_SOA);
	assert_int_equal(L.serial[0], 10);
	answer_free(&a);
}

static void
test_xfrout_ixfr_diff_sequence(void **state)
{
	(void)state;
	struct answer a = {0};
	assert_int_equal(run(DNS_T_IXFR, 8, &F.keys[0], &a), 0);
	flatten(&a);
	/* RFC 1995 §4: new SOA, (old SOA, removed, new SOA, added)*, new SOA. */
	uint16_t t[] = {DNS_T_SOA, DNS_T_SOA, DNS_T_SOA, DNS_T_A,
	                DNS_T_SOA, DNS_T_SOA, DNS_T_A, DNS_T_SOA};
	uint32_t s[] = {10, 8, 9, 0, 9, 10, 0, 10};
	assert_int_equal(L.n, 8);
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(L.type[i], t[i]);
		assert_int_equal(L.serial[i], s[i]);
	}
	answer_free(&a);
}

static void
test_xfrout_ixfr_gap_full_zone(void **state)
{
	(void)state;
	struct answer a = {0};
	assert_int_equal(run(DNS_T_IXFR, 2, &F.keys[0], &a), 0);
	flatten(&a);
	assert_int_equal(L.n, F.nrecs + 2);
	assert_int_equal(L.type[1], DNS_T_A);   /* AXFR form: no old SOA after the first */
	assert_int_equal(L.serial[L.n - 1], 10);
	answer_free(&a);
}

static void
test_xfrout_ixfr_diff_larger_full_zone(void **state)
{
	(void)state;
	F.nrecs = 2;
	F.oldest = 1;
	struct answer a = {0};
	assert_int_equal(run(DNS_T_IXFR, 3, &F.keys[0], &a), 0);
	flatten(&a);
	assert_int_equal(L.n, 4);
	assert_int_equal(L.type[1], DNS_T_A);
	answer_free(&a);
}

static void
test_xfrout_no_key_refused(void **state)
{
	(void)state;
	struct answer a = {0};
	assert_int_equal(run(DNS_T_AXFR, -1, NULL, &a), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(rcode_of(&a, 0), DNS_RCODE_REFUSED);
	answer_free(&a);
	assert_int_equal(run(DNS_T_IXFR, 5, NULL, &a), 0);
	assert_int_equal(rcode_of(&a, 0), DNS_RCODE_REFUSED);
	answer_free(&a);
}

static void
test_xfrout_key_not_allowed_refused(void **state)
{
	(void)state;
	struct answer a = {0};
	assert_int_equal(run(DNS_T_AXFR, -1, &F.keys[1], &a), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(rcode_of(&a, 0), DNS_RCODE_REFUSED);
	answer_free(&a);
}

static void
expect_tsig_error(const struct dns_tsig_key *signer, uint16_t tsig_error)
{
	uint8_t q[1024];
	struct dns_tsig_ctx tc;
	size_t ql = make_query(q, sizeof(q), DNS_T_AXFR, -1, &tc, signer);
	struct answer a = {0};
	fake_now += tsig_error == DNS_RCODE_BADTIME ? 1000 : 0;
	assert_int_equal(xfrout_serve(X, q, ql, (const struct sockaddr *)&PEER, "TCP", collect,
	                              &a), 0);
	assert_int_equal(a.n, 1);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, a.msgs[0], a.lens[0]), 0);
	assert_int_equal(dns_msg_rcode(&m), DNS_RCODE_NOTAUTH);
	assert_true(m.has_tsig);
	assert_int_equal(m.tsig.error, tsig_error);
	assert_int_equal(m.count[DNS_SEC_AN], 0);
	if (tsig_error == DNS_RCODE_BADTIME) {
		/* Signed with the request MAC; Other Data holds our time. */
		assert_int_equal(m.tsig.other_len, 6);
		assert_true(m.tsig.mac_len > 0);
	} else {
		assert_int_equal(m.tsig.mac_len, 0);
	}
	dns_tsig_ctx_clear(&tc);
	answer_free(&a);
}

static void
test_xfrout_tsig_badsig(void **state)
{
	(void)state;
	struct dns_tsig_key wrong = F.keys[0];
	wrong.secret[0] ^= 0xff;
	expect_tsig_error(&wrong, DNS_RCODE_BADSIG);
}

static void
test_xfrout_tsig_badkey(void **state)
{
	(void)state;
	struct dns_tsig_key unknown;
	assert_int_equal(dns_tsig_key_init(&unknown, "nobody.", "hmac-sha256",
	                                   (const uint8_t *)"x", 1), 0);
	expect_tsig_error(&unknown, DNS_RCODE_BADKEY);
}

static void
test_xfrout_tsig_badtime(void **state)
{
	(void)state;
	expect_tsig_error(&F.keys[0], DNS_RCODE_BADTIME);
}

static void
test_xfrout_soa_without_key_answered(void **state)
{
	(void)state;
	struct answer a = {0};
	assert_int_equal(run(DNS_T_SOA, -1, NULL, &a), 0);
	flatten(&a);
	assert_int_equal(L.n, 1);
	assert_int_equal(L.serial[0], 10);
	answer_free(&a);
}

static void
test_xfrout_other_qtype_refused(void **state)
{
	(void)state;
	struct answer a = {0};
	assert_int_equal(run(DNS_T_A, -1, &F.keys[0], &a), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(rcode_of(&a, 0), DNS_RCODE_REFUSED);
	answer_free(&a);
}

static void
test_xfrout_unknown_zone_notauth(void **state)
{
	(void)state;
	uint8_t other[DNS_NAME_MAX];
	dns_name_from_text("example.org.", 12, NULL, other);
	memcpy(F.zone, other, dns_name_len(other));   /* source now serves example.org */
	struct answer a = {0};
	uint8_t q[512];
	ssize_t ql = dns_msg_make_query(q, sizeof(q), 7, (const uint8_t *)"\7example\3com", DNS_T_AXFR,
	                                DNS_C_IN, 0, NULL);
	assert_true(ql > 0);
	struct dns_tsig_ctx tc;
	dns_tsig_ctx_init(&tc, &F.keys[0]);
	ql = dns_tsig_sign(&tc, q, (size_t)ql, sizeof(q), fake_now);
	assert_int_equal(xfrout_serve(X, q, (size_t)ql, (const struct sockaddr *)&PEER, "TCP",
	                              collect, &a), 0);
	assert_int_equal(rcode_of(&a, 0), DNS_RCODE_NOTAUTH);
	dns_tsig_ctx_clear(&tc);
	answer_free(&a);
}

static void
test_xfrout_ixfr_without_soa_formerr(void **state)
{
	(void)state;
	struct answer a = {0};
	assert_int_equal(run(DNS_T_IXFR, -1, &F.keys[0], &a), 0);
	assert_int_equal(rcode_of(&a, 0), DNS_RCODE_FORMERR);
	answer_free(&a);
}

static void
test_xfrout_qdcount_two_formerr(void **state)
{
	(void)state;
	uint8_t q[512];
	struct dns_msgw w;
	dns_msgw_init(&w, q, sizeof(q));
	dns_msgw_set_id(&w, 99);
	dns_msgw_question(&w, F.zone, DNS_T_AXFR, DNS_C_IN);
	dns_msgw_question(&w, F.zone, DNS_T_SOA, DNS_C_IN);
	struct answer a = {0};
	assert_int_equal(xfrout_serve(X, q, w.len, (const struct sockaddr *)&PEER, "TCP", collect,
	                              &a), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(rd_u16(a.msgs[0]), 99);
	assert_int_equal(rd_u16(a.msgs[0] + 2) & 0xf, DNS_RCODE_FORMERR);
	answer_free(&a);
}

static void
test_xfrout_garbage_and_responses(void **state)
{
	(void)state;
	struct answer a = {0};
	uint8_t junk[40];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	junk[2] = 0x01;   /* QR clear, RD set */
	junk[4] = 0xff;   /* QDCOUNT 0xff..: counts larger than the data */
	assert_int_equal(xfrout_serve(X, junk, sizeof(junk), (const struct sockaddr *)&PEER, "TCP",
	                              collect, &a), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.lens[0], 12);
	assert_int_equal(rd_u16(a.msgs[0] + 2) & 0xf, DNS_RCODE_FORMERR);
	assert_int_equal(memcmp(a.msgs[0], junk, 2), 0);
	answer_free(&a);
	/* Shorter than a header, or a response: nothing to answer. */
	assert_int_equal(xfrout_serve(X, junk, 11, (const struct sockaddr *)&PEER, "TCP", collect,
	                              &a), -EINVAL);
	junk[2] = 0x80;
	assert_int_equal(xfrout_serve(X, junk, sizeof(junk), (const struct sockaddr *)&PEER, "TCP",
	                              collect, &a), -EINVAL);
	assert_int_equal(a.n, 0);
}

static void
test_xfrout_notify_opcode_notimp(void **state)
{
	(void)state;
	uint8_t q[512];
	ssize_t ql = dns_msg_make_notify(q, sizeof(q), 5, F.zone, NULL);
	assert_true(ql > 0);
	struct answer a = {0};
	assert_int_equal(xfrout_serve(X, q, (size_t)ql, (const struct sockaddr *)&PEER, "TCP",
	                              collect, &a), 0);
	assert_int_equal(rcode_of(&a, 0), DNS_RCODE_NOTIMP);
	answer_free(&a);
}

static void
test_xfrout_propagation_records_serials(void **state)
{
	(void)state;
	propagation_commit(P, "example.com.", 10, propagation_now_ms() - 50);
	struct answer a = {0};
	assert_int_equal(run(DNS_T_IXFR, 8, &F.keys[0], &a), 0);
	answer_free(&a);
	char *j = propagation_json(P, "example.com.", 10, propagation_now_ms());
	assert_non_null(j);
	assert_non_null(strstr(j, "\"target\":\"127.0.0.1\""));
	assert_non_null(strstr(j, "\"serial\":10"));
	assert_non_null(strstr(j, "\"up_to_date\":true"));
	assert_non_null(strstr(j, "\"how\":\"IXFR\""));
	assert_non_null(strstr(j, "\"key\":\"xfr-key.\""));
	assert_null(strstr(j, "\"lag_ms\":null"));
	free(j);
	/* A newer commit: the target is behind now. */
	propagation_commit(P, "example.com.", 11, propagation_now_ms());
	j = propagation_json(P, "example.com.", 11, propagation_now_ms());
	assert_non_null(strstr(j, "\"up_to_date\":false"));
	free(j);
}

/* Pull form: messages come one at a time, each fits the buffer given. */
static void
test_xfrout_pull_one_message_at_a_time(void **state)
{
	(void)state;
	F.nrecs = 10000;
	uint8_t q[1024];
	struct dns_tsig_ctx tc;
	size_t ql = make_query(q, sizeof(q), DNS_T_AXFR, -1, &tc, &F.keys[0]);
	struct xfrout_txn *t;
	assert_int_equal(xfrout_begin(X, q, ql, (const struct sockaddr *)&PEER, "QUIC", &t), 0);
	static uint8_t buf[65535];
	unsigned msgs = 0;
	ssize_t n;
	while ((n = xfrout_next(t, buf, sizeof(buf))) > 0) {
		struct dns_msg m;
		assert_int_equal(dns_msg_parse(&m, buf, (size_t)n), 0);
		assert_int_equal(dns_tsig_verify(&tc, &m, fake_now), 0);
		msgs++;
	}
	assert_int_equal(n, 0);
	assert_int_equal(xfrout_next(t, buf, sizeof(buf)), 0);
	assert_true(msgs >= 2);
	assert_int_equal(dns_tsig_verify_done(&tc), 0);
	xfrout_end(t);
	dns_tsig_ctx_clear(&tc);
	/* Ending early (stream reset) frees everything too (ASan checks). */
	ql = make_query(q, sizeof(q), DNS_T_AXFR, -1, &tc, &F.keys[0]);
	assert_int_equal(xfrout_begin(X, q, ql, (const struct sockaddr *)&PEER, "QUIC", &t), 0);
	assert_true(xfrout_next(t, buf, sizeof(buf)) > 0);
	xfrout_end(t);
	dns_tsig_ctx_clear(&tc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_xfrout_axfr_soa_first_and_last),
		T(test_xfrout_axfr_many_messages_signed),
		T(test_xfrout_axfr_big_rr_own_message),
		T(test_xfrout_axfr_sha512_key),
		T(test_xfrout_ixfr_current_single_soa),
		T(test_xfrout_ixfr_diff_sequence),
		T(test_xfrout_ixfr_gap_full_zone),
		T(test_xfrout_ixfr_diff_larger_full_zone),
		T(test_xfrout_no_key_refused),
		T(test_xfrout_key_not_allowed_refused),
		T(test_xfrout_tsig_badsig),
		T(test_xfrout_tsig_badkey),
		T(test_xfrout_tsig_badtime),
		T(test_xfrout_soa_without_key_answered),
		T(test_xfrout_other_qtype_refused),
		T(test_xfrout_unknown_zone_notauth),
		T(test_xfrout_ixfr_without_soa_formerr),
		T(test_xfrout_qdcount_two_formerr),
		T(test_xfrout_garbage_and_responses),
		T(test_xfrout_notify_opcode_notimp),
		T(test_xfrout_propagation_records_serials),
		T(test_xfrout_pull_one_message_at_a_time),
	};
	return cmocka_run_group_tests_name("xfrout", tests, NULL, NULL);
}
