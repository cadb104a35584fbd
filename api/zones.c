/*
 * /zones: list, create, get, PATCH, PUT, DELETE, export, notify, journal,
 * with PowerDNS API v1 shapes.  Bodies are validated completely by
 * rrsets.c and zonetext.c before the store is asked to apply them; the
 * store then checks the rules that depend on the zone's contents, in the
 * same transaction.  The route table (routes.c) calls the api_zone*
 * handlers at the end of this file.
 */
#include "api/internal.h"
#include "api/idn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/zonetext.h"
#include "util/arena.h"
#include "util/log.h"


static void
zone_url(const struct store_zone *z, char *id, size_t idcap, char *url, size_t urlcap)
{
	api_zone_id_encode(z->text, id, idcap);
	snprintf(url, urlcap, API_PREFIX "/zones/%s", id);
}


static int
tsig_id_append(void *ctx, const struct store_tsig_key *k)
{
	json_array_append_new(ctx, json_string(k->name));
	return 0;
}

static json_t *
zone_json(struct store_snap *sn, const struct store_zone *z, bool full)
{
	char id[DNS_NAME_TEXT_MAX * 3], url[sizeof(id) + 64];
	zone_url(z, id, sizeof(id), url, sizeof(url));
	json_t *j = json_object();
	json_object_set_new(j, "account", json_string(z->account));
	/* "signing": true while DNSSEC was switched on and the zone is being
	 * signed in the background ("dnssec" reads true from the switch on);
	 * absent otherwise, so a zone looks to PowerDNS clients as PowerDNS's */
	bool signing = sn != NULL && store_snap_zone_signing(sn, z);
	json_object_set_new(j, "dnssec", json_boolean(z->dnssec || signing));
	if (signing)
		json_object_set_new(j, "signing", json_true());
	json_object_set_new(j, "id", json_string(id));
	json_object_set_new(j, "kind", json_string(z->kind));
	json_object_set_new(j, "last_check", json_integer(0));
	json_object_set_new(j, "name", json_string(z->text));
	json_object_set_new(j, "serial", json_integer(z->serial));
	/* masters, catalog, edited_serial, notified_serial, soa_edit* (api/zone_pdns.c) */
	api_zone_pdns_json(sn, z, j, full);
	json_object_set_new(j, "url", json_string(url));
	if (full) {
		json_t *keys = json_array();
		if (sn != NULL)
			store_snap_zone_tsig_keys(sn, z, tsig_id_append, keys);
		json_object_set_new(j, "master_tsig_key_ids", keys);
		json_t *ukeys = json_array();
		if (sn != NULL)
			store_snap_zone_update_keys(sn, z, tsig_id_append, ukeys);
		json_object_set_new(j, "update_tsig_key_ids", ukeys);
		json_object_set_new(j, "update_policy", api_upolicy_json(sn, z));
		json_object_set_new(j, "slave_tsig_key_ids", json_array());
		json_object_set_new(j, "api_rectify", json_false());
		json_object_set_new(j, "nsec3narrow", json_false());
		json_object_set_new(j, "nsec3param", json_string(z->nsec3 ? "1 0 0 -" : ""));
		json_object_set_new(j, "is_catalog", json_boolean(z->is_catalog));
	}
	return j;
}

/* ---- rrsets out --------------------------------------------------------------- */

struct cmt {
	uint8_t owner[DNS_NAME_MAX];
	uint16_t type;
	json_t *j;
	struct cmt *next;
};

struct rrset_build {
	struct api_ctx *c;
	json_t *arr;
	json_t *cur;           /* current rrset object */
	json_t *records;
	uint8_t owner[DNS_NAME_MAX];
	uint16_t type;
	struct cmt *comments;  /* in canonical order */
	struct cmt *ctail;
	int err;
};

