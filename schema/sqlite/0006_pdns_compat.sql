-- PowerDNS API compatibility (issue 16).  Idempotent (IF NOT EXISTS, no
-- ALTER TABLE), as every migration.
-- Records keep their content as written: records.rdata stays the canonical
-- wire form (embedded names lower-cased; the unique index and every
-- comparison of records use it, as DNS names compare case-insensitively);
-- a row here holds, for a record whose rdata as written differs, that wire
-- form (names with their case: the API, AXFR, IXFR and the secondaries
-- serve it), and/or the text a client sent for a TXT/SPF record when it
-- differs from the printed form of the rdata (PowerDNS returns TXT content
-- as sent, escapes as written).  It goes with its record (records_rr is
-- the parent key).
CREATE TABLE IF NOT EXISTS record_text (
	zone_id INTEGER NOT NULL,
	okey BLOB NOT NULL,
	type INTEGER NOT NULL,
	rdata BLOB NOT NULL,
	rdata_case BLOB,
	content TEXT,
	PRIMARY KEY (zone_id, okey, type, rdata),
	FOREIGN KEY (zone_id, okey, type, rdata) REFERENCES records (zone_id, okey, type, rdata)
		ON DELETE CASCADE
) WITHOUT ROWID;

-- PowerDNS zone fields without a column of their own (primary/store_pdns.c):
-- masters (comma-separated, as given), catalog (the PowerDNS 4.7 field: ""
-- or our --catalog), soa_edit_api as the client wrote it ("", SOA-EDIT,
-- SOA-EDIT-INCREASE: zones.soa_edit_api keeps the serial policy in effect)
-- and soa_edit (PowerDNS's SOA-EDIT metadata).  No row: all defaults.
CREATE TABLE IF NOT EXISTS zone_pdns (
	zone_id INTEGER PRIMARY KEY REFERENCES zones(id) ON DELETE CASCADE,
	masters TEXT NOT NULL DEFAULT '',
	catalog TEXT NOT NULL DEFAULT '',
	soa_edit_api TEXT,
	soa_edit TEXT NOT NULL DEFAULT ''
);

-- /zones/{id}/metadata: PowerDNS domain metadata, one row per value, in the
-- order given.  Kinds that map to our behaviour are applied by the API.
CREATE TABLE IF NOT EXISTS zone_metadata (
	zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	kind TEXT NOT NULL,
	ord INTEGER NOT NULL,
	content TEXT NOT NULL,
	PRIMARY KEY (zone_id, kind, ord)
) WITHOUT ROWID;
