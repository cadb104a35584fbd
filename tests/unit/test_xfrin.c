/*
 * secondary/xfrin.c: the transfer client against a scripted primary.  A fake
 * transport (the same open/send/recv interface TCP and QUIC use) answers
 * each request with prepared messages, so every shape of RFC 1995/5936
 * answer and every rejection can be driven without a network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "dns/rrtype.h"
#include "dns/tsig.h"
#include "secondary/xfrin.h"
#include "util/err.h"

/* ---- records ---- */

#define MAXRR 16
#define MAXMSG 8

struct trr {
	uint8_t owner[DNS_NAME_MAX];
	uint16_t type;
	uint8_t rd[128];
	uint16_t rdlen;
};

static struct trr
soa(uint32_t serial)
{
	struct trr r = {.type = DNS_T_SOA};
	dns_name_from_text("example.com.", 12, NULL, r.owner);
	uint8_t *p = r.rd;
	int a = dns_name_from_text("ns.example.com.", 15, NULL, p);
	int b = dns_name_from_text("h.example.com.", 14, NULL, p + a);
	size_t l = (size_t)(a + b);
	uint32_t f[5] = {serial, 3600, 600, 86400, 300};
	for (int i = 0; i < 5; i++) {
		p[l++] = (uint8_t)(f[i] >> 24);
		p[l++] = (uint8_t)(f[i] >> 16);
		p[l++] = (uint8_t)(f[i] >> 8);
		p[l++] = (uint8_t)f[i];
	}
	r.rdlen = (uint16_t)l;
	return r;
}

static struct trr
arec(const char *owner, uint8_t last)
{
	struct trr r = {.type = DNS_T_A, .rdlen = 4};
	dns_name_from_text(owner, strlen(owner), NULL, r.owner);
	r.rd[0] = 192;
	r.rd[1] = 0;
	r.rd[2] = 2;
	r.rd[3] = last;
	return r;
}

/* ---- scripted primary ---- */

struct smsg {
	struct trr rr[MAXRR];
	size_t n;
	uint16_t id_delta;     /* added to the request id (0: echo) */
	unsigned rcode;
	bool unsigned_msg;     /* with TSIG: leave this message unsigned */
	bool bad_mac;          /* with TSIG: corrupt its MAC */
};

struct script {
	/* answers per request qtype */
	struct smsg soa[1];
	size_t nsoa;
	struct smsg xfr[MAXMSG];
	size_t nxfr;
	struct smsg axfr[MAXMSG];   /* second transfer request, when the client falls back */
	size_t naxfr;
	bool refuse_connect;
	bool close_early;           /* stop after the scripted messages without more */
	/* state */
	uint8_t req[65535];
	size_t reqlen;
	uint16_t last_qtype;
	unsigned nreq;
	uint16_t qtypes[4];
	struct smsg *cur;
	size_t ncur, pos;
	const struct dns_tsig_key *key;
	struct dns_tsig_ctx srv;
	bool srv_active;
};

static struct script *S;

static int
f_open(struct xfr_conn *c, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
	(void)sa;
	(void)len;
	(void)deadline;
	c->fd = 1000;
	return S->refuse_connect ? -ECONNREFUSED : 0;
}

static int
f_send(struct xfr_conn *c, const uint8_t *msg, size_t len, int64_t deadline)
{
	(void)c;
	(void)deadline;
	memcpy(S->req, msg, len);
	S->reqlen = len;
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, msg, len), 0);
	S->last_qtype = m.qtype;
	S->qtypes[S->nreq++ & 3] = m.qtype;
	if (m.qtype == DNS_T_SOA) {
		S->cur = S->soa;
		S->ncur = S->nsoa;
	} else if (S->nreq <= 2 || S->naxfr == 0) {
		S->cur = S->xfr;
		S->ncur = S->nxfr;
	} else {
		S->cur = S->axfr;
		S->ncur = S->naxfr;
	}
	S->pos = 0;
	if (S->srv_active)
		dns_tsig_ctx_clear(&S->srv);
	S->srv_active = false;
	if (S->key != NULL) {
		dns_tsig_ctx_init(&S->srv, NULL);
		S->srv_active = true;
		assert_int_equal(dns_tsig_verify_request(&S->srv, &m, S->key, 1, (uint64_t)time(NULL)),
		                 0);
	}
	if (m.qtype == DNS_T_IXFR)
		assert_int_equal(m.count[DNS_SEC_NS], 1);   /* our SOA in authority */
	return 0;
}

