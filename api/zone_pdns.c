/*
 * PowerDNS zone fields (issue 16.5): masters, catalog, soa_edit_api with
 * PowerDNS's values ("" and SOA-EDIT, SOA-EDIT-INCREASE besides DEFAULT,
 * INCREASE, EPOCH), soa_edit, notified_serial and edited_serial, and the
 * refusal of zone kinds this server cannot serve (Slave, Consumer: it never
 * transfers zones in, so accepting them would be a silent lie).  Stored
 * beside the zone (primary/store_pdns.c); apart from zones.c so the zone
 * object's other fields (DNSSEC) change in one place and these in another.
 */
#include "api/internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/name.h"
#include "dns/serial.h"

/* SOA-EDIT values: the serial policy each maps to (NULL: none), or refused. */
static int
soa_edit_policy(const char *v, enum dns_serial_policy *out, bool *set)
{
	*set = false;
	if (v[0] == '\0' || strcasecmp(v, "NONE") == 0)
		return 0;
	if (strcasecmp(v, "INCREASE") == 0 || strcasecmp(v, "EPOCH") == 0) {
		*set = true;
		return dns_serial_policy_parse(strcasecmp(v, "EPOCH") == 0 ? "EPOCH" : "INCREASE", out);
	}
	return -1;
}

/* masters: ["192.0.2.1", "192.0.2.2:5300", "[2001:db8::1]:53", "2001:db8::2"] */
static bool
master_ok(const char *s)
{
	char host[64];
	const char *port = NULL;
	size_t n = strlen(s);
	if (n == 0 || n >= sizeof(host) + 8)
		return false;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (e == NULL || (size_t)(e - s - 1) >= sizeof(host))
			return false;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = '\0';
		if (e[1] == ':')
			port = e + 2;
		else if (e[1] != '\0')
			return false;
	} else {
		const char *c = strchr(s, ':');
		bool v4 = c != NULL && strchr(c + 1, ':') == NULL;
		size_t hl = v4 ? (size_t)(c - s) : n;
		if (hl >= sizeof(host))
			return false;
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (v4)
			port = c + 1;
	}
	unsigned char a[16];
	if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
		return false;
	if (port != NULL) {
		char *end;
		long p = strtol(port, &end, 10);
		if (*port == '\0' || *end != '\0' || p < 1 || p > 65535)
			return false;
	}
	return true;
}

static int
parse_masters(struct api_ctx *c, json_t *jm, const char **out)
{
	if (!json_is_array(jm)) {
		api_error(c->rs, 422, "masters: not an array of addresses");
		return -1;
	}
	size_t cap = 1, n = json_array_size(jm);
	for (size_t i = 0; i < n; i++)
		cap += (json_is_string(json_array_get(jm, i)) ? json_string_length(json_array_get(jm, i))
		                                              : 0) + 1;
	char *buf = arena_alloc(&c->ar, cap);
	if (buf == NULL) {
		api_error(c->rs, 500, "out of memory");
		return -1;
	}
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(jm, i);
		if (!json_is_string(s) || !master_ok(json_string_value(s))) {
			api_error(c->rs, 422, "masters[%zu]: not an IP address with an optional port", i);
			return -1;
		}
		o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? "," : "", json_string_value(s));
	}
	buf[o] = '\0';
	*out = buf;
	return 0;
}

static int
parse_catalog(struct api_ctx *c, json_t *jc, const char **out)
{
	char ours[DNS_NAME_TEXT_MAX];
	dns_name_to_text(store_catalog_name(c->r->api->st), ours, sizeof(ours));
	if (!json_is_string(jc)) {
		api_error(c->rs, 422, "catalog: not a string");
		return -1;
	}
	const char *v = json_string_value(jc);
	uint8_t a[DNS_NAME_MAX];
	if (v[0] != '\0' && (dns_name_from_text(v, strlen(v), NULL, a) <= 0 ||
	                     !dns_name_equal(a, store_catalog_name(c->r->api->st)))) {
		api_error(c->rs, 422, "catalog: every zone here is a member of the server's catalog "
		          "'%s'; only \"\" or that name can be given", ours);
		return -1;
	}
	*out = v;
	return 0;
}

