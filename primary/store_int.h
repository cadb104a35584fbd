/*
 * Private parts of the store shared by primary/store*.c (see store.h for the
 * contracts, db.h for the database layer):
 *
 *   store_txn.c      the bottom: reader pool, writer lock and write
 *                    transactions, the commit listener, shared helpers
 *   store.c          the top: open/close, snapshots and the reads on them,
 *                    statistics
 *   store_change.c   one change to a zone: validate the ops, apply them,
 *                    check the zone rules, diff, serial policy; zone rows
 *   store_zone.c     zone create / delete / settings, name clashes
 *   store_journal.c  journal blobs: encode, write, read
 *   store_catalog.c  the catalog zone and its member records
 *   store_keys.c     TSIG keys and API keys
 *   store_pops.c     the POP registry (rows and keys) and pop_serials
 *
 * None of these holds SQL or engine calls: queries are db.h ids.  Calls go
 * one way (no circle): store.c -> store_zone -> store_catalog ->
 * store_change -> store_journal -> store_txn -> db.h.
 */
#ifndef PRIMARY_STORE_INT_H
#define PRIMARY_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/name.h"
#include "primary/db.h"
#include "primary/store.h"
#include "util/arena.h"

/* A pooled reader connection. */
struct conn {
	struct db *db;
	struct conn *next;
};

struct store_snap {
	struct store *st;
	struct conn *c;
};

/* A commit event queued during a write transaction, sent after it. */
struct pending {
	uint8_t zone[DNS_NAME_MAX];
	uint32_t old_serial, new_serial;
	enum store_change kind;
};

/* A write transaction changes at most one zone and the catalog zone. */
#define PENDING_MAX 2

struct store {
	struct db *w;                 /* the writer, under wmu */
	pthread_mutex_t wmu;
	pthread_mutex_t pool_mu;
	struct conn *pool;            /* idle reader connections */
	char *path;
	uint8_t catalog[DNS_NAME_MAX];
	char catalog_text[DNS_NAME_TEXT_MAX];
	unsigned journal_keep;
	struct store_listener listener;   /* set once, under wmu */
	bool has_listener;
	pthread_mutex_t stats_mu;
	int64_t last_commit;
	uint64_t commits;
	struct db_ckpt *ckpt;         /* WAL checkpoints, so that no API write pays for one */
	/* filled during a write transaction, sent after it */
	struct pending pending[PENDING_MAX];
	size_t npending;
	struct arena arena;           /* scratch of the current write */
};

/* Lower-case wire copy of a name and its lookup key. */
struct nkey {
	uint8_t name[DNS_NAME_MAX];
	size_t nlen;
	uint8_t key[DNS_LOOKUP_MAX];
	size_t klen;
};

/* One stored record of a touched rrset, kept in the write arena. */
struct row {
	uint8_t *rd;
	uint16_t rdlen;
	uint32_t ttl;
	bool disabled;
};

/* Growable byte buffer (journal blobs). */
struct buf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

/* ---- store_txn.c ---- */
struct conn *pool_get(struct store *st);
void pool_put(struct store *st, struct conn *c);
int w_begin(struct store *st);
void w_rollback(struct store *st);
int w_commit(struct store *st);
/* Commits a write that is no zone change (the audit log): no listener, not in the stats. */
int w_commit_quiet(struct store *st);
/* Queues the commit event of `zone` (sent by w_commit). */
void pending_add(struct store *st, const uint8_t *zone, uint32_t from, uint32_t to,
                 enum store_change kind);
int64_t now_s(void);
void set_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void copy_text(char *dst, size_t cap, const char *src);
void nkey_set(struct nkey *k, const uint8_t *name);
int name_text(const uint8_t *name, char *buf, size_t cap);
int zone_get(struct db *db, const uint8_t *name, struct store_zone *z);
int zone_from_row(struct db_stmt *s, struct store_zone *z);
uint32_t get32(const uint8_t *p);
void put32(uint8_t *p, uint32_t v);

/* ---- store_change.c ---- */
int read_rrset(struct store *st, int64_t zid, const struct nkey *k, uint16_t type,
               struct row **out, size_t *n);
int rec_write(struct store *st, int64_t zid, enum db_qid id, const struct nkey *k, uint16_t type,
              uint32_t ttl, const uint8_t *rd, size_t rdlen, bool disabled);
int rrset_delete(struct store *st, int64_t zid, const struct nkey *k, uint16_t type,
                 bool comments);
/* Writes a zone's serial column.  0 or -EIO. */
int zone_serial_set(struct store *st, int64_t zid, uint32_t serial);
/*
 * Applies `ops` to `z` inside the write transaction: checks, diff, serial,
 * journal (see store.c's header).  `creating`: a zone just inserted (no
 * diff, no journal).
 */
int apply_ops(struct store *st, const struct store_zone *z, const struct store_op *ops,
              size_t nops, bool creating, struct store_result *res, char *err, size_t errcap);

/* ---- store_zone.c ---- */
/* The zone's lookup key row (zones_lkey), in the write transaction.  0 or -EIO. */
int lkey_insert(struct store *st, int64_t id, const uint8_t *low);
int zone_insert(struct store *st, const uint8_t *name, const char *kind, const char *account,
                enum dns_serial_policy policy, uint32_t serial, bool is_catalog,
                struct store_zone *z);
int lkey_backfill(struct store *st, char *err, size_t errcap);

/* ---- store_journal.c ---- */
void buf_put(struct buf *b, const void *p, size_t n);
void buf_rr(struct buf *b, const uint8_t *owner, uint16_t type, uint32_t ttl, const uint8_t *rd,
            size_t rdlen);
/*
 * Writes the journal row of zone `zid` from `from` to `to`: removed = the old
 * SOA + `rem`, added = the new SOA + `add`, then trims to journal_keep.
 */
int journal_write(struct store *st, int64_t zid, const uint8_t *apex, uint32_t from, uint32_t to,
                  const struct row *old_soa, const struct row *new_soa, const struct buf *rem,
                  const struct buf *add);

/* ---- store_catalog.c ---- */
/* Appends text name `rel` + wire `origin` into `out`; returns length or <0. */
int name_under(const char *rel, const uint8_t *origin, uint8_t *out);
int catalog_ensure(struct store *st, char *err, size_t errcap);
int catalog_update(struct store *st, const struct store_zone *member, bool add);

#endif
