/*
 * The server object (/servers, /servers/localhost), /config, /statistics
 * and /search-data.
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

/* /api and /api/v1, any method. */
void
api_discovery(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	if (strcmp(r->path, "/api") == 0)
		api_json(rs, 200, json_pack("[{s:s,s:i}]", "url", "/api/v1", "version", 1));
	else
		api_json(rs, 200, json_pack("{s:s,s:s}", "server_url", "/api/v1/servers{/server}",
		                            "api_features", ""));
}

/*
 * The PowerDNS Authoritative release whose API v1 we implement: clients
 * (octoDNS, Terraform's provider) choose their behaviour by this number, so it
 * is PowerDNS's, and ours is served beside it as "anycst_version".
 */
#define API_PDNS_VERSION "4.9.0"

static json_t *
server_json(struct api *a)
{
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "Server", "id",
	                      "localhost", "daemon_type", "authoritative", "version",
	                      API_PDNS_VERSION, "anycst_version", a->o.version, "url",
	                      API_PREFIX, "config_url", API_PREFIX "/config{/config_setting}",
	                      "zones_url", API_PREFIX "/zones{/zone}");
	json_object_set_new(j, "autoprimaries_url",
	                    json_string(API_PREFIX "/autoprimaries{/autoprimary}"));
	if (a->o.quic_spki_pin != NULL)
		json_object_set_new(j, "quic_spki_pin", json_string(a->o.quic_spki_pin));
	return j;
}

void
api_servers(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
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
api_config(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	if (strcmp(r->method, "GET") != 0) {
		api_error(rs, 422, "configuration is read-only through the API");
		return;
	}
	char buf[32];
	json_t *arr = json_array();
	setting(arr, "api", "yes");
	setting(arr, "api-listen", r->api->o.listen);
	snprintf(buf, sizeof(buf), "%zu", API_LIM(r->api, max_body));
	setting(arr, "api-max-body", buf);
	snprintf(buf, sizeof(buf), "%zu", API_LIM(r->api, max_rrsets));
	setting(arr, "api-max-rrsets", buf);
	snprintf(buf, sizeof(buf), "%zu", API_LIM(r->api, max_records));
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

/*
 * ?statistic=NAME: that item only, 422 "Unknown statistic name" as PowerDNS;
 * ?includerings= is accepted (there are no rings).  Takes `arr`.
 */
static void
stats_answer(struct api_req *r, struct api_resp *rs, json_t *arr)
{
	const char *only = api_arg(r, "statistic");
	if (only == NULL) {
		api_json(rs, 200, arr);
		return;
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *it = json_array_get(arr, i);
		if (strcmp(json_string_value(json_object_get(it, "name")), only) == 0) {
			json_t *one = json_array();
			json_array_append(one, it);
			json_decref(arr);
			api_json(rs, 200, one);
			return;
		}
	}
	json_decref(arr);
	api_error(rs, 422, "Unknown statistic name");
}

void
api_statistics(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
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
		stats_answer(r, rs, arr);
		return;
	}
	stat_item(arr, "commits", s.commits);
	uint64_t total = 0;
	pthread_mutex_lock(&r->api->mmu);
	total = r->api->lat_count;
	pthread_mutex_unlock(&r->api->mmu);
	stat_item(arr, "api-requests", total);
	stats_answer(r, rs, arr);
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
	if (dns_rdata_to_text_pdns(row->type, row->rdata, row->rdlen, s->text, DNS_RDATA_MAX * 4 + 64) < 0)
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

/* A comment whose rrset name or text matches, as PowerDNS lists it. */
static int
search_comment(void *ctx, const uint8_t *owner, uint16_t type, const struct store_comment *c)
{
	struct search *s = ctx;
	if (json_array_size(s->arr) >= s->max)
		return 1;
	char name[DNS_NAME_TEXT_MAX], tname[DNS_RRTYPE_TEXT_MAX];
	dns_name_to_text(owner, name, sizeof(name));
	const char *text = c->content != NULL ? c->content : "";
	if (!glob_match(s->q, name) && !glob_match(s->q, text))
		return 0;
	dns_rrtype_to_text(type, tname, sizeof(tname));
	json_array_append_new(s->arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "object_type",
	                                        "comment", "name", name, "zone", s->z->text,
	                                        "zone_id", s->zid, "type", tname, "content", text));
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
	if (all || strcmp(s->otype, "comment") == 0) {
		int ret = store_snap_comments(s->sn, z, search_comment, s);
		if (ret < 0)
			return ret;
	}
	return json_array_size(s->arr) >= s->max ? 1 : 0;
}

void
api_search(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
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

/* ---- /api/docs ---------------------------------------------------------------- */

extern const char api_openapi_json[];   /* docs/openapi.json, embedded by the Makefile */

/* The OpenAPI document (issue 16.7): PowerDNS's paths we implement and ours. */
void
api_docs(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	if (strcmp(r->method, "GET") != 0) {
		api_error(rs, 405, "Method Not Allowed");
		return;
	}
	json_error_t e;
	json_t *j = json_loads(api_openapi_json, 0, &e);
	if (j == NULL) {
		api_error(rs, 500, "the OpenAPI document does not parse: %s", e.text);
		return;
	}
	api_json(rs, 200, j);
}
