/*
 * The primary's store: every zone, record, journal entry, TSIG key and API
 * key lives in one SQLite database (WAL, foreign_keys=ON, busy_timeout).
 *
 * Invariants:
 * - ONE writer connection, used under the store's write mutex: concurrent
 *   writers queue, never fail with SQLITE_BUSY.  Each write request is one
 *   BEGIN IMMEDIATE transaction covering the records, the new SOA serial,
 *   the journal row and the catalog zone; on any error it rolls back, so
 *   nothing is half-applied.
 * - Exactly one serial bump per committed change; a request that changes
 *   nothing changes nothing (no bump, no journal row, no listener call).
 * - Journal rows hold (serial_from, serial_to, removed, added) where removed
 *   starts with the old SOA and added with the new SOA, as canonical wire RRs
 *   (see store_blob_next), so an IXFR answer is a concatenation of blobs.
 *   Every row's serial_from equals the previous row's serial_to.
 * - Readers use snapshots: a read transaction on a pooled reader connection,
 *   seeing one committed version while writes go on.
 * - Names handed in may be in any letter case; the store keeps them
 *   lower-cased.  Wire names are uncompressed (dns/name.h).
 *
 * Thread safety: every function may be called from any thread; a snapshot
 * must be used by one thread at a time.
 */
#ifndef PRIMARY_STORE_H
#define PRIMARY_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/name.h"
#include "dns/rr.h"
#include "dns/serial.h"

struct store;
struct store_snap;

#define STORE_ACCOUNT_MAX 128
#define STORE_KIND_MAX 16
#define STORE_JOURNAL_KEEP_DEFAULT 1000

struct store_opts {
	const char *path;          /* database file, created when missing */
	const char *catalog;       /* catalog zone name (text), e.g. "catalog.anycst.invalid." */
	unsigned journal_keep;     /* journal entries kept per zone (0: default 1000) */
	uint32_t journal_keep_age; /* seconds; older entries are dropped when the zone
	                            * next changes (0: no age limit) */
	unsigned wal_max_mib;      /* WAL size the checkpointer enforces (0: default 64) */
	/* --dnssec-key-file's content: SHA-256 of it seals DNSSEC private keys;
	 * NULL: DNSSEC signing is off (dnssec:true refused) */
	const char *dnssec_secret;
	uint32_t dnssec_validity;  /* RRSIG validity in seconds (0: 14 days); refreshed at half */
	uint32_t dnssec_dnskey_ttl;        /* DNSKEY TTL (0: 3600) */
	uint32_t dnssec_propagation_delay; /* added to every rollover wait, seconds */
	uint32_t dnssec_zsk_lifetime;      /* automatic ZSK rollover after (0: off) */
	uint32_t dnssec_ds_ttl;            /* the parent's DS TTL: old KSK kept after ds_seen */
	uint32_t dnssec_unsign_delay;      /* CDS DELETE before unsigning (0: unsign at once) */
	long dnssec_alg;                   /* key made when a zone is signed (0: 13) */
	/* zones of at least this many records are first signed in the background
	 * (NSEC; 0: 1000) */
	unsigned dnssec_background_min;
};

/*
 * Opens (creating when missing) the database and applies the embedded
 * schema migrations in one transaction, then makes sure the catalog zone
 * exists.  A database whose user_version is newer than this binary is
 * refused before anything is written.  On error writes a message into
 * `err` and returns ERR_SCHEMA_NEWER, -EIO (SQLite error), -EINVAL (bad
 * catalog name) or -ENOMEM.
 */
int store_open(const struct store_opts *o, struct store **out, char *err, size_t errcap);

/* Closes every connection.  No other call may run at the same time. NULL ok. */
void store_close(struct store *st);

/* Catalog zone name (wire, lower-case); valid until store_close. */
const uint8_t *store_catalog_name(const struct store *st);

/*
 * The one commit listener.  A committed change reaches exactly one module
 * (the transfer service), which fans it out; no hook table.
 */
enum store_change {
	STORE_ZONE_CREATED,    /* old_serial 0 */
	STORE_ZONE_CHANGED,
	STORE_ZONE_DELETED,    /* old_serial == new_serial == 0 */
	STORE_CATALOG_CHANGED, /* the catalog zone's serial moved (a member added or removed) */
};

struct store_commit {
	const uint8_t *zone;       /* wire, lower-case; valid during the call */
	uint32_t old_serial, new_serial;
	enum store_change kind;
};

struct store_listener {
	/*
	 * Called after every commit that changed a zone's serial (outside the
	 * write transaction and outside the write mutex), once per zone: a
	 * create or delete also reports the catalog zone.  Must not block for
	 * long: queue work.
	 */
	void (*on_commit)(void *ctx, const struct store_commit *c);
	/* NOTIFY on demand (PUT /zones/{id}/notify): 0 or a negative code. */
	int (*on_notify)(void *ctx, const uint8_t *zone, uint32_t serial);
	void *ctx;
};

