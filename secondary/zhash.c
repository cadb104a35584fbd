/*
 * Chunked open-addressing index with copy-on-write (see zhash.h).
 * Invariants: every chunk's load stays below 3/4 of its capacity (a power of
 * two), so probing always ends at an empty slot; an entry sits in the chunk
 * chosen by the low bits of its hash, at or after its home slot with no
 * empty slot in between.
 */
#include "secondary/zhash.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "util/hash.h"

struct zh_chunk {
	uint32_t cap;
	uint32_t count;
	uint64_t slot[];
};

#define PTR_MASK ((UINT64_C(1) << 48) - 1)
#define LEAF 64u

static inline uint32_t
leaf_len(const struct zhash *h)
{
	return h->nchunks < LEAF ? h->nchunks : LEAF;
}

static inline uint32_t
ndirs(const struct zhash *h)
{
	return (h->nchunks + LEAF - 1) / LEAF;
}

static inline struct zh_chunk *
chunk_at(const struct zhash *h, uint32_t idx)
{
	return h->dirs[idx / LEAF][idx % LEAF];
}

static inline uint64_t
hash_key(const uint8_t *k, size_t len)
{
	/* FNV-1a, then a final mix so that every output bit depends on the key. */
	uint64_t h = hash_fnv1a(k, len, 0);
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	return h;
}

static inline uint64_t
mkslot(uint64_t h, const void *val)
{
	return (h & ~PTR_MASK) | ((uint64_t)(uintptr_t)val & PTR_MASK);
}

static inline void *
slot_val(uint64_t s)
{
	return (void *)(uintptr_t)(s & PTR_MASK);
}

static struct zh_chunk *
chunk_new(struct trie_cow *c, uint32_t cap)
{
	struct zh_chunk *ch = trie_obj_alloc(c, sizeof(*ch) + (size_t)cap * sizeof(uint64_t));
	if (ch == NULL)
		return NULL;
	ch->cap = cap;
	ch->count = 0;
	memset(ch->slot, 0, (size_t)cap * sizeof(uint64_t));
	return ch;
}

int
zhash_init(struct zhash *h, struct trie_cow *c, size_t expect)
{
	uint32_t n = 1;
	while ((size_t)n * 256 < expect && n < (1u << 22))
		n <<= 1;
	h->nchunks = n;
	/* Room for the expected entries at most 3/4 full: a zone of 10 names
	 * takes 16 slots, not 512 (4 KiB a zone at 100,000 small zones). */
	uint32_t cap = 16;
	while (cap < 512 && (size_t)cap * 3 < (expect / n + 1) * 4)
		cap <<= 1;
	h->dirs = trie_obj_alloc(c, (size_t)ndirs(h) * sizeof(*h->dirs));
	if (h->dirs == NULL)
		goto fail;
	memset(h->dirs, 0, (size_t)ndirs(h) * sizeof(*h->dirs));
	for (uint32_t d = 0; d < ndirs(h); d++) {
		h->dirs[d] = trie_obj_alloc(c, (size_t)leaf_len(h) * sizeof(**h->dirs));
		if (h->dirs[d] == NULL)
			goto fail;
		memset(h->dirs[d], 0, (size_t)leaf_len(h) * sizeof(**h->dirs));
		for (uint32_t i = 0; i < leaf_len(h); i++) {
			h->dirs[d][i] = chunk_new(c, cap);
			if (h->dirs[d][i] == NULL)
				goto fail;
		}
	}
	return 0;
fail:
	for (uint32_t d = 0; h->dirs != NULL && d < ndirs(h); d++) {
		for (uint32_t i = 0; h->dirs[d] != NULL && i < leaf_len(h); i++)
			trie_obj_retire(c, h->dirs[d][i]);
		trie_obj_retire(c, h->dirs[d]);
	}
	trie_obj_retire(c, h->dirs);
	h->dirs = NULL;
	h->nchunks = 0;
	return -ENOMEM;
}

void *
zhash_get(const struct zhash *h, zhash_key_fn keyfn, const uint8_t *key, size_t len)
{
	if (h->nchunks == 0)
		return NULL;
	uint64_t hv = hash_key(key, len);
	const struct zh_chunk *ch = chunk_at(h, (uint32_t)(hv & (h->nchunks - 1)));
	uint32_t mask = ch->cap - 1, i = (uint32_t)(hv >> 20) & mask;
	uint64_t tag = hv & ~PTR_MASK;
	for (;;) {
		uint64_t s = ch->slot[i];
		if (s == 0)
			return NULL;
		if ((s & ~PTR_MASK) == tag) {
			void *v = slot_val(s);
			const struct trie_key *k = keyfn(v);
			if (k->len == len && memcmp(k->b, key, len) == 0)
				return v;
		}
		i = (i + 1) & mask;
	}
}

/*
 * Makes the directory path to chunk `idx` writable in this transaction and
 * returns the slot holding the chunk pointer, or NULL (-ENOMEM).
 */
