/*
 * primary/notify.c: the NOTIFY sender's back-off.  A real sender thread
 * sends to a UDP socket on loopback; the kernel's receive timestamps
 * (SO_TIMESTAMPNS) time the tries, so a busy test process cannot skew them.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "dns/rrtype.h"
#include "primary/notify.h"
#include "primary/propagation.h"
#include "primary/xfrout.h"
#include "util/log.h"

static uint8_t zone[DNS_NAME_MAX];
static int soa_calls;
static int stall_call;       /* this SOA lookup (1-based) takes STALL_MS */
static bool any_zone;        /* every zone exists (the SOA is `zone`'s, owned by it) */
#define STALL_MS 200

static int
src_soa(void *ctx, const uint8_t *z, struct xfrout_buf *soa, uint32_t *serial)
{
	(void)ctx;
	if (!any_zone && !dns_name_equal(z, zone))
		return -ENOENT;
	if (++soa_calls == stall_call) {
		struct timespec ts = {0, STALL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	/* ". . 7 3600 600 86400 300" */
	uint8_t rd[22] = {0, 0, 0, 0, 0, 7, 0, 0, 0x0e, 0x10, 0, 0, 0x02, 0x58,
	                  0, 1, 0x51, 0x80, 0, 0, 0x01, 0x2c};
	struct dns_rr rr = {.owner = z, .type = DNS_T_SOA, .rclass = DNS_C_IN, .ttl = 300,
	                    .rdlen = sizeof(rd), .rdata = rd};
	*serial = 7;
	return xfrout_buf_rr(soa, &rr);
}

static int
src_key(void *ctx, const uint8_t *z, struct dns_tsig_key *k)
{
	(void)ctx;
	(void)z;
	(void)k;
	return -ENOENT;
}

/* A loopback UDP socket that stamps each datagram in the kernel. */
static int
receiver(struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	int one = 1;
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)), 0);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	socklen_t sl = sizeof(*addr);
	assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &sl), 0);
	return fd;
}

/* Next NOTIFY of `zone` within `ms`: its kernel arrival time in seconds, or -1. */
static double
next_notify(int fd, int ms)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	if (poll(&pf, 1, ms) != 1)
		return -1;
	uint8_t buf[1024];
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
	                    .msg_controllen = sizeof(ctl.buf)};
	ssize_t n = recvmsg(fd, &mh, 0);
	assert_true(n > 0);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(dns_msg_opcode(&m), DNS_OP_NOTIFY);
	assert_true(dns_name_equal(m.qname, zone));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	assert_non_null(c);
	assert_int_equal(c->cmsg_type, SCM_TIMESTAMPNS);
	struct timespec ts;
	memcpy(&ts, CMSG_DATA(c), sizeof(ts));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * An unanswered NOTIFY is sent NOTIFY_TRIES times, each wait doubling from
 * NOTIFY_RETRY_MS, counted from the send.  The SOA lookup of the second try
 * stalls (as a busy database does): that try goes out late, and the wait
 * after it must still be a full one (it was once shortened by the stall,
 * giving gaps like 0.45 s, 0.30 s, 1 s, 2 s).
 */