/*
 * This node sends the NOTIFYs of commits to the POPs: always with SQLite; on
 * PostgreSQL the one node of the database that holds the notifier lock
 * (db.h db_listen), which on taking it reports every zone to its listener.
 */
bool store_notifier(struct store *st);

/*
 * Sets the listener (copied).  0, or -EBUSY when one is set already (a
 * second listener is refused, never dropped silently).  NULL removes it and
 * returns once no call to it runs (its owner may free its context then).
 */
int store_set_listener(struct store *st, const struct store_listener *l);

/* Hands a NOTIFY request to the listener; -ENOSYS when there is none. */
int store_notify(struct store *st, const uint8_t *zone, uint32_t serial);

/* ---- reading: snapshots ------------------------------------------------ */

struct store_zone {
	int64_t id;
	uint8_t name[DNS_NAME_MAX];        /* wire, lower-case */
	char text[DNS_NAME_TEXT_MAX];      /* presentation, trailing dot */
	char kind[STORE_KIND_MAX];         /* "Native", "Master", "Slave" */
	char account[STORE_ACCOUNT_MAX];
	enum dns_serial_policy policy;
	uint32_t serial;
	uint32_t notified_serial;
	bool is_catalog;
	bool dnssec;                       /* signed (schema 0005 zone_dnssec) */
	bool nsec3;                        /* NSEC3 1 0 0 - (else NSEC) */
	int64_t unsign_at;                 /* switched off: CDS DELETE, unsigned then (0: no) */
};

/*
 * Opens a snapshot: a read transaction on a reader connection of its own,
 * usable from any (one) thread.  Returns 0, -EIO or -ENOMEM.
 */
int store_snap_open(struct store *st, struct store_snap **out);
/* Ends the read transaction and gives the connection back. NULL ok. */
void store_snap_close(struct store_snap *sn);

/* Finds a zone by wire name (any case).  0 or -ENOENT, -EIO. */
int store_snap_zone(struct store_snap *sn, const uint8_t *name, struct store_zone *out);
/* Same by presentation text (trailing dot optional).  0, -ENOENT, -EINVAL. */
int store_snap_zone_text(struct store_snap *sn, const char *name, struct store_zone *out);

/*
 * Lists zones in name order (catalog zone included), starting after
 * presentation name `after` (NULL: from the start), at most `limit` (0: all),
 * only those of `account` when not NULL.  `fn` returning non-zero stops and
 * is returned.  Returns 0, that value, or -EIO.
 */
typedef int (*store_zone_fn)(void *ctx, const struct store_zone *z);
int store_snap_zones(struct store_snap *sn, const char *account, const char *after,
                     size_t limit, store_zone_fn fn, void *ctx);

/*
 * Iterates the enabled records of zone `z` in this snapshot's version, the
 * SOA first, then the rest in canonical order (owner, type).  The rr's
 * pointers die when `fn` returns.  Same return rules as store_snap_zones.
 * This is the content of an AXFR (the SOA is not repeated at the end).
 */
typedef int (*store_rr_fn)(void *ctx, const struct dns_rr *rr);
int store_snap_records(struct store_snap *sn, const struct store_zone *z, store_rr_fn fn,
                       void *ctx);

/*
 * The same records as store_snap_records but pulled a few at a time: a
 * cursor on the snapshot's read transaction, so a large zone is read as it
 * is sent (one version, constant memory).  The cursor yields the records
 * after the SOA; close it before the snapshot.  One cursor per snapshot.
 */
struct store_rr_cursor;
/* 0, -ENOMEM or -EIO. */
int store_snap_cursor(struct store_snap *sn, const struct store_zone *z,
                      struct store_rr_cursor **out);
/* 1 with the next record in *rr (its pointers die at the next call), 0 at
 * the end, -EIO. */
int store_rr_cursor_next(struct store_rr_cursor *c, struct dns_rr *rr);
void store_rr_cursor_close(struct store_rr_cursor *c);   /* NULL ok */

/* One stored record including disabled ones, for the API. */
struct store_row {
	const uint8_t *owner;   /* wire, lower-case */
	uint16_t type;
	uint32_t ttl;
	const uint8_t *rdata;   /* as written: names keep their case */
	uint16_t rdlen;
	bool disabled;
	const char *content;    /* TXT/SPF text as a client sent it, or NULL */
};
typedef int (*store_row_fn)(void *ctx, const struct store_row *r);
/*
 * Whether zone `zid` is being signed in the background (DNSSEC just
 * switched on for a large zone, store_bulk.c): the API shows "signing": true
 * until the one commit that makes it signed.
 */
bool store_zone_signing(struct store *st, int64_t zid);
bool store_snap_zone_signing(struct store_snap *sn, const struct store_zone *z);

/* The types only the signer writes (RRSIG, NSEC, NSEC3, NSEC3PARAM, DNSKEY, CDS, CDNSKEY). */
bool store_type_signer(uint16_t type);
/*
 * Every record (disabled too) but the signer's (store_type_signer) in canonical order, optionally only those at
 * `owner` (wire, NULL: all) and of `type` (0: all).
 */
