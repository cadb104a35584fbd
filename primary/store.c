/*
 * SQLite store of the primary (see store.h for the contracts).
 *
 * One writer connection guarded by `wmu`: a write request takes the mutex,
 * runs BEGIN IMMEDIATE .. COMMIT and releases it, so writers queue instead
 * of meeting SQLITE_BUSY.  Readers take a connection from a pool and hold a
 * read transaction (WAL gives each a stable snapshot).  Prepared statements
 * are cached per connection.
 *
 * A change (PATCH, create, catalog update) is applied in three phases inside
 * the transaction: apply the ops in order, remembering each touched rrset's
 * rows as they were before the first touch; check the zone rules on every
 * touched name; diff before/after of each touched rrset into the journal
 * blobs, bump the serial once, write the SOA, the journal row and trim it.
 * Any failure rolls the whole transaction back.
 */
#include "primary/store.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "util/arena.h"
#include "util/err.h"
#include "util/log.h"

extern const char *const schema_migrations[];
extern const size_t schema_count;

enum qid {
	Q_ZONE_BY_NAME,
	Q_ZONES_LIST,
	Q_ZONES_LIST_ACC,
	Q_ROWS_ALL,
	Q_ROWS_OWNER,
	Q_ROWS_RRSET,
	Q_AXFR_REST,
	Q_SOA,
	Q_REC_INSERT,
	Q_REC_UPSERT,
	Q_RRSET_DELETE,
	Q_REC_DELETE,
	Q_RRSET_TTL,
	Q_OWNER_TYPES,
	Q_ZONE_SERIAL,
	Q_JOURNAL_INSERT,
	Q_JOURNAL_TRIM,
	Q_JOURNAL_START,
	Q_JOURNAL_FROM,
	Q_JOURNAL_RANGE,
	Q_COMMENTS_DEL,
	Q_COMMENT_INSERT,
	Q_COMMENTS_ALL,
	Q_TSIG_GET,
	Q_TSIG_ALL,
	Q_ZONE_TSIG,
	Q_COUNT
};

