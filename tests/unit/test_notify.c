/*
 * secondary/notify.c: who may NOTIFY us (RFC 1996, RFC 8945), what we
 * answer, and that an accepted NOTIFY reaches the refresh scheduler.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "dns/msg.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/tsig.h"
#include "net/tcp.h"
#include "secondary/notify.h"
#include "secondary/primaries.h"

static uint8_t zone[DNS_NAME_MAX];
static int calls;
static bool last_has_serial;
static uint32_t last_serial;

static int
on_notify(void *ctx, const uint8_t *apex, bool has_serial, uint32_t serial)
{
	(void)ctx;
	if (!dns_name_equal(apex, zone))
		return -ENOENT;
	calls++;
	last_has_serial = has_serial;
	last_serial = serial;
	return 0;
}

static struct sockaddr_storage
ip4(const char *s, uint16_t port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	inet_pton(AF_INET, s, &in->sin_addr);
	return ss;
}

static size_t
make_notify(uint8_t *buf, const char *name, uint16_t qtype, const struct dns_tsig_key *k,
            bool with_soa)
{
	uint8_t n[DNS_NAME_MAX];
	dns_name_from_text(name, strlen(name), NULL, n);
	ssize_t len;
	if (qtype == DNS_T_SOA) {
		uint8_t rd[22] = {0, 0, 0, 0, 0, 42};   /* ". . 42 0 0 0 0" */
		struct dns_rr soa = {.owner = n, .type = DNS_T_SOA, .rclass = DNS_C_IN, .ttl = 0,
		                     .rdlen = sizeof(rd), .rdata = rd};
		len = dns_msg_make_notify(buf, 4096, 0x1234, n, with_soa ? &soa : NULL);
	} else {
		len = dns_msg_make_query(buf, 4096, 0x1234, n, qtype, DNS_C_IN,
		                         DNS_OP_NOTIFY << DNS_F_OPCODE_SHIFT, NULL);
	}
	assert_true(len > 0);
	if (k != NULL) {
		struct dns_tsig_ctx c;
		dns_tsig_ctx_init(&c, k);
		len = dns_tsig_sign(&c, buf, (size_t)len, 4096, (uint64_t)time(NULL));
		dns_tsig_ctx_clear(&c);
		assert_true(len > 0);
	}
	return (size_t)len;
}

static unsigned
answer(struct notify_cfg *cfg, const uint8_t *q, size_t qlen, const char *from,
       struct dns_msg *m, uint8_t *out)
{
	struct sockaddr_storage src = ip4(from, 40000);
	size_t n = notify_handle(cfg, q, qlen, (struct sockaddr *)&src, out, 4096);
	assert_true(n >= DNS_HDR_LEN);
	assert_int_equal(dns_msg_parse(m, out, n), 0);
	assert_int_equal(m->id, 0x1234);
	assert_true(m->flags & DNS_F_QR);
	assert_int_equal(dns_msg_opcode(m), DNS_OP_NOTIFY);
	return dns_msg_rcode(m);
}

