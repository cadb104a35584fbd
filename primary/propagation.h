/*
 * Propagation tracking: for each zone and each target (a registered POP,
 * known by its registry name, or another secondary, known by its IP
 * address), the serial it last asked IXFR from or received in full, when,
 * over which transport, and the NOTIFYs sent to it; plus the commit time
 * of recent serials, so the lag between a commit and a target holding that
 * serial can be told.  In memory, guarded by one mutex; all functions are
 * thread-safe.  Zones are presentation names with trailing dot.
 *
 * Durability (propagation_persist_start): each POP's acknowledged serial
 * per zone is kept in the store's pop_serials table.  A change only queues
 * the (zone, POP) pair (once until written); a flusher thread writes the
 * queue every PROP_FLUSH_MS in batched transactions, so neither a commit
 * nor a transfer waits for the disk.  A crash loses at most the last
 * PROP_FLUSH_MS of acknowledgements: the POP then looks behind and gets
 * one NOTIFY too many, never one too few.
 */
#ifndef PRIMARY_PROPAGATION_H
#define PRIMARY_PROPAGATION_H

#include <stdbool.h>
#include <stdint.h>

struct propagation;
struct store;

/* How often queued POP serials are written to the store. */
#define PROP_FLUSH_MS 1000

enum propagation_how {
	PROP_IXFR_ASKED,     /* asked IXFR from `serial`: it holds `serial` */
	PROP_IXFR_DONE,      /* received `serial` by incremental IXFR */
	PROP_FULL_DONE,      /* received `serial` in full (AXFR, or IXFR as a full zone) */
	PROP_SOA_ASKED,      /* asked for the SOA (serial unknown): contact only */
};

/* NULL on -ENOMEM. */
struct propagation *propagation_new(void);
void propagation_free(struct propagation *p);

/* Wall clock in milliseconds since the epoch (what every `when_ms` uses). */
int64_t propagation_now_ms(void);

/* Zone `zone` committed `serial` at `when_ms`. */
void propagation_commit(struct propagation *p, const char *zone, uint32_t serial,
                        int64_t when_ms);

/* Forgets a deleted zone. */
void propagation_drop_zone(struct propagation *p, const char *zone);

/*
 * Target `ip` (text, no port) did `how` for `serial` of `zone` over
 * `transport` ("TCP", "QUIC"), with TSIG key `key` (text, NULL: none).
 */
void propagation_seen(struct propagation *p, const char *zone, const char *ip,
                      const char *transport, const char *key, enum propagation_how how,
                      uint32_t serial, int64_t when_ms);

/*
 * A NOTIFY for `serial` of `zone` went to `target` ("ip@port"); `answered`
 * tells whether it was acknowledged, `tries` how many sends it took.
 */
void propagation_notified(struct propagation *p, const char *zone, const char *target,
                          uint32_t serial, bool answered, unsigned tries, int64_t when_ms);

/*
 * Whether the target at `ip` asked for or received a transfer of any zone
 * at or after `since_ms`: one working through a backlog.  Thread-safe.
 */
bool propagation_busy(struct propagation *p, const char *ip, int64_t since_ms);

/*
 * Whether target `ip` is known to hold `serial` of `zone` or newer (asked
 * IXFR from it, or received it).  Thread-safe.
 */
bool propagation_has(struct propagation *p, const char *zone, const char *ip, uint32_t serial);

/*
 * JSON text (malloc'd, caller frees) for `GET /zones/{id}/propagation`:
 *   {"zone": "example.com.", "serial": CUR, "committed_at": ISO,
 *    "targets": [{"target": "tokyo" (a POP's name) or "127.0.0.1" (others),
 *      "pop": "tokyo"|null, "address": "10.53.0.2"|null, "serial": N, "up_to_date": bool,
 *      "how": "IXFR"|"AXFR"|"IXFR request"|..., "transport": "TCP",
 *      "key": "...", "last_transfer": ISO, "lag_ms": N|null,
 *      "behind_ms": N|null, "notify": {"remote": "ip@port", "serial": N,
 *      "answered": bool, "tries": N, "at": ISO}}, ...]}
 * `serial` is the zone's current serial.  NULL on -ENOMEM.
 */
char *propagation_json(struct propagation *p, const char *zone, uint32_t serial,
                       int64_t now_ms);

/*
 * POP `name` (registry name) has address `ip` (text): from now on what is
 * seen from that address is recorded under the POP's name, and persisted.
 * Adding a known name updates its address.  0, -EINVAL (too long), -ENOMEM.
 */
int propagation_pop_add(struct propagation *p, const char *name, const char *ip);

/*
 * Forgets POP `name` (retired): its targets in every zone and its queued
 * writes go; its address is an ordinary target from now on.
 */
void propagation_pop_drop(struct propagation *p, const char *name);

/*
 * The serial POP `pop` last acknowledged for `zone` into *serial: true, or
 * false when none is known.
 */
bool propagation_pop_serial(struct propagation *p, const char *pop, const char *zone,
                            uint32_t *serial);

/*
 * Loads the stored POP serials from `st` (borrowed, must outlive
 * propagation_persist_stop) and starts the flusher thread.  Call before
 * any transfer is served.  0, -EIO, or a negative errno.
 */
int propagation_persist_start(struct propagation *p, struct store *st);

/* Writes the queued POP serials now.  0 or -EIO.  For shutdown and tests. */
int propagation_flush(struct propagation *p);

/*
 * Stops the flusher and writes what is queued; propagation_free does it
 * too.  NULL or not started: no-op.
 */
void propagation_persist_stop(struct propagation *p);

#endif
