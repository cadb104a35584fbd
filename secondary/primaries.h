/*
 * The primaries a POP follows (--primary A,B,...): several nodes that hold
 * the same zones, maybe at different serials for a moment.  Before a
 * refresh, every listed primary's SOA is asked in parallel (each bounded by
 * PRIMARIES_PROBE_MS); the zone is then transferred from the one with the
 * highest serial (RFC 1982; the first listed on a tie).  The transfer itself
 * (xfrin_run) still refuses any serial not greater than ours, so a POP never
 * goes back to a lower serial when the newest primary is down.
 *
 * A primary whose SOA query fails is skipped for PRIMARIES_DOWN_MS (logged
 * once), so a dead node does not slow every refresh; a NOTIFY from it, or
 * every listed primary being down, makes it asked again.  With one primary
 * nothing is probed: the refresh goes to it as before.
 */
#ifndef SECONDARY_PRIMARIES_H
#define SECONDARY_PRIMARIES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/addr.h"
#include "secondary/xfrin.h"

#define PRIMARIES_MAX 16
#define PRIMARIES_PROBE_MS 3000
#define PRIMARIES_DOWN_MS 30000

struct xfr_primary {
	struct sockaddr_storage addr;            /* transfer address */
	const struct xfr_transport *transport;   /* its own (a QUIC client per primary) */
	char txt[ADDR_TEXT_MAX];                 /* "127.0.0.1@5300" */
	char ip[ADDR_TEXT_MAX];                  /* "127.0.0.1" */
	_Atomic int64_t down_until;              /* tcp_now_ms(): not asked until then, 0: up */
};

/* One item of a list flag (--primary, --pin, --primary-tcp). */
#define PRIMARIES_ITEM_MAX 256

/*
 * Splits a comma-separated list ("a, b,c") into `items` (spaces around
 * items dropped).  The count (1..max), or -EINVAL with the fault in `err`
 * (an empty item, one too long, more than `max`).
 */
int primaries_split(const char *list, char items[][PRIMARIES_ITEM_MAX], size_t max, char *err,
                    size_t errcap);

/* Fills the address texts of `p` (after addr and transport are set). */
void primary_init(struct xfr_primary *p);

/* The probe's outcome. */
struct primary_pick {
	size_t best;          /* index of the primary to transfer from */
	bool have_serial;     /* its SOA serial is known (a probe ran) */
	uint32_t serial;
	size_t asked, answered;
};

/*
 * Chooses the primary to refresh zone base->zone from (see above): `base` is
 * the refresh's parameters without primary and transport.  0 with `out`
 * filled, or -EHOSTUNREACH when no primary gave its serial, with the
 * reasons (each primary's) in `why`.  Thread-safe; blocks at most PRIMARIES_PROBE_MS
 * (or base->timeout_ms when shorter).
 */
int primaries_pick(struct xfr_primary *ps, size_t n, const struct xfr_params *base,
                   struct primary_pick *out, char *why, size_t whycap);

/* Index of the primary whose address (any port) is `from`, or -1 (NOTIFY's sender check). */
int primaries_find(struct xfr_primary *ps, size_t n, const struct sockaddr *from);

/*
 * An accepted NOTIFY came from `p`: it is up (asked at the next refresh
 * even if its last probe failed) and a silent connection to it is stale.
 */
void primaries_alive(struct xfr_primary *p);

#endif
