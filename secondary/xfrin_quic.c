/*
 * The XoQ transport of the transfer client: maps open / send / receive onto
 * net/quic.h's pull-style streams.  "open" only remembers the client (its
 * connection is opened on first use and kept for the next refresh); each
 * request (the SOA query, then the IXFR or AXFR) gets its own stream, as
 * RFC 9250 §4.2 wants; the server's FIN ends the answer.
 *
 * Dead connections: the client (net/quic_client.c) notices a dead path by its
 * keep-alive PINGs and idle timeout, honours stateless resets from a
 * restarted primary and sends unanswered requests again on a new
 * connection; a NOTIFY (server_alive) drops a connection that went silent.
 * When QUIC still fails refresh after refresh, the optional TCP fallback
 * (struct xfr_quic_fallback) carries the transfers for a while.
 */
#include "secondary/xfrin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"
#include "net/quic.h"
#include "net/tcp.h"
#include "util/log.h"

struct qconn {
	struct quic_stream *stream;
	bool tcp;            /* this refresh runs over the TCP fallback (c->fd) */
	bool answered;       /* an answer came over QUIC: the connection works */
	bool counted;        /* this refresh's failure is counted */
	uint8_t *req;        /* the last request, to send it over TCP after all */
	size_t reqlen;
	int64_t cancel_checked;   /* tcp_now_ms() of the last look at the cancel fd */
};

/* How often a transfer whose messages keep coming looks at the cancel fd
 * (a poll() each message was one system call a zone more). */
#define CANCEL_CHECK_MS 250

bool
xfr_quic_fallback_active(struct xfr_quic_fallback *fb)
{
	if (fb == NULL || fb->tcplen == 0)
		return false;
	int64_t until = atomic_load(&fb->tcp_until);
	if (until == 0)
		return false;
	if (tcp_now_ms() < until)
		return true;
	if (atomic_compare_exchange_strong(&fb->tcp_until, &until, 0))
		log_notice(NULL, "transfers over QUIC again (TCP fallback to %s ended)",
		           fb->tcp_txt);
	return false;
}

const char *
xfr_transport_name(const struct xfr_transport *t)
{
	return xfr_quic_fallback_active(t->fallback) ? "TCP (QUIC fallback)" : t->name;
}

/* One more refresh whose QUIC connection failed; returns true when TCP is due now. */
static bool
note_failure(struct xfr_quic_fallback *fb)
{
	if (fb == NULL || fb->tcplen == 0)
		return false;
	unsigned n = atomic_fetch_add(&fb->fails, 1) + 1;
	if (n < XFR_QUIC_FALLBACK_FAILS)
		return false;
	int64_t zero = 0;
	int64_t until = tcp_now_ms() + (int64_t)XFR_QUIC_FALLBACK_S * 1000;
	if (atomic_compare_exchange_strong(&fb->tcp_until, &zero, until))
		log_warning(NULL, "transfers failed over QUIC %u times in a row, falling back to "
		            "TCP %s for %d s", n, fb->tcp_txt, XFR_QUIC_FALLBACK_S);
	return true;
}

static int
q_open(struct xfr_conn *c, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
	(void)sa;   /* the client was made for the primary's address */
	(void)len;
	c->priv = NULL;
	c->fd = -1;
	if (c->t->ctx == NULL)
		return -EINVAL;
	struct qconn *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	c->priv = q;
	q->cancel_checked = tcp_now_ms();   /* a short answer comes before the first look */
	struct xfr_quic_fallback *fb = c->t->fallback;
	if (!xfr_quic_fallback_active(fb))
		return 0;
	q->tcp = true;
	return xfr_transport_tcp.open(c, (const struct sockaddr *)&fb->tcp, fb->tcplen, deadline);
}

static void
q_end_stream(struct qconn *q)
{
	if (q->stream != NULL)
		quic_stream_close(q->stream);
	q->stream = NULL;
}

