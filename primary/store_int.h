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
 *   store_dnssec.c   DNSSEC keys (sealed), signing on/off, cryptokeys
 *   store_sign.c     the signer of one change (chain, signatures)
 *   store_roll.c     ZSK pre-publish rollover steps (resigner, API)
 *   store_ksk.c      KSK/CSK double-signature rollover, CDS/CDNSKEY, CDS DELETE
 *   store_bulk.c     first signing of a large zone in the background
 *   store_keycache.c opened DNSSEC private keys, kept across changes
 *   store_pops.c     the POP registry (rows and keys) and pop_serials
 *
 * None of these holds SQL or engine calls: queries are db.h ids.  Calls go
 * one way (no circle): store.c -> store_zone -> store_catalog ->
 * store_change -> store_journal -> store_txn -> db.h.  DNSSEC: store_dnssec ->
 * store_change (sign_zone_full) -> store_sign -> store_dnssec's key loading;
 * store_sign writes through store_change's touch() so the diff sees it.
 * store_roll -> store_dnssec (zkey_create, zone_w) -> store_change
 * (resign_rrsets with keys: the DNSKEY rrset rewritten).
 */
#ifndef PRIMARY_STORE_INT_H
#define PRIMARY_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dnssec.h"
#include "dns/name.h"
#include "primary/db.h"
#include "primary/store.h"
#include "util/arena.h"
#include "util/err.h"

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

/* Changes committed together by the group commit (w_group), at most. */
#define GROUP_MAX 16
/* A change touches at most one zone and the catalog zone. */
#define PENDING_MAX (2 * GROUP_MAX)

/*
 * One change queued to the group commit (w_group).  `body` runs it inside
 * the open write transaction (never commits): 0, or an error after which the
 * change's writes are undone.  `committed` (may be NULL) runs after the
 * commit for a change whose body returned 0, with the writer released.
 */
struct w_job {
	int (*body)(struct store *st, struct w_job *j);
	void (*committed)(struct store *st, struct w_job *j);
	/* the owner's armed audit row (NULL: none), written with its change
	 * whichever thread writes the group */
	struct store_audit_arm *arm;
	/* w_group's, under the store's gmu */
	int ret;
	bool done;                 /* written (or failed): ret is its result */
	bool lead;                 /* its thread writes the next group */
	pthread_cond_t cv;         /* its thread waits here for done or lead */
	struct w_job *next;
};

/* retired keys whose signatures a rollover walks at once (store_roll.c) */
#define ROLL_WALKS 64

