/*
 * The audit log (schema/0007_audit.sql): one row per API change, written in
 * the change's own transaction (store_audit_arm: w_commit calls
 * audit_in_txn), or alone for a 2xx request that committed nothing;
 * GET .../audit reads them back.  A row is only changed by the request that
 * wrote it (a second transaction's serial, the status answered); rows are
 * kept (an operator prunes with SQL if ever needed).
 */
#include <errno.h>
#include <string.h>

#include "primary/store_int.h"

void
store_audit_arm(struct store *st, struct store_audit_arm *a)
{
	a->thread = pthread_self();
	a->id = a->tentative = 0;
	pthread_mutex_lock(&st->audit_mu);
	a->next = st->armed;
	st->armed = a;
	pthread_mutex_unlock(&st->audit_mu);
}

struct store_audit_arm *
audit_arm_self(struct store *st)
{
	pthread_t self = pthread_self();
	pthread_mutex_lock(&st->audit_mu);
	struct store_audit_arm *a = st->armed;
	while (a != NULL && !pthread_equal(a->thread, self))
		a = a->next;
	pthread_mutex_unlock(&st->audit_mu);
	return a;
}

/* The zone and serials of this transaction's change into a->row. */
static void
audit_from_pending(struct store *st, struct store_audit_arm *a, size_t from)
{
	for (size_t i = from; i < st->npending; i++) {
		const struct pending *h = &st->pending[i];
		if (h->kind == STORE_CATALOG_CHANGED)
			continue;
		if (a->row.zone[0] == '\0' && name_text(h->zone, a->row.zone, sizeof(a->row.zone)) < 0)
			a->row.zone[0] = '\0';
		if (h->kind == STORE_ZONE_CHANGED) {
			if (!a->row.serials)
				a->row.old_serial = h->old_serial;
			a->row.serials = true;
			a->row.new_serial = h->new_serial;
		}
		return;
	}
}

static void
bind_row(struct db_stmt *s, const struct store_audit *a)
{
	db_bind_i64(s, 1, a->at_ms);
	db_bind_i64(s, 2, a->key_id);
	db_bind_text(s, 3, a->account);
	db_bind_text(s, 4, a->zone);
	db_bind_text(s, 5, a->what);
	db_bind_i64(s, 6, a->status);
	db_bind_i64(s, 7, a->old_serial);
	db_bind_i64(s, 8, a->new_serial);
	db_bind_i64(s, 9, a->serials ? 1 : 0);
}

int
audit_write(struct store *st, struct store_audit_arm *a, size_t from)
{
	if (a->id == 0)
		a->row.serials = false;   /* a retried first transaction: its own serials */
	audit_from_pending(st, a, from);
	struct db_stmt *s = db_q(st->w, a->id == 0 ? DBQ_AUDIT_INSERT : DBQ_AUDIT_UPDATE);
	if (s == NULL)
		return -EIO;
	if (a->id == 0) {
		bind_row(s, &a->row);
	} else {
		db_bind_i64(s, 1, a->id);
		db_bind_text(s, 2, a->row.zone);
		db_bind_i64(s, 3, a->row.old_serial);
		db_bind_i64(s, 4, a->row.new_serial);
		db_bind_i64(s, 5, a->row.serials ? 1 : 0);
	}
	if (db_run(s) != 0)
		return -EIO;
	a->tentative = a->id != 0 ? a->id : db_last_id(st->w);
	return 0;
}

int
audit_in_txn(struct store *st, struct store_audit_arm **out)
{
	struct store_audit_arm *a = st->cur_arm_set ? st->cur_arm : audit_arm_self(st);
	st->cur_arm_set = false;
	*out = a;
	return a != NULL ? audit_write(st, a, 0) : 0;
}

void
audit_committed(struct store_audit_arm *a)
{
	if (a != NULL)
		a->id = a->tentative;
}

int
store_audit_disarm(struct store *st, struct store_audit_arm *a, unsigned status)
{
	pthread_mutex_lock(&st->audit_mu);
	struct store_audit_arm **pp = &st->armed;
	while (*pp != NULL && *pp != a)
		pp = &(*pp)->next;
	if (*pp != NULL)
		*pp = a->next;
	pthread_mutex_unlock(&st->audit_mu);
	if (a->id == 0) {
		if (status < 200 || status > 299)
			return 0;
		a->row.status = status;
		return store_audit_add(st, &a->row) == 0 ? 1 : -EIO;
	}
	if (status == a->row.status)
		return 1;
	a->row.status = status;
	int ret = w_begin(st);
	if (ret != 0)
		return -EIO;
	struct db_stmt *s = db_q(st->w, DBQ_AUDIT_STATUS);
	if (s != NULL) {
		db_bind_i64(s, 1, a->id);
		db_bind_i64(s, 2, status);
	}
	if (s == NULL || db_run(s) != 0) {
		w_rollback(st);
		return -EIO;
	}
	return w_commit_quiet(st) == 0 ? 1 : -EIO;
}

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
	bind_row(s, a);
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