static void
test_notify_backoff_counts_from_the_send(void **state)
{
	(void)state;
	assert_true(dns_name_from_text("example.com.", 12, NULL, zone) > 0);
	soa_calls = 0;
	stall_call = 2;
	struct sockaddr_in to;
	int fd = receiver(&to);
	struct sockaddr_in from = {.sin_family = AF_INET,
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct notify_source src = {.soa = src_soa, .key = src_key};
	int err = 0;
	struct notify *n = notify_new((struct sockaddr *)&from, sizeof(from), &src, NULL, &err);
	assert_non_null(n);
	assert_int_equal(notify_add_target(n, (struct sockaddr *)&to, sizeof(to)), 0);
	assert_int_equal(notify_start(n), 0);
	assert_int_equal(notify_zone(n, zone, false), 0);

	double at[NOTIFY_TRIES];
	int total_ms = 2000;
	for (int i = 0; i < NOTIFY_TRIES; i++) {
		total_ms += NOTIFY_RETRY_MS << i;
		at[i] = next_notify(fd, i == 0 ? 2000 : (NOTIFY_RETRY_MS << (i - 1)) + 2000);
		assert_true(at[i] > 0);
	}
	/* No more tries: the next would come only after the last wait. */
	assert_true(next_notify(fd, NOTIFY_RETRY_MS) < 0);
	for (int i = 1; i < NOTIFY_TRIES; i++) {
		double gap = at[i] - at[i - 1];
		double want = (double)(NOTIFY_RETRY_MS << (i - 1)) / 1000;
		print_message("try %d: %.3f s after the previous, back-off %.3f s\n", i + 1, gap, want);
		/* mono_ms() is in whole milliseconds: allow 2 ms below. */
		assert_true(gap >= want - 0.002);
		/* Late by the stall or by scheduling, not by another step. */
		assert_true(gap < want * 2 + 0.5);
	}
	assert_true(at[NOTIFY_TRIES - 1] - at[0] < (double)total_ms / 1000);
	assert_int_equal(notify_sent(n), NOTIFY_TRIES);
	notify_free(n);
	close(fd);
}


/* Receives one NOTIFY within `ms`: its zone index (from "zN.multi.test."),
 * answering it (same id, QR set) when `answer(index)`; -1 on timeout. */
static int
recv_multi(int fd, int ms, bool (*answer)(int))
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	if (poll(&pf, 1, ms) != 1)
		return -1;
	uint8_t buf[1024];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t len = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
	assert_true(len > 12);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, buf, (size_t)len), 0);
	assert_int_equal(dns_msg_opcode(&m), DNS_OP_NOTIFY);
	char text[DNS_NAME_TEXT_MAX];
	assert_true(dns_name_to_text(m.qname, text, sizeof(text)) > 0);
	char *end = NULL;
	assert_int_equal(text[0], 'z');
	long idx = strtol(text + 1, &end, 10);
	assert_true(end != NULL && strcmp(end, ".multi.test.") == 0);
	if (answer((int)idx)) {
		buf[2] |= 0x80;   /* QR: the same message back as the answer */
		assert_int_equal(sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&ss, sl), len);
	}
	return (int)idx;
}

static bool
answer_even(int idx)
{
	return idx % 2 == 0;
}

static double
mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define MULTI 50
#define BURST 10

