-- anycst primary store, first migration.  Applied in one transaction and
-- tracked by PRAGMA user_version (set by the store after each migration).
-- Names are kept twice: `name` as lower-case presentation text (trailing
-- dot) for the API, and as wire form / lookup key (dns/name.h) for DNS work.
-- Records are wire rdata, so a change costs O(change), never O(zone).

CREATE TABLE settings (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- AUTOINCREMENT: ids are never reused, so catalog member labels derived
-- from them stay unique across delete and re-create (RFC 9432 §4.1).
CREATE TABLE zones (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE,
	wire BLOB NOT NULL,
	kind TEXT NOT NULL DEFAULT 'Native',
	account TEXT NOT NULL DEFAULT '',
	soa_edit_api TEXT NOT NULL DEFAULT 'DEFAULT',
	serial INTEGER NOT NULL,
	is_catalog INTEGER NOT NULL DEFAULT 0,
	notified_serial INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX zones_account ON zones(account, name);

-- One row per record.  okey is the owner's lookup key (canonical order);
-- rdata is canonical wire form (embedded names lower-cased).
CREATE TABLE records (
	id INTEGER PRIMARY KEY,
	zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	okey BLOB NOT NULL,
	owner BLOB NOT NULL,
	type INTEGER NOT NULL,
	ttl INTEGER NOT NULL,
	rdata BLOB NOT NULL,
	disabled INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX records_rr ON records(zone_id, okey, type, rdata);

-- PowerDNS rrset comments.
CREATE TABLE comments (
	id INTEGER PRIMARY KEY,
	zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	okey BLOB NOT NULL,
	type INTEGER NOT NULL,
	content TEXT NOT NULL,
	account TEXT NOT NULL DEFAULT '',
	modified_at INTEGER NOT NULL
);
CREATE INDEX comments_rrset ON comments(zone_id, okey, type);

-- IXFR journal: one row per committed change.  removed/added are
-- concatenated canonical wire RRs (owner, type, class, ttl, rdlength,
-- rdata, no compression); removed starts with the old SOA and added with
-- the new one, so an IXFR is a concatenation of blobs (RFC 1995 §4).
CREATE TABLE journal (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	serial_from INTEGER NOT NULL,
	serial_to INTEGER NOT NULL,
	removed BLOB NOT NULL,
	added BLOB NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX journal_zone ON journal(zone_id, seq);

CREATE TABLE tsig_keys (
	name TEXT PRIMARY KEY,
	algorithm TEXT NOT NULL,
	secret TEXT NOT NULL
);

-- A zone's master_tsig_key_ids: the keys allowed to transfer it.
CREATE TABLE zone_tsig_keys (
	zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	key_name TEXT NOT NULL REFERENCES tsig_keys(name) ON DELETE CASCADE,
	PRIMARY KEY (zone_id, key_name)
);

-- Account-bound API keys: only a SHA-256 of the key is stored.
CREATE TABLE api_keys (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	hash BLOB NOT NULL UNIQUE,
	account TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
);

-- POP registry (filled by the mesh issue).
CREATE TABLE secondaries (
	name TEXT PRIMARY KEY,
	endpoint TEXT NOT NULL,
	public_key TEXT NOT NULL UNIQUE,
	mesh_ip TEXT NOT NULL UNIQUE,
	tsig_key TEXT REFERENCES tsig_keys(name) ON DELETE SET NULL,
	created_at INTEGER NOT NULL
);
