/*
 * A zone's "update_policy" field (an anycst extension beside PowerDNS's
 * zone fields; schema 0009): per-key limits on DNS UPDATE, each rule
 *   {"key": "acme-upd.", "match": "subdomain"|"name"|"pattern",
 *    "name": "_acme-challenge", "types": ["TXT"]}
 * with `name` relative to the zone ("@" its apex) or absolute, `match`
 * "subdomain" by default and `types` [] or absent for every type ("ANY"
 * allows deleting a whole name).  Read by GET /zones/{id}, set by POST
 * /zones and PUT /zones/{id} (the whole list at once).
 */
#include "api/internal.h"

#include <string.h>
#include <strings.h>

#include "dns/name.h"
#include "dns/rrtype.h"

static int
rule_json(void *ctx, const struct store_upolicy_rule *r)
{
	char name[DNS_NAME_TEXT_MAX];
	if (dns_name_to_text(r->name, name, sizeof(name)) < 0)
		return 0;
	json_t *types = json_array();
	for (size_t i = 0; i < r->ntypes; i++) {
		char t[32];
		if (dns_rrtype_to_text(r->types[i], t, sizeof(t)) >= 0)
			json_array_append_new(types, json_string(t));
	}
	json_array_append_new(ctx, json_pack("{s:s,s:s,s:s,s:o}", "key", r->key, "match",
	                                     store_upolicy_match_name(r->match), "name", name,
	                                     "types", types));
	return 0;
}

json_t *
api_upolicy_json(struct store_snap *sn, const struct store_zone *z)
{
	json_t *a = json_array();
	if (sn != NULL)
		store_snap_zone_update_policy(sn, z, rule_json, a);
	return a;
}

static int
rule_types(struct api_ctx *c, size_t i, json_t *jt, struct store_upolicy_rule *r)
{
	if (jt == NULL || json_is_null(jt))
		return 0;
	if (!json_is_array(jt) || json_array_size(jt) > STORE_UPOLICY_TYPES) {
		api_error(c->rs, 422, "update_policy[%zu].types: not an array of at most %d types", i,
		          STORE_UPOLICY_TYPES);
		return -1;
	}
	for (size_t k = 0; k < json_array_size(jt); k++) {
		const char *t = json_string_value(json_array_get(jt, k));
		uint16_t type;
		if (t == NULL || dns_rrtype_from_text(t, strlen(t), &type) != 0 ||
		    (dns_rrtype_is_meta(type) && type != DNS_T_ANY)) {
			api_error(c->rs, 422, "update_policy[%zu].types[%zu]: not a record type", i, k);
			return -1;
		}
		r->types[r->ntypes++] = type;
	}
	return 0;
}

static int
rule_parse(struct api_ctx *c, size_t i, json_t *j, const uint8_t *zone,
           struct store_upolicy_rule *r)
{
	memset(r, 0, sizeof(*r));
	const char *key = json_string_value(json_object_get(j, "key"));
	const char *match = json_string_value(json_object_get(j, "match"));
	const char *name = json_string_value(json_object_get(j, "name"));
	if (!json_is_object(j) || key == NULL || name == NULL) {
		api_error(c->rs, 422, "update_policy[%zu]: an object with \"key\" and \"name\" "
		          "strings", i);
		return -1;
	}
	if (strlen(key) >= sizeof(r->key)) {
		api_error(c->rs, 422, "update_policy[%zu].key: too long", i);
		return -1;
	}
	memcpy(r->key, key, strlen(key) + 1);
	if (match != NULL && store_upolicy_match_parse(match, &r->match) != 0) {
		api_error(c->rs, 422, "update_policy[%zu].match: '%s' is not subdomain, name or "
		          "pattern", i, match);
		return -1;
	}
	int n = strcmp(name, "@") == 0 ? (int)dns_name_len(zone) : 0;
	if (n > 0)
		memcpy(r->name, zone, (size_t)n);
	else
		n = dns_name_from_text(name, strlen(name), zone, r->name);
	if (n <= 0 || !dns_name_is_sub(r->name, zone)) {
		api_error(c->rs, 422, "update_policy[%zu].name: '%s' is not a name inside the zone", i,
		          name);
		return -1;
	}
	dns_name_lower(r->name);
	return rule_types(c, i, json_object_get(j, "types"), r);
}

int
api_upolicy_parse(struct api_ctx *c, json_t *j, const uint8_t *zone,
                  const struct store_upolicy_rule **out, size_t *n)
{
	if (!json_is_array(j) || json_array_size(j) > STORE_UPOLICY_MAX) {
		api_error(c->rs, 422, "update_policy: not an array of at most %d rules",
		          STORE_UPOLICY_MAX);
		return -1;
	}
	*n = json_array_size(j);
	struct store_upolicy_rule *r = NULL;
	if (*n > 0) {
		r = arena_alloc(&c->ar, *n * sizeof(*r));
		if (r == NULL) {
			api_error(c->rs, 500, "out of memory");
			return -1;
		}
	}
	for (size_t i = 0; i < *n; i++)
		if (rule_parse(c, i, json_array_get(j, i), zone, &r[i]) != 0)
			return -1;
	*out = r;
	return 0;
}
