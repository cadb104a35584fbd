/*
 * Catalog zone consumer (RFC 9432, schema version 2): reads the member
 * zones out of one version of a catalog zone.  Members are the PTR records
 * exactly one label below "zones.<catalog>" (the label is the member's
 * unique id; deeper names such as "group.<id>.zones" are properties and
 * ignored).  A catalog without `version.<catalog> TXT "2"` is not processed
 * (§5.1), so the consumer keeps its previous members.
 */
#ifndef SECONDARY_CATALOG_H
#define SECONDARY_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "dns/name.h"
#include "secondary/sched.h"
#include "util/arena.h"

struct zone;

/* One member: zone name (wire, lowercased). */
struct catalog_member {
	uint8_t name[DNS_NAME_MAX];
};

struct catalog_members {
	const uint8_t **v;       /* member names (wire, lowercased, as long as they are), in ar */
	size_t n, cap;
	struct nameset idx;      /* of the names: catalog_members_has in O(1) */
	struct arena ar;
};

/*
 * Collects the members of catalog version `z` (apex `catalog`) into `out`
 * (initialised by the caller to zeros; free with catalog_members_clear).
 * Duplicate member names under several ids count once; a member equal to
 * the catalog itself is skipped.  Returns 0, -ENOMEM, or ERR_XFR with a
 * reason in `why` (missing or unsupported version).
 */
int catalog_members(const struct zone *z, const uint8_t *catalog, struct catalog_members *out,
                    char *why, size_t whycap);

void catalog_members_clear(struct catalog_members *m);

/* True when `name` (wire) is in the list. */
int catalog_members_has(const struct catalog_members *m, const uint8_t *name);

#endif
