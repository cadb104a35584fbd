/*
 * Clock, sockets, timers, stream send queues, the shared write loop
 * and metrics.
 * See net/quic.h (API) and net/quic_int.h (layers).
 */
#include "net/quic_int.h"

void
quic_rand_cb(uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *rctx)
{
	(void)rctx;
	(void)gnutls_rnd(GNUTLS_RND_RANDOM, dest, destlen);
}

int
quic_random_cid(ngtcp2_cid *cid, size_t len)
{
	cid->datalen = len;
	return gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, len) == 0 ? 0 : -EIO;
}

void
quic_stat_add(uint64_t *p, uint64_t v)
{
	__atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

void
quic_stat_sub(uint64_t *p, uint64_t v)
{
	__atomic_sub_fetch(p, v, __ATOMIC_RELAXED);
}

void
quic_stats_copy(struct quic_stats *dst, const struct quic_stats *src)
{
	const uint64_t *s = (const uint64_t *)src;
	uint64_t *d = (uint64_t *)dst;
	for (size_t i = 0; i < sizeof(*src) / sizeof(uint64_t); i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

int
quic_udp_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int v = SOCK_BUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	if (family == AF_INET6) {
		int off = 0;
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	}
	return fd;
}

/* Sends one datagram; on a full socket buffer waits briefly once, then drops (QUIC recovers). */
int
quic_send_pkt(int fd, const struct sockaddr *to, socklen_t tolen, const uint8_t *p, size_t len)
{
	for (int tries = 0; tries < 2; tries++) {
		ssize_t n = sendto(fd, p, len, 0, to, tolen);
		if (n >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		(void)poll(&pfd, 1, 20);
	}
	return -EAGAIN;
}

/*
 * Arms the loop's timerfd for `at` unless it already fires at or before
 * that (`*armed`, UINT64_MAX when nothing is armed; the caller resets it
 * when the timer fires).  ngtcp2's expiry moves on nearly every packet (its
 * pacing time among others) and timerfd_settime reprograms a kernel hrtimer
 * each time: it was the largest cost of a short request.  A timer that fires
 * early only costs one loop round that finds nothing expired.  Returns true
 * when `at` has already passed: the caller then polls without blocking
 * instead of taking a round trip through the timerfd.
 */
bool
quic_arm_timer(int tfd, ngtcp2_tstamp *armed, ngtcp2_tstamp at)
{
	if (at <= quic_now())
		return true;
	if (at >= *armed)
		return false;
	*armed = at;
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	if (at != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(at / NGTCP2_SECONDS);
		its.it_value.tv_nsec = (long)(at % NGTCP2_SECONDS);
	}
	(void)timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
	return false;
}

void
quic_drain_fd(int fd)
{
	uint64_t v;
	while (read(fd, &v, sizeof(v)) > 0) {
	}
}

void
quic_wake_fd(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));
	(void)n;
}

/* Stream data queue: chunks in stream order; never moved once queued. */
struct chunk *
quic_chunk_new(size_t len)
{
	struct chunk *c = malloc(sizeof(*c) + len);
	if (c != NULL) {
		c->next = NULL;
		c->len = len;
		c->off = 0;
	}
	return c;
}

void
quic_chunks_free(struct chunk *c)
{
	while (c != NULL) {
		struct chunk *n = c->next;
		free(c);
		c = n;
	}
}

void
quic_sendq_push(struct sendq *q, struct chunk *c)
{
	c->off = q->queued;
	c->next = NULL;
	q->queued += c->len;
	if (q->tail != NULL)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
	if (q->cur == NULL) {
		q->cur = c;
		q->cur_off = 0;
	}
}

bool
quic_sendq_pending(const struct sendq *q)
{
	return q->sent < q->queued || (q->fin_wanted && !q->fin_sent);
}

/* Up to `max` vectors of unsent data; returns the count and whether all unsent data is in them. */
size_t
quic_sendq_vecs(const struct sendq *q, ngtcp2_vec *v, size_t max, bool *all)
{
	size_t n = 0;
	const struct chunk *c = q->cur;
	size_t off = q->cur_off;
	while (c != NULL && n < max) {
		if (c->len > off) {
			v[n].base = (uint8_t *)c->data + off;
			v[n].len = c->len - off;
			n++;
		}
		c = c->next;
		off = 0;
	}
	*all = c == NULL;
	return n;
}

void
quic_sendq_advance(struct sendq *q, size_t n)
{
	q->sent += n;
	while (n > 0 && q->cur != NULL) {
		size_t left = q->cur->len - q->cur_off;
		if (n < left) {
			q->cur_off += n;
			return;
		}
		n -= left;
		q->cur = q->cur->next;
		q->cur_off = 0;
	}
}

void
quic_sendq_ack(struct sendq *q, uint64_t upto)
{
	while (q->head != NULL && q->head != q->cur && q->head->off + q->head->len <= upto) {
		struct chunk *c = q->head;
		q->head = c->next;
		if (q->head == NULL)
			q->tail = NULL;
		free(c);
	}
}

void
quic_sendq_clear(struct sendq *q)
{
	quic_chunks_free(q->head);
	memset(q, 0, sizeof(*q));
}

/* Rate limit for repeated log lines: at most one per kind per 10 s. */
bool
quic_log_ok(ngtcp2_tstamp *last, ngtcp2_tstamp now)
{
	if (*last != 0 && now - *last < 10 * NGTCP2_SECONDS)
		return false;
	*last = now;
	return true;
}

int
quic_stats_prometheus(const struct quic_stats *st, const char *prefix, char *buf, size_t cap)
{
	static const struct {
		const char *name, *help;
		size_t off;
		bool gauge;
	} f[] = {
		{ "conns_accepted", "QUIC connections accepted",
		  offsetof(struct quic_stats, conns_accepted), false },
		{ "conns_open", "QUIC connections open now", offsetof(struct quic_stats, conns_open),
		  true },
		{ "conns_refused", "QUIC connections refused by limits",
		  offsetof(struct quic_stats, conns_refused), false },
		{ "handshakes", "QUIC handshakes completed",
		  offsetof(struct quic_stats, handshakes_done), false },
		{ "handshake_failures", "QUIC handshakes failed (TLS, ALPN, pin, timeout)",
		  offsetof(struct quic_stats, handshake_failures), false },
		{ "retries", "QUIC Retry packets sent", offsetof(struct quic_stats, retries_sent),
		  false },
		{ "streams", "DoQ request streams", offsetof(struct quic_stats, streams), false },
		{ "stream_errors", "DoQ streams or connections closed with an error",
		  offsetof(struct quic_stats, stream_errors), false },
		{ "bytes_received", "QUIC UDP payload bytes received",
		  offsetof(struct quic_stats, bytes_rx), false },
		{ "bytes_sent", "QUIC UDP payload bytes sent", offsetof(struct quic_stats, bytes_tx),
		  false },
		{ "packets_received", "QUIC packets received", offsetof(struct quic_stats, pkts_rx),
		  false },
		{ "packets_sent", "QUIC packets sent", offsetof(struct quic_stats, pkts_tx), false },
		{ "packets_lost", "QUIC packets with stream data declared lost and retransmitted",
		  offsetof(struct quic_stats, pkts_lost), false },
		{ "stateless_resets", "QUIC stateless resets sent (server) or received (client)",
		  offsetof(struct quic_stats, stateless_resets), false },
	};
	size_t len = 0;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		uint64_t v;
		memcpy(&v, (const uint8_t *)st + f[i].off, sizeof(v));
		const char *sfx = f[i].gauge ? "" : "_total";
		int n = snprintf(buf + len, cap - len,
		                 "# HELP %s_quic_%s%s %s\n# TYPE %s_quic_%s%s %s\n%s_quic_%s%s %llu\n",
		                 prefix, f[i].name, sfx, f[i].help, prefix, f[i].name, sfx,
		                 f[i].gauge ? "gauge" : "counter", prefix, f[i].name, sfx,
		                 (unsigned long long)v);
		if (n < 0 || (size_t)n >= cap - len)
			return -ENOSPC;
		len += (size_t)n;
	}
	return (int)len;
}