int store_snap_rows(struct store_snap *sn, const struct store_zone *z, const uint8_t *owner,
                    uint16_t type, store_row_fn fn, void *ctx);

struct store_comment {
	const char *content;
	const char *account;
	int64_t modified_at;
};
typedef int (*store_comment_fn)(void *ctx, const uint8_t *owner, uint16_t type,
                                const struct store_comment *c);
int store_snap_comments(struct store_snap *sn, const struct store_zone *z, store_comment_fn fn,
                        void *ctx);

/* One journal entry; blobs are valid during the callback only. */
struct store_journal_entry {
	uint32_t serial_from, serial_to;
	const uint8_t *removed;   /* old SOA, then the removed RRs */
	size_t removed_len;
	const uint8_t *added;     /* new SOA, then the added RRs */
	size_t added_len;
	int64_t created_at;       /* Unix seconds */
};
typedef int (*store_journal_fn)(void *ctx, const struct store_journal_entry *e);

/*
 * Calls `fn` for each journal entry of `z` from serial `since` up to the
 * snapshot's current serial, oldest first.  `since` equal to the current
 * serial gives no calls and returns 0.  Returns -ERANGE when the journal
 * does not reach back to `since` (trimmed by retention, or a serial never
 * held) so the caller falls back to a full transfer; or fn's value, -EIO.
 */
int store_snap_journal(struct store_snap *sn, const struct store_zone *z, uint32_t since,
                       store_journal_fn fn, void *ctx);

/* Number of journal entries kept for `z`, and the oldest serial_from (0 when none). */
int store_snap_journal_range(struct store_snap *sn, const struct store_zone *z, size_t *count,
                             uint32_t *oldest);

/*
 * Reads the next RR of a journal blob at *pos into `rr` (pointers into the
 * blob).  Returns 1 when one was read, 0 at the end, ERR_FORMERR if bad.
 */
int store_blob_next(const uint8_t *blob, size_t len, size_t *pos, struct dns_rr *rr);

/* ---- TSIG keys --------------------------------------------------------- */

#define STORE_TSIG_ALG_MAX 32
#define STORE_TSIG_SECRET_MAX 256

struct store_tsig_key {
	char name[DNS_NAME_TEXT_MAX];            /* presentation, trailing dot */
	char algorithm[STORE_TSIG_ALG_MAX];      /* "hmac-sha256", "hmac-sha512" */
	char secret[STORE_TSIG_SECRET_MAX];      /* base64 */
};
typedef int (*store_tsig_fn)(void *ctx, const struct store_tsig_key *k);

/* Key by name (trailing dot optional, any case).  0, -ENOENT, -EIO. */
int store_snap_tsig_key(struct store_snap *sn, const char *name, struct store_tsig_key *out);
/* store_snap_tsig_key outside a snapshot (one read; TSIG verification of
 * every request).  0, -ENOENT, -EIO. */
int store_tsig_key_get(struct store *st, const char *name, struct store_tsig_key *out);
int store_snap_tsig_keys(struct store_snap *sn, store_tsig_fn fn, void *ctx);
/* The keys in a zone's master_tsig_key_ids (allowed to transfer it). */
int store_snap_zone_tsig_keys(struct store_snap *sn, const struct store_zone *z,
                              store_tsig_fn fn, void *ctx);

/* The keys in a zone's update_tsig_key_ids (allowed to change it by DNS UPDATE). */
int store_snap_zone_update_keys(struct store_snap *sn, const struct store_zone *z,
                                store_tsig_fn fn, void *ctx);
/* Whether key `key` (presentation, any case) is in z's update_tsig_key_ids:
 * 1 yes, 0 no, -EIO. */
int store_snap_update_allowed(struct store_snap *sn, const struct store_zone *z, const char *key);

/*
 * A zone's update_policy (schema 0009): per-key limits on DNS UPDATE, like
 * BIND's update-policy grants.  A key in update_tsig_key_ids with no rule
 * may change every name and type; a key with rules may change only what one
 * of them allows (primary/store_upolicy.c).
 */
enum store_upolicy_match {
	STORE_UPM_SUBDOMAIN,   /* the name or any name below it */
	STORE_UPM_NAME,        /* exactly the name */
	STORE_UPM_PATTERN,     /* as many labels, a '*' label matching any one label */
};
#define STORE_UPOLICY_TYPES 16
#define STORE_UPOLICY_MAX 64   /* rules per zone */
struct store_upolicy_rule {
	char key[DNS_NAME_TEXT_MAX];   /* TSIG key name, presentation */
	enum store_upolicy_match match;
	uint8_t name[DNS_NAME_MAX];    /* wire, inside the zone */
	uint16_t types[STORE_UPOLICY_TYPES];
	size_t ntypes;                 /* 0: every type */
};
typedef int (*store_upolicy_fn)(void *ctx, const struct store_upolicy_rule *r);
/* The zone's rules in the order set.  0, -EIO or fn's non-zero. */
int store_snap_zone_update_policy(struct store_snap *sn, const struct store_zone *z,
                                  store_upolicy_fn fn, void *ctx);
