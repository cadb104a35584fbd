/*
 * PostgreSQL backend of the database layer (see db.h), on libpq: the same
 * query ids as db_sqlite.c, the shared texts of db_sql.c and here those in
 * PostgreSQL's own SQL ($n parameters, ON CONFLICT upserts, RETURNING id
 * for db_last_id, casts), prepared once per connection (PQprepare, named
 * "q<id>") and run with PQexecPrepared, results in binary format.  A statement's rows are those of one result,
 * iterated by db_step.
 *
 * Transactions: writes run in READ COMMITTED and the store locks the rows
 * it changes (DBQ_ZONE_LOCK: the zone, and the catalog zone on create and
 * delete), so changes of one zone from several nodes queue; reads are a
 * REPEATABLE READ READ ONLY snapshot.  Errors: 23505 -EEXIST, 23503
 * -ENOENT, 40001/40P01 ERR_DB_RETRY, a connection lost during COMMIT
 * ERR_DB_UNKNOWN.  A lost connection is opened again at the next BEGIN
 * (every host of a multi-host URL tried, see db_pg_connect).
 *
 * Migrations (schema/pg/) run in one transaction under an advisory lock,
 * so several primaries may start at once on an empty database; the
 * version is the one row of anycst_schema.
 */
#include "primary/db_int.h"
#include "primary/db_sql.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

extern const char *const pg_schema_migrations[];
extern const size_t pg_schema_count;

