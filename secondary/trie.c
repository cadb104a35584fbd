/*
 * qp-trie with copy-on-write.  A branch word holds: bit 0 set (branch tag),
 * bits 1..17 the twig bitmap (bit 1: the key ends here, bits 2..17: nibble
 * values 0..15), bits 18.. the nibble index it tests.  Twigs are stored in
 * bitmap order, which is key order (a key that ends sorts first).  A leaf
 * word is the pointer to its `struct trie_key` (2-aligned, so bit 0 clear).
 *
 * Invariant: all keys below a branch agree on every nibble before its index,
 * and a branch has at least two twigs.  Every array and value made inside a
 * transaction carries the transaction's generation in a small header; only
 * those are written in place, everything older is copied first.
 */
#include "secondary/trie.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define BM_MASK ((uintptr_t)0x3fffe)
#define BIT_END ((uintptr_t)1 << 1)

struct obj_hdr {
	uint32_t gen;
	uint32_t idx;    /* position in the txn's fresh list */
	uint64_t pad;    /* keeps the payload 16-aligned */
};

static _Atomic uint32_t next_gen = 1;

static inline struct obj_hdr *
hdr_of(const void *obj)
{
	return (struct obj_hdr *)((uintptr_t)obj - sizeof(struct obj_hdr));
}

static inline bool
is_branch(const struct trie_node *n)
{
	return (n->w & 1) != 0;
}

static inline size_t
br_index(const struct trie_node *n)
{
	return (size_t)(n->w >> 18);
}

static inline struct trie_node *
br_twigs(const struct trie_node *n)
{
	return (struct trie_node *)n->p;
}

/* Bit count without a libgcc call (the build does not assume -mpopcnt). */
static inline unsigned
pop32(uint32_t x)
{
	x = x - ((x >> 1) & 0x55555555u);
	x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
	x = (x + (x >> 4)) & 0x0f0f0f0fu;
	return (x * 0x01010101u) >> 24;
}

static inline unsigned
br_count(const struct trie_node *n)
{
	return pop32((uint32_t)(n->w & BM_MASK));
}

static inline const struct trie_key *
leaf_key(const struct trie_node *n)
{
	return (const struct trie_key *)n->w;
}

/* The bitmap bit that `key` selects at nibble index `i`. */
static inline uintptr_t
nibble_bit(const uint8_t *key, size_t len, size_t i)
{
	size_t byte = i >> 1;
	if (byte >= len)
		return BIT_END;
	unsigned nib = (i & 1) ? (key[byte] & 0xfu) : (unsigned)(key[byte] >> 4);
	return (uintptr_t)1 << (2 + nib);
}

static inline unsigned
twig_pos(uintptr_t w, uintptr_t bit)
{
	return pop32((uint32_t)(w & BM_MASK & (bit - 1)));
}

void
trie_init(struct trie *t)
{
	memset(t, 0, sizeof(*t));
}

void *
trie_get(const struct trie *t, const uint8_t *key, size_t len)
{
	if (t->count == 0)
		return NULL;
	const struct trie_node *n = &t->root;
	while (is_branch(n)) {
		uintptr_t bit = nibble_bit(key, len, br_index(n));
		if (!(n->w & bit))
			return NULL;
		n = br_twigs(n) + twig_pos(n->w, bit);
	}
	const struct trie_key *k = leaf_key(n);
	if (k->len != len || memcmp(k->b, key, len) != 0)
		return NULL;
	return n->p;
}

/* Any leaf reachable by following `key`, taking the first twig when the nibble is absent. */
static const struct trie_node *
best_leaf(const struct trie *t, const uint8_t *key, size_t len)
{
	const struct trie_node *n = &t->root;
	while (is_branch(n)) {
		uintptr_t bit = nibble_bit(key, len, br_index(n));
		unsigned pos = (n->w & bit) ? twig_pos(n->w, bit) : 0;
		n = br_twigs(n) + pos;
	}
	return n;
}

void *
trie_get_lcp(const struct trie *t, const uint8_t *key, size_t len, size_t *lcp)
{
	*lcp = 0;
	if (t->count == 0)
		return NULL;
	const struct trie_node *n = best_leaf(t, key, len);
	const struct trie_key *k = leaf_key(n);
	size_t m = k->len < len ? k->len : len, i = 0;
	while (i < m && k->b[i] == key[i])
		i++;
	*lcp = i;
	return (i == len && k->len == len) ? n->p : NULL;
}