static const char *const qsql[Q_COUNT] = {
	[Q_ZONE_BY_NAME] = "SELECT id, name, wire, kind, account, soa_edit_api, serial, "
	                   "notified_serial, is_catalog FROM zones WHERE name = ?1",
	[Q_ZONES_LIST] = "SELECT id, name, wire, kind, account, soa_edit_api, serial, "
	                 "notified_serial, is_catalog FROM zones WHERE name > ?1 "
	                 "ORDER BY name LIMIT ?2",
	[Q_ZONES_LIST_ACC] = "SELECT id, name, wire, kind, account, soa_edit_api, serial, "
	                     "notified_serial, is_catalog FROM zones WHERE account = ?3 "
	                     "AND name > ?1 ORDER BY name LIMIT ?2",
	[Q_ROWS_ALL] = "SELECT owner, type, ttl, rdata, disabled FROM records WHERE zone_id = ?1 "
	               "ORDER BY okey, type, rdata",
	[Q_ROWS_OWNER] = "SELECT owner, type, ttl, rdata, disabled FROM records WHERE zone_id = ?1 "
	                 "AND okey = ?2 ORDER BY type, rdata",
	[Q_ROWS_RRSET] = "SELECT owner, type, ttl, rdata, disabled FROM records WHERE zone_id = ?1 "
	                 "AND okey = ?2 AND type = ?3 ORDER BY rdata",
	[Q_AXFR_REST] = "SELECT owner, type, ttl, rdata FROM records WHERE zone_id = ?1 "
	                "AND disabled = 0 AND NOT (type = 6 AND okey = ?2) "
	                "ORDER BY okey, type, rdata",
	[Q_SOA] = "SELECT owner, ttl, rdata FROM records WHERE zone_id = ?1 AND okey = ?2 "
	          "AND type = 6 AND disabled = 0",
	[Q_REC_INSERT] = "INSERT INTO records (zone_id, okey, owner, type, ttl, rdata, disabled) "
	                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[Q_REC_UPSERT] = "INSERT INTO records (zone_id, okey, owner, type, ttl, rdata, disabled) "
	                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (zone_id, okey, type, rdata) "
	                 "DO UPDATE SET disabled = excluded.disabled",
	[Q_RRSET_DELETE] = "DELETE FROM records WHERE zone_id = ?1 AND okey = ?2 AND type = ?3",
	[Q_REC_DELETE] = "DELETE FROM records WHERE zone_id = ?1 AND okey = ?2 AND type = ?3 "
	                 "AND rdata = ?4",
	[Q_RRSET_TTL] = "UPDATE records SET ttl = ?4 WHERE zone_id = ?1 AND okey = ?2 AND type = ?3",
	[Q_OWNER_TYPES] = "SELECT type, count(*) FROM records WHERE zone_id = ?1 AND okey = ?2 "
	                  "AND disabled = 0 GROUP BY type",
	[Q_ZONE_SERIAL] = "UPDATE zones SET serial = ?2, updated_at = ?3 WHERE id = ?1",
	[Q_JOURNAL_INSERT] = "INSERT INTO journal (zone_id, serial_from, serial_to, removed, added, "
	                     "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_JOURNAL_TRIM] = "DELETE FROM journal WHERE zone_id = ?1 AND seq < (SELECT seq FROM "
	                   "journal WHERE zone_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
	[Q_JOURNAL_START] = "SELECT max(seq) FROM journal WHERE zone_id = ?1 AND serial_from = ?2",
	[Q_JOURNAL_FROM] = "SELECT serial_from, serial_to, removed, added, created_at FROM journal "
	                   "WHERE zone_id = ?1 AND seq >= ?2 ORDER BY seq",
	[Q_JOURNAL_RANGE] = "SELECT count(*), (SELECT serial_from FROM journal WHERE zone_id = ?1 "
	                    "ORDER BY seq LIMIT 1) FROM journal WHERE zone_id = ?1",
	[Q_COMMENTS_DEL] = "DELETE FROM comments WHERE zone_id = ?1 AND okey = ?2 AND type = ?3",
	[Q_COMMENT_INSERT] = "INSERT INTO comments (zone_id, okey, type, content, account, "
	                     "modified_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_COMMENTS_ALL] = "SELECT okey, type, content, account, modified_at FROM comments "
	                   "WHERE zone_id = ?1 ORDER BY okey, type, id",
	[Q_TSIG_GET] = "SELECT name, algorithm, secret FROM tsig_keys WHERE name = ?1",
	[Q_TSIG_ALL] = "SELECT name, algorithm, secret FROM tsig_keys ORDER BY name",
	[Q_ZONE_TSIG] = "SELECT k.name, k.algorithm, k.secret FROM zone_tsig_keys z JOIN tsig_keys k "
	                "ON k.name = z.key_name WHERE z.zone_id = ?1 ORDER BY k.name",
};

struct conn {
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	struct conn *next;
};

struct store_snap {
	struct store *st;
	struct conn *c;
};

struct hook_call {
	uint8_t zone[DNS_NAME_MAX];
	uint32_t old_serial, new_serial;
	bool deleted;
};

#define HOOKS_MAX 4

struct store {
	struct conn w;                /* the writer, under wmu */
	pthread_mutex_t wmu;
	pthread_mutex_t pool_mu;
	struct conn *pool;            /* idle reader connections */
	char *path;
	uint8_t catalog[DNS_NAME_MAX];
	char catalog_text[DNS_NAME_TEXT_MAX];
	unsigned journal_keep;
	store_commit_fn commit_fn;
	void *commit_ctx;
	store_notify_fn notify_fn;
	void *notify_ctx;
	pthread_mutex_t stats_mu;
	int64_t last_commit;
	uint64_t commits;
	/* WAL checkpoints run here, so that no API write pays for one */
	pthread_t ckpt_thread;
	bool ckpt_running;
	pthread_mutex_t ckpt_mu;
	pthread_cond_t ckpt_cv;
	bool ckpt_stop;
	/* filled during a write transaction, fired after it */
	struct hook_call hooks[HOOKS_MAX];
	size_t nhooks;
	struct arena arena;           /* scratch of the current write */
};

/* ---- connections ----------------------------------------------------------- */

static int
conn_open(struct conn *c, const char *path, bool create)
{
	memset(c, 0, sizeof(*c));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_busy_timeout(c->db, 10000);
	sqlite3_extended_result_codes(c->db, 1);
	return 0;
}

static void
conn_close(struct conn *c)
{
	for (size_t i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(c->q[i]);
	sqlite3_close(c->db);
	memset(c, 0, sizeof(*c));
}

static sqlite3_stmt *
q(struct conn *c, enum qid id)
{
	if (c->q[id] == NULL) {
		if (sqlite3_prepare_v3(c->db, qsql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->q[id],
		                       NULL) != SQLITE_OK) {
			log_error(NULL, "store: cannot prepare query %d: %s", (int)id,
			          sqlite3_errmsg(c->db));
			return NULL;
		}
	}
	return c->q[id];
}

static void
q_done(sqlite3_stmt *s)
{
	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

static int
exec(struct conn *c, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error(NULL, "store: %s: %s", sql, msg ? msg : sqlite3_errmsg(c->db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/* Runs a statement that returns no rows; -EIO on error, -EEXIST on constraint. */
static int
step_done(struct conn *c, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	int ret = 0;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
			ret = -EEXIST;
		} else {
			log_error(NULL, "store: %s", sqlite3_errmsg(c->db));
			ret = -EIO;
		}
	}
	q_done(s);
	return ret;
}

static struct conn *
pool_get(struct store *st)
{
	pthread_mutex_lock(&st->pool_mu);
	struct conn *c = st->pool;
	if (c != NULL)
		st->pool = c->next;
	pthread_mutex_unlock(&st->pool_mu);
	if (c != NULL)
		return c;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if (conn_open(c, st->path, false) != 0 || exec(c, "PRAGMA query_only = 1") != 0) {
		conn_close(c);
		free(c);
		return NULL;
	}
	return c;
}

static void
pool_put(struct store *st, struct conn *c)
{
	pthread_mutex_lock(&st->pool_mu);
	c->next = st->pool;
	st->pool = c;
	pthread_mutex_unlock(&st->pool_mu);
}

/* ---- helpers ------------------------------------------------------------------ */

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

static void
set_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void
set_err(char *err, size_t cap, const char *fmt, ...)
{
	if (err == NULL || cap == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

static void
copy_text(char *dst, size_t cap, const unsigned char *src)
{
	snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

/* Lower-case wire copy and its lookup key. */
struct nkey {
	uint8_t name[DNS_NAME_MAX];
	size_t nlen;
	uint8_t key[DNS_LOOKUP_MAX];
	size_t klen;
};

static void
nkey_set(struct nkey *k, const uint8_t *name)
{
	k->nlen = dns_name_len(name);
	memcpy(k->name, name, k->nlen);
	dns_name_lower(k->name);
	k->klen = dns_name_to_lookup(k->name, k->key);
}

static int
name_text(const uint8_t *name, char *buf, size_t cap)
{
	uint8_t low[DNS_NAME_MAX];
	memcpy(low, name, dns_name_len(name));
	dns_name_lower(low);
	return dns_name_to_text(low, buf, cap);
}

static int
zone_from_row(sqlite3_stmt *s, struct store_zone *z)
{
	memset(z, 0, sizeof(*z));
	z->id = sqlite3_column_int64(s, 0);
	copy_text(z->text, sizeof(z->text), sqlite3_column_text(s, 1));
	int wl = sqlite3_column_bytes(s, 2);
	const void *w = sqlite3_column_blob(s, 2);
	if (w == NULL || wl <= 0 || wl > DNS_NAME_MAX || dns_name_check(w, (size_t)wl) != wl)
		return -EIO;
	memcpy(z->name, w, (size_t)wl);
	copy_text(z->kind, sizeof(z->kind), sqlite3_column_text(s, 3));
	copy_text(z->account, sizeof(z->account), sqlite3_column_text(s, 4));
	if (dns_serial_policy_parse((const char *)sqlite3_column_text(s, 5), &z->policy) != 0)
		z->policy = DNS_SERIAL_DEFAULT;
	z->serial = (uint32_t)sqlite3_column_int64(s, 6);
	z->notified_serial = (uint32_t)sqlite3_column_int64(s, 7);
	z->is_catalog = sqlite3_column_int(s, 8) != 0;
	return 0;
}

static int
zone_get(struct conn *c, const uint8_t *name, struct store_zone *z)
{
	char text[DNS_NAME_TEXT_MAX];
	if (name_text(name, text, sizeof(text)) < 0)
		return -EINVAL;
	sqlite3_stmt *s = q(c, Q_ZONE_BY_NAME);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	int ret;
	if (rc == SQLITE_ROW)
		ret = zone_from_row(s, z);
	else if (rc == SQLITE_DONE)
		ret = -ENOENT;
	else
		ret = -EIO;
	q_done(s);
	return ret;
}

/* SOA rdata layout: mname, rname, then serial at the returned offset. */
static int
soa_serial_off(const uint8_t *rd, size_t len)
{
	int a = dns_name_check(rd, len);
	if (a <= 0)
		return ERR_RDATA;
	int b = dns_name_check(rd + a, len - (size_t)a);
	if (b <= 0 || (size_t)(a + b) + 20 != len)
		return ERR_RDATA;
	return a + b;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- blobs: concatenated canonical wire RRs --------------------------------- */

struct buf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void
buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
buf_rr(struct buf *b, const uint8_t *owner, uint16_t type, uint32_t ttl, const uint8_t *rd,
       size_t rdlen)
{
	uint8_t hdr[10];
	hdr[0] = (uint8_t)(type >> 8);
	hdr[1] = (uint8_t)type;
	hdr[2] = 0;
	hdr[3] = DNS_C_IN;
	put32(hdr + 4, ttl);
	hdr[8] = (uint8_t)(rdlen >> 8);
	hdr[9] = (uint8_t)rdlen;
	buf_put(b, owner, dns_name_len(owner));
	buf_put(b, hdr, sizeof(hdr));
	buf_put(b, rd, rdlen);
}

int
store_blob_next(const uint8_t *blob, size_t len, size_t *pos, struct dns_rr *rr)
{
	if (*pos >= len)
		return 0;
	size_t p = *pos;
	int nl = dns_name_check(blob + p, len - p);
	if (nl <= 0)
		return ERR_FORMERR;
	p += (size_t)nl;
	if (len - p < 10)
		return ERR_FORMERR;
	const uint8_t *h = blob + p;
	rr->owner = blob + *pos;
	rr->type = (uint16_t)(h[0] << 8 | h[1]);
	rr->rclass = (uint16_t)(h[2] << 8 | h[3]);
	rr->ttl = get32(h + 4);
	rr->rdlen = (uint16_t)(h[8] << 8 | h[9]);
	p += 10;
	if (len - p < rr->rdlen)
		return ERR_FORMERR;
	rr->rdata = blob + p;
	*pos = p + rr->rdlen;
	return 1;
}

/* ---- opening and migrations -------------------------------------------------- */

static int
migrate(struct store *st, char *err, size_t errcap)
{
	struct conn *c = &st->w;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK) {
		set_err(err, errcap, "%s: %s", st->path, sqlite3_errmsg(c->db));
		return -EIO;
	}
	int64_t ver = 0;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		ver = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW) {
		set_err(err, errcap, "%s: not a database: %s", st->path, sqlite3_errmsg(c->db));
		return -EIO;
	}
	if (ver > (int64_t)schema_count) {
		set_err(err, errcap,
		        "%s: database schema version %" PRId64 " is newer than this binary's %zu; "
		        "refusing to touch it",
		        st->path, ver, schema_count);
		return ERR_SCHEMA_NEWER;
	}
	if (exec(c, "PRAGMA journal_mode = WAL") != 0 || exec(c, "PRAGMA synchronous = NORMAL") != 0 ||
	    exec(c, "PRAGMA foreign_keys = ON") != 0) {
		set_err(err, errcap, "%s: cannot set pragmas: %s", st->path, sqlite3_errmsg(c->db));
		return -EIO;
	}
	if (ver == (int64_t)schema_count)
		return 0;
	if (exec(c, "BEGIN IMMEDIATE") != 0) {
		set_err(err, errcap, "%s: %s", st->path, sqlite3_errmsg(c->db));
		return -EIO;
	}
	for (size_t i = (size_t)ver; i < schema_count; i++) {
		char *msg = NULL;
		if (sqlite3_exec(c->db, schema_migrations[i], NULL, NULL, &msg) != SQLITE_OK) {
			set_err(err, errcap, "%s: migration %zu failed: %s", st->path, i + 1,
			        msg ? msg : "?");
			sqlite3_free(msg);
			exec(c, "ROLLBACK");
			return -EIO;
		}
	}
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", schema_count);
	if (exec(c, sql) != 0 || exec(c, "COMMIT") != 0) {
		set_err(err, errcap, "%s: cannot commit migrations", st->path);
		exec(c, "ROLLBACK");
		return -EIO;
	}
	log_info(NULL, "store: %s migrated to schema version %zu", st->path, schema_count);
	return 0;
}

static int catalog_ensure(struct store *st, char *err, size_t errcap);
static int lkey_backfill(struct store *st, char *err, size_t errcap);

/* WAL frames (pages) past which the checkpointer truncates the WAL. */
#define CKPT_TRUNCATE_FRAMES 1024
#define CKPT_BUSY_MS 50

/*
 * Checkpoints the WAL every 100 ms on a connection of its own (PASSIVE: never
 * blocks the writer or readers).  The writer's automatic checkpoints are off,
 * so an API request never waits for the database file's fsync.
 */
static void *
ckpt_main(void *arg)
{
	struct store *st = arg;
	struct conn c;
	if (conn_open(&c, st->path, false) != 0)
		return NULL;
	/* A connection learns that the database is in WAL mode only when it
	 * first reads it; until then every checkpoint is a no-op (pnLog -1)
	 * and the WAL grows without bound. */
	if (exec(&c, "PRAGMA journal_mode") != 0)
		log_warning(NULL, "store: the WAL checkpointer cannot read the database");
	sqlite3_busy_timeout(c.db, CKPT_BUSY_MS);
	pthread_mutex_lock(&st->ckpt_mu);
	while (!st->ckpt_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&st->ckpt_cv, &st->ckpt_mu, &ts);
		if (st->ckpt_stop)
			break;
		pthread_mutex_unlock(&st->ckpt_mu);
		int nlog = 0, nckpt = 0;
		sqlite3_wal_checkpoint_v2(c.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
		/* Copied back, yet under a steady stream of writes SQLite may never
		 * start the WAL over: past CKPT_TRUNCATE_FRAMES truncate it (waits at
		 * most CKPT_BUSY_MS for the writer and readers, else tries later). */
		if (nlog >= CKPT_TRUNCATE_FRAMES && nckpt == nlog)
			sqlite3_wal_checkpoint_v2(c.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		pthread_mutex_lock(&st->ckpt_mu);
	}
	pthread_mutex_unlock(&st->ckpt_mu);
	/* a last full checkpoint at shutdown keeps the WAL small */
	sqlite3_busy_timeout(c.db, 10000);
	sqlite3_wal_checkpoint_v2(c.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	conn_close(&c);
	return NULL;
}

int
store_open(const struct store_opts *o, struct store **out, char *err, size_t errcap)
{
	struct store *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	pthread_mutex_init(&st->wmu, NULL);
	pthread_mutex_init(&st->pool_mu, NULL);
	pthread_mutex_init(&st->stats_mu, NULL);
	pthread_mutex_init(&st->ckpt_mu, NULL);
	pthread_cond_init(&st->ckpt_cv, NULL);
	arena_init(&st->arena, 64 * 1024);
	st->journal_keep = o->journal_keep ? o->journal_keep : STORE_JOURNAL_KEEP_DEFAULT;
	st->path = strdup(o->path);
	int ret = -ENOMEM;
	if (st->path == NULL)
		goto fail;
	const char *cat = o->catalog ? o->catalog : "catalog.anycst.invalid.";
	if (dns_name_from_text(cat, strlen(cat), NULL, st->catalog) <= 0 ||
	    st->catalog[0] == 0) {
		set_err(err, errcap, "bad catalog zone name '%s'", cat);
		ret = -EINVAL;
		goto fail;
	}
	dns_name_lower(st->catalog);
	dns_name_to_text(st->catalog, st->catalog_text, sizeof(st->catalog_text));
	if (conn_open(&st->w, st->path, true) != 0) {
		set_err(err, errcap, "%s: cannot open: %s", st->path,
		        st->w.db ? sqlite3_errmsg(st->w.db) : "out of memory");
		ret = -EIO;
		goto fail;
	}
	ret = migrate(st, err, errcap);
	if (ret != 0)
		goto fail;
	ret = lkey_backfill(st, err, errcap);
	if (ret != 0)
		goto fail;
	ret = catalog_ensure(st, err, errcap);
	if (ret != 0)
		goto fail;
	if (exec(&st->w, "PRAGMA wal_autocheckpoint = 0") != 0) {
		ret = -EIO;
		goto fail;
	}
	if (pthread_create(&st->ckpt_thread, NULL, ckpt_main, st) == 0)
		st->ckpt_running = true;
	*out = st;
	return 0;
fail:
	store_close(st);
	return ret;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->ckpt_running) {
		pthread_mutex_lock(&st->ckpt_mu);
		st->ckpt_stop = true;
		pthread_cond_signal(&st->ckpt_cv);
		pthread_mutex_unlock(&st->ckpt_mu);
		pthread_join(st->ckpt_thread, NULL);
	}
	while (st->pool != NULL) {
		struct conn *c = st->pool;
		st->pool = c->next;
		conn_close(c);
		free(c);
	}
	if (st->w.db != NULL)
		conn_close(&st->w);
	arena_clear(&st->arena);
	pthread_mutex_destroy(&st->wmu);
	pthread_mutex_destroy(&st->pool_mu);
	pthread_mutex_destroy(&st->stats_mu);
	pthread_mutex_destroy(&st->ckpt_mu);
	pthread_cond_destroy(&st->ckpt_cv);
	free(st->path);
	free(st);
}

const uint8_t *
store_catalog_name(const struct store *st)
{
	return st->catalog;
}

void
store_set_commit_hook(struct store *st, store_commit_fn fn, void *ctx)
{
	pthread_mutex_lock(&st->wmu);
	st->commit_fn = fn;
	st->commit_ctx = ctx;
	pthread_mutex_unlock(&st->wmu);
}

void
store_set_notify_hook(struct store *st, store_notify_fn fn, void *ctx)
{
	pthread_mutex_lock(&st->wmu);
	st->notify_fn = fn;
	st->notify_ctx = ctx;
	pthread_mutex_unlock(&st->wmu);
}

int
store_notify(struct store *st, const uint8_t *zone, uint32_t serial)
{
	pthread_mutex_lock(&st->wmu);
	store_notify_fn fn = st->notify_fn;
	void *ctx = st->notify_ctx;
	pthread_mutex_unlock(&st->wmu);
	if (fn == NULL)
		return -ENOSYS;
	return fn(ctx, zone, serial);
}

/* ---- write transactions --------------------------------------------------------- */

static int
w_begin(struct store *st)
{
	pthread_mutex_lock(&st->wmu);
	st->nhooks = 0;
	arena_reset(&st->arena);
	int ret = exec(&st->w, "BEGIN IMMEDIATE");
	if (ret != 0)
		pthread_mutex_unlock(&st->wmu);
	return ret;
}

static void
w_rollback(struct store *st)
{
	exec(&st->w, "ROLLBACK");
	st->nhooks = 0;
	pthread_mutex_unlock(&st->wmu);
}

static int
w_commit(struct store *st)
{
	if (exec(&st->w, "COMMIT") != 0) {
		w_rollback(st);
		return -EIO;
	}
	struct hook_call calls[HOOKS_MAX];
	size_t n = st->nhooks;
	memcpy(calls, st->hooks, n * sizeof(calls[0]));
	st->nhooks = 0;
	store_commit_fn fn = st->commit_fn;
	void *ctx = st->commit_ctx;
	pthread_mutex_unlock(&st->wmu);
	pthread_mutex_lock(&st->stats_mu);
	st->last_commit = now_s();
	st->commits++;
	pthread_mutex_unlock(&st->stats_mu);
	for (size_t i = 0; i < n; i++)
		if (!calls[i].deleted && calls[i].old_serial != 0 &&
		    dns_name_equal(calls[i].zone, st->catalog))
			log_info(st->catalog_text, "zone updated, serial %u -> %u", calls[i].old_serial,
			         calls[i].new_serial);
	for (size_t i = 0; i < n && fn != NULL; i++)
		fn(ctx, calls[i].zone, calls[i].old_serial, calls[i].new_serial, calls[i].deleted);
	return 0;
}

static void
hook_add(struct store *st, const uint8_t *zone, uint32_t from, uint32_t to, bool deleted)
{
	if (st->nhooks >= HOOKS_MAX)
		return;
	struct hook_call *h = &st->hooks[st->nhooks++];
	memcpy(h->zone, zone, dns_name_len(zone));
	h->old_serial = from;
	h->new_serial = to;
	h->deleted = deleted;
}

/* One stored record of a touched rrset, kept in the write arena. */
struct row {
	uint8_t *rd;
	uint16_t rdlen;
	uint32_t ttl;
	bool disabled;
};

struct touched {
	struct nkey k;
	uint16_t type;
	struct row *before;
	size_t nbefore;
	const char *label;
	struct touched *next;
};

/* The change being applied to one zone inside a write transaction. */
struct change {
	struct store *st;
	const struct store_zone *z;
	struct nkey apex;
	struct touched *touched;
	struct touched **tab;      /* open addressing over touched, by (okey, type) */
	size_t tab_cap, ntouched;
	bool creating;
	char *err;
	size_t errcap;
};

static int
read_rrset(struct store *st, int64_t zid, const struct nkey *k, uint16_t type, struct row **out,
           size_t *n)
{
	sqlite3_stmt *s = q(&st->w, Q_ROWS_RRSET);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, zid);
	sqlite3_bind_blob(s, 2, k->key, (int)k->klen, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, type);
	size_t cap = 0, cnt = 0;
	struct row *rows = NULL;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct row *nr = arena_alloc(&st->arena, ncap * sizeof(*nr));
			if (nr == NULL) {
				q_done(s);
				return -ENOMEM;
			}
			if (cnt)
				memcpy(nr, rows, cnt * sizeof(*nr));
			rows = nr;
			cap = ncap;
		}
		struct row *r = &rows[cnt++];
		r->ttl = (uint32_t)sqlite3_column_int64(s, 2);
		r->rdlen = (uint16_t)sqlite3_column_bytes(s, 3);
		/* an empty blob reads back as NULL: arena_memdup takes (NULL, 0) */
		r->rd = arena_memdup(&st->arena, sqlite3_column_blob(s, 3), r->rdlen);
		r->disabled = sqlite3_column_int(s, 4) != 0;
		if (r->rd == NULL) {
			q_done(s);
			return -ENOMEM;
		}
	}
	q_done(s);
	if (rc != SQLITE_DONE)
		return -EIO;
	*out = rows;
	*n = cnt;
	return 0;
}

static uint64_t
touch_hash(const struct nkey *k, uint16_t type)
{
	uint64_t h = 1469598103934665603ull ^ type;
	for (size_t i = 0; i < k->klen; i++)
		h = (h ^ k->key[i]) * 1099511628211ull;
	return h;
}

static bool
touch_same(const struct touched *t, const struct nkey *k, uint16_t type)
{
	return t->type == type && t->k.klen == k->klen && memcmp(t->k.key, k->key, k->klen) == 0;
}

static int
touch_insert(struct change *ch, struct touched *t)
{
	if ((ch->ntouched + 1) * 2 > ch->tab_cap) {
		size_t cap = ch->tab_cap ? ch->tab_cap * 2 : 64;
		struct touched **tab = arena_alloc(&ch->st->arena, cap * sizeof(*tab));
		if (tab == NULL)
			return -ENOMEM;
		memset(tab, 0, cap * sizeof(*tab));
		for (struct touched *o = ch->touched; o != NULL; o = o->next) {
			size_t i = (size_t)touch_hash(&o->k, o->type) & (cap - 1);
			while (tab[i] != NULL)
				i = (i + 1) & (cap - 1);
			tab[i] = o;
		}
		ch->tab = tab;
		ch->tab_cap = cap;
	}
	size_t i = (size_t)touch_hash(&t->k, t->type) & (ch->tab_cap - 1);
	while (ch->tab[i] != NULL)
		i = (i + 1) & (ch->tab_cap - 1);
	ch->tab[i] = t;
	t->next = ch->touched;
	ch->touched = t;
	ch->ntouched++;
	return 0;
}

static int
touch(struct change *ch, const struct nkey *k, uint16_t type, const char *label)
{
	if (ch->tab_cap > 0) {
		size_t i = (size_t)touch_hash(k, type) & (ch->tab_cap - 1);
		for (; ch->tab[i] != NULL; i = (i + 1) & (ch->tab_cap - 1))
			if (touch_same(ch->tab[i], k, type))
				return 0;
	}
	struct touched *t = arena_alloc(&ch->st->arena, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	t->k = *k;
	t->type = type;
	t->label = label;
	/* a zone being created has nothing yet: no need to read */
	if (!ch->creating) {
		int ret = read_rrset(ch->st, ch->z->id, k, type, &t->before, &t->nbefore);
		if (ret != 0)
			return ret;
	}
	return touch_insert(ch, t);
}

static int
rec_write(struct change *ch, enum qid id, const struct nkey *k, uint16_t type, uint32_t ttl,
          const uint8_t *rd, size_t rdlen, bool disabled)
{
	sqlite3_stmt *s = q(&ch->st->w, id);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, ch->z->id);
	sqlite3_bind_blob(s, 2, k->key, (int)k->klen, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, k->name, (int)k->nlen, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, type);
	sqlite3_bind_int64(s, 5, ttl);
	sqlite3_bind_blob(s, 6, rdlen ? rd : (const uint8_t *)"", (int)rdlen, SQLITE_STATIC);
	sqlite3_bind_int(s, 7, disabled ? 1 : 0);
	return step_done(&ch->st->w, s);
}

static int
rrset_delete(struct change *ch, const struct nkey *k, uint16_t type, bool comments)
{
	sqlite3_stmt *s = q(&ch->st->w, comments ? Q_COMMENTS_DEL : Q_RRSET_DELETE);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, ch->z->id);
	sqlite3_bind_blob(s, 2, k->key, (int)k->klen, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, type);
	return step_done(&ch->st->w, s);
}

/* Current TTL of an rrset (first row), or `def` when empty. */
static uint32_t
rrset_ttl(struct change *ch, const struct nkey *k, uint16_t type, uint32_t def)
{
	struct row *rows;
	size_t n;
	if (read_rrset(ch->st, ch->z->id, k, type, &rows, &n) != 0 || n == 0)
		return def;
	return rows[0].ttl;
}

/* Sorting the records of one op: rdata bytes (shorter first), then index. */
struct rec_ix {
	const uint8_t *rd;
	size_t len, i;
};

static int
rec_ix_cmp(const void *a, const void *b)
{
	const struct rec_ix *x = a, *y = b;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	int c = memcmp(x->rd, y->rd, x->len);
	if (c != 0)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Among records[0..n) of `op` (canonical rdata in `rds`), the lowest index
 * *dup whose rdata equals an earlier record's, and the first such earlier
 * record *of (what a pairwise scan in order would report); *dup = n when
 * all differ.  0 or -ENOMEM.
 */
static int
first_duplicate(struct store *st, const struct store_op *op, uint8_t *const *rds, size_t n,
                size_t *dup, size_t *of)
{
	*dup = *of = n;
	if (n < 2)
		return 0;
	struct rec_ix *v = arena_alloc(&st->arena, n * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i].rd = rds[i];
		v[i].len = op->recs[i].rdlen;
		v[i].i = i;
	}
	qsort(v, n, sizeof(*v), rec_ix_cmp);
	/* In a run of equal rdata the indexes ascend: its second is the first
	 * duplicate of the run, its first what it duplicates. */
	for (size_t k = 1; k < n; k++) {
		if (v[k].len == v[k - 1].len && memcmp(v[k].rd, v[k - 1].rd, v[k].len) == 0 &&
		    v[k].i < *dup && (k < 2 || v[k - 1].len != v[k - 2].len ||
		                      memcmp(v[k - 1].rd, v[k - 2].rd, v[k].len) != 0)) {
			*dup = v[k].i;
			*of = v[k - 1].i;
		}
	}
	return 0;
}

static int
apply_op(struct change *ch, const struct store_op *op)
{
	struct nkey k;
	char *err = ch->err;
	size_t errcap = ch->errcap;
	if (dns_name_check(op->owner, DNS_NAME_MAX) <= 0) {
		set_err(err, errcap, "%s: bad name", op->label);
		return -EINVAL;
	}
	nkey_set(&k, op->owner);
	char owner_text[DNS_NAME_TEXT_MAX];
	dns_name_to_text(k.name, owner_text, sizeof(owner_text));
	if (!dns_name_is_sub(k.name, ch->apex.name)) {
		set_err(err, errcap, "%s: name '%s' is not inside zone '%s'", op->label, owner_text,
		        ch->z->text);
		return -EINVAL;
	}
	if (op->type == 0 || dns_rrtype_is_meta(op->type)) {
		set_err(err, errcap, "%s: type %u cannot be stored in a zone", op->label, op->type);
		return -EINVAL;
	}
	bool apex = dns_name_equal(k.name, ch->apex.name);
	if (op->type == DNS_T_SOA && !apex) {
		set_err(err, errcap, "%s: SOA record '%s' is not at the zone apex", op->label,
		        owner_text);
		return -EINVAL;
	}
	if (op->type == DNS_T_SOA && op->kind == STORE_OP_DELETE) {
		set_err(err, errcap, "%s: deleting the SOA of '%s' is not allowed", op->label,
		        ch->z->text);
		return -EINVAL;
	}
	if ((op->kind == STORE_OP_REPLACE || op->kind == STORE_OP_EXTEND) && op->has_ttl &&
	    op->ttl > INT32_MAX) {
		set_err(err, errcap, "%s: TTL %u out of range 0..2147483647", op->label, op->ttl);
		return -EINVAL;
	}
	/* canonical rdata, and no duplicates inside the op */
	int ret;
	uint8_t **rds = NULL;
	if (op->nrecs > 0) {
		rds = arena_alloc(&ch->st->arena, op->nrecs * sizeof(*rds));
		if (rds == NULL)
			return -ENOMEM;
	}
	size_t soa_disabled = op->nrecs;
	for (size_t i = 0; i < op->nrecs; i++) {
		const struct store_rec *r = &op->recs[i];
		rds[i] = arena_memdup(&ch->st->arena, r->rdata, r->rdlen);
		if (rds[i] == NULL)
			return -ENOMEM;
		dns_rdata_canonicalize(op->type, rds[i], r->rdlen);
		if (op->type == DNS_T_SOA && r->disabled) {
			soa_disabled = i;
			break;
		}
	}
	/* The first record equal to an earlier one, found by sorting: O(n log n). */
	size_t dup, dup_of;
	ret = first_duplicate(ch->st, op, rds, soa_disabled, &dup, &dup_of);
	if (ret != 0)
		return ret;
	if (dup < soa_disabled) {
		set_err(err, errcap, "%s.records[%zu]: duplicate record (same as records[%zu])",
		        op->label, dup, dup_of);
		return -EINVAL;
	}
	if (soa_disabled < op->nrecs) {
		set_err(err, errcap, "%s.records[%zu]: the SOA cannot be disabled", op->label,
		        soa_disabled);
		return -EINVAL;
	}
	ret = touch(ch, &k, op->type, op->label);
	if (ret != 0)
		return ret;
	switch (op->kind) {
	case STORE_OP_DELETE:
		ret = rrset_delete(ch, &k, op->type, false);
		if (ret == 0)
			ret = rrset_delete(ch, &k, op->type, true);
		break;
	case STORE_OP_REPLACE:
		ret = rrset_delete(ch, &k, op->type, false);
		for (size_t i = 0; i < op->nrecs && ret == 0; i++)
			ret = rec_write(ch, Q_REC_INSERT, &k, op->type, op->has_ttl ? op->ttl : 3600, rds[i],
			                op->recs[i].rdlen, op->recs[i].disabled);
		if (ret == 0 && op->has_comments) {
			ret = rrset_delete(ch, &k, op->type, true);
			for (size_t i = 0; i < op->ncomments && ret == 0; i++) {
				const struct store_comment *c = &op->comments[i];
				sqlite3_stmt *s = q(&ch->st->w, Q_COMMENT_INSERT);
				if (s == NULL)
					return -EIO;
				sqlite3_bind_int64(s, 1, ch->z->id);
				sqlite3_bind_blob(s, 2, k.key, (int)k.klen, SQLITE_STATIC);
				sqlite3_bind_int(s, 3, op->type);
				sqlite3_bind_text(s, 4, c->content ? c->content : "", -1, SQLITE_STATIC);
				sqlite3_bind_text(s, 5, c->account ? c->account : "", -1, SQLITE_STATIC);
				sqlite3_bind_int64(s, 6, c->modified_at ? c->modified_at : now_s());
				ret = step_done(&ch->st->w, s);
			}
		}
		break;
	case STORE_OP_EXTEND: {
		uint32_t ttl = op->has_ttl ? op->ttl : rrset_ttl(ch, &k, op->type, 3600);
		for (size_t i = 0; i < op->nrecs && ret == 0; i++)
			ret = rec_write(ch, Q_REC_UPSERT, &k, op->type, ttl, rds[i], op->recs[i].rdlen,
			                op->recs[i].disabled);
		if (ret == 0 && op->nrecs > 0) {
			sqlite3_stmt *s = q(&ch->st->w, Q_RRSET_TTL);
			if (s == NULL)
				return -EIO;
			sqlite3_bind_int64(s, 1, ch->z->id);
			sqlite3_bind_blob(s, 2, k.key, (int)k.klen, SQLITE_STATIC);
			sqlite3_bind_int(s, 3, op->type);
			sqlite3_bind_int64(s, 4, ttl);
			ret = step_done(&ch->st->w, s);
		}
		break;
	}
	case STORE_OP_PRUNE:
		for (size_t i = 0; i < op->nrecs && ret == 0; i++) {
			sqlite3_stmt *s = q(&ch->st->w, Q_REC_DELETE);
			if (s == NULL)
				return -EIO;
			sqlite3_bind_int64(s, 1, ch->z->id);
			sqlite3_bind_blob(s, 2, k.key, (int)k.klen, SQLITE_STATIC);
			sqlite3_bind_int(s, 3, op->type);
			sqlite3_bind_blob(s, 4, op->recs[i].rdlen ? rds[i] : (const uint8_t *)"",
			                  (int)op->recs[i].rdlen, SQLITE_STATIC);
			ret = step_done(&ch->st->w, s);
		}
		break;
	default:
		set_err(err, errcap, "%s: unknown changetype", op->label);
		return -EINVAL;
	}
	if (ret == -EEXIST) {
		set_err(err, errcap, "%s: duplicate record", op->label);
		return -EINVAL;
	}
	return ret;
}

/* Checks the zone rules at one touched name. */
static int
check_name(struct change *ch, struct touched *t)
{
	sqlite3_stmt *s = q(&ch->st->w, Q_OWNER_TYPES);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, ch->z->id);
	sqlite3_bind_blob(s, 2, t->k.key, (int)t->k.klen, SQLITE_STATIC);
	int64_t cname = 0, other = 0, soa = 0, ns = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int type = sqlite3_column_int(s, 0);
		int64_t n = sqlite3_column_int64(s, 1);
		if (type == DNS_T_CNAME)
			cname = n;
		else if (type != DNS_T_RRSIG && type != DNS_T_NSEC)
			other += n;
		if (type == DNS_T_SOA)
			soa = n;
		if (type == DNS_T_NS)
			ns = n;
	}
	q_done(s);
	if (rc != SQLITE_DONE)
		return -EIO;
	char owner[DNS_NAME_TEXT_MAX];
	dns_name_to_text(t->k.name, owner, sizeof(owner));
	bool apex = dns_name_equal(t->k.name, ch->apex.name);
	if (cname > 0 && apex) {
		set_err(ch->err, ch->errcap, "%s: CNAME not allowed at the zone apex '%s'", t->label,
		        owner);
		return -EINVAL;
	}
	if (cname > 1) {
		set_err(ch->err, ch->errcap, "%s: more than one CNAME record at '%s'", t->label, owner);
		return -EINVAL;
	}
	if (cname > 0 && other > 0) {
		set_err(ch->err, ch->errcap, "%s: CNAME at '%s' conflicts with other records there",
		        t->label, owner);
		return -EINVAL;
	}
	if (apex && t->type == DNS_T_SOA && soa != 1) {
		set_err(ch->err, ch->errcap, "%s: zone '%s' must have exactly one SOA record, not %" PRId64,
		        t->label, ch->z->text, soa);
		return -EINVAL;
	}
	if (apex && t->type == DNS_T_NS && ns == 0 && t->nbefore > 0) {
		set_err(ch->err, ch->errcap, "%s: the NS records at the apex of '%s' cannot all be removed",
		        t->label, ch->z->text);
		return -EINVAL;
	}
	return 0;
}

/* Total order on rows: rdata (shorter first), TTL, then disabled. */
static int
row_cmp(const struct row *a, const struct row *b)
{
	if (a->rdlen != b->rdlen)
		return a->rdlen < b->rdlen ? -1 : 1;
	int c = memcmp(a->rd, b->rd, a->rdlen);
	if (c != 0)
		return c;
	if (a->ttl != b->ttl)
		return a->ttl < b->ttl ? -1 : 1;
	return (int)a->disabled - (int)b->disabled;
}

static int
row_ptr_cmp(const void *a, const void *b)
{
	return row_cmp(*(const struct row *const *)a, *(const struct row *const *)b);
}

/* Pointers to rows[0..n) in row_cmp order (arena), so lookups are O(log n). */
static const struct row **
rows_sorted(struct store *st, const struct row *rows, size_t n)
{
	const struct row **v = arena_alloc(&st->arena, (n ? n : 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = &rows[i];
	qsort(v, n, sizeof(*v), row_ptr_cmp);
	return v;
}

/* Whether `set` (n rows sorted by rows_sorted) holds a row equal to `r`:
 * same rdata, TTL and disabled flag. */
static bool
row_in(const struct row *r, const struct row *const *set, size_t n)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = row_cmp(set[mid], r);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * Diffs every touched rrset, and when anything changed writes the new SOA
 * serial and the journal row.  `*changed` tells whether a bump happened.
 */
static int
finish_change(struct change *ch, bool journal, struct store_result *res)
{
	struct store *st = ch->st;
	struct buf rem = {0}, add = {0};
	bool changed = false, visible = false;
	int ret = 0;
	const struct touched *soa_t = NULL;
	for (struct touched *t = ch->touched; t != NULL; t = t->next) {
		ret = check_name(ch, t);
		if (ret != 0)
			goto out;
	}
	if (ch->creating) {
		res->old_serial = res->new_serial = ch->z->serial;
		res->changed = true;
		goto out;
	}
	for (struct touched *t = ch->touched; t != NULL; t = t->next) {
		struct row *after;
		size_t nafter;
		ret = read_rrset(st, ch->z->id, &t->k, t->type, &after, &nafter);
		if (ret != 0)
			goto out;
		if (t->type == DNS_T_SOA) {
			soa_t = t;
			if (nafter != t->nbefore || (nafter == 1 && row_cmp(&after[0], &t->before[0]) != 0))
				changed = true;
			continue;
		}
		/* Each side sorted once, the other probed in its own order (the
		 * journal keeps the rows' order): O(n log n) for n records. */
		const struct row **sb = rows_sorted(st, t->before, t->nbefore);
		const struct row **sa = rows_sorted(st, after, nafter);
		if (sb == NULL || sa == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		/* A row missing from the other side is a change; an enabled one is
		 * also a visible removal or addition (its exact match would be an
		 * enabled row with the same rdata and TTL). */
		for (size_t i = 0; i < t->nbefore; i++) {
			if (row_in(&t->before[i], sa, nafter))
				continue;
			changed = true;
			if (!t->before[i].disabled) {
				buf_rr(&rem, t->k.name, t->type, t->before[i].ttl, t->before[i].rd,
				       t->before[i].rdlen);
				visible = true;
			}
		}
		for (size_t i = 0; i < nafter; i++) {
			if (row_in(&after[i], sb, t->nbefore))
				continue;
			changed = true;
			if (!after[i].disabled) {
				buf_rr(&add, t->k.name, t->type, after[i].ttl, after[i].rd, after[i].rdlen);
				visible = true;
			}
		}
	}
	(void)visible;
	res->old_serial = res->new_serial = ch->z->serial;
	res->changed = changed;
	if (!changed || ch->creating)
		goto out;
	/* the SOA: old one from before (the zone row's serial), new one as now stored */
	struct row *cur;
	size_t ncur;
	ret = read_rrset(st, ch->z->id, &ch->apex, DNS_T_SOA, &cur, &ncur);
	if (ret != 0)
		goto out;
	if (ncur != 1) {
		set_err(ch->err, ch->errcap, "zone '%s' must have exactly one SOA record", ch->z->text);
		ret = -EINVAL;
		goto out;
	}
	const struct row *old_soa = cur;
	if (soa_t != NULL && soa_t->nbefore == 1)
		old_soa = &soa_t->before[0];
	int off_old = soa_serial_off(old_soa->rd, old_soa->rdlen);
	int off_new = soa_serial_off(cur->rd, cur->rdlen);
	if (off_old < 0 || off_new < 0) {
		set_err(ch->err, ch->errcap, "zone '%s' has a malformed SOA record", ch->z->text);
		ret = -EINVAL;
		goto out;
	}
	uint32_t old_serial = get32(old_soa->rd + off_old);
	uint32_t next = dns_serial_next(ch->z->policy, old_serial, time(NULL));
	uint32_t given = get32(cur->rd + off_new);
	if (given != old_serial && dns_serial_gt(given, next))
		next = given;    /* a client that set a higher serial itself keeps it */
	uint8_t *nsoa = arena_memdup(&st->arena, cur->rd, cur->rdlen);
	if (nsoa == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	put32(nsoa + off_new, next);
	ret = rrset_delete(ch, &ch->apex, DNS_T_SOA, false);
	if (ret == 0)
		ret = rec_write(ch, Q_REC_INSERT, &ch->apex, DNS_T_SOA, cur->ttl, nsoa, cur->rdlen, false);
	if (ret != 0)
		goto out;
	sqlite3_stmt *s = q(&st->w, Q_ZONE_SERIAL);
	if (s == NULL) {
		ret = -EIO;
		goto out;
	}
	sqlite3_bind_int64(s, 1, ch->z->id);
	sqlite3_bind_int64(s, 2, next);
	sqlite3_bind_int64(s, 3, now_s());
	ret = step_done(&st->w, s);
	if (ret != 0)
		goto out;
	res->old_serial = old_serial;
	res->new_serial = next;
	if (journal) {
		struct buf r2 = {0}, a2 = {0};
		buf_rr(&r2, ch->apex.name, DNS_T_SOA, old_soa->ttl, old_soa->rd, old_soa->rdlen);
		buf_put(&r2, rem.p ? rem.p : (const uint8_t *)"", rem.len);
		buf_rr(&a2, ch->apex.name, DNS_T_SOA, cur->ttl, nsoa, cur->rdlen);
		buf_put(&a2, add.p ? add.p : (const uint8_t *)"", add.len);
		if (r2.oom || a2.oom || rem.oom || add.oom) {
			free(r2.p);
			free(a2.p);
			ret = -ENOMEM;
			goto out;
		}
		s = q(&st->w, Q_JOURNAL_INSERT);
		if (s == NULL) {
			free(r2.p);
			free(a2.p);
			ret = -EIO;
			goto out;
		}
		sqlite3_bind_int64(s, 1, ch->z->id);
		sqlite3_bind_int64(s, 2, old_serial);
		sqlite3_bind_int64(s, 3, next);
		sqlite3_bind_blob(s, 4, r2.p, (int)r2.len, SQLITE_STATIC);
		sqlite3_bind_blob(s, 5, a2.p, (int)a2.len, SQLITE_STATIC);
		sqlite3_bind_int64(s, 6, now_s());
		ret = step_done(&st->w, s);
		free(r2.p);
		free(a2.p);
		if (ret != 0)
			goto out;
		s = q(&st->w, Q_JOURNAL_TRIM);
		if (s == NULL) {
			ret = -EIO;
			goto out;
		}
		sqlite3_bind_int64(s, 1, ch->z->id);
		sqlite3_bind_int64(s, 2, (int64_t)st->journal_keep - 1);
		ret = step_done(&st->w, s);
		if (ret != 0)
			goto out;
	}
	hook_add(st, ch->apex.name, old_serial, next, false);
out:
	free(rem.p);
	free(add.p);
	return ret;
}

static int
apply_ops(struct store *st, const struct store_zone *z, const struct store_op *ops, size_t nops,
          bool creating, struct store_result *res, char *err, size_t errcap)
{
	struct change ch = {.st = st, .z = z, .creating = creating, .err = err, .errcap = errcap};
	nkey_set(&ch.apex, z->name);
	for (size_t i = 0; i < nops; i++) {
		int ret = apply_op(&ch, &ops[i]);
		if (ret != 0)
			return ret;
	}
	return finish_change(&ch, true, res);
}

/* ---- catalog zone (RFC 9432) -------------------------------------------------- */

/* Writes zone `id`'s lookup key (schema 0004) for name `low` (wire, lower-case).  0 or -EIO. */
static int
lkey_insert(struct store *st, int64_t id, const uint8_t *low)
{
	uint8_t key[DNS_LOOKUP_MAX];
	size_t klen = dns_name_to_lookup(low, key);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->w.db, "INSERT INTO zone_lkeys (zone_id, lkey) VALUES (?1, ?2)",
	                       -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_blob(s, 2, key, (int)klen, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int
zone_insert(struct store *st, const uint8_t *name, const char *kind, const char *account,
            enum dns_serial_policy policy, uint32_t serial, bool is_catalog, struct store_zone *z)
{
	uint8_t low[DNS_NAME_MAX];
	size_t nl = dns_name_len(name);
	memcpy(low, name, nl);
	dns_name_lower(low);
	char text[DNS_NAME_TEXT_MAX];
	if (dns_name_to_text(low, text, sizeof(text)) < 0)
		return -EINVAL;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->w.db,
	                       "INSERT INTO zones (name, wire, kind, account, soa_edit_api, serial, "
	                       "is_catalog, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	                       "?7, ?8, ?8)",
	                       -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, low, (int)nl, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, dns_serial_policy_name(policy), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, serial);
	sqlite3_bind_int(s, 7, is_catalog ? 1 : 0);
	sqlite3_bind_int64(s, 8, now_s());
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return -EEXIST;
	if (rc != SQLITE_DONE)
		return -EIO;
	int ret = lkey_insert(st, sqlite3_last_insert_rowid(st->w.db), low);
	if (ret != 0)
		return ret;
	return zone_get(&st->w, low, z);
}

/* Appends text name `rel` + wire `origin` into `out`; returns length or <0. */
static int
name_under(const char *rel, const uint8_t *origin, uint8_t *out)
{
	return dns_name_from_text(rel, strlen(rel), origin, out);
}

static int
catalog_ensure(struct store *st, char *err, size_t errcap)
{
	struct store_zone z;
	int ret = zone_get(&st->w, st->catalog, &z);
	if (ret == 0)
		return 0;
	if (ret != -ENOENT)
		return ret;
	if (exec(&st->w, "BEGIN IMMEDIATE") != 0)
		return -EIO;
	ret = zone_insert(st, st->catalog, "Master", "", DNS_SERIAL_INCREASE, 1, true, &z);
	if (ret != 0)
		goto fail;
	/* SOA "invalid. invalid. 1 3600 600 2147483646 0", NS "invalid.", version TXT "2" */
	uint8_t soa[64], ns[16], ver[DNS_NAME_MAX];
	static const uint8_t invalid[] = "\7invalid";
	memcpy(soa, invalid, 9);
	memcpy(soa + 9, invalid, 9);
	put32(soa + 18, 1);
	put32(soa + 22, 3600);
	put32(soa + 26, 600);
	put32(soa + 30, 2147483646u);
	put32(soa + 34, 0);
	memcpy(ns, invalid, 9);
	if (name_under("version", st->catalog, ver) <= 0) {
		ret = -EINVAL;
		goto fail;
	}
	static const uint8_t txt2[] = {1, '2'};
	struct store_rec r_soa = {.rdata = soa, .rdlen = 38};
	struct store_rec r_ns = {.rdata = ns, .rdlen = 9};
	struct store_rec r_ver = {.rdata = txt2, .rdlen = 2};
	struct store_op ops[3] = {
		{.kind = STORE_OP_REPLACE, .owner = st->catalog, .type = DNS_T_SOA, .ttl = 0,
		 .has_ttl = true, .recs = &r_soa, .nrecs = 1, .label = "catalog SOA"},
		{.kind = STORE_OP_REPLACE, .owner = st->catalog, .type = DNS_T_NS, .ttl = 0,
		 .has_ttl = true, .recs = &r_ns, .nrecs = 1, .label = "catalog NS"},
		{.kind = STORE_OP_REPLACE, .owner = ver, .type = DNS_T_TXT, .ttl = 0, .has_ttl = true,
		 .recs = &r_ver, .nrecs = 1, .label = "catalog version"},
	};
	struct store_result res;
	ret = apply_ops(st, &z, ops, 3, true, &res, err, errcap);
	if (ret != 0)
		goto fail;
	if (exec(&st->w, "COMMIT") != 0) {
		ret = -EIO;
		goto fail;
	}
	log_info(st->catalog_text, "catalog zone created");
	return 0;
fail:
	exec(&st->w, "ROLLBACK");
	if (err && err[0] == '\0')
		set_err(err, errcap, "cannot create the catalog zone: %s", err_str(ret));
	return ret;
}

/* Member label: "z" + the zone's never-reused id in hex (RFC 9432 §4.1). */
static int
catalog_member_owner(struct store *st, int64_t id, uint8_t *out)
{
	char rel[48];
	snprintf(rel, sizeof(rel), "z%" PRIx64 ".zones", (uint64_t)id);
	return name_under(rel, st->catalog, out);
}

static int
catalog_update(struct store *st, const struct store_zone *member, bool add)
{
	struct store_zone cat;
	int ret = zone_get(&st->w, st->catalog, &cat);
	if (ret != 0)
		return ret;
	uint8_t owner[DNS_NAME_MAX];
	if (catalog_member_owner(st, member->id, owner) <= 0)
		return -EINVAL;
	struct store_rec r = {.rdata = member->name, .rdlen = (uint16_t)dns_name_len(member->name)};
	struct store_op op = {.kind = add ? STORE_OP_REPLACE : STORE_OP_DELETE, .owner = owner,
	                      .type = DNS_T_PTR, .ttl = 0, .has_ttl = true, .recs = &r,
	                      .nrecs = add ? 1 : 0, .label = "catalog member"};
	struct store_result res;
	char err[256] = "";
	ret = apply_ops(st, &cat, &op, 1, false, &res, err, sizeof(err));
	if (ret != 0)
		log_error(st->catalog_text, "catalog update failed: %s", err[0] ? err : err_str(ret));
	return ret;
}

/*
 * Finds a zone of an account other than `account` that is an ancestor or a
 * descendant of `name` (wire), inside the write transaction.  Ancestors are
 * point lookups on the unique name index (at most 127 of them), descendants
 * one range of zones_lkey (every descendant's lookup key starts with the
 * name's key), so the cost does not grow with the number of zones.
 * Returns 1 with `other` filled, 0 when there is none, or -EIO.
 */
static int
zone_clash(struct store *st, const uint8_t *name, const char *account, struct store_zone *other)
{
	if (name[0] == 0)
		return 0;
	for (const uint8_t *p = name + name[0] + 1;; p += p[0] + 1) {
		int ret = zone_get(&st->w, p, other);
		if (ret == 0 && strcmp(other->account, account) != 0)
			return 1;
		if (ret != 0 && ret != -ENOENT)
			return -EIO;
		if (p[0] == 0)
			break;
	}
	struct nkey k;
	nkey_set(&k, name);
	if (k.klen == 0)
		return 0;
	uint8_t hi[DNS_LOOKUP_MAX];
	memcpy(hi, k.key, k.klen);
	hi[k.klen - 1] = 1;   /* just above every key that has k.key as its prefix */
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->w.db,
	                       "SELECT z.name FROM zone_lkeys k JOIN zones z ON z.id = k.zone_id "
	                       "WHERE k.lkey > ?1 AND k.lkey < ?2 AND z.account != ?3 LIMIT 1",
	                       -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_blob(s, 1, k.key, (int)k.klen, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, hi, (int)k.klen, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, account, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		uint8_t w[DNS_NAME_MAX];
		const char *t = (const char *)sqlite3_column_text(s, 0);
		if (t == NULL || dns_name_from_text(t, strlen(t), NULL, w) <= 0)
			ret = -EIO;
		else
			ret = zone_get(&st->w, w, other) == 0 ? 1 : -EIO;
	} else if (rc != SQLITE_DONE) {
		ret = -EIO;
	}
	sqlite3_finalize(s);
	return ret;
}

/* Fills the lookup keys (schema 0004) of zones that have none.  0 or -EIO (err). */
static int
lkey_backfill(struct store *st, char *err, size_t errcap)
{
	sqlite3_stmt *s = NULL;
	int ret = -EIO;
	if (exec(&st->w, "BEGIN IMMEDIATE") != 0)
		goto out;
	if (sqlite3_prepare_v2(st->w.db, "SELECT id, wire FROM zones WHERE id NOT IN "
	                       "(SELECT zone_id FROM zone_lkeys)", -1, &s, NULL) != SQLITE_OK)
		goto rollback;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const uint8_t *w = sqlite3_column_blob(s, 1);
		int wl = sqlite3_column_bytes(s, 1);
		uint8_t low[DNS_NAME_MAX];
		if (w == NULL || wl <= 0 || wl > DNS_NAME_MAX || dns_name_check(w, (size_t)wl) <= 0)
			continue;
		memcpy(low, w, (size_t)wl);
		dns_name_lower(low);
		if (lkey_insert(st, sqlite3_column_int64(s, 0), low) != 0)
			goto rollback;
	}
	if (rc != SQLITE_DONE)
		goto rollback;
	sqlite3_finalize(s);
	s = NULL;
	if (exec(&st->w, "COMMIT") == 0) {
		ret = 0;
		goto out;
	}
rollback:
	exec(&st->w, "ROLLBACK");
out:
	sqlite3_finalize(s);
	if (ret != 0)
		set_err(err, errcap, "%s: cannot fill zone lookup keys: %s", st->path,
		        sqlite3_errmsg(st->w.db));
	return ret;
}

/* ---- public write calls ---------------------------------------------------------- */

static int
zone_for_write(struct store *st, const uint8_t *zone, const char *account, struct store_zone *z)
{
	int ret = zone_get(&st->w, zone, z);
	if (ret != 0)
		return ret;
	if (account != NULL && strcmp(account, z->account) != 0)
		return -ENOENT;
	return 0;
}

int
store_zone_patch(struct store *st, const uint8_t *zone, const char *account,
                 const uint32_t *if_match, const struct store_op *ops, size_t nops,
                 struct store_result *res, char *err, size_t errcap)
{
	struct store_zone z;
	memset(res, 0, sizeof(*res));
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	ret = zone_for_write(st, zone, account, &z);
	if (ret != 0)
		goto fail;
	if (z.is_catalog) {
		set_err(err, errcap, "the catalog zone '%s' is maintained by the server", z.text);
		ret = -EPERM;
		goto fail;
	}
	if (if_match != NULL && *if_match != z.serial) {
		set_err(err, errcap, "zone '%s' changed: serial is %u, If-Match asked for %u", z.text,
		        z.serial, *if_match);
		ret = -ESTALE;
		goto fail;
	}
	ret = apply_ops(st, &z, ops, nops, false, res, err, errcap);
	if (ret != 0)
		goto fail;
	if (!res->changed) {
		/* comments may have changed; keep them, nothing else was written */
		ret = w_commit(st);
		return ret;
	}
	ret = w_commit(st);
	if (ret == 0)
		log_info(z.text, "zone updated, serial %u -> %u", res->old_serial, res->new_serial);
	return ret;
fail:
	w_rollback(st);
	return ret;
}

/*
 * Inserts a zone's master_tsig_key_ids inside the caller's write
 * transaction.  Returns 0, -EINVAL (bad or unknown key name, with `err`
 * naming the entry) or -EIO.
 */
static int
zone_tsig_keys_insert(struct store *st, int64_t zone_id, const char *const *keys, size_t n,
                      char *err, size_t errcap)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s = NULL;
		char kn[DNS_NAME_TEXT_MAX];
		uint8_t kw[DNS_NAME_MAX];
		const char *id = keys[i];
		if (dns_name_from_text(id, strlen(id), NULL, kw) <= 0 ||
		    name_text(kw, kn, sizeof(kn)) < 0) {
			set_err(err, errcap, "master_tsig_key_ids[%zu]: bad key name '%s'", i, id);
			return -EINVAL;
		}
		if (sqlite3_prepare_v2(st->w.db,
		                       "INSERT OR IGNORE INTO zone_tsig_keys (zone_id, key_name) "
		                       "VALUES (?1, ?2)", -1, &s, NULL) != SQLITE_OK)
			return -EIO;
		sqlite3_bind_int64(s, 1, zone_id);
		sqlite3_bind_text(s, 2, kn, -1, SQLITE_STATIC);
		int rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE) {
			set_err(err, errcap, "master_tsig_key_ids[%zu]: TSIG key '%s' does not exist", i, id);
			return -EINVAL;
		}
	}
	return 0;
}

int
store_zone_create(struct store *st, const struct store_zone_new *zn, const struct store_op *ops,
                  size_t nops, struct store_result *res, char *err, size_t errcap)
{
	memset(res, 0, sizeof(*res));
	if (dns_name_check(zn->name, DNS_NAME_MAX) <= 0) {
		set_err(err, errcap, "bad zone name");
		return -EINVAL;
	}
	if (dns_name_equal(zn->name, st->catalog)) {
		set_err(err, errcap, "zone '%s' is the catalog zone", st->catalog_text);
		return -EEXIST;
	}
	if (dns_name_is_sub(zn->name, st->catalog)) {
		/* its names would overlap the catalog's member and property records */
		char text[DNS_NAME_TEXT_MAX];
		name_text(zn->name, text, sizeof(text));
		if (!zn->cross_account) {
			/* an account key sees the one neutral text of every clash */
			set_err(err, errcap, "Conflict: zone name '%s' is not available", text);
			return -EEXIST;
		}
		set_err(err, errcap, "zone '%s' is under the catalog zone '%s': names at or under the "
		        "catalog zone are reserved", text, st->catalog_text);
		return -EINVAL;
	}
	uint32_t serial = dns_serial_initial(zn->policy, time(NULL));
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	struct store_zone z, other;
	const char *account = zn->account ? zn->account : "";
	ret = zone_clash(st, zn->name, account, &other);
	if (ret < 0)
		goto fail;
	if (ret == 1 && !zn->cross_account) {
		char text[DNS_NAME_TEXT_MAX];
		name_text(zn->name, text, sizeof(text));
		set_err(err, errcap, "Conflict: zone name '%s' is not available", text);
		ret = -EEXIST;
		goto fail;
	}
	bool crossed = ret == 1;   /* logged once committed */
	ret = zone_insert(st, zn->name, zn->kind ? zn->kind : "Native", account,
	                  zn->policy, serial, false, &z);
	if (ret == -EEXIST) {
		set_err(err, errcap, "zone '%s' already exists", z.text[0] ? z.text : "?");
		char text[DNS_NAME_TEXT_MAX];
		if (name_text(zn->name, text, sizeof(text)) > 0)
			set_err(err, errcap, "Conflict: zone '%s' already exists", text);
		goto fail;
	}
	if (ret != 0)
		goto fail;
	ret = zone_tsig_keys_insert(st, z.id, zn->tsig_keys, zn->ntsig_keys, err, errcap);
	if (ret != 0)
		goto fail;
	ret = apply_ops(st, &z, ops, nops, true, res, err, errcap);
	if (ret != 0)
		goto fail;
	/* the SOA: given one keeps its serial unless 0; else defaults */
	struct row *soa;
	size_t nsoa;
	struct nkey apex;
	nkey_set(&apex, z.name);
	ret = read_rrset(st, z.id, &apex, DNS_T_SOA, &soa, &nsoa);
	if (ret != 0)
		goto fail;
	struct change ch = {.st = st, .z = &z, .apex = apex, .err = err, .errcap = errcap};
	if (nsoa == 0) {
		uint8_t rd[2 * DNS_NAME_MAX + 20];
		uint8_t host[DNS_NAME_MAX];
		int a = name_under("a.misconfigured.dns.server.invalid.", NULL, rd);
		int b = name_under("hostmaster", z.name, host);
		if (a <= 0 || b <= 0) {
			set_err(err, errcap, "zone name '%s' too long for a default SOA", z.text);
			ret = -EINVAL;
			goto fail;
		}
		memcpy(rd + a, host, (size_t)b);
		uint8_t *t = rd + a + b;
		put32(t, serial);
		put32(t + 4, 10800);
		put32(t + 8, 3600);
		put32(t + 12, 604800);
		put32(t + 16, 3600);
		ret = rec_write(&ch, Q_REC_INSERT, &apex, DNS_T_SOA, 3600, rd, (size_t)(a + b + 20), false);
		if (ret != 0)
			goto fail;
	} else {
		int off = soa_serial_off(soa[0].rd, soa[0].rdlen);
		if (off < 0) {
			set_err(err, errcap, "malformed SOA record");
			ret = -EINVAL;
			goto fail;
		}
		uint32_t given = get32(soa[0].rd + off);
		if (given != 0) {
			serial = given;
		} else {
			put32(soa[0].rd + off, serial);
			ret = rrset_delete(&ch, &apex, DNS_T_SOA, false);
			if (ret == 0)
				ret = rec_write(&ch, Q_REC_INSERT, &apex, DNS_T_SOA, soa[0].ttl, soa[0].rd,
				                soa[0].rdlen, false);
			if (ret != 0)
				goto fail;
		}
	}
	sqlite3_stmt *s = q(&st->w, Q_ZONE_SERIAL);
	if (s == NULL) {
		ret = -EIO;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, z.id);
	sqlite3_bind_int64(s, 2, serial);
	sqlite3_bind_int64(s, 3, now_s());
	ret = step_done(&st->w, s);
	if (ret != 0)
		goto fail;
	z.serial = serial;
	res->old_serial = 0;
	res->new_serial = serial;
	res->changed = true;
	ret = catalog_update(st, &z, true);
	if (ret != 0)
		goto fail;
	hook_add(st, z.name, 0, serial, false);
	ret = w_commit(st);
	if (ret == 0 && crossed)
		log_notice(z.text, "zone of account '%s' created by the admin key %s zone '%s' of "
		           "account '%s'", account,
		           dns_name_is_sub(z.name, other.name) ? "under" : "above", other.text,
		           other.account);
	if (ret == 0)
		log_info(z.text, "zone created, serial %u", serial);
	return ret;
fail:
	w_rollback(st);
	return ret;
}

int
store_zone_delete(struct store *st, const uint8_t *zone, const char *account)
{
	struct store_zone z;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	ret = zone_for_write(st, zone, account, &z);
	if (ret != 0)
		goto fail;
	if (z.is_catalog) {
		ret = -EPERM;
		goto fail;
	}
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->w.db, "DELETE FROM zones WHERE id = ?1", -1, &s, NULL) !=
	    SQLITE_OK) {
		ret = -EIO;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, z.id);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		ret = -EIO;
		goto fail;
	}
	ret = catalog_update(st, &z, false);
	if (ret != 0)
		goto fail;
	hook_add(st, z.name, 0, 0, true);
	ret = w_commit(st);
	if (ret == 0)
		log_info(z.text, "zone deleted");
	return ret;
