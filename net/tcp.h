/*
 * DNS over TCP (RFC 7766, RFC 1035 §4.2.2): every message is preceded by a
 * 2-byte big-endian length.  Two halves, both generic (no DNS policy):
 *
 * - Blocking client helpers with deadlines, for transfers (connect, send one
 *   framed message, receive one framed message).
 * - A non-blocking framing state for servers: `struct tcp_frame` collects
 *   bytes as they arrive and hands out whole messages one at a time, so a
 *   connection may carry several pipelined queries and a slow client costs
 *   nothing but its buffer.
 *
 * Deadlines are absolute CLOCK_MONOTONIC milliseconds (tcp_now_ms()).
 */
#ifndef NET_TCP_H
#define NET_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "util/clock.h"

/* Largest DNS message over TCP. */
#define TCP_MSG_MAX 65535

/*
 * Cancel: the blocking client helpers take `cancel_fd` (an eventfd or pipe
 * of the caller, -1 for none); once it is readable they return -ECANCELED.
 * The secondary uses it at shutdown to cut transfers in progress.
 */

/* True once `cancel_fd` is readable (for transports that wait elsewhere); false for -1. */
bool tcp_cancel_requested(int cancel_fd);

/* CLOCK_MONOTONIC in milliseconds (clock_mono_ms, util/clock.h). */
static inline int64_t
tcp_now_ms(void)
{
	return clock_mono_ms();
}

/*
 * Opens a non-blocking listening socket on `sa` (SO_REUSEADDR, IPV6_V6ONLY
 * for IPv6).  Returns the fd or a negative errno.
 */
int tcp_listen(const struct sockaddr *sa, socklen_t len, int backlog);

/*
 * Connects to `sa` before `deadline`.  The socket is left non-blocking with
 * TCP_NODELAY.  Returns the fd, or -ETIMEDOUT, -ECONNREFUSED, -ECANCELED, other -errno.
 */
int tcp_connect(const struct sockaddr *sa, socklen_t len, int64_t deadline, int cancel_fd);

/*
 * Writes `len` bytes of `msg` with its 2-byte length prefix before
 * `deadline`.  Returns 0, -EMSGSIZE (len > TCP_MSG_MAX), -ETIMEDOUT,
 * -EPIPE/-ECONNRESET, -ECANCELED or another -errno.
 */
int tcp_send_msg(int fd, const uint8_t *msg, size_t len, int64_t deadline, int cancel_fd);

/*
 * Reads one framed message into `buf` (`cap` bytes) before `deadline`.
 * Returns its length (0 is possible: an empty frame), -ECONNRESET when the
 * peer closed (cleanly or not) before a whole message, -EMSGSIZE when the
 * message is larger than `cap` (the stream is then out of step: close it),
 * -ETIMEDOUT, -ECANCELED, or another -errno.
 */
ssize_t tcp_recv_msg(int fd, uint8_t *buf, size_t cap, int64_t deadline, int cancel_fd);

/*
 * Incremental receive side of one server connection (the secondary's query
 * server and the primary's transfer server).  The body buffer is allocated
 * when a length prefix needs it and kept for the next messages (grown,
 * never shrunk), so a connection costs the size of its largest query.
 */
struct tcp_frame {
	uint8_t pfx[2];
	uint8_t *body;   /* the current message, `cap` bytes allocated */
	size_t cap;
	size_t have;     /* bytes of the current frame (prefix included) read */
};

void tcp_frame_init(struct tcp_frame *f);
/* Frees the body buffer; the frame may be initialised again. */
void tcp_frame_clear(struct tcp_frame *f);

/*
 * Reads what the non-blocking socket `fd` has (at most up to the end of the
 * current frame, so no byte of the next query is consumed early).  Returns
 * >0 bytes read, 0 when the peer closed, -EAGAIN when nothing is waiting,
 * -ENOMEM, or another -errno.
 */
ssize_t tcp_frame_read(struct tcp_frame *f, int fd);

/*
 * When a whole message is buffered, sets *msg and *len to it and returns 1; the
 * message stays valid until tcp_frame_next().  Returns 0 while incomplete.
 */
int tcp_frame_ready(const struct tcp_frame *f, const uint8_t **msg, size_t *len);

/* Drops the message returned by tcp_frame_ready() and starts the next. */
void tcp_frame_next(struct tcp_frame *f);

/* Bytes buffered for the current, incomplete frame (0: between messages). */
size_t tcp_frame_pending(const struct tcp_frame *f);

/* The current message's announced length once its prefix is read, else -1. */
ssize_t tcp_frame_len(const struct tcp_frame *f);

#endif
