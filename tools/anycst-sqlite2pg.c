/*
 * anycst-sqlite2pg: copies a primary's SQLite database into PostgreSQL
 * (issue 19) and verifies the copy zone by zone.
 *
 *   anycst-sqlite2pg /var/lib/anycst/anycst.db 'postgresql://anycst@db1/anycst'
 *   anycst-sqlite2pg --verify SQLITE-FILE URL     (compare only, copy nothing)
 *
 * Stop the primary first.  The SQLite file must be at this binary's schema
 * version (start the primary on it once to migrate); the PostgreSQL
 * database is migrated here and must hold no zones yet.  Every table is
 * copied in one PostgreSQL transaction with its ids (catalog member labels
 * derive from zone ids), the identity sequences moved past them.  Then each
 * zone's serial and a SHA-256 over its records (as the API reads them:
 * DBQ_ROWS_ALL), its DNSSEC names (DBQ_AXFR_DN) and its journal
 * (DBQ_JOURNAL_FROM), read through db.h on both backends, must be equal;
 * each zone is printed with its digest.
 * Exit status 0 when the copy verifies, 1 otherwise.
 */
#include <errno.h>
#include <gnutls/crypto.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "primary/db.h"

extern const size_t schema_count;

/* Tables in foreign-key order; SQLite's column list as selected (secondaries:
 * the registration order, SQLite's rowid, is PostgreSQL's id column;
 * dnssec_names, WITHOUT ROWID, has no id nor sequence below).  Not
 * primary_nodes: each node records itself when it starts on PostgreSQL. */
static const char *const tables[][2] = {
	{"settings", "*"},
	{"zones", "*"},
	{"zone_lkeys", "*"},
	{"records", "*"},
	{"record_text", "*"},
	{"dnssec_names", "*"},
	{"comments", "*"},
	{"journal", "*"},
	{"tsig_keys", "*"},
	{"zone_tsig_keys", "*"},
	{"zone_update_tsig_keys", "*"},
	{"zone_update_policy", "*"},
	{"api_keys", "*"},
	{"secondaries", "rowid AS id, *"},
	{"secondary_ports", "*"},
	{"pop_serials", "*"},
	{"zone_dnssec", "*"},
	{"dnssec_keys", "*"},
	{"dnssec_key_roll", "*"},
	{"zone_unsign", "*"},
	{"zone_pdns", "*"},
	{"zone_metadata", "*"},
	{"audit", "*"},
};

/* Identity columns whose sequences must move past the copied ids. */
static const char *const idents[][2] = {
	{"zones", "id"}, {"records", "id"}, {"comments", "id"}, {"journal", "seq"},
	{"api_keys", "id"}, {"secondaries", "id"}, {"dnssec_keys", "id"}, {"audit", "id"},
};

#define MAXCOLS 32

