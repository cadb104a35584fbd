/*
 * RFC 1982 serial arithmetic and SOA-EDIT-API policies.  Pure functions:
 * time is passed in, so tests can pin the date (rollovers, wraps).
 */
#include "dns/serial.h"

#include <errno.h>
#include <strings.h>

int
dns_serial_cmp(uint32_t a, uint32_t b)
{
	if (a == b)
		return 0;
	uint32_t d = b - a;   /* modulo 2^32 */
	if (d == UINT32_C(0x80000000))
		return 2;     /* undefined by RFC 1982 */
	return d < UINT32_C(0x80000000) ? -1 : 1;
}

bool
dns_serial_gt(uint32_t b, uint32_t a)
{
	return dns_serial_cmp(b, a) == 1;
}

int
dns_serial_add(uint32_t s, uint32_t n, uint32_t *out)
{
	if (n > UINT32_C(0x7fffffff))
		return -ERANGE;
	*out = s + n;
	return 0;
}

static uint32_t
date_serial(time_t now)
{
	struct tm tm;
	if (gmtime_r(&now, &tm) == NULL)
		return 0;
	uint32_t ymd = (uint32_t)(tm.tm_year + 1900) * 10000u + (uint32_t)(tm.tm_mon + 1) * 100u +
	               (uint32_t)tm.tm_mday;
	/* Years past 4294 do not fit YYYYMMDDnn; fall back to +1 in the caller. */
	if (ymd > 42949672u)
		return 0;
	return ymd * 100u;
}

static uint32_t
at_least_next(uint32_t candidate, uint32_t cur)
{
	if (dns_serial_gt(candidate, cur))
		return candidate;
	return cur + 1;   /* RFC 1982: +1 always increases, wrapping at 2^32 */
}

uint32_t
dns_serial_next(enum dns_serial_policy policy, uint32_t cur, time_t now)
{
	switch (policy) {
	case DNS_SERIAL_DEFAULT: {
		uint32_t d = date_serial(now);
		if (d == 0)
			return cur + 1;
		return at_least_next(d + 1, cur);
	}
	case DNS_SERIAL_EPOCH:
		return at_least_next((uint32_t)now, cur);
	case DNS_SERIAL_INCREASE:
	default:
		return cur + 1;
	}
}

uint32_t
dns_serial_initial(enum dns_serial_policy policy, time_t now)
{
	switch (policy) {
	case DNS_SERIAL_DEFAULT: {
		uint32_t d = date_serial(now);
		return d == 0 ? 1 : d + 1;
	}
	case DNS_SERIAL_EPOCH:
		return (uint32_t)now;
	case DNS_SERIAL_INCREASE:
	default:
		return 1;
	}
}

int
dns_serial_policy_parse(const char *s, enum dns_serial_policy *out)
{
	if (s == NULL || s[0] == '\0' || strcasecmp(s, "DEFAULT") == 0)
		*out = DNS_SERIAL_DEFAULT;
	else if (strcasecmp(s, "INCREASE") == 0)
		*out = DNS_SERIAL_INCREASE;
	else if (strcasecmp(s, "EPOCH") == 0)
		*out = DNS_SERIAL_EPOCH;
	else
		return -EINVAL;
	return 0;
}

const char *
dns_serial_policy_name(enum dns_serial_policy policy)
{
	switch (policy) {
	case DNS_SERIAL_INCREASE: return "INCREASE";
	case DNS_SERIAL_EPOCH: return "EPOCH";
	case DNS_SERIAL_DEFAULT:
	default: return "DEFAULT";
	}
}
