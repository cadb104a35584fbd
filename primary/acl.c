/*
 * Transfer ACL (see acl.h).  Reads the store inside the caller's snapshot,
 * so the decision and the transferred data come from one version.
 */
#include "primary/acl.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

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

int
acl_xfr_allowed(struct store_snap *sn, const struct store_zone *z, const char *key,
                bool is_pop)
{
	/* A registered POP's own key transfers every zone and the catalog (mesh.h). */
	if (is_pop)
		return 1;
	/*
	 * The catalog lists every account's zones: besides the POPs' keys only
	 * the keys the admin put in the catalog's own master_tsig_key_ids (a
	 * zone's key is not enough, issue 12).
	 */
	struct key_match km = {.key = key};
	int ret = store_snap_zone_tsig_keys(sn, z, match_key, &km);
	if (ret < 0)
		return ret;
	return km.found ? 1 : 0;
}
