/*
 * Outgoing zone transfers: the answers of the transfer port (RFC 5936 AXFR,
 * RFC 1995 IXFR, SOA queries), TSIG (RFC 8945) on every message, the ACL,
 * and Knot-style logs.  Transport-neutral: a transport hands one request in
 * and pulls the answer out one message at a time (pull model, so a TCP or
 * QUIC stream with bounded buffers asks for the next message only when it
 * has room); xfrout_serve() is the push form ("send this message" + "end").
 *
 * One transfer reads one consistent version of the zone: the data source
 * (struct xfrout_source) copies the records or journal entries it needs
 * into the transfer's buffers inside one read transaction, so API writes
 * that commit meanwhile are not seen; a large zone is streamed instead
 * (xfrout_data.more: a cursor on a read transaction held until the
 * transfer ends), so memory stays flat whatever the zone's size.
 *
 * Threads: one struct xfrout may be used from several threads at once as
 * long as the source's functions are thread-safe; one txn belongs to one
 * thread at a time.
 */
#ifndef PRIMARY_XFROUT_H
#define PRIMARY_XFROUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "dns/tsig.h"

struct propagation;

/* Largest DNS message over a stream transport. */
#define XFROUT_MSG_MAX 65535
/* Size transfer messages are filled to by default (a larger RR still gets
 * a message of its own, up to XFROUT_MSG_MAX). */
#define XFROUT_MSG_DEFAULT 16384

/*
 * Growable byte buffer (malloc'd) the source fills with concatenated RRs in
 * uncompressed wire form: owner, type, class, TTL, rdlength, rdata.  A
 * buffer with cap 0 and data set is borrowed (shared, read-only): clear
 * leaves its memory alone.
 */
struct xfrout_buf {
	uint8_t *data;
	size_t len, cap;
	size_t nrrs;
};

/* Appends one RR; 0 or -ENOMEM. */
int xfrout_buf_rr(struct xfrout_buf *b, const struct dns_rr *rr);
/* Appends raw bytes holding `nrrs` RRs; 0 or -ENOMEM. */
int xfrout_buf_raw(struct xfrout_buf *b, const void *p, size_t len, size_t nrrs);
void xfrout_buf_clear(struct xfrout_buf *b);

/*
 * What one transfer needs from one snapshot of the store.  The source fills
 * it; xfrout owns and frees the buffers.
 */
struct xfrout_data {
	uint32_t serial;          /* current serial */
	struct xfrout_buf soa;    /* the SOA RR */
	struct xfrout_buf rrs;    /* the other records (AXFR), if asked for */
	/* IXFR: journal blobs from the client's serial on, concatenated in
	 * order (old SOA, removed..., new SOA, added...)*, if asked for. */
	struct xfrout_buf diff;
	unsigned ndiffs;
	bool journal_gap;         /* journal does not reach back to the serial */
	bool diff_larger;         /* the journal holds more RRs than the zone */
	/* A source handing out shared data (rrs borrowed from its cache) sets
	 * these; release(ref) is called once when the transfer ends. */
	void (*release)(void *ref);
	void *ref;
	/*
	 * A source streaming a large zone sets these: the records after those
	 * in rrs come from more(), which appends the next ones (about `want`
	 * bytes) to `b` and returns 1, 0 when there are none left, or a
	 * negative code; more_end() is called once when the transfer ends.
	 * Both run on the thread driving the transfer.
	 */
	int (*more)(void *stream, struct xfrout_buf *b, size_t want);
	void (*more_end)(void *stream);
	void *stream;
};

enum {
	XFROUT_LOAD_SOA = 0,      /* SOA and serial only */
	XFROUT_LOAD_ZONE = 1,     /* + every record */
	XFROUT_LOAD_DIFF = 2,     /* + journal from *from; the zone too when the
	                           * journal has a gap or its RR count exceeds the
	                           * zone's (then journal_gap or diff is dropped) */
};

/*
 * Where zones, journals and keys come from.  Functions may be called from
 * several threads at once.
 */
