/*
 * PowerDNS endpoints beyond zones and rrsets (issue 16.6):
 *
 *   /zones/{id}/metadata[/{kind}]  domain metadata, stored (schema 0006) and
 *       applied where it maps to this server: SOA-EDIT and SOA-EDIT-API are
 *       the zone's soa_edit/soa_edit_api, TSIG-ALLOW-AXFR its
 *       master_tsig_key_ids; ALLOW-AXFR-FROM, API-RECTIFY (a no-op: nothing
 *       to rectify without DNSSEC), TSIG-ALLOW-DNSUPDATE, ALLOW-DNSUPDATE-FROM
 *       and X-* kinds are stored; every other kind is a 422 (it cannot apply).
 *   PUT /zones/{id}/axfr-retrieve  422: no zone here is a Slave.
 *   /autoprimaries                  GET: [] (none); anything else 422.
 *   PUT /cache/flush?domain=        200, PowerDNS's body (nothing is cached).
 */
#include "api/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dns/name.h"
#include "primary/acl.h"

static const char *const stored_kinds[] = {
	"ALLOW-AXFR-FROM", "API-RECTIFY", "TSIG-ALLOW-DNSUPDATE", "ALLOW-DNSUPDATE-FROM",
};

enum meta_map { META_STORED, META_SOA_EDIT, META_SOA_EDIT_API, META_TSIG_AXFR, META_REFUSED };

static enum meta_map
meta_kind(const char *k)
{
	if (strcmp(k, "SOA-EDIT") == 0)
		return META_SOA_EDIT;
	if (strcmp(k, "SOA-EDIT-API") == 0)
		return META_SOA_EDIT_API;
	if (strcmp(k, "TSIG-ALLOW-AXFR") == 0)
		return META_TSIG_AXFR;
	if (strncmp(k, "X-", 2) == 0 && k[2] != '\0' && strlen(k) < 64)
		return META_STORED;
	for (size_t i = 0; i < sizeof(stored_kinds) / sizeof(stored_kinds[0]); i++)
		if (strcmp(k, stored_kinds[i]) == 0)
			return META_STORED;
	return META_REFUSED;
}

static json_t *
meta_obj(const char *kind, json_t *vals)
{
	return json_pack("{s:s,s:o,s:s}", "kind", kind, "metadata", vals, "type", "Metadata");
}

struct meta_list {
	json_t *arr;       /* of meta objects */
	const char *only;  /* one kind, or NULL */
};

static json_t *
list_kind(struct meta_list *l, const char *kind)
{
	size_t n = json_array_size(l->arr);
	json_t *last = n ? json_array_get(l->arr, n - 1) : NULL;
	if (last != NULL && strcmp(json_string_value(json_object_get(last, "kind")), kind) == 0)
		return json_object_get(last, "metadata");
	json_t *vals = json_array();
	json_array_append_new(l->arr, meta_obj(kind, vals));
	return vals;
}

static int
meta_row(void *ctx, const char *kind, const char *value)
{
	json_array_append_new(list_kind(ctx, kind), json_string(value));
	return 0;
}

static int
tsig_row(void *ctx, const struct store_tsig_key *k)
{
	json_array_append_new(list_kind(ctx, "TSIG-ALLOW-AXFR"), json_string(k->name));
	return 0;
}

/* The zone's metadata: derived kinds first, then the stored ones. */
static json_t *
meta_read(struct store_snap *sn, const struct store_zone *z, const char *only)
{
	struct meta_list l = {.arr = json_array(), .only = only};
	struct store_zone_pdns x;
	if (store_snap_zone_pdns(sn, z, &x) != 0)
		memset(&x, 0, sizeof(x));
	if (x.soa_edit[0] != '\0' && (only == NULL || strcmp(only, "SOA-EDIT") == 0))
		json_array_append_new(list_kind(&l, "SOA-EDIT"), json_string(x.soa_edit));
	if (only == NULL || strcmp(only, "SOA-EDIT-API") == 0)
		json_array_append_new(list_kind(&l, "SOA-EDIT-API"),
		                      json_string(x.has_soa_edit_api ? x.soa_edit_api
		                                                     : dns_serial_policy_name(z->policy)));
	if (only == NULL || strcmp(only, "TSIG-ALLOW-AXFR") == 0)
		store_snap_zone_tsig_keys(sn, z, tsig_row, &l);
	if (only == NULL || meta_kind(only) == META_STORED)
		store_snap_metadata(sn, z, only, meta_row, &l);
	return l.arr;
}