fail:
	w_rollback(st);
	return ret;
}

int
store_zone_update(struct store *st, const uint8_t *zone, const char *account,
                  const uint32_t *if_match, const struct store_zone_settings *zs, char *err,
                  size_t errcap)
{
	struct store_zone z;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	ret = zone_for_write(st, zone, account, &z);
	if (ret != 0)
		goto fail;
	/* the catalog's only setting is which keys besides the POPs' may transfer it */
	if (z.is_catalog && (zs->kind != NULL || zs->account != NULL || zs->has_policy)) {
		set_err(err, errcap, "the catalog zone '%s' is maintained by the server; only its "
		        "master_tsig_key_ids may be set", z.text);
		ret = -EPERM;
		goto fail;
	}
	if (if_match != NULL && *if_match != z.serial) {
		set_err(err, errcap, "zone '%s' changed: serial is %u, If-Match asked for %u", z.text,
		        z.serial, *if_match);
		ret = -ESTALE;
		goto fail;
	}
	struct store_zone other;
	bool crossed = false;   /* logged once committed */
	if (zs->account != NULL && strcmp(zs->account, z.account) != 0) {
		/* a move between accounts is the admin's (the API refuses it to account keys) */
		ret = zone_clash(st, z.name, zs->account, &other);
		if (ret < 0)
			goto fail;
		if (ret == 1 && account != NULL) {
			set_err(err, errcap, "Conflict: zone name '%s' is not available", z.text);
			ret = -EEXIST;
			goto fail;
		}
		crossed = ret == 1;
		ret = 0;
	}
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->w.db,
	                       "UPDATE zones SET kind = coalesce(?2, kind), account = coalesce(?3, "
	                       "account), soa_edit_api = coalesce(?4, soa_edit_api), updated_at = ?5 "
	                       "WHERE id = ?1",
	                       -1, &s, NULL) != SQLITE_OK) {
		ret = -EIO;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, z.id);
	if (zs->kind)
		sqlite3_bind_text(s, 2, zs->kind, -1, SQLITE_STATIC);
	if (zs->account)
		sqlite3_bind_text(s, 3, zs->account, -1, SQLITE_STATIC);
	if (zs->has_policy)
		sqlite3_bind_text(s, 4, dns_serial_policy_name(zs->policy), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, now_s());
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		ret = -EIO;
		goto fail;
	}
	if (zs->has_tsig_keys) {
		if (sqlite3_prepare_v2(st->w.db, "DELETE FROM zone_tsig_keys WHERE zone_id = ?1", -1, &s,
		                       NULL) != SQLITE_OK) {
			ret = -EIO;
			goto fail;
		}
		sqlite3_bind_int64(s, 1, z.id);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE) {
			ret = -EIO;
			goto fail;
		}
		ret = zone_tsig_keys_insert(st, z.id, zs->tsig_keys, zs->ntsig_keys, err, errcap);
		if (ret != 0)
			goto fail;
	}
	ret = w_commit(st);
	if (ret == 0 && crossed)
		log_notice(z.text, "zone moved by the admin key from account '%s' to '%s', %s zone '%s' "
		           "of account '%s'", z.account, zs->account,
		           dns_name_is_sub(z.name, other.name) ? "under" : "above", other.text,
		           other.account);
	return ret;