static int
collect_comment(void *ctx, const uint8_t *owner, uint16_t type, const struct store_comment *c)
{
	struct rrset_build *b = ctx;
	struct cmt *m = arena_alloc(&b->c->ar, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	memcpy(m->owner, owner, dns_name_len(owner));
	m->type = type;
	m->j = json_pack("{s:s,s:s,s:I}", "content", c->content ? c->content : "", "account",
	                 c->account ? c->account : "", "modified_at", (json_int_t)c->modified_at);
	m->next = NULL;
	if (b->ctail)
		b->ctail->next = m;
	else
		b->comments = m;
	b->ctail = m;
	return 0;
}

static json_t *
comments_for(struct rrset_build *b, const uint8_t *owner, uint16_t type)
{
	json_t *arr = json_array();
	for (struct cmt *m = b->comments; m != NULL; m = m->next) {
		if (m->j != NULL && m->type == type && dns_name_equal(m->owner, owner)) {
			json_array_append_new(arr, m->j);
			m->j = NULL;
		}
	}
	return arr;
}

static int
add_row(void *ctx, const struct store_row *row)
{
	struct rrset_build *b = ctx;
	char *text = b->c->text;
	if (b->cur == NULL || b->type != row->type || !dns_name_equal(b->owner, row->owner)) {
		char name[DNS_NAME_TEXT_MAX], tname[DNS_RRTYPE_TEXT_MAX];
		dns_name_to_text(row->owner, name, sizeof(name));
		dns_rrtype_to_text(row->type, tname, sizeof(tname));
		b->records = json_array();
		b->cur = json_pack("{s:s,s:s,s:I,s:o,s:o}", "name", name, "type", tname, "ttl",
		                   (json_int_t)row->ttl, "records", b->records, "comments",
		                   comments_for(b, row->owner, row->type));
		json_array_append_new(b->arr, b->cur);
		memcpy(b->owner, row->owner, dns_name_len(row->owner));
		b->type = row->type;
	}
	int n = row->content != NULL ? snprintf(text, API_TEXT_CAP, "%s", row->content)
	                             : dns_rdata_to_text_pdns(row->type, row->rdata, row->rdlen,
	                                                      text, API_TEXT_CAP);
	if (n < 0)
		n = dns_rdata_to_generic(row->rdata, row->rdlen, text, API_TEXT_CAP);
	if (n < 0)
		text[0] = '\0';
	json_array_append_new(b->records, json_pack("{s:s,s:b}", "content", text, "disabled",
	                                            row->disabled));
	return 0;
}

static json_t *
rrsets_json(struct api_ctx *c, struct store_snap *sn, const struct store_zone *z, const uint8_t *owner,
            uint16_t type)
{
	struct rrset_build b = {.c = c, .arr = json_array()};
	store_snap_comments(sn, z, collect_comment, &b);
	store_snap_rows(sn, z, owner, type, add_row, &b);
	for (struct cmt *m = b.comments; m != NULL; m = m->next)
		json_decref(m->j);
	return b.arr;
}

/* ---- finding the zone ------------------------------------------------------------ */

/* Opens a snapshot and finds the zone of `id` visible to the request's key. */
int
api_find_zone(struct api_req *r, struct api_resp *rs, const char *id, struct store_snap **sn,
              struct store_zone *z)
{
	uint8_t wire[DNS_NAME_MAX];
	if (api_zone_id_decode(id, wire) != 0) {
		api_error(rs, 404, "Could not find domain '%s'", id);
		return -ENOENT;
	}
	int ret = store_snap_open(r->api->st, sn);
	if (ret != 0) {
		api_store_error(rs, ret, "cannot read the database");
		return ret;
	}
	ret = store_snap_zone(*sn, wire, z);
	if (ret == 0 && r->account != NULL && strcmp(r->account, z->account) != 0)
		ret = -ENOENT;
	if (ret != 0) {
		store_snap_close(*sn);
		*sn = NULL;
		if (ret == -ENOENT)
			api_error(rs, 404, "Could not find domain '%s'", id);
		else
			api_store_error(rs, ret, NULL);
	}
	return ret;
}

/* ---- handlers ----------------------------------------------------------------------- */

struct list_ctx {
	struct store_snap *sn;
	json_t *arr;
	char last[DNS_NAME_TEXT_MAX];
	size_t n;
};

static int
list_one(void *ctx, const struct store_zone *z)
{
	struct list_ctx *l = ctx;
	json_array_append_new(l->arr, zone_json(l->sn, z, false));
	snprintf(l->last, sizeof(l->last), "%s", z->text);
	l->n++;
	return 0;
}

/* Streamed zone list: '[' then batches of compact zone objects, then ']'. */
struct zstream {
	struct store_snap *sn;
	char account[STORE_ACCOUNT_MAX];
	bool has_account;
	char after[DNS_NAME_TEXT_MAX];
	char *buf;
	size_t len, off, cap;
	bool started, done, ended;
	size_t count;
};

#define ZSTREAM_BATCH 512

static void
zs_put(struct zstream *zs, const char *p, size_t n)
{
	if (zs->len + n > zs->cap) {
		size_t cap = zs->cap ? zs->cap * 2 : 65536;
		while (cap < zs->len + n)
			cap *= 2;
		char *nb = realloc(zs->buf, cap);
		if (nb == NULL)
			return;
		zs->buf = nb;
		zs->cap = cap;
	}
	memcpy(zs->buf + zs->len, p, n);
	zs->len += n;
}

static int
zs_one(void *ctx, const struct store_zone *z)
{
	struct zstream *zs = ctx;
	json_t *j = zone_json(zs->sn, z, false);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (s == NULL)
		return -ENOMEM;
	if (zs->count++ > 0)
		zs_put(zs, ",", 1);
	zs_put(zs, s, strlen(s));
	free(s);
	snprintf(zs->after, sizeof(zs->after), "%s", z->text);
	return 0;
}

static ssize_t
zstream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	(void)pos;
	struct zstream *zs = cls;
	while (zs->off == zs->len) {
		if (zs->ended)
			return MHD_CONTENT_READER_END_OF_STREAM;
		zs->off = zs->len = 0;
		if (!zs->started) {
			zs->started = true;
			zs_put(zs, "[", 1);
		}
		if (zs->done) {
			zs_put(zs, "]", 1);
			zs->ended = true;
			continue;
		}
		size_t before = zs->count;
		int ret = store_snap_zones(zs->sn, zs->has_account ? zs->account : NULL, zs->after,
		                           ZSTREAM_BATCH, zs_one, zs);
		if (ret != 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (zs->count - before < ZSTREAM_BATCH)
			zs->done = true;
	}
	size_t n = zs->len - zs->off < max ? zs->len - zs->off : max;
	memcpy(out, zs->buf + zs->off, n);
	zs->off += n;
	return (ssize_t)n;
}

static void
zstream_free(void *cls)
{
	struct zstream *zs = cls;
	store_snap_close(zs->sn);
	free(zs->buf);
	free(zs);
}

static void
zones_list(struct api_req *r, struct api_resp *rs)
{
	struct store_snap *sn;
	int ret = store_snap_open(r->api->st, &sn);
	if (ret != 0) {
		api_store_error(rs, ret, NULL);
		return;
	}
	struct list_ctx l = {.sn = sn, .arr = json_array()};
	const char *zone = api_arg(r, "zone");
	if (zone != NULL) {
		struct store_zone z;
		uint8_t w[DNS_NAME_MAX];
		if (api_zone_id_decode(zone, w) == 0 && store_snap_zone(sn, w, &z) == 0 &&
		    (r->account == NULL || strcmp(r->account, z.account) == 0))
			list_one(&l, &z);
		store_snap_close(sn);
		api_json(rs, 200, l.arr);
		return;
	}
	const char *lim = api_arg(r, "limit"), *after = api_arg(r, "after");
	size_t limit = 0;
	if (lim != NULL) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(lim, &end, 10);
		if (end == lim || *end != '\0' || errno != 0 || v == 0 || v > 100000) {
			store_snap_close(sn);
			json_decref(l.arr);
			api_error(rs, 422, "limit: '%.32s' is not a number in 1..100000", lim);
			return;
		}
		limit = v;
	}
	char after_norm[DNS_NAME_TEXT_MAX] = "";
	if (after != NULL && after[0] != '\0') {
		uint8_t w[DNS_NAME_MAX];
		if (api_zone_id_decode(after, w) != 0) {
			store_snap_close(sn);
			json_decref(l.arr);
			api_error(rs, 422, "after: '%.300s' is not a zone name", after);
			return;
		}
		dns_name_lower(w);
		dns_name_to_text(w, after_norm, sizeof(after_norm));
	}
	if (limit == 0) {
		/* the whole list: streamed from the snapshot in batches, so the first
		 * byte leaves at once even with 100,000+ zones */
		json_decref(l.arr);
		struct zstream *zs = calloc(1, sizeof(*zs));
		if (zs == NULL) {
			store_snap_close(sn);
			api_error(rs, 500, "out of memory");
			return;
		}
		zs->sn = sn;
		if (r->account != NULL) {
			snprintf(zs->account, sizeof(zs->account), "%s", r->account);
			zs->has_account = true;
		}
		snprintf(zs->after, sizeof(zs->after), "%s", after_norm);
		rs->status = 200;
		rs->ctype = "application/json";
		rs->stream = zstream_read;
		rs->stream_cls = zs;
		rs->stream_free = zstream_free;
		return;
	}
	ret = store_snap_zones(sn, r->account, after_norm, limit, list_one, &l);
	store_snap_close(sn);
	if (ret != 0) {
		json_decref(l.arr);
		api_store_error(rs, ret, NULL);
		return;
	}
	if (l.n == limit) {
		char id[DNS_NAME_TEXT_MAX * 3];
		api_zone_id_encode(l.last, id, sizeof(id));
		snprintf(rs->link, sizeof(rs->link), "<" API_PREFIX "/zones?limit=%zu&after=%s>; "
		         "rel=\"next\"", limit, id);
	}
	api_json(rs, 200, l.arr);
}

