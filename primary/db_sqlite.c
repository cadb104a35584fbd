/*
 * SQLite backend of the database layer (see db.h): every SQL text and every
 * sqlite3_* call of the store is here.  Connections use WAL, foreign_keys=ON
 * and a busy timeout; statements are prepared once per connection.
 */
#include "primary/db_int.h"
#include "primary/db_sql.h"
#include "primary/dn_rows.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/err.h"
#include "util/log.h"

extern const char *const schema_migrations[];
extern const size_t schema_count;

/*
 * `type = +?3`, not `type = ?3`, wherever records are looked up by a bound
 * type: with a partial index on `records` (schema 0005 and 0010 had three,
 * `WHERE type IN (47, 50)` / `type = 46`, until 0012 moved those rows to
 * dnssec_names) SQLite compares a bare bound parameter with the index's
 * condition, marks the statement for re-preparing on every new binding, and
 * parses its SQL again at each step (it made an import of 100,000 records
 * spend half its time in the SQL parser).  The unary plus keeps the index
 * use and leaves the prepared plan alone, should such an index come back;
 * db_reprepares() lets the unit tests see that no statement is re-prepared.
 */
static const char *const qsql[DBQ_COUNT] = {
	/* BEGIN IMMEDIATE already holds the one write lock */
	[DBQ_ZONE_LOCK] = "SELECT " ZONE_COLS " FROM zones WHERE name = ?1",
	/* the catalog zone is the server's, not listed (reachable by name, issue 16.5) */
	[DBQ_ZONES_LIST] = "SELECT " ZONE_COLS " FROM zones WHERE name > ?1 AND is_catalog = 0 "
	                   "ORDER BY name LIMIT ?2",
	[DBQ_ZONES_LIST_ACC] = "SELECT " ZONE_COLS " FROM zones WHERE account = ?3 AND name > ?1 "
	                       "AND is_catalog = 0 ORDER BY name LIMIT ?2",
	[DBQ_ZONE_INSERT] = "INSERT INTO zones (name, wire, kind, account, soa_edit_api, serial, "
	                    "is_catalog, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	                    "?7, ?8, ?8)",
	[DBQ_ROWS_RRSET] = "SELECT " REC_COLS ", r.disabled, t.content " REC_FROM
	                   "WHERE r.zone_id = ?1 AND r.okey = ?2 AND r.type = +?3 ORDER BY r.rdata",
	[DBQ_AXFR_REST] = "SELECT " REC_COLS " " REC_FROM "WHERE r.zone_id = ?1 AND r.disabled = 0 "
	                  "AND NOT (r.type = 6 AND r.okey = ?2) "
	                  "ORDER BY r.okey, r.type, r.rdata",
	[DBQ_STAGE_CONN] = "PRAGMA synchronous = NORMAL",
	[DBQ_STAGE_TEMP] = "PRAGMA temp_store = MEMORY",
	[DBQ_REC_TEXT_PUT] = "INSERT OR REPLACE INTO record_text (zone_id, okey, type, rdata, "
	                     "rdata_case, content) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[DBQ_ZONE_PDNS_PUT] = "INSERT INTO zone_pdns (zone_id, masters, catalog, soa_edit_api, "
	                      "soa_edit) VALUES (?1, coalesce(?2, ''), coalesce(?3, ''), ?4, "
	                      "coalesce(?5, '')) ON CONFLICT (zone_id) DO UPDATE SET masters = "
	                      "coalesce(?2, masters), catalog = coalesce(?3, catalog), "
	                      "soa_edit_api = CASE WHEN ?6 THEN ?4 ELSE soa_edit_api END, "
	                      "soa_edit = coalesce(?5, soa_edit)",
	[DBQ_META_GET] = "SELECT kind, content FROM zone_metadata WHERE zone_id = ?1 AND "
	                 "(?2 IS NULL OR kind = ?2) ORDER BY kind, ord",
	[DBQ_REC_TEXT_DEL] = "DELETE FROM record_text WHERE zone_id = ?1 AND okey = ?2 AND "
	                     "type = +?3 AND rdata = ?4",
	[DBQ_RRSET_DELETE] = "DELETE FROM records WHERE zone_id = ?1 AND okey = ?2 AND type = +?3",
	[DBQ_REC_DELETE] = "DELETE FROM records WHERE zone_id = ?1 AND okey = ?2 AND type = +?3 "
	                   "AND rdata = ?4",
	[DBQ_RRSET_TTL] = "UPDATE records SET ttl = ?4 WHERE zone_id = ?1 AND okey = ?2 AND type = +?3",
	[DBQ_ZONE_TSIG_INSERT] = "INSERT OR IGNORE INTO zone_tsig_keys (zone_id, key_name) "
	                         "VALUES (?1, ?2)",
	[DBQ_ZONE_UTSIG_INSERT] = "INSERT OR IGNORE INTO zone_update_tsig_keys (zone_id, key_name) "
	                          "VALUES (?1, ?2)",
	[DBQ_APIKEY_INSERT] = "INSERT INTO api_keys (hash, account, description, created_at) "
	                      "VALUES (?1, ?2, ?3, ?4)",
	[DBQ_AUDIT_INSERT] = "INSERT INTO audit (at_ms, key_id, account, zone, what, status, "
	                     "old_serial, new_serial) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	                     "CASE WHEN ?9 THEN ?7 END, CASE WHEN ?9 THEN ?8 END)",
	/* a later transaction of the same request (store_audit.c): the zone and serials */
	[DBQ_AUDIT_UPDATE] = "UPDATE audit SET zone = ?2, old_serial = CASE WHEN ?5 THEN ?3 END, "
	                     "new_serial = CASE WHEN ?5 THEN ?4 END WHERE id = ?1",
	[DBQ_AUDIT_LIST] = "SELECT id, at_ms, key_id, account, zone, what, status, old_serial, "
	                   "new_serial FROM audit WHERE at_ms >= ?1 AND (?2 = 0 OR account = ?3) "
	                   "AND (?4 = 0 OR zone = ?5) AND id > ?6 ORDER BY id LIMIT ?7",
	[DBQ_POP_ACK_PUT] = "INSERT OR REPLACE INTO pop_serials (pop, zone_id, serial, how, "
	                    "transport, address, at_ms) SELECT ?1, z.id, ?3, ?4, ?5, ?6, ?7 FROM "
	                    "zones z WHERE z.name = lower(?2) AND EXISTS (SELECT 1 FROM "
	                    "secondaries WHERE name = ?1)",
	[DBQ_POPS_ALL] = "SELECT s.name, s.endpoint, s.public_key, s.mesh_ip, s.tsig_key, "
	                 "coalesce(p.dns_port, 53), s.created_at, k.secret FROM secondaries s "
	                 "LEFT JOIN tsig_keys k ON k.name = s.tsig_key "
	                 "LEFT JOIN secondary_ports p ON p.name = s.name ORDER BY s.rowid",
	[DBQ_NODE_PUT] = "INSERT OR REPLACE INTO primary_nodes (mesh_ip, xfr_port, quic_port, "
	                 "quic_pin, public_key, wg_endpoint, started_at) VALUES (?1, ?2, ?3, ?4, ?5, "
	                 "?6, ?7)",
	[DBQ_DNSSEC_SET] = "INSERT OR REPLACE INTO zone_dnssec (zone_id, nsec3, signed_at) "
	                   "VALUES (?1, ?2, ?3)",
	[DBQ_KEY_INSERT] = "INSERT INTO dnssec_keys (zone_id, keytype, flags, algorithm, keytag, "
	                   "dnskey, private, published, active, t_created, t_publish, t_active) "
	                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, "
	                   "CASE WHEN ?9 THEN ?10 END)",
	[DBQ_KEY_UPDATE] = "UPDATE dnssec_keys SET published = ?3, active = ?4, t_active = CASE "
	                   "WHEN ?4 THEN coalesce(t_active, ?5) END, t_retire = CASE WHEN ?4 "
	                   "THEN NULL ELSE coalesce(t_retire, ?5) END, t_remove = CASE WHEN ?3 "
	                   "THEN NULL ELSE coalesce(t_remove, ?5) END WHERE zone_id = ?1 AND id = ?2",
	[DBQ_KEY_TIMES_SET] = "UPDATE dnssec_keys SET published = ?3, active = ?4, "
	                      "t_active = nullif(?5, 0), t_retire = nullif(?6, 0), "
	                      "t_remove = nullif(?7, 0) WHERE zone_id = ?1 AND id = ?2",
	/* one node per file: nobody to tell (the store does not call it) */
	[DBQ_ANNOUNCE] = "SELECT ?1 WHERE 0",
	[DBQ_KEY_KSK_SET] = "UPDATE dnssec_keys SET active = ?3, t_retire = nullif(?4, 0), "
	                    "t_remove = nullif(?5, 0) WHERE zone_id = ?1 AND id = ?2",
	[DBQ_KEY_ROLL_SET] = "INSERT OR REPLACE INTO dnssec_key_roll (key_id, t_ready, t_ds, cds) "
	                     "SELECT id, nullif(?3, 0), nullif(?4, 0), ?5 FROM dnssec_keys "
	                     "WHERE zone_id = ?1 AND id = ?2",
	[DBQ_UNSIGN_SET] = "INSERT OR REPLACE INTO zone_unsign (zone_id, t_unsign) VALUES (?1, ?2)",
};

