/*
 * Zones as a whole: create (records, default SOA, catalog member), delete,
 * settings, PATCH's transaction around the change engine, and the clash
 * rule between accounts (a zone may not be a parent or a child of another
 * account's zone).  Database access goes through db.h only.
 */
#include "primary/store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/rrtype.h"
#include "dns/soa.h"
#include "util/err.h"
#include "util/log.h"

/*
 * Finds a zone of an account other than `account` that is an ancestor or a
 * descendant of `name` (wire), inside the write transaction.  Ancestors are
 * point lookups on the unique name index (at most 127 of them), descendants
 * one range of zones_lkey (every descendant's lookup key starts with the
 * name's key), so the cost does not grow with the number of zones.
 * Returns 1 with `other` filled, 0 when there is none, or -EIO.
 */
static int
zone_clash(struct store *st, const uint8_t *name, const char *account, struct store_zone *other)
{
	if (name[0] == 0)
		return 0;
	for (const uint8_t *p = name + name[0] + 1;; p += p[0] + 1) {
		int ret = zone_get(st->w, p, other);
		if (ret == 0 && strcmp(other->account, account) != 0)
			return 1;
		if (ret != 0 && ret != -ENOENT)
			return -EIO;
		if (p[0] == 0)
			break;
	}
	struct nkey k;
	nkey_set(&k, name);
	if (k.klen == 0)
		return 0;
	uint8_t hi[DNS_LOOKUP_MAX];
	memcpy(hi, k.key, k.klen);
	hi[k.klen - 1] = 1;   /* just above every key that has k.key as its prefix */
	struct db_stmt *s = db_q(st->w, DBQ_ZONE_DESCENDANT);
	if (s == NULL)
		return -EIO;
	db_bind_blob(s, 1, k.key, k.klen);
	db_bind_blob(s, 2, hi, k.klen);
	db_bind_text(s, 3, account);
	int rc = db_step(s);
	int ret = 0;
	if (rc == DB_ROW) {
		uint8_t w[DNS_NAME_MAX];
		const char *t = db_col_text(s, 0);
		if (t == NULL || dns_name_from_text(t, strlen(t), NULL, w) <= 0)
			ret = -EIO;
		else
			ret = zone_get(st->w, w, other) == 0 ? 1 : -EIO;
	} else if (rc != DB_DONE) {
		ret = -EIO;
	}
	db_done(s);
	return ret;
}

/* Fills the lookup keys (schema 0004) of zones that have none.  0 or -EIO (err). */
int
lkey_backfill(struct store *st, char *err, size_t errcap)
{
	struct db_stmt *s = NULL;
	int ret = -EIO;
	if (db_begin(st->w) != 0)
		goto out;
	s = db_q(st->w, DBQ_LKEY_MISSING);
	if (s == NULL)
		goto rollback;
	int rc;
	while ((rc = db_step(s)) == DB_ROW) {
		const uint8_t *w = db_col_blob(s, 1);
		size_t wl = db_col_bytes(s, 1);
		uint8_t low[DNS_NAME_MAX];
		if (w == NULL || wl == 0 || wl > DNS_NAME_MAX || dns_name_check(w, wl) <= 0)
			continue;
		memcpy(low, w, wl);
		dns_name_lower(low);
		if (lkey_insert(st, db_col_i64(s, 0), low) != 0)
			goto rollback;
	}
	if (rc != DB_DONE)
		goto rollback;
	db_done(s);
	s = NULL;
	if (db_commit(st->w) == 0) {
		ret = 0;
		goto out;
	}
rollback:
	db_done(s);
	s = NULL;
	db_rollback(st->w);
out:
	if (ret != 0)
		set_err(err, errcap, "%s: cannot fill zone lookup keys: %s", st->path,
		        db_errmsg(st->w));
	return ret;
}

/* ---- public write calls ---------------------------------------------------------- */

static int
zone_for_write(struct store *st, const uint8_t *zone, const char *account, struct store_zone *z)
{
	int ret = zone_get_w(st, zone, z);
	if (ret != 0)
		return ret;
	if (account != NULL && strcmp(account, z->account) != 0)
		return -ENOENT;
	return 0;
}