static const char *
norm_kind(const char *k)
{
	static const char *const kinds[][2] = {
		{"native", "Native"}, {"master", "Master"}, {"primary", "Master"},
		{"slave", "Slave"}, {"secondary", "Slave"}, {"producer", "Producer"},
		{"consumer", "Consumer"},
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcasecmp(k, kinds[i][0]) == 0)
			return kinds[i][1];
	return NULL;
}

/* master_tsig_key_ids or update_tsig_key_ids (`field`): array of strings into an arena array. */
static int
key_ids(struct api_ctx *c, const char *field, json_t *j, const char ***out, size_t *n)
{
	if (!json_is_array(j)) {
		api_error(c->rs, 422, "%s: not an array of strings", field);
		return -EINVAL;
	}
	*n = json_array_size(j);
	*out = *n ? arena_alloc(&c->ar, *n * sizeof(**out)) : NULL;
	for (size_t i = 0; i < *n; i++) {
		json_t *s = json_array_get(j, i);
		if (!json_is_string(s)) {
			api_error(c->rs, 422, "%s[%zu]: not a string", field, i);
			return -EINVAL;
		}
		(*out)[i] = json_string_value(s);
	}
	return 0;
}

static int
tsig_ids(struct api_ctx *c, json_t *j, const char ***out, size_t *n)
{
	return key_ids(c, "master_tsig_key_ids", j, out, n);
}

