-- DNSSEC signing (issue 15, primary/store_sign.c, primary/store_dnssec.c).
-- A zone is signed when it has a zone_dnssec row; nsec3 = 1 means NSEC3
-- with hash 1, flags 0, 0 iterations and an empty salt (RFC 9276), else
-- NSEC.  Signatures and chain records (RRSIG, NSEC, NSEC3, NSEC3PARAM,
-- DNSKEY) are ordinary rows of `records`, written in the change's own
-- transaction, so AXFR, the journal and IXFR carry them.
CREATE TABLE IF NOT EXISTS zone_dnssec (
	zone_id INTEGER PRIMARY KEY REFERENCES zones(id) ON DELETE CASCADE,
	nsec3 INTEGER NOT NULL DEFAULT 0,
	signed_at INTEGER NOT NULL
);
-- Signing keys, Knot's timestamp model (publish, active, retire, remove;
-- NULL: not planned) beside PowerDNS's booleans the API shows.  `private`
-- is the raw 32-octet private key sealed with AES-256-GCM under the key of
-- --dnssec-key-file: nonce (12) || ciphertext (32) || tag (16), the DNSKEY
-- rdata as associated data; the database alone never reveals a key.
CREATE TABLE IF NOT EXISTS dnssec_keys (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	keytype TEXT NOT NULL,
	flags INTEGER NOT NULL,
	algorithm INTEGER NOT NULL,
	keytag INTEGER NOT NULL,
	dnskey BLOB NOT NULL,
	private BLOB NOT NULL,
	published INTEGER NOT NULL DEFAULT 1,
	active INTEGER NOT NULL DEFAULT 1,
	t_created INTEGER NOT NULL,
	t_publish INTEGER,
	t_active INTEGER,
	t_retire INTEGER,
	t_remove INTEGER
);
CREATE INDEX IF NOT EXISTS dnssec_keys_zone ON dnssec_keys(zone_id, id);
-- The NSEC and NSEC3 chains in canonical order: a change finds the
-- neighbours of the names it adds or removes by this index, never by a
-- walk.  NSEC3 owners (base32hex of the hash, one label under the apex)
-- sort in hash order.
CREATE INDEX IF NOT EXISTS records_chain ON records(zone_id, type, okey) WHERE type IN (47, 50);
-- Signatures by expiration (RRSIG rdata octets 9-12, big-endian): the
-- refresh timer takes the soonest-expiring few of a zone without a scan.
CREATE INDEX IF NOT EXISTS records_sig_exp ON records(zone_id, substr(rdata, 9, 4))
	WHERE type = 46;
