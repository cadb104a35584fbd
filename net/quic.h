/*
 * DNS zone transfers over QUIC (XoQ, RFC 9250) on ngtcp2 0.12 + GnuTLS.
 * The files net/quic_*.c are the only ones that include <ngtcp2/...>; their
 * shared internals and layering are in net/quic_int.h.
 *
 * Server (the primary, on --quic): one thread owns a non-blocking UDP socket
 * and an epoll loop with a timerfd for ngtcp2's timers (loss detection,
 * pacing, ACK delay, idle and handshake timeouts).  TLS 1.3 only, ALPN "doq"
 * mandatory, no 0-RTT, Retry (address validation tokens) when many
 * handshakes are pending or always if asked, limits on connections (total,
 * per client address) and concurrent streams per connection.  Each request
 * stream is reassembled by net/doq.c; a complete query is passed to the
 * handler ON THE QUIC THREAD.  The handler either answers at once or keeps
 * the `struct quic_reply *` and answers from any other thread later
 * (quic_reply_send()/quic_reply_end() are thread-safe and wake the QUIC
 * thread), so a large AXFR can be built on a worker without stalling other
 * connections.  Answers are queued per stream and written as the peer's
 * stream and connection windows open.
 *
 * The server's static secret (tokens, stateless resets) derives from its key:
 * after a restart with the same key, a packet of a connection it lost is
 * answered with a stateless reset the client recognises (RFC 9000 §10.3).
 *
 * Client (the secondary): struct quic_client keeps one connection to one
 * server, opened on first use and reopened after it closes; it runs its own
 * thread.  Requests from any thread each get a bidirectional stream
 * (quic_stream_open/recv/close, the one request API); many may run at once
 * on the connection.
 *
 * Message ids: the client sends what the caller gives (RFC 9250 says 0; the
 * caller sets it).  The server passes the query as received and puts the
 * query's id into every answer message (Knot 3.3+ sends non-zero ids and
 * checks the echo); with `doq_strict` a non-zero id closes the connection
 * with DOQ_PROTOCOL_ERROR (RFC 9250 §4.2.1, §4.3.3).
 * Padding: EDNS(0) padding (RFC 9250 §5.4) is the caller's job; doq_pad()
 * in net/doq.h pads a query to 128 octets (call it before TSIG signing is
 * not possible: pad first, then sign, or pad unsigned queries only).
 */
#ifndef NET_QUIC_H
#define NET_QUIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "net/doq.h"

/* SPKI pin text: base64 of a SHA-256 digest, 44 characters + NUL. */
#define QUIC_PIN_LEN 45

/*
 * Loads the private key in `key_file` (PEM), or when the file does not exist
 * generates an ECDSA P-256 key and writes it there with mode 0600.  Fills
 * `pin` with base64(SHA-256(SubjectPublicKeyInfo DER)), Knot's cert-key form.
 * Returns 0, -EINVAL (unreadable key), -EIO, or a negative errno.
 */
int quic_spki_pin(const char *key_file, char pin[QUIC_PIN_LEN]);

/* Counters; all monotonic except conns_open. */
struct quic_stats {
	uint64_t conns_accepted;     /* connections created (after address checks) */
	uint64_t conns_open;         /* current connections */
	uint64_t conns_refused;      /* refused by limits (EXCESSIVE_LOAD) */
	uint64_t handshakes_done;
	uint64_t handshake_failures; /* TLS failure, wrong ALPN, wrong pin, timeout */
	uint64_t retries_sent;
	uint64_t streams;            /* request streams opened */
	uint64_t stream_errors;      /* streams or connections closed with a DoQ error */
	uint64_t bytes_rx;           /* UDP payload bytes */
	uint64_t bytes_tx;
	uint64_t pkts_rx;
	uint64_t pkts_tx;
	uint64_t pkts_lost;          /* packets with STREAM data declared lost (retransmitted) */
	uint64_t stateless_resets;   /* sent (server, for unknown connections) or received */
};

/*
 * Writes `st` in Prometheus text format, one counter or gauge per line,
 * named `<prefix>_quic_<field>` (e.g. anycst_quic_conns_accepted_total),
 * with HELP and TYPE lines.  Returns the length, or -ENOSPC.
 */
int quic_stats_prometheus(const struct quic_stats *st, const char *prefix, char *buf, size_t cap);

/* ------------------------------------------------------------------ server */

struct quic_server;
struct quic_reply;

/* The requesting peer; valid during the handler call only. */
struct quic_peer {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t conn_id;       /* unique per connection, for counting transfers per connection */
	int64_t stream_id;
};