/* One PATCH or DNS UPDATE queued to the group commit (w_group). */
struct patch {
	struct w_job job;           /* first: the job is the patch */
	const uint8_t *zone;
	const char *account;        /* NULL: any account's zone */
	const uint32_t *if_match;   /* NULL: any serial */
	const char *ukey;           /* a DNS UPDATE's key, NULL for the API */
	const struct store_prereq *pre;
	size_t npre;
	size_t *failed;
	const struct store_op *ops;
	size_t nops;
	struct store_result *res;
	char *err;
	size_t errcap;
	char text[DNS_NAME_TEXT_MAX];   /* the zone's name, for the log */
};

/* The change of a patch inside the open write transaction (w_job.body):
 * with DNS UPDATE prerequisites (`pre`, may be none) and the UPDATE's key
 * (`ukey`) checked against the zone's grants.  Never commits. */
static int
patch_body(struct store *st, struct w_job *j)
{
	struct patch *p = (struct patch *)j;
	struct store_zone z;
	memset(p->res, 0, sizeof(*p->res));
	int ret = zone_for_write(st, p->zone, p->account, &z);
	if (ret != 0)
		return ret;
	copy_text(p->text, sizeof(p->text), z.text);
	if (z.is_catalog) {
		set_err(p->err, p->errcap, "the catalog zone '%s' is maintained by the server", z.text);
		return -EPERM;
	}
	/* a key not granted this zone learns nothing of it (no prerequisite runs) */
	if (p->ukey != NULL) {
		ret = upolicy_key(st, &z, p->ukey);
		if (ret != 0)
			return ret;
	}
	if (p->if_match != NULL && *p->if_match != z.serial) {
		set_err(p->err, p->errcap, "zone '%s' changed: serial is %u, If-Match asked for %u",
		        z.text, z.serial, *p->if_match);
		return -ESTALE;
	}
	if (p->npre > 0) {
		ret = prereqs_check(st, &z, p->pre, p->npre, p->failed);
		if (ret != 0)
			return ret;
	}
	/* RFC 2136 §3.3: permission after the prerequisites (§3.2), in the same transaction */
	if (p->ukey != NULL) {
		ret = upolicy_check(st, &z, p->ukey, p->ops, p->nops, p->err, p->errcap);
		if (ret != 0)
			return ret;
	}
	/* unchanged: comments may have changed; kept, nothing else was written */
	return apply_ops(st, &z, p->ops, p->nops, false, p->res, p->err, p->errcap);
}

static void
patch_committed(struct store *st, struct w_job *j)
{
	(void)st;
	struct patch *p = (struct patch *)j;
	if (p->res->changed)
		log_info(p->text, "zone updated, serial %u -> %u", p->res->old_serial,
		         p->res->new_serial);
}

static int
zone_patch(struct store *st, struct patch *p)
{
	p->job = (struct w_job){.body = patch_body, .committed = patch_committed};
	return w_group(st, &p->job);
}

int
store_zone_patch(struct store *st, const uint8_t *zone, const char *account,
                 const uint32_t *if_match, const struct store_op *ops, size_t nops,
                 struct store_result *res, char *err, size_t errcap)
{
	struct patch p = {.zone = zone, .account = account, .if_match = if_match, .ops = ops,
	                  .nops = nops, .res = res, .err = err, .errcap = errcap};
	return zone_patch(st, &p);
}

int
store_zone_patch_if(struct store *st, const uint8_t *zone, const char *account,
                    const struct store_prereq *pre, size_t npre, size_t *failed,
                    const struct store_op *ops, size_t nops, struct store_result *res, char *err,
                    size_t errcap)
{
	struct patch p = {.zone = zone, .account = account, .pre = pre, .npre = npre,
	                  .failed = failed, .ops = ops, .nops = nops, .res = res, .err = err,
	                  .errcap = errcap};
	return zone_patch(st, &p);
}

int
store_zone_update_dns(struct store *st, const uint8_t *zone, const char *key,
                      const struct store_prereq *pre, size_t npre, size_t *failed,
                      const struct store_op *ops, size_t nops, struct store_result *res,
                      char *err, size_t errcap)
{
	struct patch p = {.zone = zone, .ukey = key, .pre = pre, .npre = npre, .failed = failed,
	                  .ops = ops, .nops = nops, .res = res, .err = err, .errcap = errcap};
	return zone_patch(st, &p);
}

/*
 * Inserts a zone's master_tsig_key_ids (`update`: update_tsig_key_ids)
 * inside the caller's write transaction.  Returns 0, -EINVAL (bad or
 * unknown key name, with `err` naming the entry) or -EIO.
 */
