/*
 * The store as the data source of outgoing transfers and NOTIFY: each load
 * runs in one store snapshot (one read transaction), so a transfer sees one
 * version.
 */
#ifndef PRIMARY_XFROUT_STORE_H
#define PRIMARY_XFROUT_STORE_H

#include "primary/notify.h"
#include "primary/xfrout.h"

struct store;

/*
 * Fills `src` with functions reading `st` (borrowed, must outlive it),
 * with a cache of the zone versions last transferred.  0 or -ENOMEM.
 */
int xfrout_store_source(struct store *st, struct xfrout_source *src);
/*
 * Drops the cached versions of `zone` (after a commit or a delete they are
 * no longer current; transfers sending one keep it until they end).
 */
void xfrout_store_forget(struct xfrout_source *src, const uint8_t *zone);
/* Points the transfer ACL at the POP registry's checks (pop_gate.h); NULL: none. */
struct pop_gate;
void xfrout_store_set_gate(struct xfrout_source *src, const struct pop_gate *gate);
/*
 * Caps the cache at `bytes` (default 512 MiB) and evicts the least recently
 * used versions until it fits.  A version larger than half the cap is never
 * cached.
 */
void xfrout_store_set_cache_limit(struct xfrout_source *src, size_t bytes);

/*
 * A large zone's first transfers read it through a cursor as they send; a
 * client slower than `ms` (default 3000) gets the rest read into memory at
 * once, so that no transfer holds a read snapshot (and the WAL) longer.
 */
void xfrout_store_set_stream_hold(struct xfrout_source *src, int64_t ms);

struct xfrout_store_stats {
	size_t zones;       /* cached versions (at most one per zone) */
	size_t bytes;       /* their buffer sizes */
	size_t limit;
	uint64_t ops;       /* cache entries visited by lookups so far: stays O(1) per
	                     * lookup, invalidation and eviction, whatever the zone count */
};

/* The cache's figures now. */
void xfrout_store_stats(struct xfrout_source *src, struct xfrout_store_stats *out);
/* Frees the source's cache (after every transfer using it has ended). */
void xfrout_store_source_clear(struct xfrout_source *src);

/* Same for the NOTIFY sender: SOA from the store, the zone's first
 * master_tsig_key_ids key to sign with. */
void notify_store_source(struct store *st, struct notify_source *src);

#endif
