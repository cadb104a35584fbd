/*
 * One resource record as passed between modules: borrowed pointers to an
 * uncompressed wire owner name and uncompressed wire rdata (names inside
 * rdata are never compressed here).  Lifetime: as documented by whoever
 * hands it out (usually "during the callback").
 */
#ifndef DNS_RR_H
#define DNS_RR_H

#include <stdint.h>

struct dns_rr {
	const uint8_t *owner;
	uint16_t type;
	uint16_t rclass;
	uint32_t ttl;
	uint16_t rdlen;
	const uint8_t *rdata;
};

#endif
