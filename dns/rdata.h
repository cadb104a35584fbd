/*
 * RDATA in presentation and wire form for every supported type (see
 * dns/rrtype.h), and RFC 3597 "\# len hex" for any type.  Wire rdata here is
 * always uncompressed.  Names in presentation output are absolute.
 * No allocation.
 */
#ifndef DNS_RDATA_H
#define DNS_RDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/lex.h"

#define DNS_RDATA_MAX 65535
/*
 * Text room that holds the presentation form of any rdata except an NSEC,
 * NSEC3 or CSYNC type bitmap listing thousands of types; when
 * dns_rdata_to_text returns -ENOSPC with this much room, the RFC 3597 form
 * (dns_rdata_to_generic, at most 2.1 * rdlen + 16 octets) always fits.
 */
#define DNS_RDATA_TEXT_MAX (4 * DNS_RDATA_MAX + 1024)

struct dns_rdata_err {
	size_t tok;      /* index of the offending token (n when tokens ran out) */
	char what[96];   /* e.g. "bad IPv4 address '1.2.3'" */
};

/*
 * Parses the rdata tokens t[0..n) of a record of `type` into wire form in
 * `out` (`cap` bytes).  Relative names get `origin` appended.  Returns the
 * rdata length (>= 0) or ERR_RDATA with `e` filled.
 */
int dns_rdata_from_tokens(uint16_t type, const struct dns_tok *t, size_t n,
                          const uint8_t *origin, uint8_t *out, size_t cap,
                          struct dns_rdata_err *e);

/*
 * Same for one string such as an API record "content" ("10 mail.example.com.").
 * On error writes a message into `err` (errcap bytes) and returns ERR_RDATA.
 */
int dns_rdata_from_str(uint16_t type, const char *s, size_t len, const uint8_t *origin,
                       uint8_t *out, size_t cap, char *err, size_t errcap);

/*
 * Writes the canonical presentation form of wire rdata (as BIND's
 * named-checkzone -D prints it, on one line) into `buf` with a NUL.
 * Returns the text length, -ENOSPC if `cap` is too small, or ERR_RDATA when
 * the wire rdata is malformed for its type (then use RFC 3597 form).
 */
int dns_rdata_to_text(uint16_t type, const uint8_t *rd, size_t rdlen, char *buf, size_t cap);

/* RFC 3597 "\# len hex" form; returns the text length or -ENOSPC. */
int dns_rdata_to_generic(const uint8_t *rd, size_t rdlen, char *buf, size_t cap);

/* Validates wire rdata for its type (lengths, embedded names).  0 or ERR_RDATA. */
int dns_rdata_check(uint16_t type, const uint8_t *rd, size_t rdlen);

/*
 * Reads the rdata of `rdlen` bytes at `pos` of message `pkt`, expanding the
 * compressed names that RFC 3597 §4 allows (NS, CNAME, SOA, PTR, MX, and the
 * other RFC 1035 types), into `out`.  Returns the new rdata length or
 * ERR_FORMERR / ERR_RDATA.
 */
int dns_rdata_unpack(uint16_t type, const uint8_t *pkt, size_t pktlen, size_t pos,
                     size_t rdlen, uint8_t *out, size_t cap);

/*
 * Offsets of the domain names inside wire rdata of `type`; `compress[i]`
 * says whether name i may be compressed when written (RFC 3597 §4).
 * Returns the count (<= max).
 */
size_t dns_rdata_names(uint16_t type, const uint8_t *rd, size_t rdlen, uint16_t *offs,
                       bool *compress, size_t max);

/* Lowercases the embedded names RFC 4034 §6.2 (as amended by RFC 6840) lists. */
void dns_rdata_canonicalize(uint16_t type, uint8_t *rd, size_t rdlen);

#endif
