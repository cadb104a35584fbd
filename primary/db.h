/*
 * The store's one database layer: connections, transactions and named
 * prepared statements.  Everything above it (primary/store*.c) names a
 * query by its id and binds and reads columns by position; the SQL text and
 * the engine's calls live in the backends (db_sqlite.c, db_pg.c; db.c picks
 * one by the --db value and dispatches), so another engine is a new backend
 * file implementing this header, not a fork of the logic.
 *
 * A connection is used by one thread at a time.  A statement is reset by
 * db_done() (or db_run()) before its id is used again on that connection.
 * Column and parameter indexes: parameters from 1, columns from 0.
 */
#ifndef PRIMARY_DB_H
#define PRIMARY_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct db_stmt;

/* The rows of one DBQ_REC_INSERT_MANY. */
#define DB_INSERT_MANY 16

enum db_qid {
	/* zones */
	DBQ_ZONE_BY_NAME,
	DBQ_ZONE_LOCK,      /* as DBQ_ZONE_BY_NAME, the row locked to the transaction's end (PG) */
	DBQ_ZONES_LIST,
	DBQ_ZONES_LIST_ACC,
	DBQ_ZONE_INSERT,
	DBQ_ZONE_DELETE,
	DBQ_ZONE_UPDATE,
	DBQ_ZONE_SERIAL,
	DBQ_LKEY_INSERT,
	DBQ_LKEY_MISSING,
	DBQ_ZONE_DESCENDANT,
	/* records and comments */
	DBQ_ROWS_ALL,
	DBQ_ROWS_OWNER,
	DBQ_ROWS_RRSET,
	DBQ_REC_TEXT_PUT,   /* schema 0006: a record as written */
	DBQ_REC_TEXT_DEL,
	DBQ_ZONE_PDNS_GET,  /* schema 0006: PowerDNS zone fields, metadata */
	DBQ_ZONE_PDNS_PUT,
	DBQ_META_GET,
	DBQ_META_DEL,
	DBQ_META_PUT,
	DBQ_AXFR_REST,
	DBQ_SOA,
	DBQ_REC_INSERT,
	DBQ_REC_INSERT_MANY,   /* DB_INSERT_MANY rows of zone ?1, none disabled: per row okey,
	                       * owner, type, ttl, rdata (parameters 2 + 5i ... 6 + 5i) */
	DBQ_STAGE_CONN,        /* set up the first signing's own connection (store_bulk.c): */
	DBQ_STAGE_TEMP,        /* synchronous as the writer's, temporary files in memory */
	/* a signed zone's DNSSEC data by name (schema 0012, primary/dn_rows.h) */
	DBQ_DN_GET,
	DBQ_DN_PUT,
	DBQ_DN_DELETE,
	DBQ_DN_INSERT_MANY,    /* DB_INSERT_MANY rows of zone ?1: per row okey, owner, ctype,
	                       * cttl, chain, sigs, exp (parameters 2 + 7i ... 8 + 7i) */
	DBQ_AXFR_DN,
	DBQ_REC_UPSERT,
	DBQ_RRSET_DELETE,
	DBQ_REC_DELETE,
	DBQ_RRSET_TTL,
	DBQ_OWNER_TYPES,
	DBQ_OWNER_TYPES_ALL,
	DBQ_COMMENTS_DEL,
	DBQ_COMMENT_INSERT,
	DBQ_COMMENTS_ALL,
	/* journal */
	DBQ_JOURNAL_INSERT,
	DBQ_JOURNAL_TRIM,
	DBQ_JOURNAL_TRIM_AGE,   /* entries of a zone created before ?2 (unix s) */
	DBQ_JOURNAL_START,
	DBQ_JOURNAL_FROM,
	DBQ_JOURNAL_RANGE,
	/* TSIG keys */
	DBQ_TSIG_GET,
	DBQ_TSIG_ALL,
	DBQ_TSIG_INSERT,
	DBQ_TSIG_UPSERT,
	DBQ_TSIG_DELETE,
	DBQ_ZONE_TSIG,
	DBQ_ZONE_TSIG_INSERT,
	DBQ_ZONE_TSIG_CLEAR,
	DBQ_ZONE_UTSIG,
	DBQ_ZONE_UTSIG_INSERT,
	DBQ_ZONE_UTSIG_CLEAR,
	DBQ_ZONE_UTSIG_HAS,
	DBQ_UPOLICY_ZONE,   /* schema 0009: update_policy */
	DBQ_UPOLICY_KEY,
	DBQ_UPOLICY_CLEAR,
	DBQ_UPOLICY_INSERT,
	/* API keys */
	DBQ_APIKEY_INSERT,
	DBQ_APIKEY_DELETE,
	DBQ_APIKEY_ALL,
	DBQ_APIKEY_FIND,
	/* audit log */
	DBQ_AUDIT_INSERT,
	DBQ_AUDIT_UPDATE,
	DBQ_AUDIT_STATUS,
	DBQ_AUDIT_LIST,
	/* statistics */
	DBQ_COUNT_ZONES,
	DBQ_COUNT_RECORDS,
	DBQ_COUNT_JOURNAL,
	DBQ_COUNT_ACC_ZONES,
	DBQ_COUNT_ACC_RECORDS,
	DBQ_COUNT_ACC_JOURNAL,
	/* POPs (secondaries) and their acknowledgements */
	DBQ_POP_ACK_PUT,
	DBQ_POP_ACKS_ALL,
	DBQ_POPS_ALL,
	DBQ_POP_INSERT,
	DBQ_POP_PORT_INSERT,
	DBQ_POP_PORT_DELETE,
	DBQ_POP_ACKS_DELETE,
	DBQ_POP_DELETE,
	/* the primary nodes of the database (schema 0011) */
	DBQ_NODE_PUT,
	DBQ_NODES_ALL,
	DBQ_NODES_CLEAR,
	DBQ_NODE_DELETE,
	/* DNSSEC (schema 0005): zone settings, keys, chain neighbours */
	DBQ_DNSSEC_SET,
	DBQ_DNSSEC_CLEAR,
	DBQ_KEY_INSERT,
	DBQ_KEYS_ZONE,
	DBQ_KEY_UPDATE,
	DBQ_KEY_DELETE,
	DBQ_NSEC_PREV,
	DBQ_NSEC_NEXT,
	DBQ_NSEC3_PREV,
	DBQ_NSEC3_NEXT,
	DBQ_OWNERS_RANGE,
	DBQ_HAS_DESC,
	DBQ_SIGNED_ROWS,
	DBQ_SIGS_EXPIRING,
	/* ZSK rollover (primary/store_roll.c) */
	DBQ_KEY_TIMES,
	DBQ_KEY_TIMES_SET,
	DBQ_DN_SCAN,        /* the rollover's walk over the names' signatures */
	DBQ_ZONE_MAX_TTL,
	/* several nodes (PostgreSQL): a commit announced to the others (pg_notify) */
	DBQ_ANNOUNCE,
	DBQ_KEY_KSK_SET,
	DBQ_KEY_ROLL_SET,
	DBQ_UNSIGN_SET,
	DBQ_UNSIGN_CLEAR,
	DBQ_ZONE_RECORDS_COUNT,
	DBQ_STAGED_DROP,
	DBQ_JOURNAL_DROP,
	DBQ_ZONES_SIGN_PENDING,
	DBQ_COUNT
};