struct sq_stmt {
	struct db_stmt base;
	sqlite3_stmt *h;
};

/* Transaction control, prepared once per connection like the queries (a
 * change runs several: BEGIN, SAVEPOINT, RELEASE, COMMIT). */
enum ctl { CTL_BEGIN_W, CTL_BEGIN_R, CTL_COMMIT, CTL_ROLLBACK, CTL_SP_SET, CTL_SP_RELEASE,
           CTL_SP_UNDO, CTL_COUNT };

static const char *const ctl_sql[CTL_COUNT] = {
	[CTL_BEGIN_W] = "BEGIN IMMEDIATE", [CTL_BEGIN_R] = "BEGIN", [CTL_COMMIT] = "COMMIT",
	[CTL_ROLLBACK] = "ROLLBACK", [CTL_SP_SET] = "SAVEPOINT change",
	[CTL_SP_RELEASE] = "RELEASE change", [CTL_SP_UNDO] = "ROLLBACK TO change",
};

struct sq_db {
	struct db base;
	sqlite3 *h;
	struct sq_stmt q[DBQ_COUNT];
	sqlite3_stmt *ctl[CTL_COUNT];
	/* the writer's (sq_writer_ready): frames in the WAL after its last
	 * commit (wal_frames_hook), below which sq_wal_bound does not try to
	 * start the WAL over again after a try that could not, and at which it
	 * last nudged the checkpointer */
	int wal_frames, wal_retry_at, wal_nudge_at;
	int64_t wal_limit;   /* the journal_size_limit set for its wal_max */
};

