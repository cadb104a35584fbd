/*
 * The route table of the API: one row per (method, path pattern), with its
 * handler, its scope and its label in /metrics.  api_dispatch() does one
 * lookup: no path matches: 404; the path matches but not the method: 405;
 * the scope needs the admin key and the request has an account key: 403.
 * Every request needs a valid key (401 before anything else), except a
 * route of public scope.
 *
 * Patterns are literal paths with at most one variable: `{id}` is one
 * non-empty segment (a zone id, at most API_ID_MAX - 1 bytes), `{*}` the
 * non-empty rest of the path (a key id or a POP name, checked by its
 * handler).  A NULL method takes any method: the handler orders its own
 * checks (e.g. a TSIG key is looked up before its method, as PowerDNS does).
 * All rows of one path have the same scope.
 */
#include "api/internal.h"

#include <string.h>

#define API_ID_MAX (DNS_NAME_TEXT_MAX * 3 + 1)

enum api_scope {
	SCOPE_PUBLIC,    /* no key needed (the /ui/ files): r->account is then NULL, so such a
	                  * handler must not read zones or keys */
	SCOPE_ACCOUNT,   /* any valid key; an account key sees its own zones */
	SCOPE_ADMIN,     /* the admin key only */
};

struct api_route_row {
	const char *method;     /* NULL: any */
	const char *pattern;
	api_handler *fn;
	enum api_scope scope;
	enum api_route label;
	const char *denied;     /* the 403 of SCOPE_ADMIN */
	bool named_405;         /* 405 names the method ("method X not allowed here") */
};

#define P API_PREFIX
#define Z API_PREFIX "/zones/{id}"
#define ACC SCOPE_ACCOUNT
#define ADM SCOPE_ADMIN

static const char tsig_denied[] = "TSIG keys need the admin API key";
static const char apikey_denied[] = "API keys can only be managed with the admin key";
static const char autoprimary_denied[] = "autoprimaries need the admin API key";
static const char mesh_denied[] = "the POP registry needs the admin API key";

static const struct api_route_row routes[] = {
	/* server-wide numbers: the admin key only (or the --metrics listener) */
	{NULL, "/metrics", api_metrics, ADM, R_METRICS, "/metrics needs the admin API key", false},
	{NULL, "/api", api_discovery, ACC, R_DISCOVERY, NULL, false},
	{NULL, "/api/v1", api_discovery, ACC, R_DISCOVERY, NULL, false},
	{"GET", "/api/docs", api_docs, ACC, R_DISCOVERY, NULL, false},
	{"GET", "/api/v1/servers", api_servers, ACC, R_SERVERS, NULL, false},
	{"GET", P, api_servers, ACC, R_SERVER, NULL, false},
	/* any method: anything but GET is a 422 (read-only), not a 405 */
	{NULL, P "/config", api_config, ACC, R_CONFIG, NULL, false},
	{NULL, P "/config/{*}", api_config, ACC, R_CONFIG, NULL, false},
	{NULL, P "/statistics", api_statistics, ACC, R_STATISTICS, NULL, false},
	{NULL, P "/search-data", api_search, ACC, R_SEARCH, NULL, false},
	{NULL, P "/autoprimaries", api_autoprimaries, ADM, R_CONFIG, autoprimary_denied, false},
	{NULL, P "/autoprimaries/{*}", api_autoprimaries, ADM, R_CONFIG, autoprimary_denied, false},
	{"PUT", P "/cache/flush", api_cache_flush, ACC, R_CONFIG, NULL, false},

	{"GET", P "/zones", api_zones_list, ACC, R_ZONES, NULL, false},
	{"POST", P "/zones", api_zones_create, ACC, R_ZONES, NULL, false},
	{"GET", Z, api_zone_get, ACC, R_ZONE, NULL, false},
	{"PATCH", Z, api_zone_patch, ACC, R_ZONE, NULL, false},
	{"PUT", Z, api_zone_put, ACC, R_ZONE, NULL, false},
	{"DELETE", Z, api_zone_delete, ACC, R_ZONE, NULL, false},
	{"GET", Z "/export", api_zone_export, ACC, R_ZONE_EXPORT, NULL, false},
	{"PUT", Z "/notify", api_zone_notify, ACC, R_ZONE_NOTIFY, NULL, false},
	{"GET", Z "/propagation", api_zone_propagation, ACC, R_ZONE_PROPAGATION, NULL, false},
	{"GET", Z "/journal", api_zone_journal, ACC, R_ZONE_JOURNAL, NULL, false},
	/* any method: the zone is looked up first, a wrong method is a 422 */
	{NULL, Z "/metadata", api_zone_metadata, ACC, R_ZONES, NULL, false},
	{NULL, Z "/metadata/{*}", api_zone_metadata_kind, ACC, R_ZONES, NULL, false},
	{"PUT", Z "/axfr-retrieve", api_zone_axfr_retrieve, ACC, R_ZONES, NULL, false},
	{NULL, Z "/cryptokeys", api_zone_cryptokeys, ACC, R_ZONES, NULL, false},
	{NULL, Z "/cryptokeys/{*}", api_zone_cryptokeys, ACC, R_ZONES, NULL, false},
	{NULL, Z "/rectify", api_zone_rectify, ACC, R_ZONES, NULL, false},

	{"GET", P "/tsigkeys", api_tsigkeys_list, ADM, R_TSIGKEYS, tsig_denied, false},
	{"POST", P "/tsigkeys", api_tsigkeys_create, ADM, R_TSIGKEYS, tsig_denied, false},
	{NULL, P "/tsigkeys/{*}", api_tsigkey, ADM, R_TSIGKEY, tsig_denied, false},
	{"GET", P "/apikeys", api_apikeys_list, ADM, R_APIKEYS, apikey_denied, false},
	{"POST", P "/apikeys", api_apikeys_create, ADM, R_APIKEYS, apikey_denied, false},
	{"DELETE", P "/apikeys/{*}", api_apikey_delete, ADM, R_APIKEY, apikey_denied, false},
	{"GET", P "/secondaries", api_secondaries_list, ADM, R_SECONDARIES, mesh_denied, true},
	{"POST", P "/secondaries", api_secondaries_add, ADM, R_SECONDARIES, mesh_denied, true},
	/* any method: a name with a '/' is a 404 before the method is looked at */
	{NULL, P "/secondaries/{*}", api_secondary, ADM, R_SECONDARY, mesh_denied, true},
	{"GET", P "/mesh/wireguard.conf", api_mesh_conf, ADM, R_MESH_CONF, mesh_denied, true},
	{"GET", P "/mesh/nodes", api_mesh_nodes, ADM, R_MESH_NODES, mesh_denied, true},
	{"DELETE", P "/mesh/nodes/{*}", api_mesh_node, ADM, R_MESH_NODES, mesh_denied, true},
	/* an account key sees its own rows */
	{"GET", P "/audit", api_audit_list, ACC, R_AUDIT, NULL, true},
	/* the status page's static files: no key (the page asks for it, the data needs it) */
	{NULL, "/ui", api_ui, SCOPE_PUBLIC, R_UI, NULL, false},
	{NULL, "/ui/{*}", api_ui, SCOPE_PUBLIC, R_UI, NULL, false},
};