static void
test_notify_acl_and_answers(void **state)
{
	(void)state;
	dns_name_from_text("example.com.", 12, NULL, zone);
	struct dns_tsig_key key, other;
	char err[128];
	assert_int_equal(dns_tsig_key_parse(&key, "k:hmac-sha256:c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
	                                    err, sizeof(err)), 0);
	assert_int_equal(dns_tsig_key_parse(&other, "k:hmac-sha256:b3RoZXItb3RoZXItb3RoZXI=",
	                                    err, sizeof(err)), 0);
	struct notify_cfg cfg = {.primary = ip4("10.53.0.1", 5300), .tsig = &key,
	                         .on_notify = on_notify};
	uint8_t q[4096], out[4096];
	struct dns_msg m;
	size_t ql;

	/* From the primary (any port), signed: NOERROR, AA, question echoed, signed back. */
	ql = make_notify(q, "example.com.", DNS_T_SOA, &key, true);
	assert_int_equal(answer(&cfg, q, ql, "10.53.0.1", &m, out), DNS_RCODE_NOERROR);
	assert_true(m.flags & DNS_F_AA);
	assert_true(dns_name_equal(m.qname, zone));
	assert_int_equal(m.qtype, DNS_T_SOA);
	assert_true(m.has_tsig);
	assert_int_equal(calls, 1);
	assert_true(last_has_serial);
	assert_int_equal(last_serial, 42);

	/* From elsewhere: REFUSED, nothing scheduled. */
	assert_int_equal(answer(&cfg, q, ql, "10.53.0.9", &m, out), DNS_RCODE_REFUSED);
	assert_int_equal(calls, 1);
	/* Unsigned while a key is set: REFUSED. */
	ql = make_notify(q, "example.com.", DNS_T_SOA, NULL, false);
	assert_int_equal(answer(&cfg, q, ql, "10.53.0.1", &m, out), DNS_RCODE_REFUSED);
	/* Signed with the wrong secret: NOTAUTH with a TSIG error record. */
	ql = make_notify(q, "example.com.", DNS_T_SOA, &other, false);
	assert_int_equal(answer(&cfg, q, ql, "10.53.0.1", &m, out), DNS_RCODE_NOTAUTH);
	assert_true(m.has_tsig);
	assert_int_equal(m.tsig.error, DNS_RCODE_BADSIG);
	/* A zone we do not follow: NOTAUTH. */
	ql = make_notify(q, "example.org.", DNS_T_SOA, &key, false);
	assert_int_equal(answer(&cfg, q, ql, "10.53.0.1", &m, out), DNS_RCODE_NOTAUTH);
	/* Not a SOA question: FORMERR. */
	ql = make_notify(q, "example.com.", DNS_T_A, &key, false);
	assert_int_equal(answer(&cfg, q, ql, "10.53.0.1", &m, out), DNS_RCODE_FORMERR);
	assert_int_equal(calls, 1);

	/* Without --tsig: the address alone decides; no SOA means no serial hint. */
	cfg.tsig = NULL;
	ql = make_notify(q, "example.com.", DNS_T_SOA, NULL, false);
	assert_int_equal(answer(&cfg, q, ql, "10.53.0.1", &m, out), DNS_RCODE_NOERROR);
	assert_false(m.has_tsig);
	assert_int_equal(calls, 2);
	assert_false(last_has_serial);

	/* Garbage: a header-only FORMERR; a response or a runt: nothing. */
	uint8_t junk[20] = {0x12, 0x34, 0x20, 0x00, 0xff, 0xff};
	struct sockaddr_storage src = ip4("10.53.0.1", 1);
	size_t n = notify_handle(&cfg, junk, sizeof(junk), (struct sockaddr *)&src, out, 4096);
	assert_int_equal(n, DNS_HDR_LEN);
	assert_int_equal(out[3] & 0x0f, DNS_RCODE_FORMERR);
	junk[2] |= 0x80;
	assert_int_equal(notify_handle(&cfg, junk, sizeof(junk), (struct sockaddr *)&src, out,
	                               4096), 0);
	assert_int_equal(notify_handle(&cfg, junk, 5, (struct sockaddr *)&src, out, 4096), 0);
}

/* Several primaries (--primary A,B): any listed address may notify, nothing else. */
static void
test_notify_several_primaries(void **state)
{
	(void)state;
	calls = 0;
	assert_true(dns_name_from_text("example.com.", 12, NULL, zone) > 0);
	struct xfr_primary ps[2] = {{.addr = ip4("10.53.0.1", 8853)}, {.addr = ip4("10.53.0.2", 8853)}};
	ps[0].transport = ps[1].transport = &xfr_transport_tcp;
	primary_init(&ps[0]);
	primary_init(&ps[1]);
	atomic_store(&ps[1].down_until, 1);   /* its last probe failed */
	struct notify_cfg cfg = {.primary = ps[0].addr, .primaries = ps, .nprimaries = 2,
	                         .on_notify = on_notify};
	uint8_t q[4096], out[4096];
	struct dns_msg m;
	size_t ql = make_notify(q, "example.com.", DNS_T_SOA, NULL, true);
	assert_int_equal(answer(&cfg, q, ql, "10.53.0.1", &m, out), DNS_RCODE_NOERROR);
	assert_int_equal(answer(&cfg, q, ql, "10.53.0.2", &m, out), DNS_RCODE_NOERROR);
	assert_int_equal(calls, 2);
	assert_int_equal(atomic_load(&ps[1].down_until), 0);   /* a NOTIFY: up again */
	assert_int_equal(answer(&cfg, q, ql, "10.53.0.3", &m, out), DNS_RCODE_REFUSED);
	assert_int_equal(calls, 2);
}