#define D(x) ((struct sq_db *)(x))
#define S(x) (((struct sq_stmt *)(x))->h)

static int
exec(struct sq_db *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error(NULL, "store: %s: %s", sql, msg ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/* SQLite's allocation statistics take a process-wide mutex at every
 * allocation, which the writer and the readers' threads then queue on; no
 * one reads them, so they are off.  Only before SQLite initializes (the
 * first open); later calls change nothing. */
void
db_sqlite_init(void)
{
	if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
		return;
}

/* How long a connection waits for a lock another holds (the checkpointer's
 * RESTART or TRUNCATE holds the write lock while readers finish), in steps of
 * BUSY_STEP_US: SQLite's own busy timeout sleeps 1, 2, 5, 10, 15 ... ms
 * between tries, so a writer slept on long after a lock of a few ms ended
 * while every change queued behind it. */
#define BUSY_WAIT_MS 10000
#define BUSY_STEP_US 200

static int
busy_wait(void *arg, int n)
{
	(void)arg;
	if ((int64_t)n * BUSY_STEP_US >= (int64_t)BUSY_WAIT_MS * 1000)
		return 0;
	struct timespec ts = {0, BUSY_STEP_US * 1000};
	nanosleep(&ts, NULL);
	return 1;
}

/* Runs transaction control statement `id`: 0 or -EIO (logged). */
static int
ctl(struct sq_db *db, enum ctl id)
{
	sqlite3_stmt **s = &db->ctl[id];
	if (*s == NULL && sqlite3_prepare_v2(db->h, ctl_sql[id], -1, s, NULL) != SQLITE_OK) {
		log_error(NULL, "store: %s: %s", ctl_sql[id], sqlite3_errmsg(db->h));
		return -EIO;
	}
	int rc = sqlite3_step(*s);
	if (rc != SQLITE_DONE)
		log_error(NULL, "store: %s: %s", ctl_sql[id], sqlite3_errmsg(db->h));
	sqlite3_reset(*s);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int
sq_open_raw(const char *path, bool create, bool readonly, struct sq_db **out)
{
	struct sq_db *db = calloc(1, sizeof(*db));
	*out = db;
	if (db == NULL)
		return -ENOMEM;
	db->base.ops = &db_sqlite_ops;
	for (size_t i = 0; i < DBQ_COUNT; i++)
		db->q[i].base.ops = &db_sqlite_ops;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &db->h, flags, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_busy_handler(db->h, busy_wait, NULL);
	sqlite3_extended_result_codes(db->h, 1);
	if (readonly && exec(db, "PRAGMA query_only = 1") != 0)
		return -EIO;
	return 0;
}

static int
sq_open(const char *path, bool create, bool readonly, struct db **out)
{
	struct sq_db *db = NULL;
	int rc = sq_open_raw(path, create, readonly, &db);
	*out = db != NULL ? &db->base : NULL;
	return rc;
}

static void
sq_close(struct db *b)
{
	struct sq_db *db = D(b);
	if (db == NULL)
		return;
	for (size_t i = 0; i < DBQ_COUNT; i++)
		sqlite3_finalize(db->q[i].h);
	for (size_t i = 0; i < CTL_COUNT; i++)
		sqlite3_finalize(db->ctl[i]);
	sqlite3_close(db->h);
	free(db);
}

static const char *
sq_errmsg(struct db *b)
{
	struct sq_db *db = D(b);
	return db->h != NULL ? sqlite3_errmsg(db->h) : "out of memory";
}

/* ---- schema 0012: the packing of the RRSIG rows that move to dnssec_names ------------- */

/* anycst_sigpack(ttl, rdata): a name's RRSIG rows packed as dn_rows.h says. */
struct sigpack {
	struct dn_sig *v;
	uint8_t **rd;
	size_t n, cap;
	int oom;
};

static void
sigpack_step(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	(void)argc;
	struct sigpack *p = sqlite3_aggregate_context(cx, sizeof(*p));
	if (p == NULL || p->oom)
		return;
	int len = sqlite3_value_bytes(argv[1]);
	const void *rd = sqlite3_value_blob(argv[1]);
	if (len > 65535)
		len = 65535;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct dn_sig *v = realloc(p->v, cap * sizeof(*v));
		if (v != NULL)
			p->v = v;
		uint8_t **r = v != NULL ? realloc(p->rd, cap * sizeof(*r)) : NULL;
		if (r == NULL) {
			p->oom = 1;
			return;
		}
		p->rd = r;
		p->cap = cap;
	}
	uint8_t *copy = malloc(len > 0 ? (size_t)len : 1);
	if (copy == NULL) {
		p->oom = 1;
		return;
	}
	if (len > 0)
		memcpy(copy, rd, (size_t)len);
	p->rd[p->n] = copy;
	p->v[p->n++] = (struct dn_sig){(uint32_t)sqlite3_value_int64(argv[0]), copy, (uint16_t)len};
}

static void
sigpack_final(sqlite3_context *cx)
{
	struct sigpack *p = sqlite3_aggregate_context(cx, 0);
	if (p == NULL) {
		sqlite3_result_zeroblob(cx, 0);
		return;
	}
	size_t total = 0;
	for (size_t i = 0; i < p->n; i++)
		total += DN_SIG_HEAD + p->v[i].rdlen;
	uint8_t *out = p->oom ? NULL : malloc(total ? total : 1);
	int64_t exp;
	if (out == NULL)
		sqlite3_result_error_nomem(cx);
	else
		sqlite3_result_blob(cx, out, (int)dn_pack(p->v, p->n, out, &exp), free);
	for (size_t i = 0; i < p->n; i++)
		free(p->rd[i]);
	free(p->rd);
	free(p->v);
}

/* anycst_sigexp(sigs): the earliest expiration of a packed blob. */
static void
sigexp(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	(void)argc;
	sqlite3_result_int64(cx, dn_sigs_exp(sqlite3_value_blob(argv[0]),
	                                     (size_t)sqlite3_value_bytes(argv[0])));
}

static int
migrate_functions(sqlite3 *h)
{
	int rc = sqlite3_create_function(h, "anycst_sigpack", 2, SQLITE_UTF8, NULL, NULL,
	                                 sigpack_step, sigpack_final);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(h, "anycst_sigexp", 1, SQLITE_UTF8 |
		                             SQLITE_DETERMINISTIC, NULL, sigexp, NULL, NULL);
	return rc == SQLITE_OK ? 0 : -EIO;
}

static int
sq_migrate(struct db *b, const char *path, char *err, size_t errcap)
{
	struct sq_db *db = D(b);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errcap, "%s: %s", path, sqlite3_errmsg(db->h));
		return -EIO;
	}
	int64_t ver = 0;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		ver = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW) {
		snprintf(err, errcap, "%s: not a database: %s", path, sqlite3_errmsg(db->h));
		return -EIO;
	}
	if (ver > (int64_t)schema_count) {
		snprintf(err, errcap,
		         "%s: database schema version %" PRId64 " is newer than this binary's %zu; "
		         "refusing to touch it",
		         path, ver, schema_count);
		return ERR_SCHEMA_NEWER;
	}
	if (exec(db, "PRAGMA journal_mode = WAL") != 0 || exec(db, "PRAGMA synchronous = NORMAL") != 0 ||
	    exec(db, "PRAGMA foreign_keys = ON") != 0) {
		snprintf(err, errcap, "%s: cannot set pragmas: %s", path, sqlite3_errmsg(db->h));
		return -EIO;
	}
	if (ver == (int64_t)schema_count)
		return 0;
	if (migrate_functions(db->h) != 0 || exec(db, "BEGIN IMMEDIATE") != 0) {
		snprintf(err, errcap, "%s: %s", path, sqlite3_errmsg(db->h));
		return -EIO;
	}
	for (size_t i = (size_t)ver; i < schema_count; i++) {
		char *msg = NULL;
		if (sqlite3_exec(db->h, schema_migrations[i], NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errcap, "%s: migration %zu failed: %s", path, i + 1, msg ? msg : "?");
			sqlite3_free(msg);
			exec(db, "ROLLBACK");
			return -EIO;
		}
	}
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", schema_count);
	if (exec(db, sql) != 0 || exec(db, "COMMIT") != 0) {
		snprintf(err, errcap, "%s: cannot commit migrations", path);
		exec(db, "ROLLBACK");
		return -EIO;
	}
	log_info(NULL, "store: %s migrated to schema version %zu", path, schema_count);
	return 0;
}