static const char *const qsql[DBQ_COUNT] = {
	/* the zone row locked: changes of one zone from several nodes queue */
	[DBQ_ZONE_LOCK] = "SELECT " ZONE_COLS " FROM zones WHERE name = $1 FOR UPDATE",
	/* the catalog zone is the server's, not listed (reachable by name, issue 16.5) */
	[DBQ_ZONES_LIST] = "SELECT " ZONE_COLS " FROM zones WHERE name > $1 AND is_catalog = 0 "
	                   "ORDER BY name LIMIT nullif($2::bigint, -1)",
	[DBQ_ZONES_LIST_ACC] = "SELECT " ZONE_COLS " FROM zones WHERE account = $3 AND name > $1 "
	                       "AND is_catalog = 0 ORDER BY name LIMIT nullif($2::bigint, -1)",
	[DBQ_ZONE_INSERT] = "INSERT INTO zones (name, wire, kind, account, soa_edit_api, serial, "
	                    "is_catalog, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, "
	                    "$7, $8, $8) RETURNING id",
	[DBQ_ROWS_RRSET] = "SELECT " REC_COLS ", r.disabled, t.content " REC_FROM
	                   "WHERE r.zone_id = $1 AND r.okey = $2 AND r.type = $3 ORDER BY r.rdata",
	[DBQ_AXFR_REST] = "SELECT " REC_COLS " " REC_FROM "WHERE r.zone_id = $1 AND r.disabled = 0 "
	                  "AND NOT (r.type = 6 AND r.okey = $2) ORDER BY r.okey, r.type, r.rdata",
	[DBQ_STAGE_CONN] = "SELECT 1 WHERE false",
	[DBQ_STAGE_TEMP] = "SELECT 1 WHERE false",
	[DBQ_REC_TEXT_PUT] = "INSERT INTO record_text (zone_id, okey, type, rdata, rdata_case, "
	                     "content) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (zone_id, okey, "
	                     "type, rdata) DO UPDATE SET rdata_case = excluded.rdata_case, "
	                     "content = excluded.content",
	[DBQ_ZONE_PDNS_PUT] = "INSERT INTO zone_pdns (zone_id, masters, catalog, soa_edit_api, "
	                      "soa_edit) VALUES ($1, coalesce($2, ''), coalesce($3, ''), $4, "
	                      "coalesce($5, '')) ON CONFLICT (zone_id) DO UPDATE SET masters = "
	                      "coalesce($2, zone_pdns.masters), catalog = coalesce($3, zone_pdns.catalog), "
	                      "soa_edit_api = CASE WHEN $6::bigint <> 0 THEN $4 ELSE zone_pdns.soa_edit_api END, "
	                      "soa_edit = coalesce($5, zone_pdns.soa_edit)",
	[DBQ_META_GET] = "SELECT kind, content FROM zone_metadata WHERE zone_id = $1 AND "
	                 "($2::text IS NULL OR kind = $2::text) ORDER BY kind, ord",
	[DBQ_REC_TEXT_DEL] = "DELETE FROM record_text WHERE zone_id = $1 AND okey = $2 AND "
	                     "type = $3 AND rdata = $4",
	[DBQ_RRSET_DELETE] = "DELETE FROM records WHERE zone_id = $1 AND okey = $2 AND type = $3",
	[DBQ_REC_DELETE] = "DELETE FROM records WHERE zone_id = $1 AND okey = $2 AND type = $3 "
	                   "AND rdata = $4",
	[DBQ_RRSET_TTL] = "UPDATE records SET ttl = $4 WHERE zone_id = $1 AND okey = $2 AND type = $3",
	[DBQ_ZONE_TSIG_INSERT] = "INSERT INTO zone_tsig_keys (zone_id, key_name) VALUES ($1, $2) "
	                         "ON CONFLICT DO NOTHING",
	[DBQ_ZONE_UTSIG_INSERT] = "INSERT INTO zone_update_tsig_keys (zone_id, key_name) VALUES "
	                          "($1, $2) ON CONFLICT DO NOTHING",
	[DBQ_APIKEY_INSERT] = "INSERT INTO api_keys (hash, account, description, created_at) "
	                      "VALUES ($1, $2, $3, $4) RETURNING id",
	[DBQ_AUDIT_INSERT] = "INSERT INTO audit (at_ms, key_id, account, zone, what, status, "
	                     "old_serial, new_serial) VALUES ($1, $2, $3, $4, $5, $6, "
	                     "CASE WHEN $9::bigint <> 0 THEN $7::bigint END, "
	                     "CASE WHEN $9::bigint <> 0 THEN $8::bigint END) RETURNING id",
	[DBQ_AUDIT_UPDATE] = "UPDATE audit SET zone = $2, "
	                     "old_serial = CASE WHEN $5::bigint <> 0 THEN $3::bigint END, "
	                     "new_serial = CASE WHEN $5::bigint <> 0 THEN $4::bigint END WHERE id = $1",
	[DBQ_AUDIT_LIST] = "SELECT id, at_ms, key_id, account, zone, what, status, old_serial, "
	                   "new_serial FROM audit WHERE at_ms >= $1 AND ($2::bigint = 0 OR account = "
	                   "$3::text) AND ($4::bigint = 0 OR zone = $5::text) AND id > $6 "
	                   "ORDER BY id LIMIT $7",
	[DBQ_POP_ACK_PUT] = "INSERT INTO pop_serials (pop, zone_id, serial, how, transport, "
	                    "address, at_ms) SELECT $1::text, z.id, $3::bigint, $4::bigint, "
	                    "$5::text, $6::text, $7::bigint FROM zones z WHERE z.name = "
	                    "lower($2::text) AND EXISTS (SELECT 1 FROM secondaries WHERE name = "
	                    "$1::text) ON CONFLICT (pop, zone_id) DO UPDATE SET serial = "
	                    "excluded.serial, how = excluded.how, transport = excluded.transport, "
	                    "address = excluded.address, at_ms = excluded.at_ms",
	[DBQ_POPS_ALL] = "SELECT s.name, s.endpoint, s.public_key, s.mesh_ip, s.tsig_key, "
	                 "coalesce(p.dns_port, 53), s.created_at, k.secret FROM secondaries s "
	                 "LEFT JOIN tsig_keys k ON k.name = s.tsig_key "
	                 "LEFT JOIN secondary_ports p ON p.name = s.name ORDER BY s.id",
	[DBQ_NODE_PUT] = "INSERT INTO primary_nodes (mesh_ip, xfr_port, quic_port, quic_pin, "
	                 "public_key, wg_endpoint, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
	                 "ON CONFLICT (mesh_ip) DO UPDATE SET xfr_port = excluded.xfr_port, "
	                 "quic_port = excluded.quic_port, quic_pin = excluded.quic_pin, "
	                 "public_key = excluded.public_key, wg_endpoint = excluded.wg_endpoint, "
	                 "started_at = excluded.started_at",
	[DBQ_DNSSEC_SET] = "INSERT INTO zone_dnssec (zone_id, nsec3, signed_at) VALUES ($1, $2, $3) "
	                   "ON CONFLICT (zone_id) DO UPDATE SET nsec3 = excluded.nsec3, "
	                   "signed_at = excluded.signed_at",
	[DBQ_KEY_INSERT] = "INSERT INTO dnssec_keys (zone_id, keytype, flags, algorithm, keytag, "
	                   "dnskey, private, published, active, t_created, t_publish, t_active) "
	                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, "
	                   "CASE WHEN $9::bigint <> 0 THEN $10::bigint END) RETURNING id",
	[DBQ_KEY_UPDATE] = "UPDATE dnssec_keys SET published = $3::bigint, active = $4::bigint, "
	                   "t_active = CASE WHEN $4::bigint <> 0 THEN coalesce(t_active, "
	                   "$5::bigint) END, t_retire = CASE WHEN $4::bigint <> 0 THEN NULL ELSE "
	                   "coalesce(t_retire, $5::bigint) END, t_remove = CASE WHEN $3::bigint "
	                   "<> 0 THEN NULL ELSE coalesce(t_remove, $5::bigint) END "
	                   "WHERE zone_id = $1 AND id = $2",
	[DBQ_KEY_TIMES_SET] = "UPDATE dnssec_keys SET published = $3, active = $4, "
	                      "t_active = nullif($5::bigint, 0), t_retire = nullif($6::bigint, 0), "
	                      "t_remove = nullif($7::bigint, 0) WHERE zone_id = $1 AND id = $2",
	/* delivered to the listeners when (and only if) the transaction commits */
	[DBQ_ANNOUNCE] = "SELECT pg_notify('" DB_PG_CHANNEL "', current_schema() || ' ' || $1)",
	[DBQ_KEY_KSK_SET] = "UPDATE dnssec_keys SET active = $3, t_retire = nullif($4::bigint, 0), "
	                    "t_remove = nullif($5::bigint, 0) WHERE zone_id = $1 AND id = $2",
	[DBQ_KEY_ROLL_SET] = "INSERT INTO dnssec_key_roll (key_id, t_ready, t_ds, cds) "
	                     "SELECT id, nullif($3::bigint, 0), nullif($4::bigint, 0), $5::bigint "
	                     "FROM dnssec_keys WHERE zone_id = $1 AND id = $2 "
	                     "ON CONFLICT (key_id) DO UPDATE SET t_ready = excluded.t_ready, "
	                     "t_ds = excluded.t_ds, cds = excluded.cds",
	[DBQ_UNSIGN_SET] = "INSERT INTO zone_unsign (zone_id, t_unsign) VALUES ($1, $2) "
	                   "ON CONFLICT (zone_id) DO UPDATE SET t_unsign = excluded.t_unsign",
};

