/*
 * The catalog zone (RFC 9432): created at open with its SOA, NS and version
 * records, one PTR member record per zone ("z" + the zone's never-reused id),
 * changed through the same change engine as any zone.
 */
#include "primary/store_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dns/rrtype.h"
#include "util/err.h"
#include "util/log.h"

/* Appends text name `rel` + wire `origin` into `out`; returns length or <0. */
int
name_under(const char *rel, const uint8_t *origin, uint8_t *out)
{
	return dns_name_from_text(rel, strlen(rel), origin, out);
}

int
catalog_ensure(struct store *st, char *err, size_t errcap)
{
	struct store_zone z;
	int ret = zone_get(st->w, st->catalog, &z);
	if (ret == 0)
		return 0;
	if (ret != -ENOENT)
		return ret;
	if (db_begin(st->w) != 0)
		return -EIO;
	ret = zone_insert(st, st->catalog, "Master", "", DNS_SERIAL_INCREASE, 1, true, &z);
	if (ret == -EEXIST) {
		/* another primary on the same database made it meanwhile */
		db_rollback(st->w);
		return zone_get(st->w, st->catalog, &z);
	}
	if (ret != 0)
		goto fail;
	/* SOA "invalid. invalid. 1 3600 600 2147483646 0", NS "invalid.", version TXT "2" */
	uint8_t soa[64], ns[16], ver[DNS_NAME_MAX];
	static const uint8_t invalid[] = "\7invalid";
	memcpy(soa, invalid, 9);
	memcpy(soa + 9, invalid, 9);
	put32(soa + 18, 1);
	put32(soa + 22, 3600);
	put32(soa + 26, 600);
	put32(soa + 30, 2147483646u);
	put32(soa + 34, 0);
	memcpy(ns, invalid, 9);
	if (name_under("version", st->catalog, ver) <= 0) {
		ret = -EINVAL;
		goto fail;
	}
	static const uint8_t txt2[] = {1, '2'};
	struct store_rec r_soa = {.rdata = soa, .rdlen = 38};
	struct store_rec r_ns = {.rdata = ns, .rdlen = 9};
	struct store_rec r_ver = {.rdata = txt2, .rdlen = 2};
	struct store_op ops[3] = {
		{.kind = STORE_OP_REPLACE, .owner = st->catalog, .type = DNS_T_SOA, .ttl = 0,
		 .has_ttl = true, .recs = &r_soa, .nrecs = 1, .label = "catalog SOA"},
		{.kind = STORE_OP_REPLACE, .owner = st->catalog, .type = DNS_T_NS, .ttl = 0,
		 .has_ttl = true, .recs = &r_ns, .nrecs = 1, .label = "catalog NS"},
		{.kind = STORE_OP_REPLACE, .owner = ver, .type = DNS_T_TXT, .ttl = 0, .has_ttl = true,
		 .recs = &r_ver, .nrecs = 1, .label = "catalog version"},
	};
	struct store_result res;
	ret = apply_ops(st, &z, ops, 3, true, &res, err, errcap);
	if (ret != 0)
		goto fail;
	if (db_commit(st->w) != 0) {
		ret = -EIO;
		goto fail;
	}
	log_info(st->catalog_text, "catalog zone created");
	return 0;
fail:
	db_rollback(st->w);
	if (err && err[0] == '\0')
		set_err(err, errcap, "cannot create the catalog zone: %s", err_str(ret));
	return ret;
}

/* Member label: "z" + the zone's never-reused id in hex (RFC 9432 §4.1). */
static int
catalog_member_owner(struct store *st, int64_t id, uint8_t *out)
{
	char rel[48];
	snprintf(rel, sizeof(rel), "z%" PRIx64 ".zones", (uint64_t)id);
	return name_under(rel, st->catalog, out);
}

int
catalog_update(struct store *st, const struct store_zone *member, bool add)
{
	struct store_zone cat;
	int ret = zone_get_w(st, st->catalog, &cat);
	if (ret != 0)
		return ret;
	uint8_t owner[DNS_NAME_MAX];
	if (catalog_member_owner(st, member->id, owner) <= 0)
		return -EINVAL;
	struct store_rec r = {.rdata = member->name, .rdlen = (uint16_t)dns_name_len(member->name)};
	struct store_op op = {.kind = add ? STORE_OP_REPLACE : STORE_OP_DELETE, .owner = owner,
	                      .type = DNS_T_PTR, .ttl = 0, .has_ttl = true, .recs = &r,
	                      .nrecs = add ? 1 : 0, .label = "catalog member"};
	struct store_result res;
	char err[256] = "";
	ret = apply_ops(st, &cat, &op, 1, false, &res, err, sizeof(err));
	if (ret != 0)
		log_error(st->catalog_text, "catalog update failed: %s", err[0] ? err : err_str(ret));
	return ret;
}

/*
 * Finds a zone of an account other than `account` that is an ancestor or a
 * descendant of `name` (wire), inside the write transaction.  Ancestors are
 * point lookups on the unique name index (at most 127 of them), descendants
 * one range of zones_lkey (every descendant's lookup key starts with the
 * name's key), so the cost does not grow with the number of zones.
 * Returns 1 with `other` filled, 0 when there is none, or -EIO.
 */
