/*
 * KSK and CSK rollover, double-signature (RFC 6781 §4.1.2, RFC 7583 §3.3.2),
 * with CDS and CDNSKEY (RFC 7344, RFC 8078), and the CDS DELETE transition
 * when DNSSEC is switched off (issue 15).  Knot's per-key timestamps
 * (schema 0005; 0010's dnssec_key_roll: t_ready, t_ds, cds; zone_unsign),
 * one step a transaction, one
 * serial and one journal entry each:
 *   start    (API: PUT cryptokeys/{n} {"rollover": true} on the active KSK or
 *            CSK) a new key of the same type and algorithm is published and
 *            active at once: it signs the DNSKEY rrset (a CSK: every rrset)
 *            beside the old one; t_ready = now + DNSKEY TTL + propagation delay;
 *   ready    (resigner, at t_ready: the new DNSKEY is in every cache) CDS and
 *            CDNSKEY of the new key are published, signed by both keys: the
 *            parent may swap its DS now;
 *   ds seen  (API: PUT cryptokeys/{n} {"ds_seen": true}) CDS/CDNSKEY are
 *            withdrawn and the old key's t_remove = now + --dnssec-ds-ttl +
 *            propagation delay (the old DS leaves the caches);
 *   retire   (resigner, at t_remove) the old key stops signing, still
 *            published; store_roll.c's retired-key steps drop what it still
 *            signs (a CSK's signatures, in batches) and then delete it.
 * A validator holding either DS validates at every serial: the DNSKEY rrset
 * is signed by both keys from start to retire.
 * Unsigning: PUT zone {"dnssec": false} publishes CDS "0 0 0 00" and CDNSKEY
 * "0 3 0 AA==" (RFC 8078 §4), signed, and the zone stays signed until
 * t_unsign (now + --dnssec-unsign-delay) or {"dnssec": false,
 * "ds_removed": true}; {"dnssec": true} in between cancels.
 */
#include "primary/store_int.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

/* A key's KSK-rollover view (DBQ_KEY_TIMES). */
struct kk {
	int64_t id;
	uint16_t flags, tag;
	uint8_t alg;
	char keytype[8];
	bool published, active, cds;
	int64_t t_retire, t_remove, t_ready, t_ds;
};

struct kset {
	struct kk keys[ZKEYS_MAX];
	size_t n;
	struct kk *in;     /* incoming: active, t_ready planned, its DS not seen yet */
	struct kk *out;    /* outgoing: active, t_remove planned */
	struct kk *gone;   /* retired SEP key, still published */
	int64_t now;
};

static bool
sep(const struct kk *k)
{
	return (k->flags & DNS_DNSSEC_FLAG_SEP) != 0;
}

static int
kset_load(struct store *st, int64_t zid, struct kset *ks)
{
	memset(ks, 0, sizeof(*ks));
	ks->now = now_s();
	struct db_stmt *s = db_q(st->w, DBQ_KEY_TIMES);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	int rc;
	while ((rc = db_step(s)) == DB_ROW && ks->n < ZKEYS_MAX) {
		struct kk *k = &ks->keys[ks->n++];
		k->id = db_col_i64(s, 0);
		k->flags = (uint16_t)db_col_int(s, 1);
		k->alg = (uint8_t)db_col_int(s, 2);
		k->published = db_col_int(s, 3) != 0;
		k->active = db_col_int(s, 4) != 0;
		k->t_retire = db_col_i64(s, 6);
		k->t_remove = db_col_i64(s, 7);
		k->tag = (uint16_t)db_col_int(s, 8);
		copy_text(k->keytype, sizeof(k->keytype), db_col_text(s, 9));
		k->t_ready = db_col_i64(s, 10);
		k->t_ds = db_col_i64(s, 11);
		k->cds = db_col_int(s, 12) != 0;
	}
	db_done(s);
	if (rc < 0)
		return -EIO;
	for (size_t i = 0; i < ks->n; i++) {
		struct kk *k = &ks->keys[i];
		if (!sep(k))
			continue;
		if (k->active && k->published && k->t_ready > 0 && k->t_ds == 0 && ks->in == NULL)
			ks->in = k;
		else if (k->active && k->t_remove > 0 && ks->out == NULL)
			ks->out = k;
		else if (!k->active && k->published && k->t_remove > 0 && ks->gone == NULL)
			ks->gone = k;
	}
	return 0;
}