#undef P
#undef Z
#undef ACC
#undef ADM

/* Does `path` match `pat`?  The variable part goes to id (`{id}`) or *rest (`{*}`). */
static bool
path_match(const char *pat, const char *path, char *id, const char **rest)
{
	const char *p = pat, *s = path;
	while (*p != '\0') {
		if (strcmp(p, "{*}") == 0) {
			*rest = s;
			return *s != '\0';
		}
		if (strncmp(p, "{id}", 4) == 0) {
			size_t n = strcspn(s, "/");
			if (n == 0 || n >= API_ID_MAX)
				return false;
			memcpy(id, s, n);
			id[n] = '\0';
			*rest = id;
			s += n;
			p += 4;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *s == '\0';
}

/*
 * The row of (method, path): *path_found tells whether any row has the
 * path (the first such row in *any).  `id` holds the variable, *var points
 * to it (NULL when the pattern has none).
 */
static const struct api_route_row *
lookup(const char *method, const char *path, char *id, const char **var,
       const struct api_route_row **any)
{
	*any = NULL;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct api_route_row *rt = &routes[i];
		const char *v = NULL;
		if (!path_match(rt->pattern, path, id, &v))
			continue;
		if (*any == NULL)
			*any = rt;
		if (rt->method == NULL || strcmp(rt->method, method) == 0) {
			*var = v;
			return rt;
		}
	}
	return NULL;
}

void
api_dispatch(struct api_req *r, struct api_resp *rs)
{
	char *p = r->path;
	size_t plen = strlen(p);
	while (plen > 1 && p[plen - 1] == '/')
		p[--plen] = '\0';
	char id[API_ID_MAX];
	const char *var = NULL;
	const struct api_route_row *any;
	const struct api_route_row *rt = lookup(r->method, p, id, &var, &any);
	bool public = any != NULL && any->scope == SCOPE_PUBLIC;
	if (!api_authenticate(r) && !public) {
		/* only /metrics is labelled before the key is known (Prometheus scrapes) */
		if (any != NULL && any->label == R_METRICS)
			r->route = R_METRICS;
		api_error(rs, 401, "Unauthorized: missing or wrong X-API-Key");
		return;
	}
	if (any == NULL) {
		/* a path under /zones/ counts as "zones" in /metrics, as it always did */
		if (strncmp(p, API_PREFIX "/zones/", strlen(API_PREFIX "/zones/")) == 0)
			r->route = R_ZONES;
		api_error(rs, 404, "Not Found");
		return;
	}
	r->route = any->label;
	if (any->scope == SCOPE_ADMIN && !r->admin) {
		api_error(rs, 403, "%s", any->denied);
		return;
	}
	if (rt == NULL) {
		if (any->named_405)
			api_error(rs, 405, "method %s not allowed here", r->method);
		else
			api_error(rs, 405, "Method Not Allowed");
		return;
	}
	if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0) {
		rt->fn(r, rs, var);
		return;
	}
	struct store_audit_arm arm;
	api_audit_begin(r, &arm, strstr(rt->pattern, "/zones/{id}") != NULL ? var : NULL);
	rt->fn(r, rs, var);
	api_audit_end(r, rs, &arm);
}