static struct zh_chunk **
cow_slot(struct zhash *h, struct trie_cow *c, uint32_t idx)
{
	if (!trie_obj_fresh(c, h->dirs)) {
		struct zh_chunk ***nd = trie_obj_alloc(c, (size_t)ndirs(h) * sizeof(*nd));
		if (nd == NULL)
			return NULL;
		memcpy(nd, h->dirs, (size_t)ndirs(h) * sizeof(*nd));
		trie_obj_retire(c, h->dirs);
		h->dirs = nd;
	}
	struct zh_chunk **leaf = h->dirs[idx / LEAF];
	if (!trie_obj_fresh(c, leaf)) {
		struct zh_chunk **nl = trie_obj_alloc(c, (size_t)leaf_len(h) * sizeof(*nl));
		if (nl == NULL)
			return NULL;
		memcpy(nl, leaf, (size_t)leaf_len(h) * sizeof(*nl));
		trie_obj_retire(c, leaf);
		h->dirs[idx / LEAF] = nl;
		leaf = nl;
	}
	return &leaf[idx % LEAF];
}

/* Makes chunk `idx` writable in this transaction (copying its path and itself). */
static struct zh_chunk *
cow_chunk(struct zhash *h, struct trie_cow *c, uint32_t idx)
{
	struct zh_chunk **slot = cow_slot(h, c, idx);
	if (slot == NULL)
		return NULL;
	struct zh_chunk *old = *slot;
	if (trie_obj_fresh(c, old))
		return old;
	size_t sz = sizeof(*old) + (size_t)old->cap * sizeof(uint64_t);
	struct zh_chunk *nc = trie_obj_alloc(c, sz);
	if (nc == NULL)
		return NULL;
	memcpy(nc, old, sz);
	trie_obj_retire(c, old);
	*slot = nc;
	return nc;
}

static void
chunk_insert(struct zh_chunk *ch, uint64_t hv, void *val)
{
	uint32_t mask = ch->cap - 1, i = (uint32_t)(hv >> 20) & mask;
	while (ch->slot[i] != 0)
		i = (i + 1) & mask;
	ch->slot[i] = mkslot(hv, val);
	ch->count++;
}

int
zhash_put(struct zhash *h, struct trie_cow *c, zhash_key_fn keyfn, void *val)
{
	const struct trie_key *k = keyfn(val);
	uint64_t hv = hash_key(k->b, k->len);
	uint32_t idx = (uint32_t)(hv & (h->nchunks - 1));
	struct zh_chunk *ch = chunk_at(h, idx);
	uint32_t cap = ch->cap;
	if ((ch->count + 1) * 4 > cap * 3)
		cap *= 2;
	if (cap != ch->cap) {
		/* Grow: a fresh bigger chunk filled from the old one's values. */
		struct zh_chunk *old = ch;
		struct zh_chunk *nc = chunk_new(c, cap);
		if (nc == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i < old->cap; i++) {
			uint64_t s = old->slot[i];
			if (s == 0)
				continue;
			const struct trie_key *ok = keyfn(slot_val(s));
			chunk_insert(nc, hash_key(ok->b, ok->len), slot_val(s));
		}
		struct zh_chunk **slot = cow_slot(h, c, idx);
		if (slot == NULL) {
			trie_obj_retire(c, nc);
			return -ENOMEM;
		}
		trie_obj_retire(c, old);
		*slot = nc;
		ch = nc;
	} else {
		ch = cow_chunk(h, c, idx);
		if (ch == NULL)
			return -ENOMEM;
	}
	uint32_t mask = ch->cap - 1, i = (uint32_t)(hv >> 20) & mask;
	uint64_t tag = hv & ~PTR_MASK;
	for (;;) {
		uint64_t s = ch->slot[i];
		if (s == 0)
			break;
		if ((s & ~PTR_MASK) == tag) {
			const struct trie_key *ok = keyfn(slot_val(s));
			if (ok->len == k->len && memcmp(ok->b, k->b, k->len) == 0) {
				ch->slot[i] = mkslot(hv, val);
				return 0;
			}
		}
		i = (i + 1) & mask;
	}
	ch->slot[i] = mkslot(hv, val);
	ch->count++;
	return 0;
}

int
zhash_del(struct zhash *h, struct trie_cow *c, zhash_key_fn keyfn, const uint8_t *key,
          size_t len)
{
	if (zhash_get(h, keyfn, key, len) == NULL)
		return 0;
	uint64_t hv = hash_key(key, len);
	uint32_t idx = (uint32_t)(hv & (h->nchunks - 1));
	struct zh_chunk *ch = cow_chunk(h, c, idx);
	if (ch == NULL)
		return -ENOMEM;
	uint32_t mask = ch->cap - 1, i = (uint32_t)(hv >> 20) & mask;
	for (;;) {
		const struct trie_key *k = keyfn(slot_val(ch->slot[i]));
		if (k->len == len && memcmp(k->b, key, len) == 0)
			break;
		i = (i + 1) & mask;
	}
	/* Backward-shift deletion keeps every probe sequence unbroken. */
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		uint64_t s = ch->slot[j];
		if (s == 0)
			break;
		const struct trie_key *k = keyfn(slot_val(s));
		uint32_t home = (uint32_t)(hash_key(k->b, k->len) >> 20) & mask;
		/* Move s into the hole at i unless its home lies in (i, j]. */
		bool stay = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
		if (!stay) {
			ch->slot[i] = s;
			i = j;
		}
	}
	ch->slot[i] = 0;
	ch->count--;
	return 0;
}

void
zhash_clear(struct zhash *h)
{
	for (uint32_t d = 0; h->dirs != NULL && d < ndirs(h); d++) {
		for (uint32_t i = 0; i < leaf_len(h); i++)
			trie_obj_release(h->dirs[d][i]);
		trie_obj_release(h->dirs[d]);
	}
	trie_obj_release(h->dirs);
	h->dirs = NULL;
	h->nchunks = 0;
}
