/*
 * DNS UPDATE (RFC 2136) on the primary's transfer listeners (TCP, UDP and
 * QUIC, through xfrout).  xfrout has verified the TSIG already; this
 * decides the rest:
 *   - the zone section must name a zone of the store (else NOTAUTH), other
 *     than the catalog zone (REFUSED);
 *   - the key must be in the zone's update_tsig_key_ids (else NOTAUTH);
 *   - the message is parsed by dns/update.c (FORMERR, NOTZONE);
 *   - prerequisites and updates go to store_zone_patch_if: the prerequisites
 *     are checked in the same write transaction as the change, which takes a
 *     PATCH's path (same zone rules, one serial bump, one journal entry, the
 *     commit listener's NOTIFY).  A prerequisite that fails answers its RFC
 *     2136 §3.2 rcode; a change the zone rules refuse (a CNAME beside other
 *     data, the last apex NS removed, ...) answers REFUSED with the reason
 *     logged, where RFC 2136 §3.4.2 would skip it silently.
 * Every UPDATE is logged with its zone, key, sender and outcome.
 */
#ifndef PRIMARY_UPDATE_H
#define PRIMARY_UPDATE_H

#include "primary/xfrout.h"

struct store;

/* The xfrout hook answering UPDATEs from `st` (borrowed; must outlive it). */
void update_hook(struct store *st, struct xfrout_update *out);

#endif
