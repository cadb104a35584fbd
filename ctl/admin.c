/*
 * anycstc key add|list|delete (TSIG keys and API keys), pop add|list|delete|
 * config (the POP registry, /secondaries) and status (the primary's health,
 * then each zone's propagation: every target's serial, lag and health).
 */
#include "ctl/ctl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

static int
list_table(struct ctl *c, const char *path, size_t ncols, const char *const *head,
           const char *const *fields)
{
	int rc = CTL_OK;
	json_t *j = ctl_get_json(c, path, &rc);
	if (j == NULL)
		return rc;
	if (c->json) {
		ctl_json_print(j);
		json_decref(j);
		return rc;
	}
	struct ctl_table t;
	ctl_table_init(&t, ncols, head);
	size_t i;
	json_t *o;
	json_array_foreach(j, i, o) {
		char cells[8][256];
		for (size_t k = 0; k < ncols && k < 8; k++)
			ctl_cell(json_object_get(o, fields[k]), cells[k], sizeof(cells[k]));
		ctl_table_row(&t, cells[0], ncols > 1 ? cells[1] : NULL, ncols > 2 ? cells[2] : NULL,
		              ncols > 3 ? cells[3] : NULL, ncols > 4 ? cells[4] : NULL,
		              ncols > 5 ? cells[5] : NULL, ncols > 6 ? cells[6] : NULL);
	}
	ctl_table_print(&t);
	json_decref(j);
	return rc;
}

static int
key_list(struct ctl *c, const char *which)
{
	static const char *const th[] = {"NAME", "ALGORITHM"}, *const tf[] = {"name", "algorithm"};
	static const char *const ah[] = {"ID", "ACCOUNT", "DESCRIPTION", "CREATED"};
	static const char *const af[] = {"id", "account", "description", "created_at"};
	int rc = CTL_OK;
	if (which == NULL || strcmp(which, "tsig") == 0)
		rc = list_table(c, "/tsigkeys", 2, th, tf);
	if (rc == CTL_OK && which == NULL && !c->json)
		printf("\n");
	if (rc == CTL_OK && (which == NULL || strcmp(which, "api") == 0))
		rc = list_table(c, "/apikeys", 4, ah, af);
	return rc;
}

/* POST `body` to `path`; the answer's JSON (NULL on failure, *rc set). */
static json_t *
post_json(struct ctl *c, const char *path, json_t *body, const char *what, int *rc)
{
	char *text = json_dumps(body, JSON_COMPACT);
	struct ctl_resp r;
	json_t *j = NULL;
	if (ctl_http(c, "POST", path, text, strlen(text), NULL, &r) != 0 || r.status != 201)
		*rc = ctl_fail(&r, what);
	else if ((j = json_loads(strbuf_str(&r.body), 0, NULL)) == NULL)
		*rc = CTL_EFAIL;
	ctl_resp_clear(&r);
	free(text);
	return j;
}

static int
key_add(struct ctl *c, int argc, char **argv)
{
	int rc = CTL_OK;
	json_t *body = NULL, *j = NULL;
	bool tsig = strcmp(argv[0], "tsig") == 0;
	if (tsig) {
		body = json_pack("{s:s,s:s}", "name", argv[1], "algorithm", "hmac-sha256");
	} else {
		body = json_pack("{s:s}", "account", argv[1]);
	}
	for (int i = 2; i < argc; i++) {
		if (tsig && strcmp(argv[i], "--algorithm") == 0 && i + 1 < argc) {
			json_object_set_new(body, "algorithm", json_string(argv[++i]));
		} else if (!tsig && strcmp(argv[i], "--description") == 0 && i + 1 < argc) {
			json_object_set_new(body, "description", json_string(argv[++i]));
		} else {
			ctl_err("key add: unexpected '%s'", argv[i]);
			rc = CTL_EUSAGE;
		}
	}
	if (rc == CTL_OK)
		j = post_json(c, tsig ? "/tsigkeys" : "/apikeys", body, "key add", &rc);
	json_decref(body);
	if (j == NULL)
		return rc;
	char id[64];
	if (c->json)
		ctl_json_print(j);
	else if (tsig)    /* the --tsig-file line: NAME:ALGORITHM:SECRET */
		printf("%s:%s:%s\n", json_string_value(json_object_get(j, "name")),
		       json_string_value(json_object_get(j, "algorithm")),
		       json_string_value(json_object_get(j, "key")));
	else
		printf("id %s account %s key %s\n", ctl_cell(json_object_get(j, "id"), id, sizeof(id)),
		       json_string_value(json_object_get(j, "account")),
		       json_string_value(json_object_get(j, "key")));
	json_decref(j);
	return rc;
}

