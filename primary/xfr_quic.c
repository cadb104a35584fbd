/*
 * The primary's XoQ listener (see xfr_quic.h).  net/quic owns the socket,
 * the connections and their streams; this file only turns one complete
 * request into xfrout's answer, on a worker thread: begin, then next ->
 * wait for room -> send per message, then FIN (or a stream reset when the
 * answer cannot be completed), then end, which logs and records the
 * transfer in the propagation table.
 */
#include "primary/xfr_quic.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/addr.h"
#include "net/quic.h"
#include "primary/xfrout.h"
#include "util/keyfile.h"
#include "util/log.h"

/* Answer bytes queued on one stream before the producer waits for the peer. */
#define XFR_QUIC_BACKLOG (4u << 20)
/* How long a producer waits for a peer that reads nothing (then the stream is reset). */
#define XFR_QUIC_STALL_MS 30000u
#define XFR_QUIC_WORKERS 8u

/* Message buffers kept for the next request (two a worker at work): two
 * fresh 64 KiB buffers a transfer cost page faults and heap trimming each. */
#define XFR_QUIC_SPARE 32

struct xfr_quic {
	struct quic_server *srv;
	struct xfrout *x;
	pthread_mutex_t lock;
	uint8_t *spare[XFR_QUIC_SPARE];
	size_t nspare;
};

static uint8_t *
buf_get(struct xfr_quic *q)
{
	uint8_t *b = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->nspare > 0)
		b = q->spare[--q->nspare];
	pthread_mutex_unlock(&q->lock);
	return b != NULL ? b : malloc(XFROUT_MSG_MAX);
}

static void
buf_put(struct xfr_quic *q, uint8_t *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	if (q->nspare < XFR_QUIC_SPARE) {
		q->spare[q->nspare++] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&q->lock);
	free(b);
}

static void
on_request(void *ctx, const struct quic_peer *peer, const uint8_t *query, size_t len,
           struct quic_reply *r)
{
	struct xfr_quic *q = ctx;
	struct xfrout_txn *t = NULL;
	int ret = xfrout_begin(q->x, query, len, (const struct sockaddr *)&peer->addr, "QUIC", &t);
	if (ret != 0) {
		/* -EINVAL: not a query we can answer at all (shorter than a header,
		 * or a response); -ENOMEM: ours. */
		quic_reply_abort(r, ret == -EINVAL ? DOQ_PROTOCOL_ERROR : DOQ_INTERNAL_ERROR);
		return;
	}
	/* One message of lookahead: the last one goes out with the FIN in one
	 * packet (quic_reply_send_last), so a short answer costs the QUIC thread
	 * one wake-up and the client one packet. */
	uint8_t *buf[2] = { buf_get(q), buf_get(q) };
	bool ended = false;
	ssize_t n = buf[0] != NULL && buf[1] != NULL ? 1 : -ENOMEM;
	ssize_t cur = n > 0 ? xfrout_next(t, buf[0], XFROUT_MSG_MAX) : n;
	n = cur;
	unsigned i = 0;
	while (cur > 0) {
		ssize_t nxt = xfrout_next(t, buf[i ^ 1], XFROUT_MSG_MAX);
		int w = quic_reply_wait(r, XFR_QUIC_BACKLOG, XFR_QUIC_STALL_MS);
		if (w == 0 && nxt == 0) {
			w = quic_reply_send_last(r, buf[i], (size_t)cur);
			ended = w == 0;
		} else if (w == 0) {
			w = quic_reply_send(r, buf[i], (size_t)cur);
		}
		n = w != 0 ? w : nxt;
		if (n <= 0)
			break;
		cur = nxt;
		i ^= 1;
	}
	buf_put(q, buf[0]);
	buf_put(q, buf[1]);
	if (ended) {
		xfrout_end(t);
		return;
	}
	if (n == 0) {
		quic_reply_end(r);
	} else {
		/* The stream is gone, the peer stalled, or the answer failed midway:
		 * the reset tells a live client that the transfer is incomplete. */
		quic_reply_abort(r, DOQ_INTERNAL_ERROR);
		if (n == -ETIMEDOUT) {
			char ab[ADDR_TEXT_MAX];
			log_warning(NULL, "QUIC, remote %s, stream %lld, client reads nothing for %u s, "
			            "transfer reset", addr_fmt((const struct sockaddr *)&peer->addr, ab,
			                                       sizeof(ab)),
			            (long long)peer->stream_id, XFR_QUIC_STALL_MS / 1000);
		}
	}
	/* xfrout_next may already have said "complete" for the message that
	 * failed to go out: make end() log the failure. */
	xfrout_undelivered(t);
	xfrout_end(t);
}

