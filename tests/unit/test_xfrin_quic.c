/*
 * secondary/xfrin_quic.c: the transfer client over XoQ against net/quic's
 * server on loopback, whose handler plays a primary (SOA answer, then an
 * AXFR in two messages on one stream).  Checks the stream-per-request
 * mapping, the FIN handling, and that a wrong pin fails the refresh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dns/msg.h"
#include "dns/rrtype.h"
#include "net/addr.h"
#include "net/quic.h"
#include "secondary/xfrin.h"
#include "util/err.h"

static uint8_t zone[DNS_NAME_MAX];
static unsigned requests;

static void
put_soa(struct dns_msgw *w, uint32_t serial)
{
	uint8_t rd[64];
	int a = dns_name_from_text("ns.example.com.", 15, NULL, rd);
	int b = dns_name_from_text("h.example.com.", 14, NULL, rd + a);
	size_t l = (size_t)(a + b);
	uint32_t f[5] = {serial, 3600, 600, 86400, 300};
	for (int i = 0; i < 5; i++) {
		rd[l++] = (uint8_t)(f[i] >> 24);
		rd[l++] = (uint8_t)(f[i] >> 16);
		rd[l++] = (uint8_t)(f[i] >> 8);
		rd[l++] = (uint8_t)f[i];
	}
	struct dns_rr rr = {.owner = zone, .type = DNS_T_SOA, .rclass = DNS_C_IN, .ttl = 300,
	                    .rdlen = (uint16_t)l, .rdata = rd};
	assert_int_equal(dns_msgw_rr(w, DNS_SEC_AN, &rr), 0);
}

static void
handler(void *ctx, const struct quic_peer *peer, const uint8_t *query, size_t len,
        struct quic_reply *r)
{
	(void)ctx;
	(void)peer;
	requests++;
	struct dns_msg q;
	static uint8_t buf[4096];
	static struct dns_msgw w;
	if (dns_msg_parse(&q, query, len) != 0) {
		quic_reply_abort(r, DOQ_PROTOCOL_ERROR);
		return;
	}
	dns_msgw_init_response(&w, buf, sizeof(buf), &q, DNS_F_AA, 0);
	put_soa(&w, 5);
	if (q.qtype == DNS_T_AXFR) {
		uint8_t www[DNS_NAME_MAX], a[4] = {192, 0, 2, 1};
		dns_name_from_text("www.example.com.", 16, NULL, www);
		struct dns_rr rr = {.owner = www, .type = DNS_T_A, .rclass = DNS_C_IN, .ttl = 300,
		                    .rdlen = 4, .rdata = a};
		assert_int_equal(dns_msgw_rr(&w, DNS_SEC_AN, &rr), 0);
		quic_reply_send(r, buf, w.len);
		dns_msgw_init_response(&w, buf, sizeof(buf), &q, DNS_F_AA, 0);
		put_soa(&w, 5);
	}
	quic_reply_send(r, buf, w.len);
	quic_reply_end(r);
}

static void
test_xfrin_quic_axfr_and_pin(void **state)
{
	(void)state;
	dns_name_from_text("example.com.", 12, NULL, zone);
	char key[] = "/tmp/anycst-test-xfrin-quic-XXXXXX";
	int kfd = mkstemp(key);
	assert_true(kfd >= 0);
	close(kfd);
	unlink(key);   /* the server creates it */
	struct quic_server_cfg scfg = {.listen = "127.0.0.1:0", .key_file = key,
	                               .handler = handler};
	struct quic_server *srv = NULL;
	assert_int_equal(quic_server_new(&scfg, &srv), 0);
	char remote[64];
	snprintf(remote, sizeof(remote), "127.0.0.1:%u", quic_server_port(srv));
	struct sockaddr_storage ss;
	socklen_t sl;
	assert_int_equal(addr_parse(remote, 0, &ss, &sl), 0);

	struct quic_client_cfg ccfg = {.remote = remote, .pin = quic_server_pin(srv)};
	struct quic_client *cl = NULL;
	assert_int_equal(quic_client_new(&ccfg, &cl), 0);
	struct xfr_transport t;
	xfr_transport_quic_init(&t, cl);
	assert_string_equal(t.name, "QUIC");
	struct xfr_params p = {.zone = zone, .primary = (struct sockaddr *)&ss, .primary_len = sl,
	                       .transport = &t, .timeout_ms = 5000};
	struct xfr_result r;
	char why[256];
	xfr_result_init(&r);
	assert_int_equal(xfrin_run(&p, &r, why, sizeof(why)), 0);
	assert_int_equal(r.kind, XFR_AXFR);
	assert_int_equal(r.full.count, 2);
	assert_int_equal(r.messages, 2);
	assert_int_equal(requests, 1);   /* no version: the AXFR alone, on a stream of its own */
	xfr_result_clear(&r);
	/* Up to date on the same connection. */
	p.have_serial = true;
	p.serial = 5;
	xfr_result_init(&r);
	assert_int_equal(xfrin_run(&p, &r, why, sizeof(why)), 0);
	assert_int_equal(r.kind, XFR_UPTODATE);
	xfr_result_clear(&r);
	quic_client_free(cl);

	/* A wrong pin: the refresh fails and nothing is returned. */
	ccfg.pin = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	assert_int_equal(quic_client_new(&ccfg, &cl), 0);
	xfr_transport_quic_init(&t, cl);
	p.have_serial = false;
	p.timeout_ms = 3000;
	xfr_result_init(&r);
	int ret = xfrin_run(&p, &r, why, sizeof(why));
	assert_true(ret < 0);
	assert_int_equal(r.full.count, 0);
	xfr_result_clear(&r);
	quic_client_free(cl);
	quic_server_free(srv);
	unlink(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xfrin_quic_axfr_and_pin),
	};
	return cmocka_run_group_tests_name("xfrin_quic", tests, NULL, NULL);
}