/* parameters a statement has room for in itself; one with more (the largest
 * $n of its query, DBQ_REC_INSERT_MANY) gets arrays of its own at open */
#define PG_PARAMS 12
/* the advisory lock key migrations run under ("anycst" in ASCII, truncated) */
#define PG_MIGRATE_LOCK "616e796373740000"

/* type oids (catalog/pg_type.h is a server header) */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26

struct pg_db;

struct pg_stmt {
	struct db_stmt base;
	struct pg_db *db;
	enum db_qid id;
	bool prepared;
	bool returns_id;      /* INSERT ... RETURNING id: the row feeds db_last_id */
	int nparams;
	char *sql;            /* the text prepared: db_sql()'s with `?N` made `$N` */
	PGresult *res;
	int row, nrows;
	int cap;              /* parameters there is room for */
	const char **vals;
	int *lens;
	int *fmts;
	char (*ibuf)[24];
	const char *vals_in[PG_PARAMS];
	int lens_in[PG_PARAMS];
	int fmts_in[PG_PARAMS];
	char ibuf_in[PG_PARAMS][24];
};

struct pg_db {
	struct db base;
	PGconn *c;
	char *url;
	bool readonly;
	bool retry;           /* the last error was a serialization failure or deadlock */
	bool down;            /* the last error was the connection's (see conn_error) */
	bool stale;           /* the server went read-only: connect again at the next BEGIN */
	int64_t last_id;
	int64_t changes;
	char err[256];
	struct pg_stmt q[DBQ_COUNT];
};

#define D(x) ((struct pg_db *)(x))
#define PS(x) ((struct pg_stmt *)(x))

static void
notice_drop(void *arg, const PGresult *res)
{
	(void)arg;
	(void)res;
}

/* Largest $n in `sql`. */
/* the shared texts' `?N` parameters as PostgreSQL's `$N` (no SQL here has a `?` of its own) */
static char *
pg_text(const char *sql)
{
	char *t = strdup(sql);
	for (char *p = t; p != NULL && *p != '\0'; p++)
		if (*p == '?' && p[1] >= '0' && p[1] <= '9')
			*p = '$';
	return t;
}

static int
count_params(const char *sql)
{
	int n = 0;
	for (const char *p = strchr(sql, '$'); p != NULL; p = strchr(p + 1, '$')) {
		int v = atoi(p + 1);
		if (v > n)
			n = v;
	}
	return n;
}

static void
set_errmsg(struct pg_db *db, const char *what)
{
	const char *m = db->c != NULL ? PQerrorMessage(db->c) : "out of memory";
	snprintf(db->err, sizeof(db->err), "%s%s%.*s", what ? what : "", what ? ": " : "",
	         (int)strcspn(m, "\n"), m);
}

/*
 * TCP defaults a URL may override.  A lost machine sends no RST: without
 * keepalives and a user timeout a request waiting on its server would hang
 * for many minutes (the kernel's retransmissions), holding the writer.
 */
static const char *const tcp_kw[] = {"keepalives", "keepalives_idle", "keepalives_interval",
                                     "keepalives_count", "tcp_user_timeout"};
