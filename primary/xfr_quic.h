/*
 * The primary's transfer port over QUIC (XoQ, RFC 9250, ALPN "doq") on
 * --quic: net/quic's server with a small pool of worker threads, each
 * request stream answered by the same transport-neutral xfrout code as the
 * TCP port (SOA, AXFR, IXFR; TSIG, ACL, propagation tracking and logs, the
 * transport named "QUIC").  A worker produces one answer message at a time
 * and waits while the stream's unsent backlog is large, so a slow or lossy
 * peer holds a bounded amount of memory.  The TLS key (--tls-key) is
 * created on first start (mode 0600); its SPKI SHA-256 pin is logged at
 * start and handed to the API.
 */
#ifndef PRIMARY_XFR_QUIC_H
#define PRIMARY_XFR_QUIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xfrout;
struct xfr_quic;

struct xfr_quic_opts {
	const char *listen;     /* --quic ADDR:PORT (port 0 picks one) */
	const char *key_file;   /* --tls-key FILE, created if missing */
	bool doq_strict;        /* --doq-strict: a non-zero message id is DOQ_PROTOCOL_ERROR */
	unsigned workers;       /* transfer worker threads; 0: 8 */
};

/*
 * Starts the listener.  `x` is borrowed and must outlive the listener.  On
 * error writes a message naming the fault into `err` and returns -EINVAL
 * (bad address or key file), -EADDRINUSE, -EIO or another negative errno.
 */
int xfr_quic_start(const struct xfr_quic_opts *o, struct xfrout *x, struct xfr_quic **out,
                   char *err, size_t errcap);

/* Closes every connection, stops the threads, frees.  NULL is a no-op. */
void xfr_quic_stop(struct xfr_quic *q);

/* The SPKI pin (base64 SHA-256) of the listener's key; lives as long as q. */
const char *xfr_quic_pin(const struct xfr_quic *q);

/* The bound UDP port. */
uint16_t xfr_quic_port(const struct xfr_quic *q);

/*
 * Writes the QUIC counters (connections, streams, bytes, lost and
 * retransmitted packets, handshake failures) in Prometheus text format,
 * named anycst_quic_*, into `buf`.  `ctx` is a struct xfr_quic *; the
 * signature fits api_opts.metrics_fn.  Returns the length or -ENOSPC.
 */
int xfr_quic_metrics(void *ctx, char *buf, size_t cap);

#endif
