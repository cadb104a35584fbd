/*
 * UDP service: `workers` threads, each with its own SO_REUSEPORT socket on
 * every listen address (the kernel spreads clients over them), reading and
 * answering in recvmmsg/sendmmsg batches of SERVE_UDP_BATCH.  A worker is an
 * RCU reader (liburcu-qsbr): it goes offline while it sleeps in epoll_wait
 * and announces a quiescent state after every batch, so a waiting publisher
 * is never held up by an idle worker.
 */
#ifndef SECONDARY_SERVE_UDP_H
#define SECONDARY_SERVE_UDP_H

#include <stddef.h>
#include <sys/socket.h>

#include "secondary/serve.h"

#define SERVE_UDP_BATCH 64

struct serve_udp;

/*
 * Binds `workers` sockets on each of `addrs[0..naddrs)` and starts the
 * threads.  `tmpl` is copied for each worker (its stats are replaced by the
 * worker's own).  Returns NULL and writes a reason into `err` on failure
 * (address in use, permission).
 */
struct serve_udp *serve_udp_start(const struct sockaddr_storage *addrs, size_t naddrs,
                                  unsigned workers, const struct serve_ctx *tmpl, char *err,
                                  size_t errcap);

/* Stops and joins the threads, closes the sockets, frees.  NULL is a no-op. */
void serve_udp_stop(struct serve_udp *u);

#endif
