/*
 * Is this POP fit to be announced?  It is while it can serve the catalog as
 * a whole (README, "Health and announcement"):
 *   - the DNS service is listening (set by main once UDP and TCP are up);
 *   - the catalog, when one is followed, is loaded, not expired and not
 *     lagging (see below); with --zone, at least one zone is configured;
 *   - among the member zones, at most `max_bad` are bad.  A zone is bad when
 *     it is expired, or lags, or is missing (no version loaded) while
 *     "settled": configured, listed by the first catalog version this process
 *     saw, or a member for longer than `grace_s`.  A new member still within
 *     its grace is not bad (and not counted), it answers SERVFAIL meanwhile.
 *     `max_bad` is absolute, or a percentage of the settled members (at least
 *     one zone); 0 is strict: any bad zone withdraws;
 *   - some member is servable whenever a member is bad (a POP that can serve
 *     none of its zones is withdrawn whatever the budget);
 *   - signatures: a signed zone whose earliest RRSIG expires within
 *     `rrsig_margin_s` seconds (or has expired) is bad: validators would
 *     soon get bogus answers from this POP (its primary stopped re-signing,
 *     or its refreshes stopped);
 *   - lag: a zone behind the primary's serial for more than `max_lag_s`
 *     seconds, or by more than `max_lag_serials` serials, is bad.  The
 *     primary's serial is learnt from NOTIFY (health_on_notify wraps the
 *     timers' NOTIFY hook) and from every successful refresh.
 * health_eval is pure (a list of zone states in, a verdict out) so the unit
 * tests drive it directly; health_check reads the zones from the timers.
 * Thread-safe: a mutex guards the table of primary serials (touched by NOTIFY,
 * the announce thread and /healthz, never by queries).
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
	unsigned grace_s;             /* a new member is not judged for this long */
	unsigned max_bad;             /* bad members allowed (absolute) ... */
	unsigned max_bad_ppm;         /* ... or, when not 0, parts per million of the settled */
	unsigned rrsig_margin_s;      /* signatures expiring within this are bad; 0: off */
};

/* Defaults of the flags (main, README). */
#define HEALTH_GRACE_S 60
#define HEALTH_RRSIG_MARGIN_S 86400
#define HEALTH_MAX_BAD_DEFAULT "1%"

/*
 * Parses --health-max-bad: "N" (zones) or "P%" (P a decimal up to 100, at
 * most 4 decimals) into cfg->max_bad / cfg->max_bad_ppm.  0 or -EINVAL.
 */
int health_parse_max_bad(const char *s, struct health_cfg *cfg);

/*
 * Verdict.  `why` holds one line per fault when unhealthy ("zone example.com.
 * expired\n", or first a summary when several zones are bad); `detail` one
 * line per member zone that is not served fully, healthy or not ("zone x. not
 * loaded, new (3 s in the catalog, grace 60 s)\n").
 */
struct health_result {
	bool healthy;
	unsigned faults;
	unsigned zones;               /* followed, the catalog included */
	unsigned members;             /* member zones (not the catalog) */
	unsigned settled;             /* members judged (past their grace, or bad) */
	unsigned bad;                 /* settled members missing, expired or lagging */
	unsigned allowed;             /* bad members tolerated */
	unsigned unloadable;          /* members answered SERVFAIL (not loaded or expired) */
	unsigned pending;             /* new members not loaded yet, within their grace */
	char why[2048];               /* every fault, truncated with "...\n" */
	char lag[512];                /* the lag and listening faults only */
	char detail[4096];            /* zones not fully served, truncated with "...\n" */
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
