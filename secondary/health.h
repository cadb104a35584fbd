/*
 * Is this POP fit to be announced?  Healthy while all of these hold:
 *   - the DNS service is listening (set by main once UDP and TCP are up);
 *   - at least one zone is followed, and every followed zone (and the catalog
 *     when one is followed) has a version loaded that has not expired;
 *   - no zone has stayed behind the primary's serial for more than
 *     `max_lag_s` seconds, or by more than `max_lag_serials` serials.  The
 *     primary's serial is learnt from NOTIFY (health_on_notify wraps the
 *     timers' NOTIFY hook) and from every successful refresh (the served
 *     serial is then the primary's).
 * health_eval is pure (a list of zone states in, a verdict out) so the unit
 * tests drive it directly; health_check reads the zones from the timers.
 * Thread-safe: a mutex guards the table of primary serials (touched by NOTIFY
 * and the announce thread only, never by queries).
 */
#ifndef SECONDARY_HEALTH_H
#define SECONDARY_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secondary/timers.h"

struct health;

struct health_cfg {
	struct timers *timers;        /* NULL: health_check sees no zones (tests) */
	unsigned max_lag_s;           /* 0: no limit in seconds */
	uint32_t max_lag_serials;     /* 0: no limit in serials */
};

/* Verdict; `why` holds one line per fault ("zone example.com. expired\n"). */
struct health_result {
	bool healthy;
	unsigned faults;
	unsigned zones;
	char why[1024];               /* every fault, truncated with "...\n" */
	char lag[512];                /* the lag and listening faults only (for /healthz) */
};

/* NULL on ENOMEM.  Copies cfg. */
struct health *health_new(const struct health_cfg *cfg);
void health_free(struct health *h);

/* Sets the timers whose zones health_check judges (before serving starts). */
void health_set_timers(struct health *h, struct timers *t);

/*
 * For timers_cfg.on_primary_serial (ctx = the health): the primary's serial
 * seen by a refresh's SOA check, noted as by health_note_primary.
 */
void health_primary_serial_cb(void *h, const char *zone, uint32_t serial);

/* Main says the service sockets are (or are no longer) bound. */
void health_set_listening(struct health *h, bool on);

/*
 * Records that the primary has `serial` for `zone` (presentation form, with
 * its trailing dot) at `now_ms` (monotonic).  A serial not ahead of the one
 * known is ignored (RFC 1982).  Returns 0 or -ENOMEM.
 */
int health_note_primary(struct health *h, const char *zone, uint32_t serial, int64_t now_ms);

/*
 * notify_zone_fn with ctx = the health: notes the serial of an accepted
 * NOTIFY, then calls timers_notify on cfg.timers and returns its result.
 */
int health_on_notify(void *h, const uint8_t *apex, bool has_serial, uint32_t serial);

/*
 * Judges the zones `zi[0..n)` at `now_ms` into `out`.  Pure apart from the
 * primary-serial table (it remembers since when each zone is behind).
 */
void health_eval(struct health *h, const struct timers_zone_info *zi, size_t n, int64_t now_ms,
                 struct health_result *out);

/* health_eval over the zones the timers follow now.  -ENOMEM leaves out unhealthy. */
int health_check(struct health *h, int64_t now_ms, struct health_result *out);

/* Monotonic milliseconds, the clock every now_ms above expects. */
int64_t health_now_ms(void);

#endif
