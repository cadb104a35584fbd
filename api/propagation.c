/*
 * GET /zones/{id}/propagation (anycst extension): per target (a registered
 * POP by its registry name, its address beside it; another secondary by its
 * address), the serial it holds as far as the primary knows (from its IXFR
 * requests and completed transfers; a POP's is kept in the database, so it
 * survives restarts), when, over which transport, the lag between the
 * commit of that serial and the target having it, and the last NOTIFY.
 * The table lives in the transfer service (primary/propagation.c); main
 * hands it over in api_opts.propagation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "primary/propagation.h"

void
api_zone_propagation(struct api_req *r, struct api_resp *rs, const char *id)
{
	uint8_t wire[DNS_NAME_MAX];
	struct store_snap *sn = NULL;
	struct store_zone z;
	if (api_zone_id_decode(id, wire) != 0) {
		api_error(rs, 404, "Could not find domain '%s'", id);
		return;
	}
	int ret = store_snap_open(r->api->st, &sn);
	if (ret != 0) {
		api_store_error(rs, ret, "cannot read the database");
		return;
	}
	ret = store_snap_zone(sn, wire, &z);
	store_snap_close(sn);
	if (ret == 0 && r->account != NULL && strcmp(r->account, z.account) != 0)
		ret = -ENOENT;
	if (ret == -ENOENT) {
		api_error(rs, 404, "Could not find domain '%s'", id);
		return;
	}
	if (ret != 0) {
		api_store_error(rs, ret, NULL);
		return;
	}
	struct propagation *p = r->api->o.propagation;
	if (p == NULL) {
		api_error(rs, 503, "propagation tracking is not running");
		return;
	}
	char *s = propagation_json(p, z.text, z.serial, propagation_now_ms());
	if (s == NULL) {
		api_error(rs, 500, "out of memory");
		return;
	}
	rs->status = 200;
	rs->ctype = "application/json";
	rs->body = s;
	rs->body_len = strlen(s);
}
