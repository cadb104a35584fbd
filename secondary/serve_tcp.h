/*
 * TCP service (RFC 7766) on its own thread, so a slow or idle client never
 * stalls the UDP workers: several queries per connection, answered in order
 * (pipelining), 2-byte framing, an idle timeout between messages, a
 * deadline for each message once its first byte is in, and limits on connections
 * per client address and in total.  A connection whose answer cannot be
 * written stops being read until the answer drains (back-pressure).
 */
#ifndef SECONDARY_SERVE_TCP_H
#define SECONDARY_SERVE_TCP_H

#include <stddef.h>
#include <sys/socket.h>

#include "secondary/serve.h"

struct serve_tcp_limits {
	unsigned max_conns;        /* total; default 512 */
	unsigned max_per_client;   /* per client address; default 32 */
	unsigned idle_ms;          /* idle timeout; default 10000 (RFC 7766 §6.2.3) */
	unsigned msg_ms;           /* a message, first byte to last; default 5000 (RFC 7766 §6.2.3) */
};

struct serve_tcp;

/*
 * Listens on `addrs[0..naddrs)` and starts the thread.  Returns NULL and
 * writes a reason into `err` on failure.
 */
struct serve_tcp *serve_tcp_start(const struct sockaddr_storage *addrs, size_t naddrs,
                                  const struct serve_ctx *tmpl,
                                  const struct serve_tcp_limits *lim, char *err, size_t errcap);

/*
 * A reload's limits: max_per_client, idle_ms and msg_ms (not 0) apply to
 * the next connection and the next sweep; max_conns needs a restart.
 * Open connections stay.  Thread-safe.
 */
void serve_tcp_set_limits(struct serve_tcp *t, const struct serve_tcp_limits *lim);

/* Stops and joins the thread, closes every socket, frees.  NULL is a no-op. */
void serve_tcp_stop(struct serve_tcp *t);

#endif