/* Whether rule r allows changing (owner, type); type 255 (ANY, a name's
 * deletion) only when the rule names no types. */
bool store_upolicy_allows(const struct store_upolicy_rule *r, const uint8_t *owner,
                          uint16_t type);
/* "subdomain", "name", "pattern"; and back (0 or -EINVAL). */
const char *store_upolicy_match_name(enum store_upolicy_match m);
int store_upolicy_match_parse(const char *s, enum store_upolicy_match *m);

/* Creates or replaces a key (name normalised to lower case + trailing dot).
 * `replace` false: -EEXIST when present.  0, -EEXIST, -EINVAL, -EIO. */
int store_tsig_put(struct store *st, const struct store_tsig_key *k, bool replace);
/* 0, -ENOENT, -EIO.  Removes it from every zone's master_tsig_key_ids. */
int store_tsig_delete(struct store *st, const char *name);

/* ---- writing ------------------------------------------------------------ */

/* STORE_OP_DELETE_NAME (DNS UPDATE, RFC 2136 §2.5.3): every rrset at the
 * owner, `type` ignored; at the apex the SOA and NS stay (§3.4.2.3). */
enum store_op_kind { STORE_OP_REPLACE, STORE_OP_DELETE, STORE_OP_EXTEND, STORE_OP_PRUNE,
                     STORE_OP_DELETE_NAME };

struct store_rec {
	const uint8_t *rdata;   /* wire, uncompressed, names with their case as written */
	uint16_t rdlen;
	bool disabled;
	const char *content;    /* TXT/SPF: the text sent, kept to be returned as is; or NULL */
};

/* One rrset change of a PATCH (PowerDNS changetype). */
struct store_op {
	enum store_op_kind kind;
	const uint8_t *owner;    /* wire, inside the zone (checked) */
	uint16_t type;
	uint32_t ttl;            /* REPLACE/EXTEND; 0..2^31-1 */
	bool has_ttl;            /* EXTEND without a TTL keeps the rrset's (or 3600) */
	const struct store_rec *recs;
	size_t nrecs;
	bool keep_records;       /* REPLACE without "records": records stay (TTL too unless has_ttl) */
	bool soa_if_newer;       /* an SOA REPLACE applied only when its serial is newer than the
	                            zone's (RFC 1982); else skipped (DNS UPDATE, RFC 2136 §3.4.2.2) */
	const struct store_comment *comments;  /* REPLACE: replaces comments when has_comments */
	size_t ncomments;
	bool has_comments;
	char label[48];          /* how errors name it, e.g. "rrsets[2]" */
};

struct store_result {
	uint32_t old_serial, new_serial;
	bool changed;            /* false: nothing was written */
};

/*
 * Applies `ops` in array order to zone `zone` (wire) in one transaction:
 * checks (owners inside the zone, exactly one SOA at the apex and only
 * there, apex NS never emptied, CNAME alone and not at the apex, no
 * duplicate records within an op, TTL range), new serial by the zone's
 * policy, journal entry, retention, commit.  `account` non-NULL restricts
 * to that account's zones (others are -ENOENT).  `if_match` non-NULL: the
 * zone's serial must equal it, else -ESTALE.  The catalog zone is -EPERM.
 * On a rule violation writes "label...: reason" into `err`, returns -EINVAL.
 * Returns 0, -ENOENT, -ESTALE, -EPERM, -EINVAL, -EIO.
 */
int store_zone_patch(struct store *st, const uint8_t *zone, const char *account,
                     const uint32_t *if_match, const struct store_op *ops, size_t nops,
                     struct store_result *res, char *err, size_t errcap);

/* One DNS UPDATE prerequisite (RFC 2136 §2.4), on enabled records. */
enum store_prereq_kind {
	STORE_PRQ_YXRRSET,        /* rrset (owner, type) exists */
	STORE_PRQ_YXRRSET_VALUE,  /* rrset (owner, type) holds exactly recs (as a set) */
	STORE_PRQ_NXRRSET,        /* rrset (owner, type) does not exist */
	STORE_PRQ_YXDOMAIN,       /* owner has records */
	STORE_PRQ_NXDOMAIN,       /* owner has none */
};

struct store_prereq {
	enum store_prereq_kind kind;
	const uint8_t *owner;     /* wire, inside the zone */
	uint16_t type;
	const struct store_rec *recs;   /* YXRRSET_VALUE */
	size_t nrecs;
};

/*
 * store_zone_patch for DNS UPDATE: the prerequisites `pre` are checked in
 * order inside the same write transaction, before the ops are applied, so
 * nothing can change the zone between the check and the change.  The first
 * that does not hold makes it -ECANCELED with *failed set to its index and
 * nothing written.  Otherwise the ops take store_zone_patch's path (same
 * checks, one serial bump, one journal entry, the commit listener).
 */