static void
zone_get_full(struct api_ctx *c, const uint8_t *wire, unsigned status)
{
	struct store_snap *sn;
	struct store_zone z;
	if (store_snap_open(c->r->api->st, &sn) != 0) {
		api_error(c->rs, 500, "cannot read the database");
		return;
	}
	if (store_snap_zone(sn, wire, &z) != 0) {
		store_snap_close(sn);
		api_error(c->rs, 500, "zone vanished");
		return;
	}
	json_t *j = zone_json(sn, &z, true);
	json_object_set_new(j, "rrsets", rrsets_json(c, sn, &z, NULL, 0));
	store_snap_close(sn);
	api_set_etag(c->rs, z.serial);
	api_json(c->rs, status, j);
}

/* POST /zones: the zone's own fields (name, kind, soa_edit_api, account, TSIG keys) into zn. */
static int
zone_new_fields(struct api_ctx *c, json_t *body, uint8_t *zone, struct store_zone_new *zn)
{
	struct api_req *r = c->r;
	struct api_resp *rs = c->rs;
	json_t *jname = json_object_get(body, "name");
	json_t *jkind = json_object_get(body, "kind");
	json_t *jacc = json_object_get(body, "account");
	json_t *jkeys = json_object_get(body, "master_tsig_key_ids");
	if (!json_is_string(jname) || json_string_length(jname) == 0) {
		api_error(rs, 422, "name: missing or not a string");
		return -EINVAL;
	}
	char nerr[768];
	if (api_idn_check_text("zone name", json_string_value(jname), json_string_length(jname), nerr,
	                       sizeof(nerr)) != 0) {
		api_error(rs, 422, "name: %s", nerr);
		return -EINVAL;
	}
	if (dns_name_from_text(json_string_value(jname), json_string_length(jname), NULL, zone) <= 0 ||
	    zone[0] == 0) {
		api_error(rs, 422, "name: '%.300s' is not a valid zone name", json_string_value(jname));
		return -EINVAL;
	}
	dns_name_lower(zone);
	zn->name = zone;
	struct api_dnssec ds;
	if (api_dnssec_fields(c->r->api->st, rs, body, &ds) != 0)
		return -EINVAL;
	if (ds.has_nsec3param && ds.nsec3 && !ds.dnssec) {
		api_error(rs, 422, "nsec3param: needs \"dnssec\": true");
		return -EINVAL;
	}
	zn->dnssec = ds.dnssec;
	zn->nsec3 = ds.nsec3;
	if (jkind != NULL) {
		if (!json_is_string(jkind) || (zn->kind = norm_kind(json_string_value(jkind))) == NULL) {
			api_error(rs, 422, "kind: must be one of Native, Master, Slave (Primary, Secondary)");
			return -EINVAL;
		}
	}
	struct api_zone_pdns_in *pin = arena_alloc(&c->ar, sizeof(*pin));
	if (pin == NULL || api_zone_pdns_parse(c, body, NULL, pin) != 0) {
		if (pin == NULL)
			api_error(rs, 500, "out of memory");
		return -EINVAL;
	}
	if (pin->has_policy)
		zn->policy = pin->policy;
	zn->pdns = &pin->set;
	if (jacc != NULL && !json_is_null(jacc)) {
		if (!json_is_string(jacc) || json_string_length(jacc) >= STORE_ACCOUNT_MAX) {
			api_error(rs, 422, "account: not a string (at most %d bytes)", STORE_ACCOUNT_MAX - 1);
			return -EINVAL;
		}
		zn->account = json_string_value(jacc);
	}
	if (r->account != NULL) {
		if (zn->account[0] != '\0' && strcmp(zn->account, r->account) != 0) {
			api_error(rs, 422, "account: this key may only create zones of account '%s'",
			          r->account);
			return -EINVAL;
		}
		zn->account = r->account;
	}
	if (jkeys != NULL && tsig_ids(c, jkeys, (const char ***)&zn->tsig_keys, &zn->ntsig_keys) != 0)
		return -EINVAL;
	json_t *jukeys = json_object_get(body, "update_tsig_key_ids");
	if (jukeys != NULL && key_ids(c, "update_tsig_key_ids", jukeys,
	                              (const char ***)&zn->update_keys, &zn->nupdate_keys) != 0)
		return -EINVAL;
	json_t *jp = json_object_get(body, "update_policy");
	if (jp != NULL && api_upolicy_parse(c, jp, zone, &zn->update_policy, &zn->nupdate_policy) != 0)
		return -EINVAL;
	return 0;
}

