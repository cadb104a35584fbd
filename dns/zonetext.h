/*
 * RFC 1035 §5 zone text: a streaming parser that hands each record to a
 * callback (no allocation per record), and a printer of canonical text that
 * parses back to the same records.  $ORIGIN, $TTL, parentheses, comments,
 * quoted strings, @, relative names, blank owner = previous owner, TTL units
 * (1h30m), class IN.  $INCLUDE is refused.
 */
#ifndef DNS_ZONETEXT_H
#define DNS_ZONETEXT_H

#include <stddef.h>
#include <stdint.h>

#include "dns/rr.h"

struct dns_zt_err {
	unsigned line, col;
	char what[160];
};

/* Called once per record; the record's pointers die when it returns.
 * A non-zero return stops the parse and is returned by dns_zt_parse. */
typedef int (*dns_zt_rr_fn)(void *ctx, const struct dns_rr *rr);

/*
 * Parses `len` bytes of zone text.  `origin` (wire) is the initial $ORIGIN
 * (NULL: root until a $ORIGIN line); `default_ttl` applies until $TTL, and
 * when no TTL has been seen at all the SOA minimum is used as BIND does.
 * Returns 0, the callback's non-zero value, or ERR_SYNTAX / ERR_RDATA /
 * ERR_TYPE / name errors with `err` naming line, column and reason.
 */
int dns_zt_parse(const char *text, size_t len, const uint8_t *origin, uint32_t default_ttl,
                 dns_zt_rr_fn fn, void *ctx, struct dns_zt_err *err);

/*
 * Parses a TTL with optional units (1w2d3h4m5s, case-insensitive).
 * Returns 0 or -ERANGE (over 2^31-1... per RFC 2181) / ERR_SYNTAX.
 */
int dns_zt_parse_ttl(const char *s, size_t len, uint32_t *ttl);

/*
 * Writes one record as a canonical line "owner. TTL IN TYPE rdata\n" with
 * absolute names (as named-checkzone -D does).  Returns the length written
 * (NUL-terminated) or -ENOSPC.
 */
int dns_zt_print_rr(const struct dns_rr *rr, char *buf, size_t cap);

#endif
