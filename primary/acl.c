/*
 * Transfer ACL (see acl.h).  Reads the store inside the caller's snapshot,
 * so the decision and the transferred data come from one version.
 */
#include "primary/acl.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "primary/mesh.h"
#include "primary/store.h"

bool
acl_key_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

struct key_match {
	const char *key;
	bool found;
};

static int
match_key(void *ctx, const struct store_tsig_key *k)
{
	struct key_match *km = ctx;
	if (acl_key_equal(km->key, k->name)) {
		km->found = true;
		return 1;   /* stop */
	}
	return 0;
}

struct member_scan {
	struct store_snap *sn;
	struct key_match km;
	int err;
};

static int
scan_member(void *ctx, const struct store_zone *z)
{
	struct member_scan *ms = ctx;
	if (z->is_catalog)
		return 0;
	int ret = store_snap_zone_tsig_keys(ms->sn, z, match_key, &ms->km);
	if (ret < 0) {
		ms->err = ret;
		return 1;
	}
	return ms->km.found ? 1 : 0;
}

int
acl_xfr_allowed(struct store_snap *sn, const struct store_zone *z, const char *key)
{
	/* A registered POP's own key transfers every zone and the catalog (mesh.h). */
	if (mesh_key_is_pop(key))
		return 1;
	if (!z->is_catalog) {
		struct key_match km = {.key = key};
		int ret = store_snap_zone_tsig_keys(sn, z, match_key, &km);
		if (ret < 0)
			return ret;
		return km.found ? 1 : 0;
	}
	struct member_scan ms = {.sn = sn, .km = {.key = key}};
	int ret = store_snap_zones(sn, NULL, NULL, 0, scan_member, &ms);
	if (ms.err < 0)
		return ms.err;
	if (ret < 0)
		return ret;
	return ms.km.found ? 1 : 0;
}
