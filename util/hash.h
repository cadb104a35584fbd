/*
 * Hashes for in-memory tables: 64-bit FNV-1a, plain and over ASCII-lowercased
 * bytes (DNS names compare case-insensitively).  Not for anything an attacker
 * may choose to collide on purpose without a per-process seed: pass one as
 * `seed` where keys come from the network (0 gives the standard FNV offset).
 */
#ifndef UTIL_HASH_H
#define UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define HASH_FNV_PRIME  UINT64_C(0x100000001b3)

static inline uint64_t
hash_fnv1a(const void *p, size_t len, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = HASH_FNV_OFFSET ^ seed;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= HASH_FNV_PRIME;
	}
	return h;
}

static inline uint64_t
hash_fnv1a_lower(const void *p, size_t len, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = HASH_FNV_OFFSET ^ seed;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = b[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + ('a' - 'A'));
		h ^= c;
		h *= HASH_FNV_PRIME;
	}
	return h;
}

#endif
