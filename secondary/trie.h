/*
 * qp-trie (Tony Finch's design, as in Knot's contrib/qp-trie) over byte
 * strings, with copy-on-write path copying for versioned data.
 *
 * Keys are compared bytewise (memcmp order, a key sorts before its
 * extensions), so lookup-form names (dns/name.h) iterate in canonical DNS
 * order.  A key lives in the caller's value: the trie stores a pointer to a
 * `struct trie_key` that must stay valid and unchanged while the value is in
 * the trie.
 *
 * Copy-on-write: a change made with a `struct trie_cow` never writes to a
 * branch array or value that existed before the transaction began; it copies
 * the array (once per transaction), writes the copy, and lists the original
 * as garbage.  Objects are allocated with trie_obj_alloc() so that each
 * carries the generation of the transaction that made it.  Without a
 * transaction (cow == NULL) changes are made in place (building a version
 * nobody reads yet, or freeing).
 *
 * Not thread-safe for writers; readers of a finished trie need no locks.
 */
#ifndef SECONDARY_TRIE_H
#define SECONDARY_TRIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trie_key {
	uint16_t len;
	uint8_t b[];
};

/* Two words: a leaf (key pointer, value) or a branch (bitmap+index, twigs). */
struct trie_node {
	uintptr_t w;
	void *p;
};

struct trie {
	struct trie_node root;
	size_t count;
};

/* One copy-on-write transaction. */
struct trie_cow {
	uint32_t gen;       /* generation stamped on objects made in this txn */
	bool enomem;        /* sticky: an allocation failed */
	void **fresh;       /* objects made in this txn (NULL once freed) */
	size_t nfresh, capfresh;
	void **garbage;     /* pre-existing objects this txn replaced */
	size_t ngarbage, capgarbage;
};

typedef int (*trie_walk_fn)(void *ctx, void *val);

void trie_init(struct trie *t);

/* Value stored under `key`, or NULL. */
void *trie_get(const struct trie *t, const uint8_t *key, size_t len);

/*
 * Length of the longest common prefix between `key` and any key in the trie
 * (0 for an empty trie).  One walk from the root, no allocation.
 */
size_t trie_lcp(const struct trie *t, const uint8_t *key, size_t len);

/*
 * One walk for both: the value under `key` (NULL when absent), and in *lcp
 * the longest common prefix with any key (len when found).
 */
void *trie_get_lcp(const struct trie *t, const uint8_t *key, size_t len, size_t *lcp);

/*
 * The value of the greatest key <= `key` (< `key` when !or_equal) in key
 * order, or NULL when there is none.  Two walks from the root, no allocation.
 */
void *trie_get_prev(const struct trie *t, const uint8_t *key, size_t len, bool or_equal);

/* True when some key strictly extends `key` (has it as a proper prefix). */
bool trie_has_below(const struct trie *t, const uint8_t *key, size_t len);

/*
 * Inserts `val` under `k` (borrowed: must live as long as the entry), or
 * replaces the value of an equal key, returning the old value in *old
 * (NULL when new).  Returns 0 or -ENOMEM (trie unchanged).
 */
int trie_insert(struct trie *t, struct trie_cow *c, const struct trie_key *k, void *val,
                void **old);

/* Removes `key`; returns its value or NULL when absent.  -ENOMEM sets c->enomem. */
void *trie_delete(struct trie *t, struct trie_cow *c, const uint8_t *key, size_t len);

/* Calls fn for every value in key order; stops at and returns a non-zero result. */
int trie_walk(const struct trie *t, trie_walk_fn fn, void *ctx);

/* Frees every branch array (not the values) of a trie that owns all of them. */
void trie_clear(struct trie *t);

/* ---- objects with a generation (branch arrays, and the caller's values) ---- */

/* Starts a transaction; returns 0 or -ENOMEM. */
int trie_cow_begin(struct trie_cow *c);
/* Frees every object made in the transaction and its lists. */
void trie_cow_abort(struct trie_cow *c);
/*
 * Ends the transaction: objects made in it now belong to the new version and
 * the garbage list is handed to the caller in garbage[0..n) (free each with
 * trie_obj_release once no reader can see the old version).
 */
void trie_cow_commit(struct trie_cow *c, void ***garbage, size_t *n);

/* Allocates `size` bytes stamped with c's generation (0 without c). NULL: -ENOMEM. */
void *trie_obj_alloc(struct trie_cow *c, size_t size);
/* True when `obj` was made in transaction c (so it may be written in place). */
bool trie_obj_fresh(const struct trie_cow *c, const void *obj);
/* Drops `obj` from the new version: freed now if fresh, else listed as garbage. */
void trie_obj_retire(struct trie_cow *c, void *obj);
/* Frees `obj` unconditionally; NULL is a no-op. */
void trie_obj_release(void *obj);

#endif