/* The writer's WAL hook: after each commit, the frames now in the WAL
 * (sq_wal_bound).  It replaces the automatic checkpoints, which are off. */
static int
wal_frames_hook(void *arg, sqlite3 *h, const char *name, int frames)
{
	(void)h;
	(void)name;
	((struct sq_db *)arg)->wal_frames = frames;
	return SQLITE_OK;
}

static int
sq_writer_ready(struct db *b)
{
	/* a WAL started over keeps at most this much of its file (ckpt_passive);
	 * half of --wal-max once the writer knows it (wal_restart) */
	if (exec(D(b), "PRAGMA journal_size_limit = 25165824") != 0 ||
	    exec(D(b), "PRAGMA wal_autocheckpoint = 0") != 0)
		return -EIO;
	sqlite3_wal_hook(D(b)->h, wal_frames_hook, D(b));
	return 0;
}

static int
sq_begin(struct db *b)
{
	return ctl(D(b), CTL_BEGIN_W);
}

static struct db_stmt *sq_q(struct db *b, enum db_qid id);

static int
sq_begin_read(struct db *b)
{
	if (ctl(D(b), CTL_BEGIN_R) != 0)
		return -EIO;
	/* BEGIN is deferred: read once so the snapshot is taken now */
	struct db_stmt *s = sq_q(b, DBQ_ZONE_BY_NAME);
	if (s != NULL) {
		db_bind_text(s, 1, "");
		db_step(s);
		db_done(s);
	}
	return 0;
}

