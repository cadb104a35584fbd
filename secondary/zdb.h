/*
 * The zone database of a secondary: the set of zones served, each with its
 * current version (secondary/zone.h), read lock-free by the workers.
 *
 * Readers (answer_build on worker threads) use liburcu-qsbr: each worker
 * calls rcu_register_thread() once, rcu_quiescent_state() between batches,
 * and rcu_thread_offline()/rcu_thread_online() around blocking waits.  A
 * reader that looked a zone up may use that version until its next
 * quiescent state: it sees one version from start to end of a query.
 *
 * Writers (transfers, catalog, timers) are serialized by a mutex inside the
 * zdb; they must run on threads registered with rcu_register_thread() (or
 * call the functions while offline), because retired versions are freed
 * with call_rcu().  Nothing here logs.
 *
 * Invariants: a zone is present at most once; its version, when set, has
 * the same apex; a published version is never modified.
 */
#ifndef SECONDARY_ZDB_H
#define SECONDARY_ZDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zone;
struct zdb;

/* State of one zone, as zdb_find / zdb_walk report it. */
struct zdb_view {
	const uint8_t *apex;       /* wire form; valid while the zone is in the zdb */
	const struct zone *zone;   /* current version, NULL before the first publish */
	bool expired;              /* answers SERVFAIL (RFC 1035 §4.3.5 expire) */
};

typedef int (*zdb_walk_fn)(void *ctx, const struct zdb_view *v);

/* Empty database, or NULL when memory is exhausted. */
struct zdb *zdb_new(void);

/*
 * Frees the database, every zone entry and every current version.  No reader
 * may use it any more and no call_rcu callback of it may be pending
 * (call rcu_barrier() first when versions were published).  NULL is a no-op.
 */
void zdb_free(struct zdb *db);

/*
 * Adds zone `apex` (wire form, copied) without a version: it answers
 * SERVFAIL until the first zdb_publish.  Returns 0, -EEXIST, -ENOMEM.
 */
int zdb_add(struct zdb *db, const uint8_t *apex);

/*
 * Removes zone `apex`; its entry and version are freed after a grace period.
 * Returns 0 or -ENOENT.
 */
int zdb_remove(struct zdb *db, const uint8_t *apex);

/*
 * Publishes `z` (takes it) as the current version of its zone with one
 * atomic pointer swap, and clears the expired mark.  The previous version,
 * if any, is freed with zone_free() after an RCU grace period (call_rcu),
 * so publishing never waits for readers.  The zone must have been added.
 * Returns 0, or -ENOENT (then `z` is still the caller's).
 */
int zdb_publish(struct zdb *db, struct zone *z);

/*
 * Frees `z` with zone_free() after an RCU grace period (takes it).  For a
 * version that was committed but could not be published (zdb_publish
 * returned -ENOENT because the zone was removed meanwhile): its retired base
 * may still be read by workers, and the two share nodes, so it must not be
 * freed at once.  Never waits.
 */
void zdb_retire(struct zone *z);

/*
 * Marks zone `apex` expired (SERVFAIL for every query in it) or not.
 * Returns 0 or -ENOENT.
 */
int zdb_set_expired(struct zdb *db, const uint8_t *apex, bool expired);

/*
 * Current version of zone `apex` (exact match), or NULL if the zone is
 * absent or has no version yet.  For a writer, the version stays valid until
 * its own next zdb_publish/zdb_remove of that zone (so an IXFR can be
 * applied to it with zone_update_begin); for a reader, until its next
 * quiescent state.
 */
const struct zone *zdb_get(struct zdb *db, const uint8_t *apex);

/*
 * Finds the zone that is the longest match for the name whose lookup key
 * (dns_name_to_lookup) is `key`/`keylen`, filling `v`.  Returns true when
 * a zone encloses the name.  Reader side; no allocation, no lock.
 */
bool zdb_find(struct zdb *db, const uint8_t *key, size_t keylen, struct zdb_view *v);

/*
 * Calls `fn` for every zone in canonical order (for /metrics, /healthz,
 * persistence).  Holds the writer mutex: `fn` must not call zdb writers.
 * Returns 0 or fn's non-zero value.
 */
int zdb_walk(struct zdb *db, zdb_walk_fn fn, void *ctx);

/* Number of zones. */
size_t zdb_count(struct zdb *db);

#endif
