/* net/tcp.c: RFC 7766 framing, client helpers and the incremental server side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "net/tcp.h"

static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

static void
test_tcp_frame_pipelined_and_split(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	struct tcp_frame *f = malloc(sizeof(*f));
	tcp_frame_init(f);
	const uint8_t *m;
	size_t len;
	/* Two frames and the first byte of a third, in one write. */
	uint8_t data[] = {0, 3, 'a', 'b', 'c', 0, 1, 'x', 0};
	assert_int_equal(write(sv[1], data, sizeof(data)), sizeof(data));
	while (!tcp_frame_ready(f, &m, &len))
		assert_true(tcp_frame_read(f, sv[0]) > 0);
	assert_int_equal(len, 3);
	assert_memory_equal(m, "abc", 3);
	/* Reading stops at the frame end: the next query stays in the socket. */
	assert_int_equal(tcp_frame_read(f, sv[0]), -EAGAIN);
	tcp_frame_next(f);
	while (!tcp_frame_ready(f, &m, &len))
		assert_true(tcp_frame_read(f, sv[0]) > 0);
	assert_int_equal(len, 1);
	assert_int_equal(m[0], 'x');
	tcp_frame_next(f);
	/* Half a length prefix, then nothing yet. */
	assert_int_equal(tcp_frame_read(f, sv[0]), 1);
	assert_int_equal(tcp_frame_read(f, sv[0]), -EAGAIN);
	assert_false(tcp_frame_ready(f, &m, &len));
	assert_int_equal(tcp_frame_pending(f), 1);
	/* An empty frame (length 0) is a whole message of 0 bytes. */
	uint8_t zero[] = {0};
	assert_int_equal(write(sv[1], zero, 1), 1);
	assert_int_equal(tcp_frame_read(f, sv[0]), 1);
	assert_true(tcp_frame_ready(f, &m, &len));
	assert_int_equal(len, 0);
	tcp_frame_next(f);
	/* A larger message after small ones: the body grows; the length is known early. */
	static uint8_t big[2 + 40000];
	big[0] = 40000 >> 8;
	big[1] = 40000 & 0xff;
	memset(big + 2, 'y', 40000);
	assert_int_equal(tcp_frame_len(f), -1);
	assert_int_equal(write(sv[1], big, 2), 2);
	assert_int_equal(tcp_frame_read(f, sv[0]), 2);
	assert_int_equal(tcp_frame_len(f), 40000);
	assert_int_equal(write(sv[1], big + 2, 40000), 40000);
	while (!tcp_frame_ready(f, &m, &len))
		assert_true(tcp_frame_read(f, sv[0]) > 0);
	assert_int_equal(len, 40000);
	assert_memory_equal(m, big + 2, 40000);
	tcp_frame_next(f);
	/* The peer hangs up. */
	close(sv[1]);
	assert_int_equal(tcp_frame_read(f, sv[0]), 0);
	close(sv[0]);
	tcp_frame_clear(f);
	free(f);
}

static void
test_tcp_send_recv_roundtrip_and_limits(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	uint8_t *big = malloc(TCP_MSG_MAX);
	for (size_t i = 0; i < TCP_MSG_MAX; i++)
		big[i] = (uint8_t)i;
	assert_int_equal(tcp_send_msg(sv[0], big, TCP_MSG_MAX + 1, tcp_now_ms() + 1000, -1),
	                 -EMSGSIZE);
	/* (A full 65535-byte message would need a concurrent reader on a socketpair.) */
	assert_int_equal(tcp_send_msg(sv[0], big, 1000, tcp_now_ms() + 1000, -1), 0);
	uint8_t *in = malloc(TCP_MSG_MAX);
	assert_int_equal(tcp_recv_msg(sv[1], in, TCP_MSG_MAX, tcp_now_ms() + 1000, -1), 1000);
	assert_memory_equal(in, big, 1000);
	/* Too large for the caller's buffer. */
	assert_int_equal(tcp_send_msg(sv[0], big, 600, tcp_now_ms() + 1000, -1), 0);
	assert_int_equal(tcp_recv_msg(sv[1], in, 500, tcp_now_ms() + 1000, -1), -EMSGSIZE);
	/* Nothing arrives: the deadline holds. */
	int64_t t0 = tcp_now_ms();
	int sv2[2];
	pair(sv2);
	assert_int_equal(tcp_recv_msg(sv2[1], in, 500, t0 + 100, -1), -ETIMEDOUT);
	assert_true(tcp_now_ms() - t0 >= 90);
	/* The caller's cancel fd cuts a wait at once. */
	int efd = eventfd(1, EFD_NONBLOCK);
	assert_true(tcp_cancel_requested(efd));
	t0 = tcp_now_ms();
	assert_int_equal(tcp_recv_msg(sv2[1], in, 500, t0 + 5000, efd), -ECANCELED);
	assert_true(tcp_now_ms() - t0 < 1000);
	assert_false(tcp_cancel_requested(-1));
	close(efd);
	/* The peer closes in the middle of a message. */
	uint8_t partial[] = {0, 10, 1, 2};
	assert_int_equal(write(sv2[0], partial, sizeof(partial)), sizeof(partial));
	close(sv2[0]);
	assert_int_equal(tcp_recv_msg(sv2[1], in, 500, tcp_now_ms() + 1000, -1), -ECONNRESET);
	close(sv2[1]);
	close(sv[0]);
	close(sv[1]);
	free(big);
	free(in);
}

static void
test_tcp_connect_refused_and_listen(void **state)
{
	(void)state;
	/* Listen on an ephemeral port, learn it, close: connecting there is refused. */
	struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int lfd = tcp_listen((struct sockaddr *)&any, sizeof(any), 8);
	assert_true(lfd >= 0);
	struct sockaddr_in bound;
	socklen_t bl = sizeof(bound);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&bound, &bl), 0);
	int c = tcp_connect((struct sockaddr *)&bound, bl, tcp_now_ms() + 1000, -1);
	assert_true(c >= 0);
	uint8_t msg[] = {0x12, 0x34};
	assert_int_equal(tcp_send_msg(c, msg, sizeof(msg), tcp_now_ms() + 1000, -1), 0);
	int a = accept(lfd, NULL, NULL);
	assert_true(a >= 0);
	fcntl(a, F_SETFL, O_NONBLOCK);
	uint8_t in[16];
	assert_int_equal(tcp_recv_msg(a, in, sizeof(in), tcp_now_ms() + 1000, -1), 2);
	assert_int_equal(in[0], 0x12);
	close(a);
	close(c);
	close(lfd);
	assert_int_equal(tcp_connect((struct sockaddr *)&bound, bl, tcp_now_ms() + 1000, -1),
	                 -ECONNREFUSED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_frame_pipelined_and_split),
		cmocka_unit_test(test_tcp_send_recv_roundtrip_and_limits),
		cmocka_unit_test(test_tcp_connect_refused_and_listen),
	};
	return cmocka_run_group_tests_name("tcp", tests, NULL, NULL);
}