/* --primary / --pin / --primary-tcp lists. */
static void
test_primaries_split(void **state)
{
	(void)state;
	char items[3][PRIMARIES_ITEM_MAX], err[200];
	assert_int_equal(primaries_split("10.53.0.1:8853", items, 3, err, sizeof(err)), 1);
	assert_string_equal(items[0], "10.53.0.1:8853");
	assert_int_equal(primaries_split(" a:1 ,[::1]:2,b ", items, 3, err, sizeof(err)), 3);
	assert_string_equal(items[0], "a:1");
	assert_string_equal(items[1], "[::1]:2");
	assert_string_equal(items[2], "b");
	assert_int_equal(primaries_split("a,,b", items, 3, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "item 2 is empty"));
	assert_int_equal(primaries_split("", items, 3, err, sizeof(err)), -EINVAL);
	assert_int_equal(primaries_split("a,", items, 3, err, sizeof(err)), -EINVAL);
	assert_int_equal(primaries_split("a,b,c,d", items, 3, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than 3 items"));
	char longitem[PRIMARIES_ITEM_MAX + 2];
	memset(longitem, 'x', sizeof(longitem) - 1);
	longitem[sizeof(longitem) - 1] = '\0';
	assert_int_equal(primaries_split(longitem, items, 3, err, sizeof(err)), -EINVAL);
	/* One primary: no probe, the refresh asks it directly. */
	struct primary_pick pk;
	struct xfr_params p = {.zone = zone};
	struct xfr_primary one = {.addr = ip4("10.53.0.1", 1), .transport = &xfr_transport_tcp};
	assert_int_equal(primaries_pick(&one, 1, &p, &pk, err, sizeof(err)), 0);
	assert_int_equal(pk.best, 0);
	assert_false(pk.have_serial);
}

/*
 * Two primaries probed at once through a transport that writes each answer
 * into the buffer it is given, then waits (2 s at most) until the other
 * probe has written its own: probes sharing the refresh's scratch buffer
 * would both read the last answer written (one id then does not match, or
 * both see one serial).
 */
static pthread_mutex_t pb_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pb_cv = PTHREAD_COND_INITIALIZER;
static unsigned pb_written;

struct pb_conn {
	uint8_t q[512];
	size_t qlen;
	uint32_t serial;    /* 100 + the primary's port */
	bool answered;
};

static int
pb_open(struct xfr_conn *c, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
	(void)len;
	(void)deadline;
	struct pb_conn *pc = calloc(1, sizeof(*pc));
	if (pc == NULL)
		return -ENOMEM;
	pc->serial = 100u + ntohs(((const struct sockaddr_in *)sa)->sin_port);
	c->priv = pc;
	return 0;
}

static int
pb_send(struct xfr_conn *c, const uint8_t *msg, size_t len, int64_t deadline)
{
	(void)deadline;
	struct pb_conn *pc = c->priv;
	if (len > sizeof(pc->q))
		return -EMSGSIZE;
	memcpy(pc->q, msg, len);
	pc->qlen = len;
	return 0;
}

static ssize_t
pb_recv(struct xfr_conn *c, uint8_t *buf, size_t cap, int64_t deadline)
{
	(void)deadline;
	struct pb_conn *pc = c->priv;
	if (pc->answered)
		return -ECONNRESET;
	pc->answered = true;
	struct dns_msg q;
	if (dns_msg_parse(&q, pc->q, pc->qlen) != 0)
		return -EPROTO;
	struct dns_msgw w;
	uint8_t rd[22] = {0, 0, (uint8_t)(pc->serial >> 24), (uint8_t)(pc->serial >> 16),
	                  (uint8_t)(pc->serial >> 8), (uint8_t)pc->serial};
	struct dns_rr soa = {.owner = zone, .type = DNS_T_SOA, .rclass = DNS_C_IN, .ttl = 300,
	                     .rdlen = sizeof(rd), .rdata = rd};
	if (dns_msgw_init_response(&w, buf, cap, &q, DNS_F_AA, DNS_RCODE_NOERROR) != 0 ||
	    dns_msgw_rr(&w, DNS_SEC_AN, &soa) != 0)
		return -EPROTO;
	size_t n = w.len;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&pb_mu);
	pb_written++;
	pthread_cond_broadcast(&pb_cv);
	while (pb_written < 2 && pthread_cond_timedwait(&pb_cv, &pb_mu, &until) == 0)
		;
	pthread_mutex_unlock(&pb_mu);
	return (ssize_t)n;
}

static void
pb_close(struct xfr_conn *c)
{
	free(c->priv);
	c->priv = NULL;
}

static const struct xfr_transport pb_transport = {.name = "PROBE", .open = pb_open,
                                                  .send = pb_send, .recv = pb_recv,
                                                  .close = pb_close};

static void
test_primaries_probe_own_buffers(void **state)
{
	(void)state;
	dns_name_from_text("example.com.", 12, NULL, zone);
	static uint8_t buf[TCP_MSG_MAX], rdbuf[DNS_RDATA_MAX];   /* the refresh's scratch */
	struct xfr_primary ps[2] = {
		{.addr = ip4("127.0.0.1", 1), .transport = &pb_transport, .txt = "127.0.0.1@1"},
		{.addr = ip4("127.0.0.2", 2), .transport = &pb_transport, .txt = "127.0.0.2@2"},
	};
	struct xfr_params p = {.zone = zone, .timeout_ms = 3000, .buf = buf, .rdbuf = rdbuf};
	for (int i = 0; i < 20; i++) {
		pb_written = 0;
		struct primary_pick pk;
		char why[512];
		assert_int_equal(primaries_pick(ps, 2, &p, &pk, why, sizeof(why)), 0);
		if (pk.answered != 2)
			fail_msg("round %d: %zu of 2 answered (%s)", i, pk.answered, why);
		assert_int_equal(pk.best, 1);
		assert_int_equal(pk.serial, 102);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_acl_and_answers),
		cmocka_unit_test(test_notify_several_primaries),
		cmocka_unit_test(test_primaries_split),
		cmocka_unit_test(test_primaries_probe_own_buffers),
	};
	return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