/* db_step() results besides negative errors. */
#define DB_DONE 0
#define DB_ROW 1

/* Process-wide engine settings: once, before the first db_open, from one thread. */
void db_init(void);

/* `path` names a PostgreSQL database (a postgresql:// or postgres:// URL). */
bool db_is_pg(const char *path);

/*
 * Opens a connection to `path` (created when `create`).  A reader
 * (`readonly`) may never write.  0 or -EIO (`*out` may then be set; close it).
 */
int db_open(const char *path, bool create, bool readonly, struct db **out);
void db_close(struct db *db);   /* NULL ok */
const char *db_errmsg(struct db *db);

/*
 * Brings the schema up to this binary's version in one transaction and sets
 * the connection up as the writer.  On error fills `err` and returns
 * ERR_SCHEMA_NEWER or -EIO.
 */
int db_migrate(struct db *db, const char *path, char *err, size_t errcap);
/* The writer leaves checkpoints to db_ckpt (no automatic ones).  0 or -EIO. */
int db_writer_ready(struct db *db);

/* A write transaction (waits for other writers on SQLite; on PostgreSQL the
 * store locks what it changes with DBQ_ZONE_LOCK).  0, -EIO or ERR_DB_DOWN
 * (PostgreSQL: no writable server reachable). */
int db_begin(struct db *db);
int db_begin_read(struct db *db);   /* a read snapshot, taken now */
/* 0, -EIO, or ERR_DB_UNKNOWN: the connection was lost during COMMIT, the
 * change may or may not have been committed. */
int db_commit(struct db *db);
int db_rollback(struct db *db);
/* Savepoints inside a write transaction: one change of several committed
 * together (the store's group commit) is undone alone when it fails. */
