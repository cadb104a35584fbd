/*
 * SOA rdata (RFC 1035 §3.3.13): MNAME, RNAME, then five 32-bit fields.  The
 * one parser for every module that reads a serial or the timers.
 */
#ifndef DNS_SOA_H
#define DNS_SOA_H

#include <stddef.h>
#include <stdint.h>

struct dns_soa {
	const uint8_t *mname;     /* uncompressed wire names, into the rdata */
	const uint8_t *rname;
	size_t serial_off;        /* offset of SERIAL in the rdata */
	uint32_t serial, refresh, retry, expire, minimum;
};

/*
 * Parses uncompressed SOA rdata of `len` bytes: two names, then exactly 20
 * bytes.  Returns 0, or ERR_RDATA (a bad name, or a length other than names
 * plus 20) with `out` untouched.
 */
int dns_soa_parse(const uint8_t *rdata, size_t len, struct dns_soa *out);

#endif