static const char *const tcp_val[] = {"1", "5", "2", "3", "10000"};
#define TCP_DEFAULTS (sizeof(tcp_kw) / sizeof(tcp_kw[0]))

/*
 * The server's side of the same: a node that died (its machine lost) has its
 * sessions, their row locks and its notifier lock dropped within seconds, not
 * at the kernel's default two hours.  Only where the server's own setting is
 * the default (postgresql.conf and the URL's options win); nothing on a unix
 * socket.
 */
#define SERVER_KEEPALIVES "SELECT set_config(n, v, false) FROM (VALUES ('tcp_keepalives_idle', " \
	"'5'), ('tcp_keepalives_interval', '2'), ('tcp_keepalives_count', '3'), " \
	"('tcp_user_timeout', '10000')) s(n, v) WHERE (SELECT source FROM pg_settings " \
	"WHERE name = n) = 'default'"

/* Connects with `kw`/`val` (n used, room for TCP_DEFAULTS more), the TCP
 * defaults added for the keywords not given. */
static PGconn *
connect_with(const char **kw, const char **val, size_t n, int expand)
{
	for (size_t i = 0; i < TCP_DEFAULTS; i++) {
		bool given = false;
		for (size_t k = 0; k < n && !given; k++)
			given = strcmp(kw[k], tcp_kw[i]) == 0;
		if (!given) {
			kw[n] = tcp_kw[i];
			val[n++] = tcp_val[i];
		}
	}
	kw[n] = NULL;
	val[n] = NULL;
	return PQconnectdbParams(kw, val, expand);
}

/* A connection to one host of the URL (hosts[i], ports[i]), other options as in `opts`. */
static PGconn *
connect_one(PQconninfoOption *opts, const char *host, const char *port)
{
	const char *kw[64 + TCP_DEFAULTS], *val[64 + TCP_DEFAULTS];
	size_t n = 0;
	for (PQconninfoOption *o = opts; o->keyword != NULL && n < 62; o++) {
		if (o->val == NULL || strcmp(o->keyword, "host") == 0 ||
		    strcmp(o->keyword, "port") == 0 || strcmp(o->keyword, "hostaddr") == 0)
			continue;
		kw[n] = o->keyword;
		val[n++] = o->val;
	}
	kw[n] = "host";
	val[n++] = host;
	if (port != NULL && *port) {
		kw[n] = "port";
		val[n++] = port;
	}
	return connect_with(kw, val, n, 0);
}

/* The URL, every host tried by libpq, with the TCP defaults under it. */
static PGconn *
connect_url(const char *url)
{
	const char *kw[2 + TCP_DEFAULTS], *val[2 + TCP_DEFAULTS];
	PQconninfoOption *opts = PQconninfoParse(url, NULL);
	size_t n = 0;
	/* the defaults first: with expand_dbname the URL's own values override them */
	for (size_t i = 0; i < TCP_DEFAULTS; i++) {
		bool given = false;
		for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL && !given; o++)
			given = o->val != NULL && strcmp(o->keyword, tcp_kw[i]) == 0;
		if (!given) {
			kw[n] = tcp_kw[i];
			val[n++] = tcp_val[i];
		}
	}
	PQconninfoFree(opts);
	kw[n] = "dbname";
	val[n++] = url;
	kw[n] = NULL;
	val[n] = NULL;
	return PQconnectdbParams(kw, val, 1);
}

/* The server's keepalives on a new connection (see SERVER_KEEPALIVES). */
static PGconn *
server_keepalives(PGconn *c)
{
	PGresult *r = PQexec(c, SERVER_KEEPALIVES);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warning(NULL, "store: PostgreSQL: cannot set the server's TCP keepalives: %.*s",
		            (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
	PQclear(r);
	return c;
}

/* The comma-separated item `i` of `list` into buf, or "" (or the one item when one). */
static const char *
list_item(const char *list, size_t i, char *buf, size_t cap)
{
	buf[0] = 0;
	if (list == NULL)
		return buf;
	const char *p = list;
	size_t k = 0;
	while (k < i && (p = strchr(p, ',')) != NULL) {
		p++;
		k++;
	}
	if (p == NULL)   /* one port for all hosts */
		p = strchr(list, ',') == NULL ? list : NULL;
	if (p != NULL)
		snprintf(buf, cap, "%.*s", (int)strcspn(p, ","), p);
	return buf;
}

/*
 * libpq tries the hosts of a multi-host URL in turn, but stops at the first
 * one that answers and refuses the login (a replica still starting up, not
 * yet accepting connections): then each host is tried alone, in order.
 */
PGconn *
db_pg_connect(const char *url, char *err, size_t errcap)
{
	PGconn *c = connect_url(url);
	if (c != NULL && PQstatus(c) == CONNECTION_OK)
		return server_keepalives(c);
	snprintf(err, errcap, "%.*s", c ? (int)strcspn(PQerrorMessage(c), "\n") : 13,
	         c ? PQerrorMessage(c) : "out of memory");
	PQconninfoOption *opts = PQconninfoParse(url, NULL);
	const char *hosts = NULL, *ports = NULL;
	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "host") == 0)
			hosts = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			ports = o->val;
	}
	if (hosts == NULL || strchr(hosts, ',') == NULL) {
		PQconninfoFree(opts);
		return c;
	}
	PQfinish(c);
	c = NULL;
	for (size_t i = 0;; i++) {
		char h[256], p[16];
		list_item(hosts, i, h, sizeof(h));
		if (h[0] == 0)
			break;
		c = connect_one(opts, h, list_item(ports, i, p, sizeof(p)));
		if (c != NULL && PQstatus(c) == CONNECTION_OK)
			break;
		if (c != NULL)
			snprintf(err, errcap, "%s: %.*s", h, (int)strcspn(PQerrorMessage(c), "\n"),
			         PQerrorMessage(c));
		PQfinish(c);
		c = NULL;
	}
	PQconninfoFree(opts);
	return c != NULL ? server_keepalives(c) : NULL;
}

