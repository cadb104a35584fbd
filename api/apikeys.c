/*
 * /apikeys (admin key only; the route table checks the scope): list,
 * create (the key shown once), DELETE.
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


static int
apikey_one(void *ctx, const struct store_apikey *k)
{
	json_array_append_new(ctx, json_pack("{s:I,s:s,s:s,s:I}", "id", (json_int_t)k->id, "account",
	                                     k->account, "description", k->description, "created_at",
	                                     (json_int_t)k->created_at));
	return 0;
}

void
api_apikeys_list(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	json_t *arr = json_array();
	if (store_apikey_list(r->api->st, apikey_one, arr) != 0) {
		json_decref(arr);
		api_error(rs, 500, "cannot read the database");
		return;
	}
	api_json(rs, 200, arr);
}

void
api_apikeys_create(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	json_t *body = api_body_object(r, rs);
	if (body == NULL)
		return;
	json_t *ja = json_object_get(body, "account"), *jd = json_object_get(body, "description");
	if (!json_is_string(ja) || json_string_length(ja) == 0 ||
	    json_string_length(ja) >= STORE_ACCOUNT_MAX) {
		api_error(rs, 422, "account: missing or not a non-empty string");
	} else if (jd != NULL && !json_is_string(jd)) {
		api_error(rs, 422, "description: not a string");
	} else {
		unsigned char raw[24];
		char key[64];
		gnutls_datum_t in = {.data = raw, .size = sizeof(raw)}, b = {0};
		if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof(raw)) != 0 ||
		    gnutls_base64_encode2(&in, &b) != 0) {
			api_error(rs, 500, "cannot generate a key");
		} else {
			/* URL-safe so it pastes into headers and shells */
			size_t n = 0;
			for (unsigned i = 0; i < b.size && n + 1 < sizeof(key); i++) {
				char ch = (char)b.data[i];
				if (ch == '=')
					continue;
				key[n++] = ch == '+' ? '-' : ch == '/' ? '_' : ch;
			}
			key[n] = '\0';
			gnutls_free(b.data);
			int64_t kid = store_apikey_add(r->api->st, key, json_string_value(ja),
			                               jd ? json_string_value(jd) : "");
			if (kid < 0)
				api_store_error(rs, (int)kid, NULL);
			else
				api_json(rs, 201, json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)kid,
				                            "account", json_string_value(ja), "description",
				                            jd ? json_string_value(jd) : "", "key", key));
		}
	}
	json_decref(body);
}

void
api_apikey_delete(struct api_req *r, struct api_resp *rs, const char *id)
{
	char *end;
	errno = 0;
	long long v = strtoll(id, &end, 10);
	if (end == id || *end != '\0' || errno != 0 || v <= 0) {
		api_error(rs, 404, "API key '%.64s' not found", id);
		return;
	}
	int ret = store_apikey_delete(r->api->st, v);
	if (ret == -ENOENT)
		api_error(rs, 404, "API key %lld not found", v);
	else if (ret != 0)
		api_store_error(rs, ret, NULL);
	else
		rs->status = 204;
}
