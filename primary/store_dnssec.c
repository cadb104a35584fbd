/*
 * DNSSEC keys of the store (schema 0005 dnssec_keys) and the public calls
 * around them: cryptokeys (list, create, activate/publish, delete) and
 * switching a zone's signing on.  Private keys are sealed with AES-256-GCM
 * under the key-encryption key st->kek (SHA-256 of --dnssec-key-file's
 * content): nonce (12) || ciphertext (32) || tag (16), with the DNSKEY
 * rdata as associated data, so a sealed key moved onto another public key
 * does not open.  Every key change re-signs the zone whole in the same
 * transaction (sign_zone_full): rare, and the DNSKEY rrset changes anyway.
 */
#include "primary/store_int.h"
#include "primary/dn_rows.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "util/err.h"
#include "util/log.h"

#define SEAL_NONCE 12
#define SEAL_TAG 16
#define SEAL_LEN (SEAL_NONCE + DNS_DNSSEC_RAW_MAX + SEAL_TAG)

int
dnssec_seal(const uint8_t kek[32], const uint8_t *raw, size_t rawlen, const uint8_t *ad,
            size_t adlen, uint8_t *out, size_t cap)
{
	if (rawlen != DNS_DNSSEC_RAW_MAX || cap < SEAL_LEN)
		return -EINVAL;
	gnutls_datum_t k = {.data = (unsigned char *)kek, .size = 32};
	gnutls_aead_cipher_hd_t h;
	if (gnutls_rnd(GNUTLS_RND_NONCE, out, SEAL_NONCE) != 0 ||
	    gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &k) != 0)
		return -EIO;
	size_t olen = cap - SEAL_NONCE;
	int rc = gnutls_aead_cipher_encrypt(h, out, SEAL_NONCE, ad, adlen, SEAL_TAG, raw, rawlen,
	                                    out + SEAL_NONCE, &olen);
	gnutls_aead_cipher_deinit(h);
	if (rc != 0 || olen != rawlen + SEAL_TAG)
		return -EIO;
	return SEAL_LEN;
}

int
dnssec_unseal(const uint8_t kek[32], const uint8_t *in, size_t inlen, const uint8_t *ad,
              size_t adlen, uint8_t out[DNS_DNSSEC_RAW_MAX])
{
	if (inlen != SEAL_LEN)
		return -EKEYREJECTED;
	gnutls_datum_t k = {.data = (unsigned char *)kek, .size = 32};
	gnutls_aead_cipher_hd_t h;
	if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &k) != 0)
		return -EIO;
	size_t olen = DNS_DNSSEC_RAW_MAX;
	int rc = gnutls_aead_cipher_decrypt(h, in, SEAL_NONCE, ad, adlen, SEAL_TAG, in + SEAL_NONCE,
	                                    inlen - SEAL_NONCE, out, &olen);
	gnutls_aead_cipher_deinit(h);
	if (rc != 0 || olen != DNS_DNSSEC_RAW_MAX)
		return -EKEYREJECTED;
	return 0;
}

static int
zkey_from_row(struct store *st, int64_t zid, struct db_stmt *s, struct zkey *k)
{
	memset(k, 0, sizeof(*k));
	k->id = db_col_i64(s, 0);
	k->flags = (uint16_t)db_col_int(s, 2);
	k->alg = (uint8_t)db_col_int(s, 3);
	k->tag = (uint16_t)db_col_int(s, 4);
	k->dnskey_len = db_col_bytes(s, 5);
	if (k->dnskey_len < 4 || k->dnskey_len > sizeof(k->dnskey))
		return -EIO;
	memcpy(k->dnskey, db_col_blob(s, 5), k->dnskey_len);
	k->published = db_col_int(s, 7) != 0;
	k->active = db_col_int(s, 8) != 0;
	k->cds = db_col_int(s, 14) != 0;
	if (!st->has_kek)
		return 0;
	/* NULL (wrong key file): the key stays public-only, reported by the signer */
	k->key = keycache_get(st, zid, k, db_col_blob(s, 6), db_col_bytes(s, 6));
	k->cached = k->key != NULL && db_col_bytes(s, 6) <= 64;
	return 0;
}