static ssize_t
f_recv(struct xfr_conn *c, uint8_t *buf, size_t cap, int64_t deadline)
{
	(void)c;
	(void)deadline;
	if (S->pos >= S->ncur)
		return -ECONNRESET;
	struct smsg *sm = &S->cur[S->pos++];
	struct dns_msg q;
	assert_int_equal(dns_msg_parse(&q, S->req, S->reqlen), 0);
	static struct dns_msgw w;
	assert_int_equal(dns_msgw_init_response(&w, buf, cap, &q, DNS_F_AA, sm->rcode), 0);
	dns_msgw_set_id(&w, (uint16_t)(q.id + sm->id_delta));
	for (size_t i = 0; i < sm->n; i++) {
		struct dns_rr rr = {.owner = sm->rr[i].owner, .type = sm->rr[i].type,
		                    .rclass = DNS_C_IN, .ttl = 300, .rdlen = sm->rr[i].rdlen,
		                    .rdata = sm->rr[i].rd};
		assert_int_equal(dns_msgw_rr(&w, DNS_SEC_AN, &rr), 0);
	}
	size_t len = w.len;
	if (S->key != NULL && sm->unsigned_msg && S->pos > 1 && S->pos < S->ncur)
		assert_int_equal(dns_tsig_sign_skip(&S->srv, buf, len), 0);
	if (S->key != NULL && !sm->unsigned_msg) {
		ssize_t s = dns_tsig_sign(&S->srv, buf, len, cap, (uint64_t)time(NULL));
		assert_true(s > 0);
		len = (size_t)s;
		if (sm->bad_mac)
			buf[len - 12] ^= 0xff;   /* inside the MAC (before orig id, error, other len) */
	}
	return (ssize_t)len;
}

static void
f_close(struct xfr_conn *c)
{
	c->fd = -1;
}

static const struct xfr_transport fake = {.name = "FAKE", .open = f_open, .send = f_send,
                                         .recv = f_recv, .close = f_close};

static uint8_t zone[DNS_NAME_MAX];
static struct sockaddr_storage dummy;

static void
msg_add(struct smsg *m, struct trr r)
{
	m->rr[m->n++] = r;
}

static struct script *
script_new(uint32_t remote_serial)
{
	struct script *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	msg_add(&s->soa[0], soa(remote_serial));
	s->nsoa = 1;
	S = s;
	dns_name_from_text("example.com.", 12, NULL, zone);
	return s;
}

static void
script_free(struct script *s)
{
	if (s->srv_active)
		dns_tsig_ctx_clear(&s->srv);
	free(s);
	S = NULL;
}

static int
run(bool have, uint32_t serial, struct xfr_result *r, char *why, const struct dns_tsig_key *k)
{
	struct xfr_params p = {.zone = zone, .primary = (struct sockaddr *)&dummy,
	                       .primary_len = sizeof(dummy), .transport = &fake, .tsig = k,
	                       .have_serial = have, .serial = serial, .timeout_ms = 1000};
	xfr_result_init(r);
	return xfrin_run(&p, r, why, 256);
}

static size_t
list_len(const struct xfr_rrlist *l)
{
	size_t n = 0;
	for (const struct xfr_rr *x = l->head; x != NULL; x = x->next)
		n++;
	return n;
}

/* ---- tests ---- */

static void
test_xfrin_axfr_multi_message(void **state)
{
	(void)state;
	struct script *s = script_new(5);
	msg_add(&s->xfr[0], soa(5));
	msg_add(&s->xfr[0], arec("www.example.com.", 1));
	msg_add(&s->xfr[1], arec("mail.Example.com.", 2));
	msg_add(&s->xfr[1], soa(5));
	s->nxfr = 2;
	struct xfr_result r;
	char why[256];
	assert_int_equal(run(false, 0, &r, why, NULL), 0);
	/* without a version: the AXFR at once, no SOA query first (issue 18.2) */
	assert_int_equal(s->nreq, 1);
	assert_int_equal(s->qtypes[0], DNS_T_AXFR);
	assert_true(r.soa_checked);
	assert_int_equal(r.kind, XFR_AXFR);
	assert_int_equal(r.serial_to, 5);
	assert_int_equal(r.full.count, 3);   /* SOA once, two A */
	assert_int_equal(list_len(&r.full), 3);
	assert_int_equal(r.full.head->rr.type, DNS_T_SOA);
	assert_int_equal(r.messages, 2);
	xfr_result_clear(&r);
	script_free(s);
}

