/*
 * SQLite backend of the database layer (see db.h): every SQL text and every
 * sqlite3_* call of the store is here.  Connections use WAL, foreign_keys=ON
 * and a busy timeout; statements are prepared once per connection.
 */
#include "primary/db_int.h"

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

/* a record's rdata as written and its TXT text as sent (schema 0006) */
#define REC_COLS "r.owner, r.type, r.ttl, coalesce(t.rdata_case, r.rdata)"
#define REC_FROM "FROM records r LEFT JOIN record_text t ON t.zone_id = r.zone_id AND " \
	"t.okey = r.okey AND t.type = r.type AND t.rdata = r.rdata "

#define ZONE_COLS "id, name, wire, kind, account, soa_edit_api, serial, notified_serial, " \
                  "is_catalog, (SELECT nsec3 FROM zone_dnssec d WHERE d.zone_id = zones.id), " \
                  "coalesce((SELECT t_unsign FROM zone_unsign u WHERE u.zone_id = zones.id), 0)"
/* a key's column of its rollover row (schema 0010), NULL without one */
#define ROLL_COL(c) "(SELECT " c " FROM dnssec_key_roll r WHERE r.key_id = dnssec_keys.id)"
#define KEY_COLS "id, keytype, flags, algorithm, keytag, dnskey, private, published, active, " \
                 "t_created, t_publish, t_active, t_retire, t_remove, coalesce(" ROLL_COL("cds") \
                 ", 0)"
/* the chain neighbours: ?2 is a lookup key; the partial index records_chain */
#define CHAIN_Q(t, op, dir) "SELECT okey, owner, ttl, rdata FROM records WHERE zone_id = ?1 " \
                            "AND type = " t " AND okey " op " ?2 ORDER BY okey " dir " LIMIT 1"

/*
 * `type = +?3`, not `type = ?3`, wherever records are looked up by a bound
 * type: the partial indexes (records_chain, records_sig_exp, records_sig_tag:
 * `WHERE type IN (47, 50)` / `type = 46`) make SQLite compare a bare bound
 * parameter with the index's condition, mark the statement for re-preparing
 * on every new binding, and parse its SQL again at each step (it made an
 * import of 100,000 records spend half its time in the SQL parser).  The unary
 * plus keeps the index use and leaves the prepared plan alone; db_reprepares()
 * lets the unit tests see that no statement is re-prepared.
 */