enum db_sp {
	DB_SP_SET,       /* SAVEPOINT */
	DB_SP_RELEASE,   /* keeps what was written since the savepoint */
	DB_SP_UNDO,      /* rolls back to the savepoint and releases it */
};
/* 0, or -EIO (also when the transaction itself is gone: run it all again). */
int db_savepoint(struct db *db, enum db_sp op);
/* How often the cached statements were re-prepared by the engine (for tests:
 * a plan that re-prepares at every binding parses its SQL at every step). */
int64_t db_reprepares(struct db *db);

/* The statement `id` on `db`, prepared once per connection; NULL (logged) on error. */
struct db_stmt *db_q(struct db *db, enum db_qid id);
void db_bind_i64(struct db_stmt *s, int i, int64_t v);
void db_bind_text(struct db_stmt *s, int i, const char *v);   /* must live until db_done */
void db_bind_blob(struct db_stmt *s, int i, const void *p, size_t n);
/*
 * DB_ROW, DB_DONE, or -EEXIST (a unique key), -ENOENT (a foreign key),
 * ERR_DB_RETRY (a serialization failure or deadlock: the transaction is lost
 * and may be run again whole; db_retry() tells after the fact), ERR_DB_DOWN
 * (the connection was lost, or the server is read-only now: db_down() tells
 * after the fact; the next BEGIN connects again), -EIO (anything else, a
 * trigger's abort too; logged).
 */
int db_step(struct db_stmt *s);
/* Steps a statement that returns no rows and resets it: 0 or as db_step. */
int db_run(struct db_stmt *s);
/* Resets the statement and clears its bindings.  NULL ok. */
void db_done(struct db_stmt *s);

int64_t db_col_i64(struct db_stmt *s, int i);
int db_col_int(struct db_stmt *s, int i);
bool db_col_null(struct db_stmt *s, int i);
const void *db_col_blob(struct db_stmt *s, int i);   /* NULL for an empty blob */
size_t db_col_bytes(struct db_stmt *s, int i);
const char *db_col_text(struct db_stmt *s, int i);   /* NULL for NULL */

/* The last statement or commit on `db` failed with ERR_DB_RETRY; cleared by db_begin. */
bool db_retry(struct db *db);
/* The last BEGIN or statement on `db` failed because no writable server could
 * be reached or the connection was lost (PostgreSQL during a failover): the
 * transaction is gone, nothing was written.  Cleared by db_begin. */
bool db_down(struct db *db);

int64_t db_last_id(struct db *db);   /* row id of the last insert */
int64_t db_changes(struct db *db);   /* rows changed by the last statement */

/* Several nodes may share this database (PostgreSQL): the store announces
 * its commits with DBQ_ANNOUNCE and listens to the others' (db_listen). */
bool db_shared(struct db *db);

/*
 * The other nodes' commit announcements (PostgreSQL LISTEN on a connection
 * of its own, a thread): `fn` gets each payload given to DBQ_ANNOUNCE by any
 * node of this schema (this one's too), and NULL after the connection was
 * lost and made again (announcements may have been missed: read everything
 * again).  The same connection holds the notifier lock when it can (a
 * session advisory lock per schema, tried every second): `leader` is called
 * with true when this node took it, false when it lost it with the
 * connection.  db_listen_start waits (at most 5 s) for the first
 * connection, so a node that can take the lock has it on return.  NULL for
 * SQLite or when the thread cannot start.
 */
struct db_listen;
typedef void (*db_listen_fn)(void *ctx, const char *payload);
typedef void (*db_leader_fn)(void *ctx, bool leader);
struct db_listen *db_listen_start(const char *path, db_listen_fn fn, db_leader_fn leader,
                                  void *ctx);
void db_listen_stop(struct db_listen *l);   /* NULL ok */

/*
 * The background checkpointer: keeps the write-ahead log short on a
 * connection of its own so that no writer pays for it.  NULL when it could
 * not start (then nothing checkpoints but the engine's defaults).
 */
struct db_ckpt;
/* `wal_max`: the WAL's bound in bytes (db_wal_bound keeps it). */
struct db_ckpt *db_ckpt_start(const char *path, int64_t wal_max);
/* The bound, called after a commit with the store's writer mutex held: past
 * 3/8 of `wal_max` bytes of WAL the writer starts it over in place (the
 * checkpointer `ck`, NULL ok, is asked to copy back ahead of that); past half
 * of it checkpoints and truncates it on this connection, waiting for the
 * readers of the moment (at most 10 s), so long-lived or overlapping read
 * snapshots cannot starve the checkpointer. */
void db_wal_bound(struct db *db, struct db_ckpt *ck, int64_t wal_max);
void db_ckpt_stop(struct db_ckpt *c);   /* NULL ok */

#endif
