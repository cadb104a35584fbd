-- KSK/CSK rollover and CDS/CDNSKEY (issue 15, primary/store_ksk.c).
-- t_ready: an incoming KSK's CDS/CDNSKEY are published from then on (its
-- DNSKEY has reached the caches); cds = 1 while they are; t_ds: the new DS
-- was seen at the parent (the operator's ds_seen, or a parent query), so
-- the outgoing KSK's t_remove is planned.
ALTER TABLE dnssec_keys ADD COLUMN t_ready INTEGER;
ALTER TABLE dnssec_keys ADD COLUMN t_ds INTEGER;
ALTER TABLE dnssec_keys ADD COLUMN cds INTEGER NOT NULL DEFAULT 0;
-- DNSSEC switched off: the zone stays signed with CDS/CDNSKEY DELETE
-- (RFC 8078 §4) until this time or the operator's confirmation, then goes
-- unsigned in one serial.  NULL: signed.
ALTER TABLE zone_dnssec ADD COLUMN t_unsign INTEGER;
-- Signatures by key tag (RRSIG rdata octets 17-18): a rollover finds the
-- outgoing key's signatures without a scan.
CREATE INDEX IF NOT EXISTS records_sig_tag ON records(zone_id, substr(rdata, 17, 2))
	WHERE type = 46;