/* Runs `sql` (no rows wanted). 0 or -EIO (logged, db->err). */
static int
exec(struct pg_db *db, const char *sql)
{
	PGresult *r = PQexec(db->c, sql);
	ExecStatusType st = PQresultStatus(r);
	int ret = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -EIO;
	if (ret != 0) {
		set_errmsg(db, NULL);
		log_error(NULL, "store: %s: %s", sql, db->err);
	}
	PQclear(r);
	return ret;
}

/* (Re)connects and sets the session up; statements are prepared again. */
static int
pg_session(struct pg_db *db)
{
	PQfinish(db->c);
	for (size_t i = 0; i < DBQ_COUNT; i++)
		db->q[i].prepared = false;
	db->c = db_pg_connect(db->url, db->err, sizeof(db->err));
	if (db->c == NULL || PQstatus(db->c) != CONNECTION_OK)
		return -EIO;
	PQsetNoticeReceiver(db->c, notice_drop, NULL);
	if (PQsetClientEncoding(db->c, "UTF8") != 0)
		return -EIO;
	if (exec(db, "SET client_min_messages = warning") != 0)
		return -EIO;
	if (db->readonly && exec(db, "SET default_transaction_read_only = on") != 0)
		return -EIO;
	return 0;
}

/* Points the statement's parameter arrays at its own, or at arrays of the
 * size its query needs.  0 or -ENOMEM (pg_close frees them). */
static int
stmt_room(struct pg_stmt *s)
{
	if (s->nparams <= PG_PARAMS) {
		s->cap = PG_PARAMS;
		s->vals = s->vals_in;
		s->lens = s->lens_in;
		s->fmts = s->fmts_in;
		s->ibuf = s->ibuf_in;
		return 0;
	}
	size_t n = (size_t)s->nparams;
	s->cap = s->nparams;
	s->vals = calloc(n, sizeof(*s->vals));
	s->lens = calloc(n, sizeof(*s->lens));
	s->fmts = calloc(n, sizeof(*s->fmts));
	s->ibuf = calloc(n, sizeof(*s->ibuf));
	return s->vals && s->lens && s->fmts && s->ibuf ? 0 : -ENOMEM;
}

static int
pg_open(const char *path, bool create, bool readonly, struct db **out)
{
	(void)create;   /* the database exists: CREATE DATABASE is the operator's */
	struct pg_db *db = calloc(1, sizeof(*db));
	*out = db != NULL ? &db->base : NULL;
	if (db == NULL)
		return -ENOMEM;
	db->base.ops = &db_pg_ops;
	for (size_t i = 0; i < DBQ_COUNT; i++) {
		db->q[i].base.ops = &db_pg_ops;
		db->q[i].db = db;
		db->q[i].id = (enum db_qid)i;
		db->q[i].sql = pg_text(db_sql(qsql, (enum db_qid)i));
		if (db->q[i].sql == NULL)
			return -ENOMEM;
		db->q[i].nparams = count_params(db->q[i].sql);
		db->q[i].returns_id = strstr(db->q[i].sql, "RETURNING id") != NULL;
		if (stmt_room(&db->q[i]) != 0)
			return -ENOMEM;
	}
	db->readonly = readonly;
	db->url = strdup(path);
	if (db->url == NULL)
		return -ENOMEM;
	return pg_session(db);
}