struct store {
	struct db *w;                 /* the writer, under wmu */
	pthread_mutex_t wmu;
	pthread_mutex_t pool_mu;
	struct conn *pool;            /* idle reader connections */
	char *path;
	uint8_t catalog[DNS_NAME_MAX];
	char catalog_text[DNS_NAME_TEXT_MAX];
	unsigned journal_keep;
	uint32_t journal_keep_age;   /* 0: no age limit */
	struct store_listener listener;   /* set once, under wmu */
	bool has_listener;
	unsigned listener_calls;      /* commits calling the listener now (under wmu) */
	pthread_cond_t listener_idle; /* listener_calls fell to 0 (with wmu) */
	pthread_mutex_t stats_mu;
	int64_t last_commit;
	uint64_t commits;
	int64_t wal_max;              /* --wal-max in bytes: the writer's backstop (w_commit) */
	struct db_ckpt *ckpt;         /* WAL checkpoints, so that no API write pays for one */
	/* several nodes on one database (PostgreSQL): commits announced and heard */
	uint64_t node_id;             /* random, tells this node's announcements apart */
	struct db_listen *listen;
	bool notifier;                /* this node NOTIFYs the POPs (under stats_mu) */
	pthread_mutex_t heard_mu;     /* held while reporting another node's commits */
	void (*pops_fn)(void *ctx);   /* the POP registry changed on another node (under heard_mu) */
	void *pops_ctx;
	/* filled during a write transaction, sent after it */
	struct pending pending[PENDING_MAX];
	size_t npending;
	/* the group commit (w_group): changes queued to whichever thread writes */
	pthread_mutex_t gmu;
	struct w_job *gqueue, *gtail;   /* waiting, in arrival order */
	bool gleader;                   /* a thread is writing a group */
	bool grouping;                  /* under wmu: a group is being written */
	int64_t trims[GROUP_MAX];       /* zones whose journal its commit trims */
	size_t ntrims;
	uint64_t groups, grouped;       /* groups of several changes, their changes (stats_mu) */
	struct arena arena;           /* scratch of the current write */
	uint8_t kek[32];              /* seals DNSSEC private keys (--dnssec-key-file) */
	uint32_t sig_validity;        /* RRSIG validity, seconds */
	uint32_t dnskey_ttl;          /* TTL of the DNSKEY rrset */
	uint8_t default_alg;          /* --dnssec-algorithm */
	uint32_t roll_delay;          /* propagation delay added to rollover waits */
	uint32_t zsk_lifetime;        /* automatic ZSK rollover after this (0: off) */
	uint32_t ds_ttl;              /* the parent's DS TTL (KSK rollover) */
	uint32_t unsign_delay;        /* CDS DELETE published this long before unsigning */
	bool has_kek;
	/* where each retired key's signatures were last looked for (store_roll.c, under wmu) */
	struct roll_walk {
		int64_t zid, key_id;     /* 0: free */
		uint8_t after[DNS_LOOKUP_MAX];
		size_t alen;
		bool done;               /* walked to the zone's end and found none */
	} walks[ROLL_WALKS];
	unsigned walk_next;
	unsigned bulk_min;            /* records from which a first signing runs in the background */
	pthread_mutex_t jobs_mu;      /* background signing jobs (store_bulk.c) */
	struct bulk_job *jobs;        /* running */
	struct bulk_job *jobs_done;   /* ended, to join */
	struct keycache *keycache;    /* opened private keys (store_keycache.c), under wmu */
	pthread_mutex_t audit_mu;     /* the armed audit rows (store_audit.c) */
	struct store_audit_arm *armed;
	/* under wmu: the arm of the change being written for another thread
	 * (w_group), taken by audit_in_txn instead of the calling thread's */
	struct store_audit_arm *cur_arm;
	bool cur_arm_set;
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

/* A touched rrset: its rows before the change's first write to it. */
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
	struct touched *touched;   /* newest first */
	struct touched **tab;      /* open addressing over touched, by (okey, type) */
	size_t tab_cap, ntouched;
	bool creating;
	bool full;                 /* sign every rrset (DNSSEC switched on, keys changed) */
	bool keys;                 /* rewrite and re-sign the DNSKEY rrset only (rollover) */
	struct resign *resign;     /* rrsets to re-sign though unchanged (refresh) */
	char *err;
	size_t errcap;
};

/* An rrset whose signatures are re-signed though it did not change. */
struct resign {
	struct nkey k;
	uint16_t type;
	struct resign *next;
};

/* ---- store_txn.c ---- */
struct conn *pool_get(struct store *st);
void pool_put(struct store *st, struct conn *c);
int w_begin(struct store *st);
/* Rolls back after `ret`; ERR_DB_RETRY when the database asked for the change
 * to be run again (serialization failure, deadlock), else `ret`. */
int w_fail(struct store *st, int ret);
/* A change is run again at most this many times after ERR_DB_RETRY. */
#define STORE_RETRIES 5
void w_rollback(struct store *st);
int w_commit(struct store *st);
/*
 * Runs job `j` (see struct w_job) through the group commit and returns its
 * result.  Changes queued while another group is being written are written
 * together in one transaction, each in a savepoint of its own and in arrival
 * order (each sees the ones before), with one commit; a change that fails
 * with an answer (-ECANCELED, -EPERM, -EACCES, -EINVAL, -ENOENT, -ESTALE)
 * is undone alone.  Any other failure, or a failed commit, rolls the group
 * back and runs each change alone, as w_begin / body / w_commit with
 * ERR_DB_RETRY retried, so one change cannot fail another.  Returns only
 * after the change was committed (or failed).
 */
int w_group(struct store *st, struct w_job *j);
/*
 * Trims zone `zid`'s journal to --journal-keep entries (and
 * --journal-keep-age) inside the write transaction: at once, or in a group
 * once per zone before its commit (the trim walks the zone's last
 * journal_keep entries, so a group pays for it once).  0 or a db error.
 */
int journal_trim(struct store *st, int64_t zid);
/* Commits a write that is no zone change (the audit log): no listener, not in the stats. */
int w_commit_quiet(struct store *st);

/* ---- store_audit.c ---- */
/*
 * In the write transaction, before its commit: the armed audit row of the
 * calling thread written or updated (*out: that arm, to confirm after the
 * commit; NULL when the thread has none).  0 or -EIO.
 */
int audit_in_txn(struct store *st, struct store_audit_arm **out);
/* The calling thread's armed audit row, NULL when none. */
struct store_audit_arm *audit_arm_self(struct store *st);
/* Arm `a`'s row written from the commit events from index `from` on (a
 * change in a group); 0 or -EIO.  audit_committed once it commits. */