/* "127.0.0.1:8853" or "[::1]:8853" of the bound socket, for the start-up line. */
static void
listen_text(const char *listen, uint16_t port, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char ip[ADDR_TEXT_MAX];
	if (addr_parse(listen, 8853, &ss, &sl) != 0) {
		snprintf(buf, cap, "%s", listen);
		return;
	}
	addr_fmt_ip((const struct sockaddr *)&ss, ip, sizeof(ip));
	if (ss.ss_family == AF_INET6)
		snprintf(buf, cap, "[%s]:%u", ip, (unsigned)port);
	else
		snprintf(buf, cap, "%s:%u", ip, (unsigned)port);
}

int
xfr_quic_start(const struct xfr_quic_opts *o, struct xfrout *x, struct xfr_quic **out,
               char *err, size_t errcap)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (o->listen == NULL || addr_parse(o->listen, 8853, &ss, &sl) != 0) {
		snprintf(err, errcap, "--quic: bad address '%s'", o->listen ? o->listen : "");
		return -EINVAL;
	}
	if (o->key_file == NULL || o->key_file[0] == '\0') {
		snprintf(err, errcap, "--tls-key: no file given");
		return -EINVAL;
	}
	/* An existing key that group or others may read is refused, like ssh does. */
	int ret = keyfile_check("--tls-key", o->key_file, err, errcap);
	if (ret != 0 && ret != -ENOENT)
		return ret;
	/* Load or create the key first, so its faults are told apart from the socket's. */
	char pin[QUIC_PIN_LEN];
	ret = quic_spki_pin(o->key_file, pin);
	if (ret != 0) {
		snprintf(err, errcap, "--tls-key %s: cannot load or create the QUIC key, %s",
		         o->key_file, ret == -EINVAL ? "not a PEM private key" : strerror(-ret));
		return ret;
	}
	struct xfr_quic *q = calloc(1, sizeof(*q));
	if (q == NULL) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	q->x = x;
	pthread_mutex_init(&q->lock, NULL);
	struct quic_server_cfg cfg = {
		.listen = o->listen,
		.key_file = o->key_file,
		.handler = on_request,
		.handler_ctx = q,
		.doq_strict = o->doq_strict,
		.workers = o->workers ? o->workers : XFR_QUIC_WORKERS,
	};
	ret = quic_server_new(&cfg, &q->srv);
	if (ret != 0) {
		snprintf(err, errcap, "--quic %s: cannot listen on UDP, %s", o->listen, strerror(-ret));
		pthread_mutex_destroy(&q->lock);
		free(q);
		return ret;
	}
	char lt[ADDR_TEXT_MAX + 8];
	listen_text(o->listen, quic_server_port(q->srv), lt, sizeof(lt));
	log_notice(NULL, "QUIC listening on %s, SPKI pin %s%s", lt, quic_server_pin(q->srv),
	           o->doq_strict ? ", strict message ids (RFC 9250 4.2.1)" : "");
	*out = q;
	return 0;
}

void
xfr_quic_stop(struct xfr_quic *q)
{
	if (q == NULL)
		return;
	quic_server_free(q->srv);
	for (size_t i = 0; i < q->nspare; i++)
		free(q->spare[i]);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

const char *
xfr_quic_pin(const struct xfr_quic *q)
{
	return quic_server_pin(q->srv);
}

uint16_t
xfr_quic_port(const struct xfr_quic *q)
{
	return quic_server_port(q->srv);
}

int
xfr_quic_metrics(void *ctx, char *buf, size_t cap)
{
	struct xfr_quic *q = ctx;
	struct quic_stats st;
	quic_server_stats(q->srv, &st);
	return quic_stats_prometheus(&st, "anycst", buf, cap);
}
