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
#include "primary/xfrout.h"

static uint8_t zone[DNS_NAME_MAX];
static int soa_calls;
static int stall_call;       /* this SOA lookup (1-based) takes STALL_MS */
#define STALL_MS 200

static int
src_soa(void *ctx, const uint8_t *z, struct xfrout_buf *soa, uint32_t *serial)
{
	(void)ctx;
	if (!dns_name_equal(z, zone))
		return -ENOENT;
	if (++soa_calls == stall_call) {
		struct timespec ts = {0, STALL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	/* ". . 7 3600 600 86400 300" */
	uint8_t rd[22] = {0, 0, 0, 0, 0, 7, 0, 0, 0x0e, 0x10, 0, 0, 0x02, 0x58,
	                  0, 1, 0x51, 0x80, 0, 0, 0x01, 0x2c};
	struct dns_rr rr = {.owner = zone, .type = DNS_T_SOA, .rclass = DNS_C_IN, .ttl = 300,
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_backoff_counts_from_the_send),
	};
	return cmocka_run_group_tests_name("notify_send", tests, NULL, NULL);
}