int audit_write(struct store *st, struct store_audit_arm *a, size_t from);
/* After the commit: the row of audit_in_txn's arm stands. */
void audit_committed(struct store_audit_arm *a);
/* Queues the commit event of `zone` (sent by w_commit). */
void pending_add(struct store *st, const uint8_t *zone, uint32_t from, uint32_t to,
                 enum store_change kind);
int64_t now_s(void);
void copy_text(char *dst, size_t cap, const char *src);
void nkey_set(struct nkey *k, const uint8_t *name);
int name_text(const uint8_t *name, char *buf, size_t cap);
int zone_get(struct db *db, const uint8_t *name, struct store_zone *z);
/* As zone_get on the writer inside a write transaction, the zone's row locked
 * until it ends (PostgreSQL: changes of one zone from several nodes queue). */
int zone_get_w(struct store *st, const uint8_t *name, struct store_zone *z);
int zone_from_row(struct db_stmt *s, struct store_zone *z);
uint32_t get32(const uint8_t *p);
void put32(uint8_t *p, uint32_t v);

/* ---- store_upolicy.c (schema 0009), inside the write transaction ---- */
/* Replaces z's update_policy.  0, -EINVAL (err names the rule), -EIO. */
int upolicy_write(struct store *st, const struct store_zone *z,
                  const struct store_upolicy_rule *rules, size_t n, char *err, size_t errcap);
/* Whether `key` is in z's update_tsig_key_ids: 0, -EACCES, -EIO. */
int upolicy_key(struct store *st, const struct store_zone *z, const char *key);
/* Whether `key` may UPDATE z with `ops`: 0, -EACCES (not in update_tsig_key_ids),
 * -EPERM (an op outside its rules, err), -ENOMEM, -EIO. */
int upolicy_check(struct store *st, const struct store_zone *z, const char *key,
                  const struct store_op *ops, size_t nops, char *err, size_t errcap);

/* ---- store_change.c ---- */
/* RRSIG, NSEC and NSEC3 by name (store_dn.c, schema 0012): read_rrset and
 * rrset_delete send these types there */
struct dn_sig;
bool dn_type(uint16_t t);
int dn_read(struct store *st, int64_t zid, const struct nkey *k, uint16_t type, struct row **out,
            size_t *n);
int dn_write(struct store *st, int64_t zid, const struct nkey *k, uint16_t type,
             const struct row *rows, size_t n);
/* Which signatures a walk takes (an RRSIG rdata of 18 octets or more). */
typedef bool (*dn_pick_fn)(const struct dn_sig *s, const void *ctx);
/* A re-sign entry (the owner, the covered type) on *list for each signature
 * of packed blob `sigs` that `pick` takes, at most `room`: how many, -EINVAL
 * when `owner` (`olen` octets) is not a name, <0. */
int dn_resign_add(struct store *st, const uint8_t *owner, size_t olen, const uint8_t *sigs,
                  size_t slen, dn_pick_fn pick, const void *ctx, size_t room,
                  struct resign **list);
int read_rrset(struct store *st, int64_t zid, const struct nkey *k, uint16_t type,
               struct row **out, size_t *n);
int rec_write(struct store *st, int64_t zid, enum db_qid id, const struct nkey *k, uint16_t type,
              uint32_t ttl, const uint8_t *rd, size_t rdlen, bool disabled);
/* store_pdns.c (schema 0006), inside the write transaction: 0 or -EIO. */
int zone_pdns_write(struct store *st, int64_t zid, const struct store_zone_pdns_set *x);
int meta_write(struct store *st, int64_t zid, const char *kind, const char *const *vals, size_t n);
int rec_write_text(struct store *st, int64_t zid, enum db_qid id, const struct nkey *k,
                   uint16_t type, uint32_t ttl, const uint8_t *rd, size_t rdlen, bool disabled,
                   const char *content);
int rrset_delete(struct store *st, int64_t zid, const struct nkey *k, uint16_t type,
                 bool comments);
/*
 * Remembers rrset (k, type)'s rows before its first write in this change
 * (a no-op when already touched), so the diff sees it.  0, -ENOMEM, -EIO.
 */
int touch(struct change *ch, const struct nkey *k, uint16_t type, const char *label);
/* Writes a zone's serial column.  0 or -EIO. */
int zone_serial_set(struct store *st, int64_t zid, uint32_t serial);
/*
 * Applies `ops` to `z` inside the write transaction: checks, diff, serial,
 * journal (see store.c's header).  `creating`: a zone just inserted (no
 * diff, no journal).
 */
