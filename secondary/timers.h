/*
 * The zones a secondary follows and their SOA timers (RFC 1035 §4.3.5,
 * RFC 1996): refresh after REFRESH seconds, after a failure retry after
 * RETRY, and after EXPIRE seconds without a successful refresh mark the zone
 * expired (it answers SERVFAIL until the next success).  NOTIFY makes a
 * refresh due at once.  Refreshes run on a few transfer threads of their
 * own, never on serving threads; one zone is refreshed by one thread at a
 * time, and its new version is published through the zdb, persisted, and
 * (for the catalog zone) turned into member additions and removals.  The
 * catalog zone is kept in its own zdb (cfg.catalog_db), which no serving
 * thread reads, so it is followed but never answered.
 *
 * At start, each zone's persisted version is loaded and served before the
 * primary is contacted; the expire timer continues from the persisted time
 * of the last successful refresh.
 *
 * Logs (stable wording, tests grep them):
 *   info: [z.] zone transfer, incoming IXFR over TCP from 127.0.0.1
 *   info: [z.] zone transfer, completed successfully, serial 5 -> 7, ...
 *   error: [z.] IXFR rejected, serial 7 -> 5 moves backwards (RFC 1982)
 *   warning: [z.] refresh, remote 127.0.0.1@5300 TCP, failed (connection refused), retry in 60 s
 *   warning: [z.] refresh, no primary gave its serial (10.0.0.1@53: timed out; ...), retry in 6 s
 * The routine lines of member zones (added, removed, a transfer started and
 * completed, up to date) are at info up to 20 a second; beyond that at
 * debug, with one line a second that counts them (logburst.h):
 *   info: busy, in the last 1.0 s 3405 zone transfers, 5000 zones added from the catalog, ...
 */
#ifndef SECONDARY_TIMERS_H
#define SECONDARY_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/name.h"
#include "dns/tsig.h"
#include "secondary/primaries.h"
#include "secondary/xfrin.h"

struct state;
struct zdb;
struct timers;

struct timers_cfg {
	struct zdb *db;                        /* zones served */
	struct zdb *catalog_db;                /* the catalog zone (not served); NULL: db */
	struct sockaddr_storage primary;
	const struct xfr_transport *transport;
	/* Several primaries (primaries.h): each refresh transfers from the one with
	 * the highest SOA serial.  nprimaries <= 1: `primary` and `transport` only. */
	struct xfr_primary *primaries;
	size_t nprimaries;
	const struct dns_tsig_key *tsig;       /* NULL: unsigned transfers */
	struct state *state;                   /* state directory (state.h); NULL: none */
	unsigned xfr_threads;                  /* default 32 */
	int xfr_timeout_ms;                    /* silence allowed in a refresh; default 30000 */
	size_t xfr_max_bytes;                  /* largest transfer; 0: unlimited */
	/* Optional: told the primary's SOA serial after every SOA check of a
	 * refresh (zone in presentation form), even when the transfer then fails;
	 * called on a transfer thread without the registry lock (health.c). */
	void (*on_primary_serial)(void *ctx, const char *zone, uint32_t serial);
	void *primary_serial_ctx;
};

/* Copies cfg (the pointers it holds must outlive the timers).  NULL on ENOMEM. */
struct timers *timers_new(const struct timers_cfg *cfg);

/*
 * A reload's TSIG key for the next transfers (those running finish with
 * theirs): `k` must stay valid until timers_free.  Thread-safe.
 */
void timers_set_tsig(struct timers *t, const struct dns_tsig_key *k);

/*
 * Follows zone `apex` (wire): adds it to the zdb, loads and publishes its
 * persisted version when there is one (a corrupt file is logged and
 * ignored: the zone is then transferred in full), and makes its refresh due.
 * With `is_catalog` its versions are read as a catalog whose members are
 * followed too.  The zone counts as initial (timers_zone_info.initial), as
 * do the members of the first catalog version; later members are new.
 * Returns 0, -EEXIST, -ENOMEM.
 */
int timers_add_zone(struct timers *t, const uint8_t *apex, bool is_catalog);

/*
 * Stops following zone `apex`: removed from the zdb and the state directory
 * (after a transfer in progress, if any).  Returns 0 or -ENOENT.
 */
int timers_remove_zone(struct timers *t, const uint8_t *apex);

/*
 * Makes the refresh of `apex` due now (NOTIFY).  Matches notify_zone_fn
 * with ctx = the timers.  Returns 0 or -ENOENT.  Never blocks for long.
 */
int timers_notify(void *t, const uint8_t *apex, bool has_serial, uint32_t serial);

/* Starts the scheduler and transfer threads.  0 or -errno. */
int timers_start(struct timers *t);

/* Stops every thread (transfers in progress are cut) and frees.  NULL: no-op. */
void timers_free(struct timers *t);

/* A zone's state for /metrics and /healthz. */
struct timers_zone_info {
	char name[DNS_NAME_TEXT_MAX];
	bool is_catalog;
	bool loaded;                  /* a version is published */
	bool expired;
	bool initial;                 /* configured, or listed by the first catalog version seen */
	int64_t added_ms;             /* followed since (monotonic ms, health_now_ms's clock) */
	uint32_t serial;
	bool is_signed;               /* the version holds RRSIGs ... */
	uint32_t sig_expire;          /* ... the earliest expiring at this time (epoch mod 2^32) */
	int64_t sig_left_s;           /* seconds until then (negative: expired) */
	int64_t since_refresh;        /* seconds since the last successful refresh, -1: never */
	uint64_t axfr_ok, ixfr_ok, uptodate, failures, rejected;
	uint64_t last_xfr_ms;         /* duration of the last transfer */
};

typedef void (*timers_info_fn)(void *ctx, const struct timers_zone_info *zi);

/* Calls `fn` for every followed zone, under the registry lock (keep it short). */
void timers_walk(struct timers *t, timers_info_fn fn, void *ctx);

#endif