int store_zone_patch_if(struct store *st, const uint8_t *zone, const char *account,
                        const struct store_prereq *pre, size_t npre, size_t *failed,
                        const struct store_op *ops, size_t nops, struct store_result *res,
                        char *err, size_t errcap);

/*
 * store_zone_patch_if for a DNS UPDATE signed with TSIG key `key`: inside
 * the same write transaction, before the prerequisites, the key must be in
 * the zone's update_tsig_key_ids (else -EACCES) and every op must be allowed
 * by one of the key's update_policy rules when it has any (else -EPERM,
 * `err` naming the op's owner and type, nothing about the policy).
 */
int store_zone_update_dns(struct store *st, const uint8_t *zone, const char *key,
                          const struct store_prereq *pre, size_t npre, size_t *failed,
                          const struct store_op *ops, size_t nops, struct store_result *res,
                          char *err, size_t errcap);

/*
 * PowerDNS zone fields stored beside the zone (primary/store_pdns.c): NULL
 * leaves a field as it is (a new zone: "").
 */
struct store_zone_pdns_set {
	const char *masters;          /* comma-separated addresses, as given */
	const char *catalog;
	bool has_soa_edit_api;        /* soa_edit_api as written (NULL: the policy's name) */
	const char *soa_edit_api;
	const char *soa_edit;
};

struct store_zone_pdns {
	char masters[1024];
	char catalog[DNS_NAME_TEXT_MAX];
	bool has_soa_edit_api;
	char soa_edit_api[32];
	char soa_edit[32];
};
/* The zone's PowerDNS fields ("" and false when never set).  0 or -EIO. */
int store_snap_zone_pdns(struct store_snap *sn, const struct store_zone *z,
                         struct store_zone_pdns *out);

/* Each metadata value of `kind` (NULL: every kind), by kind then in the order set. */
typedef int (*store_meta_fn)(void *ctx, const char *kind, const char *value);
int store_snap_metadata(struct store_snap *sn, const struct store_zone *z, const char *kind,
                        store_meta_fn fn, void *ctx);

struct store_zone_new {
	const struct store_zone_pdns_set *pdns;   /* NULL: defaults */
	const uint8_t *name;          /* wire */
	const char *kind;             /* "Native", "Master", "Slave" */
	const char *account;          /* "" for none */
	enum dns_serial_policy policy;
	const char *const *tsig_keys; /* master_tsig_key_ids */
	size_t ntsig_keys;
	const char *const *update_keys;   /* update_tsig_key_ids (DNS UPDATE) */
	size_t nupdate_keys;
	const struct store_upolicy_rule *update_policy;   /* update_policy (DNS UPDATE) */
	size_t nupdate_policy;
	bool cross_account;           /* admin: may be a parent or child of another account's
	                                 zone (logged); else that is -EEXIST */
	bool dnssec;                  /* sign it: a CSK of `dnssec_alg`, NSEC or NSEC3 */
	bool nsec3;
	uint8_t dnssec_alg;           /* 13 (0 means 13) or 15 */
};

/*
 * Creates a zone with the records of `ops` (REPLACE ops), adding an SOA with
 * defaults when none is given (serial from the policy), and its member
 * entry in the catalog zone, in one transaction.  A zone of another
 * account (zones.account differs) that is a parent or a child of the new one
 * makes it -EEXIST unless `cross_account` (then it is logged), with a text
 * that names neither that zone nor its account.  Returns 0, -EEXIST,
 * -EINVAL (err filled), -EIO.
 */
int store_zone_create(struct store *st, const struct store_zone_new *z, const struct store_op *ops,
                      size_t nops, struct store_result *res, char *err, size_t errcap);

/*
 * Deletes zone `zone` with its records and journal and removes it from the
 * catalog, in one transaction.  0, -ENOENT, -EPERM (catalog zone), -EIO.
 */
int store_zone_delete(struct store *st, const uint8_t *zone, const char *account);

/* Settings of PUT /zones/{id}; NULL/has_* false means "leave as is". */
struct store_zone_settings {
	const struct store_zone_pdns_set *pdns;   /* NULL: unchanged */
	const char *meta_kind;        /* non-NULL: replaces this metadata kind's values */
	const char *const *meta_vals;
	size_t nmeta;
	const char *kind;
	const char *account;
	bool has_policy;
	enum dns_serial_policy policy;
	bool has_tsig_keys;
	const char *const *tsig_keys;
	size_t ntsig_keys;
	bool has_update_keys;
	const char *const *update_keys;   /* update_tsig_key_ids */
	size_t nupdate_keys;
	bool has_update_policy;
	const struct store_upolicy_rule *update_policy;   /* keys must exist; names inside */
	size_t nupdate_policy;
};
/*
 * 0, -ENOENT, -ESTALE (if_match), -EPERM (catalog: only master_tsig_key_ids may be set),
 * -EEXIST (an account key moving the zone next to another account's), -EINVAL
 * (unknown TSIG key, err), -EIO.  A move by the admin next to another
 * account's zone (parent or child) is logged.
 */
