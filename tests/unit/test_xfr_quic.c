/*
 * xfr_quic: the primary's XoQ listener answering through xfrout from an
 * in-memory source, read back by net/quic's client as a secondary would:
 * a TSIG-signed multi-message AXFR (every message verified, SOA first and
 * last), the query's message id echoed, a response sent as a query reset
 * with DOQ_PROTOCOL_ERROR, --doq-strict, the key created with mode 0600,
 * start-up faults named, and the counters in Prometheus form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/tsig.h"
#include "dns/wire.h"
#include "net/quic.h"
#include "primary/xfr_quic.h"
#include "primary/xfrout.h"
#include "util/err.h"

#define NRECS 3000   /* A records: about 90 KB, several messages */

static uint8_t zone[DNS_NAME_MAX];
static struct dns_tsig_key key;

static int
src_load(void *ctx, const uint8_t *z, int what, uint32_t from, struct xfrout_data *d)
{
	(void)ctx;
	(void)from;
	if (!dns_name_equal(z, zone))
		return -ENOENT;
	uint8_t rd[64];
	size_t n = 0;
	rd[n++] = 0;   /* mname "." */
	rd[n++] = 0;   /* rname "." */
	wr_u32(rd + n, 7);
	for (int i = 1; i < 5; i++)
		wr_u32(rd + n + 4 * (size_t)i, 3600);
	n += 20;
	struct dns_rr soa = {zone, DNS_T_SOA, DNS_C_IN, 3600, (uint16_t)n, rd};
	d->serial = 7;
	if (xfrout_buf_rr(&d->soa, &soa) != 0)
		return -ENOMEM;
	if (what != XFROUT_LOAD_ZONE)
		return 0;
	for (unsigned i = 0; i < NRECS; i++) {
		char text[32];
		uint8_t owner[DNS_NAME_MAX];
		int tl = snprintf(text, sizeof(text), "h%u", i);
		if (dns_name_from_text(text, (size_t)tl, zone, owner) < 0)
			return -EINVAL;
		uint8_t a[4] = {10, 0, (uint8_t)(i >> 8), (uint8_t)i};
		struct dns_rr rr = {owner, DNS_T_A, DNS_C_IN, 300, 4, a};
		if (xfrout_buf_rr(&d->rrs, &rr) != 0)
			return -ENOMEM;
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
	return dns_name_equal(z, zone) && dns_name_equal(k, key.name);
}

struct env {
	char dir[64];
	char keyfile[96];
	struct xfrout *x;
	struct xfr_quic *q;
	struct quic_client *cl;
};

static struct env *
env_new(bool strict)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/anycst-test-xfrq-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->keyfile, sizeof(e->keyfile), "%s/tls.key", e->dir);
	assert_true(dns_name_from_text("example.com.", 12, NULL, zone) > 0);
	static const uint8_t secret[32] = "0123456789abcdef0123456789abcdef";
	assert_int_equal(dns_tsig_key_init(&key, "xfr-key.", "hmac-sha256", secret, 32), 0);
	struct xfrout_conf xc = {.src = {.load = src_load, .key = src_key, .allowed = src_allowed}};
	e->x = xfrout_new(&xc);
	assert_non_null(e->x);
	struct xfr_quic_opts o = {.listen = "127.0.0.1:0", .key_file = e->keyfile,
	                          .doq_strict = strict, .workers = 2};
	char err[256];
	assert_int_equal(xfr_quic_start(&o, e->x, &e->q, err, sizeof(err)), 0);
	char remote[64];
	snprintf(remote, sizeof(remote), "127.0.0.1:%u", xfr_quic_port(e->q));
	struct quic_client_cfg cc = {.remote = remote, .pin = xfr_quic_pin(e->q)};
	assert_int_equal(quic_client_new(&cc, &e->cl), 0);
	return e;
}

static void
env_free(struct env *e)
{
	quic_client_free(e->cl);
	xfr_quic_stop(e->q);
	xfrout_free(e->x);
	unlink(e->keyfile);
	rmdir(e->dir);
	free(e);
}

struct result {
	unsigned msgs, rrs, soas;
	uint16_t first_type, last_type;
	unsigned rcode;
	bool id_ok;
	int tsig;        /* first TSIG failure, 0 */
	int status;      /* 0, or the request's failure */
	uint64_t app_error;
};

