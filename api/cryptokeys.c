/*
 * /zones/{id}/cryptokeys, PowerDNS-shaped (issue 15): list, create, GET
 * one, PUT (active, published; or {"rollover": true} on the active ZSK,
 * which starts a pre-publish ZSK rollover, primary/store_roll.c, or on the
 * active KSK or CSK, a double-signature rollover, primary/store_ksk.c; or
 * {"ds_seen": true} on the incoming KSK once the parent shows its DS),
 * DELETE.  A key object carries "dnskey"
 * ("257 3 13 <base64>") and "ds" (SHA-256 and SHA-384 digests, as a panel
 * shows them for the registrar).  The private key never leaves the store:
 * "privatekey" is absent, and "content" (an import) is refused.  Every
 * change re-signs the zone in its own transaction (primary/store_dnssec.c).
 * Scoped like the other zone routes: an account key sees its own zones.
 */
#include "api/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dnssec.h"
#include "util/base.h"

static const char *
alg_name(uint8_t alg)
{
	return alg == DNS_DNSSEC_ALG_ED25519 ? "ED25519" : alg == 13 ? "ECDSAP256SHA256" : "unknown";
}

static json_t *
key_json(const struct store_zone *z, const struct store_cryptokey *k)
{
	json_t *j = json_object();
	json_object_set_new(j, "type", json_string("Cryptokey"));
	json_object_set_new(j, "id", json_integer(k->id));
	json_object_set_new(j, "keytype", json_string(k->keytype));
	json_object_set_new(j, "active", json_boolean(k->active));
	json_object_set_new(j, "published", json_boolean(k->published));
	json_object_set_new(j, "flags", json_integer(k->flags));
	json_object_set_new(j, "algorithm", json_string(alg_name(k->alg)));
	json_object_set_new(j, "bits", json_integer(256));
	char b64[256], line[512];
	if (k->dnskey_len >= 4 &&
	    base64_encode(k->dnskey + 4, k->dnskey_len - 4, b64, sizeof(b64)) >= 0) {
		snprintf(line, sizeof(line), "%u %u %u %s", k->flags, k->dnskey[2], k->dnskey[3], b64);
		json_object_set_new(j, "dnskey", json_string(line));
	}
	json_t *ds = json_array();
	static const uint8_t digests[] = {DNS_DNSSEC_DS_SHA256, DNS_DNSSEC_DS_SHA384};
	for (size_t i = 0; i < sizeof(digests); i++) {
		uint8_t d[DNS_DNSSEC_DS_MAX];
		int n = dns_dnssec_ds(z->name, k->dnskey, k->dnskey_len, digests[i], d, sizeof(d));
		if (n < 4)
			continue;
		int o = snprintf(line, sizeof(line), "%u %u %u ", k->tag, d[2], d[3]);
		for (int b = 4; b < n && o + 3 < (int)sizeof(line); b++)
			o += snprintf(line + o, sizeof(line) - (size_t)o, "%02x", d[b]);
		json_array_append_new(ds, json_string(line));
	}
	json_object_set_new(j, "ds", ds);
	if (k->cds && k->active && k->published && json_array_size(ds) > 0) {
		/* the CDS the zone publishes for it (SHA-256) while the parent may take it */
		json_t *cds = json_array();
		json_array_append(cds, json_array_get(ds, 0));
		json_object_set_new(j, "cds", cds);
	}
	return j;
}

struct list_ctx {
	const struct store_zone *z;
	json_t *arr;
	int64_t want;      /* 0: all */
};

static int
list_one(void *ctx, const struct store_cryptokey *k)
{
	struct list_ctx *l = ctx;
	if (l->want == 0 || l->want == k->id)
		json_array_append_new(l->arr, key_json(l->z, k));
	return 0;
}

/* The "/zones/{zid}/" segment of the request path into zid; the key id after "/cryptokeys/". */
static int
path_ids(const struct api_req *r, char *zid, size_t cap, const char **kid)
{
	const char *p = strstr(r->path, "/zones/");
	if (p == NULL)
		return -EINVAL;
	p += strlen("/zones/");
	size_t n = strcspn(p, "/");
	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(zid, p, n);
	zid[n] = '\0';
	const char *k = strstr(p + n, "/cryptokeys/");
	*kid = k != NULL ? k + strlen("/cryptokeys/") : NULL;
	return 0;
}

