/*
 * The primary's transfer port over TCP (RFC 7766): one thread, one epoll
 * loop, non-blocking sockets.  Each connection may carry several requests
 * in a row; each request is answered by xfrout one message at a time, so a
 * connection never buffers more than one request (<= 64 KiB) and one
 * answer message (<= 64 KiB).  Timeouts: idle (no request in progress), a
 * request that takes too long to arrive (slow senders), and an answer that
 * makes no progress (clients that stop reading).  Limits: connections in
 * total and per client address; at a limit the connection idle the longest
 * is closed to make room, and when none is idle the new one is refused.
 */
#ifndef PRIMARY_XFR_TCP_H
#define PRIMARY_XFR_TCP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct xfrout;

struct xfr_tcp_conf {
	unsigned max_conns;          /* total (default 1024) */
	unsigned max_per_client;     /* per client address (default 512) */
	unsigned idle_timeout_ms;    /* no request in progress (default 10000) */
	unsigned request_timeout_ms; /* first byte to last byte of a request (default 5000) */
	unsigned write_timeout_ms;   /* no write progress (default 20000) */
};

struct xfr_tcp;

/*
 * Binds and listens on `addr` (IPv4 or IPv6).  `conf` NULL takes the
 * defaults; `x` is borrowed and must outlive the server.  Returns NULL and
 * sets *err (negative errno) on failure.
 */
struct xfr_tcp *xfr_tcp_new(const struct sockaddr *addr, socklen_t alen,
                            const struct xfr_tcp_conf *conf, struct xfrout *x, int *err);
/* Starts the server thread.  0 or negative errno. */
int xfr_tcp_start(struct xfr_tcp *s);
/* Stops the thread, closes every connection and frees.  NULL is a no-op. */
void xfr_tcp_free(struct xfr_tcp *s);
/* Open connections now (for tests and metrics). */
unsigned xfr_tcp_conns(struct xfr_tcp *s);

/*
 * DNS UPDATEs over UDP (they arrive on notify.c's socket) answered by the
 * UPDATE workers, as those over TCP are, so several wait for the store's
 * group commit together and none holds up the NOTIFY thread.  Before
 * xfr_tcp_start: the answers go out on a copy of `fd` (dup).  0 or -errno.
 */
int xfr_tcp_set_udp(struct xfr_tcp *s, int fd);
/*
 * Queues one UDP request `q` from `ss` (`ctx`: the server), copied.  Its
 * answer goes out when the request's TSIG verified, else only when no larger
 * than the request (no amplification).  0 when queued, -EBUSY when
 * XFR_TCP_UDP_QUEUE requests already wait (dropped: the client sends again),
 * -ENOMEM, -ENOTCONN without xfr_tcp_set_udp.
 */
#define XFR_TCP_UDP_QUEUE 256
int xfr_tcp_udp(void *ctx, const uint8_t *q, size_t len, const struct sockaddr_storage *ss,
                socklen_t sl);

#endif
