/*
 * Transfer ACL of the primary: which TSIG key may transfer which zone.
 * A zone may be transferred with a key in its master_tsig_key_ids
 * (PowerDNS's field), and by every registered POP's own key (mesh.h).  The
 * catalog zone lists every account's zones, so it goes only to the POPs'
 * keys and to the keys the admin put in the catalog's master_tsig_key_ids
 * (PUT /zones/<catalog>); a key allowed for a member zone is not enough.
 * Key names compare case-insensitively, trailing dot optional.
 */
#ifndef PRIMARY_ACL_H
#define PRIMARY_ACL_H

#include <stdbool.h>
#include <sys/socket.h>

struct store_snap;
struct store_zone;

/*
 * Whether key `key` (presentation name) may transfer zone `z`, read in
 * snapshot `sn`; `is_pop`: the key is a registered POP's (pop_gate.h),
 * which transfers every zone and the catalog.  Returns 1 (yes), 0 (no) or
 * a negative store error.
 */
int acl_xfr_allowed(struct store_snap *sn, const struct store_zone *z, const char *key,
                    bool is_pop);

/*
 * Whether `peer` is inside `spec`, an address or prefix ("192.0.2.0/24",
 * "2001:db8::/32", "192.0.2.1").  1 yes, 0 no, -1 when `spec` is not one
 * (with peer NULL: only checks `spec`, 0 when valid).
 */
int acl_prefix_match(const char *spec, const struct sockaddr *peer);

/*
 * The zone's ALLOW-AXFR-FROM metadata (issue 16.6): 1 when it has none or
 * `peer` is inside one of its prefixes, 0 when not; `is_pop`: a registered
 * POP's key, never narrowed by it.  <0: a store error.
 */
int acl_xfr_from_allowed(struct store_snap *sn, const struct store_zone *z,
                         const struct sockaddr *peer, bool is_pop);

/* Key names equal, ignoring case and one trailing dot. */
bool acl_key_equal(const char *a, const char *b);

#endif