/* POST /zones "nameservers" (nns names) into the REPLACE of the apex NS in `op`. */
static int
zone_new_ns(struct api_ctx *c, json_t *jns, size_t nns, const uint8_t *zone, struct store_op *op)
{
	struct api_resp *rs = c->rs;
	char nerr[768];
	struct store_rec *recs = arena_alloc(&c->ar, nns * sizeof(*recs));
	if (recs == NULL) {
		api_error(rs, 500, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < nns; i++) {
		json_t *s = json_array_get(jns, i);
		if (json_is_string(s) && api_idn_check_text("name", json_string_value(s),
		                                            json_string_length(s), nerr,
		                                            sizeof(nerr)) != 0) {
			api_error(rs, 422, "nameservers[%zu]: %s", i, nerr);
			return -EINVAL;
		}
		uint8_t *w = arena_alloc(&c->ar, DNS_NAME_MAX);
		if (!json_is_string(s) || w == NULL || json_string_length(s) == 0 ||
		    json_string_value(s)[json_string_length(s) - 1] != '.' ||
		    dns_name_from_text(json_string_value(s), json_string_length(s), NULL, w) <= 0) {
			api_error(rs, 422, "nameservers[%zu]: not an absolute name", i);
			return -EINVAL;
		}
		recs[i].rdata = w;
		recs[i].rdlen = (uint16_t)dns_name_len(w);
		recs[i].disabled = false;
		recs[i].content = NULL;
		recs[i].content = NULL;
	}
	memset(op, 0, sizeof(*op));
	op->kind = STORE_OP_REPLACE;
	op->owner = zone;
	op->type = DNS_T_NS;
	op->ttl = 3600;
	op->has_ttl = true;
	op->recs = recs;
	op->nrecs = nns;
	snprintf(op->label, sizeof(op->label), "nameservers");
	return 0;
}

static void
zones_create(struct api_ctx *c)
{
	struct api_req *r = c->r;
	struct api_resp *rs = c->rs;
	json_t *body = api_body_object(r, rs);
	if (body == NULL)
		return;
	json_t *jns = json_object_get(body, "nameservers");
	json_t *jrr = json_object_get(body, "rrsets");
	json_t *jzone = json_object_get(body, "zone");
	uint8_t zone[DNS_NAME_MAX];
	struct store_zone_new zn = {.kind = "Native", .account = "", .policy = DNS_SERIAL_DEFAULT};
	struct api_parsed p = {0}, pz = {0};
	if (zone_new_fields(c, body, zone, &zn) != 0)
		goto out;
	if (jrr != NULL && api_rrsets_parse(c, jrr, zone, false, &p) != 0)
		goto out;
	if (jzone != NULL) {
		if (!json_is_string(jzone)) {
			api_error(rs, 422, "zone: not a string");
			goto out;
		}
		if (api_zonetext_parse(c, jzone, zone, &pz) != 0)
			goto out;
	}
	size_t nns = 0;
	if (jns != NULL) {
		if (!json_is_array(jns)) {
			api_error(rs, 422, "nameservers: not an array of names");
			goto out;
		}
		nns = json_array_size(jns);
	}
	size_t total = p.n + pz.n + (nns ? 1 : 0);
	struct store_op *ops = total ? arena_alloc(&c->ar, total * sizeof(*ops)) : NULL;
	if (total && ops == NULL) {
		api_error(rs, 500, "out of memory");
		goto out;
	}
	size_t k = 0;
	for (size_t i = 0; i < pz.n; i++)
		ops[k++] = pz.ops[i];
	for (size_t i = 0; i < p.n; i++)
		ops[k++] = p.ops[i];
	if (nns && zone_new_ns(c, jns, nns, zone, &ops[k++]) != 0)
		goto out;
	char err[512] = "";
	struct store_result res;
	char text[DNS_NAME_TEXT_MAX], id[DNS_NAME_TEXT_MAX * 3];
	dns_name_to_text(zone, text, sizeof(text));
	zn.cross_account = r->account == NULL;
	int ret = store_zone_create(r->api->st, &zn, ops, total, &res, err, sizeof(err));
	if (ret == -EEXIST && r->account != NULL) {
		/*
		 * One text for an existing zone of this account or of another, for the
		 * catalog and for a parent or child of another account's zone: an
		 * account learns nothing about the others' zones (issue 12).
		 */
		api_error(rs, 409, "Conflict: zone name '%s' is not available", text);
		goto out;
	}
	if (ret != 0) {
		api_store_error(rs, ret, err);
		goto out;
	}
	api_zone_id_encode(text, id, sizeof(id));
	snprintf(rs->location, sizeof(rs->location), API_PREFIX "/zones/%s", id);
	zone_get_full(c, zone, 201);
out:
	json_decref(body);
}

static void
zone_get(struct api_ctx *c, const char *id)
{
	struct store_snap *sn;
	struct store_zone z;
	if (api_find_zone(c->r, c->rs, id, &sn, &z) != 0)
		return;
	json_t *j = zone_json(sn, &z, true);
	const char *rr = api_arg(c->r, "rrsets");
	if (rr == NULL || strcmp(rr, "false") != 0) {
		const char *fname = api_arg(c->r, "rrset_name"), *ftype = api_arg(c->r, "rrset_type");
		uint8_t owner[DNS_NAME_MAX];
		uint16_t type = 0;
		bool ok = true;
		if (fname != NULL && dns_name_from_text(fname, strlen(fname), NULL, owner) <= 0)
			ok = false;
		if (ftype != NULL && dns_rrtype_from_text(ftype, strlen(ftype), &type) != 0)
			ok = false;
		if (!ok) {
			json_decref(j);
			store_snap_close(sn);
			api_error(c->rs, 422, "rrset_name/rrset_type: not a valid name or type");
			return;
		}
		json_object_set_new(j, "rrsets",
		                    rrsets_json(c, sn, &z, fname ? owner : NULL, type));
	}
	store_snap_close(sn);
	api_set_etag(c->rs, z.serial);
	api_json(c->rs, 200, j);
}

static void
zone_patch(struct api_ctx *c, const char *id)
{
	struct store_snap *sn;
	struct store_zone z;
	if (api_find_zone(c->r, c->rs, id, &sn, &z) != 0)
		return;
	store_snap_close(sn);
	json_t *body = api_body_object(c->r, c->rs);
	if (body == NULL)
		return;
	uint32_t want;
	bool bad;
	bool has_match = api_if_match(c->r, &want, &bad);
	if (bad)
		api_error(c->rs, 400, "If-Match: not an ETag of this API");
	else
		api_rrsets_patch(c, z.name, body, has_match ? &want : NULL);
	json_decref(body);
}

/* PUT's "dnssec" and "nsec3param": sign, unsign, or nothing. */
static int
zone_put_dnssec(struct api_ctx *c, const struct store_zone *z, const struct api_dnssec *ds,
                char *err, size_t errcap)
{
	struct store_result res;
	struct store *st = c->r->api->st;
	bool signing = !z->dnssec && store_zone_signing(st, z->id);   /* in the background */
	bool on = ds->has_dnssec ? ds->dnssec : z->dnssec || signing;
	bool nsec3 = ds->has_nsec3param ? ds->nsec3 : z->nsec3;
	if (ds->has_nsec3param && ds->nsec3 && !on) {
		snprintf(err, errcap, "%s", "nsec3param: needs \"dnssec\": true");
		return -EINVAL;
	}
	int ret = 0;
	if (on && (!z->dnssec || nsec3 != z->nsec3 || z->unsign_at > 0))
		ret = store_zone_sign(st, z->name, c->r->account, nsec3, 0, &res, err, errcap);
	else if (!on && (z->dnssec || signing))
		ret = store_zone_unsign(st, z->name, c->r->account, ds->ds_removed, &res, err,
		                        errcap);
	if (ret == -ENOTSUP)
		ret = -EINVAL;
	if (ret == -EPERM && err[0] == '\0')
		snprintf(err, errcap, "%s", "dnssec: signing needs the primary started with "
		         "--dnssec-key-file");
	return ret;
}

static void
zone_put(struct api_ctx *c, const char *id)
{
	struct store_snap *sn;
	struct store_zone z;
	if (api_find_zone(c->r, c->rs, id, &sn, &z) != 0)
		return;
	struct store_zone_pdns cur;
	int ret = store_snap_zone_pdns(sn, &z, &cur);
	store_snap_close(sn);
	if (ret != 0) {
		api_store_error(c->rs, ret, NULL);
		return;
	}
	json_t *body = api_body_object(c->r, c->rs);
	if (body == NULL)
		return;
	struct store_zone_settings s = {0};
	struct api_zone_pdns_in pin;
	json_t *jk = json_object_get(body, "kind"), *ja = json_object_get(body, "account");
	json_t *jt = json_object_get(body, "master_tsig_key_ids");
	uint32_t want;
	bool bad;
	bool has_match = api_if_match(c->r, &want, &bad);
	if (bad) {
		api_error(c->rs, 400, "If-Match: not an ETag of this API");
		goto out;
	}
	struct api_dnssec ds;
	if (api_dnssec_fields(c->r->api->st, c->rs, body, &ds) != 0)
		goto out;
	if (ds.has_nsec3param && ds.nsec3 && !(ds.has_dnssec ? ds.dnssec : z.dnssec)) {
		api_error(c->rs, 422, "nsec3param: needs \"dnssec\": true");
		goto out;
	}
	if (jk != NULL && (!json_is_string(jk) || (s.kind = norm_kind(json_string_value(jk))) == NULL)) {
		api_error(c->rs, 422, "kind: must be one of Native, Master, Slave (Primary, Secondary)");
		goto out;
	}
	if (ja != NULL && !json_is_null(ja)) {
		if (!json_is_string(ja) || json_string_length(ja) >= STORE_ACCOUNT_MAX) {
			api_error(c->rs, 422, "account: not a string");
			goto out;
		}
		if (c->r->account != NULL && strcmp(json_string_value(ja), c->r->account) != 0) {
			api_error(c->rs, 422, "account: this key cannot move zones to another account");
			goto out;
		}
		s.account = json_string_value(ja);
	}
	if (api_zone_pdns_parse(c, body, &cur, &pin) != 0)
		goto out;
	s.pdns = &pin.set;
	s.has_policy = pin.has_policy;
	s.policy = pin.policy;
	if (jt != NULL) {
		if (tsig_ids(c, jt, (const char ***)&s.tsig_keys, &s.ntsig_keys) != 0)
			goto out;
		s.has_tsig_keys = true;
	}
	json_t *ju = json_object_get(body, "update_tsig_key_ids");
	if (ju != NULL) {
		if (key_ids(c, "update_tsig_key_ids", ju, (const char ***)&s.update_keys,
		            &s.nupdate_keys) != 0)
			goto out;
		s.has_update_keys = true;
	}
	json_t *jp = json_object_get(body, "update_policy");
	if (jp != NULL) {
		if (api_upolicy_parse(c, jp, z.name, &s.update_policy, &s.nupdate_policy) != 0)
			goto out;
		s.has_update_policy = true;
	}
	if (json_object_get(body, "rrsets") != NULL) {
		api_error(c->rs, 422, "rrsets: change records with PATCH, not PUT");
		goto out;
	}
	char err[512] = "";
	ret = store_zone_update(c->r->api->st, z.name, c->r->account, has_match ? &want : NULL, &s,
	                            err, sizeof(err));
	if (ret == 0)
		ret = zone_put_dnssec(c, &z, &ds, err, sizeof(err));
	if (ret != 0)
		api_store_error(c->rs, ret, err);
	else
		c->rs->status = 204;
out:
	json_decref(body);
}

static void
zone_delete(struct api_ctx *c, const char *id)
{
	struct store_snap *sn;
	struct store_zone z;
	if (api_find_zone(c->r, c->rs, id, &sn, &z) != 0)
		return;
	store_snap_close(sn);
	int ret = store_zone_delete(c->r->api->st, z.name, c->r->account);
	if (ret == -EPERM)
		api_error(c->rs, 422, "the catalog zone '%s' is maintained by the server", z.text);
	else if (ret != 0)
		api_store_error(c->rs, ret, NULL);
	else
		c->rs->status = 204;
}

struct export_ctx {
	char *buf;
	size_t len, cap;
	char *line;
	int err;
};

static int
export_rr(void *ctx, const struct dns_rr *rr)
{
	struct export_ctx *e = ctx;
	if (store_type_signer(rr->type))
		return 0;   /* the signer's records are in transfers, not in the export */
	int n = dns_zt_print_rr(rr, e->line, API_TEXT_CAP);
	if (n < 0)
		return e->err = n;
	if (e->len + (size_t)n + 1 > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 65536;
		while (cap < e->len + (size_t)n + 1)
			cap *= 2;
		char *nb = realloc(e->buf, cap);
		if (nb == NULL)
			return e->err = -ENOMEM;
		e->buf = nb;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, e->line, (size_t)n);
	e->len += (size_t)n;
	e->buf[e->len] = '\0';
	return 0;
}

static void
zone_export(struct api_ctx *c, const char *id)
{
	struct store_snap *sn;
	struct store_zone z;
	if (api_find_zone(c->r, c->rs, id, &sn, &z) != 0)
		return;
	struct export_ctx e = {.line = c->text};
	int ret = store_snap_records(sn, &z, export_rr, &e);
	store_snap_close(sn);
	if (ret != 0) {
		free(e.buf);
		api_store_error(c->rs, ret, "cannot export");
		return;
	}
	api_set_etag(c->rs, z.serial);
	const char *accept = api_header(c->r, "Accept");
	if (accept != NULL && strstr(accept, "application/json") != NULL) {
		json_t *j = json_object();
		json_object_set_new(j, "zone", json_stringn(e.buf ? e.buf : "", e.len));
		free(e.buf);
		api_json(c->rs, 200, j);
		return;
	}
	c->rs->status = 200;
	c->rs->ctype = "text/plain; charset=us-ascii";
	c->rs->body = e.buf ? e.buf : strdup("");
	c->rs->body_len = e.len;
}

static void
zone_notify(struct api_ctx *c, const char *id)
{
	struct store_snap *sn;
	struct store_zone z;
	if (api_find_zone(c->r, c->rs, id, &sn, &z) != 0)
		return;
	store_snap_close(sn);
	int ret = store_notify(c->r->api->st, z.name, z.serial);
	if (ret == -ENOSYS)
		log_info(z.text, "notify, queued by API request, serial %u (no NOTIFY sender yet)",
		         z.serial);
	else if (ret != 0)
		log_warning(z.text, "notify, API request failed (%s)", strerror(-ret));
	else
		log_info(z.text, "notify, queued by API request, serial %u", z.serial);
	api_json(c->rs, 200, json_pack("{s:s}", "result", "Notification queued"));
}

static json_t *
blob_json(struct api_ctx *c, const uint8_t *blob, size_t len)
{
	json_t *arr = json_array();
	size_t pos = 0;
	struct dns_rr rr;
	int ret;
	while ((ret = store_blob_next(blob, len, &pos, &rr)) == 1) {
		char name[DNS_NAME_TEXT_MAX], tname[DNS_RRTYPE_TEXT_MAX];
		dns_name_to_text(rr.owner, name, sizeof(name));
		dns_rrtype_to_text(rr.type, tname, sizeof(tname));
		if (dns_rdata_to_text_pdns(rr.type, rr.rdata, rr.rdlen, c->text, API_TEXT_CAP) < 0 &&
		    dns_rdata_to_generic(rr.rdata, rr.rdlen, c->text, API_TEXT_CAP) < 0)
			c->text[0] = '\0';
		json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:s}", "name", name, "type", tname,
		                                     "ttl", (json_int_t)rr.ttl, "content", c->text));
	}
	return arr;
}

