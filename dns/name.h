/*
 * Domain names.  A name in *wire form* is the uncompressed label sequence
 * ending in the root label, at most DNS_NAME_MAX (255) octets, labels at most
 * 63.  Letter case is kept as given; comparisons ignore ASCII case.
 *
 * *Lookup form* (dns_name_to_lookup) reverses the labels, lowercases them and
 * ends each with a 0 byte, so that memcmp order of lookup keys equals the
 * canonical DNS order of RFC 4034 §6.1 (labels never hold a 0 byte... they
 * may, so 0 is escaped as 0x01 0x01 and 0x01 as 0x01 0x02 to keep order).
 */
#ifndef DNS_NAME_H
#define DNS_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 255
#define DNS_LABEL_MAX 63
/* Longest presentation form: every octet as \DDD plus dots. */
#define DNS_NAME_TEXT_MAX (DNS_NAME_MAX * 4 + 2)
/* Longest lookup key (every octet escaped, plus separators). */
#define DNS_LOOKUP_MAX (DNS_NAME_MAX * 2 + 2)

extern const uint8_t dns_root_name[1];

/*
 * Parses presentation text `s` (`len` bytes, escapes \. \\ \DDD) into wire
 * form in `out` (DNS_NAME_MAX bytes).  A name without a trailing dot is
 * relative and gets `origin` appended (wire form; NULL means root).  "@" is
 * the origin itself.  Returns the wire length (> 0) or ERR_NAME_LABEL,
 * ERR_NAME_LONG, ERR_NAME_ESCAPE, -EINVAL (empty text).
 */
int dns_name_from_text(const char *s, size_t len, const uint8_t *origin, uint8_t *out);

/*
 * Writes the absolute presentation form (trailing dot, "." for root) of wire
 * name `name` into `buf` and NUL-terminates it.  Non-printable octets and
 * special characters ( . \ " ; ( ) @ $ and space) are escaped as BIND does.
 * Returns the text length, or -ENOSPC when `cap` is too small.
 */
int dns_name_to_text(const uint8_t *name, char *buf, size_t cap);

/* Wire length of a well-formed uncompressed name. */
size_t dns_name_len(const uint8_t *name);

/*
 * Validates an uncompressed name in `p` (at most `len` bytes available).
 * Returns its length or ERR_NAME_LABEL/ERR_NAME_LONG/ERR_TRUNC/ERR_NAME_PTR.
 */
int dns_name_check(const uint8_t *p, size_t len);

/*
 * Reads a possibly compressed name at *pos in message `pkt` into `out`
 * (DNS_NAME_MAX bytes) and advances *pos past it.  Pointers must point
 * strictly backwards from the position where they occur, which also rules
 * out loops.  Returns the wire length or ERR_NAME_PTR, ERR_NAME_LONG,
 * ERR_NAME_LABEL (label type 01/10), ERR_TRUNC.  No allocation.
 */
int dns_name_unpack(const uint8_t *pkt, size_t pktlen, size_t *pos, uint8_t *out);

/* Number of labels, not counting the root. */
unsigned dns_name_labels(const uint8_t *name);

/* Case-insensitive equality. */
bool dns_name_equal(const uint8_t *a, const uint8_t *b);

/* Canonical order (RFC 4034 §6.1): <0, 0, >0. */
int dns_name_cmp(const uint8_t *a, const uint8_t *b);

/* True when `name` equals `parent` or lies below it. */
bool dns_name_is_sub(const uint8_t *name, const uint8_t *parent);

/* Lowercases ASCII letters in place. */
void dns_name_lower(uint8_t *name);

/* Pointer to the name with its first label removed; root stays root. */
const uint8_t *dns_name_parent(const uint8_t *name);

/* True when the first label is "*". */
bool dns_name_is_wildcard(const uint8_t *name);

/*
 * Writes the lookup key of `name` into `key` (DNS_LOOKUP_MAX bytes).
 * Returns the key length.  Root is the empty key.
 */
size_t dns_name_to_lookup(const uint8_t *name, uint8_t *key);

/* Inverse of dns_name_to_lookup; returns the wire length or ERR_FORMERR. */
int dns_name_from_lookup(const uint8_t *key, size_t keylen, uint8_t *out);

#endif
