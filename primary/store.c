/*
 * The store (see store.h for the contracts, store_int.h for the files):
 * opening and closing, snapshots and the reads on them, statistics.  The
 * reader pool, the writer lock and the commit listener are in store_txn.c.
 *
 * One writer connection guarded by `wmu`: a write request takes the mutex,
 * runs one write transaction and releases it, so writers queue instead of
 * failing as busy.  Zone changes (PATCH, DNS UPDATE) queue to the group
 * commit instead (store_txn.c w_group): those waiting are written together,
 * a savepoint each, one commit.  Readers take a connection from a pool and hold a read
 * transaction (a stable snapshot).
 *
 * A change (PATCH, create, catalog update) is applied in three phases inside
 * the transaction (store_change.c): apply the ops in order, remembering each
 * touched rrset's rows as they were before the first touch; check the zone
 * rules on every touched name; diff before/after of each touched rrset into
 * the journal blobs, bump the serial once, write the SOA, the journal row and
 * trim it.  Any failure rolls the whole transaction back.
 */
#include "primary/store_int.h"
#include "primary/dn_rows.h"

#include <errno.h>
#include <inttypes.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/rrtype.h"
#include "util/err.h"
#include "util/log.h"

/* Every zone as changed (a listening connection was made again: announcements
 * may have been missed), so that caches forget and POPs hear of them. */
static void
resync(struct store *st, const struct store_listener *l)
{
	struct store_snap *sn = NULL;
	if (store_snap_open(st, &sn) != 0)
		return;
	struct db_stmt *s = db_q(sn->c->db, DBQ_ZONES_LIST);
	struct store_zone z;
	size_t n = 0;
	if (s != NULL) {
		db_bind_text(s, 1, "");
		db_bind_i64(s, 2, -1);
		while (db_step(s) == DB_ROW) {
			if (zone_from_row(s, &z) != 0)
				continue;
			struct store_commit c = {.zone = z.name, .old_serial = z.serial,
			                         .new_serial = z.serial, .kind = STORE_ZONE_CHANGED};
			l->on_commit(l->ctx, &c);
			n++;
		}
		db_done(s);
	}
	if (zone_get(sn->c->db, st->catalog, &z) == 0) {
		struct store_commit c = {.zone = z.name, .old_serial = z.serial,
		                         .new_serial = z.serial, .kind = STORE_CATALOG_CHANGED};
		l->on_commit(l->ctx, &c);
	}
	store_snap_close(sn);
	log_notice(NULL, "store: %zu zones read again (notifier lock taken, or announcements "
	           "missed)", n);
}

/*
 * An announcement heard from the database (db_listen): another node's
 * commit reaches this node's listener as its own would (caches forget,
 * propagation, NOTIFY); this node's own are skipped (w_commit told them).
 */
static void
heard(struct store *st, const char *payload)
{
	uint64_t node;
	int off = 0;
	if (payload == NULL && st->pops_fn != NULL)
		st->pops_fn(st->pops_ctx);   /* announcements may have been missed */
	if (payload != NULL && sscanf(payload, "%" SCNx64 " pops%n", &node, &off) == 1 && off > 0 &&
	    payload[off] == '\0') {
		if (node != st->node_id && st->pops_fn != NULL)
			st->pops_fn(st->pops_ctx);
		return;
	}
	pthread_mutex_lock(&st->wmu);
	struct store_listener l = st->listener;
	pthread_mutex_unlock(&st->wmu);
	if (l.on_commit == NULL)
		return;
	if (payload == NULL) {
		resync(st, &l);
		return;
	}
	int kind;
	uint32_t from, to;
	uint8_t zone[DNS_NAME_MAX];
	if (sscanf(payload, "%" SCNx64 " %d %" SCNu32 " %" SCNu32 " %n", &node, &kind, &from, &to,
	           &off) != 4 || off == 0 || kind < STORE_ZONE_CREATED ||
	    kind > STORE_CATALOG_CHANGED ||
	    dns_name_from_text(payload + off, strlen(payload + off), NULL, zone) <= 0) {
		log_warning(NULL, "store: a commit announcement not understood: '%.80s'", payload);
		return;
	}
	if (node == st->node_id)
		return;
	dns_name_lower(zone);
	struct store_commit c = {.zone = zone, .old_serial = from, .new_serial = to,
	                         .kind = (enum store_change)kind};
	l.on_commit(l.ctx, &c);
}

