/*
 * rrsets in: a PATCH / POST body's "rrsets" validated completely (types,
 * names, record contents parsed by dns/rdata with absolute names, limits)
 * into store ops, and PATCH applied; the request scratch (struct api_ctx).
 * The store then checks the rules that depend on the zone's contents, in
 * the same transaction.
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

/* A label no client uses: appended to relative names to detect them. */
static const uint8_t relative_probe[] = "\x17" "anycst-relative-name-00";

int
api_ctx_init(struct api_ctx *c, struct api_req *r, struct api_resp *rs)
{
	c->r = r;
	c->rs = rs;
	arena_init(&c->ar, 64 * 1024);
	c->text = malloc(API_TEXT_CAP);
	c->rd = malloc(DNS_RDATA_MAX);
	c->probe = malloc(DNS_RDATA_MAX);
	if (c->text == NULL || c->rd == NULL || c->probe == NULL) {
		free(c->text);
		free(c->rd);
		free(c->probe);
		arena_clear(&c->ar);
		api_error(rs, 500, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void
api_ctx_clear(struct api_ctx *c)
{
	free(c->text);
	free(c->rd);
	free(c->probe);
	arena_clear(&c->ar);
}

/* ---- rrsets in ----------------------------------------------------------------------- */

static bool
json_is_int_in(json_t *v, json_int_t lo, json_int_t hi)
{
	return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

/*
 * Parses record content for `type` into wire.  Returns the length or -1
 * with the error in `err`.
 */
static int
content_to_wire(struct api_ctx *c, uint16_t type, const char *content, size_t len, uint8_t *out,
                char *err, size_t errcap)
{
	uint8_t *probe = c->probe;
	char msg[160] = "";
	int n = dns_rdata_from_str(type, content, len, dns_root_name, out, DNS_RDATA_MAX, msg,
	                           sizeof(msg));
	if (n < 0) {
		snprintf(err, errcap, "%s", msg[0] ? msg : "cannot parse content");
		return -1;
	}
	int n2 = dns_rdata_from_str(type, content, len, relative_probe, probe, DNS_RDATA_MAX, msg,
	                            sizeof(msg));
	if (n2 != n || memcmp(out, probe, (size_t)n) != 0) {
		snprintf(err, errcap, "a name in '%.200s' is not absolute (must end with a dot)", content);
		return -1;
	}
	/* raw UTF-8 in a name of the content: refused with its A-label (12.8) */
	for (size_t i = 0; i < len; i++) {
		if ((uint8_t)content[i] >= 0x80)
			return api_idn_check_rdata(type, out, (size_t)n, err, errcap) == 0 ? n : -1;
	}
	return n;
}

/*
 * DNSSEC (issue 15): until the primary signs, a zone asking for signing is
 * refused rather than silently left unsigned, and the records only a signer
 * makes (or a multi-signer import, later) are not taken from users.
 */
bool
api_dnssec_type_refused(uint16_t t)
{
	return t == DNS_T_RRSIG || t == DNS_T_NSEC || t == DNS_T_NSEC3 || t == DNS_T_NSEC3PARAM ||
	       t == DNS_T_DNSKEY || t == DNS_T_CDS || t == DNS_T_CDNSKEY;
}

/*
 * The zone fields of DNSSEC (PowerDNS-shaped) into *d: "dnssec" (a boolean;
 * true needs --dnssec-key-file), "nsec3param" ("" for NSEC, or exactly
 * "1 0 0 -": SHA-1, no opt-out, 0 iterations, empty salt, RFC 9276),
 * "nsec3narrow" (false only), "presigned" (false only), "ds_removed" (with
 * "dnssec": false: the parent holds no DS any more, so the zone is unsigned
 * at once instead of after its CDS DELETE period).  0, or -EINVAL with a
 * 422 written.
 */
int
api_dnssec_fields(struct store *st, struct api_resp *rs, json_t *body, struct api_dnssec *d)
{
	memset(d, 0, sizeof(*d));
	static const char *const flags[] = {"dnssec", "presigned", "nsec3narrow", "ds_removed"};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		json_t *v = json_object_get(body, flags[i]);
		if (v == NULL || json_is_null(v))
			continue;
		if (!json_is_boolean(v)) {
			api_error(rs, 422, "%s: not a boolean", flags[i]);
			return -EINVAL;
		}
		if (i == 0) {
			d->has_dnssec = true;
			d->dnssec = json_is_true(v);
		} else if (i == 3) {
			d->ds_removed = json_is_true(v);
		} else if (json_is_true(v)) {
			api_error(rs, 422, i == 1 ? "presigned: pre-signed zones are not supported; "
			          "set \"dnssec\": true to have the server sign" :
			          "nsec3narrow: only false is supported (narrow mode is not)");
			return -EINVAL;
		}
	}
	if (d->ds_removed && (!d->has_dnssec || d->dnssec)) {
		api_error(rs, 422, "ds_removed: only with \"dnssec\": false");
		return -EINVAL;
	}
	if (d->dnssec && !store_can_sign(st)) {
		api_error(rs, 422, "dnssec: signing needs the primary started with --dnssec-key-file");
		return -EINVAL;
	}
	json_t *n3 = json_object_get(body, "nsec3param");
	if (n3 == NULL || json_is_null(n3))
		return 0;
	if (!json_is_string(n3)) {
		api_error(rs, 422, "nsec3param: not a string");
		return -EINVAL;
	}
	/* tokens compared one by one, so spacing does not matter */
	char buf[64];
	const char *v = json_string_value(n3);
	size_t n = 0;
	const char *want[] = {"1", "0", "0", "-"};
	bool ok = json_string_length(n3) < sizeof(buf);
	if (ok) {
		snprintf(buf, sizeof(buf), "%s", v);
		char *save = NULL;
		for (char *t = strtok_r(buf, " \t", &save); t != NULL && ok;
		     t = strtok_r(NULL, " \t", &save))
			ok = n < 4 && strcmp(t, want[n++]) == 0;
	}
	d->has_nsec3param = true;
	if (ok && n == 0)
		return 0;   /* "": NSEC */
	if (!ok || n != 4) {
		api_error(rs, 422, "nsec3param: '%.60s' is not supported; only \"1 0 0 -\" (SHA-1, "
		          "no opt-out, 0 iterations, empty salt; RFC 9276) or \"\" (NSEC)", v);
		return -EINVAL;
	}
	d->nsec3 = true;
	return 0;
}

/* rrsets[i].name: absolute, inside `zone`, into op->owner (in c->ar). */
static int
rrset_owner(struct api_ctx *c, struct store_op *op, json_t *jname, const uint8_t *zone)
{
	struct api_resp *rs = c->rs;
	char err[512];
	const char *name = json_string_value(jname);
	size_t nlen = json_string_length(jname);
	if (api_idn_check_text("name", name, nlen, err, sizeof(err)) != 0) {
		api_error(rs, 422, "%s.name: %s", op->label, err);
		return -EINVAL;
	}
	uint8_t owner_buf[DNS_NAME_MAX];
	int olen = nlen == 0 || name[nlen - 1] != '.' ? -1
	           : dns_name_from_text(name, nlen, NULL, owner_buf);
	uint8_t *owner = olen > 0 ? arena_memdup(&c->ar, owner_buf, (size_t)olen) : NULL;
	if (owner == NULL) {
		api_error(rs, 422, "%s.name: '%.300s' is not an absolute domain name", op->label, name);
		return -EINVAL;
	}
	if (!dns_name_is_sub(owner, zone)) {
		char zone_text[DNS_NAME_TEXT_MAX];
		dns_name_to_text(zone, zone_text, sizeof(zone_text));
		api_error(rs, 422, "%s: name '%.300s' is not inside zone '%s'", op->label, name,
		          zone_text);
		return -EINVAL;
	}
	op->owner = owner;
	return 0;
}

/* rrsets[i].changetype of a PATCH into op->kind. */
static int
rrset_changetype(struct api_resp *rs, struct store_op *op, json_t *jct)
{
	if (!json_is_string(jct)) {
		api_error(rs, 422, "%s.changetype: missing or not a string", op->label);
		return -EINVAL;
	}
	const char *ct = json_string_value(jct);
	if (strcasecmp(ct, "REPLACE") == 0)
		op->kind = STORE_OP_REPLACE;
	else if (strcasecmp(ct, "DELETE") == 0)
		op->kind = STORE_OP_DELETE;
	else if (strcasecmp(ct, "EXTEND") == 0)
		op->kind = STORE_OP_EXTEND;
	else if (strcasecmp(ct, "PRUNE") == 0)
		op->kind = STORE_OP_PRUNE;
	else {
		api_error(rs, 422, "%s.changetype: unknown changetype '%.64s'", op->label, ct);
		return -EINVAL;
	}
	return 0;
}

/* rrsets[i].ttl (optional) into op->ttl. */
static int
rrset_ttl(struct api_resp *rs, struct store_op *op, json_t *jttl)
{
	if (jttl == NULL || json_is_null(jttl))
		return 0;
	if (!json_is_integer(jttl)) {
		api_error(rs, 422, "%s.ttl: not an integer", op->label);
		return -EINVAL;
	}
	if (!json_is_int_in(jttl, 0, INT32_MAX)) {
		api_error(rs, 422, "%s.ttl: TTL %" JSON_INTEGER_FORMAT " out of range 0..2147483647",
		          op->label, json_integer_value(jttl));
		return -EINVAL;
	}
	op->ttl = (uint32_t)json_integer_value(jttl);
	op->has_ttl = true;
	return 0;
}

/*
 * TXT/SPF content is returned as sent, as PowerDNS does ("a\;b" stays so,
 * not "a;b"): kept beside the rdata when it differs from the printed form.
 * Other types come back in PowerDNS's canonical form (dns_rdata_to_text_pdns).
 */
static int
content_as_sent(struct api_ctx *c, uint16_t type, struct store_rec *rec, const char *text,
                size_t len)
{
	rec->content = NULL;
	if (type != DNS_T_TXT && type != DNS_T_SPF)
		return 0;
	int n = dns_rdata_to_text_pdns(type, rec->rdata, rec->rdlen, c->text, API_TEXT_CAP);
	if (n >= 0 && (size_t)n == len && memcmp(c->text, text, len) == 0)
		return 0;
	char *kept = arena_alloc(&c->ar, len + 1);
	if (kept == NULL) {
		api_error(c->rs, 500, "out of memory");
		return -ENOMEM;
	}
	memcpy(kept, text, len);
	kept[len] = '\0';
	rec->content = kept;
	return 0;
}

/* rrsets[i].records[k] into recs[k]; `name` is the owner as the client wrote it. */
static int
rrset_record(struct api_ctx *c, struct store_op *op, json_t *ro, size_t k, const char *name,
             struct store_rec *rec)
{
	struct api_resp *rs = c->rs;
	char err[512];
	json_t *jc = json_object_get(ro, "content"), *jd = json_object_get(ro, "disabled");
	if (!json_is_object(ro) || !json_is_string(jc)) {
		api_error(rs, 422, "%s.records[%zu].content: missing or not a string", op->label, k);
		return -EINVAL;
	}
	if (jd != NULL && !json_is_boolean(jd)) {
		api_error(rs, 422, "%s.records[%zu].disabled: not a boolean", op->label, k);
		return -EINVAL;
	}
	int rl = content_to_wire(c, op->type, json_string_value(jc), json_string_length(jc), c->rd,
	                         err, sizeof(err));
	if (rl < 0) {
		/* names the record: where, owner and type (e.g. empty
		 * RDATA on a type that needs some) */
		char tname[DNS_RRTYPE_TEXT_MAX];
		dns_rrtype_to_text(op->type, tname, sizeof(tname));
		api_error(rs, 422, "%s.records[%zu]: %.300s %s: %s", op->label, k, name, tname, err);
		return -EINVAL;
	}
	uint8_t *rd = arena_memdup(&c->ar, c->rd, (size_t)rl);
	if (rd == NULL) {
		api_error(rs, 500, "out of memory");
		return -ENOMEM;
	}
	rec->rdata = rd;
	rec->rdlen = (uint16_t)rl;
	rec->disabled = jd != NULL && json_is_true(jd);
	return content_as_sent(c, op->type, rec, json_string_value(jc), json_string_length(jc));
}

/* rrsets[i].records into op->recs (none for a DELETE), within max_records. */
static int
rrset_records(struct api_ctx *c, struct store_op *op, json_t *jrecs, const char *name)
{
	struct api_resp *rs = c->rs;
	const struct api *a = c->r->api;
	/* null is absent (go-powerdns sends "records": null on DELETE) */
	if (jrecs != NULL && json_is_null(jrecs))
		jrecs = NULL;
	if (jrecs != NULL && !json_is_array(jrecs)) {
		api_error(rs, 422, "%s.records: not an array", op->label);
		return -EINVAL;
	}
	/* PowerDNS: a REPLACE without records (comments only, say) keeps them */
	op->keep_records = op->kind == STORE_OP_REPLACE && jrecs == NULL;
	size_t nr = op->kind == STORE_OP_DELETE ? 0 : json_array_size(jrecs);
	if (nr > API_LIM(a, max_records)) {
		api_error(rs, 422, "%s.records: %zu records, more than the limit of %zu per rrset",
		          op->label, nr, API_LIM(a, max_records));
		return -EINVAL;
	}
	if (op->kind == STORE_OP_REPLACE && nr > 0 && !op->has_ttl) {
		api_error(rs, 422, "%s.ttl: missing", op->label);
		return -EINVAL;
	}
	struct store_rec *recs = nr ? arena_alloc(&c->ar, nr * sizeof(*recs)) : NULL;
	if (nr && recs == NULL) {
		api_error(rs, 500, "out of memory");
		return -ENOMEM;
	}
	for (size_t k = 0; k < nr; k++) {
		int ret = rrset_record(c, op, json_array_get(jrecs, k), k, name, &recs[k]);
		if (ret != 0)
			return ret;
	}
	op->recs = recs;
	op->nrecs = nr;
	return 0;
}

/* rrsets[i].comments (optional) into op->comments. */
static int
rrset_comments(struct api_ctx *c, struct store_op *op, json_t *jcom)
{
	struct api_resp *rs = c->rs;
	if (jcom == NULL || json_is_null(jcom))
		return 0;
	if (!json_is_array(jcom)) {
		api_error(rs, 422, "%s.comments: not an array", op->label);
		return -EINVAL;
	}
	size_t nc = json_array_size(jcom);
	struct store_comment *cm = nc ? arena_alloc(&c->ar, nc * sizeof(*cm)) : NULL;
	if (nc && cm == NULL) {
		api_error(rs, 500, "out of memory");
		return -ENOMEM;
	}
	for (size_t k = 0; k < nc; k++) {
		json_t *co = json_array_get(jcom, k);
		json_t *cc = json_object_get(co, "content"), *ca = json_object_get(co, "account");
		json_t *cmod = json_object_get(co, "modified_at");
		if (!json_is_object(co) || !json_is_string(cc) || (ca != NULL && !json_is_string(ca)) ||
		    (cmod != NULL && !json_is_integer(cmod))) {
			api_error(rs, 422, "%s.comments[%zu]: needs string content, string account, "
			          "integer modified_at", op->label, k);
			return -EINVAL;
		}
		cm[k].content = json_string_value(cc);
		cm[k].account = ca ? json_string_value(ca) : "";
		cm[k].modified_at = cmod ? (int64_t)json_integer_value(cmod) : 0;
	}
	op->comments = cm;
	op->ncomments = nc;
	op->has_comments = true;
	return 0;
}

/* rrsets[i] into `op`, checked in the order of its fields' importance. */
static int
rrset_parse(struct api_ctx *c, json_t *o, const uint8_t *zone, bool patch, struct store_op *op)
{
	struct api_resp *rs = c->rs;
	int ret;
	if (!json_is_object(o)) {
		api_error(rs, 422, "%s: must be an object", op->label);
		return -EINVAL;
	}
	json_t *jname = json_object_get(o, "name"), *jtype = json_object_get(o, "type");
	if (!json_is_string(jname)) {
		api_error(rs, 422, "%s.name: missing or not a string", op->label);
		return -EINVAL;
	}
	if (!json_is_string(jtype)) {
		api_error(rs, 422, "%s.type: missing or not a string", op->label);
		return -EINVAL;
	}
	const char *name = json_string_value(jname);
	if ((ret = rrset_owner(c, op, jname, zone)) != 0)
		return ret;
	if (dns_rrtype_from_text(json_string_value(jtype), json_string_length(jtype), &op->type) != 0 ||
	    dns_rrtype_is_meta(op->type)) {
		api_error(rs, 422, "%s.type: unknown or unsupported record type '%.64s'", op->label,
		          json_string_value(jtype));
		return -EINVAL;
	}
	if (api_dnssec_type_refused(op->type)) {
		api_error(rs, 422, "%s: %.300s %.16s: DNSSEC records are made by the signer, not "
		          "accepted in rrsets (DNSSEC signing is not available yet)", op->label, name,
		          dns_rrtype_name(op->type));
		return -EINVAL;
	}
	op->kind = STORE_OP_REPLACE;
	if (patch && (ret = rrset_changetype(rs, op, json_object_get(o, "changetype"))) != 0)
		return ret;
	if ((ret = rrset_ttl(rs, op, json_object_get(o, "ttl"))) != 0 ||
	    (ret = rrset_records(c, op, json_object_get(o, "records"), name)) != 0 ||
	    (ret = rrset_comments(c, op, json_object_get(o, "comments"))) != 0)
		return ret;
	if (op->kind == STORE_OP_PRUNE && op->nrecs == 0) {
		api_error(rs, 422, "%s.records: PRUNE needs the records to remove", op->label);
		return -EINVAL;
	}
	return 0;
}

int
api_rrsets_parse(struct api_ctx *c, json_t *arr, const uint8_t *zone, bool patch,
                 struct api_parsed *p)
{
	struct api_resp *rs = c->rs;
	struct api *a = c->r->api;
	if (!json_is_array(arr)) {
		api_error(rs, 422, "rrsets: must be an array");
		return -EINVAL;
	}
	size_t n = json_array_size(arr);
	if (n > API_LIM(a, max_rrsets)) {
		api_error(rs, 422, "rrsets: %zu rrsets, more than the limit of %zu per request", n,
		          API_LIM(a, max_rrsets));
		return -EINVAL;
	}
	p->n = n;
	p->ops = n ? arena_alloc(&c->ar, n * sizeof(*p->ops)) : NULL;
	if (n && p->ops == NULL) {
		api_error(rs, 500, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_op *op = &p->ops[i];
		memset(op, 0, sizeof(*op));
		snprintf(op->label, sizeof(op->label), "rrsets[%zu]", i);
		int ret = rrset_parse(c, json_array_get(arr, i), zone, patch, op);
		if (ret != 0)
			return ret;
	}
	return 0;
}

/* PATCH's body (parsed) applied to `zone`: 204 with the serials, or the error. */
void
api_rrsets_patch(struct api_ctx *c, const uint8_t *zone, json_t *body, const uint32_t *if_match)
{
	struct api_parsed p = {0};
	json_t *jrr = json_object_get(body, "rrsets");
	if (jrr == NULL) {
		api_error(c->rs, 422, "rrsets: missing");
	} else if (api_rrsets_parse(c, jrr, zone, true, &p) == 0) {
		char err[512] = "";
		struct store_result res;
		int ret = store_zone_patch(c->r->api->st, zone, c->r->account, if_match, p.ops, p.n,
		                           &res, err, sizeof(err));
		if (ret != 0) {
			api_store_error(c->rs, ret, err);
		} else {
			c->rs->status = 204;
			c->rs->serials = true;
			c->rs->old_serial = res.old_serial;
			c->rs->new_serial = res.new_serial;
			api_set_etag(c->rs, res.new_serial);
		}
	}
}


int
api_patch_check(struct api_req *r, struct api_resp *rs, const uint8_t *zone, size_t *nops)
{
	struct api_ctx c;
	*nops = 0;
	if (api_ctx_init(&c, r, rs) != 0)
		return -ENOMEM;
	int ret = -EINVAL;
	json_t *body = api_body_object(r, rs);
	if (body != NULL) {
		struct api_parsed p = {0};
		json_t *jrr = json_object_get(body, "rrsets");
		if (jrr == NULL) {
			api_error(rs, 422, "rrsets: missing");
		} else {
			ret = api_rrsets_parse(&c, jrr, zone, true, &p);
			*nops = p.n;
		}
		json_decref(body);
	}
	api_ctx_clear(&c);
	return ret;
}

void
api_patch_apply(struct api_req *r, struct api_resp *rs, const uint8_t *zone)
{
	struct api_ctx c;
	if (api_ctx_init(&c, r, rs) != 0)
		return;
	json_t *body = api_body_object(r, rs);
	if (body != NULL)
		api_rrsets_patch(&c, zone, body, NULL);
	json_decref(body);
	api_ctx_clear(&c);
}