static void
test_xfrin_ixfr_difference_sequences(void **state)
{
	(void)state;
	/* RFC 1995 §7 shape: 5 -> 6 -> 7 in two differences. */
	struct script *s = script_new(7);
	struct smsg *m = &s->xfr[0];
	msg_add(m, soa(7));
	msg_add(m, soa(5));
	msg_add(m, arec("a.example.com.", 1));
	msg_add(m, soa(6));
	msg_add(m, arec("a.example.com.", 2));
	msg_add(&s->xfr[1], soa(6));
	msg_add(&s->xfr[1], arec("a.example.com.", 2));
	msg_add(&s->xfr[1], soa(7));
	msg_add(&s->xfr[1], arec("a.example.com.", 3));
	msg_add(&s->xfr[1], arec("b.example.com.", 4));
	msg_add(&s->xfr[1], soa(7));
	s->nxfr = 2;
	struct xfr_result r;
	char why[256];
	assert_int_equal(run(true, 5, &r, why, NULL), 0);
	assert_int_equal(s->qtypes[1], DNS_T_IXFR);
	assert_int_equal(r.kind, XFR_IXFR);
	assert_int_equal(r.ndiffs, 2);
	assert_int_equal(r.diffs->from, 5);
	assert_int_equal(r.diffs->to, 6);
	assert_int_equal(r.diffs->del.count, 1);
	assert_int_equal(r.diffs->add.count, 1);
	assert_int_equal(r.diffs->next->from, 6);
	assert_int_equal(r.diffs->next->to, 7);
	assert_int_equal(r.diffs->next->add.count, 2);
	assert_int_equal(r.serial_to, 7);
	xfr_result_clear(&r);
	script_free(s);
}

static void
test_xfrin_uptodate_skips_transfer(void **state)
{
	(void)state;
	struct script *s = script_new(5);
	struct xfr_result r;
	char why[256];
	assert_int_equal(run(true, 5, &r, why, NULL), 0);
	assert_int_equal(r.kind, XFR_UPTODATE);
	assert_int_equal(s->nreq, 1);   /* the SOA query only */
	xfr_result_clear(&r);
	script_free(s);
}

static void
test_xfrin_remote_older_rejected(void **state)
{
	(void)state;
	struct script *s = script_new(5);
	struct xfr_result r;
	char why[256];
	assert_int_equal(run(true, 7, &r, why, NULL), ERR_SERIAL_BACKWARDS);
	assert_string_equal(why, "serial 7 -> 5 moves backwards (RFC 1982)");
	assert_true(r.asked_ixfr);
	xfr_result_clear(&r);
	script_free(s);
	/* RFC 1982 wrap: 4294967295 -> 3 moves forward. */
	s = script_new(3);
	msg_add(&s->xfr[0], soa(3));
	msg_add(&s->xfr[0], soa(4294967295u));
	msg_add(&s->xfr[0], soa(3));
	msg_add(&s->xfr[0], soa(3));
	s->nxfr = 1;
	assert_int_equal(run(true, 4294967295u, &r, why, NULL), 0);
	assert_int_equal(r.kind, XFR_IXFR);
	xfr_result_clear(&r);
	script_free(s);
}

static void
test_xfrin_ixfr_step_backwards_rejected(void **state)
{
	(void)state;
	struct script *s = script_new(8);
	struct smsg *m = &s->xfr[0];
	msg_add(m, soa(8));
	msg_add(m, soa(7));
	msg_add(m, soa(5));   /* a difference from 7 to 5 */
	msg_add(m, soa(8));
	s->nxfr = 1;
	struct xfr_result r;
	char why[256];
	assert_int_equal(run(true, 7, &r, why, NULL), ERR_SERIAL_BACKWARDS);
	assert_string_equal(why, "serial 7 -> 5 moves backwards (RFC 1982)");
	assert_null(r.diffs);   /* rejected whole */
	xfr_result_clear(&r);
	script_free(s);
}

static void
test_xfrin_ixfr_broken_chain_rejected(void **state)
{
	(void)state;
	struct script *s = script_new(8);
	struct smsg *m = &s->xfr[0];
	msg_add(m, soa(8));
	msg_add(m, soa(5));
	msg_add(m, soa(6));
	msg_add(m, soa(7));   /* should start at 6 */
	msg_add(m, soa(8));
	msg_add(m, soa(8));
	s->nxfr = 1;
	struct xfr_result r;
	char why[256];
	assert_int_equal(run(true, 5, &r, why, NULL), ERR_XFR);
	assert_non_null(strstr(why, "expected 6"));
	xfr_result_clear(&r);
	script_free(s);
}