/* The last leaf below `n` in key order. */
static const struct trie_node *
last_leaf(const struct trie_node *n)
{
	while (is_branch(n))
		n = br_twigs(n) + br_count(n) - 1;
	return n;
}

void *
trie_get_prev(const struct trie *t, const uint8_t *key, size_t len, bool or_equal)
{
	if (t->count == 0)
		return NULL;
	const struct trie_key *k = leaf_key(best_leaf(t, key, len));
	size_t m = k->len < len ? k->len : len, i = 0;
	while (i < m && k->b[i] == key[i])
		i++;
	if (i == len && k->len == len && or_equal)
		return best_leaf(t, key, len)->p;
	/* First nibble where `key` leaves every stored key (2*len: it ends there). */
	size_t d = 2 * i;
	if (i < m && (k->b[i] >> 4) == (key[i] >> 4))
		d++;
	bool exact = i == len && k->len == len;
	/* Walk down along `key` above d, remembering the deepest left sibling. */
	const struct trie_node *n = &t->root, *left = NULL;
	while (is_branch(n) && (exact || br_index(n) < d)) {
		uintptr_t bit = nibble_bit(key, len, br_index(n));
		unsigned pos = twig_pos(n->w, bit);
		if (pos > 0)
			left = br_twigs(n) + pos - 1;
		n = br_twigs(n) + pos;
	}
	if (exact) {
		/* n is the leaf of `key` itself: everything before it. */
		return left ? last_leaf(left)->p : NULL;
	}
	uintptr_t kb = nibble_bit(key, len, d);
	if (is_branch(n) && br_index(n) == d) {
		/* `key`'s nibble is missing here: the twig just before where it would be. */
		unsigned pos = twig_pos(n->w, kb);
		if (pos > 0)
			return last_leaf(br_twigs(n) + pos - 1)->p;
	} else {
		/* The whole subtree agrees with `key` before d and differs at d. */
		uintptr_t sb = nibble_bit(k->b, k->len, d);
		if (sb < kb)
			return last_leaf(n)->p;
	}
	return left ? last_leaf(left)->p : NULL;
}

size_t
trie_lcp(const struct trie *t, const uint8_t *key, size_t len)
{
	if (t->count == 0)
		return 0;
	const struct trie_key *k = leaf_key(best_leaf(t, key, len));
	size_t m = k->len < len ? k->len : len, i = 0;
	while (i < m && k->b[i] == key[i])
		i++;
	return i;
}

bool
trie_has_below(const struct trie *t, const uint8_t *key, size_t len)
{
	if (t->count == 0)
		return false;
	const struct trie_node *n = &t->root;
	while (is_branch(n) && br_index(n) < 2 * len) {
		uintptr_t bit = nibble_bit(key, len, br_index(n));
		if (!(n->w & bit))
			return false;
		n = br_twigs(n) + twig_pos(n->w, bit);
	}
	bool branch = is_branch(n);
	while (is_branch(n))
		n = br_twigs(n);
	const struct trie_key *k = leaf_key(n);
	if (k->len < len || memcmp(k->b, key, len) != 0)
		return false;
	/* A branch below the key's end holds >= 2 keys with this prefix: one is longer. */
	return branch || k->len > len;
}

/* ---- generation-stamped objects ---- */

static int
push(void ***arr, size_t *n, size_t *cap, void *p)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		void **na = realloc(*arr, nc * sizeof(*na));
		if (na == NULL)
			return -ENOMEM;
		*arr = na;
		*cap = nc;
	}
	(*arr)[(*n)++] = p;
	return 0;
}

void *
trie_obj_alloc(struct trie_cow *c, size_t size)
{
	struct obj_hdr *h = malloc(sizeof(*h) + size);
	if (h == NULL) {
		if (c != NULL)
			c->enomem = true;
		return NULL;
	}
	h->gen = c ? c->gen : 0;
	h->idx = 0;
	if (c != NULL) {
		h->idx = (uint32_t)c->nfresh;
		if (push(&c->fresh, &c->nfresh, &c->capfresh, h + 1) != 0) {
			free(h);
			c->enomem = true;
			return NULL;
		}
	}
	return h + 1;
}

