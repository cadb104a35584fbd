/*
 * The two structures that keep a POP with 100,000 zones O(1)/O(log n) per
 * zone (issue 18.2): a set of zones by name (open addressing, linear probing,
 * backward-shift deletion), and an indexed binary min-heap of timers (one
 * queue for every zone's refresh, one for every zone's expiry, instead of a
 * scan of all zones per decision).  Neither locks; the caller does.
 */
#ifndef SECONDARY_SCHED_H
#define SECONDARY_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- set by name ---- */

/* The wire name (any case; compared case-insensitively) a value is filed under. */
typedef const uint8_t *(*nameset_key_fn)(const void *val);

struct nameset {
	void **slot;
	size_t cap;       /* power of two, or 0 */
	size_t n;
	nameset_key_fn key;
};

void nameset_init(struct nameset *s, nameset_key_fn key);
void nameset_free(struct nameset *s);     /* the table only, never the values */
void *nameset_get(const struct nameset *s, const uint8_t *name);
/* Files `val` under key(val), replacing a value with the same name.  0 or -ENOMEM. */
int nameset_put(struct nameset *s, void *val);
/* Removes the value filed under `name`; it, or NULL. */
void *nameset_del(struct nameset *s, const uint8_t *name);

/* ---- timer heap ---- */

struct sheap_item {
	int64_t key;      /* due time */
	size_t pos;       /* 1 + index in the heap, 0: not queued */
};

struct sheap {
	struct sheap_item **v;
	size_t n, cap;
};

/* Queues `it` at `key`, or moves it there when queued.  0 or -ENOMEM. */
int sheap_set(struct sheap *h, struct sheap_item *it, int64_t key);
void sheap_del(struct sheap *h, struct sheap_item *it);   /* no-op when not queued */
static inline struct sheap_item *
sheap_top(const struct sheap *h)
{
	return h->n ? h->v[0] : NULL;
}
static inline bool
sheap_queued(const struct sheap_item *it)
{
	return it->pos != 0;
}
/* The heap only (its items may be gone already). */
void sheap_free(struct sheap *h);

#endif
