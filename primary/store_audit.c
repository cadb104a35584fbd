/*
 * The audit log (schema/0007_audit.sql): the API appends a row after each
 * change it answered with 2xx; GET .../audit reads them back.  Rows are
 * never changed; they are kept (an operator prunes with SQL if ever needed).
 */
#include <errno.h>
#include <string.h>

#include "primary/store_int.h"

int
store_audit_add(struct store *st, const struct store_audit *a)
{
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	struct db_stmt *s = db_q(st->w, DBQ_AUDIT_INSERT);
	if (s == NULL) {
		w_rollback(st);
		return -EIO;
	}
	db_bind_i64(s, 1, a->at_ms);
	db_bind_i64(s, 2, a->key_id);
	db_bind_text(s, 3, a->account);
	db_bind_text(s, 4, a->zone);
	db_bind_text(s, 5, a->what);
	db_bind_i64(s, 6, a->status);
	db_bind_i64(s, 7, a->old_serial);
	db_bind_i64(s, 8, a->new_serial);
	db_bind_i64(s, 9, a->serials ? 1 : 0);
	ret = db_run(s);
	if (ret != 0) {
		w_rollback(st);
		return -EIO;
	}
	return w_commit_quiet(st);
}

static void
audit_from_row(struct db_stmt *s, struct store_audit *a)
{
	memset(a, 0, sizeof(*a));
	a->id = db_col_i64(s, 0);
	a->at_ms = db_col_i64(s, 1);
	a->key_id = db_col_i64(s, 2);
	copy_text(a->account, sizeof(a->account), db_col_text(s, 3));
	copy_text(a->zone, sizeof(a->zone), db_col_text(s, 4));
	copy_text(a->what, sizeof(a->what), db_col_text(s, 5));
	a->status = (unsigned)db_col_int(s, 6);
	a->serials = !db_col_null(s, 7);
	if (a->serials) {
		a->old_serial = (uint32_t)db_col_i64(s, 7);
		a->new_serial = (uint32_t)db_col_i64(s, 8);
	}
}

int
store_audit_list(struct store *st, const char *account, const char *zone, int64_t since_ms,
                 int64_t after_id, size_t limit, store_audit_fn fn, void *ctx)
{
	struct conn *c = pool_get(st);
	if (c == NULL)
		return -EIO;
	struct db_stmt *s = db_q(c->db, DBQ_AUDIT_LIST);
	if (s == NULL) {
		pool_put(st, c);
		return -EIO;
	}
	db_bind_i64(s, 1, since_ms);
	db_bind_i64(s, 2, account != NULL);
	db_bind_text(s, 3, account != NULL ? account : "");
	db_bind_i64(s, 4, zone != NULL);
	db_bind_text(s, 5, zone != NULL ? zone : "");
	db_bind_i64(s, 6, after_id);
	db_bind_i64(s, 7, (int64_t)limit);
	int rc, ret = 0;
	struct store_audit a;
	while ((rc = db_step(s)) == DB_ROW) {
		audit_from_row(s, &a);
		ret = fn(ctx, &a);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	db_done(s);
	pool_put(st, c);
	return ret;
}