static void
test_xfrin_ixfr_full_zone_fallback(void **state)
{
	(void)state;
	/* RFC 1995 §4: the server may answer IXFR with the whole zone. */
	struct script *s = script_new(9);
	msg_add(&s->xfr[0], soa(9));
	msg_add(&s->xfr[0], arec("www.example.com.", 1));
	msg_add(&s->xfr[0], soa(9));
	s->nxfr = 1;
	struct xfr_result r;
	char why[256];
	assert_int_equal(run(true, 5, &r, why, NULL), 0);
	assert_int_equal(r.kind, XFR_AXFR);
	assert_true(r.asked_ixfr);
	assert_int_equal(r.full.count, 2);
	xfr_result_clear(&r);
	script_free(s);
}

static void
test_xfrin_single_newer_soa_falls_back_to_axfr(void **state)
{
	(void)state;
	struct script *s = script_new(9);
	msg_add(&s->xfr[0], soa(9));
	s->nxfr = 1;
	msg_add(&s->axfr[0], soa(9));
	msg_add(&s->axfr[0], arec("www.example.com.", 1));
	msg_add(&s->axfr[0], soa(9));
	s->naxfr = 1;
	struct xfr_result r;
	char why[256];
	assert_int_equal(run(true, 5, &r, why, NULL), 0);
	assert_int_equal(s->nreq, 3);
	assert_int_equal(s->qtypes[1], DNS_T_IXFR);
	assert_int_equal(s->qtypes[2], DNS_T_AXFR);
	assert_int_equal(r.kind, XFR_AXFR);
	assert_int_equal(r.full.count, 2);
	xfr_result_clear(&r);
	script_free(s);
}

static void
test_xfrin_bad_content_rejected(void **state)
{
	(void)state;
	struct xfr_result r;
	char why[256];
	/* owner outside the zone */
	struct script *s = script_new(5);
	msg_add(&s->xfr[0], soa(5));
	msg_add(&s->xfr[0], arec("www.example.net.", 1));
	msg_add(&s->xfr[0], soa(5));
	s->nxfr = 1;
	assert_int_equal(run(false, 0, &r, why, NULL), ERR_XFR);
	assert_non_null(strstr(why, "outside the zone"));
	xfr_result_clear(&r);
	script_free(s);
	/* first record not the SOA */
	s = script_new(5);
	msg_add(&s->xfr[0], arec("www.example.com.", 1));
	msg_add(&s->xfr[0], soa(5));
	s->nxfr = 1;
	assert_int_equal(run(false, 0, &r, why, NULL), ERR_XFR);
	assert_non_null(strstr(why, "first record"));
	xfr_result_clear(&r);
	script_free(s);
	/* closing SOA with another serial */
	s = script_new(5);
	msg_add(&s->xfr[0], soa(5));
	msg_add(&s->xfr[0], arec("www.example.com.", 1));
	msg_add(&s->xfr[0], soa(6));
	s->nxfr = 1;
	assert_int_equal(run(false, 0, &r, why, NULL), ERR_XFR);
	xfr_result_clear(&r);
	script_free(s);
	/* records after the closing SOA */
	s = script_new(5);
	msg_add(&s->xfr[0], soa(5));
	msg_add(&s->xfr[0], soa(5));
	msg_add(&s->xfr[0], arec("www.example.com.", 1));
	s->nxfr = 1;
	assert_int_equal(run(false, 0, &r, why, NULL), ERR_XFR);
	assert_non_null(strstr(why, "after the closing SOA"));
	xfr_result_clear(&r);
	script_free(s);
	/* connection closed before the closing SOA */
	s = script_new(5);
	msg_add(&s->xfr[0], soa(5));
	msg_add(&s->xfr[0], arec("www.example.com.", 1));
	s->nxfr = 1;
	assert_int_equal(run(false, 0, &r, why, NULL), -ECONNRESET);
	assert_int_equal(r.full.count, 0);
	xfr_result_clear(&r);
	script_free(s);
	/* wrong message id (on the SOA query of a zone we hold) */
	s = script_new(5);
	s->soa[0].id_delta = 1;
	assert_int_equal(run(true, 4, &r, why, NULL), ERR_FORMERR);
	xfr_result_clear(&r);
	script_free(s);
	/* REFUSED by the primary */
	s = script_new(5);
	s->soa[0].rcode = DNS_RCODE_REFUSED;
	assert_int_equal(run(true, 4, &r, why, NULL), ERR_REFUSED);
	assert_non_null(strstr(why, "REFUSED"));
	xfr_result_clear(&r);
	script_free(s);
	/* connection refused */
	s = script_new(5);
	s->refuse_connect = true;
	assert_int_equal(run(false, 0, &r, why, NULL), -ECONNREFUSED);
	assert_string_equal(why, "connection refused");
	xfr_result_clear(&r);
	script_free(s);
}