static int
pg_ok(PGconn *c, PGresult *r, const char *what)
{
	ExecStatusType st = PQresultStatus(r);
	PQclear(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return 0;
	fprintf(stderr, "anycst-sqlite2pg: %s: %s", what, PQerrorMessage(c));
	return -1;
}

/* The INSERT for `table` with the columns of `s`. */
static int
insert_sql(const char *table, sqlite3_stmt *s, char *sql, size_t cap)
{
	int n = sqlite3_column_count(s);
	if (n > MAXCOLS)
		return -1;
	size_t len = (size_t)snprintf(sql, cap, "INSERT INTO %s (", table);
	for (int i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(sql + len, cap - len, "%s%s", i ? ", " : "",
		                        sqlite3_column_name(s, i));
	if (len < cap)
		len += (size_t)snprintf(sql + len, cap - len, ") VALUES (");
	for (int i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(sql + len, cap - len, "%s$%d", i ? ", " : "", i + 1);
	if (len < cap)
		len += (size_t)snprintf(sql + len, cap - len, ")");
	return len < cap ? n : -1;
}

/* Copies one table's rows; the count copied or -1. */
static long
copy_table(sqlite3 *src, PGconn *dst, const char *table, const char *cols)
{
	char q[256], ins[2048];
	snprintf(q, sizeof(q), "SELECT %s FROM %s", cols, table);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(src, q, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "anycst-sqlite2pg: %s: %s\n", q, sqlite3_errmsg(src));
		return -1;
	}
	int n = insert_sql(table, s, ins, sizeof(ins));
	long rows = 0;
	if (n < 0 || pg_ok(dst, PQprepare(dst, table, ins, n, NULL), ins) != 0) {
		sqlite3_finalize(s);
		return -1;
	}
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *vals[MAXCOLS];
		int lens[MAXCOLS], fmts[MAXCOLS];
		for (int i = 0; i < n; i++) {
			int t = sqlite3_column_type(s, i);
			fmts[i] = t == SQLITE_BLOB;
			vals[i] = t == SQLITE_NULL ? NULL : t == SQLITE_BLOB ?
			          (const char *)sqlite3_column_blob(s, i) :
			          (const char *)sqlite3_column_text(s, i);
			lens[i] = sqlite3_column_bytes(s, i);
			if (t == SQLITE_BLOB && vals[i] == NULL)
				vals[i] = "";   /* an empty blob, not NULL */
		}
		if (pg_ok(dst, PQexecPrepared(dst, table, n, vals, lens, fmts, 0), table) != 0)
			break;
		rows++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? rows : -1;
}

/* Copies everything in one transaction.  0 or -1. */
static int
copy_all(sqlite3 *src, PGconn *dst)
{
	if (pg_ok(dst, PQexec(dst, "BEGIN"), "BEGIN") != 0)
		return -1;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		long n = copy_table(src, dst, tables[i][0], tables[i][1]);
		if (n < 0) {
			PQclear(PQexec(dst, "ROLLBACK"));
			return -1;
		}
		printf("table %s: %ld rows\n", tables[i][0], n);
	}
	for (size_t i = 0; i < sizeof(idents) / sizeof(idents[0]); i++) {
		char q[256];
		snprintf(q, sizeof(q), "SELECT setval(pg_get_serial_sequence('%s', '%s'), "
		         "coalesce((SELECT max(%s) FROM %s), 0) + 1, false)", idents[i][0],
		         idents[i][1], idents[i][1], idents[i][0]);
		if (pg_ok(dst, PQexec(dst, q), q) != 0) {
			PQclear(PQexec(dst, "ROLLBACK"));
			return -1;
		}
	}
	return pg_ok(dst, PQexec(dst, "COMMIT"), "COMMIT");
}

/* A zone's serial and digest (records as the API reads them, its DNSSEC names, then its
 * journal), by db.h. */
static int
zone_digest(struct db *db, const char *name, int64_t *serial, uint8_t out[32])
{
	struct db_stmt *s = db_q(db, DBQ_ZONE_BY_NAME);
	if (s == NULL)
		return -1;
	db_bind_text(s, 1, name);
	if (db_step(s) != DB_ROW) {
		db_done(s);
		return -1;
	}
	int64_t id = db_col_i64(s, 0);
	*serial = db_col_i64(s, 6);
	db_done(s);
	gnutls_hash_hd_t h;
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return -1;
	static const enum db_qid qs[3] = {DBQ_ROWS_ALL, DBQ_AXFR_DN, DBQ_JOURNAL_FROM};
	/* the columns: i integer, b bytes (blob or text) */
	static const char *const kinds[3] = {"biibib", "biibb", "iibbi"};
	int rc = DB_DONE;
	for (int q = 0; q < 3 && rc == DB_DONE; q++) {
		s = db_q(db, qs[q]);
		if (s == NULL)
			break;
		db_bind_i64(s, 1, id);
		db_bind_i64(s, 2, 0);
		while ((rc = db_step(s)) == DB_ROW) {
			for (int i = 0; kinds[q][i]; i++) {
				uint8_t null = db_col_null(s, i);
				gnutls_hash(h, &null, 1);
				if (kinds[q][i] == 'i') {
					int64_t v = db_col_i64(s, i);
					gnutls_hash(h, &v, sizeof(v));
					continue;
				}
				uint32_t len = (uint32_t)db_col_bytes(s, i);
				const void *p = db_col_blob(s, i);
				gnutls_hash(h, &len, sizeof(len));
				if (len > 0 && p != NULL)
					gnutls_hash(h, p, len);
			}
		}
		db_done(s);
	}
	gnutls_hash_deinit(h, out);
	return rc == DB_DONE ? 0 : -1;
}

/* Every zone of `src` has the same serial and digest in `dst`.  The zones that differ. */
static int
verify(sqlite3 *raw, const char *src_path, const char *dst_url)
{
	struct db *a = NULL, *b = NULL;
	int bad = -1;
	sqlite3_stmt *s = NULL;
	if (db_open(src_path, false, true, &a) != 0 || db_open(dst_url, false, true, &b) != 0 ||
	    db_begin_read(a) != 0 || db_begin_read(b) != 0 ||
	    sqlite3_prepare_v2(raw, "SELECT name FROM zones ORDER BY name", -1, &s, NULL) != 0)
		goto out;
	bad = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		int64_t sa = 0, sb = 0;
		uint8_t da[32], dbb[32];
		int ok = zone_digest(a, name, &sa, da) == 0 && zone_digest(b, name, &sb, dbb) == 0 &&
		         sa == sb && memcmp(da, dbb, 32) == 0;
		printf("zone %s serial %lld sha256 ", name, (long long)sa);
		for (int i = 0; i < 32; i++)
			printf("%02x", da[i]);
		printf(" %s\n", ok ? "ok" : "DIFFERS");
		bad += !ok;
	}
out:
	sqlite3_finalize(s);
	if (a != NULL)
		db_commit(a);
	if (b != NULL)
		db_commit(b);
	db_close(a);
	db_close(b);
	return bad;
}