/* heard() under heard_mu: store_set_listener waits for it. */
static void
store_heard(void *ctx, const char *payload)
{
	struct store *st = ctx;
	pthread_mutex_lock(&st->heard_mu);
	heard(st, payload);
	pthread_mutex_unlock(&st->heard_mu);
}

/* The notifier lock taken or lost (db_listen): on taking it, every zone is
 * NOTIFYd (the last holder may have died before announcing some). */
static void
store_lead(void *ctx, bool leader)
{
	struct store *st = ctx;
	pthread_mutex_lock(&st->stats_mu);
	st->notifier = leader;
	pthread_mutex_unlock(&st->stats_mu);
	if (leader)
		store_heard(st, NULL);
}

bool
store_notifier(struct store *st)
{
	pthread_mutex_lock(&st->stats_mu);
	bool n = st->notifier;
	pthread_mutex_unlock(&st->stats_mu);
	return n;
}

int
store_open(const struct store_opts *o, struct store **out, char *err, size_t errcap)
{
	db_init();
	struct store *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	pthread_mutex_init(&st->wmu, NULL);
	pthread_mutex_init(&st->pool_mu, NULL);
	pthread_mutex_init(&st->stats_mu, NULL);
	pthread_mutex_init(&st->heard_mu, NULL);
	pthread_mutex_init(&st->jobs_mu, NULL);
	pthread_mutex_init(&st->audit_mu, NULL);
	pthread_mutex_init(&st->gmu, NULL);
	pthread_cond_init(&st->listener_idle, NULL);
	st->bulk_min = o->dnssec_background_min ? o->dnssec_background_min : 1000;
	arena_init(&st->arena, 64 * 1024);
	st->journal_keep = o->journal_keep ? o->journal_keep : STORE_JOURNAL_KEEP_DEFAULT;
	st->journal_keep_age = o->journal_keep_age;
	st->sig_validity = o->dnssec_validity ? o->dnssec_validity : 14 * 86400;
	st->dnskey_ttl = o->dnssec_dnskey_ttl ? o->dnssec_dnskey_ttl : 3600;
	st->roll_delay = o->dnssec_propagation_delay;
	st->default_alg = o->dnssec_alg ? (uint8_t)o->dnssec_alg : DNS_DNSSEC_ALG_ECDSAP256SHA256;
	st->zsk_lifetime = o->dnssec_zsk_lifetime;
	st->ds_ttl = o->dnssec_ds_ttl;
	st->unsign_delay = o->dnssec_unsign_delay;
	if (o->dnssec_secret != NULL) {
		st->has_kek = gnutls_hash_fast(GNUTLS_DIG_SHA256, o->dnssec_secret,
		                               strlen(o->dnssec_secret), st->kek) == 0;
	}
	st->path = strdup(o->path);
	int ret = -ENOMEM;
	if (st->path == NULL)
		goto fail;
	const char *cat = o->catalog ? o->catalog : "catalog.anycst.invalid.";
	if (dns_name_from_text(cat, strlen(cat), NULL, st->catalog) <= 0 ||
	    st->catalog[0] == 0) {
		set_err(err, errcap, "bad catalog zone name '%s'", cat);
		ret = -EINVAL;
		goto fail;
	}
	dns_name_lower(st->catalog);
	dns_name_to_text(st->catalog, st->catalog_text, sizeof(st->catalog_text));
	if (db_open(st->path, true, false, &st->w) != 0) {
		set_err(err, errcap, "%s: cannot open: %s", db_is_pg(st->path) ? "PostgreSQL" : st->path,
		        db_errmsg(st->w));
		ret = -EIO;
		goto fail;
	}
	ret = db_migrate(st->w, st->path, err, errcap);
	if (ret != 0)
		goto fail;
	ret = lkey_backfill(st, err, errcap);
	if (ret != 0)
		goto fail;
	ret = catalog_ensure(st, err, errcap);
	if (ret != 0)
		goto fail;
	if (db_writer_ready(st->w) != 0) {
		ret = -EIO;
		goto fail;
	}
	st->wal_max = (int64_t)(o->wal_max_mib ? o->wal_max_mib : 64) << 20;
	st->ckpt = db_ckpt_start(st->path, st->wal_max);
	if (db_shared(st->w)) {
		if (gnutls_rnd(GNUTLS_RND_NONCE, &st->node_id, sizeof(st->node_id)) != 0) {
			ret = -EIO;
			goto fail;
		}
		st->listen = db_listen_start(st->path, store_heard, store_lead, st);
	} else {
		st->notifier = true;   /* one node */
	}
	bulk_resume(st);   /* signings a stop interrupted start over */
	*out = st;
	return 0;
fail:
	store_close(st);
	return ret;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	bulk_stop_all(st);
	db_listen_stop(st->listen);
	db_ckpt_stop(st->ckpt);
	while (st->pool != NULL) {
		struct conn *c = st->pool;
		st->pool = c->next;
		db_close(c->db);
		free(c);
	}
	db_close(st->w);
	keycache_free(st);
	arena_clear(&st->arena);
	pthread_mutex_destroy(&st->wmu);
	pthread_mutex_destroy(&st->pool_mu);
	pthread_mutex_destroy(&st->stats_mu);
	pthread_mutex_destroy(&st->heard_mu);
	pthread_mutex_destroy(&st->jobs_mu);
	pthread_mutex_destroy(&st->audit_mu);
	pthread_mutex_destroy(&st->gmu);
	pthread_cond_destroy(&st->listener_idle);
	free(st->path);
	free(st);
}

