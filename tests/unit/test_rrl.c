/*
 * secondary/rrl.c: buckets per prefix and response, slip, whitelist,
 * truncation, lock-free counting.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <cmocka.h>

#include "secondary/rrl.h"

static struct sockaddr_storage
v4(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;
	s->sin_family = AF_INET;
	s->sin_port = htons(4242);
	assert_int_equal(inet_pton(AF_INET, ip, &s->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage
v6(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
	s->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
	return ss;
}

/* The response most tests judge: an answer for www.example.com A. */
static const struct rrl_query Q = {
	.name = (const uint8_t *)"\3www\7example\3com", .qtype = 1, .cls = RRL_CLS_ANSWER,
};

static enum rrl_action
chkq(struct rrl *r, const char *ip, const struct rrl_query *q, uint64_t ms, struct rrl_stats *st)
{
	struct sockaddr_storage ss = strchr(ip, ':') ? v6(ip) : v4(ip);
	return rrl_check(r, (struct sockaddr *)&ss, q, ms, st);
}

static enum rrl_action
chk(struct rrl *r, const char *ip, uint64_t ms, struct rrl_stats *st)
{
	return chkq(r, ip, &Q, ms, st);
}

/* Wire form of "<label>.example.com." in `buf`. */
static const uint8_t *
name_in(uint8_t *buf, const char *label)
{
	size_t l = strlen(label);
	buf[0] = (uint8_t)l;
	memcpy(buf + 1, label, l);
	memcpy(buf + 1 + l, "\7example\3com", 13);   /* with its root label */
	return buf;
}

static void
test_rrl_off_when_rate_zero(void **state)
{
	(void)state;
	struct rrl_cfg c = {.rate = 0, .slip = 2};
	assert_null(rrl_new(&c));
	rrl_free(NULL);
}

static void
test_rrl_limits_and_slips(void **state)
{
	(void)state;
	struct rrl_cfg c = {.rate = 10, .slip = 2};
	struct rrl *r = rrl_new(&c);
	assert_non_null(r);
	struct rrl_stats st = {0};
	for (int i = 0; i < 10; i++)
		assert_int_equal(chk(r, "198.51.100.7", 5000, &st), RRL_PASS);
	unsigned slip = 0, drop = 0;
	for (int i = 0; i < 20; i++) {
		enum rrl_action a = chk(r, "198.51.100.7", 5500, &st);
		/* limited answers alternate: 1st dropped, 2nd slipped, ... */
		assert_int_equal(a, i % 2 == 0 ? RRL_DROP : RRL_SLIP);
		slip += a == RRL_SLIP;
		drop += a == RRL_DROP;
	}
	assert_int_equal(slip, 10);
	assert_int_equal(drop, 10);
	assert_int_equal(st.passed, 10);
	assert_int_equal(st.limited, 20);
	assert_int_equal(st.slipped, 10);
	assert_int_equal(st.dropped, 10);
	/* The next second refills the bucket. */
	assert_int_equal(chk(r, "198.51.100.7", 6000, &st), RRL_PASS);
	rrl_free(r);
}

static void
test_rrl_prefix_v4_24(void **state)
{
	(void)state;
	struct rrl_cfg c = {.rate = 3, .slip = 0};
	struct rrl *r = rrl_new(&c);
	assert_non_null(r);
	for (int i = 0; i < 3; i++)
		assert_int_equal(chk(r, "198.51.100.1", 0, NULL), RRL_PASS);
	/* Same /24, other host: same bucket, already empty; slip 0 drops. */
	assert_int_equal(chk(r, "198.51.100.254", 10, NULL), RRL_DROP);
	/* The neighbouring /24 has its own bucket. */
	assert_int_equal(chk(r, "198.51.101.1", 10, NULL), RRL_PASS);
	assert_int_equal(chk(r, "203.0.113.1", 10, NULL), RRL_PASS);
	rrl_free(r);
}

