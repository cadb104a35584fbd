/*
 * Propagation tracking: for each zone and each target (a secondary, known
 * by its IP address), the serial it last asked IXFR from or received in
 * full, when, over which transport, and the NOTIFYs sent to it; plus the
 * commit time of recent serials, so the lag between a commit and a target
 * holding that serial can be told.  In memory, guarded by one mutex; all
 * functions are thread-safe.  Zones are presentation names with trailing dot.
 */
#ifndef PRIMARY_PROPAGATION_H
#define PRIMARY_PROPAGATION_H

#include <stdbool.h>
#include <stdint.h>

struct propagation;

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
 * Whether target `ip` is known to hold `serial` of `zone` or newer (asked
 * IXFR from it, or received it).  Thread-safe.
 */
bool propagation_has(struct propagation *p, const char *zone, const char *ip, uint32_t serial);

/*
 * JSON text (malloc'd, caller frees) for `GET /zones/{id}/propagation`:
 *   {"zone": "example.com.", "serial": CUR, "committed_at": ISO,
 *    "targets": [{"target": "127.0.0.1", "serial": N, "up_to_date": bool,
 *      "how": "IXFR"|"AXFR"|"IXFR request"|..., "transport": "TCP",
 *      "key": "...", "last_transfer": ISO, "lag_ms": N|null,
 *      "behind_ms": N|null, "notify": {"remote": "ip@port", "serial": N,
 *      "answered": bool, "tries": N, "at": ISO}}, ...]}
 * `serial` is the zone's current serial.  NULL on -ENOMEM.
 */
char *propagation_json(struct propagation *p, const char *zone, uint32_t serial,
                       int64_t now_ms);

#endif