/*
 * Called for each complete query, on the QUIC thread (cfg.workers 0) or on
 * a worker thread (cfg.workers > 0).  `query` is valid during the call only.  The handler must eventually call quic_reply_end()
 * or quic_reply_abort() on `r`, from this or any other thread; until then
 * `r` stays valid even if the peer goes away (sends then fail with
 * -ECONNRESET).  It must not block for long on the QUIC thread.
 */
typedef void (*quic_handler_fn)(void *ctx, const struct quic_peer *peer, const uint8_t *query,
                                size_t len, struct quic_reply *r);

struct quic_server_cfg {
	const char *listen;             /* "127.0.0.1:8853", "[::1]:853"; port 0 picks one */
	const char *key_file;           /* created if missing (see quic_spki_pin) */
	quic_handler_fn handler;
	void *handler_ctx;
	unsigned max_conns;             /* 0: 1024 */
	unsigned max_conns_per_addr;    /* 0: 256 */
	unsigned max_streams;           /* concurrent request streams per connection; 0: 1024 */
	unsigned idle_timeout_ms;       /* 0: 60000 */
	unsigned handshake_timeout_ms;  /* 0: 5000 */
	unsigned retry_threshold;       /* pending handshakes before Retry is required; 0: 64 */
	bool retry_always;              /* validate every new client address with Retry */
	bool doq_strict;                /* non-zero query id -> DOQ_PROTOCOL_ERROR */
	unsigned workers;               /* >0: call the handler on this many worker threads,
	                                 * where it may block (quic_reply_wait); 0: on the
	                                 * QUIC thread, where it must not */
};

/*
 * Binds the socket, loads or creates the key, starts the QUIC thread.
 * Returns 0 and sets *out, or a negative errno (-EADDRINUSE, -EINVAL...).
 */
int quic_server_new(const struct quic_server_cfg *cfg, struct quic_server **out);
/* Stops the thread, closes every connection and frees.  NULL is a no-op. */
void quic_server_free(struct quic_server *srv);
/* The bound port (useful with port 0). */
uint16_t quic_server_port(const struct quic_server *srv);
/* The pin of the server's key. */
const char *quic_server_pin(const struct quic_server *srv);
void quic_server_stats(const struct quic_server *srv, struct quic_stats *st);

/*
 * Queues one DNS message (`len` <= 65535, copied) as the next answer on the
 * stream; the query's message id is written into the copy.  Thread-safe.
 * Returns 0, -EMSGSIZE, -ENOMEM, -EINVAL (after end/abort), or -ECONNRESET
 * when the stream is gone (the caller still calls quic_reply_end()).
 */
int quic_reply_send(struct quic_reply *r, const uint8_t *msg, size_t len);
/*
 * quic_reply_send() and quic_reply_end() in one step: the FIN leaves in the
 * same packet as the message (no second wake-up and packet for the FIN, one
 * round of the QUIC thread less on a short answer's latency).  On 0 the
 * answer is ended and `r` is invalid; on an error nothing changed and the
 * caller still calls quic_reply_end() or quic_reply_abort().
 */
int quic_reply_send_last(struct quic_reply *r, const uint8_t *msg, size_t len);
/* Ends the answer: FIN after the last message.  `r` is invalid afterwards. */
void quic_reply_end(struct quic_reply *r);
/* Resets the stream with a DoQ error code.  `r` is invalid afterwards. */
void quic_reply_abort(struct quic_reply *r, enum doq_error code);
/* Bytes queued but not yet handed to QUIC; a producer may wait while large. */
size_t quic_reply_backlog(const struct quic_reply *r);
/*
 * Blocks until the backlog is at most `max_backlog` bytes (flow control for
 * a producer off the QUIC thread; never call it on the QUIC thread).
 * Returns 0, -ECONNRESET (stream gone: stop producing, still end/abort),
 * or -ETIMEDOUT after `timeout_ms`.
 *
 * Typical worker handler for a transfer (cfg.workers > 0):
 *     t = xfrout_begin(...);
 *     while ((n = xfrout_next(t, buf, cap)) > 0)
 *             if (quic_reply_wait(r, 4 << 20, 30000) != 0 ||
 *                 quic_reply_send(r, buf, n) != 0) break;
 *     n == 0 ? quic_reply_end(r) : quic_reply_abort(r, DOQ_INTERNAL_ERROR);
 */
int quic_reply_wait(struct quic_reply *r, size_t max_backlog, unsigned timeout_ms);