fail:
	w_rollback(st);
	return ret;
}

/* ---- snapshots ------------------------------------------------------------------- */

int
store_snap_open(struct store *st, struct store_snap **out)
{
	struct store_snap *sn = calloc(1, sizeof(*sn));
	if (sn == NULL)
		return -ENOMEM;
	sn->st = st;
	sn->c = pool_get(st);
	if (sn->c == NULL) {
		free(sn);
		return -EIO;
	}
	if (exec(sn->c, "BEGIN") != 0) {
		pool_put(st, sn->c);
		free(sn);
		return -EIO;
	}
	/* BEGIN is deferred: read once so the snapshot is taken now */
	sqlite3_stmt *s = q(sn->c, Q_ZONE_BY_NAME);
	if (s != NULL) {
		sqlite3_bind_text(s, 1, "", -1, SQLITE_STATIC);
		sqlite3_step(s);
		q_done(s);
	}
	*out = sn;
	return 0;
}

void
store_snap_close(struct store_snap *sn)
{
	if (sn == NULL)
		return;
	exec(sn->c, "COMMIT");
	pool_put(sn->st, sn->c);
	free(sn);
}

int
store_snap_zone(struct store_snap *sn, const uint8_t *name, struct store_zone *out)
{
	return zone_get(sn->c, name, out);
}