static void
test_rrl_prefix_v6_56(void **state)
{
	(void)state;
	struct rrl_cfg c = {.rate = 2, .slip = 1};
	struct rrl *r = rrl_new(&c);
	assert_non_null(r);
	assert_int_equal(chk(r, "2001:db8:0:ff00::1", 0, NULL), RRL_PASS);
	assert_int_equal(chk(r, "2001:db8:0:ffab::99", 0, NULL), RRL_PASS);   /* same /56 */
	assert_int_equal(chk(r, "2001:db8:0:ff11:1::", 0, NULL), RRL_SLIP);   /* slip 1: all TC */
	assert_int_equal(chk(r, "2001:db8:0:fe00::1", 0, NULL), RRL_PASS);   /* other /56 */
	/* v4-mapped addresses count as their IPv4 /24 */
	assert_int_equal(chk(r, "192.0.2.1", 0, NULL), RRL_PASS);
	assert_int_equal(chk(r, "::ffff:192.0.2.77", 0, NULL), RRL_PASS);
	assert_int_equal(chk(r, "192.0.2.9", 0, NULL), RRL_SLIP);
	rrl_free(r);
}

static void
test_rrl_whitelist(void **state)
{
	(void)state;
	struct rrl_cfg c = {.rate = 1, .slip = 0};
	struct rrl *r = rrl_new(&c);
	assert_non_null(r);
	char err[128];
	assert_int_equal(rrl_whitelist_add(r, "10.53.0.0/16", err, sizeof(err)), 0);
	assert_int_equal(rrl_whitelist_add(r, "2001:db8::/32", err, sizeof(err)), 0);
	assert_int_equal(rrl_whitelist_add(r, "192.0.2.5", err, sizeof(err)), 0);
	assert_int_equal(rrl_whitelist_add(r, "10.0.0.0/33", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer than 32"));
	assert_int_equal(rrl_whitelist_add(r, "::/129", err, sizeof(err)), -EINVAL);
	assert_int_equal(rrl_whitelist_add(r, "nonsense", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nonsense"));
	assert_int_equal(rrl_whitelist_add(r, "10.0.0.0/", err, sizeof(err)), -EINVAL);
	assert_int_equal(rrl_whitelist_add(r, "", err, sizeof(err)), -EINVAL);
	struct rrl_stats st = {0};
	for (int i = 0; i < 100; i++) {
		assert_int_equal(chk(r, "10.53.200.1", 0, &st), RRL_PASS);
		assert_int_equal(chk(r, "2001:db8:ffff::1", 0, &st), RRL_PASS);
	}
	assert_int_equal(st.whitelisted, 200);
	/* A host entry covers that host only. */
	assert_int_equal(chk(r, "192.0.2.5", 0, NULL), RRL_PASS);
	assert_int_equal(chk(r, "192.0.2.5", 0, NULL), RRL_PASS);
	assert_int_equal(chk(r, "192.0.2.6", 0, NULL), RRL_PASS);
	assert_int_equal(chk(r, "192.0.2.6", 0, NULL), RRL_DROP);
	/* 10.54/16 is outside 10.53.0.0/16 */
	assert_int_equal(chk(r, "10.54.0.1", 0, NULL), RRL_PASS);
	assert_int_equal(chk(r, "10.54.0.1", 0, NULL), RRL_DROP);
	for (int i = 0; i < RRL_WHITELIST_MAX - 3; i++)
		assert_int_equal(rrl_whitelist_add(r, "203.0.113.0/24", err, sizeof(err)), 0);
	assert_int_equal(rrl_whitelist_add(r, "203.0.113.0/24", err, sizeof(err)), -ENOSPC);
	rrl_free(r);
}

/* Response: id 0x1234, QR AA, www.example.com A IN, one answer (pointer to qname), EDNS OPT. */
static const uint8_t resp[] = {
	0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 1,
	3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
	0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1,
	0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0,
};

static void
test_rrl_truncate(void **state)
{
	(void)state;
	uint8_t m[sizeof(resp)];
	memcpy(m, resp, sizeof(resp));
	size_t n = rrl_truncate(m, sizeof(m));
	assert_int_equal(n, 12 + 17 + 4);
	assert_int_equal(m[0], 0x12);
	assert_int_equal(m[1], 0x34);
	assert_int_equal(m[2], 0x84 | 0x02);   /* TC set, QR and AA kept */
	assert_int_equal(m[5], 1);
	for (int i = 6; i < 12; i++)
		assert_int_equal(m[i], 0);
	assert_memory_equal(m + 12, resp + 12, 21);
	/* Malformed: short header, name running off the end, bad label type. */
	memcpy(m, resp, sizeof(resp));
	assert_int_equal(rrl_truncate(m, 11), 0);
	assert_int_equal(rrl_truncate(m, 20), 0);
	assert_int_equal(rrl_truncate(m, 30), 0);   /* name fits, QTYPE/QCLASS do not */
	memcpy(m, resp, sizeof(resp));
	m[12] = 0x80;
	assert_int_equal(rrl_truncate(m, sizeof(m)), 0);
	/* No question: header only. */
	uint8_t h[12] = {0xab, 0xcd, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0};
	assert_int_equal(rrl_truncate(h, sizeof(h)), 12);
	assert_int_equal(h[2] & 0x02, 0x02);
	assert_int_equal(h[7], 0);
}

static void
test_rrl_apply_never_amplifies(void **state)
{
	(void)state;
	struct rrl_cfg c = {.rate = 1, .slip = 1};
	struct rrl *r = rrl_new(&c);
	assert_non_null(r);
	struct sockaddr_storage ss = v4("198.51.100.9");
	uint8_t m[sizeof(resp)];
	memcpy(m, resp, sizeof(resp));
	assert_int_equal(rrl_apply(r, (struct sockaddr *)&ss, &Q, m, sizeof(m)), sizeof(resp));
	/* The query this answers was 12 + 21 + 11 (OPT) = 44 bytes; the slip is 33. */
	for (int i = 0; i < 5; i++) {
		memcpy(m, resp, sizeof(resp));
		size_t n = rrl_apply(r, (struct sockaddr *)&ss, &Q, m, sizeof(m));
		/* within the same coarse second: truncated; a new second may pass one */
		assert_true(n == 33 || n == sizeof(resp));
	}
	struct rrl_stats sum;
	rrl_stats_sum(&sum);
	assert_true(sum.passed >= 1);
	assert_true(sum.passed + sum.slipped >= 6);
	rrl_free(r);
}

struct race {
	struct rrl *r;
	uint64_t passed;
};

static void *
race_main(void *arg)
{
	struct race *x = arg;
	struct sockaddr_storage ss = v4("198.51.100.50");
	for (int i = 0; i < 200000; i++)
		if (rrl_check(x->r, (struct sockaddr *)&ss, &Q, 42000, NULL) == RRL_PASS)
			x->passed++;
	return NULL;
}

/* Four threads hammer one bucket within one second: exactly `rate` pass (CAS, no lock). */
static void
test_rrl_concurrent_exact(void **state)
{
	(void)state;
	struct rrl_cfg c = {.rate = 1000, .slip = 0};
	struct rrl *r = rrl_new(&c);
	assert_non_null(r);
	pthread_t t[4];
	struct race x[4];
	for (int i = 0; i < 4; i++) {
		x[i].r = r;
		x[i].passed = 0;
		assert_int_equal(pthread_create(&t[i], NULL, race_main, &x[i]), 0);
	}
	uint64_t total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += x[i].passed;
	}
	assert_int_equal(total, 1000);
	rrl_free(r);
}


/* One /24 asking many names: every (name, type) has its own bucket (issue 12.6). */
static void
test_rrl_key_distinct_names(void **state)
{
	(void)state;
	struct rrl_cfg c = {.rate = 3, .slip = 2};
	struct rrl *r = rrl_new(&c);
	assert_non_null(r);
	uint8_t nb[64];
	char label[16];
	/* 1,000 names from hosts all over one /24, three answers each in one second. */
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < 1000; i++) {
			snprintf(label, sizeof(label), "h%d", i);
			struct rrl_query q = {.name = name_in(nb, label), .qtype = 1,
			                      .cls = RRL_CLS_ANSWER};
			char ip[32];
			snprintf(ip, sizeof(ip), "127.0.1.%d", i % 250 + 1);
			assert_int_equal(chkq(r, ip, &q, 7000, NULL), RRL_PASS);
		}
	}
	/* The fourth answer for one of them is over its rate. */
	struct rrl_query q = {.name = name_in(nb, "h17"), .qtype = 1, .cls = RRL_CLS_ANSWER};
	assert_int_not_equal(chkq(r, "127.0.1.200", &q, 7000, NULL), RRL_PASS);
	/* Letter case does not make a new bucket (resolvers randomize it, 0x20). */
	struct rrl_query up = {.name = name_in(nb, "H17"), .qtype = 1, .cls = RRL_CLS_ANSWER};
	nb[5] = 'E';   /* "\3H17\7Example..." */
	assert_int_not_equal(chkq(r, "127.0.1.9", &up, 7000, NULL), RRL_PASS);
	/* Another type of the same name, and the same name's NODATA, have their own. */
	q.qtype = 28;
	assert_int_equal(chkq(r, "127.0.1.200", &q, 7000, NULL), RRL_PASS);
	q.cls = RRL_CLS_NODATA;
	q.qtype = 1;
	assert_int_equal(chkq(r, "127.0.1.200", &q, 7000, NULL), RRL_PASS);
	/* Another /24 has its own bucket for the same response. */
	q.cls = RRL_CLS_ANSWER;
	for (int i = 0; i < 3; i++)
		assert_int_equal(chkq(r, "127.0.2.1", &q, 7000, NULL), RRL_PASS);
	rrl_free(r);
}

/*
 * NXDOMAIN (and errors, referrals, wildcards) are keyed by the name the caller
 * gives (the zone, the cut, the closest encloser), without the qtype: a
 * random-subdomain flood shares one bucket.
 */
static void
test_rrl_key_nxdomain_by_zone(void **state)
{
	(void)state;
	struct rrl_cfg c = {.rate = 10, .slip = 0};
	struct rrl *r = rrl_new(&c);
	assert_non_null(r);
	const uint8_t *zone = (const uint8_t *)"\7example\3com";
	for (int i = 0; i < 10; i++) {
		struct rrl_query q = {.name = zone, .qtype = (uint16_t)(i + 1),
		                      .cls = RRL_CLS_NXDOMAIN};
		assert_int_equal(chkq(r, "203.0.113.5", &q, 0, NULL), RRL_PASS);
	}
	struct rrl_query nx = {.name = zone, .qtype = 99, .cls = RRL_CLS_NXDOMAIN};
	assert_int_equal(chkq(r, "203.0.113.77", &nx, 0, NULL), RRL_DROP);
	/* The zone's positive answers are another class: not affected. */
	struct rrl_query pos = {.name = zone, .qtype = 6, .cls = RRL_CLS_ANSWER};
	assert_int_equal(chkq(r, "203.0.113.5", &pos, 0, NULL), RRL_PASS);
	/* Errors with no name (NULL: the root) share one bucket too, of their own. */
	struct rrl_query err = {.name = NULL, .qtype = 1, .cls = RRL_CLS_ERROR};
	for (int i = 0; i < 10; i++)
		assert_int_equal(chkq(r, "203.0.113.5", &err, 0, NULL), RRL_PASS);
	err.qtype = 2;
	assert_int_equal(chkq(r, "203.0.113.5", &err, 0, NULL), RRL_DROP);
	struct rrl_query root = {.name = (const uint8_t *)"", .qtype = 1, .cls = RRL_CLS_ERROR};
	assert_int_equal(chkq(r, "203.0.113.5", &root, 0, NULL), RRL_DROP);
	rrl_free(r);
}

/* --rrl-ipv4-prefix / --rrl-ipv6-prefix choose who shares a bucket. */
static void
test_rrl_prefix_configurable(void **state)
{
	(void)state;
	struct rrl_cfg c = {.rate = 1, .slip = 0, .v4_prefix = 16, .v6_prefix = 64};
	struct rrl *r = rrl_new(&c);
	assert_non_null(r);
	assert_int_equal(chk(r, "198.51.1.1", 0, NULL), RRL_PASS);
	assert_int_equal(chk(r, "198.51.200.1", 0, NULL), RRL_DROP);   /* same /16 */
	assert_int_equal(chk(r, "198.52.1.1", 0, NULL), RRL_PASS);
	assert_int_equal(chk(r, "2001:db8:1:2::1", 0, NULL), RRL_PASS);
	assert_int_equal(chk(r, "2001:db8:1:2:ffff::1", 0, NULL), RRL_DROP);   /* same /64 */
	assert_int_equal(chk(r, "2001:db8:1:3::1", 0, NULL), RRL_PASS);      /* other /64 */
	rrl_free(r);
	c.v4_prefix = 32;
	c.v6_prefix = 128;
	r = rrl_new(&c);
	assert_non_null(r);
	assert_int_equal(chk(r, "198.51.100.1", 0, NULL), RRL_PASS);
	assert_int_equal(chk(r, "198.51.100.2", 0, NULL), RRL_PASS);   /* hosts apart */
	assert_int_equal(chk(r, "198.51.100.2", 0, NULL), RRL_DROP);
	assert_int_equal(chk(r, "2001:db8::1", 0, NULL), RRL_PASS);
	assert_int_equal(chk(r, "2001:db8::2", 0, NULL), RRL_PASS);
	assert_int_equal(chk(r, "2001:db8::2", 0, NULL), RRL_DROP);
	rrl_free(r);
	/* Out of range: no table. */
	c.v4_prefix = 33;
	assert_null(rrl_new(&c));
	c.v4_prefix = 24;
	c.v6_prefix = 129;
	assert_null(rrl_new(&c));
}

/*
 * A table far too small for its keys: colliding keys take a bucket over at
 * most once per second, then share it, so a flooded name stays limited to
 * about its rate however many other names collide with it.
 */
static void
test_rrl_collisions_bounded(void **state)
{
	(void)state;
	struct rrl_cfg c = {.rate = 50, .slip = 0, .buckets = 64};
	struct rrl *r = rrl_new(&c);
	assert_non_null(r);
	uint8_t nb[64];
	char label[16];
	unsigned passed = 0;
	for (int i = 0; i < 20000; i++) {
		if (i % 2 == 0) {
			passed += chk(r, "192.0.2.1", 3000, NULL) == RRL_PASS;
			continue;
		}
		snprintf(label, sizeof(label), "n%d", i);
		struct rrl_query q = {.name = name_in(nb, label), .qtype = 1,
		                      .cls = RRL_CLS_ANSWER};
		chkq(r, "192.0.2.1", &q, 3000, NULL);
	}
	/* At most twice the rate: its own second, and once more after one takeover. */
	assert_true(passed >= 50);
	assert_true(passed <= 100);
	rrl_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rrl_off_when_rate_zero),
		cmocka_unit_test(test_rrl_limits_and_slips),
		cmocka_unit_test(test_rrl_prefix_v4_24),
		cmocka_unit_test(test_rrl_prefix_v6_56),
		cmocka_unit_test(test_rrl_whitelist),
		cmocka_unit_test(test_rrl_truncate),
		cmocka_unit_test(test_rrl_apply_never_amplifies),
		cmocka_unit_test(test_rrl_concurrent_exact),
		cmocka_unit_test(test_rrl_key_distinct_names),
		cmocka_unit_test(test_rrl_key_nxdomain_by_zone),
		cmocka_unit_test(test_rrl_prefix_configurable),
		cmocka_unit_test(test_rrl_collisions_bounded),
	};
	return cmocka_run_group_tests_name("rrl", tests, NULL, NULL);
}