static struct notify *
sender(int *fd)
{
	struct sockaddr_in to;
	*fd = receiver(&to);
	struct sockaddr_in from = {.sin_family = AF_INET,
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct notify_source src = {.soa = src_soa, .key = src_key};
	int err = 0;
	struct notify *n = notify_new((struct sockaddr *)&from, sizeof(from), &src, NULL, &err);
	assert_non_null(n);
	assert_int_equal(notify_add_target(n, (struct sockaddr *)&to, sizeof(to)), 0);
	return n;
}

static void
multi_name(int i, uint8_t *out)
{
	char t[40];
	snprintf(t, sizeof(t), "z%d.multi.test.", i);
	assert_true(dns_name_from_text(t, strlen(t), NULL, out) > 0);
}

/*
 * MULTI zones, each committed 2 * BURST times at once (half before the
 * thread starts, half while their first NOTIFY is in flight): each zone
 * gets a few NOTIFYs, not 2 * BURST.  Answers are matched to their zone
 * by id among all in flight: an answered zone hears nothing more, and
 * every unanswered one is retried.
 */
static void
test_notify_coalesce_and_answers(void **state)
{
	(void)state;
	any_zone = true;
	stall_call = 0;
	int fd;
	struct notify *n = sender(&fd);
	uint8_t names[MULTI][DNS_NAME_MAX];
	for (int i = 0; i < MULTI; i++)
		multi_name(i, names[i]);
	for (int b = 0; b < BURST; b++)
		for (int i = 0; i < MULTI; i++)
			assert_int_equal(notify_zone(n, names[i], false), 0);
	double t0 = mono_s();
	assert_int_equal(notify_start(n), 0);
	for (int b = 0; b < BURST; b++)
		for (int i = 0; i < MULTI; i++)
			assert_int_equal(notify_zone(n, names[i], false), 0);

	int count[MULTI] = {0}, late[MULTI] = {0};
	for (;;) {
		int left = (int)((t0 + 1.3 - mono_s()) * 1000);
		if (left <= 0)
			break;
		int idx = recv_multi(fd, left, answer_even);
		if (idx < 0)
			break;
		assert_true(idx >= 0 && idx < MULTI);
		count[idx]++;
		if (mono_s() - t0 > 0.4)
			late[idx]++;
	}
	for (int i = 0; i < MULTI; i++) {
		if (i % 2 == 0) {
			/* 2 * BURST commits folded: the first NOTIFY, at most two
			 * superseding ones, then silence once answered. */
			assert_true(count[i] >= 1 && count[i] <= 3);
			assert_int_equal(late[i], 0);
		} else {
			/* Unanswered: retried with back-off (the 2nd or 3rd try lands
			 * between 0.4 s and 1.3 s). */
			assert_true(count[i] >= 2 && count[i] <= 5);
			assert_true(late[i] >= 1);
		}
	}
	notify_free(n);
	close(fd);
	any_zone = false;
}

#define MANY 20000

static bool
answer_none(int idx)
{
	(void)idx;
	return false;
}

static bool
answer_all(int idx)
{
	(void)idx;
	return true;
}

/*
 * A burst of MANY zone creates toward a target that does not answer: only
 * NOTIFY_WINDOW NOTIFYs fly at once (they once all went out and were all
 * retried, a dead target pushing the primary to hundreds of MiB and slowing
 * creation, issue 18); the thread's work to find and time the entries grows
 * with MANY, not MANY squared.  Once the target answers, every zone gets
 * through the window.
 */
static void
test_notify_burst_window(void **state)
{
	(void)state;
	any_zone = true;
	stall_call = 0;
	int fd;
	struct notify *n = sender(&fd);
	uint8_t *names = malloc((size_t)MANY * DNS_NAME_MAX);
	bool *seen = calloc(MANY, sizeof(*seen));
	assert_non_null(names);
	assert_non_null(seen);
	for (int i = 0; i < MANY; i++)
		multi_name(i, names + (size_t)i * DNS_NAME_MAX);
	assert_int_equal(notify_start(n), 0);
	double t0 = mono_s();
	for (int i = 0; i < MANY; i++)
		assert_int_equal(notify_zone(n, names + (size_t)i * DNS_NAME_MAX, false), 0);
	/* For a second (the first tries and some retries), the zones heard of. */
	int distinct = 0;
	double t1 = mono_s();
	while (mono_s() - t1 < 1.0) {
		int idx = recv_multi(fd, 100, answer_none);
		if (idx >= 0 && idx < MANY && !seen[idx]) {
			seen[idx] = true;
			distinct++;
		}
	}
	uint64_t sent = notify_sent(n), ops = notify_ops(n);
	print_message("%d zones: %d heard of in the first second, %llu sent, %llu entries visited\n",
	              MANY, distinct, (unsigned long long)sent, (unsigned long long)ops);
	assert_int_equal(distinct, NOTIFY_WINDOW);
	memset(seen, 0, MANY * sizeof(*seen));
	struct timespec ts = {0, 100 * 1000000L};
	/* A lookup per request plus a heap pop per send or park. */
	assert_true(ops < (uint64_t)MANY * 8);
	/* Another commit of a waiting zone is found and folded: no send. */
	uint64_t before = notify_ops(n);
	assert_int_equal(notify_zone(n, names + (size_t)(MANY / 2) * DNS_NAME_MAX, true), 0);
	nanosleep(&ts, NULL);
	print_message("one more commit among %d waiting zones: %llu entries visited\n", MANY,
	              (unsigned long long)(notify_ops(n) - before));
	assert_true(notify_ops(n) - before < 64);
	/* The target answers from now on: every zone gets its NOTIFY. */
	int got = 0;
	while (got < MANY && mono_s() - t0 < 60) {
		int idx = recv_multi(fd, 1000, answer_all);
		if (idx >= 0 && idx < MANY && !seen[idx]) {
			seen[idx] = true;
			got++;
		}
	}
	print_message("all %d zones answered %.3f s after the burst\n", got, mono_s() - t0);
	assert_int_equal(got, MANY);
	notify_free(n);
	close(fd);
	free(seen);
	free(names);
	any_zone = false;
}

/* One NOTIFY within `ms` on fd: 1 signed with key `key` (text), 0 unsigned, -1 none. */
static int
recv_signed(int fd, int ms, const char *key)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	if (poll(&pf, 1, ms) != 1)
		return -1;
	uint8_t buf[1024];
	ssize_t len = recv(fd, buf, sizeof(buf), 0);
	assert_true(len > 12);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, buf, (size_t)len), 0);
	assert_int_equal(dns_msg_opcode(&m), DNS_OP_NOTIFY);
	assert_true(dns_name_equal(m.qname, zone));
	if (!m.has_tsig)
		return 0;
	char text[DNS_NAME_TEXT_MAX];
	assert_true(dns_name_to_text(m.tsig.key, text, sizeof(text)) > 0);
	assert_string_equal(text, key);
	return 1;
}

