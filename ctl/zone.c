/*
 * anycstc zone list|show|create|delete|export|notify, record add|set|del
 * (one PATCH each: EXTEND, REPLACE, DELETE or PRUNE) and journal.
 */
#include "ctl/ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "/zones/ID" + suffix for zone `name` (made absolute). */
static void
zone_path(const char *name, const char *suffix, char *out, size_t cap)
{
	char abs[1024], id[3200];
	size_t l = strlen(name);
	snprintf(abs, sizeof(abs), "%s%s", name, l > 0 && name[l - 1] == '.' ? "" : ".");
	ctl_zone_id(abs, id, sizeof(id));
	snprintf(out, cap, "/zones/%s%s", id, suffix);
}

/* An owner name on the command line: "@" is the apex, a relative name is under the zone. */
static void
owner_abs(const char *zone, const char *name, char *out, size_t cap)
{
	size_t zl = strlen(zone), nl = strlen(name);
	const char *dot = zl > 0 && zone[zl - 1] == '.' ? "" : ".";
	if (strcmp(name, "@") == 0)
		snprintf(out, cap, "%s%s", zone, dot);
	else if (nl > 0 && name[nl - 1] == '.')
		snprintf(out, cap, "%s", name);
	else
		snprintf(out, cap, "%s.%s%s", name, zone, dot);
}

static int
zone_list(struct ctl *c)
{
	int rc = CTL_OK;
	json_t *j = ctl_get_json(c, "/zones", &rc);
	if (j == NULL)
		return rc;
	if (c->json) {
		ctl_json_print(j);
	} else {
		static const char *const head[] = {"ZONE", "SERIAL", "KIND", "ACCOUNT"};
		struct ctl_table t;
		ctl_table_init(&t, 4, head);
		size_t i;
		json_t *z;
		json_array_foreach(j, i, z) {
			char s[32], a[256];
			ctl_table_row(&t, json_string_value(json_object_get(z, "name")),
			              ctl_cell(json_object_get(z, "serial"), s, sizeof(s)),
			              json_string_value(json_object_get(z, "kind")),
			              ctl_cell(json_object_get(z, "account"), a, sizeof(a)));
		}
		ctl_table_print(&t);
	}
	json_decref(j);
	return rc;
}

static int
zone_show(struct ctl *c, const char *zone)
{
	char path[4096];
	zone_path(zone, "", path, sizeof(path));
	int rc = CTL_OK;
	json_t *j = ctl_get_json(c, path, &rc);
	if (j == NULL)
		return rc;
	if (c->json) {
		ctl_json_print(j);
		json_decref(j);
		return rc;
	}
	char s[32];
	printf("zone %s serial %s kind %s\n", json_string_value(json_object_get(j, "name")),
	       ctl_cell(json_object_get(j, "serial"), s, sizeof(s)),
	       json_string_value(json_object_get(j, "kind")));
	static const char *const head[] = {"NAME", "TTL", "TYPE", "CONTENT"};
	struct ctl_table t;
	ctl_table_init(&t, 4, head);
	size_t i, k;
	json_t *rr, *rec;
	json_array_foreach(json_object_get(j, "rrsets"), i, rr) {
		char ttl[32];
		ctl_cell(json_object_get(rr, "ttl"), ttl, sizeof(ttl));
		json_array_foreach(json_object_get(rr, "records"), k, rec) {
			ctl_table_row(&t, json_string_value(json_object_get(rr, "name")), ttl,
			              json_string_value(json_object_get(rr, "type")),
			              json_string_value(json_object_get(rec, "content")));
		}
	}
	ctl_table_print(&t);
	json_decref(j);
	return rc;
}

