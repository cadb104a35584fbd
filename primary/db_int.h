/*
 * Private to the database layer (db.c and its backends db_sqlite.c,
 * db_pg.c): each backend fills a table of operations; db.c picks the
 * backend by the --db value and calls through the table.  A backend's
 * connection and statement structs begin with `struct db` / `struct
 * db_stmt`, which hold the table.
 */
#ifndef PRIMARY_DB_INT_H
#define PRIMARY_DB_INT_H

#include "primary/db.h"

struct db_ops {
	const char *name;
	int (*open)(const char *path, bool create, bool readonly, struct db **out);
	void (*close)(struct db *db);
	const char *(*errmsg)(struct db *db);
	int (*migrate)(struct db *db, const char *path, char *err, size_t errcap);
	int (*writer_ready)(struct db *db);
	int (*begin)(struct db *db);
	int (*begin_read)(struct db *db);
	int (*commit)(struct db *db);
	int (*rollback)(struct db *db);
	int (*savepoint)(struct db *db, enum db_sp op);
	struct db_stmt *(*q)(struct db *db, enum db_qid id);
	void (*bind_i64)(struct db_stmt *s, int i, int64_t v);
	void (*bind_text)(struct db_stmt *s, int i, const char *v);
	void (*bind_blob)(struct db_stmt *s, int i, const void *p, size_t n);
	int (*step)(struct db_stmt *s);
	void (*done)(struct db_stmt *s);
	int64_t (*col_i64)(struct db_stmt *s, int i);
	bool (*col_null)(struct db_stmt *s, int i);
	const void *(*col_blob)(struct db_stmt *s, int i);
	size_t (*col_bytes)(struct db_stmt *s, int i);
	const char *(*col_text)(struct db_stmt *s, int i);
	int64_t (*last_id)(struct db *db);
	int64_t (*changes)(struct db *db);
	bool (*retry)(struct db *db);
	bool (*down)(struct db *db);     /* NULL: false */
	bool (*shared)(struct db *db);   /* NULL: false */
	void (*wal_bound)(struct db *db, struct db_ckpt *ck, int64_t wal_max);
	int64_t (*reprepares)(struct db *db);   /* NULL: 0 (PostgreSQL prepares once) */
};

struct db {
	const struct db_ops *ops;
};

struct db_stmt {
	const struct db_ops *ops;
};

extern const struct db_ops db_sqlite_ops;
extern const struct db_ops db_pg_ops;

/* PostgreSQL (db_pg.c): a connection to `url`, each host of a multi-host URL
 * tried when libpq stops at one that refuses the login (PGconn). */
struct pg_conn *db_pg_connect(const char *url, char *err, size_t errcap);
/* The channel of commit announcements; a payload starts with the schema. */
#define DB_PG_CHANNEL "anycst_commit"

/* The PostgreSQL listener and notifier lock (db_pg_listen.c). */
struct db_listen *db_pg_listen_start(const char *url, db_listen_fn fn, db_leader_fn leader,
                                     void *ctx);
void db_pg_listen_stop(struct db_listen *l);

/* SQLite's process-wide settings, before the first connection (db_init). */
void db_sqlite_init(void);

/* The SQLite checkpointer (db_ckpt_start/stop for a SQLite path). */
struct db_ckpt *db_sqlite_ckpt_start(const char *path, int64_t wal_max);
void db_sqlite_ckpt_stop(struct db_ckpt *c);

#endif