int
zkeys_load(struct store *st, int64_t zid, struct zkey *keys, size_t max)
{
	struct db_stmt *s = db_q(st->w, DBQ_KEYS_ZONE);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	size_t n = 0;
	int rc, ret = 0;
	keycache_begin(st, zid);
	while ((rc = db_step(s)) == DB_ROW && n < max) {
		ret = zkey_from_row(st, zid, s, &keys[n]);
		if (ret != 0)
			break;
		n++;
	}
	db_done(s);
	if (ret == 0 && rc < 0)
		ret = -EIO;
	if (ret != 0) {
		zkeys_free(keys, n);
		return ret;
	}
	if (rc == DB_DONE)
		keycache_sweep(st, zid);   /* the zone's keys that are gone leave the cache */
	return (int)n;
}

void
zkeys_free(struct zkey *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!keys[i].cached)
			dns_dnssec_key_free(keys[i].key);
		keys[i].key = NULL;
	}
}

int
zkey_create(struct store *st, int64_t zid, const char *keytype, uint8_t alg, bool active,
            bool published, int64_t *id)
{
	if (!st->has_kek)
		return -EPERM;
	uint16_t flags = strcmp(keytype, "zsk") == 0 ? DNS_DNSSEC_ZSK : DNS_DNSSEC_KSK;
	struct dns_dnssec_key *k = NULL;
	int ret = dns_dnssec_key_generate(alg, flags, &k);
	if (ret != 0)
		return ret;
	uint8_t raw[DNS_DNSSEC_RAW_MAX], sealed[SEAL_LEN];
	size_t dlen;
	const uint8_t *dnskey = dns_dnssec_key_dnskey(k, &dlen);
	ret = dns_dnssec_key_to_raw(k, raw, sizeof(raw));
	if (ret == (int)sizeof(raw))
		ret = dnssec_seal(st->kek, raw, sizeof(raw), dnskey, dlen, sealed, sizeof(sealed));
	explicit_bzero(raw, sizeof(raw));
	if (ret < 0)
		goto out;
	struct db_stmt *s = db_q(st->w, DBQ_KEY_INSERT);
	if (s == NULL) {
		ret = -EIO;
		goto out;
	}
	db_bind_i64(s, 1, zid);
	db_bind_text(s, 2, keytype);
	db_bind_i64(s, 3, flags);
	db_bind_i64(s, 4, alg);
	db_bind_i64(s, 5, dns_dnssec_key_tag(k));
	db_bind_blob(s, 6, dnskey, dlen);
	db_bind_blob(s, 7, sealed, sizeof(sealed));
	db_bind_i64(s, 8, published ? 1 : 0);
	db_bind_i64(s, 9, active ? 1 : 0);
	db_bind_i64(s, 10, now_s());
	ret = db_run(s) == 0 ? 0 : -EIO;
	if (ret == 0 && id != NULL)
		*id = db_last_id(st->w);
out:
	dns_dnssec_key_free(k);
	return ret;
}

int
zone_dnssec_mark(struct store *st, int64_t zid, bool nsec3)
{
	struct db_stmt *s = db_q(st->w, DBQ_DNSSEC_SET);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_i64(s, 2, nsec3 ? 1 : 0);
	db_bind_i64(s, 3, now_s());
	return db_run(s) == 0 ? 0 : -EIO;
}

/* ---- public calls ----------------------------------------------------------------------- */

bool
store_can_sign(const struct store *st)
{
	return st->has_kek;
}

int
zone_w(struct store *st, const uint8_t *zone, const char *account, struct store_zone *z)
{
	int ret = zone_get_w(st, zone, z);
	if (ret == 0 && account != NULL && strcmp(account, z->account) != 0)
		ret = -ENOENT;
	if (ret == 0 && z->is_catalog)
		ret = -EPERM;
	return ret;
}

int
signed_zone_begin(struct store *st, const uint8_t *zone, const char *account,
                  struct store_zone *z, const char *hint, char *err, size_t errcap)
{
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	ret = zone_w(st, zone, account, z);
	if (ret == 0 && !z->dnssec) {
		set_err(err, errcap, "zone '%s' is not signed%s", z->text, hint);
		ret = -EINVAL;
	}
	if (ret != 0)
		w_rollback(st);
	return ret;
}