bool
trie_obj_fresh(const struct trie_cow *c, const void *obj)
{
	return c == NULL || hdr_of(obj)->gen == c->gen;
}

void
trie_obj_release(void *obj)
{
	if (obj != NULL)
		free(hdr_of(obj));
}

void
trie_obj_retire(struct trie_cow *c, void *obj)
{
	if (obj == NULL)
		return;
	if (c == NULL) {
		trie_obj_release(obj);
		return;
	}
	struct obj_hdr *h = hdr_of(obj);
	if (h->gen == c->gen) {
		c->fresh[h->idx] = NULL;
		free(h);
		return;
	}
	if (push(&c->garbage, &c->ngarbage, &c->capgarbage, obj) != 0)
		c->enomem = true;   /* the old object leaks; the txn reports ENOMEM */
}

int
trie_cow_begin(struct trie_cow *c)
{
	memset(c, 0, sizeof(*c));
	c->gen = atomic_fetch_add(&next_gen, 1);
	if (c->gen == 0)
		c->gen = atomic_fetch_add(&next_gen, 1);
	return 0;
}

void
trie_cow_abort(struct trie_cow *c)
{
	for (size_t i = 0; i < c->nfresh; i++)
		trie_obj_release(c->fresh[i]);
	free(c->fresh);
	free(c->garbage);
	memset(c, 0, sizeof(*c));
}

void
trie_cow_commit(struct trie_cow *c, void ***garbage, size_t *n)
{
	free(c->fresh);
	*garbage = c->garbage;
	*n = c->ngarbage;
	memset(c, 0, sizeof(*c));
}

/* ---- changes ---- */

static struct trie_node *
arr_new(struct trie_cow *c, unsigned n)
{
	return trie_obj_alloc(c, (size_t)n * sizeof(struct trie_node));
}

/* Twigs of branch `n`, copied first unless they were made in this txn. */
static struct trie_node *
cow_twigs(struct trie_cow *c, struct trie_node *n)
{
	struct trie_node *tw = br_twigs(n);
	if (trie_obj_fresh(c, tw))
		return tw;
	unsigned cnt = br_count(n);
	struct trie_node *copy = arr_new(c, cnt);
	if (copy == NULL)
		return NULL;
	memcpy(copy, tw, cnt * sizeof(*copy));
	trie_obj_retire(c, tw);
	n->p = copy;
	return copy;
}

int
trie_insert(struct trie *t, struct trie_cow *c, const struct trie_key *k, void *val, void **old)
{
	*old = NULL;
	if (t->count == 0) {
		t->root.w = (uintptr_t)k;
		t->root.p = val;
		t->count = 1;
		return 0;
	}
	const struct trie_key *lk = leaf_key(best_leaf(t, k->b, k->len));
	size_t m = lk->len < k->len ? lk->len : k->len, i = 0;
	while (i < m && lk->b[i] == k->b[i])
		i++;
	size_t d;   /* first nibble index where the new key differs from the trie */
	if (i == m) {
		if (lk->len == k->len) {
			/* Equal key: replace the value along a copied path. */
			struct trie_node *n = &t->root;
			while (is_branch(n)) {
				uintptr_t bit = nibble_bit(k->b, k->len, br_index(n));
				unsigned pos = twig_pos(n->w, bit);
				struct trie_node *tw = cow_twigs(c, n);
				if (tw == NULL)
					return -ENOMEM;
				n = tw + pos;
			}
			*old = n->p;
			n->w = (uintptr_t)k;
			n->p = val;
			return 0;
		}
		d = 2 * m;
	} else {
		d = 2 * i + (((lk->b[i] ^ k->b[i]) & 0xf0) ? 0 : 1);
	}
	uintptr_t newbit = nibble_bit(k->b, k->len, d);
	struct trie_node *n = &t->root;
	while (is_branch(n) && br_index(n) < d) {
		uintptr_t bit = nibble_bit(k->b, k->len, br_index(n));
		unsigned pos = twig_pos(n->w, bit);
		struct trie_node *tw = cow_twigs(c, n);
		if (tw == NULL)
			return -ENOMEM;
		n = tw + pos;
	}
	struct trie_node leaf = {.w = (uintptr_t)k, .p = val};
	if (is_branch(n) && br_index(n) == d) {
		unsigned cnt = br_count(n), pos = twig_pos(n->w, newbit);
		struct trie_node *na = arr_new(c, cnt + 1);
		if (na == NULL)
			return -ENOMEM;
		struct trie_node *tw = br_twigs(n);
		memcpy(na, tw, pos * sizeof(*na));
		na[pos] = leaf;
		memcpy(na + pos + 1, tw + pos, (cnt - pos) * sizeof(*na));
		trie_obj_retire(c, tw);
		n->w |= newbit;
		n->p = na;
	} else {
		/* New branch at d with the old subtree and the new leaf. */
		const struct trie_key *ok;
		const struct trie_node *s = n;
		while (is_branch(s))
			s = br_twigs(s);
		ok = leaf_key(s);
		uintptr_t oldbit = nibble_bit(ok->b, ok->len, d);
		struct trie_node *na = arr_new(c, 2);
		if (na == NULL)
			return -ENOMEM;
		if (newbit < oldbit) {
			na[0] = leaf;
			na[1] = *n;
		} else {
			na[0] = *n;
			na[1] = leaf;
		}
		n->w = 1 | newbit | oldbit | ((uintptr_t)d << 18);
		n->p = na;
	}
	t->count++;
	return 0;
}

