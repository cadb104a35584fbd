/*
 * The smaller resources: the server object, /config, /statistics,
 * /search-data, /tsigkeys, /apikeys (admin only) and GET /metrics.
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
#include "dns/rrtype.h"

static json_t *
server_json(struct api *a)
{
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "Server", "id", "localhost",
	                      "daemon_type", "authoritative", "version", a->o.version, "url",
	                      API_PREFIX, "config_url", API_PREFIX "/config{/config_setting}",
	                      "zones_url", API_PREFIX "/zones{/zone}");
	if (a->o.quic_spki_pin != NULL)
		json_object_set_new(j, "quic_spki_pin", json_string(a->o.quic_spki_pin));
	return j;
}

void
api_servers(struct api_req *r, struct api_resp *rs)
{
	if (strcmp(r->method, "GET") != 0) {
		api_error(rs, 405, "Method Not Allowed");
		return;
	}
	if (r->route == R_SERVERS)
		api_json(rs, 200, json_pack("[o]", server_json(r->api)));
	else
		api_json(rs, 200, server_json(r->api));
}

static void
setting(json_t *arr, const char *name, const char *value)
{
	json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "name", name, "type", "ConfigSetting",
	                                     "value", value));
}

void
api_config(struct api_req *r, struct api_resp *rs)
{
	if (strcmp(r->method, "GET") != 0) {
		api_error(rs, 422, "configuration is read-only through the API");
		return;
	}
	char buf[32];
	json_t *arr = json_array();
	setting(arr, "api", "yes");
	setting(arr, "api-listen", r->api->o.listen);
	snprintf(buf, sizeof(buf), "%zu", r->api->o.max_body);
	setting(arr, "api-max-body", buf);
	snprintf(buf, sizeof(buf), "%zu", r->api->o.max_rrsets);
	setting(arr, "api-max-rrsets", buf);
	snprintf(buf, sizeof(buf), "%zu", r->api->o.max_records);
	setting(arr, "api-max-records", buf);
	setting(arr, "catalog", (const char *)"");
	char cat[DNS_NAME_TEXT_MAX];
	dns_name_to_text(store_catalog_name(r->api->st), cat, sizeof(cat));
	json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "value", json_string(cat));
	setting(arr, "default-soa-edit-api", "DEFAULT");
	setting(arr, "launch", "anycst-sqlite");
	api_json(rs, 200, arr);
}

static void
stat_item(json_t *arr, const char *name, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "name", name, "type", "StatisticItem",
	                                     "value", buf));
}

void
api_statistics(struct api_req *r, struct api_resp *rs)
{
	struct store_stats s;
	int ret = r->account != NULL ? store_stats_account(r->api->st, r->account, &s)
	                             : store_stats(r->api->st, &s);
	if (ret != 0) {
		api_error(rs, 500, "cannot read statistics");
		return;
	}
	json_t *arr = json_array();
	stat_item(arr, "uptime", (uint64_t)(time(NULL) - r->api->started));
	stat_item(arr, "zones", s.zones);
	stat_item(arr, "records", s.records);
	stat_item(arr, "journal-entries", s.journal_entries);
	if (r->account != NULL) {
		/* an account key sees its own zones only, nothing server-wide (issue 12) */
		api_json(rs, 200, arr);
		return;
	}
	stat_item(arr, "commits", s.commits);
	uint64_t total = 0;
	pthread_mutex_lock(&r->api->mmu);
	total = r->api->lat_count;
	pthread_mutex_unlock(&r->api->mmu);
	stat_item(arr, "api-requests", total);
	api_json(rs, 200, arr);
}

/* ---- /search-data ------------------------------------------------------------- */

