-- A zone's update_tsig_key_ids: the TSIG keys that may change it with DNS
-- UPDATE (RFC 2136) on the transfer listeners (PowerDNS: TSIG-ALLOW-DNSUPDATE
-- metadata).  Apart from master_tsig_key_ids (transfer): a key may transfer a
-- zone without being able to change it, and the other way round.  IF NOT
-- EXISTS: re-running this changes nothing.
CREATE TABLE IF NOT EXISTS zone_update_tsig_keys (
	zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	key_name TEXT NOT NULL REFERENCES tsig_keys(name) ON DELETE CASCADE,
	PRIMARY KEY (zone_id, key_name)
);