/* The SQLite file is at this binary's schema version.  0 or -1. */
static int
check_source(sqlite3 *src, const char *path)
{
	sqlite3_stmt *s = NULL;
	long v = -1;
	if (sqlite3_prepare_v2(src, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (v != (long)schema_count) {
		fprintf(stderr, "anycst-sqlite2pg: %s: schema version %ld, this binary's is %zu: "
		        "start anycst-primary on it once to migrate it\n", path, v, schema_count);
		return -1;
	}
	return 0;
}

/* Migrates the PostgreSQL database and checks that it holds no zones.  0 or -1. */
static int
prepare_target(const char *url, PGconn **out)
{
	struct db *db = NULL;
	char err[512] = "";
	if (db_open(url, true, false, &db) != 0 || db_migrate(db, url, err, sizeof(err)) != 0) {
		fprintf(stderr, "anycst-sqlite2pg: PostgreSQL: %s%s\n", err, err[0] ? "" :
		        db_errmsg(db));
		db_close(db);
		return -1;
	}
	db_close(db);
	*out = PQconnectdb(url);
	if (PQstatus(*out) != CONNECTION_OK) {
		fprintf(stderr, "anycst-sqlite2pg: PostgreSQL: %s", PQerrorMessage(*out));
		return -1;
	}
	PGresult *r = PQexec(*out, "SELECT count(*) FROM zones");
	long n = PQresultStatus(r) == PGRES_TUPLES_OK ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
	PQclear(r);
	if (n != 0) {
		fprintf(stderr, "anycst-sqlite2pg: the PostgreSQL database holds %ld zones already; "
		        "copy into an empty one\n", n);
		return -1;
	}
	return 0;
}

/* --help and --version as the other installed binaries answer them (stdout, exit 0). */
static bool
help_or_version(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("anycst-sqlite2pg 0.1.0\n");
		return true;
	}
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: anycst-sqlite2pg [options] SQLITE-FILE postgresql://...\n"
		       "copies a stopped primary's SQLite database into an empty PostgreSQL one, "
		       "then verifies it\n\n"
		       "options:\n"
		       "  --verify                     compare only, copy nothing\n"
		       "  --help                       print this help\n"
		       "  --version                    print the version\n");
		return true;
	}
	return false;
}

int
main(int argc, char **argv)
{
	if (help_or_version(argc, argv))
		return 0;
	bool only_verify = argc == 4 && strcmp(argv[1], "--verify") == 0;
	if (only_verify) {
		argv++;
		argc--;
	}
	if (argc != 3 || !db_is_pg(argv[2])) {
		fprintf(stderr, "usage: anycst-sqlite2pg [--verify] SQLITE-FILE postgresql://...\n");
		return 2;
	}
	sqlite3 *src = NULL;
	PGconn *dst = NULL;
	int ret = 1;
	if (sqlite3_open_v2(argv[1], &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "anycst-sqlite2pg: %s: %s\n", argv[1], sqlite3_errmsg(src));
		goto out;
	}
	if (check_source(src, argv[1]) != 0 ||
	    (!only_verify && (prepare_target(argv[2], &dst) != 0 || copy_all(src, dst) != 0)))
		goto out;
	int bad = verify(src, argv[1], argv[2]);
	if (bad == 0) {
		printf("%s\n", only_verify ? "verified" : "copy verified");
		ret = 0;
	} else {
		fprintf(stderr, "anycst-sqlite2pg: %d zones differ or could not be read\n",
		        bad < 0 ? -1 : bad);
	}
out:
	PQfinish(dst);
	sqlite3_close(src);
	return ret;
}
