/*
 * One immutable version of one zone in memory, laid out for answering.
 *
 * A version is a qp-trie (secondary/trie.h) keyed by the lookup form of each
 * owner name (dns/name.h: labels reversed, lowercased), so key order is the
 * canonical DNS order, plus an exact-match hash index over the same nodes
 * (secondary/zhash.h) for the query path.  Every name between the apex and an owner exists as a
 * node (empty non-terminals are explicit nodes without rrsets), so the
 * closest encloser of any name is its deepest existing ancestor.  A node is
 * one allocation holding its key, its owner name and its rrsets as
 * wire-ready bytes (owner pointer 0xc00c, type, class, TTL, rdlength,
 * uncompressed rdata), so an answer copies them without decoding.
 *
 * Versions are built two ways:
 *   - from scratch (zone_builder_*): AXFR, zone text, persisted state;
 *   - from a previous version plus changes (zone_update_*): IXFR.  The new
 *     version shares every untouched node and trie branch with its base
 *     (copy-on-write along the changed paths only), so a one-record change
 *     to a 1,000,000-record zone copies a few hundred bytes.
 *
 * Invariants of every finished version: exactly one SOA record, at the apex;
 * every owner at or below the apex; class IN only; a CNAME rrset has one
 * record and stands alone at its node (RRSIG/NSEC aside).
 *
 * Threads: a finished version is read-only and may be read by any number of
 * threads.  Building or updating is single-threaded per zone.
 */
#ifndef SECONDARY_ZONE_H
#define SECONDARY_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/rr.h"

struct zone;
struct zone_builder;
struct zone_update;

/* The SOA fields callers schedule timers and compare serials with. */
struct zone_soa {
	uint32_t ttl;
	uint32_t serial, refresh, retry, expire, minimum;
};

/* Called once per record by zone_walk; `rr` and its pointers die on return.
 * A non-zero return stops the walk and is returned by zone_walk. */
typedef int (*zone_rr_fn)(void *ctx, const struct dns_rr *rr);

/* ---- building a version from scratch (AXFR, zone file, persisted state) ---- */

/*
 * Starts a version of the zone with apex `apex` (wire form, copied).
 * Returns NULL when memory is exhausted.
 */
struct zone_builder *zone_builder_new(const uint8_t *apex);

/*
 * Adds one record (copied; `rr` is borrowed).  Duplicates (same owner, type
 * and rdata, names compared case-insensitively in the owner only) are kept
 * once; within an rrset the first TTL seen wins.
 * Returns 0, -ENOMEM, or ERR_XFR with `err` (errcap bytes, may be NULL)
 * naming the record: owner outside the zone, class other than IN, a meta
 * type (OPT, TSIG, AXFR...), rdata longer than 65535 - 12.
 */
int zone_builder_add(struct zone_builder *b, const struct dns_rr *rr, char *err, size_t errcap);

/*
 * Validates and finishes the version.  Takes `b` (freed on success and on
 * failure).  On success *out is a new version owned by the caller (free it
 * with zone_free, or hand it to zdb_publish).
 * Returns 0, -ENOMEM, or ERR_XFR with `err` saying why: no SOA at the apex,
 * more than one SOA record, CNAME beside other data or more than one CNAME.
 */
int zone_builder_finish(struct zone_builder *b, struct zone **out, char *err, size_t errcap);

/* Frees an unfinished builder; NULL is a no-op. */
void zone_builder_free(struct zone_builder *b);

/* ---- a new version from the latest one plus changes (IXFR) ---- */

/*
 * Starts a change of `base`, which must be the latest version of its zone
 * (never one already superseded by a committed update) and must stay alive
 * until commit or abort.  `base` is not modified.  At most one update per
 * base.  Returns NULL when memory is exhausted.
 */
struct zone_update *zone_update_begin(const struct zone *base);

/*
 * Removes one record, which must exist in the zone as changed so far
 * (owner compared case-insensitively, type and rdata exactly, TTL ignored).
 * The SOA is removed and added like any record (an IXFR diff removes the old
 * SOA and adds the new one).  Returns 0, -ENOMEM, or ERR_XFR with `err`
 * naming the record ("remove of absent record www.example.com. A 192.0.2.1").
 * After an error the update must be aborted.
 */
int zone_update_remove(struct zone_update *u, const struct dns_rr *rr, char *err, size_t errcap);

/*
 * Adds one record (copied).  Adding a record that already exists is a no-op
 * except that the rrset takes the new TTL.  Errors as zone_builder_add;
 * after an error the update must be aborted.
 */
int zone_update_add(struct zone_update *u, const struct dns_rr *rr, char *err, size_t errcap);

/*
 * Validates (as zone_builder_finish) and finishes the change.  Takes `u`.
 * On success *out is the new version, and `base` becomes *retired*: it stays
 * readable exactly as before (readers still holding it see no change), and
 * the only thing left to do with it is zone_free(base) once no reader can
 * hold it (zdb_publish arranges that with RCU); that frees only what the new
 * version does not share.  Retired versions must be freed in the order they
 * were retired, or all after the same grace period.
 * On failure the update is aborted, `base` stays the latest version, and
 * the return is -ENOMEM or ERR_XFR with `err` naming the fault.
 * Cost: O(changes x depth), never O(zone).
 */
int zone_update_commit(struct zone_update *u, struct zone **out, char *err, size_t errcap);

/* Drops every change; `base` stays the latest version.  NULL is a no-op. */
void zone_update_abort(struct zone_update *u);

/*
 * Convenience for one IXFR delta (RFC 1995): removes `del` (old SOA first,
 * as on the wire), adds `add` (new SOA first), commits.  Same contract and
 * errors as the three calls above.
 */
int zone_apply_diff(const struct zone *base, const struct dns_rr *del, size_t ndel,
                    const struct dns_rr *add, size_t nadd, struct zone **out,
                    char *err, size_t errcap);

/* ---- reading a version ---- */

/* Apex name in wire form (as given to zone_builder_new); valid while z lives. */
const uint8_t *zone_apex(const struct zone *z);

/* The apex SOA's TTL and fields. */
void zone_soa(const struct zone *z, struct zone_soa *soa);

/* Shortcut for zone_soa(z).serial. */
uint32_t zone_serial(const struct zone *z);

/*
 * The earliest signature expiration of the version (RRSIG Signature
 * Expiration, seconds since the epoch modulo 2^32, compared in serial
 * arithmetic, RFC 4034 §3.1.5) into *expire.  False when it has no RRSIG.
 */
bool zone_sig_expire(const struct zone *z, uint32_t *expire);

/* Number of records (not rrsets, not nodes) in the version. */
size_t zone_records(const struct zone *z);

/*
 * Calls `fn` for every record in canonical order of owner names (RFC 4034
 * §6.1), rrsets of one owner by type, the SOA first.  NSEC3 owners (kept
 * apart from the names of the zone) come last, in hash order.  Owner names come
 * lowercased (they are rebuilt from the lookup key; rdata is as added).
 * Returns 0 or fn's non-zero value.
 */
int zone_walk(const struct zone *z, zone_rr_fn fn, void *ctx);

/*
 * Frees a version: everything if it is the latest, or only what its
 * successor does not share if it is retired.  NULL is a no-op.  No reader
 * may hold `z` any more, nor its retired predecessor (they share nodes): a
 * version that could not be published goes to zdb_retire() instead.
 */
void zone_free(struct zone *z);

#endif