static int
sq_commit(struct db *b)
{
	return ctl(D(b), CTL_COMMIT);
}

static int
sq_rollback(struct db *b)
{
	return ctl(D(b), CTL_ROLLBACK);
}

static int
sq_savepoint(struct db *b, enum db_sp op)
{
	struct sq_db *db = D(b);
	/* an I/O error or a full disk may have rolled the whole transaction back */
	if (sqlite3_get_autocommit(db->h))
		return -EIO;
	if (op == DB_SP_SET)
		return ctl(db, CTL_SP_SET);
	if (op == DB_SP_UNDO && ctl(db, CTL_SP_UNDO) != 0)
		return -EIO;
	return ctl(db, CTL_SP_RELEASE);
}

static int64_t
sq_reprepares(struct db *b)
{
	struct sq_db *db = D(b);
	int64_t n = 0;
	for (int id = 0; id < DBQ_COUNT; id++)
		if (db->q[id].h != NULL)
			n += sqlite3_stmt_status(db->q[id].h, SQLITE_STMTSTATUS_REPREPARE, 0);
	return n;
}

static struct db_stmt *
sq_q(struct db *b, enum db_qid id)
{
	struct sq_db *db = D(b);
	if (db->q[id].h == NULL) {
		if (sqlite3_prepare_v3(db->h, db_sql(qsql, id), -1, SQLITE_PREPARE_PERSISTENT, &db->q[id].h,
		                       NULL) != SQLITE_OK) {
			log_error(NULL, "store: cannot prepare query %d: %s", (int)id,
			          sqlite3_errmsg(db->h));
			return NULL;
		}
	}
	return &db->q[id].base;
}

static void
sq_bind_i64(struct db_stmt *s, int i, int64_t v)
{
	sqlite3_bind_int64(S(s), i, v);
}

static void
sq_bind_text(struct db_stmt *s, int i, const char *v)
{
	sqlite3_bind_text(S(s), i, v, -1, SQLITE_STATIC);
}

static void
sq_bind_blob(struct db_stmt *s, int i, const void *p, size_t n)
{
	/* an empty blob, not NULL */
	sqlite3_bind_blob(S(s), i, n ? p : (const void *)"", (int)n, SQLITE_STATIC);
}

static int
sq_step(struct db_stmt *s)
{
	int rc = sqlite3_step(S(s));
	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE)
		return DB_DONE;
	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return -EEXIST;
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return -ENOENT;
	log_error(NULL, "store: %s", sqlite3_errmsg(sqlite3_db_handle(S(s))));
	return -EIO;
}

static void
sq_done(struct db_stmt *s)
{
	sqlite3_reset(S(s));
	sqlite3_clear_bindings(S(s));
}

static int64_t
sq_col_i64(struct db_stmt *s, int i)
{
	return sqlite3_column_int64(S(s), i);
}

static bool
sq_col_null(struct db_stmt *s, int i)
{
	return sqlite3_column_type(S(s), i) == SQLITE_NULL;
}

static const void *
sq_col_blob(struct db_stmt *s, int i)
{
	return sqlite3_column_blob(S(s), i);
}

static size_t
sq_col_bytes(struct db_stmt *s, int i)
{
	int n = sqlite3_column_bytes(S(s), i);
	return n > 0 ? (size_t)n : 0;
}

static const char *
sq_col_text(struct db_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(S(s), i);
}

static int64_t
sq_last_id(struct db *b)
{
	return sqlite3_last_insert_rowid(D(b)->h);
}

static int64_t
sq_changes(struct db *b)
{
	return sqlite3_changes(D(b)->h);
}

static bool
sq_retry(struct db *b)
{
	(void)b;
	return false;   /* one writer: no serialization failures */
}

static void sq_wal_bound(struct db *b, struct db_ckpt *ck, int64_t wal_max);
static int64_t sq_reprepares(struct db *b);