void
quic_transport_params(ngtcp2_transport_params *p, bool server, unsigned idle_ms, unsigned streams)
{
	ngtcp2_transport_params_default(p);
	p->initial_max_streams_uni = 0;
	p->initial_max_streams_bidi = server ? streams : 0;
	p->initial_max_stream_data_bidi_local = STREAM_WINDOW;
	p->initial_max_stream_data_bidi_remote = server ? 65536 + 2 : STREAM_WINDOW;
	p->initial_max_data = CONN_WINDOW;
	p->max_idle_timeout = (uint64_t)idle_ms * NGTCP2_MILLISECONDS;
	p->disable_active_migration = 1;
}

void
quic_settings_init(ngtcp2_settings *st, unsigned hs_ms)
{
	ngtcp2_settings_default(st);
	st->initial_ts = quic_now();
	st->max_window = MAX_CONN_WINDOW;
	st->max_stream_window = MAX_STREAM_WINDOW;
	st->handshake_timeout = (uint64_t)hs_ms * NGTCP2_MILLISECONDS;
	/* BBR paces by measured bandwidth and RTT instead of backing off on every
	 * loss, which keeps long transfers moving on randomly lossy paths. */
	st->cc_algo = NGTCP2_CC_ALGO_BBR;
}

int
quic_loop_fds(int *efd, int *tfd, int *epfd)
{
	*efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	*tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	*epfd = epoll_create1(EPOLL_CLOEXEC);
	if (*efd < 0 || *tfd < 0 || *epfd < 0)
		return -errno;
	struct epoll_event e = { .events = EPOLLIN };
	e.data.fd = *efd;
	if (epoll_ctl(*epfd, EPOLL_CTL_ADD, *efd, &e) != 0)
		return -errno;
	e.data.fd = *tfd;
	if (epoll_ctl(*epfd, EPOLL_CTL_ADD, *tfd, &e) != 0)
		return -errno;
	return 0;
}