static void
pg_close(struct db *b)
{
	struct pg_db *db = D(b);
	for (size_t i = 0; i < DBQ_COUNT; i++) {
		PQclear(db->q[i].res);
		free(db->q[i].sql);
		if (db->q[i].vals != db->q[i].vals_in) {
			free(db->q[i].vals);
			free(db->q[i].lens);
			free(db->q[i].fmts);
			free(db->q[i].ibuf);
		}
	}
	PQfinish(db->c);
	free(db->url);
	free(db);
}

static const char *
pg_errmsg(struct db *b)
{
	return D(b)->err;
}

/* The schema version (0: none yet).  Inside the migration transaction. */
static int64_t
schema_version(struct pg_db *db)
{
	if (exec(db, "CREATE TABLE IF NOT EXISTS anycst_schema (version BIGINT NOT NULL)") != 0)
		return -1;
	PGresult *r = PQexec(db->c, "SELECT coalesce(max(version), 0) FROM anycst_schema");
	int64_t v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else
		set_errmsg(db, NULL);
	PQclear(r);
	return v;
}

static int
migrate_fail(struct pg_db *db, char *err, size_t errcap, const char *what, int ret)
{
	set_errmsg(db, what);
	snprintf(err, errcap, "%s", db->err);
	exec(db, "ROLLBACK");
	return ret;
}

static int
pg_migrate(struct db *b, const char *path, char *err, size_t errcap)
{
	struct pg_db *db = D(b);
	(void)path;   /* not in messages: the URL may hold a password */
	if (exec(db, "BEGIN") != 0 ||
	    exec(db, "SELECT pg_advisory_xact_lock(x'" PG_MIGRATE_LOCK "'::bigint)") != 0)
		return migrate_fail(db, err, errcap, "PostgreSQL: cannot lock for migrations", -EIO);
	int64_t ver = schema_version(db);
	if (ver < 0)
		return migrate_fail(db, err, errcap, "PostgreSQL: cannot read the schema version",
		                    -EIO);
	if (ver > (int64_t)pg_schema_count) {
		exec(db, "ROLLBACK");
		snprintf(err, errcap, "PostgreSQL: database schema version %" PRId64 " is newer than "
		         "this binary's %zu; refusing to touch it", ver, pg_schema_count);
		return ERR_SCHEMA_NEWER;
	}
	for (size_t i = (size_t)ver; i < pg_schema_count; i++) {
		if (exec(db, pg_schema_migrations[i]) != 0) {
			char what[64];
			snprintf(what, sizeof(what), "PostgreSQL: migration %zu failed", i + 1);
			return migrate_fail(db, err, errcap, what, -EIO);
		}
	}
	char sql[96];
	snprintf(sql, sizeof(sql), "DELETE FROM anycst_schema; INSERT INTO anycst_schema VALUES (%zu)",
	         pg_schema_count);
	if (exec(db, sql) != 0 || exec(db, "COMMIT") != 0)
		return migrate_fail(db, err, errcap, "PostgreSQL: cannot commit migrations", -EIO);
	if (ver < (int64_t)pg_schema_count)
		log_info(NULL, "store: PostgreSQL database migrated to schema version %zu",
		         pg_schema_count);
	return 0;
}

static int
pg_writer_ready(struct db *b)
{
	(void)b;
	return 0;
}

/*
 * The connection is of no more use for writes: lost (no SQLSTATE, class 08
 * connection exception, 57P01-57P03 the server shutting down or starting up),
 * or the server is read-only now (25006: a primary demoted in place, the
 * URL's other hosts may hold the new one).  The transaction is gone, nothing
 * was written; the next BEGIN connects again.
 */
static bool
conn_error(struct pg_db *db, const char *code)
{
	if (PQstatus(db->c) != CONNECTION_OK || code == NULL || strncmp(code, "08", 2) == 0 ||
	    strncmp(code, "57P0", 4) == 0)
		return db->down = true;
	if (strcmp(code, "25006") == 0) {
		db->stale = true;
		return db->down = true;
	}
	return false;
}

/*
 * BEGIN `sql`, connecting again first when the connection was lost or its
 * server went read-only.  ERR_DB_DOWN when no writable server answers (every
 * host of a multi-host URL tried, see db_pg_connect): a failover under way.
 */
static int
begin(struct pg_db *db, const char *sql)
{
	db->retry = false;
	db->down = false;
	if ((db->c == NULL || db->stale || PQstatus(db->c) != CONNECTION_OK) &&
	    pg_session(db) != 0) {
		log_error(NULL, "store: PostgreSQL: cannot connect: %s", db->err);
		db->down = true;
		return ERR_DB_DOWN;
	}
	db->stale = false;
	int ret = exec(db, sql);
	if (ret != 0 && PQstatus(db->c) != CONNECTION_OK) {
		/* the connection had gone while idle */
		if (pg_session(db) == 0)
			ret = exec(db, sql);
		if (ret != 0 && (db->c == NULL || PQstatus(db->c) != CONNECTION_OK)) {
			db->down = true;
			return ERR_DB_DOWN;
		}
	}
	return ret;
}