const struct db_ops db_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.errmsg = sq_errmsg,
	.migrate = sq_migrate,
	.writer_ready = sq_writer_ready,
	.begin = sq_begin,
	.begin_read = sq_begin_read,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.savepoint = sq_savepoint,
	.q = sq_q,
	.bind_i64 = sq_bind_i64,
	.bind_text = sq_bind_text,
	.bind_blob = sq_bind_blob,
	.step = sq_step,
	.done = sq_done,
	.col_i64 = sq_col_i64,
	.col_null = sq_col_null,
	.col_blob = sq_col_blob,
	.col_bytes = sq_col_bytes,
	.col_text = sq_col_text,
	.last_id = sq_last_id,
	.changes = sq_changes,
	.retry = sq_retry,
	.wal_bound = sq_wal_bound,
	.reprepares = sq_reprepares,
};

/* ---- the checkpointer ------------------------------------------------------------ */

/* WAL frames (pages) past which the checkpointer starts the WAL over. */
#define CKPT_RESTART_FRAMES 4096
/* How long the writer's truncation over the bound waits for readers and
 * for a checkpoint of the checkpointer in progress. */
#define CKPT_FORCE_MS 10000
#define CKPT_RETRY_US 2000
/* A PASSIVE checkpoint every tick, or while writes come every
 * CKPT_BUSY_TICKS ticks (the WAL starts over at most that often). */
#define CKPT_TICK_MS 100
#define CKPT_BUSY_TICKS 4

struct db_ckpt {
	char *path;
	int64_t wal_max;      /* bytes */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	bool nudged;   /* the writer asks for a checkpoint now (ckpt_nudge) */
	int copied;    /* frames its last PASSIVE found copied back (atomic; wal_restart) */
};

/* Waits for the stop flag, a nudge (`*nudged` set) or one tick; true when
 * asked to stop. */
static bool
ckpt_wait(struct db_ckpt *ck, bool *nudged)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += CKPT_TICK_MS * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&ck->mu);
	if (!ck->stop && !ck->nudged)
		pthread_cond_timedwait(&ck->cv, &ck->mu, &ts);
	bool stop = ck->stop;
	*nudged = ck->nudged;
	ck->nudged = false;
	pthread_mutex_unlock(&ck->mu);
	return stop;
}

/* The writer's request for a checkpoint now (wal_restart). */
static void
ckpt_nudge(struct db_ckpt *ck)
{
	pthread_mutex_lock(&ck->mu);
	ck->nudged = true;
	pthread_cond_signal(&ck->cv);
	pthread_mutex_unlock(&ck->mu);
}

/* The connection's data_version: another connection's commit changes it. */
static int64_t
data_version(struct sq_db *db)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db->h, "PRAGMA data_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int64_t
mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* WAL frames past which the WAL starts over: CKPT_RESTART_FRAMES, or a
 * quarter of `wal_max` when less (so the writer's truncation at half of
 * it stays the exception), at least 64. */
static int
restart_frames(int64_t wal_max)
{
	int64_t quarter = wal_max / 4 / 4096;
	int restart = quarter < CKPT_RESTART_FRAMES ? (int)quarter : CKPT_RESTART_FRAMES;
	return restart < 64 ? 64 : restart;
}

/*
 * PASSIVE copies back what no reader still needs, never blocking anyone;
 * under a steady stream of writes SQLite may never start the WAL over, so
 * past `restart` frames, all copied, it starts it over (RESTART): the
 * writers then overwrite the file's first pages (cached) instead of growing
 * a truncated file page by page, which costs the writer an allocation per
 * page; once no frame came since its last checkpoint (the writers are idle)
 * it truncates the file.  RESTART and TRUNCATE hold the WAL's write lock all
 * along, so they run only when they find nothing to do but that: every
 * frame copied, none committed since the PASSIVE (else they would copy
 * them and fsync the database file with an API write waiting behind it,
 * tens of ms on a busy disk), and no reader (they do not wait for one: the
 * busy timeout is 0; the next tick tries again).  At a `restart` of 1024 the
 * RESTART came at every tick under a stream of UPDATEs and made their p99.
 * Under a stream of commits (one every few hundred µs) something is always
 * committed since the PASSIVE: the writer starts the WAL over itself
 * (wal_restart).  `*last`: the frames seen at the last checkpoint.
 */
static void
ckpt_passive(struct sq_db *db, int *last, int restart, int *copied)
{
	int nlog = 0, nckpt = 0;
	int64_t v0 = data_version(db);
	int64_t t0 = mono_us();
	int rc = sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
	if (rc != SQLITE_OK)
		return;   /* the writer's checkpoint in progress */
	__atomic_store_n(copied, nckpt, __ATOMIC_RELAXED);
	int64_t us = mono_us() - t0;
	if (us >= 1000)   /* it copied and synced */
		log_debug(NULL, "store: checkpointer: WAL of %d frames, %d copied back in %lld us",
		          nlog, nckpt, (long long)us);
	bool all = nlog > 0 && nckpt == nlog && data_version(db) == v0;
	if (all && nlog == *last)
		sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	else if (all && nlog >= restart)
		sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
	*last = nlog;
}

