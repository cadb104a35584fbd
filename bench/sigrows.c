/* sigrows -- what the rows of a first signing cost SQLite, by layout.
 *
 * The first signing of a zone writes, for each name, its NSEC and an RRSIG
 * over each of its rrsets (here one A rrset a name: two signatures).  This
 * writes those rows for N names the way store_bulk.c does (512 names a
 * transaction, 16 rows a statement, in canonical order, a chunk's
 * signatures sharing one expiration, WAL mode, synchronous NORMAL, no
 * checkpoint) into three layouts and prints the writing thread's CPU a
 * signature, less the CPU of building the same rows without writing them,
 * and the WAL written:
 *
 *   rows     before schema 0012: NSEC and RRSIG rows in `records`, with
 *            records_rr, records_chain, records_sig_exp and records_sig_tag
 *            (schema/sqlite 0001, 0005, 0010);
 *   sigtable the NSEC rows in `records`, each RRSIG a row of a table of its
 *            own keyed (zone, owner, covered type, key tag), WITHOUT ROWID,
 *            with an index by expiration (and none by key tag);
 *   pername  today's (schema 0012, dnssec_names): a name's NSEC and all its
 *            RRSIGs in one row keyed (zone, owner), WITHOUT ROWID, with an
 *            index by the earliest expiration and the partial one of the
 *            NSEC3 chain.
 *
 * Issue 15's goal for the first signing is 1.10x the raw signing limit: 4-5
 * us a P-256 signature, 2.5-3 us an Ed25519 one, for everything beside the
 * signing.  The primary's job thread spent 4.0-5.8 us a signature with the
 * rows layout, most of it in SQLite (bench/sign.sh prints the split); this
 * measurement chose the pername layout that replaced it.
 *
 * usage: sigrows [NAMES]      (default 100000)
 * Build: cc -O2 -o sigrows sigrows.c -lsqlite3
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define CHUNK 512
#define PER_STMT 16

enum layout { ROWS, SIGTABLE, PERNAME };

static const char *const layout_names[] = {"rows", "sigtable", "pername"};

static const char *const schema =
	"PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
	"PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY;"
	"CREATE TABLE records (id INTEGER PRIMARY KEY, zone_id INTEGER NOT NULL,"
	" okey BLOB NOT NULL, owner BLOB NOT NULL, type INTEGER NOT NULL,"
	" ttl INTEGER NOT NULL, rdata BLOB NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX records_rr ON records(zone_id, okey, type, rdata);"
	"CREATE INDEX records_chain ON records(zone_id, type, okey) WHERE type IN (47, 50);"
	"CREATE INDEX records_sig_exp ON records(zone_id, substr(rdata, 9, 4)) WHERE type = 46;"
	"CREATE INDEX records_sig_tag ON records(zone_id, substr(rdata, 17, 2)) WHERE type = 46;"
	"CREATE TABLE rrsigs (zone_id INTEGER NOT NULL, okey BLOB NOT NULL,"
	" covered INTEGER NOT NULL, tag INTEGER NOT NULL, exp INTEGER NOT NULL,"
	" ttl INTEGER NOT NULL, rdata BLOB NOT NULL,"
	" PRIMARY KEY (zone_id, okey, covered, tag)) WITHOUT ROWID;"
	"CREATE INDEX rrsigs_exp ON rrsigs(zone_id, exp);"
	"CREATE TABLE dnssec_names (zone_id INTEGER NOT NULL, okey BLOB NOT NULL,"
	" owner BLOB NOT NULL, ctype INTEGER NOT NULL DEFAULT 0,"
	" cttl INTEGER NOT NULL DEFAULT 0, chain BLOB NOT NULL DEFAULT x'',"
	" sigs BLOB NOT NULL DEFAULT x'', exp INTEGER NOT NULL DEFAULT 4294967296,"
	" PRIMARY KEY (zone_id, okey)) WITHOUT ROWID;"
	"CREATE INDEX dnssec_names_exp ON dnssec_names(zone_id, exp);"
	"CREATE INDEX dnssec_names_nsec3 ON dnssec_names(zone_id, okey) WHERE ctype = 50;";

/* One statement of PER_STMT rows, bound a row at a time. */
struct batch {
	sqlite3_stmt *s;
	int cols;
	int rows;
	int dry;   /* bind only: the cost of building the rows */
};

static double
thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
exec_or_die(sqlite3 *h, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "sigrows: %s\n", msg != NULL ? msg : sqlite3_errmsg(h));
		exit(1);
	}
}

static void
batch_init(struct batch *b, sqlite3 *h, const char *head, const char *row, int cols, int dry)
{
	char sql[2048];
	int n = snprintf(sql, sizeof(sql), "%s", head);
	for (int i = 0; i < PER_STMT; i++)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n, "%s%s", i > 0 ? ", " : "", row);
	if (sqlite3_prepare_v2(h, sql, -1, &b->s, NULL) != SQLITE_OK) {
		fprintf(stderr, "sigrows: %s\n", sqlite3_errmsg(h));
		exit(1);
	}
	b->cols = cols;
	b->rows = 0;
	b->dry = dry;
}