int
api_zone_pdns_parse(struct api_ctx *c, json_t *body, const struct store_zone_pdns *cur,
                    struct api_zone_pdns_in *in)
{
	memset(in, 0, sizeof(*in));
	json_t *jk = json_object_get(body, "kind"), *jm = json_object_get(body, "masters");
	json_t *jsa = json_object_get(body, "soa_edit_api"), *jse = json_object_get(body, "soa_edit");
	json_t *jc = json_object_get(body, "catalog");
	if (json_is_string(jk) && (strcasecmp(json_string_value(jk), "Slave") == 0 ||
	                           strcasecmp(json_string_value(jk), "Secondary") == 0 ||
	                           strcasecmp(json_string_value(jk), "Consumer") == 0)) {
		api_error(c->rs, 422, "kind: %s zones are not supported: this server is the hidden "
		          "primary and transfers no zone in (use Native, Master or Producer)",
		          json_string_value(jk));
		return -1;
	}
	if (jm != NULL && !json_is_null(jm) && parse_masters(c, jm, &in->set.masters) != 0)
		return -1;
	if (jc != NULL && !json_is_null(jc) && parse_catalog(c, jc, &in->set.catalog) != 0)
		return -1;
	const char *se = cur != NULL ? cur->soa_edit : "";
	if (jse != NULL) {
		enum dns_serial_policy p;
		bool set;
		if (!json_is_string(jse) || soa_edit_policy(json_string_value(jse), &p, &set) != 0) {
			api_error(c->rs, 422, "soa_edit: must be \"\", NONE, INCREASE or EPOCH (the "
			          "INCEPTION-* and INCREMENT-WEEKS kinds need DNSSEC signing)");
			return -1;
		}
		se = in->set.soa_edit = json_string_value(jse);
		in->has_policy = true;
	}
	const char *sa = cur != NULL && cur->has_soa_edit_api ? cur->soa_edit_api : NULL;
	if (jsa != NULL) {
		if (!json_is_string(jsa)) {
			api_error(c->rs, 422, "soa_edit_api: not a string");
			return -1;
		}
		sa = in->set.soa_edit_api = json_string_value(jsa);
		in->set.has_soa_edit_api = true;
		in->has_policy = true;
	}
	if (!in->has_policy)
		return 0;
	/* the policy in effect: what the serial does on each change (it always moves:
	 * the secondaries follow it), from soa_edit_api and, for SOA-EDIT*, soa_edit */
	enum dns_serial_policy sep = DNS_SERIAL_DEFAULT;
	bool seset = false;
	soa_edit_policy(se, &sep, &seset);
	if (sa == NULL || sa[0] == '\0') {
		in->policy = cur != NULL && jsa == NULL ? in->policy : DNS_SERIAL_DEFAULT;
		if (jsa == NULL && cur != NULL)
			in->has_policy = false;   /* soa_edit alone does nothing under DEFAULT */
	} else if (strcasecmp(sa, "SOA-EDIT") == 0) {
		in->policy = seset ? sep : DNS_SERIAL_DEFAULT;
	} else if (strcasecmp(sa, "SOA-EDIT-INCREASE") == 0) {
		in->policy = seset ? sep : DNS_SERIAL_INCREASE;
	} else if (dns_serial_policy_parse(sa, &in->policy) != 0) {
		api_error(c->rs, 422, "soa_edit_api: must be DEFAULT, INCREASE, EPOCH, SOA-EDIT, "
		          "SOA-EDIT-INCREASE or \"\"");
		return -1;
	} else if (jsa == NULL) {
		in->has_policy = false;       /* soa_edit does not change a plain policy */
	}
	return 0;
}

void
api_zone_pdns_json(struct store_snap *sn, const struct store_zone *z, json_t *j, bool full)
{
	struct store_zone_pdns x;
	if (sn == NULL || store_snap_zone_pdns(sn, z, &x) != 0)
		memset(&x, 0, sizeof(x));
	json_t *m = json_array();
	for (char *p = x.masters, *e; *p != '\0'; p = *e ? e + 1 : e) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		json_array_append_new(m, json_stringn(p, (size_t)(e - p)));
	}
	json_object_set_new(j, "masters", m);
	json_object_set_new(j, "catalog", json_string(x.catalog));
	json_object_set_new(j, "edited_serial", json_integer(z->serial));
	/* every commit NOTIFYs the POPs and --notify targets; PowerDNS sets it for Master
	 * zones once sent and leaves it 0 for Native ones */
	bool notifies = strcmp(z->kind, "Master") == 0 || strcmp(z->kind, "Producer") == 0;
	json_object_set_new(j, "notified_serial",
	                    json_integer(notifies ? (z->notified_serial ? z->notified_serial
	                                                                : z->serial)
	                                          : z->notified_serial));
	if (full) {
		json_object_set_new(j, "soa_edit", json_string(x.soa_edit));
		json_object_set_new(j, "soa_edit_api",
		                    json_string(x.has_soa_edit_api ? x.soa_edit_api
		                                                   : dns_serial_policy_name(z->policy)));
	}
}