/*
 * Whether this tick checkpoints.  Each checkpoint that copies everything
 * makes the next writer start the WAL over, and that writer syncs the new
 * WAL header (fdatasync, in an API write's commit): while writes keep
 * coming (data_version moved since the last tick), only every
 * CKPT_BUSY_TICKS-th tick checkpoints, so at most a few writes a second
 * pay that sync; an idle tick checkpoints at once.
 */
static bool
ckpt_due(struct sq_db *db, int64_t *last, int *skipped)
{
	int64_t v = data_version(db);
	bool busy = v != *last;
	*last = v;
	if (busy && ++*skipped < CKPT_BUSY_TICKS)
		return false;
	*skipped = 0;
	return true;
}

/* Bytes of WAL file per frame (a page and its 24-byte header). */
#define WAL_FRAME_BYTES (4096 + 24)

/*
 * The writer starts the WAL over, after a commit past 3/8 of `wal_max`
 * (24 MiB of the default 64; the truncation comes at half), while the
 * store's writer mutex is held (no one commits meanwhile): a PASSIVE copies
 * back the few frames since the checkpointer's last checkpoint (the writer
 * nudges it half of the way there, then every 1/32 past it until it has
 * caught up) and syncs them; the next commit then
 * finds every frame copied and starts the WAL over in place (SQLite syncs
 * the new header then), unless a reader still reads an older frame of it
 * (tried again 1/64 of the way later, 1/8 when one kept frames back).  No file is truncated or grown again.
 * Before this the WAL only ever started over by the truncation past half of
 * --wal-max (32 MiB): under 3,000 UPDATEs/s (8 frames each) every 0.3 s,
 * each copying back, syncing and truncating 32 MiB while the changes of all
 * clients waited behind it, 15-30 ms on a quiet disk, 70-140 ms on a busy
 * one: the UPDATEs' p99 (issue 16).  A checkpoint of the checkpointer in
 * progress holds the checkpoint lock (SQLITE_BUSY at once): tried again at
 * the next commit, and past half of the way to the truncation waited for.
 */
static void
wal_restart(struct sq_db *db, struct db_ckpt *ck, int64_t wal_max)
{
	int restart = (int)(wal_max * 3 / 8 / WAL_FRAME_BYTES);
	/* Half of the way, not every 1/8 as before the gate below: each nudged
	 * checkpoint's copy and fsync slowed the changes beside it (their reads
	 * of pages under writeback wait for it), so a stream of signed PATCHes
	 * (17 frames each) had one every ~45 and a p99 of 1.8-2.0 ms over 1,000;
	 * with two a WAL it is 1.2-1.4 ms, and the UPDATE bench's p99 did not
	 * move (6.7-8.3 ms either way: the gate keeps the writer's own copy small). */
	int step = restart / 2;
	if (db->wal_limit != wal_max) {
		/* the file started over keeps its size: past the bound it is truncated */
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit = %lld", (long long)wal_max / 2);
		if (exec(db, sql) == 0)
			db->wal_limit = wal_max;
	}
	if (db->wal_frames < db->wal_nudge_at - step)   /* started over */
		db->wal_nudge_at = 0;
	if (ck != NULL && db->wal_frames >= db->wal_nudge_at + step && db->wal_frames < restart) {
		ckpt_nudge(ck);
		db->wal_nudge_at = db->wal_frames;
	}
	if (db->wal_frames < restart) {
		db->wal_retry_at = 0;
		return;
	}
	if (db->wal_frames < db->wal_retry_at)
		return;
	/* past half of the way to the truncation, waits for the checkpointer's
	 * checkpoint in progress instead of trying again at the next commit */
	int wait_from = restart + (int)(wal_max / 2 / WAL_FRAME_BYTES - restart) / 2;
	/* only once the checkpointer's last checkpoint left at most 1/32 of the
	 * way uncopied (nudged again every 1/32 until then; its count is of this
	 * WAL when not above the writer's): what the writer copies back and syncs
	 * with every change waiting is then that little, not up to a step (the
	 * restart's 20-30 ms became 3-7 ms in the UPDATE bench); past wait_from,
	 * at once */
	int copied = ck != NULL ? __atomic_load_n(&ck->copied, __ATOMIC_RELAXED) : db->wal_frames;
	if ((copied > db->wal_frames || db->wal_frames - copied > restart / 32) &&
	    db->wal_frames < wait_from) {
		if (db->wal_frames >= db->wal_nudge_at + restart / 32) {
			ckpt_nudge(ck);
			db->wal_nudge_at = db->wal_frames;
		}
		return;
	}
	int64_t t0 = mono_us(), deadline = t0 + (int64_t)CKPT_FORCE_MS * 1000;
	int nlog = 0, nckpt = 0, rc;
	while ((rc = sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog,
	                                       &nckpt)) == SQLITE_BUSY &&
	       db->wal_frames >= wait_from && mono_us() < deadline) {
		struct timespec ts = {0, 250 * 1000};
		nanosleep(&ts, NULL);
	}
	if (rc == SQLITE_BUSY)
		return;
	/* a reader on an older frame kept some back: it may take a while */
	db->wal_retry_at = db->wal_frames + (nckpt < nlog ? restart / 8 : restart / 64);
	log_debug(NULL, "store: WAL of %d frames, %d copied back by the writer in %lld us", nlog,
	          nckpt, (long long)(mono_us() - t0));
}