/* The first parameter of the next row; the statement runs once full. */
static int
batch_row(struct batch *b)
{
	return b->rows * b->cols + 1;
}

static void
batch_done_row(struct batch *b, sqlite3 *h)
{
	if (++b->rows < PER_STMT)
		return;
	b->rows = 0;
	if (b->dry)
		return;
	if (sqlite3_step(b->s) != SQLITE_DONE) {
		fprintf(stderr, "sigrows: %s\n", sqlite3_errmsg(h));
		exit(1);
	}
	sqlite3_reset(b->s);
}

/* Lookup key (labels from the apex down, each ended by a 0) and wire owner
 * of name i (below 10,000,000) under bench.test. */
static int
okey_of(uint8_t *b, int i)
{
	memcpy(b, "test\0bench\0", 11);
	return 11 + snprintf((char *)b + 11, 16, "h%07d", i % 10000000);
}

static int
owner_of(uint8_t *b, int i)
{
	b[0] = 8;
	snprintf((char *)b + 1, 10, "h%07d", i % 10000000);
	memcpy(b + 9, "\005bench\004test", 12);
	return 21;
}

/* RRSIG rdata: covered type, algorithm 13, 3 labels, TTL 3600, `exp`,
 * inception, key tag 0x1234, signer bench.test., 64 signature octets. */
static int
rrsig_of(uint8_t *b, int covered, uint32_t exp, uint32_t *seed)
{
	uint8_t head[18] = {(uint8_t)(covered >> 8), (uint8_t)covered, 13, 3, 0, 0, 0x0e, 0x10,
	                    (uint8_t)(exp >> 24), (uint8_t)(exp >> 16), (uint8_t)(exp >> 8),
	                    (uint8_t)exp, 0x66, 0, 0, 0, 0x12, 0x34};
	memcpy(b, head, sizeof(head));
	memcpy(b + 18, "\005bench\004test", 12);
	b[30] = 0;
	for (int k = 0; k < 64; k++) {
		*seed ^= *seed << 13;
		*seed ^= *seed >> 17;
		*seed ^= *seed << 5;
		b[31 + k] = (uint8_t)*seed;
	}
	return 95;
}

/* NSEC rdata: the next owner and a bitmap of A, RRSIG, NSEC. */
static int
nsec_of(uint8_t *b, int i)
{
	int n = owner_of(b, i + 1);
	const uint8_t map[8] = {0, 6, 0x40, 0, 0, 0, 0, 3};
	memcpy(b + n, map, sizeof(map));
	return n + (int)sizeof(map);
}

/* Writes the signing's rows of `names` names in `layout`; the CPU seconds. */
static double
sign_rows(sqlite3 *h, enum layout layout, int names, int dry)
{
	struct batch rec, sig, per;
	batch_init(&rec, h, "INSERT INTO records (zone_id, okey, owner, type, ttl, rdata) VALUES ",
	           "(1, ?, ?, ?, 3600, ?)", 4, dry);
	batch_init(&sig, h, "INSERT INTO rrsigs (zone_id, okey, covered, tag, exp, ttl, rdata) "
	           "VALUES ", "(1, ?, ?, 4660, ?, 3600, ?)", 4, dry);
	batch_init(&per, h, "INSERT INTO dnssec_names (zone_id, okey, owner, ctype, cttl, chain, "
	           "sigs, exp) VALUES ", "(1, ?, ?, 47, 3600, ?, ?, ?)", 5, dry);
	uint8_t okey[32], owner[32], nsec[64], rd[2][128];
	uint32_t seed = 2463534242u, exp = 1800000000u;
	const int covered[2] = {1, 47};
	double t0 = thread_cpu();
	for (int base = 0; base < names; base += CHUNK) {
		exec_or_die(h, "BEGIN IMMEDIATE");
		exp += 60;   /* each chunk's signatures expire after the chunk before's */
		for (int i = base; i < base + CHUNK && i < names; i++) {
			int ko = okey_of(okey, i), oo = owner_of(owner, i), no = nsec_of(nsec, i);
			int len[2];
			for (int k = 0; k < 2; k++)
				len[k] = rrsig_of(rd[k], covered[k], exp, &seed);
			if (layout == PERNAME) {
				uint8_t both[256];
				memcpy(both, rd[0], (size_t)len[0]);
				memcpy(both + len[0], rd[1], (size_t)len[1]);
				int p = batch_row(&per);
				sqlite3_bind_blob(per.s, p, okey, ko, SQLITE_TRANSIENT);
				sqlite3_bind_blob(per.s, p + 1, owner, oo, SQLITE_TRANSIENT);
				sqlite3_bind_blob(per.s, p + 2, nsec, no, SQLITE_TRANSIENT);
				sqlite3_bind_blob(per.s, p + 3, both, len[0] + len[1], SQLITE_TRANSIENT);
				sqlite3_bind_int64(per.s, p + 4, exp);
				batch_done_row(&per, h);
				continue;
			}
			int p = batch_row(&rec);
			sqlite3_bind_blob(rec.s, p, okey, ko, SQLITE_TRANSIENT);
			sqlite3_bind_blob(rec.s, p + 1, owner, oo, SQLITE_TRANSIENT);
			sqlite3_bind_int(rec.s, p + 2, 47);
			sqlite3_bind_blob(rec.s, p + 3, nsec, no, SQLITE_TRANSIENT);
			batch_done_row(&rec, h);
			for (int k = 0; k < 2; k++) {
				struct batch *b = layout == ROWS ? &rec : &sig;
				p = batch_row(b);
				sqlite3_bind_blob(b->s, p, okey, ko, SQLITE_TRANSIENT);
				if (layout == ROWS) {
					sqlite3_bind_blob(b->s, p + 1, owner, oo, SQLITE_TRANSIENT);
					sqlite3_bind_int(b->s, p + 2, 46);
				} else {
					sqlite3_bind_int(b->s, p + 1, covered[k]);
					sqlite3_bind_int64(b->s, p + 2, exp);
				}
				sqlite3_bind_blob(b->s, p + 3, rd[k], len[k], SQLITE_TRANSIENT);
				batch_done_row(b, h);
			}
		}
		exec_or_die(h, "COMMIT");
	}
	double cpu = thread_cpu() - t0;
	sqlite3_finalize(rec.s);
	sqlite3_finalize(sig.s);
	sqlite3_finalize(per.s);
	return cpu;
}