static int
zone_create(struct ctl *c, int argc, char **argv)
{
	json_t *b = json_object(), *ns = json_array();
	char abs[1024];
	owner_abs(argv[0], "@", abs, sizeof(abs));
	json_object_set_new(b, "name", json_string(abs));
	json_object_set_new(b, "kind", json_string("Native"));
	int rc = CTL_OK;
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--ns") == 0) {
			json_array_append_new(ns, json_string(argv[++i]));
		} else if (i + 1 < argc && strcmp(argv[i], "--account") == 0) {
			json_object_set_new(b, "account", json_string(argv[++i]));
		} else if (i + 1 < argc && strcmp(argv[i], "--allow-key") == 0) {
			json_t *ks = json_object_get(b, "master_tsig_key_ids");
			if (ks == NULL)
				json_object_set_new(b, "master_tsig_key_ids", ks = json_array());
			json_array_append_new(ks, json_string(argv[++i]));
		} else if (i + 1 < argc && strcmp(argv[i], "--soa-edit-api") == 0) {
			json_object_set_new(b, "soa_edit_api", json_string(argv[++i]));
		} else {
			ctl_err("zone create: unexpected '%s' (--ns NAME, --account A, --allow-key KEY, "
			        "--soa-edit-api P)",
			        argv[i]);
			rc = CTL_EUSAGE;
		}
	}
	json_object_set_new(b, "nameservers", ns);
	if (rc == CTL_OK)
		rc = ctl_call(c, "POST", "/zones", b, "zone create");
	if (rc == CTL_OK && !c->json && !c->quiet)
		printf("zone %s created\n", abs);
	json_decref(b);
	return rc;
}

static int
zone_export(struct ctl *c, const char *zone)
{
	char path[4096];
	zone_path(zone, "/export", path, sizeof(path));
	struct ctl_resp r;
	int rc = CTL_OK;
	if (ctl_http(c, "GET", path, NULL, 0, NULL, &r) != 0 || r.status != 200) {
		rc = ctl_fail(&r, "zone export");
	} else if (c->json) {
		json_t *j = json_pack("{s:s,s:s%}", "name", zone, "zone", strbuf_str(&r.body),
		                      r.body.len);
		ctl_json_print(j);
		json_decref(j);
	} else {
		fwrite(strbuf_str(&r.body), 1, r.body.len, stdout);
	}
	ctl_resp_clear(&r);
	return rc;
}

static int
zone_simple(struct ctl *c, const char *method, const char *zone, const char *suffix,
            const char *done)
{
	char path[4096], what[1200];
	zone_path(zone, suffix, path, sizeof(path));
	snprintf(what, sizeof(what), "%s %s", done, zone);
	int rc = ctl_call(c, method, path, NULL, what);
	if (rc == CTL_OK && !c->json && !c->quiet)
		printf("zone %s %s\n", zone, done);
	return rc;
}

int
ctl_cmd_zone(struct ctl *c, int argc, char **argv)
{
	const char *v = argc > 0 ? argv[0] : "";
	if (strcmp(v, "list") == 0 && argc == 1)
		return zone_list(c);
	if (strcmp(v, "show") == 0 && argc == 2)
		return zone_show(c, argv[1]);
	if (strcmp(v, "create") == 0 && argc >= 2)
		return zone_create(c, argc - 1, argv + 1);
	if (strcmp(v, "delete") == 0 && argc == 2)
		return zone_simple(c, "DELETE", argv[1], "", "deleted");
	if (strcmp(v, "notify") == 0 && argc == 2)
		return zone_simple(c, "PUT", argv[1], "/notify", "notified");
	if (strcmp(v, "export") == 0 && argc == 2)
		return zone_export(c, argv[1]);
	if (strcmp(v, "import") == 0)
		return ctl_cmd_import(c, argc - 1, argv + 1);
	if (strcmp(v, "edit") == 0 && argc == 2)
		return ctl_cmd_edit(c, argc - 1, argv + 1);
	ctl_err("zone: expected list | show ZONE | create ZONE | delete ZONE | export ZONE | "
	        "import ZONE FILE | edit ZONE | notify ZONE (see --help)");
	return CTL_EUSAGE;
}