/* Commits, logging the new serial, or rolls back. */
int
end_write(struct store *st, const struct store_zone *z, int ret, const struct store_result *res,
          const char *what)
{
	if (ret != 0) {
		w_rollback(st);
		return ret;
	}
	ret = w_commit(st);
	if (ret == 0 && res->changed)
		log_info(z->text, "%s, serial %u -> %u", what, res->old_serial, res->new_serial);
	return ret;
}

/* Commits the key and hands the signing to a background job (store_bulk.c). */
static int
sign_background(struct store *st, const struct store_zone *z, char *err, size_t errcap)
{
	struct bulk_job *job = NULL;
	int ret = bulk_start(st, z, &job);
	if (ret == -EINVAL)
		set_err(err, errcap, "zone '%s' has no active DNSSEC key that opens with the "
		        "--dnssec-key-file given", z->text);
	if (ret != 0) {
		w_rollback(st);
		return ret;
	}
	ret = w_commit(st);
	if (ret != 0) {
		bulk_discard(job);
		return ret;
	}
	log_info(z->text, "DNSSEC switched on: signing in the background");
	return bulk_run(st, job);
}

int
store_zone_sign(struct store *st, const uint8_t *zone, const char *account, bool nsec3,
                uint8_t alg, struct store_result *res, char *err, size_t errcap)
{
	memset(res, 0, sizeof(*res));
	if (!st->has_kek)
		return -EPERM;
	struct store_zone z;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	ret = zone_w(st, zone, account, &z);
	if (ret == 0 && z.dnssec && z.nsec3 == nsec3 && z.unsign_at > 0) {
		/* switched on again before the zone went unsigned: CDS DELETE withdrawn */
		z.unsign_at = 0;
		ret = unsign_at_set(st, z.id, 0);
		if (ret == 0)
			ret = resign_rrsets(st, &z, NULL, true, res, err, errcap);
		return end_write(st, &z, ret, res, "DNSSEC switch-off cancelled");
	}
	if (ret == 0 && z.dnssec && z.nsec3 != nsec3) {
		/* NSEC <-> NSEC3: the chain rebuilt and the zone re-signed in one serial
		 * (a switch-off under way is cancelled) */
		z.nsec3 = nsec3;
		z.unsign_at = 0;
		ret = unsign_at_set(st, z.id, 0);
		if (ret == 0)
			ret = zone_dnssec_mark(st, z.id, nsec3);
		if (ret == 0)
			ret = rechain_zone(st, &z, res, err, errcap);
		return end_write(st, &z, ret, res, nsec3 ? "denial switched to NSEC3" :
		                 "denial switched to NSEC");
	}
	if (ret != 0 || z.dnssec) {
		w_rollback(st);
		return ret;
	}
	if (ret == 0 && store_zone_signing(st, z.id)) {
		w_rollback(st);   /* being signed in the background already */
		return 0;
	}
	struct zkey keys[ZKEYS_MAX];
	int nk = ret == 0 ? zkeys_load(st, z.id, keys, ZKEYS_MAX) : 0;
	if (nk < 0)
		ret = nk;
	else
		zkeys_free(keys, (size_t)nk);
	if (ret == 0 && nk == 0)
		ret = zkey_create(st, z.id, "csk", alg ? alg : st->default_alg, true,
		                  true, NULL);
	if (ret == 0 && bulk_wanted(st, &z, nsec3))
		return sign_background(st, &z, err, errcap);
	if (ret == 0)
		ret = zone_dnssec_mark(st, z.id, nsec3);
	z.dnssec = true;
	z.nsec3 = nsec3;
	if (ret == 0)
		ret = sign_zone_full(st, &z, false, res, err, errcap);
	return end_write(st, &z, ret, res, "zone signed");
}

/* Deletes every key of zone `zid`, in the write transaction. */
static int
keys_delete(struct store *st, int64_t zid)
{
	struct zkey keys[ZKEYS_MAX];
	int nk = zkeys_load(st, zid, keys, ZKEYS_MAX);
	int ret = nk < 0 ? nk : 0;
	for (int i = 0; ret == 0 && i < nk; i++) {
		struct db_stmt *s = db_q(st->w, DBQ_KEY_DELETE);
		if (s == NULL) {
			ret = -EIO;
			break;
		}
		db_bind_i64(s, 1, zid);
		db_bind_i64(s, 2, keys[i].id);
		ret = db_run(s) == 0 ? 0 : -EIO;
	}
	if (nk > 0)
		zkeys_free(keys, (size_t)nk);
	return ret;
}