/* metadata: an array of strings into an arena array. */
static int
meta_values(struct api_ctx *c, json_t *jv, const char ***out, size_t *n)
{
	if (!json_is_array(jv)) {
		api_error(c->rs, 422, "metadata: not an array of strings");
		return -1;
	}
	*n = json_array_size(jv);
	*out = arena_alloc(&c->ar, (*n + 1) * sizeof(**out));
	if (*out == NULL) {
		api_error(c->rs, 500, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < *n; i++) {
		json_t *s = json_array_get(jv, i);
		if (!json_is_string(s) || json_string_length(s) > 4096) {
			api_error(c->rs, 422, "metadata[%zu]: not a string (at most 4096 bytes)", i);
			return -1;
		}
		(*out)[i] = json_string_value(s);
	}
	return 0;
}

/* Writes kind := vals (n == 0: removes it), applying the kinds that map. */
static int
meta_apply(struct api_ctx *c, const struct store_zone *z, const struct store_zone_pdns *cur,
           const char *kind, const char **vals, size_t n)
{
	struct store_zone_settings s = {0};
	struct api_zone_pdns_in pin;
	json_t *b = NULL;   /* the zone fields the kind stands for; pin points into it */
	enum meta_map m = meta_kind(kind);
	if (m == META_REFUSED) {
		api_error(c->rs, 422, "metadata kind '%.64s' cannot apply here (kinds taken: "
		          "SOA-EDIT, SOA-EDIT-API, TSIG-ALLOW-AXFR, ALLOW-AXFR-FROM, API-RECTIFY, "
		          "TSIG-ALLOW-DNSUPDATE, ALLOW-DNSUPDATE-FROM, X-*)", kind);
		return -1;
	}
	if ((m == META_SOA_EDIT || m == META_SOA_EDIT_API) && n > 1) {
		api_error(c->rs, 422, "metadata: %s takes one value", kind);
		return -1;
	}
	if (m == META_SOA_EDIT || m == META_SOA_EDIT_API) {
		b = json_pack("{s:s}", m == META_SOA_EDIT ? "soa_edit" : "soa_edit_api",
		              n ? vals[0] : (m == META_SOA_EDIT ? "" : "DEFAULT"));
		if (api_zone_pdns_parse(c, b, cur, &pin) != 0) {
			json_decref(b);
			return -1;
		}
		s.pdns = &pin.set;
		s.has_policy = pin.has_policy;
		s.policy = pin.policy;
	} else if (m == META_TSIG_AXFR) {
		s.has_tsig_keys = true;
		s.tsig_keys = vals;
		s.ntsig_keys = n;
	} else {
		for (size_t i = 0; strcmp(kind, "ALLOW-AXFR-FROM") == 0 && i < n; i++) {
			if (acl_prefix_match(vals[i], NULL) != 0) {
				api_error(c->rs, 422, "metadata[%zu]: '%.64s' is not an address or prefix "
				          "(AUTO-NS cannot apply: transfers go to the POPs)", i, vals[i]);
				return -1;
			}
		}
		s.meta_kind = kind;
		s.meta_vals = vals;
		s.nmeta = n;
	}
	char err[512] = "";
	int ret = store_zone_update(c->r->api->st, z->name, c->r->account, NULL, &s, err, sizeof(err));
	json_decref(b);
	if (ret != 0) {
		api_store_error(c->rs, ret, err);
		return -1;
	}
	return 0;
}

/* The zone id segment of r->path (".../zones/<id>/metadata/<kind>"). */
static bool
path_zone_id(struct api_req *r, char *id, size_t cap)
{
	const char *p = strstr(r->path, "/zones/");
	if (p == NULL)
		return false;
	p += 7;
	size_t n = strcspn(p, "/");
	if (n == 0 || n >= cap)
		return false;
	memcpy(id, p, n);
	id[n] = '\0';
	return true;
}

static void
metadata(struct api_ctx *c, const char *id, const char *kind)
{
	struct api_req *r = c->r;
	struct store_snap *sn;
	struct store_zone z;
	if (api_find_zone(r, c->rs, id, &sn, &z) != 0)
		return;
	struct store_zone_pdns cur;
	int ret = store_snap_zone_pdns(sn, &z, &cur);
	json_t *body = NULL;
	const char **vals = NULL;
	size_t n = 0;
	if (ret != 0) {
		api_store_error(c->rs, ret, NULL);
		goto out;
	}
	bool get = strcmp(r->method, "GET") == 0;
	if (get && kind == NULL) {
		api_json(c->rs, 200, meta_read(sn, &z, NULL));
		goto out;
	}
	if (get) {
		json_t *arr = meta_read(sn, &z, kind);
		json_t *o = json_array_size(arr) ? json_incref(json_array_get(arr, 0))
		                                 : meta_obj(kind, json_array());
		json_decref(arr);
		api_json(c->rs, 200, o);
		goto out;
	}
	bool post = kind == NULL && strcmp(r->method, "POST") == 0;
	bool put = kind != NULL && strcmp(r->method, "PUT") == 0;
	bool del = kind != NULL && strcmp(r->method, "DELETE") == 0;
	if (!post && !put && !del) {
		api_error(c->rs, 405, "Method Not Allowed");
		goto out;
	}
	if (!del) {
		body = api_body_object(r, c->rs);
		if (body == NULL)
			goto out;
		json_t *jk = json_object_get(body, "kind");
		if (post) {
			if (!json_is_string(jk)) {
				api_error(c->rs, 422, "kind: missing or not a string");
				goto out;
			}
			kind = json_string_value(jk);
		}
		if (meta_values(c, json_object_get(body, "metadata"), &vals, &n) != 0)
			goto out;
	}
	if (post && meta_kind(kind) == META_STORED) {
		/* POST adds to the values there (PowerDNS keeps the existing ones) */
		json_t *old = meta_read(sn, &z, kind);
		json_t *ov = json_array_size(old) ? json_object_get(json_array_get(old, 0), "metadata")
		                                  : NULL;
		size_t on = ov ? json_array_size(ov) : 0;
		const char **all = arena_alloc(&c->ar, (on + n + 1) * sizeof(*all));
		size_t k = 0;
		for (size_t i = 0; all != NULL && i < on; i++) {
			char *v = arena_alloc(&c->ar, json_string_length(json_array_get(ov, i)) + 1);
			if (v != NULL)
				strcpy(v, json_string_value(json_array_get(ov, i)));
			all[k++] = v != NULL ? v : "";
		}
		for (size_t i = 0; all != NULL && i < n; i++) {
			bool dup = false;
			for (size_t j = 0; j < on; j++)
				dup |= strcmp(all[j], vals[i]) == 0;
			if (!dup)
				all[k++] = vals[i];
		}
		json_decref(old);
		if (all == NULL) {
			api_error(c->rs, 500, "out of memory");
			goto out;
		}
		vals = all;
		n = k;
	}
	store_snap_close(sn);
	sn = NULL;
	if (meta_apply(c, &z, &cur, kind, vals, del ? 0 : n) != 0)
		goto out;
	if (del) {
		c->rs->status = 200;
		goto out;
	}
	if (store_snap_open(r->api->st, &sn) != 0) {
		api_error(c->rs, 500, "cannot read the database");
		goto out;
	}
	json_t *arr = meta_read(sn, &z, kind);
	json_t *o = json_array_size(arr) ? json_incref(json_array_get(arr, 0))
	                                 : meta_obj(kind, json_array());
	json_decref(arr);
	api_json(c->rs, post ? 201 : 200, o);
out:
	if (sn != NULL)
		store_snap_close(sn);
	json_decref(body);
}

void
api_zone_metadata(struct api_req *r, struct api_resp *rs, const char *id)
{
	struct api_ctx c;
	if (api_ctx_init(&c, r, rs) != 0)
		return;
	metadata(&c, id, NULL);
	api_ctx_clear(&c);
}

void
api_zone_metadata_kind(struct api_req *r, struct api_resp *rs, const char *kind)
{
	char id[DNS_NAME_TEXT_MAX * 3 + 1];
	if (!path_zone_id(r, id, sizeof(id)) || strchr(kind, '/') != NULL) {
		api_error(rs, 404, "Not Found");
		return;
	}
	struct api_ctx c;
	if (api_ctx_init(&c, r, rs) != 0)
		return;
	metadata(&c, id, kind);
	api_ctx_clear(&c);
}

void
api_zone_axfr_retrieve(struct api_req *r, struct api_resp *rs, const char *id)
{
	struct store_snap *sn;
	struct store_zone z;
	if (api_find_zone(r, rs, id, &sn, &z) != 0)
		return;
	store_snap_close(sn);
	api_error(rs, 422, "zone '%s' is of kind %s, not Slave: this server is the hidden primary "
	          "and retrieves no zone", z.text, z.kind);
}

void
api_autoprimaries(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	if (strcmp(r->method, "GET") == 0 && id == NULL)
		api_json(rs, 200, json_array());
	else
		api_error(rs, 422, "autoprimaries: not applicable: this server is the hidden primary "
		          "and accepts no zone from another primary");
}

void
api_cache_flush(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	const char *d = api_arg(r, "domain");
	uint8_t w[DNS_NAME_MAX];
	if (d == NULL || dns_name_from_text(d, strlen(d), NULL, w) <= 0) {
		api_error(rs, 422, "domain: missing or not a name");
		return;
	}
	/* answers come from the secondaries' memory, refreshed by NOTIFY: no cache here */
	api_json(rs, 200, json_pack("{s:i,s:s}", "count", 0, "result", "Flushed cache."));
}