static int
kk_set(struct store *st, int64_t zid, const struct kk *k)
{
	struct db_stmt *s = db_q(st->w, DBQ_KEY_KSK_SET);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_i64(s, 2, k->id);
	db_bind_i64(s, 3, k->active ? 1 : 0);
	db_bind_i64(s, 4, k->t_retire);
	db_bind_i64(s, 5, k->t_remove);
	if (db_run(s) != 0)
		return -EIO;
	s = db_q(st->w, DBQ_KEY_ROLL_SET);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_i64(s, 2, k->id);
	db_bind_i64(s, 3, k->t_ready);
	db_bind_i64(s, 4, k->t_ds);
	db_bind_i64(s, 5, k->cds ? 1 : 0);
	return db_run(s) == 0 ? 0 : -EIO;
}

static struct kk *
kset_find(struct kset *ks, int64_t id)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->keys[i].id == id)
			return &ks->keys[i];
	return NULL;
}

/* Opens the write transaction on signed zone `zone` (account's) with its keys. */
static int
ksk_begin(struct store *st, const uint8_t *zone, const char *account, struct store_zone *z,
          struct kset *ks, char *err, size_t errcap)
{
	int ret = signed_zone_begin(st, zone, account, z, "", err, errcap);
	if (ret != 0)
		return ret;
	if (z->unsign_at > 0) {
		set_err(err, errcap, "zone '%s' is being unsigned (CDS DELETE published); set "
		        "\"dnssec\": true first", z->text);
		ret = -EINVAL;
	}
	if (ret == 0)
		ret = kset_load(st, z->id, ks);
	if (ret != 0)
		w_rollback(st);
	return ret;
}

int
store_ksk_rollover(struct store *st, const uint8_t *zone, const char *account, int64_t key_id,
                   struct store_result *res, char *err, size_t errcap)
{
	memset(res, 0, sizeof(*res));
	if (!st->has_kek)
		return -EPERM;
	struct store_zone z;
	struct kset ks;
	int ret = ksk_begin(st, zone, account, &z, &ks, err, errcap);
	if (ret != 0)
		return ret;
	struct kk *old = kset_find(&ks, key_id);
	if (old == NULL) {
		ret = -ENOENT;
	} else if (!sep(old) || !old->active || !old->published) {
		set_err(err, errcap, "key %lld of zone '%s' is not an active published KSK or CSK",
		        (long long)key_id, z.text);
		ret = -EINVAL;
	} else if (ks.in != NULL || ks.out != NULL || ks.gone != NULL) {
		set_err(err, errcap, "zone '%s' has a KSK rollover under way", z.text);
		ret = -EEXIST;
	} else if (ks.n >= ZKEYS_MAX - 1) {
		set_err(err, errcap, "zone '%s' has %zu keys already, the most allowed", z.text, ks.n);
		ret = -EINVAL;
	}
	struct kk nk = {.active = true, .t_ready = ks.now + st->dnskey_ttl + st->roll_delay};
	if (ret == 0)
		ret = zkey_create_unique(st, z.id, old->keytype, old->alg, true, &nk.id);
	if (ret == 0)
		ret = kk_set(st, z.id, &nk);
	bool csk = ret == 0 && strcmp(old->keytype, "csk") == 0;
	if (ret == 0 && csk)
		ret = sign_zone_full(st, &z, false, res, err, errcap);
	else if (ret == 0)
		ret = resign_rrsets(st, &z, NULL, true, res, err, errcap);
	return end_write(st, &z, ret, res, csk ? "CSK rollover started, new CSK signing" :
	                 "KSK rollover started, new KSK signing the DNSKEY rrset");
}

int
store_ksk_ds_seen(struct store *st, const uint8_t *zone, const char *account, int64_t key_id,
                  struct store_result *res, char *err, size_t errcap)
{
	memset(res, 0, sizeof(*res));
	struct store_zone z;
	struct kset ks;
	int ret = ksk_begin(st, zone, account, &z, &ks, err, errcap);
	if (ret != 0)
		return ret;
	struct kk *k = kset_find(&ks, key_id);
	if (k == NULL) {
		ret = -ENOENT;
	} else if (sep(k) && k->active && k->t_ds > 0) {
		w_rollback(st);     /* seen already: nothing to do */
		return 0;
	} else if (k != ks.in) {
		set_err(err, errcap, "key %lld of zone '%s' is not an incoming KSK awaiting its DS",
		        (long long)key_id, z.text);
		ret = -EINVAL;
	} else if (!k->cds) {
		set_err(err, errcap, "key %lld of zone '%s': its CDS is not published yet (in %lld s): "
		        "the parent's DS must not change before", (long long)key_id, z.text,
		        (long long)(k->t_ready - ks.now));
		ret = -EINVAL;
	}
	if (ret == 0) {
		k->t_ds = ks.now;
		k->cds = false;
		ret = kk_set(st, z.id, k);
	}
	for (size_t i = 0; ret == 0 && i < ks.n; i++) {
		struct kk *o = &ks.keys[i];
		if (o == k || !sep(o) || !o->active)
			continue;
		o->t_remove = ks.now + st->ds_ttl + st->roll_delay;
		ret = kk_set(st, z.id, o);
	}
	if (ret == 0)
		ret = resign_rrsets(st, &z, NULL, true, res, err, errcap);
	if (ret == 0)
		log_info(z.text, "DS of key %u seen at the parent: CDS/CDNSKEY withdrawn", k->tag);
	return end_write(st, &z, ret, res, "KSK rollover: DS seen");
}

