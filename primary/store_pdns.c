/*
 * PowerDNS zone fields and domain metadata (issue 16.5, 16.6; schema 0006):
 * masters, catalog, soa_edit_api as written and soa_edit in zone_pdns, and
 * the /zones/{id}/metadata values in zone_metadata.  The API decides what
 * they mean (api/metadata.c); here they are only stored and read back.
 */
#include "primary/store_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
zone_pdns_write(struct store *st, int64_t zid, const struct store_zone_pdns_set *x)
{
	if (x == NULL)
		return 0;
	struct db_stmt *s = db_q(st->w, DBQ_ZONE_PDNS_PUT);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_text(s, 2, x->masters);
	db_bind_text(s, 3, x->catalog);
	db_bind_text(s, 4, x->has_soa_edit_api ? x->soa_edit_api : NULL);
	db_bind_text(s, 5, x->soa_edit);
	db_bind_i64(s, 6, x->has_soa_edit_api ? 1 : 0);
	return db_run(s);
}

static void
copy_col(struct db_stmt *s, int i, char *out, size_t cap)
{
	const char *v = db_col_text(s, i);
	snprintf(out, cap, "%s", v != NULL ? v : "");
}

int
store_snap_zone_pdns(struct store_snap *sn, const struct store_zone *z, struct store_zone_pdns *out)
{
	memset(out, 0, sizeof(*out));
	struct db_stmt *s = db_q(sn->c->db, DBQ_ZONE_PDNS_GET);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	int rc = db_step(s);
	if (rc == DB_ROW) {
		copy_col(s, 0, out->masters, sizeof(out->masters));
		copy_col(s, 1, out->catalog, sizeof(out->catalog));
		out->has_soa_edit_api = !db_col_null(s, 2);
		copy_col(s, 2, out->soa_edit_api, sizeof(out->soa_edit_api));
		copy_col(s, 3, out->soa_edit, sizeof(out->soa_edit));
	}
	db_done(s);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -EIO;
}

int
store_snap_metadata(struct store_snap *sn, const struct store_zone *z, const char *kind,
                    store_meta_fn fn, void *ctx)
{
	struct db_stmt *s = db_q(sn->c->db, DBQ_META_GET);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	db_bind_text(s, 2, kind);
	int rc, ret = 0;
	while ((rc = db_step(s)) == DB_ROW) {
		ret = fn(ctx, db_col_text(s, 0), db_col_text(s, 1));
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	db_done(s);
	return ret;
}

/* Replaces kind's values (none: deletes the kind) inside the write transaction. */
int
meta_write(struct store *st, int64_t zid, const char *kind, const char *const *vals, size_t n)
{
	struct db_stmt *s = db_q(st->w, DBQ_META_DEL);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_text(s, 2, kind);
	int ret = db_run(s);
	for (size_t i = 0; i < n && ret == 0; i++) {
		s = db_q(st->w, DBQ_META_PUT);
		if (s == NULL)
			return -EIO;
		db_bind_i64(s, 1, zid);
		db_bind_text(s, 2, kind);
		db_bind_i64(s, 3, (int64_t)i);
		db_bind_text(s, 4, vals[i]);
		ret = db_run(s);
	}
	return ret;
}
