/*
 * The XoQ transport of the transfer client: maps open / send / receive onto
 * net/quic.h's pull-style streams.  "open" only remembers the client (its
 * connection is opened on first use and kept for the next refresh); each
 * request (the SOA query, then the IXFR or AXFR) gets its own stream, as
 * RFC 9250 §4.2 wants; the server's FIN ends the answer.
 */
#include "secondary/xfrin.h"

#include <errno.h>
#include <string.h>

#include "net/quic.h"
#include "net/tcp.h"

struct qconn {
	struct quic_client *client;
	struct quic_stream *stream;
};

static int
q_open(struct xfr_conn *c, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
	(void)sa;   /* the client was made for the primary's address */
	(void)len;
	(void)deadline;
	c->priv = NULL;
	c->fd = -1;
	if (c->t->ctx == NULL)
		return -EINVAL;
	return 0;
}

static void
q_end_stream(struct xfr_conn *c)
{
	struct quic_stream *s = c->priv;
	if (s != NULL)
		quic_stream_close(s);
	c->priv = NULL;
}

static int
q_send(struct xfr_conn *c, const uint8_t *msg, size_t len, int64_t deadline)
{
	q_end_stream(c);   /* the previous request's answer is complete */
	int64_t left = deadline - tcp_now_ms();
	if (left <= 0)
		return -ETIMEDOUT;
	struct quic_stream *s = NULL;
	int r = quic_stream_open(c->t->ctx, msg, len, (unsigned)left, &s);
	if (r != 0)
		return r;
	c->priv = s;
	return 0;
}

static ssize_t
q_recv(struct xfr_conn *c, uint8_t *buf, size_t cap, int64_t deadline)
{
	struct quic_stream *s = c->priv;
	if (s == NULL)
		return -EINVAL;
	/* Short waits, so that a shutdown (tcp_cancel_requested) cuts the transfer. */
	for (;;) {
		int64_t left = deadline - tcp_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (tcp_cancel_requested())
			return -ECANCELED;
		ssize_t n = quic_stream_recv(s, buf, cap, left > 250 ? 250 : (unsigned)left);
		if (n == -ETIMEDOUT)
			continue;
		if (n == 0)
			return -ECONNRESET;   /* FIN before the message the caller waits for */
		return n;
	}
}

static void
q_close(struct xfr_conn *c)
{
	q_end_stream(c);
}

void
xfr_transport_quic_init(struct xfr_transport *t, void *client)
{
	memset(t, 0, sizeof(*t));
	t->name = "QUIC";
	t->open = q_open;
	t->send = q_send;
	t->recv = q_recv;
	t->close = q_close;
	t->ctx = client;
	t->zero_id = true;
	t->pad_block = 128;   /* RFC 8467 §4.1 block size for queries */
	t->refused = NULL;    /* a client exists: transfers may run */
}