/* ------------------------------------------------------------------ client */

struct quic_client;

struct quic_client_cfg {
	const char *remote;             /* "10.53.0.1:8853" */
	const char *pin;                /* base64 SPKI SHA-256; NULL needs `insecure` */
	bool insecure;                  /* accept any key, with a warning in the log */
	const char *alpn;               /* NULL: "doq" (tests use another to check refusal) */
	unsigned idle_timeout_ms;       /* 0: 10000: a dead path is noticed this soon */
	unsigned handshake_timeout_ms;  /* 0: 5000 */
	bool no_keepalive;              /* default: PING every idle_timeout/4 so the
	                                 * connection stays up between transfers */
};

/*
 * Creates the client and its thread; connects on the first request.
 * Returns 0, -EINVAL (bad address, neither pin nor insecure), or -errno.
 */
int quic_client_new(const struct quic_client_cfg *cfg, struct quic_client **out);
/* Cancels outstanding requests (their done callback sees -ECANCELED), frees. */
void quic_client_free(struct quic_client *cl);

/*
 * The one request API: each request is a stream the caller reads message by
 * message on its own thread (secondary/xfrin's transport interface maps onto
 * it: send -> quic_stream_open, recv -> quic_stream_recv, close ->
 * quic_stream_close); many may be open at once on the client's connection.
 * The query (copied, <= 65535 bytes) is sent as given on a new stream with
 * FIN; answer messages are copied and queued for the caller.  `timeout_ms`
 * bounds the whole request (0: none).
 * Returns 0 and sets *out, or -EINVAL, -EMSGSIZE, -ENOMEM.
 */
struct quic_stream;
int quic_stream_open(struct quic_client *cl, const uint8_t *query, size_t len, unsigned timeout_ms,
                     struct quic_stream **out);
/*
 * Copies the next answer message into `buf`: returns its length; 0 once the
 * server's FIN ended the answer (every message read); -EMSGSIZE if `cap` is
 * too small (the message is dropped); -ETIMEDOUT if nothing arrived within
 * `wait_ms` (0: wait for ever; the request goes on); or the request's
 * failure status: -ETIMEDOUT, -ECONNREFUSED (handshake failed: wrong pin,
 * wrong ALPN, no server), -ECONNRESET (connection lost), -EPROTO (DoQ
 * framing violation, or the server reset the stream: see
 * quic_stream_app_error), -ECANCELED (client freed).
 */
ssize_t quic_stream_recv(struct quic_stream *s, uint8_t *buf, size_t cap, unsigned wait_ms);
/* The DoQ error code the server reset or closed with, once the request failed; else 0. */
uint64_t quic_stream_app_error(struct quic_stream *s);
/* Cancels the request if unfinished (DOQ_REQUEST_CANCELLED), waits for it to let go, frees. */
void quic_stream_close(struct quic_stream *s);

/*
 * Tells the client that the server is up (it sent a NOTIFY).  A connection
 * that has heard nothing from the server for longer than the keep-alive
 * interval is then dropped, and requests go out at once on a new one.  The
 * same check runs after any request timeout.  Connection losses without an
 * error from the server (stateless reset from a restarted server, idle
 * timeout) send requests that got no answer yet once more on a new
 * connection.  Thread-safe; NULL is a no-op.
 */
void quic_client_server_alive(struct quic_client *cl);

/* Connection statistics of this client (conns_accepted counts connects). */
void quic_client_stats(const struct quic_client *cl, struct quic_stats *st);
/* The server pin seen on the current or last connection, "" if none. */
void quic_client_peer_pin(const struct quic_client *cl, char pin[QUIC_PIN_LEN]);

/* ------------------------------------------------------------------ tests */

/*
 * Opens `n` connections to `remote` that send their first Initial and then
 * fall silent (handshakes that never finish), from one socket each.
 * Returns the number sent or a negative errno.  For tests of server limits.
 */
int quic_debug_half_open(const char *remote, unsigned n);

/*
 * Raw request for tests of server error handling: sends `data` as given
 * (no framing added) on a new stream, FIN if `fin`, then `after` (if any)
 * as more stream data before FIN.  Waits up to `timeout_ms`.  Returns 0 if
 * the server answered with FIN, or the DoQ application error the server
 * closed the stream or connection with as a positive number (+2 for
 * DOQ_PROTOCOL_ERROR), or a negative errno.
 */
int quic_debug_raw(struct quic_client *cl, const uint8_t *data, size_t len,
                   const uint8_t *after, size_t after_len, unsigned timeout_ms);

#endif