int
unsign_now(struct store *st, const struct store_zone *z, struct store_result *res, char *err,
           size_t errcap)
{
	int ret = unsign_zone(st, z, res, err, errcap);
	if (ret == 0)
		ret = unsign_at_set(st, z->id, 0);
	struct db_stmt *s = ret == 0 ? db_q(st->w, DBQ_DNSSEC_CLEAR) : NULL;
	if (ret == 0 && s == NULL)
		ret = -EIO;
	if (ret == 0) {
		db_bind_i64(s, 1, z->id);
		ret = db_run(s) == 0 ? 0 : -EIO;
	}
	if (ret == 0)
		ret = keys_delete(st, z->id);
	return ret;
}

int
store_zone_unsign(struct store *st, const uint8_t *zone, const char *account, bool now,
                  struct store_result *res, char *err, size_t errcap)
{
	memset(res, 0, sizeof(*res));
	struct store_zone z;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	ret = zone_w(st, zone, account, &z);
	if (ret == 0 && !z.dnssec) {
		if (!bulk_cancel(st, z.id)) {
			w_rollback(st);   /* not signed and not being signed */
			return 0;
		}
		/* switched off while signing in the background: the job stops; its
		 * staged rows and the key go (no DS can be at the parent yet) */
		ret = bulk_drop_staged(st, z.id);
		if (ret == 0)
			ret = keys_delete(st, z.id);
		return end_write(st, &z, ret, res, "background signing cancelled");
	}
	if (ret == 0 && !now && st->unsign_delay > 0 && z.unsign_at > 0) {
		w_rollback(st);     /* the switch-off already under way */
		return 0;
	}
	if (ret == 0 && (now || st->unsign_delay == 0)) {
		ret = unsign_now(st, &z, res, err, errcap);
		return end_write(st, &z, ret, res, "zone unsigned");
	}
	z.unsign_at = now_s() + st->unsign_delay;
	if (ret == 0)
		ret = unsign_at_set(st, z.id, z.unsign_at);
	if (ret == 0)
		ret = resign_rrsets(st, &z, NULL, true, res, err, errcap);
	return end_write(st, &z, ret, res, "DNSSEC switched off: CDS/CDNSKEY DELETE published");
}