const uint8_t *
store_catalog_name(const struct store *st)
{
	return st->catalog;
}

/* ---- snapshots ------------------------------------------------------------------- */

int
store_snap_open(struct store *st, struct store_snap **out)
{
	struct store_snap *sn = calloc(1, sizeof(*sn));
	if (sn == NULL)
		return -ENOMEM;
	sn->st = st;
	sn->c = pool_get(st);
	if (sn->c == NULL) {
		free(sn);
		return db_shared(st->w) ? ERR_DB_DOWN : -EIO;   /* cannot connect */
	}
	if (db_begin_read(sn->c->db) != 0) {
		int ret = db_down(sn->c->db) ? ERR_DB_DOWN : -EIO;
		pool_put(st, sn->c);
		free(sn);
		return ret;
	}
	*out = sn;
	return 0;
}

void
store_snap_close(struct store_snap *sn)
{
	if (sn == NULL)
		return;
	db_commit(sn->c->db);
	pool_put(sn->st, sn->c);
	free(sn);
}

int
store_snap_zone(struct store_snap *sn, const uint8_t *name, struct store_zone *out)
{
	return zone_get(sn->c->db, name, out);
}

int
store_snap_zone_text(struct store_snap *sn, const char *name, struct store_zone *out)
{
	uint8_t w[DNS_NAME_MAX];
	size_t len = strlen(name);
	if (len == 0 || dns_name_from_text(name, len, NULL, w) <= 0)
		return -EINVAL;
	return zone_get(sn->c->db, w, out);
}