static int
q_send(struct xfr_conn *c, const uint8_t *msg, size_t len, int64_t deadline)
{
	struct qconn *q = c->priv;
	if (q == NULL)
		return -EINVAL;
	if (q->tcp)
		return xfr_transport_tcp.send(c, msg, len, deadline);
	q_end_stream(q);   /* the previous request's answer is complete */
	int64_t left = deadline - tcp_now_ms();
	if (left <= 0)
		return -ETIMEDOUT;
	if (c->t->fallback != NULL && !q->answered) {
		uint8_t *copy = realloc(q->req, len);
		if (copy == NULL)
			return -ENOMEM;
		memcpy(copy, msg, len);
		q->req = copy;
		q->reqlen = len;
	}
	return quic_stream_open(c->t->ctx, msg, len, (unsigned)left, &q->stream);
}

/* The refresh's QUIC connection failed before any answer: count it, maybe go on over TCP. */
static ssize_t
q_failed(struct xfr_conn *c, struct qconn *q, ssize_t err, uint8_t *buf, size_t cap,
         int64_t deadline)
{
	if (q->answered || q->counted || err == -ECANCELED)
		return err;
	q->counted = true;
	if (!note_failure(c->t->fallback) || q->req == NULL)
		return err;
	q_end_stream(q);
	struct xfr_quic_fallback *fb = c->t->fallback;
	q->tcp = true;
	int ret = xfr_transport_tcp.open(c, (const struct sockaddr *)&fb->tcp, fb->tcplen,
	                                 deadline);
	if (ret == 0)
		ret = xfr_transport_tcp.send(c, q->req, q->reqlen, deadline);
	if (ret != 0)
		return err;   /* the QUIC failure is the one to report */
	return xfr_transport_tcp.recv(c, buf, cap, deadline);
}

static ssize_t
q_recv(struct xfr_conn *c, uint8_t *buf, size_t cap, int64_t deadline)
{
	struct qconn *q = c->priv;
	if (q == NULL)
		return -EINVAL;
	if (q->tcp)
		return xfr_transport_tcp.recv(c, buf, cap, deadline);
	if (q->stream == NULL)
		return -EINVAL;
	/* Short waits, so that a shutdown (c->cancel_fd) cuts the transfer: it
	 * is looked at after a wait that timed out and every CANCEL_CHECK_MS. */
	for (;;) {
		int64_t now = tcp_now_ms();
		int64_t left = deadline - now;
		if (left <= 0)
			return q_failed(c, q, -ETIMEDOUT, buf, cap, deadline);
		if (now - q->cancel_checked >= CANCEL_CHECK_MS) {
			if (tcp_cancel_requested(c->cancel_fd))
				return -ECANCELED;
			q->cancel_checked = now;
		}
		ssize_t n = quic_stream_recv(q->stream, buf, cap, left > 250 ? 250 : (unsigned)left);
		if (n == -ETIMEDOUT) {
			q->cancel_checked = 0;   /* idle: look again before the next wait */
			continue;
		}
		if (n == 0)
			return -ECONNRESET;   /* FIN before the message the caller waits for */
		if (n == -ECONNREFUSED || n == -ECONNRESET || n == -ETIMEDOUT)
			return q_failed(c, q, n, buf, cap, deadline);
		if (n > 0 && !q->answered) {
			q->answered = true;
			if (c->t->fallback != NULL)
				atomic_store(&c->t->fallback->fails, 0);
		}
		return n;
	}
}

static void
q_close(struct xfr_conn *c)
{
	struct qconn *q = c->priv;
	if (q != NULL) {
		q_end_stream(q);
		free(q->req);
		free(q);
	}
	c->priv = NULL;
	if (c->fd >= 0)
		xfr_transport_tcp.close(c);
}

static void
q_server_alive(const struct xfr_transport *t)
{
	quic_client_server_alive(t->ctx);
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
	t->server_alive = q_server_alive;
	t->ctx = client;
	t->zero_id = true;
	t->pad_block = 128;   /* RFC 8467 §4.1 block size for queries */
	t->refused = NULL;    /* a client exists: transfers may run */
}

void
xfr_transport_quic_fallback(struct xfr_transport *t, struct xfr_quic_fallback *fb,
                            const struct sockaddr *tcp, socklen_t tcplen)
{
	if (tcplen > sizeof(fb->tcp))
		return;
	memcpy(&fb->tcp, tcp, tcplen);
	fb->tcplen = tcplen;
	addr_fmt(tcp, fb->tcp_txt, sizeof(fb->tcp_txt));
	atomic_store(&fb->fails, 0);
	atomic_store(&fb->tcp_until, 0);
	t->fallback = fb;
}
