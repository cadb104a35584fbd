-- schema/sqlite/0008_update_keys.sql on PostgreSQL.
CREATE TABLE IF NOT EXISTS zone_update_tsig_keys (
	zone_id BIGINT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	key_name TEXT COLLATE "C" NOT NULL REFERENCES tsig_keys(name) ON DELETE CASCADE,
	PRIMARY KEY (zone_id, key_name)
);