static int
pg_begin(struct db *b)
{
	return begin(D(b), "BEGIN");
}

static int
pg_begin_read(struct db *b)
{
	/* the snapshot is taken at the first statement: now */
	return begin(D(b), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1");
}

static int
pg_commit(struct db *b)
{
	struct pg_db *db = D(b);
	PGresult *r = PQexec(db->c, "COMMIT");
	int ret = 0;
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		set_errmsg(db, "COMMIT");
		if (PQstatus(db->c) != CONNECTION_OK) {
			ret = ERR_DB_UNKNOWN;
		} else if (code != NULL && (strcmp(code, "40001") == 0 || strcmp(code, "40P01") == 0)) {
			db->retry = true;
			ret = ERR_DB_RETRY;
		} else {
			ret = -EIO;
		}
		log_error(NULL, "store: %s", db->err);
	} else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
		ret = -EIO;   /* an aborted transaction: COMMIT rolled it back */
		snprintf(db->err, sizeof(db->err), "COMMIT: the transaction was rolled back");
	}
	PQclear(r);
	return ret;
}

static int
pg_rollback(struct db *b)
{
	struct pg_db *db = D(b);
	if (PQstatus(db->c) != CONNECTION_OK)
		return -EIO;
	return exec(db, "ROLLBACK");
}

static int
pg_savepoint(struct db *b, enum db_sp op)
{
	struct pg_db *db = D(b);
	if (PQstatus(db->c) != CONNECTION_OK)
		return -EIO;
	if (op == DB_SP_SET)
		return exec(db, "SAVEPOINT change");
	/* after a failed statement only ROLLBACK TO brings the transaction back */
	if (op == DB_SP_UNDO && exec(db, "ROLLBACK TO SAVEPOINT change") != 0)
		return -EIO;
	return exec(db, "RELEASE SAVEPOINT change");
}

static struct db_stmt *
pg_q(struct db *b, enum db_qid id)
{
	struct pg_db *db = D(b);
	struct pg_stmt *s = &db->q[id];
	if (!s->prepared) {
		char name[16];
		snprintf(name, sizeof(name), "q%d", (int)id);
		PGresult *r = PQprepare(db->c, name, s->sql, s->nparams, NULL);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok) {
			set_errmsg(db, NULL);
			conn_error(db, PQresultErrorField(r, PG_DIAG_SQLSTATE));
			log_error(NULL, "store: cannot prepare query %d: %s", (int)id, db->err);
		}
		PQclear(r);
		if (!ok)
			return NULL;
		s->prepared = true;
	}
	return &s->base;
}

static void
pg_bind_i64(struct db_stmt *b, int i, int64_t v)
{
	struct pg_stmt *s = PS(b);
	if (i < 1 || i > s->cap)
		return;
	snprintf(s->ibuf[i - 1], sizeof(*s->ibuf), "%" PRId64, v);
	s->vals[i - 1] = s->ibuf[i - 1];
	s->fmts[i - 1] = 0;
}

static void
pg_bind_text(struct db_stmt *b, int i, const char *v)
{
	struct pg_stmt *s = PS(b);
	if (i < 1 || i > s->cap)
		return;
	s->vals[i - 1] = v;
	s->fmts[i - 1] = 0;
}

static void
pg_bind_blob(struct db_stmt *b, int i, const void *p, size_t n)
{
	struct pg_stmt *s = PS(b);
	if (i < 1 || i > s->cap)
		return;
	s->vals[i - 1] = n ? p : "";   /* an empty blob, not NULL */
	s->lens[i - 1] = (int)n;
	s->fmts[i - 1] = 1;
}

static uint64_t
be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The error of result `r` as db_step's code (db->retry, db->down, db->err set). */
static int
step_error(struct pg_stmt *s, PGresult *r)
{
	struct pg_db *db = s->db;
	const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	set_errmsg(db, NULL);
	if (conn_error(db, code)) {
		log_warning(NULL, "store: query %d: %s (the database is unavailable)", (int)s->id,
		            db->err);
		return ERR_DB_DOWN;
	}
	if (code != NULL && strcmp(code, "23505") == 0)
		return -EEXIST;
	if (code != NULL && strcmp(code, "23503") == 0)
		return -ENOENT;
	if (code != NULL && (strcmp(code, "40001") == 0 || strcmp(code, "40P01") == 0)) {
		db->retry = true;
		log_warning(NULL, "store: query %d: %s (the change is retried)", (int)s->id, db->err);
		return ERR_DB_RETRY;
	}
	log_error(NULL, "store: query %d: %s", (int)s->id, db->err);
	return -EIO;
}