/*
 * One sender, two targets (issue 14.3): a --notify target signed with the
 * zone's key (here none: unsigned) and a POP added while the thread runs,
 * signed with its own key.  A removed target hears nothing more, not even
 * the retries of what was in flight to it; the other goes on.
 */
static void
test_notify_targets_own_keys_and_removal(void **state)
{
	(void)state;
	any_zone = false;
	stall_call = 0;
	assert_true(dns_name_from_text("example.com.", 12, NULL, zone) > 0);
	int fd_a = -1;
	struct notify *n = sender(&fd_a);
	assert_int_equal(notify_start(n), 0);
	struct sockaddr_in to_b;
	int fd_b = receiver(&to_b);
	struct dns_tsig_key key;
	assert_int_equal(dns_tsig_key_parse(&key, "pop-b.:hmac-sha256:c2VjcmV0LXNlY3JldA==",
	                                    NULL, 0), 0);
	int id_b = notify_target_add(n, (struct sockaddr *)&to_b, sizeof(to_b), &key);
	assert_true(id_b > 0);   /* slot 0 is the first target's */

	assert_int_equal(notify_zone(n, zone, false), 0);
	assert_int_equal(recv_signed(fd_a, 2000, NULL), 0);
	assert_int_equal(recv_signed(fd_b, 2000, "pop-b."), 1);
	notify_target_remove(n, id_b);
	/* unanswered: the first target gets its retry, the removed one nothing */
	assert_int_equal(recv_signed(fd_a, 2000, NULL), 0);
	assert_int_equal(recv_signed(fd_b, NOTIFY_RETRY_MS * 3, "pop-b."), -1);
	assert_int_equal(notify_zone_to(n, zone, id_b, true), 0);
	assert_int_equal(recv_signed(fd_b, NOTIFY_RETRY_MS, "pop-b."), -1);
	notify_free(n);
	close(fd_a);
	close(fd_b);
}

