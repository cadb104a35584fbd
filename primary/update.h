/*
 * DNS UPDATE (RFC 2136) on the primary's transfer listeners (TCP, UDP and
 * QUIC, through xfrout).  xfrout has verified the TSIG already; this
 * decides the rest:
 *   - the message is parsed by dns/update.c (FORMERR, NOTZONE);
 *   - in the change's write transaction, first: the zone section must name a
 *     zone of the store (else NOTAUTH), other than the catalog zone
 *     (REFUSED), and the key must be in the zone's update_tsig_key_ids (else
 *     NOTAUTH), so a key learns nothing of a zone it is not granted;
 *   - prerequisites and updates go to store_zone_update_dns: the prerequisites
 *     are checked in the same write transaction as the change, which takes a
 *     PATCH's path (same zone rules, one serial bump, one journal entry, the
 *     commit listener's NOTIFY).  A prerequisite that fails answers its RFC
 *     2136 §3.2 rcode; a change the zone rules refuse (a CNAME beside other
 *     data, the last apex NS removed, ...) answers REFUSED with the reason
 *     logged, where RFC 2136 §3.4.2 would skip it silently;
 *   - after the prerequisites, in the same transaction, the key's
 *     update_policy (schema 0009): an update outside it is REFUSED (§3.3).
 * Every UPDATE is logged with its zone, key, sender and outcome.
 */
#ifndef PRIMARY_UPDATE_H
#define PRIMARY_UPDATE_H

#include "primary/xfrout.h"

#include <stddef.h>

struct store;
struct update;

/* The UPDATE handler of `st` (borrowed; must outlive it) and its counters;
 * NULL when out of memory.  update_free(NULL) is a no-op. */
struct update *update_new(struct store *st);
void update_free(struct update *u);
/* The xfrout hook answering UPDATEs through `u` (must outlive the xfrout). */
void update_hook(struct update *u, struct xfrout_update *out);
/*
 * The counters as Prometheus text: anycst_dns_update_received_total,
 * _applied_total, _unchanged_total, _prerequisite_failed_total{rcode},
 * _refused_total{rcode}, _failed_total{rcode}.  Bytes written (< cap), or -1
 * when they do not fit.
 */
int update_metrics(struct update *u, char *buf, size_t cap);

#endif