static int
pg_step(struct db_stmt *b)
{
	struct pg_stmt *s = PS(b);
	struct pg_db *db = s->db;
	if (s->res == NULL) {
		char name[16];
		snprintf(name, sizeof(name), "q%d", (int)s->id);
		PGresult *r = PQexecPrepared(db->c, name, s->nparams, s->vals, s->lens, s->fmts, 1);
		ExecStatusType st = PQresultStatus(r);
		if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
			int ret = step_error(s, r);
			PQclear(r);
			return ret;
		}
		s->res = r;
		s->row = -1;
		s->nrows = PQntuples(r);
		const char *ct = PQcmdTuples(r);
		db->changes = ct[0] ? strtoll(ct, NULL, 10) : 0;
		if (s->returns_id) {
			if (s->nrows == 1 && PQftype(r, 0) == OID_INT8 && PQgetlength(r, 0, 0) == 8)
				db->last_id = (int64_t)be((const unsigned char *)PQgetvalue(r, 0, 0), 8);
			s->nrows = 0;
		}
	}
	if (s->row < s->nrows)
		s->row++;
	return s->row < s->nrows ? DB_ROW : DB_DONE;
}

static void
pg_done(struct db_stmt *b)
{
	struct pg_stmt *s = PS(b);
	PQclear(s->res);
	s->res = NULL;
	memset(s->vals, 0, (size_t)s->cap * sizeof(*s->vals));
	memset(s->lens, 0, (size_t)s->cap * sizeof(*s->lens));
	memset(s->fmts, 0, (size_t)s->cap * sizeof(*s->fmts));
}


static int64_t
pg_col_i64(struct db_stmt *b, int i)
{
	struct pg_stmt *s = PS(b);
	if (s->res == NULL || PQgetisnull(s->res, s->row, i))
		return 0;
	const unsigned char *p = (const unsigned char *)PQgetvalue(s->res, s->row, i);
	int n = PQgetlength(s->res, s->row, i);
	switch (PQftype(s->res, i)) {
	case OID_INT8:
		return n == 8 ? (int64_t)be(p, 8) : 0;
	case OID_INT4:
	case OID_OID:
		return n == 4 ? (int64_t)(int32_t)(uint32_t)be(p, 4) : 0;
	case OID_INT2:
		return n == 2 ? (int64_t)(int16_t)(uint16_t)be(p, 2) : 0;
	case OID_BOOL:
		return n == 1 ? p[0] != 0 : 0;
	default:
		return strtoll((const char *)p, NULL, 10);   /* text: NUL-terminated by libpq */
	}
}

static bool
pg_col_null(struct db_stmt *b, int i)
{
	struct pg_stmt *s = PS(b);
	return s->res == NULL || PQgetisnull(s->res, s->row, i);
}

static const void *
pg_col_blob(struct db_stmt *b, int i)
{
	struct pg_stmt *s = PS(b);
	if (pg_col_null(b, i) || PQgetlength(s->res, s->row, i) == 0)
		return NULL;
	return PQgetvalue(s->res, s->row, i);
}

static size_t
pg_col_bytes(struct db_stmt *b, int i)
{
	struct pg_stmt *s = PS(b);
	if (pg_col_null(b, i))
		return 0;
	int n = PQgetlength(s->res, s->row, i);
	return n > 0 ? (size_t)n : 0;
}

static const char *
pg_col_text(struct db_stmt *b, int i)
{
	struct pg_stmt *s = PS(b);
	if (pg_col_null(b, i))
		return NULL;
	return PQgetvalue(s->res, s->row, i);
}

static int64_t
pg_last_id(struct db *b)
{
	return D(b)->last_id;
}

static int64_t
pg_changes(struct db *b)
{
	return D(b)->changes;
}

static bool
pg_retry(struct db *b)
{
	return D(b)->retry;
}

static bool
pg_down(struct db *b)
{
	return D(b)->down;
}

static bool
pg_shared(struct db *b)
{
	(void)b;
	return true;
}

const struct db_ops db_pg_ops = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.errmsg = pg_errmsg,
	.migrate = pg_migrate,
	.writer_ready = pg_writer_ready,
	.begin = pg_begin,
	.begin_read = pg_begin_read,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.savepoint = pg_savepoint,
	.q = pg_q,
	.bind_i64 = pg_bind_i64,
	.bind_text = pg_bind_text,
	.bind_blob = pg_bind_blob,
	.step = pg_step,
	.done = pg_done,
	.col_i64 = pg_col_i64,
	.col_null = pg_col_null,
	.col_blob = pg_col_blob,
	.col_bytes = pg_col_bytes,
	.col_text = pg_col_text,
	.last_id = pg_last_id,
	.changes = pg_changes,
	.retry = pg_retry,
	.down = pg_down,
	.shared = pg_shared,
	.wal_bound = NULL,
	.reprepares = NULL,
};
