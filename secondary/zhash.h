/*
 * Exact-match index of a zone version: lookup key -> node, in a few cache
 * misses instead of a trie walk (the qp-trie stays the ordered structure).
 *
 * A fixed set of chunks (reached through a two-level directory of 64-entry
 * arrays), each an open-addressing table (linear probing, backward-shift
 * deletion) that grows on its own.  A slot holds the value
 * pointer with 16 bits of the key's hash in its top bits, so most misses
 * never touch a value.  Copy-on-write with the same `struct trie_cow` as the
 * trie: a change copies the top directory, one 64-entry array and the one
 * chunk it touches (about 5 KiB for a 1,000,000-name zone), never the index.
 *
 * Values are the caller's; `keyfn` returns the key stored in a value.
 */
#ifndef SECONDARY_ZHASH_H
#define SECONDARY_ZHASH_H

#include <stddef.h>
#include <stdint.h>

#include "secondary/trie.h"

struct zh_chunk;

struct zhash {
	uint32_t nchunks;            /* power of two; 0: empty index */
	struct zh_chunk ***dirs;     /* dirs[i >> 6][i & 63] is chunk i; all trie_obj_alloc'd */
};

typedef const struct trie_key *(*zhash_key_fn)(const void *val);

/* Empty index sized for about `expect` entries. Returns 0 or -ENOMEM. */
int zhash_init(struct zhash *h, struct trie_cow *c, size_t expect);

/* Value under `key` or NULL.  No allocation, no lock. */
void *zhash_get(const struct zhash *h, zhash_key_fn keyfn, const uint8_t *key, size_t len);

/* Inserts or replaces the value with the same key as `val`.  0 or -ENOMEM. */
int zhash_put(struct zhash *h, struct trie_cow *c, zhash_key_fn keyfn, void *val);

/* Removes `key` if present.  0 or -ENOMEM. */
int zhash_del(struct zhash *h, struct trie_cow *c, zhash_key_fn keyfn, const uint8_t *key,
              size_t len);

/* Frees every chunk and the array (index owned wholly by the caller). */
void zhash_clear(struct zhash *h);

#endif
