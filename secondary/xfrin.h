/*
 * Transfers in: SOA check, then IXFR (RFC 1995) from the serial we hold or
 * AXFR (RFC 5936), over a small transport interface (TCP, and XoQ through
 * the same three calls in xfrin_quic.c).  Everything received is checked before the
 * caller may publish it:
 *   - every message: our id, QR, opcode QUERY, rcode NOERROR, the question
 *     echoed, TSIG on every message (RFC 8945 §5.3.1) when a key is set;
 *   - AXFR: SOA first and last with the same serial, all owners in the zone,
 *     nothing after the closing SOA;
 *   - IXFR: difference sequences chained (each old serial equals the
 *     previous new one, starting at ours), every serial moving forward in
 *     RFC 1982 terms, or an AXFR-style full zone (RFC 1995 §4), or a single
 *     SOA (up to date);
 *   - the new serial is greater than ours (RFC 1982).
 * A transfer that fails any check is rejected whole: nothing is returned.
 *
 * Records land in an arena owned by struct xfr_result (one reset frees the
 * whole transfer).  This module never touches the zone database: the caller
 * applies the result (removed records must exist there; the database checks).
 */
#ifndef SECONDARY_XFRIN_H
#define SECONDARY_XFRIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "dns/name.h"
#include "dns/rr.h"
#include "dns/tsig.h"
#include "util/arena.h"

/* ---- transport: open / send request / receive messages ---- */

struct xfr_conn;

struct xfr_transport {
	const char *name;     /* "TCP", "QUIC": used in logs */
	/* Connects before `deadline` (ms, tcp_now_ms clock).  0 or -errno. */
	int (*open)(struct xfr_conn *c, const struct sockaddr *sa, socklen_t len,
	            int64_t deadline);
	/* Sends one request message (a new stream for QUIC).  0 or -errno. */
	int (*send)(struct xfr_conn *c, const uint8_t *msg, size_t len, int64_t deadline);
	/* Receives the next answer message.  Length, or -ECONNRESET/-ETIMEDOUT/-errno. */
	ssize_t (*recv)(struct xfr_conn *c, uint8_t *buf, size_t cap, int64_t deadline);
	void (*close)(struct xfr_conn *c);
	void *ctx;            /* transport-wide state (the QUIC client), seen by open() */
	bool zero_id;         /* message id 0 (RFC 9250 §4.2.1) */
	size_t pad_block;     /* EDNS(0) padding of requests to this block (RFC 9250 §5.4) */
	const char *refused;  /* non-NULL: every refresh fails with this reason (no --pin) */
	/* The primary is up (it sent a NOTIFY): drop a connection that went silent.  May be NULL. */
	void (*server_alive)(const struct xfr_transport *t);
	struct xfr_quic_fallback *fallback;   /* XoQ only: TCP when QUIC keeps failing */
};

/*
 * TCP fallback of the XoQ transport (caller's storage, zeroed before
 * xfr_transport_quic_fallback()): after XFR_QUIC_FALLBACK_FAILS refreshes in a
 * row whose QUIC connection failed before any answer (handshake refused or
 * timed out, connection lost), transfers use TCP to `tcp` for
 * XFR_QUIC_FALLBACK_S seconds (logged), then QUIC again.  The request that
 * hit the limit goes out over TCP at once.
 */
#define XFR_QUIC_FALLBACK_FAILS 3
#define XFR_QUIC_FALLBACK_S 60
struct xfr_quic_fallback {
	struct sockaddr_storage tcp;  /* the primary's TCP transfer address */
	socklen_t tcplen;
	char tcp_txt[64];
	atomic_uint fails;            /* QUIC refreshes failed before any answer, in a row */
	_Atomic int64_t tcp_until;    /* tcp_now_ms(): TCP until then, 0: QUIC */
};

struct xfr_conn {
	const struct xfr_transport *t;
	int fd;
	int cancel_fd;        /* readable: cut the transfer (-ECANCELED); -1: none */
	void *priv;           /* transport state (QUIC) */
};

/* DNS over TCP with 2-byte framing (net/tcp.h). */
extern const struct xfr_transport xfr_transport_tcp;

/*
 * XoQ (RFC 9250) through net/quic.h: one request per stream on the shared
 * connection of `client` (a struct quic_client, which keeps the connection
 * open between refreshes and checks the pin).  Fills `t` (name "QUIC").
 */