/* The catalog zone's name, from GET /config ("catalog"); false when the server names none. */
static bool
catalog_name(struct ctl *c, char *out, size_t cap, int *rc)
{
	json_t *j = ctl_get_json(c, "/config", rc);
	size_t i;
	json_t *o;
	out[0] = '\0';
	json_array_foreach(j, i, o) {
		const char *n = json_string_value(json_object_get(o, "name"));
		const char *v = json_string_value(json_object_get(o, "value"));
		if (n != NULL && v != NULL && strcmp(n, "catalog") == 0)
			snprintf(out, cap, "%s", v);
	}
	json_decref(j);
	if (j != NULL && out[0] == '\0') {
		ctl_err("key allow: the server names no catalog zone (GET /config)");
		*rc = CTL_EFAIL;
	}
	return out[0] != '\0';
}

static bool
key_same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	la -= la > 0 && a[la - 1] == '.';
	lb -= lb > 0 && b[lb - 1] == '.';
	return la == lb && strncasecmp(a, b, la) == 0;
}

/*
 * One zone's master_tsig_key_ids with `key` added (allow) or removed: read
 * with GET (rrsets=false), the whole list written back with PUT.  If-Match
 * is sent, but the zone's ETag is its serial, which a change of the key list
 * does not move: two key allow/disallow of one zone at once may lose one.
 */
static int
key_acl_zone(struct ctl *c, bool allow, const char *key, const char *zone)
{
	char abs[1100], id[3400], path[3500], what[2400];
	size_t l = strlen(zone);
	snprintf(abs, sizeof(abs), "%.1024s%s", zone, l > 0 && zone[l - 1] == '.' ? "" : ".");
	ctl_zone_id(abs, id, sizeof(id));
	snprintf(path, sizeof(path), "/zones/%s?rrsets=false", id);
	snprintf(what, sizeof(what), "key %s %s %s", allow ? "allow" : "disallow", key, abs);
	struct ctl_resp r;
	json_t *z = NULL;
	int rc = CTL_OK;
	if (ctl_http(c, "GET", path, NULL, 0, NULL, &r) != 0 || r.status != 200)
		rc = ctl_fail(&r, what);
	else if ((z = json_loads(strbuf_str(&r.body), 0, NULL)) == NULL) {
		ctl_err("%s: the answer is not JSON", what);
		rc = CTL_EFAIL;
	}
	char etag[sizeof(r.etag)];
	snprintf(etag, sizeof(etag), "%s", r.etag);
	ctl_resp_clear(&r);
	if (z == NULL)
		return rc;
	json_t *keys = json_array(), *k;
	size_t i;
	bool had = false;
	json_array_foreach(json_object_get(z, "master_tsig_key_ids"), i, k) {
		const char *s = json_string_value(k);
		if (s != NULL && key_same(s, key))
			had = true;
		else if (s != NULL)
			json_array_append_new(keys, json_string(s));
	}
	json_decref(z);
	if (allow)
		json_array_append_new(keys, json_string(key));
	if (had == allow) {
		if (!c->json && !c->quiet)
			printf("%s: %s\n", what, allow ? "already allowed" : "was not allowed");
		json_decref(keys);
		return CTL_OK;
	}
	json_t *body = json_pack("{s:o}", "master_tsig_key_ids", keys);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	path[strcspn(path, "?")] = '\0';
	if (ctl_http(c, "PUT", path, text, strlen(text), etag[0] ? etag : NULL, &r) != 0 ||
	    r.status < 200 || r.status > 299)
		rc = ctl_fail(&r, what);
	else if (!c->json && !c->quiet)
		printf("%s: done\n", what);
	ctl_resp_clear(&r);
	free(text);
	return rc;
}