static int
alg_parse(json_t *v, uint8_t *alg)
{
	*alg = DNS_DNSSEC_ALG_ECDSAP256SHA256;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v) && (json_integer_value(v) == 13 || json_integer_value(v) == 15)) {
		*alg = (uint8_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	const char *s = json_string_value(v);
	if (strcasecmp(s, "ecdsap256sha256") == 0 || strcasecmp(s, "ecdsa256") == 0 ||
	    strcmp(s, "13") == 0)
		return 0;
	if (strcasecmp(s, "ed25519") == 0 || strcmp(s, "15") == 0) {
		*alg = DNS_DNSSEC_ALG_ED25519;
		return 0;
	}
	return -EINVAL;
}

static bool
bool_field(json_t *body, const char *name, bool def, bool *bad)
{
	json_t *v = json_object_get(body, name);
	if (v == NULL || json_is_null(v))
		return def;
	if (!json_is_boolean(v))
		*bad = true;
	return json_is_true(v);
}

static void
key_create(struct api_req *r, struct api_resp *rs, const struct store_zone *z)
{
	json_t *body = api_body_object(r, rs);
	if (body == NULL)
		return;
	json_t *jt = json_object_get(body, "keytype");
	const char *kt = json_is_string(jt) ? json_string_value(jt) : "csk";
	uint8_t alg;
	bool bad = false;
	bool active = bool_field(body, "active", false, &bad);
	bool published = bool_field(body, "published", true, &bad);
	char err[512] = "";
	int64_t id = 0;
	struct store_result res;
	if (jt != NULL && (!json_is_string(jt) || (strcmp(kt, "ksk") != 0 &&
	                                          strcmp(kt, "zsk") != 0 && strcmp(kt, "csk") != 0))) {
		api_error(rs, 422, "keytype: must be ksk, zsk or csk");
	} else if (alg_parse(json_object_get(body, "algorithm"), &alg) != 0) {
		api_error(rs, 422, "algorithm: must be ECDSAP256SHA256 (13) or ED25519 (15)");
	} else if (bad) {
		api_error(rs, 422, "active, published: not booleans");
	} else if (json_object_get(body, "content") != NULL &&
	           !json_is_null(json_object_get(body, "content"))) {
		api_error(rs, 422, "content: importing private keys is not supported; keys are "
		          "generated by the server");
	} else {
		int ret = store_cryptokey_add(r->api->st, z->name, r->account, kt, alg, active,
		                              published, &id, &res, err, sizeof(err));
		if (ret == -EPERM && err[0] == '\0')
			snprintf(err, sizeof(err), "signing needs the primary started with "
			         "--dnssec-key-file");
		if (ret != 0) {
			api_store_error(rs, ret, err);
		} else {
			struct store_snap *sn;
			struct list_ctx l = {.z = z, .arr = json_array(), .want = id};
			if (store_snap_open(r->api->st, &sn) == 0) {
				store_snap_cryptokeys(sn, z, list_one, &l);
				store_snap_close(sn);
			}
			if (json_array_size(l.arr) == 1)
				api_json(rs, 201, json_incref(json_array_get(l.arr, 0)));
			else
				api_error(rs, 500, "key created but not read back");
			json_decref(l.arr);
		}
	}
	json_decref(body);
}

/* PUT's body into *active, *published, *roll, *ds_seen; false with a 422 written. */
static bool
change_fields(struct api_req *r, struct api_resp *rs, const struct store_cryptokey *cur,
              bool *active, bool *published, bool *roll, bool *ds_seen)
{
	json_t *body = api_body_object(r, rs);
	if (body == NULL)
		return false;
	bool bad = false;
	*active = bool_field(body, "active", cur->active, &bad);
	*published = bool_field(body, "published", cur->published, &bad);
	*roll = bool_field(body, "rollover", false, &bad);
	*ds_seen = bool_field(body, "ds_seen", false, &bad);
	json_decref(body);
	if (bad) {
		api_error(rs, 422, "active, published, rollover, ds_seen: not booleans");
		return false;
	}
	if ((*roll || *ds_seen) && (*active != cur->active || *published != cur->published)) {
		api_error(rs, 422, "%s: cannot be combined with active or published",
		          *roll ? "rollover" : "ds_seen");
		return false;
	}
	if (*roll && *ds_seen) {
		api_error(rs, 422, "rollover, ds_seen: one at a time");
		return false;
	}
	return true;
}

static void
key_change(struct api_req *r, struct api_resp *rs, const struct store_zone *z, int64_t id,
           const struct store_cryptokey *cur)
{
	bool del = strcmp(r->method, "DELETE") == 0;
	bool active = cur->active, published = cur->published, roll = false, ds_seen = false;
	if (!del && !change_fields(r, rs, cur, &active, &published, &roll, &ds_seen))
		return;
	char err[512] = "";
	struct store_result res;
	struct store *st = r->api->st;
	bool sep = (cur->flags & DNS_DNSSEC_FLAG_SEP) != 0;
	int ret;
	if (roll && sep)
		ret = store_ksk_rollover(st, z->name, r->account, id, &res, err, sizeof(err));
	else if (roll)
		ret = store_zsk_rollover(st, z->name, r->account, id, &res, err, sizeof(err));
	else if (ds_seen)
		ret = store_ksk_ds_seen(st, z->name, r->account, id, &res, err, sizeof(err));
	else
		ret = store_cryptokey_set(st, z->name, r->account, id, del, active, published, &res,
		                          err, sizeof(err));
	if (ret == -EPERM && err[0] == '\0')
		snprintf(err, sizeof(err), "signing needs the primary started with --dnssec-key-file");
	if (ret != 0)
		api_store_error(rs, ret, err);
	else
		rs->status = 204;
}

void
api_zone_cryptokeys(struct api_req *r, struct api_resp *rs, const char *unused)
{
	(void)unused;
	char zid[DNS_NAME_TEXT_MAX * 3 + 1];
	const char *kid = NULL;
	if (path_ids(r, zid, sizeof(zid), &kid) != 0) {
		api_error(rs, 404, "Not Found");
		return;
	}
	struct store_snap *sn;
	struct store_zone z;
	if (api_find_zone(r, rs, zid, &sn, &z) != 0)
		return;
	int64_t id = 0;
	if (kid != NULL) {
		char *end = NULL;
		long long v = strtoll(kid, &end, 10);
		if (end == kid || *end != '\0' || v <= 0) {
			store_snap_close(sn);
			api_error(rs, 404, "cryptokey '%.60s' not found", kid);
			return;
		}
		id = v;
	}
	struct list_ctx l = {.z = &z, .arr = json_array(), .want = id};
	int ret = store_snap_cryptokeys(sn, &z, list_one, &l);
	store_snap_close(sn);
	const char *m = r->method;
	if (ret != 0) {
		api_store_error(rs, ret, NULL);
	} else if (kid == NULL && strcmp(m, "GET") == 0) {
		api_json(rs, 200, json_incref(l.arr));
	} else if (kid == NULL && strcmp(m, "POST") == 0) {
		key_create(r, rs, &z);
	} else if (kid == NULL) {
		api_error(rs, 405, "Method Not Allowed");
	} else if (json_array_size(l.arr) == 0) {
		api_error(rs, 404, "cryptokey %" PRId64 " not found in zone '%s'", id, z.text);
	} else if (strcmp(m, "GET") == 0) {
		api_json(rs, 200, json_incref(json_array_get(l.arr, 0)));
	} else if (strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0) {
		json_t *k = json_array_get(l.arr, 0);
		struct store_cryptokey cur = {
			.active = json_is_true(json_object_get(k, "active")),
			.published = json_is_true(json_object_get(k, "published")),
			.flags = (uint16_t)json_integer_value(json_object_get(k, "flags")),
		};
		key_change(r, rs, &z, id, &cur);
	} else {
		api_error(rs, 405, "Method Not Allowed");
	}
	json_decref(l.arr);
}