/* A new database holding the unsigned zone (one A a name). */
static sqlite3 *
zone_new(const char *path, int names)
{
	char wal[300];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	unlink(path);
	unlink(wal);
	sqlite3 *h = NULL;
	if (sqlite3_open(path, &h) != SQLITE_OK) {
		fprintf(stderr, "sigrows: cannot open %s\n", path);
		exit(1);
	}
	exec_or_die(h, schema);
	sqlite3_stmt *s = NULL;
	sqlite3_prepare_v2(h, "INSERT INTO records (zone_id, okey, owner, type, ttl, rdata) "
	                   "VALUES (1, ?, ?, 1, 3600, ?)", -1, &s, NULL);
	exec_or_die(h, "BEGIN");
	for (int i = 0; i < names; i++) {
		uint8_t okey[32], owner[32], a[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8),
		                                     (uint8_t)i};
		int ko = okey_of(okey, i), oo = owner_of(owner, i);
		sqlite3_bind_blob(s, 1, okey, ko, SQLITE_TRANSIENT);
		sqlite3_bind_blob(s, 2, owner, oo, SQLITE_TRANSIENT);
		sqlite3_bind_blob(s, 3, a, 4, SQLITE_TRANSIENT);
		sqlite3_step(s);
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	exec_or_die(h, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)");
	return h;
}

static void
zone_remove(sqlite3 *h, const char *path)
{
	char wal[300];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	sqlite3_close(h);
	unlink(path);
	unlink(wal);
}

int
main(int argc, char **argv)
{
	int names = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 100000;
	if (names < CHUNK || names >= 10000000) {
		fprintf(stderr, "usage: sigrows [NAMES, %d to 9999999]\n", CHUNK);
		return 2;
	}
	names -= names % CHUNK;   /* whole statements in every chunk */
	char path[] = "sigrows-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 1;
	close(fd);
	double nsig = 2.0 * names;
	printf("%d names, %d signatures (one A a name, NSEC), chunks of %d names, %d rows a "
	       "statement; CPU of the writing thread a signature, less building the rows:\n",
	       names, (int)nsig, CHUNK, PER_STMT);
	for (int layout = ROWS; layout <= PERNAME; layout++) {
		sqlite3 *h = zone_new(path, names);
		double dry = sign_rows(h, (enum layout)layout, names, 1);
		exec_or_die(h, "PRAGMA wal_checkpoint(TRUNCATE)");
		double cpu = sign_rows(h, (enum layout)layout, names, 0);
		char wal[300];
		snprintf(wal, sizeof(wal), "%s-wal", path);
		struct stat sb;
		double mb = stat(wal, &sb) == 0 ? (double)sb.st_size / 1e6 : 0;
		printf("  %-9s %5.2f us a signature (%5.2f with building the rows), WAL %4.0f MB\n",
		       layout_names[layout], (cpu - dry) * 1e6 / nsig, cpu * 1e6 / nsig, mb);
		zone_remove(h, path);
	}
	return 0;
}