void xfr_transport_quic_init(struct xfr_transport *t, void *client);
/* Enables the TCP fallback of `t` to `tcp` (the primary's TCP transfer address). */
void xfr_transport_quic_fallback(struct xfr_transport *t, struct xfr_quic_fallback *fb,
                                 const struct sockaddr *tcp, socklen_t tcplen);
/* Whether the fallback is in force now (transfers go over TCP). */
bool xfr_quic_fallback_active(struct xfr_quic_fallback *fb);
/* The transport's name for logs: its name, or "TCP (QUIC fallback)" while that is in force. */
const char *xfr_transport_name(const struct xfr_transport *t);

/* ---- one record list ---- */

struct xfr_rr {
	struct xfr_rr *next;
	struct dns_rr rr;     /* owner and rdata point into the result arena */
};

struct xfr_rrlist {
	struct xfr_rr *head, *tail;
	size_t count;
};

/* One IXFR difference: from serial `from` to `to`. */
struct xfr_diff {
	struct xfr_diff *next;
	uint32_t from, to;
	struct xfr_rr *soa_from, *soa_to;
	struct xfr_rrlist del, add;   /* without the SOAs */
};

enum xfr_kind {
	XFR_UPTODATE = 0,     /* nothing to do (remote serial not newer) */
	XFR_AXFR,             /* full zone in `full` (SOA included once) */
	XFR_IXFR,             /* differences in `diffs`, oldest first */
};

struct xfr_result {
	enum xfr_kind kind;
	bool asked_ixfr;          /* we sent IXFR (log "IXFR" even for a full answer) */
	uint32_t serial_from;     /* ours (when we had one) */
	uint32_t serial_to;       /* remote's */
	bool remote_older;        /* remote SOA serial is lower than ours */
	bool soa_checked;         /* the SOA query succeeded (a failure after it is the transfer's) */
	struct xfr_rrlist full;   /* XFR_AXFR: every record incl. one SOA, in order received */
	struct xfr_diff *diffs;   /* XFR_IXFR */
	size_t ndiffs;
	size_t messages;
	size_t bytes;
	struct arena arena;       /* owns everything above */
};

struct xfr_params {
	const uint8_t *zone;                  /* wire name */
	const struct sockaddr *primary;
	socklen_t primary_len;
	const struct xfr_transport *transport;
	const struct dns_tsig_key *tsig;      /* NULL: unsigned */
	bool have_serial;                     /* we hold a version */
	uint32_t serial;                      /* its serial */
	bool force_axfr;                      /* skip IXFR (after a rejected IXFR) */
	bool soa_only;                        /* only the SOA query: r->serial_to, kind
	                                       * XFR_UPTODATE (primaries.c's probe) */
	int timeout_ms;                       /* silence allowed: connect, and between
	                                       * messages; default 30000 when 0 */
	size_t max_bytes;                     /* 0: unlimited */
	int cancel_fd;                        /* > 0: once readable (shutdown), the transfer
	                                       * ends with -ECANCELED; 0: none */
	/* Optional scratch, reused from one refresh to the next (two 64 KiB
	 * allocations a refresh otherwise): TCP_MSG_MAX and DNS_RDATA_MAX bytes. */
	uint8_t *buf;
	uint8_t *rdbuf;
	/* Called just before the IXFR or AXFR request is sent (for the log line). */
	void (*on_start)(void *ctx, bool ixfr);
	void *cb_ctx;
};

void xfr_result_init(struct xfr_result *r);
/* Frees everything the result owns; it may be used again after init. */
void xfr_result_clear(struct xfr_result *r);

/*
 * Runs one refresh: SOA query, and a transfer when the remote serial is
 * newer (IXFR when p->have_serial and not force_axfr, else AXFR), all on one
 * connection.  On success returns 0 with `r` filled (kind tells what to do).
 * On failure returns a negative code and writes a reason for people into
 * `why` (`whycap` bytes), e.g. "connection refused", "TSIG on message 3 does
 * not verify", "serial 7 -> 5 moves backwards (RFC 1982)":
 *   -ECONNREFUSED, -ETIMEDOUT, -ECONNRESET, other -errno   transport
 *   ERR_FORMERR      malformed message or bad id/question
 *   ERR_REFUSED, ERR_NOTAUTH   the primary said so (rcode)
 *   ERR_TSIG_*       TSIG missing or wrong
 *   ERR_XFR          content invalid (SOA sequence, owner outside the zone)
 *   ERR_SERIAL_BACKWARDS   the new serial is not greater than ours
 *   -EFBIG           more than max_bytes
 */
int xfrin_run(const struct xfr_params *p, struct xfr_result *r, char *why, size_t whycap);

#endif