int store_zone_update(struct store *st, const uint8_t *zone, const char *account,
                      const uint32_t *if_match, const struct store_zone_settings *s, char *err,
                      size_t errcap);

/* ---- DNSSEC (store_dnssec.c) --------------------------------------------- */

/* True when --dnssec-key-file was given (signing possible). */
bool store_can_sign(const struct store *st);

/*
 * Switches signing on for zone `zone` (a CSK of `alg` unless it has keys),
 * with NSEC or NSEC3 (1 0 0 -), signing it whole in one transaction: one
 * serial, one journal entry.  Already signed with the same denial: 0,
 * nothing done (a switch-off under way, store_zone_unsign, is cancelled in
 * one serial); with the other one: the chain is rebuilt and the zone
 * re-signed, one serial, one journal entry.
 * -EPERM without a key file, -ENOENT, -EINVAL (err), -EIO.
 */
int store_zone_sign(struct store *st, const uint8_t *zone, const char *account, bool nsec3,
                    uint8_t alg, struct store_result *res, char *err, size_t errcap);

/*
 * Switches signing off.  With `now` (the operator confirms the parent has
 * no DS left) or --dnssec-unsign-delay 0: removes every RRSIG, NSEC, NSEC3,
 * NSEC3PARAM, DNSKEY, CDS and CDNSKEY record and the keys, in one serial and
 * one journal entry.  Else the zone stays signed and publishes CDS/CDNSKEY
 * DELETE (RFC 8078 §4) in one serial; the resigner unsigns it at
 * unsign_at (store_ksk.c); a second call without `now` changes nothing.
 * Not signed: 0, nothing done.  -ENOENT, -EIO.
 */
int store_zone_unsign(struct store *st, const uint8_t *zone, const char *account, bool now,
                      struct store_result *res, char *err, size_t errcap);

/*
 * Re-signs at most `max` rrsets of signed zone `zone` whose signatures
 * expire within half the validity, soonest first, in one transaction (one
 * serial, one small journal entry).  res->changed false: none was due.
 * 0, -ENOENT, -EINVAL (err), -EIO.
 */
int store_zone_refresh(struct store *st, const uint8_t *zone, size_t max,
                       struct store_result *res, char *err, size_t errcap);

/*
 * One step of the ZSK rollover of signed zone `zone` (store_roll.c), in one
 * transaction: activates an incoming ZSK whose time came, re-signs at most
 * `max` rrsets still signed by a retired ZSK, removes a retired ZSK whose
 * time came, or starts a rollover when the active ZSK is older than
 * dnssec_zsk_lifetime.  res->changed false: nothing was due.  0, -ENOENT,
 * -EINVAL (err), -EIO.
 */
int store_zone_roll(struct store *st, const uint8_t *zone, size_t max, struct store_result *res,
                    char *err, size_t errcap);
/*
 * Starts a ZSK pre-publish rollover of key `key_id`, the active ZSK of
 * `zone` (beside an active KSK or CSK): a new ZSK is published (one
 * serial) and the resigner carries the rest out.  0, -ENOENT, -EINVAL
 * (err: not the active ZSK), -EEXIST (a rollover under way), -EPERM, -EIO.
 */
int store_zsk_rollover(struct store *st, const uint8_t *zone, const char *account,
                       int64_t key_id, struct store_result *res, char *err, size_t errcap);

/*
 * Starts a double-signature rollover of key `key_id`, the zone's active KSK
 * or CSK (store_ksk.c): a new key of its type signs beside it, CDS/CDNSKEY
 * follow after the DNSKEY TTL, the old key goes after store_ksk_ds_seen.
 * 0, -ENOENT, -EINVAL (err), -EEXIST (one under way), -EPERM, -EIO.
 */
int store_ksk_rollover(struct store *st, const uint8_t *zone, const char *account,
                       int64_t key_id, struct store_result *res, char *err, size_t errcap);
/*
 * The operator saw the DS of incoming key `key_id` at the parent: CDS and
 * CDNSKEY are withdrawn and the old KSK is retired after --dnssec-ds-ttl.
 * Seen already: 0, nothing done.  0, -ENOENT, -EINVAL (err: not incoming, or
 * its CDS not published yet), -EIO.
 */
int store_ksk_ds_seen(struct store *st, const uint8_t *zone, const char *account, int64_t key_id,
                      struct store_result *res, char *err, size_t errcap);

/* A zone's key as the cryptokeys API shows it. */
struct store_cryptokey {
	int64_t id;
	char keytype[8];          /* "csk", "ksk", "zsk" */
	uint16_t flags;
	uint8_t alg;
	uint16_t tag;
	bool active, published;
	bool cds;                 /* its CDS/CDNSKEY are published (KSK rollover) */
	const uint8_t *dnskey;    /* rdata, valid during the callback */
	size_t dnskey_len;
};
typedef int (*store_cryptokey_fn)(void *ctx, const struct store_cryptokey *k);
int store_snap_cryptokeys(struct store_snap *sn, const struct store_zone *z,
                          store_cryptokey_fn fn, void *ctx);

