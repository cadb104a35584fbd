/*
 * NOTIFY sender (RFC 1996) of the primary, the only one: one thread with one
 * UDP socket bound to the --xfr address and port (so secondaries see NOTIFY
 * come from where they transfer) and one timer heap for every target, the
 * --notify ones and the registered POPs alike.  notify_zone() only queues;
 * the thread sends to every target, TSIG-signed with the target's own key
 * (a POP's) or else the zone's transfer key when it has one, and retries
 * with back-off (NOTIFY_TRIES sends, doubling from NOTIFY_RETRY_MS) until
 * the target answers.  Bursts are coalesced per (zone, target): a commit
 * while a NOTIFY for that pair is in flight, or less than
 * NOTIFY_COALESCE_MS after the last one, is folded into one later NOTIFY
 * carrying the newest serial.  At most NOTIFY_WINDOW NOTIFYs fly to one
 * target at once; the others wait in its queue.  An answered NOTIFY that brings no transfer
 * of its serial within NOTIFY_NUDGE_MS is sent once more, unless the target
 * is busy transferring other zones (NOTIFY_NUDGE_BUSY_MS).  Plain queries
 * arriving on this UDP socket are answered REFUSED, or TC for SOA, AXFR and
 * IXFR (the TCP port answers those).  With an xfrout set (notify_set_xfrout),
 * a TSIG-signed SOA query and a DNS UPDATE are answered by it over UDP: a
 * signed SOA answer only when the query's TSIG verified (a key holder's
 * refresh, as named sends it), any other answer only when it is no larger
 * than the request (nothing to amplify).
 */
#ifndef PRIMARY_NOTIFY_H
#define PRIMARY_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/tsig.h"
#include "primary/xfrout.h"

#define NOTIFY_TRIES 5
#define NOTIFY_RETRY_MS 250
#define NOTIFY_COALESCE_MS 20
/* NOTIFYs in flight to one target at a time; the zones after them wait in
 * the target's queue, one entry per zone (a newer serial folds into it), so
 * a target that does not answer costs some bytes per zone and no sends. */
#define NOTIFY_WINDOW 64
/* After an answered NOTIFY, a target that has not come for the serial
 * within this long gets one more NOTIFY (some secondaries, knotd among
 * them, now and then defer a refresh asked for while they were busy). */
#define NOTIFY_NUDGE_MS 300
/* ... unless it is transferring other zones from us (a bulk change it works
 * through): then the nudge waits, up to this long after the NOTIFY. */
#define NOTIFY_NUDGE_BUSY_MS 10000

struct propagation;

/* Zone data the sender needs; functions are called from the notify thread. */
struct notify_source {
	void *ctx;
	/* The zone's current SOA RR into `soa`, its serial into *serial.
	 * 0, -ENOENT (zone gone: nothing is sent), other negative codes. */
	int (*soa)(void *ctx, const uint8_t *zone, struct xfrout_buf *soa, uint32_t *serial);
	/* The key to sign NOTIFYs of `zone` with (its first transfer key).
	 * 0, -ENOENT (send unsigned). */
	int (*key)(void *ctx, const uint8_t *zone, struct dns_tsig_key *k);
};

struct notify;

/*
 * Binds the UDP socket to `from` (the --xfr address).  `prop` may be NULL.
 * Returns NULL and sets *err on failure.
 */
struct notify *notify_new(const struct sockaddr *from, socklen_t fromlen,
                          const struct notify_source *src, struct propagation *prop, int *err);

#define NOTIFY_MAX_TARGETS 1024

/*
 * Adds a target that gets every zone's NOTIFY: a --notify target or a
 * registered POP.  `key` NULL: signed with the zone's key (notify_source
 * key); else always with `key` (a POP's own).  Thread-safe; returns once
 * the target is in (the thread has taken it).  Its id (>= 0), or -ENOSPC,
 * -ENOMEM, -EINVAL, -EAFNOSUPPORT (not the family of the --xfr address the
 * NOTIFYs leave from).
 */
int notify_target_add(struct notify *n, const struct sockaddr *to, socklen_t tolen,
                      const struct dns_tsig_key *key);
/* notify_target_add with the zone's key; 0 or a negative errno. */
int notify_add_target(struct notify *n, const struct sockaddr *to, socklen_t tolen);
/*
 * Removes target `id` and whatever was queued or in flight to it; returns
 * once done, so no later answer from it is counted.  Thread-safe.
 */
void notify_target_remove(struct notify *n, int id);

/* The answerer of signed SOA queries and UPDATEs arriving over UDP (NULL:
 * leave them unanswered).  Call before notify_start; `x` must outlive n. */
void notify_set_xfrout(struct notify *n, struct xfrout *x);
/* Where DNS UPDATEs arriving over UDP go instead of this thread's xfrout
 * (xfr_tcp_udp: the UPDATE workers); 0 when it took the request, else it is
 * dropped.  Call before notify_start; `ctx` must outlive n's thread. */
typedef int (*notify_udp_fn)(void *ctx, const uint8_t *q, size_t len,
                             const struct sockaddr_storage *ss, socklen_t sl);
void notify_set_udp_update(struct notify *n, notify_udp_fn fn, void *ctx);
/* The UDP socket (on the --xfr address) the answers go out on. */
int notify_fd(const struct notify *n);

/* Starts the thread.  0 or negative errno. */
int notify_start(struct notify *n);
/* Stops the thread and frees.  NULL is a no-op. */
void notify_free(struct notify *n);

/*
 * Queues a NOTIFY of `zone` (wire) to every target.  `now` true sends at
 * once without the coalescing delay (PUT /zones/{id}/notify).  Thread-safe,
 * never blocks on the network.  0 or -ENOMEM.
 */
int notify_zone(struct notify *n, const uint8_t *zone, bool now);
/* notify_zone to target `id` only (-1: every target).  0 or -ENOMEM. */
int notify_zone_to(struct notify *n, const uint8_t *zone, int id, bool now);

/* NOTIFYs sent (including retries) since start, for tests and metrics. */
uint64_t notify_sent(struct notify *n);

/* Entries the thread has visited to find or run work since start: grows
 * with the work done, not with the number of (zone, target) pairs waiting.
 * For tests. */
uint64_t notify_ops(struct notify *n);

#endif
