/*
 * Test helper: the database a store test runs on.  With ANYCST_TEST_PG set
 * (scripts/with-pg.sh, as `make unit` runs the store's tests a second
 * time) it is that PostgreSQL database, emptied by each test_db_fresh();
 * otherwise the SQLite file the test names.  test_db_exec and test_db_int
 * run a test's own SQL on either.  Included by the tests that open a store.
 */
#ifndef TESTS_STORE_DB_H
#define TESTS_STORE_DB_H

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline bool
test_db_pg(void)
{
	const char *u = getenv("ANYCST_TEST_PG");
	return u != NULL && *u != 0;
}

static inline PGconn *
test_db_pg_conn(const char *url)
{
	PGconn *c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("PostgreSQL %s: %s", url, PQerrorMessage(c));
	return c;
}

/* Runs `sql` (statements without rows) on the database at `path`. */
static inline void
test_db_exec(const char *path, const char *sql)
{
	if (strncmp(path, "postgres", 8) == 0) {
		PGconn *c = test_db_pg_conn(path);
		PQclear(PQexec(c, "SET client_min_messages = warning"));
		PGresult *r = PQexec(c, sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("%s: %s", sql, PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		return;
	}
	sqlite3 *db = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		fail_msg("%s: cannot open", path);
	sqlite3_busy_timeout(db, 5000);
	char *msg = NULL;
	if (sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
}

/* The first column of the first row of `sql`, an integer. */
static inline int64_t
test_db_int(const char *path, const char *sql)
{
	int64_t v = 0;
	if (strncmp(path, "postgres", 8) == 0) {
		PGconn *c = test_db_pg_conn(path);
		PGresult *r = PQexec(c, sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
			fail_msg("%s: %s", sql, PQerrorMessage(c));
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		PQfinish(c);
		return v;
	}
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* The database for a new store: `path` (a SQLite file) is left as it is, or
 * replaced by the URL of the test PostgreSQL with a schema of its own, new
 * and empty (search_path), so that two stores of one test stay apart. */
static inline void
test_db_fresh(char *path, size_t cap)
{
	static unsigned n;
	if (!test_db_pg())
		return;
	const char *url = getenv("ANYCST_TEST_PG");
	char sql[128];
	n++;
	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS t%u CASCADE; CREATE SCHEMA t%u", n, n);
	test_db_exec(url, sql);
	if ((size_t)snprintf(path, cap, "%s%soptions=-csearch_path%%3Dt%u", url,
	                     strchr(url, '?') ? "&" : "?", n) >= cap)
		fail_msg("ANYCST_TEST_PG longer than %zu", cap - 1);
}

#endif
