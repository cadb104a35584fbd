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
/* Frees the source's cache (after every transfer using it has ended). */
void xfrout_store_source_clear(struct xfrout_source *src);

/* Same for the NOTIFY sender: SOA from the store, the zone's first
 * master_tsig_key_ids key to sign with. */
void notify_store_source(struct store *st, struct notify_source *src);

#endif