int
store_snap_cryptokeys(struct store_snap *sn, const struct store_zone *z, store_cryptokey_fn fn,
                      void *ctx)
{
	struct db_stmt *s = db_q(sn->c->db, DBQ_KEYS_ZONE);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	int rc, ret = 0;
	while ((rc = db_step(s)) == DB_ROW) {
		struct store_cryptokey k = {
			.id = db_col_i64(s, 0),
			.flags = (uint16_t)db_col_int(s, 2),
			.alg = (uint8_t)db_col_int(s, 3),
			.tag = (uint16_t)db_col_int(s, 4),
			.dnskey = db_col_blob(s, 5),
			.dnskey_len = db_col_bytes(s, 5),
			.published = db_col_int(s, 7) != 0,
			.active = db_col_int(s, 8) != 0,
			.cds = db_col_int(s, 14) != 0,
		};
		copy_text(k.keytype, sizeof(k.keytype), db_col_text(s, 1));
		ret = fn(ctx, &k);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	db_done(s);
	return ret;
}

int
store_cryptokey_add(struct store *st, const uint8_t *zone, const char *account,
                    const char *keytype, uint8_t alg, bool active, bool published, int64_t *id,
                    struct store_result *res, char *err, size_t errcap)
{
	memset(res, 0, sizeof(*res));
	if (!st->has_kek)
		return -EPERM;
	struct store_zone z;
	int ret = signed_zone_begin(st, zone, account, &z, ": set \"dnssec\": true first", err,
	                            errcap);
	if (ret != 0)
		return ret;
	struct zkey keys[ZKEYS_MAX];
	int nk = zkeys_load(st, z.id, keys, ZKEYS_MAX);
	if (nk < 0)
		ret = nk;
	else
		zkeys_free(keys, (size_t)nk);
	if (ret == 0 && nk >= ZKEYS_MAX - 1) {
		set_err(err, errcap, "zone '%s' has %d keys already, the most allowed", z.text, nk);
		ret = -EINVAL;
	}
	if (ret == 0)
		ret = zkey_create(st, z.id, keytype, alg, active, published, id);
	if (ret == 0)
		ret = sign_zone_full(st, &z, false, res, err, errcap);
	return end_write(st, &z, ret, res, "DNSSEC key added");
}

int
store_cryptokey_set(struct store *st, const uint8_t *zone, const char *account, int64_t id,
                    bool del, bool active, bool published, struct store_result *res, char *err,
                    size_t errcap)
{
	memset(res, 0, sizeof(*res));
	struct store_zone z;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	ret = zone_w(st, zone, account, &z);
	struct zkey keys[ZKEYS_MAX];
	int nk = ret == 0 ? zkeys_load(st, z.id, keys, ZKEYS_MAX) : 0;
	if (nk < 0)
		ret = nk;
	bool found = false, other_active = false;
	for (int i = 0; ret == 0 && i < nk; i++) {
		if (keys[i].id == id)
			found = true;
		else
			other_active |= keys[i].active;
	}
	if (nk > 0)
		zkeys_free(keys, (size_t)nk);
	if (ret == 0 && !found)
		ret = -ENOENT;
	if (ret == 0 && z.dnssec && (del || !active) && !other_active) {
		set_err(err, errcap, "key %lld is the last active key of signed zone '%s'; add "
		        "another or switch dnssec off", (long long)id, z.text);
		ret = -EINVAL;
	}
	struct db_stmt *s = ret == 0 ? db_q(st->w, del ? DBQ_KEY_DELETE : DBQ_KEY_UPDATE) : NULL;
	if (ret == 0 && s == NULL)
		ret = -EIO;
	if (ret == 0) {
		db_bind_i64(s, 1, z.id);
		db_bind_i64(s, 2, id);
		if (!del) {
			db_bind_i64(s, 3, published ? 1 : 0);
			db_bind_i64(s, 4, active ? 1 : 0);
			db_bind_i64(s, 5, now_s());
		}
		ret = db_run(s) == 0 ? 0 : -EIO;
	}
	if (ret == 0 && z.dnssec)
		ret = sign_zone_full(st, &z, false, res, err, errcap);
	return end_write(st, &z, ret, res, del ? "DNSSEC key deleted" : "DNSSEC key changed");
}

/* A signature the refresh takes: expiring before `*ctx` (int64_t). */
static bool
sig_due(const struct dn_sig *s, const void *ctx)
{
	return dn_sig_exp(s->rd, s->rdlen) < *(const int64_t *)ctx;
}

int
store_zone_refresh(struct store *st, const uint8_t *zone, size_t max, struct store_result *res,
                   char *err, size_t errcap)
{
	memset(res, 0, sizeof(*res));
	struct store_zone z;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	ret = zone_w(st, zone, NULL, &z);
	if (ret != 0 || !z.dnssec) {
		w_rollback(st);
		return ret;
	}
	/* due: expiring within half the validity; the names whose earliest
	 * signature is due first (dnssec_names_exp), each one's due signatures,
	 * at most `max` */
	int64_t due = (int64_t)(uint32_t)((uint32_t)now_s() + st->sig_validity / 2);
	struct db_stmt *s = db_q(st->w, DBQ_SIGS_EXPIRING);
	if (s == NULL) {
		w_rollback(st);
		return -EIO;
	}
	db_bind_i64(s, 1, z.id);
	db_bind_i64(s, 2, due);
	db_bind_i64(s, 3, (int64_t)max);
	struct resign *list = NULL;
	size_t n = 0;
	int rc = DB_DONE;
	while (n < max && (rc = db_step(s)) == DB_ROW) {
		int got = dn_resign_add(st, db_col_blob(s, 0), db_col_bytes(s, 0), db_col_blob(s, 1),
		                        db_col_bytes(s, 1), sig_due, &due, max - n, &list);
		if (got == -ENOMEM) {
			rc = got;
			break;
		}
		n += got > 0 ? (size_t)got : 0;   /* a damaged owner: skipped */
	}
	if (n >= max && rc == DB_ROW)
		rc = DB_DONE;   /* as many as one pass takes */
	db_done(s);
	if (rc != DB_DONE)
		ret = rc < 0 ? rc : -EIO;
	if (ret == 0 && list != NULL)
		ret = resign_rrsets(st, &z, list, false, res, err, errcap);
	return end_write(st, &z, ret, res, "signatures refreshed");
}