int
store_snap_zone_text(struct store_snap *sn, const char *name, struct store_zone *out)
{
	uint8_t w[DNS_NAME_MAX];
	size_t len = strlen(name);
	if (len == 0 || dns_name_from_text(name, len, NULL, w) <= 0)
		return -EINVAL;
	return zone_get(sn->c, w, out);
}

int
store_snap_zones(struct store_snap *sn, const char *account, const char *after, size_t limit,
                 store_zone_fn fn, void *ctx)
{
	sqlite3_stmt *s = q(sn->c, account ? Q_ZONES_LIST_ACC : Q_ZONES_LIST);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_text(s, 1, after ? after : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, limit ? (int64_t)limit : -1);
	if (account)
		sqlite3_bind_text(s, 3, account, -1, SQLITE_TRANSIENT);
	int rc, ret = 0;
	struct store_zone z;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (zone_from_row(s, &z) != 0)
			continue;
		ret = fn(ctx, &z);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = -EIO;
	q_done(s);
	return ret;
}

int
store_snap_records(struct store_snap *sn, const struct store_zone *z, store_rr_fn fn, void *ctx)
{
	struct nkey apex;
	nkey_set(&apex, z->name);
	sqlite3_stmt *s = q(sn->c, Q_SOA);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, z->id);
	sqlite3_bind_blob(s, 2, apex.key, (int)apex.klen, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	int ret = 0;
	if (rc != SQLITE_ROW) {
		q_done(s);
		return -EIO;
	}
	struct dns_rr rr = {.owner = sqlite3_column_blob(s, 0), .type = DNS_T_SOA, .rclass = DNS_C_IN,
	                    .ttl = (uint32_t)sqlite3_column_int64(s, 1),
	                    .rdlen = (uint16_t)sqlite3_column_bytes(s, 2),
	                    .rdata = sqlite3_column_blob(s, 2)};
	ret = fn(ctx, &rr);
	q_done(s);
	if (ret != 0)
		return ret;
	s = q(sn->c, Q_AXFR_REST);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, z->id);
	sqlite3_bind_blob(s, 2, apex.key, (int)apex.klen, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		rr.owner = sqlite3_column_blob(s, 0);
		rr.type = (uint16_t)sqlite3_column_int(s, 1);
		rr.ttl = (uint32_t)sqlite3_column_int64(s, 2);
		rr.rdlen = (uint16_t)sqlite3_column_bytes(s, 3);
		rr.rdata = sqlite3_column_blob(s, 3);
		if (rr.rdata == NULL)
			rr.rdata = (const uint8_t *)"";
		ret = fn(ctx, &rr);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = -EIO;
	q_done(s);
	return ret;
}

