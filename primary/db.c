/*
 * The database layer's front (db.h): picks the backend by the --db value (a
 * postgresql:// or postgres:// URL: db_pg.c; anything else is a SQLite path:
 * db_sqlite.c) and calls through its table of operations (db_int.h).
 */
#include "primary/db_int.h"

#include <string.h>

bool
db_is_pg(const char *path)
{
	return path != NULL && (strncmp(path, "postgresql://", 13) == 0 ||
	                        strncmp(path, "postgres://", 11) == 0);
}

int
db_open(const char *path, bool create, bool readonly, struct db **out)
{
	const struct db_ops *ops = db_is_pg(path) ? &db_pg_ops : &db_sqlite_ops;
	return ops->open(path, create, readonly, out);
}

void
db_close(struct db *db)
{
	if (db != NULL)
		db->ops->close(db);
}

const char *
db_errmsg(struct db *db)
{
	return db != NULL ? db->ops->errmsg(db) : "out of memory";
}

int
db_migrate(struct db *db, const char *path, char *err, size_t errcap)
{
	return db->ops->migrate(db, path, err, errcap);
}

int
db_writer_ready(struct db *db)
{
	return db->ops->writer_ready(db);
}

void
db_init(void)
{
	db_sqlite_init();
}

int
db_begin(struct db *db)
{
	return db->ops->begin(db);
}

int
db_begin_read(struct db *db)
{
	return db->ops->begin_read(db);
}

int
db_commit(struct db *db)
{
	return db->ops->commit(db);
}

int
db_rollback(struct db *db)
{
	return db->ops->rollback(db);
}

int
db_savepoint(struct db *db, enum db_sp op)
{
	return db->ops->savepoint(db, op);
}

struct db_stmt *
db_q(struct db *db, enum db_qid id)
{
	return db->ops->q(db, id);
}

void
db_bind_i64(struct db_stmt *s, int i, int64_t v)
{
	s->ops->bind_i64(s, i, v);
}

void
db_bind_text(struct db_stmt *s, int i, const char *v)
{
	s->ops->bind_text(s, i, v);
}

void
db_bind_blob(struct db_stmt *s, int i, const void *p, size_t n)
{
	s->ops->bind_blob(s, i, p, n);
}

int
db_step(struct db_stmt *s)
{
	return s->ops->step(s);
}

int
db_run(struct db_stmt *s)
{
	int rc = db_step(s);
	db_done(s);
	return rc < 0 ? rc : 0;
}

void
db_done(struct db_stmt *s)
{
	if (s != NULL)
		s->ops->done(s);
}

int64_t
db_col_i64(struct db_stmt *s, int i)
{
	return s->ops->col_i64(s, i);
}

int
db_col_int(struct db_stmt *s, int i)
{
	return (int)s->ops->col_i64(s, i);
}

bool
db_col_null(struct db_stmt *s, int i)
{
	return s->ops->col_null(s, i);
}

const void *
db_col_blob(struct db_stmt *s, int i)
{
	return s->ops->col_blob(s, i);
}

size_t
db_col_bytes(struct db_stmt *s, int i)
{
	return s->ops->col_bytes(s, i);
}

const char *
db_col_text(struct db_stmt *s, int i)
{
	return s->ops->col_text(s, i);
}

bool
db_retry(struct db *db)
{
	return db->ops->retry(db);
}

bool
db_down(struct db *db)
{
	return db->ops->down != NULL && db->ops->down(db);
}

int64_t
db_last_id(struct db *db)
{
	return db->ops->last_id(db);
}

int64_t
db_changes(struct db *db)
{
	return db->ops->changes(db);
}

int64_t
db_reprepares(struct db *db)
{
	return db->ops->reprepares != NULL ? db->ops->reprepares(db) : 0;
}

void
db_wal_bound(struct db *db, struct db_ckpt *ck, int64_t wal_max)
{
	if (db->ops->wal_bound != NULL)
		db->ops->wal_bound(db, ck, wal_max);
}

bool
db_shared(struct db *db)
{
	return db->ops->shared != NULL && db->ops->shared(db);
}

struct db_listen *
db_listen_start(const char *path, db_listen_fn fn, db_leader_fn leader, void *ctx)
{
	return db_is_pg(path) ? db_pg_listen_start(path, fn, leader, ctx) : NULL;
}

void
db_listen_stop(struct db_listen *l)
{
	if (l != NULL)
		db_pg_listen_stop(l);
}

struct db_ckpt *
db_ckpt_start(const char *path, int64_t wal_max)
{
	/* PostgreSQL keeps its own WAL: nothing to checkpoint */
	return db_is_pg(path) ? NULL : db_sqlite_ckpt_start(path, wal_max);
}

void
db_ckpt_stop(struct db_ckpt *c)
{
	if (c != NULL)
		db_sqlite_ckpt_stop(c);
}