int apply_ops(struct store *st, const struct store_zone *z, const struct store_op *ops,
              size_t nops, bool creating, struct store_result *res, char *err, size_t errcap);

/*
 * Signs zone `z` whole (DNSSEC switched on, keys changed) in the write
 * transaction: every rrset, the chain, DNSKEY; `creating`: a zone being
 * created (no serial bump, no journal), else one serial and one journal
 * entry.  0, -EINVAL (err), -ENOMEM, -EIO.
 */
int sign_zone_full(struct store *st, const struct store_zone *z, bool creating,
                   struct store_result *res, char *err, size_t errcap);

/*
 * Re-signs the rrsets of `list` in one serial and journal entry; with
 * `keys` also rewrites the DNSKEY rrset from the keys table (rollover).
 */
int resign_rrsets(struct store *st, const struct store_zone *z, struct resign *list, bool keys,
                  struct store_result *res, char *err, size_t errcap);
/*
 * Rebuilds signed zone `z` with the denial z->nsec3 says: every RRSIG and
 * chain record dropped, then signed whole, all in one serial and journal
 * entry (NSEC <-> NSEC3).
 */
int rechain_zone(struct store *st, const struct store_zone *z, struct store_result *res,
                 char *err, size_t errcap);
/* Removes every DNSSEC record of `z` in one serial and journal entry. */
int unsign_zone(struct store *st, const struct store_zone *z, struct store_result *res, char *err,
                size_t errcap);

/*
 * The last step of a background signing (store_bulk.c), in its write
 * transaction once the zone is marked signed (its staged rows show from
 * then on): bumps the serial, signs through sign_change what `ch` touched
 * (the rrsets changed since the snapshot) and the apex (ch->keys: DNSKEY),
 * and drops the zone's journal (secondaries take the signed zone by AXFR).
 * 0 or <0.
 */
int finish_staged(struct change *ch, struct store_result *res);

/* ---- store_keycache.c ---- */
struct zkey;
/*
 * Zone `zid`'s key `k` (its row's public fields filled) opened from `sealed`:
 * from the cache when that key was opened before, else unsealed, imported and
 * kept.  NULL when it does not open.  Under the write lock.
 */
struct dns_dnssec_key *keycache_get(struct store *st, int64_t zid, const struct zkey *k,
                                    const uint8_t *sealed, size_t len);
/* Around one load of zone `zid`'s keys: entries not matched by it are dropped at the sweep. */
void keycache_begin(struct store *st, int64_t zid);
void keycache_sweep(struct store *st, int64_t zid);
/* Keys opened so far (cache misses), for the tests. */
uint64_t keycache_unseals(const struct store *st);
void keycache_free(struct store *st);

/* ---- store_bulk.c ---- */
struct bulk_job;
/* Whether switching zone `z` on should sign in the background (in the write transaction). */
bool bulk_wanted(struct store *st, const struct store_zone *z, bool nsec3);
/* A job for `z` with its active keys (in the write transaction, after the key exists). */
int bulk_start(struct store *st, const struct store_zone *z, struct bulk_job **out);
/* Starts the job's thread after the commit (the job is the store's then).  0 or -ENOMEM. */
int bulk_run(struct store *st, struct bulk_job *j);
/* Frees a job that was not run (its transaction rolled back). */
void bulk_discard(struct bulk_job *j);
/* Cancels zone `zid`'s job (under the write lock); whether there was one. */
bool bulk_cancel(struct store *st, int64_t zid);
/* Deletes an unsigned zone `zid`'s staged rows (RRSIG, NSEC), in the write transaction. */
int bulk_drop_staged(struct store *st, int64_t zid);
/*
 * At store_open: restarts the background signing of every zone a stop
 * interrupted (it has keys but is not signed).  Failures are logged.
 */
void bulk_resume(struct store *st);
/* Cancels every job and joins their threads (store_close). */
void bulk_stop_all(struct store *st);

/* ---- store_sign.c ---- */
/*
 * Signs the change `ch` (its user rrsets already written, the serial
 * bumped): re-signs the touched rrsets and the SOA, fixes the NSEC/NSEC3
 * chain around the names added or removed, the DNSKEY rrset when
 * `ch->full`.  Every write goes through touch(), so the caller's diff puts
 * it in the journal.  0, -EINVAL (err: no usable key), -ENOMEM, -EIO.
 */
int sign_change(struct change *ch);