/* key allow|disallow NAME (ZONE|--catalog)... */
static int
key_acl(struct ctl *c, bool allow, int argc, char **argv)
{
	char key[1100], cat[1100];
	size_t l = strlen(argv[0]);
	snprintf(key, sizeof(key), "%.1024s%s", argv[0], l > 0 && argv[0][l - 1] != '.' ? "." : "");
	int rc = CTL_OK;
	for (int i = 0; i < argc && rc == CTL_OK; i++) {
		if (strlen(argv[i]) > 1024) {
			ctl_err("key: '%.40s...' is longer than a name can be", argv[i]);
			return CTL_EUSAGE;
		}
		if (i > 0 && argv[i][0] == '-' && strcmp(argv[i], "--catalog") != 0) {
			ctl_err("key %s: unexpected '%s' (ZONE or --catalog)", allow ? "allow" : "disallow",
			        argv[i]);
			return CTL_EUSAGE;
		}
	}
	for (int i = 1; i < argc && rc == CTL_OK; i++) {
		const char *zone = argv[i];
		if (strcmp(zone, "--catalog") == 0) {
			if (!catalog_name(c, cat, sizeof(cat), &rc))
				break;
			zone = cat;
		}
		rc = key_acl_zone(c, allow, key, zone);
	}
	return rc;
}

int
ctl_cmd_key(struct ctl *c, int argc, char **argv)
{
	const char *v = argc > 0 ? argv[0] : "";
	bool kind_ok = argc > 1 && (strcmp(argv[1], "tsig") == 0 || strcmp(argv[1], "api") == 0);
	if (strcmp(v, "list") == 0 && (argc == 1 || (argc == 2 && kind_ok)))
		return key_list(c, argc == 2 ? argv[1] : NULL);
	if (strcmp(v, "add") == 0 && argc >= 3 && kind_ok)
		return key_add(c, argc - 1, argv + 1);
	if ((strcmp(v, "allow") == 0 || strcmp(v, "disallow") == 0) && argc >= 3)
		return key_acl(c, strcmp(v, "allow") == 0, argc - 1, argv + 1);
	if ((strcmp(v, "delete") == 0 || strcmp(v, "del") == 0) && argc == 3 && kind_ok) {
		char path[3500], id[1100], what[1200];
		size_t l = strlen(argv[2]);
		bool tsig = strcmp(argv[1], "tsig") == 0;
		snprintf(id, sizeof(id), "%s%s", argv[2], tsig && l && argv[2][l - 1] != '.' ? "." : "");
		char enc[3400];
		ctl_zone_id(id, enc, sizeof(enc));
		snprintf(path, sizeof(path), "/%s/%s", tsig ? "tsigkeys" : "apikeys", enc);
		snprintf(what, sizeof(what), "key delete %s %s", argv[1], id);
		int rc = ctl_call(c, "DELETE", path, NULL, what);
		if (rc == CTL_OK && !c->json && !c->quiet)
			printf("%s: done\n", what);
		return rc;
	}
	ctl_err("key: expected list [tsig|api] | add tsig NAME [--algorithm ALG] | "
	        "add api ACCOUNT [--description TEXT] | delete tsig NAME | delete api ID | "
	        "allow NAME (ZONE|--catalog)... | disallow NAME (ZONE|--catalog)...");
	return CTL_EUSAGE;
}

static int
pop_add(struct ctl *c, int argc, char **argv)
{
	json_t *body = json_pack("{s:s,s:s,s:s}", "name", argv[0], "endpoint", argv[1],
	                         "public_key", argv[2]);
	int rc = CTL_OK;
	for (int i = 3; i < argc; i++) {
		char *end;
		long p = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
		if (strcmp(argv[i], "--dns-port") == 0 && p > 0 && p < 65536 && *end == '\0') {
			json_object_set_new(body, "dns_port", json_integer(p));
			i++;
		} else {
			ctl_err("pop add: unexpected '%s' (--dns-port 1..65535)", argv[i]);
			rc = CTL_EUSAGE;
		}
	}
	json_t *j = rc == CTL_OK ? post_json(c, "/secondaries", body, "pop add", &rc) : NULL;
	json_decref(body);
	if (j == NULL)
		return rc;
	if (c->json) {
		ctl_json_print(j);
	} else {
		printf("POP %s registered, mesh address %s\n\n", argv[0],
		       json_string_value(json_object_get(j, "mesh_ip")));
		printf("# %s (mode 0600):\n%s\n\n", json_string_value(json_object_get(j, "tsig_file")),
		       json_string_value(json_object_get(j, "tsig_file_content")));
		printf("# /etc/wireguard/anycst0.conf (put the POP's private key in):\n%s\n",
		       json_string_value(json_object_get(j, "wireguard_config")));
		printf("# the secondary's command line:\n%s\n",
		       json_string_value(json_object_get(j, "command")));
	}
	json_decref(j);
	return rc;
}

