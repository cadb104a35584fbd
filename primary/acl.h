/*
 * Transfer ACL of the primary: which TSIG key may transfer which zone.
 * A zone may be transferred with a key in its master_tsig_key_ids
 * (PowerDNS's field); the catalog zone with any key that may transfer any
 * of its members (a secondary that follows the catalog needs it to learn
 * its zones).  Key names compare case-insensitively, trailing dot optional.
 * Registered POPs' own keys join once the mesh registry exists.
 */
#ifndef PRIMARY_ACL_H
#define PRIMARY_ACL_H

#include <stdbool.h>

struct store_snap;
struct store_zone;

/*
 * Whether key `key` (presentation name) may transfer zone `z`, read in
 * snapshot `sn`.  Returns 1 (yes), 0 (no) or a negative store error.
 */
int acl_xfr_allowed(struct store_snap *sn, const struct store_zone *z, const char *key);

/* Key names equal, ignoring case and one trailing dot. */
bool acl_key_equal(const char *a, const char *b);

#endif