/* record add|set ZONE NAME TYPE TTL CONTENT... ; record del ZONE NAME TYPE [CONTENT...] */
int
ctl_cmd_record(struct ctl *c, int argc, char **argv)
{
	const char *v = argc > 0 ? argv[0] : "";
	bool add = strcmp(v, "add") == 0, set = strcmp(v, "set") == 0;
	bool del = strcmp(v, "del") == 0 || strcmp(v, "delete") == 0;
	if (!((add || set) && argc >= 6) && !(del && argc >= 4)) {
		ctl_err("record: expected add|set ZONE NAME TYPE TTL CONTENT... or "
		        "del ZONE NAME TYPE [CONTENT...] (see --help)");
		return CTL_EUSAGE;
	}
	char owner[1200];
	owner_abs(argv[1], argv[2], owner, sizeof(owner));
	json_t *rr = json_pack("{s:s,s:s}", "name", owner, "type", argv[3]);
	int first = 4;
	if (add || set) {
		char *end;
		long ttl = strtol(argv[4], &end, 10);
		if (end == argv[4] || *end != '\0' || ttl < 0 || ttl > 2147483647) {
			ctl_err("record %s: TTL '%s' is not a number in 0..2147483647", v, argv[4]);
			json_decref(rr);
			return CTL_EUSAGE;
		}
		json_object_set_new(rr, "ttl", json_integer(ttl));
		first = 5;
	}
	struct strbuf content;
	strbuf_init(&content);
	for (int i = first; i < argc; i++)
		strbuf_printf(&content, "%s%s", i > first ? " " : "", argv[i]);
	const char *ct = add ? "EXTEND" : set ? "REPLACE" : argc > 4 ? "PRUNE" : "DELETE";
	json_object_set_new(rr, "changetype", json_string(ct));
	if (argc > first)
		json_object_set_new(rr, "records", json_pack("[{s:s,s:b}]", "content",
		                                             strbuf_str(&content), "disabled", 0));
	strbuf_clear(&content);
	json_t *body = json_pack("{s:[o]}", "rrsets", rr);
	char path[4096], what[1400];
	zone_path(argv[1], "", path, sizeof(path));
	snprintf(what, sizeof(what), "record %s %s %s", v, owner, argv[3]);
	int rc = ctl_call(c, "PATCH", path, body, what);
	json_decref(body);
	if (rc == CTL_OK && !c->json && !c->quiet)
		printf("%s: done\n", what);
	return rc;
}

int
ctl_cmd_journal(struct ctl *c, int argc, char **argv)
{
	if (argc != 1 && !(argc == 3 && strcmp(argv[1], "--since") == 0)) {
		ctl_err("journal: expected ZONE [--since SERIAL]");
		return CTL_EUSAGE;
	}
	char suffix[64] = "/journal", path[4096];
	if (argc == 3)
		snprintf(suffix, sizeof(suffix), "/journal?since=%.20s", argv[2]);
	zone_path(argv[0], suffix, path, sizeof(path));
	int rc = CTL_OK;
	json_t *j = ctl_get_json(c, path, &rc);
	if (j == NULL)
		return rc;
	if (c->json) {
		ctl_json_print(j);
		json_decref(j);
		return rc;
	}
	static const char *const head[] = {"FROM", "TO", "TIME", "REMOVED", "ADDED"};
	struct ctl_table t;
	ctl_table_init(&t, 5, head);
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(j, "entries"), i, e) {
		char f[32], to[32], tm[64], rm[32], ad[32];
		time_t at = (time_t)json_integer_value(json_object_get(e, "time"));
		struct tm g;
		strftime(tm, sizeof(tm), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&at, &g));
		json_t *jr = json_object_get(e, "removed"), *ja = json_object_get(e, "added");
		snprintf(rm, sizeof(rm), "%zu", json_is_array(jr) ? json_array_size(jr) : 0);
		snprintf(ad, sizeof(ad), "%zu", json_is_array(ja) ? json_array_size(ja) : 0);
		ctl_table_row(&t, ctl_cell(json_object_get(e, "serial_from"), f, sizeof(f)),
		              ctl_cell(json_object_get(e, "serial_to"), to, sizeof(to)),
		              tm, rm, ad);
	}
	ctl_table_print(&t);
	json_decref(j);
	return rc;
}