/* Case-insensitive glob with * and ? (PowerDNS search syntax). */
static bool
glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *ss = NULL;
	while (*s) {
		if (*pat == '?' || (*pat != '*' && *pat != '\0' &&
		                    (*pat | 0x20) == (*s | 0x20) &&
		                    ((*pat >= 'A' && *pat <= 'Z') || (*pat >= 'a' && *pat <= 'z')))) {
			pat++;
			s++;
		} else if (*pat != '*' && *pat != '\0' && *pat == *s) {
			pat++;
			s++;
		} else if (*pat == '*') {
			star = pat++;
			ss = s;
		} else if (star != NULL) {
			pat = star + 1;
			s = ++ss;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

struct search {
	struct api_req *r;
	struct store_snap *sn;
	const char *q;
	const char *otype;
	size_t max;
	json_t *arr;
	const struct store_zone *z;
	char zid[DNS_NAME_TEXT_MAX * 3];
	char *text;
};

static int
search_row(void *ctx, const struct store_row *row)
{
	struct search *s = ctx;
	if (json_array_size(s->arr) >= s->max)
		return 1;
	char name[DNS_NAME_TEXT_MAX], tname[DNS_RRTYPE_TEXT_MAX];
	dns_name_to_text(row->owner, name, sizeof(name));
	if (dns_rdata_to_text(row->type, row->rdata, row->rdlen, s->text, DNS_RDATA_MAX * 4 + 64) < 0)
		s->text[0] = '\0';
	if (!glob_match(s->q, name) && !glob_match(s->q, s->text))
		return 0;
	dns_rrtype_to_text(row->type, tname, sizeof(tname));
	json_array_append_new(s->arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:b,s:s}", "object_type",
	                                        "record", "name", name, "zone", s->z->text, "zone_id",
	                                        s->zid, "type", tname, "ttl", (json_int_t)row->ttl,
	                                        "disabled", row->disabled, "content", s->text));
	return 0;
}

static int
search_zone(void *ctx, const struct store_zone *z)
{
	struct search *s = ctx;
	if (json_array_size(s->arr) >= s->max)
		return 1;
	s->z = z;
	api_zone_id_encode(z->text, s->zid, sizeof(s->zid));
	bool all = strcmp(s->otype, "all") == 0;
	if ((all || strcmp(s->otype, "zone") == 0) && glob_match(s->q, z->text))
		json_array_append_new(s->arr, json_pack("{s:s,s:s,s:s}", "object_type", "zone", "name",
		                                        z->text, "zone_id", s->zid));
	if (all || strcmp(s->otype, "record") == 0) {
		int ret = store_snap_rows(s->sn, z, NULL, 0, search_row, s);
		if (ret < 0)
			return ret;
	}
	return json_array_size(s->arr) >= s->max ? 1 : 0;
}

void
api_search(struct api_req *r, struct api_resp *rs)
{
	const char *q = api_arg(r, "q"), *max = api_arg(r, "max"), *ot = api_arg(r, "object_type");
	if (q == NULL || q[0] == '\0') {
		api_error(rs, 422, "q: missing search term");
		return;
	}
	struct search s = {.r = r, .q = q, .otype = ot ? ot : "all", .max = 100};
	if (strcmp(s.otype, "all") != 0 && strcmp(s.otype, "zone") != 0 &&
	    strcmp(s.otype, "record") != 0 && strcmp(s.otype, "comment") != 0) {
		api_error(rs, 422, "object_type: must be all, zone, record or comment");
		return;
	}
	if (max != NULL) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(max, &end, 10);
		if (end == max || *end != '\0' || errno != 0 || v == 0 || v > 100000) {
			api_error(rs, 422, "max: not a number in 1..100000");
			return;
		}
		s.max = v;
	}
	s.text = malloc(DNS_RDATA_MAX * 4 + 64);
	if (s.text == NULL || store_snap_open(r->api->st, &s.sn) != 0) {
		free(s.text);
		api_error(rs, 500, "cannot read the database");
		return;
	}
	s.arr = json_array();
	int ret = store_snap_zones(s.sn, r->account, NULL, 0, search_zone, &s);
	store_snap_close(s.sn);
	free(s.text);
	if (ret < 0) {
		json_decref(s.arr);
		api_store_error(rs, ret, NULL);
		return;
	}
	api_json(rs, 200, s.arr);
}