void
quic_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void
send_one(const struct quic_tx *tx, const uint8_t *p, size_t len)
{
	/* Counted before the send: on loopback the peer may read the packet
	 * (and a test the counters) before sendto returns here. */
	quic_stat_add(&tx->st->pkts_tx, 1);
	quic_stat_add(&tx->st->bytes_tx, len);
	if (quic_send_pkt(tx->fd, (const struct sockaddr *)tx->to, tx->tolen, p, len) != 0) {
		quic_stat_sub(&tx->st->pkts_tx, 1);
		quic_stat_sub(&tx->st->bytes_tx, len);
	}
}

/*
 * Sends `len` bytes holding packets of `seg` bytes (the last may be
 * shorter) with one UDP GSO sendmsg; falls back to one datagram each.
 */
static void
send_batch(const struct quic_tx *tx, const uint8_t *p, size_t len, size_t seg)
{
	if (len <= seg || *tx->no_gso) {
		for (size_t off = 0; off < len; off += seg)
			send_one(tx, p + off, len - off < seg ? len - off : seg);
		return;
	}
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cm;
	memset(&cm, 0, sizeof(cm));
	struct iovec iov = { (void *)(uintptr_t)p, len };
	struct msghdr mh;
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = (void *)(uintptr_t)tx->to;
	mh.msg_namelen = tx->tolen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	uint16_t s16 = (uint16_t)seg;
	memcpy(CMSG_DATA(c), &s16, sizeof(s16));
	/* counted before the send, as in send_one(), taken back if it fails */
	quic_stat_add(&tx->st->pkts_tx, (len + seg - 1) / seg);
	quic_stat_add(&tx->st->bytes_tx, len);
	for (int tries = 0; tries < 2; tries++) {
		if (sendmsg(tx->fd, &mh, 0) >= 0)
			return;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			struct pollfd pfd = { .fd = tx->fd, .events = POLLOUT };
			(void)poll(&pfd, 1, 20);
			continue;
		}
		break;
	}
	int err = errno;
	quic_stat_sub(&tx->st->pkts_tx, (len + seg - 1) / seg);
	quic_stat_sub(&tx->st->bytes_tx, len);
	if (err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP) {
		*tx->no_gso = true;     /* no GSO here (device or kernel): datagrams */
		send_batch(tx, p, len, seg);
	}
}

/* Packets gathered in tx->buf: one GSO batch of packets of `seg` bytes. */
struct batch {
	size_t off, seg;
};