/*
 * The bound itself (wal_restart keeps the WAL under it while no reader
 * holds it back), on the writer's connection after a commit, while the
 * store's writer mutex is held: no other writer can take the write lock, so
 * the truncation only waits for the read snapshots of the moment (new ones
 * read the database file).  The checkpointer's own thread could not bound
 * the WAL: between busy writers it never got the write lock and fell back
 * to PASSIVE, which overlapping readers always leave unfinished.  A
 * checkpoint of that thread in progress holds the checkpoint lock, for which
 * SQLite never calls the busy handler (immediate SQLITE_BUSY): retried here
 * until it is done.
 */
static void
sq_wal_bound(struct db *b, struct db_ckpt *ck, int64_t wal_max)
{
	struct sq_db *db = D(b);
	wal_restart(db, ck, wal_max);
	const char *wal = sqlite3_filename_wal(sqlite3_db_filename(db->h, "main"));
	struct stat sb;
	if (wal == NULL || stat(wal, &sb) != 0 || (int64_t)sb.st_size <= wal_max / 2)
		return;
	int64_t deadline = mono_us() + (int64_t)CKPT_FORCE_MS * 1000;
	int rc;
	while ((rc = sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
	                                       NULL)) == SQLITE_BUSY && mono_us() < deadline) {
		struct timespec ts = {0, CKPT_RETRY_US * 1000};
		nanosleep(&ts, NULL);
	}
	if (rc != SQLITE_OK)
		log_warning(NULL, "store: WAL of %lld bytes over its bound, not truncated: %s",
		            (long long)sb.st_size, sqlite3_errmsg(db->h));
}

/*
 * Checkpoints the WAL on a connection of its own (ckpt_passive).  The
 * writer's automatic checkpoints are off, so an API request never waits for
 * the database file's fsync, except past half the WAL bound (db_wal_bound).
 */
static void *
ckpt_main(void *arg)
{
	struct db_ckpt *ck = arg;
	struct sq_db *db = NULL;
	if (sq_open_raw(ck->path, false, false, &db) != 0) {
		sq_close(db != NULL ? &db->base : NULL);
		return NULL;
	}
	/* A connection learns that the database is in WAL mode only when it
	 * first reads it; until then every checkpoint is a no-op (pnLog -1)
	 * and the WAL grows without bound. */
	if (exec(db, "PRAGMA journal_mode") != 0)
		log_warning(NULL, "store: the WAL checkpointer cannot read the database");
	pthread_setname_np(pthread_self(), "anycst-ckpt");   /* top -H, perf: its own name */
	sqlite3_busy_timeout(db->h, 0);
	int last = 0;
	int restart = restart_frames(ck->wal_max);
	int64_t version = -1;
	int skipped = 0;
	/* under a stream of writes the writer nudges it half of the way to the
	 * WAL's start over and past it (wal_restart): a tick (every 4th, 400 ms) was too rare at
	 * 3,000 UPDATEs/s (28 MiB of WAL in 0.2 s), and the writer copied back
	 * and synced most of the frames itself, 50-160 ms with its group waiting */
	bool nudged = false;
	while (!ckpt_wait(ck, &nudged))
		if (nudged || ckpt_due(db, &version, &skipped))
			ckpt_passive(db, &last, restart, &ck->copied);
	/* a last full checkpoint at shutdown keeps the WAL small */
	sqlite3_busy_timeout(db->h, 10000);
	sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sq_close(&db->base);
	return NULL;
}

struct db_ckpt *
db_sqlite_ckpt_start(const char *path, int64_t wal_max)
{
	struct db_ckpt *ck = calloc(1, sizeof(*ck));
	if (ck == NULL)
		return NULL;
	ck->wal_max = wal_max;
	ck->path = strdup(path);
	pthread_mutex_init(&ck->mu, NULL);
	pthread_cond_init(&ck->cv, NULL);
	if (ck->path == NULL || pthread_create(&ck->thread, NULL, ckpt_main, ck) != 0) {
		pthread_mutex_destroy(&ck->mu);
		pthread_cond_destroy(&ck->cv);
		free(ck->path);
		free(ck);
		return NULL;
	}
	return ck;
}

void
db_sqlite_ckpt_stop(struct db_ckpt *ck)
{
	pthread_mutex_lock(&ck->mu);
	ck->stop = true;
	pthread_cond_signal(&ck->cv);
	pthread_mutex_unlock(&ck->mu);
	pthread_join(ck->thread, NULL);
	pthread_mutex_destroy(&ck->mu);
	pthread_cond_destroy(&ck->cv);
	free(ck->path);
	free(ck);
}