/* The one socket is bound to the --xfr address: a target of the other family is refused. */
static void
test_notify_target_family(void **state)
{
	(void)state;
	struct sockaddr_in6 from6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct notify_source src = {.soa = src_soa, .key = src_key};
	int err = 0;
	struct notify *n = notify_new((struct sockaddr *)&from6, sizeof(from6), &src, NULL, &err);
	assert_non_null(n);
	struct sockaddr_in to4 = {.sin_family = AF_INET, .sin_port = htons(53),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(notify_target_add(n, (struct sockaddr *)&to4, sizeof(to4), NULL),
	                 -EAFNOSUPPORT);
	struct sockaddr_in6 to6 = {.sin6_family = AF_INET6, .sin6_port = htons(53),
	                           .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	assert_int_equal(notify_target_add(n, (struct sockaddr *)&to6, sizeof(to6), NULL), 0);
	notify_free(n);
	struct sockaddr_in from4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	n = notify_new((struct sockaddr *)&from4, sizeof(from4), &src, NULL, &err);
	assert_non_null(n);
	assert_int_equal(notify_target_add(n, (struct sockaddr *)&to6, sizeof(to6), NULL),
	                 -EAFNOSUPPORT);
	assert_int_equal(notify_target_add(n, (struct sockaddr *)&to4, sizeof(to4), NULL), 0);
	notify_free(n);
}

/* The next NOTIFY within `ms`, answered: its zone index, or -1. */
static int
answered_within(int fd, int ms)
{
	return recv_multi(fd, ms, answer_all);
}

/* Reports a transfer of another zone by the target every 50 ms for `ms`;
 * fails if a NOTIFY arrives meanwhile. */
static void
busy_for(struct propagation *prop, int fd, int ms)
{
	double end = mono_s() + ms / 1000.0;
	while (mono_s() < end) {
		propagation_seen(prop, "other.multi.test.", "127.0.0.1", "tcp", NULL, PROP_IXFR_DONE,
		                 9, propagation_now_ms());
		assert_int_equal(recv_multi(fd, 50, answer_all), -1);
	}
}

/*
 * An answered NOTIFY whose serial the target does not come for within
 * NOTIFY_NUDGE_MS is sent once more (knotd now and then defers a refresh);
 * not when the target fetched it, and not while the target is busy
 * transferring other zones (a bulk change it works through): then the nudge
 * waits until it is idle.
 */
static void
test_notify_nudge_unless_fetched_or_busy(void **state)
{
	(void)state;
	any_zone = true;
	stall_call = 0;
	struct propagation *prop = propagation_new();
	assert_non_null(prop);
	struct sockaddr_in to;
	int fd = receiver(&to);
	struct sockaddr_in from = {.sin_family = AF_INET,
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct notify_source src = {.soa = src_soa, .key = src_key};
	int err = 0;
	struct notify *n = notify_new((struct sockaddr *)&from, sizeof(from), &src, prop, &err);
	assert_non_null(n);
	assert_int_equal(notify_add_target(n, (struct sockaddr *)&to, sizeof(to)), 0);
	assert_int_equal(notify_start(n), 0);
	uint8_t z[3][DNS_NAME_MAX];
	for (int i = 0; i < 3; i++)
		multi_name(i, z[i]);

	/* idle and not fetched: nudged once, then silence */
	assert_int_equal(notify_zone(n, z[0], false), 0);
	assert_int_equal(answered_within(fd, 2000), 0);
	double t = mono_s();
	assert_int_equal(answered_within(fd, 3000), 0);
	assert_true(mono_s() - t >= NOTIFY_NUDGE_MS / 1000.0 - 0.01);
	assert_int_equal(answered_within(fd, 2 * NOTIFY_NUDGE_MS), -1);

	/* fetched: no nudge */
	assert_int_equal(notify_zone(n, z[1], false), 0);
	assert_int_equal(answered_within(fd, 2000), 1);
	propagation_seen(prop, "z1.multi.test.", "127.0.0.1", "tcp", NULL, PROP_IXFR_DONE, 7,
	                 propagation_now_ms());
	assert_int_equal(answered_within(fd, 3 * NOTIFY_NUDGE_MS), -1);

	/* busy with other zones for 4 nudge periods: no NOTIFY meanwhile; idle
	 * again: the nudge comes */
	assert_int_equal(notify_zone(n, z[2], false), 0);
	assert_int_equal(answered_within(fd, 2000), 2);
	busy_for(prop, fd, 4 * NOTIFY_NUDGE_MS);
	assert_int_equal(answered_within(fd, 3000), 2);
	assert_int_equal(answered_within(fd, 2 * NOTIFY_NUDGE_MS), -1);

	notify_free(n);
	propagation_free(prop);
	close(fd);
	any_zone = false;
}

int
main(void)
{
	log_set_level(LOG_WARNING);   /* one info line per NOTIFY otherwise */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_backoff_counts_from_the_send),
		cmocka_unit_test(test_notify_coalesce_and_answers),
		cmocka_unit_test(test_notify_burst_window),
		cmocka_unit_test(test_notify_targets_own_keys_and_removal),
		cmocka_unit_test(test_notify_target_family),
		cmocka_unit_test(test_notify_nudge_unless_fetched_or_busy),
	};
	return cmocka_run_group_tests_name("notify_send", tests, NULL, NULL);
}
