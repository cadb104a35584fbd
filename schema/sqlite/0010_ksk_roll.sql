-- KSK/CSK rollover and CDS/CDNSKEY (issue 15, primary/store_ksk.c).  New
-- tables of their own (no ALTER TABLE), so re-running this changes nothing.
-- A key's rollover state beside dnssec_keys: t_ready, an incoming KSK's
-- CDS/CDNSKEY are published from then on (its DNSKEY has reached the
-- caches); cds = 1 while they are; t_ds, the new DS was seen at the parent
-- (the operator's ds_seen, or --dnssec-parent), so the outgoing KSK's
-- t_remove is planned.  No row: none of these.
CREATE TABLE IF NOT EXISTS dnssec_key_roll (
	key_id INTEGER PRIMARY KEY REFERENCES dnssec_keys(id) ON DELETE CASCADE,
	t_ready INTEGER,
	t_ds INTEGER,
	cds INTEGER NOT NULL DEFAULT 0
);
-- DNSSEC switched off: the zone stays signed with CDS/CDNSKEY DELETE
-- (RFC 8078 §4) until t_unsign or the operator's confirmation, then goes
-- unsigned in one serial (and the row goes).  No row: signed as usual.
CREATE TABLE IF NOT EXISTS zone_unsign (
	zone_id INTEGER PRIMARY KEY REFERENCES zones(id) ON DELETE CASCADE,
	t_unsign INTEGER NOT NULL
);
-- Signatures by key tag (RRSIG rdata octets 17-18): a rollover finds the
-- outgoing key's signatures without a scan.
CREATE INDEX IF NOT EXISTS records_sig_tag ON records(zone_id, substr(rdata, 17, 2))
	WHERE type = 46;