void *
trie_delete(struct trie *t, struct trie_cow *c, const uint8_t *key, size_t len)
{
	if (trie_get(t, key, len) == NULL)
		return NULL;
	struct trie_node *parent = NULL, *n = &t->root;
	uintptr_t pbit = 0;
	while (is_branch(n)) {
		uintptr_t bit = nibble_bit(key, len, br_index(n));
		unsigned pos = twig_pos(n->w, bit);
		struct trie_node *tw = cow_twigs(c, n);
		if (tw == NULL)
			return NULL;
		parent = n;
		pbit = bit;
		n = tw + pos;
	}
	void *val = n->p;
	if (parent == NULL) {
		t->count = 0;
		memset(&t->root, 0, sizeof(t->root));
		return val;
	}
	struct trie_node *tw = br_twigs(parent);
	unsigned cnt = br_count(parent), pos = twig_pos(parent->w, pbit);
	if (cnt == 2) {
		struct trie_node other = tw[pos ^ 1];
		trie_obj_retire(c, tw);
		*parent = other;
	} else {
		struct trie_node *na = arr_new(c, cnt - 1);
		if (na == NULL) {
			/* Fall back to removing in place: tw is fresh (copied above). */
			memmove(tw + pos, tw + pos + 1, (cnt - pos - 1) * sizeof(*tw));
			parent->w &= ~pbit;
			t->count--;
			return val;
		}
		memcpy(na, tw, pos * sizeof(*na));
		memcpy(na + pos, tw + pos + 1, (cnt - pos - 1) * sizeof(*na));
		trie_obj_retire(c, tw);
		parent->w &= ~pbit;
		parent->p = na;
	}
	t->count--;
	return val;
}

static int
walk(const struct trie_node *n, trie_walk_fn fn, void *ctx)
{
	if (!is_branch(n))
		return fn(ctx, n->p);
	unsigned cnt = br_count(n);
	for (unsigned i = 0; i < cnt; i++) {
		int r = walk(br_twigs(n) + i, fn, ctx);
		if (r != 0)
			return r;
	}
	return 0;
}

int
trie_walk(const struct trie *t, trie_walk_fn fn, void *ctx)
{
	if (t->count == 0)
		return 0;
	return walk(&t->root, fn, ctx);
}

static void
clear(struct trie_node *n)
{
	if (!is_branch(n))
		return;
	unsigned cnt = br_count(n);
	for (unsigned i = 0; i < cnt; i++)
		clear(br_twigs(n) + i);
	trie_obj_release(br_twigs(n));
}

void
trie_clear(struct trie *t)
{
	if (t->count > 0)
		clear(&t->root);
	trie_init(t);
}
