-- schema/sqlite/0004_zone_lookup_key.sql on PostgreSQL.
CREATE TABLE IF NOT EXISTS zone_lkeys (
	zone_id BIGINT PRIMARY KEY REFERENCES zones(id) ON DELETE CASCADE,
	lkey BYTEA NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS zone_lkeys_lkey ON zone_lkeys(lkey);