struct jr_ctx {
	struct api_ctx *c;
	json_t *arr;
};

static int
journal_one(void *ctx, const struct store_journal_entry *e)
{
	struct jr_ctx *jc = ctx;
	json_array_append_new(jc->arr,
	                      json_pack("{s:I,s:I,s:I,s:o,s:o}", "serial_from", (json_int_t)e->serial_from,
	                                "serial_to", (json_int_t)e->serial_to, "time",
	                                (json_int_t)e->created_at, "removed",
	                                blob_json(jc->c, e->removed, e->removed_len), "added",
	                                blob_json(jc->c, e->added, e->added_len)));
	return 0;
}

static void
zone_journal(struct api_ctx *c, const char *id)
{
	struct store_snap *sn;
	struct store_zone z;
	if (api_find_zone(c->r, c->rs, id, &sn, &z) != 0)
		return;
	size_t count = 0;
	uint32_t oldest = 0;
	store_snap_journal_range(sn, &z, &count, &oldest);
	const char *since = api_arg(c->r, "since");
	uint32_t from = count ? oldest : z.serial;
	if (since != NULL) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(since, &end, 10);
		if (end == since || *end != '\0' || errno != 0 || v > UINT32_MAX) {
			store_snap_close(sn);
			api_error(c->rs, 422, "since: '%.32s' is not a serial", since);
			return;
		}
		from = (uint32_t)v;
	}
	if (dns_serial_gt(from, z.serial)) {
		store_snap_close(sn);
		api_error(c->rs, 422, "since: serial %u is ahead of the serial %u of '%s'", from,
		          z.serial, z.text);
		return;
	}
	struct jr_ctx jc = {.c = c, .arr = json_array()};
	int ret = store_snap_journal(sn, &z, from, journal_one, &jc);
	store_snap_close(sn);
	if (ret == -ERANGE) {
		json_decref(jc.arr);
		if (count)
			api_error(c->rs, 410, "journal of '%s' does not reach back to serial %u: the "
			          "oldest change kept starts at serial %u (%zu kept)", z.text, from, oldest,
			          count);
		else
			api_error(c->rs, 410, "journal of '%s' does not reach back to serial %u: no "
			          "changes kept, current serial %u", z.text, from, z.serial);
		return;
	}
	if (ret != 0) {
		json_decref(jc.arr);
		api_store_error(c->rs, ret, NULL);
		return;
	}
	char zid[DNS_NAME_TEXT_MAX * 3];
	api_zone_id_encode(z.text, zid, sizeof(zid));
	api_set_etag(c->rs, z.serial);
	api_json(c->rs, 200, json_pack("{s:s,s:s,s:I,s:I,s:o}", "id", zid, "name", z.text, "serial",
	                               (json_int_t)z.serial, "since", (json_int_t)from, "entries",
	                               jc.arr));
}

