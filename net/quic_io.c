/*
 * Clock, sockets, timers, stream send queues, the shared write loop and metrics (see net/quic.h, net/quic_int.h).
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
