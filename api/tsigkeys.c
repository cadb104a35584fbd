/*
 * /tsigkeys (admin key only; the route table checks the scope): list,
 * create (a secret generated when none is given), get, PUT, DELETE.
 */
#include "api/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "dns/rdata.h"


static json_t *
tsig_json(const struct store_tsig_key *k, bool with_secret)
{
	char id[DNS_NAME_TEXT_MAX * 3], name[DNS_NAME_TEXT_MAX];
	api_zone_id_encode(k->name, id, sizeof(id));
	/* PowerDNS shows the name without its trailing dot */
	snprintf(name, sizeof(name), "%s", k->name);
	size_t n = strlen(name);
	if (n > 1 && name[n - 1] == '.')
		name[n - 1] = '\0';
	return json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "TSIGKey", "id", id, "name", name,
	                 "algorithm", k->algorithm, "key", with_secret ? k->secret : "");
}

static int
tsig_list_one(void *ctx, const struct store_tsig_key *k)
{
	json_array_append_new(ctx, tsig_json(k, false));
	return 0;
}

static int
norm_alg(const char *in, char *out, size_t cap)
{
	char a[32];
	snprintf(a, sizeof(a), "%s", in);
	size_t n = strlen(a);
	if (n > 0 && a[n - 1] == '.')
		a[n - 1] = '\0';
	if (strcasecmp(a, "hmac-sha256") == 0)
		snprintf(out, cap, "hmac-sha256");
	else if (strcasecmp(a, "hmac-sha512") == 0)
		snprintf(out, cap, "hmac-sha512");
	else
		return -EINVAL;
	return 0;
}

static int
check_secret(const char *b64)
{
	gnutls_datum_t in = {.data = (unsigned char *)(uintptr_t)b64, .size = (unsigned)strlen(b64)};
	gnutls_datum_t out = {0};
	if (in.size == 0 || gnutls_base64_decode2(&in, &out) != 0)
		return -EINVAL;
	size_t n = out.size;
	gnutls_free(out.data);
	return n >= 16 ? 0 : -EINVAL;
}

static int
gen_secret(const char *alg, char *out, size_t cap)
{
	unsigned char raw[64];
	size_t n = strcmp(alg, "hmac-sha512") == 0 ? 64 : 32;
	if (gnutls_rnd(GNUTLS_RND_KEY, raw, n) != 0)
		return -EIO;
	gnutls_datum_t in = {.data = raw, .size = (unsigned)n}, b = {0};
	if (gnutls_base64_encode2(&in, &b) != 0)
		return -EIO;
	snprintf(out, cap, "%.*s", (int)b.size, b.data);
	gnutls_free(b.data);
	return 0;
}

/* Fills `k` from a POST/PUT body; `base` holds current values for PUT. */
static int
tsig_from_body(json_t *body, struct store_tsig_key *k, bool create, struct api_resp *rs)
{
	json_t *jn = json_object_get(body, "name"), *ja = json_object_get(body, "algorithm");
	json_t *jk = json_object_get(body, "key");
	if (create) {
		if (!json_is_string(jn) || json_string_length(jn) == 0) {
			api_error(rs, 422, "name: missing or not a string");
			return -EINVAL;
		}
		uint8_t w[DNS_NAME_MAX];
		if (dns_name_from_text(json_string_value(jn), json_string_length(jn), NULL, w) <= 0) {
			api_error(rs, 422, "name: '%.200s' is not a valid key name",
			          json_string_value(jn));
			return -EINVAL;
		}
		snprintf(k->name, sizeof(k->name), "%s", json_string_value(jn));
		snprintf(k->algorithm, sizeof(k->algorithm), "hmac-sha256");
	}
	if (ja != NULL) {
		if (!json_is_string(ja) || norm_alg(json_string_value(ja), k->algorithm,
		                                    sizeof(k->algorithm)) != 0) {
			api_error(rs, 422, "algorithm: must be hmac-sha256 or hmac-sha512");
			return -EINVAL;
		}
	}
	if (jk != NULL && !(json_is_string(jk) && json_string_length(jk) == 0)) {
		if (!json_is_string(jk) || json_string_length(jk) >= sizeof(k->secret) ||
		    check_secret(json_string_value(jk)) != 0) {
			api_error(rs, 422, "key: not a base64 secret of at least 16 bytes");
			return -EINVAL;
		}
		snprintf(k->secret, sizeof(k->secret), "%s", json_string_value(jk));
	} else if (create || ja != NULL) {
		if (create && gen_secret(k->algorithm, k->secret, sizeof(k->secret)) != 0) {
			api_error(rs, 500, "cannot generate a secret");
			return -EIO;
		}
	}
	return 0;
}