static int
pop_config(struct ctl *c, const char *name)
{
	if (name != NULL) {
		char path[600];
		snprintf(path, sizeof(path), "/secondaries/%.500s", name);
		int rc = CTL_OK;
		json_t *j = ctl_get_json(c, path, &rc);
		if (j == NULL)
			return rc;
		if (c->json) {
			ctl_json_print(j);
		} else {
			const char *k;
			json_t *v;
			json_object_foreach(j, k, v) {
				char cell[1024];
				printf("%-20s %s\n", k, ctl_cell(v, cell, sizeof(cell)));
			}
		}
		json_decref(j);
		return rc;
	}
	struct ctl_resp r;
	int rc = CTL_OK;
	if (ctl_http(c, "GET", "/mesh/wireguard.conf", NULL, 0, NULL, &r) != 0 || r.status != 200)
		rc = ctl_fail(&r, "pop config");
	else
		fwrite(strbuf_str(&r.body), 1, r.body.len, stdout);
	ctl_resp_clear(&r);
	return rc;
}

/* DELETE PREFIX/NAME; "VERB NAME: done" unless --json or --quiet. */
static int
delete_named(struct ctl *c, const char *prefix, const char *verb, const char *name)
{
	char path[600], what[600];
	snprintf(path, sizeof(path), "%s/%.500s", prefix, name);
	snprintf(what, sizeof(what), "%s %.500s", verb, name);
	int rc = ctl_call(c, "DELETE", path, NULL, what);
	if (rc == CTL_OK && !c->json && !c->quiet)
		printf("%s: done\n", what);
	return rc;
}

int
ctl_cmd_pop(struct ctl *c, int argc, char **argv)
{
	static const char *const head[] = {"NAME", "MESH-IP", "ENDPOINT", "LAST-SEEN", "ZONES-CURRENT",
	                                   "TRANSFERS", "REFUSED"};
	static const char *const fields[] = {"name", "mesh_ip", "endpoint", "last_seen",
	                                     "zones_current", "transfers", "refused"};
	const char *v = argc > 0 ? argv[0] : "";
	if (strcmp(v, "list") == 0 && argc == 1)
		return list_table(c, "/secondaries", 7, head, fields);
	if (strcmp(v, "add") == 0 && argc >= 4)
		return pop_add(c, argc - 1, argv + 1);
	if (strcmp(v, "config") == 0 && argc <= 2)
		return pop_config(c, argc == 2 ? argv[1] : NULL);
	if ((strcmp(v, "delete") == 0 || strcmp(v, "del") == 0) && argc == 2)
		return delete_named(c, "/secondaries", "pop delete", argv[1]);
	ctl_err("pop: expected list | add NAME ENDPOINT PUBLIC-KEY [--dns-port N] | delete NAME | "
	        "config [NAME]");
	return CTL_EUSAGE;
}

int
ctl_cmd_node(struct ctl *c, int argc, char **argv)
{
	static const char *const head[] = {"MESH-IP", "THIS-NODE", "ENDPOINT", "XFR-PORT",
	                                   "QUIC-PORT", "QUIC-PIN"};
	static const char *const fields[] = {"mesh_ip", "this_node", "endpoint", "xfr_port",
	                                     "quic_port", "quic_pin"};
	const char *v = argc > 0 ? argv[0] : "";
	if (strcmp(v, "list") == 0 && argc == 1)
		return list_table(c, "/mesh/nodes", 6, head, fields);
	if (strcmp(v, "remove") == 0 && argc == 2)
		return delete_named(c, "/mesh/nodes", "node remove", argv[1]);
	ctl_err("node: expected list | remove MESH-IP");
	return CTL_EUSAGE;
}

