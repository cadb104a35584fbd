/*
 * SOA serial numbers: RFC 1982 serial number arithmetic (SERIAL_BITS = 32)
 * and the SOA-EDIT-API policies that pick the next serial of a zone after a
 * change.  Every serial comparison in the project goes through here.
 *
 * Policies (PowerDNS's soa_edit_api):
 *   DEFAULT   date based YYYYMMDDnn (UTC); +1 when that would not increase it
 *   INCREASE  +1
 *   EPOCH     Unix time; +1 when that would not increase it
 * "Increase" is always in the RFC 1982 sense, so a serial near 2^32 wraps.
 */
#ifndef DNS_SERIAL_H
#define DNS_SERIAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum dns_serial_policy {
	DNS_SERIAL_DEFAULT = 0,
	DNS_SERIAL_INCREASE = 1,
	DNS_SERIAL_EPOCH = 2,
};

/*
 * RFC 1982 §3.2 comparison: <0 when a < b, 0 when equal, >0 when a > b.
 * When the distance is exactly 2^31 the result is undefined by the RFC;
 * this returns 2 (neither less nor greater) so that callers refuse it.
 */
int dns_serial_cmp(uint32_t a, uint32_t b);

/* True when b is greater than a in the RFC 1982 sense (b follows a). */
bool dns_serial_gt(uint32_t b, uint32_t a);

/*
 * RFC 1982 §3.1 addition: s + n with n in 0..2^31-1, modulo 2^32.
 * Returns -ERANGE when n is out of range, else 0 with *out set.
 */
int dns_serial_add(uint32_t s, uint32_t n, uint32_t *out);

/*
 * Next serial after `cur` under `policy` at time `now` (Unix seconds, UTC).
 * The result is always greater than `cur` in the RFC 1982 sense.
 */
uint32_t dns_serial_next(enum dns_serial_policy policy, uint32_t cur, time_t now);

/*
 * Initial serial of a new zone under `policy` at `now`: YYYYMMDD01, the
 * Unix time, or 1.
 */
uint32_t dns_serial_initial(enum dns_serial_policy policy, time_t now);

/* "DEFAULT", "INCREASE", "EPOCH" (any case; "" means DEFAULT). 0 or -EINVAL. */
int dns_serial_policy_parse(const char *s, enum dns_serial_policy *out);
/* Canonical upper-case name of a policy. */
const char *dns_serial_policy_name(enum dns_serial_policy policy);

#endif