/* Sends an AXFR for `zone` with `id`, signed; reads every answer message. */
static void
axfr(struct env *e, uint16_t id, bool as_response, struct result *res)
{
	uint8_t q[512];
	ssize_t ql = dns_msg_make_query(q, sizeof(q), id, zone, DNS_T_AXFR, DNS_C_IN, 0, NULL);
	assert_true(ql > 0);
	if (as_response)
		q[2] |= 0x80;
	struct dns_tsig_ctx tc;
	dns_tsig_ctx_init(&tc, &key);
	ql = dns_tsig_sign(&tc, q, (size_t)ql, sizeof(q), (uint64_t)time(NULL));
	assert_true(ql > 0);
	memset(res, 0, sizeof(*res));
	res->id_ok = true;
	struct quic_stream *s = NULL;
	assert_int_equal(quic_stream_open(e->cl, q, (size_t)ql, 10000, &s), 0);
	static uint8_t buf[65535], owner[DNS_NAME_MAX], rdbuf[DNS_RDATA_MAX];
	for (;;) {
		ssize_t n = quic_stream_recv(s, buf, sizeof(buf), 0);
		if (n <= 0) {
			res->status = (int)n;
			if (n < 0)
				res->app_error = quic_stream_app_error(s);
			break;
		}
		struct dns_msg m;
		assert_int_equal(dns_msg_parse(&m, buf, (size_t)n), 0);
		res->msgs++;
		if (m.id != id)
			res->id_ok = false;
		res->rcode = dns_msg_rcode(&m);
		int tr = dns_tsig_verify(&tc, &m, (uint64_t)time(NULL));
		if (tr != 0 && res->tsig == 0)
			res->tsig = tr;
		struct dns_msg_iter it;
		struct dns_rr rr;
		dns_msg_iter_init(&it, &m, DNS_SEC_AN);
		while (dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf)) == 1) {
			if (res->rrs == 0)
				res->first_type = rr.type;
			res->last_type = rr.type;
			res->soas += rr.type == DNS_T_SOA;
			res->rrs++;
		}
	}
	if (res->status == 0 && res->tsig == 0 && res->msgs > 0)
		res->tsig = dns_tsig_verify_done(&tc);
	dns_tsig_ctx_clear(&tc);
	quic_stream_close(s);
}

static void
test_xfr_quic_signed_axfr_and_id_echo(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	struct stat st;
	assert_int_equal(stat(e->keyfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);   /* created private */
	char pin[QUIC_PIN_LEN];
	assert_int_equal(quic_spki_pin(e->keyfile, pin), 0);
	assert_string_equal(pin, xfr_quic_pin(e->q));

	struct result r;
	axfr(e, 0, false, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.rcode, 0);
	assert_int_equal(r.tsig, 0);
	assert_true(r.msgs > 1);                       /* a multi-message answer */
	assert_int_equal(r.rrs, NRECS + 2);            /* SOA, records, SOA */
	assert_int_equal(r.soas, 2);                   /* RFC 5936: SOA first and last */
	assert_int_equal(r.first_type, DNS_T_SOA);
	assert_int_equal(r.last_type, DNS_T_SOA);
	assert_true(r.id_ok);

	axfr(e, 0x4d2, false, &r);                     /* Knot 3.3+: non-zero id, echoed */
	assert_int_equal(r.status, 0);
	assert_int_equal(r.rrs, NRECS + 2);
	assert_true(r.id_ok);

	axfr(e, 0, true, &r);                          /* a response is no request */
	assert_int_equal(r.msgs, 0);
	assert_int_equal(r.status, -EPROTO);
	assert_int_equal(r.app_error, DOQ_PROTOCOL_ERROR);

	char text[8192];
	int n = xfr_quic_metrics(e->q, text, sizeof(text));
	assert_true(n > 0);
	assert_non_null(strstr(text, "\nanycst_quic_conns_accepted_total 1\n"));
	assert_non_null(strstr(text, "\nanycst_quic_streams_total 3\n"));
	assert_non_null(strstr(text, "\nanycst_quic_handshake_failures_total 0\n"));
	assert_non_null(strstr(text, "# TYPE anycst_quic_packets_lost_total counter\n"));
	assert_int_equal(xfr_quic_metrics(e->q, text, 64), -ENOSPC);
	env_free(e);
}

static void
test_xfr_quic_strict_ids(void **state)
{
	(void)state;
	struct env *e = env_new(true);
	struct result r;
	axfr(e, 0, false, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.rrs, NRECS + 2);
	axfr(e, 77, false, &r);
	assert_int_equal(r.msgs, 0);
	assert_int_equal(r.app_error, DOQ_PROTOCOL_ERROR);
	env_free(e);
}

static void
test_xfr_quic_start_faults_named(void **state)
{
	(void)state;
	struct xfrout_conf xc = {.src = {.load = src_load, .key = src_key, .allowed = src_allowed}};
	struct xfrout *x = xfrout_new(&xc);
	assert_non_null(x);
	struct xfr_quic *q = NULL;
	char err[256];
	struct xfr_quic_opts o = {.listen = "127.0.0.1:99999", .key_file = "/tmp/unused.key"};
	assert_int_equal(xfr_quic_start(&o, x, &q, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--quic: bad address '127.0.0.1:99999'"));

	char path[] = "/tmp/anycst-test-xfrq-key-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a key\n", 10), 10);
	close(fd);
	o.listen = "127.0.0.1:0";
	o.key_file = path;
	assert_int_equal(xfr_quic_start(&o, x, &q, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--tls-key"));
	assert_non_null(strstr(err, "not a PEM private key"));
	unlink(path);
	assert_null(q);
	xfr_quic_stop(NULL);
	xfrout_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xfr_quic_signed_axfr_and_id_echo),
		cmocka_unit_test(test_xfr_quic_strict_ids),
		cmocka_unit_test(test_xfr_quic_start_faults_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
