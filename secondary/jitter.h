/*
 * Refresh jitter: zones loaded or changed together (a catalog of 100,000
 * members, a bulk change) share their SOA timers, and without jitter they
 * would all come due in the same second, again and again.  Each refresh or
 * retry interval is shortened by a pseudo-random amount of up to a tenth
 * (never lengthened: the SOA's REFRESH stays an upper bound), drawn from the
 * zone's name hash and the time of scheduling, so the due times spread
 * evenly over the last tenth of the interval and drift apart each round.
 */
#ifndef SECONDARY_JITTER_H
#define SECONDARY_JITTER_H

#include <stdint.h>

/* splitmix64: one well-mixed 64-bit value from any seed. */
static inline uint64_t
jitter_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The interval of `secs` seconds, in ms, minus up to a tenth chosen by `seed`. */
static inline int64_t
jitter_interval_ms(uint32_t secs, uint64_t seed)
{
	int64_t ms = (int64_t)secs * 1000;
	int64_t span = ms / 10;
	if (span <= 0)
		return ms;
	return ms - (int64_t)(jitter_mix(seed) % (uint64_t)(span + 1));
}

#endif
