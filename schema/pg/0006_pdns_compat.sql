-- schema/sqlite/0006_pdns_compat.sql on PostgreSQL.
CREATE TABLE IF NOT EXISTS record_text (
	zone_id BIGINT NOT NULL,
	okey BYTEA NOT NULL,
	type BIGINT NOT NULL,
	rdata BYTEA NOT NULL,
	rdata_case BYTEA,
	content TEXT,
	PRIMARY KEY (zone_id, okey, type, rdata),
	FOREIGN KEY (zone_id, okey, type, rdata) REFERENCES records (zone_id, okey, type, rdata)
		ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS zone_pdns (
	zone_id BIGINT PRIMARY KEY REFERENCES zones(id) ON DELETE CASCADE,
	masters TEXT NOT NULL DEFAULT '',
	catalog TEXT NOT NULL DEFAULT '',
	soa_edit_api TEXT,
	soa_edit TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS zone_metadata (
	zone_id BIGINT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	kind TEXT COLLATE "C" NOT NULL,
	ord BIGINT NOT NULL,
	content TEXT NOT NULL,
	PRIMARY KEY (zone_id, kind, ord)
);
