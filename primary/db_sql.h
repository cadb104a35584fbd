/*
 * The SQL both backends of the database layer run as written: the column
 * lists and the queries whose text is the same in SQLite and PostgreSQL
 * (db_sql.c).  Parameters are written `?N`; db_pg.c turns them into `$N`
 * when it prepares.  A backend's own table (qsql in db_sqlite.c, db_pg.c)
 * holds only the queries whose dialects differ (upserts, RETURNING, casts,
 * SQLite's `+?N`); db_sql() picks the backend's text, else the shared one.
 * scripts/check-qids.sh stops the build when an id has no text, or two.
 */
#ifndef PRIMARY_DB_SQL_H
#define PRIMARY_DB_SQL_H

#include "primary/db.h"

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
/* the chain neighbours: ?2 is a lookup key; the NSEC3 chain by the partial index
 * dnssec_names_nsec3, the NSEC chain (every name with a chain record) by the key */
#define CHAIN_Q(t, op, dir) "SELECT okey, owner, cttl, chain FROM dnssec_names WHERE " \
                            "zone_id = ?1 AND ctype = " t " AND okey " op " ?2 ORDER BY okey " \
                            dir " LIMIT 1"

extern const char *const db_sql_shared[DBQ_COUNT];

/* the text of query `id`: the backend's own (`own`, NULL where it has none), else the shared */
static inline const char *
db_sql(const char *const own[DBQ_COUNT], enum db_qid id)
{
	return own[id] != NULL ? own[id] : db_sql_shared[id];
}

#endif
