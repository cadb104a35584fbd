/*
 * DNS over QUIC framing (RFC 9250 §4.2, §4.2.1, §4.3, §5.1): pure code, no
 * I/O, no QUIC.  Each DNS message on a stream is preceded by a 2-octet
 * big-endian length.  A client sends one query per bidirectional stream and
 * ends its direction with FIN; a server sends one or more answers (AXFR and
 * IXFR: several) on the same stream and ends with FIN.
 *
 * struct doq_rx reassembles one receiving direction of one stream from the
 * byte chunks QUIC delivers in order, and hands out each complete message.
 * It enforces the RFC's protocol errors and names each fault in `rx->why`:
 *   - a message shorter than a DNS header (12 octets), e.g. a stream whose
 *     first two octets are not a length prefix but a query id of zero;
 *   - FIN in the middle of a length prefix or a message (truncated);
 *   - FIN with no message at all;
 *   - more than one message on a request stream (DOQ_RX_REQUEST);
 *   - data after FIN (QUIC itself enforces the final size; kept here so the
 *     reassembler is safe on its own).
 * Invariant: `len` bytes of `buf` are the start of the next, incomplete
 * message (prefix included); `buf` never holds more than 2 + 65535 bytes.
 */
#ifndef NET_DOQ_H
#define NET_DOQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 9250 §8.4 DoQ error codes, used as QUIC application error codes. */
enum doq_error {
	DOQ_NO_ERROR = 0x0,
	DOQ_INTERNAL_ERROR = 0x1,
	DOQ_PROTOCOL_ERROR = 0x2,
	DOQ_REQUEST_CANCELLED = 0x3,
	DOQ_EXCESSIVE_LOAD = 0x4,
	DOQ_UNSPECIFIED_ERROR = 0x5,
};

#define DOQ_ALPN "doq"
#define DOQ_MSG_MAX 65535
#define DOQ_DNS_HDR 12

/* Reassembler flavours. */
enum doq_rx_mode {
	DOQ_RX_REQUEST,  /* server side: exactly one query per stream */
	DOQ_RX_RESPONSE, /* client side: one or more answers until FIN */
};

struct doq_rx {
	uint8_t *buf;       /* heap, grown to the current message's size */
	size_t len;         /* bytes held of the current message (prefix included) */
	size_t cap;
	uint64_t total;     /* bytes fed so far */
	unsigned nmsg;      /* complete messages handed out */
	enum doq_rx_mode mode;
	bool fin;           /* FIN seen */
	bool failed;        /* sticky: after an error every feed fails */
	const char *why;    /* static text naming the fault, or NULL */
};

/*
 * Called for each complete message (without its prefix).  `msg` is valid
 * only during the call.  A non-zero return stops feeding and is returned
 * by doq_rx_feed().
 */
typedef int (*doq_msg_fn)(void *ctx, const uint8_t *msg, size_t len);

void doq_rx_init(struct doq_rx *rx, enum doq_rx_mode mode);
/* Frees the buffer; the struct may be initialised again. */
void doq_rx_clear(struct doq_rx *rx);

/*
 * Feeds `len` bytes received in order (`fin`: the peer ended its
 * direction after them) and calls `cb` for each message completed.
 * Returns 0, or:
 *   -EPROTO  a DoQ protocol violation; rx->why names it (DOQ_PROTOCOL_ERROR)
 *   -ENOMEM  out of memory (DOQ_INTERNAL_ERROR)
 *   the non-zero value `cb` returned.
 * After an error the reassembler stays failed.
 */
int doq_rx_feed(struct doq_rx *rx, const uint8_t *data, size_t len, bool fin, doq_msg_fn cb,
                void *ctx);

/* True when FIN was seen and every byte formed a complete message. */
bool doq_rx_done(const struct doq_rx *rx);

/* Maps a doq_rx_feed() error to the DoQ code to close or reset with. */
enum doq_error doq_error_from_ret(int ret);
/* "DOQ_PROTOCOL_ERROR" etc.; "unknown" for other values. */
const char *doq_error_str(uint64_t code);

/* Writes the 2-octet prefix for a message of `len` bytes; -EMSGSIZE if > 65535. */
int doq_prefix(uint8_t hdr[2], size_t len);

/* DNS message id (first two octets); 0 if `len` < 2. */
uint16_t doq_msg_id(const uint8_t *msg, size_t len);
/* Sets the DNS message id; no-op if `len` < 2. */
void doq_set_msg_id(uint8_t *msg, size_t len, uint16_t id);

/*
 * EDNS(0) padding (RFC 9250 §5.4, RFC 8467 §4.1 block-length padding):
 * pads the DNS message in `msg` (`len` bytes, room for `cap`) to a multiple
 * of `block` octets (128 for queries, 468 for responses) with a Padding
 * option (code 12).  If the message has no OPT record, one is appended
 * (UDP size 1232) and ARCOUNT incremented; if its last record is the OPT
 * record, the option is added to it.  Returns the new length, or
 * -EMSGSIZE (no room), -EINVAL (block 0, malformed or OPT not last).
 */
long doq_pad(uint8_t *msg, size_t len, size_t cap, size_t block);

#endif