int
store_snap_zones(struct store_snap *sn, const char *account, const char *after, size_t limit,
                 store_zone_fn fn, void *ctx)
{
	struct db_stmt *s = db_q(sn->c->db, account ? DBQ_ZONES_LIST_ACC : DBQ_ZONES_LIST);
	if (s == NULL)
		return -EIO;
	db_bind_text(s, 1, after ? after : "");
	db_bind_i64(s, 2, limit ? (int64_t)limit : -1);
	if (account)
		db_bind_text(s, 3, account);
	int rc, ret = 0;
	struct store_zone z;
	while ((rc = db_step(s)) == DB_ROW) {
		if (zone_from_row(s, &z) != 0)
			continue;
		ret = fn(ctx, &z);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	db_done(s);
	return ret;
}

int
store_snap_records(struct store_snap *sn, const struct store_zone *z, store_rr_fn fn, void *ctx)
{
	struct nkey apex;
	nkey_set(&apex, z->name);
	struct db_stmt *s = db_q(sn->c->db, DBQ_SOA);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	db_bind_blob(s, 2, apex.key, apex.klen);
	int rc = db_step(s);
	int ret = 0;
	if (rc != DB_ROW) {
		db_done(s);
		return -EIO;
	}
	struct dns_rr rr = {.owner = db_col_blob(s, 0), .type = DNS_T_SOA, .rclass = DNS_C_IN,
	                    .ttl = (uint32_t)db_col_i64(s, 1),
	                    .rdlen = (uint16_t)db_col_bytes(s, 2),
	                    .rdata = db_col_blob(s, 2)};
	ret = fn(ctx, &rr);
	db_done(s);
	if (ret != 0)
		return ret;
	struct store_rr_cursor *c;
	ret = store_snap_cursor(sn, z, &c);
	if (ret != 0)
		return ret;
	while ((rc = store_rr_cursor_next(c, &rr)) == 1 && (ret = fn(ctx, &rr)) == 0)
		;
	store_rr_cursor_close(c);
	return ret != 0 ? ret : rc;
}

/*
 * A zone's records after its SOA: the rows of `records`, then, when the
 * zone is signed, those of dnssec_names (schema 0012), each name's chain
 * record and its RRSIGs (an unsigned zone's are a background signing's
 * staged ones, left out: store_bulk.c).
 */
struct store_rr_cursor {
	struct db *db;
	struct db_stmt *s;
	int64_t zid;
	bool signed_zone;
	int phase;            /* 0: records, 1: dnssec_names */
	bool row;             /* a dnssec_names row is current */
	bool chain_sent;
	const uint8_t *sigs;  /* its signatures, the next at pos */
	size_t slen, pos;
	struct nkey apex;     /* bound to s (static binding) */
};

int
store_snap_cursor(struct store_snap *sn, const struct store_zone *z,
                  struct store_rr_cursor **out)
{
	struct store_rr_cursor *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	nkey_set(&c->apex, z->name);
	c->db = sn->c->db;
	c->zid = z->id;
	c->signed_zone = z->dnssec;
	c->s = db_q(c->db, DBQ_AXFR_REST);
	if (c->s == NULL) {
		free(c);
		return -EIO;
	}
	db_bind_i64(c->s, 1, z->id);
	db_bind_blob(c->s, 2, c->apex.key, c->apex.klen);
	*out = c;
	return 0;
}

/* A record from columns owner, type, TTL, rdata (DBQ_AXFR_REST; DBQ_AXFR_DN's chain). */
static void
rr_cols(struct db_stmt *s, struct dns_rr *rr)
{
	rr->owner = db_col_blob(s, 0);
	rr->type = (uint16_t)db_col_int(s, 1);
	rr->rclass = DNS_C_IN;
	rr->ttl = (uint32_t)db_col_i64(s, 2);
	rr->rdlen = (uint16_t)db_col_bytes(s, 3);
	rr->rdata = db_col_blob(s, 3);
	if (rr->rdata == NULL)
		rr->rdata = (const uint8_t *)"";
}

/* The next record of the cursor's dnssec_names rows: 1, 0 at the end, <0. */
static int
cursor_dn_next(struct store_rr_cursor *c, struct dns_rr *rr)
{
	for (;;) {
		if (!c->row) {
			int rc = db_step(c->s);
			if (rc == DB_DONE)
				return 0;
			if (rc != DB_ROW)
				return -EIO;
			c->row = true;
			c->chain_sent = false;
			c->sigs = db_col_blob(c->s, 4);
			c->slen = db_col_bytes(c->s, 4);
			c->pos = 0;
		}
		rr->owner = db_col_blob(c->s, 0);
		rr->rclass = DNS_C_IN;
		if (!c->chain_sent) {
			c->chain_sent = true;
			if (db_col_int(c->s, 1) != 0) {
				rr_cols(c->s, rr);
				return 1;
			}
		}
		struct dn_sig sg;
		int r = dn_sig_next(c->sigs, c->slen, &c->pos, &sg);
		if (r < 0)
			return -EIO;
		if (r == 1) {
			rr->type = DNS_T_RRSIG;
			rr->ttl = sg.ttl;
			rr->rdlen = sg.rdlen;
			rr->rdata = sg.rd;
			return 1;
		}
		c->row = false;
	}
}

int
store_rr_cursor_next(struct store_rr_cursor *c, struct dns_rr *rr)
{
	if (c->phase == 1)
		return cursor_dn_next(c, rr);
	int rc = db_step(c->s);
	if (rc == DB_DONE) {
		db_done(c->s);
		c->s = NULL;
		if (!c->signed_zone)
			return 0;
		c->s = db_q(c->db, DBQ_AXFR_DN);
		if (c->s == NULL)
			return -EIO;
		db_bind_i64(c->s, 1, c->zid);
		c->phase = 1;
		return cursor_dn_next(c, rr);
	}
	if (rc != DB_ROW)
		return -EIO;
	rr_cols(c->s, rr);
	return 1;
}

void
store_rr_cursor_close(struct store_rr_cursor *c)
{
	if (c == NULL)
		return;
	if (c->s != NULL)
		db_done(c->s);
	free(c);
}

bool
store_type_signer(uint16_t t)
{
	return t == DNS_T_RRSIG || t == DNS_T_NSEC || t == DNS_T_NSEC3 || t == DNS_T_NSEC3PARAM ||
	       t == DNS_T_DNSKEY || t == DNS_T_CDS || t == DNS_T_CDNSKEY;
}

int
store_snap_rows(struct store_snap *sn, const struct store_zone *z, const uint8_t *owner,
                uint16_t type, store_row_fn fn, void *ctx)
{
	struct nkey k;
	struct db_stmt *s;
	if (owner != NULL) {
		nkey_set(&k, owner);
		s = db_q(sn->c->db, type ? DBQ_ROWS_RRSET : DBQ_ROWS_OWNER);
		if (s == NULL)
			return -EIO;
		db_bind_blob(s, 2, k.key, k.klen);
		if (type)
			db_bind_i64(s, 3, type);
	} else {
		s = db_q(sn->c->db, DBQ_ROWS_ALL);
		if (s == NULL)
			return -EIO;
	}
	db_bind_i64(s, 1, z->id);
	int rc, ret = 0;
	struct store_row r;
	while ((rc = db_step(s)) == DB_ROW) {
		r.owner = db_col_blob(s, 0);
		r.type = (uint16_t)db_col_int(s, 1);
		if ((owner == NULL && type != 0 && r.type != type) || store_type_signer(r.type))
			continue;
		r.ttl = (uint32_t)db_col_i64(s, 2);
		r.rdlen = (uint16_t)db_col_bytes(s, 3);
		r.rdata = db_col_blob(s, 3);
		if (r.rdata == NULL)
			r.rdata = (const uint8_t *)"";
		r.disabled = db_col_int(s, 4) != 0;
		r.content = db_col_text(s, 5);
		ret = fn(ctx, &r);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	db_done(s);
	return ret;
}

int
store_snap_comments(struct store_snap *sn, const struct store_zone *z, store_comment_fn fn,
                    void *ctx)
{
	struct db_stmt *s = db_q(sn->c->db, DBQ_COMMENTS_ALL);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	int rc, ret = 0;
	while ((rc = db_step(s)) == DB_ROW) {
		uint8_t owner[DNS_NAME_MAX];
		if (dns_name_from_lookup(db_col_blob(s, 0), (size_t)db_col_bytes(s, 0),
		                         owner) <= 0)
			continue;
		struct store_comment c = {.content = (const char *)db_col_text(s, 2),
		                          .account = (const char *)db_col_text(s, 3),
		                          .modified_at = db_col_i64(s, 4)};
		ret = fn(ctx, owner, (uint16_t)db_col_int(s, 1), &c);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	db_done(s);
	return ret;
}


/* ---- statistics ------------------------------------------------------------------- */

/* Runs the count queries `ids` (binding `account` when not NULL) into `dst`. */
static int
counts(struct store *st, const enum db_qid *ids, uint64_t *const *dst, const char *account)
{
	struct conn *c = pool_get(st);
	if (c == NULL)
		return -EIO;
	int ret = 0;
	for (int i = 0; i < 3 && ret == 0; i++) {
		struct db_stmt *s = db_q(c->db, ids[i]);
		if (s == NULL) {
			ret = -EIO;
			break;
		}
		if (account != NULL)
			db_bind_text(s, 1, account);
		if (db_step(s) == DB_ROW)
			*dst[i] = (uint64_t)db_col_i64(s, 0);
		else if (account != NULL)
			ret = -EIO;
		db_done(s);
	}
	pool_put(st, c);
	return ret;
}

int
store_stats(struct store *st, struct store_stats *out)
{
	memset(out, 0, sizeof(*out));
	static const enum db_qid ids[3] = {DBQ_COUNT_ZONES, DBQ_COUNT_RECORDS, DBQ_COUNT_JOURNAL};
	uint64_t *dst[3] = {&out->zones, &out->records, &out->journal_entries};
	int ret = counts(st, ids, dst, NULL);
	pthread_mutex_lock(&st->stats_mu);
	out->last_commit = st->last_commit;
	out->commits = st->commits;
	out->groups = st->groups;
	out->grouped = st->grouped;
	pthread_mutex_unlock(&st->stats_mu);
	return ret;
}

int
store_stats_account(struct store *st, const char *account, struct store_stats *out)
{
	memset(out, 0, sizeof(*out));
	static const enum db_qid ids[3] = {DBQ_COUNT_ACC_ZONES, DBQ_COUNT_ACC_RECORDS,
	                                   DBQ_COUNT_ACC_JOURNAL};
	uint64_t *dst[3] = {&out->zones, &out->records, &out->journal_entries};
	return counts(st, ids, dst, account);
}
