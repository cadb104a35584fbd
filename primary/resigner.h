/*
 * The signature refresher of a signing primary (issue 15): a thread that
 * every `interval` seconds, for each signed zone, re-signs at most `batch`
 * rrsets whose signatures expire within half their validity
 * (store_zone_refresh), one small transaction each: signatures made
 * together expire spread by their per-rrset jitter, so each refresh is a
 * small IXFR, never one giant one; then takes one step of the zone's ZSK
 * rollover (store_zone_roll: publish, activate, re-sign a batch, remove).
 * With `parent` (--dnssec-parent ADDR[@PORT]) it first asks that server for
 * the DS of a zone whose incoming KSK's CDS is up (primary/parent_ds.h) and,
 * when it is there, confirms it as the operator's ds_seen would.
 */
#ifndef PRIMARY_RESIGNER_H
#define PRIMARY_RESIGNER_H

#include <stddef.h>

#include "primary/store.h"

struct resigner;

/* Starts it.  0, or -ENOMEM/-EAGAIN/-EINVAL (a bad `parent`) with err filled. */
int resigner_start(struct store *st, unsigned interval, size_t batch, const char *parent,
                   struct resigner **out, char *err, size_t errcap);
/* Stops the thread (waits for a refresh under way) and frees.  NULL ok. */
void resigner_stop(struct resigner *r);

#endif
