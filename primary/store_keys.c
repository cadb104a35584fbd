/*
 * TSIG keys (zones' master_tsig_key_ids refer to them by name) and API keys
 * (kept as SHA-256 of the key, bound to an account).
 */
#include "primary/store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "util/err.h"

static int
tsig_norm(const char *name, char *out, size_t cap)
{
	uint8_t w[DNS_NAME_MAX];
	size_t len = strlen(name);
	if (len == 0 || dns_name_from_text(name, len, NULL, w) <= 0 || w[0] == 0)
		return -EINVAL;
	return name_text(w, out, cap) < 0 ? -EINVAL : 0;
}

static int
tsig_rows(struct db_stmt *s, store_tsig_fn fn, void *ctx)
{
	int rc, ret = 0;
	struct store_tsig_key k;
	while ((rc = db_step(s)) == DB_ROW) {
		copy_text(k.name, sizeof(k.name), db_col_text(s, 0));
		copy_text(k.algorithm, sizeof(k.algorithm), db_col_text(s, 1));
		copy_text(k.secret, sizeof(k.secret), db_col_text(s, 2));
		ret = fn(ctx, &k);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	db_done(s);
	return ret;
}

static int
tsig_copy(void *ctx, const struct store_tsig_key *k)
{
	memcpy(ctx, k, sizeof(*k));
	return 1;
}

int
store_snap_tsig_key(struct store_snap *sn, const char *name, struct store_tsig_key *out)
{
	char n[DNS_NAME_TEXT_MAX];
	if (tsig_norm(name, n, sizeof(n)) != 0)
		return -ENOENT;
	struct db_stmt *s = db_q(sn->c->db, DBQ_TSIG_GET);
	if (s == NULL)
		return -EIO;
	db_bind_text(s, 1, n);
	int ret = tsig_rows(s, tsig_copy, out);
	return ret == 1 ? 0 : ret == 0 ? -ENOENT : ret;
}

int
store_tsig_key_get(struct store *st, const char *name, struct store_tsig_key *out)
{
	char n[DNS_NAME_TEXT_MAX];
	if (tsig_norm(name, n, sizeof(n)) != 0)
		return -ENOENT;
	struct conn *c = pool_get(st);
	if (c == NULL)
		return -EIO;
	/* one statement: consistent on its own, no snapshot to open and close */
	struct db_stmt *s = db_q(c->db, DBQ_TSIG_GET);
	int ret = -EIO;
	if (s != NULL) {
		db_bind_text(s, 1, n);
		ret = tsig_rows(s, tsig_copy, out);
		ret = ret == 1 ? 0 : ret == 0 ? -ENOENT : ret;
	}
	pool_put(st, c);
	return ret;
}

int
store_snap_tsig_keys(struct store_snap *sn, store_tsig_fn fn, void *ctx)
{
	struct db_stmt *s = db_q(sn->c->db, DBQ_TSIG_ALL);
	return s ? tsig_rows(s, fn, ctx) : -EIO;
}

int
store_snap_zone_tsig_keys(struct store_snap *sn, const struct store_zone *z, store_tsig_fn fn,
                          void *ctx)
{
	struct db_stmt *s = db_q(sn->c->db, DBQ_ZONE_TSIG);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	return tsig_rows(s, fn, ctx);
}

int
store_snap_zone_update_keys(struct store_snap *sn, const struct store_zone *z, store_tsig_fn fn,
                            void *ctx)
{
	struct db_stmt *s = db_q(sn->c->db, DBQ_ZONE_UTSIG);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	return tsig_rows(s, fn, ctx);
}

int
store_snap_update_allowed(struct store_snap *sn, const struct store_zone *z, const char *key)
{
	char n[DNS_NAME_TEXT_MAX];
	if (tsig_norm(key, n, sizeof(n)) != 0)
		return 0;
	struct db_stmt *s = db_q(sn->c->db, DBQ_ZONE_UTSIG_HAS);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	db_bind_text(s, 2, n);
	int rc = db_step(s);
	db_done(s);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -EIO;
}

int
store_tsig_put(struct store *st, const struct store_tsig_key *k, bool replace)
{
	char n[DNS_NAME_TEXT_MAX];
	if (tsig_norm(k->name, n, sizeof(n)) != 0)
		return -EINVAL;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	struct db_stmt *s = db_q(st->w, replace ? DBQ_TSIG_UPSERT : DBQ_TSIG_INSERT);
	if (s == NULL) {
		w_rollback(st);
		return -EIO;
	}
	db_bind_text(s, 1, n);
	db_bind_text(s, 2, k->algorithm);
	db_bind_text(s, 3, k->secret);
	ret = db_run(s);
	if (ret != 0) {
		w_rollback(st);
		return ret == -EIO ? -EIO : -EEXIST;
	}
	return w_commit(st);
}

/* Runs delete statement `id` with `bind` (text) or `id64`; -ENOENT when no row went. */
static int
delete_one(struct store *st, enum db_qid id, const char *bind, int64_t id64)
{
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	struct db_stmt *s = db_q(st->w, id);
	if (s == NULL) {
		w_rollback(st);
		return -EIO;
	}
	if (bind != NULL)
		db_bind_text(s, 1, bind);
	else
		db_bind_i64(s, 1, id64);
	ret = db_run(s);
	if (ret != 0 || db_changes(st->w) == 0) {
		w_rollback(st);
		return ret != 0 ? -EIO : -ENOENT;
	}
	return w_commit(st);
}

int
store_tsig_delete(struct store *st, const char *name)
{
	char n[DNS_NAME_TEXT_MAX];
	if (tsig_norm(name, n, sizeof(n)) != 0)
		return -ENOENT;
	return delete_one(st, DBQ_TSIG_DELETE, n, 0);
}

/* ---- API keys ----------------------------------------------------------------------- */

static int
key_hash(const char *key, uint8_t out[32])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, key, strlen(key), out) == 0 ? 0 : -EIO;
}