static int
zone_keys_insert(struct store *st, int64_t zone_id, bool update, const char *const *keys,
                 size_t n, char *err, size_t errcap)
{
	const char *field = update ? "update_tsig_key_ids" : "master_tsig_key_ids";
	for (size_t i = 0; i < n; i++) {
		char kn[DNS_NAME_TEXT_MAX];
		uint8_t kw[DNS_NAME_MAX];
		const char *id = keys[i];
		if (dns_name_from_text(id, strlen(id), NULL, kw) <= 0 ||
		    name_text(kw, kn, sizeof(kn)) < 0) {
			set_err(err, errcap, "%s[%zu]: bad key name '%s'", field, i, id);
			return -EINVAL;
		}
		struct db_stmt *s = db_q(st->w, update ? DBQ_ZONE_UTSIG_INSERT : DBQ_ZONE_TSIG_INSERT);
		if (s == NULL)
			return -EIO;
		db_bind_i64(s, 1, zone_id);
		db_bind_text(s, 2, kn);
		if (db_run(s) != 0) {
			set_err(err, errcap, "%s[%zu]: TSIG key '%s' does not exist", field, i, id);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * The SOA of a zone being created: a given one keeps its serial unless 0
 * (then `*serial`, the policy's first); none given: defaults.  Writes the
 * zone row's serial.  0, -EINVAL (err), -EIO.
 */
static int
create_soa(struct store *st, const struct store_zone *zp, uint32_t *serialp, char *err,
           size_t errcap)
{
	const struct store_zone z = *zp;
	uint32_t serial = *serialp;
	int ret;
	/* the SOA: given one keeps its serial unless 0; else defaults */
	struct row *soa;
	size_t nsoa;
	struct nkey apex;
	nkey_set(&apex, z.name);
	ret = read_rrset(st, z.id, &apex, DNS_T_SOA, &soa, &nsoa);
	if (ret != 0)
		return ret;
	if (nsoa == 0) {
		uint8_t rd[2 * DNS_NAME_MAX + 20];
		uint8_t host[DNS_NAME_MAX];
		int a = name_under("a.misconfigured.dns.server.invalid.", NULL, rd);
		int b = name_under("hostmaster", z.name, host);
		if (a <= 0 || b <= 0) {
			set_err(err, errcap, "zone name '%s' too long for a default SOA", z.text);
			ret = -EINVAL;
			return ret;
		}
		memcpy(rd + a, host, (size_t)b);
		uint8_t *t = rd + a + b;
		put32(t, serial);
		put32(t + 4, 10800);
		put32(t + 8, 3600);
		put32(t + 12, 604800);
		put32(t + 16, 3600);
		ret = rec_write(st, z.id, DBQ_REC_INSERT, &apex, DNS_T_SOA, 3600, rd,
		                (size_t)(a + b + 20), false);
		if (ret != 0)
			return ret;
	} else {
		struct dns_soa so;
		if (dns_soa_parse(soa[0].rd, soa[0].rdlen, &so) != 0) {
			set_err(err, errcap, "malformed SOA record");
			ret = -EINVAL;
			return ret;
		}
		uint32_t given = so.serial;
		if (given != 0) {
			serial = given;
		} else {
			put32(soa[0].rd + so.serial_off, serial);
			ret = rrset_delete(st, z.id, &apex, DNS_T_SOA, false);
			if (ret == 0)
				ret = rec_write(st, z.id, DBQ_REC_INSERT, &apex, DNS_T_SOA, soa[0].ttl,
				                soa[0].rd, soa[0].rdlen, false);
			if (ret != 0)
				return ret;
		}
	}
	ret = zone_serial_set(st, z.id, serial);
	if (ret == 0)
		*serialp = serial;
	return ret;
}

int
store_zone_create(struct store *st, const struct store_zone_new *zn, const struct store_op *ops,
                  size_t nops, struct store_result *res, char *err, size_t errcap)
{
	memset(res, 0, sizeof(*res));
	if (dns_name_check(zn->name, DNS_NAME_MAX) <= 0) {
		set_err(err, errcap, "bad zone name");
		return -EINVAL;
	}
	if (dns_name_equal(zn->name, st->catalog)) {
		set_err(err, errcap, "zone '%s' is the catalog zone", st->catalog_text);
		return -EEXIST;
	}
	uint32_t serial = dns_serial_initial(zn->policy, time(NULL));
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	struct store_zone z, other;
	/* the catalog's row first: creations and deletions queue on it */
	ret = zone_get_w(st, st->catalog, &z);
	if (ret != 0)
		goto fail;
	const char *account = zn->account ? zn->account : "";
	ret = zone_clash(st, zn->name, account, &other);
	if (ret < 0)
		goto fail;
	if (ret == 1 && !zn->cross_account) {
		char text[DNS_NAME_TEXT_MAX];
		name_text(zn->name, text, sizeof(text));
		set_err(err, errcap, "Conflict: zone name '%s' is not available", text);
		ret = -EEXIST;
		goto fail;
	}
	if (dns_name_is_sub(zn->name, st->catalog)) {
		/* Its names would overlap the catalog's member and property records.
		 * (An account key never gets here: the catalog, an admin zone, is a
		 * parent that clashes above, with the one neutral text.) */
		char text[DNS_NAME_TEXT_MAX];
		name_text(zn->name, text, sizeof(text));
		set_err(err, errcap, "zone '%s' is under the catalog zone '%s': names at or under the "
		        "catalog zone are reserved", text, st->catalog_text);
		ret = -EINVAL;
		goto fail;
	}
	bool crossed = ret == 1;   /* logged once committed */
	ret = zone_insert(st, zn->name, zn->kind ? zn->kind : "Native", account,
	                  zn->policy, serial, false, &z);
	if (ret == -EEXIST) {
		set_err(err, errcap, "zone '%s' already exists", z.text[0] ? z.text : "?");
		char text[DNS_NAME_TEXT_MAX];
		if (name_text(zn->name, text, sizeof(text)) > 0)
			set_err(err, errcap, "Conflict: zone '%s' already exists", text);
		goto fail;
	}
	if (ret != 0)
		goto fail;
	ret = zone_keys_insert(st, z.id, false, zn->tsig_keys, zn->ntsig_keys, err, errcap);
	if (ret == 0)
		ret = zone_keys_insert(st, z.id, true, zn->update_keys, zn->nupdate_keys, err, errcap);
	if (ret == 0 && zn->nupdate_policy > 0)
		ret = upolicy_write(st, &z, zn->update_policy, zn->nupdate_policy, err, errcap);
	if (ret == 0)
		ret = zone_pdns_write(st, z.id, zn->pdns);
	if (ret != 0)
		goto fail;
	ret = apply_ops(st, &z, ops, nops, true, res, err, errcap);
	if (ret != 0)
		goto fail;
	ret = create_soa(st, &z, &serial, err, errcap);
	if (ret != 0)
		goto fail;
	z.serial = serial;
	if (zn->dnssec) {
		ret = zkey_create(st, z.id, "csk", zn->dnssec_alg ? zn->dnssec_alg :
		                  st->default_alg, true, true, NULL);
		if (ret == -EPERM)
			set_err(err, errcap, "DNSSEC signing needs the primary's --dnssec-key-file");
		if (ret == 0)
			ret = zone_dnssec_mark(st, z.id, zn->nsec3);
		z.dnssec = true;
		z.nsec3 = zn->nsec3;
		if (ret == 0)
			ret = sign_zone_full(st, &z, true, res, err, errcap);
		if (ret != 0)
			goto fail;
	}
	res->old_serial = 0;
	res->new_serial = serial;
	res->changed = true;
	ret = catalog_update(st, &z, true);
	if (ret != 0)
		goto fail;
	pending_add(st, z.name, 0, serial, STORE_ZONE_CREATED);
	ret = w_commit(st);
	if (ret == 0 && crossed)
		log_notice(z.text, "zone of account '%s' created by the admin key %s zone '%s' of "
		           "account '%s'", account,
		           dns_name_is_sub(z.name, other.name) ? "under" : "above", other.text,
		           other.account);
	if (ret == 0)
		log_info(z.text, "zone created, serial %u", serial);
	return ret;
fail:
	w_rollback(st);
	return ret;
}

int
store_zone_delete(struct store *st, const uint8_t *zone, const char *account)
{
	struct store_zone z;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	/* the catalog's row first, as a creation */
	ret = zone_get_w(st, st->catalog, &z);
	if (ret == 0)
		ret = zone_for_write(st, zone, account, &z);
	if (ret != 0)
		goto fail;
	if (z.is_catalog) {
		ret = -EPERM;
		goto fail;
	}
	struct db_stmt *s = db_q(st->w, DBQ_ZONE_DELETE);
	if (s == NULL) {
		ret = -EIO;
		goto fail;
	}
	db_bind_i64(s, 1, z.id);
	if (db_run(s) != 0) {
		ret = -EIO;
		goto fail;
	}
	ret = catalog_update(st, &z, false);
	if (ret != 0)
		goto fail;
	pending_add(st, z.name, 0, 0, STORE_ZONE_DELETED);
	ret = w_commit(st);
	if (ret == 0)
		log_info(z.text, "zone deleted");
	return ret;
fail:
	w_rollback(st);
	return ret;
}

int
store_zone_update(struct store *st, const uint8_t *zone, const char *account,
                  const uint32_t *if_match, const struct store_zone_settings *zs, char *err,
                  size_t errcap)
{
	struct store_zone z;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	ret = zone_for_write(st, zone, account, &z);
	if (ret != 0)
		goto fail;
	/* the catalog's only setting is which keys besides the POPs' may transfer it */
	if (z.is_catalog && (zs->kind != NULL || zs->account != NULL || zs->has_policy ||
	                     zs->has_update_keys || zs->has_update_policy)) {
		set_err(err, errcap, "the catalog zone '%s' is maintained by the server; only its "
		        "master_tsig_key_ids may be set", z.text);
		ret = -EPERM;
		goto fail;
	}
	if (if_match != NULL && *if_match != z.serial) {
		set_err(err, errcap, "zone '%s' changed: serial is %u, If-Match asked for %u", z.text,
		        z.serial, *if_match);
		ret = -ESTALE;
		goto fail;
	}
	struct store_zone other;
	bool crossed = false;   /* logged once committed */
	if (zs->account != NULL && strcmp(zs->account, z.account) != 0) {
		/* a move between accounts is the admin's (the API refuses it to account keys) */
		ret = zone_clash(st, z.name, zs->account, &other);
		if (ret < 0)
			goto fail;
		if (ret == 1 && account != NULL) {
			set_err(err, errcap, "Conflict: zone name '%s' is not available", z.text);
			ret = -EEXIST;
			goto fail;
		}
		crossed = ret == 1;
		ret = 0;
	}
	struct db_stmt *s = db_q(st->w, DBQ_ZONE_UPDATE);
	if (s == NULL) {
		ret = -EIO;
		goto fail;
	}
	db_bind_i64(s, 1, z.id);
	if (zs->kind)
		db_bind_text(s, 2, zs->kind);
	if (zs->account)
		db_bind_text(s, 3, zs->account);
	if (zs->has_policy)
		db_bind_text(s, 4, dns_serial_policy_name(zs->policy));
	db_bind_i64(s, 5, now_s());
	if (db_run(s) != 0) {
		ret = -EIO;
		goto fail;
	}
	for (int upd = 0; upd < 2; upd++) {
		if (!(upd ? zs->has_update_keys : zs->has_tsig_keys))
			continue;
		s = db_q(st->w, upd ? DBQ_ZONE_UTSIG_CLEAR : DBQ_ZONE_TSIG_CLEAR);
		if (s == NULL) {
			ret = -EIO;
			goto fail;
		}
		db_bind_i64(s, 1, z.id);
		if (db_run(s) != 0) {
			ret = -EIO;
			goto fail;
		}
		ret = upd ? zone_keys_insert(st, z.id, true, zs->update_keys, zs->nupdate_keys, err,
		                             errcap)
		          : zone_keys_insert(st, z.id, false, zs->tsig_keys, zs->ntsig_keys, err, errcap);
		if (ret != 0)
			goto fail;
	}
	if (zs->has_update_policy) {
		ret = upolicy_write(st, &z, zs->update_policy, zs->nupdate_policy, err, errcap);
		if (ret != 0)
			goto fail;
	}
	ret = zone_pdns_write(st, z.id, zs->pdns);
	if (ret == 0 && zs->meta_kind != NULL)
		ret = meta_write(st, z.id, zs->meta_kind, zs->meta_vals, zs->nmeta);
	if (ret != 0)
		goto fail;
	ret = w_commit(st);
	if (ret == 0 && crossed)
		log_notice(z.text, "zone moved by the admin key from account '%s' to '%s', %s zone '%s' "
		           "of account '%s'", z.account, zs->account,
		           dns_name_is_sub(z.name, other.name) ? "under" : "above", other.text,
		           other.account);
	return ret;
fail:
	w_rollback(st);
	return ret;
}

