/*
 * The parent's DS of a zone in KSK rollover (issue 15): with
 * --dnssec-parent ADDR[@PORT] the resigner asks that server (a resolver, or
 * the parent's authoritative server: the query has RD set, either answers)
 * for the zone's DS while an incoming KSK's CDS is published; when the
 * answer holds that key's DS, the rollover goes on as after the operator's
 * {"ds_seen": true} (store_ksk_ds_seen).
 */
#ifndef PRIMARY_PARENT_DS_H
#define PRIMARY_PARENT_DS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/dnssec.h"

/* The DS rdatas that count as the key's: SHA-256 and SHA-384 of it. */
struct parent_ds_want {
	uint8_t ds[2][DNS_DNSSEC_DS_MAX];
	size_t len[2];
};

/*
 * Whether the answer `pkt` (`len` bytes, untrusted) to query `id` for the DS
 * of `zone` holds one of `w`'s DS rdatas at the zone's name: 1 yes, 0 no
 * (another id, not an answer, an error rcode, no such DS), <0 malformed.
 */
int parent_ds_answer_has(const uint8_t *pkt, size_t len, uint16_t id, const uint8_t *zone,
                         const struct parent_ds_want *w);

/*
 * Asks `sa` over UDP (TCP when the answer is truncated is not tried: a DS
 * rrset fits) for the DS of `zone`, waiting at most `timeout_ms`: 1 the DS
 * is there, 0 not (yet), <0 no answer or a malformed one.
 */
int parent_ds_query(const struct sockaddr *sa, socklen_t salen, const uint8_t *zone,
                    const struct parent_ds_want *w, int timeout_ms);

#endif
