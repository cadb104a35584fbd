-- A signed zone's DNSSEC data, one row an owner name (primary/dn_rows.h):
-- its chain record (NSEC at the name, NSEC3 at the hashed owner; ctype 0:
-- none) and all its RRSIGs packed in `sigs`, `exp` the earliest of their
-- expirations (4294967296 without any).  Until this schema RRSIG, NSEC and
-- NSEC3 were rows of `records` with four indexes between them; one row a
-- name is a fifth of the first signing's SQLite work (bench/sigrows.c).
-- The rows of `records` move here; anycst_sigpack() (an aggregate) and
-- anycst_sigexp() are functions of the migrating connection (db_sqlite.c).
CREATE TABLE IF NOT EXISTS dnssec_names (
	zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	okey BLOB NOT NULL,
	owner BLOB NOT NULL,
	ctype INTEGER NOT NULL DEFAULT 0,
	cttl INTEGER NOT NULL DEFAULT 0,
	chain BLOB NOT NULL DEFAULT x'',
	sigs BLOB NOT NULL DEFAULT x'',
	exp INTEGER NOT NULL DEFAULT 4294967296,
	PRIMARY KEY (zone_id, okey)
) WITHOUT ROWID;
-- the refresh takes the names whose signatures expire first
CREATE INDEX IF NOT EXISTS dnssec_names_exp ON dnssec_names(zone_id, exp);
-- the NSEC3 chain's neighbours without stepping over the names' own rows
-- (the NSEC chain's are every row with a chain record: the primary key)
CREATE INDEX IF NOT EXISTS dnssec_names_nsec3 ON dnssec_names(zone_id, okey) WHERE ctype = 50;
INSERT INTO dnssec_names (zone_id, okey, owner, sigs, exp)
	SELECT zone_id, okey, owner, sigs, anycst_sigexp(sigs) FROM
	(SELECT zone_id, okey, min(owner) AS owner, anycst_sigpack(ttl, rdata) AS sigs
	 FROM records WHERE type = 46 GROUP BY zone_id, okey);
INSERT INTO dnssec_names (zone_id, okey, owner, ctype, cttl, chain)
	SELECT zone_id, okey, owner, type, ttl, rdata FROM records WHERE type IN (47, 50) AND true
	ON CONFLICT (zone_id, okey) DO UPDATE SET ctype = excluded.ctype, cttl = excluded.cttl,
	chain = excluded.chain;
DELETE FROM record_text WHERE type IN (46, 47, 50);
DELETE FROM records WHERE type IN (46, 47, 50);
DROP INDEX IF EXISTS records_chain;
DROP INDEX IF EXISTS records_sig_exp;
DROP INDEX IF EXISTS records_sig_tag;