int64_t
store_apikey_add(struct store *st, const char *key, const char *account, const char *description)
{
	uint8_t h[32];
	if (key_hash(key, h) != 0)
		return -EIO;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	struct db_stmt *s = db_q(st->w, DBQ_APIKEY_INSERT);
	if (s == NULL) {
		w_rollback(st);
		return -EIO;
	}
	db_bind_blob(s, 1, h, 32);
	db_bind_text(s, 2, account);
	db_bind_text(s, 3, description ? description : "");
	db_bind_i64(s, 4, now_s());
	ret = db_run(s);
	if (ret != 0) {
		w_rollback(st);
		return ret == -EIO ? -EIO : -EEXIST;
	}
	int64_t id = db_last_id(st->w);
	ret = w_commit(st);
	return ret != 0 ? ret : id;
}

int
store_apikey_delete(struct store *st, int64_t id)
{
	return delete_one(st, DBQ_APIKEY_DELETE, NULL, id);
}

int
store_apikey_list(struct store *st, store_apikey_fn fn, void *ctx)
{
	struct conn *c = pool_get(st);
	if (c == NULL)
		return -EIO;
	struct db_stmt *s = db_q(c->db, DBQ_APIKEY_ALL);
	if (s == NULL) {
		pool_put(st, c);
		return -EIO;
	}
	int rc, ret = 0;
	while ((rc = db_step(s)) == DB_ROW) {
		struct store_apikey k = {.id = db_col_i64(s, 0), .created_at = db_col_i64(s, 3)};
		copy_text(k.account, sizeof(k.account), db_col_text(s, 1));
		copy_text(k.description, sizeof(k.description), db_col_text(s, 2));
		ret = fn(ctx, &k);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	db_done(s);
	pool_put(st, c);
	return ret;
}

int
store_apikey_find(struct store *st, const char *key, char *account)
{
	int64_t id;
	return store_apikey_find_id(st, key, account, &id);
}

int
store_apikey_find_id(struct store *st, const char *key, char *account, int64_t *id)
{
	uint8_t h[32];
	if (key_hash(key, h) != 0)
		return -EIO;
	struct conn *c = pool_get(st);
	if (c == NULL)
		return -EIO;
	int ret = -ENOENT;
	struct db_stmt *s = db_q(c->db, DBQ_APIKEY_FIND);
	if (s != NULL) {
		db_bind_blob(s, 1, h, 32);
		if (db_step(s) == DB_ROW) {
			copy_text(account, STORE_ACCOUNT_MAX, db_col_text(s, 0));
			*id = db_col_i64(s, 1);
			ret = 0;
		}
		db_done(s);
	}
	pool_put(st, c);
	return ret;
}