int
store_snap_rows(struct store_snap *sn, const struct store_zone *z, const uint8_t *owner,
                uint16_t type, store_row_fn fn, void *ctx)
{
	struct nkey k;
	sqlite3_stmt *s;
	if (owner != NULL) {
		nkey_set(&k, owner);
		s = q(sn->c, type ? Q_ROWS_RRSET : Q_ROWS_OWNER);
		if (s == NULL)
			return -EIO;
		sqlite3_bind_blob(s, 2, k.key, (int)k.klen, SQLITE_STATIC);
		if (type)
			sqlite3_bind_int(s, 3, type);
	} else {
		s = q(sn->c, Q_ROWS_ALL);
		if (s == NULL)
			return -EIO;
	}
	sqlite3_bind_int64(s, 1, z->id);
	int rc, ret = 0;
	struct store_row r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		r.owner = sqlite3_column_blob(s, 0);
		r.type = (uint16_t)sqlite3_column_int(s, 1);
		if (owner == NULL && type != 0 && r.type != type)
			continue;
		r.ttl = (uint32_t)sqlite3_column_int64(s, 2);
		r.rdlen = (uint16_t)sqlite3_column_bytes(s, 3);
		r.rdata = sqlite3_column_blob(s, 3);
		if (r.rdata == NULL)
			r.rdata = (const uint8_t *)"";
		r.disabled = sqlite3_column_int(s, 4) != 0;
		ret = fn(ctx, &r);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = -EIO;
	q_done(s);
	return ret;
}