/*
 * Adds a key to signed zone `zone` and re-signs it.  0 with *id, -ENOENT,
 * -EPERM (no key file), -EINVAL (not signed, too many keys; err), -ENOTSUP, -EIO.
 */
int store_cryptokey_add(struct store *st, const uint8_t *zone, const char *account,
                        const char *keytype, uint8_t alg, bool active, bool published,
                        int64_t *id, struct store_result *res, char *err, size_t errcap);
/*
 * Sets a key's active and published flags (a key is deleted with `del`)
 * and re-signs.  0, -ENOENT (zone or key), -EINVAL (err: the last active
 * key), -EIO.
 */
int store_cryptokey_set(struct store *st, const uint8_t *zone, const char *account, int64_t id,
                        bool del, bool active, bool published, struct store_result *res,
                        char *err, size_t errcap);

/* ---- API keys ------------------------------------------------------------ */

struct store_apikey {
	int64_t id;
	char account[STORE_ACCOUNT_MAX];
	char description[128];
	int64_t created_at;
};
typedef int (*store_apikey_fn)(void *ctx, const struct store_apikey *k);

/* Stores SHA-256(key) bound to `account`.  Returns the new id (> 0) or -EIO, -EEXIST. */
int64_t store_apikey_add(struct store *st, const char *key, const char *account,
                         const char *description);
/* 0 or -ENOENT. */
int store_apikey_delete(struct store *st, int64_t id);
int store_apikey_list(struct store *st, store_apikey_fn fn, void *ctx);
/*
 * Looks up SHA-256(key).  0 with `account` filled (STORE_ACCOUNT_MAX), or
 * -ENOENT.  Lookup is by hash, so timing does not depend on key prefixes.
 */
int store_apikey_find(struct store *st, const char *key, char *account);

/*
 * store_apikey_find with the key's id into *id as well.
 */
int store_apikey_find_id(struct store *st, const char *key, char *account, int64_t *id);

/* ---- audit log (schema 0007) ------------------------------------------------ */

#define STORE_AUDIT_WHAT_MAX 512

/* One API change: who (key id, 0 the admin key; its account), what, when. */
struct store_audit {
	int64_t id;                         /* filled by store_audit_list */
	int64_t at_ms;                      /* Unix milliseconds */
	int64_t key_id;
	char account[STORE_ACCOUNT_MAX];    /* "" for the admin key */
	char zone[DNS_NAME_TEXT_MAX];       /* "" when not about one zone */
	char what[STORE_AUDIT_WHAT_MAX];    /* "PATCH /zones/example.com." */
	unsigned status;                    /* the HTTP status answered */
	bool serials;                       /* old_serial and new_serial are known */
	uint32_t old_serial, new_serial;
};
typedef int (*store_audit_fn)(void *ctx, const struct store_audit *a);

/* Appends one row (its own transaction).  0 or -EIO. */
int store_audit_add(struct store *st, const struct store_audit *a);

/*
 * The audit row of one API request, written in the transaction of the change
 * it makes, so that no crash keeps a change and loses its row.  The API arms
 * it for the calling thread before the handler runs: the first write
 * transaction that thread commits inserts `row` (its zone, when empty, the
 * zone changed; its serials those of a zone change; its status the one
 * expected), a later one in the same request updates the zone and new
 * serial.  A row that cannot be written fails the commit: the change is
 * refused rather than left without its row.
 */
struct store_audit_arm {
	struct store_audit row;
	pthread_t thread;
	int64_t id;                          /* the committed row, 0: none yet */
	int64_t tentative;                   /* the row of the transaction in progress */
	struct store_audit_arm *next;
};
void store_audit_arm(struct store *st, struct store_audit_arm *a);
/*
 * Ends `a` (the handler answered `status`): a row written whose status
 * differs gets it (its own transaction; a crash before leaves the expected
 * status); no row written (nothing committed) and a 2xx status: the row is
 * appended alone, as there was no change to join.  a->row then holds what
 * was stored.  1 a row stands, 0 none (no change), -EIO.
 */
int store_audit_disarm(struct store *st, struct store_audit_arm *a, unsigned status);
/*
 * Rows with at_ms >= since_ms and id > after_id, oldest first, at most
 * `limit`; only those of `account` and of `zone` when not NULL.  `fn`
 * returning non-zero stops and is returned.  0 or -EIO.
 */
int store_audit_list(struct store *st, const char *account, const char *zone, int64_t since_ms,
                     int64_t after_id, size_t limit, store_audit_fn fn, void *ctx);

/* ---- statistics ----------------------------------------------------------- */

