/*
 * Incoming NOTIFY (RFC 1996) on the service sockets.  Accepted only from the
 * primary's address (any listed primary's, with several), and only
 * TSIG-signed with our key when one is set (RFC 8945); then answered
 * NOERROR with AA and the question echoed (signed back when the request
 * was), and the zone's refresh is started at once.
 * Anything else is answered REFUSED (wrong sender, not a zone we follow:
 * NOTAUTH) or NOTAUTH with a TSIG error, and logged at most once per remote
 * address per minute.
 */
#ifndef SECONDARY_NOTIFY_H
#define SECONDARY_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/tsig.h"
#include "secondary/primaries.h"

/*
 * Called for an accepted NOTIFY.  Returns 0 when the zone is followed (a
 * refresh is now due), -ENOENT when it is not.  Must not block.
 */
typedef int (*notify_zone_fn)(void *ctx, const uint8_t *apex, bool has_serial,
                              uint32_t serial);

struct notify_cfg {
	struct sockaddr_storage primary;      /* only this address may notify (any port) */
	struct xfr_primary *primaries;        /* nprimaries > 1: any of these instead */
	size_t nprimaries;
	const struct dns_tsig_key *tsig;      /* NULL: no TSIG required */
	notify_zone_fn on_notify;
	void *ctx;
};

/*
 * Handles NOTIFY message `q` from `from`; writes the response into `out`
 * (`cap` >= 512) and returns its length, or 0 when nothing is to be sent
 * (a response, or too short to answer).  Thread-safe.
 */
size_t notify_handle(struct notify_cfg *c, const uint8_t *q, size_t qlen,
                     const struct sockaddr *from, uint8_t *out, size_t cap);

#endif