/* ---- the handlers of the route table ------------------------------------------------ */

/*
 * PowerDNS-Admin and friends ask for /metadata, /cryptokeys and /rectify:
 * no DNSSEC or metadata here.  Any method: the zone is looked up first.
 */
static void
zone_unsigned(struct api_req *r, struct api_resp *rs, const char *id, const char *sub)
{
	struct store_snap *sn;
	struct store_zone z;
	if (api_find_zone(r, rs, id, &sn, &z) != 0)
		return;
	store_snap_close(sn);
	const char *m = r->method;
	if (strcmp(sub, "rectify") == 0 && strcmp(m, "PUT") == 0)
		api_json(rs, 200, json_pack("{s:s}", "result", "Rectified"));
	else if (strcmp(sub, "rectify") != 0 && strcmp(m, "GET") == 0)
		api_json(rs, 200, json_array());
	else
		api_error(rs, 422, "%s: not supported (no DNSSEC keys or metadata)", sub);
}

void
api_zone_rectify(struct api_req *r, struct api_resp *rs, const char *id)
{
	zone_unsigned(r, rs, id, "rectify");
}

void
api_zones_list(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	zones_list(r, rs);
}

typedef void zone_fn(struct api_ctx *c, const char *id);

/* Runs `fn` with the request's scratch (a 500 when it cannot be had). */
static void
with_ctx(struct api_req *r, struct api_resp *rs, const char *id, zone_fn *fn)
{
	struct api_ctx c;
	if (api_ctx_init(&c, r, rs) != 0)
		return;
	fn(&c, id);
	api_ctx_clear(&c);
}

static void
create(struct api_ctx *c, const char *id)
{
	(void)id;
	zones_create(c);
}

void
api_zones_create(struct api_req *r, struct api_resp *rs, const char *id)
{
	with_ctx(r, rs, id, create);
}

void
api_zone_get(struct api_req *r, struct api_resp *rs, const char *id)
{
	with_ctx(r, rs, id, zone_get);
}

void
api_zone_patch(struct api_req *r, struct api_resp *rs, const char *id)
{
	with_ctx(r, rs, id, zone_patch);
}

void
api_zone_put(struct api_req *r, struct api_resp *rs, const char *id)
{
	with_ctx(r, rs, id, zone_put);
}

void
api_zone_delete(struct api_req *r, struct api_resp *rs, const char *id)
{
	with_ctx(r, rs, id, zone_delete);
}

void
api_zone_export(struct api_req *r, struct api_resp *rs, const char *id)
{
	with_ctx(r, rs, id, zone_export);
}

void
api_zone_notify(struct api_req *r, struct api_resp *rs, const char *id)
{
	with_ctx(r, rs, id, zone_notify);
}

void
api_zone_journal(struct api_req *r, struct api_resp *rs, const char *id)
{
	with_ctx(r, rs, id, zone_journal);
}