/* ---- /tsigkeys -------------------------------------------------------------------- */

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
api_tsigkeys(struct api_req *r, struct api_resp *rs, const char *id)
{
	if (!r->admin) {
		api_error(rs, 403, "TSIG keys need the admin API key");
		return;
	}
	const char *m = r->method;
	struct store_tsig_key k = {0};
	char name[DNS_NAME_TEXT_MAX];
	if (id != NULL) {
		uint8_t w[DNS_NAME_MAX];
		if (api_zone_id_decode(id, w) != 0 || dns_name_to_text(w, name, sizeof(name)) < 0) {
			api_error(rs, 404, "TSIG key '%.200s' not found", id);
			return;
		}
	}
	if (id == NULL && strcmp(m, "GET") == 0) {
		struct store_snap *sn;
		if (store_snap_open(r->api->st, &sn) != 0) {
			api_error(rs, 500, "cannot read the database");
			return;
		}
		json_t *arr = json_array();
		store_snap_tsig_keys(sn, tsig_list_one, arr);
		store_snap_close(sn);
		api_json(rs, 200, arr);
		return;
	}
	if (id == NULL && strcmp(m, "POST") == 0) {
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
		return;
	}
	if (id == NULL) {
		api_error(rs, 405, "Method Not Allowed");
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
		json_t *body = api_body_object(r, rs);
		if (body == NULL)
			return;
		json_t *jn = json_object_get(body, "name");
		if (jn != NULL && json_is_string(jn)) {
			char want[DNS_NAME_TEXT_MAX];
			uint8_t w[DNS_NAME_MAX];
			if (dns_name_from_text(json_string_value(jn), json_string_length(jn), NULL, w) <= 0 ||
			    (dns_name_lower(w), dns_name_to_text(w, want, sizeof(want))) < 0 ||
			    strcmp(want, k.name) != 0) {
				api_error(rs, 422, "name: renaming a TSIG key is not supported");
				json_decref(body);
				return;
			}
		}
		if (tsig_from_body(body, &k, false, rs) == 0) {
			ret = store_tsig_put(r->api->st, &k, true);
			/* the secret only when this request set it: GET /tsigkeys/{id} shows it */
			if (ret != 0)
				api_store_error(rs, ret, NULL);
			else
				api_json(rs, 200, tsig_json(&k, json_object_get(body, "key") != NULL));
		}
		json_decref(body);
	} else {
		api_error(rs, 405, "Method Not Allowed");
	}
}

/* ---- /apikeys ------------------------------------------------------------------------ */

static int
apikey_one(void *ctx, const struct store_apikey *k)
{
	json_array_append_new(ctx, json_pack("{s:I,s:s,s:s,s:I}", "id", (json_int_t)k->id, "account",
	                                     k->account, "description", k->description, "created_at",
	                                     (json_int_t)k->created_at));
	return 0;
}

void
api_apikeys(struct api_req *r, struct api_resp *rs, const char *id)
{
	if (!r->admin) {
		api_error(rs, 403, "API keys can only be managed with the admin key");
		return;
	}
	const char *m = r->method;
	if (id == NULL && strcmp(m, "GET") == 0) {
		json_t *arr = json_array();
		if (store_apikey_list(r->api->st, apikey_one, arr) != 0) {
			json_decref(arr);
			api_error(rs, 500, "cannot read the database");
			return;
		}
		api_json(rs, 200, arr);
	} else if (id == NULL && strcmp(m, "POST") == 0) {
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
	} else if (id != NULL && strcmp(m, "DELETE") == 0) {
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
	} else {
		api_error(rs, 405, "Method Not Allowed");
	}
}

/* ---- /metrics ------------------------------------------------------------------------ */

struct mbuf {
	char *p;
	size_t len, cap;
};

static void
mprintf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
mprintf(struct mbuf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p != NULL && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 8192;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (np == NULL)
			return;
		b->p = np;
		b->cap = cap;
	}
}

static api_metrics_fn extra_metrics;
static void *extra_metrics_ctx;