static const char *const qsql[DBQ_COUNT] = {
	[DBQ_ZONE_BY_NAME] = "SELECT " ZONE_COLS " FROM zones WHERE name = ?1",
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
	[DBQ_ZONE_DELETE] = "DELETE FROM zones WHERE id = ?1",
	[DBQ_ZONE_UPDATE] = "UPDATE zones SET kind = coalesce(?2, kind), account = coalesce(?3, "
	                    "account), soa_edit_api = coalesce(?4, soa_edit_api), updated_at = ?5 "
	                    "WHERE id = ?1",
	[DBQ_ZONE_SERIAL] = "UPDATE zones SET serial = ?2, updated_at = ?3 WHERE id = ?1",
	[DBQ_LKEY_INSERT] = "INSERT INTO zone_lkeys (zone_id, lkey) VALUES (?1, ?2)",
	[DBQ_LKEY_MISSING] = "SELECT id, wire FROM zones WHERE id NOT IN "
	                     "(SELECT zone_id FROM zone_lkeys)",
	[DBQ_ZONE_DESCENDANT] = "SELECT z.name FROM zone_lkeys k JOIN zones z ON z.id = k.zone_id "
	                        "WHERE k.lkey > ?1 AND k.lkey < ?2 AND z.account != ?3 LIMIT 1",
	[DBQ_ROWS_ALL] = "SELECT " REC_COLS ", r.disabled, t.content " REC_FROM
	                 "WHERE r.zone_id = ?1 ORDER BY r.okey, r.type, r.rdata",
	[DBQ_ROWS_OWNER] = "SELECT " REC_COLS ", r.disabled, t.content " REC_FROM
	                   "WHERE r.zone_id = ?1 AND r.okey = ?2 ORDER BY r.type, r.rdata",
	[DBQ_ROWS_RRSET] = "SELECT " REC_COLS ", r.disabled, t.content " REC_FROM
	                   "WHERE r.zone_id = ?1 AND r.okey = ?2 AND r.type = +?3 ORDER BY r.rdata",
	[DBQ_AXFR_REST] = "SELECT " REC_COLS " " REC_FROM "WHERE r.zone_id = ?1 AND r.disabled = 0 "
	                  "AND NOT (r.type = 6 AND r.okey = ?2) AND (?3 OR r.type NOT IN (46, 47, 50)) "
	                  "ORDER BY r.okey, r.type, r.rdata",
	[DBQ_SOA] = "SELECT r.owner, r.ttl, coalesce(t.rdata_case, r.rdata) " REC_FROM
	            "WHERE r.zone_id = ?1 AND r.okey = ?2 AND r.type = 6 AND r.disabled = 0",
	[DBQ_REC_INSERT] = "INSERT INTO records (zone_id, okey, owner, type, ttl, rdata, disabled) "
	                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[DBQ_REC_INSERT_MANY] = "INSERT INTO records (zone_id, okey, owner, type, ttl, rdata, "
	                        "disabled) VALUES "
	                        "(?1, ?2, ?3, ?4, ?5, ?6, 0), (?1, ?7, ?8, ?9, ?10, ?11, 0), "
	                        "(?1, ?12, ?13, ?14, ?15, ?16, 0), (?1, ?17, ?18, ?19, ?20, ?21, 0), "
	                        "(?1, ?22, ?23, ?24, ?25, ?26, 0), (?1, ?27, ?28, ?29, ?30, ?31, 0), "
	                        "(?1, ?32, ?33, ?34, ?35, ?36, 0), (?1, ?37, ?38, ?39, ?40, ?41, 0), "
	                        "(?1, ?42, ?43, ?44, ?45, ?46, 0), (?1, ?47, ?48, ?49, ?50, ?51, 0), "
	                        "(?1, ?52, ?53, ?54, ?55, ?56, 0), (?1, ?57, ?58, ?59, ?60, ?61, 0), "
	                        "(?1, ?62, ?63, ?64, ?65, ?66, 0), (?1, ?67, ?68, ?69, ?70, ?71, 0), "
	                        "(?1, ?72, ?73, ?74, ?75, ?76, 0), (?1, ?77, ?78, ?79, ?80, ?81, 0)",
	[DBQ_STAGE_CONN] = "PRAGMA synchronous = NORMAL",
	[DBQ_STAGE_TEMP] = "PRAGMA temp_store = MEMORY",
	[DBQ_REC_UPSERT] = "INSERT INTO records (zone_id, okey, owner, type, ttl, rdata, disabled) "
	                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (zone_id, okey, type, "
	                   "rdata) DO UPDATE SET disabled = excluded.disabled",
	[DBQ_REC_TEXT_PUT] = "INSERT OR REPLACE INTO record_text (zone_id, okey, type, rdata, "
	                     "rdata_case, content) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[DBQ_ZONE_PDNS_GET] = "SELECT masters, catalog, soa_edit_api, soa_edit FROM zone_pdns "
	                      "WHERE zone_id = ?1",
	[DBQ_ZONE_PDNS_PUT] = "INSERT INTO zone_pdns (zone_id, masters, catalog, soa_edit_api, "
	                      "soa_edit) VALUES (?1, coalesce(?2, ''), coalesce(?3, ''), ?4, "
	                      "coalesce(?5, '')) ON CONFLICT (zone_id) DO UPDATE SET masters = "
	                      "coalesce(?2, masters), catalog = coalesce(?3, catalog), "
	                      "soa_edit_api = CASE WHEN ?6 THEN ?4 ELSE soa_edit_api END, "
	                      "soa_edit = coalesce(?5, soa_edit)",
	[DBQ_META_GET] = "SELECT kind, content FROM zone_metadata WHERE zone_id = ?1 AND "
	                 "(?2 IS NULL OR kind = ?2) ORDER BY kind, ord",
	[DBQ_META_DEL] = "DELETE FROM zone_metadata WHERE zone_id = ?1 AND kind = ?2",
	[DBQ_META_PUT] = "INSERT INTO zone_metadata (zone_id, kind, ord, content) "
	                 "VALUES (?1, ?2, ?3, ?4)",
	[DBQ_REC_TEXT_DEL] = "DELETE FROM record_text WHERE zone_id = ?1 AND okey = ?2 AND "
	                     "type = +?3 AND rdata = ?4",
	[DBQ_RRSET_DELETE] = "DELETE FROM records WHERE zone_id = ?1 AND okey = ?2 AND type = +?3",
	[DBQ_REC_DELETE] = "DELETE FROM records WHERE zone_id = ?1 AND okey = ?2 AND type = +?3 "
	                   "AND rdata = ?4",
	[DBQ_RRSET_TTL] = "UPDATE records SET ttl = ?4 WHERE zone_id = ?1 AND okey = ?2 AND type = +?3",
	[DBQ_OWNER_TYPES] = "SELECT type, count(*) FROM records WHERE zone_id = ?1 AND okey = ?2 "
	                    "AND disabled = 0 GROUP BY type",
	[DBQ_OWNER_TYPES_ALL] = "SELECT DISTINCT type FROM records WHERE zone_id = ?1 AND okey = ?2",
	[DBQ_COMMENTS_DEL] = "DELETE FROM comments WHERE zone_id = ?1 AND okey = ?2 AND type = ?3",
	[DBQ_COMMENT_INSERT] = "INSERT INTO comments (zone_id, okey, type, content, account, "
	                       "modified_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[DBQ_COMMENTS_ALL] = "SELECT okey, type, content, account, modified_at FROM comments "
	                     "WHERE zone_id = ?1 ORDER BY okey, type, id",
	[DBQ_JOURNAL_INSERT] = "INSERT INTO journal (zone_id, serial_from, serial_to, removed, added, "
	                       "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[DBQ_JOURNAL_TRIM_AGE] = "DELETE FROM journal WHERE zone_id = ?1 AND created_at < ?2",
	[DBQ_JOURNAL_TRIM] = "DELETE FROM journal WHERE zone_id = ?1 AND seq < (SELECT seq FROM "
	                     "journal WHERE zone_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
	[DBQ_JOURNAL_START] = "SELECT max(seq) FROM journal WHERE zone_id = ?1 AND serial_from = ?2",
	[DBQ_JOURNAL_FROM] = "SELECT serial_from, serial_to, removed, added, created_at FROM journal "
	                     "WHERE zone_id = ?1 AND seq >= ?2 ORDER BY seq",
	[DBQ_JOURNAL_RANGE] = "SELECT count(*), (SELECT serial_from FROM journal WHERE zone_id = ?1 "
	                      "ORDER BY seq LIMIT 1) FROM journal WHERE zone_id = ?1",
	[DBQ_TSIG_GET] = "SELECT name, algorithm, secret FROM tsig_keys WHERE name = ?1",
	[DBQ_TSIG_ALL] = "SELECT name, algorithm, secret FROM tsig_keys ORDER BY name",
	[DBQ_TSIG_INSERT] = "INSERT INTO tsig_keys (name, algorithm, secret) VALUES (?1, ?2, ?3)",
	[DBQ_TSIG_UPSERT] = "INSERT INTO tsig_keys (name, algorithm, secret) VALUES (?1, ?2, ?3) "
	                    "ON CONFLICT (name) DO UPDATE SET algorithm = excluded.algorithm, "
	                    "secret = excluded.secret",
	[DBQ_TSIG_DELETE] = "DELETE FROM tsig_keys WHERE name = ?1",
	[DBQ_ZONE_TSIG] = "SELECT k.name, k.algorithm, k.secret FROM zone_tsig_keys z JOIN tsig_keys "
	                  "k ON k.name = z.key_name WHERE z.zone_id = ?1 ORDER BY k.name",
	[DBQ_ZONE_TSIG_INSERT] = "INSERT OR IGNORE INTO zone_tsig_keys (zone_id, key_name) "
	                         "VALUES (?1, ?2)",
	[DBQ_ZONE_TSIG_CLEAR] = "DELETE FROM zone_tsig_keys WHERE zone_id = ?1",
	[DBQ_ZONE_UTSIG] = "SELECT k.name, k.algorithm, k.secret FROM zone_update_tsig_keys z JOIN "
	                   "tsig_keys k ON k.name = z.key_name WHERE z.zone_id = ?1 ORDER BY k.name",
	[DBQ_ZONE_UTSIG_INSERT] = "INSERT OR IGNORE INTO zone_update_tsig_keys (zone_id, key_name) "
	                          "VALUES (?1, ?2)",
	[DBQ_ZONE_UTSIG_CLEAR] = "DELETE FROM zone_update_tsig_keys WHERE zone_id = ?1",
	[DBQ_ZONE_UTSIG_HAS] = "SELECT 1 FROM zone_update_tsig_keys WHERE zone_id = ?1 AND "
	                       "key_name = ?2",
	[DBQ_UPOLICY_ZONE] = "SELECT key_name, match, name, types FROM zone_update_policy "
	                     "WHERE zone_id = ?1 ORDER BY pos",
	[DBQ_UPOLICY_KEY] = "SELECT key_name, match, name, types FROM zone_update_policy "
	                    "WHERE zone_id = ?1 AND key_name = ?2 ORDER BY pos",
	[DBQ_UPOLICY_CLEAR] = "DELETE FROM zone_update_policy WHERE zone_id = ?1",
	[DBQ_UPOLICY_INSERT] = "INSERT INTO zone_update_policy (zone_id, pos, key_name, match, "
	                       "name, types) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[DBQ_APIKEY_INSERT] = "INSERT INTO api_keys (hash, account, description, created_at) "
	                      "VALUES (?1, ?2, ?3, ?4)",
	[DBQ_APIKEY_DELETE] = "DELETE FROM api_keys WHERE id = ?1",
	[DBQ_APIKEY_ALL] = "SELECT id, account, description, created_at FROM api_keys ORDER BY id",
	[DBQ_APIKEY_FIND] = "SELECT account, id FROM api_keys WHERE hash = ?1",
	[DBQ_AUDIT_INSERT] = "INSERT INTO audit (at_ms, key_id, account, zone, what, status, "
	                     "old_serial, new_serial) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	                     "CASE WHEN ?9 THEN ?7 END, CASE WHEN ?9 THEN ?8 END)",
	/* a later transaction of the same request (store_audit.c): the zone and serials */
	[DBQ_AUDIT_UPDATE] = "UPDATE audit SET zone = ?2, old_serial = CASE WHEN ?5 THEN ?3 END, "
	                     "new_serial = CASE WHEN ?5 THEN ?4 END WHERE id = ?1",
	[DBQ_AUDIT_STATUS] = "UPDATE audit SET status = ?2 WHERE id = ?1",
	[DBQ_AUDIT_LIST] = "SELECT id, at_ms, key_id, account, zone, what, status, old_serial, "
	                   "new_serial FROM audit WHERE at_ms >= ?1 AND (?2 = 0 OR account = ?3) "
	                   "AND (?4 = 0 OR zone = ?5) AND id > ?6 ORDER BY id LIMIT ?7",
	[DBQ_COUNT_ZONES] = "SELECT count(*) FROM zones",
	[DBQ_COUNT_RECORDS] = "SELECT count(*) FROM records",
	[DBQ_COUNT_JOURNAL] = "SELECT count(*) FROM journal",
	/* zones_account, records_rr and journal_zone keep each count to the account's rows */
	[DBQ_COUNT_ACC_ZONES] = "SELECT count(*) FROM zones WHERE account = ?1 AND is_catalog = 0",
	[DBQ_COUNT_ACC_RECORDS] = "SELECT count(*) FROM zones z JOIN records r ON r.zone_id = z.id "
	                          "WHERE z.account = ?1 AND z.is_catalog = 0",
	[DBQ_COUNT_ACC_JOURNAL] = "SELECT count(*) FROM zones z JOIN journal j ON j.zone_id = z.id "
	                          "WHERE z.account = ?1 AND z.is_catalog = 0",
	[DBQ_POP_ACK_PUT] = "INSERT OR REPLACE INTO pop_serials (pop, zone_id, serial, how, "
	                    "transport, address, at_ms) SELECT ?1, z.id, ?3, ?4, ?5, ?6, ?7 FROM "
	                    "zones z WHERE z.name = lower(?2) AND EXISTS (SELECT 1 FROM "
	                    "secondaries WHERE name = ?1)",
	[DBQ_POP_ACKS_ALL] = "SELECT p.pop, z.name, p.serial, p.how, p.transport, p.address, "
	                     "p.at_ms FROM pop_serials p JOIN zones z ON z.id = p.zone_id "
	                     "ORDER BY z.name, p.pop",
	[DBQ_POPS_ALL] = "SELECT s.name, s.endpoint, s.public_key, s.mesh_ip, s.tsig_key, "
	                 "coalesce(p.dns_port, 53), s.created_at, k.secret FROM secondaries s "
	                 "LEFT JOIN tsig_keys k ON k.name = s.tsig_key "
	                 "LEFT JOIN secondary_ports p ON p.name = s.name ORDER BY s.rowid",
	[DBQ_POP_INSERT] = "INSERT INTO secondaries (name, endpoint, public_key, mesh_ip, tsig_key, "
	                   "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[DBQ_POP_PORT_INSERT] = "INSERT INTO secondary_ports (name, dns_port) VALUES (?1, ?2)",
	[DBQ_POP_PORT_DELETE] = "DELETE FROM secondary_ports WHERE name = ?1",
	[DBQ_POP_ACKS_DELETE] = "DELETE FROM pop_serials WHERE pop = ?1",
	[DBQ_POP_DELETE] = "DELETE FROM secondaries WHERE name = ?1",
	[DBQ_NODE_PUT] = "INSERT OR REPLACE INTO primary_nodes (mesh_ip, xfr_port, quic_port, "
	                 "quic_pin, public_key, wg_endpoint, started_at) VALUES (?1, ?2, ?3, ?4, ?5, "
	                 "?6, ?7)",
	[DBQ_NODES_ALL] = "SELECT mesh_ip, xfr_port, quic_port, quic_pin, public_key, wg_endpoint, "
	                  "started_at FROM primary_nodes ORDER BY mesh_ip",
	[DBQ_NODES_CLEAR] = "DELETE FROM primary_nodes",
	[DBQ_DNSSEC_SET] = "INSERT OR REPLACE INTO zone_dnssec (zone_id, nsec3, signed_at) "
	                   "VALUES (?1, ?2, ?3)",
	[DBQ_DNSSEC_CLEAR] = "DELETE FROM zone_dnssec WHERE zone_id = ?1",
	[DBQ_KEY_INSERT] = "INSERT INTO dnssec_keys (zone_id, keytype, flags, algorithm, keytag, "
	                   "dnskey, private, published, active, t_created, t_publish, t_active) "
	                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, "
	                   "CASE WHEN ?9 THEN ?10 END)",
	[DBQ_KEYS_ZONE] = "SELECT " KEY_COLS " FROM dnssec_keys WHERE zone_id = ?1 ORDER BY id",
	[DBQ_KEY_UPDATE] = "UPDATE dnssec_keys SET published = ?3, active = ?4, t_active = CASE "
	                   "WHEN ?4 THEN coalesce(t_active, ?5) END, t_retire = CASE WHEN ?4 "
	                   "THEN NULL ELSE coalesce(t_retire, ?5) END, t_remove = CASE WHEN ?3 "
	                   "THEN NULL ELSE coalesce(t_remove, ?5) END WHERE zone_id = ?1 AND id = ?2",
	[DBQ_KEY_DELETE] = "DELETE FROM dnssec_keys WHERE zone_id = ?1 AND id = ?2",
	[DBQ_NSEC_PREV] = CHAIN_Q("47", "<", "DESC"),
	[DBQ_NSEC_NEXT] = CHAIN_Q("47", ">", "ASC"),
	[DBQ_NSEC3_PREV] = CHAIN_Q("50", "<", "DESC"),
	[DBQ_NSEC3_NEXT] = CHAIN_Q("50", ">", "ASC"),
	[DBQ_OWNERS_RANGE] = "SELECT DISTINCT okey, owner FROM records WHERE zone_id = ?1 "
	                     "AND okey > ?2 AND okey < ?3 ORDER BY okey",
	[DBQ_HAS_DESC] = "SELECT 1 FROM records WHERE zone_id = ?1 AND okey > ?2 AND okey < ?3 "
	                 "AND disabled = 0 AND type NOT IN (46, 47, 50) LIMIT 1",
	[DBQ_SIGS_EXPIRING] = "SELECT owner, rdata FROM records WHERE zone_id = ?1 AND type = 46 "
	                      "AND substr(rdata, 9, 4) < ?2 ORDER BY substr(rdata, 9, 4) LIMIT ?3",
	[DBQ_SIGNED_ROWS] = "SELECT DISTINCT okey, owner, type FROM records WHERE zone_id = ?1 "
	                    "AND type IN (46, 47, 48, 50, 51, 59, 60) ORDER BY okey, type",
	[DBQ_KEY_TIMES] = "SELECT id, flags, algorithm, published, active, coalesce(t_active, 0), "
	                  "coalesce(t_retire, 0), coalesce(t_remove, 0), keytag, keytype, "
	                  "coalesce(" ROLL_COL("t_ready") ", 0), coalesce(" ROLL_COL("t_ds") ", 0), "
	                  "coalesce(" ROLL_COL("cds") ", 0) "
	                  "FROM dnssec_keys WHERE zone_id = ?1 ORDER BY id",
	[DBQ_KEY_TIMES_SET] = "UPDATE dnssec_keys SET published = ?3, active = ?4, "
	                      "t_active = nullif(?5, 0), t_retire = nullif(?6, 0), "
	                      "t_remove = nullif(?7, 0) WHERE zone_id = ?1 AND id = ?2",
	[DBQ_SIGS_BY_TAG] = "SELECT owner, rdata FROM records WHERE zone_id = ?1 AND type = 46 "
	                    "AND substr(rdata, 17, 2) = ?2 LIMIT ?3",
	[DBQ_ZONE_MAX_TTL] = "SELECT coalesce(max(ttl), 0) FROM records WHERE zone_id = ?1",
	/* one node per file: nobody to tell (the store does not call it) */
	[DBQ_ANNOUNCE] = "SELECT ?1 WHERE 0",
	[DBQ_KEY_KSK_SET] = "UPDATE dnssec_keys SET active = ?3, t_retire = nullif(?4, 0), "
	                    "t_remove = nullif(?5, 0) WHERE zone_id = ?1 AND id = ?2",
	[DBQ_KEY_ROLL_SET] = "INSERT OR REPLACE INTO dnssec_key_roll (key_id, t_ready, t_ds, cds) "
	                     "SELECT id, nullif(?3, 0), nullif(?4, 0), ?5 FROM dnssec_keys "
	                     "WHERE zone_id = ?1 AND id = ?2",
	[DBQ_UNSIGN_SET] = "INSERT OR REPLACE INTO zone_unsign (zone_id, t_unsign) VALUES (?1, ?2)",
	[DBQ_UNSIGN_CLEAR] = "DELETE FROM zone_unsign WHERE zone_id = ?1",
	[DBQ_ZONE_RECORDS_COUNT] = "SELECT count(*) FROM records WHERE zone_id = ?1",
	/* background signing (store_bulk.c): rows staged disabled, enabled at the end */
	/* background signing (store_bulk.c): an unsigned zone's RRSIG/NSEC rows are
	 * staged ones, left out of its AXFR (?3 = 0) until the zone is marked signed */
	[DBQ_STAGED_DROP] = "DELETE FROM records WHERE zone_id = ?1 AND type IN (46, 47, 50)",
	[DBQ_JOURNAL_DROP] = "DELETE FROM journal WHERE zone_id = ?1",
	/* keys but not signed: only a background signing that did not finish leaves that */
	[DBQ_ZONES_SIGN_PENDING] = "SELECT wire FROM zones z WHERE EXISTS (SELECT 1 FROM "
	                           "dnssec_keys k WHERE k.zone_id = z.id) AND NOT EXISTS (SELECT 1 "
	                           "FROM zone_dnssec d WHERE d.zone_id = z.id) LIMIT 64",
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
	if (exec(db, "BEGIN IMMEDIATE") != 0) {
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

static int
sq_writer_ready(struct db *b)
{
	/* a WAL started over keeps at most this much of its file (ckpt_passive) */
	if (exec(D(b), "PRAGMA journal_size_limit = 25165824") != 0)
		return -EIO;
	return exec(D(b), "PRAGMA wal_autocheckpoint = 0");
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
		if (sqlite3_prepare_v3(db->h, qsql[id], -1, SQLITE_PREPARE_PERSISTENT, &db->q[id].h,
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

static void sq_wal_bound(struct db *b, int64_t wal_max);
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
};

/* Waits for the stop flag or one tick; true when asked to stop. */
static bool
ckpt_wait(struct db_ckpt *ck)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += CKPT_TICK_MS * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&ck->mu);
	if (!ck->stop)
		pthread_cond_timedwait(&ck->cv, &ck->mu, &ts);
	bool stop = ck->stop;
	pthread_mutex_unlock(&ck->mu);
	return stop;
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
 * busy timeout is 0; the next tick tries again, and past half of the bound
 * the writer truncates itself, db_wal_bound).  At a `restart` of 1024 the
 * RESTART came at every tick under a stream of UPDATEs and made their p99.
 * `*last`: the frames seen at the last checkpoint.
 */
static void
ckpt_passive(struct sq_db *db, int *last, int restart)
{
	int nlog = 0, nckpt = 0;
	int64_t v0 = data_version(db);
	sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
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

static int64_t
mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * The bound itself, on the writer's connection after a commit, while the
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
sq_wal_bound(struct db *b, int64_t wal_max)
{
	struct sq_db *db = D(b);
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
	sqlite3_busy_timeout(db->h, 0);
	int last = 0;
	/* a quarter of the WAL's bound, so the writer's truncation at half of it
	 * stays the exception */
	int64_t quarter = ck->wal_max / 4 / 4096;
	int restart = quarter < CKPT_RESTART_FRAMES ? (int)quarter : CKPT_RESTART_FRAMES;
	if (restart < 64)
		restart = 64;
	int64_t version = -1;
	int skipped = 0;
	while (!ckpt_wait(ck))
		if (ckpt_due(db, &version, &skipped))
			ckpt_passive(db, &last, restart);
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
