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

/* `default_ttl` meaning "none": BIND's rules (SOA MINIMUM, else error). */
#define DNS_ZT_NO_TTL UINT32_MAX
/* Buffer size that holds any printed record (dns_zt_print_rr). */
#define DNS_ZT_LINE_MAX (65535 * 4 + 2048)
/* Most rdata fields (tokens) one record may have. */
#define DNS_ZT_MAX_FIELDS 65536

struct dns_zt_err {
	unsigned line, col;
	char what[160];
};

/* Called once per record; the record's pointers die when it returns.
 * A non-zero return stops the parse and is returned by dns_zt_parse. */
typedef int (*dns_zt_rr_fn)(void *ctx, const struct dns_rr *rr);

/*
 * Parses `len` bytes of zone text.  `origin` (wire) is the initial $ORIGIN
 * (NULL: root until a $ORIGIN line); `default_ttl` applies until $TTL.  With
 * DNS_ZT_NO_TTL the rules of BIND 9.18 (named-checkzone) apply: a record
 * without a TTL takes $TTL, else the last explicit TTL, else (SOA only) the
 * SOA MINIMUM, which then becomes the default; any other record is an error.
 * TTLs above 2147483647 are errors.  One context (~80 KiB) is allocated per
 * call, and grown only for a record of more than 256 rdata fields, never
 * per record.  Each record goes to `fn` (NULL: only check the text); a
 * non-zero return stops the parse.
 * Returns 0, the callback's non-zero value, -ENOMEM, or ERR_SYNTAX /
 * ERR_RDATA / ERR_TYPE / ERR_NAME_LABEL / ERR_NAME_LONG / ERR_NAME_ESCAPE
 * with `err` (may be NULL) naming line, column and reason.
 */
int dns_zt_parse(const char *text, size_t len, const uint8_t *origin, uint32_t default_ttl,
                 dns_zt_rr_fn fn, void *ctx, struct dns_zt_err *err);

/* Called for each warning (BIND's wording); `what` dies when it returns. */
typedef void (*dns_zt_warn_fn)(void *ctx, unsigned line, unsigned col, const char *what);

struct dns_zt_opts {
	dns_zt_warn_fn warn;   /* NULL: warnings are dropped */
	void *warn_ctx;
};

/*
 * dns_zt_parse with options (NULL: none).  Warnings, as named-checkzone
 * gives them: "no TTL specified; using SOA MINTTL instead" and (once)
 * "using RFC1035 TTL semantics".
 */
int dns_zt_parse_opts(const char *text, size_t len, const uint8_t *origin, uint32_t default_ttl,
                      dns_zt_rr_fn fn, void *ctx, const struct dns_zt_opts *opts,
                      struct dns_zt_err *err);

/*
 * Parses a TTL: a plain number, or number+unit groups (1w2d3h4m5s, any
 * case, as BIND: "1h30" is not a TTL).
 * Returns 0, -ERANGE (over 2147483647, RFC 2181 §8) or ERR_SYNTAX.
 */
int dns_zt_parse_ttl(const char *s, size_t len, uint32_t *ttl);

/* Formats "line L col C: what" into `buf`; returns the length or -ENOSPC. */
int dns_zt_err_text(const struct dns_zt_err *err, char *buf, size_t cap);

/*
 * Writes one record as a canonical line "owner. TTL IN TYPE rdata\n" with
 * absolute names (as named-checkzone -D does).  Returns the length written
 * (NUL-terminated) or -ENOSPC.
 */
int dns_zt_print_rr(const struct dns_rr *rr, char *buf, size_t cap);

#endif
