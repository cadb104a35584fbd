/*
 * The queries whose SQL is the same in both backends (see db_sql.h).
 */
#include "primary/db_sql.h"

const char *const db_sql_shared[DBQ_COUNT] = {
	[DBQ_ZONE_BY_NAME] = "SELECT " ZONE_COLS " FROM zones WHERE name = ?1",
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
	[DBQ_DN_INSERT_MANY] = "INSERT INTO dnssec_names (zone_id, okey, owner, ctype, cttl, chain, "
	                       "sigs, exp) VALUES "
	                       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8), "
	                       "(?1, ?9, ?10, ?11, ?12, ?13, ?14, ?15), "
	                       "(?1, ?16, ?17, ?18, ?19, ?20, ?21, ?22), "
	                       "(?1, ?23, ?24, ?25, ?26, ?27, ?28, ?29), "
	                       "(?1, ?30, ?31, ?32, ?33, ?34, ?35, ?36), "
	                       "(?1, ?37, ?38, ?39, ?40, ?41, ?42, ?43), "
	                       "(?1, ?44, ?45, ?46, ?47, ?48, ?49, ?50), "
	                       "(?1, ?51, ?52, ?53, ?54, ?55, ?56, ?57), "
	                       "(?1, ?58, ?59, ?60, ?61, ?62, ?63, ?64), "
	                       "(?1, ?65, ?66, ?67, ?68, ?69, ?70, ?71), "
	                       "(?1, ?72, ?73, ?74, ?75, ?76, ?77, ?78), "
	                       "(?1, ?79, ?80, ?81, ?82, ?83, ?84, ?85), "
	                       "(?1, ?86, ?87, ?88, ?89, ?90, ?91, ?92), "
	                       "(?1, ?93, ?94, ?95, ?96, ?97, ?98, ?99), "
	                       "(?1, ?100, ?101, ?102, ?103, ?104, ?105, ?106), "
	                       "(?1, ?107, ?108, ?109, ?110, ?111, ?112, ?113)",
	[DBQ_DN_GET] = "SELECT owner, ctype, cttl, chain, sigs, exp FROM dnssec_names "
	               "WHERE zone_id = ?1 AND okey = ?2",
	[DBQ_DN_PUT] = "INSERT INTO dnssec_names (zone_id, okey, owner, ctype, cttl, chain, sigs, exp) "
	               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (zone_id, okey) DO UPDATE "
	               "SET owner = excluded.owner, ctype = excluded.ctype, cttl = excluded.cttl, "
	               "chain = excluded.chain, sigs = excluded.sigs, exp = excluded.exp",
	[DBQ_DN_DELETE] = "DELETE FROM dnssec_names WHERE zone_id = ?1 AND okey = ?2",
	[DBQ_DN_SCAN] = "SELECT okey, owner, sigs FROM dnssec_names WHERE zone_id = ?1 AND okey > ?2 "
	                "ORDER BY okey LIMIT ?3",
	[DBQ_AXFR_DN] = "SELECT owner, ctype, cttl, chain, sigs FROM dnssec_names WHERE zone_id = ?1 "
	                "ORDER BY okey",
	[DBQ_REC_UPSERT] = "INSERT INTO records (zone_id, okey, owner, type, ttl, rdata, disabled) "
	                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (zone_id, okey, type, "
	                   "rdata) DO UPDATE SET disabled = excluded.disabled",
	[DBQ_ZONE_PDNS_GET] = "SELECT masters, catalog, soa_edit_api, soa_edit FROM zone_pdns "
	                      "WHERE zone_id = ?1",
	[DBQ_META_DEL] = "DELETE FROM zone_metadata WHERE zone_id = ?1 AND kind = ?2",
	[DBQ_META_PUT] = "INSERT INTO zone_metadata (zone_id, kind, ord, content) "
	                 "VALUES (?1, ?2, ?3, ?4)",
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
	[DBQ_ZONE_TSIG_CLEAR] = "DELETE FROM zone_tsig_keys WHERE zone_id = ?1",
	[DBQ_ZONE_UTSIG] = "SELECT k.name, k.algorithm, k.secret FROM zone_update_tsig_keys z JOIN "
	                   "tsig_keys k ON k.name = z.key_name WHERE z.zone_id = ?1 ORDER BY k.name",
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
	[DBQ_APIKEY_DELETE] = "DELETE FROM api_keys WHERE id = ?1",
	[DBQ_APIKEY_ALL] = "SELECT id, account, description, created_at FROM api_keys ORDER BY id",
	[DBQ_APIKEY_FIND] = "SELECT account, id FROM api_keys WHERE hash = ?1",
	[DBQ_AUDIT_STATUS] = "UPDATE audit SET status = ?2 WHERE id = ?1",
	[DBQ_COUNT_ZONES] = "SELECT count(*) FROM zones",
	[DBQ_COUNT_RECORDS] = "SELECT count(*) FROM records",
	[DBQ_COUNT_JOURNAL] = "SELECT count(*) FROM journal",
	/* zones_account, records_rr and journal_zone keep each count to the account's rows */
	[DBQ_COUNT_ACC_ZONES] = "SELECT count(*) FROM zones WHERE account = ?1 AND is_catalog = 0",
	[DBQ_COUNT_ACC_RECORDS] = "SELECT count(*) FROM zones z JOIN records r ON r.zone_id = z.id "
	                          "WHERE z.account = ?1 AND z.is_catalog = 0",
	[DBQ_COUNT_ACC_JOURNAL] = "SELECT count(*) FROM zones z JOIN journal j ON j.zone_id = z.id "
	                          "WHERE z.account = ?1 AND z.is_catalog = 0",
	[DBQ_POP_ACKS_ALL] = "SELECT p.pop, z.name, p.serial, p.how, p.transport, p.address, "
	                     "p.at_ms FROM pop_serials p JOIN zones z ON z.id = p.zone_id "
	                     "ORDER BY z.name, p.pop",
	[DBQ_POP_INSERT] = "INSERT INTO secondaries (name, endpoint, public_key, mesh_ip, tsig_key, "
	                   "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[DBQ_POP_PORT_INSERT] = "INSERT INTO secondary_ports (name, dns_port) VALUES (?1, ?2)",
	[DBQ_POP_PORT_DELETE] = "DELETE FROM secondary_ports WHERE name = ?1",
	[DBQ_POP_ACKS_DELETE] = "DELETE FROM pop_serials WHERE pop = ?1",
	[DBQ_POP_DELETE] = "DELETE FROM secondaries WHERE name = ?1",
	[DBQ_NODES_ALL] = "SELECT mesh_ip, xfr_port, quic_port, quic_pin, public_key, wg_endpoint, "
	                  "started_at FROM primary_nodes ORDER BY mesh_ip",
	[DBQ_NODES_CLEAR] = "DELETE FROM primary_nodes",
	[DBQ_NODE_DELETE] = "DELETE FROM primary_nodes WHERE mesh_ip = ?1",
	[DBQ_DNSSEC_CLEAR] = "DELETE FROM zone_dnssec WHERE zone_id = ?1",
	[DBQ_KEYS_ZONE] = "SELECT " KEY_COLS " FROM dnssec_keys WHERE zone_id = ?1 ORDER BY id",
	[DBQ_KEY_DELETE] = "DELETE FROM dnssec_keys WHERE zone_id = ?1 AND id = ?2",
	[DBQ_NSEC_PREV] = CHAIN_Q("47", "<", "DESC"),
	[DBQ_NSEC_NEXT] = CHAIN_Q("47", ">", "ASC"),
	[DBQ_NSEC3_PREV] = CHAIN_Q("50", "<", "DESC"),
	[DBQ_NSEC3_NEXT] = CHAIN_Q("50", ">", "ASC"),
	[DBQ_OWNERS_RANGE] = "SELECT DISTINCT okey, owner FROM records WHERE zone_id = ?1 "
	                     "AND okey > ?2 AND okey < ?3 ORDER BY okey",
	[DBQ_HAS_DESC] = "SELECT 1 FROM records WHERE zone_id = ?1 AND okey > ?2 AND okey < ?3 "
	                 "AND disabled = 0 LIMIT 1",
	[DBQ_SIGS_EXPIRING] = "SELECT owner, sigs FROM dnssec_names WHERE zone_id = ?1 AND exp < ?2 "
	                      "ORDER BY exp LIMIT ?3",
	[DBQ_SIGNED_ROWS] = "SELECT DISTINCT okey, owner, type FROM records WHERE zone_id = ?1 "
	                    "AND type IN (48, 51, 59, 60) UNION ALL SELECT okey, owner, 46 FROM "
	                    "dnssec_names WHERE zone_id = ?1 AND length(sigs) > 0 UNION ALL SELECT "
	                    "okey, owner, ctype FROM dnssec_names WHERE zone_id = ?1 AND ctype != 0 "
	                    "ORDER BY 1, 3",
	[DBQ_KEY_TIMES] = "SELECT id, flags, algorithm, published, active, coalesce(t_active, 0), "
	                  "coalesce(t_retire, 0), coalesce(t_remove, 0), keytag, keytype, "
	                  "coalesce(" ROLL_COL("t_ready") ", 0), coalesce(" ROLL_COL("t_ds") ", 0), "
	                  "coalesce(" ROLL_COL("cds") ", 0) "
	                  "FROM dnssec_keys WHERE zone_id = ?1 ORDER BY id",
	[DBQ_ZONE_MAX_TTL] = "SELECT coalesce(max(ttl), 0) FROM records WHERE zone_id = ?1",
	[DBQ_UNSIGN_CLEAR] = "DELETE FROM zone_unsign WHERE zone_id = ?1",
	[DBQ_ZONE_RECORDS_COUNT] = "SELECT count(*) FROM records WHERE zone_id = ?1",
	/* background signing (store_bulk.c): an unsigned zone's dnssec_names rows are
	 * staged ones, left out of its AXFR until the zone is marked signed */
	[DBQ_STAGED_DROP] = "DELETE FROM dnssec_names WHERE zone_id = ?1",
	[DBQ_JOURNAL_DROP] = "DELETE FROM journal WHERE zone_id = ?1",
	/* keys but not signed: only a background signing that did not finish leaves that */
	[DBQ_ZONES_SIGN_PENDING] = "SELECT wire FROM zones z WHERE EXISTS (SELECT 1 FROM "
	                           "dnssec_keys k WHERE k.zone_id = z.id) AND NOT EXISTS (SELECT 1 "
	                           "FROM zone_dnssec d WHERE d.zone_id = z.id) LIMIT 64",
};