void
api_tsigkeys_list(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	struct store_snap *sn;
	if (store_snap_open(r->api->st, &sn) != 0) {
		api_error(rs, 500, "cannot read the database");
		return;
	}
	json_t *arr = json_array();
	store_snap_tsig_keys(sn, tsig_list_one, arr);
	store_snap_close(sn);
	api_json(rs, 200, arr);
}

void
api_tsigkeys_create(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	struct store_tsig_key k = {0};
	json_t *body = api_body_object(r, rs);
	if (body == NULL)
		return;
	if (tsig_from_body(body, &k, true, rs) == 0) {
		int ret = store_tsig_put(r->api->st, &k, false);
		if (ret == -EEXIST)
			api_error(rs, 409, "TSIG key '%s' already exists", k.name);
		else if (ret != 0)
			api_store_error(rs, ret, NULL);
		else {
			struct store_snap *sn;
			if (store_snap_open(r->api->st, &sn) == 0) {
				store_snap_tsig_key(sn, k.name, &k);
				store_snap_close(sn);
			}
			api_json(rs, 201, tsig_json(&k, true));
		}
	}
	json_decref(body);
}

/* PUT /tsigkeys/{id}: a new secret or algorithm; the name stays. */
static void
tsig_update(struct api_req *r, struct api_resp *rs, struct store_tsig_key *k)
{
	json_t *body = api_body_object(r, rs);
	if (body == NULL)
		return;
	json_t *jn = json_object_get(body, "name");
	if (jn != NULL && json_is_string(jn)) {
		char want[DNS_NAME_TEXT_MAX];
		uint8_t w[DNS_NAME_MAX];
		if (dns_name_from_text(json_string_value(jn), json_string_length(jn), NULL, w) <= 0 ||
		    (dns_name_lower(w), dns_name_to_text(w, want, sizeof(want))) < 0 ||
		    strcmp(want, k->name) != 0) {
			api_error(rs, 422, "name: renaming a TSIG key is not supported");
			json_decref(body);
			return;
		}
	}
	if (tsig_from_body(body, k, false, rs) == 0) {
		int ret = store_tsig_put(r->api->st, k, true);
		/* the secret only when this request set it: GET /tsigkeys/{id} shows it */
		if (ret != 0)
			api_store_error(rs, ret, NULL);
		else
			api_json(rs, 200, tsig_json(k, json_object_get(body, "key") != NULL));
	}
	json_decref(body);
}

/*
 * /tsigkeys/{id}, any method: the key is looked up first (404 before 405,
 * as PowerDNS does), so the handler checks the method itself.
 */
void
api_tsigkey(struct api_req *r, struct api_resp *rs, const char *id)
{
	const char *m = r->method;
	struct store_tsig_key k = {0};
	char name[DNS_NAME_TEXT_MAX];
	uint8_t w[DNS_NAME_MAX];
	if (api_zone_id_decode(id, w) != 0 || dns_name_to_text(w, name, sizeof(name)) < 0) {
		api_error(rs, 404, "TSIG key '%.200s' not found", id);
		return;
	}
	struct store_snap *sn;
	if (store_snap_open(r->api->st, &sn) != 0) {
		api_error(rs, 500, "cannot read the database");
		return;
	}
	int ret = store_snap_tsig_key(sn, name, &k);
	store_snap_close(sn);
	if (ret != 0) {
		api_error(rs, 404, "TSIG key '%s' not found", name);
		return;
	}
	if (strcmp(m, "GET") == 0) {
		api_json(rs, 200, tsig_json(&k, true));
	} else if (strcmp(m, "DELETE") == 0) {
		ret = store_tsig_delete(r->api->st, k.name);
		if (ret != 0)
			api_store_error(rs, ret, NULL);
		else
			rs->status = 204;
	} else if (strcmp(m, "PUT") == 0) {
		tsig_update(r, rs, &k);
	} else {
		api_error(rs, 405, "Method Not Allowed");
	}
}
