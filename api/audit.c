/*
 * The audit log of API changes (issue 17.5): every request that changed
 * something (a 2xx answer to a method other than GET and HEAD) leaves a
 * row in the store (schema/0007_audit.sql) with the key's id and account,
 * the zone, "METHOD path" and the serials around the change; and each row
 * is logged at info as `audit key=ID account=A zone=Z what="..." ...`.
 *
 * GET /api/v1/servers/localhost/audit?zone=NAME&since=UNIX_SECONDS&after=ID&limit=N
 * lists them oldest first: the admin key sees every row, an account key the
 * rows its account's keys made.  The row is armed in the store before the
 * handler runs and written by the change's own transaction (a crash keeps
 * both or neither; a row that cannot be written fails the change), with the
 * status expected (POST 201, else 204), corrected once the answer is known.
 */
#include "api/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/name.h"
#include "util/log.h"

/* The zone a created object's Location names, into `out` when empty. */
static void
audit_zone_location(const struct api_resp *rs, char *out, size_t cap)
{
	const char *zp = API_PREFIX "/zones/";
	uint8_t w[DNS_NAME_MAX];
	if (out[0] == '\0' && strncmp(rs->location, zp, strlen(zp)) == 0 &&
	    api_zone_id_decode(rs->location + strlen(zp), w) == 0)
		dns_name_to_text(w, out, cap);
}

void
api_audit_begin(struct api_req *r, struct store_audit_arm *arm, const char *zone_id)
{
	memset(arm, 0, sizeof(*arm));
	struct store_audit *a = &arm->row;
	a->key_id = r->admin ? 0 : r->key_id;
	/* the status expected until the answer is known: a creation, else no content */
	a->status = strcmp(r->method, "POST") == 0 ? 201 : 204;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	a->at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	snprintf(a->account, sizeof(a->account), "%s", r->account != NULL ? r->account : "");
	uint8_t w[DNS_NAME_MAX];
	if (zone_id != NULL && api_zone_id_decode(zone_id, w) == 0)
		dns_name_to_text(w, a->zone, sizeof(a->zone));
	const char *path = r->path;
	if (strncmp(path, API_PREFIX, strlen(API_PREFIX)) == 0)
		path += strlen(API_PREFIX);
	snprintf(a->what, sizeof(a->what), "%s %s", r->method, path);
	store_audit_arm(r->api->st, arm);
}

void
api_audit_end(struct api_req *r, const struct api_resp *rs, struct store_audit_arm *arm)
{
	struct store_audit *a = &arm->row;
	if (arm->id == 0)
		audit_zone_location(rs, a->zone, sizeof(a->zone));
	int ret = store_audit_disarm(r->api->st, arm, rs->status);
	const char *zone = a->zone[0] != '\0' ? a->zone : NULL;
	if (ret < 0)
		log_error(zone, "audit, cannot store the status of key=%lld what=\"%s\"",
		          (long long)a->key_id, a->what);
	if (ret == 0)
		return;
	if (a->serials)
		log_info(zone, "audit key=%lld account=\"%s\" what=\"%s\" status=%u serial=%u->%u",
		         (long long)a->key_id, a->account, a->what, rs->status, a->old_serial,
		         a->new_serial);
	else
		log_info(zone, "audit key=%lld account=\"%s\" what=\"%s\" status=%u",
		         (long long)a->key_id, a->account, a->what, rs->status);
}

static int
audit_row(void *ctx, const struct store_audit *a)
{
	json_t *o = json_pack("{s:I, s:I, s:f, s:I, s:s, s:s, s:s, s:i}", "id", (json_int_t)a->id,
	                      "time_ms", (json_int_t)a->at_ms, "time", (double)a->at_ms / 1000.0,
	                      "key_id", (json_int_t)a->key_id, "account", a->account, "zone",
	                      a->zone, "what", a->what, "status", (int)a->status);
	if (o == NULL)
		return -ENOMEM;
	if (a->serials) {
		json_object_set_new(o, "old_serial", json_integer(a->old_serial));
		json_object_set_new(o, "new_serial", json_integer(a->new_serial));
	} else {
		json_object_set_new(o, "old_serial", json_null());
		json_object_set_new(o, "new_serial", json_null());
	}
	return json_array_append_new(ctx, o) == 0 ? 0 : -ENOMEM;
}

/* A decimal query argument in lo..hi into *out (def when absent); false: 422 sent. */
static bool
num_arg(struct api_req *r, struct api_resp *rs, const char *name, long long lo, long long hi,
        long long def, long long *out)
{
	const char *v = api_arg(r, name);
	*out = def;
	if (v == NULL)
		return true;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (end == v || *end != '\0' || errno != 0 || n < lo || n > hi) {
		api_error(rs, 422, "%s: '%.32s' is not a number in %lld..%lld", name, v, lo, hi);
		return false;
	}
	*out = n;
	return true;
}

void
api_audit_list(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	long long since, after, limit;
	if (!num_arg(r, rs, "since", 0, 1LL << 40, 0, &since) ||
	    !num_arg(r, rs, "after", 0, 1LL << 62, 0, &after) ||
	    !num_arg(r, rs, "limit", 1, 10000, 1000, &limit))
		return;
	const char *zarg = api_arg(r, "zone");
	char zone[DNS_NAME_TEXT_MAX];
	uint8_t w[DNS_NAME_MAX];
	if (zarg != NULL && zarg[0] != '\0') {
		if (api_zone_id_decode(zarg, w) != 0) {
			api_error(rs, 422, "zone: '%.64s' is not a domain name", zarg);
			return;
		}
		dns_name_to_text(w, zone, sizeof(zone));
	}
	json_t *arr = json_array();
	int ret = store_audit_list(r->api->st, r->account,
	                           zarg != NULL && zarg[0] != '\0' ? zone : NULL, since * 1000,
	                           after, (size_t)limit, audit_row, arr);
	if (ret != 0) {
		json_decref(arr);
		api_store_error(rs, ret, NULL);
		return;
	}
	api_json(rs, 200, arr);
}