/* ---- store_dnssec.c ---- */
/* A zone's key as the signer uses it. */
struct zkey {
	int64_t id;
	uint16_t flags;
	uint8_t alg;
	uint16_t tag;
	bool active, published;
	bool cds;                     /* CDS/CDNSKEY published for it (KSK rollover) */
	uint8_t dnskey[DNS_DNSSEC_DNSKEY_MAX];
	size_t dnskey_len;
	struct dns_dnssec_key *key;   /* NULL when it could not be opened */
	bool cached;                  /* key belongs to the key cache (zkeys_free keeps it) */
};
#define ZKEYS_MAX 8
/* AES-256-GCM seal of a raw private key (nonce || ciphertext || tag).  Length or <0. */
int dnssec_seal(const uint8_t kek[32], const uint8_t *raw, size_t rawlen, const uint8_t *ad,
                size_t adlen, uint8_t *out, size_t cap);
/* Opens a seal; 0, -EKEYREJECTED (wrong key, tampered, wrong rdata) or -EIO. */
int dnssec_unseal(const uint8_t kek[32], const uint8_t *in, size_t inlen, const uint8_t *ad,
                  size_t adlen, uint8_t out[DNS_DNSSEC_RAW_MAX]);
/* Loads zone `zid`'s keys, private parts decrypted.  The count, or -EIO, -EKEYREJECTED. */
int zkeys_load(struct store *st, int64_t zid, struct zkey *keys, size_t max);
void zkeys_free(struct zkey *keys, size_t n);
/*
 * Generates a key of `alg` for zone `zid` ("csk", "ksk" or "zsk") and
 * stores it sealed.  0 with *id, -ENOTSUP, -EPERM (no --dnssec-key-file), -EIO.
 */
int zkey_create(struct store *st, int64_t zid, const char *keytype, uint8_t alg, bool active,
                bool published, int64_t *id);
/* Zone `zone` for a write (not the catalog; `account`'s when not NULL).  0, -ENOENT, -EPERM. */
int zone_w(struct store *st, const uint8_t *zone, const char *account, struct store_zone *z);
/* Begins a write on signed zone `zone` (zone_w): its codes, or -EINVAL with `err` naming the
 * zone and `hint` after it when it is not signed; nothing is left open on error. */
int signed_zone_begin(struct store *st, const uint8_t *zone, const char *account,
                      struct store_zone *z, const char *hint, char *err, size_t errcap);
/* Commits (logging `what` and the new serial when changed) or, ret != 0, rolls back. */
int end_write(struct store *st, const struct store_zone *z, int ret,
              const struct store_result *res, const char *what);
/* Unsigns `z` now in the write transaction: its DNSSEC records and keys go, one serial. */
int unsign_now(struct store *st, const struct store_zone *z, struct store_result *res,
               char *err, size_t errcap);
/* Marks zone `zid` signed with NSEC or NSEC3.  0 or -EIO. */
int zone_dnssec_mark(struct store *st, int64_t zid, bool nsec3);

/*
 * Checks DNS UPDATE prerequisites against `z` inside the write transaction:
 * 0 when all hold, -ECANCELED with *failed the first that does not, -EIO,
 * -ENOMEM.
 */
int prereqs_check(struct store *st, const struct store_zone *z, const struct store_prereq *pre,
                  size_t n, size_t *failed);

/* ---- store_roll.c ---- */
/* zkey_create (published, active) with a key tag no other key of the zone has.  0 or <0. */
int zkey_create_unique(struct store *st, int64_t zid, const char *keytype, uint8_t alg,
                       bool active, int64_t *id);

/* ---- store_ksk.c ---- */
/* The CDS and CDNSKEY rdatas a signed zone publishes (arena / the keys' storage). */
struct cds_set {
	const uint8_t *cds[ZKEYS_MAX], *cdnskey[ZKEYS_MAX];
	size_t cdslen[ZKEYS_MAX], cdnskeylen[ZKEYS_MAX];
	size_t n;
};
/* CDS/CDNSKEY DELETE while `z` is being unsigned, else those of the keys with cds.  0 or <0. */
int cds_build(struct store *st, const struct store_zone *z, const struct zkey *keys,
              size_t nkeys, struct cds_set *out);
/*
 * One KSK-rollover or unsigning step of `z` due now, in the write
 * transaction: 1 done (res filled, *what naming it), 0 nothing due, <0.
 */
int ksk_step(struct store *st, const struct store_zone *z, struct store_result *res,
             const char **what, char *err, size_t errcap);
/* Sets zone_dnssec.t_unsign (0: clears it).  0 or -EIO. */
int unsign_at_set(struct store *st, int64_t zid, int64_t at);

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
 * SOA + `rem`, added = the new SOA + `add`, then trims to journal_keep
 * entries and drops those older than journal_keep_age.
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