struct store_stats {
	uint64_t zones, records, journal_entries;
	int64_t last_commit;    /* Unix seconds, 0 when none since start */
	uint64_t commits;       /* since start */
	uint64_t groups;        /* transactions that committed several changes (group commit) */
	uint64_t grouped;       /* the changes committed in them */
};
int store_stats(struct store *st, struct store_stats *out);
/*
 * The counts of store_stats over the zones of `account` only (the catalog
 * excluded); last_commit and commits, server-wide, are left 0.  0 or -EIO.
 */
int store_stats_account(struct store *st, const char *account, struct store_stats *out);

/* ---- POP acknowledgements (propagation) ------------------------------------ */

/* The last serial POP `pop` acknowledged for `zone` (see schema/0003). */
struct store_pop_ack {
	const char *pop;          /* registry name (secondaries.name) */
	const char *zone;         /* presentation, trailing dot, any case */
	uint32_t serial;
	int how;                  /* enum propagation_how, kept as is */
	const char *transport;    /* "TCP", "QUIC" or "" */
	const char *address;      /* the POP's address as seen, "" when unknown */
	int64_t at_ms;            /* when, ms since the epoch */
};

/*
 * Writes `n` acknowledgements (replacing each (pop, zone)'s previous one)
 * on the writer connection, in transactions of at most STORE_ACKS_BATCH
 * rows, releasing the write mutex between them so that a zone change waits
 * for one batch at most.  Rows of a POP no longer registered or of a zone
 * no longer present are skipped (a retired POP is never written back).
 * Not a zone change: no listener call, no serial, no commit counted.  0 or -EIO.
 */
#define STORE_ACKS_BATCH 256
int store_pop_acks_put(struct store *st, const struct store_pop_ack *acks, size_t n);

/*
 * Calls `fn` for every stored acknowledgement (pointers valid during the
 * call).  fn returning non-zero stops and is returned; else 0 or -EIO.
 */
typedef int (*store_pop_ack_fn)(void *ctx, const struct store_pop_ack *a);
int store_pop_acks_list(struct store *st, store_pop_ack_fn fn, void *ctx);

/* ---- POP registry (secondaries and their TSIG keys) ------------------------ */

struct store_pop {
	const char *name;          /* registry name */
	const char *endpoint;      /* WireGuard endpoint */
	const char *public_key;    /* WireGuard public key */
	const char *mesh_ip;       /* the POP's mesh address, dotted quad */
	const char *tsig_name;     /* its TSIG key (hmac-sha256) */
	const char *tsig_secret;   /* base64; NULL in a list when the key is missing */
	uint16_t dns_port;
	int64_t created_at;        /* Unix seconds */
};

/*
 * Writes POP `p` with its TSIG key in one transaction.  0, -EEXIST (the key
 * or the POP exists; `err` says which), -EIO (err).
 */
int store_pop_add(struct store *st, const struct store_pop *p, char *err, size_t errcap);
/*
 * Deletes POP `name`, its acknowledgements and its TSIG key `tsig_name` in
 * one transaction.  0 or -EIO (err).
 */
int store_pop_delete(struct store *st, const char *name, const char *tsig_name, char *err,
                     size_t errcap);
/* Every registered POP in registration order (strings valid during the call). */
typedef int (*store_pop_fn)(void *ctx, const struct store_pop *p);
int store_pop_list(struct store *st, store_pop_fn fn, void *ctx);

/*
 * Several nodes (PostgreSQL): store_pop_add and store_pop_delete announce
 * the change to the other nodes in their transaction; there `fn(ctx)` is
 * called (on the listening thread) for each such announcement and when the
 * listening connection was made again (announcements may have been
 * missed).  One hook; NULL removes it, and no call is running once this
 * returns.  Never called with SQLite (one node).
 */
void store_set_pops_hook(struct store *st, void (*fn)(void *ctx), void *ctx);

/*
 * A primary node of the database (schema 0011, primary_nodes): each node
 * records itself at start, so that a POP's registration lists every node.
 */
struct store_node {
	const char *mesh_ip;       /* its mesh address (--mesh-ip), the row's key */
	uint16_t xfr_port;         /* port of --xfr */
	uint16_t quic_port;        /* port of --quic */
	const char *quic_pin;      /* its QUIC SPKI pin; NULL: QUIC not served */
	const char *public_key;    /* its WireGuard public key; NULL: none */
	const char *wg_endpoint;   /* --wg-endpoint; NULL: none */
	int64_t started_at;        /* Unix seconds */
};

/*
 * Records (or replaces, by mesh_ip) node `n`; on a database no other node
 * shares (SQLite) every other row goes.  0 or -EIO.
 */
int store_node_put(struct store *st, const struct store_node *n);
/* Every node, by mesh address (strings valid during the call).  0, -EIO or fn's non-zero. */
typedef int (*store_node_fn)(void *ctx, const struct store_node *n);
int store_node_list(struct store *st, store_node_fn fn, void *ctx);
/* Deletes node `mesh_ip`'s row.  0, -ENOENT (no such row) or -EIO. */
int store_node_delete(struct store *st, const char *mesh_ip);

#endif