static void
test_xfrin_tsig_every_message(void **state)
{
	(void)state;
	struct dns_tsig_key key;
	char err[128];
	assert_int_equal(dns_tsig_key_parse(&key, "xfr-key:hmac-sha256:"
	                                    "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=",
	                                    err, sizeof(err)), 0);
	struct xfr_result r;
	char why[256];
	/* all signed: accepted; a middle message unsigned is allowed (RFC 8945 §5.3.1) */
	struct script *s = script_new(5);
	s->key = &key;
	msg_add(&s->xfr[0], soa(5));
	msg_add(&s->xfr[1], arec("www.example.com.", 1));
	s->xfr[1].unsigned_msg = true;
	msg_add(&s->xfr[2], soa(5));
	s->nxfr = 3;
	assert_int_equal(run(false, 0, &r, why, &key), 0);
	assert_int_equal(r.full.count, 2);
	xfr_result_clear(&r);
	script_free(s);
	/* a corrupted MAC on message 2 rejects the whole transfer */
	s = script_new(5);
	s->key = &key;
	msg_add(&s->xfr[0], soa(5));
	msg_add(&s->xfr[1], arec("www.example.com.", 1));
	s->xfr[1].bad_mac = true;
	msg_add(&s->xfr[2], soa(5));
	s->nxfr = 3;
	assert_int_equal(run(false, 0, &r, why, &key), ERR_TSIG_BADSIG);
	assert_non_null(strstr(why, "message 2"));
	xfr_result_clear(&r);
	script_free(s);
	/* the last message unsigned: rejected */
	s = script_new(5);
	s->key = &key;
	msg_add(&s->xfr[0], soa(5));
	msg_add(&s->xfr[1], arec("www.example.com.", 1));
	msg_add(&s->xfr[1], soa(5));
	s->xfr[1].unsigned_msg = true;
	s->nxfr = 2;
	assert_int_equal(run(false, 0, &r, why, &key), ERR_TSIG_BADSIG);
	xfr_result_clear(&r);
	script_free(s);
	/* an unsigned SOA answer: rejected */
	s = script_new(5);
	s->key = &key;
	s->soa[0].unsigned_msg = true;
	assert_true(run(true, 4, &r, why, &key) < 0);
	assert_non_null(strstr(why, "TSIG"));
	xfr_result_clear(&r);
	script_free(s);
}

static void
test_xfrin_size_limit(void **state)
{
	(void)state;
	struct script *s = script_new(5);
	msg_add(&s->xfr[0], soa(5));
	msg_add(&s->xfr[0], arec("www.example.com.", 1));
	msg_add(&s->xfr[1], arec("mail.example.com.", 2));
	msg_add(&s->xfr[1], soa(5));
	s->nxfr = 2;
	struct xfr_params p = {.zone = zone, .primary = (struct sockaddr *)&dummy,
	                       .primary_len = sizeof(dummy), .transport = &fake,
	                       .timeout_ms = 1000, .max_bytes = 100};
	struct xfr_result r;
	char why[256];
	xfr_result_init(&r);
	assert_int_equal(xfrin_run(&p, &r, why, sizeof(why)), -EFBIG);
	assert_non_null(strstr(why, "larger than 100 bytes"));
	assert_int_equal(r.full.count, 0);
	xfr_result_clear(&r);
	script_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xfrin_axfr_multi_message),
		cmocka_unit_test(test_xfrin_ixfr_difference_sequences),
		cmocka_unit_test(test_xfrin_uptodate_skips_transfer),
		cmocka_unit_test(test_xfrin_remote_older_rejected),
		cmocka_unit_test(test_xfrin_ixfr_step_backwards_rejected),
		cmocka_unit_test(test_xfrin_ixfr_broken_chain_rejected),
		cmocka_unit_test(test_xfrin_ixfr_full_zone_fallback),
		cmocka_unit_test(test_xfrin_single_newer_soa_falls_back_to_axfr),
		cmocka_unit_test(test_xfrin_bad_content_rejected),
		cmocka_unit_test(test_xfrin_tsig_every_message),
		cmocka_unit_test(test_xfrin_size_limit),
	};
	return cmocka_run_group_tests_name("xfrin", tests, NULL, NULL);
}