/* One zone's propagation rows into the table. */
static void
status_rows(struct ctl_table *t, json_t *p)
{
	char zs[32];
	const char *zone = json_string_value(json_object_get(p, "zone"));
	json_int_t zserial = json_integer_value(json_object_get(p, "serial"));
	ctl_cell(json_object_get(p, "serial"), zs, sizeof(zs));
	size_t i;
	json_t *tg;
	if (json_array_size(json_object_get(p, "targets")) == 0)
		ctl_table_row(t, zone, zs, "(no secondary yet)", NULL, NULL, NULL, NULL);
	json_array_foreach(json_object_get(p, "targets"), i, tg) {
		char name[300], ser[32], lag[32], ms[32];
		json_t *js = json_object_get(tg, "serial");
		const char *health = "unknown";
		if (json_is_integer(js)) {
			uint32_t d = (uint32_t)zserial - (uint32_t)json_integer_value(js);
			snprintf(lag, sizeof(lag), "%u", d);
			health = json_is_true(json_object_get(tg, "up_to_date")) ? "ok" : "behind";
		} else {
			snprintf(lag, sizeof(lag), "-");
		}
		json_t *behind = json_object_get(tg, "behind_ms");
		ctl_cell(json_is_integer(behind) ? behind : json_object_get(tg, "lag_ms"), ms, sizeof(ms));
		ctl_table_row(t, zone, zs, ctl_cell(json_object_get(tg, "target"), name, sizeof(name)),
		              ctl_cell(js, ser, sizeof(ser)), lag, ms, health);
	}
}

int
ctl_cmd_status(struct ctl *c, int argc, char **argv)
{
	if (argc > 1) {
		ctl_err("status: expected [ZONE]");
		return CTL_EUSAGE;
	}
	int rc = CTL_OK;
	json_t *srv = ctl_get_json(c, "", &rc);
	if (srv == NULL)
		return rc;
	json_t *zones = ctl_get_json(c, "/zones", &rc);
	json_t *out = json_pack("{s:o,s:[]}", "primary", srv, "zones");
	json_t *props = json_object_get(out, "zones");
	size_t i;
	json_t *z;
	json_array_foreach(zones, i, z) {
		const char *name = json_string_value(json_object_get(z, "name"));
		if (name == NULL || (argc == 1 && strcasecmp(name, argv[0]) != 0 &&
		                     !(strncasecmp(name, argv[0], strlen(argv[0])) == 0 &&
		                       strlen(name) == strlen(argv[0]) + 1)))
			continue;
		char id[3200], path[3300];
		ctl_zone_id(name, id, sizeof(id));
		snprintf(path, sizeof(path), "/zones/%s/propagation", id);
		json_t *p = ctl_get_json(c, path, &rc);
		if (p != NULL)
			json_array_append_new(props, p);
	}
	json_decref(zones);
	/* the POP registry needs the admin key: an account key sees zones only */
	struct ctl_resp r;
	if (ctl_http(c, "GET", "/secondaries", NULL, 0, NULL, &r) == 0 && r.status == 200)
		json_object_set_new(out, "pops", json_loads(strbuf_str(&r.body), 0, NULL));
	ctl_resp_clear(&r);
	if (c->json) {
		ctl_json_print(out);
	} else {
		printf("primary %s: up, anycst %s, %zu zones\n\n", c->url,
		       json_string_value(json_object_get(srv, "anycst_version")),
		       json_array_size(props));
		static const char *const head[] = {"ZONE", "SERIAL", "TARGET", "TARGET-SERIAL",
		                                   "SERIAL-LAG", "LAG-MS", "HEALTH"};
		struct ctl_table t;
		ctl_table_init(&t, 7, head);
		json_array_foreach(props, i, z)
			status_rows(&t, z);
		ctl_table_print(&t);
		json_t *pops = json_object_get(out, "pops");
		if (json_array_size(pops) > 0) {
			static const char *const ph[] = {"POP", "MESH-IP", "LAST-SEEN", "ZONES-CURRENT",
			                                 "ZONES-TOTAL", "TRANSFERS", "REFUSED"};
			static const char *const pf[] = {"name", "mesh_ip", "last_seen", "zones_current",
			                                 "zones_total", "transfers", "refused"};
			printf("\n");
			ctl_table_init(&t, 7, ph);
			json_array_foreach(pops, i, z) {
				char cl[7][128];
				for (size_t k = 0; k < 7; k++)
					ctl_cell(json_object_get(z, pf[k]), cl[k], sizeof(cl[k]));
				ctl_table_row(&t, cl[0], cl[1], cl[2], cl[3], cl[4], cl[5], cl[6]);
			}
			ctl_table_print(&t);
		}
	}
	json_decref(out);
	return rc;
}