void
api_metrics_attach(api_metrics_fn fn, void *ctx)
{
	extra_metrics = fn;
	extra_metrics_ctx = ctx;
}

void
api_metrics(struct api_req *r, struct api_resp *rs)
{
	struct api *a = r->api;
	struct store_stats s;
	store_stats(a->st, &s);
	struct mbuf b = {0};
	uint64_t counts[R_COUNT][API_STATUS_SLOTS];
	uint64_t buckets[API_LAT_BUCKETS + 1];
	double sum;
	uint64_t n;
	pthread_mutex_lock(&a->mmu);
	memcpy(counts, a->req_count, sizeof(counts));
	memcpy(buckets, a->lat_bucket, sizeof(buckets));
	sum = a->lat_sum;
	n = a->lat_count;
	pthread_mutex_unlock(&a->mmu);
	mprintf(&b, "# HELP anycst_api_requests_total API requests by endpoint and status.\n"
	            "# TYPE anycst_api_requests_total counter\n");
	for (int i = 0; i < R_COUNT; i++)
		for (unsigned j = 0; j < API_STATUS_SLOTS; j++)
			if (counts[i][j])
				mprintf(&b, "anycst_api_requests_total{endpoint=\"%s\",status=\"%u\"} %" PRIu64 "\n",
				        api_route_names[i], api_slot_status(j), counts[i][j]);
	mprintf(&b, "# HELP anycst_api_request_duration_seconds API request latency.\n"
	            "# TYPE anycst_api_request_duration_seconds histogram\n");
	const double *bounds = api_lat_bounds();
	uint64_t cum = 0;
	for (unsigned i = 0; i < API_LAT_BUCKETS; i++) {
		cum += buckets[i];
		mprintf(&b, "anycst_api_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
		        bounds[i], cum);
	}
	cum += buckets[API_LAT_BUCKETS];
	mprintf(&b, "anycst_api_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	mprintf(&b, "anycst_api_request_duration_seconds_sum %.6f\n", sum);
	mprintf(&b, "anycst_api_request_duration_seconds_count %" PRIu64 "\n", n);
	pthread_mutex_lock(&a->cmu);
	uint64_t swept = a->deadline_closed;
	pthread_mutex_unlock(&a->cmu);
	mprintf(&b, "# HELP anycst_api_deadline_closed_total API connections closed past their "
	            "header or body deadline.\n# TYPE anycst_api_deadline_closed_total counter\n"
	            "anycst_api_deadline_closed_total %" PRIu64 "\n", swept);
	mprintf(&b, "# HELP anycst_zones Zones in the store (catalog included).\n"
	            "# TYPE anycst_zones gauge\nanycst_zones %" PRIu64 "\n", s.zones);
	mprintf(&b, "# HELP anycst_records Records in the store.\n"
	            "# TYPE anycst_records gauge\nanycst_records %" PRIu64 "\n", s.records);
	mprintf(&b, "# HELP anycst_journal_entries IXFR journal entries kept.\n"
	            "# TYPE anycst_journal_entries gauge\nanycst_journal_entries %" PRIu64 "\n",
	        s.journal_entries);
	mprintf(&b, "# HELP anycst_commits_total Committed changes since start.\n"
	            "# TYPE anycst_commits_total counter\nanycst_commits_total %" PRIu64 "\n", s.commits);
	mprintf(&b, "# HELP anycst_last_commit_timestamp_seconds Time of the last commit.\n"
	            "# TYPE anycst_last_commit_timestamp_seconds gauge\n"
	            "anycst_last_commit_timestamp_seconds %" PRId64 "\n", s.last_commit);
	if (extra_metrics != NULL) {
		char extra[8192];
		int en = extra_metrics(extra_metrics_ctx, extra, sizeof(extra));
		if (en > 0)
			mprintf(&b, "%.*s", en, extra);
	}
	rs->status = 200;
	rs->ctype = "text/plain; version=0.0.4";
	rs->body = b.p ? b.p : strdup("");
	rs->body_len = b.len;
}