struct xfrout_source {
	void *ctx;
	/*
	 * Reads `zone` (wire name) from one snapshot into `d` as `what` asks
	 * (XFROUT_LOAD_*; `from` is the client's serial for XFROUT_LOAD_DIFF).
	 * Returns 0, -ENOENT (no such zone), -ENOMEM or -EIO.
	 */
	int (*load)(void *ctx, const uint8_t *zone, int what, uint32_t from,
	            struct xfrout_data *d);
	/*
	 * Finds TSIG key `name` (wire).  0, -ENOENT (unknown key or algorithm
	 * we cannot use), -EIO.
	 */
	int (*key)(void *ctx, const uint8_t *name, struct dns_tsig_key *k);
	/*
	 * Whether key `name` (wire) may transfer `zone`: its master_tsig_key_ids,
	 * and for the catalog zone any key allowed for any member.
	 * 1 yes, 0 no, <0 error.
	 */
	int (*allowed)(void *ctx, const uint8_t *zone, const uint8_t *key);
	/*
	 * Optional (NULL: any address): whether `peer` may transfer `zone` with
	 * key `key` (the zone's ALLOW-AXFR-FROM metadata).  1 yes, 0 no, <0 error.
	 */
	int (*from_allowed)(void *ctx, const uint8_t *zone, const uint8_t *key,
	                    const struct sockaddr *peer);
	/*
	 * Optional, used instead of allowed and from_allowed when set: both
	 * checks in one read of the store (one snapshot a transfer less).
	 * 1 yes, 0 the key is not allowed, XFROUT_FROM_REFUSED the address is
	 * not in the zone's ALLOW-AXFR-FROM, <0 error.
	 */
	int (*access)(void *ctx, const uint8_t *zone, const uint8_t *key,
	              const struct sockaddr *peer);
};

#define XFROUT_FROM_REFUSED 2

struct pop_gate;
struct dns_msg;

/*
 * DNS UPDATE (RFC 2136) behind the transfer listeners: `m` is a parsed
 * UPDATE request whose TSIG verified with key `key` (wire name); `peer` names
 * the sender for logs.  Returns the rcode of the answer (xfrout writes it,
 * with the zone section echoed, TSIG-signed).  Called from the transports'
 * threads: must be thread-safe.
 */
struct xfrout_update {
	void *ctx;
	unsigned (*run)(void *ctx, const struct dns_msg *m, const uint8_t *key, const char *peer);
	/* every UPDATE received, with the rcode answered (NULL: not counted) */
	void (*count)(void *ctx, unsigned rcode);
};

struct xfrout_conf {
	struct xfrout_source src;
	struct propagation *prop;   /* NULL: no tracking */
	const struct pop_gate *gate;   /* the POP registry's checks (pop_gate.h); NULL: none */
	size_t msg_size;            /* fill messages up to this (0: XFROUT_MSG_DEFAULT) */
	struct xfrout_update update;   /* run NULL: UPDATE is NOTIMP */
	/* Test hook: clock for TSIG (NULL: time()). */
	uint64_t (*now)(void);
};

struct xfrout;
struct xfrout_txn;

/* NULL on -ENOMEM.  `conf` is copied. */
struct xfrout *xfrout_new(const struct xfrout_conf *conf);
void xfrout_free(struct xfrout *x);

/*
 * Starts answering the request `q` (`qlen` bytes, no length prefix) from
 * `peer` over `transport` ("TCP", "QUIC").  On success *out is a txn that
 * yields at least one message.  Returns -EINVAL when nothing can be
 * answered at all (shorter than a header, or a response): the transport
 * should close the stream.  -ENOMEM.
 */
int xfrout_begin(struct xfrout *x, const uint8_t *q, size_t qlen, const struct sockaddr *peer,
                 const char *transport, struct xfrout_txn **out);

/*
 * Writes the next message of the answer into `buf` (`cap` >= XFROUT_MSG_MAX
 * is always enough).  Returns its length, 0 when the answer is complete,
 * or a negative code (the transfer must be aborted: close the stream).
 */
ssize_t xfrout_next(struct xfrout_txn *t, uint8_t *buf, size_t cap);

/*
 * Ends the txn (also early, after an aborted stream) and frees it; logs
 * the transfer's outcome.  NULL is a no-op.
 */
void xfrout_end(struct xfrout_txn *t);

/* Whether the request's TSIG verified (its answer is signed with that key). */
bool xfrout_verified(const struct xfrout_txn *t);

/*
 * Tells the txn that the transport could not deliver what xfrout_next
 * produced (e.g. the last message failed to send after xfrout_next already
 * returned 0), so xfrout_end logs and counts a failure, not a success.
 */
void xfrout_undelivered(struct xfrout_txn *t);

/* Push form: calls `send` for every message, then ends.  Returns 0 or the
 * first negative code from begin/next/send. */
typedef int (*xfrout_send_fn)(void *ctx, const uint8_t *msg, size_t len);
int xfrout_serve(struct xfrout *x, const uint8_t *q, size_t qlen, const struct sockaddr *peer,
                 const char *transport, xfrout_send_fn send, void *ctx);

#endif