int
store_snap_comments(struct store_snap *sn, const struct store_zone *z, store_comment_fn fn,
                    void *ctx)
{
	sqlite3_stmt *s = q(sn->c, Q_COMMENTS_ALL);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, z->id);
	int rc, ret = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint8_t owner[DNS_NAME_MAX];
		if (dns_name_from_lookup(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
		                         owner) <= 0)
			continue;
		struct store_comment c = {.content = (const char *)sqlite3_column_text(s, 2),
		                          .account = (const char *)sqlite3_column_text(s, 3),
		                          .modified_at = sqlite3_column_int64(s, 4)};
		ret = fn(ctx, owner, (uint16_t)sqlite3_column_int(s, 1), &c);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = -EIO;
	q_done(s);
	return ret;
}

int
store_snap_journal(struct store_snap *sn, const struct store_zone *z, uint32_t since,
                   store_journal_fn fn, void *ctx)
{
	if (since == z->serial)
		return 0;
	sqlite3_stmt *s = q(sn->c, Q_JOURNAL_START);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, z->id);
	sqlite3_bind_int64(s, 2, since);
	int rc = sqlite3_step(s);
	int64_t seq = 0;
	bool found = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL;
	if (found)
		seq = sqlite3_column_int64(s, 0);
	q_done(s);
	if (!found)
		return -ERANGE;
	s = q(sn->c, Q_JOURNAL_FROM);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, z->id);
	sqlite3_bind_int64(s, 2, seq);
	int ret = 0;
	uint32_t expect = since;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_journal_entry e = {
			.serial_from = (uint32_t)sqlite3_column_int64(s, 0),
			.serial_to = (uint32_t)sqlite3_column_int64(s, 1),
			.removed = sqlite3_column_blob(s, 2),
			.removed_len = (size_t)sqlite3_column_bytes(s, 2),
			.added = sqlite3_column_blob(s, 3),
			.added_len = (size_t)sqlite3_column_bytes(s, 3),
			.created_at = sqlite3_column_int64(s, 4),
		};
		if (e.serial_from != expect) {
			ret = -ERANGE;   /* a broken chain: never hand out a wrong diff */
			break;
		}
		expect = e.serial_to;
		ret = fn(ctx, &e);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = -EIO;
	q_done(s);
	return ret;
}

int
store_snap_journal_range(struct store_snap *sn, const struct store_zone *z, size_t *count,
                         uint32_t *oldest)
{
	sqlite3_stmt *s = q(sn->c, Q_JOURNAL_RANGE);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, z->id);
	int ret = -EIO;
	if (sqlite3_step(s) == SQLITE_ROW) {
		*count = (size_t)sqlite3_column_int64(s, 0);
		*oldest = (uint32_t)sqlite3_column_int64(s, 1);
		ret = 0;
	}
	q_done(s);
	return ret;
}

/* ---- TSIG keys --------------------------------------------------------------------- */

static int
tsig_norm(const char *name, char *out, size_t cap)
{
	uint8_t w[DNS_NAME_MAX];
	size_t len = strlen(name);
	if (len == 0 || dns_name_from_text(name, len, NULL, w) <= 0 || w[0] == 0)
		return -EINVAL;
	return name_text(w, out, cap) < 0 ? -EINVAL : 0;
}

static int
tsig_rows(sqlite3_stmt *s, store_tsig_fn fn, void *ctx)
{
	int rc, ret = 0;
	struct store_tsig_key k;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		copy_text(k.name, sizeof(k.name), sqlite3_column_text(s, 0));
		copy_text(k.algorithm, sizeof(k.algorithm), sqlite3_column_text(s, 1));
		copy_text(k.secret, sizeof(k.secret), sqlite3_column_text(s, 2));
		ret = fn(ctx, &k);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = -EIO;
	q_done(s);
	return ret;
}