int
ksk_step(struct store *st, const struct store_zone *z, struct store_result *res,
         const char **what, char *err, size_t errcap)
{
	struct kset ks;
	int ret = kset_load(st, z->id, &ks);
	if (ret != 0)
		return ret;
	*what = "KSK rollover step";
	/* strictly after: times are whole seconds, so a switch-off at x.999 s
	 * with a delay of d is due at the second x + d + 1, never before d
	 * full seconds of CDS DELETE (at >= it could be d - 1 s and a little) */
	if (z->unsign_at > 0 && ks.now > z->unsign_at) {
		*what = "zone unsigned (CDS DELETE period over)";
		ret = unsign_now(st, z, res, err, errcap);
		return ret == 0 ? 1 : ret;
	}
	if (z->unsign_at == 0 && ks.in != NULL && !ks.in->cds && ks.now >= ks.in->t_ready) {
		ks.in->cds = true;
		ret = kk_set(st, z->id, ks.in);
		if (ret == 0)
			log_info(z->text, "key %u ready: CDS/CDNSKEY published", ks.in->tag);
	} else if (ks.out != NULL && ks.in == NULL && ks.now >= ks.out->t_remove) {
		ks.out->active = false;
		ks.out->t_retire = ks.now;
		ret = kk_set(st, z->id, ks.out);
		if (ret == 0)
			log_info(z->text, "key %u retired: it no longer signs", ks.out->tag);
	} else {
		return 0;
	}
	if (ret == 0)
		ret = resign_rrsets(st, z, NULL, true, res, err, errcap);
	return ret == 0 ? 1 : ret;
}

/* RFC 8078 §4: CDS "0 0 0 00" and CDNSKEY "0 3 0 AA==". */
static const uint8_t cds_delete[5] = {0, 0, 0, 0, 0};
static const uint8_t cdnskey_delete[5] = {0, 0, 3, 0, 0};

int
cds_build(struct store *st, const struct store_zone *z, const struct zkey *keys, size_t nkeys,
          struct cds_set *out)
{
	memset(out, 0, sizeof(*out));
	if (z->unsign_at > 0) {
		out->cds[0] = cds_delete;
		out->cdslen[0] = sizeof(cds_delete);
		out->cdnskey[0] = cdnskey_delete;
		out->cdnskeylen[0] = sizeof(cdnskey_delete);
		out->n = 1;
		return 0;
	}
	for (size_t i = 0; i < nkeys && out->n < ZKEYS_MAX; i++) {
		/* a key taken out of service by hand mid-rollover loses its CDS too */
		if (!keys[i].cds || !keys[i].published || !keys[i].active)
			continue;
		uint8_t d[DNS_DNSSEC_DS_MAX];
		int n = dns_dnssec_ds(z->name, keys[i].dnskey, keys[i].dnskey_len,
		                      DNS_DNSSEC_DS_SHA256, d, sizeof(d));
		if (n < 4)
			return -EIO;
		out->cds[out->n] = arena_memdup(&st->arena, d, (size_t)n);
		if (out->cds[out->n] == NULL)
			return -ENOMEM;
		out->cdslen[out->n] = (size_t)n;
		out->cdnskey[out->n] = keys[i].dnskey;
		out->cdnskeylen[out->n] = keys[i].dnskey_len;
		out->n++;
	}
	return 0;
}

int
unsign_at_set(struct store *st, int64_t zid, int64_t at)
{
	struct db_stmt *s = db_q(st->w, at > 0 ? DBQ_UNSIGN_SET : DBQ_UNSIGN_CLEAR);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	if (at > 0)
		db_bind_i64(s, 2, at);
	return db_run(s) == 0 ? 0 : -EIO;
}