/* Adds the packet of `pn` bytes just written at buf + off to the batch. */
static void
batch_add(const struct quic_tx *tx, struct batch *b, size_t pn)
{
	if (b->off == 0) {
		b->seg = pn;
		b->off = pn;
	} else if (pn > b->seg) {
		/* larger than the batch's segments: send those, start anew */
		send_batch(tx, tx->buf, b->off, b->seg);
		memmove(tx->buf, tx->buf + b->off, pn);
		b->seg = pn;
		b->off = pn;
	} else {
		b->off += pn;
	}
	if (pn < b->seg || *tx->no_gso) {
		/* a short packet ends a GSO batch */
		send_batch(tx, tx->buf, b->off, b->seg);
		b->off = 0;
	}
}

/* Takes the `ndatalen` bytes ngtcp2 accepted from stream `s` (with FIN if flagged). */
static void
tx_accepted(const struct quic_tx *tx, const struct quic_txs *s, uint32_t fl, ngtcp2_ssize ndatalen)
{
	if (s->q == NULL || ndatalen < 0)
		return;
	quic_sendq_advance(s->q, (size_t)ndatalen);
	if ((fl & NGTCP2_WRITE_STREAM_FLAG_FIN) && s->q->sent == s->q->queued)
		s->q->fin_sent = true;
	if (tx->wrote != NULL)
		tx->wrote(tx->ctx, s->owner);
}

/*
 * The one write loop of server and client connections: streams with data
 * (picked by tx->next) share packets until ngtcp2 has nothing more or the
 * per-call cap; packets of one size leave with one GSO call.  Returns 0,
 * 1 when stopped at the cap (call again), or ngtcp2's fatal error (< 0).
 */
int
quic_tx_write(const struct quic_tx *tx)
{
	ngtcp2_tstamp ts = quic_now();
	size_t maxlen = ngtcp2_conn_get_path_max_tx_udp_payload_size(tx->conn);
	if (maxlen > tx->cap)
		maxlen = tx->cap;
	unsigned npkts = 0;
	int ret = 0;
	ngtcp2_pkt_info pi;
	memset(&pi, 0, sizeof(pi));
	struct batch b = { 0, 0 };
	for (;;) {
		if (b.off + maxlen > tx->cap) {
			send_batch(tx, tx->buf, b.off, b.seg);
			b.off = 0;
		}
		struct quic_txs s = { -1, NULL, NULL };
		ngtcp2_vec v[16];
		size_t nv = 0;
		bool all = true;
		uint32_t fl = NGTCP2_WRITE_STREAM_FLAG_MORE;
		if (tx->next(tx->ctx, &s)) {
			nv = quic_sendq_vecs(s.q, v, 16, &all);
			if (all && s.q->fin_wanted)
				fl |= NGTCP2_WRITE_STREAM_FLAG_FIN;
		}
		ngtcp2_ssize ndatalen = -1;
		ngtcp2_ssize n = ngtcp2_conn_writev_stream(tx->conn, NULL, &pi, tx->buf + b.off, maxlen,
		                                           &ndatalen, fl, s.id, v, nv, ts);
		if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
			tx->blocked(tx->ctx, s.owner);
			continue;
		}
		if (n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND) {
			/* nothing more can leave on this stream */
			s.q->sent = s.q->queued;
			s.q->cur = NULL;
			s.q->fin_sent = true;
			tx->blocked(tx->ctx, s.owner);
			continue;
		}
		if (n == NGTCP2_ERR_WRITE_MORE) {
			tx_accepted(tx, &s, fl, ndatalen);
			continue;
		}
		if (n < 0) {
			ret = (int)n;
			break;
		}
		tx_accepted(tx, &s, fl, ndatalen);
		if (n == 0)
			break;
		batch_add(tx, &b, (size_t)n);
		if (++npkts >= MAX_PKTS_PER_WRITE) {
			ret = 1;
			break;
		}
	}
	if (b.off > 0)
		send_batch(tx, tx->buf, b.off, b.seg);
	if (ret >= 0)
		ngtcp2_conn_update_pkt_tx_time(tx->conn, ts);
	return ret;
}

int
quic_acked(ngtcp2_conn *conn, int64_t stream_id, uint64_t offset, uint64_t datalen,
           void *user_data, void *stream_user_data)
{
	(void)conn;
	(void)stream_id;
	(void)user_data;
	struct sendq *q = stream_user_data;
	if (q != NULL)
		quic_sendq_ack(q, offset + datalen);
	return 0;
}