static int
tsig_copy(void *ctx, const struct store_tsig_key *k)
{
	memcpy(ctx, k, sizeof(*k));
	return 1;
}

int
store_snap_tsig_key(struct store_snap *sn, const char *name, struct store_tsig_key *out)
{
	char n[DNS_NAME_TEXT_MAX];
	if (tsig_norm(name, n, sizeof(n)) != 0)
		return -ENOENT;
	sqlite3_stmt *s = q(sn->c, Q_TSIG_GET);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_text(s, 1, n, -1, SQLITE_TRANSIENT);
	int ret = tsig_rows(s, tsig_copy, out);
	return ret == 1 ? 0 : ret == 0 ? -ENOENT : ret;
}

int
store_snap_tsig_keys(struct store_snap *sn, store_tsig_fn fn, void *ctx)
{
	sqlite3_stmt *s = q(sn->c, Q_TSIG_ALL);
	return s ? tsig_rows(s, fn, ctx) : -EIO;
}

int
store_snap_zone_tsig_keys(struct store_snap *sn, const struct store_zone *z, store_tsig_fn fn,
                          void *ctx)
{
	sqlite3_stmt *s = q(sn->c, Q_ZONE_TSIG);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, z->id);
	return tsig_rows(s, fn, ctx);
}

int
store_tsig_put(struct store *st, const struct store_tsig_key *k, bool replace)
{
	char n[DNS_NAME_TEXT_MAX];
	if (tsig_norm(k->name, n, sizeof(n)) != 0)
		return -EINVAL;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	sqlite3_stmt *s = NULL;
	const char *sql = replace ? "INSERT INTO tsig_keys (name, algorithm, secret) VALUES (?1, ?2, "
	                            "?3) ON CONFLICT (name) DO UPDATE SET algorithm = excluded.algorithm,"
	                            " secret = excluded.secret"
	                          : "INSERT INTO tsig_keys (name, algorithm, secret) VALUES (?1, ?2, ?3)";
	if (sqlite3_prepare_v2(st->w.db, sql, -1, &s, NULL) != SQLITE_OK) {
		w_rollback(st);
		return -EIO;
	}
	sqlite3_bind_text(s, 1, n, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, k->algorithm, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, k->secret, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		w_rollback(st);
		return (rc & 0xff) == SQLITE_CONSTRAINT ? -EEXIST : -EIO;
	}
	return w_commit(st);
}

int
store_tsig_delete(struct store *st, const char *name)
{
	char n[DNS_NAME_TEXT_MAX];
	if (tsig_norm(name, n, sizeof(n)) != 0)
		return -ENOENT;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->w.db, "DELETE FROM tsig_keys WHERE name = ?1", -1, &s, NULL) !=
	    SQLITE_OK) {
		w_rollback(st);
		return -EIO;
	}
	sqlite3_bind_text(s, 1, n, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	int changes = sqlite3_changes(st->w.db);
	if (rc != SQLITE_DONE || changes == 0) {
		w_rollback(st);
		return rc != SQLITE_DONE ? -EIO : -ENOENT;
	}
	return w_commit(st);
}

/* ---- API keys ----------------------------------------------------------------------- */

static int
key_hash(const char *key, uint8_t out[32])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, key, strlen(key), out) == 0 ? 0 : -EIO;
}

int64_t
store_apikey_add(struct store *st, const char *key, const char *account, const char *description)
{
	uint8_t h[32];
	if (key_hash(key, h) != 0)
		return -EIO;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->w.db,
	                       "INSERT INTO api_keys (hash, account, description, created_at) "
	                       "VALUES (?1, ?2, ?3, ?4)", -1, &s, NULL) != SQLITE_OK) {
		w_rollback(st);
		return -EIO;
	}
	sqlite3_bind_blob(s, 1, h, 32, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, description ? description : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now_s());
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		w_rollback(st);
		return (rc & 0xff) == SQLITE_CONSTRAINT ? -EEXIST : -EIO;
	}
	int64_t id = sqlite3_last_insert_rowid(st->w.db);
	ret = w_commit(st);
	return ret != 0 ? ret : id;
}

int
store_apikey_delete(struct store *st, int64_t id)
{
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->w.db, "DELETE FROM api_keys WHERE id = ?1", -1, &s, NULL) !=
	    SQLITE_OK) {
		w_rollback(st);
		return -EIO;
	}
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE || sqlite3_changes(st->w.db) == 0) {
		w_rollback(st);
		return rc != SQLITE_DONE ? -EIO : -ENOENT;
	}
	return w_commit(st);
}

int
store_apikey_list(struct store *st, store_apikey_fn fn, void *ctx)
{
	struct conn *c = pool_get(st);
	if (c == NULL)
		return -EIO;
	sqlite3_stmt *s = NULL;
	int ret = 0;
	if (sqlite3_prepare_v2(c->db,
	                       "SELECT id, account, description, created_at FROM api_keys ORDER BY id",
	                       -1, &s, NULL) != SQLITE_OK) {
		pool_put(st, c);
		return -EIO;
	}
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_apikey k = {.id = sqlite3_column_int64(s, 0),
		                         .created_at = sqlite3_column_int64(s, 3)};
		copy_text(k.account, sizeof(k.account), sqlite3_column_text(s, 1));
		copy_text(k.description, sizeof(k.description), sqlite3_column_text(s, 2));
		ret = fn(ctx, &k);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = -EIO;
	sqlite3_finalize(s);
	pool_put(st, c);
	return ret;
}

int
store_apikey_find(struct store *st, const char *key, char *account)
{
	uint8_t h[32];
	if (key_hash(key, h) != 0)
		return -EIO;
	struct conn *c = pool_get(st);
	if (c == NULL)
		return -EIO;
	sqlite3_stmt *s = NULL;
	int ret = -ENOENT;
	if (sqlite3_prepare_v2(c->db, "SELECT account FROM api_keys WHERE hash = ?1", -1, &s, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_blob(s, 1, h, 32, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			copy_text(account, STORE_ACCOUNT_MAX, sqlite3_column_text(s, 0));
			ret = 0;
		}
		sqlite3_finalize(s);
	}
	pool_put(st, c);
	return ret;
}

int
store_stats(struct store *st, struct store_stats *out)
{
	memset(out, 0, sizeof(*out));
	struct conn *c = pool_get(st);
	if (c == NULL)
		return -EIO;
	static const char *const sql[3] = {
		"SELECT count(*) FROM zones", "SELECT count(*) FROM records",
		"SELECT count(*) FROM journal"};
	uint64_t *dst[3] = {&out->zones, &out->records, &out->journal_entries};
	int ret = 0;
	for (int i = 0; i < 3; i++) {
		sqlite3_stmt *s = NULL;
		if (sqlite3_prepare_v2(c->db, sql[i], -1, &s, NULL) != SQLITE_OK) {
			ret = -EIO;
			break;
		}
		if (sqlite3_step(s) == SQLITE_ROW)
			*dst[i] = (uint64_t)sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	pool_put(st, c);
	pthread_mutex_lock(&st->stats_mu);
	out->last_commit = st->last_commit;
	out->commits = st->commits;
	pthread_mutex_unlock(&st->stats_mu);
	return ret;
}

/* ---- POP acknowledgements ----------------------------------------------------------- */

int
store_pop_acks_put(struct store *st, const struct store_pop_ack *acks, size_t n)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO pop_serials (pop, zone_id, serial, how, transport, address, "
		"at_ms) SELECT ?1, z.id, ?3, ?4, ?5, ?6, ?7 FROM zones z WHERE z.name = lower(?2) "
		"AND EXISTS (SELECT 1 FROM secondaries WHERE name = ?1)";
	int ret = 0;
	for (size_t done = 0; done < n && ret == 0;) {
		size_t end = n - done > STORE_ACKS_BATCH ? done + STORE_ACKS_BATCH : n;
		sqlite3_stmt *s = NULL;
		pthread_mutex_lock(&st->wmu);
		ret = exec(&st->w, "BEGIN IMMEDIATE");
		if (ret == 0 && sqlite3_prepare_v2(st->w.db, sql, -1, &s, NULL) != SQLITE_OK) {
			log_error(NULL, "store: cannot prepare the POP serial write: %s",
			          sqlite3_errmsg(st->w.db));
			ret = -EIO;
		}
		for (; ret == 0 && done < end; done++) {
			const struct store_pop_ack *a = &acks[done];
			sqlite3_bind_text(s, 1, a->pop, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, a->zone, -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 3, a->serial);
			sqlite3_bind_int(s, 4, a->how);
			sqlite3_bind_text(s, 5, a->transport != NULL ? a->transport : "", -1,
			                  SQLITE_STATIC);
			sqlite3_bind_text(s, 6, a->address != NULL ? a->address : "", -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 7, a->at_ms);
			ret = step_done(&st->w, s);
		}
		sqlite3_finalize(s);
		if (ret == 0)
			ret = exec(&st->w, "COMMIT");
		if (ret != 0)
			exec(&st->w, "ROLLBACK");
		pthread_mutex_unlock(&st->wmu);
	}
	return ret;
}

int
store_pop_acks_list(struct store *st, store_pop_ack_fn fn, void *ctx)
{
	struct conn *c = pool_get(st);
	if (c == NULL)
		return -EIO;
	sqlite3_stmt *s = NULL;
	int ret = 0, rc = SQLITE_DONE;
	if (sqlite3_prepare_v2(c->db, "SELECT p.pop, z.name, p.serial, p.how, p.transport, "
	                       "p.address, p.at_ms FROM pop_serials p JOIN zones z ON "
	                       "z.id = p.zone_id ORDER BY z.name, p.pop", -1, &s, NULL) != SQLITE_OK) {
		pool_put(st, c);
		return -EIO;
	}
	while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_pop_ack a = {
			.pop = (const char *)sqlite3_column_text(s, 0),
			.zone = (const char *)sqlite3_column_text(s, 1),
			.serial = (uint32_t)sqlite3_column_int64(s, 2),
			.how = sqlite3_column_int(s, 3),
			.transport = (const char *)sqlite3_column_text(s, 4),
			.address = (const char *)sqlite3_column_text(s, 5),
			.at_ms = sqlite3_column_int64(s, 6),
		};
		if (a.pop != NULL && a.zone != NULL)
			ret = fn(ctx, &a);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = -EIO;
	sqlite3_finalize(s);
	pool_put(st, c);
	return ret;
}

int
store_stats_account(struct store *st, const char *account, struct store_stats *out)
{
	memset(out, 0, sizeof(*out));
	struct conn *c = pool_get(st);
	if (c == NULL)
		return -EIO;
	/* zones_account, records_rr and journal_zone keep each count to the account's rows */
	static const char *const sql[3] = {
		"SELECT count(*) FROM zones WHERE account = ?1 AND is_catalog = 0",
		"SELECT count(*) FROM zones z JOIN records r ON r.zone_id = z.id "
		"WHERE z.account = ?1 AND z.is_catalog = 0",
		"SELECT count(*) FROM zones z JOIN journal j ON j.zone_id = z.id "
		"WHERE z.account = ?1 AND z.is_catalog = 0"};
	uint64_t *dst[3] = {&out->zones, &out->records, &out->journal_entries};
	int ret = 0;
	for (int i = 0; i < 3 && ret == 0; i++) {
		sqlite3_stmt *s = NULL;
		if (sqlite3_prepare_v2(c->db, sql[i], -1, &s, NULL) != SQLITE_OK) {
			ret = -EIO;
			break;
		}
		sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			*dst[i] = (uint64_t)sqlite3_column_int64(s, 0);
		else
			ret = -EIO;
		sqlite3_finalize(s);
	}
	pool_put(st, c);
	return ret;
}
